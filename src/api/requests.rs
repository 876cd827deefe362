//! The admin API's request bodies, one type each, shared by the server (which reads them) and the
//! CLI (which sends them), so the two cannot disagree about a field's name or type. The project
//! operations' own types (`Submission`, `Resubmission`, `RenewalRequest`) come from
//! `clubhost_core::control`.

use serde::{Deserialize, Serialize};

/// `POST /api/users`: `clubhost user add`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewUser {
    pub name: String,
    #[serde(default)]
    pub admin: bool,
    /// Where notifications for this member go.
    #[serde(default)]
    pub email: Option<String>,
}

/// `POST /api/users/{name}/password`: `clubhost user passwd`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewPassword {
    pub password: String,
}

/// `POST /api/projects/{slug}/{action}` and `POST /api/renewals/{id}/{verdict}`. Every field is
/// optional, and so is the body: an empty one means no reason given.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ActionBody {
    #[serde(default)]
    pub reason: String,
    /// What the member should change (`send-back`).
    #[serde(default)]
    pub note: String,
    /// A new term for `restore`.
    #[serde(default)]
    pub days: Option<u32>,
}

/// `POST /api/gc`: `clubhost gc`.
#[derive(Debug, Serialize, Deserialize)]
pub struct GcRequest {
    /// Remove what was found (otherwise only list it).
    #[serde(default)]
    pub apply: bool,
    /// Also prune images no project needs.
    #[serde(default)]
    pub images: bool,
}

/// `POST /api/clock`: moves the test clock forward (servers with a settable clock only).
#[derive(Debug, Serialize, Deserialize)]
pub struct ClockRequest {
    pub advance_secs: i64,
}
