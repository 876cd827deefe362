//! `clubhost stack check FILE [--var K=V ...]` and `clubhost stack templates`: the checker and
//! the templates on the command line. Runs locally with the config's `[limits]`; needs no server.

use anyhow::{Context, bail};

use std::path::PathBuf;

use clap::Subcommand;
use clubhost_core::config::Config;
use clubhost_stack::{self as stack, Report, Stack, Vars};

use clubhost_source::lookup::{self as stack_files, Finding, Verdict};

/// `clubhost stack …`: the checker on the command line, no server needed.
#[derive(Subcommand)]
pub enum StackCommand {
    /// Print the normalized stack and every violation with its line and column; exit 1 if any.
    Check {
        file: PathBuf,
        /// A project variable, `KEY=VALUE` (repeatable).
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
        /// A secret project variable, `KEY=VALUE`: its value is masked in the output.
        #[arg(long = "secret", value_name = "KEY=VALUE")]
        secrets: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the built-in stack templates.
    Templates {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, cmd: StackCommand) -> anyhow::Result<()> {
    match cmd {
        StackCommand::Check {
            file,
            vars,
            secrets,
            json,
        } => {
            let source = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read stack file {}", file.display()))?;
            let vars = vars_from_args(&vars, &secrets)?;
            // `redacted` masks the secret values where the file interpolated them, and only
            // there: masking the whole output would star out the file's own text.
            let report = stack::check(&source, &vars, &config.limits).redacted(&vars);
            let folder = match file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            let found = stack_files::look(folder, &report.project_files);
            if json {
                let mut value = serde_json::to_value(&report)?;
                value["files"] = serde_json::to_value(&found)?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", render(&file.display().to_string(), &report, &found));
            }
            let wrong = found.iter().any(|f| f.verdict == Verdict::Wrong);
            if !report.violations.is_empty() || wrong {
                std::process::exit(1);
            }
            Ok(())
        }
        StackCommand::Templates { json } => {
            let all = stack::templates::all();
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(());
            }
            for t in all {
                let m = &t.manifest;
                println!("{:<12} {} — {}", t.name, m.title, m.description);
                println!(
                    "{:<12} exposes {}:{}{}",
                    "",
                    m.expose,
                    m.port,
                    if m.subpath {
                        ", works under a sub-path"
                    } else {
                        ", best as the root project"
                    }
                );
                for v in &m.variables {
                    let default = if v.secret {
                        stack::MASK
                    } else {
                        v.default.as_str()
                    };
                    println!(
                        "{:<12} {}{} = {default:?}  ({})",
                        "",
                        v.name,
                        if v.secret { " (secret)" } else { "" },
                        v.description
                    );
                }
            }
            Ok(())
        }
    }
}

/// `KEY=VALUE` arguments to [`Vars`]; `secrets` are marked secret.
pub fn vars_from_args(vars: &[String], secrets: &[String]) -> anyhow::Result<Vars> {
    let mut out = Vars::new();
    for (list, secret) in [(vars, false), (secrets, true)] {
        for arg in list {
            let Some((k, v)) = arg.split_once('=') else {
                bail!("--var {arg:?}: write KEY=VALUE");
            };
            if !stack::valid_var_name(k) {
                bail!("--var {arg:?}: {k:?} is not a variable name (letters, digits and _)");
            }
            out.set(k, v, secret);
        }
    }
    Ok(out)
}

/// The report as text: the normalized stack, then warnings, what needs the project's files
/// (with what the folder beside the file holds) and violations, each with line and column.
fn render(file: &str, report: &Report, found: &[Finding]) -> String {
    let mut out = String::new();
    if let Some(stack) = &report.stack {
        out.push_str(&render_stack(stack));
    }
    // Warnings, needs for the project's files, what the folder holds and violations, in file
    // order (a finding right after the need it answers).
    let mut lines: Vec<(u64, u64, u8, String)> = Vec::new();
    let mut add = |l: u64, c: u64, rank: u8, label: &str, path: &str, message: &str| {
        lines.push((
            l,
            c,
            rank,
            format!("{file}:{l}:{c}: {label}: {path}: {message}\n"),
        ));
    };
    for w in &report.warnings {
        add(w.line, w.column, 0, "warning", &w.path, &w.message);
    }
    for n in &report.needs_files {
        add(n.line, n.column, 1, "warning", &n.path, &n.message);
    }
    for f in found {
        let label = match f.verdict {
            Verdict::Found => "found",
            Verdict::Absent => "not found",
            Verdict::Wrong => "error",
        };
        add(f.line, f.column, 2, label, &f.path, &f.message);
    }
    for v in &report.violations {
        let kind = match v.kind {
            stack::ViolationKind::Policy => "refused by policy",
            stack::ViolationKind::Unsupported => "unsupported",
            stack::ViolationKind::Syntax => "syntax error",
            stack::ViolationKind::Invalid => "error",
        };
        add(v.line, v.column, 3, kind, &v.path, &v.message);
    }
    lines.sort_by_key(|(l, c, rank, _)| (*l, *c, *rank));
    for (_, _, _, text) in lines {
        out.push_str(&text);
    }
    let problems =
        report.violations.len() + found.iter().filter(|f| f.verdict == Verdict::Wrong).count();
    if problems > 0 {
        out.push_str(&format!(
            "{problems} problem(s): the stack cannot be deployed\n"
        ));
    } else if !report.needs_files.is_empty() {
        out.push_str(&format!(
            "ok: the file passes the check, with {} warning(s); it needs the project's files \
             ({}), which clubhost cannot receive yet, so it cannot be deployed as it is\n",
            report.warnings.len(),
            report.needs_files.len()
        ));
    } else if !report.warnings.is_empty() {
        out.push_str(&format!(
            "ok: the stack can be deployed ({} warning(s) above)\n",
            report.warnings.len()
        ));
    } else {
        out.push_str("ok: the stack can be deployed\n");
    }
    out
}

fn render_stack(stack: &Stack) -> String {
    let mut out = format!(
        "exposed: {} on port {}\n",
        stack.expose.service, stack.expose.port
    );
    out.push_str(&format!("volumes: {}\n", list(&stack.volumes)));
    out.push_str(&format!(
        "networks: {} (+ the club gateway)\n",
        list(&stack.networks)
    ));
    out.push_str("services (start order):\n");
    for s in &stack.services {
        out.push_str(&format!("  {}: image {}\n", s.name, s.image));
        let l = &s.limits;
        out.push_str(&format!(
            "    limits: memory {} MiB, cpus {}, pids {}\n",
            l.memory_bytes >> 20,
            l.nano_cpus as f64 / 1e9,
            l.pids
        ));
        if let Some(c) = &s.command {
            out.push_str(&format!("    command: {c:?}\n"));
        }
        if !s.depends_on.is_empty() {
            let deps: Vec<String> = s
                .depends_on
                .iter()
                .map(|d| {
                    let condition = match d.condition {
                        stack::Condition::ServiceStarted => "service_started",
                        stack::Condition::ServiceHealthy => "service_healthy",
                        stack::Condition::ServiceCompletedSuccessfully => {
                            "service_completed_successfully"
                        }
                    };
                    format!("{} ({condition})", d.service)
                })
                .collect();
            out.push_str(&format!("    depends on: {}\n", deps.join(", ")));
        }
        for m in &s.mounts {
            out.push_str(&format!(
                "    volume {} at {}{}\n",
                m.volume,
                m.target,
                if m.read_only { " (read-only)" } else { "" }
            ));
        }
        for e in &s.environment {
            out.push_str(&format!("    env {e}\n"));
        }
        out.push_str(&format!(
            "    networks: {}{}\n",
            list(&s.networks),
            if s.gateway { " + gateway" } else { "" }
        ));
        out.push_str(&render_extras(s));
    }
    out
}

/// The small keys a service set, one line each; nothing for what it left alone.
fn render_extras(s: &stack::ServiceSpec) -> String {
    let mut lines = Vec::new();
    if !s.ports.is_empty() {
        let ports: Vec<String> = s
            .ports
            .iter()
            .map(|p| format!("{}/{}", p.port, p.protocol))
            .collect();
        lines.push(format!("ports (not published): {}", ports.join(", ")));
    }
    if let Some(h) = &s.hostname {
        let domain = s.domainname.as_deref().map(|d| format!(".{d}"));
        lines.push(format!("hostname: {h}{}", domain.unwrap_or_default()));
    }
    if let Some(l) = &s.logging {
        let driver = match l.driver {
            stack::LogDriver::JsonFile => "json-file",
            stack::LogDriver::Local => "local",
        };
        lines.push(format!(
            "logging: {driver}, {} files of at most {} KiB",
            l.max_files,
            l.max_size_bytes >> 10
        ));
    }
    if let Some(p) = &s.platform {
        lines.push(format!("platform: {p}"));
    }
    if let Some(b) = s.shm_size {
        lines.push(format!("shm_size: {} MiB", b >> 20));
    }
    for u in &s.ulimits {
        lines.push(format!(
            "ulimit {}: soft {}, hard {}",
            u.name, u.soft, u.hard
        ));
    }
    if s.init == Some(false) {
        lines.push("init: none (the service's own process is PID 1)".into());
    }
    lines.iter().map(|l| format!("    {l}\n")).collect()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}
