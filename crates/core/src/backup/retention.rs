//! Which backups `backup prune` keeps, as a pure function (restic's rule): of one project's
//! backups, the newest of each of the last `daily` days that have one, the newest of each of the
//! last `weekly` weeks (Monday to Sunday, UTC), and of each of the last `monthly` months. A
//! backup kept by any rule stays; the newest backup always stays.

use std::collections::BTreeSet;

/// How many days, weeks and months to keep one backup of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Days.
    pub daily: usize,
    /// Weeks.
    pub weekly: usize,
    /// Months.
    pub monthly: usize,
}

const DAY: i64 = 86_400;

/// Maps a time to its day, week or month number.
type Bucket = fn(i64) -> i64;

fn day(t: i64) -> i64 {
    t.div_euclid(DAY)
}

/// Weeks since the Monday before the epoch (1970-01-01 was a Thursday).
fn week(t: i64) -> i64 {
    (day(t) + 3).div_euclid(7)
}

/// Months since year 0, from the civil date (Howard Hinnant's days-to-civil).
fn month(t: i64) -> i64 {
    let z = day(t) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    y * 12 + m - 1
}

/// The ids to keep of one project's backups, given as (id, taken at Unix seconds).
pub fn keep(backups: &[(i64, i64)], policy: Policy) -> BTreeSet<i64> {
    let mut newest_first = backups.to_vec();
    newest_first.sort_by_key(|&(id, t)| std::cmp::Reverse((t, id)));
    let mut kept = BTreeSet::new();
    if let Some(first) = newest_first.first() {
        kept.insert(first.0);
    }
    let rules: [(usize, Bucket); 3] = [
        (policy.daily, day),
        (policy.weekly, week),
        (policy.monthly, month),
    ];
    for (n, bucket) in rules {
        let mut last = None;
        let mut count = 0;
        for &(id, t) in &newest_first {
            if count == n {
                break;
            }
            let b = bucket(t);
            if last != Some(b) {
                kept.insert(id);
                last = Some(b);
                count += 1;
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T03:00:00Z, a Tuesday.
    const T0: i64 = 1_796_094_000;

    #[test]
    fn calendar_buckets_are_right() {
        assert_eq!(month(0), 1970 * 12);
        assert_eq!(month(T0), 2026 * 12 + 11);
        assert_eq!(month(T0 - DAY), 2026 * 12 + 10); // 30 November
        // Monday 30 November and Tuesday 1 December share a week; Sunday 29th does not.
        assert_eq!(week(T0), week(T0 - DAY));
        assert_ne!(week(T0), week(T0 - 2 * DAY));
    }

    #[test]
    fn keeps_the_newest_of_each_day_week_and_month_and_nothing_else() {
        // One backup a day at 03:00 for 120 days, plus a second one on the newest day.
        let mut backups: Vec<(i64, i64)> = (0..120).map(|d| (1000 - d, T0 - d * DAY)).collect();
        backups.push((2000, T0 + 3600));
        let policy = Policy {
            daily: 7,
            weekly: 4,
            monthly: 3,
        };
        let kept = keep(&backups, policy);
        let days_back = |id: i64| if id == 2000 { -1 } else { 1000 - id };
        let mut back: Vec<i64> = kept.iter().map(|&id| days_back(id)).collect();
        back.sort();
        // Daily: the newest of today (the 04:00 one) and the 6 days before. Weekly: the newest
        // of this week (today) and the Sundays 2, 9 and 16 days back. Monthly: today, 30
        // November (1 day back) and 31 October (31 days back).
        assert_eq!(back, [-1, 1, 2, 3, 4, 5, 6, 9, 16, 31]);
        // Today's earlier backup goes: only the newest of a day counts.
        assert!(!kept.contains(&1000));
    }

    #[test]
    fn the_newest_backup_always_stays() {
        let kept = keep(
            &[(1, T0), (2, T0 + 1)],
            Policy {
                daily: 0,
                weekly: 0,
                monthly: 0,
            },
        );
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), [2]);
        assert!(
            keep(
                &[],
                Policy {
                    daily: 1,
                    weekly: 1,
                    monthly: 1
                }
            )
            .is_empty()
        );
    }
}
