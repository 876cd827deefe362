//! Stacks as members write them, deployed on the real engine: the club's own WordPress file,
//! project variables (secret ones masked), resource limits on the containers, and the
//! `clubhost stack check` / `stack templates` commands.

use crate::common::*;

/// No registry is reachable here, so the seed file's `mysql:5.7` and `wordpress/wordpress` are
/// played by stand-ins committed from the busybox test image, each with a command that plays its
/// part (a TCP listener on 3306, a web server on 80). They go under names this suite owns and the
/// file is deployed with its two `image:` lines pointed at them: tagging the public names would
/// leave a club that runs the tests with a fake `mysql:5.7`, which clubhost (never pulling an
/// image that is present) would then deploy as the real one. Removed again when dropped.
struct StandIns(Vec<String>);

impl StandIns {
    fn make() -> StandIns {
        let pid = std::process::id();
        let parts = [
            (
                "mysql",
                r#"CMD ["nc", "-ll", "-p", "3306", "-e", "echo", "hello", "db"]"#,
            ),
            (
                "wordpress",
                r#"CMD ["sh", "-c", "mkdir -p /www && echo stand-in wordpress > /www/index.html && exec httpd -f -p 80 -h /www"]"#,
            ),
        ];
        let mut made = StandIns(Vec::new());
        for (part, cmd) in parts {
            let tag = format!("clubhost-test-standin-{part}:{pid}");
            let tmp = format!("clubhost-standin-{part}-{pid}");
            assert!(
                docker(&["create", "--name", &tmp, IMAGE, "true"])
                    .status
                    .success()
            );
            let out = docker(&["commit", "--change", cmd, &tmp, &tag]);
            docker(&["rm", "-f", &tmp]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            made.0.push(tag);
        }
        made
    }

    /// The seed file with its images replaced by the stand-ins, and nothing else changed.
    fn seed_file(&self) -> String {
        let seed = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/compose/seed-wordpress.yml"
        ))
        .unwrap();
        let rewritten = seed
            .replace("image: mysql:5.7", &format!("image: {}", self.0[0]))
            .replace(
                "image: wordpress/wordpress",
                &format!("image: {}", self.0[1]),
            );
        assert_eq!(
            rewritten.matches("clubhost-test-standin-").count(),
            2,
            "the seed file's image lines changed:\n{seed}"
        );
        rewritten
    }
}

impl Drop for StandIns {
    fn drop(&mut self) {
        for tag in &self.0 {
            docker(&["image", "rm", tag]);
        }
    }
}

#[tokio::test]
async fn the_seed_wordpress_file_deploys_as_it_is() {
    let stand_ins = StandIns::make();
    let mut club = Club::new();
    club.start();
    let slug = slug("seedwp");
    let out = club.deploy(&slug, &stand_ins.seed_file());
    assert!(out.contains("running"), "{out}\n{}", club.log());

    let body = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.trim(), "stand-in wordpress");

    let containers = containers_of(&slug);
    let db = containers.iter().find(|c| c.contains("-db-")).unwrap();
    let wp = containers
        .iter()
        .find(|c| c.contains("-wordpress-"))
        .unwrap();
    // container_name is ignored: clubhost names the containers.
    assert!(!containers.iter().any(|c| c.starts_with("Page_")));
    let nets = |c: &str| {
        let mut n: Vec<String> = docker_text(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            c,
        ])
        .split_whitespace()
        .map(str::to_string)
        .collect();
        n.sort();
        n
    };
    // `back-end` becomes one of the project's internal networks; the database is only on it.
    let back_end = format!("clubhost-{slug}_back-end");
    assert_eq!(nets(db), vec![back_end.clone()]);
    assert_eq!(
        docker_text(&["network", "inspect", "-f", "{{.Internal}}", &back_end]),
        "true"
    );
    let mut expected = vec![GATEWAY.to_string(), back_end];
    expected.sort();
    assert_eq!(nets(wp), expected);
    // WordPress reaches the database by its service name, as WORDPRESS_DB_HOST says.
    let out = docker(&["exec", wp, "sh", "-c", "echo | nc db 3306"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello db");

    // Every container has the default limits and no-new-privileges.
    for c in [db, wp] {
        let inspect = docker_text(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.SecurityOpt}} {{.HostConfig.RestartPolicy.Name}}",
            c,
        ]);
        assert_eq!(
            inspect,
            format!(
                "{} 500000000 256 [no-new-privileges:true] always",
                256 * 1024 * 1024
            ),
            "{c}"
        );
    }

    // Deleting the project removes its declared networks too.
    club.ok(&["project", "delete", &slug]);
    assert!(networks_of(&slug).is_empty(), "{:?}", networks_of(&slug));
}

