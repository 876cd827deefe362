//! Router-level tests of hosting terms in the portal (harness in `portal`): members asking for a
//! renewal and admins deciding it, admins moving a term's end, marking a project permanent,
//! restoring and deleting with a typed confirmation. Who may call each endpoint (anonymous,
//! member, owner, other member, admin), CSRF, and validation errors. The projects are moved to
//! `running` in the registry directly: none of this needs Docker.

use hyper::StatusCode;
use serde_json::{Value, json};

use clubhost_core::model::ProjectState;

use crate::portal::{Agent, Portal, web_stack};

const DAY: i64 = 86_400;

/// The date `days` from now (the lifecycle clock), as `<input type=date>` sends it.
fn day_from_now(days: i64) -> String {
    clubhost::portal::models::date(clubhost_core::model::now() + days * DAY)[..10].to_string()
}

/// A portal with a 30-day longest term, an admin, the owner `ana` and another member `bo`, and
/// ana's project `slug` running (as far as the registry knows).
async fn running_project(slug: &str) -> (Portal, Agent, Agent, Agent) {
    let p = Portal::new(|c| {
        c.projects.max_days = 30;
        c.projects.default_days = 10;
    })
    .await;
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let bo = p.signup("bo").await;
    let r = p.submit(&ana, slug, &web_stack()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    for to in [
        ProjectState::Approved,
        ProjectState::Deploying,
        ProjectState::Running,
    ] {
        p.registry
            .transition(slug, to, "test", "moved by the test")
            .await
            .unwrap();
    }
    (p, boss, ana, bo)
}

#[tokio::test]
async fn members_ask_for_renewals_and_admins_decide() {
    let slug = "renew-me";
    let (p, boss, ana, bo) = running_project(slug).await;
    let renew = format!("/portal/api/projects/{slug}/renew");
    let good = json!({ "end": day_from_now(20), "reason": "exam season" });

    // Who may ask: not anonymous, not another member, not without the CSRF token.
    let r = p.api("POST", &renew, None, good.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = p.api("POST", &renew, Some(&bo), good.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api_with("POST", &renew, Some(&ana), false, good.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api(
            "POST",
            "/portal/api/projects/nope/renew",
            Some(&ana),
            good.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // Validation: an end in the past, beyond the longest term, before the current end, no date,
    // no reason, not a date.
    let cases = [
        (json!({"end": "2001-01-01", "reason": "x"}), "past"),
        (json!({"end": day_from_now(45), "reason": "x"}), "max_days"),
        (
            json!({"end": day_from_now(5), "reason": "x"}),
            "after the current term end",
        ),
        (json!({"reason": "x"}), "end"),
        (json!({"end": day_from_now(20)}), "reason"),
        (json!({"end": "soon", "reason": "x"}), "not a date"),
    ];
    for (body, word) in cases {
        let r = p.api("POST", &renew, Some(&ana), body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert!(
            r.json()["error"].as_str().unwrap().contains(word),
            "{body}: {}",
            r.body
        );
    }
    assert!(p.registry.renewals(true).await.unwrap().is_empty());

    // The owner asks; the new end falls on the date asked for. A second request waits.
    let r = p.api("POST", &renew, Some(&ana), good.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["state"], "pending");
    assert!(
        r.json()["new_end_text"]
            .as_str()
            .unwrap()
            .starts_with(&day_from_now(20)),
        "{}",
        r.body
    );
    let r = p.api("POST", &renew, Some(&ana), good.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let mine = p.get("/portal/api/projects", Some(&ana)).await.json();
    assert_eq!(mine[0]["renewal"]["state"], "pending", "{mine}");
    assert_eq!(mine[0]["can_renew"], false, "{mine}");
    let page = p.get("/portal/projects", Some(&ana)).await;
    assert!(page.body.contains("pending"), "{}", page.body);

    // Admins see it in the queue; nobody else does.
    let list = "/portal/api/admin/renewals";
    assert_eq!(p.get(list, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(p.get(list, Some(&ana)).await.status, StatusCode::FORBIDDEN);
    let pending = p.get(list, Some(&boss)).await.json();
    assert_eq!(pending[0]["id"], id, "{pending}");
    assert_eq!(pending[0]["reason"], "exam season", "{pending}");
    let queue = p.get("/portal/admin/", Some(&boss)).await;
    assert!(
        queue.body.contains("Renewal requests") && queue.body.contains("exam season"),
        "{}",
        queue.body
    );

    // Deciding: admins only, with the token; denying needs a reason.
    let decide = |verdict: &str| format!("/portal/api/admin/renewals/{id}/{verdict}");
    let r = p.api("POST", &decide("approve"), None, Value::Null).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = p
        .api("POST", &decide("approve"), Some(&ana), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api_with("POST", &decide("approve"), Some(&boss), false, Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api("POST", &decide("reject"), Some(&boss), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("note"), "{}", r.body);
    let r = p
        .api("POST", &decide("maybe"), Some(&boss), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let before = p.registry.project(slug).await.unwrap().term_end;
    let r = p
        .api(
            "POST",
            &decide("approve"),
            Some(&boss),
            json!({"note": "ok"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "approved");
    let after = p.registry.project(slug).await.unwrap().term_end;
    assert_eq!(after, Some(r.json()["new_end"].as_i64().unwrap()));
    assert!(after > before);
    let r = p
        .api(
            "POST",
            &decide("reject"),
            Some(&boss),
            json!({"note": "no"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "decided once: {}", r.body);

    // Without JavaScript: the forms, with their CSRF token.
    let form = format!("/portal/projects/{slug}/renew");
    let fields = [
        ("end", day_from_now(28)),
        ("reason", "one more week".into()),
    ];
    let plain: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = p.form(&form, "", &plain).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "anonymous: {}", r.body);
    assert_eq!(r.headers["location"], "/portal/login");
    let r = p.form(&form, &ana.cookie, &plain).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token: {}", r.body);
    let r = p
        .form(
            &form,
            &bo.cookie,
            &[&plain[..], &[("csrf", bo.csrf.as_str())]].concat(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not bo's: {}", r.body);
    let r = p
        .form(
            &form,
            &ana.cookie,
            &[&plain[..], &[("csrf", ana.csrf.as_str())]].concat(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], format!("/portal/projects/{slug}"));
    let second = p.registry.renewals(false).await.unwrap()[0].id;
    let deny = format!("/portal/admin/renewals/{second}/reject");
    let r = p.form(&deny, "", &[("note", "x")]).await;
    assert_eq!(r.headers["location"], "/portal/login", "anonymous");
    let r = p.form(&deny, &boss.cookie, &[("note", "x")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token: {}", r.body);
    let r = p.form(&deny, &boss.cookie, &[("csrf", &boss.csrf)]).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no reason: {}",
        r.body
    );
    let r = p
        .form(&deny, &ana.cookie, &[("csrf", &ana.csrf), ("note", "x")])
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "members don't decide: {}",
        r.body
    );
    let r = p
        .form(
            &deny,
            &boss.cookie,
            &[("csrf", &boss.csrf), ("note", "the club needs the room")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], "/portal/admin/");
    let page = p.get(&format!("/portal/projects/{slug}"), Some(&ana)).await;
    assert!(
        page.body.contains("rejected") && page.body.contains("the club needs the room"),
        "the member sees the decision: {}",
        page.body
    );
    assert!(
        page.body.contains("Request a renewal"),
        "may ask again: {}",
        page.body
    );
}

#[tokio::test]
async fn admins_move_terms_mark_permanent_and_confirm_deletes() {
    let slug = "term-moves";
    let (p, boss, ana, bo) = running_project(slug).await;
    let action = |a: &str| format!("/portal/api/admin/projects/{slug}/{a}");
    let end = json!({ "end": day_from_now(25) });

    // Who may move a term: admins only, with the token.
    let r = p.api("POST", &action("term"), None, end.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    for member in [&ana, &bo] {
        let r = p
            .api("POST", &action("term"), Some(member), end.clone())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    let r = p
        .api_with("POST", &action("term"), Some(&boss), false, end.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Validation: no end, an end in the past, beyond the longest term, not a date.
    for (body, word) in [
        (Value::Null, "end"),
        (json!({"end": "2001-01-01"}), "past"),
        (json!({"end": day_from_now(40)}), "max_days"),
        (json!({"end": "31/12/2030"}), "not a date"),
    ] {
        let r = p
            .api("POST", &action("term"), Some(&boss), body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert!(
            r.json()["error"].as_str().unwrap().contains(word),
            "{body}: {}",
            r.body
        );
    }

    // Shorten, then extend.
    for days in [3, 25] {
        let r = p
            .api(
                "POST",
                &action("term"),
                Some(&boss),
                json!({"end": day_from_now(days)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let shown = r.json()["term_end"].as_str().unwrap().to_string();
        assert!(shown.starts_with(&day_from_now(days)), "{shown}");
    }
    let audit = p
        .get(
            &format!("/portal/api/admin/audit?project={slug}"),
            Some(&boss),
        )
        .await
        .json();
    assert_eq!(audit[0]["action"], "term.set", "{audit}");
    assert_eq!(audit[0]["actor"], "boss", "{audit}");

    // Permanent: no longest term any more; then back to a term.
    let r = p
        .api("POST", &action("permanent"), Some(&ana), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api("POST", &action("permanent"), Some(&boss), Value::Null)
        .await;
    assert_eq!(r.json()["permanent"], true, "{}", r.body);
    let r = p
        .api(
            "POST",
            &action("term"),
            Some(&boss),
            json!({"end": day_from_now(400)}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "permanent projects have no cap: {}",
        r.body
    );
    let mine = p.get("/portal/api/projects", Some(&ana)).await.json();
    assert_eq!(
        mine[0]["can_renew"], false,
        "permanent needs no renewal: {mine}"
    );
    let r = p
        .api("POST", &action("temporary"), Some(&boss), Value::Null)
        .await;
    assert_eq!(r.json()["permanent"], false, "{}", r.body);

    // Restore is for expired projects only.
    let r = p
        .api("POST", &action("restore"), Some(&boss), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("expired"), "{}", r.body);
    let r = p
        .api(
            "POST",
            &action("restore"),
            Some(&boss),
            json!({"days": "many"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = p
        .api("POST", &action("frobnicate"), Some(&boss), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // Without JavaScript: the term form, with and without its token.
    let form = format!("/portal/admin/projects/{slug}/term");
    let end = day_from_now(12);
    let r = p.form(&form, &boss.cookie, &[("end", &end)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .form(&form, &ana.cookie, &[("end", &end), ("csrf", &ana.csrf)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .form(&form, &boss.cookie, &[("end", &end), ("csrf", &boss.csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], "/portal/admin/projects");
    let projects = p.get("/portal/admin/projects", Some(&boss)).await;
    for control in ["Set the term end", "Mark permanent", "Expire now", "Delete"] {
        assert!(
            projects.body.contains(control),
            "{control}: {}",
            projects.body
        );
    }

    // The project's page: its owner and admins (with the admin's controls) only.
    let page = format!("/portal/projects/{slug}");
    let r = p.get(&page, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/portal/login");
    assert_eq!(p.get(&page, Some(&bo)).await.status, StatusCode::FORBIDDEN);
    let r = p.get(&page, Some(&ana)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("Request a renewal") && !r.body.contains("Set the term end"),
        "{}",
        r.body
    );
    let r = p.get(&page, Some(&boss)).await;
    assert!(r.body.contains("Set the term end"), "{}", r.body);
    assert_eq!(
        p.get("/portal/projects/nope", Some(&ana)).await.status,
        StatusCode::NOT_FOUND
    );

    // An admin may ask for a renewal on the owner's behalf.
    let r = p
        .api(
            "POST",
            &format!("/portal/api/projects/{slug}/renew"),
            Some(&boss),
            json!({"days": 3, "reason": "asked at the meeting"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["requested_by"], "boss", "{}", r.body);

    // Delete: only after typing the slug.
    let r = p
        .api("POST", &action("delete"), Some(&boss), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("confirm"), "{}", r.body);
    let r = p
        .form(
            &format!("/portal/admin/projects/{slug}/delete"),
            &boss.cookie,
            &[("csrf", &boss.csrf), ("confirm", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(p.registry.project(slug).await.is_ok(), "still there");
}

#[tokio::test]
async fn a_term_given_back_must_not_have_run_out_meanwhile() {
    let slug = "perm-back";
    let (p, _boss, _ana, _bo) = running_project(slug).await;
    let reg = &p.registry;
    let now = clubhost_core::model::now();
    // The old end is an hour away (it ran out, or nearly, while the project was permanent).
    reg.set_term_end(slug, Some(now + 3600), "test", "test", &[])
        .await
        .unwrap();
    p.control.set_permanent(slug, true, "boss").await.unwrap();
    let err = p
        .control
        .set_permanent(slug, false, "boss")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("set a new term end first"), "{err}");
    assert!(
        reg.project(slug).await.unwrap().permanent,
        "still permanent"
    );
    // With a new end a few days out, the term comes back.
    reg.set_term_end(slug, Some(now + 5 * DAY), "test", "test", &[])
        .await
        .unwrap();
    let back = p.control.set_permanent(slug, false, "boss").await.unwrap();
    assert!(!back.permanent);
}
