//! `clubhost project …`: each subcommand as its admin API call, and the answer printed for people.

use anyhow::{Context, bail};
use hyper::Method;
use serde_json::json;

use super::client::Api;
use super::{ProjectCommand, format_time, print_project, text};

pub(super) async fn project(api: Api, cmd: ProjectCommand) -> anyhow::Result<()> {
    let action = |slug: &str, action: &str| format!("/api/projects/{slug}/{action}");
    let p = match cmd {
        ProjectCommand::Submit {
            owner,
            slug,
            stack,
            days,
            root,
            name,
            description,
            vars,
            secrets,
        } => {
            let text = std::fs::read_to_string(&stack)
                .with_context(|| format!("cannot read stack file {}", stack.display()))?;
            let vars = crate::stack_cli::vars_from_args(&vars, &secrets)?;
            let body = json!({
                "owner": owner, "slug": slug, "stack": text, "days": days, "root": root,
                "name": name, "description": description, "vars": vars,
            });
            api.call(Method::POST, "/api/projects", Some(body)).await?
        }
        ProjectCommand::Vars {
            slug,
            vars,
            secrets,
        } => {
            let vars = crate::stack_cli::vars_from_args(&vars, &secrets)?;
            let v = api
                .call(
                    Method::PUT,
                    &format!("/api/projects/{slug}/variables"),
                    Some(json!(vars)),
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
        ProjectCommand::Redeploy { slug } => {
            api.call(Method::POST, &action(&slug, "redeploy"), None)
                .await?
        }
        ProjectCommand::SendBack { slug, note } => {
            let body = json!({ "note": note });
            api.call(Method::POST, &action(&slug, "send-back"), Some(body))
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
                .then(|| crate::stack_cli::vars_from_args(&vars, &secrets))
                .transpose()?;
            let body = json!({
                "stack": stack, "name": name, "description": description, "days": days,
                "vars": vars,
            });
            api.call(Method::POST, &action(&slug, "resubmit"), Some(body))
                .await?
        }
        ProjectCommand::Reject { slug, reason } => {
            let body = json!({ "reason": reason });
            api.call(Method::POST, &action(&slug, "reject"), Some(body))
                .await?
        }
        ProjectCommand::Expire { slug, reason } => {
            let body = json!({ "reason": reason });
            api.call(Method::POST, &action(&slug, "expire"), Some(body))
                .await?
        }
        ProjectCommand::Stop { slug, reason } => {
            let body = json!({ "reason": reason });
            api.call(Method::POST, &action(&slug, "stop"), Some(body))
                .await?
        }
        ProjectCommand::Restore { slug, days } => {
            let body = json!({ "days": days });
            api.call(Method::POST, &action(&slug, "restore"), Some(body))
                .await?
        }
        ProjectCommand::Purge { slug, reason } => {
            let body = json!({ "reason": reason });
            api.call(Method::POST, &action(&slug, "purge"), Some(body))
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
            let body = json!({ "days": days, "reason": reason, "by": by });
            let r = api
                .call(Method::POST, &action(&slug, "renewals"), Some(body))
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
                .call(
                    Method::POST,
                    &format!("/api/renewals/{id}/approve"),
                    Some(json!({ "reason": reason })),
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
                .call(
                    Method::POST,
                    &format!("/api/renewals/{id}/reject"),
                    Some(json!({ "reason": reason })),
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
