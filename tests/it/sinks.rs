//! Local stand-ins for the outside world notifications go to, started by the tests themselves: a
//! webhook receiver (HTTP/1.1, plain or over TLS, enough for reqwest's POST), an SMTP sink (enough
//! SMTP for lettre: plain, STARTTLS or TLS from the first byte), and a throwaway certificate
//! authority made with the `openssl` command for the TLS ones. Each sink runs on its own thread
//! with blocking sockets, so tests that block on the CLI never starve them. These are real sockets
//! and real protocol exchanges (TLS by rustls); only the far end is ours, because Slack, Discord
//! and a mail server cannot be reached from here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A certificate authority of the test's own and a server certificate it signed for 127.0.0.1
/// and localhost: `ca_file` is what clubhost is told to trust, `server` what a sink presents.
pub struct TestCa {
    _dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    pub server: Arc<ServerConfig>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        // Each CA gets its own name, so a certificate of one never even looks issued by another.
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "clubhost-test-ca-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::SeqCst)
        );
        let script = format!(
            "set -e
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
              -keyout ca.key -out ca.pem -days 2 -subj /CN={name} 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
              -keyout leaf.key -out leaf.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n\
keyUsage=digitalSignature\\nextendedKeyUsage=serverAuth\\n' > leaf.ext
            openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
              -out leaf.pem -days 2 -extfile leaf.ext 2>/dev/null"
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .output()
            .expect("the openssl command must be installed");
        assert!(
            out.status.success(),
            "openssl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.path().join("leaf.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(dir.path().join("leaf.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        TestCa {
            ca_file: dir.path().join("ca.pem"),
            server: Arc::new(server),
            _dir: dir,
        }
    }
}

/// Receives webhook POSTs; answers 500 to the first `fail_first` of them, 200 after.
pub struct WebhookSink {
    pub port: u16,
    /// Over TLS (an `https://` URL).
    tls: bool,
    /// Every body received, in order, including the ones answered with 500.
    bodies: Arc<Mutex<Vec<(u16, String)>>>,
}

impl WebhookSink {
    pub fn start(fail_first: usize) -> WebhookSink {
        WebhookSink::start_on(0, fail_first, None)
    }

    /// On `port` (0: any free one), over TLS with `tls`.
    pub fn start_on(port: u16, fail_first: usize, tls: Option<Arc<ServerConfig>>) -> WebhookSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
        let seen = bodies.clone();
        let secure = tls.is_some();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                match &tls {
                    // A client that refuses our certificate ends the handshake: the read fails
                    // and nothing is recorded.
                    Some(cfg) => {
                        let conn = ServerConnection::new(cfg.clone()).unwrap();
                        answer_post(StreamOwned::new(conn, stream), &seen, fail_first);
                    }
                    None => answer_post(stream, &seen, fail_first),
                }
            }
        });
        WebhookSink {
            port,
            tls: secure,
            bodies,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/hook", self.port)
    }

    /// Bodies answered with 200.
    pub fn delivered(&self) -> Vec<String> {
        let all = self.bodies.lock().unwrap();
        all.iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn attempts(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    /// Waits (bounded) until a delivered body contains `text`.
    pub fn wait_for(&self, text: &str) -> String {
        wait(|| self.delivered().into_iter().find(|b| b.contains(text)))
            .unwrap_or_else(|| panic!("no webhook containing {text:?}; got {:?}", self.delivered()))
    }
}

/// Reads one POST from `stream` and answers it.
fn answer_post<S: Read + Write>(stream: S, seen: &Mutex<Vec<(u16, String)>>, fail_first: usize) {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut all = seen.lock().unwrap();
    let status = if all.len() < fail_first { 500 } else { 200 };
    all.push((status, String::from_utf8_lossy(&body).to_string()));
    drop(all);
    let stream = reader.get_mut();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let _ = stream.flush();
}

/// One received email: recipients, the raw DATA, and whether it came over TLS.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
    pub tls: bool,
}

/// How an [`SmtpSink`] protects its connections.
pub enum SinkTls {
    Plain,
    /// Offers STARTTLS and refuses mail before it (like a submission port, 587).
    Starttls(Arc<ServerConfig>),
    /// TLS from the first byte (like port 465).
    Wrapper(Arc<ServerConfig>),
}

pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(SinkTls::Plain)
    }

    pub fn start_with(tls: SinkTls) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let store = mails.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                smtp_connection(stream, &tls, &store);
            }
        });
        SmtpSink { port, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits (bounded) until a mail to `to` contains `text`.
    pub fn wait_for(&self, to: &str, text: &str) -> Mail {
        wait(|| {
            self.mails()
                .into_iter()
                .find(|m| m.to.iter().any(|t| t == to) && m.data.contains(text))
        })
        .unwrap_or_else(|| {
            panic!(
                "no mail to {to} containing {text:?}; got {:?}",
                self.mails()
            )
        })
    }
}

fn smtp_connection(stream: TcpStream, tls: &SinkTls, store: &Mutex<Vec<Mail>>) {
    let secured = |cfg: &Arc<ServerConfig>, tcp| {
        StreamOwned::new(ServerConnection::new(cfg.clone()).unwrap(), tcp)
    };
    match tls {
        SinkTls::Plain => {
            smtp_session(stream, true, false, false, store);
        }
        SinkTls::Starttls(cfg) => {
            if let Some(tcp) = smtp_session(stream, true, true, false, store) {
                smtp_session(secured(cfg, tcp), false, false, true, store);
            }
        }
        SinkTls::Wrapper(cfg) => {
            smtp_session(secured(cfg, stream), true, false, true, store);
        }
    }
}

/// One SMTP dialogue. With `starttls` the sink offers STARTTLS and refuses mail until then; the
/// stream is handed back when the client asks for it, to go on over TLS.
fn smtp_session<S: Read + Write>(
    stream: S,
    greet: bool,
    starttls: bool,
    secure: bool,
    store: &Mutex<Vec<Mail>>,
) -> Option<S> {
    let mut reader = BufReader::new(stream);
    if greet {
        let _ = reader.get_mut().write_all(b"220 sink ESMTP\r\n");
    }
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") && starttls {
            b"250-sink\r\n250 STARTTLS\r\n"
        } else if upper.starts_with("STARTTLS") && starttls {
            let _ = reader.get_mut().write_all(b"220 go ahead\r\n");
            let _ = reader.get_mut().flush();
            return Some(reader.into_inner());
        } else if upper.starts_with("MAIL FROM:") && starttls {
            b"530 must issue a STARTTLS command first\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().trim_matches(['<', '>']).to_string());
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            let _ = reader.get_mut().write_all(b"354 go ahead\r\n");
            let _ = reader.get_mut().flush();
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            store.lock().unwrap().push(Mail {
                to: std::mem::take(&mut to),
                data,
                tls: secure,
            });
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = reader.get_mut().write_all(b"221 bye\r\n");
            let _ = reader.get_mut().flush();
            return None;
        } else {
            // EHLO, HELO, MAIL FROM, RSET, NOOP.
            b"250 sink\r\n"
        };
        let _ = reader.get_mut().write_all(reply);
        let _ = reader.get_mut().flush();
    }
}

/// Polls `f` for up to 30 s.
pub fn wait<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
