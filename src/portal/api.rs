//! The portal's JSON API under `<portal path>api/` (`/portal/api/`): every portal action, with the
//! same rules as the pages (the same operation functions in `auth`, `request`, `member` and `admin`
//! do the checking). Calls are authenticated by the session cookie; state-changing calls by a
//! signed-in user must also send the session's CSRF token in `X-CSRF-Token` (read it from
//! `GET /portal/api/me`) and pass the origin check. Sign-up and login need no token (there is no
//! session yet): they pass the origin check and take only `application/json`, which a cross-site
//! form cannot send.
//!
//! Deploy progress (`projects/{slug}/progress`) and renewals (`projects/{slug}/renew`,
//! `admin/renewals…`) are routed beside their operations, in `portal::project` and
//! `portal::terms`, with the same rules.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::{self, SignupInput};
use super::admin::{self, AuditFilter};
use super::csrf::{self, check_csrf};
use super::member;
use super::models;
use super::models::AdminAction;
use super::refusal::Denied;
use super::request::{self, RequestInput, ResubmitInput};
use super::session::{self, Viewer};
use super::{auth, pages};
use clubhost_core::control::Control;

/// The API's routes under `base` (`/portal`).
pub fn router(base: &str) -> Router<Arc<Control>> {
    let at = |path: &str| format!("{base}/api{path}");
    Router::new()
        .route(&at("/me"), get(me))
        .route(&at("/gallery"), get(gallery))
        .route(&at("/join"), get(join))
        .route(&at("/signup"), post(signup))
        .route(&at("/login"), post(login))
        .route(&at("/logout"), post(logout))
        .route(&at("/password"), post(password))
        .route(&at("/slug"), get(slug))
        .route(&at("/templates"), get(templates))
        .route(&at("/check"), post(check))
        .route(&at("/projects"), get(mine).post(submit))
        .route(&at("/projects/{slug}"), get(show))
        .route(&at("/projects/{slug}/logs"), get(logs))
        .route(&at("/projects/{slug}/check"), post(check_edit))
        .route(&at("/projects/{slug}/resubmit"), post(resubmit))
        .route(&at("/projects/{slug}/{action}"), post(action))
        .route(&at("/admin/queue"), get(queue))
        .route(&at("/admin/projects"), get(all_projects))
        .route(&at("/admin/projects/{slug}/{action}"), post(admin_action))
        .route(&at("/admin/users"), get(users))
        .route(&at("/admin/users/{name}/{action}"), post(user_action))
        .route(&at("/admin/audit"), get(audit))
        .route(&at("/admin/routes"), get(routes))
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        (self.status(), Json(json!({ "error": self.message() }))).into_response()
    }
}

type ApiResult = Result<Response, Denied>;

fn ok(v: impl serde::Serialize) -> ApiResult {
    Ok(Json(v).into_response())
}

fn with_session(v: &Viewer, status: StatusCode, body: Value, token: &str) -> Response {
    let max_age = if token.is_empty() {
        0
    } else {
        session::LIFETIME_SECS
    };
    (
        status,
        [(
            SET_COOKIE,
            session::cookie(session::SESSION_COOKIE, token, max_age, v.secure, &v.base),
        )],
        Json(body),
    )
        .into_response()
}

async fn me(v: Viewer) -> ApiResult {
    let s = auth::member(&v)?;
    ok(json!({ "user": s.user, "csrf": s.csrf }))
}

async fn gallery(v: Viewer, State(c): State<Arc<Control>>) -> ApiResult {
    ok(pages::gallery_items(&c, v.lang).await?)
}

async fn join(v: Viewer, State(c): State<Arc<Control>>) -> ApiResult {
    auth::member(&v)?;
    ok(json!({ "chat_invite_url": c.config().portal.chat_invite_url }))
}

async fn signup(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Json(input): Json<SignupInput>,
) -> ApiResult {
    csrf::check_origin(&v)?;
    let (user, token) = account::signup(&c, &input).await?;
    Ok(with_session(
        &v,
        StatusCode::CREATED,
        json!({ "user": user }),
        &token,
    ))
}

#[derive(Deserialize)]
struct LoginInput {
    login: String,
    password: String,
}

async fn login(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Json(input): Json<LoginInput>,
) -> ApiResult {
    csrf::check_origin(&v)?;
    let (user, token) = account::login(&c, &v, &input.login, &input.password).await?;
    Ok(with_session(
        &v,
        StatusCode::OK,
        json!({ "user": user }),
        &token,
    ))
}

async fn logout(v: Viewer, State(c): State<Arc<Control>>, headers: HeaderMap) -> ApiResult {
    check_csrf(&v, &headers)?;
    account::logout(&c, &v).await?;
    Ok(with_session(
        &v,
        StatusCode::OK,
        json!({ "logged_out": true }),
        "",
    ))
}

#[derive(Deserialize)]
struct PasswordInput {
    current: String,
    new: String,
}

async fn password(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Json(input): Json<PasswordInput>,
) -> ApiResult {
    check_csrf(&v, &headers)?;
    let token = account::change_password(&c, &v, &input.current, &input.new).await?;
    Ok(with_session(
        &v,
        StatusCode::OK,
        json!({ "changed": true }),
        &token,
    ))
}

