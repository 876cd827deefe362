//! The admin HTTP API, served on a unix socket in the data dir (mode 0600).
//!
//! Who may call it: whoever can open the socket, which the file mode limits to the user running
//! clubhost (the club's admins on the server). The CLI uses it while a server runs so the server
//! stays the registry's single writer and swaps routes at once. Every handler is a thin call into
//! [`Control`]; the rules live there.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use clubhost_core::control::{Control, ControlError, Resubmission, Submission};

pub mod backup;
mod files;
pub mod requests;

use requests::{ActionBody, ClockRequest, GcRequest, NewPassword, NewUser};

/// The actor recorded in the audit log for calls through the socket.
const SOCKET_ACTOR: &str = "admin-socket";

pub fn router(control: Arc<Control>) -> Router {
    // An upload may be as large as `[build] max_compressed` (plus the form around it); every other
    // route keeps axum's small default limit.
    let upload_limit = (control.config().build.max_compressed + (1 << 20)) as usize;
    Router::new()
        .route(
            "/api/project-files",
            post(files::submit_files).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/health", get(|| async { Json(json!({ "ok": true })) }))
        .route("/api/users", post(add_user))
        .route("/api/users/{name}/password", post(set_password))
        .route("/api/projects", get(list_projects).post(submit))
        .route(
            "/api/projects/{slug}",
            get(show_project).delete(delete_project),
        )
        .route("/api/projects/{slug}/{action}", post(project_action))
        .route("/api/projects/{slug}/resubmit", post(resubmit))
        .route("/api/projects/{slug}/variables", put(set_variables))
        .route("/api/audit", get(audit))
        .route("/metrics", get(metrics))
        .route("/api/tls", get(certificates))
        .route("/api/projects/{slug}/renewals", post(request_renewal))
        .route("/api/renewals", get(list_renewals))
        .route("/api/renewals/{id}/{verdict}", post(decide_renewal))
        .route("/api/gc", post(gc))
        .route("/api/clock", post(advance_clock))
        .route("/api/secrets/rotate-key", post(rotate_key))
        .merge(backup::routes())
        .with_state(control)
}

/// Maps control errors to status codes; database details are logged, not returned.
pub struct ApiError(ControlError);

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = crate::errors::public_message(&self.0);
        (
            crate::errors::status(&self.0),
            Json(json!({ "error": message })),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

async fn add_user(
    State(c): State<Arc<Control>>,
    Json(u): Json<NewUser>,
) -> ApiResult<clubhost_core::model::User> {
    // Name and e-mail are checked before the account exists, so a refusal leaves nothing.
    Ok(Json(
        c.add_user(&u.name, u.admin, u.email.as_deref(), SOCKET_ACTOR)
            .await?,
    ))
}

/// Sets a portal password (for accounts made by `clubhost user add`); hashed with Argon2id.
async fn set_password(
    State(c): State<Arc<Control>>,
    Path(name): Path<String>,
    Json(p): Json<NewPassword>,
) -> ApiResult<serde_json::Value> {
    c.set_password(&name, &p.password, SOCKET_ACTOR).await?;
    Ok(Json(json!({ "password_set": name })))
}

async fn list_projects(
    State(c): State<Arc<Control>>,
) -> ApiResult<Vec<clubhost_core::model::Project>> {
    Ok(Json(c.projects().await?))
}

async fn show_project(
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> ApiResult<serde_json::Value> {
    let p = c.project(&slug).await?;
    let deployments = c.deployments(p.id).await?;
    // Secret values never leave the server: shown masked.
    let variables = c.variables(&slug).await?.masked();
    // The project's files, and for git its webhook secret (the socket is an admin).
    let files = c.source(&slug).await?.map(|v| {
        let secret = v.source.webhook_secret.clone();
        json!({ "source": v, "webhook_secret": secret })
    });
    let last_backup = c.backups(Some(&slug)).await?.into_iter().next();
    Ok(Json(
        json!({ "project": p, "deployments": deployments, "variables": variables, "files": files,
                "last_backup": last_backup }),
    ))
}

async fn submit(
    State(c): State<Arc<Control>>,
    Json(s): Json<Submission>,
) -> ApiResult<clubhost_core::model::Project> {
    Ok(Json(c.submit(&s, SOCKET_ACTOR).await?))
}

async fn project_action(
    State(c): State<Arc<Control>>,
    Path((slug, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<clubhost_core::model::Project> {
    // The body is optional: an empty one means no reason given.
    let ActionBody { reason, note, days } = if body.is_empty() {
        ActionBody::default()
    } else {
        serde_json::from_slice::<ActionBody>(&body)
            .map_err(|e| ControlError::Invalid(format!("request body: {e}")))?
    };
    let p = match action.as_str() {
        "approve" => c.approve(&slug, SOCKET_ACTOR).await?,
        "reject" => c.reject(&slug, SOCKET_ACTOR, &reason).await?,
        "send-back" => c.send_back(&slug, SOCKET_ACTOR, &note).await?,
        "withdraw" => c.withdraw(&slug, SOCKET_ACTOR).await?,
        "expire" => c.expire(&slug, SOCKET_ACTOR, &reason).await?,
        "stop" => c.stop(&slug, SOCKET_ACTOR, &reason).await?,
        "redeploy" => c.redeploy(&slug, SOCKET_ACTOR).await?,
        "pull" => c.pull(&slug, SOCKET_ACTOR).await?,
        "restore" => c.restore(&slug, SOCKET_ACTOR, days).await?,
        "purge" => c.purge(&slug, SOCKET_ACTOR, &reason).await?,
        "permanent" => c.set_permanent(&slug, true, SOCKET_ACTOR).await?,
        "temporary" => c.set_permanent(&slug, false, SOCKET_ACTOR).await?,
        other => {
            return Err(ControlError::Invalid(format!(
                "unknown action {other:?} (approve, reject, send-back, withdraw, expire, stop, \
                 redeploy, pull, restore, purge, permanent, temporary)"
            ))
            .into());
        }
    };
    Ok(Json(p))
}

/// Puts a request that was sent back into the queue again, with the changes in the body.
async fn resubmit(
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    Json(r): Json<Resubmission>,
) -> ApiResult<clubhost_core::model::Project> {
    Ok(Json(c.resubmit(&slug, &r, SOCKET_ACTOR).await?))
}

/// Replaces a project's variables; answers with their names and masked values.
async fn set_variables(
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    Json(vars): Json<clubhost_stack::Vars>,
) -> ApiResult<serde_json::Value> {
    c.set_variables(&slug, &vars, SOCKET_ACTOR).await?;
    Ok(Json(json!({ "variables": vars.masked() })))
}

async fn delete_project(
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> ApiResult<serde_json::Value> {
    c.delete(&slug, SOCKET_ACTOR, "deleted by an admin").await?;
    Ok(Json(json!({ "deleted": slug })))
}

/// The proxy's Prometheus metrics in the text exposition format, each certificate's expiry and
/// the backups' ages.
async fn metrics(State(c): State<Arc<Control>>) -> impl IntoResponse {
    let mut text = clubhost_proxy::metrics::render();
    match c.certificates().await {
        Ok(certs) => text.push_str(&clubhost_core::acme::metrics_text(&certs)),
        Err(e) => tracing::warn!(error = %e, "certificates left out of /metrics"),
    }
    // Backup ages; a registry that cannot be read leaves them out rather than failing the scrape.
    match c.backup_metrics().await {
        Ok(backups) => text.push_str(&backups),
        Err(e) => tracing::warn!(error = %e, "backup metrics"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// `clubhost tls list`: each name's certificate state.
async fn certificates(
    State(c): State<Arc<Control>>,
) -> ApiResult<Vec<clubhost_core::model::CertInfo>> {
    Ok(Json(c.certificates().await?))
}

#[derive(Deserialize)]
struct AuditQuery {
    project: Option<String>,
}

async fn audit(
    State(c): State<Arc<Control>>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Vec<clubhost_core::model::AuditEntry>> {
    Ok(Json(c.audit_log(q.project.as_deref()).await?))
}

async fn request_renewal(
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    Json(req): Json<clubhost_core::control::RenewalRequest>,
) -> ApiResult<clubhost_core::model::Renewal> {
    Ok(Json(c.request_renewal(&slug, &req).await?))
}

#[derive(Deserialize)]
struct RenewalsQuery {
    #[serde(default)]
    all: bool,
}

async fn list_renewals(
    State(c): State<Arc<Control>>,
    Query(q): Query<RenewalsQuery>,
) -> ApiResult<Vec<clubhost_core::model::Renewal>> {
    Ok(Json(c.renewals(q.all).await?))
}

async fn decide_renewal(
    State(c): State<Arc<Control>>,
    Path((id, verdict)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> ApiResult<clubhost_core::model::Renewal> {
    let note = if body.is_empty() {
        String::new()
    } else {
        serde_json::from_slice::<ActionBody>(&body)
            .map_err(|e| ControlError::Invalid(format!("request body: {e}")))?
            .reason
    };
    let approve = match verdict.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(ControlError::Invalid(format!(
                "unknown verdict {other:?} (approve, reject)"
            ))
            .into());
        }
    };
    Ok(Json(
        c.decide_renewal(id, approve, SOCKET_ACTOR, &note).await?,
    ))
}

async fn gc(
    State(c): State<Arc<Control>>,
    Json(b): Json<GcRequest>,
) -> ApiResult<clubhost_core::gc::Orphans> {
    Ok(Json(c.gc(b.apply, b.images, SOCKET_ACTOR).await?))
}

async fn advance_clock(
    State(c): State<Arc<Control>>,
    Json(b): Json<ClockRequest>,
) -> ApiResult<serde_json::Value> {
    let now = c.advance_clock(b.advance_secs, SOCKET_ACTOR).await?;
    Ok(Json(json!({ "now": now })))
}

/// `clubhost secrets rotate-key`: every secret re-encrypted with a new key, in one transaction.
async fn rotate_key(State(c): State<Arc<Control>>) -> ApiResult<serde_json::Value> {
    let count = c.rotate_secret_key(SOCKET_ACTOR).await?;
    Ok(Json(json!({ "reencrypted": count })))
}
