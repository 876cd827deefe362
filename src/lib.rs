//! clubhost: one binary that runs a student club's server. This crate is the binary's faces; the
//! work happens in the workspace's library crates (see ARCHITECTURE.md for the crate graph).
//!
//! - [`cli`]: the command line (clap), its client for the admin API, and `clubhost stack …`.
//! - [`server`]: `clubhost serve`: binds, reconciles, runs the proxy, portal and admin socket.
//! - [`api`]: the admin JSON API on the unix socket.
//! - [`portal`]: the member portal's pages and JSON API.

pub mod api;
pub mod cli;
mod errors;
pub mod portal;
pub mod server;
