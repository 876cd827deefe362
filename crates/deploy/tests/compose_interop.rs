//! Interop with Compose itself (issue 14, item 7): for every deployable file of the corpus
//! (`tests/compose/*.yml` with `# expect: ok`), what clubhost would deploy (the container plans
//! [`clubhost_deploy::plan`] makes from the checked stack) matches what `docker-compose config`
//! describes: the services, and for each its image, command, entrypoint, restart policy,
//! environment, volume mounts and healthcheck.
//!
//! Deliberate differences, listed in the README's key table, are not compared: ports (never
//! published), limits (capped), networks (the project's own) and the names anonymous volumes
//! get (only their mount point is compared). The restart policy is compared too.
//!
//! Runs only where the `docker-compose` command is installed (Debian's, 1.29); elsewhere it says
//! why it skipped. Compose's string commands are split by Python's `shlex`, as Compose splits
//! them, so the comparison does not trust clubhost's own splitter.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clubhost_docker::{ContainerPlan, LABEL_SERVICE};
use clubhost_stack::{Limits, Vars};
use serde_json::Value;

/// Files Debian's docker-compose 1.29 refuses although the Compose specification (and Compose
/// v2) accepts them, with the words of 1.29's reason: booleans as `environment:` values, and
/// `depends_on.<x>.restart`. Not compared; if 1.29 accepts one of them, or refuses any other
/// file, the test fails and says so.
const REFUSED_BY_COMPOSE_1_29: [(&str, &str); 3] = [
    (
        "hardened-api.yml",
        "contains false, which is an invalid type",
    ),
    (
        "official-mongo.yml",
        "contains true, which is an invalid type",
    ),
    ("one-shot-migrate.yml", "unsupported option: 'restart'"),
];

fn compose_available() -> Result<(), String> {
    match Command::new("docker-compose").arg("version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`docker-compose version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!("no docker-compose command ({e})")),
    }
}

/// A deployable corpus file: its name, text and the variables its header gives.
type CorpusFile = (String, String, Vec<(String, String)>);

fn corpus() -> Vec<CorpusFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            if text.lines().next() != Some("# expect: ok") {
                return None;
            }
            let vars = text
                .lines()
                .take_while(|l| l.starts_with('#'))
                .filter_map(|l| l.strip_prefix("# vars: "))
                .flat_map(|l| l.split_whitespace())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            Some((name, text, vars))
        })
        .collect()
}

/// `docker-compose config` of `text`, run in an empty folder with only `vars` in its
/// environment (no `.env`, no variables of the machine running the test).
fn compose_config(text: &str, vars: &[(String, String)]) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, text).unwrap();
    let mut cmd = Command::new("docker-compose");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .args(["-p", "interop", "-f"])
        .arg(&file)
        .arg("config");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).map_err(|e| e.to_string())
}

/// How Compose splits a string `command:`: Python's `shlex.split`.
fn shlex(s: &str) -> Vec<String> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import json, shlex, sys; print(json.dumps(shlex.split(sys.stdin.read())))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (docker-compose's own interpreter)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).expect("shlex output")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn words(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(shlex(s)),
        Value::Array(a) => Some(a.iter().map(text).collect()),
        other => panic!("unexpected command form {other}"),
    }
}

fn duration(v: Option<&Value>) -> Option<Duration> {
    v.map(|d| clubhost_stack::parse_duration(&text(d)).expect("compose duration"))
}

/// The volumes Compose mounts into service `name`: (source, target, read-only), its own and
/// those of the services in its `volumes_from` (`service:NAME:MODE`), read-only there with `ro`.
fn compose_volumes(
    file: &str,
    services: &BTreeMap<String, Value>,
    name: &str,
    force_ro: bool,
) -> BTreeSet<(Option<String>, String, bool)> {
    let svc = &services[name];
    let mut out = BTreeSet::new();
    for v in svc
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (source, target, ro) = match v {
            Value::String(s) => {
                let parts: Vec<&str> = s.split(':').collect();
                match parts.as_slice() {
                    [t] => (None, t.to_string(), false),
                    [s, t] => (Some(s.to_string()), t.to_string(), false),
                    [s, t, mode, ..] => (
                        Some(s.to_string()),
                        t.to_string(),
                        mode.split(',').any(|m| m == "ro"),
                    ),
                    [] => unreachable!(),
                }
            }
            Value::Object(m) => (
                m.get("source").map(text).filter(|s| !s.is_empty()),
                m.get("target").map(text).unwrap_or_default(),
                m.get("read_only") == Some(&Value::Bool(true)),
            ),
            other => panic!("{file}: volume as {other}"),
        };
        out.insert((source, target, ro || force_ro));
    }
    for from in svc
        .get("volumes_from")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let from = text(from);
        let parts: Vec<&str> = from.split(':').collect();
        let (other, mode) = match parts.as_slice() {
            ["service", other, mode] => (*other, *mode),
            ["service", other] => (*other, "rw"),
            _ => panic!("{file}: volumes_from {from:?}"),
        };
        out.extend(compose_volumes(
            file,
            services,
            other,
            force_ro || mode == "ro",
        ));
    }
    out
}

