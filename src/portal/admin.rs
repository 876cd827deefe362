//! What admins do in the portal: the review queue (normalized stack, verdict, the member's other
//! projects, and for a project brought as files what its build will do: Dockerfiles, build
//! arguments, files copied in, the files at a glance; approve → deploy, reject with a reason, send back to the member with a note), all
//! projects (expire now, redeploy, delete after typing the slug; container health and memory),
//! members (promote, demote, disable, enable),
//! the routes the proxy serves (target, and whether it answers), and the audit log filtered by
//! project and user. Every operation calls the same `Control` method the admin socket uses.
//!
//! Renewals and term actions (extend or shorten, permanent, restore) are `portal::terms`; live
//! deploy progress is `portal::project`; "send back with a note" is here. Not here yet: quotas.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};

use super::dashboard::bytes;
use super::models::{AdminAction, DateBounds, ProjectView, date, stack_verdict, view};
use super::pages::Nav;
use super::refusal::{Denied, PageResult};
use super::session::Viewer;
use super::{auth, csrf};
use clubhost_core::control::{BuildReview, Control};
use clubhost_core::model::ContainerUsage;
use clubhost_core::model::UserFlag;
use clubhost_core::model::{AuditEntry, Project, ProjectState, User};
use clubhost_proxy::routes::Target;

/// One request in the review queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub project: ProjectView,
    pub description: String,
    pub term_days: i64,
    pub stack_source: String,
    pub stack_problem: Option<String>,
    pub normalized: Option<String>,
    /// The member's other projects: "slug (state)".
    pub others: Vec<String>,
    /// The same as (slug, state), for the page to name the state in its language.
    #[serde(skip)]
    pub other_states: Vec<(String, String)>,
    /// The request's limits against the member's quota (what approval will check).
    pub quota: String,
    /// Why approval would refuse it on quota grounds, if it would.
    pub quota_problem: Option<String>,
    /// What approving will build and copy, for a project brought as files.
    pub build: Option<BuildCard>,
}

/// A request's build on its review card: the review, with sizes as people read them.
#[derive(Debug, Clone, Serialize)]
pub struct BuildCard {
    #[serde(flatten)]
    pub review: BuildReview,
    pub revision: String,
    pub file_count: String,
    pub total: String,
    /// (path, size) of the largest files, and of the first paths.
    pub largest: Vec<(String, String)>,
    pub listed: Vec<(String, String)>,
    /// How many files the list leaves out ("0" for none).
    pub unlisted: String,
}

impl BuildCard {
    fn of(review: BuildReview) -> BuildCard {
        let sized = |v: &[(String, u64)]| -> Vec<(String, String)> {
            v.iter().map(|(p, n)| (p.clone(), bytes(*n))).collect()
        };
        BuildCard {
            revision: review.revision.to_string(),
            file_count: review.files.files.to_string(),
            total: bytes(review.files.bytes),
            largest: sized(&review.files.largest),
            listed: sized(&review.files.listed),
            unlisted: (review.files.files - review.files.listed.len() as u64).to_string(),
            review,
        }
    }
}

pub async fn queue(c: &Control, v: &Viewer) -> Result<Vec<QueueItem>, Denied> {
    auth::admin(v)?;
    let all = c.projects().await?;
    let mut out = Vec::new();
    for p in all.iter().filter(|p| p.state() == ProjectState::Requested) {
        let own = c.variables(&p.slug).await?;
        let verdict = stack_verdict(c, &p.slug, &own, &p.stack_source);
        let (stack_problem, normalized) = (verdict.problem, verdict.normalized);
        let (quota, quota_problem) = quota_line(c, p).await?;
        out.push(QueueItem {
            quota,
            quota_problem,
            build: c.build_review(&p.slug).await?.map(BuildCard::of),
            project: view(c, p).await?,
            description: p.description.clone(),
            term_days: p.term_days,
            stack_source: p.stack_source.clone(),
            stack_problem,
            normalized,
            others: all
                .iter()
                .filter(|o| o.owner_id == p.owner_id && o.id != p.id)
                .map(|o| format!("{} ({})", o.slug, o.state()))
                .collect(),
            other_states: all
                .iter()
                .filter(|o| o.owner_id == p.owner_id && o.id != p.id)
                .map(|o| (o.slug.clone(), o.state().to_string()))
                .collect(),
        });
    }
    Ok(out)
}

/// The queue's quota line for a request, and the refusal approval would give (a stack that does
/// not load has no limits to show; the checker's verdict says why).
async fn quota_line(c: &Control, p: &Project) -> Result<(String, Option<String>), Denied> {
    let Ok(stack) = c.project_stack(p).await else {
        return Ok(("unknown until the stack loads".into(), None));
    };
    let owner = c.user(&p.owner).await?;
    let cfg = &c.config().lifecycle;
    let q = c.quota_view(&owner, &p.slug, &stack).await?;
    Ok((q.summary(cfg), q.check(&owner.name, cfg).err()))
}

