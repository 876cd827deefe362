//! The CLI's way to the admin API: the running server's unix socket when one answers, otherwise
//! the same API router in this process (so the CLI works with no server, through the same rules).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::body::Body;
use http_body_util::BodyExt;
use hyper::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use clubhost_core::config::Config;
use clubhost_core::control::Control;
use clubhost_proxy::routes::RouteHandle;

/// Where API calls go: a running server's socket, or the API router in this process.
pub(super) enum Api {
    Socket(PathBuf),
    InProcess(axum::Router, Arc<Control>),
}

impl Api {
    pub(super) async fn connect(config: Config) -> anyhow::Result<Api> {
        let path = config.socket_path();
        if tokio::net::UnixStream::connect(&path).await.is_ok() {
            return Ok(Api::Socket(path));
        }
        // This process writes the registry itself: what it creates is owner-only, as in `serve`.
        clubhost_core::files::private_umask();
        let control = Arc::new(Control::open(Arc::new(config), RouteHandle::default()).await?);
        Ok(Api::InProcess(crate::api::router(control.clone()), control))
    }

    /// Sends one request; a non-2xx answer becomes an error with the server's message.
    /// Sends one of the server's own request types as the JSON body.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        body: &impl serde::Serialize,
    ) -> anyhow::Result<Value> {
        self.call(method, path, Some(serde_json::to_value(body)?))
            .await
    }

    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.call_raw(method, path, "application/json", body.into_bytes())
            .await
    }

    /// Sends `body` as it is, with its content type (a multipart upload).
    pub(super) async fn call_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "clubhost")
            .header("content-type", content_type)
            .body(bytes::Bytes::from(body))?;
        let (status, bytes) = match self {
            Api::Socket(p) => send_over_socket(p, req).await?,
            Api::InProcess(router, control) => {
                let res = router.clone().oneshot(req.map(Body::from)).await?;
                let status = res.status();
                let bytes = res.into_body().collect().await?.to_bytes();
                // This process exits soon: let the notifications it queued go out first.
                control
                    .notifier()
                    .flush(std::time::Duration::from_secs(15))
                    .await;
                (status, bytes)
            }
        };
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            match value["error"].as_str() {
                Some(msg) => bail!("{msg}"),
                None => bail!("{status}: {}", String::from_utf8_lossy(&bytes)),
            }
        }
        Ok(value)
    }
}

async fn send_over_socket(
    path: &Path,
    req: Request<bytes::Bytes>,
) -> anyhow::Result<(StatusCode, bytes::Bytes)> {
    let stream = tokio::net::UnixStream::connect(path)
        .await
        .with_context(|| format!("cannot connect to {}", path.display()))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let res = sender
        .send_request(req.map(http_body_util::Full::new))
        .await?;
    let status = res.status();
    Ok((status, res.into_body().collect().await?.to_bytes()))
}
