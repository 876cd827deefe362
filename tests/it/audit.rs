//! Accounts in the audit log: portal logins (success and failure, with the address), logouts,
//! password changes and the admin's user actions, as `clubhost audit` (the admin API) and the
//! portal's audit view show them. In-process, like `portal`.

use axum::body::Body;
use http_body_util::BodyExt;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::portal::{HOST, PASSWORD, Portal};

/// A login from `ip`, as the proxy hands it to the portal (axum's ConnectInfo).
fn login_from(login: &str, password: &str, ip: [u8; 4]) -> Request<Body> {
    let mut req = Request::builder()
        .method("POST")
        .uri("/portal/api/login")
        .header("host", HOST)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "login": login, "password": password }).to_string(),
        ))
        .unwrap();
    req.extensions_mut()
        .insert(clubhost_proxy::Peer(std::net::SocketAddr::from((
            ip, 40000,
        ))));
    req
}

/// The audit log as `clubhost audit --json` gets it: the admin API's `/api/audit`.
async fn cli_audit(p: &Portal) -> Vec<Value> {
    let api = clubhost::api::router(p.control.clone());
    let req = Request::builder()
        .uri("/api/audit")
        .header("host", "clubhost")
        .body(Body::empty())
        .unwrap();
    let res = api.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice::<Value>(&bytes)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// (actor, action, reason) of each entry.
fn rows(log: &[Value]) -> Vec<(String, String, String)> {
    log.iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("actor"), s("action"), s("reason"))
        })
        .collect()
}

#[tokio::test]
async fn logins_logouts_passwords_and_user_actions_are_audited() {
    let p = Portal::new(|_| {}).await;
    let boss = p.admin("boss").await;
    p.signup("ana").await;

    let r = p
        .send(login_from("ana", "wrong password", [192, 0, 2, 7]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // A name nobody has, with a terminal escape in it: logged, but made harmless.
    let r = p
        .send(login_from("ghost\u{1b}[31m", "whatever", [192, 0, 2, 8]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = p
        .send(login_from("ana@club.example", PASSWORD, [192, 0, 2, 7]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ana = p.agent(&r).await;

    let new_password = "a different good password";
    let r = p
        .api(
            "POST",
            "/portal/api/password",
            Some(&ana),
            json!({ "current": PASSWORD, "new": new_password }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Every session ended with the old password; this browser got a new one.
    let ana = p.agent(&r).await;
    let r = p
        .api("POST", "/portal/api/logout", Some(&ana), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    for action in ["promote", "demote", "disable"] {
        let path = format!("/portal/api/admin/users/ana/{action}");
        let r = p.api("POST", &path, Some(&boss), Value::Null).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
    }
    // A disabled account's right password is still a failed login, and says why.
    let r = p
        .send(login_from("ana", new_password, [192, 0, 2, 9]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    let log = rows(&cli_audit(&p).await);
    let has = |actor: &str, action: &str, reason: &str| {
        assert!(
            log.iter()
                .any(|(a, x, r)| a == actor && x == action && r == reason),
            "no ({actor}, {action}, {reason}) in {log:#?}"
        );
    };
    has("boss", "user.login", "from an unknown address");
    has("ana", "user.login_failed", "from 192.0.2.7: wrong password");
    has(
        "ghost[31m",
        "user.login_failed",
        "from 192.0.2.8: no such account",
    );
    has("ana", "user.login", "from 192.0.2.7");
    has("ana", "user.password", "ana");
    has("ana", "user.logout", "from an unknown address");
    has("boss", "user.promote", "ana");
    has("boss", "user.demote", "ana");
    has("boss", "user.disable", "ana");
    has(
        "ana",
        "user.login_failed",
        "from 192.0.2.9: account disabled",
    );
    assert!(
        !log.iter()
            .any(|(a, _, r)| a.contains('\u{1b}') || r.contains('\u{1b}')),
        "control characters reached the log: {log:?}"
    );

    // The portal's audit view, filtered to ana, shows the same story, newest first.
    let page = p
        .get("/portal/api/admin/audit?user=ana", Some(&boss))
        .await
        .json();
    let actions: Vec<&str> = page
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
            "user.logout",
            "user.password",
            "user.login",
            "user.login_failed",
            "user.signup",
        ]
    );
    let html = p.get("/portal/admin/audit?user=ana", Some(&boss)).await;
    assert!(html.body.contains("user.login_failed"), "{}", html.body);
    assert!(
        html.body.contains("from 192.0.2.7: wrong password"),
        "{}",
        html.body
    );
}
