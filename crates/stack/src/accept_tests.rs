//! Issue 14: harmless constructs real compose files use are accepted, each with the warning or
//! note that says what clubhost does with it.

use super::*;
use std::time::Duration;

fn report(src: &str) -> Report {
    check(src, &Vars::new(), &Limits::default())
}

/// The stack of a file that must load, and its warnings.
#[track_caller]
fn accepted(src: &str) -> (Stack, Vec<Violation>) {
    let r = report(src);
    assert!(r.violations.is_empty(), "{:#?}\nin:\n{src}", r.violations);
    (r.stack.unwrap(), r.warnings)
}

#[track_caller]
fn warned(warnings: &[Violation], words: &str) -> Violation {
    warnings
        .iter()
        .find(|w| w.message.contains(words))
        .unwrap_or_else(|| panic!("no warning mentions {words:?}: {warnings:#?}"))
        .clone()
}

fn exposed(stack: &Stack) -> (&str, u16) {
    (stack.expose.service.as_str(), stack.expose.port)
}

#[test]
fn ports_are_read_never_published_and_pick_the_exposed_service() {
    let (s, w) = accepted(
        "services:\n  db:\n    image: mysql\n  pma:\n    image: phpmyadmin\n    ports:\n      - \"8081:80\"\n",
    );
    assert_eq!(exposed(&s), ("pma", 80));
    let v = warned(&w, "club's address");
    assert_eq!((v.line, v.path.as_str()), (6, "services.pma.ports"));
    assert_eq!(
        s.service("pma").unwrap().ports,
        [ContainerPort {
            port: 80,
            protocol: "tcp".into(),
            also_udp: false,
        }]
    );

    // One service, an HTTP port and SSH: the HTTP one.
    let (s, _) = accepted(
        "services:\n  gitea:\n    image: gitea/gitea\n    ports: [\"222:22\", \"3000:3000\"]\n",
    );
    assert_eq!(exposed(&s), ("gitea", 3000));

    // Long syntax, with the host side dropped.
    let (s, _) = accepted(
        "services:\n  web:\n    image: x\n    ports:\n      - target: 8000\n        published: \"80\"\n        host_ip: 0.0.0.0\n        protocol: tcp\n        mode: host\n",
    );
    assert_eq!(exposed(&s), ("web", 8000));
}

#[test]
fn several_publishing_services_prefer_the_web_port_and_say_how_to_pin() {
    let (s, w) = accepted(
        "services:\n  db:\n    image: postgres\n    ports: [\"5432:5432\"]\n  app:\n    image: x\n    ports: [\"8080:8080\"]\n  mail:\n    image: y\n    ports: [\"25:25\"]\n",
    );
    assert_eq!(exposed(&s), ("app", 8080));
    let v = warned(&w, "several services publish ports (db, app, mail)");
    assert!(
        v.message
            .contains("x-clubhost: { expose: app, port: 8080 }"),
        "{v}"
    );
    // x-clubhost still wins over any guess, and the guess warning disappears.
    let (s, w) = accepted(
        "services:\n  db:\n    image: postgres\n    ports: [\"5432:5432\"]\n  app:\n    image: x\n    ports: [\"8080:8080\"]\nx-clubhost: {expose: db, port: 5432}\n",
    );
    assert_eq!(exposed(&s), ("db", 5432));
    assert!(!w.iter().any(|w| w.message.contains("several")), "{w:#?}");
}

