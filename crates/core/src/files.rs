//! Owner-only files: everything clubhost writes (the registry and its WAL, the secret key, the
//! admin socket, backups, the test clock) is readable by the user running it and no one else.
//!
//! [`private_umask`] makes that the default for every file the process creates, including the
//! ones SQLite creates on its own (`-wal`, `-shm`); [`private_dir`] and [`tighten`] fix modes left
//! looser by an older release or by hand, saying so in the log.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What went wrong with a file or directory clubhost keeps, and where.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}: {source}")]
pub(crate) struct FileError {
    /// The file or directory.
    pub(crate) path: PathBuf,
    /// What was being done to it (`creating`, `tightening the mode of`).
    pub(crate) what: &'static str,
    /// The operating system's error.
    pub(crate) source: std::io::Error,
}

fn err(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> FileError {
    let path = path.to_path_buf();
    move |source| FileError { path, what, source }
}

/// Sets the process's umask to 0077, so every file and directory created from now on (by this
/// code, by SQLite, by anything else in the process) is owner-only. Called at the start of
/// `serve` and of the CLI's in-process mode.
pub fn private_umask() {
    // SAFETY: umask(2) only swaps the process's file creation mask; it cannot fail and touches
    // no memory. std has no wrapper for it.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates `dir` (and its parents) as 0700 if missing; an existing one that others can reach is
/// tightened to 0700, with a log line.
pub(crate) fn private_dir(dir: &Path) -> Result<(), FileError> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err(dir, "cannot create the directory"))?;
    }
    tighten(dir, 0o700)
}

/// If `path` exists with any permission for group or others, sets it to `mode` and logs it.
pub(crate) fn tighten(path: &Path, mode: u32) -> Result<(), FileError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(path, "cannot read its mode")(e)),
    };
    let old = meta.permissions().mode() & 0o777;
    if old & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(err(path, "cannot make it owner-only"))?;
        tracing::warn!(
            path = %path.display(),
            old = format!("{old:04o}"),
            new = format!("{mode:04o}"),
            "tightened a mode others could use"
        );
    }
    Ok(())
}

/// The registry's files: the database and SQLite's write-ahead log and shared memory beside it.
pub(crate) fn database_files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        })
        .collect()
}

/// Writes `bytes` to a new file at `path` with mode 0600 (whatever the umask), replacing
/// nothing: an existing file is an error.
pub(crate) fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err(path, "cannot create the file"))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(err(path, "cannot write the file"))
}

/// A file's permission bits, if it exists.
pub(crate) fn mode_of(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_dirs_and_files_are_tightened_and_new_ones_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b");
        private_dir(&data).unwrap();
        assert_eq!(mode_of(&data), Some(0o700));
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&data).unwrap();
        assert_eq!(mode_of(&data), Some(0o700));

        let file = data.join("f");
        write_new_private(&file, b"x").unwrap();
        assert_eq!(mode_of(&file), Some(0o600));
        assert!(write_new_private(&file, b"y").is_err(), "never replaces");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        tighten(&file, 0o600).unwrap();
        assert_eq!(mode_of(&file), Some(0o600));
        // A missing file is not an error.
        tighten(&data.join("missing"), 0o600).unwrap();
    }
}
