//! Upgrades keep everything: a registry as the previous release (0.1.0) left it, with secrets in
//! plain text, opened by the current code: every row is still there and readable, the secrets are
//! sealed, and the file no longer holds them in plain text.

use std::path::Path;

use clubhost_registry::{ProjectState, Registry, SecretKey};
use sqlx::sqlite::SqliteConnectOptions;

const FIXTURE: &str = include_str!("fixtures/registry-0.1.0.sql");
const SECRETS: [&str; 2] = ["fixture-secret-hunter2", "fixture-token-correct-horse"];

async fn load_fixture(path: &Path) {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::raw_sql(FIXTURE).execute(&pool).await.unwrap();
    pool.close().await;
}

fn file_holds(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_registry_from_0_1_0_migrates_forward_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clubhost.db");
    load_fixture(&path).await;
    assert!(
        file_holds(&path, SECRETS[0]),
        "the fixture holds its secret in plain text"
    );

    let key = SecretKey::generate();
    let reg = Registry::open(&path, key.clone()).await.unwrap();
    assert_eq!(reg.instance_id().await.unwrap(), "18ed2907b9e1ba472a05");

    let users = reg.users().await.unwrap();
    let names: Vec<_> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in ["root", "ana", "ben"] {
        assert!(names.contains(&name), "{names:?}");
    }
    assert!(reg.user("root").await.unwrap().is_admin);
    assert_eq!(
        reg.user_email("ben").await.unwrap().as_deref(),
        Some("ben@club.example")
    );
    let ana = reg.credentials("ana").await.unwrap().unwrap();
    assert!(ana.password_hash.unwrap().starts_with("$argon2id$"));

    use ProjectState::*;
    let want = [
        ("back", ChangesRequested),
        ("broke", Failed),
        ("gone", Rejected),
        ("halt", Stopped),
        ("home", Running),
        ("live", Running),
        ("old", Expired),
        ("req", Requested),
    ];
    let projects = reg.projects().await.unwrap();
    let got: Vec<_> = projects
        .iter()
        .map(|p| (p.slug.as_str(), p.state()))
        .collect();
    assert_eq!(got, want);
    let back = reg.project("back").await.unwrap();
    assert_eq!(back.review_note.as_deref(), Some("use a volume"));
    assert!(reg.project("home").await.unwrap().permanent);
    assert_eq!(
        reg.source_url("live").await.unwrap(),
        "https://git.example/x"
    );
    let live = reg.project("live").await.unwrap();
    assert_eq!(reg.deployments(live.id).await.unwrap().len(), 1);
    assert_eq!(reg.deployed_images().await.unwrap().len(), 1);

    let vars = reg.variables("live").await.unwrap();
    assert_eq!(vars.0["DB_PASSWORD"].value, SECRETS[0]);
    assert!(vars.0["DB_PASSWORD"].secret);
    assert_eq!(vars.0["DB_USER"].value, "blog");
    assert!(!vars.0["DB_USER"].secret);
    assert_eq!(
        reg.variables("req").await.unwrap().0["API_TOKEN"].value,
        SECRETS[1]
    );

    let renewals = reg.renewals(true).await.unwrap();
    let states: Vec<_> = renewals.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(states, ["approved", "pending"]);
    assert_eq!(reg.reminders_sent().await.unwrap().len(), 1);
    assert!(reg.session("tokenhash-1").await.unwrap().is_some());
    assert_eq!(reg.pending_notes(0).await.unwrap().len(), 4);
    // Every audit entry kept, plus the one telling that plain-text secrets were sealed.
    let log = reg.audit_log(None).await.unwrap();
    assert_eq!(log.len(), 39 + 1);
    assert_eq!(log.last().unwrap().action, "secrets.seal");

    // The file no longer holds the secrets in plain text, nor keeps a pre-upgrade copy that does.
    reg.close().await;
    for secret in SECRETS {
        for file in ["clubhost.db", "clubhost.db-wal", "clubhost.db.pre-upgrade"] {
            assert!(
                !file_holds(&dir.path().join(file), secret),
                "{secret} in {file}"
            );
        }
    }
    // After a restart with the same key everything opens again; another key is refused.
    let reg = Registry::open(&path, key).await.unwrap();
    assert_eq!(reg.variables("live").await.unwrap(), vars);
    reg.close().await;
    let err = Registry::open(&path, SecretKey::generate())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("secret key"), "{err}");
}
