//! HTTPS certificates: which names need one, getting them from an ACME server (RFC 8555, HTTP-01
//! answered by the proxy), renewing them, and keeping them in the registry so a restart serves
//! what it had and orders nothing new.
//!
//! The names are the club's domain and every host the route table answers for that reaches a
//! running project, the portal or a static route (with `[proxy] subdomains`, `portal.<domain>` and
//! `<slug>.<domain>`). The manager ([`Manager::run`]) looks at the route table every couple of
//! seconds (a pointer comparison when nothing changed), so a project's name is ordered right after
//! its approval publishes its route. Names are never ordered at handshake time: a visitor sending
//! random SNI names costs nothing.
//!
//! Renewal is due when a third of the lifetime is left, minus a random jitter of up to a
//! twentieth of it (so a club's names spread out). A failed order is recorded (the reason shows
//! in `clubhost tls list` and `doctor`) and the name is not ordered again for an hour: a broken
//! DNS record or a refusing CA never turns into a loop that hits the CA's rate limits.
//!
//! A certificate the club brings (`tls.cert_file`) is served for the names it covers, which are
//! then never ordered.

pub(crate) mod der;
mod order;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clubhost_proxy::routes::{RouteHandle, RouteTable, Target};
use clubhost_proxy::tls::{Certificate, TlsSite};
use clubhost_registry::Registry;
use clubhost_registry::certs::{CertInfo, NewCert};

use crate::config::Config;
use crate::control::Control;
use crate::notify::Note;

/// Why certificates could not be set up or one order failed.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The ACME client failed (network, the CA's problem document).
    #[error("ACME: {0}")]
    Acme(#[from] instant_acme::Error),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] clubhost_registry::RegistryError),
    /// The CA refused or the order ended invalid.
    #[error("{0}")]
    Refused(String),
    /// The configuration or a stored value cannot be used (names the key or file).
    #[error("{0}")]
    Setup(String),
}

/// After a failed order, the name waits this long before the next one.
const FAILURE_BACKOFF: i64 = 3600;
/// How often the route table is looked at for new names, and renewals checked.
const TICK: Duration = Duration::from_secs(2);

/// What the manager knows of one name between ticks.
#[derive(Debug, Clone, Default)]
struct NameState {
    renew_at: Option<i64>,
    last_failure_at: Option<i64>,
}

/// Keeps the proxy's certificates: loads them at start, orders and renews them while it runs.
pub struct Manager {
    registry: Registry,
    config: Arc<Config>,
    site: TlsSite,
    routes: RouteHandle,
    states: HashMap<String, NameState>,
    /// Names the club's own certificate covers (exact, or `*.parent`): never ordered.
    brought: HashSet<String>,
    account: Option<instant_acme::Account>,
    /// Tells the admins of a failed order (once per failure streak).
    notifier: crate::notify::Notifier,
}

fn system_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// When to renew a certificate valid from `not_before` to `not_after`, issued at `now` (the
/// registry's clock): once two thirds of its lifetime have passed, up to a twentieth earlier at
/// random. Counted from `now` rather than `not_before` so the schedule follows the one clock the
/// rest of clubhost runs on (a test server's can be moved).
fn renew_at(now: i64, not_before: i64, not_after: i64) -> i64 {
    use std::hash::BuildHasher;
    let lifetime = (not_after - not_before).max(0);
    let spread = (lifetime / 20).max(1);
    let random = std::collections::hash_map::RandomState::new().hash_one((not_before, not_after));
    let jitter = i64::try_from(random % u64::try_from(spread).unwrap_or(1)).unwrap_or(0);
    now + (lifetime - lifetime / 3) - jitter
}

/// Whether `name` is covered by one of `brought` (exact, or a wildcard one label up).
fn covered(brought: &HashSet<String>, name: &str) -> bool {
    brought.contains(name)
        || name
            .split_once('.')
            .is_some_and(|(_, parent)| brought.contains(&format!("*.{parent}")))
}

/// Whether `name` should be ordered now: not when the club's own certificate covers it, not
/// within an hour of a failed order, else when it has none or its renewal time has come.
fn due(brought: &HashSet<String>, state: Option<&NameState>, name: &str, now: i64) -> bool {
    if covered(brought, name) {
        return false;
    }
    let state = state.cloned().unwrap_or_default();
    if state
        .last_failure_at
        .is_some_and(|at| now - at < FAILURE_BACKOFF)
    {
        return false;
    }
    state.renew_at.is_none_or(|at| now >= at)
}

