//! Parser tests: the shapes members write, and the errors they get when something is off.

use super::*;
use std::time::Duration;

const TWO_SERVICES: &str = r#"
services:
  web:
    image: clubhost-test-web
    command: ["httpd", "-f", "-p", "8000"]
    depends_on: [db]
    environment:
      DB_HOST: db:3306
      PORT: 8000
  db:
    image: clubhost-test-db
    command: nc -lk -p 3306 -e echo 'hello db'
    volumes:
      - data:/var/lib/db
    healthcheck:
      test: ["CMD-SHELL", "true"]
      interval: 1s
      retries: 5
    restart: unless-stopped
volumes:
  data:
x-clubhost:
  expose: web
  port: 8000
"#;

#[test]
fn two_service_stack_normalizes_in_start_order() {
    let stack = parse(TWO_SERVICES).unwrap();
    let names: Vec<_> = stack.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "web"]);
    assert_eq!(
        stack.expose,
        Expose {
            service: "web".into(),
            port: 8000
        }
    );
    let db = stack.service("db").unwrap();
    assert_eq!(
        db.command.as_deref().unwrap(),
        ["nc", "-lk", "-p", "3306", "-e", "echo", "hello db"]
    );
    assert_eq!(db.mounts[0].volume, "data");
    assert_eq!(db.restart, RestartPolicy::UnlessStopped);
    assert_eq!(
        db.healthcheck.as_ref().unwrap().interval,
        Duration::from_secs(1)
    );
    let web = stack.service("web").unwrap();
    assert_eq!(web.environment, ["DB_HOST=db:3306", "PORT=8000"]);
}

#[test]
fn single_service_defaults_to_port_80() {
    let stack = parse("services:\n  site:\n    image: nginx\n").unwrap();
    assert_eq!(
        stack.expose,
        Expose {
            service: "site".into(),
            port: 80
        }
    );
}

/// The first violation of a file that must be refused.
#[track_caller]
fn first(src: &str) -> Violation {
    let v = check(src, &Vars::new(), &Limits::default()).violations;
    assert!(!v.is_empty(), "expected a violation in:\n{src}");
    v[0].clone()
}

#[test]
fn unknown_key_is_named_with_its_line_and_column() {
    let v = first("services:\n  web:\n    image: x\n    hostnam: y\n");
    assert_eq!(
        (v.line, v.column, v.kind),
        (4, 5, ViolationKind::Unsupported)
    );
    assert_eq!(v.path, "services.web.hostnam");
    assert!(v.message.contains("hostnam"), "{v}");
}

/// YAML ends a line at LF, CRLF or a lone CR (as editors and browsers do); violations count lines
/// the same way. Found by the `stack_check` fuzz target, whose own line count saw only LF.
#[test]
fn lines_end_at_lf_crlf_or_a_lone_cr() {
    for eol in ["\n", "\r\n", "\r"] {
        let src = [
            "services:",
            "  web:",
            "    image: x",
            "    privileged: true",
            "",
        ]
        .join(eol);
        let v = first(&src);
        assert_eq!((v.line, v.column), (4, 5), "{eol:?}: {v}");
    }
    let v = first("services:\r\r\r  web: [\n");
    assert_eq!(
        (v.kind, v.line, v.column),
        (ViolationKind::Syntax, 4, 8),
        "{v}"
    );
}

#[test]
fn missing_image_names_the_service_and_line() {
    let v = first("services:\n  web:\n    command: [a]\n");
    assert_eq!((v.line, v.path.as_str()), (2, "services.web"));
    assert!(v.message.contains("image"), "{v}");
}

#[test]
fn undeclared_dependency_and_cycles_are_refused() {
    let v = first("services:\n  web:\n    image: x\n    depends_on: [nope]\n");
    assert_eq!(v.line, 4);
    assert!(v.message.contains("nope"), "{v}");

    let src = "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\nx-clubhost: {expose: a, port: 1}\n";
    assert!(first(src).message.contains("cycle"));
}

#[test]
fn several_services_need_x_clubhost_or_a_gateway_network() {
    let v = first("services:\n  a:\n    image: x\n  b:\n    image: y\n");
    assert!(v.message.contains("x-clubhost"), "{v}");
}

#[test]
fn exposing_a_missing_service_is_refused() {
    let v = first("services:\n  a:\n    image: x\nx-clubhost:\n  expose: b\n  port: 80\n");
    assert_eq!((v.line, v.path.as_str()), (5, "x-clubhost.expose"));
}

