//! Restoring a backup (`clubhost backup restore SLUG [ID] [--as NEW]`): checked first, so a
//! damaged backup changes nothing; then the project is stopped, its volumes replaced through
//! Docker's archive endpoint, and it is deployed again, health-gated like any deploy; each
//! database dump the backup holds is then loaded back into its running database (`load_dumps`)
//! and the database checked healthy again (a load that fails stops the project). A project
//! that was deleted (or `--as` a new slug) is first recreated from the backup's registry record,
//! variables and sealed secrets included. Every restore is audited (`backup.restore`).
//!
//! An existing project keeps its current stack and variables: only its data goes back, and the
//! data it had is backed up first (`safety_backup`), so a restore can itself be undone.

use std::path::Path;

use serde::Serialize;

use super::backup::internal;
use super::{Control, ControlError, Result};
use crate::backup::{self as format, Manifest, ProjectRecord};
use clubhost_deploy as deploy;
use clubhost_docker::Engine;
use clubhost_registry::{NewProject, Project, ProjectState, RegistryError};
use clubhost_stack::Vars;

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The backup restored.
    pub backup: i64,
    /// The project it was restored into.
    pub project: Project,
    /// Whether the project was recreated from the backup's record (deleted, or `--as`).
    pub recreated: bool,
    /// The volumes put back.
    pub volumes: Vec<String>,
    /// The backup taken of the project's data just before it was replaced, if it had any.
    pub safety_backup: Option<i64>,
    /// The services whose database dump was loaded back.
    pub dumps_loaded: Vec<String>,
}

