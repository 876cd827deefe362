//! What the faces (admin API, portal) may read: projects, their variables and history, renewals,
//! and what Docker says of a project's containers. Reads only; every write is an operation
//! elsewhere in `control`. The registry and the engine stay private to this crate.

use clubhost_docker::{ContainerUsage, ManagedContainer};
use clubhost_registry::terms::Renewal;
use clubhost_registry::{AuditEntry, Deployment, Project};
use clubhost_stack::Vars;
use futures_util::stream::BoxStream;

use super::{Control, Result};

impl Control {
    /// One project by slug (`NotFound` names it).
    pub async fn project(&self, slug: &str) -> Result<Project> {
        Ok(self.registry.project(slug).await?)
    }

    /// Every project, in creation order.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        Ok(self.registry.projects().await?)
    }

    /// The projects one member owns.
    pub async fn projects_of(&self, owner_id: i64) -> Result<Vec<Project>> {
        Ok(self.registry.projects_of(owner_id).await?)
    }

    /// A project's deployments, newest first.
    pub async fn deployments(&self, project_id: i64) -> Result<Vec<Deployment>> {
        Ok(self.registry.deployments(project_id).await?)
    }

    /// A project's variables, secret values included: callers show them masked
    /// ([`Vars::masked`]) and use the values only to check or fill in a stack.
    pub async fn variables(&self, slug: &str) -> Result<Vars> {
        Ok(self.registry.variables(slug).await?)
    }

    /// Where the project's source lives (a link the member gave; empty when none).
    pub async fn source_url(&self, slug: &str) -> Result<String> {
        Ok(self.registry.source_url(slug).await?)
    }

    /// The audit log, newest first; one project's entries when `project` is given.
    pub async fn audit_log(&self, project: Option<&str>) -> Result<Vec<AuditEntry>> {
        Ok(self.registry.audit_log(project).await?)
    }

    /// The audit log filtered by project and/or user (as actor or as the affected account).
    pub async fn audit_filtered(
        &self,
        project: Option<&str>,
        user: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        Ok(self.registry.audit_filtered(project, user, limit).await?)
    }

    /// Renewal requests: pending ones, or all with `all`.
    pub async fn renewals(&self, all: bool) -> Result<Vec<Renewal>> {
        Ok(self.registry.renewals(all).await?)
    }

    /// One project's renewal requests, newest first.
    pub async fn renewals_of(&self, slug: &str) -> Result<Vec<Renewal>> {
        Ok(self.registry.renewals_of(slug).await?)
    }

    /// The last `lines` lines each of a project's containers printed, as (container, text).
    pub async fn logs(&self, slug: &str, lines: usize) -> Result<Vec<(String, String)>> {
        let engine = self.engine().await?;
        let mut out = Vec::new();
        for container in engine.containers(Some(slug)).await? {
            let text = engine.log_tail(&container.id, lines).await;
            out.push((container.name, text));
        }
        Ok(out)
    }

    /// Each of a project's containers' output from `tail` lines back, live, as (service, chunks).
    pub async fn follow_logs(
        &self,
        slug: &str,
        tail: usize,
    ) -> Result<Vec<(String, BoxStream<'static, String>)>> {
        use futures_util::StreamExt;
        let engine = self.engine().await?;
        Ok(engine
            .containers(Some(slug))
            .await?
            .into_iter()
            .map(|c| (c.service, engine.log_follow(&c.id, tail).boxed()))
            .collect())
    }

    /// The containers of these projects with their health, memory and CPU, sampled together (CPU
    /// needs two samples, so one call waits once for all).
    pub async fn container_usage(
        &self,
        projects: &[&str],
    ) -> Result<Vec<(ManagedContainer, ContainerUsage)>> {
        let engine = self.engine().await?;
        let list: Vec<_> = engine
            .containers(None)
            .await?
            .into_iter()
            .filter(|c| projects.contains(&c.project.as_str()))
            .collect();
        let usage = engine.usage(&list).await;
        Ok(list.into_iter().zip(usage).collect())
    }

    /// The Docker engine's endpoint, version and negotiated API version, for the start-up log.
    pub async fn docker_version(&self) -> Result<(String, String, String)> {
        let engine = self.engine().await?;
        let (version, api) = engine.version().await?;
        Ok((engine.endpoint().to_string(), version, api))
    }
}