#[test]
fn bad_yaml_is_an_error_not_a_panic() {
    for src in [
        "",
        ":",
        "services: [",
        "services:\n  - a\n",
        "\t",
        "a: *nope\n",
    ] {
        assert!(parse(src).is_err(), "{src:?} should not parse");
    }
    let v = first("services:\n  web: [\n");
    assert_eq!(v.kind, ViolationKind::Syntax);
    assert!(v.line > 0);
}

const SEED_WORDPRESS: &str = include_str!("../../../tests/compose/seed-wordpress.yml");

#[test]
fn the_clubs_wordpress_file_loads_as_it_is() {
    let r = check(SEED_WORDPRESS, &Vars::new(), &Limits::default());
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    let stack = r.stack.unwrap();
    assert_eq!(
        stack.expose,
        Expose {
            service: "wordpress".into(),
            port: 80
        }
    );
    let names: Vec<_> = stack.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "wordpress"]);
    assert!(!stack.service("db").unwrap().gateway);
    assert_eq!(stack.service("db").unwrap().networks, ["back-end"]);
    assert!(stack.service("wordpress").unwrap().gateway);
    assert_eq!(stack.networks, ["back-end"]);
    assert_eq!(stack.volumes, ["db_data"]);
    assert_eq!(stack.service("db").unwrap().restart, RestartPolicy::Always);
    // container_name is ignored, with a warning for each service.
    assert_eq!(
        r.warnings
            .iter()
            .filter(|w| w.path.ends_with("container_name"))
            .count(),
        2
    );
}

#[test]
fn long_forms_and_anchors() {
    let src = r#"
version: "3.8"
x-common: &common
  restart: unless-stopped
  environment: &env
    TZ: UTC
services:
  init:
    <<: *common
    image: busybox
    command: ["true"]
  db:
    <<: *common
    image: postgres:16
    healthcheck:
      test: pg_isready
      interval: 5s
  app:
    <<: *common
    image: app
    user: "1000:1000"
    working_dir: /srv
    read_only: true
    tmpfs: [/tmp, "/run:size=8m"]
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    init: true
    labels: [a=b, "c=d"]
    expose: ["3000"]
    depends_on:
      db:
        condition: service_healthy
      init:
        condition: service_completed_successfully
    volumes:
      - type: volume
        source: data
        target: /data
        read_only: true
      - type: tmpfs
        target: /cache
        tmpfs: {size: 1000000}
volumes:
  data: {}
x-clubhost:
  expose: app
"#;
    let r = check(src, &Vars::new(), &Limits::default());
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    let stack = r.stack.unwrap();
    assert_eq!(
        stack.expose,
        Expose {
            service: "app".into(),
            port: 3000
        }
    );
    let app = stack.service("app").unwrap();
    assert_eq!(app.restart, RestartPolicy::UnlessStopped);
    assert_eq!(app.environment, ["TZ=UTC"]);
    assert_eq!(app.user.as_deref(), Some("1000:1000"));
    assert_eq!(app.labels["c"], "d");
    assert_eq!(app.tmpfs["/run"], "size=8m");
    assert_eq!(app.tmpfs["/cache"], "size=1000000");
    assert_eq!(app.stop_grace_period, Some(Duration::from_secs(90)));
    assert_eq!(
        app.mounts,
        [VolumeMount {
            volume: "data".into(),
            target: "/data".into(),
            read_only: true,
            nocopy: false,
        }]
    );
    assert!(stack.is_one_shot("init"));
    assert_eq!(app.depends_on[0].condition, Condition::ServiceHealthy);
    assert_eq!(
        stack
            .service("db")
            .unwrap()
            .healthcheck
            .as_ref()
            .unwrap()
            .test,
        ["CMD-SHELL", "pg_isready"]
    );
}

#[test]
fn variables_fill_values_and_secrets_stay_out_of_messages() {
    let src = "services:\n  web:\n    image: ${IMAGE:-nginx}\n    environment:\n      - PW=${PW:?set PW}\n      - COST=$$5\n    mem_limit: ${MEM}\n";
    let mut vars = Vars::new();
    vars.set("PW", "hunter22", true);
    vars.set("MEM", "not-a-size-hunter22", false);
    let r = check(src, &vars, &Limits::default());
    // The bad size is reported, and the secret inside it is masked.
    assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
    assert!(
        !r.violations[0].message.contains("hunter22"),
        "{}",
        r.violations[0]
    );
    vars.set("MEM", "300m", false);
    let stack = load(src, &vars, &Limits::default()).unwrap();
    let web = stack.service("web").unwrap();
    assert_eq!(web.image, "nginx");
    assert_eq!(web.environment, ["PW=hunter22", "COST=$5"]);
    let shown = load(src, &vars, &Limits::default())
        .unwrap()
        .redacted(&vars);
    assert_eq!(
        shown.services[0].environment,
        [format!("PW={MASK}"), "COST=$5".into()]
    );
    let v = first("services:\n  web:\n    image: ${IMAGE:?say which image}\n");
    assert_eq!((v.line, v.kind), (3, ViolationKind::Invalid));
    assert!(v.message.contains("say which image"));
}

