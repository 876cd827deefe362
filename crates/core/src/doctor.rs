//! `clubhost doctor`: checks what `serve` needs and says plainly what is wrong, including file
//! modes: the data dir and everything in it must be the owner's alone, and a config file that
//! holds credentials (SMTP password, webhook URLs) should not be readable by others.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::config::Config;
use crate::files::mode_of;
use crate::secrets::KeySource;
use clubhost_docker::Engine;

/// Checks Docker, the data directory and its files' modes, the config file's readers, the
/// listen address, the subnet pool and orphaned Docker objects, printing one line each; an error
/// when anything failed, so the exit status tells. `config_path` is the file given with
/// `--config`, if any.
pub async fn run(config: &Config, config_path: Option<&Path>) -> anyhow::Result<()> {
    let mut problems = 0;
    let mut report = |ok: bool, what: String| {
        println!("{} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            problems += 1;
        }
    };

    match Engine::connect(config.docker.host.as_deref(), "doctor").await {
        Ok(engine) => match engine.version().await {
            Ok((version, api)) => report(
                true,
                format!("Docker {version} at {} (API {api})", engine.endpoint()),
            ),
            Err(e) => report(false, format!("Docker: {e}")),
        },
        Err(e) => report(false, e.to_string()),
    }

    let dir = &config.data_dir;
    // A missing data dir is made as serve would (0700); an existing one is only checked.
    let made = if dir.exists() {
        Ok(())
    } else {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    };
    let writable = made.and_then(|()| {
        let probe = dir.join(".doctor-probe");
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(probe)
    });
    match writable {
        Ok(()) => report(true, format!("data dir {} is writable", dir.display())),
        Err(e) => report(
            false,
            format!("data dir {} is not writable: {e}", dir.display()),
        ),
    }

    for (ok, what) in mode_checks(config) {
        report(ok, what);
    }
    let config_file = config_path
        .map(Path::to_path_buf)
        .or_else(|| Some(PathBuf::from(crate::config::DEFAULT_FILE)).filter(|p| p.exists()));
    if let Some(warning) = config_file.and_then(|p| config_file_warning(config, &p)) {
        println!("WARN {warning}");
    }

    let listen = config.proxy.listen;
    let socket_answers = tokio::net::UnixStream::connect(config.socket_path())
        .await
        .is_ok();
    match tokio::net::TcpListener::bind(listen).await {
        Ok(_) => report(true, format!("listen address {listen} is free")),
        Err(_) if socket_answers => report(
            true,
            format!("listen address {listen} is used by the running clubhost"),
        ),
        Err(e) => report(false, format!("listen address {listen} is not free: {e}")),
    }

    // Orphans: objects labelled by this registry's instance whose project it no longer knows.
    if config.database_path().exists() {
        match orphans(config).await {
            Ok(o) if o.is_empty() => report(true, "no orphaned Docker objects".into()),
            Ok(o) => {
                for item in o.containers.iter().chain(&o.networks).chain(&o.volumes) {
                    println!("     orphan {item}");
                }
                report(
                    false,
                    format!(
                        "{} orphaned Docker object(s) the registry no longer knows; \
                         `clubhost gc --apply` removes them",
                        o.count()
                    ),
                )
            }
            Err(e) => report(false, format!("cannot look for orphans: {e:#}")),
        }
    }

    // The address pool: how much of it is left, before a deploy finds out.
    if config.database_path().exists() {
        match pool_usage(config).await {
            Ok(u) => {
                let pool = &config.docker.subnet_pool;
                let size = config.docker.subnet_size;
                let line = format!(
                    "subnet pool {pool} (/{size} blocks): {} used by clubhost, {} free of {} \
                     ({}% taken)",
                    u.used,
                    u.free,
                    u.total,
                    u.percent_taken()
                );
                if u.percent_taken() >= POOL_WARN_PERCENT {
                    println!(
                        "warn {line}; widen [docker] subnet_pool before it runs out \
                         (deploys then fail)"
                    );
                } else {
                    report(true, line);
                }
            }
            Err(e) => report(false, format!("cannot measure the subnet pool: {e:#}")),
        }
    }

    // HTTPS: each name's certificate, its expiry and its last failed renewal.
    if config.database_path().exists() {
        match crate::acme::doctor_lines(config).await {
            Ok(lines) => lines.into_iter().for_each(|(ok, what)| report(ok, what)),
            Err(e) => report(false, format!("cannot read certificates: {e:#}")),
        }
    }

    if problems > 0 {
        bail!("{problems} problem(s) found");
    }
    Ok(())
}

/// From this share of the subnet pool taken, `doctor` warns.
const POOL_WARN_PERCENT: u64 = 80;

/// The subnet pool's use, from the registry's records and what the engine and host hold.
async fn pool_usage(config: &Config) -> anyhow::Result<crate::subnets::Usage> {
    let (key, _) = crate::secrets::load(&KeySource::of(config), false)?;
    let registry = clubhost_registry::Registry::open(&config.database_path(), key).await?;
    let instance = registry.instance_id().await?;
    let engine = Engine::connect(config.docker.host.as_deref(), &instance).await?;
    let recorded = registry.subnets().await?;
    Ok(crate::control::subnets::usage(config, &engine, &recorded).await?)
}

