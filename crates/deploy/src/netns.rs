//! Sockets made inside another network namespace (the swarm anchor's, docs/scale-out.md): one
//! thread enters the namespace once with `setns(2)` and then only creates sockets on request; a
//! socket belongs to the namespace it was created in, so the caller connects and uses it from
//! any thread, with no relay. Needs `CAP_SYS_ADMIN` (clubhost runs as root to drive Docker).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

type Reply = tokio::sync::oneshot::Sender<io::Result<OwnedFd>>;

/// A thread living in one network namespace, making sockets there.
pub struct Namespace {
    requests: Mutex<mpsc::Sender<(bool, Reply)>>,
    /// The host process whose namespace this is.
    pub pid: u32,
}

impl Namespace {
    /// Enters the network namespace of process `pid` on a new thread. Fails (with the reason)
    /// when the namespace cannot be opened or entered.
    pub fn enter(pid: u32) -> io::Result<Namespace> {
        let path = format!("/proc/{pid}/ns/net");
        let file = std::fs::File::open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("open {path}: {e}")))?;
        let (tx, rx) = mpsc::channel::<(bool, Reply)>();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        std::thread::Builder::new()
            .name(format!("netns-{pid}"))
            .spawn(move || {
                use std::os::fd::AsRawFd;
                // SAFETY: setns on this thread only, with a namespace fd we own for the call.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    let e = io::Error::last_os_error();
                    let _ = ready_tx.send(Err(io::Error::new(
                        e.kind(),
                        format!("enter the network namespace of process {pid}: {e}"),
                    )));
                    return;
                }
                drop(file);
                let _ = ready_tx.send(Ok(()));
                while let Ok((v6, reply)) = rx.recv() {
                    let _ = reply.send(new_socket(v6));
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("the namespace thread ended"))??;
        Ok(Namespace {
            requests: Mutex::new(tx),
            pid,
        })
    }

    /// A new, unconnected, non-blocking TCP socket in the namespace.
    pub async fn socket(&self, v6: bool) -> io::Result<OwnedFd> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.requests
            .lock()
            .expect("namespace channel poisoned")
            .send((v6, tx))
            .map_err(|_| io::Error::other("the namespace thread ended"))?;
        rx.await
            .map_err(|_| io::Error::other("the namespace thread ended"))?
    }

    /// Connects to `addr` from inside the namespace, within `timeout`.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> io::Result<tokio::net::TcpStream> {
        let fd = self.socket(addr.is_ipv6()).await?;
        let socket = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(fd));
        tokio::time::timeout(timeout, socket.connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("connect to {addr}")))?
    }
}

fn new_socket(v6: bool) -> io::Result<OwnedFd> {
    let domain = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: a plain socket(2) call; the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our own namespace: sockets made there connect like any other.
    #[tokio::test]
    async fn a_socket_made_in_a_namespace_connects_from_anywhere() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ns = match Namespace::enter(std::process::id()) {
            Ok(ns) => ns,
            // Not root: setns is refused, and says so.
            Err(e) => {
                assert!(e.to_string().contains("enter the network namespace"), "{e}");
                return;
            }
        };
        let (conn, accepted) =
            tokio::join!(ns.connect(addr, Duration::from_secs(5)), listener.accept());
        assert_eq!(conn.unwrap().peer_addr().unwrap(), addr);
        accepted.unwrap();
        assert!(Namespace::enter(u32::MAX).is_err());
    }
}
