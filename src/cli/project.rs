//! `clubhost project …`: each subcommand as its admin API call, and the answer printed for people.

use anyhow::{Context, bail};
use hyper::Method;

use super::client::Api;
use super::{ProjectCommand, format_time, print_project, text};
use crate::api::requests::ActionBody;
use clubhost_core::control::{RenewalRequest, Resubmission, Submission};

pub(super) async fn project(
    api: Api,
    cmd: ProjectCommand,
    caps: clubhost_source::Caps,
) -> anyhow::Result<()> {
    let action = |slug: &str, action: &str| format!("/api/projects/{slug}/{action}");
    let p = match cmd {
        ProjectCommand::Submit {
            owner,
            slug,
            stack,
            dir,
            git,
            reference,
            days,
            root,
            name,
            description,
            vars,
            secrets,
        } => {
            let vars = super::stack::vars_from_args(&vars, &secrets)?;
            let mut body = Submission {
                owner,
                slug,
                name,
                description,
                stack: String::new(),
                days,
                root,
                vars,
                source_url: String::new(),
            };
            if dir.is_none() && git.is_none() {
                let stack = stack.context("--stack FILE is needed without --dir or --git")?;
                body.stack = std::fs::read_to_string(&stack)
                    .with_context(|| format!("cannot read stack file {}", stack.display()))?;
                api.send(Method::POST, "/api/projects", &body).await?
            } else {
                let files = super::files::Files {
                    dir,
                    git,
                    reference,
                    stack,
                };
                files.submit(&api, body, &caps).await?
            }
        }
        ProjectCommand::Vars {
            slug,
            vars,
            secrets,
        } => {
            let vars = super::stack::vars_from_args(&vars, &secrets)?;
            let v = api
                .send(
                    Method::PUT,
                    &format!("/api/projects/{slug}/variables"),
                    &vars,
                )
                .await?;
            for (k, val) in v["variables"].as_object().into_iter().flatten() {
                println!("{k}={}", text(val));
            }
            return Ok(());
        }
        ProjectCommand::Approve { slug } => {
            api.call(Method::POST, &action(&slug, "approve"), None)
                .await?
        }
        ProjectCommand::Redeploy { slug, pull } => {
            let what = if pull { "pull" } else { "redeploy" };
            api.call(Method::POST, &action(&slug, what), None).await?
        }
        ProjectCommand::SendBack { slug, note } => {
            let body = ActionBody {
                note,
                ..ActionBody::default()
            };
            api.send(Method::POST, &action(&slug, "send-back"), &body)
                .await?
        }
        ProjectCommand::Resubmit {
            slug,
            stack,
            name,
            description,
            days,
            vars,
            secrets,
        } => {
            let stack = stack
                .map(|p| {
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read stack file {}", p.display()))
                })
                .transpose()?;
            let vars = (!vars.is_empty() || !secrets.is_empty())
                .then(|| super::stack::vars_from_args(&vars, &secrets))
                .transpose()?;
            let body = Resubmission {
                name,
                description,
                stack,
                vars,
                days,
                source_url: None,
            };
            api.send(Method::POST, &action(&slug, "resubmit"), &body)
                .await?
        }
        ProjectCommand::Reject { slug, reason } => {
            let body = ActionBody {
                reason,
                ..ActionBody::default()
            };
            api.send(Method::POST, &action(&slug, "reject"), &body)
                .await?
        }
        ProjectCommand::Expire { slug, reason } => {
            let body = ActionBody {
                reason,
                ..ActionBody::default()
            };
            api.send(Method::POST, &action(&slug, "expire"), &body)
                .await?
        }
        ProjectCommand::Stop { slug, reason } => {
            let body = ActionBody {
                reason,
                ..ActionBody::default()
            };
            api.send(Method::POST, &action(&slug, "stop"), &body)
                .await?
        }
        ProjectCommand::Restore { slug, days } => {
            let body = ActionBody {
                days,
                ..ActionBody::default()
            };
            api.send(Method::POST, &action(&slug, "restore"), &body)
                .await?
        }
        ProjectCommand::Purge { slug, reason } => {
            let body = ActionBody {
                reason,
                ..ActionBody::default()
            };
            api.send(Method::POST, &action(&slug, "purge"), &body)
                .await?
        }
        ProjectCommand::Permanent { slug, off } => {
            let what = if off { "temporary" } else { "permanent" };
            let p = api.call(Method::POST, &action(&slug, what), None).await?;
            println!("{slug} is now {what}");
            p
        }
        ProjectCommand::Renew {
            slug,
            days,
            reason,
            by,
        } => {
            let body = RenewalRequest { by, days, reason };
            let r = api
                .send(Method::POST, &action(&slug, "renewals"), &body)
                .await?;
            println!(
                "renewal #{} for {slug} requested: term end {} -> {} (waiting for an admin)",
                r["id"],
                format_time(r["current_end"].as_i64()),
                format_time(r["new_end"].as_i64())
            );
            return Ok(());
        }
        ProjectCommand::Renewals { all, json } => {
            let path = if all {
                "/api/renewals?all=true"
            } else {
                "/api/renewals"
            };
            let list = api.call(Method::GET, path, None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<5} {:<20} {:<12} {:<9} {:<21} {:<21} REASON",
                    "ID", "PROJECT", "BY", "STATE", "TERM END", "ASKED END"
                );
                for r in list.as_array().into_iter().flatten() {
                    println!(
                        "{:<5} {:<20} {:<12} {:<9} {:<21} {:<21} {}",
                        text(&r["id"]),
                        text(&r["project"]),
                        text(&r["requested_by"]),
                        text(&r["state"]),
                        format_time(r["current_end"].as_i64()),
                        format_time(r["new_end"].as_i64()),
                        text(&r["reason"]),
                    );
                }
            }
            return Ok(());
        }
        ProjectCommand::ApproveRenewal { id, reason } => {
            let r = api
                .send(
                    Method::POST,
                    &format!("/api/renewals/{id}/approve"),
                    &ActionBody {
                        reason,
                        ..ActionBody::default()
                    },
                )
                .await?;
            println!(
                "renewal #{id} approved: {} now ends {}",
                text(&r["project"]),
                format_time(r["new_end"].as_i64())
            );
            return Ok(());
        }
        ProjectCommand::RejectRenewal { id, reason } => {
            let r = api
                .send(
                    Method::POST,
                    &format!("/api/renewals/{id}/reject"),
                    &ActionBody {
                        reason,
                        ..ActionBody::default()
                    },
                )
                .await?;
            println!("renewal #{id} of {} rejected", text(&r["project"]));
            return Ok(());
        }
        ProjectCommand::Delete { slug } => {
            api.call(Method::DELETE, &format!("/api/projects/{slug}"), None)
                .await?;
            println!("deleted {slug}");
            return Ok(());
        }
        ProjectCommand::List { json } => {
            let list = api.call(Method::GET, "/api/projects", None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<20} {:<10} {:<12} {:<20} TERM END",
                    "SLUG", "STATE", "OWNER", "ROUTE"
                );
                for p in list.as_array().into_iter().flatten() {
                    println!(
                        "{:<20} {:<10} {:<12} {:<20} {}",
                        text(&p["slug"]),
                        text(&p["state"]),
                        text(&p["owner"]),
                        text(&p["route"]),
                        format_time(p["term_end"].as_i64()),
                    );
                }
            }
            return Ok(());
        }
        ProjectCommand::Show { slug, json } => {
            let v = api
                .call(Method::GET, &format!("/api/projects/{slug}"), None)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_project(&v["project"]);
                // Secret values arrive masked from the server.
                for (k, val) in v["variables"].as_object().into_iter().flatten() {
                    println!("  var {k}={}", text(val));
                }
                let files = &v["files"]["source"];
                if !files.is_null() {
                    let commit = files["commit_id"].as_str().map(|c| format!(" commit {c}"));
                    println!(
                        "  files {} revision {}{}{}",
                        text(&files["kind"]),
                        files["revision"],
                        files["git_url"]
                            .as_str()
                            .map(|u| format!(" from {u}"))
                            .unwrap_or_default(),
                        commit.unwrap_or_default()
                    );
                }
                if let Some(secret) = v["files"]["webhook_secret"].as_str() {
                    println!("  webhook <portal>/hooks/{slug} secret {secret}");
                }
                match v["last_backup"].as_object() {
                    Some(b) => println!(
                        "  last backup {} taken {}",
                        text(&b["id"]),
                        format_time(b["created_at"].as_i64())
                    ),
                    None => println!("  last backup: none"),
                }
                for d in v["deployments"].as_array().into_iter().flatten() {
                    println!(
                        "  deployment {} {} started {}{}",
                        d["id"],
                        text(&d["state"]),
                        format_time(d["started_at"].as_i64()),
                        d["error"]
                            .as_str()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            return Ok(());
        }
    };
    print_project(&p);
    if p["state"] == "failed" {
        bail!("deploy of {} failed", text(&p["slug"]));
    }
    Ok(())
}
