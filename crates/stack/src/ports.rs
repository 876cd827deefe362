//! `ports:` and which service visitors reach. clubhost never publishes a port on the server:
//! visitors reach a project through the club's address and proxy. A file's `ports:` is still the
//! best evidence of which service serves the web and on which container port, so it is read (short
//! and long syntax), the host side is dropped with a warning, and the container ports feed the
//! choice of the exposed service when `x-clubhost` does not pin it.

use std::collections::HashMap;

use super::checker::{Checker, join};
use super::yaml::Node;
use super::{ContainerPort, Expose, ServiceSpec};

/// Container ports that usually speak plain HTTP, best first: the web ports of the frameworks
/// and self-hosted apps members bring (2368 Ghost, 5678 n8n, 8065 Mattermost, 3001 Uptime Kuma).
const HTTP_PORTS: &[u16] = &[
    80, 8080, 3000, 8000, 5000, 2368, 8888, 3001, 9000, 8081, 8082, 8090, 5678, 8065, 4000, 8096,
    5055, 8384, 9090, 8123, 8989, 7878, 5173, 4200, 1337, 8088, 5601,
];

/// Container ports known to speak something else (TLS, databases, mail, DNS, SSH, MQTT, game
/// servers): the proxy cannot carry them, so choosing one is worth a warning.
const OTHER_PORTS: &[u16] = &[
    21, 22, 25, 53, 110, 143, 389, 443, 465, 587, 636, 993, 995, 1883, 2222, 3306, 5432, 5672,
    6379, 8443, 8883, 9042, 9200, 9300, 11211, 19132, 25565, 25575, 27015, 27017,
];

/// Lower is more likely to be the web port.
fn rank(p: &ContainerPort) -> usize {
    if p.protocol != "tcp" {
        return 300;
    }
    if p.also_udp {
        // Published for TCP and UDP alike (syslog, DNS, game servers): not a web port, whatever
        // its number.
        return 150;
    }
    if let Some(i) = HTTP_PORTS.iter().position(|&h| h == p.port) {
        return i;
    }
    if OTHER_PORTS.contains(&p.port) {
        return 200;
    }
    100
}

/// Whether visitors could not reach this port through an HTTP proxy.
fn not_http(p: &ContainerPort) -> bool {
    rank(p) >= 200
}

/// A service's `ports:`; the container side is kept, the host side is dropped with one warning.
pub fn ports(c: &mut Checker, key: &Node, v: &Node, p: &str, spec: &mut ServiceSpec) {
    let Some(seq) = v.as_seq() else {
        c.invalid(v, p, format!("expected a list, found {}", v.kind()));
        return;
    };
    for (i, item) in seq.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let port = if item.as_map().is_some() {
            long_port(c, item, &ip)
        } else {
            match c.text(item, &ip) {
                Some(t) => short_port(&t).or_else(|| {
                    c.invalid(
                        item,
                        &ip,
                        format!(
                            "{t:?} is not a port mapping like \"8080:80\", \"80\" or \"53:53/udp\""
                        ),
                    );
                    None
                }),
                None => None,
            }
        };
        spec.ports.extend(port);
    }
    let udp: Vec<u16> = spec
        .ports
        .iter()
        .filter(|p| p.protocol == "udp")
        .map(|p| p.port)
        .collect();
    for p in &mut spec.ports {
        p.also_udp = p.protocol == "tcp" && udp.contains(&p.port);
    }
    if !seq.is_empty() {
        c.warn(
            key,
            p,
            "the host side is ignored: clubhost publishes no port on the server; visitors reach \
             the project through the club's address, and the club's proxy forwards to the \
             exposed service's container port",
        );
    }
}

