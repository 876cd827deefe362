//! The key secrets are sealed with in the registry: where it comes from, making it at first start,
//! and rotating it.
//!
//! Where: a systemd credential `$CREDENTIALS_DIRECTORY/clubhost-secret-key` when the service has
//! one (`LoadCredential=` or `LoadCredentialEncrypted=` in the unit), otherwise `[secrets] key_file`
//! (default `<data_dir>/secret.key`), made 0600 with a fresh key at first start. Either holds 64
//! hex digits. The key never goes into the registry, so a copy of the database alone reveals no
//! secret.
//!
//! Rotation is crash-safe: the new key is written to `<key_file>.new` first, the registry
//! re-encrypts everything in one transaction, then the file is renamed over the old one. If the
//! process dies between the commit and the rename, the next start finds the old key refused and
//! `.new` accepted, and finishes the rename.

use std::path::{Path, PathBuf};

use clubhost_registry::{Registry, RegistryError, SecretKey};

use crate::files::{self, FileError};

/// The systemd credential's name.
pub(crate) const CREDENTIAL_NAME: &str = "clubhost-secret-key";

#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretsError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("secret key {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "no secret key at {0}; `clubhost serve` makes one at its first start (or set \
         [secrets] key_file)"
    )]
    Missing(PathBuf),
    #[error(
        "the secret key comes from the systemd credential {0}; rotate it by giving the service a \
         new credential, not with rotate-key"
    )]
    NotRotatable(PathBuf),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Where this server's key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// A key file clubhost owns (and may create and rotate).
    File(PathBuf),
    /// A systemd credential: read-only, managed by the unit.
    Credential(PathBuf),
}

impl KeySource {
    /// The systemd credential if the service has one, else `[secrets] key_file` (or its default).
    pub(crate) fn of(config: &crate::config::Config) -> KeySource {
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let path = Path::new(&dir).join(CREDENTIAL_NAME);
            if path.exists() {
                return KeySource::Credential(path);
            }
        }
        KeySource::File(config.secret_key_path())
    }

    pub(crate) fn path(&self) -> &Path {
        match self {
            KeySource::File(p) | KeySource::Credential(p) => p,
        }
    }
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "key file {}", p.display()),
            KeySource::Credential(p) => write!(f, "systemd credential {}", p.display()),
        }
    }
}

fn pending_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

