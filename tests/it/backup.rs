//! `clubhost backup`: backups taken while a service writes, restored byte for byte; a deleted
//! project brought back (and a copy under a new slug); a damaged backup refused with nothing
//! changed; a backup killed half way never listed; retention keeping the newest of each day.
//! Real Docker, the CLI in its in-process mode (no server), images from `common`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Club, IMAGE, containers_of, docker, docker_text, slug, volumes_of};

/// A service that keeps appending to its volume (so the backup must pause it) and serves it.
fn writer_stack() -> String {
    format!(
        r#"
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /data/files && httpd -p 8000 -h /data && while true; do echo tick >> /data/log; sleep 0.1; done"]
    volumes:
      - data:/data
volumes:
  data:
x-clubhost:
  expose: app
  port: 8000
"#
    )
}

pub(crate) fn add_config(club: &Club, text: &str) {
    let mut config = std::fs::read_to_string(&club.config).unwrap();
    config.push_str(text);
    std::fs::write(&club.config, config).unwrap();
}

fn app_container(slug: &str) -> String {
    let names = containers_of(slug);
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

/// Deterministic bytes that differ per seed (no repeating pattern a tar would hide).
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Files of several sizes (empty to a few MiB, one in a subfolder) on the host.
fn sample_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let files = [
        ("empty", 0),
        ("one", 1),
        ("page.html", 4_000),
        ("blob", 300_000),
        ("sub/big", 3 * 1024 * 1024 + 7),
    ];
    files
        .iter()
        .enumerate()
        .map(|(i, (name, len))| {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let data = bytes(*len, i as u64 + 1);
            std::fs::write(&path, &data).unwrap();
            (PathBuf::from(name), data)
        })
        .collect()
}

