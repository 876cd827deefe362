//! A member leaves with their data: "My projects" → Backups offers each backup as ONE tar archive
//! (manifest, record, each volume's archive, each database dump; never the sealed secrets), and
//! once the term ends the expiry note and the expired page link the owner to it. The portal's
//! router in-process over a real registry, a real deploy and a real backup on the engine.

use std::sync::Arc;

use axum::body::Body;
use http_body_util::BodyExt;
use hyper::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use clubhost_core::config::Config;
use clubhost_core::control::Control;
use clubhost_core::notify::{Audience, WebhookConfig, WebhookKind};
use clubhost_proxy::routes::{RouteHandle, Target};

use crate::common;
use crate::portal::{HOST, PASSWORD};

/// A project with a volume holding a file, and a secret variable (which must stay out).
fn stack() -> String {
    format!(
        "services:\n  web:\n    image: {}\n    command: [\"sh\", \"-c\", \"mkdir -p /data /www && echo kept-by-ana > /data/note.txt && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www\"]\n    volumes:\n      - data:/data\nvolumes:\n  data:\nx-clubhost:\n  expose: web\n  port: 8000\n",
        common::IMAGE
    )
}

/// Signs `name` in through the JSON API; the session cookie.
async fn login(router: &axum::Router, name: &str) -> String {
    let req = Request::builder()
        .method("POST")
        .uri("/portal/api/login")
        .header("host", HOST)
        .header("content-type", "application/json")
        .header("origin", format!("http://{HOST}"))
        .body(Body::from(
            json!({ "login": name, "password": PASSWORD }).to_string(),
        ))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("clubhost_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn get(
    router: &axum::Router,
    path: &str,
    cookie: &str,
) -> (StatusCode, hyper::HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .uri(path)
        .header("host", HOST)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_downloads_one_archive_and_the_expiry_links_to_it() {
    common::ensure_image();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.docker.gateway_network = common::GATEWAY.into();
    config.docker.deploy_timeout = std::time::Duration::from_secs(60);
    // Notes are kept and sent only with somewhere to send them: a chat webhook on this machine.
    let hook = crate::sinks::WebhookSink::start(0);
    config.notify.webhooks.push(WebhookConfig {
        kind: WebhookKind::Slack,
        url: hook.url(),
        audience: Audience::All,
    });
    let routes = RouteHandle::default();
    let control = Arc::new(
        Control::open(Arc::new(config), routes.clone())
            .await
            .unwrap(),
    );
    let router = clubhost::portal::router(control.clone());
    let slug = common::slug("bkarchive");
    let _cleanup = Cleanup(slug.clone());
    for (name, admin) in [("ana", false), ("bo", false)] {
        control.add_user(name, admin, None, "test").await.unwrap();
        control.set_password(name, PASSWORD, "test").await.unwrap();
    }
    let submission: clubhost_core::control::Submission =
        serde_json::from_value(json!({ "owner": "ana", "slug": slug, "stack": stack() })).unwrap();
    control.submit(&submission, "ana").await.unwrap();
    control.approve(&slug, "test").await.unwrap();
    let backup = control.create_backup(&slug, "test").await.unwrap();

    let ana = login(&router, "ana").await;
    let bo = login(&router, "bo").await;
    let page = get(&router, &format!("/portal/projects/{slug}/backups"), &ana).await;
    let page_text = String::from_utf8_lossy(&page.2);
    let link = format!("/portal/projects/{slug}/archive/{}", backup.id);
    assert!(page_text.contains(&link), "{page_text}");
    // Another member may not have it.
    assert_eq!(get(&router, &link, &bo).await.0, StatusCode::FORBIDDEN);

    let (status, headers, body) = get(&router, &link, &ana).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-tar");
    assert_eq!(
        headers["content-length"].to_str().unwrap(),
        body.len().to_string()
    );
    let out = tempfile::tempdir().unwrap();
    let tar = out.path().join("all.tar");
    std::fs::write(&tar, &body).unwrap();
    let untar = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        untar.status.success(),
        "{}",
        String::from_utf8_lossy(&untar.stderr)
    );
    let top = out.path().join(format!("{slug}-backup-{}", backup.id));
    for file in ["manifest.json", "project.json", "volumes/data.tar"] {
        assert_eq!(
            std::fs::read(top.join(file)).unwrap(),
            std::fs::read(backup.path.join(file)).unwrap(),
            "{file}"
        );
    }
    assert!(!top.join("secrets.sealed").exists());
    // The volume's own archive holds the file the service wrote.
    let inner = std::process::Command::new("tar")
        .arg("-xOf")
        .arg(top.join("volumes/data.tar"))
        .arg("clubhost-volume/note.txt")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&inner.stdout), "kept-by-ana\n");

    // The term ends: the note to the owner and the expired page both link to the backups page.
    control.expire(&slug, "test", "term ended").await.unwrap();
    let expired = hook.wait_for(&format!("{slug} has expired"));
    assert!(
        expired.contains(&format!("http://localhost/portal/projects/{slug}/backups")),
        "{expired}"
    );
    let table = routes.load();
    let route = table
        .routes()
        .find(|r| r.prefix == format!("/{slug}"))
        .expect("the expired project's route");
    match &route.target {
        Target::Unavailable { state, about } => {
            assert_eq!(state, "expired");
            let about = about.as_deref().unwrap_or_default();
            assert!(
                about.contains(&format!("/portal/projects/{slug}/backups")),
                "{about}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The download still works for the whole grace period.
    assert_eq!(get(&router, &link, &ana).await.0, StatusCode::OK);
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in common::containers_of(&self.0) {
            common::docker(&["rm", "-f", &c]);
        }
        for n in common::networks_of(&self.0) {
            common::docker(&["network", "rm", &n]);
        }
        for v in common::volumes_of(&self.0) {
            common::docker(&["volume", "rm", "-f", &v]);
        }
    }
}
