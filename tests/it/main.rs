//! Integration tests: the real binary, a real Docker engine, real sockets.
//!
//! - `skeleton`: submit → approve → visitor, networks, routing, expire, restart, bad input.
//! - `cli`: configuration and command-line errors that need no Docker.
//! - `stack_corpus`: the checker on real-world-shaped compose files; random input never panics.
//! - `stack_deploy`: the seed WordPress file deployed; variables, limits, `stack check`.

mod cli;
mod common;
mod skeleton;
mod stack_corpus;
mod stack_deploy;
