//! The gallery's items (the club's front page and gallery are `front`'s), static assets, and the
//! template structs every page renders through (askama templates in `web/templates`, checked at
//! compile time; assets in `web/static`, embedded with rust-embed).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::i18n::{self, Lang};
use super::models::{date, href};
use super::session::Viewer;
use clubhost_core::control::Control;
use clubhost_core::model::ProjectState;

#[derive(RustEmbed)]
#[folder = "web/static/"]
struct Assets;

/// What every page needs: who is signed in, the token for its forms, and where the portal's
/// links start.
#[derive(Clone)]
pub struct Nav {
    pub user: Option<String>,
    pub admin: bool,
    pub csrf: String,
    /// `/portal` (`[portal] path`), or empty on `portal.<domain>`; every link and form starts
    /// with it.
    pub base: String,
    /// The language the page speaks; templates ask it for every string (`nav.t("key")`).
    pub lang: Lang,
    /// This page's path and query, where the language switch comes back to.
    pub here: String,
    /// The club's name (`[club] name`) for the header; empty where unknown (a refusal).
    pub club: String,
}

impl Nav {
    pub fn of(v: &Viewer) -> Nav {
        Nav {
            user: v.user_name().map(str::to_string),
            admin: v.session.as_ref().is_some_and(|s| s.user.is_admin),
            csrf: v.form_token(),
            base: v.base.clone(),
            lang: v.lang,
            here: v.here.clone(),
            club: v.club.clone(),
        }
    }

    /// The navigation of a page rendered outside a handler (a refusal) for a signed-in viewer.
    pub fn signed_in(s: &clubhost_core::model::Session, base: &str, lang: Lang, club: &str) -> Nav {
        Nav {
            user: Some(s.user.name.clone()),
            admin: s.user.is_admin,
            csrf: s.csrf.clone(),
            base: base.to_string(),
            lang,
            here: format!("{base}/"),
            club: club.to_string(),
        }
    }

    /// The navigation of a page shown without knowing who asks (a refusal).
    pub fn anonymous(base: &str, lang: Lang, club: &str) -> Nav {
        Nav {
            user: None,
            admin: false,
            csrf: String::new(),
            base: base.to_string(),
            lang,
            here: format!("{base}/"),
            club: club.to_string(),
        }
    }

    /// The string for `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    /// The string for `key` with one variable filled in (`{ $name }` in the catalogue).
    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        i18n::t_with(self.lang, key, &[(name, value)])
    }

    /// The string for `key` with two variables filled in.
    pub fn t2(&self, key: &str, a: &str, a_value: &str, b: &str, b_value: &str) -> String {
        i18n::t_with(self.lang, key, &[(a, a_value), (b, b_value)])
    }

    /// A project state's name (`running`) in the page's language.
    pub fn state(&self, state: &str) -> String {
        i18n::named(self.lang, "state", state)
    }

    /// A stored word under `prefix` in the page's language (see [`i18n::named`]).
    pub fn named(&self, prefix: &str, word: &str) -> String {
        i18n::named(self.lang, prefix, word)
    }

    /// The switch's entries: each language's code, its own name, and whether the page speaks it.
    pub fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        Lang::ALL
            .iter()
            .map(|l| (l.code(), l.name(), *l == self.lang))
            .collect()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub nav: Nav,
    pub title: String,
    pub message: String,
    /// Where "Back" goes (a refusal: the page the action came from); None: the portal's front.
    pub back: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "signup.html")]
pub struct SignupPage {
    pub nav: Nav,
    pub error: String,
    pub name: String,
    pub email: String,
    pub needs_invite: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub nav: Nav,
    pub error: String,
    pub login: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub nav: Nav,
    pub email: String,
    pub error: String,
}

/// One project on the public gallery.
#[derive(serde::Serialize)]
pub struct GalleryItem {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub href: String,
    pub source_url: String,
    /// Its term as people read it: until when it is hosted, or that it has no end.
    pub term: String,
    /// The term's last day (`YYYY-MM-DD`); `None` for a permanent or the root project.
    pub term_end: Option<String>,
    /// The registry's row id: a newer project has a larger one (the gallery's "newest" order).
    #[serde(skip)]
    pub order: i64,
}

/// The running projects, oldest first, for the front page's gallery and its API twin; their
/// terms in `lang`.
pub async fn gallery_items(
    c: &Control,
    lang: Lang,
) -> Result<Vec<GalleryItem>, super::refusal::Denied> {
    let mut items = Vec::new();
    for p in c.projects().await? {
        if p.state() != ProjectState::Running {
            continue;
        }
        let term_end = match (p.is_root, p.permanent, p.term_end) {
            (false, false, Some(end)) => Some(date(end).chars().take(10).collect::<String>()),
            _ => None,
        };
        let term = match (&term_end, p.is_root) {
            (Some(day), _) => i18n::t_with(lang, "gallery-until", &[("day", day)]),
            (None, true) => i18n::t(lang, "gallery-home"),
            (None, false) => i18n::t(lang, "gallery-no-end"),
        };
        items.push(GalleryItem {
            source_url: c.source_url(&p.slug).await?,
            href: href(c, &p),
            order: p.id,
            term,
            term_end,
            name: p.name,
            description: p.description,
            owner: p.owner,
        });
    }
    Ok(items)
}

pub async fn asset(Path(file): Path<String>) -> Response {
    match Assets::get(&file) {
        Some(content) => {
            let mime = match file.rsplit('.').next() {
                Some("css") => "text/css",
                Some("js") => "text/javascript",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                _ => "application/octet-stream",
            };
            ([(header::CONTENT_TYPE, mime)], content.data).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_utc() {
        assert_eq!(crate::portal::models::date(0), "1970-01-01 00:00 UTC");
        assert_eq!(
            crate::portal::models::date(1_764_000_000),
            "2025-11-24 16:00 UTC"
        );
    }
}
