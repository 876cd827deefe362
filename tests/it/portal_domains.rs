//! Members' own domains on the portal, in-process: the owner adds one and sees its proof; bad
//! names, the club's own names and a name another project has are refused with what is wrong;
//! another member can neither add to nor remove from the project; a failed check keeps its
//! reason on the page; the admins' certificates page lists each project's domains (and is theirs
//! only); removing a domain takes it off. The check passing, the route and the certificate are
//! `tls_domains`' (they need the proxy and pebble).

use hyper::StatusCode;

use crate::portal::{Portal, web_stack};

#[tokio::test]
async fn owners_add_check_and_remove_their_domains_and_admins_see_them() {
    // The check asks this DNS "server": a UDP port nothing listens on, so it fails at once.
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let p = Portal::new(|c| {
        c.domain = crate::portal::HOST.into();
        c.tls.domain_check_dns = Some(closed);
    })
    .await;
    let ana = p.signup("ana").await;
    let bob = p.signup("bob").await;
    assert_eq!(
        p.submit(&ana, "anasite", &web_stack()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        p.submit(&bob, "bobsite", &web_stack()).await.status,
        StatusCode::CREATED
    );
    let p = &p;
    let add = |who: &crate::portal::Agent, slug: &str, name: &str| {
        let (cookie, csrf) = (who.cookie.clone(), who.csrf.clone());
        let (path, name) = (format!("/portal/projects/{slug}/domains"), name.to_string());
        async move {
            p.form(&path, &cookie, &[("csrf", &csrf), ("name", &name)])
                .await
        }
    };

    let r = add(&ana, "anasite", "WWW.Ana-Site.test").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = p.get("/portal/projects/anasite", Some(&ana)).await;
    assert!(
        page.body.contains("www.ana-site.test"),
        "lowercased: {}",
        page.body
    );
    let token = page
        .body
        .split("/.well-known/clubhost-domain/")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("the proof is shown")
        .to_string();
    assert_eq!(token.len(), 64, "{token}");
    assert!(page.body.contains("waiting for the check"), "{}", page.body);

    // Refused, each with the reason.
    for (name, why) in [
        ("not a.name.example", "not a DNS label"),
        ("localhost", "not a full domain name"),
        ("club.example", "own domain or under it"),
        ("blog.club.example", "own domain or under it"),
        ("10.1.2.3", "an address"),
    ] {
        let r = add(&ana, "anasite", name).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            r.body
        );
        assert!(r.body.contains(why), "{name}: {}", r.body);
    }
    let taken = add(&bob, "bobsite", "www.ana-site.test").await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert!(taken.body.contains("already taken"), "{}", taken.body);
    // Another member's project: neither add nor remove nor check.
    let r = add(&bob, "anasite", "bob.example").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    for action in ["check", "remove"] {
        let r = p
            .form(
                &format!("/portal/projects/anasite/domains/www.ana-site.test/{action}"),
                &bob.cookie,
                &[("csrf", &bob.csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{action}: {}", r.body);
    }
    // Without the CSRF token: refused.
    let r = p
        .form(
            "/portal/projects/anasite/domains",
            &ana.cookie,
            &[("name", "x.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // A check that cannot reach the name: still pending, the reason on the page.
    let r = p
        .form(
            "/portal/projects/anasite/domains/www.ana-site.test/check",
            &ana.cookie,
            &[("csrf", &ana.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = p.get("/portal/projects/anasite", Some(&ana)).await;
    assert!(page.body.contains("Last check failed"), "{}", page.body);
    assert!(
        page.body.contains(&closed.to_string()),
        "names the DNS server: {}",
        page.body
    );
    let stored = p.registry.domain("www.ana-site.test").await.unwrap();
    assert_eq!(stored.verified_at, None);
    assert!(stored.last_error.is_some());

    // The admins' page lists each project's domains and certificates; members may not see it.
    let admin = p.admin("root").await;
    let certs = p.get("/portal/admin/certificates", Some(&admin)).await;
    assert_eq!(certs.status, StatusCode::OK, "{}", certs.body);
    assert!(
        certs.body.contains("data-domain=\"www.ana-site.test\""),
        "{}",
        certs.body
    );
    assert!(certs.body.contains("/projects/anasite"), "{}", certs.body);
    assert!(certs.body.contains("HTTPS is off"), "{}", certs.body);
    let dashboard = p.get("/portal/admin/dashboard", Some(&admin)).await;
    assert!(
        dashboard.body.contains("/admin/certificates"),
        "linked from the dashboard"
    );
    assert_eq!(
        p.get("/portal/admin/certificates", Some(&ana)).await.status,
        StatusCode::FORBIDDEN
    );
    // In Korean too.
    let ko = p
        .send(
            hyper::Request::builder()
                .uri("/portal/admin/certificates")
                .header("host", crate::portal::HOST)
                .header("cookie", &admin.cookie)
                .header("accept-language", "ko")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(ko.body.contains("회원 도메인"), "{}", ko.body);

    // Removed: gone from the page and the registry, audited.
    let r = p
        .form(
            "/portal/projects/anasite/domains/www.ana-site.test/remove",
            &ana.cookie,
            &[("csrf", &ana.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(p.registry.domains(None).await.unwrap().is_empty());
    let actions: Vec<String> = p
        .registry
        .audit_log(Some("anasite"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.actor, e.action))
        .collect();
    assert!(
        actions.contains(&"ana domain.add".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"ana domain.remove".to_string()),
        "{actions:?}"
    );
}
