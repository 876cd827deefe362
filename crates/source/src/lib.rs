//! A member's project files, taken in safely: a folder (copied), an archive (`.tar`, `.tar.gz`,
//! `.zip`) or a git repository, each written to a staging folder under
//! `<data_dir>/projects/` and renamed to `<slug>/<revision>/` only once complete, so a refused or
//! failed intake leaves nothing behind (the staging folder is removed when [`Staged`] is dropped).
//!
//! Everything is checked *while* it is written, never after: a path that climbs out (`..`, an
//! absolute path), a symbolic link, a device file or FIFO, a hard link to anything but a file
//! already taken in, more bytes than `max_unpacked` or more entries than `max_files` stops the
//! intake at that entry. Symbolic links are refused outright, even ones that stay inside the tree:
//! the files are later used as a build context, copied into volumes and served by a static site,
//! and each of those would follow a link at its own time against its own root; refusing links
//! means no later step ever has to judge one (the refusal names the file, so a member replaces it
//! with a copy). Modes are not taken from the archive: folders are 0700, files 0600 (0700 when
//! executable), owned by the server's user.
//!
//! Layout: `archive` (tar and zip), `folder` (copy and pack a local folder), `git` (the clone),
//! `paths` (entry names to safe relative paths), `budget` (the caps), `stackfile` (which stack
//! file, or one generated from a Dockerfile or an `index.html`), `lookup` (the paths a stack
//! names, looked up in the files).
//!
//! Architecture invariant: no registry, no Docker, no runtime: plain file work and one child
//! process (`git`), so control runs it on a blocking thread.

#![warn(missing_docs)]

mod archive;
mod budget;
mod folder;
mod git;
mod inventory;
pub mod lookup;
mod paths;
mod stackfile;

use std::path::{Path, PathBuf};

pub use folder::pack_dir;
pub use git::{GitSource, check_git_url};
pub use inventory::{Inventory, inventory};
pub use stackfile::{STACK_NAMES, StackFile, StackOrigin, find_stack};

/// The caps on one project's files (`[build]` `max_compressed`, `max_unpacked`, `max_files`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Largest archive (or git download) accepted, in bytes.
    pub max_compressed: u64,
    /// Largest total size of the files once unpacked, in bytes.
    pub max_unpacked: u64,
    /// Most files and folders.
    pub max_files: u64,
}

/// Why an intake was refused or failed. Every message says what and where.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An entry that may not be taken in (a path escaping, a link, a device file): `path` is the
    /// entry's name as the archive or folder gave it.
    #[error("{path:?}: {reason}")]
    Refused {
        /// The entry, as named in the archive, folder or repository.
        path: String,
        /// Why it is refused and what to do.
        reason: String,
    },
    /// A cap was passed; the message names the cap and its value.
    #[error("{0}")]
    TooLarge(String),
    /// Not something clubhost can take (not an archive, a URL it may not fetch, no stack file).
    #[error("{0}")]
    Invalid(String),
    /// The git child failed or was stopped; its last lines of output are in the message.
    #[error("git: {0}")]
    Git(String),
    /// The server's own file system failed (a fault of the server, not of the files).
    #[error("{what}: {source}")]
    Io {
        /// What was being done, and where.
        what: String,
        /// The error underneath.
        source: std::io::Error,
    },
}

impl SourceError {
    /// Whether this is the server's fault (its disk), not the submission's.
    pub fn is_internal(&self) -> bool {
        matches!(self, SourceError::Io { .. })
    }
}

pub(crate) type Result<T> = std::result::Result<T, SourceError>;

pub(crate) fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> SourceError {
    move |source| SourceError::Io {
        what: what.to_string(),
        source,
    }
}

