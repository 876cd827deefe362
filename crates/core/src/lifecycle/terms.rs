//! The term rules as pure functions: given the registry's term rows, the reminders already sent
//! and `now`, what is due and when the next deadline is. The scheduler acts on [`Plan::due`] and
//! sleeps until [`Plan::next`].

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

use clubhost_registry::ProjectState;
use clubhost_registry::terms::TermRow;

/// Seconds in a day: terms are counted in days, the registry's times in Unix seconds.
pub const DAY: i64 = 86_400;

/// `[lifecycle]` in clubhost.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    /// How long before a term ends the owner is reminded, e.g. ["7d", "1d"].
    #[serde(deserialize_with = "durations")]
    pub(crate) reminders: Vec<Duration>,
    /// How long an expired project's volumes are kept (an admin can restore it meanwhile) before
    /// the purge, e.g. "30d".
    #[serde(deserialize_with = "duration")]
    pub(crate) grace: Duration,
    /// Most projects one member may have running (or about to run) at once; 0 means no limit.
    pub(crate) max_running_per_member: u32,
    /// Total memory limit across one member's active projects ("8g"; "0" means no limit).
    pub(crate) max_memory_per_member: String,
    /// Total CPU limit across one member's active projects (0 means no limit).
    pub(crate) max_cpus_per_member: f64,
    /// Lets the admin API move the clock forward (`clubhost clock`). For tests only: it makes
    /// terms run out early. The environment variable CLUBHOST_TEST_CLOCK=1 does the same.
    pub(crate) settable_clock: bool,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            reminders: vec![
                Duration::from_secs(7 * DAY as u64),
                Duration::from_secs(DAY as u64),
            ],
            grace: Duration::from_secs(30 * DAY as u64),
            max_running_per_member: 3,
            max_memory_per_member: "4g".into(),
            max_cpus_per_member: 4.0,
            settable_clock: false,
        }
    }
}

impl LifecycleConfig {
    /// Checks values serde cannot; the message names the key.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.reminders.iter().any(|d| d.is_zero()) {
            return Err("key `lifecycle.reminders`: offsets must be longer than 0s".into());
        }
        let mem = self.max_memory_per_member.trim();
        if mem != "0" && clubhost_stack::parse_bytes(mem).is_none() {
            return Err(format!(
                "key `lifecycle.max_memory_per_member`: {:?} is not a size like \"4g\" or \"512m\"",
                self.max_memory_per_member
            ));
        }
        if self.max_cpus_per_member.is_nan() || self.max_cpus_per_member < 0.0 {
            return Err("key `lifecycle.max_cpus_per_member`: must be 0 or more".into());
        }
        Ok(())
    }

    /// The member memory total in bytes (0: no limit).
    pub(crate) fn max_memory_bytes(&self) -> i64 {
        clubhost_stack::parse_bytes(&self.max_memory_per_member).unwrap_or(0)
    }

    /// The rules in seconds, reminder offsets largest first.
    pub(crate) fn rules(&self) -> Rules {
        let mut reminders: Vec<i64> = self.reminders.iter().map(|d| d.as_secs() as i64).collect();
        reminders.sort_unstable_by(|a, b| b.cmp(a));
        reminders.dedup();
        Rules {
            reminders,
            grace: self.grace.as_secs() as i64,
        }
    }
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("{text:?} is not a duration like \"30d\": {e}"))
    })
}

fn durations<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts
        .iter()
        .map(|text| {
            humantime::parse_duration(text).map_err(|e| {
                serde::de::Error::custom(format!("{text:?} is not a duration like \"7d\": {e}"))
            })
        })
        .collect()
}

/// The term rules in seconds.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// Reminder offsets before the term end, largest first.
    pub(crate) reminders: Vec<i64>,
    pub(crate) grace: i64,
}

/// One thing the scheduler must do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Remind the owner that the term ends at `term_end`, `offset` seconds ahead. `record` holds
    /// every due offset (after downtime several may be due at once: only the nearest is sent).
    Remind {
        slug: String,
        owner: String,
        term_end: i64,
        offset: i64,
        record: Vec<i64>,
    },
    /// The term has ended.
    Expire { slug: String },
    /// The grace period after expiry has ended.
    Purge { slug: String },
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) due: Vec<Step>,
    /// The earliest future deadline, if any: the scheduler sleeps until then.
    pub(crate) next: Option<i64>,
}

