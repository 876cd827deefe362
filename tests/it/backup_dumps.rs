//! `clubhost backup` and databases: a MySQL service dumped inside its running container instead
//! of paused, and a dump that fails failing the backup and telling the admins. No real MySQL image
//! exists here (no registry is reachable), so both use busybox stand-ins whose `mysqldump` is a
//! shell script.

use crate::backup::{add_config, backup_dir, last_word, manifest};
use crate::common::{Club, docker, slug};

/// A stand-in for a MySQL image: no real MySQL image exists here (no registry is reachable), so
/// this is busybox with a `mysqldump` shell script that prints SQL made from the files in
/// `/var/lib/mysql`, under an image name clubhost recognises as MySQL. It tests the dump path
/// (recognition, exec in the running container, the dump kept and checked), not MySQL.
const MYSQL_STAND_IN: &str = "clubhost-test/mysql:stand-in";

struct RemoveImage(&'static str);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        docker(&["rmi", "-f", self.0]);
    }
}

fn build_mysql_stand_in() {
    build_stand_in(MYSQL_STAND_IN, MYSQL_SCRIPT);
}

const MYSQL_SCRIPT: &str = "#!/bin/sh\necho \"-- stand-in mysqldump $*\"\nfor f in /var/lib/mysql/*; do\n  echo \"INSERT INTO t VALUES ('$(cat \"$f\")');\"\ndone\n";

fn build_stand_in(image: &str, script: &str) {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for applet in ["sh", "cat", "echo", "mkdir", "sleep", "httpd", "ls"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    std::fs::create_dir_all(root.path().join("tmp")).unwrap();
    let path = root.path().join("usr/bin/mysqldump");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cmd = format!(
        "tar -C {} -c . | docker import --change 'ENV PATH=/usr/bin:/bin' - {image}",
        root.path().display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_database_is_dumped_in_its_running_container_instead_of_paused() {
    let _image = RemoveImage(MYSQL_STAND_IN);
    build_mysql_stand_in();
    let mut club = Club::new();
    let slug = slug("bkdump");
    let stack = db_stack(MYSQL_STAND_IN);
    club.deploy(&slug, &stack);
    let id = last_word(&club.ok(&["backup", "create", &slug]));
    let m = manifest(&club, &slug, &id);
    assert_eq!(m["dumps"][0]["service"], "db", "{m}");
    assert_eq!(m["dumps"][0]["engine"], "mysql", "{m}");
    // Not paused: the dump is the consistent copy, the files were copied live.
    assert_eq!(m["volumes"][0]["consistency"], "dumped_live", "{m}");
    assert!(m["volumes"][0]["paused_ms"].is_null(), "{m}");
    let dump = std::fs::read_to_string(backup_dir(&club).join(format!("{slug}-{id}/dumps/db.sql")))
        .unwrap();
    assert!(dump.contains("--single-transaction"), "{dump}");
    assert!(dump.contains("INSERT INTO t VALUES ('alpha');"), "{dump}");
    // The password came from the container's environment, so it reached the tool there...
    assert!(dump.contains("-psesame"), "{dump}");
    // ...and the dump is covered by verify like every other file.
    assert!(club.ok(&["backup", "verify", &id]).contains(": ok"));
}

/// One database service (a stand-in image) with a volume, exposed over busybox httpd.
fn db_stack(image: &str) -> String {
    format!(
        r#"
services:
  db:
    image: {image}
    command: ["sh", "-c", "mkdir -p /var/lib/mysql /www && echo alpha > /var/lib/mysql/a && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www"]
    environment:
      MYSQL_ROOT_PASSWORD: sesame
    volumes:
      - dbdata:/var/lib/mysql
volumes:
  dbdata:
x-clubhost:
  expose: db
  port: 8000
"#
    )
}

#[test]
fn a_failed_backup_tells_the_admins_and_leaves_nothing_listed() {
    const FAILING: &str = "clubhost-test/mysql:failing";
    let _image = RemoveImage(FAILING);
    build_stand_in(FAILING, "#!/bin/sh\necho 'access denied' >&2\nexit 3\n");
    let hook = crate::sinks::WebhookSink::start(0);
    let mut club = Club::new();
    add_config(
        &club,
        &format!(
            "\n[notify]\nattempts = 3\nbackoff = \"100ms\"\n[[notify.webhooks]]\nkind = \"slack\"\nurl = \"{}\"\n",
            hook.url()
        ),
    );
    club.start();
    let slug = slug("bkfail");
    club.deploy(&slug, &db_stack(FAILING));
    let out = club.cli(&["backup", "create", &slug]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exited with 3") && err.contains("access denied"),
        "{err}"
    );
    let note = hook.wait_for(&format!("Backup of {slug} failed"));
    assert!(note.contains("exited with 3"), "{note}");
    assert!(club.ok(&["backup", "list", &slug]).trim().is_empty());
    let partials: Vec<_> = std::fs::read_dir(backup_dir(&club))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
        .collect();
    assert!(partials.is_empty());
    assert!(
        club.ok(&["audit", "--project", &slug])
            .contains("backup.failed")
    );
}
