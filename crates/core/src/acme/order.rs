//! One ACME order (RFC 8555 §7.4) for one name, by HTTP-01: the account (restored from the
//! registry, or created once and stored), the challenge token handed to the proxy while the CA
//! checks it, the key pair and CSR (rcgen, inside instant-acme), the chain.

use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};

use clubhost_proxy::tls::Challenges;
use clubhost_registry::Registry;

use super::AcmeError;
use crate::config::TlsConfig;

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

/// Tokens handed to the proxy, taken back whatever way the order ends.
struct Tokens<'a> {
    challenges: &'a Challenges,
    tokens: Vec<String>,
}

impl Drop for Tokens<'_> {
    fn drop(&mut self) {
        for t in &self.tokens {
            self.challenges.remove(t);
        }
    }
}

/// Orders a certificate for `name` by HTTP-01.
pub(crate) async fn order(
    account: &Account,
    name: &str,
    challenges: &Challenges,
) -> Result<Issued, AcmeError> {
    let identifiers = [Identifier::Dns(name.to_string())];
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
    let mut tokens = Tokens {
        challenges,
        tokens: Vec::new(),
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
        let mut challenge = authz.challenge(ChallengeType::Http01).ok_or_else(|| {
            AcmeError::Refused(format!(
                "the ACME server offers no HTTP-01 challenge for {name}"
            ))
        })?;
        challenges.set(&challenge.token, challenge.key_authorization().as_str());
        tokens.tokens.push(challenge.token.clone());
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
