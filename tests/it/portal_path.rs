//! The portal elsewhere: `[portal] path = "/club-portal/"` with `[proxy] subdomains = true`, on a
//! real server over real sockets. The portal answers under its path (routes, redirects, links,
//! static assets, cookie paths) and at `/` on `portal.<domain>`; `/portal/` is then nothing
//! special (404 while no project is there; "portal" stays reserved for the subdomain); no project
//! may take the portal's segment. Plus the router-level check that `portal.<domain>` means nothing
//! while subdomains are off.

use axum::body::Body;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use crate::common::{self, Club};
use crate::portal::{Portal, web_stack};

const PORTAL_HOST: &str = "portal.club.example";

fn cookie_of(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie: {:?}", res.headers()))
        .to_string()
}

#[tokio::test]
async fn portal_serves_at_its_configured_path_and_on_its_own_host() {
    let mut club = Club::new();
    let text = std::fs::read_to_string(&club.config)
        .unwrap()
        .replace("[proxy]\n", "[proxy]\nsubdomains = true\n")
        + "\n[portal]\npath = \"/club-portal/\"\n# Served under its path on every host too (the \
           default with subdomains is its own host only; see the next test).\nown_host = false\n";
    std::fs::write(&club.config, text).unwrap();
    club.start();
    let http = common::http();
    let get = |path: &str, host: Option<&str>| {
        let mut req = http.get(club.url(path));
        if let Some(h) = host {
            req = req.header("host", h);
        }
        req.send()
    };

    // Under the configured path: pages, links, assets, redirects, cookie paths.
    let r = get("/club-portal/", None).await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(r#"href="/club-portal/static/style.css""#)
            && body.contains(r#"href="/club-portal/login""#),
        "{body}"
    );
    let r = get("/club-portal", None).await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/club-portal/");
    let r = get("/club-portal/static/style.css", None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/css");
    let r = get("/club-portal/login", None).await.unwrap();
    assert!(cookie_of(&r, "clubhost_csrf").contains("Path=/club-portal/;"));
    let r = get("/club-portal/projects", None).await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/club-portal/login");

    // `/portal/` is no longer the portal; the proxy's own pages link to the real one.
    let r = get("/portal/", None).await.unwrap();
    assert_eq!(r.status(), 404);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"href="/club-portal/""#), "{body}");

    // The API under the path; no project may take the portal's segment.
    let r = http
        .post(club.url("/club-portal/api/signup"))
        .json(&json!({ "name": "ana", "email": "ana@club.example", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let session = cookie_of(&r, "clubhost_session");
    assert!(session.contains("Path=/club-portal/;"), "{session}");
    let cookie = session.split(';').next().unwrap().to_string();
    let me: Value = http
        .get(club.url("/club-portal/api/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = me["csrf"].as_str().unwrap().to_string();
    let problem: Value = http
        .get(club.url("/club-portal/api/slug?slug=club-portal"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        problem["problem"].as_str().unwrap().contains("portal"),
        "{problem}"
    );
    for slug in ["club-portal", "portal"] {
        let r = http
            .post(club.url("/club-portal/api/projects"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": "x", "slug": slug, "stack": web_stack() }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{slug}");
        assert!(r.text().await.unwrap().contains("slug"));
    }

    // `portal.<domain>` serves the portal at `/`, its links and cookies from `/`.
    let r = get("/", Some(PORTAL_HOST)).await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(r#"href="/static/style.css""#) && body.contains(r#"href="/login""#),
        "{body}"
    );
    assert!(!body.contains("/club-portal/"), "{body}");
    let r = get("/login", Some(PORTAL_HOST)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(cookie_of(&r, "clubhost_csrf").contains("Path=/;"));
    let r = get("/static/style.css", Some(PORTAL_HOST)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = get("/projects", Some(PORTAL_HOST)).await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = http
        .get(club.url("/api/me"))
        .header("host", PORTAL_HOST)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The club's own host still routes by path: with no root project `/` is the club's front
    // page, and other paths are nothing.
    let r = get("/", Some("club.example")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("What the club hosts"));
    let r = get("/nothing", Some("club.example")).await.unwrap();
    assert_eq!(r.status(), 404);
}

async fn on_portal_host(p: &Portal, path: &str) -> crate::portal::Reply {
    let req = Request::builder()
        .uri(path)
        .header("host", PORTAL_HOST)
        .body(Body::empty())
        .unwrap();
    p.send(req).await
}

#[tokio::test]
async fn portal_host_is_only_the_portal_with_subdomains_on() {
    let send = on_portal_host;
    let off = Portal::new(|c| c.domain = "club.example".into()).await;
    // Without subdomains `portal.<domain>` is like any host: the portal's pages are not at its
    // root (`/` there is the club's front page, which the proxy hands over on every host).
    assert_eq!(send(&off, "/login").await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&off, "/portal/").await.status, StatusCode::OK);
    let on = Portal::new(|c| {
        c.domain = "club.example".into();
        c.proxy.subdomains = true;
    })
    .await;
    let r = send(&on, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(r#"href="/login""#), "{}", r.body);
    assert_eq!(send(&on, "/portal/login").await.status, StatusCode::OK);

    // Projects live on the club's domain, not on the portal's host: the gallery links there.
    let ana = on.signup("ana").await;
    let r = on.submit(&ana, "blog", &web_stack()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    for to in [
        clubhost_core::model::ProjectState::Approved,
        clubhost_core::model::ProjectState::Deploying,
        clubhost_core::model::ProjectState::Running,
    ] {
        on.registry
            .transition("blog", to, "test", "moved by the test")
            .await
            .unwrap();
    }
    let gallery: Value = serde_json::from_str(&send(&on, "/api/gallery").await.body).unwrap();
    assert_eq!(gallery[0]["href"], "http://club.example/blog/", "{gallery}");
    let r = send(&on, "/").await;
    assert!(
        r.body.contains(r#"href="http://club.example/blog/""#),
        "{}",
        r.body
    );
}

/// With subdomains on, the portal lives on `portal.<domain>` only: its path on the club's own host
/// (where members' projects live under `/<slug>/`, the same origin) redirects there, so a project's
/// JavaScript never shares an origin with a portal session.
#[tokio::test]
async fn with_subdomains_the_portal_lives_on_its_own_host_only() {
    let mut club = Club::new();
    let text = std::fs::read_to_string(&club.config)
        .unwrap()
        .replace("[proxy]\n", "[proxy]\nsubdomains = true\n");
    std::fs::write(&club.config, text).unwrap();
    club.start();
    let http = common::http();
    let port = club
        .url("/")
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    for (path, to) in [
        ("/portal/login?next=x", "/login?next=x"),
        ("/portal/", "/"),
        ("/portal/api/me", "/api/me"),
    ] {
        let r = http
            .get(club.url(path))
            .header("host", format!("club.example:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 308, "{path}");
        assert_eq!(
            r.headers()["location"],
            format!("http://{PORTAL_HOST}:{port}{to}").as_str(),
            "{path}"
        );
        assert!(
            r.headers().get("set-cookie").is_none(),
            "{path}: no portal cookie here"
        );
    }
    // On its own host it is the portal.
    let r = http
        .get(club.url("/login"))
        .header("host", PORTAL_HOST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(cookie_of(&r, "clubhost_csrf").contains("Path=/;"));
}
