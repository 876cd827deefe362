//! `clubhost doctor`: checks what `serve` needs and says plainly what is wrong.

use anyhow::bail;

use crate::config::Config;
use crate::docker::Engine;

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

    if problems > 0 {
        bail!("{problems} problem(s) found");
    }
    Ok(())
}
