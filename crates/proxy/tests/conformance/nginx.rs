//! The same rows through nginx, for docs/reliability.md's comparison. Not part of the normal
//! run (it needs nginx, and it reports rather than asserts):
//!
//! ```text
//! cargo test -p clubhost-proxy --test conformance -- --ignored --nocapture nginx
//! ```
//!
//! Each row gets its own nginx, started from a config written to a temporary directory, listening
//! on 127.0.0.1 only, with the usual reverse-proxy settings (`proxy_pass`, HTTP/1.1 upstream,
//! keep-alive, `Host $host`; no WebSocket lines, so Upgrade is not forwarded), in front of the same recording
//! upstreams. nginx runs as one process (`master_process off`), so killing it by its handle when
//! the row is done leaves no worker behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;

fn nginx() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn config(dir: &Path, port: u16, club: u16, other: u16) -> String {
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

/// What nginx made of one row: the visitor's status and what the upstreams received.
async fn through_nginx(nginx: &Path, row: &Row, n: usize) -> (String, String) {
    let club = Recorder::start(row.reply.clone()).await;
    let other = Recorder::start(row.reply.clone()).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = std::env::temp_dir().join(format!("clubhost-nginx-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        config(&dir, port, club.addr.port(), other.addr.port()),
    )
    .unwrap();
    let mut child = Command::new(nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
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

/// The request line and the lines that matter for the table (Host, Upgrade, Connection, Via).
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
                ]
                .iter()
                .any(|h| l.starts_with(h))
        })
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test]
#[ignore = "a report: needs nginx; run with --ignored --nocapture"]
async fn nginx_on_the_same_rows() {
    let Some(nginx) = nginx() else {
        println!("nginx is not installed: nothing to compare");
        return;
    };
    let rows = requests::rows().into_iter().chain(responses::rows());
    println!("| rule | section | clubhost | nginx | nginx forwarded |");
    println!("|---|---|---|---|---|");
    for (n, row) in rows.enumerate() {
        let (status, forwarded) = through_nginx(&nginx, &row, n).await;
        println!(
            "| {} | {} | {} | {status} | {forwarded} |",
            row.rule, row.section, row.client.status
        );
    }
}
