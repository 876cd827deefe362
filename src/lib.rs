//! clubhost: one binary that runs a student club's server.
//!
//! Layout (see ARCHITECTURE.md for the invariants):
//! - [`config`]: `clubhost.toml` and its defaults.
//! - [`registry`]: the SQLite registry and the project lifecycle.
//! - [`stack`]: compose-compatible stack files, parsed into plain data.
//! - [`docker`]: the Docker engine through bollard (the only module that imports it).
//! - [`deploy`]: a stack to containers and back.
//! - [`control`]: every project operation; joins registry, deployer and routes.
//! - [`proxy`]: the reverse proxy and its route table.
//! - [`portal`]: the member portal's pages.
//! - [`api`]: the admin JSON API on the unix socket.
//! - [`lifecycle`]: hosting terms (clock, reminders, expiry, purge, quotas) and their scheduler.
//! - [`notify`]: webhook and email notifications, delivered in the background.
//! - [`gc`]: finds and removes Docker objects the registry no longer knows.
//! - [`server`], [`cli`], [`doctor`]: the binary's commands.
//! - [`stack_cli`]: `clubhost stack check` and `clubhost stack templates`.

pub mod api;
pub mod cli;
pub mod config;
pub mod control;
pub mod deploy;
pub mod docker;
pub mod doctor;
pub mod gc;
pub mod lifecycle;
pub mod notify;
pub mod portal;
pub mod proxy;
pub mod registry;
pub mod server;
pub mod stack;
pub mod stack_cli;
pub mod watch;
