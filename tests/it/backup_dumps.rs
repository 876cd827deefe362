//! `clubhost backup` and databases: a MySQL service dumped inside its running container instead
//! of paused, a dump that fails failing the backup and telling the admins, and a restore loading
//! the dump back into the running database (a service marked by its `x-clubhost.database`), or
//! stopping the project when the load fails. No real MySQL image exists here (no registry is
//! reachable), so all use busybox stand-ins whose `mysqldump` and `mysql` are shell scripts over
//! row files: they test clubhost's dump and load paths, not MySQL.

use crate::backup::{add_config, backup_dir, last_word, manifest};
use crate::common::{Club, busybox, containers_of, docker, docker_text, slug};

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
    build_stand_in(MYSQL_STAND_IN, &[("mysqldump", MYSQL_SCRIPT)]);
}

const MYSQL_SCRIPT: &str = "#!/bin/sh\necho \"-- stand-in mysqldump $*\"\nfor f in /var/lib/mysql/*; do\n  echo \"INSERT INTO t VALUES ('$(cat \"$f\")');\"\ndone\n";

/// Builds `image` from scratch: busybox, and each `(name, script)` as `/usr/bin/<name>`.
fn build_stand_in(image: &str, scripts: &[(&str, &str)]) {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(busybox(), bin.join("busybox")).unwrap();
    for applet in [
        "sh", "cat", "echo", "mkdir", "sleep", "httpd", "ls", "rm", "sort",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    std::fs::create_dir_all(root.path().join("tmp")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (name, script) in scripts {
        let path = root.path().join("usr/bin").join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
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
    build_stand_in(
        FAILING,
        &[("mysqldump", "#!/bin/sh\necho 'access denied' >&2\nexit 3\n")],
    );
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

/// A stand-in `mysql` client: replaces the rows (`/var/lib/mysql/row-N`) with the `INSERT`s read
/// on its standard input, and logs the load to `/tmp/loads.log` (outside the volume).
const MYSQL_CLIENT: &str = r#"#!/bin/sh
rm -f /var/lib/mysql/row-*
n=0
while IFS= read -r line; do
  case "$line" in
    "INSERT INTO t VALUES ('"*"');")
      v=${line#"INSERT INTO t VALUES ('"}
      v=${v%"');"}
      n=$((n+1))
      echo "$v" > /var/lib/mysql/row-$n ;;
  esac
done
echo "loaded $n rows" >> /tmp/loads.log
"#;

/// A row store under an image name clubhost does not recognise, marked a database by the
/// service's own `x-clubhost`; it seeds two rows on its first start only.
fn hinted_stack(image: &str) -> String {
    format!(
        r#"
services:
  db:
    image: {image}
    command: ["sh", "-c", "mkdir -p /var/lib/mysql /www && ( [ -e /var/lib/mysql/row-1 ] || {{ echo alpha > /var/lib/mysql/row-1; echo beta > /var/lib/mysql/row-2; }} ) && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www"]
    environment:
      MYSQL_ROOT_PASSWORD: sesame
    volumes:
      - dbdata:/var/lib/mysql
    x-clubhost:
      database: mysql
volumes:
  dbdata:
x-clubhost:
  expose: db
  port: 8000
"#
    )
}

fn db_container(slug: &str) -> String {
    let names = containers_of(slug);
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

fn sh_in(container: &str, script: &str) -> String {
    let out = docker(&["exec", container, "sh", "-c", script]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The rows, in order.
fn rows(container: &str) -> Vec<String> {
    sh_in(container, "cat /var/lib/mysql/row-* 2>/dev/null | sort")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_restore_loads_the_dump_back_into_a_database_marked_by_its_x_clubhost() {
    const IMAGE: &str = "clubhost-test/rowstore:stand-in";
    let _image = RemoveImage(IMAGE);
    build_stand_in(
        IMAGE,
        &[("mysqldump", MYSQL_SCRIPT), ("mysql", MYSQL_CLIENT)],
    );
    let mut club = Club::new();
    let slug = slug("bkload");
    club.deploy(&slug, &hinted_stack(IMAGE));
    let db = db_container(&slug);
    sh_in(&db, "echo gamma > /var/lib/mysql/row-3");
    assert_eq!(rows(&db), ["alpha", "beta", "gamma"]);
    let id = last_word(&club.ok(&["backup", "create", &slug]));
    // Its image's name says nothing; the hint made it a dumped database.
    let m = manifest(&club, &slug, &id);
    assert_eq!(m["dumps"][0]["service"], "db", "{m}");
    assert_eq!(m["dumps"][0]["engine"], "mysql", "{m}");
    assert_eq!(m["volumes"][0]["consistency"], "dumped_live", "{m}");
    // The table dropped, another row written.
    sh_in(
        &db,
        "rm /var/lib/mysql/row-* && echo delta > /var/lib/mysql/row-9",
    );
    assert_eq!(rows(&db), ["delta"]);
    let out = club.ok(&["backup", "restore", &slug, &id]);
    assert!(out.contains("database dump of db loaded"), "{out}");
    let db = db_container(&slug);
    assert_eq!(rows(&db), ["alpha", "beta", "gamma"]);
    // The client ran in the restored container, once, with the dump's three rows.
    assert_eq!(sh_in(&db, "cat /tmp/loads.log").trim(), "loaded 3 rows");
    let audit = club.ok(&["audit", "--project", &slug]);
    assert!(
        audit.contains("backup.restore") && audit.contains("database dump(s) of db loaded"),
        "{audit}"
    );
    assert_eq!(state_of(&club, &slug), "running");
}

#[test]
fn a_dump_that_fails_to_load_stops_the_restored_project() {
    const IMAGE: &str = "clubhost-test/rowstore:refusing";
    let _image = RemoveImage(IMAGE);
    let refusing = "#!/bin/sh\ncat >/dev/null\necho 'ERROR 1045: access denied' >&2\nexit 1\n";
    build_stand_in(IMAGE, &[("mysqldump", MYSQL_SCRIPT), ("mysql", refusing)]);
    let mut club = Club::new();
    let slug = slug("bkrefuse");
    club.deploy(&slug, &hinted_stack(IMAGE));
    let id = last_word(&club.ok(&["backup", "create", &slug]));
    let out = club.cli(&["backup", "restore", &slug, &id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("loading the dump of db exited with 1")
            && err.contains("access denied")
            && err.contains("the project is stopped")
            && err.contains("the data it replaced is in backup"),
        "{err}"
    );
    assert_eq!(state_of(&club, &slug), "stopped");
    let running = docker_text(&[
        "ps",
        "--filter",
        &format!("label=clubhost.project={slug}"),
        "-q",
    ]);
    assert!(running.is_empty(), "{running}");
    assert!(club.ok(&["audit", "--project", &slug]).contains("stopped"));
}

fn state_of(club: &Club, slug: &str) -> String {
    let show: serde_json::Value =
        serde_json::from_str(&club.ok(&["project", "show", slug, "--json"])).unwrap();
    show["project"]["state"].as_str().unwrap().to_string()
}
