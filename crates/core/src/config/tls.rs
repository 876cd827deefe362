//! `[tls]`: where HTTPS certificates come from (an ACME server such as Let's Encrypt, or files the
//! club brings) and the HSTS policy. HTTPS itself is on when `[proxy] https_listen` is set.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::humantime_serde_compat;

/// Let's Encrypt's production directory: the default ACME server.
pub(crate) const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How the ACME server checks that the club answers for a name (`tls.acme_challenge`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// HTTP-01: a token at `http://<name>/.well-known/acme-challenge/` on `[proxy] listen`
    /// (port 80 to the internet).
    #[default]
    #[serde(rename = "http-01")]
    Http01,
    /// TLS-ALPN-01 (RFC 8737): a challenge certificate in a handshake on `[proxy] https_listen`
    /// (port 443 to the internet), for a club whose port 80 is closed.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

/// `[tls]`: certificates for the club's names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Contact address given to the ACME server with the account (optional in RFC 8555).
    pub acme_email: Option<String>,
    /// The ACME server's directory URL (https).
    pub acme_directory: String,
    /// The challenge the ACME server is asked to check: "http-01" (default) or "tls-alpn-01".
    pub acme_challenge: AcmeChallenge,
    /// An extra root certificate (PEM) trusted for the ACME server only: a private CA, or a test
    /// server's.
    pub acme_ca_file: Option<PathBuf>,
    /// A certificate chain (PEM) the club brings, e.g. a wildcard; served instead of ACME for the
    /// names it covers. Needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// The private key (PEM) of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// `Strict-Transport-Security` max-age on HTTPS answers for names with a valid certificate;
    /// "0s" sends none.
    #[serde(with = "humantime_serde_compat")]
    pub hsts_max_age: Duration,
    /// The DNS server (`ip:port`) asked for a member's domain's address when its proof is
    /// checked; unset: the system's resolver. For a club whose resolver sees a split-horizon
    /// view, and for tests (pebble's DNS).
    pub domain_check_dns: Option<std::net::SocketAddr>,
    /// The port a member's domain's proof is fetched from (`http://<name>:<port>/…`); unset: the
    /// port of `[proxy] listen` (80 on a public club).
    pub domain_check_port: Option<u16>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            acme_email: None,
            acme_directory: LETS_ENCRYPT.into(),
            acme_challenge: AcmeChallenge::Http01,
            acme_ca_file: None,
            cert_file: None,
            key_file: None,
            // One year, what browsers' preload lists ask for.
            hsts_max_age: Duration::from_secs(365 * 24 * 3600),
            domain_check_dns: None,
            domain_check_port: None,
        }
    }
}

impl TlsConfig {
    /// Checks the section with `[proxy] https_listen` and the domain it serves.
    pub(crate) fn check(&self, https_on: bool, domain: &str) -> Result<(), String> {
        if let Some(email) = &self.acme_email {
            let ok = email
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
                && !email.contains([' ', ',', '<', '>']);
            if !ok {
                return Err(format!(
                    "key `tls.acme_email`: {email:?} is not an e-mail address"
                ));
            }
        }
        if !self.acme_directory.starts_with("https://") {
            return Err(format!(
                "key `tls.acme_directory`: {:?} must be an https:// URL",
                self.acme_directory
            ));
        }
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => return Err("key `tls.cert_file` needs `tls.key_file`".into()),
            (None, Some(_)) => return Err("key `tls.key_file` needs `tls.cert_file`".into()),
            _ => {}
        }
        // ACME cannot issue for `localhost`: HTTPS there needs a certificate the club brings.
        if https_on && self.cert_file.is_none() && is_local(domain) {
            return Err(format!(
                "key `proxy.https_listen`: no ACME server issues certificates for {domain:?}; set \
                 `domain` to the club's public name, or give `tls.cert_file` and `tls.key_file`"
            ));
        }
        Ok(())
    }

    /// Whether certificates are ordered from the ACME server (HTTPS on, for a public domain).
    pub(crate) fn acme_on(&self, https_on: bool, domain: &str) -> bool {
        https_on && !is_local(domain)
    }
}

fn is_local(domain: &str) -> bool {
    domain == "localhost"
        || domain.ends_with(".localhost")
        || domain.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("t.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_no_https_and_lets_encrypt() {
        let c = parse("").unwrap();
        assert_eq!(c.proxy.https_listen, None);
        assert_eq!(c.tls.acme_directory, super::LETS_ENCRYPT);
        assert_eq!(c.tls.hsts_max_age.as_secs(), 31_536_000);
        assert!(c.tls.acme_email.is_none() && c.tls.cert_file.is_none());
    }

    #[test]
    fn a_full_section_parses() {
        let c = parse(
            "domain = \"club.example\"\n[proxy]\nhttps_listen = \"0.0.0.0:443\"\n[tls]\n\
             acme_email = \"admin@club.example\"\nacme_directory = \"https://acme.test/dir\"\n\
             acme_ca_file = \"/etc/ca.pem\"\nhsts_max_age = \"1day\"\n",
        )
        .unwrap();
        assert_eq!(c.proxy.https_listen.unwrap().port(), 443);
        assert_eq!(c.tls.hsts_max_age.as_secs(), 86_400);
        assert!(c.tls.acme_on(true, &c.domain));
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[tls]\nacme_email = \"nobody\"\n", "tls.acme_email"),
            (
                "[tls]\nacme_directory = \"http://acme.test/\"\n",
                "tls.acme_directory",
            ),
            ("[tls]\ncert_file = \"/c.pem\"\n", "tls.key_file"),
            ("[tls]\nkey_file = \"/k.pem\"\n", "tls.cert_file"),
            ("[tls]\nhsts = 1\n", "hsts"),
            ("[tls]\nhsts_max_age = \"forever\"\n", "hsts_max_age"),
            (
                "[proxy]\nhttps_listen = \"0.0.0.0:443\"\n",
                "proxy.https_listen",
            ),
            (
                "domain = \"club.example\"\n[proxy]\nlisten = \"0.0.0.0:80\"\nhttps_listen = \"0.0.0.0:80\"\n",
                "proxy.https_listen",
            ),
        ];
        for (text, key) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.contains(key), "{text:?} gave {e}");
        }
    }

    #[test]
    fn localhost_with_its_own_certificate_is_fine() {
        let c = parse(
            "[proxy]\nhttps_listen = \"127.0.0.1:8443\"\n[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n",
        )
        .unwrap();
        assert!(!c.tls.acme_on(true, &c.domain), "no ACME for localhost");
    }
}
