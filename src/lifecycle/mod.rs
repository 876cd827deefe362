//! Hosting terms: the clock, the rules that say what is due when (reminders, expiry, purge), the
//! scheduler that sleeps until the next deadline and acts, and per-member quotas.
//!
//! The rules ([`terms`], [`quotas`]) are pure functions of registry rows and a `now`, tested
//! without sleeping; the scheduler applies them through `control`, so every step is one audited
//! registry transition that is safe to repeat after a crash.

pub mod clock;
pub mod quotas;
pub mod scheduler;
pub mod terms;
