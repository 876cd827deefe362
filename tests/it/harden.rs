//! A well-behaved service on a shared machine: every file a real server creates is owner-only
//! (a loose data dir left by an older release is tightened), a secret variable is never in the
//! registry's files in plain text, it still decrypts after a restart and after `secrets
//! rotate-key` (in-process and through the running server), and `--version` names the commit.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Club, IMAGE, containers_of, docker_text, slug};

const SECRET: &str = "pw-never-in-the-file-7c1e";

/// Every file and directory under `dir`, with its mode.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u32, bool)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        out.push((path.clone(), meta.mode() & 0o777, meta.is_dir()));
        if meta.is_dir() {
            walk(&path, out);
        }
    }
}

/// Asserts that the data dir and everything in it is the owner's alone; returns the file names.
fn assert_owner_only(data: &Path) -> Vec<String> {
    let mode = std::fs::metadata(data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "data dir {} is {mode:04o}", data.display());
    let mut all = Vec::new();
    walk(data, &mut all);
    let loose: Vec<_> = all
        .iter()
        .filter(|(_, mode, is_dir)| *mode != if *is_dir { 0o700 } else { 0o600 })
        .map(|(p, mode, _)| format!("{} {mode:04o}", p.display()))
        .collect();
    assert!(loose.is_empty(), "not owner-only: {loose:?}");
    all.iter()
        .map(|(p, _, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Asserts that no file under `data` holds the secret's plain value.
fn assert_no_plain_secret(data: &Path) {
    let mut all = Vec::new();
    walk(data, &mut all);
    for (path, _, is_dir) in all {
        if is_dir || path.extension().is_some_and(|e| e == "sock") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{} holds the secret in plain text",
            path.display()
        );
    }
}

fn key_file(club: &Club) -> String {
    std::fs::read_to_string(club.dir.path().join("data/secret.key")).unwrap()
}

#[test]
fn files_are_owner_only_and_secrets_stay_sealed_through_restart_and_rotation() {
    let mut club = Club::new();
    let data = club.dir.path().join("data");
    // As an older release left it: world-readable.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    club.start();
    assert!(
        club.log().contains("tightened a mode others could use"),
        "{}",
        club.log()
    );

    let slug = slug("sealed");
    club.slugs.push(slug.clone());
    club.ok(&["user", "add", "ana"]);
    let stack = club.write_stack(
        "sealed.yml",
        &format!(
            r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www"]
    environment:
      DB_PASSWORD: ${{DB_PASSWORD}}
    expose: ["8000"]
"#
        ),
    );
    club.ok(&[
        "project",
        "submit",
        "--owner",
        "ana",
        "--slug",
        &slug,
        "--stack",
        stack.to_str().unwrap(),
        "--secret",
        &format!("DB_PASSWORD={SECRET}"),
    ]);
    let names = assert_owner_only(&data);
    for expected in [
        "clubhost.db",
        "clubhost.db-wal",
        "secret.key",
        "clubhost.sock",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert_no_plain_secret(&data);

    // Restart, rotating the key in between with no server running (the CLI's in-process mode).
    club.stop();
    let first = key_file(&club);
    let out = club.ok(&["secrets", "rotate-key"]);
    assert!(out.contains("1 secret(s) re-encrypted"), "{out}");
    assert_ne!(key_file(&club), first);
    assert_owner_only(&data);
    club.start();
    // And once more through the running server.
    let second = key_file(&club);
    club.ok(&["secrets", "rotate-key"]);
    assert_ne!(key_file(&club), second);
    assert_no_plain_secret(&data);
    let log = club.ok(&["audit", "--json"]);
    assert_eq!(log.matches("secrets.rotate_key").count(), 2, "{log}");

    // The deploy gets the value back: it decrypts with the current key after all that.
    let out = club.ok(&["project", "approve", &slug]);
    assert!(out.contains("running"), "{out}");
    let web = containers_of(&slug).pop().unwrap();
    let env = docker_text(&["inspect", "-f", "{{json .Config.Env}}", &web]);
    assert!(env.contains(&format!("DB_PASSWORD={SECRET}")), "{env}");
    assert_owner_only(&data);
    assert_no_plain_secret(&data);
}

#[test]
fn a_registry_with_secrets_refuses_another_key() {
    let club = Club::new();
    club.ok(&["user", "add", "ana"]);
    let key = club.dir.path().join("data/secret.key");
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    let out = club.cli(&["project", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret key does not open"), "{err}");
}

#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_clubhost"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let want = format!("clubhost {} (commit {commit})", env!("CARGO_PKG_VERSION"));
    assert_eq!(text, want);
}
