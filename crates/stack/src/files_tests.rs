//! `load_with_files`: a stack with `build:`, relative binds, env files and secrets, resolved
//! against an in-memory project folder (the crate does no I/O; the deployer's folder reader is
//! tested against real files in the deploy crate).

use std::collections::BTreeMap;

use super::*;

/// A project's files in memory: path → content; folders are implied by the paths under them;
/// `links` are symlinks.
#[derive(Default)]
struct Mem {
    files: BTreeMap<String, String>,
    links: Vec<String>,
}

impl Mem {
    fn with(files: &[(&str, &str)]) -> Mem {
        Mem {
            files: files
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
            links: Vec::new(),
        }
    }
}

impl ProjectFiles for Mem {
    fn kind(&self, path: &str) -> Option<FileKind> {
        if self.links.iter().any(|l| l == path) {
            Some(FileKind::Other)
        } else if self.files.contains_key(path) {
            Some(FileKind::File)
        } else if path == "."
            || self
                .files
                .keys()
                .any(|k| k.starts_with(&format!("{path}/")))
        {
            Some(FileKind::Folder)
        } else {
            None
        }
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.files
            .get(path)
            .map(|c| c.as_bytes().to_vec())
            .ok_or_else(|| "no such file".into())
    }
}

const STACK: &str = r#"services:
  app:
    build:
      context: ./app
      dockerfile: docker/Dockerfile.prod
      args:
        VERSION: "${VERSION}"
      target: runtime
    env_file: [.env, { path: missing.env, required: false }]
    environment:
      MODE: from-compose
    volumes:
      - ./conf/site.conf:/etc/site.conf:ro
      - ./public:/srv/public
    secrets:
      - db_password
      - source: api_key
        target: api
        mode: 0440
        uid: "1000"
    ports: ["8080:8080"]
secrets:
  db_password:
    file: ./secrets/db.txt
  api_key:
    environment: API_KEY
"#;

fn project() -> Mem {
    Mem::with(&[
        ("app/docker/Dockerfile.prod", "FROM scratch\n"),
        ("app/main.c", "int main;"),
        ("conf/site.conf", "listen 8080;"),
        ("public/index.html", "<h1>hi</h1>"),
        ("secrets/db.txt", "s3cret-db-pass"),
        (
            ".env",
            "# env\nexport MODE=from-env-file\nGREETING='hello ${NOPE}'\nURL=http://${HOST:-x}\n",
        ),
    ])
}

fn vars() -> Vars {
    let mut v = Vars::new();
    v.set("VERSION", "1.2", false);
    v.set("API_KEY", "key-abcdef-123", true);
    v
}

#[test]
fn a_stack_with_its_files_loads_everything_the_deployer_needs() {
    let stack = load_with_files(STACK, &vars(), &Limits::default(), &project()).unwrap();
    let app = stack.service("app").unwrap();
    assert_eq!(
        app.build,
        Some(Build {
            context: "app".into(),
            dockerfile: "docker/Dockerfile.prod".into(),
            args: [("VERSION".to_string(), "1.2".to_string())].into(),
            target: Some("runtime".into()),
        })
    );
    // The env file first, the file's own `environment:` over it.
    assert_eq!(
        app.environment,
        [
            "GREETING=hello ${NOPE}",
            "URL=http://x",
            "MODE=from-compose"
        ]
    );
    assert_eq!(
        app.files,
        [
            FileMount {
                source: "conf/site.conf".into(),
                target: "/etc/site.conf".into(),
                read_only: true,
                folder: false,
                volume: None,
            },
            FileMount {
                source: "public".into(),
                target: "/srv/public".into(),
                read_only: false,
                folder: true,
                volume: Some("files-public".into()),
            },
        ]
    );
    // The writable folder is a project volume, mounted like any other.
    assert!(stack.volumes.contains(&"files-public".to_string()));
    assert!(
        app.mounts
            .iter()
            .any(|m| m.volume == "files-public" && m.target == "/srv/public")
    );
    let s = &app.secrets;
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[0].target.as_str(), s[0].mode, s[0].content.as_slice()),
        (
            "/run/secrets/db_password",
            0o400,
            b"s3cret-db-pass".as_slice()
        )
    );
    assert_eq!(
        (
            s[1].target.as_str(),
            s[1].mode,
            s[1].uid,
            s[1].content.as_slice()
        ),
        (
            "/run/secrets/api",
            0o440,
            Some(1000),
            b"key-abcdef-123".as_slice()
        )
    );
    // Secret values never appear in the stack as shown (serialized or debug-printed).
    let shown = format!("{}{:?}", serde_json::to_string(&stack).unwrap(), stack);
    assert!(
        !shown.contains("s3cret-db-pass") && !shown.contains("key-abcdef-123"),
        "{shown}"
    );
}

