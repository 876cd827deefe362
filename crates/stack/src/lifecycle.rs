//! How a service starts and stays up: `depends_on` (list and long form with conditions),
//! `healthcheck` and `restart`.

use std::time::Duration;

use super::checker::{Checker, join};
use super::service::{Context, duration};
use super::yaml::{Node, Value};
use super::{Condition, Dependency, Healthcheck, RestartPolicy, ServiceSpec};

/// `depends_on: [a, b]` or `depends_on: { a: { condition: service_healthy } }`.
pub fn depends_on(
    c: &mut Checker,
    ctx: &Context,
    me: &str,
    v: &Node,
    p: &str,
    spec: &mut ServiceSpec,
) {
    let mut deps: Vec<(String, Condition, &Node)> = Vec::new();
    match &v.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(t) = c.text(item, &format!("{p}[{i}]")) {
                    deps.push((t, Condition::ServiceStarted, item));
                }
            }
        }
        Value::Map(entries) => {
            for (k, val) in entries {
                let name = k.scalar_text().unwrap_or_default();
                let np = join(p, &name);
                let mut condition = Condition::ServiceStarted;
                for (key, _, cv) in
                    c.entries(val, &np, &["condition", "restart", "required"], |_, _| None)
                {
                    if key != "condition" {
                        continue;
                    }
                    condition = match c.text(cv, &join(&np, key)).as_deref() {
                        Some("service_started") => Condition::ServiceStarted,
                        Some("service_healthy") => Condition::ServiceHealthy,
                        Some("service_completed_successfully") => {
                            Condition::ServiceCompletedSuccessfully
                        }
                        Some(other) => {
                            c.invalid(cv, &join(&np, key), format!(
                                "{other:?} is not a condition (service_started, service_healthy, \
                                 service_completed_successfully)"
                            ));
                            Condition::ServiceStarted
                        }
                        None => Condition::ServiceStarted,
                    };
                }
                deps.push((name, condition, k));
            }
        }
        _ => {
            c.invalid(
                v,
                p,
                format!("expected a list or a map, found {}", v.kind()),
            );
            return;
        }
    }
    for (name, condition, at) in deps {
        if name == me || !ctx.services.contains(&name) {
            c.invalid(
                at,
                p,
                format!("depends on {name:?}, which is not another service of this stack"),
            );
            continue;
        }
        spec.depends_on.push(Dependency {
            service: name,
            condition,
        });
    }
}

pub fn healthcheck(c: &mut Checker, v: &Node, p: &str) -> Option<Healthcheck> {
    let fields = c.entries(
        v,
        p,
        &[
            "test",
            "interval",
            "timeout",
            "retries",
            "start_period",
            "start_interval",
            "disable",
        ],
        |_, _| None,
    );
    let mut h = Healthcheck {
        test: Vec::new(),
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(30),
        retries: 3,
        start_period: Duration::ZERO,
        start_interval: None,
    };
    let mut disabled = false;
    let mut test_at = v;
    let mut test_seen = false;
    for (k, _, val) in fields {
        let fp = join(p, k);
        match k {
            "test" => {
                test_at = val;
                test_seen = true;
                h.test = match &val.value {
                    Value::Seq(_) => c.list(val, &fp)?,
                    _ => vec!["CMD-SHELL".to_string(), c.text(val, &fp)?],
                };
                if h.test.first().map(String::as_str) == Some("NONE") {
                    disabled = true;
                }
            }
            "interval" => h.interval = duration(c, val, &fp)?,
            "timeout" => h.timeout = duration(c, val, &fp)?,
            "start_period" => h.start_period = duration(c, val, &fp)?,
            "start_interval" => h.start_interval = Some(duration(c, val, &fp)?),
            "retries" => h.retries = u32::try_from(c.integer(val, &fp)?).unwrap_or(3),
            _ => disabled = c.boolean(val, &fp)?,
        }
    }
    if disabled {
        // Docker's way to turn off a healthcheck the image defines.
        h.test = vec!["NONE".to_string()];
        return Some(h);
    }
    if !test_seen {
        // Only timings: the image's own test runs with them.
        return Some(h);
    }
    if !matches!(
        h.test.first().map(String::as_str),
        Some("CMD" | "CMD-SHELL")
    ) || h.test.len() < 2
    {
        c.invalid(
            test_at,
            &join(p, "test"),
            "`test` must be a command string or a list starting with CMD or CMD-SHELL, e.g. \
             `test: [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]`",
        );
        return None;
    }
    Some(h)
}

pub fn restart(c: &mut Checker, v: &Node, p: &str, r: &str) -> RestartPolicy {
    match r {
        "no" | "false" => RestartPolicy::No,
        "always" => RestartPolicy::Always,
        "unless-stopped" => RestartPolicy::UnlessStopped,
        "on-failure" => RestartPolicy::OnFailure(0),
        other => match other.strip_prefix("on-failure:").map(str::parse) {
            Some(Ok(n)) => RestartPolicy::OnFailure(n),
            _ => {
                c.invalid(v, p, format!("{other:?} is not a restart policy (no, always, unless-stopped, on-failure[:N])"));
                RestartPolicy::No
            }
        },
    }
}
