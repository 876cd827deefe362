//! Router-level tests (harness in `portal`) of requests made from the club's stack templates and of
//! the review round trip: an admin sends a request back with a note, the member edits and
//! resubmits it. Who may call each endpoint, CSRF, validation, secrets never shown again, the
//! owner notified, and the CLI's `project send-back` / `project resubmit`.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::common::Club;
use crate::portal::{Agent, Portal, web_stack};
use crate::sinks::WebhookSink;

const SECRET: &str = "s3cret-pass-7";

fn devbox(slug: &str, password: Option<&str>) -> Value {
    let mut variables = json!({ "CODE_IMAGE": "clubhost-test-busybox" });
    if let Some(pw) = password {
        variables["CODE_PASSWORD"] = json!(pw);
    }
    json!({ "name": "Dev box", "slug": slug, "template": "devbox", "variables": variables })
}

async fn submit_json(p: &Portal, agent: &Agent, body: Value) -> crate::portal::Reply {
    p.api("POST", "/portal/api/projects", Some(agent), body)
        .await
}

#[tokio::test]
async fn requests_from_a_template_with_secret_variables() {
    let p = Portal::new(|_| {}).await;
    let ana = p.signup("ana").await;

    // The template list: members only; secret defaults are never shown.
    let r = p.get("/portal/api/templates", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let list = p.get("/portal/api/templates", Some(&ana)).await.json();
    let dev = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "devbox")
        .unwrap()
        .clone();
    let pw = dev["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "CODE_PASSWORD")
        .unwrap()
        .clone();
    assert_eq!(
        (&pw["secret"], &pw["required"], &pw["value"]),
        (&json!(true), &json!(true), &json!("")),
        "{pw}"
    );
    assert!(!list.to_string().contains("change-me-please"), "{list}");

    // Who may submit: not anonymous, not without the CSRF token.
    let r = p
        .api(
            "POST",
            "/portal/api/projects",
            None,
            devbox("dev-a", Some(SECRET)),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = p
        .api_with(
            "POST",
            "/portal/api/projects",
            Some(&ana),
            false,
            devbox("dev-a", Some(SECRET)),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Validation: unknown template, a required (secret) variable missing, an unknown variable,
    // both a template and a compose file. Nothing is stored.
    let mut unknown = devbox("dev-a", Some(SECRET));
    unknown["template"] = json!("no-such-template");
    let mut stray = devbox("dev-a", Some(SECRET));
    stray["variables"]["NOPE"] = json!("1");
    let mut both = devbox("dev-a", Some(SECRET));
    both["stack"] = json!(web_stack());
    for (body, word) in [
        (unknown, "template: there is no template"),
        (devbox("dev-a", None), "CODE_PASSWORD is required"),
        (devbox("dev-a", Some("")), "CODE_PASSWORD is required"),
        (stray, "no variable \\\"NOPE\\\""),
        (both, "not both"),
    ] {
        let r = submit_json(&p, &ana, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert!(r.body.contains(word), "{word}: {}", r.body);
    }
    assert!(p.registry.projects().await.unwrap().is_empty());

    // The verdict before submitting, for a template; the secret is masked in it.
    let r = p
        .api(
            "POST",
            "/portal/api/check",
            Some(&ana),
            devbox("dev-a", Some(SECRET)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json()["stack_problem"].is_null(), "{}", r.body);
    assert!(
        r.json()["normalized"].as_str().unwrap().contains("code"),
        "{}",
        r.body
    );
    assert!(!r.body.contains(SECRET), "{}", r.body);
    let r = p
        .api(
            "POST",
            "/portal/api/check",
            Some(&ana),
            devbox("dev-a", None),
        )
        .await;
    assert!(
        r.json()["stack_problem"]
            .as_str()
            .unwrap()
            .contains("CODE_PASSWORD"),
        "{}",
        r.body
    );

    // Stored: the template's compose file, its variables (the secret marked secret), and the
    // verdict after submitting. The secret is never shown again.
    let r = submit_json(&p, &ana, devbox("dev-a", Some(SECRET))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["project"]["template"], "devbox", "{}", r.body);
    assert!(r.json()["stack_problem"].is_null(), "{}", r.body);
    assert!(!r.body.contains(SECRET), "{}", r.body);
    let stored = p.registry.project("dev-a").await.unwrap();
    let template = clubhost_stack::templates::get("devbox").unwrap();
    assert_eq!(stored.stack_source, template.compose);
    let vars = p.registry.variables("dev-a").await.unwrap();
    assert_eq!(vars.get("CODE_PASSWORD"), Some(SECRET));
    assert!(vars.0["CODE_PASSWORD"].secret);
    assert_eq!(vars.get("CODE_IMAGE"), Some("clubhost-test-busybox"));
    for page in [
        "/portal/projects",
        "/portal/api/projects",
        "/portal/api/projects/dev-a",
    ] {
        let r = p.get(page, Some(&ana)).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(!r.body.contains(SECRET), "{page}: {}", r.body);
    }
    let page = p.get("/portal/projects", Some(&ana)).await.body;
    assert!(page.contains("Checker: stack accepted"), "{page}");

    // The form without JavaScript: template radio plus its fields. "Check" shows the verdict and
    // never puts the typed secret back into the page.
    let page = p
        .get("/portal/request?template=devbox", Some(&ana))
        .await
        .body;
    assert!(
        page.contains(r#"id="template-devbox" name="template" value="devbox" checked"#),
        "{page}"
    );
    assert!(
        page.contains(r#"name="var-devbox-CODE_PASSWORD" type="password""#),
        "{page}"
    );
    let fields = |intent: &str, password: &str, csrf: &str| {
        [
            ("csrf", csrf.to_string()),
            ("intent", intent.to_string()),
            ("name", "Form dev box".into()),
            ("slug", "dev-form".into()),
            ("days", "10".into()),
            ("template", "devbox".into()),
            ("var-devbox-CODE_PASSWORD", password.to_string()),
            ("var-devbox-CODE_IMAGE", "clubhost-test-busybox".into()),
            // A field of another template is ignored.
            ("var-wordpress-DB_PASSWORD", "ignored".into()),
            ("stack", "ignored: a template is chosen".into()),
        ]
    };
    let r = p
        .multipart("/portal/request", &ana, &fields("check", SECRET, &ana.csrf))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Stack: accepted"), "{}", r.body);
    assert!(
        !r.body.contains(SECRET),
        "the secret is not echoed: {}",
        r.body
    );
    let r = p
        .multipart("/portal/request", &ana, &fields("submit", "", &ana.csrf))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("CODE_PASSWORD is required"), "{}", r.body);
    let r = p
        .multipart("/portal/request", &ana, &fields("submit", SECRET, "wrong"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = p
        .multipart(
            "/portal/request",
            &ana,
            &fields("submit", SECRET, &ana.csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let vars = p.registry.variables("dev-form").await.unwrap();
    assert_eq!(vars.get("CODE_PASSWORD"), Some(SECRET));
    assert!(vars.get("DB_PASSWORD").is_none());
}

/// Polls (bounded) until the webhook sink has a delivered body containing `text`.
async fn delivered(hook: &WebhookSink, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(b) = hook.delivered().into_iter().find(|b| b.contains(text)) {
            return b;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notification containing {text:?}: {:?}",
            hook.delivered()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn admin_sends_back_and_member_resubmits() {
    let hook = WebhookSink::start(0);
    let url = hook.url();
    let p = Portal::new(move |c| {
        c.notify.webhooks = vec![clubhost_core::notify::WebhookConfig {
            kind: clubhost_core::notify::WebhookKind::Slack,
            url,
            audience: clubhost_core::notify::Audience::All,
        }];
    })
    .await;
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let bo = p.signup("bo").await;
    let r = submit_json(&p, &ana, devbox("dev-b", Some(SECRET))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let send_back = "/portal/api/admin/projects/dev-b/send-back";
    let note = json!({ "note": "Please use a smaller image." });

    // Who may send back: admins only, with the CSRF token, and with a note.
    let r = p.api("POST", send_back, None, note.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for member in [&ana, &bo] {
        let r = p.api("POST", send_back, Some(member), note.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    let r = p
        .api_with("POST", send_back, Some(&boss), false, note.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    for empty in [json!({ "note": "  " }), Value::Null] {
        let r = p.api("POST", send_back, Some(&boss), empty).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("note"), "{}", r.body);
    }
    let r = p.api("POST", send_back, Some(&boss), note.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "changes_requested", "{}", r.body);
    let r = p.api("POST", send_back, Some(&boss), note.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "not twice: {}", r.body);

    // Audited, the owner notified, out of the queue, and the member sees the note.
    let log = p.registry.audit_log(Some("dev-b")).await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            last.actor.as_str(),
            last.reason.as_str()
        ),
        (
            "project.changes_requested",
            "boss",
            "Please use a smaller image."
        )
    );
    delivered(&hook, "Please use a smaller image.").await;
    let queue = p.get("/portal/api/admin/queue", Some(&boss)).await.json();
    assert!(queue.as_array().unwrap().is_empty(), "{queue}");
    let mine = p.get("/portal/api/projects/dev-b", Some(&ana)).await.json();
    assert_eq!(mine["review_note"], "Please use a smaller image.", "{mine}");
    assert_eq!(mine["can_resubmit"], true, "{mine}");
    let page = p.get("/portal/projects", Some(&ana)).await.body;
    assert!(
        page.contains("Please use a smaller image.")
            && page.contains("/portal/projects/dev-b/edit"),
        "{page}"
    );

    // Who may resubmit: the owner (or an admin), with the CSRF token; bad changes are refused.
    let resubmit = "/portal/api/projects/dev-b/resubmit";
    let change = json!({ "description": "smaller now", "variables": { "CODE_IMAGE": "clubhost-test-busybox:latest" } });
    let r = p.api("POST", resubmit, None, change.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = p.api("POST", resubmit, Some(&bo), change.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api_with("POST", resubmit, Some(&ana), false, change.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    for (bad, word) in [
        (json!({ "template": "no-such-template" }), "template:"),
        (json!({ "variables": { "NOPE": "1" } }), "NOPE"),
        (json!({ "name": "" }), "name:"),
        (
            json!({ "stack": "services: {web: {image: x, privileged: true}}" }),
            "privileged",
        ),
    ] {
        let r = p.api("POST", resubmit, Some(&ana), bad.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
        assert!(r.body.contains(word), "{word}: {}", r.body);
    }
    // The verdict on the changes, before resubmitting: the stored secret is kept. The owner and
    // admins may ask; nobody else.
    let check = "/portal/api/projects/dev-b/check";
    let r = p.api("POST", check, None, change.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = p.api("POST", check, Some(&bo), change.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .api_with("POST", check, Some(&ana), false, change.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    for who in [&ana, &boss] {
        let r = p.api("POST", check, Some(who), change.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.json()["stack_problem"].is_null(), "{}", r.body);
    }
    let r = p
        .api("POST", check, Some(&ana), json!({ "template": "nope" }))
        .await;
    assert!(
        r.json()["stack_problem"]
            .as_str()
            .unwrap()
            .contains("template"),
        "{}",
        r.body
    );
    let r = p.get("/portal/projects/dev-b/edit", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/portal/login");
    let r = p.api("POST", resubmit, Some(&ana), change.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "requested", "{}", r.body);
    let vars = p.registry.variables("dev-b").await.unwrap();
    assert_eq!(vars.get("CODE_PASSWORD"), Some(SECRET), "secret kept");
    assert_eq!(vars.get("CODE_IMAGE"), Some("clubhost-test-busybox:latest"));
    let project = p.registry.project("dev-b").await.unwrap();
    assert_eq!(project.description, "smaller now");
    let log = p.registry.audit_log(Some("dev-b")).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "project.requested" && e.reason.contains("description, variables")),
        "{log:?}"
    );
    delivered(&hook, "Request resubmitted: dev-b").await;
    let r = p.api("POST", resubmit, Some(&ana), change.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "only once: {}", r.body);
    // Back in the queue, with the earlier note.
    let queue = p.get("/portal/admin/", Some(&boss)).await.body;
    assert!(
        queue.contains("dev-b")
            && queue.contains("Sent back before with: Please use a smaller image."),
        "{queue}"
    );
    assert!(
        queue.contains("/portal/admin/projects/dev-b/send-back"),
        "the queue has the send-back form: {queue}"
    );

    // The edit page: only for a request that was sent back; the secret is never shown.
    let r = p.get("/portal/projects/dev-b/edit", Some(&ana)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = p
        .form(
            "/portal/admin/projects/dev-b/send-back",
            &boss.cookie,
            &[
                ("csrf", boss.csrf.as_str()),
                ("note", "And a shorter name."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], "/portal/admin/");
    assert_eq!(
        p.get("/portal/projects/dev-b/edit", Some(&bo)).await.status,
        StatusCode::FORBIDDEN
    );
    let page = p.get("/portal/projects/dev-b/edit", Some(&ana)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("And a shorter name."), "{}", page.body);
    assert!(
        page.body.contains(r#"value="devbox" checked"#) && !page.body.contains(SECRET),
        "{}",
        page.body
    );
    let fields = |intent: &str, csrf: &str| {
        [
            ("csrf", csrf.to_string()),
            ("intent", intent.to_string()),
            ("name", "Dev".into()),
            ("description", "smaller now".into()),
            ("days", "120".into()),
            ("template", "devbox".into()),
            // Left empty: the stored secret stays.
            ("var-devbox-CODE_PASSWORD", String::new()),
            (
                "var-devbox-CODE_IMAGE",
                "clubhost-test-busybox:latest".into(),
            ),
        ]
    };
    let edit = "/portal/projects/dev-b/edit";
    let r = p.multipart(edit, &ana, &fields("check", &ana.csrf)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Stack: accepted"), "{}", r.body);
    let r = p.multipart(edit, &ana, &fields("submit", "wrong")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = p.multipart(edit, &ana, &fields("submit", &ana.csrf)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], "/portal/projects?resubmitted=1");
    let project = p.registry.project("dev-b").await.unwrap();
    assert_eq!(
        (project.state.as_str(), project.name.as_str()),
        ("requested", "Dev")
    );
    let vars = p.registry.variables("dev-b").await.unwrap();
    assert_eq!(vars.get("CODE_PASSWORD"), Some(SECRET), "secret kept");

    // A request sent back can also be withdrawn.
    let r = p.api("POST", send_back, Some(&boss), note).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = p
        .api(
            "POST",
            "/portal/api/projects/dev-b/withdraw",
            Some(&ana),
            Value::Null,
        )
        .await;
    assert_eq!(r.json()["state"], "withdrawn", "{}", r.body);
}

#[test]
fn cli_sends_back_and_resubmits() {
    let club = Club::new();
    club.ok(&["user", "add", "ana"]);
    let path = club.write_stack("cli.yml", &web_stack());
    club.submit("cli-review", &path);
    let out = club.cli(&["project", "send-back", "cli-review", "--note", " "]);
    assert!(!out.status.success(), "an empty note is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("note"));
    let out = club.ok(&[
        "project",
        "send-back",
        "cli-review",
        "--note",
        "Name it better",
    ]);
    assert!(
        out.contains("changes_requested") && out.contains("sent back: Name it better"),
        "{out}"
    );
    let out = club.ok(&[
        "project",
        "resubmit",
        "cli-review",
        "--description",
        "better",
        "--var",
        "GREETING=hi",
    ]);
    assert!(out.contains("cli-review: requested"), "{out}");
    let show = club.ok(&["project", "show", "cli-review", "--json"]);
    let v: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(v["project"]["description"], "better", "{v}");
    assert_eq!(v["variables"]["GREETING"], "hi", "{v}");
    let out = club.cli(&["project", "resubmit", "cli-review"]);
    assert!(!out.status.success(), "only a request sent back");
}
