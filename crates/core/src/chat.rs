//! Joining the club's chat. With `[club] discord_bot_token` and `discord_channel_id` set, a
//! signed-in member gets an invite made for them alone through Discord's create-invite endpoint
//! (`POST {discord_api}/channels/{id}/invites`: one use, a short life, unique), so the club's
//! standing link cannot leak; a member asking again within [`REUSE_WINDOW`] gets the same invite
//! back instead of a new one (one API call per member per window). Without a bot, the club's
//! configured link (`[portal] chat_invite_url`), as before.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use crate::control::{Control, ControlError};
use crate::notify::tls::{Roots, error_chain, http_client};
use clubhost_registry::User;

/// How long a made invite works (Discord's `max_age`, seconds).
pub const INVITE_MAX_AGE_SECS: u64 = 10 * 60;
/// A member asking again within this gets the invite made last time.
pub const REUSE_WINDOW: Duration = Duration::from_secs(60);

/// An invite into the club's chat, as the join page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatInvite {
    /// The address to open (`https://discord.gg/<code>`, or the club's configured link).
    pub url: String,
    /// Made for this member alone: one use, valid for `INVITE_MAX_AGE_SECS` from `made`.
    pub personal: bool,
}

/// The invites made per member (by account id) in this process, and the client that makes them.
#[derive(Default)]
pub struct Invites {
    /// Held while an invite is made, so one member's double click makes one invite.
    made: Mutex<HashMap<i64, (Instant, ChatInvite)>>,
    client: tokio::sync::OnceCell<reqwest::Client>,
}

/// What Discord answers: the invite's code (the rest is not needed).
#[derive(Deserialize)]
struct Created {
    code: String,
}

impl Control {
    /// Whether members get invites made for them (a Discord bot is configured).
    pub fn chat_invites_are_personal(&self) -> bool {
        let club = &self.config().club;
        club.discord_bot_token.is_some() && club.discord_channel_id.is_some()
    }

    /// The chat invite for `member`: made for them through the club's Discord bot (or the one
    /// made within the last [`REUSE_WINDOW`]), else the configured link; `None` when the club has
    /// neither. A Discord refusal or an unreachable Discord is `ControlError::Internal` (the
    /// token never appears in it).
    pub async fn chat_invite(&self, member: &User) -> Result<Option<ChatInvite>, ControlError> {
        let club = &self.config().club;
        let (Some(token), Some(channel)) = (&club.discord_bot_token, &club.discord_channel_id)
        else {
            return Ok(self
                .config()
                .portal
                .chat_invite_url
                .clone()
                .map(|url| ChatInvite {
                    url,
                    personal: false,
                }));
        };
        let mut made = self.chat.made.lock().await;
        made.retain(|_, (at, _)| at.elapsed() < REUSE_WINDOW);
        if let Some((_, invite)) = made.get(&member.id) {
            return Ok(Some(invite.clone()));
        }
        let client = self
            .chat
            .client
            .get_or_try_init(|| async { http_client(&Roots::default()) })
            .await
            .map_err(ControlError::Internal)?;
        let url = format!(
            "{}/channels/{channel}/invites",
            club.discord_api.trim_end_matches('/')
        );
        let fail = |why: String| {
            ControlError::Internal(format!("Discord did not make a chat invite: {why}"))
        };
        let res = client
            .post(&url)
            .header("Authorization", format!("Bot {token}"))
            .json(&json!({
                "max_age": INVITE_MAX_AGE_SECS,
                "max_uses": 1,
                "unique": true,
                "temporary": false,
            }))
            .send()
            .await
            .map_err(|e| fail(error_chain(&e.without_url())))?;
        if !res.status().is_success() {
            return Err(fail(format!("it answered {}", res.status())));
        }
        let created: Created = res
            .json()
            .await
            .map_err(|e| fail(error_chain(&e.without_url())))?;
        if created.code.is_empty()
            || !created
                .code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(fail("its answer held no usable invite code".into()));
        }
        let invite = ChatInvite {
            url: format!("https://discord.gg/{}", created.code),
            personal: true,
        };
        made.insert(member.id, (Instant::now(), invite.clone()));
        Ok(Some(invite))
    }
}
