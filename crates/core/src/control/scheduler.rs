//! The term scheduler inside `clubhost serve`: does what is due, then sleeps until the next
//! deadline (a reminder, a term end, a grace end), or until a term changes, whichever is first.
//! No polling: between deadlines it wakes at most once an hour, as a guard against wall-clock
//! jumps.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::control::Control;
use clubhost_registry::clock;

/// The longest sleep; a guard, not a poll.
const MAX_SLEEP_SECS: i64 = 3600;

/// Runs until `stop` turns true.
pub async fn run(control: Arc<Control>, mut stop: watch::Receiver<bool>) {
    // The daily backups (`[backup] hour`) run beside the terms, on their own task.
    tokio::spawn(super::backup_schedule::run(control.clone(), stop.clone()));
    loop {
        let next = match control.run_due_terms().await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "term scheduler could not read the registry");
                Some(clock::now() + 60)
            }
        };
        let secs = next
            .map(|t| (t - clock::now()).clamp(0, MAX_SLEEP_SECS))
            .unwrap_or(MAX_SLEEP_SECS);
        tracing::debug!(sleep_secs = secs, "term scheduler sleeping");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(secs as u64)) => {}
            _ = control.terms_changed.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
