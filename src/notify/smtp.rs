//! Email over plain SMTP through lettre (no TLS in this build: a local relay or the club's own
//! mail server on a trusted network).

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Note, NotifyError, SmtpConfig};

/// Accepts an address like `ana@club.example` or `Ana <ana@club.example>`.
pub fn check_address(text: &str) -> Result<(), String> {
    text.parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("{text:?} is not an email address: {e}"))
}

pub async fn send(config: &SmtpConfig, to: &str, note: &Note) -> Result<(), NotifyError> {
    let fail = |reason: String| NotifyError::Smtp {
        to: to.to_string(),
        reason,
    };
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|e| fail(format!("from: {e}")))?;
    let rcpt: Mailbox = to.parse().map_err(|e| fail(format!("to: {e}")))?;
    let message = Message::builder()
        .from(from)
        .to(rcpt)
        .subject(format!("[clubhost] {}", note.subject))
        .header(ContentType::TEXT_PLAIN)
        .body(note.body.clone())
        .map_err(|e| fail(e.to_string()))?;
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
        .port(config.port)
        .timeout(Some(Duration::from_secs(10)))
        .build();
    mailer
        .send(message)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(())
}
