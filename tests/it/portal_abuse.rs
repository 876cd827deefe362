//! Abuse of the portal beyond "who may call what" (that is `portal_access`): session fixation and
//! forged cookies, login throttling that aliases cannot get around, oversized and malformed input,
//! and slugs with traversal or Unicode tricks (through the API here, through the CLI in `cli`).
//! Harness in `portal`; the per-account and per-address throttles themselves are tested there.

use axum::body::Body;
use hyper::{Request, StatusCode};
use serde_json::json;

use clubhost::portal::session::hash_token;

use crate::portal::{Agent, HOST, PASSWORD, Portal, Reply, web_stack};

/// Slugs that must never be accepted: traversal, separators, percent-encoding, look-alikes,
/// invisible and direction-changing characters, uppercase. `cli` submits the same list.
pub const TRICKY_SLUGS: &[&str] = &[
    "../x",
    "..",
    "%2e%2e",
    "a/b",
    "a\\b",
    "ｂｌｏｇ",        // fullwidth letters
    "p\u{0430}ge",     // Cyrillic а
    "evil\u{202E}gpj", // right-to-left override
    "ab\u{200D}cd",    // zero-width joiner
    "ab\u{200B}cd",    // zero-width space
    "Blog",
    "BLOG",
    "a.b",
    "a b",
    "-x",
    "x-",
];

