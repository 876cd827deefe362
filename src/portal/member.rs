//! What members do: request a hosting slot (with the stack checker's verdict before and after
//! submitting), see their projects with state, URL, term end and history, withdraw a request,
//! redeploy a running project.
//!
//! Stack templates from `stacks/` are not offered yet: the stack is pasted or uploaded as a
//! compose file. Renewals, quotas and notifications belong to `lifecycle` (issue 6); a project
//! card is where a "request a renewal" button will go.

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::auth::{self, CsrfOnly};
use super::pages::{Nav, date, href};
use super::session::Viewer;
use super::{Denied, PageResult, csrf};
use crate::control::{Control, ControlError, Submission, check_slug, check_stack_size};
use crate::registry::{Project, ProjectState, RegistryError};
use crate::stack;

/// A request for a hosting slot, from the form or the API.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source_url: String,
    #[serde(default)]
    pub days: Option<u32>,
    #[serde(default)]
    pub stack: String,
}

/// The checks a request gets before anything is stored: slug and stack.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// `None` when the slug is well-formed, not reserved and free; else why not.
    pub slug_problem: Option<String>,
    /// `None` when the stack parses and passes the policy; else the checker's error.
    pub stack_problem: Option<String>,
    /// The normalized stack (what would be deployed), when it is valid.
    pub normalized: Option<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.slug_problem.is_none() && self.stack_problem.is_none()
    }
}

