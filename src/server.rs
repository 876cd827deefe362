//! `clubhost serve`: wires the registry, Docker, the proxy, the portal and the admin socket
//! together and runs them until SIGTERM or Ctrl-C.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use tokio::net::{TcpListener, UnixListener};

use clubhost_core::config::Config;
use clubhost_core::control::Control;
use clubhost_proxy::Proxy;
use clubhost_proxy::routes::RouteHandle;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    serve_with_reload(config, None).await
}

/// Like [`serve`]; SIGHUP re-reads `config_path` (or `clubhost.toml` in the working directory when
/// `None`, as at start) and swaps in its `[[proxy.routes]]` without a restart.
pub async fn serve_with_reload(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    // Everything this process creates from here on (registry, WAL, key, socket) is owner-only.
    clubhost_core::files::private_umask();
    let config = Arc::new(config);
    let routes = RouteHandle::default();
    let control = Arc::new(Control::open(config.clone(), routes.clone()).await?);

    // Bind first: a port in use or a second server is reported before anything else changes.
    let listener = TcpListener::bind(config.proxy.listen)
        .await
        .with_context(|| format!("cannot listen on {} (proxy.listen)", config.proxy.listen))?;
    let https_listener = match config.proxy.https_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (proxy.https_listen)"))?,
        ),
        None => None,
    };
    let socket = bind_admin_socket(&config).await?;
    // This is now the only server on this data dir: it takes over every undelivered notification.
    control
        .notifier()
        .resume()
        .await
        .context("resuming notifications")?;

    let (endpoint, engine_version, api_version) = control.docker_version().await?;
    tracing::info!(%endpoint, %engine_version, %api_version, "Docker connected");
    control
        .reconcile()
        .await
        .context("reconciling the registry with Docker")?;
    control.set_drain(config.docker.drain_timeout);
    tokio::spawn(clubhost_core::watch::run(control.clone()));

    let portal =
        crate::portal::router(control.clone()).layer(from_fn(finish_even_if_caller_leaves));
    let settings = config.proxy_settings();
    let mut proxy = Proxy::with_settings(routes.clone(), portal, settings);
    if let Some(dialer) = control.dialer() {
        // Swarm mode: sockets to tasks are made on the gateway overlay (docs/scale-out.md).
        proxy = proxy.with_dialer(dialer);
    }
    // HTTPS: the stored (and the club's own) certificates are loaded before the first handshake.
    let mut certificates = None;
    if let Some(addr) = config.proxy.https_listen {
        let site = clubhost_proxy::tls::TlsSite {
            certs: Default::default(),
            challenges: Default::default(),
            https_port: addr.port(),
            hsts_max_age: Some(config.tls.hsts_max_age),
        };
        let manager = clubhost_core::acme::Manager::start(&control, site.clone(), routes)
            .await
            .context("loading HTTPS certificates")?;
        certificates = Some(manager);
        proxy = proxy.with_tls(site);
    }
    let proxy = Arc::new(proxy);
    let api = crate::api::router(control.clone()).layer(from_fn(finish_even_if_caller_leaves));
    tracing::info!(listen = %config.proxy.listen, domain = %config.domain, "clubhost serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let plain_proxy = proxy.clone();
    let proxy_task = tokio::spawn({
        let mut rx = stop_rx.clone();
        async move {
            plain_proxy
                .serve(listener, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
        }
    });
    let https_task = https_listener.map(|listener| {
        let proxy = proxy.clone();
        let mut rx = stop_rx.clone();
        tracing::info!(listen = ?config.proxy.https_listen, "serving HTTPS");
        tokio::spawn(async move {
            proxy
                .serve_tls(listener, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
        })
    });
    let acme_task = certificates.map(|m| tokio::spawn(m.run(stop_rx.clone())));
    // Terms: sleeps until the next reminder, expiry or purge and acts on it.
    let scheduler_task = tokio::spawn(clubhost_core::control::scheduler::run(
        control.clone(),
        stop_rx.clone(),
    ));
    let api_task = tokio::spawn({
        let mut rx = stop_rx.clone();
        async move {
            axum::serve(socket, api)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
        }
    });

    let reload_task = tokio::spawn(reload_on_hangup(control.clone(), config_path));
    shutdown_signal().await;
    reload_task.abort();
    tracing::info!("shutting down: finishing requests in flight");
    let _ = stop_tx.send(true);
    let _ = proxy_task.await;
    if let Some(task) = https_task {
        let _ = task.await;
    }
    // An order in progress is dropped: its name is ordered again at the next start.
    if let Some(task) = acme_task {
        task.abort();
    }
    let _ = api_task.await;
    let _ = scheduler_task.await;
    let _ = std::fs::remove_file(config.socket_path());
    Ok(())
}

/// Binds the admin socket (mode 0600). A socket file left by a crashed server is replaced; one
/// that still answers means a server is already running.
async fn bind_admin_socket(config: &Config) -> anyhow::Result<UnixListener> {
    let path = config.socket_path();
    if path.exists() {
        if tokio::net::UnixStream::connect(&path).await.is_ok() {
            bail!(
                "a clubhost server is already running with this data dir ({})",
                path.display()
            );
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("cannot bind admin socket {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set mode 0600 on {}", path.display()))?;
    Ok(listener)
}

/// On each SIGHUP: re-read the config file and republish routes with its static routes. A file
/// that no longer parses is reported and the running routes stay as they are.
async fn reload_on_hangup(control: Arc<Control>, config_path: Option<PathBuf>) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGHUP; static routes will not reload");
            return;
        }
    };
    while hup.recv().await.is_some() {
        match Config::load(config_path.as_deref()) {
            Ok(fresh) => match control.reload_routing(&fresh.proxy).await {
                Ok(()) => tracing::info!(
                    routes = fresh.proxy.routes.len(),
                    "SIGHUP: static routes reloaded"
                ),
                Err(e) => tracing::error!(error = %e, "SIGHUP: publishing routes failed"),
            },
            Err(e) => tracing::error!(error = %e, "SIGHUP: config not reloaded; keeping routes"),
        }
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Runs each portal and admin API request in its own task. hyper drops a request's future when the
/// caller disconnects; for an approve or a delete that would stop a deploy or a teardown halfway
/// (a project stuck in `deploying` until the next restart). A spawned task runs to its end
/// whoever is still listening.
async fn finish_even_if_caller_leaves(req: Request, next: Next) -> Response {
    match tokio::spawn(next.run(req)).await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "request handler panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
