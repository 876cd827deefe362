//! CSRF protection for every state-changing request: the request must come from the portal's own
//! origin (`Sec-Fetch-Site` and `Origin`, when the browser sends them) AND carry the right token —
//! the session's token for signed-in users (a hidden form field, or the `X-CSRF-Token` header in
//! the API), or the anonymous `clubhost_csrf` cookie's value for the login and sign-up forms.

use super::refusal::Denied;
use super::session::Viewer;
use axum::http::HeaderMap;
use serde::Deserialize;

/// The API's CSRF header.
pub const HEADER: &str = "x-csrf-token";

/// Refuses requests a browser marks as coming from another site.
pub fn check_origin(v: &Viewer) -> Result<(), Denied> {
    if let Some(site) = &v.fetch_site
        && !matches!(site.as_str(), "same-origin" | "none")
    {
        return Err(Denied::Csrf(format!(
            "refused a {site} request: portal actions must come from the portal's own pages"
        )));
    }
    if let Some(origin) = &v.origin {
        let origin_host = origin
            .split_once("://")
            .map(|(_, h)| h)
            .unwrap_or(origin.as_str());
        if v.host.as_deref() != Some(origin_host) {
            return Err(Denied::Csrf(format!(
                "refused a request from origin {origin:?}: it is not this portal"
            )));
        }
    }
    Ok(())
}

/// Origin check plus the token: the session's for signed-in users, the anonymous cookie's
/// otherwise.
pub fn check(v: &Viewer, given: &str) -> Result<(), Denied> {
    check_origin(v)?;
    let expected = match &v.session {
        Some(s) => s.csrf.as_str(),
        None => v.pre_csrf.as_deref().unwrap_or(""),
    };
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(Denied::Csrf(
            "the form's security token is missing or stale; reload the page and try again".into(),
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// The CSRF header check for signed-in callers (origin check always).
pub(super) fn check_csrf(v: &Viewer, headers: &HeaderMap) -> Result<(), Denied> {
    super::auth::member(v)?;
    let given = headers
        .get(HEADER)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    check(v, given)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer() -> Viewer {
        Viewer {
            session: None,
            pre_csrf: Some("abc".into()),
            address: None,
            origin: None,
            host: Some("club.example".into()),
            fetch_site: None,
            secure: false,
            base: "/portal".into(),
            lang: crate::portal::i18n::Lang::En,
            here: "/portal/".into(),
            club: "clubhost".into(),
        }
    }

    #[test]
    fn token_must_match() {
        let v = viewer();
        assert!(check(&v, "abc").is_ok());
        assert!(check(&v, "abd").is_err());
        assert!(check(&v, "").is_err());
    }

    #[test]
    fn foreign_origin_is_refused() {
        let mut v = viewer();
        v.origin = Some("https://evil.example".into());
        assert!(check(&v, "abc").is_err());
        v.origin = Some("https://club.example".into());
        assert!(check(&v, "abc").is_ok());
        v.fetch_site = Some("cross-site".into());
        assert!(check(&v, "abc").is_err());
    }

    #[test]
    fn no_token_expected_means_refused() {
        let mut v = viewer();
        v.pre_csrf = None;
        assert!(check(&v, "").is_err());
    }
}
