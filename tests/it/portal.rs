//! Router-level tests of the portal: the axum router driven in-process (`oneshot`) over a real
//! SQLite file in a temp dir. Who may call each endpoint (anonymous, member, owner, admin), CSRF
//! (token and origin), validation errors, login throttling. One test deploys for real (approve →
//! running → expire) through the real Docker engine.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use clubhost::config::Config;
use clubhost::control::Control;
use clubhost::proxy::routes::RouteHandle;

use crate::common;

const HOST: &str = "club.example";
const PASSWORD: &str = "correct horse battery";

struct Portal {
    _dir: tempfile::TempDir,
    control: Arc<Control>,
    router: Router,
    /// Slugs deployed for real, removed from Docker at the end.
    slugs: Vec<String>,
}

/// A signed-in browser: its session cookie and CSRF token.
#[derive(Clone)]
struct Agent {
    cookie: String,
    csrf: String,
}

struct Reply {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_string())
    }
}

impl Portal {
    async fn new(configure: impl FnOnce(&mut Config)) -> Portal {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.docker.gateway_network = common::GATEWAY.into();
        config.docker.deploy_timeout = std::time::Duration::from_secs(60);
        configure(&mut config);
        let control = Arc::new(
            Control::open(Arc::new(config), RouteHandle::default())
                .await
                .unwrap(),
        );
        Portal {
            router: clubhost::portal::router(control.clone()),
            control,
            _dir: dir,
            slugs: Vec::new(),
        }
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).to_string(),
        }
    }

    /// A JSON API call; `agent` adds the session cookie and, when `csrf`, the CSRF header.
    async fn api(&self, method: &str, path: &str, agent: Option<&Agent>, body: Value) -> Reply {
        self.api_with(method, path, agent, true, body).await
    }

    async fn api_with(
        &self,
        method: &str,
        path: &str,
        agent: Option<&Agent>,
        csrf: bool,
        body: Value,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", HOST)
            .header("content-type", "application/json");
        if let Some(a) = agent {
            req = req.header("cookie", &a.cookie);
            if csrf {
                req = req.header("x-csrf-token", &a.csrf);
            }
        }
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        self.send(req.body(body).unwrap()).await
    }

    async fn get(&self, path: &str, agent: Option<&Agent>) -> Reply {
        let mut req = Request::builder().uri(path).header("host", HOST);
        if let Some(a) = agent {
            req = req.header("cookie", &a.cookie);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// A form POST as a browser sends it.
    async fn form(&self, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header("host", HOST)
            .header("origin", format!("http://{HOST}"))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    async fn signup(&self, name: &str) -> Agent {
        let r = self
            .api(
                "POST",
                "/portal/api/signup",
                None,
                json!({ "name": name, "email": format!("{name}@club.example"), "password": PASSWORD }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        self.agent(&r).await
    }

    async fn agent(&self, r: &Reply) -> Agent {
        let cookie = r.cookie("clubhost_session").expect("session cookie");
        let me = self
            .get(
                "/portal/api/me",
                Some(&Agent {
                    cookie: cookie.clone(),
                    csrf: String::new(),
                }),
            )
            .await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        Agent {
            cookie,
            csrf: me.json()["csrf"].as_str().unwrap().to_string(),
        }
    }

    /// An admin made the way the CLI does (`user add --admin`, `user passwd`), then logged in.
    async fn admin(&self, name: &str) -> Agent {
        let reg = &self.control.registry;
        reg.add_user(name, true, "test").await.unwrap();
        let hash = clubhost::portal::auth::hash_password(PASSWORD).unwrap();
        reg.set_password(name, &hash, "test").await.unwrap();
        let r = self
            .api(
                "POST",
                "/portal/api/login",
                None,
                json!({ "login": name, "password": PASSWORD }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        self.agent(&r).await
    }

    async fn submit(&self, agent: &Agent, slug: &str, stack: &str) -> Reply {
        self.api(
            "POST",
            "/portal/api/projects",
            Some(agent),
            json!({ "name": "My site", "slug": slug, "description": "d", "stack": stack,
                    "source_url": "https://git.example/me/site" }),
        )
        .await
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        for slug in &self.slugs {
            for c in common::containers_of(slug) {
                common::docker(&["rm", "-f", &c]);
            }
            for n in common::networks_of(slug) {
                common::docker(&["network", "rm", &n]);
            }
            for v in common::volumes_of(slug) {
                common::docker(&["volume", "rm", "-f", &v]);
            }
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn web_stack() -> String {
    format!(
        "services:\n  web:\n    image: {}\n    command: [\"sh\", \"-c\", \"echo web-started && mkdir -p /www && echo portal-test-page > /www/index.html && exec httpd -f -p 8000 -h /www\"]\nx-clubhost:\n  expose: web\n  port: 8000\n",
        common::IMAGE
    )
}

#[tokio::test]
async fn anonymous_visitors_see_only_public_pages() {
    let p = Portal::new(|_| {}).await;
    assert_eq!(p.get("/portal/", None).await.status, StatusCode::OK);
    assert_eq!(p.get("/portal/login", None).await.status, StatusCode::OK);
    assert_eq!(p.get("/portal/signup", None).await.status, StatusCode::OK);
    assert_eq!(
        p.get("/portal/api/gallery", None).await.status,
        StatusCode::OK
    );
    for page in [
        "/portal/request",
        "/portal/projects",
        "/portal/join",
        "/portal/account",
        "/portal/admin/",
        "/portal/admin/projects",
        "/portal/admin/users",
        "/portal/admin/audit",
    ] {
        let r = p.get(page, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(r.headers["location"], "/portal/login", "{page}");
    }
    for api in [
        "/portal/api/me",
        "/portal/api/join",
        "/portal/api/projects",
        "/portal/api/slug?slug=abc",
        "/portal/api/admin/queue",
        "/portal/api/admin/projects",
        "/portal/api/admin/users",
        "/portal/api/admin/audit",
    ] {
        assert_eq!(
            p.get(api, None).await.status,
            StatusCode::UNAUTHORIZED,
            "{api}"
        );
    }
    for (path, body) in [
        ("/portal/api/projects", json!({"slug": "x"})),
        ("/portal/api/projects/x/withdraw", Value::Null),
        ("/portal/api/admin/projects/x/approve", Value::Null),
        ("/portal/api/admin/users/x/promote", Value::Null),
        ("/portal/api/logout", Value::Null),
        ("/portal/api/check", json!({})),
    ] {
        let r = p.api("POST", path, None, body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn signup_checks_input_and_invite_code() {
    let p = Portal::new(|c| c.portal.invite_code = Some("letmein".into())).await;
    let signup = |name: &str, email: &str, password: &str, code: &str| json!({ "name": name, "email": email, "password": password, "invite_code": code });
    let cases = [
        (
            signup("ana", "ana@x.org", PASSWORD, "nope"),
            StatusCode::FORBIDDEN,
            "invite code",
        ),
        (
            signup("ana", "ana@x.org", "short", "letmein"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            signup("ana", "not-an-email", PASSWORD, "letmein"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            signup("a b", "ana@x.org", PASSWORD, "letmein"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
    ];
    for (body, status, word) in cases {
        let r = p.api("POST", "/portal/api/signup", None, body).await;
        assert_eq!(r.status, status, "{}", r.body);
        assert!(
            r.json()["error"].as_str().unwrap().contains(word),
            "{}",
            r.body
        );
    }
    let ok = p
        .api(
            "POST",
            "/portal/api/signup",
            None,
            signup("ana", "ana@x.org", PASSWORD, "letmein"),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let cookie = ok.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    let again = p
        .api(
            "POST",
            "/portal/api/signup",
            None,
            signup("ana", "ANA@x.org", PASSWORD, "letmein"),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    // The stored password is an Argon2id hash, never the password.
    let creds = p
        .control
        .registry
        .credentials("ana")
        .await
        .unwrap()
        .unwrap();
    assert!(creds.password_hash.unwrap().starts_with("$argon2id$"));
}

#[tokio::test]
async fn secure_cookies_under_https() {
    let p = Portal::new(|c| c.proxy.scheme = "https".into()).await;
    let r = p.get("/portal/login", None).await;
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("clubhost_csrf=") && cookie.contains("; Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn login_is_throttled_per_account() {
    let p = Portal::new(|_| {}).await;
    p.signup("bo").await;
    for _ in 0..5 {
        let r = p
            .api(
                "POST",
                "/portal/api/login",
                None,
                json!({"login": "bo", "password": "wrong password"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    let r = p
        .api(
            "POST",
            "/portal/api/login",
            None,
            json!({"login": "bo", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // Another account is not affected.
    p.signup("cy").await;
    let r = p
        .api(
            "POST",
            "/portal/api/login",
            None,
            json!({"login": "cy@club.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn login_is_throttled_per_address_when_the_address_is_known() {
    let p = Portal::new(|_| {}).await;
    p.signup("dee").await;
    // The proxy hands the portal the client's address as axum's ConnectInfo.
    let login = |account: String, password: &str, ip: [u8; 4]| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/portal/api/login")
            .header("host", HOST)
            .header("content-type", "application/json")
            .body(Body::from(
                json!({ "login": account, "password": password }).to_string(),
            ))
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 40000,
            ))));
        req
    };
    // 20 failures spread over many (unknown) accounts from one address…
    for i in 0..20 {
        let r = p
            .send(login(format!("nobody{i}"), "wrong password", [10, 0, 0, 1]))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    // …block that address even for a right password, but not another address.
    let r = p.send(login("dee".into(), PASSWORD, [10, 0, 0, 1])).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let r = p.send(login("dee".into(), PASSWORD, [10, 0, 0, 2])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn csrf_token_and_origin_are_required() {
    let p = Portal::new(|_| {}).await;
    let ana = p.signup("ana").await;
    // API: no header, wrong header, foreign origin.
    let body = json!({ "name": "x", "slug": "csrf-test", "stack": web_stack() });
    let r = p
        .api_with(
            "POST",
            "/portal/api/projects",
            Some(&ana),
            false,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let wrong = Agent {
        csrf: "0".repeat(64),
        ..ana.clone()
    };
    let r = p
        .api("POST", "/portal/api/projects", Some(&wrong), body.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let req = Request::builder()
        .method("POST")
        .uri("/portal/api/projects")
        .header("host", HOST)
        .header("origin", "https://evil.example")
        .header("cookie", &ana.cookie)
        .header("x-csrf-token", &ana.csrf)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(p.send(req).await.status, StatusCode::FORBIDDEN);
    assert!(
        p.control.registry.project("csrf-test").await.is_err(),
        "nothing stored"
    );

    // Forms: logout without the token is refused; with it, the session ends.
    let r = p.form("/portal/logout", &ana.cookie, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = p
        .form("/portal/logout", &ana.cookie, &[("csrf", &ana.csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        p.get("/portal/api/me", Some(&ana)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The login form: double-submit of the anonymous cookie.
    let page = p.get("/portal/login", None).await;
    let pre = page.cookie("clubhost_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1.to_string();
    assert!(page.body.contains(&token), "the form carries the token");
    let fields = [("login", "ana"), ("password", PASSWORD)];
    let r = p.form("/portal/login", &pre, &fields).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token: {}", r.body);
    let r = p
        .form(
            "/portal/login",
            &pre,
            &[("csrf", &token), ("login", "ana"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.cookie("clubhost_session").is_some());
}

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
        p.control.registry.projects().await.unwrap().is_empty(),
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
    let multipart = |intent: &str, stack: &str, csrf: &str| {
        let b = "XBOUNDARYX";
        let mut body = String::new();
        for (k, v) in [
            ("csrf", csrf),
            ("intent", intent),
            ("name", "Form site"),
            ("slug", "form-site"),
            ("description", "made with the form"),
            ("days", "10"),
            ("stack", stack),
        ] {
            body.push_str(&format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!("--{b}\r\nContent-Disposition: form-data; name=\"stack_file\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--{b}--\r\n"));
        Request::builder()
            .method("POST")
            .uri("/portal/request")
            .header("host", HOST)
            .header("cookie", &ana.cookie)
            .header("content-type", format!("multipart/form-data; boundary={b}"))
            .body(Body::from(body))
            .unwrap()
    };
    let r = p
        .send(multipart(
            "check",
            "services: {web: {image: x, cap_add: [ALL]}}",
            &ana.csrf,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("cap_add"),
        "verdict shows the stack error: {}",
        r.body
    );
    let r = p.send(multipart("check", &web_stack(), &ana.csrf)).await;
    assert!(
        r.body.contains("Stack: accepted") && r.body.contains("Slug: available"),
        "{}",
        r.body
    );
    assert!(
        p.control.registry.project("form-site").await.is_err(),
        "check stores nothing"
    );
    let r = p.send(multipart("submit", &web_stack(), "wrong")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = p.send(multipart("submit", &web_stack(), &ana.csrf)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let project = p.control.registry.project("form-site").await.unwrap();
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
        ["user.disable", "user.demote", "user.promote", "user.signup"]
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
    let q = p.get("/portal/api/admin/queue", Some(&boss)).await.json();
    assert_eq!(q.as_array().unwrap().len(), 2);

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
