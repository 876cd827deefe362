//! Why a portal request was refused ([`Denied`]) and how a refusal travels: as a status and a
//! message for the JSON API, or as a [`PageError`] that the router's middleware renders as a page.
//! One place decides the status of every refusal; control errors use the binary's one mapping
//! (`crate::errors`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use clubhost_core::control::ControlError;
use clubhost_core::model::RegistryError;

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

    /// The message a page shows: like [`Denied::message`], with lifecycle refusals in plain words
    /// (`crate::errors::page_message`), and starting with a capital.
    pub fn page_message(&self) -> String {
        let m = match self {
            Denied::Control(e) => crate::errors::page_message(e),
            other => other.message(),
        };
        capitalized(&m)
    }
}

/// `m` with its first letter upper-case ("please log in" → "Please log in").
pub fn capitalized(m: &str) -> String {
    let mut chars = m.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A refusal rendered as an HTML page (or a redirect to the login form).
pub struct PageError(pub Denied);

impl<E: Into<Denied>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

/// A refusal waiting to be rendered by `render_refusals` (in `portal/mod.rs`), which knows where
/// the portal is, who asked and what they tried.
#[derive(Clone)]
pub(super) struct Refusal {
    pub(super) login: bool,
    pub(super) message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let mut res = status.into_response();
        res.extensions_mut().insert(Refusal {
            login: matches!(self.0, Denied::NotSignedIn),
            message: self.0.page_message(),
        });
        res
    }
}

pub type PageResult = Result<Response, PageError>;

/// The title of a refused page: which action failed, in plain words, from the method and the
/// path below the portal's base (`POST /admin/projects/blog/reject`). One whole sentence per
/// action, so each can move into a language catalogue.
pub(super) fn failed_action(method: &axum::http::Method, path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        return match parts.as_slice() {
            ["admin", ..] => "This admin page is not open to you".into(),
            ["projects", slug, ..] => format!("Project “{slug}” could not be shown"),
            _ => "This page could not be shown".into(),
        };
    }
    match parts.as_slice() {
        ["admin", "projects", slug, action] => match *action {
            "approve" => format!("The request for “{slug}” could not be approved"),
            "reject" => format!("The request for “{slug}” could not be rejected"),
            "send-back" => format!("The request for “{slug}” could not be sent back"),
            "stop" => format!("Project “{slug}” could not be stopped"),
            "expire" => format!("Project “{slug}” could not be expired"),
            "redeploy" => format!("Project “{slug}” could not be deployed again"),
            "restore" => format!("Project “{slug}” could not be restored"),
            "delete" => format!("Project “{slug}” could not be deleted"),
            "term" | "permanent" | "temporary" => {
                format!("The term of project “{slug}” could not be changed")
            }
            _ => format!("That action on project “{slug}” failed"),
        },
        ["admin", "users", name, _] => format!("The change to member “{name}” failed"),
        ["projects", slug, "withdraw"] => {
            format!("Your request for “{slug}” could not be withdrawn")
        }
        ["admin", "renewals", _, _] => "The renewal could not be decided".into(),
        ["projects", slug, "renew"] => format!("The renewal of “{slug}” could not be asked for"),
        ["projects", slug, "redeploy"] => format!("Project “{slug}” could not be deployed again"),
        ["projects", slug, "edit"] => format!("Your changes to “{slug}” could not be saved"),
        ["projects", slug, ..] => format!("That action on project “{slug}” failed"),
        ["request"] => "Your request could not be submitted".into(),
        ["join"] => "Your chat invite could not be made".into(),
        ["account"] => "Your password could not be changed".into(),
        ["logout"] => "You could not be logged out".into(),
        _ => "That action failed".into(),
    }
}