/// Where projects' files live: `<data_dir>/projects`, one folder per project and in it one per
/// revision.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A project's files taken in but not yet kept: they sit in a staging folder that is removed
/// when this is dropped, unless [`Staged::keep`] renamed it into place.
#[derive(Debug)]
pub struct Staged {
    dir: tempfile::TempDir,
    /// Files and folders taken in.
    pub entries: u64,
    /// Bytes written.
    pub bytes: u64,
    /// The commit the files are from, for a git intake.
    pub commit: Option<String>,
}

impl Store {
    /// The store at `root` (`<data_dir>/projects`); nothing is created until an intake.
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The folder of one revision of a project's files.
    pub fn revision_dir(&self, slug: &str, revision: i64) -> PathBuf {
        self.root.join(slug).join(revision.to_string())
    }

    /// Removes every stored revision of a project (it was deleted); absent is fine.
    pub fn remove_project(&self, slug: &str) -> Result<()> {
        match std::fs::remove_dir_all(self.root.join(slug)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io(format!("removing the files of {slug}"))(e))
            }
            _ => Ok(()),
        }
    }

    /// The revisions of a project's files on disk, oldest first (staging folders and anything
    /// that is not a revision number are not listed).
    pub fn revisions(&self, slug: &str) -> Result<Vec<i64>> {
        let dir = self.root.join(slug);
        let entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(format!("listing {}", dir.display()))(e)),
        };
        let mut out: Vec<i64> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|r: &i64| *r > 0)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Removes a project's older revisions: keeps the newest `keep_last` and every one in
    /// `protect` (the deployed and the pending revision). Returns the revisions removed, oldest
    /// first.
    pub fn prune(&self, slug: &str, keep_last: usize, protect: &[i64]) -> Result<Vec<i64>> {
        let removed = self.prunable(slug, keep_last, protect)?;
        for &r in &removed {
            let dir = self.revision_dir(slug, r);
            std::fs::remove_dir_all(&dir).map_err(io(format!("removing {}", dir.display())))?;
        }
        Ok(removed)
    }

    /// What [`Store::prune`] would remove, removing nothing.
    pub fn prunable(&self, slug: &str, keep_last: usize, protect: &[i64]) -> Result<Vec<i64>> {
        let all = self.revisions(slug)?;
        let cut = all.len().saturating_sub(keep_last);
        Ok(all[..cut]
            .iter()
            .copied()
            .filter(|r| !protect.contains(r))
            .collect())
    }

    /// A fresh staging folder (0700) inside the store, so the final rename stays on one file
    /// system.
    fn staging(&self, prefix: &str) -> Result<tempfile::TempDir> {
        use std::os::unix::fs::PermissionsExt;
        private_dir(&self.root)?;
        tempfile::Builder::new()
            .prefix(prefix)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&self.root)
            .map_err(io(format!(
                "creating a staging folder in {}",
                self.root.display()
            )))
    }

    /// Takes in an archive file (tar, gzip-compressed tar or zip, told apart by their first
    /// bytes, not their name).
    pub fn stage_archive(&self, archive: &Path, caps: &Caps) -> Result<Staged> {
        let dir = self.staging(".incoming-")?;
        let mut budget = budget::Budget::new(caps);
        archive::unpack_file(archive, dir.path(), &mut budget, caps)?;
        Ok(Staged::new(dir, &budget, None))
    }

    /// Copies a local folder (`.git` folders left out: repository metadata, never deployed).
    pub fn stage_dir(&self, src: &Path, caps: &Caps) -> Result<Staged> {
        let dir = self.staging(".incoming-")?;
        let mut budget = budget::Budget::new(caps);
        folder::copy(src, dir.path(), &mut budget)?;
        Ok(Staged::new(dir, &budget, None))
    }

    /// Clones a git repository (shallow, through the `git` child: see the `git` module) and takes
    /// in the files of its commit.
    pub fn stage_git(
        &self,
        source: &GitSource,
        caps: &Caps,
        timeout: std::time::Duration,
    ) -> Result<Staged> {
        let dir = self.staging(".incoming-")?;
        let work = self.staging(".git-")?;
        let mut budget = budget::Budget::new(caps);
        let commit = git::fetch(source, work.path(), dir.path(), &mut budget, caps, timeout)?;
        Ok(Staged::new(dir, &budget, Some(commit)))
    }
}

