//! Taking project backups (`clubhost backup create`), listing, verifying and pruning them. The
//! format is `crate::backup`'s; restoring is `backup_restore.rs`.
//!
//! A backup holds the project's registry record and every named volume, each read through
//! Docker's archive endpoint from a helper container made from the project's own image (never
//! started, nothing pulled). While a volume is read, the running containers that write to it are
//! paused, and how long is recorded. Two backups of one project never overlap (a second is
//! refused while one runs); a backup waits for the project's operation lock, so it never sees a
//! deploy half done, and never holds another project's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;

use super::{Control, ControlError, Result};
use crate::backup::{
    self as format, Consistency, DumpEntry, HashingFile, Manifest, ProjectRecord, VolumeEntry,
    dumps,
    retention::{self, Policy},
};
use crate::notify::Note;
use clubhost_deploy as deploy;
use clubhost_docker::{Engine, VOLUME_MOUNT};
use clubhost_registry::{BackupRow, Project, now};

/// A backup as the faces list it.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    /// Its id.
    pub id: i64,
    /// The project's slug.
    pub project: String,
    /// When it was taken, Unix seconds.
    pub created_at: i64,
    /// Bytes of all its files.
    pub bytes: i64,
    /// Who asked for it.
    pub actor: String,
    /// Its directory.
    pub path: PathBuf,
    /// The restic snapshot it was copied into off-site, if it was.
    pub offsite: Option<String>,
    /// Why its off-site copy failed, if it did.
    pub offsite_error: Option<String>,
}

/// What `backup verify` found for one backup.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The backup's id.
    pub id: i64,
    /// The project's slug.
    pub project: String,
    /// Every problem: a file missing, its size or SHA-256 not the manifest's. Empty when sound.
    pub problems: Vec<String>,
}

/// What `backup prune` removed and kept.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Ids removed.
    pub removed: Vec<i64>,
    /// Ids kept.
    pub kept: Vec<i64>,
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ControlError {
    ControlError::Internal(e.to_string())
}

impl Control {
    /// The backup directory (`[backup] dir`), created 0700 if missing.
    pub(crate) fn backup_root(&self) -> Result<PathBuf> {
        let dir = self.config.backup.dir(&self.config.data_dir);
        crate::files::private_dir(&dir).map_err(internal)?;
        Ok(dir)
    }

    pub(super) fn info(&self, row: &BackupRow) -> BackupInfo {
        let root = self.config.backup.dir(&self.config.data_dir);
        BackupInfo {
            id: row.id,
            project: row.project.clone(),
            created_at: row.started_at,
            bytes: row.bytes,
            actor: row.actor.clone(),
            path: root.join(row.dir.clone().unwrap_or_default()),
            offsite: row.offsite.clone(),
            offsite_error: row.offsite_error.clone(),
        }
    }

    /// Complete backups, newest first, of one project or all.
    pub async fn backups(&self, project: Option<&str>) -> Result<Vec<BackupInfo>> {
        let rows = self.registry.backups(project, false).await?;
        Ok(rows.iter().map(|r| self.info(r)).collect())
    }

