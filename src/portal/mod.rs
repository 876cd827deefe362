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
pub mod csrf;
pub mod dashboard;
pub mod front;
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
pub mod terms;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Request, State};
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
        .route(&at("/join"), get(pages::join))
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
            get(request_form::request_page).post(request_form::request_form),
        )
        .route(&at("/projects"), get(member::mine_page))
        .route(
            &at("/projects/{slug}/edit"),
            get(request_form::edit_page).post(request_form::edit_form),
        )
        .route(&at("/projects/{slug}/logs"), get(member::logs_download))
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
        .merge(terms::router(&base))
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

/// Renders a page's refusal: a redirect to the login form, or a message page.
async fn render_refusals(State(c): State<Arc<Control>>, req: Request, next: Next) -> Response {
    let base = Mount::of(&req, &c).base;
    let mut res = next.run(req).await;
    let Some(refusal) = res.extensions_mut().remove::<Refusal>() else {
        return res;
    };
    if refusal.login {
        return Redirect::to(&format!("{base}/login")).into_response();
    }
    let status = res.status();
    let page = pages::MessagePage {
        nav: pages::Nav::anonymous(&base),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        message: refusal.message,
    };
    (status, page).into_response()
}
