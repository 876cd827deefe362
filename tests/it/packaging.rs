//! The Debian packaging: the systemd unit is hardened (`systemd-analyze security` rates its
//! exposure at most 2.0, where an unhardened unit scores 9.6) and keeps what clubhost needs; the
//! `cargo deb` metadata names files that exist. Building the .deb itself needs cargo-deb, which
//! CI does not install.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn unit() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("packaging/clubhost.service")).unwrap()
}

#[test]
fn the_unit_keeps_what_clubhost_needs() {
    let unit = unit();
    for line in [
        "Type=exec",
        "User=clubhost",
        "SupplementaryGroups=docker",
        "ExecStart=/usr/bin/clubhost --config /etc/clubhost/clubhost.toml serve",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/clubhost",
        "UMask=0077",
        "NoNewPrivileges=yes",
        // Docker's socket and the admin socket are unix sockets.
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line:?}");
    }
}

#[test]
fn the_unit_is_rated_at_most_2_0_by_systemd_analyze() {
    let path = Path::new(ROOT).join("packaging/clubhost.service");
    let out = match Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("systemd-analyze is not installed: exposure not checked");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");
}

#[test]
fn the_deb_metadata_names_files_that_exist() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap())
            .unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().unwrap();
    let mut installed = Vec::new();
    for asset in assets {
        let asset = asset.as_array().unwrap();
        let source = asset[0].as_str().unwrap();
        installed.push(asset[1].as_str().unwrap().to_string());
        if !source.starts_with("target/") {
            assert!(
                Path::new(ROOT).join(source).is_file(),
                "asset {source} is missing"
            );
        }
    }
    assert!(installed.contains(&"etc/clubhost/clubhost.toml".to_string()));
    let conf = deb["conf-files"].as_array().unwrap();
    assert_eq!(conf[0].as_str(), Some("/etc/clubhost/clubhost.toml"));
    let scripts = Path::new(ROOT).join(deb["maintainer-scripts"].as_str().unwrap());
    for script in ["postinst", "postrm"] {
        let text = std::fs::read_to_string(scripts.join(script)).unwrap();
        assert!(text.contains("#DEBHELPER#"), "{script} lacks #DEBHELPER#");
    }
}

#[test]
fn the_packaged_config_is_the_example_with_an_absolute_data_dir() {
    let example = std::fs::read_to_string(Path::new(ROOT).join("clubhost.example.toml")).unwrap();
    let packaged =
        std::fs::read_to_string(Path::new(ROOT).join("packaging/clubhost.toml")).unwrap();
    let want = example.replace("data_dir = \"./data\"", "data_dir = \"/var/lib/clubhost\"");
    assert_ne!(
        want, example,
        "the example's data_dir line changed: update this test"
    );
    assert!(
        packaged == want,
        "packaging/clubhost.toml differs from clubhost.example.toml beyond data_dir: copy it again"
    );
    let config =
        clubhost_core::config::Config::parse(&packaged, Path::new("clubhost.toml")).unwrap();
    assert_eq!(config.data_dir, Path::new("/var/lib/clubhost"));
}
