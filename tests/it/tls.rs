//! HTTPS end to end (issue 16) against Debian's `pebble`, a real ACME server run offline, and
//! `pebble-challtestsrv` as its DNS (every name is 127.0.0.1), with pebble's validation ports
//! pointed at this club's listeners: HTTP-01 is really answered by the proxy.
//!
//! One test covers the whole flow because each step needs the certificates of the one before:
//! issuance for the domain, `portal.<domain>` and a project's `<slug>.<domain>`; the chain checked
//! by a client that trusts only pebble's root; SNI for several names; HTTP/2; HSTS; the 308 to
//! HTTPS (path and query kept) and the challenge path left alone; no certificate (and no
//! handshake) for an unknown name; a handshake that never finishes cut off by the header read
//! timeout; a restart that serves the stored certificates and orders nothing; and a renewal once
//! the server's clock passes the renewal time, with no second one after it. A second test has
//! pebble refuse the names: the failure is recorded, the admins told once (not again when the next
//! order an hour later fails too) and the name not ordered again within the hour.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Club, free_port, slug, two_service_stack};

/// Skips (with the reason) when pebble is not installed; `.ci/run` installs it.
pub(crate) fn pebble_installed() -> bool {
    let found = ["pebble", "pebble-challtestsrv"].iter().all(|b| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {b}"))
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        eprintln!("SKIPPED: pebble is not installed (apt-get install pebble)");
    }
    found
}

/// A child process killed when the test ends, pass or fail.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// pebble and its DNS, with a CA of the test's own for pebble's HTTPS endpoints.
pub(crate) struct Pebble {
    _pebble: Killed,
    _dns: Killed,
    /// The ACME directory.
    directory: String,
    /// The root pebble's own endpoints are signed by (the club trusts it for ACME only).
    ca_file: std::path::PathBuf,
    ca_pem: String,
    management: u16,
    /// pebble-challtestsrv's DNS (every name is 127.0.0.1), for the club's domain checks.
    pub(crate) dns: u16,
}