#[test]
fn non_http_ports_and_no_evidence_are_warned_about() {
    let (s, w) = accepted(
        "services:\n  mc:\n    image: itzg/minecraft-server\n    ports: [\"25565:25565\"]\n",
    );
    assert_eq!(exposed(&s), ("mc", 25565));
    warned(&w, "only HTTP is reachable");
    let (s, w) = accepted("services:\n  dns:\n    image: x\n    ports: [\"53:53/udp\"]\n");
    assert_eq!(exposed(&s), ("dns", 53));
    warned(&w, "only HTTP is reachable");
    let (s, w) = accepted("services:\n  site:\n    image: nginx\n");
    assert_eq!(exposed(&s), ("site", 80));
    let v = warned(&w, "port 80");
    assert_eq!(v.line, 2);
    // Evidence from `expose:` needs no warning.
    let (_, w) = accepted("services:\n  site:\n    image: x\n    expose: [3000]\n");
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn without_ports_the_front_service_is_chosen_with_a_warning() {
    let (s, w) = accepted(
        "services:\n  app:\n    image: x\n    depends_on: [db, cache]\n  db:\n    image: postgres\n  cache:\n    image: redis\n",
    );
    assert_eq!(exposed(&s), ("app", 80));
    warned(&w, "no other service depends on");
    // Two fronts: still ambiguous, and the message says what to write.
    let v = report("services:\n  a:\n    image: x\n  b:\n    image: y\n").violations;
    assert!(v[0].message.contains("x-clubhost"), "{v:#?}");
}

#[test]
fn a_bad_port_is_named() {
    let v = report("services:\n  web:\n    image: x\n    ports: [\"80:http\"]\n").violations;
    assert_eq!(
        (v[0].line, v[0].path.as_str()),
        (4, "services.web.ports[0]")
    );
    assert!(v[0].message.contains("8080:80"), "{v:#?}");
}

#[test]
fn anonymous_volumes_become_project_volumes() {
    let (s, w) = accepted(
        "services:\n  web:\n    image: x\n    volumes:\n      - /var/lib/x\n      - data:/data\nvolumes:\n  data:\n",
    );
    let web = s.service("web").unwrap();
    assert_eq!(web.mounts[0].volume, "web-var-lib-x");
    assert_eq!(web.mounts[0].target, "/var/lib/x");
    assert_eq!(s.volumes, ["data", "web-var-lib-x"]);
    let v = warned(&w, "anonymous volume \"/var/lib/x\"");
    assert_eq!(v.line, 5);
    // A name the file already uses is never reused for an anonymous volume.
    let (s, _) = accepted(
        "services:\n  web:\n    image: x\n    volumes: [/d, web-d:/e]\nvolumes:\n  web-d:\n",
    );
    assert_eq!(s.service("web").unwrap().mounts[0].volume, "web-d-2");
}

#[test]
fn an_unset_variable_as_volume_source_is_named() {
    let (s, w) = accepted(
        "services:\n  web:\n    image: x\n    volumes:\n      - ${UPLOAD_LOCATION}:/data\n",
    );
    warned(
        &w,
        "variable UPLOAD_LOCATION is not set, so \"/data\" would be an anonymous volume",
    );
    assert_eq!(s.service("web").unwrap().mounts[0].volume, "web-data");
}

#[test]
fn selinux_and_macos_hints_and_nocopy_are_accepted() {
    let (s, w) = accepted(
        "services:\n  web:\n    image: x\n    volumes:\n      - data:/a:z\n      - data:/b:ro,Z\n      - data:/c:nocopy\n      - data:/d:cached\n      - type: volume\n        source: data\n        target: /e\n        consistency: delegated\n        volume:\n          nocopy: true\nvolumes:\n  data:\n",
    );
    let m = &s.service("web").unwrap().mounts;
    assert_eq!(
        m.iter()
            .map(|m| (m.read_only, m.nocopy))
            .collect::<Vec<_>>(),
        [
            (false, false),
            (true, false),
            (false, true),
            (false, false),
            (false, true)
        ]
    );
    assert_eq!(
        w.iter().filter(|w| w.message.contains("SELinux")).count(),
        3
    );
    let v = report(
        "services:\n  web:\n    image: x\n    volumes: [\"data:/a:shared\"]\nvolumes:\n  data:\n",
    )
    .violations;
    assert!(v[0].message.contains("\"shared\""), "{v:#?}");
}

#[test]
fn volume_names_docker_refuses_are_mapped() {
    let (s, w) = accepted(
        "services:\n  web:\n    image: x\n    volumes: [\"My.Data:/d\", \"my-data:/e\"]\nvolumes:\n  My.Data:\n  my-data:\n    name: custom\n",
    );
    assert_eq!(s.volumes, ["my-data-2", "my-data"]);
    let m = &s.service("web").unwrap().mounts;
    assert_eq!(
        (m[0].volume.as_str(), m[1].volume.as_str()),
        ("my-data-2", "my-data")
    );
    warned(&w, "\"My.Data\" is created as \"my-data-2\"");
    warned(&w, "names volumes after the project");
}

#[test]
fn volumes_from_shares_a_services_volumes_and_nothing_else() {
    let (s, _) = accepted(
        "services:\n  app:\n    image: x\n    volumes: [code:/srv, /cache]\n  web:\n    image: nginx\n    volumes_from: [\"app:ro\"]\n    ports: [\"80:80\"]\n  side:\n    image: y\n    volumes_from: [web]\nvolumes:\n  code:\n",
    );
    let web = s.service("web").unwrap();
    assert_eq!(
        web.volumes_from,
        [VolumesFrom {
            service: "app".into(),
            read_only: true
        }]
    );
    let targets: Vec<_> = web
        .mounts
        .iter()
        .map(|m| (m.volume.as_str(), m.target.as_str(), m.read_only))
        .collect();
    assert_eq!(
        targets,
        [("code", "/srv", true), ("app-cache", "/cache", true)]
    );
    // Shared through web, transitively; and started after what it shares.
    assert_eq!(s.service("side").unwrap().mounts.len(), 2);
    let order: Vec<_> = s.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["app", "web", "side"]);

    for (from, words) in [
        ("container:other", "outside this project"),
        ("nope", "only another service"),
        ("web", "only another service"),
    ] {
        let v = report(&format!(
            "services:\n  web:\n    image: x\n    volumes_from: [\"{from}\"]\n"
        ))
        .violations;
        assert!(
            v[0].kind == ViolationKind::Policy && v[0].line == 4 && v[0].message.contains(words),
            "{from}: {v:#?}"
        );
    }
}

