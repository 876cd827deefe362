//! The club's safety policy: default deny. Every construct that would let one member's stack
//! reach the server or another member's project is refused here, with the reason shown to the
//! member and the admin. Keys not listed here and not supported are refused as unsupported by the
//! checker; this table is the ones refused *on purpose*.

use super::yaml::Node;

/// Why a service key is refused, or `None` when the policy has nothing against it (the checker
/// then decides whether the key is supported). `value` is the key's node, for keys that are only
/// dangerous with some values.
pub(crate) fn service_key(key: &str, value: &Node) -> Option<String> {
    let text = value.scalar_text().unwrap_or_default();
    let reason = match key {
        "privileged" => "privileged containers can take over the server".to_string(),
        "cap_add" => {
            "adding Linux capabilities is not allowed: containers run with Docker's default set \
             (cap_drop is fine)"
                .to_string()
        }
        "devices" => "host devices are not available to projects".to_string(),
        "device_cgroup_rules" => "device access rules are not available to projects".to_string(),
        "network_mode" => match text.as_str() {
            "host" => {
                "network_mode: host would put the service on the server's own network".to_string()
            }
            t if t.starts_with("container:") || t.starts_with("service:") => {
                "network_mode: container:/service: would share another container's network; \
                 use networks instead"
                    .to_string()
            }
            _ => return None,
        },
        "pid" | "ipc" | "uts" | "userns_mode" if text == "host" => {
            format!("{key}: host shares the server's {key} namespace with the container")
        }
        "pid" | "ipc" if text.starts_with("container:") || text.starts_with("service:") => {
            format!("{key}: {text} shares another container's namespace")
        }
        "security_opt" => return security_opt(value),
        "sysctls" => {
            "sysctls change kernel settings; they are not available to projects".to_string()
        }
        "cgroup_parent" | "cgroup" => "cgroup settings are not available to projects".to_string(),
        "extra_hosts" | "dns" | "dns_search" | "dns_opt" | "mac_address" => {
            format!("{key} changes the network setup clubhost manages; remove it")
        }
        "oom_kill_disable" | "oom_score_adj" | "cpu_rt_runtime" | "cpu_rt_period" => {
            format!("{key} affects the whole server; remove it")
        }
        "runtime" | "isolation" => format!("{key} is set by clubhost; remove it"),
        _ => return None,
    };
    Some(reason)
}

/// `security_opt` entries that turn a protection off are refused; `no-new-privileges` (which
/// clubhost sets anyway) is harmless. Any other entry is refused too: default deny.
fn security_opt(value: &Node) -> Option<String> {
    let items: Vec<String> = match value.as_seq() {
        Some(seq) => seq.iter().filter_map(Node::scalar_text).collect(),
        None => vec![value.scalar_text().unwrap_or_default()],
    };
    for item in items {
        let norm = item.replace('=', ":").to_ascii_lowercase();
        if norm.starts_with("no-new-privileges") {
            if norm.ends_with("false") {
                return Some(
                    "security_opt no-new-privileges:false is not allowed: every container runs \
                     with no-new-privileges"
                        .into(),
                );
            }
            continue;
        }
        if norm.starts_with("seccomp") || norm.starts_with("apparmor") {
            return Some(format!(
                "security_opt {item:?} disables or replaces the seccomp/AppArmor protection every \
                 container runs with"
            ));
        }
        return Some(format!(
            "security_opt {item:?} is not allowed (only no-new-privileges, which clubhost sets)"
        ));
    }
    None
}

/// Why a host path in a volume source is refused, and what to write instead: a named volume
/// for a data directory, but a named volume starts empty, so it cannot deliver a config file or
/// the server's clock.
pub(crate) fn host_path(source: &str, target: &str) -> String {
    if source.contains("docker.sock") {
        return format!(
            "{source:?} is the Docker socket: it would give the container control of the whole \
             server"
        );
    }
    let bind =
        format!("{source:?} is a host path (bind mount): projects cannot read the server's files");
    if ["/etc/localtime", "/etc/timezone"].contains(&source.trim_end_matches(":ro")) {
        return format!(
            "{bind}; set the time zone with `environment: {{ TZ: Europe/Paris }}` instead"
        );
    }
    if looks_like_file(target) || looks_like_file(source) {
        return format!(
            "{bind}. A named volume starts empty, so it cannot deliver the file {:?}: put the \
             file in the project's folder and mount it from there (`./{}:{target}:ro`, copied \
             in when the project comes with its files), build an image that contains it \
             (`FROM <image>` + `COPY`), or configure the app through `environment:`",
            last_part(target),
            last_part(target)
        );
    }
    let name = super::volumes::safe_name(last_part(target));
    format!(
        "{bind}; keep the data in a named volume instead: `{name}:{target}`, with `{name}:` \
         declared under the top-level `volumes:`"
    )
}

/// The last part of a path (`/etc/pihole/` → `pihole`).
pub(crate) fn last_part(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// Whether a mount path names a single file (`nginx.conf`, `Caddyfile`) rather than a
/// directory: a named volume cannot deliver one.
pub(crate) fn looks_like_file(path: &str) -> bool {
    let l = last_part(path);
    (l.contains('.') && !l.starts_with('.') && !path.ends_with('/'))
        || matches!(l, "Caddyfile" | "Dockerfile" | "Makefile")
}

/// Whether a short-syntax volume source names a host path rather than a volume.
pub(crate) fn is_host_path(source: &str) -> bool {
    source.starts_with(['/', '.', '~', '$', '\\']) || source.contains(['/', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths() {
        assert!(is_host_path("/var/run/docker.sock"));
        assert!(is_host_path("./data"));
        assert!(is_host_path("~/x"));
        assert!(is_host_path("C:\\x"));
        assert!(!is_host_path("db_data"));
        assert!(host_path("/var/run/docker.sock", "/s").contains("Docker socket"));
        assert!(host_path("/srv/nginx.conf", "/etc/nginx/nginx.conf").contains("COPY"));
        assert!(host_path("/etc/localtime", "/etc/localtime").contains("TZ"));
        assert!(host_path("/srv/pg", "/var/lib/postgresql/data").contains("`data:/var"));
    }
}
