//! Notifications: who hears what, over which channel, without ever holding up a lifecycle step,
//! and without losing news to a crash or a restart.
//!
//! `control` passes the notes of an event to the registry method that records the event
//! ([`Registry::transition_noting`] and the like), which stores them in the outbox in the same
//! transaction and wakes the sender ([`sender`]). The sender delivers each note on its own task,
//! retrying with doubling backoff, records every destination it reaches (never sent twice), and
//! marks the note delivered, or given up and logged after `attempts` failed rounds. A server
//! resumes every note left undelivered when it starts ([`Notifier::resume`]).
//!
//! The owner hears approval, rejection, reminders, expiry, failure and renewal decisions; admins
//! hear new requests, renewal requests and failures.

mod config;
mod sender;
pub mod smtp;
pub mod tls;
pub(crate) mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use clubhost_registry::outbox::{Note, To};
pub use config::{Audience, NotifyConfig, SmtpConfig, SmtpTls, WebhookConfig, WebhookKind};

use clubhost_registry::{Registry, RegistryError};

/// Why a note could not be delivered or the notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A webhook post failed: the request did not go through, or the service answered non-2xx.
    #[error("webhook {url}: {reason}")]
    Webhook {
        /// The webhook's scheme and host; the path is left out because Slack's and Discord's
        /// webhook paths are the secret that lets anyone post.
        url: String,
        /// What went wrong: the connection error, or the status it answered.
        reason: String,
    },
    /// Sending an email failed: a bad address, the connection, TLS or the server's answer.
    #[error("email to {to}: {reason}")]
    Smtp {
        /// The recipient's address.
        to: String,
        /// What went wrong, from the mail library or the server.
        reason: String,
    },
    /// The channels cannot be set up (an unreadable `ca_file`, say).
    #[error("notifications: {0}")]
    Setup(String),
    /// Recording or reading the outbox failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The handle `control` holds; cheap to clone. Notes themselves go through the registry.
#[derive(Clone)]
pub struct Notifier {
    /// None when no channel is configured: then no note is stored either.
    sender: Option<Arc<sender::Sender>>,
}

impl Notifier {
    /// Starts the sender when any channel is configured. It picks up only notes stored from now
    /// on, until [`Notifier::resume`] (which only a server calls) hands it the older ones too.
    pub(crate) async fn start(
        config: NotifyConfig,
        registry: Registry,
    ) -> Result<Notifier, NotifyError> {
        if !config.any_channel() {
            return Ok(Notifier { sender: None });
        }
        let roots = tls::Roots::load(config.ca_file.as_deref()).map_err(NotifyError::Setup)?;
        let client = tls::http_client(&roots).map_err(NotifyError::Setup)?;
        let floor = registry.outbox_newest().await?;
        let token = format!(
            "{}-{:x}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let sender = Arc::new(sender::Sender {
            config,
            registry: registry.clone(),
            client,
            roots,
            token,
            floor: AtomicI64::new(floor),
        });
        tokio::spawn(sender.clone().run(registry.outbox_signal()));
        Ok(Notifier {
            sender: Some(sender),
        })
    }

    /// The notes to store with an event: all of them when a channel is configured, none
    /// otherwise (news nobody would hear is not kept).
    pub(crate) fn keep(&self, notes: Vec<Note>) -> Vec<Note> {
        if self.sender.is_some() {
            notes
        } else {
            Vec::new()
        }
    }

    /// At server start: takes over the notes of processes that died (a crash, a CLI that exited
    /// before its notes went out) and every note still undelivered, and starts sending them.
    /// Finished notes older than 30 days are forgotten.
    pub async fn resume(&self) -> Result<u64, NotifyError> {
        let Some(s) = &self.sender else {
            return Ok(0);
        };
        s.registry.prune_outbox(30 * 86_400).await?;
        let waiting = s.registry.release_note_claims(&s.token).await?;
        s.floor.store(0, Ordering::SeqCst);
        s.registry.outbox_signal().notify_one();
        if waiting > 0 {
            tracing::info!(waiting, "resuming undelivered notifications");
        }
        Ok(waiting)
    }

    /// Waits up to `limit` for the notes stored by this process to be delivered (or given up).
    /// The server never calls this; the CLI does before exiting when it ran the API in its own
    /// process. Notes still waiting then stay in the outbox for the server to send.
    pub async fn flush(&self, limit: Duration) {
        let Some(s) = &self.sender else { return };
        let after = s.floor.load(Ordering::SeqCst);
        let deadline = Instant::now() + limit;
        loop {
            match s.registry.unfinished_notes(after).await {
                Ok(0) => return,
                Ok(n) if Instant::now() >= deadline => {
                    tracing::warn!(
                        pending = n,
                        "exiting with notifications still being retried; the server sends them \
                         when it next starts"
                    );
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the notification outbox");
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