/// pebble refuses to issue for names under each of `blocked`.
pub(crate) fn start_pebble(dir: &Path, http_port: u16, tls_port: u16, blocked: &[&str]) -> Pebble {
    // pebble ships no certificate for its own HTTPS: make a CA and a localhost certificate.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "pebble test CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let ca_file = dir.join("pebble-ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    std::fs::write(dir.join("pebble-cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("pebble-key.pem"), key.serialize_pem()).unwrap();

    let (acme, management, dns, dns_management) =
        (free_port(), free_port(), free_port(), free_port());
    let config = serde_json::json!({ "pebble": {
        "listenAddress": format!("127.0.0.1:{acme}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": dir.join("pebble-cert.pem"),
        "privateKey": dir.join("pebble-key.pem"),
        "httpPort": http_port,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
        "domainBlocklist": blocked,
    }});
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
    let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
    let dns_server = Killed(
        Command::new("pebble-challtestsrv")
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pebble = Killed(
        Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            // No random sleeps before validation, and no nonce rejections to retry.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .unwrap(),
    );
    // Both up before the club orders anything (a failed order waits an hour).
    let deadline = Instant::now() + Duration::from_secs(20);
    for port in [acme, dns_management] {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pebble or its DNS did not start; see {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Pebble {
        _pebble: pebble,
        _dns: dns_server,
        directory: format!("https://127.0.0.1:{acme}/dir"),
        ca_file,
        ca_pem: ca_cert.pem(),
        management,
        dns,
    }
}

fn rustls_config(root_pem: &str) -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// pebble's issuing root, from its management port (it is made afresh at every pebble start).
pub(crate) async fn pebble_root(p: &Pebble) -> String {
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(rustls_config(&p.ca_pem))
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/roots/0", p.management);
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// A client that trusts only `root` and reaches every name at the club's HTTPS port.
pub(crate) fn https_client(root: &str, names: &[&str], https: SocketAddr) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(rustls_config(root))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10));
    for name in names {
        builder = builder.resolve(name, https);
    }
    builder.build().unwrap()
}

/// Waits until `clubhost tls list` shows a certificate for every one of `names`.
pub(crate) fn wait_issued(club: &Club, names: &[&str]) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = club.ok(&["tls", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&out).unwrap();
        let issued = |n: &str| {
            list.as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == n && !c["not_after"].is_null())
        };
        if names.iter().all(|n| issued(n)) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "certificates for {names:?} not issued: {list}\n{}",
            club.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub(crate) fn issuances(club: &Club) -> usize {
    club.ok(&["audit"]).matches("tls.issue").count()
}

/// The club on `club.test` with HTTPS on `https_port`, subdomains on, a 2 s header read timeout,
/// a settable clock, and pebble as its ACME server.
pub(crate) fn configure(club: &Club, https_port: u16, pebble: &Pebble) {
    let mut config = std::fs::read_to_string(&club.config).unwrap();
    config = config.replace("club.example", "club.test").replace(
        "[proxy]\n",
        &format!(
            "[proxy]\nhttps_listen = \"127.0.0.1:{https_port}\"\nsubdomains = true\nheader_read_timeout = \"2s\"\n"
        ),
    );
    // The server's clock may be moved (`clubhost clock`), to reach a renewal.
    config.push_str("\n[lifecycle]\nsettable_clock = true\n");
    config.push_str(&format!(
        "\n[tls]\nacme_email = \"admin@club.test\"\nacme_directory = \"{}\"\nacme_ca_file = \"{}\"\n",
        pebble.directory,
        pebble.ca_file.display()
    ));
    config.push_str(&format!(
        "domain_check_dns = \"127.0.0.1:{}\"\n",
        pebble.dns
    ));
    std::fs::write(&club.config, config).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn https_by_acme_from_issuance_to_restart() {
    if !pebble_installed() {
        return;
    }
    clubhost_core::notify::tls::install_provider();
    let mut club = Club::new();
    let https_port = free_port();
    let pebble = start_pebble(club.dir.path(), club.port, https_port, &[]);
    configure(&club, https_port, &pebble);
    club.start();

    // The domain and the portal's host are ordered at start.
    wait_issued(&club, &["club.test", "portal.club.test"]);
    // A project's name is ordered once it runs.
    let project = slug("tlsp");
    club.deploy(&project, &two_service_stack());
    let project_host = format!("{project}.club.test");
    let list = wait_issued(&club, &["club.test", "portal.club.test", &project_host]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c["last_error"].is_null()),
        "{list}"
    );

    let root = pebble_root(&pebble).await;
    let https = SocketAddr::from(([127, 0, 0, 1], https_port));
    let client = https_client(
        &root,
        &[
            "club.test",
            "portal.club.test",
            &project_host,
            "nobody.club.test",
        ],
        https,
    );

    // The chain verifies against pebble's root only; each name gets its own certificate (SNI),
    // over HTTP/2, with HSTS.
    let res = client
        .get(format!("https://{project_host}:{https_port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), reqwest::Version::HTTP_2, "ALPN chose h2");
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    assert!(res.text().await.unwrap().contains("hello from"));
    let portal = client
        .get(format!("https://portal.club.test:{https_port}/"))
        .send()
        .await
        .unwrap();
    assert!(portal.status().is_success(), "{}", portal.status());
    // Over HTTPS the portal's cookies are Secure (the config says scheme = "http").
    let cookies: Vec<_> = portal
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(!cookies.is_empty());
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
    let home = client
        .get(format!("https://club.test:{https_port}/{project}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200, "path routing over HTTPS too");
    // A name without a certificate gets no handshake (never a self-signed one).
    let unknown = client
        .get(format!("https://nobody.club.test:{https_port}/"))
        .send()
        .await;
    assert!(unknown.is_err(), "{unknown:?}");

    // Plain HTTP: 308 to HTTPS with path and query for a name with a certificate; the challenge
    // path is never redirected; a name without one is served as before.
    let plain = crate::common::http();
    let redirect = plain
        .get(club.url("/x/y?q=1&r=2"))
        .header("host", "club.test")
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(
        redirect.headers()["location"],
        format!("https://club.test:{https_port}/x/y?q=1&r=2").as_str()
    );
    assert!(!redirect.headers().contains_key("strict-transport-security"));
    let challenge = plain
        .get(club.url("/.well-known/acme-challenge/unknown-token"))
        .header("host", "club.test")
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), 404, "answered, not redirected");
    // (A path no route holds: `/` itself is the club's front door.)
    let other = plain
        .get(club.url("/nothing-here"))
        .header("host", "other.test")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "no certificate: no redirect");

    // Slowloris on TLS: a connection that never sends its hello is closed after the header read
    // timeout (2 s here).
    let started = Instant::now();
    let mut idle = TcpStream::connect(https).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut byte = [0u8; 1];
    let n = idle.read(&mut byte).unwrap_or(0);
    assert_eq!(n, 0, "the server closed the connection");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10),
        "{waited:?}"
    );

    // A restart serves the stored certificates at once and orders nothing.
    let before = issuances(&club);
    assert_eq!(before, 3, "one issuance per name");
    club.stop();
    club.start();
    let res = client
        .get(format!("https://club.test:{https_port}/{project}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Give the manager a few ticks in which it would have ordered.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(issuances(&club), before, "{}", club.log());

    // Prometheus: each certificate's expiry, from the admin socket.
    let metrics = {
        use std::io::Write;
        let mut s =
            std::os::unix::net::UnixStream::connect(club.dir.path().join("data/clubhost.sock"))
                .unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(
        metrics.contains(&format!(
            "clubhost_tls_cert_expiry_seconds{{name=\"{project_host}\"}} "
        )),
        "{metrics}"
    );
    // `doctor` reports each certificate.
    let doctor = String::from_utf8_lossy(&club.cli(&["doctor"]).stdout).into_owned();
    assert!(
        doctor.contains("ok   certificate club.test: issued by Pebble"),
        "{doctor}"
    );
    // The plain listing names each certificate with its issuer.
    let listing = club.ok(&["tls", "list"]);
    assert!(listing.contains(&project_host), "{listing}");
    assert!(listing.contains("issuer Pebble"), "{listing}");

    // Renewal: past the renewal time (a third of the lifetime left) the name is ordered again,
    // and the new certificate replaces the old one.
    let cert_of = |list: &serde_json::Value, name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    let list: serde_json::Value =
        serde_json::from_str(&club.ok(&["tls", "list", "--json"])).unwrap();
    let old = cert_of(&list, "club.test");
    let (renew_at, issued_at) = (
        old["renew_at"].as_i64().unwrap(),
        old["issued_at"].as_i64().unwrap(),
    );
    let not_after = old["not_after"].as_i64().unwrap();
    let not_before = old["not_before"].as_i64().unwrap();
    assert!(
        renew_at <= not_after - (not_after - not_before) / 3 + 60,
        "renewal with a third of the lifetime left: {old}"
    );
    let advance = format!("{}s", renew_at - issued_at + 60);
    club.ok(&["clock", "--advance", &advance]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list: serde_json::Value =
            serde_json::from_str(&club.ok(&["tls", "list", "--json"])).unwrap();
        let now = cert_of(&list, "club.test");
        if now["issued_at"].as_i64() > Some(issued_at) {
            assert!(now["renew_at"].as_i64() > Some(renew_at), "{now}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not renewed: {now}\n{}",
            club.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Renewed once: the new renewal time is ahead, so nothing is ordered again (the portal's
    // name, due at the same time, may still be finishing; then the count holds).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let settled = issuances(&club);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(issuances(&club), settled, "no renewal loop\n{}", club.log());
    // The renewed certificate is served.
    let res = client
        .get(format!("https://club.test:{https_port}/"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("strict-transport-security"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_order_is_recorded_and_not_repeated_within_the_hour() {
    if !pebble_installed() {
        return;
    }
    clubhost_core::notify::tls::install_provider();
    let mut club = Club::new();
    let https_port = free_port();
    // pebble's policy refuses every name under club.test.
    let pebble = start_pebble(club.dir.path(), club.port, https_port, &["club.test"]);
    configure(&club, https_port, &pebble);
    // The admins hear of the failure, once per failure streak.
    let hook = crate::sinks::WebhookSink::start(0);
    let mut config = std::fs::read_to_string(&club.config).unwrap();
    config.push_str(&format!(
        "\n[notify]\nbackoff = \"100ms\"\n[[notify.webhooks]]\nkind = \"slack\"\nurl = \"{}\"\n",
        hook.url()
    ));
    std::fs::write(&club.config, config).unwrap();
    club.start();
    let deadline = Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let list: serde_json::Value =
            serde_json::from_str(&club.ok(&["tls", "list", "--json"])).unwrap();
        if let Some(c) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "club.test")
            && !c["last_error"].is_null()
        {
            break c.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no failure recorded: {list}\n{}",
            club.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(failed["not_after"].is_null(), "{failed}");
    assert!(
        failed["last_error"].as_str().unwrap().contains("forbidden"),
        "{failed}"
    );
    // Several ticks later the name has still been ordered only once.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let log = club.log();
    let orders = log
        .lines()
        .filter(|l| l.contains("ordering a certificate") && l.contains("\"club.test\""))
        .count();
    assert_eq!(orders, 1, "{}", club.log());
    let told = hook.wait_for("HTTPS certificate for club.test failed");
    assert!(told.contains("forbidden"), "the reason: {told}");
    assert!(told.contains("no certificate yet"), "{told}");
    // An hour later the name is ordered again and fails again: the admins are not told twice.
    club.ok(&["clock", "--advance", "3601s"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while club
        .log()
        .lines()
        .filter(|l| l.contains("ordering a certificate") && l.contains("\"club.test\""))
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "not ordered again: {}",
            club.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let notes = hook
        .delivered()
        .iter()
        .filter(|b| b.contains("HTTPS certificate for club.test failed"))
        .count();
    assert_eq!(notes, 1, "{:?}", hook.delivered());
    // No certificate: no handshake (never a self-signed certificate), and plain HTTP is served,
    // not redirected.
    let root = pebble_root(&pebble).await;
    let https = SocketAddr::from(([127, 0, 0, 1], https_port));
    let tls = https_client(&root, &["club.test"], https)
        .get(format!("https://club.test:{https_port}/"))
        .send()
        .await;
    assert!(tls.is_err(), "{tls:?}");
    let plain = crate::common::http()
        .get(club.url("/nothing-here"))
        .header("host", "club.test")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 404);
}
