//! One ACME order (RFC 8555 §7.4) for one name, by HTTP-01 or TLS-ALPN-01 (RFC 8737): the
//! account (restored from the registry, or created once and stored), the challenge token (or the
//! challenge certificate, made with rcgen) handed to the proxy while the CA checks it, the key
//! pair and CSR (rcgen, inside instant-acme), the chain.

use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};

use clubhost_proxy::tls::{Certificate, Challenges};
use clubhost_registry::Registry;

use super::AcmeError;
use crate::config::{AcmeChallenge, TlsConfig};

/// A certificate just issued: chain (leaf first) and its private key, both PEM.
pub(crate) struct Issued {
    pub(crate) chain_pem: String,
    pub(crate) key_pem: String,
}

/// How long one order may wait on the CA (validation, then issuance) before it counts as failed.
const RETRIES: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(250))
    .backoff(2.0)
    .timeout(Duration::from_secs(90));

/// The ACME account for `tls.acme_directory`: the stored one, or a new one (stored at once, so a
/// restart never registers again).
pub(crate) async fn account(registry: &Registry, tls: &TlsConfig) -> Result<Account, AcmeError> {
    // instant-acme's client builds its rustls config with the process's provider: ring.
    crate::notify::tls::install_provider();
    let builder = || match &tls.acme_ca_file {
        Some(ca) => Account::builder_with_root(ca)
            .map_err(|e| AcmeError::Setup(format!("tls.acme_ca_file {}: {e}", ca.display()))),
        None => Account::builder().map_err(|e| AcmeError::Setup(e.to_string())),
    };
    let directory = &tls.acme_directory;
    if let Some(stored) = registry.acme_account(directory).await? {
        let credentials = serde_json::from_str(&stored)
            .map_err(|e| AcmeError::Setup(format!("stored ACME account: {e}")))?;
        return Ok(builder()?.from_credentials(credentials).await?);
    }
    let contact = tls.acme_email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            directory.clone(),
            None,
        )
        .await?;
    let json = serde_json::to_string(&credentials)
        .map_err(|e| AcmeError::Setup(format!("ACME account credentials: {e}")))?;
    registry.save_acme_account(directory, &json).await?;
    tracing::info!(directory, account = account.id(), "ACME account registered");
    Ok(account)
}

/// Tokens and challenge certificates handed to the proxy, taken back whatever way the order
/// ends.
struct Tokens<'a> {
    challenges: &'a Challenges,
    tokens: Vec<String>,
    alpn: Vec<String>,
}

impl Drop for Tokens<'_> {
    fn drop(&mut self) {
        for t in &self.tokens {
            self.challenges.remove(t);
        }
        for name in &self.alpn {
            self.challenges.remove_alpn(name);
        }
    }
}

/// The TLS-ALPN-01 challenge certificate for `name` (RFC 8737 §3): self-signed, naming only
/// `name`, with the critical acmeIdentifier extension holding the key authorization's SHA-256.
/// Served only to a hello offering `acme-tls/1`, never to a visitor.
fn alpn_certificate(name: &str, digest: &[u8]) -> Result<Certificate, AcmeError> {
    let fail = |e: rcgen::Error| AcmeError::Setup(format!("TLS-ALPN-01 certificate: {e}"));
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(fail)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(fail)?;
    let until = std::time::SystemTime::now() + Duration::from_secs(3600);
    Certificate::from_pem(&cert.pem(), &key.serialize_pem(), until)
        .map_err(|e| AcmeError::Setup(format!("TLS-ALPN-01 certificate: {e}")))
}

/// Orders a certificate for `name` by `kind` of challenge.
pub(crate) async fn order(
    account: &Account,
    name: &str,
    challenges: &Challenges,
    kind: AcmeChallenge,
) -> Result<Issued, AcmeError> {
    let identifiers = [Identifier::Dns(name.to_string())];
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
    let mut tokens = Tokens {
        challenges,
        tokens: Vec::new(),
        alpn: Vec::new(),
    };
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(AcmeError::Refused(format!(
                    "authorization for {name} is {other:?}"
                )));
            }
        }
        let (wanted, label) = match kind {
            AcmeChallenge::Http01 => (ChallengeType::Http01, "HTTP-01"),
            AcmeChallenge::TlsAlpn01 => (ChallengeType::TlsAlpn01, "TLS-ALPN-01"),
        };
        let mut challenge = authz.challenge(wanted).ok_or_else(|| {
            AcmeError::Refused(format!(
                "the ACME server offers no {label} challenge for {name}"
            ))
        })?;
        let key_authorization = challenge.key_authorization();
        match kind {
            AcmeChallenge::Http01 => {
                challenges.set(&challenge.token, key_authorization.as_str());
                tokens.tokens.push(challenge.token.clone());
            }
            AcmeChallenge::TlsAlpn01 => {
                let cert = alpn_certificate(name, key_authorization.digest().as_ref())?;
                challenges.set_alpn(name, cert);
                tokens.alpn.push(name.to_string());
            }
        }
        challenge.set_ready().await?;
    }
    let status = order.poll_ready(&RETRIES).await?;
    if status != OrderStatus::Ready {
        let detail = order
            .state()
            .error
            .as_ref()
            .map_or_else(|| format!("{status:?}"), |p| p.to_string());
        return Err(AcmeError::Refused(format!("order for {name}: {detail}")));
    }
    drop(tokens);
    let key_pem = order.finalize().await?;
    let chain_pem = order.poll_certificate(&RETRIES).await?;
    Ok(Issued { chain_pem, key_pem })
}
