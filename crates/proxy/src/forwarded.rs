//! Header surgery on the way through: hop-by-hop removal, the X-Forwarded-* family with the
//! trusted-proxy rule, and the sub-path helpers that rewrite `Location` and `Set-Cookie; Path`
//! under a project's prefix.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
pub(crate) const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub(crate) const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
pub(crate) const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Headers that describe one hop and must not be forwarded (RFC 9110 §7.6.1). A `static`, not a
/// `const`: a const array of `HeaderName`s would be built and dropped at every use.
static HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// An IP network (`10.0.0.0/8`, `::1`) for `[proxy] trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (ip, bits) = match s.split_once('/') {
            Some((ip, b)) => (ip, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR like \"10.0.0.0/8\""))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => match b.trim().parse::<u8>() {
                Ok(b) if b <= max => b,
                _ => return Err(format!("{s:?}: prefix length must be 0-{max}")),
            },
        };
        Ok(Cidr { net, bits })
    }
}

impl Cidr {
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Removes hop-by-hop headers, including those the Connection header names. Scans the (few)
/// headers once and removes only the names found: a hashed remove per known name would cost
/// nine lookups on every request and response. Public for the `proxy_request` fuzz target.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Bit i set: HOP_BY_HOP[i] is present.
    let mut present = 0u16;
    let mut extra = false;
    for (name, value) in headers.iter() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present |= 1 << i;
            if name == header::CONNECTION {
                // `keep-alive` / `close` name nothing else to remove.
                let v = value.as_bytes();
                extra |=
                    !(v.eq_ignore_ascii_case(b"keep-alive") || v.eq_ignore_ascii_case(b"close"));
            }
        }
    }
    if present == 0 {
        return;
    }
    if extra {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            // `Connection: host` must not strip the Host the project routes by (RFC 9110 §7.6.1:
            // an option may not name a field meant for every recipient).
            .filter(|n| n != header::HOST)
            .collect();
        for h in &named {
            headers.remove(h);
        }
    }
    for (i, h) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(h);
        }
    }
}

/// What the X-Forwarded-* family needs to know about one request.
pub(crate) struct Hop<'a> {
    pub(crate) peer: SocketAddr,
    /// `peer`'s IP as a header value, made once per connection.
    pub(crate) peer_ip: &'a HeaderValue,
    /// The peer is a trusted proxy: its X-Forwarded-* are kept and extended.
    pub(crate) trusted: bool,
    pub(crate) scheme: &'a HeaderValue,
    /// Stripped path prefix (`/slack`) as a header value; `None` for none.
    pub(crate) prefix: Option<&'a HeaderValue>,
}

