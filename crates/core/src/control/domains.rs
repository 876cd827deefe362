//! Members' own domains as operations: add (pending, its proof token answered by the proxy),
//! check (clubhost fetches the token at the name; verified → a host route, then a certificate),
//! remove (the route goes at once, the certificate with the next sweep of `acme::Manager`), and
//! the listings the portal shows. Who may ask is the caller's check (the portal's
//! `owner_or_admin`); the rules for the name are here and in [`crate::domains`].

use clubhost_registry::domains::Domain;

use super::{Control, ControlError, Result};
use crate::domains;

impl Control {
    /// `slug`'s domains, pending and verified.
    pub async fn domains(&self, slug: &str) -> Result<Vec<Domain>> {
        Ok(self.registry.domains(Some(slug)).await?)
    }

    /// Every project's domains, by project.
    pub async fn all_domains(&self) -> Result<Vec<Domain>> {
        Ok(self.registry.domains(None).await?)
    }

    /// Adds `name` to `slug`, pending until its proof passes ([`Control::check_domain`]). Refused
    /// when it is not a DNS name, is the club's domain or under it, is a static route's or the
    /// portal's host, or another project has it.
    pub async fn add_domain(&self, slug: &str, name: &str, actor: &str) -> Result<Domain> {
        let name = domains::check_name(name, &self.config.domain).map_err(ControlError::Invalid)?;
        let is_static = {
            let routing = self.routing.lock().expect("routing poisoned");
            routing.statics.iter().any(|s| {
                s.host
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&name))
            })
        };
        if is_static {
            return Err(ControlError::Invalid(format!(
                "{name:?} is one of the club's own routes"
            )));
        }
        let _held = self.lock_for(slug).lock_owned().await;
        let domain = self
            .registry
            .add_domain(slug, &name, &domains::new_token(), actor)
            .await?;
        // The proxy answers the token from now on.
        self.publish_routes().await?;
        Ok(domain)
    }

    /// Checks `slug`'s domain `name` now: fetches its proof token over HTTP at the name. Passed:
    /// it is verified and routed to the project (and gets a certificate when HTTPS is on);
    /// failed: the reason is kept and shown. Returns the domain as it now stands.
    pub async fn check_domain(&self, slug: &str, name: &str, actor: &str) -> Result<Domain> {
        let domain = self.registry.domain(name).await?;
        if domain.project != slug {
            return Err(ControlError::Registry(
                clubhost_registry::RegistryError::NotFound(format!(
                    "domain {name:?} of project {slug:?}"
                )),
            ));
        }
        let tls = &self.config.tls;
        let port = tls
            .domain_check_port
            .unwrap_or_else(|| self.config.proxy.listen.port());
        let outcome =
            domains::check_proof(&domain.name, &domain.token, port, tls.domain_check_dns).await;
        if let Err(e) = &outcome {
            tracing::info!(project = slug, domain = name, error = %e, "domain check failed");
        }
        let checked = self
            .registry
            .record_domain_check(
                name,
                outcome.as_ref().map(|_| ()).map_err(String::as_str),
                actor,
            )
            .await?;
        if outcome.is_ok() {
            self.publish_routes().await?;
        }
        Ok(checked)
    }

    /// Removes `slug`'s domain `name`: no longer routed from now on; its certificate is forgotten
    /// by the certificate manager's next sweep.
    pub async fn remove_domain(&self, slug: &str, name: &str, actor: &str) -> Result<()> {
        let _held = self.lock_for(slug).lock_owned().await;
        self.registry.remove_domain(slug, name, actor).await?;
        self.publish_routes().await
    }
}
