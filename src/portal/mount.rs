//! Where a request reached the portal: under `[portal] path` on any host, or at `/` on
//! `portal.<domain>` (the front door moves those under the path and records a [`Mount`], which
//! every link, redirect and cookie path starts from).

use axum::extract::Request;
use axum::http::{Extensions, HeaderMap, Uri, header};

use clubhost_core::control::Control;

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
pub(super) struct Entrance {
    /// `/portal`.
    pub(super) base: String,
    /// `portal.<domain>`, lowercase; `None` without subdomains.
    pub(super) host: Option<String>,
}

impl Entrance {
    pub(super) fn admit(&self, mut req: Request) -> Request {
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
