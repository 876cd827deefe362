//! The access log: one line per request, plain or JSON (`[log] format`), written through
//! `tracing` under the target `clubhost::access` so it can be filtered like any other log.

use std::time::Duration;

use serde::Deserialize;

/// Access log format (`[log] format` in clubhost.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per request.
    Plain,
    /// One JSON object per line.
    Json,
}

/// What one access log line says.
pub(crate) struct Entry<'a> {
    /// The project's display name, `-` when no route matched.
    pub(crate) project: &'a str,
    pub(crate) method: &'a str,
    /// The path the client asked for (without the query, which may carry secrets).
    pub(crate) path: &'a str,
    pub(crate) status: u16,
    /// Response body size when known up front (Content-Length); streamed bodies show `-`.
    pub(crate) bytes: Option<u64>,
    /// From request headers received to response headers ready.
    pub(crate) total: Duration,
    /// Time the upstream took to answer with headers, when one was asked.
    pub(crate) upstream: Option<Duration>,
}

impl Entry<'_> {
    pub(crate) fn line(&self, format: LogFormat) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        match format {
            LogFormat::Plain => format!(
                "{} {} {} {} {} {:.3}ms upstream={}",
                self.project,
                self.method,
                self.path,
                self.status,
                self.bytes.map_or("-".to_string(), |b| b.to_string()),
                ms(self.total),
                self.upstream
                    .map_or("-".to_string(), |u| format!("{:.3}ms", ms(u))),
            ),
            LogFormat::Json => serde_json::json!({
                "project": self.project,
                "method": self.method,
                "path": self.path,
                "status": self.status,
                "bytes": self.bytes,
                "total_ms": ms(self.total),
                "upstream_ms": self.upstream.map(ms),
            })
            .to_string(),
        }
    }
}

pub(crate) fn log(format: LogFormat, entry: &Entry<'_>) {
    if tracing::enabled!(target: "clubhost::access", tracing::Level::INFO) {
        tracing::info!(target: "clubhost::access", "{}", entry.line(format));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_both_formats() {
        let e = Entry {
            project: "Blog",
            method: "GET",
            path: "/blog/a \"b\"",
            status: 200,
            bytes: Some(12),
            total: Duration::from_micros(1500),
            upstream: None,
        };
        assert_eq!(
            e.line(LogFormat::Plain),
            "Blog GET /blog/a \"b\" 200 12 1.500ms upstream=-"
        );
        let v: serde_json::Value = serde_json::from_str(&e.line(LogFormat::Json)).unwrap();
        assert_eq!(v["path"], "/blog/a \"b\"");
        assert_eq!(v["status"], 200);
        assert!(v["upstream_ms"].is_null());
    }
}