    /// Backs up one project now; returns the complete backup. A failure leaves no directory that
    /// looks complete, marks the attempt failed and tells the admins.
    pub async fn create_backup(&self, slug: &str, actor: &str) -> Result<BackupInfo> {
        let project = self.registry.project(slug).await?;
        let backup_lock = self.lock_for(&format!("backup:{slug}"));
        let Ok(_backing_up) = backup_lock.try_lock_owned() else {
            return Err(ControlError::Invalid(format!(
                "a backup of {slug} is running already; wait for it to finish"
            )));
        };
        let held = self.lock_for(slug).lock_owned().await;
        let engine = self.engine_now().await?;
        let root = self.backup_root()?;
        let id = self.registry.start_backup(slug, actor).await?;
        let partial = root.join(format::partial_name(slug, id));
        let done = root.join(format::dir_name(slug, id));
        let written = self
            .write_backup(engine, &project, id, &partial, &done)
            .await;
        match written {
            Ok(bytes) => {
                self.registry
                    .complete_backup(id, &format::dir_name(slug, id), bytes)
                    .await?;
                // The copy off-site reads only the finished directory: a deploy of the project
                // may go on meanwhile (a second backup of it still waits).
                drop(held);
                self.copy_offsite(slug, id, &done).await?;
                self.info_by_id(id).await
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&partial);
                let message = e.to_string();
                tracing::warn!(project = slug, backup = id, error = %message, "backup failed");
                let notes = self.notifier.keep(vec![Note::admins(
                    slug,
                    format!("Backup of {slug} failed"),
                    format!("Backup {id} of {slug} failed: {message}"),
                )]);
                if let Err(e) = self.registry.fail_backup(id, &message, &notes).await {
                    tracing::warn!(backup = id, error = %e, "could not record a failed backup");
                }
                Err(e)
            }
        }
    }

    /// Copies complete backup `id` into `[backup] restic_repository`, if one is set, and records
    /// the snapshot (or why it failed, telling the admins: the backup itself stays good).
    async fn copy_offsite(&self, slug: &str, id: i64, dir: &Path) -> Result<()> {
        let b = &self.config.backup;
        let (Some(location), Some(password_file)) = (&b.restic_repository, &b.restic_password_file)
        else {
            return Ok(());
        };
        let repo = format::restic::Repository {
            location: location.clone(),
            password_file: password_file.clone(),
            cache_dir: self.config.data_dir.join("restic-cache"),
        };
        let copied = repo.copy(dir, slug, id).await;
        let notes = match &copied {
            Ok(snapshot) => {
                tracing::info!(project = slug, backup = id, %snapshot, "backup copied off-site");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(project = slug, backup = id, error = %e, "off-site copy failed");
                self.notifier.keep(vec![Note::admins(
                    slug,
                    format!("Off-site copy of {slug}'s backup failed"),
                    format!("Backup {id} of {slug} is complete here, but its copy to the restic repository failed: {e}"),
                )])
            }
        };
        self.registry
            .set_backup_offsite(id, copied.as_deref().map_err(String::as_str), &notes)
            .await?;
        Ok(())
    }

    async fn info_by_id(&self, id: i64) -> Result<BackupInfo> {
        Ok(self.info(&self.registry.backup(id).await?))
    }

    /// Backs up every project that has (or had) containers, one after another; a failure of one
    /// does not stop the others. Returns each project's backup or error message.
    pub async fn create_all_backups(
        &self,
        actor: &str,
    ) -> Result<Vec<(String, Result<BackupInfo>)>> {
        let mut out = Vec::new();
        for p in self.registry.projects().await? {
            if !has_data(&p) {
                continue;
            }
            let r = self.create_backup(&p.slug, actor).await;
            out.push((p.slug, r));
        }
        Ok(out)
    }

    async fn write_backup(
        &self,
        engine: &Engine,
        project: &Project,
        id: i64,
        partial: &Path,
        done: &Path,
    ) -> Result<u64> {
        let slug = &project.slug;
        std::fs::create_dir(partial).map_err(internal)?;
        let vars = self.registry.variables(slug).await?;
        let mut plain = BTreeMap::new();
        let mut secret = BTreeMap::new();
        for (name, v) in &vars.0 {
            if v.secret {
                secret.insert(name.clone(), v.value.clone());
            } else {
                plain.insert(name.clone(), v.value.clone());
            }
        }
        let record = ProjectRecord {
            slug: slug.clone(),
            name: project.name.clone(),
            description: project.description.clone(),
            owner: project.owner.clone(),
            is_root: project.is_root,
            term_days: project.term_days,
            permanent: project.permanent,
            stack_source: project.stack_source.clone(),
            variables: plain,
            secret_names: secret.keys().cloned().collect(),
        };
        let record_json = serde_json::to_vec_pretty(&record).map_err(internal)?;
        let record = format::write_file(partial, format::RECORD, &record_json).map_err(internal)?;
        let secrets = if secret.is_empty() {
            None
        } else {
            let json = serde_json::to_vec(&secret).map_err(internal)?;
            let sealed = self.registry.seal_for_backup(id, slug, &json).await;
            Some(format::write_file(partial, format::SECRETS, &sealed).map_err(internal)?)
        };
        let stack = self.project_stack(project).await?;
        let containers = engine.containers(Some(slug)).await?;
        let (dumps, dumped) = self
            .dump_databases(engine, &stack, &containers, partial)
            .await?;
        let mut volumes = Vec::new();
        let mut absent_volumes = Vec::new();
        for volume in &stack.volumes {
            let docker_volume = deploy::volume_name(slug, volume);
            if engine.volume_project(&docker_volume).await?.is_none() {
                absent_volumes.push(volume.clone());
                continue;
            }
            // The services that mount it, and the running containers of theirs that may write.
            let users: Vec<&clubhost_stack::ServiceSpec> = stack
                .services
                .iter()
                .filter(|s| s.mounts.iter().any(|m| &m.volume == volume))
                .collect();
            let all_writers: Vec<&clubhost_docker::ManagedContainer> = containers
                .iter()
                .filter(|c| {
                    c.running
                        && users.iter().any(|s| {
                            s.name == c.service
                                && s.mounts.iter().any(|m| &m.volume == volume && !m.read_only)
                        })
                })
                .collect();
            // A database that was dumped keeps running: its dump is the consistent copy.
            let (live, writers): (Vec<_>, Vec<_>) = all_writers
                .into_iter()
                .partition(|c| dumped.contains(&c.service));
            // The helper runs the image the project runs: a container's, else the stack's.
            let image = match containers
                .iter()
                .find(|c| users.iter().any(|s| s.name == c.service))
            {
                Some(c) => engine.container_image(&c.id).await?,
                None => users
                    .first()
                    .copied()
                    .or(stack.services.first())
                    .map(|s| s.image.clone())
                    .unwrap_or_default(),
            };
            let helper_name = format!("clubhost-{slug}-backup-{id}-{volume}");
            let helper = engine
                .volume_helper(&helper_name, &image, &docker_volume, slug, false)
                .await?;
            let copied = self
                .copy_volume(engine, &helper, &writers, partial, volume)
                .await;
            if let Err(e) = engine.remove_container(&helper).await {
                tracing::warn!(container = %helper_name, error = %e, "backup helper left behind");
            }
            let (archive, paused_ms) = copied?;
            let paused: Vec<String> = writers.iter().map(|c| c.service.clone()).collect();
            volumes.push(VolumeEntry {
                name: volume.clone(),
                docker_volume,
                archive,
                consistency: if !paused.is_empty() {
                    Consistency::Paused
                } else if !live.is_empty() {
                    Consistency::DumpedLive
                } else {
                    Consistency::Idle
                },
                paused_ms: (!paused.is_empty()).then_some(paused_ms),
                paused,
            });
        }
        let created_at = now();
        let manifest = Manifest {
            format: format::FORMAT_VERSION,
            id,
            project: slug.clone(),
            revision: self.registry.project_revision(slug).await?,
            created_at,
            created: super::terms::show_time(Some(created_at)),
            record,
            secrets,
            volumes,
            dumps,
            absent_volumes,
        };
        format::seal(partial, done, &manifest).map_err(internal)?;
        Ok(manifest.bytes())
    }

    /// Takes a logical dump of each running database service (by its `x-clubhost.database` or
    /// its image) into
    /// `dumps/<service>.sql`. Returns the entries and the services dumped. A dump that fails
    /// fails the backup: a copy that claims a consistent database must have one.
    async fn dump_databases(
        &self,
        engine: &Engine,
        stack: &clubhost_stack::Stack,
        containers: &[clubhost_docker::ManagedContainer],
        partial: &Path,
    ) -> Result<(Vec<DumpEntry>, Vec<String>)> {
        let mut entries = Vec::new();
        let mut services = Vec::new();
        for s in &stack.services {
            let Some(db) = dumps::of_service(s) else {
                continue;
            };
            let Some(c) = containers.iter().find(|c| c.running && c.service == s.name) else {
                continue;
            };
            let out = engine.exec_output(&c.id, &dumps::command(db)).await?;
            if out.exit_code != 0 {
                // The project's database refused, not the server: the admin sees why.
                return Err(ControlError::Invalid(format!(
                    "the database dump in service {} exited with {}: {}",
                    s.name,
                    out.exit_code,
                    out.stderr.trim()
                )));
            }
            let file = format!("dumps/{}.sql", s.name);
            let dump = format::write_file(partial, &file, &out.stdout).map_err(internal)?;
            entries.push(DumpEntry {
                service: s.name.clone(),
                engine: db,
                dump,
            });
            services.push(s.name.clone());
        }
        Ok((entries, services))
    }

    /// Reads one volume's archive from `helper` into `volumes/<name>.tar`, with `writers` paused
    /// for the copy (and unpaused whatever happens). Returns the entry and the pause's length.
    async fn copy_volume(
        &self,
        engine: &Engine,
        helper: &str,
        writers: &[&clubhost_docker::ManagedContainer],
        partial: &Path,
        volume: &str,
    ) -> Result<(format::FileEntry, u64)> {
        let mut paused = Vec::new();
        let started = Instant::now();
        let mut result = Ok(());
        for c in writers {
            match engine.pause(&c.id).await {
                Ok(()) => paused.push(c.id.clone()),
                Err(e) => {
                    result = Err(ControlError::from(e));
                    break;
                }
            }
        }
        let copied = match result {
            Ok(()) => self.download(engine, helper, partial, volume).await,
            Err(e) => Err(e),
        };
        for id in &paused {
            if let Err(e) = engine.unpause(id).await {
                tracing::error!(container = %id, error = %e, "could not unpause after a backup");
            }
        }
        let paused_ms = started.elapsed().as_millis() as u64;
        Ok((copied?, paused_ms))
    }

    async fn download(
        &self,
        engine: &Engine,
        helper: &str,
        partial: &Path,
        volume: &str,
    ) -> Result<format::FileEntry> {
        let mut out =
            HashingFile::create(partial, &format!("volumes/{volume}.tar")).map_err(internal)?;
        let mut stream =
            std::pin::pin!(engine.download_archive(helper, &format!("{VOLUME_MOUNT}/")));
        while let Some(chunk) = stream.next().await {
            out.write(&chunk?).map_err(internal)?;
        }
        out.finish().map_err(internal)
    }

    /// Checks backup `id`, or every complete backup, against its manifest's sizes and SHA-256.
    pub async fn verify_backups(&self, id: Option<i64>) -> Result<Vec<Verification>> {
        let rows = match id {
            Some(id) => vec![self.registry.backup(id).await?],
            None => self.registry.backups(None, false).await?,
        };
        let mut out = Vec::new();
        for row in rows {
            let info = self.info(&row);
            let (id, project) = (row.id, row.project.clone());
            let problems = tokio::task::spawn_blocking(move || {
                format::verify(&info.path, id, &project)
                    .err()
                    .unwrap_or_default()
            })
            .await
            .map_err(internal)?;
            out.push(Verification {
                id: row.id,
                project: row.project,
                problems,
            });
        }
        Ok(out)
    }

    /// Removes the backups `[backup]`'s retention does not keep, per project, and any directory a
    /// crashed backup left half written.
    pub async fn prune_backups(&self, actor: &str) -> Result<PruneReport> {
        let root = self.backup_root()?;
        self.sweep_partials(&root).await?;
        let policy = Policy {
            daily: self.config.backup.keep_daily,
            weekly: self.config.backup.keep_weekly,
            monthly: self.config.backup.keep_monthly,
        };
        let rows = self.registry.backups(None, false).await?;
        let mut by_project: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
        for r in &rows {
            by_project
                .entry(&r.project)
                .or_default()
                .push((r.id, r.started_at));
        }
        let mut report = PruneReport::default();
        let now = clubhost_registry::now();
        let after_purge = i64::from(self.config.backup.keep_after_purge) * 86_400;
        for (project, list) in by_project {
            // A purged project's backups outlive it by `keep_after_purge` days, then all go.
            let purged_long_ago = self
                .registry
                .purged_at(project)
                .await?
                .is_some_and(|at| now >= at + after_purge);
            let keep = if purged_long_ago {
                Default::default()
            } else {
                retention::keep(&list, policy)
            };
            let why = if purged_long_ago {
                "the project was purged over [backup] keep_after_purge days ago"
            } else {
                "not kept by [backup] retention"
            };
            for (id, _) in list {
                if keep.contains(&id) {
                    report.kept.push(id);
                    continue;
                }
                let dir = root.join(format::dir_name(project, id));
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(internal(format!("{}: {e}", dir.display()))),
                }
                self.registry.remove_backup(id, actor, why).await?;
                report.removed.push(id);
            }
        }
        report.kept.sort();
        report.removed.sort();
        Ok(report)
    }

    /// Removes directories of backups no longer running (a crash or SIGKILL mid-backup) and marks
    /// their rows failed.
    pub(crate) async fn sweep_partials(&self, root: &Path) -> Result<()> {
        let running: Vec<BackupRow> = self
            .registry
            .backups(None, true)
            .await?
            .into_iter()
            .filter(|r| r.state == "running")
            .collect();
        for r in running {
            // A backup running in this process holds its project's backup lock.
            let lock = self.lock_for(&format!("backup:{}", r.project));
            let Ok(_g) = lock.try_lock_owned() else {
                continue;
            };
            let _ = std::fs::remove_dir_all(root.join(format::partial_name(&r.project, r.id)));
            self.clean_helpers(&r.project, r.id).await;
            self.registry
                .fail_backup(r.id, "interrupted (the process stopped mid-backup)", &[])
                .await?;
        }
        Ok(())
    }
}

impl Control {
    /// After a crashed backup: removes its helper containers and lets the project's containers
    /// it may have paused run again. Best effort: logged, never an error.
    async fn clean_helpers(&self, slug: &str, id: i64) {
        let Ok(engine) = self.engine_now().await else {
            return;
        };
        let prefix = format!("clubhost-{slug}-backup-{id}-");
        for c in engine.containers(Some(slug)).await.unwrap_or_default() {
            if c.name.starts_with(&prefix) {
                if let Err(e) = engine.remove_container(&c.id).await {
                    tracing::warn!(container = %c.name, error = %e, "backup helper left behind");
                }
            } else {
                // Unpausing a container that is not paused is refused by Docker: harmless.
                let _ = engine.unpause(&c.id).await;
            }
        }
    }
}

/// Whether a project may have volumes to back up: it was approved at some point.
pub(crate) fn has_data(p: &Project) -> bool {
    use clubhost_registry::ProjectState::*;
    matches!(
        p.state(),
        Approved | Deploying | Running | Failed | Stopped | Expired
    )
}
