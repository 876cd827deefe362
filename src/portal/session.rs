//! Session cookies and the [`Viewer`]: who is asking, read once per request.
//!
//! The session cookie carries 32 random bytes; the registry stores only their SHA-256, so a copy
//! of the database signs nobody in. Every browser also gets a separate random `clubhost_csrf`
//! cookie (set by [`pre_session_token`]) that the login and sign-up forms echo back
//! (double-submit) when there is no live session, hence no session token, yet.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::i18n::{LANG_COOKIE, Lang};
use super::mount::Mount;
use super::refusal::Denied;
use clubhost_core::control::Control;
use clubhost_core::model::Session;

pub const SESSION_COOKIE: &str = "clubhost_session";
pub const PRE_COOKIE: &str = "clubhost_csrf";
/// How long a login lasts.
pub const LIFETIME_SECS: i64 = 14 * 86_400;

/// 32 random bytes from the OS, hex-encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    hex(&bytes)
}

pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, scoped to the portal (`base` is where its links
/// start, `/portal`, or empty on the portal's own host), Secure under TLS.
pub fn cookie(name: &str, value: &str, max_age: i64, secure: bool, base: &str) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={base}/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex and the portal path is checked by the config")
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A fresh anonymous CSRF token made by [`pre_session_token`] for this request.
#[derive(Clone)]
struct FreshPreToken(String);

/// Gives every browser without a `clubhost_csrf` cookie a fresh anonymous CSRF token: visible to
/// this request's handlers and set as a cookie on the response. Browsers that send a session
/// cookie get one too: the session may have ended (password changed elsewhere, account disabled,
/// expired, or a cookie planted by someone else), and the login form must still work for them.
pub async fn pre_session_token(
    State(c): State<Arc<Control>>,
    mut req: Request,
    next: Next,
) -> Response {
    let fresh = cookie_value(req.headers(), PRE_COOKIE)
        .is_none()
        .then(random_token);
    if let Some(t) = &fresh {
        req.extensions_mut().insert(FreshPreToken(t.clone()));
    }
    let secure = c.config().proxy.scheme == "https"
        || req.extensions().get::<clubhost_proxy::Https>().is_some();
    let base = Mount::of(&req, &c).base;
    let mut res = next.run(req).await;
    if let Some(t) = fresh {
        res.headers_mut().append(
            SET_COOKIE,
            cookie(PRE_COOKIE, &t, LIFETIME_SECS, secure, &base),
        );
    }
    res
}

/// Who is asking, and what the CSRF checks need from the request.
pub struct Viewer {
    pub session: Option<Session>,
    /// The anonymous CSRF token (cookie, or the one just made for this visitor).
    pub pre_csrf: Option<String>,
    /// The client's address, when the server knows it (for login throttling).
    pub address: Option<String>,
    pub origin: Option<String>,
    pub host: Option<String>,
    pub fetch_site: Option<String>,
    /// Whether cookies get the Secure flag (`proxy.scheme = "https"`, or the request came over
    /// HTTPS).
    pub secure: bool,
    /// What the portal's links start with for this request: `/portal` (`[portal] path`), or empty
    /// when it came in on `portal.<domain>`.
    pub base: String,
    /// The language its pages speak (the switch's cookie, `Accept-Language`, the club's).
    pub lang: Lang,
    /// The page asked for, as the visitor's links write it (under `base`), with its query: where
    /// the language switch returns to.
    pub here: String,
    /// The club's name (`[club] name`), for every page's header.
    pub club: String,
}

impl Viewer {
    pub fn user_name(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.user.name.as_str())
    }

    /// A portal address as this viewer reaches it: `/projects` → `/portal/projects`.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The token this viewer's forms must carry.
    pub fn form_token(&self) -> String {
        match &self.session {
            Some(s) => s.csrf.clone(),
            None => self.pre_csrf.clone().unwrap_or_default(),
        }
    }
}

/// The language a request's pages speak: the switch's cookie, `Accept-Language`, the club's.
pub fn lang_of(headers: &HeaderMap, c: &Control) -> Lang {
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(
        cookie_value(headers, LANG_COOKIE).as_deref(),
        accept,
        &c.config().club.language,
    )
}

impl FromRequestParts<Arc<Control>> for Viewer {
    type Rejection = super::refusal::PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        c: &Arc<Control>,
    ) -> Result<Self, Self::Rejection> {
        let session = match cookie_value(&parts.headers, SESSION_COOKIE) {
            Some(token) => c.session(&hash_token(&token)).await.map_err(Denied::from)?,
            None => None,
        };
        let pre_csrf = cookie_value(&parts.headers, PRE_COOKIE)
            .or_else(|| parts.extensions.get::<FreshPreToken>().map(|t| t.0.clone()));
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let base = Mount::of_parts(&parts.extensions, c).base;
        // On `portal.<domain>` the front door moved the path under `[portal] path`; the visitor's
        // own links start at `/`.
        let routed = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let here = if base.is_empty() {
            let configured = c.config().portal.base();
            routed
                .strip_prefix(configured.as_str())
                .unwrap_or(routed)
                .to_string()
        } else {
            routed.to_string()
        };
        Ok(Viewer {
            session,
            pre_csrf,
            address: parts
                .extensions
                .get::<clubhost_proxy::Peer>()
                .map(|ci| ci.0.ip().to_string()),
            origin: header(ORIGIN),
            host: header(HOST),
            fetch_site: header(axum::http::HeaderName::from_static("sec-fetch-site")),
            // Behind a TLS terminator, or over clubhost's own HTTPS listener.
            secure: c.config().proxy.scheme == "https"
                || parts.extensions.get::<clubhost_proxy::Https>().is_some(),
            base,
            here,
            lang: lang_of(&parts.headers, c),
            club: c.config().club.name.clone(),
        })
    }
}
