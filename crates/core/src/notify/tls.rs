//! TLS for notifications (https webhooks, SMTP over TLS): rustls with the ring crypto provider
//! (rustls's default, aws-lc-rs, needs cmake to build), the system's trusted roots, and the extra
//! roots of `notify.ca_file`.
//!
//! System roots come through rustls-platform-verifier, which reqwest's rustls feature uses anyway
//! and which on Linux reads the distribution's store (Debian's ca-certificates, through
//! rustls-native-certs). So a club's admin trusts a CA the usual way (`update-ca-certificates`) or
//! with `ca_file`, and security updates to the store apply without rebuilding clubhost, which a
//! list compiled into the binary (webpki-roots) would not give.

use std::path::Path;
use std::sync::{Arc, Once};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Makes ring the process's rustls provider (once; later calls do nothing). reqwest is built
/// without a provider of its own and refuses to build a client before this.
pub fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only when a provider is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Extra trusted roots (the PEM text of `notify.ca_file`), trusted beside the system's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Roots {
    /// None without a `ca_file`.
    pem: Option<Arc<Vec<u8>>>,
}

impl Roots {
    /// Reads `path` (if any) and checks that it holds at least one certificate.
    pub(crate) fn load(path: Option<&Path>) -> Result<Roots, String> {
        let Some(path) = path else {
            return Ok(Roots::default());
        };
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "no certificate in {} (expected PEM `BEGIN CERTIFICATE` blocks)",
                path.display()
            ));
        }
        Ok(Roots {
            pem: Some(Arc::new(pem)),
        })
    }

    /// The roots for reqwest.
    pub(crate) fn for_reqwest(&self) -> Result<Vec<reqwest::Certificate>, String> {
        match &self.pem {
            Some(pem) => reqwest::Certificate::from_pem_bundle(pem).map_err(|e| error_chain(&e)),
            None => Ok(Vec::new()),
        }
    }

    /// The roots for lettre (one value holding every certificate of the file).
    pub(crate) fn for_lettre(
        &self,
    ) -> Result<Option<lettre::transport::smtp::client::Certificate>, String> {
        self.pem
            .as_ref()
            .map(|pem| lettre::transport::smtp::client::Certificate::from_pem(pem))
            .transpose()
            .map_err(|e| error_chain(&e))
    }
}

/// The HTTP client webhooks are posted with: rustls (ring), system roots plus `roots`.
pub(crate) fn http_client(roots: &Roots) -> Result<reqwest::Client, String> {
    install_provider();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .tls_certs_merge(roots.for_reqwest()?)
        .build()
        .map_err(|e| error_chain(&e))
}

/// An error with its causes, "a: b: c": reqwest and lettre keep the interesting part (which
/// certificate check failed) in the source chain, not in the top message.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_builds_with_the_system_roots() {
        // Without a provider installed first, reqwest would panic here.
        http_client(&Roots::default()).unwrap();
    }
}
