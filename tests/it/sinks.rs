//! Local stand-ins for the outside world notifications go to, started by the tests themselves: a
//! webhook receiver (plain HTTP/1.1, enough for reqwest's POST) and an SMTP sink (enough SMTP for
//! lettre). Each runs on its own thread with blocking sockets, so tests that block on the CLI never
//! starve them. These are real sockets and real protocol exchanges; only the far end is ours,
//! because Slack, Discord and a mail server cannot be reached from here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Receives webhook POSTs; answers 500 to the first `fail_first` of them, 200 after.
pub struct WebhookSink {
    pub port: u16,
    /// Every body received, in order, including the ones answered with 500.
    bodies: Arc<Mutex<Vec<(u16, String)>>>,
}

impl WebhookSink {
    pub fn start(fail_first: usize) -> WebhookSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
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
                    continue;
                }
                let mut all = seen.lock().unwrap();
                let status = if all.len() < fail_first { 500 } else { 200 };
                all.push((status, String::from_utf8_lossy(&body).to_string()));
                drop(all);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        WebhookSink { port, bodies }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
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

/// One received email: recipients and the raw DATA.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let store = mails.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let _ = stream.write_all(b"220 sink ESMTP\r\n");
                let mut to = Vec::new();
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("RCPT TO:") {
                        to.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        let _ = stream.write_all(b"354 go ahead\r\n");
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
                        });
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = stream.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        // EHLO, HELO, MAIL FROM, RSET, NOOP.
                        b"250 sink\r\n"
                    };
                    let _ = stream.write_all(reply);
                }
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
