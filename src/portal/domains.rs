//! Members' own domains on the portal and the admins' certificates page.
//!
//! On a project's page its owner (or an admin) adds a domain, sees the proof to publish (the
//! name's DNS pointed at the club; clubhost answers the token itself), asks for the check and
//! removes the name: `/projects/{slug}/domains`, `…/domains/{name}/check`, `…/domains/{name}/remove`,
//! each a CSRF-checked POST that lands back on the project page. The rules are `Control`'s.
//!
//! `/admin/certificates` (admins): each name's certificate (issuer, expiry, last error, next
//! renewal) and every project's domains with their state.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use super::auth;
use super::csrf;
use super::models::date;
use super::pages::Nav;
use super::refusal::{Denied, PageResult};
use super::session::Viewer;
use clubhost_core::control::Control;
use clubhost_core::domains::DOMAIN_PROOF_PREFIX;

/// The routes of this module (merged into `portal::router`).
pub fn router(base: &str) -> Router<Arc<Control>> {
    let at = |path: &str| format!("{base}{path}");
    Router::new()
        .route(&at("/projects/{slug}/domains"), post(add_form))
        .route(
            &at("/projects/{slug}/domains/{name}/{action}"),
            post(domain_form),
        )
        .route(&at("/admin/certificates"), get(certificates_page))
}

/// One domain as the project page shows it.
pub struct DomainLine {
    pub name: String,
    pub verified: bool,
    /// Where the proof must be answered (`http://<name>/.well-known/clubhost-domain/<token>`).
    pub proof_url: String,
    pub token: String,
    pub last_error: Option<String>,
    pub checked: Option<String>,
}

/// `slug`'s domains for its page (the caller has checked who is asking).
pub async fn lines(c: &Control, slug: &str) -> Result<Vec<DomainLine>, Denied> {
    Ok(c.domains(slug)
        .await?
        .into_iter()
        .map(|d| DomainLine {
            proof_url: format!("http://{}{DOMAIN_PROOF_PREFIX}{}", d.name, d.token),
            verified: d.verified_at.is_some(),
            checked: d.last_check_at.map(date),
            name: d.name,
            token: d.token,
            last_error: d.last_error,
        })
        .collect())
}

/// Checks that the viewer owns `slug` or is an admin; their name, for the audit log.
async fn owner_or_admin(c: &Control, v: &Viewer, slug: &str) -> Result<String, Denied> {
    auth::member(v)?;
    let p = c.project(slug).await?;
    Ok(auth::owner_or_admin(v, &p)?.user.name.clone())
}

#[derive(Deserialize)]
pub struct AddDomain {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn add_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    axum::Form(f): axum::Form<AddDomain>,
) -> PageResult {
    auth::member(&v)?;
    csrf::check(&v, &f.csrf)?;
    let actor = owner_or_admin(&c, &v, &slug).await?;
    c.add_domain(&slug, &f.name, &actor).await?;
    Ok(Redirect::to(&v.link(&format!("/projects/{slug}#domains"))).into_response())
}

async fn domain_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path((slug, name, action)): Path<(String, String, String)>,
    axum::Form(f): axum::Form<csrf::CsrfOnly>,
) -> PageResult {
    auth::member(&v)?;
    csrf::check(&v, &f.csrf)?;
    let actor = owner_or_admin(&c, &v, &slug).await?;
    match action.as_str() {
        "check" => {
            // A failed check is not a refusal: its reason shows beside the domain.
            c.check_domain(&slug, &name, &actor).await?;
        }
        "remove" => c.remove_domain(&slug, &name, &actor).await?,
        other => return Err(Denied::Invalid(format!("unknown domain action {other:?}")).into()),
    }
    Ok(Redirect::to(&v.link(&format!("/projects/{slug}#domains"))).into_response())
}

/// One certificate line on the admins' page.
pub struct CertLine {
    pub name: String,
    pub issuer: String,
    pub expires: Option<String>,
    pub renews: Option<String>,
    pub last_error: Option<String>,
    pub failed_at: Option<String>,
}

/// One member's domain on the admins' page.
pub struct AdminDomainLine {
    pub name: String,
    pub project: String,
    pub verified: bool,
    pub last_error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_certificates.html")]
pub struct CertificatesPage {
    pub nav: Nav,
    pub certs: Vec<CertLine>,
    pub domains: Vec<AdminDomainLine>,
    pub https_on: bool,
}

async fn certificates_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    auth::admin(&v)?;
    let certs = c
        .certificates()
        .await?
        .into_iter()
        .map(|i| CertLine {
            expires: i.not_after.map(date),
            renews: i.renew_at.map(date),
            failed_at: i.last_failure_at.map(date),
            name: i.name,
            issuer: i.issuer,
            last_error: i.last_error,
        })
        .collect();
    let domains = c
        .all_domains()
        .await?
        .into_iter()
        .map(|d| AdminDomainLine {
            verified: d.verified_at.is_some(),
            name: d.name,
            project: d.project,
            last_error: d.last_error,
        })
        .collect();
    Ok(CertificatesPage {
        nav: Nav::of(&v),
        certs,
        domains,
        https_on: c.config().proxy.https_listen.is_some(),
    }
    .into_response())
}
