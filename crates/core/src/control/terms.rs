//! Term operations of the control plane: quotas, the scheduler's steps (remind, expire, purge),
//! restore during the grace period, renewals and permanent projects.
//!
//! Each step is one audited registry change that is safe to repeat: a reminder is recorded before
//! it is sent (and skipped if already recorded); expiry is the `expired` transition (containers go
//! after it, and `reconcile` removes any a crash left); purge removes the Docker objects first and
//! records `purged` after, so a crash in between just repeats the (idempotent) removal.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Control, ControlError, Result};
use crate::lifecycle::quotas;
use crate::lifecycle::terms::{self as rules, DAY, Step};
use crate::notify::Note;
use clubhost_registry::clock;
use clubhost_registry::terms::Renewal;
use clubhost_registry::{Project, ProjectState, User, now};
use clubhost_stack::Stack;

/// The actor the audit log names for the scheduler's steps.
pub(crate) const SCHEDULER: &str = "scheduler";

/// A member's renewal request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenewalRequest {
    /// Who asks (the owner, or an admin on their behalf); recorded in the audit log. Defaults to
    /// the owner.
    #[serde(default)]
    pub by: Option<String>,
    /// Days added to the current term end (or to today, if it has passed).
    pub days: u32,
    /// Why the project should stay, for the admins who decide; must not be blank.
    pub reason: String,
}

pub(super) fn clock_file(config: &crate::config::Config) -> std::path::PathBuf {
    config.data_dir.join("test-clock-offset")
}

/// On a server with a settable clock, picks up the offset an earlier process left.
pub(super) fn restore_test_clock(config: &crate::config::Config) {
    if !(config.lifecycle.settable_clock || clock::settable()) {
        return;
    }
    if let Ok(text) = std::fs::read_to_string(clock_file(config))
        && let Ok(secs) = text.trim().parse::<i64>()
    {
        clock::set_offset(secs);
        tracing::warn!(offset_secs = secs, "test clock: time is moved forward");
    }
}

/// An RFC 3339 time for messages, or "never".
pub(crate) fn show_time(t: Option<i64>) -> String {
    match t {
        Some(s) if s >= 0 => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(s as u64),
        )
        .to_string(),
        _ => "never".into(),
    }
}

/// The line the "expired" page shows under the project's name.
/// `portal`: the portal's link base (`/portal/`), for the owner's way to their data: the
/// project's backups page, for the whole grace period and after (the final backup is kept).
pub(crate) fn expired_about(p: &Project, state: ProjectState, portal: &str) -> String {
    let what = if p.description.trim().is_empty() {
        String::new()
    } else {
        format!("{} — ", p.description.trim())
    };
    let when = match state {
        ProjectState::Purged => "Its hosting term has ended and it has been archived.",
        _ => "Its hosting term has ended.",
    };
    format!(
        "{what}a project by {}. {when} Its owner can download its data (one archive) from \
         {portal}projects/{}/backups",
        p.owner, p.slug
    )
}

impl Control {
    /// Refuses a project that would take its owner over the per-member quota.
    /// Checks `owner`'s quotas as if `slug` (with `stack`) ran beside their other active projects:
    /// the number running, and total memory and CPU limits across them.
    pub(super) async fn check_quota(&self, owner: &User, slug: &str, stack: &Stack) -> Result<()> {
        self.quota_view(owner, slug, stack)
            .await?
            .check(&owner.name, &self.config.lifecycle)
            .map_err(ControlError::Invalid)
    }

