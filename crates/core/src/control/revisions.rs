//! Pruning a project's stored revisions: the files of the newest `[build] keep_revisions`
//! revisions stay on disk, and so do the deployed one (what serves) and the pending one (the
//! current revision, which the next deploy takes), whatever their age. Run after each successful
//! deploy and by `clubhost gc`. The registry keeps every revision's row (number and commit), so a
//! number is never reused.

use super::{Control, Result};

impl Control {
    /// Prunes one project's revisions under its lock; a failure is logged (old files are not
    /// state: the next deploy or `gc` tries again). Returns the revisions removed.
    pub(super) async fn prune_revisions(&self, slug: &str) -> Vec<i64> {
        match self.prune_revisions_of(slug, true).await {
            Ok(removed) => removed,
            Err(e) => {
                tracing::warn!(%slug, error = %e, "cannot prune old revisions");
                Vec::new()
            }
        }
    }

    /// The revisions pruning removes (with `apply`) or would remove.
    async fn prune_revisions_of(&self, slug: &str, apply: bool) -> Result<Vec<i64>> {
        let Some(source) = self.registry.source(slug).await? else {
            return Ok(Vec::new());
        };
        let mut protect = vec![source.revision];
        protect.extend(source.deployed_revision);
        let (store, keep) = (self.store(), self.config.build.keep_revisions);
        let owned = slug.to_string();
        let removed = super::intake::blocking(move || {
            if apply {
                store.prune(&owned, keep, &protect)
            } else {
                store.prunable(&owned, keep, &protect)
            }
        })
        .await?;
        if apply && !removed.is_empty() {
            tracing::info!(%slug, ?removed, "pruned old revisions");
        }
        Ok(removed)
    }

    /// `clubhost gc`'s part: prunes (with `apply`; else lists) every project's old revisions,
    /// each under the project's lock (never beside a pull keeping a new one), as
    /// `<slug>/<n>`. Removals are audited per project.
    pub(super) async fn prune_all_revisions(
        &self,
        apply: bool,
        actor: &str,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for p in self.registry.projects().await? {
            let _held = self.lock_for(&p.slug).lock_owned().await;
            let removed = self.prune_revisions_of(&p.slug, apply).await?;
            if removed.is_empty() {
                continue;
            }
            let list: Vec<String> = removed.iter().map(i64::to_string).collect();
            if apply {
                let what = format!("old revisions removed: {}", list.join(", "));
                self.registry
                    .audit_action(actor, Some(&p.slug), "gc.revisions", &what)
                    .await?;
            }
            out.extend(list.iter().map(|r| format!("{}/{r}", p.slug)));
        }
        Ok(out)
    }
}
