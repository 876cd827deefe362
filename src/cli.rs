//! The command line. Every command except `serve` and `doctor` is a JSON call to the admin API:
//! over the unix socket when a server runs (so the server stays the single writer and swaps routes
//! at once), or to the same API router in this process when none does. One code path either way.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hyper::Method;
use serde_json::Value;

mod backup;
mod client;
mod files;
mod project;
mod stack;
mod tls;

use crate::api::requests::{ClockRequest, GcRequest, NewPassword, NewUser};
use client::Api;
use clubhost_core::config::Config;
use stack::StackCommand;

#[derive(Parser)]
#[command(
    name = "clubhost",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("CLUBHOST_GIT_COMMIT"), ")"),
    about = "Runs a student club's server: projects, proxy, portal"
)]
pub struct Cli {
    /// Config file (default: ./clubhost.toml if present, else built-in defaults).
    #[arg(long, global = true, env = "CLUBHOST_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the proxy, portal and admin API.
    Serve,
    /// Check Docker, the data dir and the listen port.
    Doctor,
    /// Manage members.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// List (and with --apply remove) clubhost-labelled containers, networks and volumes whose
    /// project the registry no longer knows.
    Gc {
        /// Remove them; without it this is a dry run.
        #[arg(long)]
        apply: bool,
        /// Also prune images clubhost deployed that no project needs any more (never one a
        /// container uses, never one clubhost did not deploy).
        #[arg(long)]
        images: bool,
        #[arg(long)]
        json: bool,
    },
    /// Move a test server's clock forward (needs lifecycle.settable_clock).
    #[command(hide = true)]
    Clock {
        /// How far, like "8d" or "36h".
        #[arg(long)]
        advance: String,
    },
    /// Check stack files and list the club's templates (no server needed).
    #[command(subcommand)]
    Stack(StackCommand),
    /// Manage the key that encrypts secret project variables in the registry.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// HTTPS certificates.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Back projects up, check and restore backups.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Print the audit log.
    Audit {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum TlsCommand {
    /// Each name's certificate: issuer, expiry, last renewal, last error.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every secret with a new key, in one transaction, and replace the key file.
    RotateKey,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a member (or an admin).
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        /// Where this member's notifications go.
        #[arg(long)]
        email: Option<String>,
    },
    /// Set a member's portal password, read from stdin (first line).
    Passwd { name: String },
}

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Request a hosting slot: for a stack file (`--stack FILE`), or for the project's files
    /// (`--dir DIR` or `--git URL`, with `--stack NAME` naming the stack file among them).
    Submit {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        slug: String,
        /// The stack file; with `--dir` or `--git`, its name at the top of the project's files
        /// (found as compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml if not
        /// given, or generated from a Dockerfile or an index.html).
        #[arg(long, required_unless_present_any = ["dir", "git"])]
        stack: Option<PathBuf>,
        /// The project's folder, packed and uploaded (`.git` left out).
        #[arg(long, conflicts_with = "git")]
        dir: Option<PathBuf>,
        /// A git repository: `https://…`, `file://…` or a local path.
        #[arg(long)]
        git: Option<String>,
        /// The branch or tag of `--git`; default branch if not given.
        #[arg(long = "ref", requires = "git")]
        reference: Option<String>,
        #[arg(long)]
        days: Option<u32>,
        /// Serve this project at `/`.
        #[arg(long)]
        root: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// A project variable, `KEY=VALUE` (repeatable).
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
        /// A secret project variable, `KEY=VALUE`: stored, never shown.
        #[arg(long = "secret", value_name = "KEY=VALUE")]
        secrets: Vec<String>,
    },
    /// Replace a project's variables (used from its next deploy on).
    Vars {
        slug: String,
        /// A project variable, `KEY=VALUE` (repeatable).
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
        /// A secret project variable, `KEY=VALUE`: stored, never shown.
        #[arg(long = "secret", value_name = "KEY=VALUE")]
        secrets: Vec<String>,
    },
    /// Approve a request and deploy it.
    Approve { slug: String },
    /// Send a request back to its member with a note, instead of approving or rejecting it.
    SendBack {
        slug: String,
        /// What should change; the member sees it in the portal.
        #[arg(long)]
        note: String,
    },
    /// Submit a request that was sent back again; what is not given is kept.
    Resubmit {
        slug: String,
        #[arg(long)]
        stack: Option<PathBuf>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        days: Option<u32>,
        /// Replaces the project's variables (with --secret), as `project vars` does.
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
        #[arg(long = "secret", value_name = "KEY=VALUE")]
        secrets: Vec<String>,
    },
    /// Refuse a request.
    Reject {
        slug: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// End a project's term now (volumes are kept).
    Expire {
        slug: String,
        #[arg(long, default_value = "expired by an admin")]
        reason: String,
    },
    /// Stop a running project.
    Stop {
        slug: String,
        #[arg(long, default_value = "stopped by an admin")]
        reason: String,
    },
    /// Deploy again (retry, restart or restore).
    Redeploy {
        slug: String,
        /// For a project from git: fetch the repository again first and deploy the new
        /// revision (the old one serves until the new one answers).
        #[arg(long)]
        pull: bool,
    },
    /// Remove a project with its containers, network and volumes.
    Delete { slug: String },
    /// Bring an expired project back with its data (during the grace period).
    Restore {
        slug: String,
        /// Length of the new term (default: the project's original term).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Remove an expired project's containers, network and volumes now (normally done by the
    /// scheduler when the grace period ends).
    Purge {
        slug: String,
        #[arg(long, default_value = "purged by an admin")]
        reason: String,
    },
    /// Mark a project permanent (never expires); --off gives it back its term.
    Permanent {
        slug: String,
        #[arg(long)]
        off: bool,
    },
    /// Ask for a later term end (lands in the admin queue).
    Renew {
        slug: String,
        /// Days added to the current term end.
        #[arg(long)]
        days: u32,
        #[arg(long)]
        reason: String,
        /// Who asks (default: the project's owner).
        #[arg(long)]
        by: Option<String>,
    },
    /// List renewal requests (pending ones unless --all).
    Renewals {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Approve a renewal request: the term end moves.
    ApproveRenewal {
        id: i64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Decline a renewal request.
    RejectRenewal {
        id: i64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List projects.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one project and its deployments.
    Show {
        slug: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => crate::server::serve_with_reload(config, cli.config.clone()).await,
        Command::Doctor => clubhost_core::doctor::run(&config, cli.config.as_deref()).await,
        Command::Tls(TlsCommand::List { json }) => tls::list(config, json).await,
        Command::Secrets(SecretsCommand::RotateKey) => {
            let api = Api::connect(config).await?;
            let v = api
                .call(Method::POST, "/api/secrets/rotate-key", None)
                .await?;
            println!(
                "secret key rotated: {} secret(s) re-encrypted",
                text(&v["reencrypted"])
            );
            Ok(())
        }
        Command::User(UserCommand::Passwd { name }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let api = Api::connect(config).await?;
            let path = format!("/api/users/{name}/password");
            let body = NewPassword {
                password: password.to_string(),
            };
            api.send(Method::POST, &path, &body).await?;
            println!("password set for {name}");
            Ok(())
        }
        Command::User(UserCommand::Add { name, admin, email }) => {
            let api = Api::connect(config).await?;
            let body = NewUser { name, admin, email };
            let u = api.send(Method::POST, "/api/users", &body).await?;
            println!(
                "added {} {}",
                if admin { "admin" } else { "member" },
                u["name"]
            );
            Ok(())
        }
        Command::Project(cmd) => {
            // A folder is packed within the same caps the server applies.
            let b = &config.build;
            let caps = clubhost_source::Caps {
                max_compressed: b.max_compressed,
                max_unpacked: b.max_unpacked,
                max_files: b.max_files,
            };
            project::project(Api::connect(config).await?, cmd, caps).await
        }
        Command::Gc {
            apply,
            images,
            json,
        } => {
            let api = Api::connect(config).await?;
            let body = GcRequest { apply, images };
            let report = api.send(Method::POST, "/api/gc", &body).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            let verb = if apply { "removed" } else { "would remove" };
            let mut n = 0;
            for kind in ["containers", "networks", "volumes", "images", "revisions"] {
                for item in report[kind].as_array().into_iter().flatten() {
                    println!("{verb} {} {}", kind.trim_end_matches('s'), text(item));
                    n += 1;
                }
            }
            for item in report["kept_images"].as_array().into_iter().flatten() {
                println!("kept image {}", text(item));
            }
            let what = if images {
                "orphans or unused images"
            } else {
                "orphans"
            };
            if n == 0 {
                println!("no {what}");
            } else if !apply {
                let again = if images {
                    "gc --images --apply"
                } else {
                    "gc --apply"
                };
                println!("dry run: {n} to remove; run `clubhost {again}` to remove them");
            }
            Ok(())
        }
        Command::Clock { advance } => {
            let secs = humantime::parse_duration(&advance)
                .with_context(|| format!("--advance {advance:?} is not a duration like \"8d\""))?
                .as_secs();
            let api = Api::connect(config).await?;
            let body = ClockRequest {
                advance_secs: i64::try_from(secs).context("--advance is too far")?,
            };
            let v = api.send(Method::POST, "/api/clock", &body).await?;
            println!("clock now {}", format_time(v["now"].as_i64()));
            Ok(())
        }
        Command::Stack(cmd) => stack::run(&config, cmd),
        Command::Backup(cmd) => backup::run(Api::connect(config).await?, cmd).await,
        Command::Audit { project, json } => {
            let api = Api::connect(config).await?;
            let path = match &project {
                Some(p) => format!("/api/audit?project={p}"),
                None => "/api/audit".into(),
            };
            let log = api.call(Method::GET, &path, None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&log)?);
            } else {
                for e in log.as_array().into_iter().flatten() {
                    println!(
                        "{}  {:<14} {:<12} {:<20} {} {}",
                        format_time(e["at"].as_i64()),
                        text(&e["actor"]),
                        text(&e["project"]),
                        text(&e["action"]),
                        text(&e["to_state"]),
                        text(&e["reason"]),
                    );
                }
            }
            Ok(())
        }
    }
}

pub(crate) fn print_project(p: &Value) {
    println!(
        "{}: {} (route {})",
        text(&p["slug"]),
        text(&p["state"]),
        text(&p["route"])
    );
    if let Some(reason) = p["failure_reason"].as_str() {
        println!("  reason: {reason}");
    }
    if let (Some(note), "changes_requested") =
        (p["review_note"].as_str(), text(&p["state"]).as_str())
    {
        println!("  sent back: {note}");
    }
    if let Some(end) = p["term_end"].as_i64() {
        println!("  term ends {}", format_time(Some(end)));
    }
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

pub(crate) fn format_time(secs: Option<i64>) -> String {
    match secs {
        Some(s) if s >= 0 => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(s as u64),
        )
        .to_string(),
        _ => "-".into(),
    }
}
