//! `clubhost tls list`: each name's certificate as the server keeps it (issuer, expiry, last
//! renewal, last error), from the admin API.

use hyper::Method;
use serde_json::Value;

use super::client::Api;
use super::{format_time, text};
use clubhost_core::config::Config;

/// Prints one line per name (or the JSON the API returned).
pub(crate) async fn list(config: Config, json: bool) -> anyhow::Result<()> {
    let api = Api::connect(config).await?;
    let certs = api.call(Method::GET, "/api/tls", None).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&certs)?);
        return Ok(());
    }
    let rows = certs.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("no certificates (HTTPS off, or nothing ordered yet)");
    }
    for c in &rows {
        println!("{}", line(c));
    }
    Ok(())
}

fn line(c: &Value) -> String {
    let mut out = format!("{:<32} ", text(&c["name"]));
    if c["not_after"].is_null() {
        out.push_str("not issued");
    } else {
        out.push_str(&format!(
            "issuer {}, expires {}, issued {}",
            text(&c["issuer"]),
            format_time(c["not_after"].as_i64()),
            format_time(c["issued_at"].as_i64()),
        ));
    }
    if !c["last_error"].is_null() {
        out.push_str(&format!(
            "; last order failed {}: {}",
            format_time(c["last_failure_at"].as_i64()),
            text(&c["last_error"])
        ));
    }
    out
}
