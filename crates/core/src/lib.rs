//! clubhost's control plane: everything between the binary's faces (CLI, admin API, portal) and
//! the outside world (the SQLite registry, the Docker engine, the proxy's route table).
//!
//! Its public face is [`control::Control`]: every project, account and term operation, and the
//! queries the faces show. The registry and the Docker engine stay inside this crate.
//!
//! - [`accounts`]: the rules for names, e-mail addresses and passwords, and password hashing.
//! - [`config`]: `clubhost.toml` and its defaults.
//! - [`acme`]: HTTPS certificates: ordered (ACME HTTP-01), renewed, kept in the registry.
//! - [`control`]: every operation; joins registry, deployer and routes; the term scheduler.
//! - [`lifecycle`]: the term rules (reminders, expiry, purge) and quotas, as pure functions.
//! - [`notify`]: webhook and email notifications, delivered in the background.
//! - [`watch`]: follows Docker's events and marks projects down and up.
//! - [`gc`]: finds and removes Docker objects the registry no longer knows.
//! - [`doctor`]: `clubhost doctor`'s checks.
//! - [`files`]: owner-only files and directories, the process's umask.
//! - `secrets` (private): the key secrets are sealed with, and its rotation.
//! - `subnets`: the address pool project networks' subnets come from, and the host's routes.

#![warn(missing_docs)]

pub mod accounts;
pub mod acme;
pub mod backup;
pub mod chat;
pub mod config;
pub mod control;
pub mod doctor;
pub mod domains;
pub mod files;
pub mod gc;
pub mod i18n;
pub mod lifecycle;
pub mod notify;
mod secrets;
pub mod subnets;
pub mod watch;

/// The plain data the faces show, as the registry, the deployer and Docker describe it. Types only:
/// the `Registry` and the Docker `Engine` themselves stay inside this crate.
pub mod model {
    pub use clubhost_deploy::{Progress, WaitFor};
    pub use clubhost_docker::{ContainerUsage, DiskUsage, ManagedContainer};
    pub use clubhost_registry::accounts::UserFlag;
    pub use clubhost_registry::certs::CertInfo;
    pub use clubhost_registry::sessions::Session;
    pub use clubhost_registry::terms::Renewal;
    pub use clubhost_registry::{
        AuditEntry, Deployment, Project, ProjectState, RegistryError, User, now,
    };
}
