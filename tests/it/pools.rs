//! Address pools (issue 17): more projects than Docker's default pools hold (about 30 bridge
//! networks) all deploy and answer, each on its own block of `[docker] subnet_pool`, survive a
//! restart on the same networks, and give their blocks back when deleted; an exhausted pool is a
//! deploy error naming `[docker] subnet_pool`, and a freed block is handed out again.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::*;

/// Docker's default pools give 31 bridge networks, a few of them taken on any engine (docker0,
/// the tests' gateway); 42 projects make 42 networks.
const PROJECTS: usize = 42;
/// Approvals in flight at once: the admin API takes them concurrently.
const AT_ONCE: usize = 6;

/// One service, one page that names its project.
fn page_stack(slug: &str) -> String {
    format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo pool {slug} > /www/index.html && exec httpd -f -p 8000 -h /www"]
x-clubhost:
  expose: web
  port: 8000
"#
    )
}

/// Runs `clubhost <args> <slug>` for every slug, `AT_ONCE` at a time; returns the outputs in
/// slug order.
fn for_each_at_once(club: &Club, slugs: &[String], args: &[&str]) -> Vec<std::process::Output> {
    let next = AtomicUsize::new(0);
    let mut outs: Vec<(usize, std::process::Output)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..AT_ONCE)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(slug) = slugs.get(i) else {
                            return done;
                        };
                        let mut full = args.to_vec();
                        full.push(slug);
                        done.push((i, club.cli(&full)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    outs.sort_by_key(|(i, _)| *i);
    outs.into_iter().map(|(_, o)| o).collect()
}

/// The IPv4 subnet Docker gave a network (empty when it does not exist).
fn subnet_of(network: &str) -> String {
    docker_text(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        network,
    ])
}

/// Drops every subnet record from the club's registry (the server is stopped).
async fn forget_subnets(club: &Club) {
    let data = club.dir.path().join("data");
    let key = std::fs::read_to_string(data.join("secret.key")).unwrap();
    let key = clubhost_registry::SecretKey::from_hex(&key).unwrap();
    let registry = clubhost_registry::Registry::open(&data.join("clubhost.db"), key)
        .await
        .unwrap();
    let networks: Vec<String> = registry
        .subnets()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.network)
        .collect();
    assert!(networks.len() > PROJECTS, "{networks:?}");
    registry.free_subnets(&networks).await.unwrap();
}

