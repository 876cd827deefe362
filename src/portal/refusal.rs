//! Why a portal request was refused ([`Denied`]) and how a refusal travels: as a status and a
//! message for the JSON API, or as a [`PageError`] that the router's middleware renders as a page.
//! One place decides the status of every refusal; control errors use the binary's one mapping
//! (`crate::errors`). A page says which action failed and, for a project in the wrong state, why
//! in the viewer's language (`refused-*` and `refusal-*` keys); other reasons come from the
//! control plane in English (marked "English only this turn" in the catalogues).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::i18n::{self, Lang};
use clubhost_core::control::ControlError;
use clubhost_core::model::{ProjectState, RegistryError};

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
    /// The message in English, as the control plane gives it.
    pub(super) message: String,
    /// A project in the wrong state for the action: slug, its state, the state asked for.
    pub(super) transition: Option<(String, ProjectState, ProjectState)>,
}

impl Refusal {
    /// The message in `lang`: a wrong state in the catalogue's words, anything else as given.
    pub(super) fn message_in(&self, lang: Lang) -> String {
        let Some((slug, from, to)) = &self.transition else {
            return self.message.clone();
        };
        let word = |s: ProjectState| s.to_string().replace('_', "-");
        let now = i18n::t(lang, &format!("refusal-now-{}", word(*from)));
        let wanted = format!("refusal-wanted-{}", word(*to));
        if i18n::has(lang, &wanted) {
            let wanted = i18n::t(lang, &wanted);
            i18n::t_with(
                lang,
                "refusal-no-longer",
                &[("slug", slug), ("now", &now), ("wanted", &wanted)],
            )
        } else {
            i18n::t_with(lang, "refusal-not-now", &[("slug", slug), ("now", &now)])
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let mut res = status.into_response();
        let transition = match &self.0 {
            Denied::Control(ControlError::Registry(RegistryError::InvalidTransition {
                slug,
                from,
                to,
            })) => Some((slug.clone(), *from, *to)),
            _ => None,
        };
        res.extensions_mut().insert(Refusal {
            login: matches!(self.0, Denied::NotSignedIn),
            message: self.0.page_message(),
            transition,
        });
        res
    }
}

pub type PageResult = Result<Response, PageError>;

/// The title of a refused page in `lang`: which action failed, in plain words, from the method
/// and the path below the portal's base (`POST /admin/projects/blog/reject`). One whole sentence
/// per action (`refused-*` in the catalogues).
pub(super) fn failed_action(lang: Lang, method: &axum::http::Method, path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (key, var): (&str, Option<(&str, &str)>) =
        if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
            match parts.as_slice() {
                ["admin", ..] => ("refused-admin-page", None),
                ["projects", slug, ..] => ("refused-show-project", Some(("slug", slug))),
                _ => ("refused-show-page", None),
            }
        } else {
            match parts.as_slice() {
                ["admin", "projects", slug, action] => (
                    match *action {
                        "approve" => "refused-approve",
                        "reject" => "refused-reject",
                        "send-back" => "refused-send-back",
                        "stop" => "refused-stop",
                        "expire" => "refused-expire",
                        "redeploy" => "refused-redeploy",
                        "restore" => "refused-restore",
                        "delete" => "refused-delete",
                        "term" | "permanent" | "temporary" => "refused-term",
                        _ => "refused-project-action",
                    },
                    Some(("slug", slug)),
                ),
                ["admin", "users", name, _] => ("refused-member", Some(("name", name))),
                ["projects", slug, "withdraw"] => ("refused-withdraw", Some(("slug", slug))),
                ["admin", "renewals", _, _] => ("refused-renewal-decide", None),
                ["projects", slug, "renew"] => ("refused-renew", Some(("slug", slug))),
                ["projects", slug, "redeploy"] => ("refused-redeploy", Some(("slug", slug))),
                ["projects", slug, "edit"] => ("refused-edit", Some(("slug", slug))),
                ["projects", slug, ..] => ("refused-project-action", Some(("slug", slug))),
                ["request"] => ("refused-request", None),
                ["join"] => ("refused-join", None),
                ["account"] => ("refused-account", None),
                ["logout"] => ("refused-logout", None),
                _ => ("refused-other", None),
            }
        };
    match var {
        Some(v) => i18n::t_with(lang, key, &[v]),
        None => i18n::t(lang, key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn a_wrong_state_is_said_in_both_languages() {
        let r = Refusal {
            login: false,
            message: "cannot go from running to rejected".into(),
            transition: Some(("blog".into(), ProjectState::Running, ProjectState::Rejected)),
        };
        assert_eq!(
            r.message_in(Lang::En),
            "“blog” is already running, so it can no longer be rejected."
        );
        assert_eq!(
            r.message_in(Lang::Ko),
            "“blog” 프로젝트는 이미 운영 중입니다. 이제 거절할 수 없습니다."
        );
        let r = Refusal {
            transition: Some(("blog".into(), ProjectState::Running, ProjectState::Failed)),
            ..r
        };
        assert!(
            r.message_in(Lang::En)
                .ends_with("so this cannot be done to it now.")
        );
    }

    #[test]
    fn the_failed_action_is_named_in_both_languages() {
        let path = "/admin/projects/blog/reject";
        assert_eq!(
            failed_action(Lang::En, &Method::POST, path),
            "The request for “blog” could not be rejected"
        );
        assert_eq!(
            failed_action(Lang::Ko, &Method::POST, path),
            "“blog” 신청을 거절할 수 없습니다"
        );
        assert_eq!(
            failed_action(Lang::En, &Method::GET, "/admin/users"),
            "This admin page is not open to you"
        );
    }
}
