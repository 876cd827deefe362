//! The project lifecycle: every state a project can be in and the one table of moves between them.
//!
//! Architecture invariant: this is the only place that decides whether a state change is allowed.
//! The registry refuses any write that this table does not permit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Stored as its `as_str` text (sqlx's string enum: an unknown value in the column is a decode
/// error, never silently read as some other state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "snake_case")]
pub enum ProjectState {
    /// Submitted by a member, waiting for an admin.
    Requested,
    /// An admin sent the request back with a note (`review_note`); the member edits it and
    /// submits it again, or withdraws it.
    #[serde(rename = "changes_requested")]
    ChangesRequested,
    /// Approved; a deploy is about to start.
    Approved,
    /// Containers are being created; transient, a crash here is repaired at start-up.
    Deploying,
    /// Serving visitors.
    Running,
    /// The last deploy failed; `failure_reason` says why. Nothing of it runs.
    Failed,
    /// Taken down by an admin; can be deployed again.
    Stopped,
    /// The hosting term ended; volumes are kept, containers are gone.
    Expired,
    /// An admin said no.
    Rejected,
    /// The member took the request back.
    Withdrawn,
    /// The grace period after expiry ended: containers, networks and volumes are gone. The route
    /// still answers the "expired" page so the portfolio stays findable.
    Purged,
}

use ProjectState::*;

/// Every allowed move `(from, to)`. Read top to bottom it is the lifecycle:
/// requested → approved → deploying → running | failed; running → stopped | expired;
/// requested → rejected | withdrawn; requested ⇄ changes_requested (sent back with a note, then
/// resubmitted) and changes_requested → withdrawn; expired → purged after the grace period; and
/// the ways back into `deploying` (retry, redeploy, restore).
const TRANSITIONS: &[(ProjectState, ProjectState)] = &[
    (Requested, Approved),
    (Requested, Rejected),
    (Requested, Withdrawn),
    (Requested, ChangesRequested),
    (ChangesRequested, Requested),
    (ChangesRequested, Withdrawn),
    (Approved, Deploying),
    (Deploying, Running),
    (Deploying, Failed),
    (Running, Stopped),
    (Running, Expired),
    (Running, Deploying),
    (Failed, Deploying),
    (Failed, Expired),
    (Stopped, Deploying),
    (Stopped, Expired),
    (Expired, Deploying),
    (Expired, Purged),
];

impl ProjectState {
    /// Every state, for tables and catalogues that must name each one.
    pub const ALL: [ProjectState; 11] = [
        Requested,
        ChangesRequested,
        Approved,
        Deploying,
        Running,
        Failed,
        Stopped,
        Expired,
        Rejected,
        Withdrawn,
        Purged,
    ];

    /// The name stored in the database and shown to users (`changes_requested`).
    pub fn as_str(self) -> &'static str {
        match self {
            Requested => "requested",
            ChangesRequested => "changes_requested",
            Approved => "approved",
            Deploying => "deploying",
            Running => "running",
            Failed => "failed",
            Stopped => "stopped",
            Expired => "expired",
            Rejected => "rejected",
            Withdrawn => "withdrawn",
            Purged => "purged",
        }
    }

    pub(crate) fn can_become(self, to: ProjectState) -> bool {
        TRANSITIONS.contains(&(self, to))
    }

    /// States in which clubhost should have containers for the project.
    pub fn wants_containers(self) -> bool {
        matches!(self, Running | Deploying)
    }
}

impl fmt::Display for ProjectState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProjectState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProjectState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown project state {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_is_allowed() {
        assert!(Requested.can_become(Approved));
        assert!(Approved.can_become(Deploying));
        assert!(Deploying.can_become(Running));
        assert!(Running.can_become(Expired));
    }

    #[test]
    fn shortcuts_are_refused() {
        assert!(!Requested.can_become(Running));
        assert!(!Rejected.can_become(Approved));
        assert!(!Withdrawn.can_become(Deploying));
        assert!(!Expired.can_become(Running));
        assert!(!Purged.can_become(Deploying));
        assert!(!Running.can_become(Purged));
    }

    #[test]
    fn expiry_leads_to_purge_or_restore() {
        assert!(Expired.can_become(Purged));
        assert!(Expired.can_become(Deploying));
    }

    #[test]
    fn sent_back_requests_return_to_the_queue_or_are_withdrawn() {
        assert!(Requested.can_become(ChangesRequested));
        assert!(ChangesRequested.can_become(Requested));
        assert!(ChangesRequested.can_become(Withdrawn));
        assert!(!ChangesRequested.can_become(Approved));
        assert!(!ChangesRequested.can_become(Deploying));
        assert!(!Running.can_become(ChangesRequested));
    }

    #[test]
    fn names_round_trip() {
        for st in ProjectState::ALL {
            assert_eq!(st.as_str().parse::<ProjectState>().unwrap(), st);
            // serde and the database column spell it the same way.
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                serde_json::Value::String(st.as_str().into())
            );
        }
    }
}
