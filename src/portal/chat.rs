//! "Join the chat" for signed-in members: the club's invite link, or, with a Discord bot set in
//! `[club]`, a button that makes an invite for this member alone (single use, short-lived;
//! `clubhost_core::chat`). The invite is made on a POST with the form's CSRF token, never on a
//! GET, so a link preview or a prefetch cannot spend one.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use super::auth;
use super::csrf::{self, CsrfOnly};
use super::pages::Nav;
use super::refusal::PageResult;
use super::session::Viewer;
use clubhost_core::chat::{ChatInvite, INVITE_MAX_AGE_SECS};
use clubhost_core::control::Control;

#[derive(Template, WebTemplate)]
#[template(path = "chat.html")]
pub struct ChatPage {
    pub nav: Nav,
    /// Invites are made per member: show the button (and `invite` once made).
    pub personal: bool,
    pub invite: Option<ChatInvite>,
    /// How long a made invite works, in minutes.
    pub minutes: u64,
    /// Why no invite could be made just now.
    pub error: Option<String>,
}

fn page(v: &Viewer, c: &Control, invite: Option<ChatInvite>, error: Option<String>) -> ChatPage {
    ChatPage {
        nav: Nav::of(v),
        personal: c.chat_invites_are_personal(),
        invite,
        minutes: INVITE_MAX_AGE_SECS / 60,
        error,
    }
}

/// The page: the club's link, or the button that makes a personal invite.
pub async fn join_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    let s = auth::member(&v)?;
    let invite = if c.chat_invites_are_personal() {
        None
    } else {
        c.chat_invite(&s.user).await?
    };
    Ok(page(&v, &c, invite, None).into_response())
}

/// Makes (or, within a minute of the last, shows again) this member's personal invite.
pub async fn join_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> PageResult {
    let s = auth::member(&v)?;
    csrf::check(&v, &f.csrf)?;
    match c.chat_invite(&s.user).await {
        Ok(invite) => Ok(page(&v, &c, invite, None).into_response()),
        Err(e) => {
            tracing::warn!(error = %e, member = %s.user.name, "no chat invite");
            let error =
                "The invite could not be made just now. Try again in a minute, or ask an admin.";
            Ok((
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                page(&v, &c, None, Some(error.into())),
            )
                .into_response())
        }
    }
}
