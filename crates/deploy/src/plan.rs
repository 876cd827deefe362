//! The plan: what a stack becomes on the engine, as plain data. Names derived from the slug, and
//! each service's [`ContainerPlan`], in start order. Nothing here talks to Docker.

use clubhost_docker::{
    ContainerPlan, LABEL_DEPLOYMENT, LABEL_PROJECT, LABEL_SERVICE, PlannedMount,
};
use clubhost_stack::Stack;

/// Where a deploy puts things, derived from the slug alone.
pub fn network_name(slug: &str) -> String {
    format!("clubhost-{slug}")
}

/// A network the stack file declares: `clubhost-<slug>_<name>`. Slugs have no `_`, so this never
/// equals another project's `clubhost-<slug>`.
pub fn stack_network_name(slug: &str, network: &str) -> String {
    format!("clubhost-{slug}_{network}")
}

/// The project networks a service is on: the ones its file names (`default` is the project
/// network), or the project network when it names none.
fn service_networks(slug: &str, svc: &clubhost_stack::ServiceSpec) -> Vec<String> {
    let mut nets: Vec<String> = svc
        .networks
        .iter()
        .map(|n| {
            if n == "default" {
                network_name(slug)
            } else {
                stack_network_name(slug, n)
            }
        })
        .collect();
    if nets.is_empty() {
        nets.push(network_name(slug));
    }
    nets.dedup();
    nets
}

pub fn volume_name(slug: &str, volume: &str) -> String {
    format!("clubhost-{slug}-{volume}")
}

pub fn container_name(slug: &str, service: &str, deployment: i64) -> String {
    format!("clubhost-{slug}-{service}-{deployment}")
}

