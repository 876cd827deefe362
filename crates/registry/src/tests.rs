//! The registry's own tests: projects, transitions and the audit log on a real SQLite file.

use super::*;

async fn fresh() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(&dir.path().join("t.db"), SecretKey::generate())
        .await
        .unwrap();
    (dir, reg)
}

pub(crate) fn new_project(slug: &str, owner_id: i64) -> NewProject<'_> {
    NewProject {
        slug,
        name: slug,
        description: "",
        owner_id,
        stack_source: "services: {}",
        is_root: false,
        term_days: 30,
        source_url: "",
    }
}

#[tokio::test]
async fn transitions_are_checked_and_audited() {
    let (_d, reg) = fresh().await;
    let u = reg.add_user("ana", false, None, "cli").await.unwrap();
    reg.insert_project(new_project("blog", u.id), "ana")
        .await
        .unwrap();
    let err = reg
        .transition("blog", ProjectState::Running, "admin", "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::InvalidTransition { .. }),
        "{err}"
    );
    assert_eq!(
        reg.project("blog").await.unwrap().state(),
        ProjectState::Requested
    );

    let p = reg
        .transition("blog", ProjectState::Approved, "admin", "ok")
        .await
        .unwrap();
    assert_eq!(p.state(), ProjectState::Approved);
    assert!(p.term_end.unwrap() > now() + 29 * 86_400);
    let log = reg.audit_log(Some("blog")).await.unwrap();
    let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["project.submit", "project.approved"]);
    assert_eq!(log[1].actor, "admin");
    assert_eq!(log[1].from_state.as_deref(), Some("requested"));
}

#[tokio::test]
async fn duplicate_slug_and_second_root_are_conflicts() {
    let (_d, reg) = fresh().await;
    let u = reg.add_user("ana", false, None, "cli").await.unwrap();
    reg.insert_project(new_project("blog", u.id), "ana")
        .await
        .unwrap();
    let err = reg
        .insert_project(new_project("blog", u.id), "ana")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already taken"), "{err}");

    let mut root = new_project("home", u.id);
    root.is_root = true;
    reg.insert_project(root.clone(), "ana").await.unwrap();
    root.slug = "home2";
    let err = reg.insert_project(root, "ana").await.unwrap_err();
    assert!(err.to_string().contains("root"), "{err}");
}

#[tokio::test]
async fn database_is_in_wal_mode() {
    let (_d, reg) = fresh().await;
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&reg.pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_taken_email_refuses_the_new_account_whole() {
    let (_dir, reg) = fresh().await;
    reg.add_user("ana", false, Some("ana@club.example"), "cli")
        .await
        .unwrap();
    let err = reg
        .add_user("bo", false, Some("ANA@club.example"), "cli")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Conflict(m) if m.contains("email")),
        "{err}"
    );
    assert!(matches!(
        reg.user("bo").await,
        Err(RegistryError::NotFound(_))
    ));
    assert_eq!(
        reg.user("ana").await.unwrap().email.as_deref(),
        Some("ana@club.example")
    );
}
