//! Slack and Discord incoming webhooks: one JSON POST per note.
//!
//! This build carries no TLS stack (reqwest's rustls default needs aws-lc-rs, which needs cmake),
//! so webhook URLs must be `http://` — a local relay or a test receiver. An `https://` URL is
//! refused when the config is loaded, with a message that says so.

use serde_json::json;

use super::{Note, NotifyError, WebhookConfig, WebhookKind};

/// Accepts only `http://host…` URLs.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Err(format!(
            "{url:?}: https webhooks need TLS, which this build of clubhost leaves out; \
             point it at an http:// relay"
        ));
    }
    match url.strip_prefix("http://") {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(format!("{url:?} is not an http:// URL")),
    }
}

/// The JSON body each service expects: Slack reads `text`, Discord reads `content`.
pub fn payload(kind: WebhookKind, note: &Note) -> serde_json::Value {
    let text = format!("[clubhost] {}\n{}", note.subject, note.body);
    match kind {
        WebhookKind::Slack => json!({ "text": text }),
        WebhookKind::Discord => json!({ "content": text }),
    }
}

pub async fn post(
    client: &reqwest::Client,
    hook: &WebhookConfig,
    note: &Note,
) -> Result<(), NotifyError> {
    let fail = |reason: String| NotifyError::Webhook {
        url: hook.url.clone(),
        reason,
    };
    let res = client
        .post(&hook.url)
        .json(&payload(hook.kind, note))
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !res.status().is_success() {
        return Err(fail(format!("answered {}", res.status())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("http://127.0.0.1:9/hook").is_ok());
        let err = check_url("https://hooks.slack.com/x").unwrap_err();
        assert!(err.contains("TLS"), "{err}");
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("http://").is_err());
    }

    #[test]
    fn payload_fits_each_service() {
        let note = Note::admins("blog", "New request".into(), "blog by ana".into());
        assert!(payload(WebhookKind::Slack, &note)["text"].is_string());
        assert!(payload(WebhookKind::Discord, &note)["content"].is_string());
    }
}