/// Compares one service; every difference found is pushed to `wrong`.
fn compare(
    file: &str,
    services: &BTreeMap<String, Value>,
    plan: &ContainerPlan,
    wrong: &mut Vec<String>,
) {
    let svc = &plan.labels[LABEL_SERVICE];
    let compose = &services[svc];
    let mut differ = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            wrong.push(format!(
                "{file}: service {svc}: {what}: clubhost {ours}, compose {theirs}"
            ));
        }
    };
    differ(
        "image",
        plan.image.clone(),
        compose.get("image").map(text).unwrap_or_default(),
    );
    differ(
        "command",
        format!("{:?}", plan.cmd),
        format!("{:?}", words(compose.get("command"))),
    );
    differ(
        "entrypoint",
        format!("{:?}", plan.entrypoint),
        format!("{:?}", words(compose.get("entrypoint"))),
    );

    use clubhost_stack::RestartPolicy as R;
    let restart = match plan.restart {
        R::No => "no".to_string(),
        R::Always => "always".into(),
        R::UnlessStopped => "unless-stopped".into(),
        R::OnFailure(0) => "on-failure".into(),
        R::OnFailure(n) => format!("on-failure:{n}"),
    };
    let theirs = compose.get("restart").map_or("no".into(), text);
    differ("restart", restart, theirs);

    // Compose keeps `KEY` without a value as null (taken from the shell, here unset).
    let theirs: BTreeSet<String> = match compose.get("environment") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::Null => k.clone(),
                v => format!("{k}={}", text(v)),
            })
            .collect(),
        None => BTreeSet::new(),
        Some(other) => panic!("{file}: environment as {other}"),
    };
    let ours: BTreeSet<String> = plan.env.iter().cloned().collect();
    differ("environment", format!("{ours:?}"), format!("{theirs:?}"));

    // Volumes: (source, target, read-only); an anonymous volume's source is Compose's own
    // business (clubhost names it), so only its target is compared.
    let anonymous = "(anonymous)".to_string();
    let theirs: BTreeSet<(String, String, bool)> = compose_volumes(file, services, svc, false)
        .into_iter()
        .map(|(source, target, ro)| {
            let source = source.map_or(anonymous.clone(), |s| format!("clubhost-interop-{s}"));
            (source, target, ro)
        })
        .collect();
    let ours: BTreeSet<(String, String, bool)> = plan
        .volumes
        .iter()
        .map(|m| {
            let named = theirs
                .iter()
                .any(|(s, t, _)| *t == m.target && *s != anonymous);
            let source = if named {
                m.volume.clone()
            } else {
                anonymous.clone()
            };
            (source, m.target.clone(), m.read_only)
        })
        .collect();
    differ("volumes", format!("{ours:?}"), format!("{theirs:?}"));

    // Healthcheck: the test in Docker's form, and every timing Compose names.
    let theirs = compose.get("healthcheck");
    match (theirs, &plan.healthcheck) {
        (None, None) => {}
        (Some(h), Some(ours)) => {
            let test = match h.get("test") {
                Some(Value::String(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
                Some(Value::Array(a)) => a.iter().map(text).collect(),
                _ if h.get("disable") == Some(&Value::Bool(true)) => vec!["NONE".into()],
                _ => Vec::new(),
            };
            differ(
                "healthcheck test",
                format!("{:?}", ours.test),
                format!("{test:?}"),
            );
            let timings = [
                ("interval", ours.interval),
                ("timeout", ours.timeout),
                ("start_period", ours.start_period),
            ];
            for (key, value) in timings {
                if let Some(d) = duration(h.get(key)) {
                    differ(
                        &format!("healthcheck {key}"),
                        format!("{value:?}"),
                        format!("{d:?}"),
                    );
                }
            }
            if let Some(r) = h.get("retries") {
                differ("healthcheck retries", ours.retries.to_string(), text(r));
            }
        }
        (theirs, ours) => differ("healthcheck", format!("{ours:?}"), format!("{theirs:?}")),
    }
}

#[test]
fn deployable_corpus_files_deploy_what_compose_describes() {
    if let Err(why) = compose_available() {
        eprintln!("skipped: {why}; install Debian's docker-compose to compare with Compose");
        return;
    }
    let files = corpus();
    assert!(files.len() >= 30, "only {} deployable files", files.len());
    let mut wrong = Vec::new();
    let mut skipped = 0;
    for (name, text, vars) in &files {
        let mut v = Vars::new();
        for (k, val) in vars {
            v.set(k, val, false);
        }
        let stack = clubhost_stack::load(text, &v, &Limits::default())
            .unwrap_or_else(|e| panic!("{name} must load: {e}"));
        let plans = clubhost_deploy::plan("interop", &stack, 1, "gateway");
        let refused = REFUSED_BY_COMPOSE_1_29
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, why)| *why);
        let config = match (compose_config(text, vars), refused) {
            (Ok(c), None) => c,
            (Err(e), Some(why)) if e.contains(why) => {
                skipped += 1;
                continue;
            }
            (Ok(_), Some(_)) => {
                wrong.push(format!(
                    "{name}: docker-compose config accepts it now: compare it"
                ));
                continue;
            }
            (Err(e), _) => {
                wrong.push(format!("{name}: docker-compose config failed: {e}"));
                continue;
            }
        };
        let services: BTreeMap<String, Value> = config
            .get("services")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        // Services of a profile the project does not enable are not deployed by either.
        let enabled = |s: &Value| {
            s.get("profiles")
                .and_then(Value::as_array)
                .is_none_or(|p| p.is_empty())
        };
        let theirs: BTreeSet<&String> = services
            .iter()
            .filter(|(_, s)| enabled(s))
            .map(|(k, _)| k)
            .collect();
        let ours: BTreeSet<&String> = plans.iter().map(|p| &p.labels[LABEL_SERVICE]).collect();
        if ours != theirs {
            wrong.push(format!(
                "{name}: services: clubhost {ours:?}, compose {theirs:?}"
            ));
            continue;
        }
        for plan in &plans {
            compare(name, &services, plan, &mut wrong);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    eprintln!(
        "{} deployable corpus files match docker-compose config; {skipped} that compose 1.29 \
         refuses were not compared",
        files.len() - skipped
    );
}