/// The containers a stack becomes, in start order. Pure: the same inputs give the same plan.
pub fn plan(slug: &str, stack: &Stack, deployment: i64, gateway: &str) -> Vec<ContainerPlan> {
    stack
        .services
        .iter()
        .map(|svc| {
            let exposed = svc.name == stack.expose.service;
            let mut networks = service_networks(slug, svc);
            let network = networks.remove(0);
            ContainerPlan {
                name: container_name(slug, &svc.name, deployment),
                image: svc.image.clone(),
                platform: svc.platform.clone(),
                cmd: svc.command.clone(),
                entrypoint: svc.entrypoint.clone(),
                env: svc.environment.clone(),
                // The member's labels, then clubhost's over them.
                labels: svc
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .chain([
                        (LABEL_PROJECT.to_string(), slug.to_string()),
                        (LABEL_SERVICE.to_string(), svc.name.clone()),
                        (LABEL_DEPLOYMENT.to_string(), deployment.to_string()),
                    ])
                    .collect(),
                volumes: svc
                    .mounts
                    .iter()
                    .map(|m| PlannedMount {
                        volume: volume_name(slug, &m.volume),
                        target: m.target.clone(),
                        read_only: m.read_only,
                        nocopy: m.nocopy,
                    })
                    .collect(),
                healthcheck: svc.healthcheck.clone(),
                restart: svc.restart,
                network,
                project_networks: networks,
                aliases: vec![svc.name.clone()],
                extra_networks: if exposed {
                    vec![gateway.to_string()]
                } else {
                    Vec::new()
                },
                memory_bytes: svc.limits.memory_bytes,
                nano_cpus: svc.limits.nano_cpus,
                pids_limit: svc.limits.pids,
                user: svc.user.clone(),
                working_dir: svc.working_dir.clone(),
                tmpfs: svc
                    .tmpfs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                read_only: svc.read_only,
                stop_signal: svc.stop_signal.clone(),
                stop_timeout: svc
                    .stop_grace_period
                    .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                cap_drop: svc.cap_drop.clone(),
                hostname: svc.hostname.clone(),
                domainname: svc.domainname.clone(),
                logging: svc.logging.clone(),
                shm_size: svc.shm_size,
                ulimits: svc.ulimits.clone(),
                // docker-init unless the file says `init: false`.
                init: svc.init.unwrap_or(true),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clubhost_stack::{LogDriver, Logging, Ulimit};

    #[test]
    fn only_the_exposed_service_joins_the_gateway() {
        let stack = clubhost_stack::parse(
            "services:\n  web:\n    image: w\n    depends_on: [db]\n    volumes: [data:/d]\n  db:\n    image: d\nvolumes:\n  data:\nx-clubhost: {expose: web, port: 8000}\n",
        )
        .unwrap();
        let plans = plan("blog", &stack, 7, "gw");
        assert_eq!(plans[0].name, "clubhost-blog-db-7");
        assert!(plans[0].extra_networks.is_empty());
        assert_eq!(plans[1].extra_networks, ["gw"]);
        assert_eq!(plans[1].network, "clubhost-blog");
        assert_eq!(plans[1].aliases, ["web"]);
        assert_eq!(
            plans[1].volumes,
            [PlannedMount {
                volume: "clubhost-blog-data".into(),
                target: "/d".into(),
                read_only: false,
                nocopy: false
            }]
        );
        assert_eq!(plans[1].labels[LABEL_PROJECT], "blog");
    }

    #[test]
    fn service_settings_and_limits_reach_the_container_plan() {
        let stack = clubhost_stack::parse(
            "services:\n  web:\n    image: w\n    user: \"1000\"\n    working_dir: /srv\n    read_only: true\n    tmpfs: [\"/tmp:size=8m\"]\n    stop_signal: SIGINT\n    stop_grace_period: 1m\n    mem_limit: 64m\n    cpus: 0.25\n    pids_limit: 40\n    cap_drop: [ALL]\n    labels:\n      team: web\n",
        )
        .unwrap();
        let p = &plan("blog", &stack, 3, "gw")[0];
        assert_eq!(
            (p.memory_bytes, p.nano_cpus, p.pids_limit),
            (64 << 20, 250_000_000, 40)
        );
        assert_eq!(p.user.as_deref(), Some("1000"));
        assert_eq!(p.working_dir.as_deref(), Some("/srv"));
        assert!(p.read_only);
        assert_eq!(p.tmpfs["/tmp"], "size=8m");
        assert_eq!(p.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(p.stop_timeout, Some(60));
        assert_eq!(p.cap_drop, ["ALL"]);
        assert_eq!(p.labels["team"], "web");
        assert_eq!(p.labels[LABEL_SERVICE], "web");
    }

    #[test]
    fn declared_networks_become_project_networks() {
        let stack =
            clubhost_stack::parse(include_str!("../../../tests/compose/seed-wordpress.yml"))
                .unwrap();
        let plans = plan("blog", &stack, 1, "gw");
        let db = &plans[0];
        assert_eq!(db.network, "clubhost-blog_back-end");
        assert!(db.project_networks.is_empty() && db.extra_networks.is_empty());
        let wp = &plans[1];
        assert_eq!(wp.network, "clubhost-blog_back-end");
        assert_eq!(wp.extra_networks, ["gw"]);
    }

    #[test]
    fn the_small_keys_reach_the_container_plan() {
        let stack = clubhost_stack::parse(
            "services:\n  web:\n    image: w\n    hostname: box\n    domainname: club.internal\n    platform: linux/amd64\n    init: false\n    shm_size: 128m\n    ulimits:\n      nofile: {soft: 1024, hard: 2048}\n    logging:\n      driver: local\n      options: {max-size: 1m, max-file: \"2\"}\n    volumes: [\"data:/d:nocopy\"]\n  db:\n    image: d\nvolumes:\n  data:\nx-clubhost: {expose: web, port: 80}\n",
        )
        .unwrap();
        let plans = plan("blog", &stack, 1, "gw");
        let web = plans
            .iter()
            .find(|p| p.name == "clubhost-blog-web-1")
            .unwrap();
        assert_eq!(web.hostname.as_deref(), Some("box"));
        assert_eq!(web.domainname.as_deref(), Some("club.internal"));
        assert_eq!(web.platform.as_deref(), Some("linux/amd64"));
        assert!(!web.init);
        assert_eq!(web.shm_size, Some(128 << 20));
        assert_eq!(
            web.ulimits,
            [Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }]
        );
        assert_eq!(
            web.logging,
            Some(Logging {
                driver: LogDriver::Local,
                max_size_bytes: 1 << 20,
                max_files: 2
            })
        );
        assert!(web.volumes[0].nocopy);
        // A service that says nothing keeps docker-init and the engine's defaults.
        let db = plans
            .iter()
            .find(|p| p.name == "clubhost-blog-db-1")
            .unwrap();
        assert!(db.init);
        assert_eq!(
            (db.hostname.as_ref(), db.shm_size, db.logging.as_ref()),
            (None, None, None)
        );
        assert!(db.ulimits.is_empty() && db.platform.is_none());
    }
}