fn read_key(path: &Path) -> Result<SecretKey, SecretsError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError {
        path: path.to_path_buf(),
        what: "cannot read the secret key",
        source,
    })?;
    SecretKey::from_hex(&text).map_err(|message| SecretsError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

/// Reads the key; a missing key file is made (0600) when `create`. Returns whether it was made.
pub(crate) fn load(source: &KeySource, create: bool) -> Result<(SecretKey, bool), SecretsError> {
    let path = source.path();
    if let KeySource::File(path) = source {
        if !path.exists() {
            if !create {
                return Err(SecretsError::Missing(path.clone()));
            }
            let key = SecretKey::generate();
            files::write_new_private(path, format!("{}\n", key.to_hex()).as_bytes())?;
            tracing::info!(path = %path.display(), "created the secret key for secrets at rest");
            return Ok((key, true));
        }
        files::tighten(path, 0o600)?;
    }
    Ok((read_key(path)?, false))
}

/// Opens the registry at `db` with the server's key (made at first start), finishing a key
/// rotation a crash interrupted. A key file made here for a registry it does not open is removed
/// again, so a later start with the right key file restored is not confused by it.
pub(crate) async fn open_registry(db: &Path, source: &KeySource) -> Result<Registry, SecretsError> {
    let (key, created) = load(source, true)?;
    let opened = Registry::open(db, key).await;
    let KeySource::File(path) = source else {
        return Ok(opened?);
    };
    let pending = pending_path(path);
    match opened {
        Ok(registry) => {
            // A rotation that never committed left its key behind: it opens nothing.
            let _ = std::fs::remove_file(&pending);
            Ok(registry)
        }
        Err(RegistryError::WrongKey) if pending.exists() => {
            let registry = Registry::open(db, read_key(&pending)?).await?;
            std::fs::rename(&pending, path).map_err(|source| FileError {
                path: pending.clone(),
                what: "cannot finish an interrupted key rotation",
                source,
            })?;
            tracing::warn!(path = %path.display(), "finished a key rotation that was interrupted");
            Ok(registry)
        }
        Err(e) => {
            if created {
                let _ = std::fs::remove_file(path);
            }
            Err(e.into())
        }
    }
}

/// `clubhost secrets rotate-key`: a new key for every secret, in one transaction; see the module
/// docs for why it cannot lose them.
pub(crate) async fn rotate(
    registry: &Registry,
    source: &KeySource,
    actor: &str,
) -> Result<u64, SecretsError> {
    let path = match source {
        KeySource::File(p) => p,
        KeySource::Credential(p) => return Err(SecretsError::NotRotatable(p.clone())),
    };
    let pending = pending_path(path);
    let _ = std::fs::remove_file(&pending);
    let new = SecretKey::generate();
    files::write_new_private(&pending, format!("{}\n", new.to_hex()).as_bytes())?;
    let count = match registry.rotate_key(new, actor).await {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            return Err(e.into());
        }
    };
    std::fs::rename(&pending, path).map_err(|source| FileError {
        path: pending.clone(),
        what: "the registry uses this new key now but it could not replace the old key file",
        source,
    })?;
    tracing::info!(path = %path.display(), secrets = count, "secret key rotated");
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_made_once_and_an_interrupted_rotation_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("clubhost.db");
        let source = KeySource::File(dir.path().join("secret.key"));
        let reg = open_registry(&db, &source).await.unwrap();
        assert_eq!(files::mode_of(source.path()), Some(0o600));
        let first = std::fs::read_to_string(source.path()).unwrap();
        assert_eq!(first.trim().len(), 64);
        reg.add_user("ana", false, None, "t").await.unwrap();
        reg.close().await;

        // A rotation that committed but died before the rename: the next open finishes it.
        let reg = open_registry(&db, &source).await.unwrap();
        assert_eq!(std::fs::read_to_string(source.path()).unwrap(), first);
        let new = SecretKey::generate();
        std::fs::write(pending_path(source.path()), new.to_hex()).unwrap();
        reg.rotate_key(new.clone(), "t").await.unwrap();
        reg.close().await;
        let reg = open_registry(&db, &source).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(source.path()).unwrap().trim(),
            new.to_hex()
        );
        assert!(!pending_path(source.path()).exists());
        reg.close().await;

        // A missing key for a registry that has secrets: refused, and no stray key file left.
        std::fs::remove_file(source.path()).unwrap();
        let err = open_registry(&db, &source).await.err().unwrap();
        assert!(err.to_string().contains("secret key"), "{err}");
        assert!(!source.path().exists());
        assert!(matches!(
            load(&source, false),
            Err(SecretsError::Missing(_))
        ));
    }

    #[tokio::test]
    async fn rotate_writes_the_new_key_file_and_credentials_are_not_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("clubhost.db");
        let source = KeySource::File(dir.path().join("secret.key"));
        let reg = open_registry(&db, &source).await.unwrap();
        let before = std::fs::read_to_string(source.path()).unwrap();
        assert_eq!(rotate(&reg, &source, "t").await.unwrap(), 0);
        let after = std::fs::read_to_string(source.path()).unwrap();
        assert_ne!(before, after);
        assert_eq!(files::mode_of(source.path()), Some(0o600));
        let cred = KeySource::Credential(source.path().to_path_buf());
        let err = rotate(&reg, &cred, "t").await.unwrap_err();
        assert!(err.to_string().contains("systemd credential"), "{err}");
    }
}