/// The hidden CSRF field of a rendered form.
fn form_token(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

/// A login through the HTML form as a browser with these cookies does it: load the page (which
/// may hand out a `clubhost_csrf` cookie), then post the form with the page's token.
async fn form_login(p: &Portal, cookies: &str, login: &str, password: &str) -> Reply {
    let page = p.get("/portal/login", Some(&me(cookies))).await;
    let mut cookies = cookies.to_string();
    if let Some(pre) = page.cookie("clubhost_csrf") {
        cookies = format!("{cookies}; {pre}");
    }
    let token = form_token(&page.body);
    p.form(
        "/portal/login",
        &cookies,
        &[("csrf", &token), ("login", login), ("password", password)],
    )
    .await
}

fn me(cookie: &str) -> Agent {
    Agent {
        cookie: cookie.to_string(),
        csrf: String::new(),
    }
}

#[tokio::test]
async fn login_never_keeps_a_planted_session_and_forged_cookies_sign_nobody_in() {
    let p = Portal::new(|_| {}).await;
    p.signup("ana").await;
    let mallory = p.signup("mallory").await;

    // Fixation: the attacker plants a made-up session cookie, or her own live one, in the
    // victim's browser. The victim's login starts a new session; the planted cookie stays what
    // it was (nothing, or mallory's).
    for planted in [
        "clubhost_session=chosen-by-the-attacker",
        mallory.cookie.as_str(),
    ] {
        let r = form_login(&p, planted, "ana", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let fresh = r.cookie("clubhost_session").expect("a new session cookie");
        assert_ne!(fresh, planted);
        let who = p.get("/portal/api/me", Some(&me(&fresh))).await.json();
        assert_eq!(who["user"]["name"], "ana");
        let planted_is = p.get("/portal/api/me", Some(&me(planted))).await;
        if planted == mallory.cookie {
            assert_eq!(planted_is.json()["user"]["name"], "mallory");
        } else {
            assert_eq!(planted_is.status, StatusCode::UNAUTHORIZED);
        }
    }
    // The API login too hands out a new token, never the one the browser sent.
    let r = p
        .send(
            Request::builder()
                .method("POST")
                .uri("/portal/api/login")
                .header("host", HOST)
                .header("cookie", &mallory.cookie)
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"login": "ana", "password": PASSWORD}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    let fresh = r.cookie("clubhost_session").unwrap();
    assert_ne!(fresh, mallory.cookie);

    // Forged cookies: random tokens, the stored hash of a real token (a copy of the database
    // signs nobody in), the anonymous CSRF cookie's value, an empty value.
    let token = fresh.split_once('=').unwrap().1;
    let pre = p
        .get("/portal/login", None)
        .await
        .cookie("clubhost_csrf")
        .unwrap();
    for forged in [
        format!("clubhost_session={}", "0".repeat(64)),
        format!("clubhost_session={}", hash_token(token)),
        format!("clubhost_session={}", pre.split_once('=').unwrap().1),
        "clubhost_session=".to_string(),
        format!("clubhost_session={token}x"),
    ] {
        let r = p.get("/portal/api/me", Some(&me(&forged))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{forged}: {}", r.body);
        let r = p.get("/portal/admin/", Some(&me(&forged))).await;
        assert_eq!(r.headers["location"], "/portal/login", "{forged}");
    }

    // A password change ends every other session; the browser that made it gets a new one.
    let ana = p.agent(&r_login(&p, "ana").await).await;
    let other = p.agent(&r_login(&p, "ana").await).await;
    let r = p
        .api(
            "POST",
            "/portal/api/password",
            Some(&ana),
            json!({"current": PASSWORD, "new": "a brand new password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let renewed = r.cookie("clubhost_session").unwrap();
    assert_ne!(renewed, ana.cookie);
    for old in [&ana.cookie, &other.cookie, &fresh] {
        let r = p.get("/portal/api/me", Some(&me(old))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{old} still signs in");
    }
    let r = p.get("/portal/api/me", Some(&me(&renewed))).await;
    assert_eq!(r.json()["user"]["name"], "ana");
}

async fn r_login(p: &Portal, login: &str) -> Reply {
    p.api(
        "POST",
        "/portal/api/login",
        None,
        json!({"login": login, "password": PASSWORD}),
    )
    .await
}

#[tokio::test]
async fn a_browser_holding_a_dead_session_cookie_can_log_in_again() {
    let p = Portal::new(|_| {}).await;
    let ana = p.signup("ana").await;
    // The session ends elsewhere (a password change on another device, an admin disabling and
    // enabling the account, a restored database) while this browser still sends its cookie, and
    // it has no anonymous `clubhost_csrf` cookie (it signed up through the API, or that cookie
    // expired first).
    p.registry
        .set_password(
            "ana",
            &clubhost_core::accounts::hash_password(PASSWORD).unwrap(),
            "test",
        )
        .await
        .unwrap();
    let r = form_login(&p, &ana.cookie, "ana", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], "/portal/projects");
}

#[tokio::test]
async fn login_throttling_counts_an_account_under_all_its_names() {
    let p = Portal::new(|_| {}).await;
    p.signup("bo").await;
    // Five failures spread over the name, the email in another case, and the HTML form…
    for login in ["bo", "BO@club.example", "bo", "bo@CLUB.example"] {
        let r = p
            .api(
                "POST",
                "/portal/api/login",
                None,
                json!({"login": login, "password": "not the password"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{login}: {}", r.body);
    }
    let r = form_login(&p, "", " bo@club.example ", "not the password").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // …lock the account under every name, even with the right password.
    for login in ["bo", "bo@club.example", "Bo@Club.Example"] {
        let r = r_login(&p, login).await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{login}: {}",
            r.body
        );
    }
    let r = form_login(&p, "", "bo", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("too many failed logins"), "{}", r.body);
}

/// A POST with a raw body and content type, as a signed-in member with the CSRF header.
async fn raw(p: &Portal, path: &str, agent: Option<&Agent>, ctype: &str, body: Vec<u8>) -> Reply {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", HOST)
        .header("content-type", ctype);
    if let Some(a) = agent {
        req = req
            .header("cookie", &a.cookie)
            .header("x-csrf-token", &a.csrf);
    }
    p.send(req.body(Body::from(body)).unwrap()).await
}

/// (path, who, content type, body, status, a word the answer must contain)
type BodyCase<'a> = (&'a str, Option<&'a Agent>, &'a str, Vec<u8>, u16, &'a str);

#[tokio::test]
async fn oversized_and_malformed_input_gets_a_clear_4xx() {
    let p = Portal::new(|_| {}).await;
    let ana = p.signup("ana").await;
    let boss = p.admin("boss").await;
    let big = |n: usize| "x".repeat(n);
    let json = "application/json";
    #[rustfmt::skip]
    let cases: Vec<BodyCase> = vec![
        // Bodies over the portal's 2 MB limit.
        ("/portal/api/projects", Some(&ana), json, json!({"stack": big(3 << 20)}).to_string().into(), 413, "limit"),
        ("/portal/api/login", None, json, json!({"login": big(3 << 20), "password": "x"}).to_string().into(), 413, "limit"),
        ("/portal/login", None, "application/x-www-form-urlencoded", format!("login={}", big(3 << 20)).into(), 413, "limit"),
        // Not JSON, not UTF-8, the wrong content type, missing and mistyped fields.
        ("/portal/api/projects", Some(&ana), json, b"{\"name\": ".to_vec(), 400, "JSON"),
        ("/portal/api/projects", Some(&ana), json, b"{\"name\": \"\xff\xfe\"}".to_vec(), 400, "JSON"),
        ("/portal/api/projects", Some(&ana), "text/plain", b"{}".to_vec(), 415, "application/json"),
        ("/portal/api/login", None, json, json!({"login": "ana"}).to_string().into(), 422, "password"),
        ("/portal/api/projects", Some(&ana), json, json!({"name": "x", "slug": "typed", "stack": web_stack(), "days": "ten"}).to_string().into(), 422, "days"),
        ("/portal/api/projects", Some(&ana), json, json!([1, 2]).to_string().into(), 422, "JSON"),
        ("/portal/api/admin/projects/none/reject", Some(&boss), json, b"reason=spam".to_vec(), 422, "request body"),
        ("/portal/login", None, "application/x-www-form-urlencoded", b"login=ana".to_vec(), 422, "password"),
        // Fields far over their limits, inside the body limit.
        ("/portal/api/projects", Some(&ana), json, json!({"name": big(100_000), "slug": "big-name", "stack": web_stack()}).to_string().into(), 422, "name"),
        ("/portal/api/projects", Some(&ana), json, json!({"name": "x", "slug": big(100_000), "stack": web_stack()}).to_string().into(), 422, "slug"),
        ("/portal/api/projects", Some(&ana), json, json!({"name": "x", "slug": "big-desc", "description": big(1 << 20), "stack": web_stack()}).to_string().into(), 422, "description"),
        ("/portal/api/projects", Some(&ana), json, json!({"name": "x", "slug": "big-url", "source_url": format!("https://{}", big(100_000)), "stack": web_stack()}).to_string().into(), 422, "source link"),
        ("/portal/api/projects", Some(&ana), json, json!({"name": "x", "slug": "big-stack", "stack": format!("services: {{web: {{image: x, command: \"{}\"}}}}", big(1_500_000))}).to_string().into(), 422, "at most 64 KiB"),
        ("/portal/api/projects", Some(&ana), json, json!({"name": "x", "slug": "days", "stack": web_stack(), "days": u64::MAX}).to_string().into(), 422, "days"),
        ("/portal/api/signup", None, json, json!({"name": "huge", "email": "h@club.example", "password": big(100_000)}).to_string().into(), 422, "password"),
        ("/portal/api/signup", None, json, json!({"name": "huge", "email": format!("{}@club.example", big(100_000)), "password": PASSWORD}).to_string().into(), 422, "email"),
        // A password far longer than any real one is simply wrong.
        ("/portal/api/login", None, json, json!({"login": "ana", "password": big(1 << 20)}).to_string().into(), 403, "wrong"),
        // A "billion laughs" stack: anchors that expand exponentially.
        ("/portal/api/projects", Some(&ana), json, json!({"name": "x", "slug": "laughs", "stack": laughs()}).to_string().into(), 422, "budget"),
    ];
    for (path, agent, ctype, body, status, word) in cases {
        let r = raw(&p, path, agent, ctype, body).await;
        let head: String = r.body.chars().take(300).collect();
        assert_eq!(r.status.as_u16(), status, "{path} {word}: {head}");
        assert!(
            r.body.to_lowercase().contains(&word.to_lowercase()),
            "{path}: the answer should mention {word:?}: {head}"
        );
    }
    // Queries: missing, oversized.
    let r = p.get("/portal/api/slug", Some(&ana)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = p
        .get(
            &format!("/portal/api/slug?slug={}", big(60_000)),
            Some(&ana),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.json()["problem"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("slug")
    );
    let r = p
        .get(
            &format!("/portal/api/admin/audit?project={}", big(60_000)),
            Some(&boss),
        )
        .await;
    assert_eq!(r.json(), json!([]));
    assert!(
        p.registry.projects().await.unwrap().is_empty(),
        "nothing stored"
    );
}

/// Ten levels of ten aliases each: 10^10 nodes if expanded.
fn laughs() -> String {
    let mut text = String::from("x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("x-a{i}: &a{i} [{refs}]\n"));
    }
    text + "services:\n  web:\n    image: x\n    command: *a9\n"
}

#[tokio::test]
async fn tricky_slugs_are_refused_with_a_clear_message() {
    let p = Portal::new(|_| {}).await;
    let ana = p.signup("ana").await;
    for &slug in TRICKY_SLUGS {
        let r = p.submit(&ana, slug, &web_stack()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{slug:?}: {}",
            r.body
        );
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(
            error.contains("slug") && error.contains("lowercase letters"),
            "{slug:?}: {error}"
        );
        // The live check on the request form says the same before anything is sent.
        let r = p
            .api(
                "POST",
                "/portal/api/check",
                Some(&ana),
                json!({"slug": slug, "stack": web_stack()}),
            )
            .await;
        assert!(
            r.json()["slug_problem"]
                .as_str()
                .is_some_and(|m| m.to_lowercase().contains("slug")),
            "{slug:?}: {}",
            r.body
        );
    }
    // Percent-encoded traversal in a project path finds no project.
    for path in ["/portal/api/projects/%2e%2e", "/portal/api/projects/..%2Fx"] {
        let r = p.get(path, Some(&ana)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    assert!(p.registry.projects().await.unwrap().is_empty());
}
