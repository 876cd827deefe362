//! Tests of `clubhost.toml` parsing: defaults, every section's keys, and errors that name the
//! key and line.
use super::*;

#[test]
fn empty_file_gives_defaults() {
    let c = Config::parse("", Path::new("t.toml")).unwrap();
    assert_eq!(c.domain, "localhost");
    assert_eq!(c.proxy.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.docker.gateway_network, "clubhost-gateway");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
}

#[test]
fn unknown_key_names_key_and_line() {
    let text = "domain = \"club.example\"\n\n[proxy]\nlisten = \"127.0.0.1:80\"\nlistn = 3\n";
    let err = Config::parse(text, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("listn"), "{err}");
    assert!(err.contains("line 5"), "{err}");
}

#[test]
fn bad_value_names_key_and_line() {
    let text = "[proxy]\nlisten = \"not an address\"\n";
    let err = Config::parse(text, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("listen"), "{err}");
}

#[test]
fn proxy_keys_parse_and_check() {
    let text = "[proxy]\nmax_body_size = \"2MiB\"\nheader_read_timeout = \"5s\"\n\
                trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nsubdomains = true\n\
                [[proxy.routes]]\npath = \"/status\"\nupstream = \"http://127.0.0.1:9000\"\n\
                [[proxy.routes]]\nhost = \"grafana.club.example\"\nupstream = \"http://localhost:3000/\"\n\
                [log]\nformat = \"json\"\n";
    let c = Config::parse(text, Path::new("t.toml")).unwrap();
    assert_eq!(c.proxy.max_body_size, 2 * 1024 * 1024);
    assert_eq!(c.proxy.header_read_timeout, Duration::from_secs(5));
    assert_eq!(c.proxy.routes.len(), 2);
    assert_eq!(c.proxy.routes[0].segment(), Some("status"));
    assert_eq!(
        c.proxy.routes[0].upstream_addr().unwrap().to_string(),
        "127.0.0.1:9000"
    );
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(Config::default().proxy.max_body_size, 100 * 1024 * 1024);

    let c = Config::parse(
        "[proxy.overrides.wordpress]\nmax_body_size = \"1GiB\"\n\
         response_header_timeout = \"2m\"\nrewrite = false\nmax_waiting_per_route = 0\n\
         [proxy]\nmax_waiting_per_route = 8\nqueue_timeout = \"1500ms\"\n",
        Path::new("t.toml"),
    )
    .unwrap();
    assert_eq!(
        c.proxy.overrides["wordpress"],
        RouteOverrides {
            max_body_size: Some(1 << 30),
            response_header_timeout: Some(Duration::from_secs(120)),
            rewrite: Some(false),
            max_conns_per_route: None,
            max_waiting_per_route: Some(0),
        }
    );
    let settings = c.proxy_settings();
    assert_eq!(settings.max_waiting_per_route, 8);
    assert_eq!(settings.queue_timeout, Duration::from_millis(1500));

    for (bad, needle) in [
        (
            "[[proxy.routes]]\npath = \"/a/b\"\nupstream = \"http://127.0.0.1:1\"\n",
            "one segment",
        ),
        (
            "[[proxy.routes]]\npath = \"/a\"\nupstream = \"https://127.0.0.1:1\"\n",
            "http://",
        ),
        (
            "[[proxy.routes]]\npath = \"/a\"\nupstream = \"http://127.0.0.1:1/x\"\n",
            "no path",
        ),
        (
            "[[proxy.routes]]\nupstream = \"http://127.0.0.1:1\"\n",
            "exactly one",
        ),
        (
            "[[proxy.routes]]\npath = \"/a\"\nupstrem = \"x\"\n",
            "upstrem",
        ),
        (
            "[proxy]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
            "trusted_proxies",
        ),
        ("[proxy]\nmax_body_size = \"lots\"\n", "max_body_size"),
        ("[proxy.overrides.wp]\nmax_body = \"1GiB\"\n", "max_body"),
        (
            "[proxy.overrides.wp]\nmax_body_size = 0\n",
            "proxy.overrides.wp.max_body_size",
        ),
        (
            "[proxy.overrides.\"a/b\"]\nrewrite = false\n",
            "proxy.overrides.a/b",
        ),
        ("[log]\nformat = \"xml\"\n", "format"),
    ] {
        let err = Config::parse(bad, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{bad}: {err}");
    }
}

#[test]
fn example_file_parses_to_the_defaults() {
    let text = include_str!("../../../../clubhost.example.toml");
    let c = Config::parse(text, Path::new("clubhost.example.toml")).unwrap();
    let d = Config::default();
    assert_eq!(c.proxy.max_body_size, d.proxy.max_body_size);
    assert_eq!(c.proxy.header_read_timeout, d.proxy.header_read_timeout);
    assert_eq!(c.log.format, d.log.format);
    // Every [limits] key is written out in the example, at its default.
    assert_eq!(c.limits, d.limits);
    let (_, limits) = text.split_once("\n[limits]\n").unwrap();
    for key in [
        "max_log_size",
        "max_log_files",
        "max_shm_size",
        "max_nofile",
        "max_nproc",
        "max_memlock",
    ] {
        assert!(
            limits.contains(&format!("\n{key} = ")),
            "{key} missing from [limits]"
        );
    }
}

#[test]
fn limits_section_is_read_and_checked() {
    let c = Config::parse(
        "[limits]\nmax_memory = \"2g\"\nmax_services = 3\nallowed_registries = [\"ghcr.io\"]\n",
        Path::new("t.toml"),
    )
    .unwrap();
    assert_eq!(c.limits.max_memory_bytes(), 2 << 30);
    assert_eq!(c.limits.max_services, 3);
    let err = Config::parse("[limits]\nmax_memory = \"lots\"\n", Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("limits.max_memory"), "{err}");
}

#[test]
fn portal_path_is_one_segment_and_kept_from_static_routes() {
    assert_eq!(Config::default().portal.base(), "/portal");
    let c = Config::parse("[portal]\npath = \"/club-portal/\"\n", Path::new("t.toml")).unwrap();
    assert_eq!(c.portal.segment(), "club-portal");
    assert_eq!(c.portal.base(), "/club-portal");
    for bad in ["/", "", "portal", "/a/b/", "/Portal/", "/a b/"] {
        let err = Config::parse(&format!("[portal]\npath = {bad:?}\n"), Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("portal.path"), "{bad}: {err}");
    }
    let text = "[portal]\npath = \"/club/\"\n[[proxy.routes]]\npath = \"/club\"\n\
                upstream = \"http://127.0.0.1:9000\"\n";
    let err = Config::parse(text, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("reserved for the portal"), "{err}");
    // `/portal` is an ordinary path once the portal lives elsewhere.
    let text = "[portal]\npath = \"/club/\"\n[[proxy.routes]]\npath = \"/portal\"\n\
                upstream = \"http://127.0.0.1:9000\"\n";
    assert!(Config::parse(text, Path::new("t.toml")).is_ok());
}

#[test]
fn bad_domain_is_refused() {
    let err = Config::parse("domain = \"http://x\"", Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("domain"), "{err}");
}

#[test]
fn proxy_defaults_agree_with_the_config_defaults() {
    // The proxy crate cannot read the config (no cycle), so it keeps its own defaults.
    assert_eq!(
        Config::default().proxy_settings(),
        clubhost_proxy::Settings::default()
    );
}

#[test]
fn subnet_pool_keys_default_parse_and_refuse_bad_input_by_name() {
    let d = Config::default().docker;
    assert_eq!(
        (
            d.subnet_pool.as_str(),
            d.subnet_size,
            d.gateway_subnet.as_str()
        ),
        ("10.213.0.0/16", 27, "10.213.0.0/22")
    );
    // The default gateway subnet is the pool's first /22, reserved from project blocks.
    assert_eq!(
        d.pool().first_free(&[]).unwrap().to_string(),
        "10.213.4.0/27"
    );
    let c = Config::parse(
        "[docker]\nsubnet_pool = \"172.30.0.0/20\"\nsubnet_size = 26\n\
         gateway_subnet = \"192.168.240.0/22\"\n",
        Path::new("t.toml"),
    )
    .unwrap();
    assert_eq!(
        c.docker.pool().first_free(&[]).unwrap().to_string(),
        "172.30.0.0/26"
    );
    let refused = [
        ("subnet_pool = \"10.213.0.0\"", "docker.subnet_pool"),
        ("subnet_pool = \"lots\"", "docker.subnet_pool"),
        ("subnet_pool = \"10.213.7.0/16\"", "docker.subnet_pool"),
        (
            "subnet_pool = \"10.213.0.0/24\"\nsubnet_size = 20",
            "docker.subnet_size",
        ),
        ("subnet_size = 30", "docker.subnet_size"),
        // 13 addresses cannot hold two deployments of an 8-service stack.
        ("subnet_size = 28", "docker.subnet_size"),
        (
            "gateway_subnet = \"10.213.0.0/33\"",
            "docker.gateway_subnet",
        ),
        (
            "gateway_subnet = \"10.212.0.0/15\"",
            "docker.gateway_subnet",
        ),
        (
            "gateway_subnet = \"10.213.0.0/16\"",
            "docker.gateway_subnet",
        ),
    ];
    for (line, key) in refused {
        let text = format!("[docker]\n{line}\n");
        let err = Config::parse(&text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{line}: {err}");
    }
    // A smaller stack cap lets a /28 do.
    let text = "[docker]\nsubnet_size = 28\n[limits]\nmax_services = 6\n";
    assert_eq!(
        Config::parse(text, Path::new("t.toml"))
            .unwrap()
            .docker
            .subnet_size,
        28
    );
}

#[test]
fn a_restic_repository_needs_an_absolute_password_file() {
    let parse = |t: &str| Config::parse(t, Path::new("t.toml")).map(|c| c.backup);
    let ok = parse(
        "[backup]\nrestic_repository = \"/mnt/r\"\nrestic_password_file = \"/etc/clubhost/pw\"\n",
    )
    .unwrap();
    assert_eq!(ok.restic_repository.as_deref(), Some("/mnt/r"));
    for (text, key) in [
        (
            "[backup]\nrestic_repository = \"/mnt/r\"\n",
            "restic_password_file",
        ),
        (
            "[backup]\nrestic_password_file = \"/pw\"\n",
            "restic_password_file",
        ),
        (
            "[backup]\nrestic_repository = \"/r\"\nrestic_password_file = \"pw\"\n",
            "absolute",
        ),
        (
            "[backup]\nrestic_repository = \" \"\nrestic_password_file = \"/pw\"\n",
            "restic_repository",
        ),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    // The portal's address in notes: the club's domain and the portal's path.
    let c = Config::default();
    assert_eq!(
        c.portal_url("projects/x/backups"),
        "http://localhost/portal/projects/x/backups"
    );
}
