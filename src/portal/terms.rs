//! Hosting terms in the portal: a member asks for a renewal (a new end date and a reason) and
//! sees its status; admins approve or deny renewals from the review queue, and on all projects
//! move a term's end (extend or shorten), mark a project permanent or give it back its term, and
//! restore an expired one. Each operation is one function the pages and the JSON API both call,
//! on the same `Control` methods the admin socket uses (`control::terms`).
//!
//! Dates from forms are days (`2026-05-01`, from `<input type=date>`), meaning the end of that day
//! (23:59 UTC); the API also takes a full RFC 3339 time.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::models::{AdminAction, RenewalView, date, optional_number};
use super::refusal::{Denied, PageResult};
use super::session::Viewer;
use super::{auth, csrf};
use clubhost_core::control::{Control, RenewalRequest};
use clubhost_core::lifecycle::terms::DAY;
use clubhost_core::model::{Project, now};

/// The routes of this module, pages and JSON API (merged into `portal::router`).
pub fn router(base: &str) -> Router<Arc<Control>> {
    let at = |path: &str| format!("{base}{path}");
    Router::new()
        .route(&at("/projects/{slug}/renew"), post(renew_form))
        .route(&at("/admin/renewals/{id}/{verdict}"), post(decide_form))
        .route(&at("/api/projects/{slug}/renew"), post(renew_api))
        .route(&at("/api/admin/renewals"), get(renewals_api))
        .route(&at("/api/admin/renewals/{id}/{verdict}"), post(decide_api))
}

/// `YYYY-MM-DD` (the end of that day, 23:59 UTC) or an RFC 3339 time, as Unix seconds.
pub fn parse_end(text: &str) -> Result<i64, Denied> {
    let text = text.trim();
    let full = if text.len() == 10 {
        format!("{text}T23:59:00Z")
    } else {
        text.to_string()
    };
    humantime::parse_rfc3339_weak(&full)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .ok_or_else(|| {
            Denied::Invalid(format!(
                "end: {text:?} is not a date like 2026-05-01 (or a time like 2026-05-01T12:00:00Z)"
            ))
        })
}

/// What a member sends to ask for a renewal: the new end (`end`, a date) or a number of days
/// added to the current end (`days`, API only), and why.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RenewInput {
    #[serde(default)]
    pub end: String,
    #[serde(default, deserialize_with = "optional_number")]
    pub days: Option<u32>,
    #[serde(default)]
    pub reason: String,
}

/// Files a renewal request for `slug` (its owner, or an admin on the owner's behalf).
pub async fn request_renewal(
    c: &Control,
    v: &Viewer,
    slug: &str,
    input: &RenewInput,
) -> Result<RenewalView, Denied> {
    auth::member(v)?;
    let p = c.project(slug).await?;
    let s = auth::owner_or_admin(v, &p)?;
    let days = match (input.end.trim(), input.days) {
        ("", Some(days)) => days,
        ("", None) => {
            return Err(Denied::Invalid(
                "end: pick the date the term should end".into(),
            ));
        }
        (end, _) => {
            let end = parse_end(end)?;
            let t = now();
            if end <= t {
                return Err(Denied::Invalid(format!(
                    "end: {} is in the past",
                    date(end)
                )));
            }
            let from = p.term_end.unwrap_or(t).max(t);
            // Whole days after the current end: the new end falls on the date asked for.
            let days = (end - from) / DAY;
            if days < 1 {
                return Err(Denied::Invalid(format!(
                    "end: pick a date after the current term end ({})",
                    p.term_end.map(date).unwrap_or_else(|| "none".into())
                )));
            }
            u32::try_from(days).unwrap_or(u32::MAX)
        }
    };
    let req = RenewalRequest {
        by: Some(s.user.name.clone()),
        days,
        reason: input.reason.trim().to_string(),
    };
    Ok(c.request_renewal(slug, &req).await?.into())
}

/// Renewal requests for admins: pending ones, oldest first.
pub async fn pending_renewals(c: &Control, v: &Viewer) -> Result<Vec<RenewalView>, Denied> {
    auth::admin(v)?;
    Ok(c.renewals(false)
        .await?
        .into_iter()
        .map(RenewalView::from)
        .collect())
}