/// Format, reserved names and availability of a slug.
pub async fn slug_problem(c: &Control, slug: &str) -> Result<Option<String>, Denied> {
    if let Err(e) = check_slug(slug) {
        return Ok(Some(e.to_string()));
    }
    match c.registry.project(slug).await {
        Ok(_) => Ok(Some(format!("slug {slug:?} is already taken"))),
        Err(RegistryError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The stack checker's verdict on a stack for project `slug`, exactly as approval will see it (the
/// club's limits, the project's variables and clubhost's own `CLUBHOST_*` ones), secrets masked:
/// (every problem, one per line; the normalized stack as JSON).
pub fn stack_verdict(
    c: &Control,
    slug: &str,
    own: &stack::Vars,
    source: &str,
) -> (Option<String>, Option<String>) {
    if source.trim().is_empty() {
        return (Some("stack: paste or upload a compose file".into()), None);
    }
    if let Err(e) = check_stack_size(source) {
        return (Some(e.to_string()), None);
    }
    let vars = c.stack_vars(slug, &format!("/{slug}"), own);
    let report = stack::check(source, &vars, &c.config.limits).redacted(&vars);
    let problems: Vec<String> = report.violations.iter().map(|v| v.to_string()).collect();
    let normalized = report
        .stack
        .as_ref()
        .map(|s| serde_json::to_string_pretty(s).unwrap_or_default());
    if problems.is_empty() {
        (None, normalized)
    } else {
        (Some(problems.join("\n")), normalized)
    }
}

pub async fn verdict(c: &Control, input: &RequestInput) -> Result<Verdict, Denied> {
    let slug = input.slug.trim();
    let (stack_problem, normalized) = stack_verdict(c, slug, &stack::Vars::new(), &input.stack);
    Ok(Verdict {
        slug_problem: slug_problem(c, slug).await?,
        stack_problem,
        normalized,
    })
}

fn check_fields(c: &Control, input: &RequestInput) -> Result<(), Denied> {
    let name_len = input.name.trim().chars().count();
    if !(1..=80).contains(&name_len) {
        return Err(Denied::Invalid(
            "name: give the project a name (1-80 characters)".into(),
        ));
    }
    if input.description.chars().count() > 2000 {
        return Err(Denied::Invalid(
            "description: keep it under 2000 characters".into(),
        ));
    }
    let url = input.source_url.trim();
    if !url.is_empty()
        && (url.len() > 300
            || !(url.starts_with("https://") || url.starts_with("http://"))
            || url.contains(char::is_whitespace))
    {
        return Err(Denied::Invalid(
            "source link: use a full http(s):// address to the project's code".into(),
        ));
    }
    if let Some(d) = input.days
        && (d == 0 || d > c.config.projects.max_days)
    {
        return Err(Denied::Invalid(format!(
            "days: {d} is outside 1..={} (the club's longest term)",
            c.config.projects.max_days
        )));
    }
    Ok(())
}

/// Stores the request (state `requested`) after every check; nothing is stored on bad input.
pub async fn submit(c: &Control, v: &Viewer, input: &RequestInput) -> Result<Project, Denied> {
    let s = auth::member(v)?;
    check_fields(c, input)?;
    let submission = Submission {
        owner: s.user.name.clone(),
        slug: input.slug.trim().to_string(),
        name: Some(input.name.trim().to_string()),
        description: input.description.trim().to_string(),
        stack: input.stack.clone(),
        days: input.days,
        root: false,
        vars: Default::default(),
    };
    let p = c.submit(&submission, &s.user.name).await?;
    let url = input.source_url.trim();
    if !url.is_empty() {
        c.registry.set_source_url(&p.slug, url).await?;
    }
    Ok(p)
}

/// A project as its owner (or an admin) sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    pub slug: String,
    pub name: String,
    pub owner: String,
    pub state: String,
    pub href: String,
    pub source_url: String,
    pub term_end: Option<String>,
    pub failure_reason: Option<String>,
    pub history: Vec<HistoryLine>,
    pub can_withdraw: bool,
    pub can_redeploy: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub reason: String,
}

pub async fn view(c: &Control, p: &Project) -> Result<ProjectView, Denied> {
    let history = c
        .registry
        .audit_log(Some(&p.slug))
        .await?
        .into_iter()
        .map(|e| HistoryLine {
            at: date(e.at),
            actor: e.actor,
            action: e.action,
            reason: e.reason,
        })
        .collect();
    let state = p.state();
    Ok(ProjectView {
        slug: p.slug.clone(),
        name: p.name.clone(),
        owner: p.owner.clone(),
        state: state.to_string(),
        href: href(p),
        source_url: c.registry.source_url(&p.slug).await?,
        term_end: p.term_end.map(date),
        failure_reason: p.failure_reason.clone(),
        history,
        can_withdraw: state == ProjectState::Requested,
        can_redeploy: matches!(state, ProjectState::Running | ProjectState::Failed),
    })
}

pub async fn my_projects(c: &Control, v: &Viewer) -> Result<Vec<ProjectView>, Denied> {
    let s = auth::member(v)?;
    let mut out = Vec::new();
    for p in c.registry.projects_of(s.user.id).await? {
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
    let p = match c.registry.project(slug).await {
        Ok(p) => p,
        // Someone not signed in gets 401 whether or not the project exists, so slugs can't be
        // probed without an account. (Members can tell: 404 here, 403 for another's project, and
        // the request form's slug check says "taken".)
        Err(RegistryError::NotFound(_)) if !v.session.as_ref().is_some_and(|s| s.user.is_admin) => {
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
        "redeploy" => {
            if !s.user.is_admin
                && !matches!(p.state(), ProjectState::Running | ProjectState::Failed)
            {
                return Err(Denied::Forbidden(format!(
                    "project {slug:?} is {}: only a running or failed project can be redeployed \
                     by its owner",
                    p.state()
                )));
            }
            Ok(c.redeploy(slug, &actor).await?)
        }
        other => Err(Denied::Invalid(format!(
            "unknown action {other:?} (withdraw, redeploy)"
        ))),
    }
}

/// How many lines of each container's log the download holds.
pub const LOG_LINES: usize = 500;

/// The last lines each of a project's containers printed (owner or admin), as
/// `(container name, text)`. [`logs_live`] streams them instead.
pub async fn logs(c: &Control, v: &Viewer, slug: &str) -> Result<Vec<(String, String)>, Denied> {
    auth::member(v)?;
    let p = c.registry.project(slug).await?;
    auth::owner_or_admin(v, &p)?;
    let engine = c.engine().await?;
    let mut out = Vec::new();
    for container in engine
        .containers(Some(slug))
        .await
        .map_err(ControlError::from)?
    {
        let text = engine.log_tail(&container.id, LOG_LINES).await;
        out.push((container.name, text));
    }
    Ok(out)
}

// ---- pages ----

#[derive(Template, WebTemplate)]
#[template(path = "request.html")]
pub struct RequestPage {
    pub nav: Nav,
    pub input: RequestInput,
    pub days_text: String,
    pub max_days: u32,
    pub verdict: Option<Verdict>,
    pub error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "mine.html")]
pub struct MinePage {
    pub nav: Nav,
    pub projects: Vec<ProjectView>,
    pub submitted: bool,
}

pub async fn request_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    auth::member(&v)?;
    Ok(RequestPage {
        nav: Nav::of(&v),
        input: RequestInput::default(),
        days_text: c.config.projects.default_days.to_string(),
        max_days: c.config.projects.max_days,
        verdict: None,
        error: String::new(),
    }
    .into_response())
}

/// The request form: multipart, so the stack can be uploaded as a file or pasted. The "Check"
/// button shows the verdict without storing anything; "Submit" stores the request.
pub async fn request_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    mut form: Multipart,
) -> PageResult {
    auth::member(&v)?;
    let mut input = RequestInput::default();
    let (mut token, mut intent, mut days_text, mut upload) =
        (String::new(), String::new(), String::new(), String::new());
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Denied::Invalid(format!("form: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let text = field
            .text()
            .await
            .map_err(|e| Denied::Invalid(format!("form field {name}: {e}")))?;
        match name.as_str() {
            "csrf" => token = text,
            "intent" => intent = text,
            "name" => input.name = text,
            "slug" => input.slug = text,
            "description" => input.description = text,
            "source_url" => input.source_url = text,
            "days" => days_text = text,
            "stack" => input.stack = text,
            "stack_file" => upload = text,
            _ => {}
        }
    }
    csrf::check(&v, &token)?;
    // An uploaded file wins over the text area.
    if !upload.trim().is_empty() {
        input.stack = upload;
    }
    let days = days_text.trim();
    let mut error = String::new();
    if !days.is_empty() {
        match days.parse::<u32>() {
            Ok(d) => input.days = Some(d),
            Err(_) => error = format!("days: {days:?} is not a whole number of days"),
        }
    }
    let render = |status: StatusCode, verdict: Verdict, error: String, input: RequestInput| {
        (
            status,
            RequestPage {
                nav: Nav::of(&v),
                input,
                days_text: days_text.clone(),
                max_days: c.config.projects.max_days,
                verdict: Some(verdict),
                error,
            },
        )
            .into_response()
    };
    let verdict = verdict(&c, &input).await?;
    if !error.is_empty() {
        return Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            verdict,
            error,
            input,
        ));
    }
    if intent == "check" {
        return Ok(render(StatusCode::OK, verdict, String::new(), input));
    }
    match submit(&c, &v, &input).await {
        Ok(_) => Ok(Redirect::to("/portal/projects?submitted=1").into_response()),
        Err(e) => Ok(render(e.status(), verdict, e.message(), input)),
    }
}

#[derive(Deserialize)]
pub struct MineQuery {
    #[serde(default)]
    submitted: Option<String>,
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
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, super::PageError> {
    auth::member(&v)?;
    let p = c.registry.project(&slug).await?;
    auth::owner_or_admin(&v, &p)?;
    let engine = c.engine().await?;
    let streams: Vec<_> = engine
        .containers(Some(&slug))
        .await
        .map_err(ControlError::from)?
        .into_iter()
        .map(|container| {
            let service = container.service.clone();
            engine
                .log_follow(&container.id, 100)
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
    Ok(Redirect::to("/portal/projects").into_response())
}
