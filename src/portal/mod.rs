//! The member portal (axum), mounted by the proxy under `/portal/`: accounts, the member's "request
//! a hosting slot" and "my projects" pages, the admin's review queue, projects, users and audit
//! log, the public gallery and join page, and the same operations as a JSON API under
//! `/portal/api/`.
//!
//! Layout: [`session`] (cookies, the [`session::Viewer`] extractor), [`csrf`] (origin and token
//! checks), [`auth`] (passwords, sign-up/login, and the one place that decides who may do what),
//! [`member`] and [`admin`] (the operations and their pages), [`project`] (one project's page and
//! its live deploy progress), [`terms`] (renewals and term actions), [`api`] (JSON), [`pages`]
//! (gallery, join, static assets, templates). Every operation calls the same `control::Control`
//! methods the admin socket uses; handlers only add "who is asking".

pub mod admin;
pub mod api;
pub mod auth;
pub mod csrf;
pub mod member;
pub mod pages;
pub mod project;
pub mod session;
pub mod terms;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::control::{Control, ControlError};
use crate::registry::RegistryError;

/// Where the portal is mounted. Fixed for now; `[portal] path` is not configurable yet.
pub const BASE: &str = "/portal";

pub fn router(control: Arc<Control>) -> Router {
    Router::new()
        .route("/portal/", get(pages::gallery))
        .route("/portal", get(|| async { Redirect::permanent("/portal/") }))
        .route("/portal/static/{*file}", get(pages::asset))
        .route("/portal/join", get(pages::join))
        .route(
            "/portal/signup",
            get(auth::signup_page).post(auth::signup_form),
        )
        .route(
            "/portal/login",
            get(auth::login_page).post(auth::login_form),
        )
        .route("/portal/logout", post(auth::logout_form))
        .route(
            "/portal/account",
            get(auth::account_page).post(auth::password_form),
        )
        .route(
            "/portal/request",
            get(member::request_page).post(member::request_form),
        )
        .route("/portal/projects", get(member::mine_page))
        .route("/portal/projects/{slug}/logs", get(member::logs_download))
        .route("/portal/projects/{slug}/logs/live", get(member::logs_live))
        .route(
            "/portal/projects/{slug}/{action}",
            post(member::action_form),
        )
        .route("/portal/admin/", get(admin::queue_page))
        .route("/portal/admin/projects", get(admin::projects_page))
        .route(
            "/portal/admin/projects/{slug}/{action}",
            post(admin::project_form),
        )
        .route("/portal/admin/users", get(admin::users_page))
        .route(
            "/portal/admin/users/{name}/{action}",
            post(admin::user_form),
        )
        .route("/portal/admin/audit", get(admin::audit_page))
        .route("/portal/admin/routes", get(admin::routes_page))
        .merge(api::router())
        .merge(project::router())
        .merge(terms::router())
        .layer(axum::middleware::from_fn_with_state(
            control.clone(),
            session::pre_session_token,
        ))
        .with_state(control)
}

/// Why a portal request was refused; pages and the API render it their own way.
#[derive(Debug)]
pub enum Denied {
    /// No (valid) session: pages redirect to the login form, the API answers 401.
    NotSignedIn,
    /// Signed in, but not allowed (not the owner, not an admin).
    Forbidden(String),
    /// The request failed the CSRF checks (foreign origin, missing or wrong token).
    Csrf(String),
    /// Bad input; the message names the field.
    Invalid(String),
    /// Too many failed logins.
    Throttled(String),
    Control(ControlError),
}

impl From<ControlError> for Denied {
    fn from(e: ControlError) -> Self {
        Denied::Control(e)
    }
}

impl From<RegistryError> for Denied {
    fn from(e: RegistryError) -> Self {
        Denied::Control(ControlError::Registry(e))
    }
}

impl Denied {
    pub fn status(&self) -> StatusCode {
        match self {
            Denied::NotSignedIn => StatusCode::UNAUTHORIZED,
            Denied::Forbidden(_) | Denied::Csrf(_) => StatusCode::FORBIDDEN,
            Denied::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Denied::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Denied::Control(e) => match e {
                ControlError::Invalid(_) | ControlError::Stack(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                ControlError::Registry(RegistryError::NotFound(_)) => StatusCode::NOT_FOUND,
                ControlError::Registry(
                    RegistryError::Conflict(_) | RegistryError::InvalidTransition { .. },
                ) => StatusCode::CONFLICT,
                ControlError::Docker(_) => StatusCode::SERVICE_UNAVAILABLE,
                ControlError::Registry(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The message shown to the caller; database details are logged instead.
    pub fn message(&self) -> String {
        match self {
            Denied::NotSignedIn => "please log in first".into(),
            Denied::Forbidden(m) | Denied::Csrf(m) | Denied::Invalid(m) | Denied::Throttled(m) => {
                m.clone()
            }
            Denied::Control(e) => {
                if self.status() == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(error = %e, "portal: registry error");
                    "internal error; see the server log".into()
                } else {
                    e.to_string()
                }
            }
        }
    }
}

/// A refusal rendered as an HTML page (or a redirect to the login form).
pub struct PageError(pub Denied);

impl<E: Into<Denied>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if matches!(self.0, Denied::NotSignedIn) {
            return Redirect::to("/portal/login").into_response();
        }
        let status = self.0.status();
        let page = pages::MessagePage {
            nav: pages::Nav::default(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            message: self.0.message(),
        };
        (status, page).into_response()
    }
}

pub type PageResult = Result<Response, PageError>;
