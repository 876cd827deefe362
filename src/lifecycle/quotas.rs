//! Per-member quotas, checked when a project is submitted and again when it is approved (the
//! member may have started other projects in between). The message says which limit and by how
//! much it would be exceeded.
//!
//! Today the limit is the number of projects a member runs at once. Memory and CPU totals need
//! per-project limits from the stack policy, which the stack does not declare yet.

/// Refuses a project that would take `owner` over `limit` running projects, given `others` of
/// theirs already running or about to. A limit of 0 means none.
pub fn check_running(owner: &str, others: i64, limit: u32) -> Result<(), String> {
    let would = others + 1;
    if limit == 0 || would <= i64::from(limit) {
        return Ok(());
    }
    Err(format!(
        "quota: member {owner:?} may run at most {limit} project(s) at once \
         (lifecycle.max_running_per_member); this one would make {would}, {} over the limit",
        would - i64::from(limit)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_limit_names_limit_and_excess() {
        assert!(check_running("ana", 2, 3).is_ok());
        assert!(check_running("ana", 9, 0).is_ok());
        let err = check_running("ana", 3, 3).unwrap_err();
        assert!(err.contains("at most 3"), "{err}");
        assert!(err.contains("would make 4, 1 over"), "{err}");
    }
}
