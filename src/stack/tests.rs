//! Parser tests: the shapes members write, and the errors they get when something is off.

use super::*;

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

#[test]
fn unknown_key_is_named_with_its_line() {
    let src = "services:\n  web:\n    image: x\n    privileged: true\n";
    let err = parse(src).unwrap_err().to_string();
    assert!(err.contains("privileged"), "{err}");
    assert!(err.contains('4'), "line 4 expected in: {err}");
}

#[test]
fn missing_image_names_the_service_and_line() {
    let src = "services:\n  web:\n    command: [a]\n";
    let err = parse(src).unwrap_err().to_string();
    assert!(err.contains("services.web (line 2)"), "{err}");
    assert!(err.contains("image"), "{err}");
}

#[test]
fn bind_mounts_are_refused() {
    let src = "services:\n  web:\n    image: x\n    volumes:\n      - /var/run/docker.sock:/s\n";
    let err = parse(src).unwrap_err().to_string();
    assert!(err.contains("host paths"), "{err}");
    assert!(err.contains("services.web.volumes (line 4)"), "{err}");
}

#[test]
fn undeclared_dependency_and_cycles_are_refused() {
    let src = "services:\n  web:\n    image: x\n    depends_on: [nope]\n";
    let err = parse(src).unwrap_err().to_string();
    assert!(
        err.contains("services.web.depends_on (line 4)") && err.contains("nope"),
        "{err}"
    );

    let src = "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\nx-clubhost: {expose: a, port: 1}\n";
    let err = parse(src).unwrap_err().to_string();
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn several_services_need_x_clubhost() {
    let src = "services:\n  a:\n    image: x\n  b:\n    image: y\n";
    let err = parse(src).unwrap_err().to_string();
    assert!(err.contains("x-clubhost"), "{err}");
}

#[test]
fn exposing_a_missing_service_is_refused() {
    let src = "services:\n  a:\n    image: x\nx-clubhost:\n  expose: b\n  port: 80\n";
    let err = parse(src).unwrap_err().to_string();
    assert!(err.contains("x-clubhost.expose (line 5)"), "{err}");
}

#[test]
fn shell_words_split_like_compose() {
    let w = words(&StringOrList::String(
        r#"sh -c "echo a b" 'c d' e\ f"#.into(),
    ));
    assert_eq!(w, ["sh", "-c", "echo a b", "c d", "e f"]);
}

#[test]
fn bad_yaml_is_an_error_not_a_panic() {
    for src in ["", ":", "services: [", "services:\n  - a\n", "\t"] {
        assert!(parse(src).is_err(), "{src:?} should not parse");
    }
}
