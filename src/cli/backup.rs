//! `clubhost backup …`: create, list, verify, restore and prune project backups, each as its
//! admin API call, the answer printed for people (or as JSON with `--json`).

use anyhow::bail;
use clap::Subcommand;
use hyper::Method;

use super::client::Api;
use super::{format_time, text};
use crate::api::backup::{CreateBackup, RestoreBackup, VerifyBackup};

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Back a project up now (its registry record and every volume); prints the id last.
    Create {
        slug: Option<String>,
        /// Every project that has data.
        #[arg(long)]
        all: bool,
    },
    /// List complete backups, newest first.
    List {
        slug: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check backups' files against their manifests' SHA-256 sums (all, or one).
    Verify { id: Option<i64> },
    /// Put a backup back: stop, replace the volumes, deploy (default: the newest backup).
    Restore {
        slug: String,
        id: Option<i64>,
        /// Restore as a new project with this slug.
        #[arg(long = "as", value_name = "NEW_SLUG")]
        as_slug: Option<String>,
    },
    /// Remove the backups `[backup]`'s retention does not keep.
    Prune,
}

pub(super) async fn run(api: Api, cmd: BackupCommand) -> anyhow::Result<()> {
    match cmd {
        BackupCommand::Create { slug, all } => {
            if slug.is_some() == all {
                bail!("name one project, or give --all");
            }
            let body = CreateBackup { project: slug, all };
            let v = api.send(Method::POST, "/api/backups", &body).await?;
            let mut failed = 0;
            for b in v.as_array().into_iter().flatten() {
                if let Some(path) = b["registry"].as_str() {
                    println!("registry copied to {path}");
                    continue;
                }
                match b["error"].as_str() {
                    Some(e) => {
                        failed += 1;
                        println!("backup of {} failed: {e}", text(&b["project"]));
                    }
                    None => println!(
                        "backup of {} complete: {} bytes in {}, id {}",
                        text(&b["project"]),
                        text(&b["bytes"]),
                        text(&b["path"]),
                        text(&b["id"])
                    ),
                }
            }
            if failed > 0 {
                bail!("{failed} backup(s) failed");
            }
        }
        BackupCommand::List { slug, json } => {
            let path = match &slug {
                Some(s) => format!("/api/backups?project={s}"),
                None => "/api/backups".into(),
            };
            let v = api.call(Method::GET, &path, None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            for b in v.as_array().into_iter().flatten() {
                // Off-site state, with `[backup] restic_repository`: the snapshot's short id, or
                // that the copy failed (why: `--json`).
                let offsite = match (b["offsite"].as_str(), b["offsite_error"].as_str()) {
                    (Some(snap), _) => format!("  off-site {}", &snap[..snap.len().min(8)]),
                    (None, Some(_)) => "  off-site FAILED".to_string(),
                    (None, None) => String::new(),
                };
                println!(
                    "{:>6}  {:<20} {}  {:>12} bytes  {}{offsite}",
                    text(&b["id"]),
                    text(&b["project"]),
                    format_time(b["created_at"].as_i64()),
                    text(&b["bytes"]),
                    text(&b["actor"])
                );
            }
        }
        BackupCommand::Verify { id } => {
            let v = api
                .send(Method::POST, "/api/backups/verify", &VerifyBackup { id })
                .await?;
            let mut bad = 0;
            for b in v.as_array().into_iter().flatten() {
                let problems: Vec<String> = b["problems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect();
                if problems.is_empty() {
                    println!("backup {} of {}: ok", text(&b["id"]), text(&b["project"]));
                } else {
                    bad += 1;
                    println!(
                        "backup {} of {}: DAMAGED: {}",
                        text(&b["id"]),
                        text(&b["project"]),
                        problems.join("; ")
                    );
                }
            }
            if bad > 0 {
                bail!("{bad} backup(s) damaged");
            }
        }
        BackupCommand::Restore { slug, id, as_slug } => {
            let body = RestoreBackup {
                project: slug,
                id,
                as_slug,
            };
            let v = api
                .send(Method::POST, "/api/backups/restore", &body)
                .await?;
            let p = &v["project"];
            println!(
                "backup {} restored into {} ({} volume(s){}): {}",
                text(&v["backup"]),
                text(&p["slug"]),
                v["volumes"].as_array().map_or(0, Vec::len),
                if v["recreated"] == true {
                    ", project recreated"
                } else {
                    ""
                },
                text(&p["state"])
            );
            for service in v["dumps_loaded"].as_array().into_iter().flatten() {
                println!("database dump of {} loaded", text(service));
            }
            if let Some(safety) = v["safety_backup"].as_i64() {
                println!("the data it replaced is in backup {safety}");
            }
            if text(&p["state"]) != "running" {
                bail!(
                    "the restored project is {}: {}",
                    text(&p["state"]),
                    text(&p["failure_reason"])
                );
            }
        }
        BackupCommand::Prune => {
            let v = api.call(Method::POST, "/api/backups/prune", None).await?;
            for id in v["removed"].as_array().into_iter().flatten() {
                println!("removed backup {}", text(id));
            }
            println!(
                "{} removed, {} kept",
                v["removed"].as_array().map_or(0, Vec::len),
                v["kept"].as_array().map_or(0, Vec::len)
            );
        }
    }
    Ok(())
}
