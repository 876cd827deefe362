//! The walking skeleton end to end: a stack submitted through the CLI reaches a visitor through
//! the proxy, on the networks it should be on, and goes away cleanly.

use crate::common::*;

#[tokio::test]
async fn submit_approve_serves_the_containers_own_page() {
    let mut club = Club::new();
    club.start();
    let slug = slug("hello");
    let out = club.deploy(&slug, &two_service_stack());
    assert!(out.contains("running"), "{out}");

    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    // The page names the container's hostname (its short id): it really came from the container.
    let web = containers_of(&slug)
        .into_iter()
        .find(|c| c.contains("-web-"))
        .unwrap();
    let short_id = docker_text(&["inspect", "-f", "{{slice .Id 0 12}}", &web]);
    assert_eq!(body.trim(), format!("hello from {short_id}"));

    // Every container runs with docker-init and no-new-privileges.
    for c in containers_of(&slug) {
        assert_eq!(
            docker_text(&["inspect", "-f", "{{.HostConfig.Init}}", &c]),
            "true",
            "{c}"
        );
        assert!(
            docker_text(&["inspect", "-f", "{{.HostConfig.SecurityOpt}}", &c])
                .contains("no-new-privileges")
        );
    }
    // Volumes are named clubhost-<slug>-<name> and labelled.
    assert_eq!(volumes_of(&slug), [format!("clubhost-{slug}-data")]);
}

#[tokio::test]
async fn backend_is_on_the_internal_network_only() {
    let mut club = Club::new();
    let slug = slug("nets");
    // No server running: the CLI works on the registry and Docker directly.
    club.deploy(&slug, &two_service_stack());

    let containers = containers_of(&slug);
    let db = containers.iter().find(|c| c.contains("-db-")).unwrap();
    let web = containers.iter().find(|c| c.contains("-web-")).unwrap();
    let nets = |c: &str| {
        docker_text(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            c,
        ])
    };
    let project_net = format!("clubhost-{slug}");
    assert_eq!(
        nets(db).split_whitespace().collect::<Vec<_>>(),
        [project_net.as_str()]
    );
    let mut web_nets: Vec<_> = nets(web).split_whitespace().map(str::to_string).collect();
    web_nets.sort();
    let mut expected = vec![GATEWAY.to_string(), project_net.clone()];
    expected.sort();
    assert_eq!(web_nets, expected);

    assert_eq!(
        docker_text(&["network", "inspect", "-f", "{{.Internal}}", &project_net]),
        "true"
    );
    let icc = docker_text(&[
        "network",
        "inspect",
        "-f",
        "{{index .Options \"com.docker.network.bridge.enable_icc\"}}",
        GATEWAY,
    ]);
    assert_eq!(icc, "false");

    // Inside the project, `db` resolves by its service name, as in compose.
    let out = docker(&["exec", web, "sh", "-c", "echo | nc db 3306"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello db");
}

#[tokio::test]
async fn prefixes_match_whole_segments_and_redirect_with_query() {
    let mut club = Club::new();
    club.start();
    let slug = slug("slack");
    club.deploy(&slug, &two_service_stack());
    let client = http();

    let res = client
        .get(club.url(&format!("/{slug}?invite=1&x=2")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], format!("/{slug}/?invite=1&x=2"));

    let res = client
        .get(club.url(&format!("/{slug}ers/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("No club project lives at this address")
    );

    let res = client
        .get(club.url(&format!("/{slug}/index.html")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().starts_with("hello from"));

    // The gallery lists the running project.
    let page = client
        .get(club.url("/portal/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("href=\"/{slug}/\"")), "{page}");
}

#[tokio::test]
async fn forwarded_headers_reach_the_upstream() {
    let mut club = Club::new();
    club.start();
    let slug = slug("echo");
    // An upstream CGI script that prints the request headers it received.
    let stack = format!(
        r#"
services:
  echo:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && printf '#!/bin/sh\necho Content-Type: text/plain\necho\nenv\n' > /www/cgi-bin/env && chmod +x /www/cgi-bin/env && exec httpd -f -p 8000 -h /www"]
x-clubhost:
  expose: echo
  port: 8000
"#
    );
    club.deploy(&slug, &stack);
    let res = http()
        .get(club.url(&format!("/{slug}/cgi-bin/env?q=1")))
        .header("x-forwarded-for", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let env = res.text().await.unwrap();
    assert!(env.contains("HTTP_X_FORWARDED_FOR=127.0.0.1"), "{env}");
    assert!(
        !env.contains("6.6.6.6"),
        "client-sent X-Forwarded-For must not be trusted: {env}"
    );
    assert!(
        env.contains(&format!("HTTP_X_FORWARDED_PREFIX=/{slug}")),
        "{env}"
    );
    assert!(env.contains("HTTP_X_FORWARDED_PROTO=http"), "{env}");
    assert!(
        env.contains(&format!("HTTP_X_FORWARDED_HOST=127.0.0.1:{}", club.port)),
        "{env}"
    );
    // The prefix is stripped and the query kept.
    assert!(env.contains("QUERY_STRING=q=1"), "{env}");
}

#[tokio::test]
async fn expire_removes_containers_and_answers_not_running() {
    let mut club = Club::new();
    club.start();
    let slug = slug("expire");
    club.deploy(&slug, &two_service_stack());
    assert_eq!(containers_of(&slug).len(), 2);

    club.ok(&["project", "expire", &slug]);
    assert!(
        containers_of(&slug).is_empty(),
        "{:?}",
        containers_of(&slug)
    );
    // Volumes are kept for a restore.
    assert_eq!(volumes_of(&slug).len(), 1);

    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("{slug} is not running")) && page.contains("expired"),
        "{page}"
    );

    // JSON for clients that ask for it.
    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["status"], 503);

    // Delete purges the volume too.
    club.ok(&["project", "delete", &slug]);
    assert!(volumes_of(&slug).is_empty());
    assert!(networks_of(&slug).is_empty());
    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // The audit log keeps the history.
    let audit = club.ok(&["audit", "--project", &slug]);
    for action in [
        "project.submit",
        "project.approved",
        "project.running",
        "project.expired",
        "project.delete",
    ] {
        assert!(audit.contains(action), "{action} missing from:\n{audit}");
    }
}

#[tokio::test]
async fn restart_keeps_containers_and_restores_routes() {
    let mut club = Club::new();
    club.start();
    let slug = slug("restart");
    club.deploy(&slug, &two_service_stack());
    let ids_before = docker_text(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=clubhost.project={slug}"),
    ]);
    assert_eq!(ids_before.lines().count(), 2);

    club.stop();
    assert!(
        http()
            .get(club.url(&format!("/{slug}/")))
            .send()
            .await
            .is_err(),
        "server is down"
    );
    club.start();

    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", club.log());
    let ids_after = docker_text(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=clubhost.project={slug}"),
    ]);
    assert_eq!(ids_before, ids_after, "containers were recreated");
}

