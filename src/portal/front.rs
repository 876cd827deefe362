//! The club's front door: its name, logo and intro (`[club]`), the gallery of what it hosts
//! (sorted newest first, oldest first or by name, filtered by member, all with plain links so it
//! works without JavaScript) and how to join (sign-up, the chat invite). Served at `/` when the
//! club has no root project (the proxy hands that one path to the portal), at the portal's root to
//! everyone but admins (who get the dashboard there), and at `<path>club` to anyone.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::markdown;
use super::pages::{GalleryItem, Nav, gallery_items};
use super::refusal::PageResult;
use super::session::Viewer;
use clubhost_core::control::Control;

/// The gallery's order and filter, from the query string; anything unknown is the default.
#[derive(Debug, Default, Deserialize)]
pub struct GalleryQuery {
    /// `newest` (default), `oldest` or `name`.
    #[serde(default)]
    pub sort: Option<String>,
    /// Only this member's projects.
    #[serde(default)]
    pub member: Option<String>,
}

/// How the gallery can be ordered: (query value, label).
const SORTS: [(&str, &str); 3] = [
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("name", "By name"),
];

/// One link of the gallery's sort or filter choices.
pub struct Choice {
    pub label: String,
    pub href: String,
    /// The choice the page shows now (marked `aria-current`).
    pub current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "front.html")]
pub struct FrontPage {
    pub nav: Nav,
    pub name: String,
    pub logo: Option<String>,
    /// The intro, already safe HTML (`markdown::to_safe_html`).
    pub intro: String,
    pub items: Vec<GalleryItem>,
    pub sorts: Vec<Choice>,
    pub members: Vec<Choice>,
    /// The member the gallery is filtered to, if any.
    pub member: Option<String>,
    pub signed_in: bool,
    pub needs_invite: bool,
    /// The club has a chat to join (an invite link or a Discord bot).
    pub has_chat: bool,
}

/// The gallery's items in the order and filter asked for, with the links to the other choices.
/// `here` is the page's own address (the links keep to it).
pub fn arrange(
    mut items: Vec<GalleryItem>,
    q: &GalleryQuery,
    here: &str,
) -> (Vec<GalleryItem>, Vec<Choice>, Vec<Choice>, Option<String>) {
    let sort = SORTS
        .iter()
        .map(|(key, _)| *key)
        .find(|key| q.sort.as_deref() == Some(key))
        .unwrap_or("newest");
    let mut owners: Vec<String> = items.iter().map(|i| i.owner.clone()).collect();
    owners.sort_by_key(|o| o.to_lowercase());
    owners.dedup();
    // A member with nothing running filters to nothing: say so rather than ignore the filter.
    let member = q.member.clone().filter(|m| !m.is_empty());
    if let Some(m) = &member {
        items.retain(|i| &i.owner == m);
    }
    match sort {
        "oldest" => items.sort_by_key(|i| i.order),
        "name" => items.sort_by_key(|i| i.name.to_lowercase()),
        _ => items.sort_by_key(|i| std::cmp::Reverse(i.order)),
    }
    // User names are [A-Za-z0-9._-] (accounts::check_name): nothing to escape in a query.
    let link = |sort: &str, member: Option<&str>| match member {
        Some(m) => format!("{here}?sort={sort}&member={m}#gallery"),
        None => format!("{here}?sort={sort}#gallery"),
    };
    let sorts = SORTS
        .iter()
        .map(|(key, label)| Choice {
            label: (*label).to_string(),
            href: link(key, member.as_deref()),
            current: *key == sort,
        })
        .collect();
    let mut members = vec![Choice {
        label: "All members".into(),
        href: link(sort, None),
        current: member.is_none(),
    }];
    members.extend(owners.into_iter().map(|o| Choice {
        href: link(sort, Some(&o)),
        current: member.as_deref() == Some(o.as_str()),
        label: o,
    }));
    (items, sorts, members, member)
}

/// The front page for `v`, its gallery links pointing at `here`.
pub async fn page(v: &Viewer, c: &Control, q: &GalleryQuery, here: &str) -> PageResult {
    let club = &c.config().club;
    let (items, sorts, members, member) = arrange(gallery_items(c, v.lang).await?, q, here);
    let name = club.name.clone();
    Ok(FrontPage {
        nav: Nav::of(v),
        logo: club.logo.clone().filter(|l| !l.trim().is_empty()),
        intro: markdown::to_safe_html(&club.intro),
        items,
        sorts,
        members,
        member,
        name,
        signed_in: v.session.is_some(),
        needs_invite: c.config().portal.invite_code.is_some(),
        has_chat: c.config().portal.chat_invite_url.is_some() || club.discord_bot_token.is_some(),
    }
    .into_response())
}

/// `/` on the club's host when no root project takes it.
pub async fn front_door(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Query(q): Query<GalleryQuery>,
) -> PageResult {
    page(&v, &c, &q, "/").await
}

/// `<path>club`: the front page for anyone, admins included.
pub async fn club_page(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Query(q): Query<GalleryQuery>,
) -> PageResult {
    let here = v.link("/club");
    page(&v, &c, &q, &here).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, owner: &str, order: i64) -> GalleryItem {
        GalleryItem {
            name: name.into(),
            description: String::new(),
            owner: owner.into(),
            href: format!("/{name}/"),
            source_url: String::new(),
            term: String::new(),
            term_end: None,
            order,
        }
    }

    fn names(items: &[GalleryItem]) -> Vec<&str> {
        items.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn sorts_and_filters_with_plain_links() {
        let all = || vec![item("b", "ana", 1), item("a", "bo", 2), item("c", "ana", 3)];
        let q = |sort: Option<&str>, member: Option<&str>| GalleryQuery {
            sort: sort.map(Into::into),
            member: member.map(Into::into),
        };
        let (items, sorts, members, _) = arrange(all(), &q(None, None), "/");
        assert_eq!(names(&items), ["c", "a", "b"], "newest first by default");
        assert!(sorts[0].current && !sorts[1].current);
        assert_eq!(sorts[2].href, "/?sort=name#gallery");
        assert_eq!(
            members.iter().map(|m| m.label.as_str()).collect::<Vec<_>>(),
            ["All members", "ana", "bo"]
        );
        let (items, ..) = arrange(all(), &q(Some("oldest"), None), "/");
        assert_eq!(names(&items), ["b", "a", "c"]);
        let (items, ..) = arrange(all(), &q(Some("name"), None), "/");
        assert_eq!(names(&items), ["a", "b", "c"]);
        let (items, sorts, members, member) =
            arrange(all(), &q(Some("name"), Some("ana")), "/portal/club");
        assert_eq!(names(&items), ["b", "c"]);
        assert_eq!(member.as_deref(), Some("ana"));
        assert_eq!(sorts[0].href, "/portal/club?sort=newest&member=ana#gallery");
        assert!(members[1].current && !members[0].current);
        // An unknown order is the default, not an error.
        let (items, ..) = arrange(all(), &q(Some("bogus"), None), "/");
        assert_eq!(names(&items), ["c", "a", "b"]);
    }
}