/// The admin's note on a renewal decision (required when denying).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DecideInput {
    #[serde(default)]
    pub note: String,
}

/// `approve` (the term end moves) or `reject` a renewal request.
pub async fn decide(
    c: &Control,
    v: &Viewer,
    id: i64,
    verdict: &str,
    input: &DecideInput,
) -> Result<RenewalView, Denied> {
    let s = auth::admin(v)?;
    let note = input.note.trim();
    let approve = match verdict {
        "approve" => true,
        "reject" if note.is_empty() => {
            return Err(Denied::Invalid(
                "note: say why the renewal is denied; the member sees it".into(),
            ));
        }
        "reject" => false,
        other => {
            return Err(Denied::Invalid(format!(
                "unknown verdict {other:?} (approve, reject)"
            )));
        }
    };
    Ok(c.decide_renewal(id, approve, &s.user.name, note)
        .await?
        .into())
}

/// The admin's term actions on a project, called by `admin::project_action`: `term` (move the
/// end to `end`), `permanent`, `temporary` (back to its term), `restore` (an expired project,
/// with a new term of `days`, default its original term).
pub async fn admin_action(
    c: &Control,
    actor: &str,
    slug: &str,
    action: &str,
    input: &AdminAction,
) -> Result<Project, Denied> {
    Ok(match action {
        "term" => {
            if input.end.trim().is_empty() {
                return Err(Denied::Invalid(
                    "end: pick the date the term should end".into(),
                ));
            }
            c.set_term_end(slug, parse_end(&input.end)?, actor).await?
        }
        "permanent" => c.set_permanent(slug, true, actor).await?,
        "temporary" => c.set_permanent(slug, false, actor).await?,
        "restore" => c.restore(slug, actor, input.days).await?,
        other => {
            return Err(Denied::Invalid(format!(
                "unknown action {other:?} (approve, reject, expire, redeploy, delete, term, \
                 permanent, temporary, restore)"
            )));
        }
    })
}

// ---- forms ----

#[derive(Deserialize)]
pub struct RenewForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    input: RenewInput,
}

async fn renew_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    axum::Form(f): axum::Form<RenewForm>,
) -> PageResult {
    auth::member(&v)?;
    csrf::check(&v, &f.csrf)?;
    request_renewal(&c, &v, &slug, &f.input).await?;
    Ok(Redirect::to(&v.link(&format!("/projects/{slug}"))).into_response())
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    input: DecideInput,
}

async fn decide_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path((id, verdict)): Path<(i64, String)>,
    axum::Form(f): axum::Form<DecideForm>,
) -> PageResult {
    auth::admin(&v)?;
    csrf::check(&v, &f.csrf)?;
    decide(&c, &v, id, &verdict, &f.input).await?;
    Ok(Redirect::to(&v.link("/admin/")).into_response())
}

// ---- JSON API ----

/// A JSON body, or the defaults when there is none.
fn body<T: Default + serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Denied> {
    if bytes.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| Denied::Invalid(format!("request body: {e}")))
}

async fn renew_api(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Response, Denied> {
    super::csrf::check_csrf(&v, &headers)?;
    let r = request_renewal(&c, &v, &slug, &body(&bytes)?).await?;
    Ok((axum::http::StatusCode::CREATED, Json(r)).into_response())
}

async fn renewals_api(v: Viewer, State(c): State<Arc<Control>>) -> Result<Response, Denied> {
    Ok(Json(pending_renewals(&c, &v).await?).into_response())
}

async fn decide_api(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Path((id, verdict)): Path<(i64, String)>,
    bytes: axum::body::Bytes,
) -> Result<Response, Denied> {
    super::csrf::check_csrf(&v, &headers)?;
    auth::admin(&v)?;
    Ok(Json(decide(&c, &v, id, &verdict, &body(&bytes)?).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_dates_mean_the_end_of_that_day() {
        assert_eq!(
            parse_end("1970-01-02").ok(),
            Some(86_400 + 23 * 3600 + 59 * 60)
        );
        assert_eq!(parse_end("1970-01-01T00:01:00Z").ok(), Some(60));
        assert!(parse_end("tomorrow").is_err());
        assert!(parse_end("2026-13-01").is_err());
    }
}
