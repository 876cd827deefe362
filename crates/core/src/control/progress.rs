//! Live deploy progress, per project: the steps of its latest deploy (kept, so someone who looks
//! in halfway, or after the end, sees them all) and a broadcast channel for the steps still to
//! come. The deploy path writes ([`Feeds::tell`]); the portal reads ([`Feeds::follow`]).
//!
//! In memory only: a restart forgets the steps; the registry keeps the outcome (state, failure
//! reason, audit log).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

use clubhost_deploy::Progress;
use clubhost_registry::now;

/// Room for steps a slow reader has not taken yet; a deploy of the largest stack allowed makes
/// far fewer. A reader that falls further behind is told it lagged.
const CHANNEL_ROOM: usize = 256;

/// One step as readers see it.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressEvent {
    /// Counts up across all deploys of the project since the server started, so a reader can
    /// tell a step it has seen from a new one.
    pub seq: u64,
    /// Unix seconds (the lifecycle clock).
    pub(crate) at: i64,
    /// The step for people: "network clubhost-blog created".
    pub text: String,
    /// The step as data (which one, and its details), flattened into the event when serialized.
    #[serde(flatten)]
    pub step: Progress,
}

impl ProgressEvent {
    /// Whether this is the deploy's last step (it is running, or it failed).
    pub fn is_last(&self) -> bool {
        self.step.is_last()
    }
}

/// One project's feed.
struct Feed {
    /// The steps of the latest deploy, from its `Started` on.
    latest: Vec<ProgressEvent>,
    sender: broadcast::Sender<ProgressEvent>,
    next_seq: u64,
}

/// What a reader gets: the latest deploy's steps so far, and the receiver for every step after
/// them (nothing is lost or repeated between the two: both are taken under one lock).
pub struct Following {
    /// The latest deploy's steps up to now, oldest first; empty before any deploy since the start.
    pub so_far: Vec<ProgressEvent>,
    /// Every step after `so_far`, as it happens.
    pub next: broadcast::Receiver<ProgressEvent>,
}

impl Following {
    /// Whether a deploy is under way (it started and has not reached its last step).
    pub fn deploying(&self) -> bool {
        self.so_far.last().is_some_and(|e| !e.is_last())
    }
}

/// Every project's deploy progress, by slug; one per control plane.
#[derive(Default)]
pub struct Feeds {
    feeds: Mutex<HashMap<String, Feed>>,
}

impl Feeds {
    fn with_feed<T>(&self, slug: &str, f: impl FnOnce(&mut Feed) -> T) -> T {
        let mut feeds = self.feeds.lock().expect("progress feeds poisoned");
        let feed = feeds.entry(slug.to_string()).or_insert_with(|| Feed {
            latest: Vec::new(),
            sender: broadcast::channel(CHANNEL_ROOM).0,
            next_seq: 1,
        });
        f(feed)
    }

    /// Records a step of `slug`'s deploy and hands it to every reader. `Started` begins a new
    /// list of steps.
    pub(crate) fn tell(&self, slug: &str, step: Progress) {
        self.with_feed(slug, |feed| {
            if matches!(step, Progress::Started { .. }) {
                feed.latest.clear();
            }
            let event = ProgressEvent {
                seq: feed.next_seq,
                at: now(),
                text: step.to_string(),
                step,
            };
            feed.next_seq += 1;
            feed.latest.push(event.clone());
            // No receivers is fine: nobody is watching.
            let _ = feed.sender.send(event);
        });
    }

    /// The latest deploy's steps and a receiver for what follows.
    pub fn follow(&self, slug: &str) -> Following {
        self.with_feed(slug, |feed| Following {
            so_far: feed.latest.clone(),
            next: feed.sender.subscribe(),
        })
    }

    #[cfg(test)]
    /// The latest deploy's steps so far.
    pub(crate) fn latest(&self, slug: &str) -> Vec<ProgressEvent> {
        let feeds = self.feeds.lock().expect("progress feeds poisoned");
        feeds
            .get(slug)
            .map(|f| f.latest.clone())
            .unwrap_or_default()
    }

    /// Drops a deleted project's feed; readers still attached see their channel close.
    pub(crate) fn forget(&self, slug: &str) {
        self.feeds
            .lock()
            .expect("progress feeds poisoned")
            .remove(slug);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_get_the_steps_so_far_then_the_rest() {
        let feeds = Feeds::default();
        feeds.tell(
            "blog",
            Progress::Started {
                deployment: 1,
                why: "approved".into(),
            },
        );
        let mut following = feeds.follow("blog");
        assert!(following.deploying());
        assert_eq!(following.so_far.len(), 1);
        feeds.tell("blog", Progress::Running);
        let next = following.next.try_recv().unwrap();
        assert!(next.is_last() && next.seq == 2);
        // A new deploy starts a new list; the sequence keeps counting.
        feeds.tell(
            "blog",
            Progress::Started {
                deployment: 2,
                why: "redeploy".into(),
            },
        );
        let latest = feeds.latest("blog");
        assert_eq!((latest.len(), latest[0].seq), (1, 3));
        assert!(feeds.latest("other").is_empty());
    }
}