impl Control {
    /// Restores backup `id` (default: the newest) of `slug` into `slug`, or into a new project
    /// `as_slug`.
    pub async fn restore_backup(
        &self,
        slug: &str,
        id: Option<i64>,
        as_slug: Option<&str>,
        actor: &str,
    ) -> Result<RestoreReport> {
        let row = match id {
            Some(id) => self.registry.backup(id).await?,
            None => self
                .registry
                .backups(Some(slug), false)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| RegistryError::NotFound(format!("a backup of {slug:?}")))?,
        };
        if row.project != slug {
            return Err(ControlError::Invalid(format!(
                "backup {} is of project {}, not {slug}",
                row.id, row.project
            )));
        }
        let dir = self
            .backup_root()?
            .join(row.dir.clone().unwrap_or_default());
        let checked = {
            let (dir, id, project) = (dir.clone(), row.id, row.project.clone());
            tokio::task::spawn_blocking(move || format::verify(&dir, id, &project))
                .await
                .map_err(internal)?
        };
        let manifest = checked.map_err(|problems| {
            ControlError::Invalid(format!(
                "backup {} is damaged, nothing was changed: {}",
                row.id,
                problems.join("; ")
            ))
        })?;
        let record = format::read_record(&dir).map_err(internal)?;
        let target = as_slug.unwrap_or(slug);
        if as_slug.is_some() {
            self.check_slug(target)?;
        }
        // The data about to be replaced is backed up first: a restore that fails half way (or
        // the wrong backup restored) can itself be undone.
        let safety = match self.registry.project(target).await {
            Ok(p) if as_slug.is_none() && super::backup::has_data(&p) => {
                Some(self.create_backup(target, actor).await?.id)
            }
            _ => None,
        };
        let _held = self.lock_for(target).lock_owned().await;
        let engine = self.engine_now().await?;
        let existing = match self.registry.project(target).await {
            Ok(p) => Some(p),
            Err(RegistryError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let why = format!("restored from backup {}", row.id);
        let recreated = existing.is_none();
        match existing {
            Some(_) if as_slug.is_some() => {
                return Err(ControlError::Invalid(format!(
                    "project {target} exists; --as needs a slug no project has"
                )));
            }
            Some(p) => self.take_down_for_restore(&p, actor, &why).await?,
            None => {
                let vars = self.backup_vars(row.id, slug, &record, &dir).await?;
                self.recreate(target, &record, &vars, actor, &why).await?;
            }
        }
        let volumes = self
            .put_volumes_back(engine, target, &manifest, &dir)
            .await?;
        let project = self.deploy_locked(target, actor, &why).await?;
        let (dumps_loaded, not_loaded) = if manifest.dumps.is_empty() {
            (Vec::new(), String::new())
        } else if project.state() != ProjectState::Running {
            (Vec::new(), "; its database dumps not loaded".to_string())
        } else {
            match self.load_dumps(engine, target, &manifest, &dir).await {
                Ok(loaded) => (loaded, String::new()),
                Err(e) => {
                    // Half-loaded data is not served: the project is stopped, and the admin
                    // decides (the safety backup holds what it had before).
                    let failed = format!("backup {} restored into {target}, but {e}", row.id);
                    let p = self.registry.project(target).await?;
                    self.take_down_for_restore(&p, actor, &failed).await?;
                    self.registry
                        .audit_backup(
                            actor,
                            target,
                            "backup.restore",
                            &format!("{failed}; stopped"),
                        )
                        .await?;
                    let undo = safety
                        .map(|s| format!("; the data it replaced is in backup {s}"))
                        .unwrap_or_default();
                    return Err(ControlError::Invalid(format!(
                        "{failed}; the project is stopped{undo}"
                    )));
                }
            }
        };
        let project = self.registry.project(target).await?;
        let loaded = if dumps_loaded.is_empty() {
            String::new()
        } else {
            format!(", database dump(s) of {} loaded", dumps_loaded.join(", "))
        };
        let reason = format!(
            "backup {} of {slug} restored into {target} ({} volume(s){loaded}){not_loaded}; {}",
            row.id,
            volumes.len(),
            project.state
        );
        self.registry
            .audit_backup(actor, target, "backup.restore", &reason)
            .await?;
        Ok(RestoreReport {
            backup: row.id,
            project,
            recreated,
            volumes,
            safety_backup: safety,
            dumps_loaded,
        })
    }

    /// Loads each database dump of the backup into its service's running container (the dump
    /// on the client's standard input), then checks the container is still running, and healthy
    /// if it has a healthcheck, within `[docker] deploy_timeout`. Returns the services loaded,
    /// or what failed first.
    async fn load_dumps(
        &self,
        engine: &Engine,
        slug: &str,
        manifest: &Manifest,
        dir: &Path,
    ) -> std::result::Result<Vec<String>, String> {
        let containers = engine
            .containers(Some(slug))
            .await
            .map_err(|e| e.to_string())?;
        let mut loaded = Vec::new();
        for d in &manifest.dumps {
            let Some(c) = containers
                .iter()
                .find(|c| c.running && c.service == d.service)
            else {
                return Err(format!(
                    "service {} is not running, so its database dump could not be loaded",
                    d.service
                ));
            };
            let cmd = format::dumps::load_command(d.engine);
            let out = engine
                .exec_with_input(&c.id, &cmd, &dir.join(&d.dump.file))
                .await
                .map_err(|e| format!("loading the dump of {}: {e}", d.service))?;
            if out.exit_code != 0 {
                // The end of what the client said (where its error is), at most 400 characters.
                let said: Vec<char> = out.stderr.trim().chars().collect();
                let tail: String = said[said.len().saturating_sub(400)..].iter().collect();
                return Err(format!(
                    "loading the dump of {} exited with {}: {tail}",
                    d.service, out.exit_code
                ));
            }
            if !out.stderr.trim().is_empty() {
                tracing::warn!(project = slug, service = %d.service, said = %out.stderr.trim(), "dump load reported");
            }
            let deadline = tokio::time::Instant::now() + self.config.docker.deploy_timeout;
            loop {
                let status = engine.status(&c.id).await.map_err(|e| e.to_string())?;
                match status {
                    clubhost_docker::ContainerStatus::Running
                    | clubhost_docker::ContainerStatus::Healthy => break,
                    clubhost_docker::ContainerStatus::Starting
                        if tokio::time::Instant::now() < deadline =>
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    other => {
                        return Err(format!(
                            "service {} is not healthy after its dump was loaded ({other:?})",
                            d.service
                        ));
                    }
                }
            }
            loaded.push(d.service.clone());
        }
        Ok(loaded)
    }

    /// Stops an existing project (registry first, then its containers) so its volumes can be
    /// replaced; a project in a state with no data to replace is refused before anything moves.
    async fn take_down_for_restore(&self, p: &Project, actor: &str, why: &str) -> Result<()> {
        match p.state() {
            ProjectState::Running => {
                self.registry
                    .transition(&p.slug, ProjectState::Stopped, actor, why)
                    .await?;
            }
            ProjectState::Failed | ProjectState::Stopped => {}
            other => {
                return Err(ControlError::Invalid(format!(
                    "project {} is {other}; a backup is restored into a running, failed or \
                     stopped project (an expired one: `project restore` it first)",
                    p.slug
                )));
            }
        }
        self.live.lock().expect("live map poisoned").remove(&p.slug);
        self.publish_routes().await?;
        self.backend().await?.teardown(&p.slug, false).await?;
        Ok(())
    }

    /// The backup's variables: the plain ones and the sealed secrets, opened with the registry's
    /// key.
    async fn backup_vars(
        &self,
        id: i64,
        slug: &str,
        record: &ProjectRecord,
        dir: &Path,
    ) -> Result<Vars> {
        let mut vars = Vars::new();
        for (k, v) in &record.variables {
            vars.set(k, v, false);
        }
        if record.secret_names.is_empty() {
            return Ok(vars);
        }
        let sealed = std::fs::read(dir.join(format::SECRETS)).map_err(internal)?;
        let plain = self
            .registry
            .open_from_backup(id, slug, &sealed)
            .await
            .map_err(|_| {
                ControlError::Invalid(format!(
                    "backup {id}'s secret variables do not open with this registry's key (rotated \
                     since the backup?); nothing was changed"
                ))
            })?;
        let secrets: std::collections::BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(internal)?;
        for (k, v) in &secrets {
            vars.set(k, v, true);
        }
        Ok(vars)
    }

    /// Inserts the project again from its record and approves it, so a deploy may follow; undone
    /// if a step fails.
    async fn recreate(
        &self,
        slug: &str,
        record: &ProjectRecord,
        vars: &Vars,
        actor: &str,
        why: &str,
    ) -> Result<()> {
        let owner = self.registry.user(&record.owner).await?;
        // A copy under another slug cannot also be the root site.
        let is_root = record.is_root && slug == record.slug;
        let route = if is_root {
            "/".to_string()
        } else {
            format!("/{slug}")
        };
        clubhost_stack::load(
            &record.stack_source,
            &self.stack_vars(slug, &route, vars),
            &self.config.limits,
        )?;
        self.registry
            .insert_project(
                NewProject {
                    slug,
                    name: &record.name,
                    description: &record.description,
                    owner_id: owner.id,
                    stack_source: &record.stack_source,
                    is_root,
                    term_days: record.term_days.clamp(1, i64::from(u32::MAX)) as u32,
                    source_url: "",
                },
                actor,
            )
            .await?;
        let approved = async {
            self.registry.set_variables(slug, vars, actor).await?;
            self.registry
                .transition(slug, ProjectState::Approved, actor, why)
                .await?;
            if record.permanent {
                self.registry.set_permanent(slug, true, actor).await?;
            }
            Ok::<_, ControlError>(())
        }
        .await;
        if let Err(e) = approved {
            let _ = self
                .registry
                .delete_project(slug, actor, "restore from backup failed")
                .await;
            return Err(e);
        }
        self.terms_changed.notify_one();
        Ok(())
    }

    /// Empties each volume of the backup (removed and created again) and unpacks its archive into
    /// it through a helper container of the project's image.
    async fn put_volumes_back(
        &self,
        engine: &Engine,
        slug: &str,
        manifest: &Manifest,
        dir: &Path,
    ) -> Result<Vec<String>> {
        let project = self.registry.project(slug).await?;
        let stack = self.project_stack(&project).await?;
        let mut done = Vec::new();
        for v in &manifest.volumes {
            let name = deploy::volume_name(slug, &v.name);
            let image = stack
                .services
                .iter()
                .find(|s| s.mounts.iter().any(|m| m.volume == v.name))
                .or(stack.services.first())
                .map(|s| s.image.clone())
                .unwrap_or_default();
            engine.remove_volume(&name).await?;
            engine.ensure_volume(&name, slug).await?;
            let helper_name = format!("clubhost-{slug}-restore-{}-{}", manifest.id, v.name);
            let helper = engine
                .volume_helper(&helper_name, &image, &name, slug, true)
                .await?;
            let uploaded = engine
                .upload_archive(&helper, "/", &dir.join(&v.archive.file))
                .await;
            if let Err(e) = engine.remove_container(&helper).await {
                tracing::warn!(container = %helper_name, error = %e, "restore helper left behind");
            }
            uploaded?;
            done.push(v.name.clone());
        }
        Ok(done)
    }
}