#[tokio::test]
async fn restart_redeploys_a_project_whose_containers_vanished() {
    let mut club = Club::new();
    let slug = slug("vanish");
    club.deploy(&slug, &two_service_stack());
    for c in containers_of(&slug) {
        docker(&["rm", "-f", &c]);
    }
    club.start();
    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", club.log());
    assert_eq!(containers_of(&slug).len(), 2);
}

#[tokio::test]
async fn bad_stack_is_refused_naming_the_field_and_creates_nothing() {
    let mut club = Club::new();
    club.start();
    let slug = slug("bad");
    club.slugs.push(slug.clone());
    club.ok(&["user", "add", "ana"]);
    let stack = format!("services:\n  web:\n    image: {IMAGE}\n    depends_on: [database]\n");
    let path = club.write_stack("bad.yml", &stack);
    let out = club.try_submit(&slug, &path);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4, column 18: services.web.depends_on") && err.contains("database"),
        "{err}"
    );

    let stack = format!("services:\n  web:\n    image: {IMAGE}\n    privileged: true\n");
    let path = club.write_stack("bad2.yml", &stack);
    let out = club.try_submit(&slug, &path);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("privileged") && err.contains("line 4"),
        "{err}"
    );

    assert!(containers_of(&slug).is_empty());
    assert!(networks_of(&slug).is_empty());
    assert!(volumes_of(&slug).is_empty());
    let list = club.ok(&["project", "list", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&list).unwrap(),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn failed_deploy_cleans_up_and_records_why() {
    let mut club = Club::new();
    club.start();
    let slug = slug("crash");
    club.slugs.push(slug.clone());
    club.ok(&["user", "add", "ana"]);
    // The web service exits at once: the deploy must fail and take the db down with it.
    let stack = two_service_stack().replace("exec httpd -f -p 8000 -h /www", "echo boom; exit 3");
    let path = club.write_stack("crash.yml", &stack);
    club.submit(&slug, &path);
    let out = club.cli(&["project", "approve", &slug]);
    assert!(
        !out.status.success(),
        "approve of a crashing stack must fail"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("failed") && text.contains("exited with code 3") && text.contains("boom"),
        "{text}"
    );

    assert!(
        containers_of(&slug).is_empty(),
        "{:?}",
        containers_of(&slug)
    );
    assert!(networks_of(&slug).is_empty());
    assert!(volumes_of(&slug).is_empty());
    let show: serde_json::Value =
        serde_json::from_str(&club.ok(&["project", "show", &slug, "--json"])).unwrap();
    assert_eq!(show["project"]["state"], "failed");
    assert_eq!(show["deployments"][0]["state"], "failed");

    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
}

#[tokio::test]
async fn root_project_serves_slash_beside_prefixed_ones() {
    let mut club = Club::new();
    club.start();
    let root = slug("home");
    let other = slug("wiki");
    club.slugs.push(root.clone());
    club.ok(&["user", "add", "ana"]);
    let path = club.write_stack("root.yml", &two_service_stack());
    club.ok(&[
        "project",
        "submit",
        "--owner",
        "ana",
        "--slug",
        &root,
        "--root",
        "--stack",
        path.to_str().unwrap(),
    ]);
    club.ok(&["project", "approve", &root]);
    club.deploy(&other, &two_service_stack());

    let client = http();
    let home = client.get(club.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let wiki = client
        .get(club.url(&format!("/{other}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(wiki.status(), 200);
    assert_ne!(
        home.text().await.unwrap(),
        wiki.text().await.unwrap(),
        "different containers answer"
    );
    // Unknown paths go to the root project, not a 404.
    assert_eq!(
        client
            .get(club.url("/index.html"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn docker_api_version_is_negotiated() {
    let server_api = docker_text(&["version", "--format", "{{.Server.APIVersion}}"]);
    let engine = clubhost_docker::Engine::connect(None, "test")
        .await
        .unwrap();
    let (_, negotiated) = engine.version().await.unwrap();
    let as_num = |v: &str| -> (u32, u32) {
        let (a, b) = v.split_once('.').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    assert!(
        as_num(&negotiated) <= as_num(&server_api),
        "{negotiated} > {server_api}"
    );
}
