//! The member portal (axum), mounted by the proxy under `[portal] path` (`/portal/` by default)
//! and, with `[proxy] subdomains`, at `/` on `portal.<domain>`: accounts, the member's "request a
//! hosting slot" and "my projects" pages, the admin's review queue, projects, users and audit log,
//! the public gallery and join page, and the same operations as a JSON API under `<path>api/`.
//!
//! Layout: [`session`] (cookies, the [`session::Viewer`] extractor), [`csrf`] (origin and token
//! checks), [`auth`] (passwords, sign-up/login, and the one place that decides who may do what),
//! [`front`] (the club's front page and gallery, [`markdown`] for its intro), [`dashboard`] (the
//! admins' overview), [`request`] (the request form: templates and their variables, the checker's verdict,
//! resubmitting a request that was sent back), [`member`] and [`admin`] (the other operations and
//! their pages), [`project`] (one project's page and its live deploy progress), [`terms`]
//! (renewals and term actions), [`api`] (JSON), [`pages`] (gallery, join, static assets,
//! templates). Every operation calls the same `control::Control` methods the admin socket uses;
//! handlers only add "who is asking".

pub mod account;
pub mod admin;
pub mod api;
pub mod auth;
pub mod backups;
pub mod chat;
pub mod csrf;
pub mod dashboard;
pub mod domains;
pub mod files;
pub mod front;
pub mod i18n;
pub mod language;
pub mod markdown;
pub mod member;
pub mod models;
pub mod mount;
pub mod pages;
pub mod project;
pub mod refusal;
pub mod request;
pub mod request_form;
pub mod session;
mod stack_text;
mod steps;
pub mod terms;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower::ServiceExt;

use clubhost_core::control::Control;
use mount::{Entrance, Mount};
use refusal::Refusal;

pub fn router(control: Arc<Control>) -> Router {
    let base = control.config().portal.base();
    let at = |path: &str| format!("{base}{path}");
    let upload_limit = (control.config().build.max_compressed + (1 << 20)) as usize;
    let inner = Router::new()
        .route(&at("/"), get(dashboard::portal_root))
        .route("/", get(front::front_door))
        .route(&at("/club"), get(front::club_page))
        .route(&at("/admin/dashboard"), get(dashboard::dashboard_page))
        .route(
            &base,
            get(|Extension(m): Extension<Mount>| async move {
                Redirect::permanent(&format!("{}/", m.base))
            }),
        )
        .route(&at("/static/{*file}"), get(pages::asset))
        .route(&at("/join"), get(chat::join_page).post(chat::join_form))
        .route(&at("/lang/{code}"), get(language::switch))
        .route(
            &at("/signup"),
            get(account::signup_page).post(account::signup_form),
        )
        .route(
            &at("/login"),
            get(account::login_page).post(account::login_form),
        )
        .route(&at("/logout"), post(account::logout_form))
        .route(
            &at("/account"),
            get(account::account_page).post(account::password_form),
        )
        .route(
            &at("/request"),
            get(request_form::request_page)
                .post(request_form::request_form)
                // A request may carry the project's files, up to `[build] max_compressed`.
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(&at("/projects"), get(member::mine_page))
        .route(
            &at("/projects/{slug}/edit"),
            get(request_form::edit_page).post(request_form::edit_form),
        )
        .route(&at("/projects/{slug}/logs"), get(member::logs_download))
        .route(&at("/projects/{slug}/backups"), get(backups::list_page))
        .route(
            &at("/projects/{slug}/backups/{id}/{*file}"),
            get(backups::download),
        )
        .route(&at("/projects/{slug}/archive/{id}"), get(backups::archive))
        .route(&at("/projects/{slug}/logs/live"), get(member::logs_live))
        .route(&at("/projects/{slug}/{action}"), post(member::action_form))
        .route(&at("/admin/"), get(admin::queue_page))
        .route(&at("/admin/projects"), get(admin::projects_page))
        .route(
            &at("/admin/projects/{slug}/{action}"),
            post(admin::project_form),
        )
        .route(&at("/admin/users"), get(admin::users_page))
        .route(&at("/admin/users/{name}/{action}"), post(admin::user_form))
        .route(&at("/admin/audit"), get(admin::audit_page))
        .route(&at("/admin/routes"), get(admin::routes_page))
        .merge(api::router(&base))
        .merge(project::router(&base))
        .merge(files::router(&base))
        .merge(domains::router(&base))
        .merge(terms::router(&base))
        .merge(webhook::router(&base))
        .layer(axum::middleware::from_fn_with_state(
            control.clone(),
            session::pre_session_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            control.clone(),
            render_refusals,
        ))
        .with_state(control.clone());
    let entrance = Entrance {
        host: control
            .config()
            .proxy
            .subdomains
            .then(|| format!("portal.{}", control.config().domain).to_ascii_lowercase()),
        base,
    };
    Router::new().fallback_service(inner.map_request(move |req| entrance.admit(req)))
}

/// Renders a page's refusal: a redirect to the login form, or a message page that keeps the
/// viewer's menu (the session is looked up again, only when a refusal is rendered), says which
/// action failed and why, and links back to the page the action came from.
async fn render_refusals(State(c): State<Arc<Control>>, req: Request, next: Next) -> Response {
    let base = Mount::of(&req, &c).base;
    let method = req.method().clone();
    let below_base = req
        .uri()
        .path()
        .strip_prefix(base.as_str())
        .unwrap_or(req.uri().path())
        .to_string();
    let session_cookie = session::cookie_value(req.headers(), session::SESSION_COOKIE);
    let lang = session::lang_of(req.headers(), &c);
    let referer = req
        .headers()
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut res = next.run(req).await;
    let Some(refusal) = res.extensions_mut().remove::<Refusal>() else {
        return res;
    };
    if refusal.login {
        return Redirect::to(&format!("{base}/login")).into_response();
    }
    let session = match session_cookie {
        Some(token) => c.session(&session::hash_token(&token)).await.ok().flatten(),
        None => None,
    };
    let nav = match &session {
        Some(s) => pages::Nav::signed_in(s, &base, lang, &c.config().club.name),
        None => pages::Nav::anonymous(&base, lang, &c.config().club.name),
    };
    let back = back_link(referer.as_deref(), &base, &below_base, &method);
    let status = res.status();
    let page = pages::MessagePage {
        nav,
        title: refusal::failed_action(lang, &method, &below_base),
        message: refusal.message_in(lang),
        back: Some(back),
    };
    (status, page).into_response()
}

/// Where a refusal page sends the viewer back: the portal page the action was posted from (the
/// `Referer`'s path, kept only when it is a portal page and not the refused page itself), else
/// the portal's front page.
fn back_link(referer: Option<&str>, base: &str, below_base: &str, method: &Method) -> String {
    let from = referer
        .and_then(|r| r.parse::<axum::http::Uri>().ok())
        .map(|u| u.path().to_string())
        .filter(|p| p.starts_with(&format!("{base}/")) && !p.contains(".."))
        .filter(|p| !(method == Method::GET && p.strip_prefix(base) == Some(below_base)));
    from.unwrap_or_else(|| format!("{base}/"))
}
