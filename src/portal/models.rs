//! View models and form inputs shared by the pages and the JSON API: what a project, a renewal
//! or an admin action looks like to the portal, built once from `Control`'s data, and the date and
//! link formats every page uses. No handler lives here, so every other portal module may use it.

use serde::{Deserialize, Deserializer, Serialize};

use super::refusal::{Denied, capitalized};
use clubhost_core::control::{Control, check_stack_size};
use clubhost_core::lifecycle::terms::DAY;
use clubhost_core::model::{Project, ProjectState, Renewal, now};
use clubhost_stack as stack;

/// The checker's verdict on a stack as the portal shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StackVerdict {
    /// Every problem, one per line; `None` when submit would accept the stack.
    pub problem: Option<String>,
    /// What the checker changed or guessed and the member may want to know (a `ports:` host side
    /// ignored, the exposed service inferred, a key honoured differently), one per entry.
    pub warnings: Vec<String>,
    /// The normalized stack as a person reads it (what would be deployed: `stack_text`), secrets
    /// masked.
    pub normalized: Option<String>,
}

impl StackVerdict {
    /// The verdict when no stack could be checked (none given, too big, an unknown template, a
    /// required variable left empty).
    pub fn refused(problem: String) -> StackVerdict {
        StackVerdict {
            problem: Some(capitalized(&problem)),
            ..StackVerdict::default()
        }
    }
}

/// The checker's verdict on `source` with the project's variables (and the ones clubhost sets),
/// exactly as submit and approval will judge it: needing the project's files is a refusal until
/// they can be uploaded, so "accepted" here is never followed by a refusal there.
pub fn stack_verdict(c: &Control, slug: &str, own: &stack::Vars, source: &str) -> StackVerdict {
    if source.trim().is_empty() {
        return StackVerdict::refused("Stack: paste or upload a compose file".into());
    }
    if let Err(e) = check_stack_size(source) {
        return StackVerdict::refused(e.to_string());
    }
    let vars = c.stack_vars(slug, &format!("/{slug}"), own);
    let report = stack::check(source, &vars, &c.config().limits)
        .requiring_files()
        .redacted(&vars);
    // "Line 3, column 5: services.web…" starts with a capital; a line that starts with the key's
    // dotted path keeps it as the file spells it.
    let problems: Vec<String> = report.violations.iter().map(violation_text).collect();
    StackVerdict {
        problem: (!problems.is_empty()).then(|| problems.join("\n")),
        warnings: report.warnings.iter().map(violation_text).collect(),
        normalized: report.stack.as_ref().map(super::stack_text::readable),
    }
}

/// A checker finding as a line of the verdict: "Line 3, column 5: …" with a capital; without a
/// place it starts with the key's dotted path, kept as the file spells it.
fn violation_text(v: &stack::Violation) -> String {
    if v.line > 0 {
        capitalized(&v.to_string())
    } else {
        v.to_string()
    }
}

/// A project as its owner (or an admin) sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    pub slug: String,
    pub name: String,
    pub owner: String,
    pub state: String,
    pub href: String,
    pub source_url: String,
    pub term_end: Option<String>,
    /// Never expires (an admin said so).
    pub permanent: bool,
    /// The root project (served at `/`): it has no term.
    pub root: bool,
    pub failure_reason: Option<String>,
    pub history: Vec<HistoryLine>,
    pub can_withdraw: bool,
    pub can_redeploy: bool,
    /// The latest renewal request, with its status.
    pub renewal: Option<RenewalView>,
    /// Whether the owner may ask for a renewal now.
    pub can_renew: bool,
    /// Sent back by an admin: the member may edit it and submit it again.
    pub can_resubmit: bool,
    /// The admin's note from the last time the request was sent back.
    pub review_note: Option<String>,
    /// The stack template the project's stack is, word for word (`stacks/<name>`).
    pub template: Option<String>,
    /// While the request waits (for an admin or for its member): the checker's verdict on the
    /// stored stack, as approval will see it, and the normalized stack (secrets masked).
    pub stack_problem: Option<String>,
    pub normalized: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub reason: String,
}

