//! Opening the registry: connect, migrate forward, check the secret key and seal secrets left in
//! plain text, without ever leaving an existing registry half-upgraded.
//!
//! Before migrations are applied to an existing database, it is copied with `VACUUM INTO` to
//! `<db>.pre-upgrade` (mode 0600). If a migration or the sealing that follows fails, the pool is
//! closed and the copy is put back in place of the database, so the registry is exactly as the
//! previous release left it. On success the copy is removed: it is the registry as it was, and
//! from before encryption it would hold secrets in plain text.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::secrets::{self, SecretKey};
use super::{Registry, RegistryError, Result};

/// Opens the registry at `path` with `migrator`'s migrations (the embedded ones, except in tests).
pub(crate) async fn open(path: &Path, key: SecretKey, migrator: &Migrator) -> Result<Registry> {
    let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let pool = connect(path).await?;
    let backup = if existed && has_pending(&pool, migrator).await? {
        Some(take_backup(&pool, path).await?)
    } else {
        None
    };
    let prepared = async {
        migrator.run(&pool).await?;
        secrets::prepare(&pool, &key).await
    }
    .await;
    match (prepared, backup) {
        (Ok(sealed), backup) => {
            if sealed > 0 {
                // Plain text overwritten in the WAL's pages goes to the main file now, and the
                // WAL is emptied, so neither keeps an old copy.
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&pool)
                    .await?;
            }
            if let Some(backup) = backup {
                std::fs::remove_file(&backup).map_err(|e| RegistryError::Backup {
                    path: backup.clone(),
                    message: format!("cannot remove it after a successful upgrade: {e}"),
                })?;
            }
            Ok(Registry {
                pool,
                outbox_wake: Arc::default(),
                key: Arc::new(tokio::sync::RwLock::new(key)),
            })
        }
        (Err(e), Some(backup)) => {
            pool.close().await;
            restore(path, &backup)?;
            Err(RegistryError::UpgradeFailed {
                path: path.to_path_buf(),
                source: Box::new(e),
            })
        }
        (Err(e), None) => Err(e),
    }
}

async fn connect(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Deleted and overwritten content is zeroed, not left in free pages: a secret replaced or
        // sealed leaves no plain copy behind in the file.
        .pragma("secure_delete", "ON");
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?)
}

/// Whether `migrator` has a migration this database has not applied.
async fn has_pending(pool: &SqlitePool, migrator: &Migrator) -> Result<bool> {
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(pool)
    .await?;
    if tables == 0 {
        return Ok(true);
    }
    let applied: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = 1")
            .fetch_all(pool)
            .await?;
    Ok(migrator
        .iter()
        .any(|m| !applied.iter().any(|(v,)| *v == m.version)))
}

fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pre-upgrade");
    PathBuf::from(name)
}

/// Copies the database to `<db>.pre-upgrade`, owner-only. A copy left by an upgrade that was
/// interrupted (the process killed mid-way) is kept as it is: it is the older, complete state.
async fn take_backup(pool: &SqlitePool, path: &Path) -> Result<PathBuf> {
    let backup = backup_path(path);
    if backup.exists() {
        return Ok(backup);
    }
    let target = backup.to_str().ok_or_else(|| RegistryError::Backup {
        path: backup.clone(),
        message: "the path is not UTF-8".into(),
    })?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(pool)
        .await
        .map_err(|e| RegistryError::Backup {
            path: backup.clone(),
            message: format!("cannot copy the registry before upgrading it: {e}"),
        })?;
    std::fs::set_permissions(&backup, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        RegistryError::Backup {
            path: backup.clone(),
            message: format!("cannot make it owner-only: {e}"),
        }
    })?;
    Ok(backup)
}

/// Puts the copy back in place of the database (whose WAL and shared memory go with it).
fn restore(path: &Path, backup: &Path) -> Result<()> {
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    std::fs::rename(backup, path).map_err(|e| RegistryError::Backup {
        path: backup.to_path_buf(),
        message: format!(
            "cannot put it back at {} after a failed upgrade ({e}); restore it by hand",
            path.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../tests/fixtures/registry-0.1.0.sql");

    async fn fixture_db(dir: &Path) -> PathBuf {
        let path = dir.join("clubhost.db");
        let pool = connect(&path).await.unwrap();
        sqlx::raw_sql(FIXTURE).execute(&pool).await.unwrap();
        pool.close().await;
        path
    }

    /// The real migrations plus `extra` (name, SQL), in a directory of their own.
    async fn migrator_with(dir: &Path, extra: &[(&str, &str)]) -> Migrator {
        let migrations = dir.join("migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        for entry in std::fs::read_dir(real).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), migrations.join(entry.file_name())).unwrap();
        }
        for (name, sql) in extra {
            std::fs::write(migrations.join(name), sql).unwrap();
        }
        Migrator::new(migrations.as_path()).await.unwrap()
    }

    #[tokio::test]
    async fn a_failed_migration_puts_the_old_registry_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = fixture_db(dir.path()).await;
        let migrator = migrator_with(
            dir.path(),
            &[
                ("0098_fine.sql", "CREATE TABLE upgraded (x INTEGER);"),
                ("0099_broken.sql", "CREATE TABLE users (x INTEGER);"),
            ],
        )
        .await;
        let err = open(&path, SecretKey::generate(), &migrator)
            .await
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(matches!(err, RegistryError::UpgradeFailed { .. }), "{text}");
        assert!(
            text.contains("clubhost.db") && text.contains("restored"),
            "{text}"
        );
        // The registry as it was (still at 0006, without the first new table), no copy beside it.
        assert!(!backup_path(&path).exists());
        let pool = connect(&path).await.unwrap();
        let (max,): (i64,) = sqlx::query_as("SELECT max(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(max, 6);
        let (upgraded,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM sqlite_master WHERE name = 'upgraded'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(
            upgraded, 0,
            "0098 was applied before 0099 failed and must be undone"
        );
        let (secret,): (String,) =
            sqlx::query_as("SELECT value FROM project_variables WHERE name = 'DB_PASSWORD'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(secret, "fixture-secret-hunter2");
    }

    #[tokio::test]
    async fn a_successful_upgrade_leaves_no_copy_and_a_current_one_takes_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = fixture_db(dir.path()).await;
        let key = SecretKey::generate();
        let migrator = migrator_with(dir.path(), &[]).await;
        let reg = open(&path, key.clone(), &migrator).await.unwrap();
        assert!(!backup_path(&path).exists());
        assert!(!has_pending(&reg.pool, &migrator).await.unwrap());
        reg.pool.close().await;
        // Nothing pending: no copy is taken (a stale one would be kept, not overwritten).
        std::fs::write(backup_path(&path), b"stale").unwrap();
        let reg = open(&path, key, &migrator).await.unwrap();
        assert_eq!(std::fs::read(backup_path(&path)).unwrap(), b"stale");
        reg.pool.close().await;
    }
}
