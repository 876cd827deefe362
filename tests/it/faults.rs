//! Faults and isolation: redeploys that drop nothing, containers that die and come back, a server
//! killed with SIGKILL mid-operation, and projects that cannot reach each other.

use std::time::{Duration, Instant};

use crate::common::*;

fn web_container(slug: &str) -> String {
    let filter = format!("label=clubhost.project={slug}");
    let names = docker_text(&[
        "ps",
        "--filter",
        &filter,
        "--filter",
        "label=clubhost.service=web",
        "--format",
        "{{.Names}}",
    ]);
    names.lines().next().unwrap_or_default().to_string()
}

/// Polls `url` until it answers `status` or `limit` passes; returns whether it did.
async fn wait_for_status(url: &str, status: u16, limit: Duration) -> bool {
    let client = http();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(res) = client.get(url).send().await
            && res.status() == status
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeploy_under_load_drops_no_request() {
    let mut club = Club::new();
    club.start();
    let slug = slug("zero");
    club.deploy(&slug, &two_service_stack());
    let old_web = web_container(&slug);
    let url = club.url(&format!("/{slug}/"));

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn({
        let done = done.clone();
        let url = url.clone();
        async move {
            let client = http();
            let (mut ok, mut failed) = (0u32, Vec::new());
            // Bounded: stops when the redeploy is over, or after 20,000 requests.
            while !done.load(std::sync::atomic::Ordering::Relaxed) && ok < 20_000 {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let config = club.config.clone();
    let slug2 = slug.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_clubhost"))
            .args([
                "--config",
                config.to_str().unwrap(),
                "project",
                "redeploy",
                &slug2,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Keep the load on through the old deployment's drain and removal.
    tokio::time::sleep(Duration::from_secs(2)).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = load.await.unwrap();
    assert!(
        failed.is_empty(),
        "{} failed of {}: {:?}",
        failed.len(),
        ok,
        &failed[..failed.len().min(5)]
    );
    assert!(ok > 20, "only {ok} requests went through");
    // The old deployment goes after the drain (1 s here); a loaded machine may take longer.
    let deadline = Instant::now() + Duration::from_secs(30);
    while containers_of(&slug).contains(&old_web) {
        assert!(
            Instant::now() < deadline,
            "the old deployment was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let new_web = web_container(&slug);
    assert_ne!(
        old_web,
        new_web,
        "the web container was replaced:\n{}",
        club.log()
    );
    assert_eq!(containers_of(&slug).len(), 2);
}

#[tokio::test]
async fn a_stopped_container_gets_the_503_page_and_its_route_back() {
    let mut club = Club::new();
    club.start();
    let slug = slug("dies");
    club.deploy(&slug, &two_service_stack());
    let url = club.url(&format!("/{slug}/"));
    let web = web_container(&slug);

    docker(&["stop", "-t", "1", &web]);
    assert!(
        wait_for_status(&url, 503, Duration::from_secs(10)).await,
        "no 503 after the container died:\n{}",
        club.log()
    );
    let page = http().get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("restarting"), "{page}");

    docker(&["start", &web]);
    assert!(
        wait_for_status(&url, 200, Duration::from_secs(30)).await,
        "route did not come back:\n{}",
        club.log()
    );
}

#[tokio::test]
async fn a_crashing_container_restarts_per_its_policy_and_serves_again() {
    let mut club = Club::new();
    club.start();
    let slug = slug("crashy");
    let stack = two_service_stack().replace(
        "    depends_on: [db]\n",
        "    depends_on: [db]\n    restart: always\n",
    );
    club.deploy(&slug, &stack);
    let url = club.url(&format!("/{slug}/"));
    let web = web_container(&slug);

    // Kill the web server inside the container (docker-init is PID 1; httpd is its child).
    let out = docker(&[
        "exec",
        &web,
        "sh",
        "-c",
        "kill -9 $(cat /proc/1/task/1/children)",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while docker_text(&["inspect", "-f", "{{.RestartCount}}", &web]) == "0" {
        assert!(
            Instant::now() < deadline,
            "Docker did not restart the container"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        wait_for_status(&url, 200, Duration::from_secs(30)).await,
        "route did not come back:\n{}",
        club.log()
    );
    assert_eq!(
        web_container(&slug),
        web,
        "same container, restarted in place"
    );
}

/// After a crash, the project must end in `want` with only one deployment's containers.
async fn assert_converged(club: &Club, slug: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let show = club.cli(&["project", "show", slug, "--json"]);
        let state = serde_json::from_slice::<serde_json::Value>(&show.stdout)
            .map(|v| v["project"]["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_default();
        if state == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{slug} stuck in {state:?}, want {want}:\n{}",
            club.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let containers = containers_of(slug);
    if want == "running" {
        assert_eq!(
            containers.len(),
            2,
            "duplicates or missing containers: {containers:?}"
        );
        let deployments: std::collections::HashSet<_> = containers
            .iter()
            .map(|c| c.rsplit('-').next().unwrap().to_string())
            .collect();
        assert_eq!(deployments.len(), 1, "{containers:?}");
        let res = http()
            .get(club.url(&format!("/{slug}/")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    } else {
        assert!(containers.is_empty(), "{containers:?}");
    }
}

#[tokio::test]
async fn sigkill_during_deploy_and_expire_converges_after_restart() {
    let mut club = Club::new();
    club.ok(&["user", "add", "ana"]);
    let path = club.write_stack("s.yml", &two_service_stack());
    // Kill the server at several points of a deploy, from before Docker is touched to after.
    for (i, delay_ms) in [0u64, 150, 400, 800].into_iter().enumerate() {
        let slug = slug(&format!("kill{i}"));
        club.slugs.push(slug.clone());
        club.start();
        club.submit(&slug, &path);
        let mut approve = club.cli_background(&["project", "approve", &slug]);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        club.kill9();
        let _ = approve.wait();
        club.start();
        // Killed before the approve arrived: nothing happened, and the admin approves again.
        let show: serde_json::Value =
            serde_json::from_str(&club.ok(&["project", "show", &slug, "--json"])).unwrap();
        if show["project"]["state"] == "requested" {
            assert!(containers_of(&slug).is_empty());
            club.ok(&["project", "approve", &slug]);
        }
        assert_converged(&club, &slug, "running").await;

        // And once more in the middle of an expire.
        let mut expire = club.cli_background(&["project", "expire", &slug]);
        tokio::time::sleep(Duration::from_millis(delay_ms / 4)).await;
        club.kill9();
        let _ = expire.wait();
        club.start();
        let show: serde_json::Value =
            serde_json::from_str(&club.ok(&["project", "show", &slug, "--json"])).unwrap();
        let state = show["project"]["state"].as_str().unwrap().to_string();
        // The expire either happened (no containers) or not yet (still running); never half.
        assert!(state == "expired" || state == "running", "{state}");
        assert_converged(&club, &slug, &state).await;
        club.stop();
    }

    // A delete cut short: afterwards the project is either gone with its containers, or whole.
    for (i, delay_ms) in [0u64, 100, 300].into_iter().enumerate() {
        let slug = slug(&format!("del{i}"));
        club.slugs.push(slug.clone());
        club.start();
        club.submit(&slug, &path);
        club.ok(&["project", "approve", &slug]);
        let mut delete = club.cli_background(&["project", "delete", &slug]);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        club.kill9();
        let _ = delete.wait();
        club.start();
        let show = club.cli(&["project", "show", &slug, "--json"]);
        if show.status.success() {
            assert_converged(&club, &slug, "running").await;
        } else {
            assert!(
                containers_of(&slug).is_empty(),
                "orphans: {:?}",
                containers_of(&slug)
            );
            assert!(
                networks_of(&slug).is_empty(),
                "orphan networks: {:?}",
                networks_of(&slug)
            );
        }
        club.stop();
    }
}

#[tokio::test]
async fn projects_cannot_reach_each_other() {
    let mut club = Club::new();
    let a = slug("iso-a");
    let b = slug("iso-b");
    club.deploy(&a, &two_service_stack());
    club.deploy(&b, &two_service_stack());
    let a_web = web_container(&a);
    let b_web = web_container(&b);
    let b_db = containers_of(&b)
        .into_iter()
        .find(|c| c.contains("-db-"))
        .unwrap();
    let ip_on = |c: &str, net: &str| {
        docker_text(&[
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
            c,
        ])
    };
    let b_web_ip = ip_on(&b_web, GATEWAY);
    let b_db_ip = ip_on(&b_db, &format!("clubhost-{b}"));
    assert!(!b_web_ip.is_empty() && !b_db_ip.is_empty());

    // Positive controls: the host reaches B's web (as the proxy does) and A reaches its own db.
    let addr: std::net::SocketAddr = format!("{b_web_ip}:8000").parse().unwrap();
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    // What A's web container gets back from a TCP connection to ip:port (empty: no connection).
    let reach = |ip: &str, port: u16| {
        let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} {port}");
        let out = docker(&["exec", &a_web, "sh", "-c", &script]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(reach("db", 3306), "hello db");
    // A's web (on the gateway) cannot open B's web on the gateway: inter-container traffic is off.
    assert_eq!(reach(&b_web_ip, 8000), "", "A reached B's web");
    // Nor B's database on B's internal network.
    assert_eq!(reach(&b_db_ip, 3306), "", "A reached B's db");
    // B's db does not resolve from A either.
    let out = docker(&[
        "exec",
        &a_web,
        "sh",
        "-c",
        &format!("echo | nc -w 2 {b_db} 3306"),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());

    // No container of ours has a host path or the Docker socket.
    for c in containers_of(&a).into_iter().chain(containers_of(&b)) {
        let mounts = docker_text(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}}:{{.Source}} {{end}}",
            &c,
        ]);
        for m in mounts.split_whitespace() {
            assert!(m.starts_with("volume:"), "{c} has mount {m}");
            assert!(!m.contains("docker.sock"), "{c} has the Docker socket");
        }
        assert_eq!(
            docker_text(&["inspect", "-f", "{{.HostConfig.Privileged}}", &c]),
            "false"
        );
    }
}

/// A unix socket that forwards to the Docker engine until it is switched off: stands in for an
/// engine that goes away and comes back (stopping the machine's real engine would disturb other
/// tests running against it).
struct DockerLink {
    path: std::path::PathBuf,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl DockerLink {
    fn new(dir: &std::path::Path) -> DockerLink {
        let mut link = DockerLink {
            path: dir.join("docker-link.sock"),
            task: None,
        };
        link.up();
        link
    }

    fn up(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let listener = tokio::net::UnixListener::bind(&self.path).unwrap();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut engine) =
                        tokio::net::UnixStream::connect("/var/run/docker.sock").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
            }
        }));
    }

    /// Closes the socket and every forwarded connection (the JoinSet drops with the task).
    fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_keeps_serving_while_docker_is_unreachable() {
    let mut club = Club::new();
    let mut link = DockerLink::new(club.dir.path());
    let text = std::fs::read_to_string(&club.config).unwrap().replace(
        "[docker]\n",
        &format!("[docker]\nhost = \"unix://{}\"\n", link.path.display()),
    );
    std::fs::write(&club.config, text).unwrap();
    club.start();
    let slug = slug("nodocker");
    let stack = two_service_stack().replace(
        "    depends_on: [db]\n",
        "    depends_on: [db]\n    restart: always\n",
    );
    club.deploy(&slug, &stack);
    let url = club.url(&format!("/{slug}/"));
    assert!(wait_for_status(&url, 200, Duration::from_secs(5)).await);

    link.down();
    // Visitors still reach the project: the proxy never asks Docker anything.
    for _ in 0..20 {
        assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    }
    // Operations that need Docker say so, and change nothing.
    let out = club.cli(&["project", "stop", &slug]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stop without Docker succeeded");
    assert!(err.contains("Docker"), "{err}");
    let show: serde_json::Value =
        serde_json::from_str(&club.ok(&["project", "show", &slug, "--json"])).unwrap();
    assert_eq!(
        show["project"]["state"], "running",
        "a failed stop must change nothing"
    );

    link.up();
    // Once the engine is back, events flow again: a container that dies takes its route down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    docker(&["stop", "-t", "1", &web_container(&slug)]);
    assert!(
        wait_for_status(&url, 503, Duration::from_secs(15)).await,
        "watcher did not reconnect:\n{}",
        club.log()
    );
}
