//! `clubhost doctor`: checks what `serve` needs and says plainly what is wrong.

use anyhow::bail;

use crate::config::Config;
use clubhost_docker::Engine;

/// Checks Docker, the data directory, the listen address and orphaned Docker objects, printing
/// one `ok`/`FAIL` line each; an error when anything failed, so the exit status tells.
pub async fn run(config: &Config) -> anyhow::Result<()> {
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
    let writable = std::fs::create_dir_all(dir).and_then(|()| {
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

    if problems > 0 {
        bail!("{problems} problem(s) found");
    }
    Ok(())
}

/// From this share of the subnet pool taken, `doctor` warns.
const POOL_WARN_PERCENT: u64 = 80;

/// The subnet pool's use, from the registry's records and what the engine and host hold.
async fn pool_usage(config: &Config) -> anyhow::Result<crate::subnets::Usage> {
    let registry = clubhost_registry::Registry::open(&config.database_path()).await?;
    let instance = registry.instance_id().await?;
    let engine = Engine::connect(config.docker.host.as_deref(), &instance).await?;
    let recorded = registry.subnets().await?;
    Ok(crate::control::subnets::usage(config, &engine, &recorded).await?)
}

/// Lists this instance's orphans without removing anything (read-only on the registry).
async fn orphans(config: &Config) -> anyhow::Result<crate::gc::Orphans> {
    let registry = clubhost_registry::Registry::open(&config.database_path()).await?;
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
