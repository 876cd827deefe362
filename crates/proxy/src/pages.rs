//! The proxy's own answers: small branded pages for 404, 502 and 503, or JSON when the client asks
//! for JSON, and its two redirects (the trailing slash, the portal's own host). Visitors should
//! always learn what happened, never see a bare error.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode, header};

use super::routes::Route;
use super::{ProxyBody, Settings};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds an error page linking to the portal at `portal` (`/portal/`). `wants_json` comes from
/// the request's Accept header.
pub(crate) fn error_page(
    status: StatusCode,
    title: &str,
    detail: &str,
    wants_json: bool,
    portal: &str,
) -> Response<Full<Bytes>> {
    let (content_type, body) = if wants_json {
        let body =
            serde_json::json!({ "status": status.as_u16(), "error": title, "detail": detail });
        ("application/json", body.to_string())
    } else {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{code} {title}</title><style>body{{font-family:system-ui,sans-serif;\
             max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1d2433}}h1{{font-size:1.6rem}}\
             .code{{color:#6b7280}}a{{color:#1d4ed8}}</style></head><body>\
             <p class=\"code\">{code} · clubhost</p><h1>{title}</h1><p>{detail}</p>\
             <p><a href=\"{portal}\">See what the club hosts</a></p></body></html>",
            code = status.as_u16(),
            title = escape(title),
            detail = escape(detail),
            portal = escape(portal),
        );
        ("text/html; charset=utf-8", body)
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

/// True when the client prefers JSON (an API client) over HTML.
pub(crate) fn wants_json(headers: &hyper::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

// ---- the proxy's own answers as proxy responses ----

/// One of the proxy's own pages, linking to the portal at `portal` (`/portal/`).
pub(super) fn page(
    status: StatusCode,
    title: &str,
    detail: &str,
    json: bool,
    portal: &str,
) -> Response<ProxyBody> {
    error_page(status, title, detail, json, portal).map(ProxyBody::other)
}

/// `<scheme>://portal.<domain>[:port]<rest of the path>?<query>`: the portal on its own host. The
/// port of the request's Host is kept (a club behind `:8080`).
pub(super) fn to_portal_host<B>(
    req: &Request<B>,
    route: &Route,
    settings: &Settings,
) -> Response<ProxyBody> {
    let host = settings.portal_host.as_deref().unwrap_or_default();
    let port = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .filter(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(String::new(), |(_, p)| format!(":{p}"));
    let rest = req.uri().path().get(route.prefix.len()..).unwrap_or("/");
    let rest = if rest.is_empty() { "/" } else { rest };
    let mut location = format!("{}://{host}{port}{rest}", settings.scheme);
    if let Some(q) = req.uri().query() {
        location.push('?');
        location.push_str(q);
    }
    let mut res = page(
        StatusCode::PERMANENT_REDIRECT,
        "Moved",
        "The portal lives on its own host.",
        false,
        &settings.portal_path,
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// `/slug?q` → `/slug/?q`, so relative links in the project's pages resolve under its prefix.
/// A 200 with `body` as plain text (a member's domain's proof token).
pub(super) fn plain_text(body: String) -> Response<ProxyBody> {
    let mut res = Response::new(ProxyBody::other(Full::new(Bytes::from(body))));
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    res
}

pub(super) fn add_slash<B>(req: &Request<B>, portal: &str) -> Response<ProxyBody> {
    let mut location = format!("{}/", req.uri().path());
    if let Some(q) = req.uri().query() {
        location.push('?');
        location.push_str(q);
    }
    // 308 keeps the method and body for non-GET requests.
    let status = if req.method() == Method::GET || req.method() == Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    let mut res = page(
        status,
        "Moved",
        "This project lives one slash further.",
        false,
        portal,
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_names() {
        let r = error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "<b>x</b>",
            "d",
            false,
            "/club-portal/",
        );
        assert_eq!(r.status(), 503);
        let body = format!("{:?}", r.body());
        assert!(!body.contains("<b>x"), "{body}");
        assert!(body.contains("href=\\\"/club-portal/\\\""), "{body}");
    }
}