/// Modes of the data dir and what clubhost keeps in it: (fine, what to say).
fn mode_checks(config: &Config) -> Vec<(bool, String)> {
    let mut checks = Vec::new();
    let dir = &config.data_dir;
    if let Some(mode) = mode_of(dir) {
        let ok = mode & 0o077 == 0;
        let what = if ok {
            format!("data dir {} is owner-only ({mode:04o})", dir.display())
        } else {
            format!(
                "data dir {} is {mode:04o}: other users can reach the registry; \
                 `chmod 700 {}` (serve does it at start)",
                dir.display(),
                dir.display()
            )
        };
        checks.push((ok, what));
    }
    let source = KeySource::of(config);
    let mut files = crate::files::database_files(&config.database_path());
    files.push(config.socket_path());
    if let KeySource::File(key) = &source {
        files.push(key.clone());
    }
    let mut loose = Vec::new();
    for file in &files {
        if let Some(mode) = mode_of(file)
            && mode & 0o077 != 0
        {
            loose.push(format!("{} ({mode:04o})", file.display()));
        }
    }
    if loose.is_empty() {
        checks.push((
            true,
            "registry, socket and secret key are owner-only".into(),
        ));
    } else {
        checks.push((
            false,
            format!(
                "readable or writable by others: {}; `chmod 600` them (serve does it at start)",
                loose.join(", ")
            ),
        ));
    }
    match crate::secrets::load(&source, false) {
        Ok(_) => checks.push((true, format!("secret key: {source}"))),
        // Before the first start there is neither a registry nor a key: serve makes both.
        Err(crate::secrets::SecretsError::Missing(_)) if !config.database_path().exists() => {}
        Err(e) => checks.push((false, e.to_string())),
    }
    checks
}

/// A warning when the config file holds credentials and users other than its owner can read it.
fn config_file_warning(config: &Config, path: &Path) -> Option<String> {
    let mode = mode_of(path)?;
    let notify = &config.notify;
    let mut held = Vec::new();
    if notify.smtp.as_ref().is_some_and(|s| s.password.is_some()) {
        held.push("an SMTP password");
    }
    if !notify.webhooks.is_empty() {
        held.push("webhook URLs");
    }
    if config.portal.invite_code.is_some() {
        held.push("the portal's invite code");
    }
    (mode & 0o044 != 0 && !held.is_empty()).then(|| {
        format!(
            "config file {} is {mode:04o} and holds {}: other local users can read them; \
             `chmod 600 {}` (or 640 with clubhost's group)",
            path.display(),
            held.join(", "),
            path.display()
        )
    })
}

/// Lists this instance's orphans without removing anything (read-only on the registry).
async fn orphans(config: &Config) -> anyhow::Result<crate::gc::Orphans> {
    let (key, _) = crate::secrets::load(&KeySource::of(config), false)?;
    let registry = clubhost_registry::Registry::open(&config.database_path(), key).await?;
    let instance = registry.instance_id().await?;
    let known: Vec<String> = registry
        .projects()
        .await?
        .into_iter()
        .map(|p| p.slug)
        .collect();
    let engine = Engine::connect(config.docker.host.as_deref(), &instance).await?;
    Ok(crate::gc::collect(&engine, &known, false).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn loose_modes_and_a_readable_config_with_credentials_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let toml = dir.path().join("clubhost.toml");
        let text = format!(
            "data_dir = {:?}\n[[notify.webhooks]]\nkind = \"slack\"\nurl = \"https://hooks.example/T0/B0/x\"\n",
            data.display()
        );
        std::fs::write(&toml, &text).unwrap();
        let config = Config::parse(&text, &toml).unwrap();

        crate::files::private_dir(&data).unwrap();
        crate::files::write_new_private(&config.database_path(), b"").unwrap();
        crate::secrets::load(&KeySource::File(config.secret_key_path()), true).unwrap();
        assert!(
            mode_checks(&config).iter().all(|(ok, _)| *ok),
            "{:?}",
            mode_checks(&config)
        );

        chmod(&data, 0o755);
        chmod(&config.database_path(), 0o644);
        let checks = mode_checks(&config);
        let failed: Vec<_> = checks
            .iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, w)| w)
            .collect();
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].contains("0755"), "{}", failed[0]);
        assert!(failed[1].contains("clubhost.db (0644)"), "{}", failed[1]);

        chmod(&toml, 0o644);
        let warning = config_file_warning(&config, &toml).unwrap();
        assert!(
            warning.contains("webhook URLs") && warning.contains("0644"),
            "{warning}"
        );
        chmod(&toml, 0o600);
        assert_eq!(config_file_warning(&config, &toml), None);
        // Readable, but nothing secret in it: no warning.
        chmod(&toml, 0o644);
        assert_eq!(config_file_warning(&Config::default(), &toml), None);
    }
}
