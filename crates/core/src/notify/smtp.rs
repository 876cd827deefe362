//! Email over SMTP through lettre: STARTTLS, TLS from the first byte, or plain for a local relay
//! (`notify.smtp.tls`), with rustls (ring) and the roots of [`super::tls`].

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::tls::{Roots, error_chain, install_provider};
use super::{Note, NotifyError, SmtpConfig, SmtpTls};

/// Accepts an address like `ana@club.example` or `Ana <ana@club.example>`.
pub(crate) fn check_address(text: &str) -> Result<(), String> {
    text.parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("{text:?} is not an email address: {e}"))
}

pub(crate) async fn send(
    config: &SmtpConfig,
    roots: &Roots,
    to: &str,
    note: &Note,
) -> Result<(), NotifyError> {
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
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
        .port(config.port)
        .timeout(Some(Duration::from_secs(10)));
    let mode = config.tls_mode();
    if mode != SmtpTls::None {
        install_provider();
        let mut params = TlsParameters::builder(config.host.clone());
        if let Some(extra) = roots.for_lettre().map_err(fail)? {
            params = params.add_root_certificate(extra);
        }
        let params = params.build_rustls().map_err(|e| fail(error_chain(&e)))?;
        builder = builder.tls(match mode {
            SmtpTls::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
    }
    builder
        .build()
        .send(message)
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    Ok(())
}
