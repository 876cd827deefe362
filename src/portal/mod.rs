//! The member portal (axum), mounted by the proxy under `[portal] path` (`/portal/` by default)
//! and, with `[proxy] subdomains`, at `/` on `portal.<domain>`: accounts, the member's "request a
//! hosting slot" and "my projects" pages, the admin's review queue, projects, users and audit log,
//! the public gallery and join page, and the same operations as a JSON API under `<path>api/`.
//!
//! Layout: [`session`] (cookies, the [`session::Viewer`] extractor), [`csrf`] (origin and token
//! checks), [`auth`] (passwords, sign-up/login, and the one place that decides who may do what),
//! [`request`] (the request form: templates and their variables, the checker's verdict,
//! resubmitting a request that was sent back), [`member`] and [`admin`] (the other operations and
//! their pages), [`project`] (one project's page and its live deploy progress), [`terms`]
//! (renewals and term actions), [`api`] (JSON), [`pages`] (gallery, join, static assets,
//! templates). Every operation calls the same `control::Control` methods the admin socket uses;
//! handlers only add "who is asking".

pub mod admin;
pub mod api;
pub mod auth;
pub mod csrf;
pub mod member;
pub mod pages;
pub mod project;
pub mod request;
pub mod session;
pub mod terms;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::{Extensions, HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower::ServiceExt;

use clubhost_core::control::{Control, ControlError};
use clubhost_core::model::RegistryError;

/// Where this request reached the portal; [`router`] sets it on every request.
#[derive(Debug, Clone)]
pub struct Mount {
    /// What the portal's links start with: `[portal] path` without its trailing slash
    /// (`/portal`), or empty when the request came in on `portal.<domain>`.
    pub base: String,
}

impl Mount {
    pub fn of(req: &Request, c: &Control) -> Mount {
        Mount::of_parts(req.extensions(), c)
    }

    pub fn of_parts(extensions: &Extensions, c: &Control) -> Mount {
        extensions.get::<Mount>().cloned().unwrap_or_else(|| Mount {
            base: c.config().portal.base(),
        })
    }
}

/// The portal's front door: requests on `portal.<domain>` (subdomains on) have their path moved
/// under the configured one for routing, and their pages link from `/`.
#[derive(Clone)]
struct Entrance {
    /// `/portal`.
    base: String,
    /// `portal.<domain>`, lowercase; `None` without subdomains.
    host: Option<String>,
}

impl Entrance {
    fn admit(&self, mut req: Request) -> Request {
        let on_host = self
            .host
            .as_deref()
            .is_some_and(|h| host_name(req.headers()).is_some_and(|n| n.eq_ignore_ascii_case(h)));
        if on_host {
            let path = req.uri().path();
            let under_base = path
                .strip_prefix(self.base.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if !under_base {
                let moved = req
                    .uri()
                    .path_and_query()
                    .map(|pq| format!("{}{pq}", self.base))
                    .and_then(|pq| pq.parse::<Uri>().ok());
                if let Some(uri) = moved {
                    *req.uri_mut() = uri;
                }
            }
        }
        let base = if on_host {
            String::new()
        } else {
            self.base.clone()
        };
        req.extensions_mut().insert(Mount { base });
        req
    }
}

/// The Host header's name: no port, no trailing dot.
fn host_name(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = host.split(':').next().unwrap_or(host);
    Some(name.strip_suffix('.').unwrap_or(name))
}

pub fn router(control: Arc<Control>) -> Router {
    let base = control.config().portal.base();
    let at = |path: &str| format!("{base}{path}");
    let inner = Router::new()
        .route(&at("/"), get(pages::gallery))
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
            get(auth::signup_page).post(auth::signup_form),
        )
        .route(&at("/login"), get(auth::login_page).post(auth::login_form))
        .route(&at("/logout"), post(auth::logout_form))
        .route(
            &at("/account"),
            get(auth::account_page).post(auth::password_form),
        )
        .route(
            &at("/request"),
            get(request::request_page).post(request::request_form),
        )
        .route(&at("/projects"), get(member::mine_page))
        .route(
            &at("/projects/{slug}/edit"),
            get(request::edit_page).post(request::edit_form),
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
            Denied::Control(e) => crate::errors::status(e),
        }
    }

    /// The message shown to the caller; database details are logged instead.
    pub fn message(&self) -> String {
        match self {
            Denied::NotSignedIn => "please log in first".into(),
            Denied::Forbidden(m) | Denied::Csrf(m) | Denied::Invalid(m) | Denied::Throttled(m) => {
                m.clone()
            }
            Denied::Control(e) => crate::errors::public_message(e),
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

/// A refusal waiting to be rendered by [`render_refusals`], which knows where the portal is.
#[derive(Clone)]
struct Refusal {
    login: bool,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let mut res = status.into_response();
        res.extensions_mut().insert(Refusal {
            login: matches!(self.0, Denied::NotSignedIn),
            message: self.0.message(),
        });
        res
    }
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

pub type PageResult = Result<Response, PageError>;
