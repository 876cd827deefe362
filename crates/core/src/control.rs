//! The control plane: every operation on projects (submit, approve, deploy, expire, delete…), the
//! one place that joins the registry, the deployer and the route table.
//!
//! The admin API, the CLI's direct mode and (later) the portal all call these methods, so the
//! rules are the same whoever asks. Operations on one project are serialized by a per-project lock;
//! the registry records every state change before Docker is touched or right after, so a crash at
//! any point leaves something [`Control::reconcile`] can finish.
//!
//! Architecture invariant: the route table is only ever rebuilt here, from the registry plus the
//! addresses of containers this process deployed or observed.

mod accounts;
mod backends;
mod backup;
mod backup_files;
mod backup_restore;
mod backup_schedule;
mod build_review;
mod checks;
mod dashboard;
mod deploying;
mod domains;
mod intake;
pub mod progress;
mod queries;
mod reconcile;
mod review;
mod revisions;
mod routes;
pub mod scheduler;
mod submitting;
pub(crate) mod subnets;
mod terms;

pub use accounts::{
    FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS, FREE_FAILURES_PER_ACCOUNT_FROM_STRANGERS,
    FREE_FAILURES_PER_ADDRESS, MAX_LOGIN_DELAY_SECS, THROTTLE_WINDOW_SECS,
};
pub use backup::{BackupInfo, PruneReport, Verification};
pub use backup_restore::RestoreReport;
pub use build_review::{BuildReview, ServiceBuild};
use checks::check_var_names;
pub use checks::{MAX_STACK_BYTES, RESERVED_SLUGS, check_slug, check_stack_size};
pub use clubhost_source::Upload;
pub use dashboard::{EXPIRING_WITHIN_DAYS, FailedDeploy, HostStats, Overview};
pub use intake::{FilesSubmission, GitRequest, ProjectFiles, SourceView, WebhookAuth};
pub use review::Resubmission;
use routes::Routing;
pub use routes::{build_routes, portal_route_specs, static_route_specs};
pub use submitting::Submission;
pub use subnets::SubnetError;
pub use terms::RenewalRequest;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OnceCell};

use crate::config::Config;
use crate::notify::{Note, Notifier};
use clubhost_docker::{DockerError, Engine};
use clubhost_proxy::routes::RouteHandle;
use clubhost_registry::{Project, ProjectState, Registry, RegistryError};
use clubhost_stack::StackError;

/// Why an operation was refused or failed; each face maps it to its own status or message.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The registry refused (unknown project, a state it cannot move from) or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The stack file does not pass the checker; every violation is in the message.
    #[error("invalid stack: {0}")]
    Stack(#[from] StackError),
    /// The Docker engine failed or is unreachable.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// No subnet could be given to a network the operation creates.
    #[error(transparent)]
    Subnet(#[from] SubnetError),
    /// Bad input from the caller: the message says which field and why.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this (wrong password, disabled account).
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts; the message says how long to wait.
    #[error("{0}")]
    Throttled(String),
    /// A fault of the server, not of the request (a directory it cannot create, a hash it cannot
    /// compute): logged, and reported as a server error.
    #[error("{0}")]
    Internal(String),
}

pub(crate) type Result<T> = std::result::Result<T, ControlError>;

/// Where a project is served from right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    pub(crate) deployment: i64,
    pub(crate) addr: SocketAddr,
    /// False while its exposed container is down (died, restarting); the route answers 503.
    pub(crate) up: bool,
}

/// The control plane: one per process, shared by the admin API, the CLI and the portal.
pub struct Control {
    config: Arc<Config>,
    pub(crate) registry: Registry,
    routes: RouteHandle,
    /// Connected on first use, so commands that need no Docker work without it.
    engine: OnceCell<Engine>,
    instance: String,
    /// The serving deployment of each project this process deployed or found running.
    live: Mutex<HashMap<String, Live>>,
    /// How long an old deployment keeps running after the route moved away from it, so requests
    /// in flight finish. Zero without a proxy (the CLI's direct mode).
    drain: Mutex<Duration>,
    /// One lock per project: two operations on one project never interleave.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Routes from `[[proxy.routes]]` and `[proxy.overrides]`; replaced when the config is
    /// reloaded (SIGHUP).
    routing: Mutex<Routing>,
    /// Orders route publications: each takes the next number before reading the registry, and a
    /// table is swapped in only if no later-numbered one already was, so two publishers racing can
    /// never leave the older view in place.
    publications: routes::Publications,
    /// Says whether notes are kept (a channel is configured) and runs the sender that delivers
    /// them from the registry's outbox; never waited on.
    notifier: Notifier,
    /// Woken whenever a term end may have moved, so the scheduler recomputes its next deadline.
    pub(crate) terms_changed: Arc<Notify>,
    /// Each project's latest deploy steps, live, for the portal's progress view.
    progress: progress::Feeds,
    /// Where the key sealing the registry's secrets comes from.
    key_source: crate::secrets::KeySource,
    /// Chat invites made per member through the club's Discord bot (`crate::chat`).
    pub(crate) chat: crate::chat::Invites,
    /// Swarm mode's backend, once made, shared with the proxy's dialer.
    swarm: Arc<backends::SwarmLink>,
}

