//! `[club]`: who the club is (name, intro, logo), the language its portal speaks by default, and
//! how a member gets into the club's chat (a Discord bot making one invite per member, so the
//! club's link cannot leak).

use serde::Deserialize;

/// `[club]`: the club's front page and chat.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClubConfig {
    /// Shown in the portal's header, the front page and e-mails.
    pub name: String,
    /// A few paragraphs of Markdown for the front page (rendered safely: no raw HTML).
    pub intro: String,
    /// Address of the club's logo (a URL or a path under the club's domain); `None` shows the
    /// name only.
    pub logo: Option<String>,
    /// The portal's language when the visitor's `Accept-Language` names none it speaks:
    /// `"en"` or `"ko"`.
    pub language: String,
    /// A Discord bot token allowed to create invites in `discord_channel_id`. With both set, a
    /// signed-in member gets a single-use invite made for them instead of `portal.chat_invite_url`.
    pub discord_bot_token: Option<String>,
    /// The Discord channel (its numeric id) invites are made for.
    pub discord_channel_id: Option<String>,
    /// Discord's API base; only a test points it at a stand-in.
    pub discord_api: String,
}

impl Default for ClubConfig {
    fn default() -> Self {
        ClubConfig {
            name: "clubhost".into(),
            intro: String::new(),
            logo: None,
            language: "en".into(),
            discord_bot_token: None,
            discord_channel_id: None,
            discord_api: "https://discord.com/api/v10".into(),
        }
    }
}

impl ClubConfig {
    /// Refuses settings that could not work, naming the key.
    pub(super) fn check(&self) -> Result<(), String> {
        if !matches!(self.language.as_str(), "en" | "ko") {
            return Err(format!(
                "key `club.language`: {:?} is not a language the portal speaks (\"en\" or \"ko\")",
                self.language
            ));
        }
        if self.discord_bot_token.is_some() != self.discord_channel_id.is_some() {
            return Err(
                "keys `club.discord_bot_token` and `club.discord_channel_id`: set both or neither"
                    .into(),
            );
        }
        Ok(())
    }
}