/// A project on the admin's list, with its containers' health, memory and CPU use.
#[derive(Debug, Clone, Serialize)]
pub struct AdminProjectView {
    #[serde(flatten)]
    pub project: ProjectView,
    pub containers: Vec<ContainerLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerLine {
    #[serde(flatten)]
    pub usage: ContainerUsage,
    /// Memory for people: "12.3 MiB of 1.9 GiB".
    pub memory: String,
    /// CPU for people: "3.5%" (of one core, as `docker stats` shows it) or "unknown".
    pub cpu: String,
}

fn mib(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

/// Every project; containers (health, memory, CPU) are listed when Docker answers, and left out
/// otherwise so the page still works without Docker.
pub async fn all_projects(c: &Control, v: &Viewer) -> Result<Vec<AdminProjectView>, Denied> {
    auth::admin(v)?;
    let projects = c.projects().await?;
    // One look at Docker for every project, so CPU sampling waits once for the whole page.
    let mut lines: Vec<(String, ContainerLine)> = Vec::new();
    let wanted: Vec<&str> = projects
        .iter()
        .filter(|p| p.state().wants_containers())
        .map(|p| p.slug.as_str())
        .collect();
    if let Ok(list) = c.container_usage(&wanted).await {
        for (ct, usage) in list {
            let memory = match (usage.memory_bytes, usage.memory_limit) {
                (Some(u), Some(l)) => format!("{} of {}", mib(u), mib(l)),
                (Some(u), None) => mib(u),
                _ => "unknown".into(),
            };
            let cpu = usage
                .cpu_percent
                .map_or_else(|| "unknown".into(), |p| format!("{p:.1}%"));
            lines.push((ct.project.clone(), ContainerLine { usage, memory, cpu }));
        }
    }
    let mut out = Vec::new();
    for p in &projects {
        out.push(AdminProjectView {
            project: view(c, p).await?,
            containers: lines
                .iter()
                .filter(|(slug, _)| *slug == p.slug)
                .map(|(_, line)| line.clone())
                .collect(),
        });
    }
    Ok(out)
}

/// `approve` (deploys), `reject` (reason required), `send-back` (note required), `expire`,
/// `redeploy`, `delete` (the slug typed again in `confirm`), and the term actions of
/// [`super::terms::admin_action`]. Returns the project afterwards (`None` once deleted).
pub async fn project_action(
    c: &Control,
    v: &Viewer,
    slug: &str,
    action: &str,
    input: &AdminAction,
) -> Result<Option<Project>, Denied> {
    let s = auth::admin(v)?;
    let actor = s.user.name.clone();
    let reason = input.reason.trim();
    let p = match action {
        "approve" => c.approve(slug, &actor).await?,
        "reject" => {
            if reason.is_empty() {
                return Err(Denied::Invalid(
                    "reason: say why the request is rejected; the member sees it".into(),
                ));
            }
            c.reject(slug, &actor, reason).await?
        }
        "send-back" => c.send_back(slug, &actor, &input.note).await?,
        "expire" => {
            let reason = if reason.is_empty() {
                "expired by an admin"
            } else {
                reason
            };
            c.expire(slug, &actor, reason).await?
        }
        "redeploy" => c.redeploy(slug, &actor).await?,
        "delete" => {
            if input.confirm.trim() != slug {
                return Err(Denied::Invalid(format!(
                    "confirm: type the slug {slug:?} to delete the project and its volumes"
                )));
            }
            c.delete(slug, &actor, "deleted by an admin in the portal")
                .await?;
            return Ok(None);
        }
        other => super::terms::admin_action(c, &actor, slug, other, input).await?,
    };
    Ok(Some(p))
}

/// `promote`, `demote`, `disable`, `enable` a member. The last enabled admin cannot be demoted or
/// disabled, so the club never locks itself out.
pub async fn user_action(
    c: &Control,
    v: &Viewer,
    name: &str,
    action: &str,
) -> Result<User, Denied> {
    let s = auth::admin(v)?;
    let (flag, value) = match action {
        "promote" => (UserFlag::Admin, true),
        "demote" => (UserFlag::Admin, false),
        "disable" => (UserFlag::Disabled, true),
        "enable" => (UserFlag::Disabled, false),
        other => {
            return Err(Denied::Invalid(format!(
                "unknown action {other:?} (promote, demote, disable, enable)"
            )));
        }
    };
    Ok(c.set_user_flag(name, flag, value, &s.user.name).await?)
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

pub async fn audit(c: &Control, v: &Viewer, f: &AuditFilter) -> Result<Vec<AuditEntry>, Denied> {
    auth::admin(v)?;
    let project = f.project.as_deref().filter(|s| !s.is_empty());
    let user = f.user.as_deref().filter(|s| !s.is_empty());
    Ok(c.audit_filtered(project, user, 500).await?)
}

/// One row of the routes dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct RouteLine {
    /// `/slug`, or `/` for the root project.
    pub path: String,
    pub name: String,
    /// `upstream`, `portal` or `unavailable`.
    pub kind: String,
    /// The container address for upstreams, the project state for unavailable routes.
    pub target: String,
    /// For upstreams: whether a TCP connection to the container opened within a second.
    pub answering: Option<bool>,
}

/// Every route the proxy serves right now, with its target and whether the target answers.
pub async fn routes(c: &Control, v: &Viewer) -> Result<Vec<RouteLine>, Denied> {
    auth::admin(v)?;
    let mut out = Vec::new();
    for (prefix, name, target) in c.served_routes() {
        let path = if prefix.is_empty() {
            "/".to_string()
        } else {
            prefix
        };
        let (kind, target, answering) = match target {
            Target::Upstream(addr) => {
                let probe = tokio::time::timeout(
                    std::time::Duration::from_secs(1),
                    tokio::net::TcpStream::connect(addr),
                )
                .await;
                (
                    "upstream",
                    addr.to_string(),
                    Some(matches!(probe, Ok(Ok(_)))),
                )
            }
            Target::Portal => ("portal", "clubhost".to_string(), None),
            Target::Unavailable { state, .. } => ("unavailable", state, None),
        };
        out.push(RouteLine {
            path,
            name,
            kind: kind.to_string(),
            target,
            answering,
        });
    }
    Ok(out)
}

// ---- pages ----

#[derive(Template, WebTemplate)]
#[template(path = "admin_routes.html")]
pub struct RoutesPage {
    pub nav: Nav,
    pub routes: Vec<RouteLine>,
}

pub async fn routes_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    let routes = routes(&c, &v).await?;
    Ok(RoutesPage {
        nav: Nav::of(&v),
        routes,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_queue.html")]
pub struct QueuePage {
    pub nav: Nav,
    pub items: Vec<QueueItem>,
    pub renewals: Vec<super::models::RenewalView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_projects.html")]
pub struct ProjectsPage {
    pub nav: Nav,
    pub projects: Vec<AdminProjectView>,
    pub dates: DateBounds,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_users.html")]
pub struct UsersPage {
    pub nav: Nav,
    pub users: Vec<User>,
}

/// An audit entry with its time formatted.
pub struct AuditLine {
    pub at: String,
    pub entry: AuditEntry,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_audit.html")]
pub struct AuditPage {
    pub nav: Nav,
    pub project: String,
    pub user: String,
    pub lines: Vec<AuditLine>,
}

pub async fn queue_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    let items = queue(&c, &v).await?;
    Ok(QueuePage {
        nav: Nav::of(&v),
        items,
        renewals: super::terms::pending_renewals(&c, &v).await?,
    }
    .into_response())
}

pub async fn projects_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    let projects = all_projects(&c, &v).await?;
    Ok(ProjectsPage {
        nav: Nav::of(&v),
        projects,
        dates: DateBounds::of(&c),
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    input: AdminAction,
}

pub async fn project_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path((slug, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<ActionForm>,
) -> PageResult {
    auth::admin(&v)?;
    csrf::check(&v, &f.csrf)?;
    // After a deploy, the project's page shows how it went.
    let back = match action.as_str() {
        "approve" | "redeploy" | "restore" => format!("/projects/{slug}"),
        "reject" | "send-back" => "/admin/".to_string(),
        _ => "/admin/projects".to_string(),
    };
    project_action(&c, &v, &slug, &action, &f.input).await?;
    Ok(Redirect::to(&v.link(&back)).into_response())
}

pub async fn users_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    auth::admin(&v)?;
    let users = c.users().await.map_err(Denied::from)?;
    Ok(UsersPage {
        nav: Nav::of(&v),
        users,
    }
    .into_response())
}

pub async fn user_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path((name, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<super::csrf::CsrfOnly>,
) -> PageResult {
    auth::admin(&v)?;
    csrf::check(&v, &f.csrf)?;
    user_action(&c, &v, &name, &action).await?;
    Ok(Redirect::to(&v.link("/admin/users")).into_response())
}

pub async fn audit_page(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Query(f): Query<AuditFilter>,
) -> PageResult {
    let entries = audit(&c, &v, &f).await?;
    Ok(AuditPage {
        nav: Nav::of(&v),
        project: f.project.unwrap_or_default(),
        user: f.user.unwrap_or_default(),
        lines: entries
            .into_iter()
            .map(|e| AuditLine {
                at: date(e.at),
                entry: e,
            })
            .collect(),
    }
    .into_response())
}
