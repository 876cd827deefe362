//! ACME by TLS-ALPN-01 (RFC 8737) against pebble: with `[tls] acme_challenge = "tls-alpn-01"`
//! the club's names are validated in a handshake on the HTTPS listener (pebble's HTTP-01 port
//! points at nothing, so HTTP-01 could not have passed), the issued certificates are served, and
//! an `acme-tls/1` hello outside an order gets no handshake (no challenge certificate, and never
//! the real one, for a client that asks for that protocol).

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{Club, free_port};
use crate::tls::{
    configure, https_client, pebble_installed, pebble_root, start_pebble, wait_issued,
};

#[tokio::test(flavor = "multi_thread")]
async fn names_are_validated_by_tls_alpn_on_the_https_listener() {
    if !pebble_installed() {
        return;
    }
    clubhost_core::notify::tls::install_provider();
    let mut club = Club::new();
    let https_port = free_port();
    // HTTP-01 would be checked on a port nothing listens on.
    let nowhere = free_port();
    let pebble = start_pebble(club.dir.path(), nowhere, https_port, &[]);
    configure(&club, https_port, &pebble);
    let config =
        std::fs::read_to_string(&club.config).unwrap() + "acme_challenge = \"tls-alpn-01\"\n";
    std::fs::write(&club.config, config).unwrap();
    club.start();

    let list = wait_issued(&club, &["club.test", "portal.club.test"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c["last_error"].is_null()),
        "{list}"
    );
    // (pebble logs no challenge types; HTTP-01 could not have passed: its port is closed.)
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", nowhere)).is_err(),
        "nothing listens where pebble would have checked HTTP-01"
    );

    let root = pebble_root(&pebble).await;
    let https = SocketAddr::from(([127, 0, 0, 1], https_port));
    let client = https_client(&root, &["portal.club.test"], https);
    let res = client
        .get(format!("https://portal.club.test:{https_port}/"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.version(), reqwest::Version::HTTP_2);

    // A client offering only `acme-tls/1` outside an order: no certificate at all.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    for cert in CertificateDer::pem_slice_iter(root.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("club.test").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut sock = TcpStream::connect(https).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut done = false;
    while conn.is_handshaking() {
        if conn.complete_io(&mut sock).is_err() {
            done = true;
            break;
        }
    }
    assert!(
        done,
        "a handshake completed for acme-tls/1 with no order pending"
    );
}
