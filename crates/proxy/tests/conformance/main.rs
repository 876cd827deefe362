//! The proxy's HTTP/1.1 conformance table (issue 21): one row per MUST / MUST NOT of RFC 9110 and
//! RFC 9112 that binds an intermediary, plus the proxy's own stricter rules, each run over real
//! sockets. A row is the rule, its section, what the visitor sends, what the project answers
//! (however broken), what the visitor must get, and the exact bytes the project must receive (or
//! that it receives nothing). A row where the proxy deliberately answers differently from the
//! RFC says why in `differs`. docs/reliability.md summarises the table.
//!
//! Request-side rows are in `requests.rs`, response-side rows (a misbehaving project) in
//! `responses.rs`. Every row gets its own proxy and upstreams, and all rows run at once, so the
//! table takes about a second whatever its length.

#[path = "../support/mod.rs"]
mod support;

mod peers;
mod requests;
mod responses;

use support::*;

/// Which upstream a row's request is for: every row's proxy has a root route to `club` and a
/// host route for `other.host` to `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Club,
    Other,
}

/// One rule, exercised.
pub struct Row {
    pub rule: &'static str,
    pub section: &'static str,
    pub request: Vec<u8>,
    /// What the project answers to any request.
    pub reply: Reply,
    /// `max_header_size` for this row's proxy, when the default does not suit it.
    pub max_header: Option<usize>,
    pub client: Client,
    /// The exact bytes the project must receive (`{up}` stands for the club upstream's address);
    /// `None`: nothing at all, not even a connection.
    pub upstream: Option<String>,
    pub to: To,
    /// Where and why the proxy deliberately does not do what the RFC says.
    pub differs: Option<&'static str>,
}

/// What the visitor must see; `None` fields are not checked.
#[derive(Default)]
pub struct Client {
    pub status: u16,
    pub body: Option<Vec<u8>>,
    pub closed: Option<bool>,
    pub complete: Option<bool>,
    /// 1xx statuses before the final one.
    pub interim: Option<Vec<u16>>,
    /// Header names the final response must not carry.
    pub lacks: Vec<&'static str>,
    /// Headers it must carry, with these values.
    pub has: Vec<(&'static str, &'static str)>,
    /// Text that must appear nowhere in what the visitor read.
    pub never: Option<&'static str>,
}

/// A row under construction: `row(rule, section).sends(..).answers(..).forwards(..)`.
pub fn row(rule: &'static str, section: &'static str) -> Row {
    Row {
        rule,
        section,
        request: b"GET /r HTTP/1.1\r\nHost: club.test\r\n\r\n".to_vec(),
        reply: Reply::ok("fine"),
        max_header: None,
        client: Client::default(),
        upstream: None,
        to: To::Club,
        differs: None,
    }
}

impl Row {
    pub fn sends(mut self, request: impl AsRef<[u8]>) -> Row {
        self.request = request.as_ref().to_vec();
        self
    }
    pub fn project(mut self, reply: Reply) -> Row {
        self.reply = reply;
        self
    }
    pub fn answers(mut self, status: u16) -> Row {
        self.client.status = status;
        self
    }
    pub fn body(mut self, body: &str) -> Row {
        self.client.body = Some(body.as_bytes().to_vec());
        self
    }
    pub fn closes(mut self) -> Row {
        self.client.closed = Some(true);
        self
    }
    pub fn stays_open(mut self) -> Row {
        self.client.closed = Some(false);
        self
    }
    pub fn cut_short(mut self) -> Row {
        self.client.complete = Some(false);
        self.client.closed = Some(true);
        self
    }
    pub fn interim(mut self, statuses: &[u16]) -> Row {
        self.client.interim = Some(statuses.to_vec());
        self
    }
    pub fn lacks(mut self, name: &'static str) -> Row {
        self.client.lacks.push(name);
        self
    }
    pub fn has(mut self, name: &'static str, value: &'static str) -> Row {
        self.client.has.push((name, value));
        self
    }
    pub fn never(mut self, text: &'static str) -> Row {
        self.client.never = Some(text);
        self
    }
    pub fn forwards(mut self, bytes: impl Into<String>) -> Row {
        self.upstream = Some(bytes.into());
        self
    }
    pub fn to_other(mut self) -> Row {
        self.to = To::Other;
        self
    }
    pub fn forwards_nothing(mut self) -> Row {
        self.upstream = None;
        self
    }
    pub fn max_header(mut self, n: usize) -> Row {
        self.max_header = Some(n);
        self
    }
    pub fn differs(mut self, why: &'static str) -> Row {
        self.differs = Some(why);
        self
    }
}

