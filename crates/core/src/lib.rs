//! clubhost's control plane: everything between the binary's faces (CLI, admin API, portal) and
//! the outside world (the SQLite registry, the Docker engine, the proxy's route table).
//!
//! Its public face is [`control::Control`]: every project, account and term operation, and the
//! queries the faces show. The registry and the Docker engine stay inside this crate.
//!
//! - [`config`]: `clubhost.toml` and its defaults.
//! - [`control`]: every operation; joins registry, deployer and routes; the term scheduler.
//! - [`lifecycle`]: the term rules (reminders, expiry, purge) and quotas, as pure functions.
//! - [`notify`]: webhook and email notifications, delivered in the background.
//! - [`watch`]: follows Docker's events and marks projects down and up.
//! - [`gc`]: finds and removes Docker objects the registry no longer knows.
//! - [`doctor`]: `clubhost doctor`'s checks.

pub mod config;
pub mod control;
pub mod doctor;
pub mod gc;
pub mod lifecycle;
pub mod notify;
pub mod watch;
