//! Swarm mode (issue 17, docs/scale-out.md) on a single-node swarm the test creates when the
//! engine is in none, and leaves again (with the `docker_gwbridge` network swarm made) whatever
//! happens: a two-service stack whose back end stays off the gateway, its exposed service's two
//! replicas both answering through the proxy (told apart by their page, so nothing else on the
//! network can pass for them), and a delete removing services and networks.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::*;

const SWARM_GATEWAY: &str = "clubhost-test-swarm-gw";

/// Inits a single-node swarm if the engine is in none; leaves it on drop only if it made it.
struct SwarmGuard {
    created: bool,
}

impl SwarmGuard {
    fn new() -> SwarmGuard {
        let state = docker_text(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        if state == "active" {
            return SwarmGuard { created: false };
        }
        let out = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(
            out.status.success(),
            "docker swarm init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SwarmGuard { created: true }
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        if self.created {
            docker(&["swarm", "leave", "--force"]);
            docker(&["network", "rm", "docker_gwbridge"]);
        }
    }
}

/// What the test's club made outside its projects: its services (should a delete not have
/// run), the anchor container and the gateway overlay.
struct SwarmObjects {
    slug: String,
}

impl Drop for SwarmObjects {
    fn drop(&mut self) {
        for s in services_of(&self.slug) {
            docker(&["service", "rm", &s]);
        }
        let on_gateway = format!("network={SWARM_GATEWAY}");
        let anchors = docker_text(&[
            "ps",
            "-aq",
            "--filter",
            "label=clubhost.role=anchor",
            "--filter",
            &on_gateway,
        ]);
        for id in anchors.lines() {
            docker(&["rm", "-f", id]);
        }
        // Task containers linger a moment after their service goes.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !networks_of(&self.slug).is_empty() && Instant::now() < deadline {
            for n in networks_of(&self.slug) {
                docker(&["network", "rm", &n]);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        while docker(&["network", "rm", SWARM_GATEWAY]).status.success() {}
    }
}

fn services_of(slug: &str) -> Vec<String> {
    let filter = format!("label=clubhost.project={slug}");
    let text = docker_text(&[
        "service",
        "ls",
        "--filter",
        &filter,
        "--format",
        "{{.Name}}",
    ]);
    let mut names: Vec<String> = text.lines().map(str::to_string).collect();
    names.sort();
    names
}

/// Two replicas of a page naming the task it runs in, and a back end on its own network.
fn replicated_stack() -> String {
    format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo \"swarm replica $(hostname)\" > /www/index.html && exec httpd -f -p 8000 -h /www"]
    networks: [default, back]
    deploy:
      replicas: 2
  db:
    image: {IMAGE}
    command: ["sh", "-c", "exec nc -ll -p 3306 -e echo hello db"]
    networks: [back]
networks:
  back:
x-clubhost:
  expose: web
  port: 8000
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replicated_stack_answers_from_both_tasks_through_the_proxy_and_delete_removes_it() {
    let _swarm = SwarmGuard::new();
    let slug = slug("swarm");
    let _objects = SwarmObjects { slug: slug.clone() };
    let mut club = Club::new();
    let mut config = std::fs::read_to_string(&club.config).unwrap();
    config = config.replace(
        &format!("gateway_network = \"{GATEWAY}\""),
        &format!(
            "gateway_network = \"{SWARM_GATEWAY}\"\nmode = \"swarm\"\nanchor_image = \"{IMAGE}\"\n\
             subnet_pool = \"10.214.0.0/16\"\ngateway_subnet = \"10.214.0.0/22\""
        ),
    );
    config.push_str("\n[limits]\nmax_replicas = 2\n");
    std::fs::write(&club.config, config).unwrap();
    club.start();
    club.deploy(&slug, &replicated_stack());

    // Every service is a Swarm service with clubhost's labels and dnsrr; two web tasks.
    let services = services_of(&slug);
    assert_eq!(services.len(), 2, "{services:?}\n{}", club.log());
    let web = services.iter().find(|s| s.contains("-web-")).unwrap();
    let db = services.iter().find(|s| s.contains("-db-")).unwrap();
    let inspect =
        |name: &str, format: &str| docker_text(&["service", "inspect", "-f", format, name]);
    assert_eq!(inspect(web, "{{.Spec.EndpointSpec.Mode}}"), "dnsrr");
    assert_eq!(inspect(web, "{{.Spec.Mode.Replicated.Replicas}}"), "2");
    assert_eq!(inspect(web, "{{.Spec.UpdateConfig.Order}}"), "start-first");
    assert_eq!(
        inspect(web, "{{.Spec.UpdateConfig.FailureAction}}"),
        "rollback"
    );
    assert_eq!(
        inspect(web, "{{index .Spec.Labels \"clubhost.project\"}}"),
        slug
    );
    assert_eq!(
        inspect(web, "{{index .Spec.Labels \"clubhost.managed\"}}"),
        "true"
    );
    // Limits reach the service as resources (the club's default 256m).
    assert_eq!(
        inspect(db, "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}"),
        (256u64 << 20).to_string()
    );

    // The back end is on internal overlays only, never the gateway.
    let network_ids = |name: &str| {
        inspect(
            name,
            "{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}",
        )
        .split_whitespace()
        .map(|id| {
            docker_text(&[
                "network",
                "inspect",
                "-f",
                "{{.Name}} {{.Driver}} {{.Internal}}",
                id,
            ])
        })
        .collect::<Vec<_>>()
    };
    let db_nets = network_ids(db);
    assert_eq!(db_nets, [format!("clubhost-{slug}_back overlay true")]);
    let web_nets = network_ids(web);
    assert!(
        web_nets.contains(&format!("{SWARM_GATEWAY} overlay false")),
        "{web_nets:?}"
    );
    assert!(
        web_nets.contains(&format!("clubhost-{slug} overlay true")),
        "{web_nets:?}"
    );

    // Both replicas answer through the proxy, each with its own page.
    let client = http();
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let res = client
            .get(club.url(&format!("/{slug}/")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", club.log());
        let body = res.text().await.unwrap();
        assert!(body.starts_with("swarm replica "), "{body:?}");
        seen.insert(body.trim().to_string());
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "one replica never answered: {seen:?}");

    // Delete: services and networks gone.
    club.ok(&["project", "delete", &slug]);
    assert!(services_of(&slug).is_empty(), "{:?}", services_of(&slug));
    assert!(networks_of(&slug).is_empty(), "{:?}", networks_of(&slug));
    let res = client
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
