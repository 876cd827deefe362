//! clubhost: one binary that runs a student club's server. This crate is the binary's faces; the
//! work happens in the workspace's library crates (see ARCHITECTURE.md for the crate graph).
//!
//! - [`cli`]: the command line (clap) and its client for the admin API.
//! - [`server`]: `clubhost serve`: binds, reconciles, runs the proxy, portal and admin socket.
//! - [`api`]: the admin JSON API on the unix socket.
//! - [`portal`]: the member portal's pages and JSON API.
//! - [`stack_cli`]: `clubhost stack check` and `clubhost stack templates`.

pub mod api;
pub mod cli;
pub mod portal;
pub mod server;
pub mod stack_cli;
