//! A project's files on its page (owner or admin): where they come from (a folder or archive, or a
//! git repository with its branch and commit) and the revision deployed; for a git project its
//! webhook's URL, its secret on demand (`GET /portal/projects/{slug}/webhook`, never in the
//! project page itself), a new secret (`POST` there, CSRF; the old one stops working at once),
//! and "pull and redeploy" (the `pull` action of `member::project_action`). The same as JSON:
//! `GET`/`POST /portal/api/projects/{slug}/webhook` (`{url, secret}`).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::auth;
use super::csrf::{self, CsrfOnly, check_csrf};
use super::pages::Nav;
use super::refusal::{Denied, PageResult};
use super::session::Viewer;
use clubhost_core::control::Control;
use clubhost_core::model::{Project, ProjectState};

/// The routes of this module, page and JSON (merged into `portal::router`).
pub fn router(base: &str) -> Router<Arc<Control>> {
    let at = |path: &str| format!("{base}{path}");
    Router::new()
        .route(
            &at("/projects/{slug}/webhook"),
            get(webhook_page).post(new_secret_form),
        )
        .route(
            &at("/api/projects/{slug}/webhook"),
            get(webhook_api).post(new_secret_api),
        )
}

/// What the project page says of a project's files.
pub struct FilesView {
    /// `files` or `git`.
    pub kind: String,
    pub revision: String,
    /// The revision the serving deployment came from, when it is not the current one.
    pub deployed: Option<String>,
    pub git_url: String,
    pub git_ref: String,
    /// The current revision's commit, shortened.
    pub commit: String,
    /// The webhook's address (git projects).
    pub webhook_url: Option<String>,
    /// Whether the viewer may pull and redeploy now.
    pub can_pull: bool,
}

/// The project, if the viewer is its owner or an admin.
async fn visible(c: &Control, v: &Viewer, slug: &str) -> Result<Project, Denied> {
    auth::member(v)?;
    let p = c.project(slug).await?;
    auth::owner_or_admin(v, &p)?;
    Ok(p)
}

/// The webhook's address as this viewer reaches the portal (scheme, host and mount).
fn webhook_url(v: &Viewer, slug: &str) -> String {
    let scheme = if v.secure { "https" } else { "http" };
    let host = v.host.as_deref().unwrap_or("localhost");
    format!("{scheme}://{host}{}", v.link(&format!("/hooks/{slug}")))
}

/// The files part of a project's page; `None` for a project from a compose file alone. The
/// caller has checked that the viewer is the owner or an admin.
pub async fn view(c: &Control, v: &Viewer, p: &Project) -> Result<Option<FilesView>, Denied> {
    let Some(files) = c.source(&p.slug).await? else {
        return Ok(None);
    };
    let s = files.source;
    let git = s.kind == "git";
    let admin = v.session.as_ref().is_some_and(|s| s.user.is_admin);
    // As `member::project_action` allows: the owner a running or failed project, an admin also
    // a stopped one (a pull of anything else only stores the revision).
    let can_pull = git
        && match p.state() {
            ProjectState::Running | ProjectState::Failed => true,
            ProjectState::Stopped => admin,
            _ => false,
        };
    Ok(Some(FilesView {
        deployed: s
            .deployed_revision
            .filter(|d| *d != s.revision)
            .map(|d| d.to_string()),
        revision: s.revision.to_string(),
        git_url: s.git_url.unwrap_or_default(),
        git_ref: s.git_ref.unwrap_or_default(),
        commit: s
            .commit_id
            .map(|c| c.chars().take(12).collect())
            .unwrap_or_default(),
        webhook_url: git.then(|| webhook_url(v, &p.slug)),
        can_pull,
        kind: s.kind,
    }))
}

/// The webhook's URL and secret (owner or admin; only git projects have one).
async fn webhook(c: &Control, v: &Viewer, slug: &str) -> Result<(String, String), Denied> {
    visible(c, v, slug).await?;
    let secret = c
        .source(slug)
        .await?
        .and_then(|f| f.source.webhook_secret)
        .ok_or_else(|| no_webhook(slug))?;
    Ok((webhook_url(v, slug), secret))
}

/// A new secret for the webhook (owner or admin), audited without it.
async fn new_secret(c: &Control, v: &Viewer, slug: &str) -> Result<(String, String), Denied> {
    let p = visible(c, v, slug).await?;
    let s = auth::owner_or_admin(v, &p)?;
    let has_hook = c
        .source(slug)
        .await?
        .is_some_and(|f| f.source.webhook_secret.is_some());
    if !has_hook {
        return Err(no_webhook(slug));
    }
    let secret = c.new_webhook_secret(slug, &s.user.name).await?;
    Ok((webhook_url(v, slug), secret))
}

fn no_webhook(slug: &str) -> Denied {
    Denied::Invalid(format!(
        "{slug} has no webhook: only a project from a git repository has one"
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "project_webhook.html")]
pub struct WebhookPage {
    pub nav: Nav,
    pub slug: String,
    pub url: String,
    pub secret: String,
}

/// A page holding a secret: never cached, never sent on as a referrer.
fn private(page: impl IntoResponse) -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page,
    )
        .into_response()
}

pub async fn webhook_page(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> PageResult {
    let (url, secret) = webhook(&c, &v, &slug).await?;
    Ok(private(WebhookPage {
        nav: Nav::of(&v),
        slug,
        url,
        secret,
    }))
}

pub async fn new_secret_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> PageResult {
    auth::member(&v)?;
    csrf::check(&v, &f.csrf)?;
    new_secret(&c, &v, &slug).await?;
    Ok(Redirect::to(&v.link(&format!("/projects/{slug}/webhook"))).into_response())
}

async fn webhook_api(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> Result<Response, Denied> {
    let (url, secret) = webhook(&c, &v, &slug).await?;
    Ok(private(Json(json!({ "url": url, "secret": secret }))))
}

async fn new_secret_api(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, Denied> {
    check_csrf(&v, &headers)?;
    let (url, secret) = new_secret(&c, &v, &slug).await?;
    Ok(private(Json(json!({ "url": url, "secret": secret }))))
}
