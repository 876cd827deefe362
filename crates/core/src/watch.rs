//! Keeps routes honest between deploys by following Docker's event stream: when a running
//! project's exposed container dies, its route answers the 503 page at once; when Docker restarts
//! it (per the service's restart policy, with Docker's own backoff) and it accepts connections
//! again, the route comes back. If the engine goes away, the proxy keeps serving what it has and
//! this task reconnects with backoff, then re-checks every serving deployment.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::control::Control;
use clubhost_docker::{ContainerEvent, ContainerStatus, Engine};

/// Runs until the process ends.
pub async fn run(control: Arc<Control>) {
    if control.swarm_mode() {
        // Swarm replaces tasks itself; the swarm backend follows their addresses.
        return;
    }
    let mut backoff = Duration::from_millis(250);
    loop {
        match control.engine().await {
            Ok(engine) => {
                let engine = engine.clone();
                resync(&control, &engine).await;
                let mut events = Box::pin(engine.container_events());
                while let Some(event) = events.next().await {
                    backoff = Duration::from_millis(250);
                    match event {
                        Ok(e) => handle(&control, &engine, e).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "Docker event stream broke");
                            break;
                        }
                    }
                }
                tracing::warn!("Docker event stream ended; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "Docker unreachable; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn handle(control: &Control, engine: &Engine, e: ContainerEvent) {
    let Some(live) = control.live(&e.project) else {
        return;
    };
    if e.deployment != Some(live.deployment) || !is_exposed(control, &e).await {
        return;
    }
    match e.action.as_str() {
        "die" => {
            tracing::warn!(project = %e.project, container = %e.id, "exposed container died");
            let _ = control
                .set_live_health(&e.project, live.deployment, None, false)
                .await;
        }
        "start" | "health_status: healthy" => {
            check_back(control, engine, &e.project, &e.id, live.deployment).await;
        }
        _ => {}
    }
}

/// Whether the event is about the service the proxy serves for its project.
async fn is_exposed(control: &Control, e: &ContainerEvent) -> bool {
    let Ok(project) = control.registry.project(&e.project).await else {
        return false;
    };
    // With the project's variables and limits, exactly as it was deployed.
    control
        .project_stack(&project)
        .await
        .is_ok_and(|s| s.expose.service == e.service)
}

/// A container came back: once it answers on its (possibly new) address, restore the route.
async fn check_back(control: &Control, engine: &Engine, slug: &str, id: &str, deployment: i64) {
    let gateway = &control.config().docker.gateway_network;
    let Some(port) = control.live(slug).map(|l| l.addr.port()) else {
        return;
    };
    // Bounded: 30 s of attempts, then the next event (or resync) tries again.
    for _ in 0..300 {
        match engine.status(id).await {
            Ok(ContainerStatus::Running | ContainerStatus::Healthy) => {}
            Ok(ContainerStatus::Starting) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            _ => return,
        }
        if let Ok(Some(ip)) = engine.address_on(id, gateway).await {
            let addr = clubhost_docker::upstream(ip, port);
            let probe = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            );
            if let Ok(Ok(_)) = probe.await {
                tracing::info!(project = %slug, %addr, "exposed container is back");
                let _ = control
                    .set_live_health(slug, deployment, Some(addr), true)
                    .await;
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After (re)connecting: events may have been missed, so look at each serving deployment.
async fn resync(control: &Control, engine: &Engine) {
    let Ok(containers) = engine.containers(None).await else {
        return;
    };
    for c in containers {
        let Some(live) = control.live(&c.project) else {
            continue;
        };
        let e = ContainerEvent {
            id: c.id.clone(),
            action: if c.running { "start" } else { "die" }.into(),
            project: c.project.clone(),
            service: c.service.clone(),
            deployment: c.deployment,
        };
        if c.deployment == Some(live.deployment) && is_exposed(control, &e).await {
            handle(control, engine, e).await;
        }
    }
}