/// Every project answers with its own page through the proxy.
async fn all_answer(club: &Club, slugs: &[String]) {
    let client = http();
    let checks = slugs.iter().map(|slug| {
        let client = client.clone();
        let url = club.url(&format!("/{slug}/"));
        async move {
            let res = client.get(&url).send().await.unwrap();
            assert_eq!(res.status(), 200, "{slug}");
            assert_eq!(res.text().await.unwrap().trim(), format!("pool {slug}"));
        }
    });
    futures_util::future::join_all(checks).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn more_projects_than_dockers_default_pools_each_answer() {
    let mut club = Club::new();
    // One member owns them all: lift the per-member quotas.
    let mut config = std::fs::read_to_string(&club.config).unwrap();
    config.push_str(
        "\n[lifecycle]\nmax_running_per_member = 1000\nmax_memory_per_member = \"1000g\"\n\
         max_cpus_per_member = 1000.0\n",
    );
    std::fs::write(&club.config, config).unwrap();
    club.start();
    club.ok(&["user", "add", "ana"]);
    let base = slug("pool");
    let slugs: Vec<String> = (0..PROJECTS).map(|i| format!("{base}-{i}")).collect();
    // Dropping the club removes whatever is left of these, should an assertion fail.
    club.slugs.extend(slugs.iter().cloned());
    for slug in &slugs {
        let path = club.write_stack(&format!("{slug}.yml"), &page_stack(slug));
        club.submit(slug, &path);
    }
    for (slug, out) in slugs
        .iter()
        .zip(for_each_at_once(&club, &slugs, &["project", "approve"]))
    {
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("running"),
            "approve {slug}: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            club.log()
        );
    }
    all_answer(&club, &slugs).await;

    // Each project network has its own /27 of the default pool, outside the gateway's /22.
    let subnets: Vec<String> = slugs
        .iter()
        .map(|s| subnet_of(&format!("clubhost-{s}")))
        .collect();
    for (slug, subnet) in slugs.iter().zip(&subnets) {
        let (addr, prefix) = subnet.split_once('/').unwrap_or_default();
        let third: u8 = addr
            .split('.')
            .nth(2)
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        assert!(
            addr.starts_with("10.213.") && prefix == "27" && third >= 4,
            "{slug}: {subnet}"
        );
    }
    let distinct: HashSet<&String> = subnets.iter().collect();
    assert_eq!(distinct.len(), PROJECTS, "{subnets:?}");
    let doctor = String::from_utf8_lossy(&club.cli(&["doctor"]).stdout).to_string();
    assert!(
        doctor.contains(&format!("{PROJECTS} used by clubhost")),
        "{doctor}"
    );

    // A restart finds the networks and keeps them: same ids, same subnets, every route back.
    let id_of = |s: &str| docker_text(&["network", "inspect", "-f", "{{.Id}}", s]);
    let first = format!("clubhost-{}", slugs[0]);
    let before = id_of(&first);
    club.stop();
    // As if the networks predated subnet records (an upgrade) or a crash lost them: start-up
    // must record them from Docker, not re-create them.
    forget_subnets(&club).await;
    club.start();
    all_answer(&club, &slugs).await;
    assert_eq!(id_of(&first), before);
    let after: Vec<String> = slugs
        .iter()
        .map(|s| subnet_of(&format!("clubhost-{s}")))
        .collect();
    assert_eq!(after, subnets);
    let doctor = String::from_utf8_lossy(&club.cli(&["doctor"]).stdout).to_string();
    assert!(
        doctor.contains(&format!("{PROJECTS} used by clubhost")),
        "{doctor}"
    );

    // Deleting gives every block back.
    for (slug, out) in slugs
        .iter()
        .zip(for_each_at_once(&club, &slugs, &["project", "delete"]))
    {
        assert!(
            out.status.success(),
            "delete {slug}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(networks_of(slug).is_empty(), "{slug}");
        assert!(containers_of(slug).is_empty(), "{slug}");
    }
    let doctor = String::from_utf8_lossy(&club.cli(&["doctor"]).stdout).to_string();
    assert!(doctor.contains(" 0 used by clubhost"), "{doctor}");
}

#[tokio::test]
async fn an_exhausted_pool_names_the_key_and_a_freed_block_is_reused() {
    let mut club = Club::new();
    // Two /27 blocks, far from the blocks other tests' clubs take from the default pool. The
    // [docker] table is the config file's last, so these lines land in it.
    let mut config = std::fs::read_to_string(&club.config).unwrap();
    config.push_str("subnet_pool = \"10.213.252.0/26\"\nsubnet_size = 27\n");
    std::fs::write(&club.config, config).unwrap();
    club.start();
    let base = slug("tiny");
    let slugs: Vec<String> = (0..4).map(|i| format!("{base}-{i}")).collect();
    club.deploy(&slugs[0], &page_stack(&slugs[0]));
    assert_eq!(
        subnet_of(&format!("clubhost-{}", slugs[0])),
        "10.213.252.0/27"
    );

    // A deploy that fails after its network was made gives the block back with the network:
    // otherwise the next project would find the pool exhausted.
    club.slugs.push(slugs[3].clone());
    let crash = page_stack(&slugs[3]).replace("exec httpd -f -p 8000 -h /www", "exit 3");
    let path = club.write_stack("crash.yml", &crash);
    club.submit(&slugs[3], &path);
    assert!(
        !club
            .cli(&["project", "approve", &slugs[3]])
            .status
            .success()
    );
    assert!(networks_of(&slugs[3]).is_empty());
    club.deploy(&slugs[1], &page_stack(&slugs[1]));
    assert_eq!(
        subnet_of(&format!("clubhost-{}", slugs[1])),
        "10.213.252.32/27"
    );

    club.slugs.push(slugs[2].clone());
    let path = club.write_stack("third.yml", &page_stack(&slugs[2]));
    club.submit(&slugs[2], &path);
    let out = club.cli(&["project", "approve", &slugs[2]]);
    assert!(!out.status.success());
    let shown = club.ok(&["project", "show", &slugs[2]]);
    assert!(
        shown.contains("[docker] subnet_pool 10.213.252.0/26") && shown.contains("failed"),
        "{shown}"
    );
    assert!(networks_of(&slugs[2]).is_empty());
    let doctor = String::from_utf8_lossy(&club.cli(&["doctor"]).stdout).to_string();
    assert!(
        doctor
            .contains("warn subnet pool 10.213.252.0/26 (/27 blocks): 2 used by clubhost, 0 free"),
        "{doctor}"
    );

    // The first project's block goes back to the pool with it, and the third gets it.
    club.ok(&["project", "delete", &slugs[0]]);
    let out = club.ok(&["project", "redeploy", &slugs[2]]);
    assert!(out.contains("running"), "{out}");
    assert_eq!(
        subnet_of(&format!("clubhost-{}", slugs[2])),
        "10.213.252.0/27"
    );
    let res = http()
        .get(club.url(&format!("/{}/", slugs[2])))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
