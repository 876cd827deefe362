//! What a project backup is on disk, and checking one: plain data and file I/O, no Docker and no
//! registry (`control::backup` does the taking and restoring).
//!
//! A backup is a directory `<backup dir>/<slug>-<id>/` holding `manifest.json`, `project.json`
//! (the registry record: stack text, variables; secret values are not in it), `secrets.sealed`
//! (the secret variables, sealed with the registry's key and bound to this backup: a backup on
//! another disk reveals no secret, and a restore of a deleted project can still deploy a stack
//! that needs them; a key rotated since means they no longer open, and the restore says so) and
//! `volumes/<name>.tar`, each named volume as Docker's archive endpoint streamed it. The manifest
//! holds each file's size and SHA-256. It is written under `.partial-<slug>-<id>` and renamed
//! when complete, so a crash never leaves a directory that looks finished.

pub mod archive;
pub mod dumps;
pub mod restic;
pub mod retention;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest format this release writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's file name inside a backup.
pub const MANIFEST: &str = "manifest.json";
/// The registry record's file name.
pub const RECORD: &str = "project.json";
/// The sealed secret variables' file name.
pub const SECRETS: &str = "secrets.sealed";
/// Prefix of a backup being written.
pub const PARTIAL: &str = ".partial-";

/// Why a backup could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file could not be written or read; says which.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The manifest or record is not what this release writes.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One file of a backup, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the backup's directory.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// How a volume's contents were kept consistent while read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// No running container wrote to it (the project was stopped, or mounts it read-only).
    Idle,
    /// The containers mounting it were paused while it was read.
    Paused,
    /// A database writes to it and was not paused: its files were copied live, and a logical
    /// dump of the database (in [`Manifest::dumps`]) is the consistent copy.
    DumpedLive,
}

/// A database's logical dump, taken inside its running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpEntry {
    /// The stack service it was taken from.
    pub service: String,
    /// The database engine.
    pub engine: dumps::Engine,
    /// The dump file (`dumps/<service>.sql`).
    pub dump: FileEntry,
}

/// One named volume in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeEntry {
    /// The stack's name for it (`data`), which names the Docker volume of any slug.
    pub name: String,
    /// The Docker volume it was read from (`clubhost-blog-data`).
    pub docker_volume: String,
    /// Its tar archive.
    pub archive: FileEntry,
    /// How the copy was kept consistent.
    pub consistency: Consistency,
    /// How long its containers were paused, in milliseconds (with [`Consistency::Paused`]).
    pub paused_ms: Option<u64>,
    /// The services whose containers were paused.
    pub paused: Vec<String>,
}

/// `manifest.json`: what a backup holds and how to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] when written.
    pub format: u32,
    /// The backup's id (its registry row).
    pub id: i64,
    /// The project's slug.
    pub project: String,
    /// The project's latest deployment id when backed up; `None` if it never deployed.
    pub revision: Option<i64>,
    /// When it was taken, Unix seconds.
    pub created_at: i64,
    /// The same, RFC 3339, for people.
    pub created: String,
    /// The registry record.
    pub record: FileEntry,
    /// The sealed secret variables, if the project has any.
    pub secrets: Option<FileEntry>,
    /// Every named volume that existed.
    pub volumes: Vec<VolumeEntry>,
    /// Logical dumps of the project's databases.
    #[serde(default)]
    pub dumps: Vec<DumpEntry>,
    /// Volumes the stack names that did not exist on Docker (never deployed): nothing to keep.
    pub absent_volumes: Vec<String>,
}

/// `project.json`: the registry record a deleted project is brought back from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// The slug it had.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The member's description.
    pub description: String,
    /// The owner's user name.
    pub owner: String,
    /// Served at `/`.
    pub is_root: bool,
    /// Term length in days.
    pub term_days: i64,
    /// Never expires.
    pub permanent: bool,
    /// The stack file exactly as stored.
    pub stack_source: String,
    /// Plain variables, by name.
    pub variables: BTreeMap<String, String>,
    /// Names of the secret variables; their values are in `secrets.sealed`, never here.
    pub secret_names: Vec<String>,
}

impl Manifest {
    /// Every file the manifest lists.
    pub fn files(&self) -> Vec<&FileEntry> {
        let mut files = vec![&self.record];
        files.extend(self.secrets.as_ref());
        files.extend(self.volumes.iter().map(|v| &v.archive));
        files.extend(self.dumps.iter().map(|d| &d.dump));
        files
    }

    /// Bytes of every file listed.
    pub fn bytes(&self) -> u64 {
        self.files().iter().map(|f| f.bytes).sum()
    }
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `data` to `dir/name` (synced) and returns its entry.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> Result<FileEntry, BackupError> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut f = std::fs::File::create(&path).map_err(io(&path))?;
    f.write_all(data).map_err(io(&path))?;
    f.sync_all().map_err(io(&path))?;
    Ok(FileEntry {
        file: name.to_string(),
        bytes: data.len() as u64,
        sha256: hex(&Sha256::digest(data)),
    })
}

/// A file being written while its SHA-256 is computed (a volume's archive as it streams).
pub struct HashingFile {
    file: std::fs::File,
    path: PathBuf,
    name: String,
    hasher: Sha256,
    bytes: u64,
}

impl HashingFile {
    /// Creates `dir/name`.
    pub fn create(dir: &Path, name: &str) -> Result<HashingFile, BackupError> {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        Ok(HashingFile {
            file,
            path,
            name: name.to_string(),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// Appends a chunk.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), BackupError> {
        self.file.write_all(chunk).map_err(io(&self.path))?;
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    /// Syncs the file and returns its entry.
    pub fn finish(self) -> Result<FileEntry, BackupError> {
        self.file.sync_all().map_err(io(&self.path))?;
        Ok(FileEntry {
            file: self.name,
            bytes: self.bytes,
            sha256: hex(&self.hasher.finalize()),
        })
    }
}

/// Size and SHA-256 of a file, read in chunks.
fn digest_file(path: &Path) -> Result<(u64, String), BackupError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex(&hasher.finalize())))
}