    /// [`Self::check_quota`] under `owner`'s lock, returned held: the caller keeps it until `slug`
    /// counts against the quota (approved or deploying), since two of one member's projects
    /// checked at once would otherwise both see the quota free. (Member names cannot be slugs: a
    /// slug has no `:`, so the lock is the member's alone.)
    pub(super) async fn check_quota_held(
        &self,
        owner: &User,
        slug: &str,
        stack: &Stack,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>> {
        let held = self
            .lock_for(&format!("member:{}", owner.name))
            .lock_owned()
            .await;
        self.check_quota(owner, slug, stack).await?;
        Ok(held)
    }

    /// Project `slug` with `stack` against `owner`'s quota: their other active projects and what
    /// those use (what approval checks, and what the review queue shows).
    pub async fn quota_view(
        &self,
        owner: &User,
        slug: &str,
        stack: &Stack,
    ) -> Result<quotas::QuotaView> {
        let others = self.registry.active_projects_of(owner.id, slug).await?;
        let mut used = quotas::Usage::default();
        for p in self.registry.projects().await? {
            let active = matches!(
                p.state(),
                ProjectState::Approved | ProjectState::Deploying | ProjectState::Running
            );
            if p.owner_id == owner.id && p.slug != slug && active {
                // A stored stack that no longer loads (limits changed) counts as nothing.
                if let Ok(s) = self.project_stack(&p).await {
                    used = used + quotas::Usage::of(&s);
                }
            }
        }
        Ok(quotas::QuotaView {
            others,
            used,
            asked: quotas::Usage::of(stack),
        })
    }

    /// Does every step due now and returns the next deadline (None: nothing is scheduled).
    /// A step that fails is logged and left for the next run; it never stops the others.
    pub(crate) async fn run_due_terms(&self) -> Result<Option<i64>> {
        let rules = self.config.lifecycle.rules();
        // A step can make another due (expire starts the grace period): a few rounds settle it.
        for _ in 0..4 {
            let rows = self.registry.term_rows().await?;
            let sent: HashSet<_> = self.registry.reminders_sent().await?.into_iter().collect();
            let plan = rules::plan(&rows, &sent, &rules, clock::now());
            if plan.due.is_empty() {
                return Ok(plan.next);
            }
            for step in plan.due {
                if let Err(e) = self.do_step(&step).await {
                    tracing::warn!(?step, error = %e, "lifecycle step failed; will retry");
                }
            }
        }
        let rows = self.registry.term_rows().await?;
        let sent: HashSet<_> = self.registry.reminders_sent().await?.into_iter().collect();
        let plan = rules::plan(&rows, &sent, &rules, clock::now());
        // Steps that keep failing are retried after a minute, not in a tight loop.
        Ok(if plan.due.is_empty() {
            plan.next
        } else {
            Some(clock::now() + 60)
        })
    }

    async fn do_step(&self, step: &Step) -> Result<()> {
        match step {
            Step::Remind {
                slug,
                owner,
                term_end,
                offset,
                record,
            } => {
                let ahead = rules::describe(*offset);
                let what = format!("term ends in {ahead} ({})", show_time(Some(*term_end)));
                let lang = self.owner_lang(owner).await;
                let notes = self.notifier.keep(vec![Note::owner(
                    owner,
                    slug,
                    self.say_in(
                        lang,
                        "note-reminder-subject",
                        &[("slug", slug), ("ahead", &ahead)],
                    ),
                    self.say_in(
                        lang,
                        "note-reminder-body",
                        &[
                            ("slug", slug),
                            ("end", &show_time(Some(*term_end))),
                            ("backups", &self.backups_url(slug)),
                        ],
                    ),
                )]);
                // Recorded and queued in one transaction: never sent twice, never lost.
                let first = self
                    .registry
                    .record_reminder(slug, *term_end, record, SCHEDULER, &what, &notes)
                    .await?;
                if first {
                    tracing::info!(%slug, %what, "reminder");
                }
                Ok(())
            }
            Step::Expire { slug } => {
                tracing::info!(%slug, "term ended; expiring");
                self.expire(slug, SCHEDULER, "hosting term ended")
                    .await
                    .map(|_| ())
            }
            Step::Purge { slug } => self
                .purge(slug, SCHEDULER, "grace period ended")
                .await
                .map(|_| ()),
        }
    }

    /// Removes an expired project's containers, network and volumes for good; its route keeps
    /// answering the "expired" page. Repeating it after a crash redoes only what is left.
    pub async fn purge(&self, slug: &str, actor: &str, reason: &str) -> Result<Project> {
        // The member's data outlives the purge in a final backup; no backup, no purge.
        self.ensure_final_backup(slug, actor).await?;
        let _held = self.lock_for(slug).lock_owned().await;
        let p = self.registry.project(slug).await?;
        if p.state() != ProjectState::Expired {
            return Err(ControlError::Invalid(format!(
                "project {slug} is {}; only expired projects are purged",
                p.state()
            )));
        }
        let engine = self.engine().await?;
        self.backend().await?.teardown(slug, true).await?;
        self.release_subnets(engine, slug).await;
        // The project's files are its data too.
        self.forget_files(slug);
        let lang = self.project_owner_lang(slug).await;
        let p = self
            .registry
            .transition_noting(slug, ProjectState::Purged, actor, reason, |p| {
                self.notifier.keep(vec![Note::owner(
                    &p.owner,
                    slug,
                    self.say_in(lang, "note-purged-subject", &[("slug", slug)]),
                    self.say_in(lang, "note-purged-body", &[("slug", slug)]),
                )])
            })
            .await?;
        self.publish_routes().await?;
        tracing::info!(%slug, "purged");
        Ok(p)
    }

    /// Brings an expired project back with its data (during the grace period): a new term of
    /// `days` (default: its original term) and a deploy.
    pub async fn restore(&self, slug: &str, actor: &str, days: Option<u32>) -> Result<Project> {
        let lock = self.lock_for(slug);
        let _held = lock.lock().await;
        let p = self.registry.project(slug).await?;
        match p.state() {
            ProjectState::Expired => {}
            ProjectState::Purged => {
                return Err(ControlError::Invalid(format!(
                    "project {slug} was purged after its grace period; its data is gone and it \
                     cannot be restored"
                )));
            }
            other => {
                return Err(ControlError::Invalid(format!(
                    "project {slug} is {other}; only expired projects are restored"
                )));
            }
        }
        let days = days.unwrap_or(p.term_days as u32);
        self.check_days(days)?;
        // Docker must answer before the registry records a restore it could not carry out.
        self.engine_now().await?;
        let owner = self.registry.user(&p.owner).await?;
        let stack = self.project_stack(&p).await?;
        let member = self.check_quota_held(&owner, slug, &stack).await?;
        let end = now() + i64::from(days) * DAY;
        let lang = self.owner_lang(&p.owner).await;
        let notes = self.notifier.keep(vec![Note::owner(
            &p.owner,
            slug,
            self.say_in(lang, "note-restored-subject", &[("slug", slug)]),
            self.say_in(
                lang,
                "note-restored-body",
                &[("slug", slug), ("end", &show_time(Some(end)))],
            ),
        )]);
        self.registry
            .set_term_end(
                slug,
                Some(end),
                actor,
                &format!(
                    "restored with a new term of {days} days, to {}",
                    show_time(Some(end))
                ),
                &notes,
            )
            .await?;
        self.terms_changed.notify_one();
        self.deploy_holding(slug, actor, "restore", Some(member))
            .await
    }

    /// A hosting term a member may ask for: 1 to `projects.max_days` days.
    pub(super) fn check_days(&self, days: u32) -> Result<()> {
        let max = self.config.projects.max_days;
        if days == 0 || days > max {
            return Err(ControlError::Invalid(format!(
                "days: {days} is outside 1..={max} (projects.max_days)"
            )));
        }
        Ok(())
    }

    /// Files a member's request for a later term end; admins hear of it.
    pub async fn request_renewal(&self, slug: &str, req: &RenewalRequest) -> Result<Renewal> {
        let p = self.registry.project(slug).await?;
        let by = self
            .registry
            .user(req.by.as_deref().unwrap_or(&p.owner))
            .await?;
        if by.name != p.owner && !by.is_admin {
            return Err(ControlError::Invalid(format!(
                "by: {} does not own {slug}; only its owner or an admin may ask to renew it",
                by.name
            )));
        }
        if !matches!(
            p.state(),
            ProjectState::Running | ProjectState::Failed | ProjectState::Stopped
        ) {
            return Err(ControlError::Invalid(format!(
                "project {slug} is {}; only a project within its term can be renewed \
                 (an expired one is restored by an admin)",
                p.state()
            )));
        }
        if p.is_root || p.term_end.is_none() {
            return Err(ControlError::Invalid(format!(
                "project {slug} has no term end to move"
            )));
        }
        if req.reason.trim().is_empty() {
            return Err(ControlError::Invalid(
                "reason: say why the project should stay".into(),
            ));
        }
        if req.days == 0 {
            return Err(ControlError::Invalid("days: must be at least 1".into()));
        }
        let t = now();
        let from = p.term_end.unwrap_or(t).max(t);
        let new_end = from + i64::from(req.days) * DAY;
        let max = i64::from(self.config.projects.max_days);
        let ahead_days = (new_end - t + DAY - 1) / DAY;
        if ahead_days > max {
            return Err(ControlError::Invalid(format!(
                "days: the new end would be {ahead_days} days from now, {} over the longest term \
                 (projects.max_days = {max})",
                ahead_days - max
            )));
        }
        let r = self
            .registry
            .insert_renewal(slug, &by.name, new_end, req.reason.trim(), |r| {
                self.notifier.keep(vec![Note::admins(
                    slug,
                    self.say(
                        "note-renewal-subject",
                        &[("id", &r.id.to_string()), ("slug", slug)],
                    ),
                    self.say(
                        "note-renewal-body",
                        &[
                            ("name", &by.name),
                            ("slug", slug),
                            ("from", &show_time(p.term_end)),
                            ("to", &show_time(Some(new_end))),
                            ("reason", &r.reason),
                        ],
                    ),
                )])
            })
            .await?;
        Ok(r)
    }

    /// Approves or rejects a renewal; approval moves the term end and the scheduler follows.
    pub async fn decide_renewal(
        &self,
        id: i64,
        approve: bool,
        actor: &str,
        note: &str,
    ) -> Result<Renewal> {
        let pending = self.registry.renewal(id).await?;
        let _held = self.lock_for(&pending.project).lock_owned().await;
        let state = self.registry.project(&pending.project).await?.state();
        if approve
            && !matches!(
                state,
                ProjectState::Running | ProjectState::Failed | ProjectState::Stopped
            )
        {
            return Err(ControlError::Invalid(format!(
                "project {} is {state}; a renewal only moves a term that is still running \
                 (restore an expired project instead)",
                pending.project
            )));
        }
        let lang = self.owner_lang(&pending.owner).await;
        let r = self
            .registry
            .decide_renewal(id, approve, actor, note, |r| {
                let (subject, body) = if approve {
                    (
                        self.say_in(lang, "note-renewed-subject", &[("slug", &r.project)]),
                        self.say_in(
                            lang,
                            "note-renewed-body",
                            &[("slug", &r.project), ("end", &show_time(Some(r.new_end)))],
                        ),
                    )
                } else {
                    (
                        self.say_in(lang, "note-declined-subject", &[("slug", &r.project)]),
                        self.say_in(
                            lang,
                            "note-declined-body",
                            &[("slug", &r.project), ("note", note)],
                        ),
                    )
                };
                self.notifier
                    .keep(vec![Note::owner(&r.owner, &r.project, subject, body)])
            })
            .await?;
        self.terms_changed.notify_one();
        Ok(r)
    }

    /// Marks a project permanent (it never expires) or gives it back its term.
    pub async fn set_permanent(&self, slug: &str, permanent: bool, actor: &str) -> Result<Project> {
        let p = self.registry.project(slug).await?;
        // Giving a term back to a project whose old end passed while it was permanent would let
        // the scheduler expire it at once, with no reminder: ask for a new end first.
        if !permanent && p.permanent && p.term_end.is_none_or(|end| end <= now() + DAY) {
            return Err(ControlError::Invalid(format!(
                "project {slug}'s term end ({}) has passed or is less than a day away; set a new \
                 term end first, then give it back its term",
                show_time(p.term_end)
            )));
        }
        self.registry.set_permanent(slug, permanent, actor).await?;
        self.terms_changed.notify_one();
        Ok(self.registry.project(slug).await?)
    }

    /// Moves a running term's end (an admin extending or shortening it): `end` must be in the
    /// future and, unless the project is permanent, at most `projects.max_days` from now. The
    /// scheduler follows at once; reminders start afresh for the new end.
    pub async fn set_term_end(&self, slug: &str, end: i64, actor: &str) -> Result<Project> {
        let _held = self.lock_for(slug).lock_owned().await;
        let p = self.registry.project(slug).await?;
        if !matches!(
            p.state(),
            ProjectState::Running | ProjectState::Failed | ProjectState::Stopped
        ) {
            return Err(ControlError::Invalid(format!(
                "project {slug} is {}; only a term that is still running can be moved \
                 (restore an expired project instead)",
                p.state()
            )));
        }
        if p.is_root {
            return Err(ControlError::Invalid(format!(
                "project {slug} is the root project; it has no term"
            )));
        }
        let t = now();
        if end <= t {
            return Err(ControlError::Invalid(format!(
                "end: {} is in the past; to end the term now, expire the project",
                show_time(Some(end))
            )));
        }
        let max = i64::from(self.config.projects.max_days);
        if !p.permanent && end - t > max * DAY {
            return Err(ControlError::Invalid(format!(
                "end: {} is more than {max} days from now (projects.max_days); mark the project \
                 permanent instead",
                show_time(Some(end))
            )));
        }
        let was = show_time(p.term_end);
        let to = show_time(Some(end));
        let lang = self.owner_lang(&p.owner).await;
        let notes = self.notifier.keep(vec![Note::owner(
            &p.owner,
            slug,
            self.say_in(lang, "note-term-moved-subject", &[("slug", slug)]),
            self.say_in(
                lang,
                "note-term-moved-body",
                &[("slug", slug), ("from", &was), ("to", &to)],
            ),
        )]);
        self.registry
            .set_term_end(
                slug,
                Some(end),
                actor,
                &format!("term end moved from {was} to {to}"),
                &notes,
            )
            .await?;
        self.terms_changed.notify_one();
        Ok(self.registry.project(slug).await?)
    }

    /// Moves the clock forward (test servers only) and wakes the scheduler.
    pub async fn advance_clock(&self, secs: i64, actor: &str) -> Result<i64> {
        if !(self.config.lifecycle.settable_clock || clock::settable()) {
            return Err(ControlError::Invalid(
                "the clock is not settable on this server (lifecycle.settable_clock is off)".into(),
            ));
        }
        let t = clock::advance(secs);
        let file = clock_file(&self.config);
        std::fs::write(&file, clock::offset().to_string())
            .map_err(|e| ControlError::Invalid(format!("cannot write {}: {e}", file.display())))?;
        self.registry
            .audit_action(actor, None, "clock.advance", &format!("+{secs}s"))
            .await?;
        self.terms_changed.notify_one();
        Ok(t)
    }
}

impl Control {
    /// Lists (and with `apply` removes) Docker objects of this instance whose project the
    /// registry no longer knows, and with `images` the images no project needs any more (see
    /// [`crate::gc`]). Removals are audited.
    pub async fn gc(&self, apply: bool, images: bool, actor: &str) -> Result<crate::gc::Orphans> {
        let projects = self.registry.projects().await?;
        let known: Vec<String> = projects.iter().map(|p| p.slug.clone()).collect();
        let engine = self.engine().await?;
        let mut orphans = crate::gc::collect(engine, &known, apply).await?;
        if apply && !orphans.networks.is_empty() {
            // The removed networks' subnets go back to the pool now, not at the next start-up.
            if let Err(e) = self.sync_subnets(engine).await {
                tracing::warn!(error = %e, "gc: cannot free subnets; start-up will");
            }
        }
        if apply && !orphans.is_empty() {
            let what = [&orphans.containers, &orphans.networks, &orphans.volumes]
                .iter()
                .flat_map(|v| v.iter().cloned())
                .collect::<Vec<_>>()
                .join(", ");
            self.registry
                .audit_action(actor, None, "gc.remove", &what)
                .await?;
        }
        if images {
            let needed = self.images_needed(&projects).await?;
            let recorded = self.registry.deployed_images().await?;
            let pruned = crate::gc::prune_images(engine, &recorded, &needed, apply).await?;
            if apply {
                self.registry
                    .forget_images(&pruned.forget, actor, &pruned.unused.join(", "))
                    .await?;
            }
            orphans.images = pruned.unused;
            orphans.kept_images = pruned.kept;
        }
        orphans.revisions = self.prune_all_revisions(apply, actor).await?;
        orphans.removed = apply;
        Ok(orphans)
    }

    /// Every image reference a project that may still deploy names: all but purged, rejected and
    /// withdrawn ones (an expired project may be restored, a request approved). A stored stack
    /// that no longer loads keeps every recorded image its text mentions.
    async fn images_needed(&self, projects: &[Project]) -> Result<Vec<String>> {
        let recorded = self.registry.deployed_images().await?;
        let mut needed = Vec::new();
        for p in projects {
            if matches!(
                p.state(),
                ProjectState::Purged | ProjectState::Rejected | ProjectState::Withdrawn
            ) {
                continue;
            }
            match self.project_stack(p).await {
                Ok(stack) => needed.extend(stack.services.iter().map(|s| s.image.clone())),
                Err(_) => needed.extend(
                    recorded
                        .iter()
                        .filter(|r| p.stack_source.contains(&r.image))
                        .map(|r| r.image.clone()),
                ),
            }
        }
        needed.sort();
        needed.dedup();
        Ok(needed)
    }
}
