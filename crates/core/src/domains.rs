//! Members' own domains: which names a project may claim, and the proof that its owner controls
//! one (docs/security.md, "Members' domains").
//!
//! The proof is an HTTP token: clubhost makes a random token per name, its proxy answers
//! `GET /.well-known/clubhost-domain/<token>` with the token (for any host, on plain HTTP, before
//! any route), and the check fetches `http://<name>:<port>/.well-known/clubhost-domain/<token>`
//! itself. The right answer means the name's DNS points at this club: nobody else's server knows
//! the token. Chosen over a DNS TXT record because it needs no DNS API or resolver library, is the
//! same path ACME's HTTP-01 takes right after (a name that passes will get its certificate), and
//! can be tested here end to end.
//!
//! The address is looked up with the system's resolver, or by asking `[tls] domain_check_dns`
//! directly (one A query over UDP, [`lookup_a`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The path prefix the proxy answers domain proofs under.
pub use clubhost_proxy::routes::DOMAIN_PROOF_PREFIX;

/// How long one check may take (lookup and fetch).
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a name cannot be a project's domain: the message says what is wrong with it.
pub fn check_name(name: &str, club_domain: &str) -> Result<String, String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return Err("the domain is empty".into());
    }
    if name.len() > 253 {
        return Err(format!("{name:?} is longer than 253 characters"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "{name:?} is not a full domain name (like blog.example.org)"
        ));
    }
    for label in &labels {
        let ok_chars = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if label.is_empty()
            || label.len() > 63
            || !ok_chars
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!(
                "{name:?}: the part {label:?} is not a DNS label (1-63 letters, digits and \
                 inner hyphens; write other scripts in their xn-- form)"
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{name:?} is an address, not a domain name"));
    }
    let club = club_domain.trim_end_matches('.').to_ascii_lowercase();
    if name == club || name.ends_with(&format!(".{club}")) {
        return Err(format!(
            "{name:?} is the club's own domain or under it; projects get <slug>.{club} already"
        ));
    }
    Ok(name)
}

/// A fresh proof token: 256 random bits, hex.
pub(crate) fn new_token() -> String {
    clubhost_registry::secrets::SecretKey::generate().to_hex()
}

/// Checks that `http://<name>:<port>/.well-known/clubhost-domain/<token>` answers the token;
/// the error says what was found instead.
pub(crate) async fn check_proof(
    name: &str,
    token: &str,
    port: u16,
    dns: Option<SocketAddr>,
) -> Result<(), String> {
    let addr = match dns {
        Some(server) => lookup_a(name, server).await?,
        None => {
            let mut addrs =
                tokio::time::timeout(CHECK_TIMEOUT, tokio::net::lookup_host((name, port)))
                    .await
                    .map_err(|_| format!("looking up {name} timed out"))?
                    .map_err(|e| format!("{name} has no address: {e}"))?;
            addrs
                .next()
                .ok_or_else(|| format!("{name} has no address"))?
                .ip()
        }
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(CHECK_TIMEOUT)
        .resolve(name, SocketAddr::new(addr, port))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let url = format!("http://{name}:{port}{DOMAIN_PROOF_PREFIX}{token}");
    let res = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url} ({addr}) did not answer: {e}"))?;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if status.is_success() && body.trim() == token {
        Ok(())
    } else {
        Err(format!(
            "{url} ({addr}) answered {status} without the token: the name does not point at this \
             club yet"
        ))
    }
}

/// The first IPv4 address of `name`, asked of the DNS server `server` (one query, RFC 1035).
pub(crate) async fn lookup_a(name: &str, server: SocketAddr) -> Result<IpAddr, String> {
    // A query id nobody can guess ahead (RandomState is seeded from the OS's random source).
    let id = {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(name) as u16
    };
    let query = encode_query(id, name);
    let bind = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("DNS socket: {e}"))?;
    socket
        .connect(server)
        .await
        .map_err(|e| format!("DNS server {server}: {e}"))?;
    socket
        .send(&query)
        .await
        .map_err(|e| format!("DNS server {server}: {e}"))?;
    let mut buf = [0u8; 1500];
    let n = tokio::time::timeout(CHECK_TIMEOUT, socket.recv(&mut buf))
        .await
        .map_err(|_| format!("DNS server {server} did not answer for {name}"))?
        .map_err(|e| format!("DNS server {server}: {e}"))?;
    parse_a(&buf[..n], id)
        .ok_or_else(|| format!("DNS server {server}: no address (A record) for {name}"))
        .map(IpAddr::V4)
}

fn encode_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    // Recursion desired; one question.
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 1, 0, 1]); // A, IN
    q
}

/// Skips a (possibly compressed) name at `at`; the offset after it.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

/// The first A record of the answer to query `id`.
fn parse_a(msg: &[u8], id: u16) -> Option<Ipv4Addr> {
    if msg.len() < 12 || msg[..2] != id.to_be_bytes() || msg[2] & 0x80 == 0 || msg[3] & 0x0F != 0 {
        return None;
    }
    let questions = u16::from_be_bytes([msg[4], msg[5]]);
    let answers = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at)? + 4;
    }
    for _ in 0..answers {
        at = skip_name(msg, at)?;
        let head = msg.get(at..at + 10)?;
        let (kind, class) = (
            u16::from_be_bytes([head[0], head[1]]),
            u16::from_be_bytes([head[2], head[3]]),
        );
        let len = usize::from(u16::from_be_bytes([head[8], head[9]]));
        let data = msg.get(at + 10..at + 10 + len)?;
        if kind == 1 && class == 1 && len == 4 {
            return Some(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_names_outside_the_club() {
        assert_eq!(
            check_name(" Blog.Ana.Example. ", "club.example").unwrap(),
            "blog.ana.example"
        );
        for bad in [
            "",
            "localhost",
            "a..example",
            "-a.example",
            "a-.example",
            "a_b.example",
            "*.ana.example",
            "ünï.example",
            "10.0.0.1",
            "club.example",
            "blog.club.example",
            "x.blog.CLUB.example",
        ] {
            assert!(check_name(bad, "club.example").is_err(), "{bad:?}");
        }
        assert!(check_name(&format!("{}.example", "a".repeat(64)), "c.example").is_err());
        assert!(check_name("xn--n3h.example", "club.example").is_ok());
        assert!(check_name("notclub.example", "club.example").is_ok());
    }

    #[test]
    fn an_answer_with_a_compressed_name_gives_its_address() {
        let mut msg = encode_query(7, "blog.ana.example");
        msg[2] = 0x81;
        msg[3] = 0x80;
        msg[7] = 2; // two answers: a CNAME-like record to skip, then the A
        msg.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xC0, 12]);
        msg.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
        assert_eq!(parse_a(&msg, 7), Some(Ipv4Addr::new(127, 0, 0, 9)));
        assert_eq!(parse_a(&msg, 8), None, "another query's answer");
        msg[3] = 0x83; // NXDOMAIN
        assert_eq!(parse_a(&msg, 7), None);
        assert_eq!(parse_a(&msg[..20], 7), None, "cut short");
    }
}