pub async fn view(c: &Control, p: &Project) -> Result<ProjectView, Denied> {
    let history = c
        .audit_log(Some(&p.slug))
        .await?
        .into_iter()
        .map(|e| HistoryLine {
            at: date(e.at),
            actor: e.actor,
            action: e.action,
            reason: e.reason,
        })
        .collect();
    let state = p.state();
    let renewal = latest_renewal(c, &p.slug).await?;
    let waiting = matches!(
        state,
        ProjectState::Requested | ProjectState::ChangesRequested
    );
    let (stack_problem, normalized) = if waiting {
        let own = c.variables(&p.slug).await?;
        let v = stack_verdict(c, &p.slug, &own, &p.stack_source);
        (v.problem, v.normalized)
    } else {
        (None, None)
    };
    Ok(ProjectView {
        can_renew: can_renew(p, renewal.as_ref()),
        renewal,
        permanent: p.permanent,
        root: p.is_root,
        slug: p.slug.clone(),
        name: p.name.clone(),
        owner: p.owner.clone(),
        state: state.to_string(),
        href: href(c, p),
        source_url: c.source_url(&p.slug).await?,
        term_end: p.term_end.map(date),
        failure_reason: p.failure_reason.clone(),
        history,
        can_withdraw: waiting,
        can_redeploy: matches!(state, ProjectState::Running | ProjectState::Failed),
        can_resubmit: state == ProjectState::ChangesRequested,
        review_note: p.review_note.clone(),
        template: stack::templates::matching(&p.stack_source).map(|t| t.name.to_string()),
        stack_problem,
        normalized,
    })
}

/// Today and the latest term end allowed, as `YYYY-MM-DD`, for the date inputs' bounds.
#[derive(Debug, Clone)]
pub struct DateBounds {
    pub today: String,
    pub max_day: String,
    /// `projects.max_days`: the longest term.
    pub max_days: u32,
}

impl DateBounds {
    pub fn of(c: &Control) -> DateBounds {
        let t = now();
        let day = |t: i64| date(t).chars().take(10).collect();
        DateBounds {
            today: day(t),
            max_day: day(t + i64::from(c.config().projects.max_days) * DAY),
            max_days: c.config().projects.max_days,
        }
    }
}

/// A renewal request as the portal shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RenewalView {
    #[serde(flatten)]
    pub renewal: Renewal,
    /// `new_end` and `current_end` for people.
    pub new_end_text: String,
    pub current_end_text: String,
}

impl From<Renewal> for RenewalView {
    fn from(r: Renewal) -> Self {
        RenewalView {
            new_end_text: date(r.new_end),
            current_end_text: r.current_end.map(date).unwrap_or_else(|| "none".into()),
            renewal: r,
        }
    }
}

/// The latest renewal request of a project, if it ever had one.
pub async fn latest_renewal(c: &Control, slug: &str) -> Result<Option<RenewalView>, Denied> {
    Ok(c.renewals_of(slug)
        .await?
        .into_iter()
        .next()
        .map(RenewalView::from))
}

/// Whether the owner may ask to renew `p` now: its term runs, it has an end, nothing is pending.
pub fn can_renew(p: &Project, latest: Option<&RenewalView>) -> bool {
    matches!(
        p.state(),
        ProjectState::Running | ProjectState::Failed | ProjectState::Stopped
    ) && !p.is_root
        && !p.permanent
        && p.term_end.is_some()
        && latest.is_none_or(|r| r.renewal.state != "pending")
}

/// A whole number from a form (text) or JSON (number or text); empty means none.
pub fn optional_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u32),
        Text(String),
    }
    match Option::<NumberOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrText::Number(n)) => Ok(Some(n)),
        Some(NumberOrText::Text(t)) if t.trim().is_empty() => Ok(None),
        Some(NumberOrText::Text(t)) => t.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!("days: {t:?} is not a whole number of days"))
        }),
    }
}

/// Input of an admin project action: a reason (reject, expire), a note for the member
/// (send-back), the typed slug (delete), the new term end (term) or the new term's days (restore).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdminAction {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub confirm: String,
    #[serde(default)]
    pub end: String,
    #[serde(default, deserialize_with = "super::models::optional_number")]
    pub days: Option<u32>,
}

/// Where a project is served. A path on this host, unless the portal lives on its own host
/// (`portal.<domain>`, see `[portal] own_host`): then the project is on the club's domain.
pub fn href(c: &Control, p: &Project) -> String {
    let path = if p.is_root {
        "/".to_string()
    } else {
        format!("{}/", p.route)
    };
    if c.config().proxy.subdomains && c.config().portal.own_host {
        format!("{}://{}{path}", c.config().proxy.scheme, c.config().domain)
    } else {
        path
    }
}

/// Unix seconds as a UTC date, for templates.
pub fn date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let secs = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}
