//! `POST <portal>/hooks/<slug>`: a git project's webhook, for its repository host's push event.
//! No session: the call proves itself with GitHub's `X-Hub-Signature-256` or Gitea's
//! `X-Gitea-Signature` (HMAC-SHA256 of the body with the project's webhook secret), or carries
//! the secret itself (`?token=` or `Authorization: Bearer`). A wrong or missing proof is 403 and
//! nothing is fetched; a good one answers 202 at once and pulls and redeploys in the background
//! (hosts give a webhook seconds, a build takes minutes). GitHub's `ping` event is answered
//! without a pull.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use clubhost_core::control::{Control, WebhookAuth};

/// The audit log's actor for pulls a webhook started.
const WEBHOOK_ACTOR: &str = "webhook";

pub fn router(base: &str) -> Router<Arc<Control>> {
    Router::new().route(&format!("{base}/hooks/{{slug}}"), post(hook))
}

async fn hook(
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    let auth = if let Some(sig) = header("x-hub-signature-256") {
        WebhookAuth::GitHub(sig)
    } else if let Some(sig) = header("x-gitea-signature") {
        WebhookAuth::Gitea(sig)
    } else if let Some(token) = bearer.or(query.get("token").map(String::as_str)) {
        WebhookAuth::Token(token)
    } else {
        WebhookAuth::Missing
    };
    if let Err(e) = c.check_webhook(&slug, auth, &body).await {
        let message = crate::errors::public_message(&e);
        return (
            crate::errors::status(&e),
            axum::Json(json!({ "error": message })),
        )
            .into_response();
    }
    if header("x-github-event") == Some("ping") {
        return axum::Json(json!({ "pong": slug })).into_response();
    }
    let pulling = slug.clone();
    tokio::spawn(async move {
        if let Err(e) = c.pull(&pulling, WEBHOOK_ACTOR).await {
            tracing::warn!(slug = %pulling, error = %e, "webhook pull failed");
        }
    });
    (StatusCode::ACCEPTED, axum::Json(json!({ "pulling": slug }))).into_response()
}
