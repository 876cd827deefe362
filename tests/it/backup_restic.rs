//! Off-site copies: with `[backup] restic_repository`, every backup is copied into the restic
//! repository once complete (Debian's `restic`, a local repository here), `backup list` shows the
//! snapshot, and restic gives the backup back byte for byte. A copy that fails leaves the backup
//! good, says so in `backup list` and the audit log.

use std::process::Command;

use crate::backup::{add_config, backup_dir, last_word};
use crate::common::{Club, IMAGE, slug};

fn restic(repo: &std::path::Path, password: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("restic")
        .arg("-r")
        .arg(repo)
        .arg("--password-file")
        .arg(password)
        .arg("--no-cache")
        .args(args)
        .output()
        .expect("restic must be installed (apt-get install restic; scripts/test.sh does)");
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn every_backup_is_copied_into_the_restic_repository_and_comes_back_from_it() {
    let host = tempfile::tempdir().unwrap();
    let repo = host.path().join("offsite");
    let password = host.path().join("restic-password");
    std::fs::write(&password, "a long restic password\n").unwrap();
    let mut club = Club::new();
    add_config(
        &club,
        &format!(
            "\n[backup]\nrestic_repository = \"{}\"\nrestic_password_file = \"{}\"\n",
            repo.display(),
            password.display()
        ),
    );
    let slug = slug("bkrestic");
    club.deploy(
        &slug,
        &format!(
            "services:\n  app:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"mkdir -p /data /www && echo off-site > /data/kept && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www\"]\n    volumes:\n      - data:/data\nvolumes:\n  data:\nx-clubhost:\n  expose: app\n  port: 8000\n"
        ),
    );
    let id = last_word(&club.ok(&["backup", "create", &slug]));

    // The repository was created on first use and holds one snapshot, tagged with the backup.
    let snaps: serde_json::Value = serde_json::from_str(&restic(
        &repo,
        &password,
        &["snapshots", "--json", "--tag", &format!("backup={id}")],
    ))
    .unwrap();
    let snaps = snaps.as_array().unwrap();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let snap = snaps[0]["id"].as_str().unwrap();
    let tags = snaps[0]["tags"].to_string();
    assert!(tags.contains(&format!("project={slug}")), "{tags}");
    // `backup list` shows it off-site, with the snapshot's id.
    let listed: serde_json::Value =
        serde_json::from_str(&club.ok(&["backup", "list", &slug, "--json"])).unwrap();
    // (restic 0.14 prints the short id; any unique prefix names a snapshot to restic.)
    let offsite = listed[0]["offsite"].as_str().unwrap_or_default();
    assert!(offsite.len() >= 8 && snap.starts_with(offsite), "{listed}");
    let line = club.ok(&["backup", "list", &slug]);
    assert!(line.contains(&format!("off-site {}", &snap[..8])), "{line}");

    // restic gives every file back as it was.
    let out = host.path().join("restored");
    restic(
        &repo,
        &password,
        &["restore", snap, "--target", out.to_str().unwrap()],
    );
    let dir = backup_dir(&club).join(format!("{slug}-{id}"));
    // The snapshot holds the backup's own folder, `<slug>-<id>/`.
    let restored = out.join(format!("{slug}-{id}"));
    for file in ["manifest.json", "project.json", "volumes/data.tar"] {
        assert_eq!(
            std::fs::read(restored.join(file)).unwrap(),
            std::fs::read(dir.join(file)).unwrap(),
            "{file}"
        );
    }

    // A repository that refuses (the password changed under it): the backup is still complete
    // here, and says its off-site copy failed.
    std::fs::write(&password, "not the password\n").unwrap();
    let second = last_word(&club.ok(&["backup", "create", &slug]));
    let listed: serde_json::Value =
        serde_json::from_str(&club.ok(&["backup", "list", &slug, "--json"])).unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == second.parse::<i64>().unwrap())
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(row["offsite"].is_null(), "{row}");
    assert!(
        row["offsite_error"].as_str().unwrap().contains("restic"),
        "{row}"
    );
    assert!(
        club.ok(&["backup", "list", &slug])
            .contains("off-site FAILED")
    );
    assert!(club.ok(&["backup", "verify", &second]).contains(": ok"));
    let audit = club.ok(&["audit", "--project", &slug]);
    assert!(
        audit.contains("backup.offsite") && audit.contains("off-site copy failed"),
        "{audit}"
    );
}