/// The names HTTPS serves: the domain, and each host route that reaches something running.
pub(crate) fn wanted_names(domain: &str, table: &RouteTable) -> Vec<String> {
    let mut names: Vec<String> = vec![domain.to_ascii_lowercase()];
    for (host, route) in table.hosts() {
        if matches!(route.target, Target::Upstream(_) | Target::Portal) {
            names.push(host.to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

impl Manager {
    /// A manager for `control`'s registry and config, serving through `site` the names `routes`
    /// answers for. Loads the club's own certificate and every stored one into `site` before it
    /// returns, so the HTTPS listener serves them from its first connection.
    pub async fn start(
        control: &Control,
        site: TlsSite,
        routes: RouteHandle,
    ) -> Result<Manager, AcmeError> {
        let mut manager = Manager {
            registry: control.registry.clone(),
            config: control.config_arc(),
            site,
            routes,
            states: HashMap::new(),
            brought: HashSet::new(),
            account: None,
            notifier: control.notifier().clone(),
        };
        manager.load_brought()?;
        manager.load_stored().await?;
        Ok(manager)
    }

    /// `tls.cert_file` and `tls.key_file`, served for the DNS names the certificate holds.
    fn load_brought(&mut self) -> Result<(), AcmeError> {
        let tls = &self.config.tls;
        let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
            return Ok(());
        };
        let read = |key: &str, path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map_err(|e| AcmeError::Setup(format!("tls.{key} {}: {e}", path.display())))
        };
        let chain = read("cert_file", cert_file)?;
        let key = read("key_file", key_file)?;
        let leaf = der::first_pem_der(&chain)
            .and_then(|d| der::leaf(&d))
            .ok_or_else(|| {
                AcmeError::Setup(format!(
                    "tls.cert_file {}: not a PEM certificate",
                    cert_file.display()
                ))
            })?;
        if leaf.dns_names.is_empty() {
            return Err(AcmeError::Setup(format!(
                "tls.cert_file {}: the certificate names no DNS name (subjectAltName)",
                cert_file.display()
            )));
        }
        let cert = Certificate::from_pem(&chain, &key, system_time(leaf.not_after))
            .map_err(|e| AcmeError::Setup(format!("tls.cert_file/key_file: {e}")))?;
        self.site.certs.insert(&leaf.dns_names, cert);
        tracing::info!(names = ?leaf.dns_names, "serving the club's own certificate");
        self.brought = leaf.dns_names.into_iter().collect();
        Ok(())
    }

    /// Every certificate the registry holds, served again.
    async fn load_stored(&mut self) -> Result<(), AcmeError> {
        for stored in self.registry.stored_certs().await? {
            let info = &stored.info;
            let not_after = info.not_after.unwrap_or(0);
            match Certificate::from_pem(&stored.chain_pem, &stored.key_pem, system_time(not_after))
            {
                Ok(cert) => self
                    .site
                    .certs
                    .insert(std::slice::from_ref(&info.name), cert),
                Err(e) => {
                    tracing::warn!(name = %info.name, error = %e, "stored certificate unusable; ordering a new one")
                }
            }
            self.states.insert(
                info.name.clone(),
                NameState {
                    renew_at: info.renew_at,
                    last_failure_at: info.last_failure_at,
                },
            );
        }
        for info in self.registry.cert_infos().await? {
            self.states.entry(info.name.clone()).or_insert(NameState {
                renew_at: None,
                last_failure_at: info.last_failure_at,
            });
        }
        Ok(())
    }

    /// Orders and renews until `stop` turns true.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let https_on = self.config.proxy.https_listen.is_some();
        if !self.config.tls.acme_on(https_on, &self.config.domain) {
            // Only the club's own certificate (e.g. `localhost`): nothing to order.
            let _ = stop.wait_for(|s| *s).await;
            return;
        }
        let mut swept: Option<Arc<RouteTable>> = None;
        loop {
            let table = Arc::clone(&*self.routes.load());
            // A new table may mean a project or a domain is gone: forget their certificates.
            if swept.as_ref().is_none_or(|t| !Arc::ptr_eq(t, &table)) {
                if let Err(e) = self.sweep(&table).await {
                    tracing::warn!(error = %e, "cannot sweep certificates of names gone");
                }
                swept = Some(Arc::clone(&table));
            }
            let now = clubhost_registry::now();
            for name in wanted_names(&self.config.domain, &table) {
                if *stop.borrow() {
                    return;
                }
                if due(&self.brought, self.states.get(&name), &name, now) {
                    self.obtain(&name).await;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// One order for `name`; the outcome is stored either way.
    async fn obtain(&mut self, name: &str) {
        tracing::info!(name, "ordering a certificate");
        let result = self.order(name).await;
        let now = clubhost_registry::now();
        let state = self.states.entry(name.to_string()).or_default();
        match result {
            Ok(renew_at) => {
                state.renew_at = Some(renew_at);
                state.last_failure_at = None;
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(name, error = %message, "certificate order failed; next try in an hour");
                state.last_failure_at = Some(now);
                if matches!(e, AcmeError::Acme(_) | AcmeError::Setup(_)) {
                    // A client or account problem may be the account's: made again next time.
                    self.account = None;
                }
                let notes = self
                    .notifier
                    .keep(vec![self.failure_note(name, &message).await]);
                match self
                    .registry
                    .record_cert_failure(name, &message, &notes)
                    .await
                {
                    Ok(true) => tracing::info!(name, "admins told of the failed order"),
                    Ok(false) => {}
                    Err(e) => tracing::error!(name, error = %e, "cannot record the failed order"),
                }
            }
        }
    }

    /// The admins' note about a failed order for `name`: what failed, when the certificate in
    /// use (if any) expires, and when the next try is.
    async fn failure_note(&self, name: &str, message: &str) -> Note {
        let domain = self.config.domain.to_ascii_lowercase();
        let project = match name.strip_suffix(&format!(".{domain}")) {
            Some(slug) => slug.to_string(),
            None => match self.registry.domain(name).await {
                Ok(d) => d.project,
                Err(_) => String::new(),
            },
        };
        let expiry = self
            .registry
            .cert_infos()
            .await
            .ok()
            .and_then(|infos| infos.into_iter().find(|c| c.name == name))
            .and_then(|c| c.not_after);
        let now = clubhost_registry::now();
        let serving = match expiry {
            Some(end) if end > now => format!(
                "The certificate in use expires in {} day(s).",
                (end - now) / 86_400
            ),
            Some(_) => "The certificate in use has expired: HTTPS is off for it.".to_string(),
            None => "It has no certificate yet: it is served on plain HTTP only.".to_string(),
        };
        Note::admins(
            &project,
            format!("HTTPS certificate for {name} failed"),
            format!(
                "Ordering a certificate for {name} from {} failed: {message}\n{serving}\n\
                 clubhost tries again in an hour; you hear of this streak of failures only once.",
                self.config.tls.acme_directory
            ),
        )
    }

    /// Forgets (registry and store) the certificate of every name nothing may serve any more:
    /// not the domain or the portal's host, no project's `<slug>.<domain>`, no verified member's
    /// domain and no host of `table`. A certificate the club brings is never touched.
    async fn sweep(&mut self, table: &RouteTable) -> Result<(), AcmeError> {
        let domain = self.config.domain.to_ascii_lowercase();
        let mut known: HashSet<String> = table.hosts().map(|(h, _)| h.to_string()).collect();
        known.insert(domain.clone());
        known.insert(format!("portal.{domain}"));
        for p in self.registry.projects().await? {
            known.insert(format!("{}.{domain}", p.slug.to_ascii_lowercase()));
        }
        for d in self.registry.domains(None).await? {
            if d.verified_at.is_some() {
                known.insert(d.name);
            }
        }
        for info in self.registry.cert_infos().await? {
            if known.contains(&info.name) {
                continue;
            }
            // Off the listener first, then out of the registry.
            if !covered(&self.brought, &info.name) {
                self.site.certs.remove(&info.name);
            }
            self.states.remove(&info.name);
            self.registry
                .remove_cert(&info.name, "its project or domain is gone")
                .await?;
            tracing::info!(name = %info.name, "certificate removed: its project or domain is gone");
        }
        Ok(())
    }

    /// Orders, checks, stores and serves a certificate for `name`; returns its renewal time.
    async fn order(&mut self, name: &str) -> Result<i64, AcmeError> {
        if self.account.is_none() {
            self.account = Some(order::account(&self.registry, &self.config.tls).await?);
        }
        let account = self.account.as_ref().expect("set just above");
        let kind = self.config.tls.acme_challenge;
        let issued = order::order(account, name, &self.site.challenges, kind).await?;
        let leaf = der::first_pem_der(&issued.chain_pem)
            .and_then(|d| der::leaf(&d))
            .ok_or_else(|| AcmeError::Refused("the issued certificate cannot be read".into()))?;
        if !leaf.dns_names.iter().any(|n| n == name) {
            return Err(AcmeError::Refused(format!(
                "the issued certificate does not name {name}"
            )));
        }
        let cert = Certificate::from_pem(
            &issued.chain_pem,
            &issued.key_pem,
            system_time(leaf.not_after),
        )
        .map_err(|e| AcmeError::Refused(e.to_string()))?;
        let renew = renew_at(clubhost_registry::now(), leaf.not_before, leaf.not_after);
        self.registry
            .save_cert(&NewCert {
                name,
                chain_pem: &issued.chain_pem,
                key_pem: &issued.key_pem,
                issuer: &leaf.issuer,
                not_before: leaf.not_before,
                not_after: leaf.not_after,
                renew_at: renew,
            })
            .await?;
        self.site.certs.insert(&[name.to_string()], cert);
        tracing::info!(name, issuer = %leaf.issuer, not_after = leaf.not_after, "certificate issued");
        Ok(renew)
    }
}

impl Control {
    /// Every name's certificate state (issuer, expiry, last renewal, last error), by name.
    pub async fn certificates(&self) -> Result<Vec<CertInfo>, crate::control::ControlError> {
        Ok(self.registry.cert_infos().await?)
    }
}

/// Prometheus lines for `clubhost_tls_cert_expiry_seconds{name}` (the expiry as a Unix time).
pub fn metrics_text(certs: &[CertInfo]) -> String {
    let mut out = String::from(
        "# HELP clubhost_tls_cert_expiry_seconds When the name's certificate expires (Unix time).\n\
         # TYPE clubhost_tls_cert_expiry_seconds gauge\n",
    );
    for c in certs {
        if let Some(at) = c.not_after {
            out.push_str(&format!(
                "clubhost_tls_cert_expiry_seconds{{name=\"{}\"}} {at}\n",
                c.name.replace(['"', '\\', '\n'], "")
            ));
        }
    }
    out
}

/// `doctor`'s lines on certificates: (fine, what to say), read from the registry.
pub(crate) async fn doctor_lines(config: &Config) -> anyhow::Result<Vec<(bool, String)>> {
    let mut lines = Vec::new();
    if config.proxy.https_listen.is_none() {
        return Ok(lines);
    }
    let (key, _) = crate::secrets::load(&crate::secrets::KeySource::of(config), false)?;
    let registry = Registry::open(&config.database_path(), key).await?;
    let now = clubhost_registry::now();
    let infos = registry.cert_infos().await?;
    if infos.is_empty() {
        lines.push((
            true,
            "no certificate ordered yet (serve orders them on its first run)".into(),
        ));
    }
    for c in infos {
        let line = match (c.not_after, &c.last_error) {
            (Some(end), error) => {
                let days = (end - now) / 86_400;
                let ok = end > now + 14 * 86_400 || error.is_none() && end > now;
                let mut what = format!(
                    "certificate {}: issued by {}, expires in {days} day(s)",
                    c.name, c.issuer
                );
                if let Some(e) = error {
                    what.push_str(&format!("; last renewal failed: {e}"));
                }
                (ok, what)
            }
            (None, Some(e)) => (false, format!("certificate {}: not issued: {e}", c.name)),
            (None, None) => (
                true,
                format!("certificate {}: ordered, not issued yet", c.name),
            ),
        };
        lines.push(line);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_at_a_third_left_with_a_little_jitter() {
        let (start, end) = (1_000_000, 1_000_000 + 90 * 86_400);
        for _ in 0..20 {
            let at = renew_at(start, start, end);
            assert!(at <= end - 30 * 86_400, "{at}");
            assert!(at > end - 30 * 86_400 - 90 * 86_400 / 20 - 1, "{at}");
        }
    }

    #[test]
    fn ordered_when_missing_or_due_never_within_an_hour_of_a_failure() {
        let none = HashSet::new();
        let now = 10_000_000;
        assert!(due(&none, None, "club.example", now), "never ordered");
        let issued = NameState {
            renew_at: Some(now + 60),
            last_failure_at: None,
        };
        assert!(!due(&none, Some(&issued), "club.example", now), "not yet");
        assert!(
            due(&none, Some(&issued), "club.example", now + 60),
            "renewal time"
        );
        let failed = NameState {
            renew_at: None,
            last_failure_at: Some(now),
        };
        assert!(!due(&none, Some(&failed), "club.example", now + 3599));
        assert!(due(&none, Some(&failed), "club.example", now + 3600));
        let brought: HashSet<String> = ["*.club.example".to_string()].into();
        assert!(
            !due(&brought, None, "blog.club.example", now),
            "the club's own"
        );
    }

    #[test]
    fn brought_wildcards_cover_one_label() {
        let brought: HashSet<String> = ["*.club.example".to_string()].into();
        assert!(covered(&brought, "blog.club.example"));
        assert!(!covered(&brought, "club.example"));
        assert!(!covered(&brought, "a.blog.club.example"));
    }

    #[test]
    fn metrics_name_each_issued_certificate() {
        let info = |name: &str, not_after| CertInfo {
            name: name.into(),
            issuer: "CA".into(),
            not_before: None,
            not_after,
            issued_at: None,
            renew_at: None,
            last_error: None,
            last_failure_at: None,
        };
        let text = metrics_text(&[info("club.example", Some(42)), info("x.example", None)]);
        assert!(text.contains("clubhost_tls_cert_expiry_seconds{name=\"club.example\"} 42\n"));
        assert!(!text.contains("x.example"));
    }
}
