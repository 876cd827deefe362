//! Hosting terms: the rules that say what is due when (reminders, expiry, purge) and per-member
//! quotas.
//!
//! The rules ([`terms`], [`quotas`]) are pure functions of registry rows and a `now`, tested
//! without sleeping. The clock they read is `clubhost_registry::clock`; the scheduler that applies
//! them lives in `control::scheduler`, so this module never calls `control` (no cycle) and every
//! step is one audited registry transition that is safe to repeat after a crash.

pub mod quotas;
pub mod terms;
