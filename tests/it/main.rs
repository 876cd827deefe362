//! Integration tests: the real binary, a real Docker engine, real sockets.
//!
//! - `skeleton`: submit → approve → visitor, networks, routing, expire, restart, bad input.
//! - `cli`: configuration and command-line errors that need no Docker.

mod cli;
mod common;
mod portal;
mod skeleton;