/// An archive being received (an upload, streamed in chunks): a file in the store's folder,
/// refused the moment it passes `max_compressed`, removed when dropped.
#[derive(Debug)]
pub struct Upload {
    file: tempfile::NamedTempFile,
    written: u64,
    cap: u64,
}

impl Upload {
    /// Appends one chunk; past the cap the upload is refused (and, dropped, removed).
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        use std::io::Write;
        self.written += chunk.len() as u64;
        if self.written > self.cap {
            return Err(SourceError::TooLarge(format!(
                "the upload is larger than {} bytes; the limit is [build] max_compressed",
                self.cap
            )));
        }
        self.file.write_all(chunk).map_err(io("writing the upload"))
    }

    /// Where the received bytes are.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

impl Store {
    /// A new, empty upload in the store's folder, capped at `caps.max_compressed`.
    pub fn upload(&self, caps: &Caps) -> Result<Upload> {
        private_dir(&self.root)?;
        let file = tempfile::Builder::new()
            .prefix(".upload-")
            .tempfile_in(&self.root)
            .map_err(io(format!("creating an upload in {}", self.root.display())))?;
        Ok(Upload {
            file,
            written: 0,
            cap: caps.max_compressed,
        })
    }
}

impl Staged {
    fn new(dir: tempfile::TempDir, budget: &budget::Budget, commit: Option<String>) -> Staged {
        Staged {
            dir,
            entries: budget.entries(),
            bytes: budget.bytes(),
            commit,
        }
    }

    /// Where the files are while staged (to find the stack file and check it before keeping).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Moves the files into place as `slug`'s revision `revision` (one rename). A revision
    /// folder already there is an error: revisions are never overwritten.
    pub fn keep(self, store: &Store, slug: &str, revision: i64) -> Result<PathBuf> {
        let project = store.root.join(slug);
        private_dir(&project)?;
        let dest = store.revision_dir(slug, revision);
        if dest.exists() {
            return Err(SourceError::Invalid(format!(
                "{} already exists; a revision is never overwritten",
                dest.display()
            )));
        }
        let staged = self.dir.keep();
        std::fs::rename(&staged, &dest).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staged);
            io(format!("moving the files into {}", dest.display()))(e)
        })?;
        Ok(dest)
    }
}

/// Creates `dir` (and parents) with mode 0700, tightening an existing one.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(format!("creating {}", dir.display())))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io(format!("setting the mode of {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_and_the_protected_revisions() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path());
        assert_eq!(store.prune("app", 2, &[]).unwrap(), Vec::<i64>::new());
        for r in 1..=6 {
            std::fs::create_dir_all(store.revision_dir("app", r)).unwrap();
            std::fs::write(store.revision_dir("app", r).join("f"), "x").unwrap();
        }
        // A staging folder is no revision and is left alone.
        std::fs::create_dir_all(root.path().join("app/.incoming-x")).unwrap();
        assert_eq!(store.revisions("app").unwrap(), [1, 2, 3, 4, 5, 6]);
        // The newest two, and 2 (say, deployed) kept; a dry run removes nothing.
        assert_eq!(store.prunable("app", 2, &[2]).unwrap(), [1, 3, 4]);
        assert_eq!(store.revisions("app").unwrap().len(), 6);
        assert_eq!(store.prune("app", 2, &[2]).unwrap(), [1, 3, 4]);
        assert_eq!(store.revisions("app").unwrap(), [2, 5, 6]);
        assert!(root.path().join("app/.incoming-x").exists());
        // Nothing more to do the second time.
        assert!(store.prune("app", 2, &[2]).unwrap().is_empty());
    }
}