#[derive(Deserialize)]
struct SlugQuery {
    slug: String,
}

/// The live slug check of the request form (members only, so slugs can't be probed anonymously).
async fn slug(v: Viewer, State(c): State<Arc<Control>>, Query(q): Query<SlugQuery>) -> ApiResult {
    auth::member(&v)?;
    ok(json!({ "slug": q.slug, "problem": request::slug_problem(&c, q.slug.trim()).await? }))
}

/// The club's stack templates with their variables (secret defaults are never shown).
async fn templates(v: Viewer) -> ApiResult {
    auth::member(&v)?;
    ok(request::template_views(None, &Default::default(), None))
}

/// The verdict on a request without storing it.
async fn check(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Json(input): Json<RequestInput>,
) -> ApiResult {
    check_csrf(&v, &headers)?;
    ok(worded(&v, request::verdict(&c, &input).await?))
}

/// A verdict as the live checker shows it: with `stack_ok`, "Stack: accepted." in the viewer's
/// language, when the stack passes (the checker's own findings stay English this turn).
fn worded(v: &Viewer, verdict: request::Verdict) -> Value {
    let accepted = verdict.stack_problem.is_none();
    let mut body = json!(verdict);
    if accepted {
        body["stack_ok"] = json!(super::i18n::t(v.lang, "request-stack-ok"));
    }
    body
}

/// The verdict on the changes to a request that was sent back, without storing them.
async fn check_edit(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Json(input): Json<ResubmitInput>,
) -> ApiResult {
    check_csrf(&v, &headers)?;
    let p = request::editable(&c, &v, &slug).await?;
    ok(worded(&v, request::edit_verdict(&c, &p, &input).await?))
}

async fn mine(v: Viewer, State(c): State<Arc<Control>>) -> ApiResult {
    ok(member::my_projects(&c, &v).await?)
}

/// Stores a request (from a template with `template` and `variables`, or a compose file in
/// `stack`) and answers with the project and the checker's verdict on what was stored.
async fn submit(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Json(input): Json<RequestInput>,
) -> ApiResult {
    check_csrf(&v, &headers)?;
    let p = request::submit(&c, &v, &input).await?;
    let view = models::view(&c, &p).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "stack_problem": view.stack_problem, "project": view })),
    )
        .into_response())
}

/// Resubmits a request that was sent back, with the changes in the body (absent fields are kept).
async fn resubmit(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Json(input): Json<ResubmitInput>,
) -> ApiResult {
    check_csrf(&v, &headers)?;
    let p = request::resubmit(&c, &v, &slug, &input).await?;
    ok(models::view(&c, &p).await?)
}

async fn show(v: Viewer, State(c): State<Arc<Control>>, Path(slug): Path<String>) -> ApiResult {
    auth::member(&v)?;
    let p = match c.project(&slug).await {
        Ok(p) => p,
        Err(e) => return Err(e.into()),
    };
    auth::owner_or_admin(&v, &p)?;
    ok(models::view(&c, &p).await?)
}

async fn logs(v: Viewer, State(c): State<Arc<Control>>, Path(slug): Path<String>) -> ApiResult {
    let containers: Vec<Value> = member::logs(&c, &v, &slug)
        .await?
        .into_iter()
        .map(|(name, text)| json!({ "container": name, "lines": text }))
        .collect();
    ok(containers)
}

async fn action(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Path((slug, action)): Path<(String, String)>,
) -> ApiResult {
    check_csrf(&v, &headers)?;
    let p = member::project_action(&c, &v, &slug, &action).await?;
    ok(models::view(&c, &p).await?)
}

async fn queue(v: Viewer, State(c): State<Arc<Control>>) -> ApiResult {
    ok(admin::queue(&c, &v).await?)
}

async fn all_projects(v: Viewer, State(c): State<Arc<Control>>) -> ApiResult {
    ok(admin::all_projects(&c, &v).await?)
}

async fn admin_action(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Path((slug, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult {
    check_csrf(&v, &headers)?;
    auth::admin(&v)?;
    let input: AdminAction = if body.is_empty() {
        AdminAction::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Denied::Invalid(format!("request body: {e}")))?
    };
    match admin::project_action(&c, &v, &slug, &action, &input).await? {
        Some(p) => ok(models::view(&c, &p).await?),
        None => ok(json!({ "deleted": slug })),
    }
}

async fn users(v: Viewer, State(c): State<Arc<Control>>) -> ApiResult {
    auth::admin(&v)?;
    ok(c.users().await?)
}

async fn user_action(
    v: Viewer,
    State(c): State<Arc<Control>>,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
) -> ApiResult {
    check_csrf(&v, &headers)?;
    ok(admin::user_action(&c, &v, &name, &action).await?)
}

async fn audit(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Query(f): Query<AuditFilter>,
) -> ApiResult {
    ok(admin::audit(&c, &v, &f).await?)
}

async fn routes(v: Viewer, State(c): State<Arc<Control>>) -> ApiResult {
    ok(admin::routes(&c, &v).await?)
}
