//! Integration tests: the real binary, a real Docker engine, real sockets.
//!
//! - `skeleton`: submit → approve → visitor, networks, routing, expire, restart, bad input.
//! - `portal`, `portal_projects`: the portal router in-process: who may call each endpoint, CSRF,
//!   validation, and the project flows.
//! - `browser`: sign-up → request → approve → visit → expire in a real headless chromium.
//! - `cli`: configuration and command-line errors that need no Docker.

mod browser;
mod cli;
mod common;
mod portal;
mod portal_projects;
mod skeleton;