/// What is due at `now` and the next deadline after it. `sent` holds `(project id, term end,
/// offset)` of reminders already sent.
pub(crate) fn plan(
    rows: &[TermRow],
    sent: &HashSet<(i64, i64, i64)>,
    rules: &Rules,
    now: i64,
) -> Plan {
    let mut plan = Plan::default();
    let later = |t: i64, plan: &mut Plan| {
        plan.next = Some(plan.next.map_or(t, |n| n.min(t)));
    };
    for row in rows {
        match row.state() {
            ProjectState::Expired => {
                // No expiry time means the audit row is missing; never purge on a guess.
                let Some(at) = row.expired_at else { continue };
                let purge_at = at + rules.grace;
                if purge_at <= now {
                    plan.due.push(Step::Purge {
                        slug: row.slug.clone(),
                    });
                } else {
                    later(purge_at, &mut plan);
                }
            }
            ProjectState::Running | ProjectState::Failed | ProjectState::Stopped => {
                let Some(end) = row.term_end else { continue };
                if row.permanent {
                    continue;
                }
                if end <= now {
                    plan.due.push(Step::Expire {
                        slug: row.slug.clone(),
                    });
                    continue;
                }
                let mut due: Vec<i64> = Vec::new();
                for &offset in &rules.reminders {
                    let at = end - offset;
                    if sent.contains(&(row.id, end, offset)) {
                        continue;
                    }
                    if at <= now {
                        due.push(offset);
                    } else {
                        later(at, &mut plan);
                    }
                }
                if let Some(&nearest) = due.iter().min() {
                    plan.due.push(Step::Remind {
                        slug: row.slug.clone(),
                        owner: row.owner.clone(),
                        term_end: end,
                        offset: nearest,
                        record: due,
                    });
                }
                later(end, &mut plan);
            }
            _ => {}
        }
    }
    plan
}

/// "7 days", "1 day", "5 hours": how far ahead a reminder looks.
pub(crate) fn describe(secs: i64) -> String {
    let (n, unit) = if secs >= DAY && secs % DAY == 0 {
        (secs / DAY, "day")
    } else if secs >= 3600 {
        (secs / 3600, "hour")
    } else {
        (secs / 60, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    fn row(id: i64, state: &str, term_end: Option<i64>) -> TermRow {
        TermRow {
            id,
            slug: format!("p{id}"),
            owner: "ana".into(),
            state: state.parse().unwrap(),
            term_end,
            permanent: false,
            expired_at: None,
        }
    }

    fn rules() -> Rules {
        LifecycleConfig::default().rules()
    }

    #[test]
    fn default_rules_remind_at_seven_and_one_day() {
        let r = rules();
        assert_eq!(r.reminders, vec![7 * DAY, DAY]);
        assert_eq!(r.grace, 30 * DAY);
    }

    #[test]
    fn next_deadline_is_the_first_reminder() {
        let rows = [row(1, "running", Some(T0 + 10 * DAY))];
        let p = plan(&rows, &HashSet::new(), &rules(), T0);
        assert!(p.due.is_empty());
        assert_eq!(p.next, Some(T0 + 3 * DAY));
    }

    #[test]
    fn reminder_is_due_then_not_repeated() {
        let rows = [row(1, "running", Some(T0 + 10 * DAY))];
        let now = T0 + 4 * DAY;
        let p = plan(&rows, &HashSet::new(), &rules(), now);
        assert_eq!(
            p.due,
            vec![Step::Remind {
                slug: "p1".into(),
                owner: "ana".into(),
                term_end: T0 + 10 * DAY,
                offset: 7 * DAY,
                record: vec![7 * DAY],
            }]
        );
        let sent = HashSet::from([(1, T0 + 10 * DAY, 7 * DAY)]);
        let p = plan(&rows, &sent, &rules(), now);
        assert!(p.due.is_empty());
        assert_eq!(p.next, Some(T0 + 9 * DAY));
    }

    #[test]
    fn after_downtime_only_the_nearest_reminder_is_sent() {
        let rows = [row(1, "running", Some(T0 + 10 * DAY))];
        let p = plan(&rows, &HashSet::new(), &rules(), T0 + 9 * DAY + 1);
        match &p.due[..] {
            [Step::Remind { offset, record, .. }] => {
                assert_eq!(*offset, DAY);
                assert_eq!(record, &vec![7 * DAY, DAY]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.next, Some(T0 + 10 * DAY));
    }

    #[test]
    fn term_end_expires_and_grace_end_purges() {
        let rows = [row(1, "stopped", Some(T0))];
        assert_eq!(
            plan(&rows, &HashSet::new(), &rules(), T0).due,
            vec![Step::Expire { slug: "p1".into() }]
        );
        let mut expired = row(2, "expired", Some(T0));
        expired.expired_at = Some(T0);
        let rows = [expired];
        let p = plan(&rows, &HashSet::new(), &rules(), T0 + DAY);
        assert!(p.due.is_empty());
        assert_eq!(p.next, Some(T0 + 30 * DAY));
        assert_eq!(
            plan(&rows, &HashSet::new(), &rules(), T0 + 30 * DAY).due,
            vec![Step::Purge { slug: "p2".into() }]
        );
    }

    #[test]
    fn permanent_and_inactive_projects_have_no_deadlines() {
        let mut root = row(1, "running", Some(T0));
        root.permanent = true;
        let rows = [
            root,
            row(2, "requested", None),
            row(3, "rejected", Some(T0)),
            row(4, "purged", Some(T0)),
        ];
        assert_eq!(
            plan(&rows, &HashSet::new(), &rules(), T0 + 400 * DAY),
            Plan::default()
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        let c: LifecycleConfig =
            toml::from_str("reminders = [\"2d\", \"3h\"]\ngrace = \"10d\"").unwrap();
        assert_eq!(c.rules().reminders, vec![2 * DAY, 3 * 3600]);
        let err = toml::from_str::<LifecycleConfig>("grace = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("grace") || err.contains("soon"), "{err}");
        assert_eq!(describe(7 * DAY), "7 days");
        assert_eq!(describe(DAY), "1 day");
    }
}
