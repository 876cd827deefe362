//! The sender: takes notes from the outbox and delivers them.
//!
//! One task waits for the registry's signal (notes committed) and claims every waiting note; each
//! claimed note gets its own task, so a slow retry never holds up the next note. A round resolves
//! the recipients (webhooks for the audience, the owner's or the admins' addresses), sends to every
//! destination not yet reached, and records each success at once, so a later round, or a resumed
//! note after a restart, never sends to it again. A failed round waits (doubling from
//! `notify.backoff`) and tries again, until `notify.attempts` rounds have failed: then the note is
//! given up and logged as lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use super::tls::Roots;
use super::{Audience, Note, NotifyConfig, To, WebhookConfig, smtp, webhook};
use clubhost_registry::Registry;
use clubhost_registry::outbox::Pending;

/// The longest wait between two rounds, however many have failed.
const MAX_WAIT: Duration = Duration::from_secs(3600);

pub(super) struct Sender {
    pub(super) config: NotifyConfig,
    pub(super) registry: Registry,
    pub(super) client: reqwest::Client,
    pub(super) roots: Roots,
    /// This process's claim on the notes it sends (random per process).
    pub(super) token: String,
    /// Only notes with a larger id are picked up: the newest id at start for a CLI process (so it
    /// sends only its own news), 0 once a server has resumed.
    pub(super) floor: AtomicI64,
}

/// One delivery to one place.
#[derive(Debug, Clone)]
enum Destination {
    Webhook(WebhookConfig),
    Email(String),
}

impl Destination {
    /// How the outbox remembers it was reached.
    fn key(&self) -> String {
        match self {
            Destination::Webhook(h) => h.url.clone(),
            Destination::Email(to) => format!("mailto:{to}"),
        }
    }
}

impl Sender {
    /// Claims and starts every waiting note, then sleeps until the registry signals new ones.
    pub(super) async fn run(self: Arc<Self>, wake: Arc<Notify>) {
        loop {
            self.pick_up().await;
            wake.notified().await;
        }
    }

    async fn pick_up(self: &Arc<Self>) {
        let after = self.floor.load(Ordering::SeqCst);
        let waiting = match self.registry.pending_notes(after).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the notification outbox");
                return;
            }
        };
        for pending in waiting {
            match self.registry.claim_note(pending.id, &self.token).await {
                Ok(true) => {
                    tokio::spawn(self.clone().deliver(pending));
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot claim a notification"),
            }
        }
    }

    /// Rounds until every destination is reached or the note is given up; a loss is logged,
    /// never raised.
    async fn deliver(self: Arc<Self>, mut p: Pending) {
        loop {
            let (destinations, mut errors) = self.recipients(&p.note).await;
            let (me, note) = (&*self, &p.note);
            let todo = destinations
                .into_iter()
                .filter(|d| !p.sent_to.contains(&d.key()));
            let sends = todo.map(|d| async move {
                let result = match &d {
                    Destination::Webhook(hook) => webhook::post(&me.client, hook, note).await,
                    Destination::Email(to) => match &me.config.smtp {
                        Some(cfg) => smtp::send(cfg, &me.roots, to, note).await,
                        None => Ok(()),
                    },
                };
                (d.key(), result)
            });
            for (key, result) in futures_util::future::join_all(sends).await {
                match result {
                    Ok(()) => {
                        if let Err(e) = self.registry.note_sent_to(p.id, &key).await {
                            tracing::warn!(error = %e, "cannot record a delivered notification");
                        }
                        p.sent_to.push(key);
                    }
                    Err(e) => errors.push(e.to_string()),
                }
            }
            if errors.is_empty() {
                if let Err(e) = self.registry.note_delivered(p.id).await {
                    tracing::warn!(error = %e, "cannot mark a notification delivered");
                }
                tracing::debug!(project = %p.note.project, subject = %p.note.subject,
                    "notification sent");
                return;
            }
            p.attempts = p.attempts.saturating_add(1);
            let give_up = p.attempts >= self.config.attempts;
            if let Err(e) = self
                .registry
                .note_failed(p.id, p.attempts, &errors.join("; "), give_up)
                .await
            {
                tracing::warn!(error = %e, "cannot record a failed notification");
            }
            if give_up {
                for e in &errors {
                    tracing::error!(error = %e, attempts = p.attempts, subject = %p.note.subject,
                        "notification lost after every retry");
                }
                return;
            }
            let wait = backoff(self.config.backoff, p.attempts);
            for e in &errors {
                tracing::warn!(error = %e, attempt = p.attempts, retry_in = ?wait,
                    "notification failed; retrying");
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Where a note goes, and why some of it cannot be resolved now (a database error: the round
    /// then counts as failed, so the emails are tried again later instead of silently dropped).
    async fn recipients(&self, note: &Note) -> (Vec<Destination>, Vec<String>) {
        let wanted = |a: Audience| match note.to {
            To::Owner(_) => a != Audience::Admins,
            To::Admins => a != Audience::Members,
        };
        let mut out: Vec<Destination> = self
            .config
            .webhooks
            .iter()
            .filter(|h| wanted(h.audience))
            .cloned()
            .map(Destination::Webhook)
            .collect();
        let mut errors = Vec::new();
        if self.config.smtp.is_some() {
            let emails = match &note.to {
                To::Owner(name) => self
                    .registry
                    .user_email(name)
                    .await
                    .map(|e| e.into_iter().collect::<Vec<_>>()),
                To::Admins => self.registry.admin_emails().await.map(|mut e| {
                    e.extend(self.config.admin_emails.iter().cloned());
                    e.sort();
                    e.dedup();
                    e
                }),
            };
            match emails {
                Ok(list) => out.extend(list.into_iter().map(Destination::Email)),
                Err(e) => errors.push(format!("cannot look up email recipients: {e}")),
            }
        }
        (out, errors)
    }
}

/// The wait after `failed` rounds: `first`, doubled per further round, at most [`MAX_WAIT`].
fn backoff(first: Duration, failed: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failed.saturating_sub(1))
        .unwrap_or(u32::MAX);
    first.saturating_mul(factor).min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_an_hour() {
        let s = Duration::from_secs(2);
        assert_eq!(backoff(s, 1), s);
        assert_eq!(backoff(s, 3), Duration::from_secs(8));
        assert_eq!(backoff(s, 40), MAX_WAIT);
    }
}
