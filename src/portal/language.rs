//! The language switch: `GET <portal>/lang/<code>?back=<path>` remembers the visitor's choice in a
//! cookie for a year and returns them to the page they were on. A GET, since it changes nothing
//! on the server but a signed-in member's preference (which catalogue their pages use, and which
//! language the notes they get as an owner speak), so it works as a plain link.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::i18n::{self, LANG_COOKIE, Lang};
use super::session::{Viewer, cookie};
use clubhost_core::control::Control;

/// Where to go back to after switching.
#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// A year: a choice of language is not a session.
const REMEMBER_SECS: i64 = 365 * 86_400;

pub async fn switch(
    viewer: Viewer,
    State(c): State<Arc<Control>>,
    Path(code): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let Some(lang) = Lang::from_tag(&code).filter(|l| l.code() == code) else {
        return (
            StatusCode::NOT_FOUND,
            i18n::t_with(viewer.lang, "lang-unknown", &[("code", &code)]),
        )
            .into_response();
    };
    if let Some(name) = viewer.user_name() {
        c.remember_language(name, lang).await;
    }
    let home = format!("{}/", viewer.base);
    // Only a path of the portal, or the site's root (the club's front door): never another site
    // (an open redirect) or a scheme-relative URL.
    let back = q
        .back
        .filter(|b| (b == "/" || b.starts_with(&home)) && !b.starts_with("//") && !b.contains('\\'))
        .and_then(|b| HeaderValue::from_str(&b).ok())
        .unwrap_or_else(|| HeaderValue::from_str(&home).expect("the portal path is checked"));
    (
        StatusCode::SEE_OTHER,
        [
            (
                SET_COOKIE,
                // Path `/`: the club's front door at `/` speaks it too.
                cookie(LANG_COOKIE, lang.code(), REMEMBER_SECS, viewer.secure, ""),
            ),
            (LOCATION, back),
        ],
    )
        .into_response()
}
