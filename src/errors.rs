//! The one mapping from the control plane's errors to HTTP: the admin API and the portal (pages
//! and JSON) both answer with [`status`] and [`public_message`], so a refusal means the same
//! status wherever it is asked.

use axum::http::StatusCode;
use clubhost_core::control::ControlError;
use clubhost_core::model::{ProjectState, RegistryError};

/// The status a control error answers with: the caller's fault is 4xx, Docker being away is 503,
/// and a fault of the server is 500.
pub fn status(e: &ControlError) -> StatusCode {
    match e {
        ControlError::Invalid(_) | ControlError::Stack(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ControlError::Forbidden(_) => StatusCode::FORBIDDEN,
        ControlError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
        ControlError::Registry(RegistryError::NotFound(_)) => StatusCode::NOT_FOUND,
        ControlError::Registry(
            RegistryError::Conflict(_) | RegistryError::InvalidTransition { .. },
        ) => StatusCode::CONFLICT,
        // A gateway subnet Docker or the host's routes refuse: shown, since the admin must fix
        // the config.
        ControlError::Docker(_) | ControlError::Subnet(_) => StatusCode::SERVICE_UNAVAILABLE,
        ControlError::Registry(_) | ControlError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What the caller is told. A server fault's details (database errors, paths) go to the log, and
/// the caller gets a pointer there.
pub fn public_message(e: &ControlError) -> String {
    if status(e) == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "internal error");
        "internal error; see the server log".into()
    } else {
        e.to_string()
    }
}

/// What a portal page says about a refusal, in the member's words rather than the lifecycle's:
/// a move the lifecycle forbids says what the project is now and what can no longer happen to it
/// ("“blog” is already running, so it can no longer be rejected.") instead of "cannot go from
/// running to rejected". Everything else is [`public_message`]. Each message is one whole
/// sentence with placeholders, so it can move into a language catalogue as it is.
pub fn page_message(e: &ControlError) -> String {
    let ControlError::Registry(RegistryError::InvalidTransition { slug, from, to }) = e else {
        return public_message(e);
    };
    let now = state_words(*from);
    match wanted_words(*to) {
        Some(wanted) => format!("“{slug}” is {now}, so it can no longer be {wanted}."),
        None => format!("“{slug}” is {now}, so this cannot be done to it now."),
    }
}

/// A project's state as a member would say it, after "is".
fn state_words(s: ProjectState) -> &'static str {
    match s {
        ProjectState::Requested => "waiting for review",
        ProjectState::ChangesRequested => "sent back to its member for changes",
        ProjectState::Approved => "approved and about to deploy",
        ProjectState::Deploying => "being deployed",
        ProjectState::Running => "already running",
        ProjectState::Failed => "failed (its last deploy did not succeed)",
        ProjectState::Stopped => "stopped",
        ProjectState::Expired => "expired",
        ProjectState::Rejected => "already rejected",
        ProjectState::Withdrawn => "withdrawn by its member",
        ProjectState::Purged => "expired and its data deleted",
    }
}

/// What was asked, after "can no longer be"; None where no short phrase fits.
fn wanted_words(s: ProjectState) -> Option<&'static str> {
    Some(match s {
        ProjectState::Approved => "approved",
        ProjectState::Rejected => "rejected",
        ProjectState::ChangesRequested => "sent back",
        ProjectState::Requested => "submitted again",
        ProjectState::Withdrawn => "withdrawn",
        ProjectState::Deploying => "deployed",
        ProjectState::Stopped => "stopped",
        ProjectState::Expired => "expired",
        ProjectState::Purged => "purged",
        ProjectState::Running | ProjectState::Failed => return None,
    })
}