#[test]
fn the_exposed_service_follows_the_gateway_network_and_expose() {
    let ok = |src: &str| {
        let r = check(src, &Vars::new(), &Limits::default());
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        r.stack.unwrap().expose
    };
    // The one service on an external network, on its first `expose:` port; map form of networks.
    let e = ok(
        "services:\n  api:\n    image: a\n    expose: [\"9000\", \"9001\"]\n    networks:\n      gw:\n        aliases: [api-internal]\n      back:\n  db:\n    image: d\n    networks: [back]\nnetworks:\n  gw:\n    name: club_gateway\n    external: true\n  back:\n",
    );
    assert_eq!(
        e,
        Expose {
            service: "api".into(),
            port: 9000
        }
    );
    // x-clubhost.port alone picks the port of the only service.
    let e = ok("services:\n  app:\n    image: a\nx-clubhost:\n  port: 3000\n");
    assert_eq!(
        e,
        Expose {
            service: "app".into(),
            port: 3000
        }
    );
    // Two services on the gateway: ambiguous without x-clubhost.
    let v = first(
        "services:\n  a:\n    image: a\n    networks: [gw]\n  b:\n    image: b\n    networks: [gw]\nnetworks:\n  gw:\n    external: true\n",
    );
    assert!(v.message.contains("x-clubhost"), "{v}");
    // A network the file does not declare.
    let v = first("services:\n  a:\n    image: a\n    networks: [nope]\n");
    assert_eq!((v.line, v.column), (4, 16));
    assert!(v.message.contains("nope"), "{v}");
}

#[test]
fn a_used_secret_is_masked_only_where_it_was_interpolated() {
    // A used secret's value inside the file's own text elsewhere stays as written; where it was
    // interpolated (a whole value, a word of a command) it is masked.
    let mut vars = Vars::new();
    vars.set("PW", "index", true);
    let r = check(
        "services:\n  web:\n    image: x\n    command: sh -c \"login ${PW} && cat bleve-index\"\n    environment:\n      DB_PASSWORD: ${PW}\n      NOTE: bleve-index\n",
        &vars,
        &Limits::default(),
    )
    .redacted(&vars);
    let web = &r.stack.unwrap().services[0];
    assert_eq!(
        web.environment,
        [format!("DB_PASSWORD={MASK}"), "NOTE=bleve-index".into()]
    );
    let command = web.command.as_ref().unwrap();
    assert_eq!(command[2], format!("login {MASK} && cat bleve-{MASK}"));
}

#[test]
fn a_service_marks_itself_a_database_with_its_own_x_clubhost() {
    let stack = parse(
        "services:\n  db:\n    image: ghcr.io/acme/rowstore:2\n    x-clubhost: { database: mariadb }\n  pg:\n    image: x\n    x-clubhost:\n      database: postgres\n  web:\n    image: y\nx-clubhost: { expose: web, port: 80 }\n",
    )
    .unwrap();
    assert_eq!(stack.service("db").unwrap().database, Some(Database::Mysql));
    assert_eq!(
        stack.service("pg").unwrap().database,
        Some(Database::Postgres)
    );
    assert_eq!(stack.service("web").unwrap().database, None);
    // Default deny: an engine it does not dump, or any other key, is named with its line.
    let v = first("services:\n  db:\n    image: x\n    x-clubhost: { database: mongo }\n");
    assert_eq!(
        (v.line, v.path.as_str()),
        (4, "services.db.x-clubhost.database")
    );
    assert!(v.message.contains("mysql, mariadb, postgres"), "{v}");
    let v = first("services:\n  db:\n    image: x\n    x-clubhost:\n      privileged: true\n");
    assert_eq!(
        (v.line, v.path.as_str()),
        (5, "services.db.x-clubhost.privileged")
    );
    assert_eq!(v.kind, ViolationKind::Unsupported);
}