#[tokio::test]
async fn variables_fill_the_stack_and_secrets_are_never_shown() {
    let mut club = Club::new();
    let slug = slug("vars");
    club.slugs.push(slug.clone());
    club.ok(&["user", "add", "ana"]);
    let stack = club.write_stack(
        "vars.yml",
        r#"
services:
  app:
    image: ${APP_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p ${PORT:-8000} -h /www"]
    environment:
      DB_PASSWORD: ${DB_PASSWORD:?set the database password}
      SITE: ${CLUBHOST_URL}
    mem_limit: 64m
    pids_limit: 50
    read_only: true
    tmpfs: ["/www:uid=1000"]
    user: "1000"
    labels:
      club.owner: ana
    expose: ["${PORT:-8000}"]
"#,
    );
    let stack = stack.to_str().unwrap();
    // Without the required secret the submission is refused, naming the variable and line.
    let out = club.cli(&[
        "project",
        "submit",
        "--owner",
        "ana",
        "--slug",
        &slug,
        "--stack",
        stack,
        "--var",
        &format!("APP_IMAGE={IMAGE}"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DB_PASSWORD") && err.contains("line 7"),
        "{err}"
    );

    club.ok(&[
        "project",
        "submit",
        "--owner",
        "ana",
        "--slug",
        &slug,
        "--stack",
        stack,
        "--var",
        &format!("APP_IMAGE={IMAGE}"),
        "--secret",
        "DB_PASSWORD=pa55-w0rd-x",
    ]);
    let shown =
        club.ok(&["project", "show", &slug]) + &club.ok(&["project", "show", &slug, "--json"]);
    assert!(
        shown.contains("DB_PASSWORD") && !shown.contains("pa55-w0rd-x"),
        "{shown}"
    );
    assert!(shown.contains(&format!("APP_IMAGE={IMAGE}")), "{shown}");

    let out = club.ok(&["project", "approve", &slug]);
    assert!(out.contains("running"), "{out}");
    let app = containers_of(&slug).pop().unwrap();
    let env = docker_text(&["inspect", "-f", "{{json .Config.Env}}", &app]);
    assert!(env.contains("DB_PASSWORD=pa55-w0rd-x"), "{env}");
    assert!(
        env.contains(&format!("SITE=http://club.example/{slug}")),
        "{env}"
    );
    let inspect = docker_text(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}} {{.Config.User}} {{index .Config.Labels \"club.owner\"}} {{index .Config.Labels \"clubhost.project\"}}",
        &app,
    ]);
    assert_eq!(
        inspect,
        format!("{} 50 true 1000 ana {slug}", 64 * 1024 * 1024)
    );
    // Changing variables: a change that breaks the stack is refused and nothing is stored;
    // a good one is used by the next deploy.
    let out = club.cli(&[
        "project",
        "vars",
        &slug,
        "--var",
        &format!("APP_IMAGE={IMAGE}"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DB_PASSWORD"));
    let out = club.ok(&[
        "project",
        "vars",
        &slug,
        "--var",
        &format!("APP_IMAGE={IMAGE}"),
        "--secret",
        "DB_PASSWORD=n3w-pa55-y",
    ]);
    assert!(
        out.contains("DB_PASSWORD=********") && !out.contains("n3w-pa55-y"),
        "{out}"
    );
    club.ok(&["project", "redeploy", &slug]);
    let app = containers_of(&slug).pop().unwrap();
    let env = docker_text(&["inspect", "-f", "{{json .Config.Env}}", &app]);
    assert!(env.contains("DB_PASSWORD=n3w-pa55-y"), "{env}");

    // Nothing in the audit log or the server's answers carries the secrets.
    let audit = club.ok(&["audit", "--json"]);
    assert!(audit.contains("project.variables"), "{audit}");
    assert!(!audit.contains("pa55-w0rd-x") && !audit.contains("n3w-pa55-y"));
}

#[test]
fn stack_check_prints_the_stack_or_every_violation_with_line_and_column() {
    let club = Club::new();
    let good = club.write_stack(
        "good.yml",
        "services:\n  web:\n    image: nginx\n    environment:\n      PW: ${PW}\n    mem_limit: 4g\n",
    );
    let out = club.cli(&[
        "stack",
        "check",
        good.to_str().unwrap(),
        "--secret",
        "PW=topsecret1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("exposed: web on port 80"), "{text}");
    assert!(text.contains("memory 1024 MiB"), "capped: {text}");
    assert!(
        text.contains("env PW=********") && !text.contains("topsecret1"),
        "{text}"
    );

    let bad = club.write_stack(
        "bad.yml",
        "services:\n  web:\n    image: nginx\n    privileged: true\n    ports: [\"80:80\"]\n    volumes:\n      - /:/host\n",
    );
    let out = club.cli(&["stack", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad.yml:4:5: refused by policy: services.web.privileged"),
        "{text}"
    );
    // `ports:` is read, never published: a warning, not a problem.
    assert!(
        text.contains(":5:5: warning: services.web.ports") && text.contains("host side is ignored"),
        "{text}"
    );
    assert!(
        text.contains(":7:9: refused by policy") && text.contains("host path"),
        "{text}"
    );
    assert!(text.contains("2 problem(s)"), "{text}");

    let out = club.ok(&["stack", "templates"]);
    for name in ["wordpress", "static-site", "devbox", "web-app"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(
        !out.contains("change-me-please"),
        "secret defaults are masked: {out}"
    );
}

#[tokio::test]
async fn the_static_site_template_deploys_with_its_defaults() {
    let mut club = Club::new();
    club.start();
    let slug = slug("tmplsite");
    let t = clubhost_stack::templates::get("static-site").unwrap();
    let out = club.deploy(&slug, t.compose);
    assert!(out.contains("running"), "{out}\n{}", club.log());
    let body = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.trim(), "<h1>My portfolio</h1>");
}

/// `depends_on` long form: a one-shot service that must complete, a database that must be
/// healthy; then the same with a one-shot that fails, which fails the deploy with its exit code.
#[tokio::test]
async fn depends_on_conditions_are_waited_for() {
    let stack = |init_exit: u8| {
        format!(
            r#"
services:
  init:
    image: {IMAGE}
    command: ["sh", "-c", "echo migrating; exit {init_exit}"]
  db:
    image: {IMAGE}
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  app:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo app > /www/index.html && exec httpd -f -p 80 -h /www"]
    depends_on:
      init:
        condition: service_completed_successfully
      db:
        condition: service_healthy
x-clubhost:
  expose: app
"#
        )
    };
    let mut club = Club::new();
    let good = slug("conds");
    let out = club.deploy(&good, &stack(0));
    assert!(out.contains("running"), "{out}");
    let init = containers_of(&good)
        .into_iter()
        .find(|c| c.contains("-init-"))
        .unwrap();
    assert_eq!(
        docker_text(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &init
        ]),
        "exited 0"
    );
    let db = containers_of(&good)
        .into_iter()
        .find(|c| c.contains("-db-"))
        .unwrap();
    assert_eq!(
        docker_text(&["inspect", "-f", "{{.State.Health.Status}}", &db]),
        "healthy"
    );

    let bad = slug("condsbad");
    club.slugs.push(bad.clone());
    let path = club.write_stack("bad.yml", &stack(3));
    club.submit(&bad, &path);
    let out = club.cli(&["project", "approve", &bad]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("service init: exited with code 3"), "{text}");
    assert!(
        containers_of(&bad).is_empty(),
        "a failed deploy leaves nothing"
    );
}

/// Declared networks separate services as in Compose: `web` is on `front` and `back`, `db` only
/// on `back`, `cache` only on `front`. `web` reaches both by name; `cache` cannot resolve `db`.
#[test]
fn declared_networks_separate_services() {
    let mut club = Club::new();
    let slug = slug("netsep");
    let listen = |port: u16| {
        format!(
            r#"["sh", "-c", "mkdir -p /www && echo $(hostname) > /www/index.html && exec httpd -f -p {port} -h /www"]"#
        )
    };
    let stack = format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: {web}
    networks: [front, back]
  db:
    image: {IMAGE}
    command: {db}
    networks: [back]
  cache:
    image: {IMAGE}
    command: {cache}
    networks: [front]
networks:
  front: {{}}
  back: {{}}
x-clubhost:
  expose: web
"#,
        web = listen(80),
        db = listen(5432),
        cache = listen(6379),
    );
    let out = club.deploy(&slug, &stack);
    assert!(out.contains("running"), "{out}");
    let find = |s: &str| {
        containers_of(&slug)
            .into_iter()
            .find(|c| c.contains(&format!("-{s}-")))
            .unwrap()
    };
    let (web, cache) = (find("web"), find("cache"));
    // busybox nc speaks just enough HTTP; a name that does not resolve fails with "bad address".
    let fetch = |from: &str, host: &str, port: u16| {
        let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc {host} {port}");
        let out = docker(&["exec", from, "sh", "-c", &script]);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (text.contains("200 OK"), text)
    };
    let r = fetch(&web, "db", 5432);
    assert!(r.0, "web reaches db on back: {r:?}");
    assert!(fetch(&web, "cache", 6379).0, "web reaches cache on front");
    assert!(fetch(&cache, "web", 80).0, "cache reaches web on front");
    let r = fetch(&cache, "db", 5432);
    assert!(
        !r.0 && r.1.contains("bad address"),
        "cache must not reach db: {r:?}"
    );
}

/// The small keys real files carry reach the containers: host and domain name, capped logging,
/// ulimits, shared memory, `init: false` and a `nocopy` volume; a service that says nothing
/// keeps docker-init and the engine's defaults.
#[test]
fn small_service_keys_reach_the_containers() {
    let mut club = Club::new();
    let slug = slug("smallkeys");
    let stack = format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www"]
    hostname: box
    domainname: club.internal
    init: false
    shm_size: 32m
    ulimits:
      nofile: {{soft: 1024, hard: 2048}}
      nproc: 512
    logging:
      driver: json-file
      options: {{max-size: 1m, max-file: "2"}}
    volumes: ["data:/data:nocopy"]
  db:
    image: {IMAGE}
    command: nc -ll -p 3306 -e echo hello db
volumes:
  data:
x-clubhost: {{expose: web, port: 8000}}
"#
    );
    let out = club.deploy(&slug, &stack);
    assert!(out.contains("running"), "{out}");
    let find = |s: &str| {
        containers_of(&slug)
            .into_iter()
            .find(|c| c.contains(&format!("-{s}-")))
            .unwrap()
    };
    let (web, db) = (find("web"), find("db"));
    let inspect = |c: &str, format: &str| docker_text(&["inspect", "-f", format, c]);

    assert_eq!(
        inspect(&web, "{{.Config.Hostname}} {{.Config.Domainname}}"),
        "box club.internal"
    );
    assert_eq!(
        inspect(
            &web,
            r#"{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}}"#
        ),
        format!("json-file {} 2", 1 << 20)
    );
    let mut ulimits: Vec<String> = inspect(
        &web,
        "{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}} {{end}}",
    )
    .split_whitespace()
    .map(str::to_string)
    .collect();
    ulimits.sort();
    assert_eq!(ulimits, ["nofile=1024:2048", "nproc=512:512"]);
    assert_eq!(
        inspect(&web, "{{.HostConfig.ShmSize}}"),
        (32 << 20).to_string()
    );
    assert_eq!(
        inspect(
            &web,
            "{{(index .HostConfig.Mounts 0).VolumeOptions.NoCopy}}"
        ),
        "true"
    );
    assert_eq!(inspect(&web, "{{.HostConfig.Init}}"), "false");
    assert_eq!(inspect(&db, "{{.HostConfig.Init}}"), "true");

    // And inside: the limits and names are what the processes see.
    let exec = |c: &str, script: &str| {
        let out = docker(&["exec", c, "sh", "-c", script]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(exec(&web, "hostname"), "box");
    assert_eq!(exec(&web, "ulimit -n; ulimit -Hn"), "1024\n2048");
    let mounts = exec(&web, "cat /proc/mounts");
    let shm = mounts.lines().find(|l| l.contains(" /dev/shm ")).unwrap();
    assert!(shm.contains("size=32768k"), "{shm}");
    // Without init the service's own process is PID 1; with it, docker-init is.
    assert!(
        exec(&web, "cat /proc/1/cmdline").starts_with("httpd"),
        "web's PID 1 must be httpd"
    );
    assert!(
        exec(&db, "cat /proc/1/cmdline").contains("docker-init"),
        "db keeps docker-init"
    );
    // The db, which asked for nothing, has the engine's defaults.
    assert_eq!(
        inspect(
            &db,
            "{{.Config.Hostname}} {{.HostConfig.ShmSize}} {{len .HostConfig.Ulimits}}"
        ),
        format!("{} {} 0", &inspect(&db, "{{.Id}}")[..12], 64 << 20)
    );

    club.ok(&["project", "delete", &slug]);
    assert!(containers_of(&slug).is_empty());
}
