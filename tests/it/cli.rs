//! Command-line behaviour that needs no Docker: config errors, input errors, the lifecycle rules.

use crate::common::*;

#[test]
fn unknown_config_key_names_key_and_line() {
    let club = Club::new();
    let text = std::fs::read_to_string(&club.config).unwrap() + "\n[proxy2]\nx = 1\n";
    std::fs::write(&club.config, text).unwrap();
    let out = club.cli(&["project", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("proxy2") && err.contains("line"), "{err}");
}

#[test]
fn serve_refuses_a_busy_port() {
    let club = Club::new();
    let _busy = std::net::TcpListener::bind(("127.0.0.1", club.port)).unwrap();
    let out = club.cli(&["serve"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen") && err.contains("proxy.listen"),
        "{err}"
    );
}

#[test]
fn invalid_transitions_and_slugs_are_errors() {
    let club = Club::new();
    club.ok(&["user", "add", "ana"]);
    let stack = club.write_stack("s.yml", &format!("services:\n  web:\n    image: {IMAGE}\n"));
    let stack = stack.to_str().unwrap();
    for bad in ["Portal", "portal", "../x", "a"] {
        let out = club.cli(&[
            "project", "submit", "--owner", "ana", "--slug", bad, "--stack", stack,
        ]);
        assert!(!out.status.success(), "{bad} accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("slug"),
            "{bad}"
        );
    }
    // The portal's list of traversal and Unicode tricks gets the same clear message (`portal_abuse`).
    for &bad in crate::portal_abuse::TRICKY_SLUGS {
        // `--slug=…`, so clap does not read "-x" as a flag.
        let slug = format!("--slug={bad}");
        let out = club.cli(&[
            "project", "submit", "--owner", "ana", &slug, "--stack", stack,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(err.contains("lowercase letters"), "{bad:?}: {err}");
    }
    club.ok(&[
        "project", "submit", "--owner", "ana", "--slug", "site", "--stack", stack,
    ]);
    let out = club.cli(&["project", "expire", "site"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot go from requested to expired"), "{err}");
    club.ok(&["project", "reject", "site", "--reason", "not club related"]);
    let out = club.cli(&["project", "approve", "site"]);
    assert!(!out.status.success());
    let out = club.cli(&[
        "project", "submit", "--owner", "nobody", "--slug", "other", "--stack", stack,
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("user \"nobody\" not found"));
}

#[test]
fn doctor_reports_docker_and_data_dir() {
    let club = Club::new();
    let out = club.ok(&["doctor"]);
    assert!(out.contains("Docker") && out.contains("API"), "{out}");
    assert!(
        out.contains("is writable") && out.contains("is free"),
        "{out}"
    );
    assert!(out.contains("is owner-only (0700)"), "{out}");
}

#[test]
fn bad_webhook_ca_file_and_lifecycle_keys_are_refused() {
    let club = Club::new();
    let base = std::fs::read_to_string(&club.config).unwrap();
    std::fs::write(
        &club.config,
        format!("{base}\n[[notify.webhooks]]\nkind = \"slack\"\nurl = \"ftp://hooks.example/x\"\n"),
    )
    .unwrap();
    let out = club.cli(&["project", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("notify.webhooks[0].url") && err.contains("https://"),
        "{err}"
    );
    let not_pem = club.write_stack("ca.pem", "not a certificate");
    std::fs::write(
        &club.config,
        format!(
            "{base}\n[notify]\nca_file = {:?}\n",
            not_pem.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = club.cli(&["project", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("notify.ca_file") && err.contains("no certificate"),
        "{err}"
    );
    std::fs::write(
        &club.config,
        format!("{base}\n[lifecycle]\ngrace = \"soon\"\n"),
    )
    .unwrap();
    let out = club.cli(&["project", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("soon") && err.contains("line"), "{err}");
    // Moving the clock is refused unless the server was set up for tests.
    std::fs::write(&club.config, base).unwrap();
    let out = club.cli(&["clock", "--advance", "1d"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not settable"));
}
