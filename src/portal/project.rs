//! One project's page (owner or admin): its state, term and renewal, where its files come from
//! (`portal::files`), the steps of its latest deploy, what its owner and admins may do, and its history; and the deploy's progress live, as
//! server-sent events (`/portal/projects/{slug}/progress`) and as JSON
//! (`/portal/api/projects/{slug}/progress`).
//!
//! The steps come from `Control::progress`, which the deploy path fills; this module only reads
//! them. Without JavaScript a deploying form (approve, redeploy, restore) posts, waits for the
//! deploy and lands here; with it, `web/static/progress.js` follows the stream on the page that
//! posted.

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::auth;
use super::files::{self, FilesView};
use super::i18n::Lang;
use super::models::{DateBounds, ProjectView, view};
use super::pages::Nav;
use super::refusal::{Denied, PageError, PageResult};
use super::session::Viewer;
use super::steps;
use clubhost_core::control::Control;
use clubhost_core::control::progress::ProgressEvent;
use clubhost_core::model::Project;

/// The routes of this module, pages and JSON API (merged into `portal::router`).
pub fn router(base: &str) -> Router<Arc<Control>> {
    let at = |path: &str| format!("{base}{path}");
    Router::new()
        .route(&at("/projects/{slug}"), get(project_page))
        .route(&at("/projects/{slug}/progress"), get(progress_live))
        .route(&at("/api/projects/{slug}/progress"), get(progress_api))
}

/// The project, if the viewer is its owner or an admin.
async fn visible(c: &Control, v: &Viewer, slug: &str) -> Result<Project, Denied> {
    auth::member(v)?;
    let p = c.project(slug).await?;
    auth::owner_or_admin(v, &p)?;
    Ok(p)
}

/// One deploy step on the page.
pub struct StepLine {
    pub text: String,
    /// `ok` for the running step, `error` for a failure, empty otherwise.
    pub class: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "project.html")]
pub struct ProjectPage {
    pub nav: Nav,
    pub p: ProjectView,
    pub steps: Vec<StepLine>,
    /// Whether a deploy is under way (the page then follows it live).
    pub deploying: bool,
    /// The last step shown, so the live view adds only newer ones.
    pub last_seq: u64,
    pub dates: DateBounds,
    /// Where its files come from, for a project brought as files.
    pub files: Option<FilesView>,
    /// The project's own domains (`super::domains`).
    pub domains: Vec<super::domains::DomainLine>,
}

pub async fn project_page(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> PageResult {
    let p = visible(&c, &v, &slug).await?;
    let following = c.progress().follow(&slug);
    let deploying = following.deploying();
    let events = following.so_far;
    Ok(ProjectPage {
        nav: Nav::of(&v),
        p: view(&c, &p).await?,
        last_seq: events.last().map_or(0, |e| e.seq),
        steps: events
            .into_iter()
            .map(|e| StepLine {
                class: match e.step {
                    clubhost_core::model::Progress::Running => "ok",
                    clubhost_core::model::Progress::Failed { .. } => "error",
                    _ => "",
                },
                text: steps::step_text(v.lang, &e.step),
            })
            .collect(),
        deploying,
        dates: DateBounds::of(&c),
        files: files::view(&c, &v, &p).await?,
        domains: super::domains::lines(&c, &slug).await?,
    }
    .into_response())
}

/// The latest deploy's steps so far, as JSON: `{slug, state, deploying, events}`.
async fn progress_api(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> Result<Response, Denied> {
    let p = visible(&c, &v, &slug).await?;
    let following = c.progress().follow(&slug);
    Ok(Json(json!({
        "slug": p.slug,
        "state": p.state,
        "deploying": following.deploying(),
        "events": following
            .so_far
            .iter()
            .map(|e| steps::in_lang(v.lang, e))
            .collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct FollowQuery {
    /// Present: skip the latest deploy and follow the next one (a page about to start one).
    #[serde(default)]
    next: Option<String>,
}

fn step_event(lang: Lang, e: &ProgressEvent) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event("progress")
        .data(serde_json::to_string(&steps::in_lang(lang, e)).unwrap_or_default()))
}

/// A deploy's steps as server-sent events: first `ready` (with the project's state; the reader
/// is listening from then on), then one `progress` event per step (JSON: `seq`, `at`, `text`,
/// `step` and the step's fields), ending after the last step (`running` or `failed`).
///
/// Without `?next`: the latest deploy's steps so far, then the rest of it while it runs (the
/// stream ends at once if it is over, or if there was none). With `?next`: the next deploy to
/// start, from its first step to its last. Owner or admin.
pub async fn progress_live(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    Query(q): Query<FollowQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    let p = visible(&c, &v, &slug).await?;
    let following = c.progress().follow(&slug);
    let wait_for_next = q.next.is_some();
    let lang = v.lang;
    let over = !wait_for_next && !following.deploying();
    let ready = Event::default()
        .event("ready")
        .data(json!({ "state": p.state }).to_string());
    let so_far: Vec<_> = if wait_for_next {
        Vec::new()
    } else {
        following
            .so_far
            .iter()
            .map(|e| step_event(lang, e))
            .collect()
    };
    // The steps still to come, until a last step; with `next`, only from the next `Started` on.
    let live = futures_util::stream::unfold(
        (following.next, over, !wait_for_next),
        move |(mut next, done, mut started)| async move {
            if done {
                return None;
            }
            loop {
                match next.recv().await {
                    Ok(e) => {
                        if matches!(e.step, clubhost_core::model::Progress::Started { .. }) {
                            started = true;
                        }
                        if started {
                            let last = e.is_last();
                            return Some((step_event(lang, &e), (next, last, started)));
                        }
                    }
                    // A reader this slow misses steps, not the end: keep going.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    let stream = futures_util::stream::iter(std::iter::once(Ok(ready)).chain(so_far)).chain(live);
    Ok(Sse::new(stream.boxed()).keep_alive(KeepAlive::default()))
}
