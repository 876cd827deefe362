//! Slack and Discord incoming webhooks: one JSON POST per note, over https (rustls, see
//! [`super::tls`]) or plain http for a local relay.

use serde_json::json;

use super::tls::error_chain;
use super::{Note, NotifyError, WebhookConfig, WebhookKind};

/// Accepts `https://host…` and `http://host…` URLs.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(format!("{url:?} is not an https:// (or http://) URL")),
    }
}

/// The JSON body each service expects: Slack reads `text`, Discord reads `content`.
pub(crate) fn payload(kind: WebhookKind, note: &Note) -> serde_json::Value {
    let text = format!("[clubhost] {}\n{}", note.subject, note.body);
    match kind {
        WebhookKind::Slack => json!({ "text": text }),
        WebhookKind::Discord => json!({ "content": text }),
    }
}

pub(crate) async fn post(
    client: &reqwest::Client,
    hook: &WebhookConfig,
    note: &Note,
) -> Result<(), NotifyError> {
    let fail = |reason: String| NotifyError::Webhook {
        url: without_path(&hook.url),
        reason,
    };
    let res = client
        .post(&hook.url)
        .json(&payload(hook.kind, note))
        .send()
        .await
        // reqwest's message names the whole URL, secret path included.
        .map_err(|e| fail(error_chain(&e.without_url())))?;
    if !res.status().is_success() {
        return Err(fail(format!("answered {}", res.status())));
    }
    Ok(())
}

/// `https://hooks.slack.com/…`: enough to tell which service failed, never the secret path.
fn without_path(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{host}/…")
        }
        None => "(invalid URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_show_the_secret_path() {
        let shown = without_path("https://hooks.slack.com/services/T000/B000/XXXXSECRET");
        assert_eq!(shown, "https://hooks.slack.com/…");
        assert!(!shown.contains("SECRET"));
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("http://127.0.0.1:9/hook").is_ok());
        assert!(check_url("https://hooks.slack.com/x").is_ok());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("http://").is_err());
        assert!(check_url("https:///x").is_err());
    }

    #[test]
    fn payload_fits_each_service() {
        let note = Note::admins("blog", "New request".into(), "blog by ana".into());
        assert!(payload(WebhookKind::Slack, &note)["text"].is_string());
        assert!(payload(WebhookKind::Discord, &note)["content"].is_string());
    }
}
