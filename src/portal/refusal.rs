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
            message: self.0.message(),
        });
        res
    }
}

pub type PageResult = Result<Response, PageError>;
