//! What members do with their projects (requesting one is in `request`): see them with state, URL,
//! term end, renewal, history and, while a request waits, the checker's verdict on it and any note
//! an admin sent it back with; withdraw a request; redeploy a running project; read its logs.
//! Renewal requests are `portal::terms`; a project's own page and its live deploy progress are
//! `portal::project`.

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;

use super::auth;
use super::csrf;
use super::csrf::CsrfOnly;
use super::models::{DateBounds, ProjectView, view};
use super::pages::Nav;
use super::refusal::{Denied, PageResult};
use super::session::Viewer;
use clubhost_core::control::{Control, ControlError};
use clubhost_core::model::{Project, ProjectState, RegistryError};

pub async fn my_projects(c: &Control, v: &Viewer) -> Result<Vec<ProjectView>, Denied> {
    let s = auth::member(v)?;
    let mut out = Vec::new();
    for p in c.projects_of(s.user.id).await? {
        out.push(view(c, &p).await?);
    }
    Ok(out)
}

/// What an owner may do to their own project: `withdraw` a request, `redeploy` a running (or
/// failed) one. Admins may do both to any project.
pub async fn project_action(
    c: &Control,
    v: &Viewer,
    slug: &str,
    action: &str,
) -> Result<Project, Denied> {
    let p = match c.project(slug).await {
        Ok(p) => p,
        // Someone not signed in gets 401 whether or not the project exists, so slugs can't be
        // probed without an account. (Members can tell: 404 here, 403 for another's project, and
        // the request form's slug check says "taken".)
        Err(ControlError::Registry(RegistryError::NotFound(_)))
            if !v.session.as_ref().is_some_and(|s| s.user.is_admin) =>
        {
            auth::member(v)?;
            return Err(Denied::Control(ControlError::Registry(
                RegistryError::NotFound(format!("project {slug:?}")),
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let s = auth::owner_or_admin(v, &p)?;
    let actor = s.user.name.clone();
    match action {
        "withdraw" => Ok(c.withdraw(slug, &actor).await?),
        "redeploy" | "pull" => {
            if !s.user.is_admin
                && !matches!(p.state(), ProjectState::Running | ProjectState::Failed)
            {
                return Err(Denied::Forbidden(format!(
                    "project {slug:?} is {}: only a running or failed project can be redeployed \
                     by its owner",
                    p.state()
                )));
            }
            // "pull": a project from git fetches its repository again first.
            if action == "pull" {
                return Ok(c.pull(slug, &actor).await?);
            }
            Ok(c.redeploy(slug, &actor).await?)
        }
        other => Err(Denied::Invalid(format!(
            "unknown action {other:?} (withdraw, redeploy, pull)"
        ))),
    }
}

/// How many lines of each container's log the download holds.
pub const LOG_LINES: usize = 500;

/// The last lines each of a project's containers printed (owner or admin), as
/// `(container name, text)`. [`logs_live`] streams them instead.
pub async fn logs(c: &Control, v: &Viewer, slug: &str) -> Result<Vec<(String, String)>, Denied> {
    auth::member(v)?;
    let p = c.project(slug).await?;
    auth::owner_or_admin(v, &p)?;
    Ok(c.logs(slug, LOG_LINES).await?)
}

// ---- pages ----

#[derive(Template, WebTemplate)]
#[template(path = "mine.html")]
pub struct MinePage {
    pub nav: Nav,
    pub projects: Vec<ProjectView>,
    pub submitted: bool,
    pub dates: DateBounds,
    pub resubmitted: bool,
}

#[derive(Deserialize)]
pub struct MineQuery {
    #[serde(default)]
    submitted: Option<String>,
    #[serde(default)]
    resubmitted: Option<String>,
}

pub async fn mine_page(
    v: Viewer,
    State(c): State<Arc<Control>>,
    axum::extract::Query(q): axum::extract::Query<MineQuery>,
) -> PageResult {
    let projects = my_projects(&c, &v).await?;
    Ok(MinePage {
        nav: Nav::of(&v),
        projects,
        submitted: q.submitted.is_some(),
        dates: DateBounds::of(&c),
        resubmitted: q.resubmitted.is_some(),
    }
    .into_response())
}

/// Downloads the last lines of the project's container logs as a text file.
pub async fn logs_download(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> PageResult {
    let mut text = String::new();
    for (name, lines) in logs(&c, &v, &slug).await? {
        text.push_str(&format!("==> {name} <==\n{lines}\n\n"));
    }
    if text.is_empty() {
        text.push_str("No containers are running for this project.\n");
    }
    let disposition = format!("attachment; filename=\"{slug}-logs.txt\"");
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}

/// Live logs of a running project's containers as server-sent events (`event: log`, one line
/// each, prefixed with the service name); the stream ends when the containers stop or the browser
/// goes away. Owner or admin.
pub async fn logs_live(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, super::refusal::PageError> {
    auth::member(&v)?;
    let p = c.project(&slug).await?;
    auth::owner_or_admin(&v, &p)?;
    let streams: Vec<_> = c
        .follow_logs(&slug, 100)
        .await?
        .into_iter()
        .map(|(service, chunks)| {
            chunks
                .flat_map(move |chunk| {
                    let lines: Vec<_> = chunk
                        .lines()
                        .map(|l| {
                            Ok(Event::default()
                                .event("log")
                                .data(format!("{service} | {}", l.replace('\r', ""))))
                        })
                        .collect();
                    futures_util::stream::iter(lines)
                })
                .boxed()
        })
        .collect();
    Ok(Sse::new(futures_util::stream::select_all(streams)).keep_alive(KeepAlive::default()))
}

pub async fn action_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path((slug, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> PageResult {
    auth::member(&v)?;
    csrf::check(&v, &f.csrf)?;
    project_action(&c, &v, &slug, &action).await?;
    Ok(Redirect::to(&v.link("/projects")).into_response())
}