impl Control {
    /// Creates `data_dir` if needed, opens the registry in it and starts the notifier. Docker is
    /// not touched: the engine is connected on first use.
    pub async fn open(config: Arc<Config>, routes: RouteHandle) -> Result<Control> {
        let internal = |e: &dyn std::fmt::Display| ControlError::Internal(e.to_string());
        crate::files::private_dir(&config.data_dir).map_err(|e| internal(&e))?;
        terms::restore_test_clock(&config);
        let key_source = crate::secrets::KeySource::of(&config);
        let db = config.database_path();
        let registry = crate::secrets::open_registry(&db, &key_source)
            .await
            .map_err(|e| match e {
                crate::secrets::SecretsError::Registry(e) => ControlError::Registry(e),
                e => internal(&e),
            })?;
        // Files an older release (or a hand) left readable by others.
        for file in crate::files::database_files(&db) {
            crate::files::tighten(&file, 0o600).map_err(|e| internal(&e))?;
        }
        crate::files::tighten(&terms::clock_file(&config), 0o600).map_err(|e| internal(&e))?;
        let instance = registry.instance_id().await?;
        let routing = Mutex::new(Routing::from_config(&config.proxy));
        let notifier = Notifier::start(config.notify.clone(), registry.clone())
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))?;
        Ok(Control {
            notifier,
            terms_changed: Arc::new(Notify::new()),
            progress: progress::Feeds::default(),
            key_source,
            chat: Default::default(),
            swarm: Default::default(),
            config,
            registry,
            routes,
            engine: OnceCell::new(),
            instance,
            live: Mutex::new(HashMap::new()),
            drain: Mutex::new(Duration::ZERO),
            locks: Mutex::new(HashMap::new()),
            routing,
            publications: routes::Publications::default(),
        })
    }

    /// The configuration this control plane runs with (reloaded routes aside).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The same configuration, shared (for tasks that outlive a borrow, like `acme::Manager`).
    pub(crate) fn config_arc(&self) -> Arc<Config> {
        self.config.clone()
    }

    /// The notification sender: the server resumes undelivered notes at start, the CLI's
    /// in-process mode flushes its own before exiting.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Re-encrypts every secret in the registry with a new key (`clubhost secrets rotate-key`);
    /// returns how many there were.
    pub async fn rotate_secret_key(&self, actor: &str) -> Result<u64> {
        crate::secrets::rotate(&self.registry, &self.key_source, actor)
            .await
            .map_err(|e| match e {
                crate::secrets::SecretsError::Registry(e) => ControlError::Registry(e),
                e @ crate::secrets::SecretsError::NotRotatable(_) => {
                    ControlError::Invalid(e.to_string())
                }
                e => ControlError::Internal(e.to_string()),
            })
    }

    /// Each project's deploy progress, live, for the portal's progress view.
    pub fn progress(&self) -> &progress::Feeds {
        &self.progress
    }

    /// The Docker engine, checked to answer right now: operations that will need it call this
    /// before they change the registry, so an unreachable engine changes nothing.
    pub(crate) async fn engine_now(&self) -> Result<&Engine> {
        let engine = self.engine().await?;
        engine.ping().await?;
        Ok(engine)
    }

    /// The Docker engine, connected (and the gateway network ensured) on first use.
    pub(crate) async fn engine(&self) -> Result<&Engine> {
        self.engine
            .get_or_try_init(|| async {
                let engine =
                    Engine::connect(self.config.docker.host.as_deref(), &self.instance).await?;
                subnets::check_gateway(&self.config, &engine).await?;
                let docker = &self.config.docker;
                if self.swarm_mode() {
                    // The gateway is an overlay there, made by the swarm backend.
                    return Ok::<_, ControlError>(engine);
                }
                engine
                    .ensure_gateway(&docker.gateway_network, &docker.gateway_subnet)
                    .await
                    .map_err(|e| match e {
                        DockerError::SubnetTaken { subnet, .. } => {
                            ControlError::from(SubnetError::GatewayTaken { subnet })
                        }
                        e => e.into(),
                    })?;
                Ok::<_, ControlError>(engine)
            })
            .await
    }

    /// A notification's text in the club's language (`[club] language`): what admins and the
    /// club's channels hear.
    fn say(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.say_in(self.club_lang(), key, args)
    }

    /// A notification's text in `lang` (an owner's, from [`Control::owner_lang`]).
    fn say_in(&self, lang: crate::i18n::Lang, key: &str, args: &[(&str, &str)]) -> String {
        crate::i18n::note(lang, key, args)
    }

    /// The club's language, `[club] language`.
    fn club_lang(&self) -> crate::i18n::Lang {
        crate::i18n::Lang::from_tag(&self.config.club.language).unwrap_or_default()
    }

    /// The language a member's notes speak: the one they last chose in the portal, else the
    /// club's (also when the lookup fails: a note is never held up by it).
    pub(crate) async fn owner_lang(&self, name: &str) -> crate::i18n::Lang {
        match self.registry.user_language(name).await {
            Ok(Some(code)) => crate::i18n::Lang::from_tag(&code).unwrap_or(self.club_lang()),
            _ => self.club_lang(),
        }
    }

    /// The language the owner of `slug` hears ([`Control::owner_lang`]).
    pub(crate) async fn project_owner_lang(&self, slug: &str) -> crate::i18n::Lang {
        match self.registry.project(slug).await {
            Ok(p) => self.owner_lang(&p.owner).await,
            Err(_) => self.club_lang(),
        }
    }

    fn lock_for(&self, slug: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("lock map poisoned");
        locks.entry(slug.to_string()).or_default().clone()
    }

    /// Set by the server: old deployments are removed this long after the route left them.
    pub fn set_drain(&self, drain: Duration) {
        *self.drain.lock().expect("drain poisoned") = drain;
    }

    /// The serving deployment of a project, if any.
    pub(crate) fn live(&self, slug: &str) -> Option<Live> {
        self.live
            .lock()
            .expect("live map poisoned")
            .get(slug)
            .copied()
    }

    /// Marks a project's serving deployment up or down (its container died or came back, as
    /// Docker's events tell) with its current address, and republishes the routes.
    pub(crate) async fn set_live_health(
        &self,
        slug: &str,
        deployment: i64,
        addr: Option<SocketAddr>,
        up: bool,
    ) -> Result<()> {
        {
            let mut live = self.live.lock().expect("live map poisoned");
            match live.get_mut(slug) {
                Some(l) if l.deployment == deployment => {
                    l.up = up;
                    if let Some(a) = addr {
                        l.addr = a;
                    }
                }
                _ => return Ok(()),
            }
        }
        self.publish_routes().await
    }

    // ---- operations ----

    /// Approves a request and deploys it; returns the project as it ends (running or failed).
    pub async fn approve(&self, slug: &str, actor: &str) -> Result<Project> {
        let lock = self.lock_for(slug);
        let _held = lock.lock().await;
        self.engine_now().await?;
        let project = self.registry.project(slug).await?;
        let owner = self.registry.user(&project.owner).await?;
        let stack = self.project_stack(&project).await?;
        // Held until the project is approved and counts against the quota.
        let member_held = self.check_quota_held(&owner, slug, &stack).await?;
        let lang = self.owner_lang(&project.owner).await;
        self.registry
            .transition_noting(slug, ProjectState::Approved, actor, "approved", |p| {
                self.notifier.keep(vec![Note::owner(
                    &p.owner,
                    slug,
                    self.say_in(lang, "note-approved-subject", &[("slug", slug)]),
                    self.say_in(
                        lang,
                        "note-approved-body",
                        &[("slug", slug), ("end", &terms::show_time(p.term_end))],
                    ),
                )])
            })
            .await?;
        drop(member_held);
        self.terms_changed.notify_one();
        self.deploy_locked(slug, actor, "approved").await
    }

    /// Deploys again (retry after failure, restart, restore after expiry).
    pub async fn redeploy(&self, slug: &str, actor: &str) -> Result<Project> {
        // An expired project's term is over: bringing it back is a restore, with a new term.
        if self.registry.project(slug).await?.state() == ProjectState::Expired {
            return self.restore(slug, actor, None).await;
        }
        let lock = self.lock_for(slug);
        let _held = lock.lock().await;
        // A failed or stopped project does not count against its member's quota; coming back,
        // it must fit like a new one.
        let p = self.registry.project(slug).await?;
        let mut member = None;
        if matches!(p.state(), ProjectState::Failed | ProjectState::Stopped) {
            let owner = self.registry.user(&p.owner).await?;
            let stack = self.project_stack(&p).await?;
            member = Some(self.check_quota_held(&owner, slug, &stack).await?);
        }
        self.deploy_holding(slug, actor, "redeploy", member).await
    }

    /// Refuses a request (an admin's decision): the member is told `reason`.
    pub async fn reject(&self, slug: &str, actor: &str, reason: &str) -> Result<Project> {
        let _held = self.lock_for(slug).lock_owned().await;
        let lang = self.project_owner_lang(slug).await;
        let p = self
            .registry
            .transition_noting(slug, ProjectState::Rejected, actor, reason, |p| {
                self.notifier.keep(vec![Note::owner(
                    &p.owner,
                    slug,
                    self.say_in(lang, "note-rejected-subject", &[("slug", slug)]),
                    self.say_in(
                        lang,
                        "note-rejected-body",
                        &[("slug", slug), ("reason", reason)],
                    ),
                )])
            })
            .await?;
        self.publish_routes().await?;
        Ok(p)
    }

    /// Takes a member's request back before an admin decided on it; the admins are told.
    pub async fn withdraw(&self, slug: &str, actor: &str) -> Result<Project> {
        let _held = self.lock_for(slug).lock_owned().await;
        let p = self
            .registry
            .transition_noting(
                slug,
                ProjectState::Withdrawn,
                actor,
                "withdrawn by the member",
                |p| {
                    self.notifier.keep(vec![Note::admins(
                        slug,
                        self.say("note-withdrawn-subject", &[("slug", slug)]),
                        self.say(
                            "note-withdrawn-body",
                            &[("owner", &p.owner), ("slug", slug), ("name", &p.name)],
                        ),
                    )])
                },
            )
            .await?;
        self.publish_routes().await?;
        Ok(p)
    }

    /// Ends a project's term now: the route answers "expired" at once, then its containers go.
    /// Volumes stay, so an admin can restore it with its data.
    pub async fn expire(&self, slug: &str, actor: &str, reason: &str) -> Result<Project> {
        let grace = crate::lifecycle::terms::describe(self.config.lifecycle.grace.as_secs() as i64);
        let lang = self.project_owner_lang(slug).await;
        let note = |p: &Project| {
            self.notifier.keep(vec![Note::owner(
                &p.owner,
                slug,
                self.say_in(lang, "note-expired-subject", &[("slug", slug)]),
                self.say_in(
                    lang,
                    "note-expired-body",
                    &[
                        ("slug", slug),
                        ("reason", reason),
                        ("grace", &grace),
                        ("backups", &self.backups_url(slug)),
                    ],
                ),
            )])
        };
        let p = self
            .take_down(slug, ProjectState::Expired, actor, reason, note)
            .await?;
        self.terms_changed.notify_one();
        Ok(p)
    }

    /// Stops a running project without ending its term.
    pub async fn stop(&self, slug: &str, actor: &str, reason: &str) -> Result<Project> {
        self.take_down(slug, ProjectState::Stopped, actor, reason, |_| Vec::new())
            .await
    }

    async fn take_down(
        &self,
        slug: &str,
        to: ProjectState,
        actor: &str,
        reason: &str,
        notes: impl FnOnce(&Project) -> Vec<Note>,
    ) -> Result<Project> {
        let _held = self.lock_for(slug).lock_owned().await;
        let engine = self.engine_now().await?;
        let p = self
            .registry
            .transition_noting(slug, to, actor, reason, notes)
            .await?;
        self.live.lock().expect("live map poisoned").remove(slug);
        self.publish_routes().await?;
        self.backend().await?.teardown(slug, false).await?;
        self.release_subnets(engine, slug).await;
        Ok(p)
    }

    /// Removes a project entirely: containers, network, volumes and its registry row. The audit
    /// log keeps its history.
    pub async fn delete(&self, slug: &str, actor: &str, reason: &str) -> Result<()> {
        let _held = self.lock_for(slug).lock_owned().await;
        let project = self.registry.project(slug).await?;
        let needs_docker = !matches!(
            project.state(),
            ProjectState::Requested
                | ProjectState::ChangesRequested
                | ProjectState::Rejected
                | ProjectState::Withdrawn
        );
        let engine = if needs_docker {
            Some(self.engine_now().await?)
        } else {
            None
        };
        // Registry first: a crash after this leaves only orphans, which start-up removes (and
        // `gc` for volumes), never a half-deleted project that reconcile would bring back.
        self.registry.delete_project(slug, actor, reason).await?;
        self.forget_files(slug);
        self.live.lock().expect("live map poisoned").remove(slug);
        self.progress.forget(slug);
        self.publish_routes().await?;
        // Only a project that may have had containers needs Docker.
        if let Some(engine) = engine {
            self.backend().await?.teardown(slug, true).await?;
            self.release_subnets(engine, slug).await;
        }
        Ok(())
    }
}
