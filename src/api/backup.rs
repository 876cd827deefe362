//! The admin API's backup routes (`clubhost backup …`): thin calls into `Control`'s backup
//! operations, with the request bodies the CLI sends.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiResult, SOCKET_ACTOR};
use clubhost_core::control::{
    BackupInfo, Control, ControlError, PruneReport, RestoreReport, Verification,
};

/// `POST /api/backups`: back up one project, or all with `all`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CreateBackup {
    /// The project's slug.
    #[serde(default)]
    pub project: Option<String>,
    /// Every project with data instead.
    #[serde(default)]
    pub all: bool,
}

/// `POST /api/backups/verify`: one backup, or all.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct VerifyBackup {
    /// The backup's id; `None` checks every complete backup.
    #[serde(default)]
    pub id: Option<i64>,
}

/// `POST /api/backups/restore`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RestoreBackup {
    /// The project the backup is of.
    pub project: String,
    /// The backup; `None` is the project's newest.
    #[serde(default)]
    pub id: Option<i64>,
    /// Restore as a new project with this slug.
    #[serde(default)]
    pub as_slug: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    project: Option<String>,
}

pub(super) fn routes() -> Router<Arc<Control>> {
    Router::new()
        .route("/api/backups", get(list).post(create))
        .route("/api/backups/verify", post(verify))
        .route("/api/backups/restore", post(restore))
        .route("/api/backups/prune", post(prune))
}

async fn list(
    State(c): State<Arc<Control>>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<BackupInfo>> {
    Ok(Json(c.backups(q.project.as_deref()).await?))
}

async fn create(State(c): State<Arc<Control>>, Json(b): Json<CreateBackup>) -> ApiResult<Value> {
    match (b.project, b.all) {
        (Some(slug), false) => Ok(Json(json!([c.create_backup(&slug, SOCKET_ACTOR).await?]))),
        (None, true) => {
            let all = c.create_all_backups(SOCKET_ACTOR).await?;
            let mut out: Vec<Value> = all
                .into_iter()
                .map(|(project, r)| match r {
                    Ok(info) => json!(info),
                    Err(e) => {
                        json!({ "project": project, "error": crate::errors::public_message(&e) })
                    }
                })
                .collect();
            // The registry too, online, as the scheduled round does.
            out.push(match c.backup_registry().await {
                Ok(path) => json!({ "registry": path }),
                Err(e) => {
                    json!({ "project": "(registry)", "error": crate::errors::public_message(&e) })
                }
            });
            Ok(Json(Value::Array(out)))
        }
        _ => Err(ControlError::Invalid("name one project, or ask for all".into()).into()),
    }
}

async fn verify(
    State(c): State<Arc<Control>>,
    Json(v): Json<VerifyBackup>,
) -> ApiResult<Vec<Verification>> {
    Ok(Json(c.verify_backups(v.id).await?))
}

async fn restore(
    State(c): State<Arc<Control>>,
    Json(r): Json<RestoreBackup>,
) -> ApiResult<RestoreReport> {
    Ok(Json(
        c.restore_backup(&r.project, r.id, r.as_slug.as_deref(), SOCKET_ACTOR)
            .await?,
    ))
}

async fn prune(State(c): State<Arc<Control>>) -> ApiResult<PruneReport> {
    Ok(Json(c.prune_backups(SOCKET_ACTOR).await?))
}
