//! The one mapping from the control plane's errors to HTTP: the admin API and the portal (pages
//! and JSON) both answer with [`status`] and [`public_message`], so a refusal means the same
//! status wherever it is asked.

use axum::http::StatusCode;
use clubhost_core::control::ControlError;
use clubhost_core::model::RegistryError;

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