/// `[host_ip:][host[-range]:]container[-range][/protocol]`; the first container port of a range.
pub fn short_port(text: &str) -> Option<ContainerPort> {
    let (rest, protocol) = match text.rsplit_once('/') {
        Some((r, proto)) => (r, proto.to_ascii_lowercase()),
        None => (text, "tcp".to_string()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return None;
    }
    // An IPv6 host address is bracketed and full of colons: skip past it.
    let rest = match rest.strip_prefix('[') {
        Some(r) => r.split_once(']')?.1.trim_start_matches(':'),
        None => rest,
    };
    let container = rest.rsplit(':').next()?;
    let first = container.split('-').next()?.trim();
    let port = first.parse::<u16>().ok().filter(|p| *p > 0)?;
    Some(ContainerPort {
        port,
        protocol,
        also_udp: false,
    })
}

fn long_port(c: &mut Checker, item: &Node, ip: &str) -> Option<ContainerPort> {
    let fields = c.entries(
        item,
        ip,
        &[
            "target",
            "published",
            "host_ip",
            "protocol",
            "mode",
            "name",
            "app_protocol",
        ],
        |_, _| None,
    );
    let mut port = None;
    let mut protocol = "tcp".to_string();
    for (k, _, v) in fields {
        let fp = join(ip, k);
        match k {
            "target" => {
                let t = c.text(v, &fp)?;
                match t.trim().parse::<u16>() {
                    Ok(p) if p > 0 => port = Some(p),
                    _ => {
                        c.invalid(v, &fp, format!("{t:?} is not a port (1-65535)"));
                        return None;
                    }
                }
            }
            "protocol" => protocol = c.text(v, &fp)?.to_ascii_lowercase(),
            // The host side (published, host_ip, mode) is never used; names are labels only.
            _ => {
                c.text(v, &fp);
            }
        }
    }
    match port {
        Some(port) => Some(ContainerPort {
            port,
            protocol,
            also_udp: false,
        }),
        None => {
            c.invalid(
                item,
                ip,
                "a long-syntax port needs `target:` (the container port)",
            );
            None
        }
    }
}

/// How to pin the exposed service, for warnings about a guess.
fn pin(name: &str, port: u16) -> String {
    format!("to choose another, add `x-clubhost: {{ expose: {name}, port: {port} }}`")
}

/// The best web port of a service's `ports:`, if it has any.
fn best(ports: &[ContainerPort]) -> Option<&ContainerPort> {
    ports.iter().min_by_key(|p| rank(p))
}

/// Which service visitors reach and on which container port. The service: `x-clubhost.expose`,
/// else the one service with a published TCP port (several: the one whose port looks most like
/// HTTP, with a warning), else the one service on an external network, else the only service,
/// else the one service nothing else depends on (with a warning). The port: `x-clubhost.port`,
/// else the service's best published port, else its first `expose:`, else 80 (with a warning).
pub fn expose(
    c: &mut Checker,
    root: &Node,
    x: Option<&Node>,
    services: &[ServiceSpec],
    key_of: &HashMap<String, &Node>,
) -> Option<Expose> {
    let mut chosen: Option<String> = None;
    let mut port: Option<u16> = None;
    if let Some(x) = x {
        for (key, _, val) in c.entries(x, "x-clubhost", &["expose", "port"], |_, _| None) {
            let path = join("x-clubhost", key);
            match key {
                "expose" => {
                    let name = c.text(val, &path)?;
                    if !services.iter().any(|s| s.name == name) {
                        c.invalid(
                            val,
                            &path,
                            format!("{name:?} is not a service of this stack"),
                        );
                        return None;
                    }
                    chosen = Some(name);
                }
                _ => match c.integer(val, &path).and_then(|p| u16::try_from(p).ok()) {
                    Some(p) if p > 0 => port = Some(p),
                    _ => {
                        c.invalid(val, &path, "port must be 1-65535");
                        return None;
                    }
                },
            }
        }
    }
    let at = |name: &str| key_of.get(name).copied().unwrap_or(root);
    let service = match chosen {
        Some(s) => s,
        None => infer(c, root, x, services, key_of)?,
    };
    let svc = services.iter().find(|s| s.name == service)?;
    let port = match port {
        Some(p) => p,
        None => match (best(&svc.ports), svc.expose.first()) {
            (Some(p), _) => {
                if not_http(p) {
                    c.warn(
                        at(&service),
                        &format!("services.{service}.ports"),
                        format!(
                            "port {}/{} does not look like HTTP: only HTTP is reachable through \
                             the club's proxy, so visitors may not reach this service",
                            p.port, p.protocol
                        ),
                    );
                }
                p.port
            }
            (None, Some(p)) => *p,
            (None, None) => {
                c.warn(
                    at(&service),
                    &format!("services.{service}"),
                    format!(
                        "nothing says which port {service:?} listens on, so visitors are sent to \
                         port 80; if that is wrong, add `x-clubhost: {{ port: <port> }}`"
                    ),
                );
                80
            }
        },
    };
    Some(Expose { service, port })
}

fn infer(
    c: &mut Checker,
    root: &Node,
    x: Option<&Node>,
    services: &[ServiceSpec],
    key_of: &HashMap<String, &Node>,
) -> Option<String> {
    let at = |name: &str| key_of.get(name).copied().unwrap_or(root);
    let tcp: Vec<&ServiceSpec> = services
        .iter()
        .filter(|s| s.ports.iter().any(|p| p.protocol == "tcp"))
        .collect();
    if let [one] = tcp.as_slice() {
        return Some(one.name.clone());
    }
    if tcp.len() > 1 {
        // min_by_key keeps the first of equals: file order breaks ties.
        // By how web-like its best port is (its place in the list of web ports; unknown ports
        // after those, other protocols last), then preferring the front of the stack (a service
        // no other one depends on), then file order.
        let needed = |s: &ServiceSpec| {
            services
                .iter()
                .any(|o| o.depends_on.iter().any(|d| d.service == s.name))
        };
        let winner = tcp.iter().min_by_key(|s| {
            let r = best(&s.ports).map_or(usize::MAX, rank);
            (r, needed(s))
        })?;
        let port = best(&winner.ports).map_or(80, |p| p.port);
        let names: Vec<&str> = tcp.iter().map(|s| s.name.as_str()).collect();
        c.warn(
            at(&winner.name),
            &format!("services.{}", winner.name),
            format!(
                "several services publish ports ({}); visitors reach {:?} on port {port}, the \
                 one that looks most like a web port; {}",
                names.join(", "),
                winner.name,
                pin(&winner.name, port)
            ),
        );
        return Some(winner.name.clone());
    }
    let on_gateway: Vec<&ServiceSpec> = services.iter().filter(|s| s.gateway).collect();
    match (on_gateway.as_slice(), services) {
        ([one], _) => return Some(one.name.clone()),
        ([], [only]) => return Some(only.name.clone()),
        ([], _) => {
            // The front of the stack: the one service no other service needs.
            let front: Vec<&ServiceSpec> = services
                .iter()
                .filter(|s| {
                    !services
                        .iter()
                        .any(|o| o.depends_on.iter().any(|d| d.service == s.name))
                })
                .collect();
            if let [one] = front.as_slice() {
                let port = one.expose.first().copied().unwrap_or(80);
                c.warn(
                    at(&one.name),
                    &format!("services.{}", one.name),
                    format!(
                        "no service publishes a port or joins an external network; visitors \
                         reach {:?}, the one no other service depends on; {}",
                        one.name,
                        pin(&one.name, port)
                    ),
                );
                return Some(one.name.clone());
            }
        }
        _ => {}
    }
    c.invalid(
        x.unwrap_or(root),
        "x-clubhost",
        "cannot tell which service visitors reach: give the web service a `ports:` entry or put \
         exactly one service on an external network, or add `x-clubhost: { expose: <service>, \
         port: <port> }`",
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_syntax_keeps_the_container_side() {
        let p = |t: &str| short_port(t).map(|p| (p.port, p.protocol));
        assert_eq!(p("8080:80"), Some((80, "tcp".into())));
        assert_eq!(p("80"), Some((80, "tcp".into())));
        assert_eq!(p("127.0.0.1:8080:80/tcp"), Some((80, "tcp".into())));
        assert_eq!(p("[::1]:8080:80"), Some((80, "tcp".into())));
        assert_eq!(p("53:53/udp"), Some((53, "udp".into())));
        assert_eq!(p("9000-9010:9000-9010"), Some((9000, "tcp".into())));
        assert_eq!(p("8080:80/quic"), None);
        assert_eq!(p("web"), None);
        assert_eq!(p("8080:0"), None);
    }

    #[test]
    fn web_ports_rank_before_others() {
        let tcp = |port| ContainerPort {
            port,
            protocol: "tcp".into(),
            also_udp: false,
        };
        assert!(rank(&tcp(80)) < rank(&tcp(7777)));
        assert!(rank(&tcp(7777)) < rank(&tcp(5432)));
        assert!(not_http(&tcp(25565)));
        assert!(not_http(&ContainerPort {
            port: 80,
            protocol: "udp".into(),
            also_udp: false,
        }));
        let both = ContainerPort {
            port: 5000,
            protocol: "tcp".into(),
            also_udp: true,
        };
        assert!(rank(&tcp(7777)) < rank(&both));
    }
}
