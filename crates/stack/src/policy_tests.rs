//! Every construct the policy refuses, through each syntax it can be written in: refused as
//! policy (not as an unknown key), with its reason, line and column.

use super::*;

fn violations(src: &str) -> Vec<Violation> {
    check(src, &Vars::new(), &Limits::default()).violations
}

/// Asserts `src` is refused by the policy at `line`, with a message containing `reason`.
#[track_caller]
fn refused(src: &str, line: u64, reason: &str) {
    let v = violations(src);
    assert!(
        v.iter().any(|v| v.kind == ViolationKind::Policy
            && v.line == line
            && v.column > 0
            && v.message.contains(reason)),
        "expected a policy violation at line {line} containing {reason:?}, got {v:#?}\nin:\n{src}"
    );
}

fn svc(extra: &str) -> String {
    format!("services:\n  web:\n    image: nginx\n{extra}")
}

#[test]
fn privileged_cap_add_devices() {
    refused(&svc("    privileged: true\n"), 4, "take over");
    refused(&svc("    cap_add: [SYS_ADMIN]\n"), 4, "capabilities");
    refused(&svc("    cap_add:\n      - NET_ADMIN\n"), 4, "capabilities");
    refused(
        &svc("    devices:\n      - /dev/fuse:/dev/fuse\n"),
        4,
        "devices",
    );
}

#[test]
fn host_namespaces() {
    refused(&svc("    network_mode: host\n"), 4, "server's own network");
    refused(
        &svc("    network_mode: \"container:other\"\n"),
        4,
        "another container",
    );
    refused(
        &svc("    network_mode: service:db\n"),
        4,
        "another container",
    );
    for key in ["pid", "ipc", "uts", "userns_mode"] {
        refused(&svc(&format!("    {key}: host\n")), 4, "namespace");
    }
}

#[test]
fn bind_mounts_short_and_long_syntax() {
    refused(
        &svc("    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n"),
        5,
        "Docker socket",
    );
    refused(
        &svc("    volumes:\n      - ../site:/usr/share/nginx/html:ro\n"),
        5,
        "host path",
    );
    refused(&svc("    volumes:\n      - ~/data:/data\n"), 5, "host path");
    refused(
        &svc("    volumes:\n      - type: bind\n        source: /etc\n        target: /etc2\n"),
        6,
        "host path",
    );
    refused(
        &svc(
            "    volumes:\n      - type: volume\n        source: /var/run/docker.sock\n        target: /s\n",
        ),
        6,
        "Docker socket",
    );
    refused(
        &svc("    volumes:\n      - {type: bind, source: /, target: /host}\n"),
        5,
        "host path",
    );
}

#[test]
fn driver_opts_and_external_volumes() {
    let src = "services:\n  web:\n    image: nginx\n    volumes: [data:/d]\nvolumes:\n  data:\n    driver_opts:\n      type: none\n      o: bind\n      device: /srv\n";
    refused(src, 7, "host paths");
    let src = "services:\n  web:\n    image: nginx\nvolumes:\n  data:\n    driver: nfs\n";
    refused(src, 6, "local driver");
    let src = "services:\n  web:\n    image: nginx\nvolumes:\n  data:\n    external: true\n";
    refused(src, 6, "outside this project");
}

#[test]
fn security_opt_that_disables_protection() {
    refused(
        &svc("    security_opt:\n      - seccomp:unconfined\n"),
        4,
        "seccomp",
    );
    refused(
        &svc("    security_opt: [\"apparmor=unconfined\"]\n"),
        4,
        "seccomp/AppArmor",
    );
    refused(
        &svc("    security_opt:\n      - no-new-privileges:false\n"),
        4,
        "no-new-privileges",
    );
    // The protective form is fine.
    assert!(violations(&svc("    security_opt:\n      - no-new-privileges:true\n")).is_empty());
}

#[test]
fn sysctls_build() {
    refused(
        &svc("    sysctls:\n      net.core.somaxconn: 1024\n"),
        4,
        "kernel",
    );
    refused(
        &svc("    sysctls:\n      - net.core.somaxconn=1024\n"),
        4,
        "kernel",
    );
}

#[test]
fn reaching_host_files_or_other_containers() {
    refused(
        &svc("    env_file: /etc/environment\n"),
        4,
        "server's files",
    );
    refused(&svc("    env_file: [../other/.env]\n"), 4, "server's files");
    refused(
        &svc("    volumes: [\"../other-project:/data\"]\n"),
        4,
        "host path",
    );
    refused(&svc("    volumes_from: [other]\n"), 4, "named volume");
    refused(
        &svc("    labels:\n      clubhost.project: other\n"),
        5,
        "clubhost's own",
    );
}

