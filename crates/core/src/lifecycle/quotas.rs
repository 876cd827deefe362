//! Per-member quotas, checked when a project is submitted and again when it is approved (the
//! member may have started other projects in between). The message says which limit and by how
//! much it would be exceeded.
//!
//! Limits: the number of projects a member runs at once, and the total memory and CPU limits of
//! their services (every service has limits: the member's, capped, or the club's defaults).

use super::terms::LifecycleConfig;
use clubhost_stack::Stack;

/// Memory and CPU limits added up over services.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) memory_bytes: i64,
    pub(crate) nano_cpus: i64,
}

impl Usage {
    pub(crate) fn of(stack: &Stack) -> Usage {
        stack.services.iter().fold(Usage::default(), |u, s| Usage {
            memory_bytes: u.memory_bytes + s.limits.memory_bytes,
            nano_cpus: u.nano_cpus + s.limits.nano_cpus,
        })
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            memory_bytes: self.memory_bytes + o.memory_bytes,
            nano_cpus: self.nano_cpus + o.nano_cpus,
        }
    }
}

/// Refuses a project whose limits, added to what `owner` already runs, exceed the member totals.
pub(crate) fn check_resources(
    owner: &str,
    used: Usage,
    new: Usage,
    cfg: &LifecycleConfig,
) -> Result<(), String> {
    let total = used + new;
    let max_mem = cfg.max_memory_bytes();
    if max_mem > 0 && total.memory_bytes > max_mem {
        let mib = |b: i64| b / (1024 * 1024);
        return Err(format!(
            "quota: member {owner:?} may use at most {} MiB of memory across their projects \
             (lifecycle.max_memory_per_member); this one would make {} MiB, {} MiB over",
            mib(max_mem),
            mib(total.memory_bytes),
            mib(total.memory_bytes - max_mem)
        ));
    }
    let max_cpu = (cfg.max_cpus_per_member * 1e9) as i64;
    if max_cpu > 0 && total.nano_cpus > max_cpu {
        let cpus = |n: i64| n as f64 / 1e9;
        return Err(format!(
            "quota: member {owner:?} may use at most {} CPUs across their projects \
             (lifecycle.max_cpus_per_member); this one would make {}, {} over",
            cpus(max_cpu),
            cpus(total.nano_cpus),
            cpus(total.nano_cpus - max_cpu)
        ));
    }
    Ok(())
}

/// A request's limits against its member's quota, for the admin's review queue.
#[derive(Debug, Clone, Copy)]
pub struct QuotaView {
    /// The member's other projects running or about to run.
    pub(crate) others: i64,
    /// What those projects' services are limited to, added up.
    pub(crate) used: Usage,
    /// What this request's services are limited to.
    pub(crate) asked: Usage,
}

impl QuotaView {
    /// "asks 256 MiB, 0.50 CPU; with the member's other projects: 2 of 3 running, 768 of 4096 MiB,
    /// 1.50 of 4.00 CPUs" (a limit of 0 shows as "no limit").
    pub fn summary(&self, cfg: &LifecycleConfig) -> String {
        let mib = |b: i64| b / (1024 * 1024);
        let cpus = |n: i64| n as f64 / 1e9;
        let total = self.used + self.asked;
        let of = |limit: String, unlimited: bool| {
            if unlimited {
                "no limit".to_string()
            } else {
                limit
            }
        };
        format!(
            "asks {} MiB, {:.2} CPU; with the member's other projects: {} of {} running, {} of {} \
             MiB, {:.2} of {} CPUs",
            mib(self.asked.memory_bytes),
            cpus(self.asked.nano_cpus),
            self.others + 1,
            of(
                cfg.max_running_per_member.to_string(),
                cfg.max_running_per_member == 0
            ),
            mib(total.memory_bytes),
            of(
                mib(cfg.max_memory_bytes()).to_string(),
                cfg.max_memory_bytes() <= 0
            ),
            cpus(total.nano_cpus),
            of(
                format!("{:.2}", cfg.max_cpus_per_member),
                cfg.max_cpus_per_member <= 0.0
            ),
        )
    }

    /// The first limit this request would break, as the approval would report it.
    pub fn check(&self, owner: &str, cfg: &LifecycleConfig) -> Result<(), String> {
        check_running(owner, self.others, cfg.max_running_per_member)?;
        check_resources(owner, self.used, self.asked, cfg)
    }
}

/// Refuses a project that would take `owner` over `limit` running projects, given `others` of
/// theirs already running or about to. A limit of 0 means none.
pub(crate) fn check_running(owner: &str, others: i64, limit: u32) -> Result<(), String> {
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
    fn the_queue_view_sums_up_and_checks_like_approval() {
        let cfg = LifecycleConfig::default();
        let gib = 1024 * 1024 * 1024;
        let q = QuotaView {
            others: 1,
            used: Usage {
                memory_bytes: gib,
                nano_cpus: 1_000_000_000,
            },
            asked: Usage {
                memory_bytes: gib / 4,
                nano_cpus: 500_000_000,
            },
        };
        assert_eq!(
            q.summary(&cfg),
            "asks 256 MiB, 0.50 CPU; with the member's other projects: 2 of 3 running, 1280 of \
             4096 MiB, 1.50 of 4.00 CPUs"
        );
        assert!(q.check("ana", &cfg).is_ok());
        let full = QuotaView { others: 3, ..q };
        let err = full.check("ana", &cfg).unwrap_err();
        assert!(
            err.contains("at most 3 project(s)") && err.contains("1 over"),
            "{err}"
        );
    }

    #[test]
    fn resource_totals_name_limit_and_excess() {
        let cfg = LifecycleConfig {
            max_memory_per_member: "1g".into(),
            max_cpus_per_member: 2.0,
            ..Default::default()
        };
        let gib = 1024 * 1024 * 1024;
        let half = Usage {
            memory_bytes: gib / 2,
            nano_cpus: 1_000_000_000,
        };
        assert!(check_resources("ana", half, half, &cfg).is_ok());
        let err = check_resources("ana", half, half + half, &cfg).unwrap_err();
        assert!(
            err.contains("at most 1024 MiB") && err.contains("512 MiB over"),
            "{err}"
        );
        let cpu_heavy = Usage {
            memory_bytes: 0,
            nano_cpus: 3_000_000_000,
        };
        let err = check_resources("ana", Usage::default(), cpu_heavy, &cfg).unwrap_err();
        assert!(
            err.contains("at most 2 CPUs") && err.contains("1 over"),
            "{err}"
        );
    }

    #[test]
    fn running_limit_names_limit_and_excess() {
        assert!(check_running("ana", 2, 3).is_ok());
        assert!(check_running("ana", 9, 0).is_ok());
        let err = check_running("ana", 3, 3).unwrap_err();
        assert!(err.contains("at most 3"), "{err}");
        assert!(err.contains("would make 4, 1 over"), "{err}");
    }
}
