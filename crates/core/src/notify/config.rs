//! `[notify]` in clubhost.toml: the channels (webhooks, SMTP), extra trusted roots, and how hard
//! a delivery is tried.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{smtp, tls, webhook};

/// `[notify]` in clubhost.toml. Nothing configured means nothing is sent (or stored).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Slack or Discord incoming webhooks.
    pub webhooks: Vec<WebhookConfig>,
    /// Email over SMTP, to members with an address on file.
    pub(crate) smtp: Option<SmtpConfig>,
    /// Extra addresses that hear what admins hear.
    pub(crate) admin_emails: Vec<String>,
    /// A PEM file of extra trusted root certificates (the club's own CA), trusted beside the
    /// system's for https webhooks and SMTP over TLS. Relative paths are from the working
    /// directory, like `data_dir`.
    pub(crate) ca_file: Option<PathBuf>,
    /// Failed rounds before a note is given up (and logged as lost); counted across restarts.
    pub(crate) attempts: u32,
    /// Wait after the first failed round; doubles after each further one.
    #[serde(deserialize_with = "duration")]
    pub(crate) backoff: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhooks: Vec::new(),
            smtp: None,
            admin_emails: Vec::new(),
            ca_file: None,
            attempts: 5,
            backoff: Duration::from_secs(2),
        }
    }
}

/// Which chat service a webhook posts to; each wants its own message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// A Slack incoming webhook.
    Slack,
    /// A Discord channel webhook.
    Discord,
}

/// Who a webhook's channel is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    /// Admin news only (new requests, failures).
    Admins,
    /// Member news only (approvals, reminders, expiry…).
    Members,
    /// Both admin and member news (the default).
    #[default]
    All,
}

/// One `[[notify.webhooks]]` entry: a chat channel notes are posted to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Which service's message format to post in.
    pub kind: WebhookKind,
    /// The incoming-webhook URL, `https://` (or `http://` for a local relay).
    pub url: String,
    #[serde(default)]
    /// Whose news the channel gets; all of it by default.
    pub audience: Audience,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection, upgraded with STARTTLS (required: no fallback to plain). Port 587.
    Starttls,
    /// TLS from the first byte ("SMTPS"). Port 465.
    Tls,
    /// No encryption: a relay on this host or a trusted network.
    None,
}

/// `[notify.smtp]`: the mail server notes are emailed through, to owners and admins with an
/// address on file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub(crate) host: String,
    #[serde(default = "default_smtp_port")]
    pub(crate) port: u16,
    /// The sender, like "clubhost <club@example.org>".
    pub(crate) from: String,
    /// Unset: `tls` on port 465, `starttls` on 587, `none` on any other port (a local relay).
    #[serde(default)]
    pub(crate) tls: Option<SmtpTls>,
    /// For servers that want a login (AUTH PLAIN/LOGIN); only ever sent over TLS.
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
}

impl SmtpConfig {
    /// The protection in effect: the configured one, or the port's usual one.
    pub(crate) fn tls_mode(&self) -> SmtpTls {
        self.tls.unwrap_or(match self.port {
            465 => SmtpTls::Tls,
            587 => SmtpTls::Starttls,
            _ => SmtpTls::None,
        })
    }
}

fn default_smtp_port() -> u16 {
    25
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("{text:?} is not a duration like \"2s\": {e}"))
    })
}

impl NotifyConfig {
    /// True when any channel is configured.
    pub(crate) fn any_channel(&self) -> bool {
        !self.webhooks.is_empty() || self.smtp.is_some()
    }

    /// Checks what serde cannot; the message names the key.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (i, hook) in self.webhooks.iter().enumerate() {
            webhook::check_url(&hook.url)
                .map_err(|e| format!("key `notify.webhooks[{i}].url`: {e}"))?;
        }
        if let Some(smtp) = &self.smtp {
            smtp::check_address(&smtp.from).map_err(|e| format!("key `notify.smtp.from`: {e}"))?;
            if smtp.username.is_some() != smtp.password.is_some() {
                return Err(
                    "keys `notify.smtp.username` and `notify.smtp.password`: give both or neither"
                        .into(),
                );
            }
            if smtp.username.is_some() && smtp.tls_mode() == SmtpTls::None {
                return Err(
                    "key `notify.smtp.username`: a login is only sent over TLS; set \
                     `notify.smtp.tls` to \"starttls\" or \"tls\""
                        .into(),
                );
            }
        }
        for a in &self.admin_emails {
            smtp::check_address(a).map_err(|e| format!("key `notify.admin_emails`: {e}"))?;
        }
        if let Some(path) = &self.ca_file {
            tls::Roots::load(Some(path)).map_err(|e| format!("key `notify.ca_file`: {e}"))?;
        }
        if self.attempts == 0 {
            return Err("key `notify.attempts`: must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(port: u16, tls: Option<SmtpTls>) -> SmtpConfig {
        SmtpConfig {
            host: "mail.example".into(),
            port,
            from: "club@example.org".into(),
            tls,
            username: None,
            password: None,
        }
    }

    #[test]
    fn smtp_protection_follows_the_port_unless_set() {
        assert_eq!(smtp(465, None).tls_mode(), SmtpTls::Tls);
        assert_eq!(smtp(587, None).tls_mode(), SmtpTls::Starttls);
        assert_eq!(smtp(25, None).tls_mode(), SmtpTls::None);
        assert_eq!(
            smtp(2525, Some(SmtpTls::Starttls)).tls_mode(),
            SmtpTls::Starttls
        );
    }

    #[test]
    fn logins_need_tls_and_a_ca_file_must_hold_certificates() {
        let mut c = NotifyConfig {
            smtp: Some(smtp(25, None)),
            ..Default::default()
        };
        c.smtp.as_mut().unwrap().username = Some("club".into());
        assert!(c.validate().unwrap_err().contains("password"));
        c.smtp.as_mut().unwrap().password = Some("secret".into());
        assert!(c.validate().unwrap_err().contains("only sent over TLS"));
        c.smtp.as_mut().unwrap().tls = Some(SmtpTls::Starttls);
        assert!(c.validate().is_ok());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate").unwrap();
        c.ca_file = Some(file);
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("notify.ca_file") && err.contains("no certificate"),
            "{err}"
        );
        c.ca_file = Some(dir.path().join("missing.pem"));
        assert!(c.validate().unwrap_err().contains("cannot read"));
    }
}
