//! Integration tests: the real binary, a real Docker engine, real sockets.
//!
//! - `skeleton`: submit → approve → visitor, networks, routing, expire, restart, bad input.
//! - `portal`, `portal_projects`, `portal_review`: the portal router in-process: who may call each
//!   endpoint, CSRF, validation, the project flows, requests from templates and the send-back /
//!   resubmit round trip; `portal_path`: the portal at a configured path and on `portal.<domain>`;
//!   `portal_terms`: renewals and term actions; `portal_progress`: live deploy progress and CPU use.
//! - `portal_lang`: Korean and English: Accept-Language, the switch and its cookie, the default.
//! - `portal_access`: the table of every portal route × every kind of caller, with and without the
//!   CSRF token; `portal_abuse`: session fixation, login throttling, oversized and malformed
//!   input, tricky slugs.
//! - `browser`: sign-up → request → approve → visit → expire in a real headless chromium;
//!   `browser_portal`: the portal's rough edges as a real browser shows them (refusal pages, the
//!   review card after approval, where admins land, the menu at phone width); `browser_driver`:
//!   the WebDriver client they share; `browser_chat`: a Discord invite made per member (against
//!   a local stand-in of Discord's endpoint); `browser_login`: login throttling that slows a stranger
//!   but never locks the owner out; `browser_request`: the request form and review card at a
//!   phone's width.
//! - `browser`: sign-up → request → approve → visit → expire in a real headless chromium.
//! - `browser_home`: the club's front door at `/` and the admin dashboard (figures against the
//!   registry and `docker system df`), every page at desktop and phone width with screenshots in
//!   `target/screenshots/`; `browser_keys`: sign-up and a request by keyboard alone, and no layout
//!   shift when the live checker answers; `portal_home`: the CSS palette against WCAG AA.
//! - `cli`: configuration and command-line errors that need no Docker.
//! - `faults`: redeploys under load, dying containers, SIGKILL, Docker going away, isolation.
//! - `proxy`: the proxy in-process against loopback upstreams; `proxy_reload`: SIGHUP reload;
//!   `proxy_fuzz`: a short seeded run of mutated requests; `proxy_upstream`: scripted upstreams;
//!   `proxy_visitor`: our server and hyper's on one connection, HTTP/1.0, graceful shutdown.
//! - `lifecycle`: terms, reminders, renewals, expiry, restore, purge, quotas, gc, notifications.
//! - `notify`: https webhooks and SMTP over TLS with the club's CA, notes that survive a restart.
//! - `image_tags`: no test adds, moves or removes a public image tag (checked at exit).
//! - `images`: `gc --images` prunes only images clubhost deployed that no project needs.
//! - `pools`: more projects than Docker's default address pools hold, each on its own subnet of
//!   `[docker] subnet_pool`; an exhausted pool; blocks freed and reused.
//! - `audit`: logins, logouts, password changes and user actions in the audit log.
//! - `sinks`: the local webhook receiver, SMTP sink and test CA the notification tests start.
//! - `architecture`: which crate may depend on what, and no module cycles in any crate.
//! - `project_build`: a folder with a Dockerfile built and deployed with its files and env file.
//! - `project_files`: projects as files: a git repository by `file://`, redeployed through its
//!   signed webhook; folders with a found, generated or refused stack file.
//! - `stack_deploy`: the seed WordPress file deployed; variables, limits, `stack check`, the
//!   small service keys on the containers; `stack_images`: image healthchecks and `platform:`.
//! - `harden`: owner-only files, secrets sealed at rest through restart and key rotation,
//!   `--version`.
//! - `tls`: HTTPS by ACME against pebble: issuance, SNI, HTTP/2, HSTS, the redirect, a cut-off
//!   handshake, a restart that orders nothing, a renewal, a refused order's one-hour backoff (and
//!   the admins told once); `tls_alpn`: issuance by TLS-ALPN-01 on the HTTPS listener;
//!   `tls_domains`: a member's own domain proved, routed, certified and
//!   removed, and a deleted project's certificate removed; `portal_domains`: the domain forms'
//!   rules and who may use them, and the admins' certificates page.
//! - `packaging`: the hardened systemd unit (`systemd-analyze security` exposure) and the `cargo
//!   deb` metadata.

mod architecture;
mod audit;
mod backup;
mod backup_download;
mod backup_dumps;
mod backup_restic;
mod browser;
mod browser_chat;
mod browser_driver;
mod browser_home;
mod browser_keys;
mod browser_login;
mod browser_portal;
mod browser_request;
mod cli;
mod common;
mod faults;
mod harden;
mod image_tags;
mod images;
mod lifecycle;
mod notify;
mod packaging;
mod pools;
mod portal;
mod portal_abuse;
mod portal_access;
mod portal_domains;
mod portal_files;
mod portal_home;
mod portal_lang;
mod portal_path;
mod portal_progress;
mod portal_projects;
mod portal_review;
mod portal_terms;
mod project_build;
mod project_files;
mod proxy;
mod proxy_fuzz;
mod proxy_reload;
mod proxy_support;
mod proxy_upstream;
mod proxy_visitor;
mod sinks;
mod skeleton;
mod stack_deploy;
mod stack_images;
mod swarm;
mod tls;
mod tls_alpn;
mod tls_domains;
