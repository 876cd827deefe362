//! Integration tests: the real binary, a real Docker engine, real sockets.
//!
//! - `skeleton`: submit → approve → visitor, networks, routing, expire, restart, bad input.
//! - `cli`: configuration and command-line errors that need no Docker.
//! - `faults`: redeploys under load, dying containers, SIGKILL, Docker going away, isolation.
//! - `proxy`: the proxy in-process against loopback upstreams; `proxy_reload`: SIGHUP reload.

mod cli;
mod common;
mod faults;
mod proxy;
mod proxy_reload;
mod proxy_support;
mod skeleton;