#[test]
fn host_path_refusals_fit_what_was_mounted() {
    let v = report("services:\n  web:\n    image: x\n    volumes: [\"/srv/site.conf:/etc/nginx/conf.d/site.conf:ro\"]\n").violations;
    assert!(
        v[0].message
            .contains("cannot deliver the file \"site.conf\""),
        "{v:#?}"
    );
    let v = report(
        "services:\n  web:\n    image: x\n    volumes: [\"/srv/pg:/var/lib/postgresql/data\"]\n",
    )
    .violations;
    assert!(
        v[0].message.contains("`data:/var/lib/postgresql/data`"),
        "{v:#?}"
    );
    let v = report(
        "services:\n  web:\n    image: x\n    volumes: [\"/etc/localtime:/etc/localtime:ro\"]\n",
    )
    .violations;
    assert!(v[0].message.contains("TZ"), "{v:#?}");
}

#[test]
fn small_keys_are_honoured_in_the_plain_data() {
    let (s, w) = accepted(
        r#"
name: my-project
services:
  web:
    image: x
    hostname: web1
    domainname: example.internal
    platform: linux/amd64
    shm_size: 2g
    init: false
    pull_policy: always
    stop_grace_period: 1m
    logging:
      driver: json-file
      options:
        max-size: 1g
        max-file: "2"
        tag: web
    ulimits:
      nofile:
        soft: 20000
        hard: 1000000
      nproc: 512
      memlock: -1
"#,
    );
    let web = s.service("web").unwrap();
    let l = Limits::default();
    assert_eq!(web.hostname.as_deref(), Some("web1"));
    assert_eq!(web.domainname.as_deref(), Some("example.internal"));
    assert_eq!(web.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(web.shm_size, Some(l.max_shm_size_bytes()));
    assert_eq!(web.init, Some(false));
    assert_eq!(web.pull_policy, Some(PullPolicy::Always));
    assert_eq!(
        web.logging,
        Some(Logging {
            driver: LogDriver::JsonFile,
            max_size_bytes: l.max_log_size_bytes(),
            max_files: 2
        })
    );
    let u: Vec<_> = web
        .ulimits
        .iter()
        .map(|u| (u.name.as_str(), u.soft, u.hard))
        .collect();
    assert_eq!(
        u,
        [
            ("nofile", 20000, l.max_nofile),
            ("nproc", 512, 512),
            ("memlock", l.max_memlock_bytes(), l.max_memlock_bytes())
        ]
    );
    for words in [
        "shm_size capped",
        "max-size capped",
        "nofile capped",
        "memlock capped",
        "\"tag\" ignored",
        "clubhost names the project",
    ] {
        warned(&w, words);
    }
}

#[test]
fn small_keys_refuse_what_reaches_outside() {
    let v =
        report("services:\n  web:\n    image: x\n    logging:\n      driver: syslog\n").violations;
    assert_eq!((v[0].kind, v[0].line), (ViolationKind::Policy, 5));
    assert!(v[0].message.contains("json-file or local"), "{v:#?}");
    let v = report("services:\n  web:\n    image: x\n    ulimits:\n      rtprio: 99\n").violations;
    assert_eq!((v[0].kind, v[0].line), (ViolationKind::Unsupported, 5));
    let v = report("services:\n  web:\n    image: x\n    hostname: \"a b\"\n").violations;
    assert!(v[0].message.contains("host name"), "{v:#?}");
    let v = report("include:\n  - other.yml\nservices:\n  web:\n    image: x\n").violations;
    assert!(
        v[0].line == 1 && v[0].message.contains("paste the included services"),
        "{v:#?}"
    );
}

#[test]
fn healthchecks_without_test_keep_the_images_and_disable_turns_it_off() {
    let (s, _) = accepted(
        "services:\n  web:\n    image: x\n    healthcheck:\n      interval: 5s\n      start_period: 30s\n      start_interval: 1s\n  db:\n    image: y\n    healthcheck:\n      disable: true\nx-clubhost: {expose: web}\n",
    );
    let h = s.service("web").unwrap().healthcheck.clone().unwrap();
    assert!(h.test.is_empty());
    assert_eq!(
        (h.interval, h.start_period, h.start_interval),
        (
            Duration::from_secs(5),
            Duration::from_secs(30),
            Some(Duration::from_secs(1))
        )
    );
    assert_eq!(
        s.service("db").unwrap().healthcheck.as_ref().unwrap().test,
        ["NONE"]
    );
    // A bad test is still named, with an example of a good one.
    let v = report("services:\n  web:\n    image: x\n    healthcheck:\n      test: [\"curl\"]\n")
        .violations;
    assert!(v[0].message.contains("\"CMD\", \"curl\""), "{v:#?}");
}

#[test]
fn waiting_for_health_uses_the_images_healthcheck_unless_disabled() {
    let (_, w) = accepted(
        "services:\n  app:\n    image: x\n    ports: [\"80:80\"]\n    depends_on:\n      db:\n        condition: service_healthy\n  db:\n    image: postgres\n",
    );
    warned(&w, "image's HEALTHCHECK is used");
    let v = report(
        "services:\n  app:\n    image: x\n    ports: [\"80:80\"]\n    depends_on:\n      db:\n        condition: service_healthy\n  db:\n    image: postgres\n    healthcheck: {disable: true}\n",
    )
    .violations;
    assert!(v[0].message.contains("disabled"), "{v:#?}");
}

#[test]
fn profiles_deploy_only_enabled_services() {
    let src = "services:\n  web:\n    image: x\n    ports: [\"80:80\"]\n  debug:\n    image: y\n    profiles: [debug]\n  tools:\n    image: z\n    profiles: [tools]\n";
    let (s, w) = accepted(src);
    let names: Vec<_> = s.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web"]);
    warned(&w, "COMPOSE_PROFILES=debug");
    let mut vars = Vars::new();
    vars.set("COMPOSE_PROFILES", "debug", false);
    let s = load(src, &vars, &Limits::default()).unwrap();
    let names: Vec<_> = s.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web", "debug"]);
    // Needing a service that is left out is an error that says how to fix it.
    let v = report(
        "services:\n  web:\n    image: x\n    depends_on: [db]\n  db:\n    image: y\n    profiles: [db]\n",
    )
    .violations;
    assert!(v[0].message.contains("COMPOSE_PROFILES=db"), "{v:#?}");
    // A danger in a disabled profile is still refused.
    let v = report("services:\n  web:\n    image: x\n  dbg:\n    image: y\n    profiles: [x]\n    privileged: true\n").violations;
    assert_eq!(v[0].kind, ViolationKind::Policy);
}

#[test]
fn extends_merges_within_the_file_and_keeps_dangers() {
    let (s, _) = accepted(
        "services:\n  base:\n    image: x\n    environment: {A: \"1\", B: \"2\"}\n    volumes: [data:/d, data:/e]\n  web:\n    extends: base\n    environment: {B: \"3\"}\n    volumes: [\"other:/e\"]\n    ports: [\"80:80\"]\n  worker:\n    extends:\n      service: web\n    command: work\nvolumes:\n  data:\n  other:\n",
    );
    let web = s.service("web").unwrap();
    assert_eq!(web.image, "x");
    assert_eq!(web.environment, ["A=1", "B=3"]);
    let m: Vec<_> = web
        .mounts
        .iter()
        .map(|m| (m.volume.as_str(), m.target.as_str()))
        .collect();
    assert_eq!(m, [("data", "/d"), ("other", "/e")]);
    let worker = s.service("worker").unwrap();
    assert_eq!(worker.command.as_deref(), Some(&["work".to_string()][..]));
    assert_eq!(worker.environment, ["A=1", "B=3"]);

    // A danger in the base is refused in every service that extends it, at the base's line.
    let v = report(
        "services:\n  base:\n    image: x\n    privileged: true\n  web:\n    extends: base\n",
    )
    .violations;
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        v.iter()
            .all(|v| v.kind == ViolationKind::Policy && v.line == 4)
    );
    for (src, words) in [
        (
            "services:\n  web:\n    extends: nope\n",
            "not a service of this file",
        ),
        (
            "services:\n  a:\n    extends: b\n  b:\n    extends: a\n",
            "cycle",
        ),
        (
            "services:\n  web:\n    extends:\n      file: common.yml\n      service: base\n",
            "another file",
        ),
    ] {
        let v = report(src).violations;
        assert!(v.iter().any(|v| v.message.contains(words)), "{src}: {v:#?}");
    }
}