/// The X-Forwarded-* headers one request carries upstream. The proxy writes them straight into
/// the upstream request head after the client's headers (`proxy::h1`), instead of inserting each
/// into the header map: five hashed inserts saved on every request.
#[derive(Debug, Default)]
pub(crate) struct Forwarded {
    lines: [Option<(&'static str, HeaderValue)>; 5],
}

impl Forwarded {
    fn push(&mut self, name: &'static str, value: HeaderValue) {
        if let Some(slot) = self.lines.iter_mut().find(|l| l.is_none()) {
            *slot = Some((name, value));
        }
    }

    /// `(lowercase name, value)` in the order they go out.
    pub(crate) fn lines(&self) -> impl Iterator<Item = (&'static str, &HeaderValue)> {
        self.lines.iter().flatten().map(|(n, v)| (*n, v))
    }
}

/// Decides X-Forwarded-For (appended to a trusted proxy's list), -Proto, -Host, -Prefix and
/// X-Real-IP, removing from `headers` what they replace. From untrusted peers every client-sent
/// X-Forwarded-*, X-Real-IP and Forwarded header is dropped: a visitor must not be able to pose
/// as another address.
pub(crate) fn forwarded(headers: &mut HeaderMap, hop: &Hop<'_>) -> Forwarded {
    let mut out = Forwarded::default();
    let ip_value = hop.peer_ip.clone();
    let host = headers.get(header::HOST).cloned();
    if hop.trusted {
        let prior = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        // X-Real-IP: the client as the trusted proxy saw it (its last X-Forwarded-For entry).
        let client = prior
            .rsplit(',')
            .map(str::trim)
            .find(|s| !s.is_empty())
            .and_then(|s| HeaderValue::from_str(s).ok());
        let xff = if prior.is_empty() {
            ip_value.clone()
        } else {
            let ip = hop.peer.ip();
            HeaderValue::from_str(&format!("{prior}, {ip}")).unwrap_or_else(|_| ip_value.clone())
        };
        headers.remove(X_FORWARDED_FOR);
        headers.remove(X_REAL_IP);
        headers.remove(X_FORWARDED_PREFIX);
        out.push("x-forwarded-for", xff);
        out.push("x-real-ip", client.unwrap_or(ip_value));
        if !headers.contains_key(&X_FORWARDED_PROTO) {
            out.push("x-forwarded-proto", hop.scheme.clone());
        }
        if !headers.contains_key(&X_FORWARDED_HOST)
            && let Some(host) = host
        {
            out.push("x-forwarded-host", host);
        }
    } else {
        // One scan: most requests carry none of these, and then nothing is removed.
        let sent = headers.keys().any(|k| {
            k == X_FORWARDED_FOR
                || k == X_REAL_IP
                || k == X_FORWARDED_PROTO
                || k == X_FORWARDED_HOST
                || k == X_FORWARDED_PREFIX
                || k == X_FORWARDED_PORT
                || k == FORWARDED
        });
        if sent {
            for name in [
                X_FORWARDED_FOR,
                X_REAL_IP,
                X_FORWARDED_PROTO,
                X_FORWARDED_HOST,
                X_FORWARDED_PREFIX,
                X_FORWARDED_PORT,
                FORWARDED,
            ] {
                headers.remove(name);
            }
        }
        out.push("x-forwarded-for", ip_value.clone());
        out.push("x-real-ip", ip_value);
        out.push("x-forwarded-proto", hop.scheme.clone());
        if let Some(host) = host {
            out.push("x-forwarded-host", host);
        }
    }
    if let Some(p) = hop.prefix {
        out.push("x-forwarded-prefix", p.clone());
    }
    out
}

/// An IP as a header value (IPv4-mapped IPv6 shown as IPv4), shareable without copying.
pub(crate) fn ip_header(ip: IpAddr) -> HeaderValue {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let mut buf = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{ip}"));
    let n = usize::try_from(cursor.position()).unwrap_or(0);
    HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(&buf[..n]))
        .expect("an IP is a valid header value")
}

/// Rewrites response headers that point at `/…` on the club's own host under `prefix`:
/// `Location: /login` → `/slug/login`, `Set-Cookie: …; Path=/` → `Path=/slug/`. Values already
/// under the prefix (apps that read X-Forwarded-Prefix) are left alone. `host` is the Host the
/// client asked for; absolute Locations on other hosts are not touched. Public for the fuzz target.
pub fn rewrite_response(headers: &mut HeaderMap, prefix: &str, host: Option<&str>) {
    if prefix.is_empty() {
        return;
    }
    if let Some(loc) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
        && let Some(new) = rewrite_location(loc, prefix, host)
        && let Ok(v) = HeaderValue::from_str(&new)
    {
        headers.insert(header::LOCATION, v);
    }
    if !headers.contains_key(header::SET_COOKIE) {
        return;
    }
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|c| rewrite_cookie_path(c, prefix))
                .and_then(|c| HeaderValue::from_str(&c).ok())
                .unwrap_or_else(|| v.clone())
        })
        .collect();
    headers.remove(header::SET_COOKIE);
    for c in cookies {
        headers.append(header::SET_COOKIE, c);
    }
}

fn under_prefix(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|r| r.is_empty() || r.starts_with(['/', '?', '#']))
}

fn rewrite_location(loc: &str, prefix: &str, host: Option<&str>) -> Option<String> {
    if loc.starts_with('/') && !loc.starts_with("//") {
        return (!under_prefix(loc, prefix)).then(|| format!("{prefix}{loc}"));
    }
    let (scheme, rest) = loc.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if !host.is_some_and(|h| h.eq_ignore_ascii_case(authority)) || under_prefix(path, prefix) {
        return None;
    }
    Some(format!("{scheme}://{authority}{prefix}{path}"))
}

fn rewrite_cookie_path(cookie: &str, prefix: &str) -> Option<String> {
    let mut changed = false;
    let parts: Vec<String> = cookie
        .split(';')
        .map(|part| {
            let trimmed = part.trim_start();
            if let Some((k, v)) = trimmed.split_once('=')
                && k.trim().eq_ignore_ascii_case("path")
            {
                let v = v.trim();
                if v.starts_with('/') && !under_prefix(v, prefix) {
                    changed = true;
                    let lead = &part[..part.len() - trimmed.len()];
                    return format!("{lead}{}={prefix}{v}", k.trim());
                }
            }
            part.to_string()
        })
        .collect();
    changed.then(|| parts.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_match() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!(
            "0.0.0.0/0"
                .parse::<Cidr>()
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
    }

    #[test]
    fn locations_and_cookies_move_under_the_prefix() {
        let h = Some("club.example");
        assert_eq!(
            rewrite_location("/login?x=1", "/app", h).unwrap(),
            "/app/login?x=1"
        );
        assert_eq!(rewrite_location("/app/login", "/app", h), None);
        assert_eq!(rewrite_location("/apple", "/app", h).unwrap(), "/app/apple");
        assert_eq!(
            rewrite_location("https://club.example/x", "/app", h).unwrap(),
            "https://club.example/app/x"
        );
        assert_eq!(rewrite_location("https://other.example/x", "/app", h), None);
        assert_eq!(rewrite_location("//evil.example/x", "/app", h), None);
        assert_eq!(rewrite_location("next", "/app", h), None);
        assert_eq!(
            rewrite_cookie_path("sid=1; Path=/; HttpOnly", "/app").unwrap(),
            "sid=1; Path=/app/; HttpOnly"
        );
        assert_eq!(rewrite_cookie_path("sid=1; path=/app/x", "/app"), None);
        assert_eq!(rewrite_cookie_path("sid=1; HttpOnly", "/app"), None);
    }
}
