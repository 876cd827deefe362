//! What a deploy learns from the engine's images: `depends_on: service_healthy` on a service whose
//! healthcheck comes from its image, and `platform:` honoured when the engine has that variant
//! and a clear error when it cannot have it.

use crate::common::*;

/// The test image with a `HEALTHCHECK` of its own (committed locally; nothing is pulled).
const HEALTHY_IMAGE: &str = "clubhost-test-busybox-healthy:latest";

fn ensure_healthy_image() {
    ensure_image();
    let probe = "{{json .Config.Healthcheck.Test}}";
    if docker_text(&["image", "inspect", "-f", probe, HEALTHY_IMAGE]).contains("true") {
        return;
    }
    let tmp = format!("clubhost-healthy-{}", std::process::id());
    assert!(
        docker(&["create", "--name", &tmp, IMAGE, "true"])
            .status
            .success()
    );
    let out = docker(&[
        "commit",
        "--change",
        "HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD true",
        &tmp,
        HEALTHY_IMAGE,
    ]);
    docker(&["rm", "-f", &tmp]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `web` waits for `db` to be healthy; `db`'s file entry has no healthcheck (only timings when
/// `timings` is set), so its image's decides.
fn stack(db_image: &str, timings: bool) -> String {
    let healthcheck = if timings {
        "\n    healthcheck:\n      interval: 2s\n      retries: 5"
    } else {
        ""
    };
    format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    depends_on:
      db: {{condition: service_healthy}}
  db:
    image: {db_image}
    command: nc -ll -p 3306 -e echo hello db{healthcheck}
x-clubhost: {{expose: web, port: 80}}
"#
    )
}

fn approve_text(club: &mut Club, slug: &str, stack: &str) -> String {
    club.slugs.push(slug.to_string());
    let _ = club.cli(&["user", "add", "ana"]);
    let path = club.write_stack(&format!("{slug}.yml"), stack);
    club.submit(slug, &path);
    let out = club.cli(&["project", "approve", slug]);
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn service_healthy_waits_on_the_images_own_healthcheck() {
    ensure_healthy_image();
    let mut club = Club::new();
    for (base, timings) in [("imghealth", false), ("imgtimings", true)] {
        let slug = slug(base);
        let out = club.deploy(&slug, &stack(HEALTHY_IMAGE, timings));
        assert!(out.contains("running"), "{out}");
        let db = containers_of(&slug)
            .into_iter()
            .find(|c| c.contains("-db-"))
            .unwrap();
        // The container inherited the image's test (with the file's timings, when it gave some).
        let health = docker_text(&[
            "inspect",
            "-f",
            "{{.State.Health.Status}} {{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}",
            &db,
        ]);
        let interval = if timings { "2s" } else { "1s" };
        assert_eq!(
            health,
            format!(r#"healthy ["CMD-SHELL","true"] {interval}"#),
            "{base}"
        );
        club.ok(&["project", "delete", &slug]);
    }
}

#[test]
fn service_healthy_on_an_image_without_healthcheck_fails_naming_the_service() {
    let mut club = Club::new();
    let slug = slug("nohealth");
    let text = approve_text(&mut club, &slug, &stack(IMAGE, false));
    assert!(
        text.contains("service db:")
            && text.contains("service_healthy")
            && text.contains("neither the file nor its image"),
        "{text}"
    );
    assert!(containers_of(&slug).is_empty(), "nothing was created");
}

#[test]
fn platform_is_honoured_when_the_engine_has_it_and_refused_clearly_otherwise() {
    let mut club = Club::new();
    let arch = docker_text(&["version", "-f", "{{.Server.Arch}}"]);
    let with_platform = |platform: &str| {
        format!(
            r#"
services:
  web:
    image: {IMAGE}
    platform: {platform}
    pull_policy: never
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
"#
        )
    };
    let slug_ok = slug("platok");
    let out = club.deploy(&slug_ok, &with_platform(&format!("linux/{arch}")));
    assert!(out.contains("running"), "{out}");

    let other = if arch == "s390x" { "riscv64" } else { "s390x" };
    let slug_bad = slug("platbad");
    let text = approve_text(
        &mut club,
        &slug_bad,
        &with_platform(&format!("linux/{other}")),
    );
    assert!(
        text.contains("service web:")
            && text.contains(&format!("not for platform linux/{other}"))
            && text.contains(&format!("linux/{arch}")),
        "{text}"
    );
    assert!(containers_of(&slug_bad).is_empty());

    // pull_policy: never on an image the engine lacks says so, naming the service.
    let slug_never = slug("pullnever");
    let missing = format!(
        "services:\n  web:\n    image: clubhost-test-absent-{}:1\n    pull_policy: never\n",
        std::process::id()
    );
    let text = approve_text(&mut club, &slug_never, &missing);
    assert!(
        text.contains("service web:") && text.contains("pull_policy is never"),
        "{text}"
    );
}
