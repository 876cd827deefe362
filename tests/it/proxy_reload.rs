//! Static routes from clubhost.toml through the real `clubhost serve`, reloaded on SIGHUP without a
//! restart, and the proxy's metrics on the admin socket.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::common::{Club, http};
use crate::proxy_support::app_upstream;

fn with_route(base: &str, upstream: std::net::SocketAddr) -> String {
    format!(
        "{base}\n[[proxy.routes]]\npath = \"/static\"\nname = \"Static\"\nupstream = \"http://{upstream}\"\n"
    )
}

/// GET over the admin unix socket.
fn admin_get(club: &Club, path: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(club.dir.path().join("data/clubhost.sock"))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_routes_reload_on_sighup() {
    let one = app_upstream("one").await;
    let two = app_upstream("two").await;
    let mut club = Club::new();
    let base = std::fs::read_to_string(&club.config).unwrap();
    std::fs::write(&club.config, with_route(&base, one)).unwrap();
    club.start();
    let c = http();
    let res = c.get(club.url("/static/id")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "one");

    std::fs::write(&club.config, with_route(&base, two)).unwrap();
    let pid = club.pid().expect("server running");
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = c
            .get(club.url("/static/id"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text == "two" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still routed to {text:?} after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A broken file keeps the running routes.
    std::fs::write(&club.config, format!("{base}\nnot toml at all [")).unwrap();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = c
        .get(club.url("/static/id"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "two");
    assert!(club.log().contains("config not reloaded"), "{}", club.log());

    // One access log line per request (plain format by default), the portal's included.
    assert!(
        club.log().contains("Static GET /static/id 200"),
        "{}",
        club.log()
    );
    let portal = c.get(club.url("/portal/login")).send().await.unwrap();
    assert_eq!(portal.status(), 200);
    assert!(
        club.log().contains("Portal GET /portal/login 200"),
        "{}",
        club.log()
    );

    let metrics = admin_get(&club, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("clubhost_proxy_requests_total{project=\"Static\",class=\"2xx\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("clubhost_proxy_open_connections"),
        "{metrics}"
    );
}
