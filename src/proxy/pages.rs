//! The proxy's own answers: small branded pages for 404, 502 and 503, or JSON when the client asks
//! for JSON. Visitors should always learn what happened, never see a bare error.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
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
pub fn error_page(
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
pub fn wants_json(headers: &hyper::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
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
