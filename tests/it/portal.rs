//! Router-level tests of the portal: the axum router driven in-process (`oneshot`) over a real
//! SQLite file in a temp dir. Who may call each endpoint (anonymous, member, owner, admin), CSRF
//! (token and origin), validation errors, login throttling. This file holds the harness and the
//! account tests; `portal_projects` the member and admin project flows.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use clubhost_core::config::Config;
use clubhost_core::control::Control;
use clubhost_proxy::routes::RouteHandle;
use clubhost_registry::{Registry, SecretKey};

use crate::common;

pub const HOST: &str = "club.example";
pub const PASSWORD: &str = "correct horse battery";

pub struct Portal {
    _dir: tempfile::TempDir,
    pub control: Arc<Control>,
    /// The same SQLite file, opened beside the server as an outside actor would: tests read what
    /// was stored and set up states (a crash's half-done work) that no request can make.
    pub registry: Registry,
    pub router: Router,
    /// Slugs deployed for real, removed from Docker at the end.
    pub slugs: Vec<String>,
}

/// A signed-in browser: its session cookie and CSRF token.
#[derive(Clone)]
pub struct Agent {
    pub cookie: String,
    pub csrf: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_string())
    }
}

impl Portal {
    pub async fn new(configure: impl FnOnce(&mut Config)) -> Portal {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.docker.gateway_network = common::GATEWAY.into();
        config.docker.deploy_timeout = std::time::Duration::from_secs(60);
        configure(&mut config);
        let database = config.database_path();
        let key_file = config.secret_key_path();
        let control = Arc::new(
            Control::open(Arc::new(config), RouteHandle::default())
                .await
                .unwrap(),
        );
        Portal {
            router: clubhost::portal::router(control.clone()),
            control,
            // The test opens the registry beside the server, with the key the server made.
            registry: Registry::open(
                &database,
                SecretKey::from_hex(&std::fs::read_to_string(key_file).unwrap()).unwrap(),
            )
            .await
            .unwrap(),
            _dir: dir,
            slugs: Vec::new(),
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
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
    pub async fn api(&self, method: &str, path: &str, agent: Option<&Agent>, body: Value) -> Reply {
        self.api_with(method, path, agent, true, body).await
    }

    pub async fn api_with(
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

    pub async fn get(&self, path: &str, agent: Option<&Agent>) -> Reply {
        let mut req = Request::builder().uri(path).header("host", HOST);
        if let Some(a) = agent {
            req = req.header("cookie", &a.cookie);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// A form POST as a browser sends it.
    pub async fn form(&self, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", common::urlencode(v)))
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

    /// A multipart form POST (the request forms) as a browser sends it, with an empty file field.
    pub async fn multipart(
        &self,
        path: &str,
        agent: &Agent,
        fields: &[(impl AsRef<str>, impl AsRef<str>)],
    ) -> Reply {
        let b = "XBOUNDARYX";
        let mut body = String::new();
        for (k, v) in fields {
            let (k, v) = (k.as_ref(), v.as_ref());
            body.push_str(&format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"stack_file\"; filename=\"\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n\r\n--{b}--\r\n"
        ));
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header("host", HOST)
            .header("cookie", &agent.cookie)
            .header("content-type", format!("multipart/form-data; boundary={b}"))
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    pub async fn signup(&self, name: &str) -> Agent {
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

    pub async fn agent(&self, r: &Reply) -> Agent {
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
    pub async fn admin(&self, name: &str) -> Agent {
        let c = &self.control;
        c.add_user(name, true, None, "test").await.unwrap();
        c.set_password(name, PASSWORD, "test").await.unwrap();
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

    pub async fn submit(&self, agent: &Agent, slug: &str, stack: &str) -> Reply {
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

pub fn web_stack() -> String {
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
        "/portal/admin/routes",
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
        "/portal/api/admin/routes",
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
    let creds = p.registry.credentials("ana").await.unwrap().unwrap();
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
            .insert(clubhost_proxy::Peer(std::net::SocketAddr::from((
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

/// A botnet guessing one account from many addresses: once the account's free failures from
/// addresses that never logged into it are spent, every such address waits (even with the right
/// password), while the owner's address, which logged in before, is never slowed, and another
/// account is not touched.
#[tokio::test]
async fn login_is_throttled_per_account_across_addresses_but_never_for_the_owners() {
    let p = Portal::new(|_| {}).await;
    p.signup("eve").await;
    p.signup("fay").await;
    let login = |account: &str, password: &str, ip: [u8; 4]| {
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
            .insert(clubhost_proxy::Peer(std::net::SocketAddr::from((
                ip, 40000,
            ))));
        req
    };
    let owner = [10, 0, 0, 9];
    let r = p.send(login("eve", PASSWORD, owner)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let free = clubhost_core::control::FREE_FAILURES_PER_ACCOUNT_FROM_STRANGERS;
    // One wrong guess each from many addresses: each under every per-address limit.
    for i in 0..free {
        let r = p
            .send(login("eve", "wrong password", [10, 1, 0, i as u8 + 1]))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "guess {i}: {}", r.body);
    }
    // The next new address waits, right password or not, and is told why.
    for password in ["wrong password", PASSWORD] {
        let r = p.send(login("eve", password, [10, 2, 0, 1])).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert!(
            r.body.contains("addresses it was never used from"),
            "{}",
            r.body
        );
    }
    // The owner's address is never slowed by them; another account neither.
    let r = p.send(login("eve", PASSWORD, owner)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = p.send(login("fay", PASSWORD, [10, 2, 0, 1])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Every refused try is audited.
    let log = p.registry.audit_log(None).await.unwrap();
    let throttled = log
        .iter()
        .filter(|e| e.action == "user.login_failed" && e.reason.contains("throttled"))
        .count();
    assert_eq!(throttled, 2, "{log:?}");
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
        p.registry.project("csrf-test").await.is_err(),
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