/// Reads a backup's manifest, refusing a format this release does not know.
pub fn read_manifest(dir: &Path) -> Result<Manifest, BackupError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(io(&path))?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| BackupError::Format {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if m.format != FORMAT_VERSION {
        return Err(BackupError::Format {
            path,
            message: format!(
                "format version {} (this release reads {FORMAT_VERSION})",
                m.format
            ),
        });
    }
    Ok(m)
}

/// Reads a verified backup's registry record.
pub fn read_record(dir: &Path) -> Result<ProjectRecord, BackupError> {
    let path = dir.join(RECORD);
    let text = std::fs::read(&path).map_err(io(&path))?;
    serde_json::from_slice(&text).map_err(|e| BackupError::Format {
        path,
        message: e.to_string(),
    })
}

/// Checks every file a backup's manifest lists against its size and SHA-256, and that the
/// manifest belongs to backup `id` of `project`. Returns the manifest, or every problem found.
pub fn verify(dir: &Path, id: i64, project: &str) -> Result<Manifest, Vec<String>> {
    let m = read_manifest(dir).map_err(|e| vec![e.to_string()])?;
    let mut problems = Vec::new();
    if m.id != id || m.project != project {
        problems.push(format!(
            "manifest names backup {} of {}, not backup {id} of {project}",
            m.id, m.project
        ));
    }
    for f in m.files() {
        if f.file.contains("..") || f.file.starts_with('/') {
            problems.push(format!("{}: not a path inside the backup", f.file));
            continue;
        }
        match digest_file(&dir.join(&f.file)) {
            Ok((bytes, sha)) if bytes == f.bytes && sha == f.sha256 => {}
            Ok((bytes, _)) if bytes != f.bytes => problems.push(format!(
                "{}: {bytes} bytes, the manifest says {}",
                f.file, f.bytes
            )),
            Ok(_) => problems.push(format!("{}: SHA-256 does not match the manifest", f.file)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(m)
    } else {
        Err(problems)
    }
}

/// The directory name of a complete backup.
pub fn dir_name(slug: &str, id: i64) -> String {
    format!("{slug}-{id}")
}

/// The directory name of a backup being written.
pub fn partial_name(slug: &str, id: i64) -> String {
    format!("{PARTIAL}{slug}-{id}")
}

/// Writes the manifest (synced), then renames `partial` to `done` and syncs the parent
/// directory: the backup appears complete at once or not at all.
pub fn seal(partial: &Path, done: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Format {
        path: partial.join(MANIFEST),
        message: e.to_string(),
    })?;
    write_file(partial, MANIFEST, &json)?;
    if let Ok(d) = std::fs::File::open(partial.join("volumes")) {
        let _ = d.sync_all();
    }
    std::fs::rename(partial, done).map_err(io(done))?;
    if let Some(parent) = done.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> Manifest {
        std::fs::create_dir_all(dir.join("volumes")).unwrap();
        let record = write_file(dir, RECORD, b"{}").unwrap();
        let mut tar = HashingFile::create(dir, "volumes/data.tar").unwrap();
        tar.write(b"abc").unwrap();
        tar.write(&[7u8; 5000]).unwrap();
        let archive = tar.finish().unwrap();
        Manifest {
            format: FORMAT_VERSION,
            id: 4,
            project: "blog".into(),
            revision: Some(2),
            created_at: 0,
            created: "1970-01-01T00:00:00Z".into(),
            record,
            secrets: None,
            volumes: vec![VolumeEntry {
                name: "data".into(),
                docker_volume: "clubhost-blog-data".into(),
                archive,
                consistency: Consistency::Idle,
                paused_ms: None,
                paused: Vec::new(),
            }],
            dumps: Vec::new(),
            absent_volumes: Vec::new(),
        }
    }

    #[test]
    fn a_sealed_backup_verifies_and_a_changed_byte_is_found() {
        let root = tempfile::tempdir().unwrap();
        let partial = root.path().join(partial_name("blog", 4));
        let done = root.path().join(dir_name("blog", 4));
        let m = sample(&partial);
        assert_eq!(m.bytes(), 2 + 5003);
        seal(&partial, &done, &m).unwrap();
        assert!(!partial.exists());
        assert_eq!(verify(&done, 4, "blog").unwrap(), m);
        // Another backup's manifest is refused.
        assert!(verify(&done, 5, "blog").is_err());
        // One byte changed, same length.
        let tar = done.join("volumes/data.tar");
        let mut bytes = std::fs::read(&tar).unwrap();
        bytes[4000] ^= 1;
        std::fs::write(&tar, &bytes).unwrap();
        let problems = verify(&done, 4, "blog").unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("volumes/data.tar: SHA-256"),
            "{problems:?}"
        );
        // Truncated.
        std::fs::write(&tar, b"abc").unwrap();
        let problems = verify(&done, 4, "blog").unwrap_err();
        assert!(problems[0].contains("3 bytes"), "{problems:?}");
    }

    #[test]
    fn an_unknown_format_or_a_missing_manifest_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("b");
        let mut m = sample(&dir);
        assert!(verify(&dir, 4, "blog").unwrap_err()[0].contains(MANIFEST));
        m.format = 99;
        write_file(&dir, MANIFEST, &serde_json::to_vec(&m).unwrap()).unwrap();
        let problems = verify(&dir, 4, "blog").unwrap_err();
        assert!(problems[0].contains("format version 99"), "{problems:?}");
    }
}
