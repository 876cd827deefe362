//! Notifications: who hears what, over which channel, without ever holding up a lifecycle step.
//!
//! `control` hands a [`Note`] to [`Notifier::send`], which only pushes it into a channel. A
//! background task resolves the recipients (the owner's email, the admins' emails, the webhooks
//! for that audience) and delivers each on its own task, retrying with doubling backoff and
//! logging every failure. The owner hears approval, rejection, reminders, expiry and failure;
//! admins hear new requests, renewal requests and failures.

pub mod smtp;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::mpsc;

use crate::registry::Registry;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("webhook {url}: {reason}")]
    Webhook { url: String, reason: String },
    #[error("email to {to}: {reason}")]
    Smtp { to: String, reason: String },
}

/// `[notify]` in clubhost.toml. Nothing configured means nothing is sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Slack or Discord incoming webhooks.
    pub webhooks: Vec<WebhookConfig>,
    /// Email over SMTP, to members with an address on file.
    pub smtp: Option<SmtpConfig>,
    /// Extra addresses that hear what admins hear.
    pub admin_emails: Vec<String>,
    /// Tries per delivery before it is given up (and logged as lost).
    pub attempts: u32,
    /// Wait after the first failed try; doubles after each further one.
    #[serde(deserialize_with = "duration")]
    pub backoff: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhooks: Vec::new(),
            smtp: None,
            admin_emails: Vec::new(),
            attempts: 5,
            backoff: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    Slack,
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
    #[default]
    All,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub kind: WebhookKind,
    /// The incoming-webhook URL; http only (see [`webhook`]).
    pub url: String,
    #[serde(default)]
    pub audience: Audience,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender, like "clubhost <club@example.org>".
    pub from: String,
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
    /// Checks what serde cannot; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (i, hook) in self.webhooks.iter().enumerate() {
            webhook::check_url(&hook.url)
                .map_err(|e| format!("key `notify.webhooks[{i}].url`: {e}"))?;
        }
        if let Some(smtp) = &self.smtp {
            smtp::check_address(&smtp.from).map_err(|e| format!("key `notify.smtp.from`: {e}"))?;
        }
        for a in &self.admin_emails {
            smtp::check_address(a).map_err(|e| format!("key `notify.admin_emails`: {e}"))?;
        }
        if self.attempts == 0 {
            return Err("key `notify.attempts`: must be at least 1".into());
        }
        Ok(())
    }
}

/// Who a note is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum To {
    /// The member by this name.
    Owner(String),
    Admins,
}

/// One piece of news.
#[derive(Debug, Clone)]
pub struct Note {
    pub to: To,
    pub project: String,
    pub subject: String,
    pub body: String,
}

impl Note {
    pub fn owner(owner: &str, project: &str, subject: String, body: String) -> Note {
        Note {
            to: To::Owner(owner.to_string()),
            project: project.to_string(),
            subject,
            body,
        }
    }

    pub fn admins(project: &str, subject: String, body: String) -> Note {
        Note {
            to: To::Admins,
            project: project.to_string(),
            subject,
            body,
        }
    }
}

/// The sending end; cheap to clone. Sending never waits.
#[derive(Clone)]
pub struct Notifier {
    /// None when no channel is configured.
    tx: Option<mpsc::UnboundedSender<Note>>,
    /// Notes queued whose deliveries have not all finished; lets a short-lived CLI process wait
    /// for them before it exits.
    pending: Arc<AtomicUsize>,
}

impl Notifier {
    /// Starts the delivery task when any channel is configured.
    pub fn start(config: NotifyConfig, registry: Registry) -> Notifier {
        let pending = Arc::new(AtomicUsize::new(0));
        if config.webhooks.is_empty() && config.smtp.is_none() {
            return Notifier { tx: None, pending };
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(config, registry, rx, pending.clone()));
        Notifier {
            tx: Some(tx),
            pending,
        }
    }

    /// Queues a note; returns at once whatever happens to its delivery.
    pub fn send(&self, note: Note) {
        let Some(tx) = &self.tx else { return };
        self.pending.fetch_add(1, Ordering::SeqCst);
        if tx.send(note).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("notification task has stopped; note dropped");
        }
    }

    /// Waits up to `limit` for queued notes to be delivered (or given up). The server never
    /// calls this; the CLI does before exiting when it ran the API in its own process.
    pub async fn flush(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.pending.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                tracing::warn!(
                    pending = self.pending.load(Ordering::SeqCst),
                    "exiting with notifications still being retried; they are lost"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One delivery to one place.
#[derive(Debug, Clone)]
enum Delivery {
    Webhook(WebhookConfig),
    Email(String),
}

async fn dispatch(
    config: NotifyConfig,
    registry: Registry,
    mut rx: mpsc::UnboundedReceiver<Note>,
    pending: Arc<AtomicUsize>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    while let Some(note) = rx.recv().await {
        // Each note on its own task: a slow retry never holds up the next note.
        let (config, registry, client, pending) = (
            config.clone(),
            registry.clone(),
            client.clone(),
            pending.clone(),
        );
        tokio::spawn(async move {
            let deliveries = recipients(&config, &registry, &note)
                .await
                .into_iter()
                .map(|d| deliver(&config, &client, d, &note));
            futures_util::future::join_all(deliveries).await;
            pending.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn recipients(config: &NotifyConfig, registry: &Registry, note: &Note) -> Vec<Delivery> {
    let wanted = |a: Audience| match note.to {
        To::Owner(_) => a != Audience::Admins,
        To::Admins => a != Audience::Members,
    };
    let mut out: Vec<Delivery> = config
        .webhooks
        .iter()
        .filter(|h| wanted(h.audience))
        .cloned()
        .map(Delivery::Webhook)
        .collect();
    if config.smtp.is_some() {
        let emails = match &note.to {
            To::Owner(name) => registry
                .user_email(name)
                .await
                .map(|e| e.into_iter().collect::<Vec<_>>()),
            To::Admins => registry.admin_emails().await.map(|mut e| {
                e.extend(config.admin_emails.iter().cloned());
                e.sort();
                e.dedup();
                e
            }),
        };
        match emails {
            Ok(list) => out.extend(list.into_iter().map(Delivery::Email)),
            Err(e) => tracing::warn!(error = %e, "cannot look up email recipients"),
        }
    }
    out
}

/// Tries one delivery up to `attempts` times with doubling waits; a loss is logged, never raised.
async fn deliver(config: &NotifyConfig, client: &reqwest::Client, delivery: Delivery, note: &Note) {
    let mut wait = config.backoff;
    for attempt in 1..=config.attempts {
        let result = match &delivery {
            Delivery::Webhook(hook) => webhook::post(client, hook, note).await,
            Delivery::Email(to) => match &config.smtp {
                Some(smtp) => smtp::send(smtp, to, note).await,
                None => return,
            },
        };
        match result {
            Ok(()) => {
                tracing::debug!(project = %note.project, subject = %note.subject, "notification sent");
                return;
            }
            Err(e) if attempt < config.attempts => {
                tracing::warn!(error = %e, attempt, retry_in = ?wait, "notification failed; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            Err(e) => {
                tracing::error!(error = %e, attempts = config.attempts, subject = %note.subject,
                    "notification lost after every retry");
            }
        }
    }
}
