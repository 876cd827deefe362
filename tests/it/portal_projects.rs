//! Router-level tests of the portal's project flows (harness in `portal`): member requests and
//! owner rules, the no-JavaScript request form, admin member management, and a real deploy through
//! the review queue (approve → running → logs → redeploy → expire → delete) on the real Docker
//! engine.

use axum::body::Body;
use http_body_util::BodyExt;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common;
use crate::portal::{HOST, PASSWORD, Portal, web_stack};

#[tokio::test]
async fn member_requests_and_owner_rules() {
    let p = Portal::new(|c| {
        c.projects.max_days = 30;
        c.projects.default_days = 14;
    })
    .await;
    let ana = p.signup("ana").await;
    let bo = p.signup("bo").await;
    let slug = "ana-site";

    // Validation: bad stack, reserved slug, bad slug, too many days, bad source link.
    let r = p
        .submit(&ana, slug, "services: {web: {image: x, privileged: true}}")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("privileged"), "{}", r.body);
    for bad in ["portal", "Bad_Slug"] {
        let r = p.submit(&ana, bad, &web_stack()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
        assert!(r.body.contains("slug"), "{}", r.body);
    }
    let r = p
        .api(
            "POST",
            "/portal/api/projects",
            Some(&ana),
            json!({"name": "x", "slug": slug, "stack": web_stack(), "days": 31}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = p
        .api(
            "POST",
            "/portal/api/projects",
            Some(&ana),
            json!({"name": "x", "slug": slug, "stack": web_stack(), "source_url": "ftp://x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        p.registry.projects().await.unwrap().is_empty(),
        "nothing stored"
    );

    // The verdict endpoint stores nothing.
    let r = p
        .api(
            "POST",
            "/portal/api/check",
            Some(&ana),
            json!({"slug": slug, "stack": web_stack()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.json()["slug_problem"].is_null() && r.json()["stack_problem"].is_null(),
        "{}",
        r.body
    );
    // A file as a README gives it: `ports:` is fine and said to be ignored; `build:` needs the
    // project's files, so the verdict refuses it as submit would.
    let readme = "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n";
    let r = p
        .api(
            "POST",
            "/portal/api/check",
            Some(&ana),
            json!({"slug": slug, "stack": readme}),
        )
        .await;
    assert!(r.json()["stack_problem"].is_null(), "{}", r.body);
    assert!(
        r.json()["warnings"][0]
            .as_str()
            .unwrap()
            .contains("host side is ignored"),
        "{}",
        r.body
    );
    let source = "services:\n  web:\n    build: .\n";
    let r = p
        .api(
            "POST",
            "/portal/api/check",
            Some(&ana),
            json!({"slug": slug, "stack": source}),
        )
        .await;
    assert!(
        r.json()["stack_problem"]
            .as_str()
            .unwrap()
            .contains("project"),
        "{}",
        r.body
    );

    let r = p.submit(&ana, slug, &web_stack()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["project"]["state"], "requested");
    assert_eq!(
        r.json()["project"]["source_url"],
        "https://git.example/me/site"
    );
    let taken = p
        .get(&format!("/portal/api/slug?slug={slug}"), Some(&bo))
        .await;
    assert!(
        taken.json()["problem"].as_str().unwrap().contains("taken"),
        "{}",
        taken.body
    );
    let r = p.submit(&bo, slug, &web_stack()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // Another member can neither see nor touch it, nor use admin actions.
    let path = format!("/portal/api/projects/{slug}");
    assert_eq!(p.get(&path, Some(&bo)).await.status, StatusCode::FORBIDDEN);
    let r = p
        .api("POST", &format!("{path}/withdraw"), Some(&bo), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api(
            "POST",
            &format!("/portal/api/admin/projects/{slug}/approve"),
            Some(&ana),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(
        p.get("/portal/admin/", Some(&ana)).await.status,
        StatusCode::FORBIDDEN
    );
    // The owner may not redeploy a request that was never approved.
    let r = p
        .api("POST", &format!("{path}/redeploy"), Some(&ana), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // The owner sees it with its history, and withdraws it.
    let mine = p.get("/portal/api/projects", Some(&ana)).await.json();
    assert_eq!(mine[0]["slug"], slug);
    assert_eq!(mine[0]["history"][0]["action"], "project.submit");
    assert!(
        p.get("/portal/api/projects", Some(&bo))
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let page = p.get("/portal/projects", Some(&ana)).await;
    assert!(
        page.body.contains("requested") && page.body.contains("Withdraw"),
        "{}",
        page.body
    );
    let r = p
        .api("POST", &format!("{path}/withdraw"), Some(&ana), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "withdrawn");
    let r = p
        .api("POST", &format!("{path}/withdraw"), Some(&ana), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
}

#[tokio::test]
async fn request_form_checks_then_submits_without_javascript() {
    let p = Portal::new(|_| {}).await;
    let ana = p.signup("ana").await;
    let fields = |intent: &str, stack: &str, csrf: &str| {
        [
            ("csrf", csrf.to_string()),
            ("intent", intent.to_string()),
            ("name", "Form site".into()),
            ("slug", "form-site".into()),
            ("description", "made with the form".into()),
            ("days", "10".into()),
            ("stack", stack.to_string()),
        ]
    };
    let bad = "services: {web: {image: x, cap_add: [ALL]}}";
    let r = p
        .multipart("/portal/request", &ana, &fields("check", bad, &ana.csrf))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("cap_add"),
        "verdict shows the stack error: {}",
        r.body
    );
    let r = p
        .multipart(
            "/portal/request",
            &ana,
            &fields("check", &web_stack(), &ana.csrf),
        )
        .await;
    assert!(
        r.body.contains("Stack: accepted") && r.body.contains("Slug: available"),
        "{}",
        r.body
    );
    assert!(
        p.registry.project("form-site").await.is_err(),
        "check stores nothing"
    );
    let r = p
        .multipart(
            "/portal/request",
            &ana,
            &fields("submit", &web_stack(), "wrong"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = p
        .multipart(
            "/portal/request",
            &ana,
            &fields("submit", &web_stack(), &ana.csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let project = p.registry.project("form-site").await.unwrap();
    assert_eq!((project.owner.as_str(), project.term_days), ("ana", 10));
}

#[tokio::test]
async fn admins_manage_members_and_see_the_audit_log() {
    let p = Portal::new(|_| {}).await;
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let r = p
        .api(
            "POST",
            "/portal/api/admin/users/ana/promote",
            Some(&ana),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api(
            "POST",
            "/portal/api/admin/users/boss/demote",
            Some(&boss),
            Value::Null,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "last admin: {}",
        r.body
    );
    let r = p
        .api(
            "POST",
            "/portal/api/admin/users/ana/promote",
            Some(&boss),
            Value::Null,
        )
        .await;
    assert_eq!(r.json()["is_admin"], true, "{}", r.body);
    let r = p
        .api(
            "POST",
            "/portal/api/admin/users/ana/demote",
            Some(&boss),
            Value::Null,
        )
        .await;
    assert_eq!(r.json()["is_admin"], false, "{}", r.body);
    let r = p
        .api(
            "POST",
            "/portal/api/admin/users/ana/disable",
            Some(&boss),
            Value::Null,
        )
        .await;
    assert_eq!(r.json()["disabled"], true, "{}", r.body);
    assert_eq!(
        p.get("/portal/api/me", Some(&ana)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = p
        .api(
            "POST",
            "/portal/api/login",
            None,
            json!({"login": "ana", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "disabled accounts cannot log in"
    );

    let users = p.get("/portal/admin/users", Some(&boss)).await;
    assert!(users.body.contains("(disabled)"), "{}", users.body);
    let audit = p
        .get("/portal/api/admin/audit?user=ana", Some(&boss))
        .await
        .json();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.login_failed",
            "user.disable",
            "user.demote",
            "user.promote",
            "user.signup"
        ]
    );
    let page = p.get("/portal/admin/audit?user=ana", Some(&boss)).await;
    assert!(page.body.contains("user.disable"), "{}", page.body);
}

#[tokio::test]
async fn admin_reviews_approves_expires_and_deletes() {
    let mut p = Portal::new(|_| {}).await;
    common::ensure_image();
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let slug = common::slug("portal-flow");
    let rejected = common::slug("portal-nope");
    p.slugs.push(slug.clone());
    assert_eq!(
        p.submit(&ana, &slug, &web_stack()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        p.submit(&ana, &rejected, &web_stack()).await.status,
        StatusCode::CREATED
    );

    let queue = p.get("/portal/admin/", Some(&boss)).await;
    assert!(
        queue.body.contains(&slug) && queue.body.contains("Normalized stack"),
        "{}",
        queue.body
    );
    assert!(queue.body.contains("Quota: asks "), "{}", queue.body);
    let q = p.get("/portal/api/admin/queue", Some(&boss)).await.json();
    assert_eq!(q.as_array().unwrap().len(), 2);
    // Each request's limits against the member's quota: requested projects are not active, so
    // this would be ana's first running project, within every limit.
    for item in q.as_array().unwrap() {
        let quota = item["quota"].as_str().unwrap();
        assert!(
            quota.contains("1 of 3 running") && quota.contains(" MiB") && quota.contains("CPU"),
            "{quota}"
        );
        assert!(item["quota_problem"].is_null(), "{item}");
    }

    let admin_path = |s: &str, a: &str| format!("/portal/api/admin/projects/{s}/{a}");
    let r = p
        .api(
            "POST",
            &admin_path(&rejected, "reject"),
            Some(&boss),
            Value::Null,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reason required: {}",
        r.body
    );
    let r = p
        .api(
            "POST",
            &admin_path(&rejected, "reject"),
            Some(&boss),
            json!({"reason": "too big"}),
        )
        .await;
    assert_eq!(r.json()["state"], "rejected", "{}", r.body);

    let r = p
        .api(
            "POST",
            &admin_path(&slug, "approve"),
            Some(&boss),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "running", "{}", r.body);
    assert!(r.json()["term_end"].is_string());
    // All projects: state, route, and the containers' health and memory use.
    let all = p
        .get("/portal/api/admin/projects", Some(&boss))
        .await
        .json();
    let row = all
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["slug"] == slug.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["state"], "running", "{row}");
    assert_eq!(row["containers"][0]["service"], "web", "{row}");
    assert_eq!(row["containers"][0]["status"], "running", "{row}");
    assert!(
        row["containers"][0]["memory_bytes"].as_u64().unwrap() > 0,
        "{row}"
    );
    // The routes dashboard: the project's container address, answering.
    let routes = p.get("/portal/api/admin/routes", Some(&boss)).await.json();
    let route = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == format!("/{slug}"))
        .unwrap()
        .clone();
    assert_eq!(route["kind"], "upstream", "{route}");
    assert_eq!(route["answering"], true, "{route}");
    assert_eq!(
        p.get("/portal/api/admin/routes", Some(&ana)).await.status,
        StatusCode::FORBIDDEN
    );
    let page = p.get("/portal/admin/projects", Some(&boss)).await;
    assert!(page.body.contains("MiB"), "{}", page.body);
    let gallery = p.get("/portal/", None).await;
    assert!(
        gallery.body.contains(&format!("/{slug}/")),
        "{}",
        gallery.body
    );

    // The owner may redeploy a running project; another member may not.
    let bo = p.signup("bo").await;
    let r = p
        .api(
            "POST",
            &format!("/portal/api/projects/{slug}/redeploy"),
            Some(&bo),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Logs: the owner and admins, nobody else.
    let logs = format!("/portal/api/projects/{slug}/logs");
    assert_eq!(p.get(&logs, Some(&bo)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(p.get(&logs, None).await.status, StatusCode::UNAUTHORIZED);
    let r = p.get(&logs, Some(&ana)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains(&format!("clubhost-{slug}-web")),
        "{}",
        r.body
    );
    assert!(r.body.contains("web-started"), "{}", r.body);
    // Live logs: server-sent events, owner and admins only.
    let live = format!("/portal/projects/{slug}/logs/live");
    assert_eq!(p.get(&live, Some(&bo)).await.status, StatusCode::FORBIDDEN);
    let req = Request::builder()
        .uri(&live)
        .header("host", HOST)
        .header("cookie", &ana.cookie)
        .body(Body::empty())
        .unwrap();
    let res = p.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains("web | web-started") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("a log line within 10 s")
            .expect("stream still open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.contains("event: log"), "{seen}");
    drop(body);
    let r = p
        .get(&format!("/portal/projects/{slug}/logs"), Some(&boss))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let r = p
        .api(
            "POST",
            &format!("/portal/api/projects/{slug}/redeploy"),
            Some(&ana),
            Value::Null,
        )
        .await;
    assert_eq!(r.json()["state"], "running", "{}", r.body);

    let r = p
        .api(
            "POST",
            &admin_path(&slug, "expire"),
            Some(&boss),
            Value::Null,
        )
        .await;
    assert_eq!(r.json()["state"], "expired", "{}", r.body);
    assert!(
        common::containers_of(&slug).is_empty(),
        "expired projects keep no containers"
    );
    let r = p
        .api(
            "POST",
            &admin_path(&slug, "delete"),
            Some(&boss),
            json!({"confirm": "wrong"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = p
        .api(
            "POST",
            &admin_path(&slug, "delete"),
            Some(&boss),
            json!({"confirm": slug}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(common::volumes_of(&slug).is_empty() && common::networks_of(&slug).is_empty());
    let log = p
        .get(
            &format!("/portal/api/admin/audit?project={slug}"),
            Some(&boss),
        )
        .await
        .json();
    assert_eq!(log[0]["action"], "project.delete");
    assert_eq!(log[0]["actor"], "boss");
}