/// The plain request rows use unless they say otherwise, as the project receives it.
pub fn plain_forwarded() -> String {
    forwarded("GET /r HTTP/1.1", &[("host", "club.test")], "club.test")
}

/// Runs one row; `Err` lists what differed.
async fn run(row: &Row) -> Result<(), String> {
    let club = Recorder::start(row.reply.clone()).await;
    let other = Recorder::start(row.reply.clone()).await;
    let mut settings = settings();
    if let Some(n) = row.max_header {
        settings.max_header_size = n;
    }
    let proxy = start_proxy(
        vec![
            route("", "Club", club.addr),
            host_route("other.host", "Other", other.addr),
        ],
        settings,
    )
    .await;
    let seen = send(proxy, &row.request).await;
    settle().await;
    let mut wrong = Vec::new();
    let c = &row.client;
    if seen.status != c.status {
        wrong.push(format!("status {} (wanted {})", seen.status, c.status));
    }
    if let Some(body) = &c.body
        && &seen.body != body
    {
        let got = String::from_utf8_lossy(&seen.body);
        wrong.push(format!("body {got:?}"));
    }
    if let Some(closed) = c.closed
        && seen.closed != closed
    {
        wrong.push(format!("closed: {} (wanted {closed})", seen.closed));
    }
    if let Some(complete) = c.complete
        && seen.complete != complete
    {
        wrong.push(format!("complete: {} (wanted {complete})", seen.complete));
    }
    if let Some(interim) = &c.interim
        && &seen.interim != interim
    {
        wrong.push(format!("interim {:?} (wanted {interim:?})", seen.interim));
    }
    for name in &c.lacks {
        if seen.header(name).is_some() {
            wrong.push(format!("header {name} present"));
        }
    }
    for (name, value) in &c.has {
        if seen.header(name) != Some(value) {
            wrong.push(format!(
                "header {name}: {:?} (wanted {value})",
                seen.header(name)
            ));
        }
    }
    if let Some(text) = c.never
        && seen.raw.contains(text)
    {
        wrong.push(format!("the visitor saw {text:?}"));
    }
    let (target, bystander) = match row.to {
        To::Club => (&club, &other),
        To::Other => (&other, &club),
    };
    let expected = row
        .upstream
        .as_ref()
        .map(|e| e.replace("{up}", &club.addr.to_string()));
    let received = target.connections();
    match &expected {
        None if !received.is_empty() => {
            wrong.push(format!(
                "forwarded {:?} (wanted nothing)",
                target.received()
            ));
        }
        Some(e) if &target.received() != e => {
            wrong.push(format!(
                "upstream got\n    {:?}\n  wanted\n    {e:?}",
                target.received()
            ));
        }
        _ => {}
    }
    if !bystander.connections().is_empty() {
        wrong.push(format!("the other upstream got {:?}", bystander.received()));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  visitor read {:?}",
            wrong.join("\n  "),
            seen.raw
        ))
    }
}

/// Runs every row at once; reports every failing row, not just the first.
async fn run_table(rows: Vec<Row>) {
    let results = futures_util::future::join_all(rows.iter().map(run)).await;
    let mut failures = Vec::new();
    for (row, result) in rows.iter().zip(results) {
        let mark = if result.is_ok() { "ok  " } else { "FAIL" };
        let differs = if row.differs.is_some() {
            " (differs on purpose)"
        } else {
            ""
        };
        println!("{mark} {:<14} {}{differs}", row.section, row.rule);
        if let Err(e) = result {
            failures.push(format!("{} ({}):\n  {e}", row.rule, row.section));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_side() {
    run_table(requests::rows()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_side() {
    run_table(responses::rows()).await;
}
