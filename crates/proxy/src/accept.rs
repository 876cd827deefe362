//! The accept loop both listeners share (plain HTTP in `lib.rs`, HTTPS in `tls::listener`):
//! accept until shutdown, one task per connection with its `ClientConn`, then tell every
//! connection to finish its request in flight and wait for them up to the shutdown deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::{ClientConn, Proxy, forwarded, framing, metrics};

impl Proxy {
    /// Serves `listener` until `shutdown` resolves: each accepted connection runs
    /// `serve(stream, client, closing)` on its own task. `https` marks its requests as arriving
    /// over TLS; `what` names the listener in the shutdown warning.
    pub(crate) async fn accept_until<F, Fut>(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        https: bool,
        what: &'static str,
        serve: F,
    ) where
        F: Fn(TcpStream, Arc<ClientConn>, watch::Receiver<bool>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // Connections watch this; on shutdown each finishes its request in flight, then closes.
        let (closing_tx, closing_rx) = watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Reap finished connection tasks so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
            let _ = stream.set_nodelay(true);
            let client = Arc::new(ClientConn {
                proxy: self.clone(),
                peer,
                // The peer's address as a header value, formatted once per connection.
                peer_ip: forwarded::ip_header(peer.ip()),
                framing: Arc::new(framing::FramingFlags::default()),
                https,
            });
            let connection = serve(stream, client, closing_rx.clone());
            connections.spawn(async move {
                let _open = metrics::ConnectionGuard::open();
                connection.await;
            });
        }
        drop(listener);
        let _ = closing_tx.send(true);
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(self.settings.shutdown_deadline, drain)
            .await
            .is_err()
        {
            tracing::warn!("shutdown deadline reached; closing remaining {what} connections");
        }
    }
}
