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

/// `stack check FILE` judges the file, not the absence of its neighbours: references into the
/// project's files are warnings (exit 0) when absent, checked when present beside the file, and
/// a present file that is wrong is a problem (exit 1). Secret values are masked where the file
/// interpolated them, and the file's own text is shown as written.
#[test]
fn stack_check_judges_a_file_alone_and_looks_beside_it() {
    let club = Club::new();
    let dir = club.dir.path().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("compose.yml");
    std::fs::write(
        &file,
        "services:\n  web:\n    image: nginx\n    env_file: .env\n    environment:\n      PASS: ${DB_PASSWORD}\n      INDEX: bleve-index\n    volumes: [\"./html:/usr/share/nginx/html:ro\"]\n",
    )
    .unwrap();
    let check = || {
        let out = club.cli(&[
            "stack",
            "check",
            file.to_str().unwrap(),
            "--secret",
            "DB_PASSWORD=index",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    // Alone: two needs for the project's files, exit 0.
    let (code, text) = check();
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        text.matches("needs the project's files:").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches(": not found: ").count(), 2, "{text}");
    assert!(text.contains("env PASS=********"), "{text}");
    assert!(text.contains("env INDEX=bleve-index"), "{text}");
    assert!(text.contains("cannot be deployed as it is"), "{text}");

    // With its folder: what is there is checked.
    std::fs::create_dir_all(dir.join("html")).unwrap();
    std::fs::write(dir.join(".env"), "A=1\n# note\nB=2\n").unwrap();
    let (code, text) = check();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("found: services.web.env_file[0]: env_file \".env\" sets 2 variable(s)"),
        "{text}"
    );
    assert!(
        text.contains("\"./html\" is a folder of the project"),
        "{text}"
    );

    // A broken env file is a problem.
    std::fs::write(dir.join(".env"), "A=1\nnot a variable\n").unwrap();
    let (code, text) = check();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("line 2") && text.contains("1 problem(s)"),
        "{text}"
    );
}