#[test]
fn limits_are_defaulted_capped_and_counted() {
    let limits = Limits::default();
    let s = |extra: &str| {
        let r = check(&svc(extra), &Vars::new(), &limits);
        let capped = r
            .warnings
            .into_iter()
            .filter(|w| w.message.contains("capped"))
            .collect::<Vec<_>>();
        (r.stack.expect("loads").services[0].limits, capped)
    };
    let (l, w) = s("");
    assert_eq!(l.memory_bytes, limits.default_memory_bytes());
    assert_eq!(l.nano_cpus, 500_000_000);
    assert_eq!(l.pids, limits.default_pids);
    assert!(w.is_empty());
    let (l, w) = s("    mem_limit: 64g\n    cpus: \"16\"\n    pids_limit: -1\n");
    assert_eq!(l.memory_bytes, limits.max_memory_bytes());
    assert_eq!(l.nano_cpus, 2_000_000_000);
    assert_eq!(l.pids, limits.max_pids);
    assert_eq!(w.len(), 3, "{w:?}");
    let (l, _) = s(
        "    deploy:\n      resources:\n        limits:\n          memory: 128M\n          cpus: '0.25'\n          pids: 50\n",
    );
    assert_eq!(
        (l.memory_bytes, l.nano_cpus, l.pids),
        (128 << 20, 250_000_000, 50)
    );

    let tight = Limits {
        max_services: 1,
        ..Limits::default()
    };
    let v = check(
        "services:\n  a:\n    image: x\n  b:\n    image: y\nx-clubhost: {expose: a}\n",
        &Vars::new(),
        &tight,
    )
    .violations;
    assert!(
        v.iter()
            .any(|v| v.kind == ViolationKind::Policy && v.message.contains("at most 1")),
        "{v:?}"
    );

    let only_ghcr = Limits {
        allowed_registries: vec!["ghcr.io".into()],
        ..Limits::default()
    };
    let v = check(&svc(""), &Vars::new(), &only_ghcr).violations;
    assert!(
        v.iter().any(|v| v.kind == ViolationKind::Policy
            && v.line == 3
            && v.message.contains("docker.io")),
        "{v:?}"
    );
    assert!(
        check(
            "services:\n  web:\n    image: ghcr.io/a/b\n",
            &Vars::new(),
            &only_ghcr
        )
        .is_ok()
    );
}

#[test]
fn every_violation_is_reported_not_just_the_first() {
    let v = violations(&svc(
        "    privileged: true\n    cap_add: [ALL]\n    hostnam: x\n",
    ));
    assert_eq!(v.len(), 3, "{v:#?}");
    assert_eq!(v[2].kind, ViolationKind::Unsupported);
    assert_eq!((v[2].line, v[2].column), (6, 5));
    assert!(v[2].message.contains("hostnam"));
}

/// Every danger stays refused however it is spelled: anchors and merge keys, interpolated
/// values, `extends`, the long syntax, a profile that is not enabled, `volumes_from`.
#[test]
fn dangers_stay_refused_in_every_spelling() {
    let mut vars = Vars::new();
    vars.set("SOCK", "/var/run/docker.sock", false);
    vars.set("NM", "host", false);
    vars.set("UP", "..", false);
    vars.set("OPT", "seccomp:unconfined", false);
    let cases: &[(&str, &str)] = &[
        (
            "x-base: &base\n  privileged: true\nservices:\n  web:\n    <<: *base\n    image: x\n",
            "take over",
        ),
        (
            "x-caps: &caps [SYS_ADMIN]\nservices:\n  web:\n    image: x\n    cap_add: *caps\n",
            "capabilities",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: [\"${SOCK}:/var/run/docker.sock\"]\n",
            "Docker socket",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: [\"${NOPE:-/var/run/docker.sock}:/s\"]\n",
            "Docker socket",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: [\"./${UP}/${UP}/etc:/etc2\"]\n",
            "host path",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes:\n      - type: bind\n        source: ${SOCK}\n        target: /s\n",
            "Docker socket",
        ),
        (
            "services:\n  base:\n    image: x\n    devices: [/dev/kvm]\n    profiles: [off]\n  web:\n    extends: base\n",
            "host devices",
        ),
        (
            "services:\n  base:\n    image: x\n    volumes: [/:/host]\n    profiles: [off]\n  web:\n    extends: {service: base}\n",
            "host path",
        ),
        (
            "services:\n  web:\n    image: x\n    network_mode: ${NM}\n",
            "\"host\"",
        ),
        (
            "services:\n  web:\n    image: x\n    security_opt: [\"${OPT}\"]\n",
            "not allowed",
        ),
        (
            "services:\n  web:\n    image: x\n    runtime: runc\n",
            "runtime",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes_from: [\"container:traefik\"]\n",
            "outside this project",
        ),
        (
            "services:\n  web:\n    image: x\n    ipc: host\n    profiles: [never-enabled]\n  other:\n    image: y\n",
            "namespace",
        ),
        (
            "services:\n  web:\n    image: x\n    sysctls: {net.ipv4.ip_forward: 1}\n",
            "kernel",
        ),
        (
            "services:\n  web:\n    image: x\n    logging: {driver: gelf, options: {gelf-address: \"udp://1.2.3.4:12201\"}}\n",
            "log driver",
        ),
    ];
    for (src, words) in cases {
        let r = check(src, &vars, &Limits::default());
        assert!(r.stack.is_none(), "accepted:\n{src}");
        assert!(
            r.violations
                .iter()
                .any(|v| v.message.contains(words) && v.line > 0),
            "expected {words:?} in {:#?}\nfor:\n{src}",
            r.violations
        );
    }
}

#[test]
fn replicas_default_to_one_and_are_capped_by_max_replicas() {
    let replicas = |extra: &str, max: u32| {
        let limits = Limits {
            max_replicas: max,
            ..Limits::default()
        };
        let r = check(&svc(extra), &Vars::new(), &limits);
        let capped = r
            .warnings
            .iter()
            .any(|w| w.message.contains("limits.max_replicas"));
        (
            r.stack.map(|s| s.services[0].replicas),
            capped,
            r.violations,
        )
    };
    assert_eq!(replicas("", 1).0, Some(1));
    let two = "    deploy:\n      replicas: 2\n";
    assert_eq!(replicas(two, 4).0, Some(2));
    // The default club runs one of each service: asked for two, it gets one and is told.
    let (n, capped, _) = replicas(two, 1);
    assert_eq!((n, capped), (Some(1), true));
    let (n, _, v) = replicas("    deploy:\n      replicas: 0\n", 4);
    assert_eq!(n, None);
    assert!(v.iter().any(|v| v.message.contains("at least 1")), "{v:?}");
}
