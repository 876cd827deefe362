//! The small service keys real compose files carry: `hostname`, `domainname`, `logging`,
//! `platform`, `shm_size`, `ulimits`, `pull_policy`, `profiles` and `init`, and the service's own
//! `x-clubhost: { database: mysql | postgres }` (a database the backups dump, for an image whose
//! name does not say so). Each is either
//! honoured (a field of the [`ServiceSpec`], capped by `[limits]` where it costs the server) or
//! refused with the reason; none reaches outside the project.

use super::checker::{Checker, join};
use super::limits::parse_bytes;
use super::yaml::{Node, Value};
use super::{Database, LogDriver, Logging, PullPolicy, ServiceSpec, Ulimit, ViolationKind};

/// Reads one of this module's keys into `spec`; `false` when `key` is not one of them.
pub(crate) fn read(
    c: &mut Checker,
    key: &str,
    knode: &Node,
    v: &Node,
    p: &str,
    spec: &mut ServiceSpec,
) -> bool {
    match key {
        "hostname" => spec.hostname = host_label(c, v, p),
        "domainname" => spec.domainname = host_label(c, v, p),
        "logging" => spec.logging = logging(c, v, p),
        "platform" => spec.platform = c.nonempty(v, p),
        "shm_size" => spec.shm_size = shm_size(c, v, p),
        "ulimits" => spec.ulimits = ulimits(c, v, p),
        "pull_policy" => spec.pull_policy = pull_policy(c, knode, v, p),
        "profiles" => spec.profiles = c.list(v, p).unwrap_or_default(),
        "init" => spec.init = c.boolean(v, p),
        "x-clubhost" => spec.database = hints(c, v, p),
        _ => return false,
    }
    true
}

/// Names that become the container's host or domain name on the project network: DNS labels.
fn host_label(c: &mut Checker, v: &Node, p: &str) -> Option<String> {
    let t = c.nonempty(v, p)?;
    let ok = t.len() <= 253
        && t.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
        });
    if !ok {
        c.invalid(
            v,
            p,
            format!("{t:?} is not a host name (letters, digits, '-', labels joined by '.')"),
        );
        return None;
    }
    Some(t)
}

/// `logging:` with the drivers that keep logs on this server, sizes capped by `[limits]`.
fn logging(c: &mut Checker, v: &Node, p: &str) -> Option<Logging> {
    let max_size = c.limits.max_log_size_bytes();
    let max_files = c.limits.max_log_files;
    let mut out = Logging {
        driver: LogDriver::JsonFile,
        max_size_bytes: max_size,
        max_files,
    };
    let mut ok = true;
    for (k, _, val) in c.entries(v, p, &["driver", "options"], |_, _| None) {
        let fp = join(p, k);
        if k == "driver" {
            match c.text(val, &fp).as_deref() {
                Some("json-file") => out.driver = LogDriver::JsonFile,
                Some("local") => out.driver = LogDriver::Local,
                Some(other) => {
                    c.fail(
                        val,
                        &fp,
                        ViolationKind::Policy,
                        format!(
                            "log driver {other:?} is not available: it would send or store logs \
                             outside what clubhost manages; use json-file or local (or remove \
                             `logging:`)"
                        ),
                    );
                    ok = false;
                }
                None => ok = false,
            }
            continue;
        }
        for (name, value) in c.pairs(val, &fp).unwrap_or_default() {
            let op = join(&fp, &name);
            let value = value.unwrap_or_default();
            match name.as_str() {
                "max-size" => match parse_bytes(&value) {
                    Some(n) if n > max_size => c.warn(
                        val,
                        &op,
                        format!(
                            "max-size capped at {} (limits.max_log_size)",
                            c.limits.max_log_size
                        ),
                    ),
                    Some(n) => out.max_size_bytes = n,
                    None => {
                        c.invalid(val, &op, format!("{value:?} is not a size like \"10m\""));
                        ok = false;
                    }
                },
                "max-file" => match value.trim().parse::<u32>() {
                    Ok(n) if n > max_files => c.warn(
                        val,
                        &op,
                        format!("max-file capped at {max_files} (limits.max_log_files)"),
                    ),
                    Ok(n) if n > 0 => out.max_files = n,
                    _ => {
                        c.invalid(val, &op, format!("{value:?} is not a number of files"));
                        ok = false;
                    }
                },
                other => c.warn(
                    val,
                    &op,
                    format!(
                        "log option {other:?} ignored: clubhost sets only max-size and max-file"
                    ),
                ),
            }
        }
    }
    ok.then_some(out)
}

fn shm_size(c: &mut Checker, v: &Node, p: &str) -> Option<i64> {
    let t = c.text(v, p)?;
    let Some(n) = parse_bytes(&t) else {
        c.invalid(v, p, format!("{t:?} is not a size like \"256m\""));
        return None;
    };
    let max = c.limits.max_shm_size_bytes();
    if n > max {
        c.warn(
            v,
            p,
            format!(
                "shm_size capped at {} (limits.max_shm_size)",
                c.limits.max_shm_size
            ),
        );
        return Some(max);
    }
    Some(n)
}