#[test]
fn missing_and_special_files_are_refused_with_their_line() {
    let mut files = project();
    files.files.remove(".env");
    files.files.remove("app/docker/Dockerfile.prod");
    files.links.push("conf/site.conf".into());
    let err = load_with_files(STACK, &vars(), &Limits::default(), &files).unwrap_err();
    let got: Vec<(u64, &str)> = err
        .violations
        .iter()
        .map(|v| (v.line, v.path.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "services.app.build"),
            (9, "services.app.env_file[0]"),
            (13, "services.app.volumes[0]"),
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("no Dockerfile"), "{text}");
    assert!(text.contains("symlink"), "{text}");
    assert!(
        text.contains("\".env\" is not in the project's files"),
        "{text}"
    );
}

#[test]
fn paths_out_of_the_project_are_refused_with_line_and_key() {
    for (src, line, path) in [
        (
            "services:\n  a:\n    build: ../other\n",
            3,
            "services.a.build",
        ),
        (
            "services:\n  a:\n    build:\n      context: .\n      dockerfile: ../../Dockerfile\n",
            5,
            "services.a.build.dockerfile",
        ),
        (
            "services:\n  a:\n    build: /srv/app\n",
            3,
            "services.a.build",
        ),
        (
            "services:\n  a:\n    build: https://example.org/x.git\n",
            3,
            "services.a.build",
        ),
        (
            "services:\n  a:\n    image: x\n    env_file: app/../../.env\n",
            4,
            "services.a.env_file[0]",
        ),
    ] {
        let err = load_with_files(src, &Vars::new(), &Limits::default(), &project()).unwrap_err();
        let v = &err.violations[0];
        assert_eq!(
            (v.line, v.path.as_str(), v.kind),
            (line, path, ViolationKind::Policy),
            "{src}: {err}"
        );
    }
}

#[test]
fn a_bad_env_file_names_its_line() {
    let mut files = project();
    files.files.insert(".env".into(), "A=1\nB=\"open\n".into());
    let err = load_with_files(STACK, &vars(), &Limits::default(), &files).unwrap_err();
    assert!(err.to_string().contains(".env, line 2"), "{err}");
}

#[test]
fn a_secret_from_an_unset_variable_is_refused() {
    let err = load_with_files(STACK, &Vars::new(), &Limits::default(), &project()).unwrap_err();
    assert!(err.to_string().contains("\"API_KEY\" is not set"), "{err}");
}

#[test]
fn normalize_keeps_paths_inside() {
    assert_eq!(normalize("./conf//a/../b/"), "conf/b");
    assert_eq!(normalize("."), ".");
    assert_eq!(normalize("./"), ".");
    assert_eq!(normalize("../../x"), "x");
}

#[test]
fn secret_variables_in_build_args_are_masked_when_shown() {
    let mut vars = vars();
    vars.set("VERSION", "hunter2-secret", true);
    let r = check(STACK, &vars, &Limits::default()).redacted(&vars);
    let shown = serde_json::to_string(&r).unwrap();
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(shown.contains(MASK), "{shown}");
}