pub(crate) fn last_word(text: &str) -> String {
    text.split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn backup_dir(club: &Club) -> PathBuf {
    club.dir.path().join("data/backups")
}

pub(crate) fn manifest(club: &Club, slug: &str, id: &str) -> serde_json::Value {
    let path = backup_dir(club).join(format!("{slug}-{id}/manifest.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn copy_out(container: &str, path: &str, to: &Path) {
    let src = format!("{container}:{path}");
    let out = docker(&["cp", &src, to.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_volume_backed_up_while_written_comes_back_byte_for_byte() {
    let mut club = Club::new();
    let slug = slug("bkround");
    club.deploy(&slug, &writer_stack());
    let app = app_container(&slug);
    let host = tempfile::tempdir().unwrap();
    let files = sample_files(&host.path().join("files"));
    let src = format!("{}/files/.", host.path().display());
    let dst = format!("{app}:/data/files");
    assert!(docker(&["cp", &src, &dst]).status.success());

    let out = club.ok(&["backup", "create", &slug]);
    let id = last_word(&out);
    assert!(id.parse::<i64>().is_ok(), "{out}");
    // The service writes all the time: it was paused for the copy, and for how long is kept.
    let m = manifest(&club, &slug, &id);
    let vol = &m["volumes"][0];
    assert_eq!(vol["name"], "data");
    assert_eq!(vol["consistency"], "paused", "{m}");
    assert!(vol["paused_ms"].as_u64().is_some(), "{m}");
    assert_eq!(m["project"], slug.as_str());
    assert_eq!(m["format"], 1);
    // It runs again after the copy.
    let state = docker_text(&["inspect", "-f", "{{.State.Status}}", &app]);
    assert_eq!(state, "running");
    assert!(club.ok(&["backup", "verify", &id]).contains(": ok"));
    let listed: serde_json::Value =
        serde_json::from_str(&club.ok(&["backup", "list", &slug, "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Change the data: one file rewritten, one added.
    let changed = docker(&[
        "exec",
        &app,
        "sh",
        "-c",
        "echo changed > /data/files/one && echo new > /data/files/added && echo x > /data/files/sub/big",
    ]);
    assert!(changed.status.success());

    let out = club.ok(&["backup", "restore", &slug, &id]);
    assert!(out.contains("running"), "{out}");
    // The data it replaced was backed up first, so the restore itself can be undone.
    assert!(out.contains("the data it replaced is in backup"), "{out}");
    let listed: serde_json::Value =
        serde_json::from_str(&club.ok(&["backup", "list", &slug, "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let app = app_container(&slug);
    let back = tempfile::tempdir().unwrap();
    copy_out(&app, "/data/files", back.path());
    for (name, data) in &files {
        let got = std::fs::read(back.path().join("files").join(name)).unwrap();
        assert!(got == *data, "{} differs after restore", name.display());
    }
    assert!(
        !back.path().join("files/added").exists(),
        "a file made after the backup stayed"
    );
    let audit = club.ok(&["audit", "--project", &slug]);
    assert!(audit.contains("backup.restore"), "{audit}");
    assert!(audit.contains("backup.create"), "{audit}");
}

#[test]
fn a_deleted_project_comes_back_with_its_data_and_a_copy_under_a_new_slug() {
    let mut club = Club::new();
    let slug = slug("bkgone");
    let copy = format!("{slug}-copy");
    club.slugs.push(copy.clone());
    club.deploy(&slug, &writer_stack());
    let app = app_container(&slug);
    let marker = docker(&[
        "exec",
        &app,
        "sh",
        "-c",
        "echo kept-$HOSTNAME > /data/marker",
    ]);
    assert!(marker.status.success());
    let expected = docker_text(&["exec", &app, "cat", "/data/marker"]);
    let id = last_word(&club.ok(&["backup", "create", &slug]));

    club.ok(&["project", "delete", &slug]);
    assert!(volumes_of(&slug).is_empty(), "delete left the volume");
    assert!(club.ok(&["backup", "list", &slug]).contains(&slug));

    let out = club.ok(&["backup", "restore", &slug]);
    assert!(
        out.contains("project recreated") && out.contains("running"),
        "{out}"
    );
    let app = app_container(&slug);
    assert_eq!(
        docker_text(&["exec", &app, "cat", "/data/marker"]),
        expected
    );
    let shown = club.ok(&["project", "show", &slug]);
    assert!(shown.contains("running"), "{shown}");

    let out = club.ok(&["backup", "restore", &slug, &id, "--as", &copy]);
    assert!(out.contains(&copy) && out.contains("running"), "{out}");
    let app2 = app_container(&copy);
    assert_eq!(
        docker_text(&["exec", &app2, "cat", "/data/marker"]),
        expected
    );
    // The original is untouched by the copy.
    assert_eq!(app_container(&slug), app);
    // --as onto an existing project is refused.
    let refused = club.cli(&["backup", "restore", &slug, &id, "--as", &copy]);
    assert!(!refused.status.success());
}

#[test]
fn a_damaged_backup_is_refused_by_verify_and_restore_and_nothing_changes() {
    let mut club = Club::new();
    let slug = slug("bkbad");
    club.deploy(&slug, &writer_stack());
    let app = app_container(&slug);
    assert!(
        docker(&["exec", &app, "sh", "-c", "echo before > /data/marker"])
            .status
            .success()
    );
    let id = last_word(&club.ok(&["backup", "create", &slug]));
    assert!(
        docker(&["exec", &app, "sh", "-c", "echo after > /data/marker"])
            .status
            .success()
    );

    let tar = backup_dir(&club).join(format!("{slug}-{id}/volumes/data.tar"));
    let mut data = std::fs::read(&tar).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x55;
    std::fs::write(&tar, &data).unwrap();

    let verify = club.cli(&["backup", "verify", &id]);
    assert!(!verify.status.success());
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(
        text.contains("DAMAGED") && text.contains("SHA-256"),
        "{text}"
    );

    let restore = club.cli(&["backup", "restore", &slug, &id]);
    assert!(!restore.status.success());
    let err = String::from_utf8_lossy(&restore.stderr);
    assert!(
        err.contains("damaged") && err.contains("nothing was changed"),
        "{err}"
    );
    // Refused before anything, even the safety backup a restore takes first.
    let listed: serde_json::Value =
        serde_json::from_str(&club.ok(&["backup", "list", &slug, "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Same container, still running, data as it was.
    assert_eq!(app_container(&slug), app);
    assert_eq!(
        docker_text(&["inspect", "-f", "{{.State.Status}}", &app]),
        "running"
    );
    assert_eq!(docker_text(&["exec", &app, "cat", "/data/marker"]), "after");
    assert!(club.ok(&["project", "show", &slug]).contains("running"));
}

#[test]
fn a_backup_killed_half_way_is_never_listed_and_its_leftovers_go() {
    let mut club = Club::new();
    let slug = slug("bkkill");
    club.deploy(&slug, &writer_stack());
    let app = app_container(&slug);
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("big"), bytes(48 * 1024 * 1024, 9)).unwrap();
    let src = format!("{}/big", host.path().display());
    assert!(
        docker(&["cp", &src, &format!("{app}:/data/big")])
            .status
            .success()
    );

    let mut child = club.cli_background(&["backup", "create", &slug]);
    let root = backup_dir(&club);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_partial = false;
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        let partial = std::fs::read_dir(&root)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".partial-"));
        if partial {
            saw_partial = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // SIGKILL: no cleanup at all.
    let _ = child.kill();
    let _ = child.wait();
    assert!(saw_partial, "the backup never showed a partial directory");
    let listed: serde_json::Value =
        serde_json::from_str(&club.ok(&["backup", "list", "--json"])).unwrap();
    for b in listed.as_array().unwrap() {
        // Whatever point the kill hit, anything listed is complete and sound.
        let id = b["id"].to_string();
        assert!(club.ok(&["backup", "verify", &id]).contains(": ok"));
    }
    // A starting server sweeps what the crash left: the half-written directory, the helper
    // container, and the pause the kill may have left on the service.
    club.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while docker_text(&["inspect", "-f", "{{.State.Status}}", &app]) != "running" {
        assert!(
            Instant::now() < deadline,
            "still paused after the server started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    club.ok(&["backup", "prune"]);
    assert_eq!(
        docker_text(&["inspect", "-f", "{{.State.Status}}", &app]),
        "running"
    );
    let left: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".partial-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let audit = club.ok(&["audit", "--project", &slug]);
    if listed.as_array().unwrap().is_empty() {
        assert!(audit.contains("backup.failed"), "{audit}");
    }
    let helpers = docker_text(&[
        "ps",
        "-a",
        "--filter",
        "label=clubhost.role=backup-helper",
        "--filter",
        &format!("label=clubhost.project={slug}"),
        "--format",
        "{{.Names}}",
    ]);
    assert!(helpers.is_empty(), "helpers left: {helpers}");
    // A new backup works after the crash.
    let id = last_word(&club.ok(&["backup", "create", &slug]));
    assert!(club.ok(&["backup", "verify", &id]).contains(": ok"));
}

#[test]
fn prune_keeps_the_newest_backup_of_each_recent_day() {
    let mut club = Club::new();
    add_config(
        &club,
        "\n[lifecycle]\nsettable_clock = true\n\n[backup]\nkeep_daily = 3\nkeep_weekly = 0\nkeep_monthly = 0\n",
    );
    let slug = slug("bkprune");
    club.deploy(&slug, &writer_stack());
    let mut ids = Vec::new();
    for day in 0..4 {
        if day > 0 {
            club.ok(&["clock", "--advance", "1d"]);
        }
        ids.push(last_word(&club.ok(&["backup", "create", &slug])));
        if day == 0 {
            // Two on the first day: only the newer may count for that day.
            ids.push(last_word(&club.ok(&["backup", "create", &slug])));
        }
    }
    let out = club.ok(&["backup", "prune"]);
    // Days 1, 2 and 3 keep their one each; day 0's two go (the fourth day back is past 3).
    assert!(out.contains("2 removed, 3 kept"), "{out}");
    let listed: serde_json::Value =
        serde_json::from_str(&club.ok(&["backup", "list", &slug, "--json"])).unwrap();
    let mut kept: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].to_string())
        .collect();
    kept.sort();
    let mut expected = ids[2..].to_vec();
    expected.sort();
    assert_eq!(kept, expected);
    for gone in &ids[..2] {
        assert!(!backup_dir(&club).join(format!("{slug}-{gone}")).exists());
    }
}

fn admin_get(club: &Club, path: &str) -> String {
    use std::io::{Read, Write};
    let socket = club.dir.path().join("data/clubhost.sock");
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_server_reports_backup_age_and_backs_up_all_projects_and_the_registry() {
    let mut club = Club::new();
    club.start();
    let slug = slug("bkall");
    club.deploy(&slug, &writer_stack());
    let before = admin_get(&club, "/metrics");
    assert!(
        before.contains(&format!(
            "clubhost_backup_age_seconds{{project=\"{slug}\"}} +Inf"
        )),
        "{before}"
    );
    let out = club.ok(&["backup", "create", "--all"]);
    assert!(out.contains(&format!("backup of {slug} complete")), "{out}");
    let copy = out
        .lines()
        .find_map(|l| l.strip_prefix("registry copied to "))
        .unwrap_or_else(|| panic!("{out}"));
    // The copy is a SQLite database holding the backup rows.
    let head = std::fs::read(copy).unwrap();
    assert!(head.starts_with(b"SQLite format 3\0"));
    let after = admin_get(&club, "/metrics");
    assert!(
        after.contains(&format!(
            "clubhost_backup_last_success_timestamp_seconds{{project=\"{slug}\"}}"
        )),
        "{after}"
    );
    let shown = club.ok(&["project", "show", &slug]);
    assert!(shown.contains("last backup "), "{shown}");
    assert!(!shown.contains("last backup: none"), "{shown}");
}

#[tokio::test]
async fn the_owner_lists_and_downloads_their_backups_in_the_portal_and_no_one_else() {
    use crate::portal::Portal;
    use hyper::StatusCode;
    crate::common::ensure_image();
    let mut p = Portal::new(|_| {}).await;
    let ana = p.signup("ana").await;
    let bo = p.signup("bo").await;
    let slug = slug("bkportal");
    p.slugs.push(slug.clone());
    let r = p.submit(&ana, &slug, &writer_stack()).await;
    assert!(r.status.is_success(), "{}", r.body);
    let deployed = p.control.approve(&slug, "test").await.unwrap();
    assert_eq!(deployed.state.as_str(), "running");
    let b = p.control.create_backup(&slug, "test").await.unwrap();

    let mine = p.get("/portal/projects", Some(&ana)).await;
    assert!(
        mine.body
            .contains(&format!("/portal/projects/{slug}/backups")),
        "{}",
        mine.body
    );
    let page = p
        .get(&format!("/portal/projects/{slug}/backups"), Some(&ana))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("volumes/data.tar"), "{}", page.body);
    assert!(!page.body.contains("secrets.sealed"), "{}", page.body);

    let base = format!("/portal/projects/{slug}/backups/{}", b.id);
    let record = p.get(&format!("{base}/project.json"), Some(&ana)).await;
    assert_eq!(record.status, StatusCode::OK, "{}", record.body);
    assert_eq!(record.json()["slug"], slug.as_str());
    let tar = p.get(&format!("{base}/volumes/data.tar"), Some(&ana)).await;
    assert_eq!(tar.status, StatusCode::OK);
    assert!(
        tar.body.contains("clubhost-volume/"),
        "not a tar of the volume"
    );

    // Another member sees neither the list nor a file; no path outside the manifest is served.
    let theirs = p
        .get(&format!("/portal/projects/{slug}/backups"), Some(&bo))
        .await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);
    let theirs = p.get(&format!("{base}/project.json"), Some(&bo)).await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);
    for bad in [
        "secrets.sealed",
        "../../clubhost.db",
        "volumes/../project.json",
    ] {
        let r = p.get(&format!("{base}/{bad}"), Some(&ana)).await;
        assert_ne!(r.status, StatusCode::OK, "{bad} was served");
    }
    let signed_out = p
        .get(&format!("/portal/projects/{slug}/backups"), None)
        .await;
    assert_ne!(signed_out.status, StatusCode::OK);
}

#[test]
fn purge_keeps_a_final_backup_of_an_expired_project() {
    let mut club = Club::new();
    let slug = slug("bkpurge");
    club.deploy(&slug, &writer_stack());
    let app = app_container(&slug);
    assert!(
        docker(&["exec", &app, "sh", "-c", "echo last-words > /data/marker"])
            .status
            .success()
    );
    club.ok(&["project", "expire", &slug]);
    assert!(club.ok(&["backup", "list", &slug]).trim().is_empty());
    club.ok(&["project", "purge", &slug]);
    assert!(volumes_of(&slug).is_empty(), "purge left the volume");
    let listed: serde_json::Value =
        serde_json::from_str(&club.ok(&["backup", "list", &slug, "--json"])).unwrap();
    let list = listed.as_array().unwrap();
    assert_eq!(list.len(), 1, "{listed}");
    let id = list[0]["id"].to_string();
    assert!(club.ok(&["backup", "verify", &id]).contains(": ok"));
    // The data is in it: restored as a new project, the marker is back.
    let copy = format!("{slug}-after");
    club.slugs.push(copy.clone());
    club.ok(&["backup", "restore", &slug, &id, "--as", &copy]);
    let app = app_container(&copy);
    assert_eq!(
        docker_text(&["exec", &app, "cat", "/data/marker"]),
        "last-words"
    );
}

#[test]
fn a_server_that_missed_the_daily_hour_backs_up_at_start() {
    let mut club = Club::new();
    add_config(&club, "\n[lifecycle]\nsettable_clock = true\n");
    let slug = slug("bksched");
    club.deploy(&slug, &writer_stack());
    club.ok(&["backup", "create", &slug]);
    // A day later the daily hour has passed since that backup: the starting server catches up.
    club.ok(&["clock", "--advance", "1d"]);
    club.start();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed: serde_json::Value =
            serde_json::from_str(&club.ok(&["backup", "list", &slug, "--json"])).unwrap();
        let rows = listed.as_array().unwrap();
        if rows.len() == 2 {
            assert_eq!(rows[0]["actor"], "scheduler", "{listed}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled backup: {listed}\n{}",
            club.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The registry was copied in the same round.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(backup_dir(&club).join("registry")).map_or(0, |d| d.count()) == 0 {
        assert!(Instant::now() < deadline, "no registry copy");
        std::thread::sleep(Duration::from_millis(100));
    }
}
