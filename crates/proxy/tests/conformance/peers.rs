//! The same rows through nginx and HAProxy, for docs/reliability.md's comparison. Not part of
//! the normal run (it needs them installed, and it reports rather than asserts):
//!
//! ```text
//! cargo test -p clubhost-proxy --test conformance -- --ignored --nocapture nginx
//! cargo test -p clubhost-proxy --test conformance -- --ignored --nocapture haproxy
//! ```
//!
//! Each row gets its own peer proxy, started from a config written to a temporary directory,
//! listening on 127.0.0.1 only, in front of the same recording upstreams: a root route to `club`
//! and `other.host` to `other`, as clubhost's rows have.
//! - nginx with the usual reverse-proxy settings (`proxy_pass`, HTTP/1.1 upstream, keep-alive,
//!   `Host $host`; no WebSocket lines, so Upgrade is not forwarded). It runs as one process
//!   (`master_process off`).
//! - HAProxy (Debian's 2.6) in `mode http` with its defaults (keep-alive both ways, HTX, no
//!   option beyond timeouts), `other.host` chosen by `hdr(host)`. It runs in the foreground
//!   (`-db`), one process.
//!
//! So killing the peer by its handle when the row is done leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;

/// A proxy to compare with.
#[derive(Clone, Copy)]
enum Peer {
    Nginx,
    Haproxy,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Nginx => "nginx",
            Peer::Haproxy => "haproxy",
        }
    }

    fn binary(self) -> Option<PathBuf> {
        let name = self.name();
        [format!("/usr/sbin/{name}"), format!("/usr/bin/{name}")]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    }

    /// Its config file's text, and the arguments that run it in the foreground with it.
    fn setup(self, dir: &Path, port: u16, club: u16, other: u16) -> (String, Vec<String>) {
        let conf = dir.join(format!("{}.conf", self.name()));
        let conf_arg = conf.display().to_string();
        match self {
            Peer::Nginx => (
                nginx_config(dir, port, club, other),
                vec![
                    "-p".into(),
                    dir.display().to_string(),
                    "-c".into(),
                    conf_arg,
                    "-g".into(),
                    "daemon off;".into(),
                ],
            ),
            Peer::Haproxy => (
                haproxy_config(port, club, other),
                vec!["-db".into(), "-f".into(), conf_arg],
            ),
        }
    }
}

/// HAProxy with nothing but what it needs to run: the defaults are what the comparison is about.
fn haproxy_config(port: u16, club: u16, other: u16) -> String {
    format!(
        "global\n    maxconn 64\n    nbthread 1\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n\
         \x20   timeout server 10s\n    timeout http-request 10s\n\
         frontend visitors\n    bind 127.0.0.1:{port}\n\
         \x20   use_backend other if {{ hdr(host) -i other.host }}\n\
         \x20   default_backend club\n\
         backend club\n    server club 127.0.0.1:{club}\n\
         backend other\n    server other 127.0.0.1:{other}\n"
    )
}

fn nginx_config(dir: &Path, port: u16, club: u16, other: u16) -> String {
    let d = dir.display();
    let server = |name: &str, up: u16, default: &str| {
        format!(
            "server {{ listen 127.0.0.1:{port}{default}; server_name {name};\n\
             location / {{ proxy_pass http://up{up}; proxy_http_version 1.1;\n\
             proxy_set_header Host $host; proxy_set_header Connection \"\"; }} }}\n\
             upstream up{up} {{ server 127.0.0.1:{up}; keepalive 4; }}\n"
        )
    };
    format!(
        "master_process off; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         {}{} }}\n",
        server("club.test", club, " default_server"),
        server("other.host", other, ""),
    )
}

/// What the peer made of one row: the visitor's status and what the upstreams received.
async fn through(peer: Peer, binary: &Path, row: &Row, n: usize) -> (String, String) {
    let club = Recorder::start(row.reply.clone()).await;
    let other = Recorder::start(row.reply.clone()).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = std::env::temp_dir().join(format!(
        "clubhost-{}-{}-{n}",
        peer.name(),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (text, args) = peer.setup(&dir, port, club.addr.port(), other.addr.port());
    std::fs::write(dir.join(format!("{}.conf", peer.name())), text).unwrap();
    let mut child = Command::new(binary)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = send(addr, &row.request).await;
    settle().await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let mut got = String::new();
    for (name, up) in [("club", &club), ("other", &other)] {
        if !up.connections().is_empty() {
            got.push_str(&format!("{name}: {:?} ", summary(&up.received())));
        }
    }
    let status = match (seen.status, seen.interim.as_slice()) {
        (0, []) => format!("no answer ({} bytes)", seen.raw.len()),
        (s, []) => s.to_string(),
        (s, interim) => format!("{interim:?} then {s}"),
    };
    let body = if seen.complete { "" } else { ", cut short" };
    let got = if got.is_empty() {
        "nothing".into()
    } else {
        got
    };
    (format!("{status}{body}"), got)
}

/// The request line and the lines that matter for the table (Host, Upgrade, Connection, Via and
/// the fields the hop-by-hop rows send).
fn summary(received: &str) -> String {
    received
        .lines()
        .take_while(|l| !l.is_empty())
        .enumerate()
        .filter(|(i, l)| {
            let l = l.to_ascii_lowercase();
            *i == 0
                || [
                    "host:",
                    "upgrade:",
                    "connection:",
                    "via:",
                    "http2-settings:",
                    "max-forwards:",
                    "x-secret:",
                    "te:",
                    "keep-alive:",
                    "proxy-connection:",
                    "proxy-authorization:",
                ]
                .iter()
                .any(|h| l.starts_with(h))
        })
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Prints the table's rows with what `peer` did beside clubhost's expected answer.
async fn compare(peer: Peer) {
    let name = peer.name();
    let Some(binary) = peer.binary() else {
        println!("{name} is not installed: nothing to compare");
        return;
    };
    let rows = requests::rows().into_iter().chain(responses::rows());
    println!("| rule | section | clubhost | {name} | {name} forwarded |");
    println!("|---|---|---|---|---|");
    for (n, row) in rows.enumerate() {
        let (status, forwarded) = through(peer, &binary, &row, n).await;
        println!(
            "| {} | {} | {} | {status} | {forwarded} |",
            row.rule, row.section, row.client.status
        );
    }
}

#[tokio::test]
#[ignore = "a report: needs nginx; run with --ignored --nocapture"]
async fn nginx_on_the_same_rows() {
    compare(Peer::Nginx).await;
}

#[tokio::test]
#[ignore = "a report: needs haproxy; run with --ignored --nocapture"]
async fn haproxy_on_the_same_rows() {
    compare(Peer::Haproxy).await;
}
