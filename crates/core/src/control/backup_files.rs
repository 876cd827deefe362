//! A member's way to their backups' data (the portal's "My projects" → Backups): the files of a
//! backup they may download, each by a name its manifest lists, and the whole backup as one tar
//! archive ([`crate::backup::archive`]), plus the page's address the expiry notes link to.

use std::path::PathBuf;

use super::backup::{BackupInfo, internal};
use super::{Control, ControlError, Result};
use crate::backup as format;

impl Control {
    /// The portal page where a project's owner downloads its backups (linked from the expiry
    /// notes for the whole grace period).
    pub(crate) fn backups_url(&self, slug: &str) -> String {
        self.config()
            .portal_url(&format!("projects/{slug}/backups"))
    }

    /// One complete backup, for the portal's download (the caller checks who asks).
    pub async fn backup_info(&self, id: i64) -> Result<BackupInfo> {
        Ok(self.info(&self.registry.backup(id).await?))
    }

    /// The files of backup `id` a member may download (the manifest, the record, each volume's
    /// archive and dump; not the sealed secrets, which only this server's key opens), as listed
    /// in its manifest.
    pub async fn backup_files(&self, id: i64) -> Result<(BackupInfo, Vec<format::FileEntry>)> {
        let info = self.backup_info(id).await?;
        let manifest = format::read_manifest(&info.path).map_err(internal)?;
        let mut files: Vec<format::FileEntry> = manifest
            .files()
            .into_iter()
            .filter(|f| f.file != format::SECRETS)
            .cloned()
            .collect();
        let bytes = std::fs::metadata(info.path.join(format::MANIFEST))
            .map(|m| m.len())
            .unwrap_or(0);
        files.insert(
            0,
            format::FileEntry {
                file: format::MANIFEST.into(),
                bytes,
                sha256: String::new(),
            },
        );
        Ok((info, files))
    }

    /// Backup `id` as one tar archive for its owner ([`format::archive`]): its members (every
    /// downloadable file, the sealed secrets left out) and the archive's length. Each file's
    /// size is checked against the manifest first, so a damaged backup is refused before a byte
    /// is sent.
    pub async fn backup_archive(
        &self,
        id: i64,
    ) -> Result<(BackupInfo, Vec<format::archive::Member>, u64)> {
        let info = self.backup_info(id).await?;
        let manifest = format::read_manifest(&info.path).map_err(internal)?;
        let manifest_bytes = std::fs::metadata(info.path.join(format::MANIFEST))
            .map_err(internal)?
            .len();
        let members = format::archive::members(&info.path, &manifest, manifest_bytes);
        for m in &members {
            let on_disk = std::fs::metadata(&m.path).map(|md| md.len()).ok();
            if on_disk != Some(m.bytes) {
                return Err(ControlError::Invalid(format!(
                    "backup {id} is damaged ({} is not the size its manifest says); ask an admin",
                    m.name
                )));
            }
        }
        let length = format::archive::length(&members);
        Ok((info, members, length))
    }

    /// Where one downloadable file of backup `id` is: only a name [`Control::backup_files`]
    /// lists, so no other path can be asked for.
    pub async fn backup_file(&self, id: i64, file: &str) -> Result<PathBuf> {
        let (info, files) = self.backup_files(id).await?;
        if !files.iter().any(|f| f.file == file) {
            return Err(clubhost_registry::RegistryError::NotFound(format!(
                "file {file:?} in backup {id}"
            ))
            .into());
        }
        Ok(info.path.join(file))
    }
}
