//! The one clock every lifecycle rule reads: the system time plus an offset.
//!
//! The offset is zero in production. A server started with `CLUBHOST_TEST_CLOCK=1` lets the admin
//! API move it (`clubhost clock --advance-days N`), so integration tests can walk a project through
//! reminders, expiry and purge without sleeping. The offset is kept in `data_dir/test-clock-offset`
//! so a test can restart the server (or use the CLI without one) and keep its moved time. Unit tests pass `now` explicitly to the pure
//! functions in [`super::terms`] instead of touching this shared offset.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable that makes the clock settable through the admin API (tests only).
pub(crate) const TEST_CLOCK_ENV: &str = "CLUBHOST_TEST_CLOCK";

/// Seconds added to the system time; moved only by tests through [`advance`].
static OFFSET: AtomicI64 = AtomicI64::new(0);

/// Seconds since the Unix epoch, as the lifecycle sees them.
pub fn now() -> i64 {
    system_now() + OFFSET.load(Ordering::Relaxed)
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// True when this process was started with a settable clock.
pub fn settable() -> bool {
    std::env::var(TEST_CLOCK_ENV).is_ok_and(|v| v == "1")
}

/// Moves the clock forward by `secs` (never backward: terms only ever run out). Returns the new
/// time.
pub fn advance(secs: i64) -> i64 {
    OFFSET.fetch_add(secs.max(0), Ordering::Relaxed);
    now()
}

/// The current offset in seconds (0 in production).
pub fn offset() -> i64 {
    OFFSET.load(Ordering::Relaxed)
}

/// Sets the offset outright; used to carry a test clock across a server restart.
pub fn set_offset(secs: i64) {
    OFFSET.store(secs.max(0), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_follows_system_time() {
        let sys = system_now();
        // The offset is only moved by integration tests in their own process.
        assert!((now() - sys).abs() <= 1 || OFFSET.load(Ordering::Relaxed) != 0);
    }
}