#[test]
fn files_of_the_project_are_needed_not_refused() {
    let src = r#"
services:
  app:
    build:
      context: ./app
      dockerfile: Dockerfile
    env_file: [.env, {path: ./extra.env, required: false}]
    volumes:
      - ./config/app.yml:/etc/app.yml:ro
      - type: bind
        source: ./static
        target: /static
    secrets: [db_password]
    ports: ["3000:3000"]
  db:
    image: postgres
    configs:
      - source: pg
        target: /etc/pg.conf
secrets:
  db_password:
    file: ./secrets/db_password.txt
configs:
  pg:
    file: pg.conf
"#;
    let r = report(src);
    assert!(r.is_ok(), "{:#?}", r.violations);
    assert!(!r.deployable());
    let lines: Vec<_> = r
        .needs_files
        .iter()
        .map(|v| (v.line, v.path.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (4, "services.app.build"),
            (7, "services.app.env_file"),
            (9, "services.app.volumes[0]"),
            (11, "services.app.volumes[1]"),
            (22, "secrets.db_password.file"),
            (25, "configs.pg.file"),
        ]
    );
    assert!(
        r.needs_files
            .iter()
            .all(|v| v.message.starts_with("needs the project's files")),
        "{:#?}",
        r.needs_files
    );
    // Submit and deploy refuse it, with those reasons.
    let err = load(src, &Vars::new(), &Limits::default()).unwrap_err();
    assert_eq!(err.violations.len(), 6);
    assert!(err.to_string().contains("./static"), "{err}");
    // A file that needs nothing is deployable.
    assert!(report("services:\n  web:\n    image: x\n").deployable());
}

