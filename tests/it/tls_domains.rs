//! A member's own domain end to end, against the real binary and pebble (`tls`' helpers): the
//! owner adds it on the portal over HTTPS, the proxy answers its proof token, the club's check
//! (asking pebble's DNS, which says 127.0.0.1 for every name) passes, the name is routed to the
//! project and gets its own certificate by HTTP-01; removing the name takes the route and the
//! certificate away, and deleting the project takes its `<slug>.<domain>` certificate away (from
//! the registry and from the HTTPS listener).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::{Club, free_port, slug, two_service_stack, urlencode};
use crate::tls::{
    configure, https_client, pebble_installed, pebble_root, start_pebble, wait_issued,
};

const PASSWORD: &str = "domain owner password";

/// A urlencoded form body.
fn form_body(fields: &[(&str, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The names `clubhost tls list` knows.
fn listed(club: &Club) -> Vec<String> {
    let list: serde_json::Value =
        serde_json::from_str(&club.ok(&["tls", "list", "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until `name` is no longer listed.
fn wait_unlisted(club: &Club, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while listed(club).iter().any(|n| n == name) {
        assert!(
            Instant::now() < deadline,
            "{name} still listed\n{}",
            club.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_members_domain_is_proved_routed_certified_and_removed() {
    if !pebble_installed() {
        return;
    }
    clubhost_core::notify::tls::install_provider();
    let mut club = Club::new();
    let https_port = free_port();
    let pebble = start_pebble(club.dir.path(), club.port, https_port, &[]);
    configure(&club, https_port, &pebble);
    club.start();
    let project = slug("dom");
    club.deploy(&project, &two_service_stack());
    let project_host = format!("{project}.club.test");
    wait_issued(&club, &["club.test", "portal.club.test", &project_host]);
    crate::browser_driver::set_password(&club, "ana", PASSWORD);

    let domain = "www.ana-site.test";
    let root = pebble_root(&pebble).await;
    let https = SocketAddr::from(([127, 0, 0, 1], https_port));
    let client = https_client(&root, &["portal.club.test", &project_host, domain], https);
    let portal = format!("https://portal.club.test:{https_port}");

    // ana signs in on the portal, over HTTPS.
    let login = client
        .post(format!("{portal}/api/login"))
        .json(&serde_json::json!({ "login": "ana", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.contains("session"))
        .expect("a session cookie");
    let me: serde_json::Value = client
        .get(format!("{portal}/api/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = me["csrf"].as_str().unwrap().to_string();
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let (client, cookie, portal) = (client.clone(), cookie.clone(), portal.clone());
        async move {
            client
                .post(format!("{portal}{path}"))
                .header("cookie", cookie)
                .header("origin", &portal)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_body(&fields))
                .send()
                .await
                .unwrap()
        }
    };

    // Added: pending, its proof answered by the proxy on plain HTTP, not routed yet.
    let added = post(
        format!("/projects/{project}/domains"),
        vec![("csrf", csrf.clone()), ("name", domain.to_string())],
    )
    .await;
    assert_eq!(added.status(), 303, "{}", added.text().await.unwrap());
    let page = client
        .get(format!("{portal}/projects/{project}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split("/.well-known/clubhost-domain/")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("the proof is on the page")
        .to_string();
    let plain = crate::common::http();
    let proof = plain
        .get(club.url(&format!("/.well-known/clubhost-domain/{token}")))
        .header("host", domain)
        .send()
        .await
        .unwrap();
    assert_eq!(proof.status(), 200);
    assert_eq!(proof.text().await.unwrap(), token);
    let unknown = plain
        .get(club.url("/.well-known/clubhost-domain/not-a-token"))
        .header("host", domain)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let before = plain
        .get(club.url("/"))
        .header("host", domain)
        .send()
        .await
        .unwrap();
    assert!(
        !before.text().await.unwrap().contains("hello from"),
        "not routed before the check"
    );
    assert!(
        client
            .get(format!("https://{domain}:{https_port}/"))
            .send()
            .await
            .is_err(),
        "no certificate (and no self-signed one) before the check"
    );

    // Checked: the club fetched its token at the name; routed, then its own certificate.
    let checked = post(
        format!("/projects/{project}/domains/{domain}/check"),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(checked.status(), 303);
    let list = wait_issued(&club, &[domain]);
    let cert = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == domain)
        .unwrap();
    assert!(
        cert["issuer"].as_str().unwrap().contains("Pebble"),
        "{cert}"
    );
    let served = client
        .get(format!("https://{domain}:{https_port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert!(served.headers().contains_key("strict-transport-security"));
    assert!(served.text().await.unwrap().contains("hello from"));
    let redirect = plain
        .get(club.url("/a?b=c"))
        .header("host", domain)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308, "its certificate exists: HTTPS");
    let audit = club.ok(&["audit"]);
    assert!(audit.contains("domain.verify"), "{audit}");

    // Removed: no route, no certificate (registry and listener).
    let removed = post(
        format!("/projects/{project}/domains/{domain}/remove"),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(removed.status(), 303);
    wait_unlisted(&club, domain);
    // A new client: the old one's connection to the name (made before) would be reused.
    let fresh = || https_client(&root, &[&project_host, domain], https);
    assert!(
        fresh()
            .get(format!("https://{domain}:{https_port}/"))
            .send()
            .await
            .is_err(),
        "no handshake for a removed domain"
    );
    let gone = plain
        .get(club.url("/"))
        .header("host", domain)
        .send()
        .await
        .unwrap();
    assert!(!gone.text().await.unwrap().contains("hello from"));

    // The project deleted: its subdomain's certificate goes too.
    club.ok(&["project", "delete", &project]);
    wait_unlisted(&club, &project_host);
    assert!(
        fresh()
            .get(format!("https://{project_host}:{https_port}/"))
            .send()
            .await
            .is_err(),
        "no handshake for a deleted project's name"
    );
    assert!(club.ok(&["audit"]).contains("tls.remove"));
    let names = listed(&club);
    assert!(names.iter().any(|n| n == "club.test"), "{names:?}");
    assert!(names.iter().any(|n| n == "portal.club.test"), "{names:?}");
}
