//! Integration tests: the real binary, a real Docker engine, real sockets.
//!
//! - `skeleton`: submit → approve → visitor, networks, routing, expire, restart, bad input.
//! - `cli`: configuration and command-line errors that need no Docker.
//! - `lifecycle`: terms, reminders, renewals, expiry, restore, purge, quotas, gc, notifications.
//! - `sinks`: the local webhook receiver and SMTP sink the lifecycle tests start.

mod cli;
mod common;
mod lifecycle;
mod sinks;
mod skeleton;