#[test]
fn files_outside_the_project_and_foreign_secrets_stay_refused() {
    for (src, words) in [
        (
            "services:\n  web:\n    image: x\n    env_file: ../../etc/passwd\n",
            "outside the project's folder",
        ),
        (
            "services:\n  web:\n    image: x\nsecrets:\n  s:\n    file: /etc/shadow\n",
            "outside the project's folder",
        ),
        (
            "services:\n  web:\n    image: x\nsecrets:\n  s:\n    external: true\n",
            "outside this project",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: [\"./../../x:/x\"]\n",
            "host path",
        ),
    ] {
        let v = report(src).violations;
        assert!(
            v.iter()
                .any(|v| v.kind == ViolationKind::Policy && v.message.contains(words)),
            "{src}: {v:#?}"
        );
    }
    let v = report("services:\n  web:\n    image: x\n    secrets: [nope]\n").violations;
    assert!(v[0].message.contains("not declared"), "{v:#?}");
}

#[test]
fn secrets_are_masked_where_interpolated_never_in_the_files_own_text() {
    // A short secret masks nothing; a secret the file never interpolates masks nothing either.
    let mut vars = Vars::new();
    vars.set("POSTGRES_PASSWORD", "x", true);
    vars.set("UNUSED", "index", true);
    let r = check(
        "services:\n  web:\n    image: x\n    environment: [\"P=${POSTGRES_PASSWORD}\"]\n    volumes: [\"/bleve-index:/index\"]\n",
        &vars,
        &Limits::default(),
    );
    assert!(
        r.violations[0].message.contains("\"/bleve-index\""),
        "{:#?}",
        r.violations
    );
    // An interpolated secret is masked in messages and in the shown stack.
    vars.set("MEM", "hunter22-not-a-size", true);
    let r = check(
        "services:\n  web:\n    image: x\n    mem_limit: ${MEM}\n",
        &vars,
        &Limits::default(),
    );
    assert!(
        !r.violations[0].message.contains("hunter22"),
        "{:#?}",
        r.violations
    );
    assert!(r.violations[0].message.contains(MASK));
    vars.set("PW", "hunter22", true);
    let r = check(
        "services:\n  web:\n    image: x\n    environment:\n      DB_PASSWORD: ${PW}\n      NOTE: index page\n",
        &vars,
        &Limits::default(),
    )
    .redacted(&vars);
    let env = &r.stack.unwrap().services[0].environment;
    assert_eq!(
        env,
        &[format!("DB_PASSWORD={MASK}"), "NOTE=index page".into()]
    );
}
