//! Joining the club's chat. With `[club] discord_bot_token` and `discord_channel_id` set, a
//! signed-in member gets an invite made for them alone through Discord's create-invite endpoint
//! (`POST {discord_api}/channels/{id}/invites`: one use, a short life, unique), so the club's
//! standing link cannot leak; a member asking again within [`REUSE_WINDOW`] gets the same invite
//! back instead of a new one (one API call per member per window). Without a bot, the club's
//! configured link (`[portal] chat_invite_url`), as before. `Control::chat_invite` (in
//! `control/accounts.rs`) chooses; this module holds the invites made and the Discord call.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use crate::notify::tls::{Roots, error_chain, http_client};

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
pub(crate) struct Invites {
    /// Held while an invite is made, so one member's double click makes one invite.
    made: Mutex<HashMap<i64, (Instant, ChatInvite)>>,
    client: tokio::sync::OnceCell<reqwest::Client>,
}

/// What Discord answers: the invite's code (the rest is not needed).
#[derive(Deserialize)]
struct Created {
    code: String,
}

impl Invites {
    /// The invite for member `member_id`: the one made within the last [`REUSE_WINDOW`], else a
    /// new one from Discord (`api` is `[club] discord_api`). The error says why Discord made
    /// none; the token never appears in it.
    pub(crate) async fn discord(
        &self,
        member_id: i64,
        api: &str,
        token: &str,
        channel: &str,
    ) -> Result<ChatInvite, String> {
        let mut made = self.made.lock().await;
        made.retain(|_, (at, _)| at.elapsed() < REUSE_WINDOW);
        if let Some((_, invite)) = made.get(&member_id) {
            return Ok(invite.clone());
        }
        let client = self
            .client
            .get_or_try_init(|| async { http_client(&Roots::default()) })
            .await?;
        let url = format!("{}/channels/{channel}/invites", api.trim_end_matches('/'));
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
            .map_err(|e| error_chain(&e.without_url()))?;
        if !res.status().is_success() {
            return Err(format!("it answered {}", res.status()));
        }
        let created: Created = res
            .json()
            .await
            .map_err(|e| error_chain(&e.without_url()))?;
        let usable = !created.code.is_empty()
            && created
                .code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !usable {
            return Err("its answer held no usable invite code".into());
        }
        let invite = ChatInvite {
            url: format!("https://discord.gg/{}", created.code),
            personal: true,
        };
        made.insert(member_id, (Instant::now(), invite.clone()));
        Ok(invite)
    }
}