/// `ulimits: { nofile: 65535, nproc: { soft: 1024, hard: 2048 } }`; only the three that protect
/// nothing of the server's, each capped.
fn ulimits(c: &mut Checker, v: &Node, p: &str) -> Vec<Ulimit> {
    let mut out = Vec::new();
    let Some(map) = v.as_map() else {
        c.invalid(v, p, format!("expected a map, found {}", v.kind()));
        return out;
    };
    for (k, val) in map {
        let name = k.scalar_text().unwrap_or_default();
        let np = join(p, &name);
        let cap = match name.as_str() {
            "nofile" => c.limits.max_nofile,
            "nproc" => c.limits.max_nproc,
            "memlock" => c.limits.max_memlock_bytes(),
            _ => {
                c.fail(
                    k,
                    &np,
                    ViolationKind::Unsupported,
                    format!(
                        "ulimit {name:?} is not available to projects (only nofile, nproc and \
                         memlock); remove it"
                    ),
                );
                continue;
            }
        };
        let (soft, hard) = match &val.value {
            Value::Map(_) => {
                let (mut soft, mut hard) = (None, None);
                for (sk, _, sv) in c.entries(val, &np, &["soft", "hard"], |_, _| None) {
                    let n = limit_value(c, sv, &join(&np, sk), &name);
                    if sk == "soft" {
                        soft = n;
                    } else {
                        hard = n;
                    }
                }
                match (soft, hard) {
                    (Some(s), Some(h)) => (s, h),
                    _ => {
                        c.invalid(val, &np, "needs both `soft:` and `hard:`");
                        continue;
                    }
                }
            }
            _ => match limit_value(c, val, &np, &name) {
                Some(n) => (n, n),
                None => continue,
            },
        };
        if soft > hard {
            c.invalid(
                val,
                &np,
                format!("soft limit {soft} is above the hard limit {hard}"),
            );
            continue;
        }
        // -1 (or 0 for memlock) means unlimited in Compose; the club caps it like any other.
        let capped = |n: i64| if n <= 0 || n > cap { cap } else { n };
        if capped(hard) != hard || capped(soft) != soft {
            c.warn(
                val,
                &np,
                format!("{name} capped at {cap} (limits.max_{name})"),
            );
        }
        out.push(Ulimit {
            name,
            soft: capped(soft),
            hard: capped(hard),
        });
    }
    out
}

/// A ulimit number; `memlock` may also be written as a size.
fn limit_value(c: &mut Checker, v: &Node, p: &str, name: &str) -> Option<i64> {
    let t = c.text(v, p)?;
    if let Ok(n) = t.trim().parse::<i64>() {
        return Some(n);
    }
    if name == "memlock"
        && let Some(n) = parse_bytes(&t)
    {
        return Some(n);
    }
    c.invalid(v, p, format!("{t:?} is not a whole number"));
    None
}

fn pull_policy(c: &mut Checker, knode: &Node, v: &Node, p: &str) -> Option<PullPolicy> {
    let t = c.text(v, p)?;
    Some(match t.as_str() {
        "always" => PullPolicy::Always,
        "missing" | "if_not_present" => PullPolicy::Missing,
        "never" => PullPolicy::Never,
        "daily" | "weekly" => {
            c.warn(
                knode,
                p,
                format!("{t}: pulled when missing; redeploy to update"),
            );
            PullPolicy::Missing
        }
        t if t.starts_with("every_") => {
            c.warn(
                knode,
                p,
                format!("{t}: pulled when missing; redeploy to update"),
            );
            PullPolicy::Missing
        }
        "build" => {
            c.needs(
                knode,
                p,
                "needs the project's files: `pull_policy: build` builds the image from the \
                 project's folder (with `build:`); submit the project with its files",
            );
            return None;
        }
        other => {
            c.invalid(
                v,
                p,
                format!("{other:?} is not a pull policy (always, missing, never, build)"),
            );
            return None;
        }
    })
}

/// A service's `x-clubhost:` map: only `database:` (`mysql`, `mariadb` or `postgres`), which
/// tells the backups to take a logical dump of this service although its image's name is not
/// one they recognise. Any other key is unsupported (default deny).
fn hints(c: &mut Checker, v: &Node, p: &str) -> Option<Database> {
    let mut database = None;
    for (_, _, val) in c.entries(v, p, &["database"], |_, _| None) {
        let dp = join(p, "database");
        let Some(t) = c.text(val, &dp) else {
            continue;
        };
        database = match t.as_str() {
            "mysql" | "mariadb" => Some(Database::Mysql),
            "postgres" | "postgresql" => Some(Database::Postgres),
            other => {
                c.invalid(
                    val,
                    &dp,
                    format!(
                        "{other:?} is not a database clubhost dumps (mysql, mariadb, postgres)"
                    ),
                );
                None
            }
        };
    }
    database
}
