//! Accounts and authorization: Argon2id passwords, sign-up (open or gated by the club's invite
//! code), login with throttling, logout, password change — and the one place that decides who may
//! do what ([`member`], [`admin`], [`owner_or_admin`]).

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::pages::{AccountPage, LoginPage, MessagePage, Nav, SignupPage};
use super::session::{self, Viewer};
use super::{Denied, PageResult, csrf};
use clubhost_core::control::Control;
use crate::registry::sessions::Session;
use crate::registry::{Project, User};

/// Failed logins allowed per account, and per address, within [`THROTTLE_WINDOW_SECS`].
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
pub const THROTTLE_WINDOW_SECS: i64 = 15 * 60;

// ---- who may do what ----

/// Any signed-in, enabled account.
pub fn member(v: &Viewer) -> Result<&Session, Denied> {
    v.session.as_ref().ok_or(Denied::NotSignedIn)
}

pub fn admin(v: &Viewer) -> Result<&Session, Denied> {
    let s = member(v)?;
    if !s.user.is_admin {
        return Err(Denied::Forbidden("only admins may do this".into()));
    }
    Ok(s)
}

/// The project's owner, or an admin.
pub fn owner_or_admin<'a>(v: &'a Viewer, p: &Project) -> Result<&'a Session, Denied> {
    let s = member(v)?;
    if !s.user.is_admin && s.user.id != p.owner_id {
        return Err(Denied::Forbidden(format!(
            "project {:?} belongs to another member",
            p.slug
        )));
    }
    Ok(s)
}

// ---- passwords ----

pub fn hash_password(password: &str) -> Result<String, Denied> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Denied::Invalid(format!("password: cannot hash it ({e})")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verified against when the account does not exist, so a login takes as long either way.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a real password").unwrap_or_default());

pub fn check_password_rules(password: &str) -> Result<(), Denied> {
    let n = password.chars().count();
    if !(10..=1024).contains(&n) {
        return Err(Denied::Invalid(
            "password: use at least 10 characters (a few words make a good one)".into(),
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), Denied> {
    let ok = (2..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(Denied::Invalid(
            "name: use 2-32 letters, digits, dots, dashes or underscores".into(),
        ));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), Denied> {
    let ok = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'));
    if !ok {
        return Err(Denied::Invalid(format!(
            "email: {email:?} is not an email address"
        )));
    }
    Ok(())
}

// ---- operations (shared by pages and the API) ----

#[derive(Debug, Deserialize)]
pub struct SignupInput {
    pub name: String,
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub invite_code: String,
}

/// Creates the account and signs it in; returns the user and the new session's cookie token.
pub async fn signup(c: &Control, input: &SignupInput) -> Result<(User, String), Denied> {
    if let Some(code) = &c.config.portal.invite_code
        && input.invite_code.trim() != code
    {
        return Err(Denied::Forbidden(
            "invite code: that is not the club's invite code; ask a member for it".into(),
        ));
    }
    let name = input.name.trim();
    let email = input.email.trim();
    check_name(name)?;
    check_email(email)?;
    check_password_rules(&input.password)?;
    let hash = hash_password(&input.password)?;
    let user = c.registry.create_account(name, email, &hash).await?;
    let token = start_session(c, &user).await?;
    Ok((user, token))
}

async fn start_session(c: &Control, user: &User) -> Result<String, Denied> {
    let token = session::random_token();
    c.registry
        .create_session(
            &session::hash_token(&token),
            user.id,
            &session::random_token(),
            session::LIFETIME_SECS,
        )
        .await?;
    Ok(token)
}

/// Checks the password (throttled per account and per address) and starts a session. Every
/// attempt lands in the audit log (`user.login` or `user.login_failed`, with the address and why).
pub async fn login(
    c: &Control,
    v: &Viewer,
    login: &str,
    password: &str,
) -> Result<(User, String), Denied> {
    let login = login.trim();
    // Without a known address (the proxy did not pass one) only the per-account limit applies.
    let address = v.address.as_deref().unwrap_or("");
    let from = from_address(v);
    let creds = c.registry.credentials(login).await?;
    // Failures count against the account whichever of its names was typed (name, or email in any
    // case), so aliases give a guesser no extra tries.
    let key = creds.as_ref().map_or(login, |cr| cr.user.name.as_str());
    let (by_account, by_address) = c
        .registry
        .recent_failures(key, address, THROTTLE_WINDOW_SECS)
        .await?;
    if by_account >= MAX_FAILURES_PER_ACCOUNT
        || (!address.is_empty() && by_address >= MAX_FAILURES_PER_ADDRESS)
    {
        c.registry
            .audit_action(
                &typed_name(login),
                None,
                "user.login_failed",
                &format!("{from}: throttled after too many failed logins"),
            )
            .await?;
        return Err(Denied::Throttled(
            "too many failed logins; wait 15 minutes and try again".into(),
        ));
    }
    let verdict = match &creds {
        Some(cr) => match &cr.password_hash {
            Some(h) if !verify_password(password, h) => Err("wrong password"),
            Some(_) if cr.user.disabled => Err("account disabled"),
            Some(_) => Ok(()),
            None => {
                verify_password(password, &DUMMY_HASH);
                Err("account has no password")
            }
        },
        None => {
            verify_password(password, &DUMMY_HASH);
            Err("no such account")
        }
    };
    let actor = match &creds {
        Some(cr) => cr.user.name.clone(),
        None => typed_name(login),
    };
    let detail = match verdict {
        Ok(()) => from,
        Err(why) => format!("{from}: {why}"),
    };
    c.registry
        .record_login_attempt(key, address, verdict.is_ok(), &actor, &detail)
        .await?;
    match creds {
        Some(cr) if verdict.is_ok() => {
            let token = start_session(c, &cr.user).await?;
            Ok((cr.user, token))
        }
        _ => Err(Denied::Forbidden(
            "wrong name/email or password (or the account is disabled)".into(),
        )),
    }
}

/// "from 192.0.2.7", for the audit log.
fn from_address(v: &Viewer) -> String {
    match v.address.as_deref() {
        Some(a) if !a.is_empty() => format!("from {a}"),
        _ => "from an unknown address".into(),
    }
}

/// A login name as typed, made safe to print as an audit actor: no control characters, at most 64
/// characters (it can be anything a visitor sent).
fn typed_name(login: &str) -> String {
    let clean: String = login
        .chars()
        .filter(|ch| !ch.is_control())
        .take(64)
        .collect();
    if clean.is_empty() {
        "(empty login)".into()
    } else {
        clean
    }
}

/// Ends the viewer's session; audited as `user.logout`.
pub async fn logout(c: &Control, v: &Viewer) -> Result<(), Denied> {
    if let Some(s) = &v.session {
        c.registry
            .end_session(&s.token_hash, &s.user.name, &from_address(v))
            .await?;
    }
    Ok(())
}

/// Changes the viewer's password after checking the current one; every session ends, and a new one
/// is started for this browser (its cookie token is returned).
pub async fn change_password(
    c: &Control,
    v: &Viewer,
    current: &str,
    new: &str,
) -> Result<String, Denied> {
    let s = member(v)?;
    let creds = c
        .registry
        .credentials(&s.user.name)
        .await?
        .ok_or(Denied::NotSignedIn)?;
    let valid = creds
        .password_hash
        .as_deref()
        .is_some_and(|h| verify_password(current, h));
    if !valid {
        return Err(Denied::Forbidden(
            "current password: that is not your password".into(),
        ));
    }
    check_password_rules(new)?;
    c.registry
        .set_password(&s.user.name, &hash_password(new)?, &s.user.name)
        .await?;
    start_session(c, &s.user).await
}

/// A 303 to the portal page `to` (`/projects`) that sets (or, with an empty token, clears) the
/// session cookie.
pub fn redirect_with_session(v: &Viewer, to: &str, token: &str) -> Response {
    let max_age = if token.is_empty() {
        0
    } else {
        session::LIFETIME_SECS
    };
    (
        StatusCode::SEE_OTHER,
        [
            (
                LOCATION,
                v.link(to)
                    .parse()
                    .expect("portal paths are checked by the config"),
            ),
            (
                SET_COOKIE,
                session::cookie(session::SESSION_COOKIE, token, max_age, v.secure, &v.base),
            ),
        ],
    )
        .into_response()
}

// ---- pages ----

pub async fn signup_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    Ok(SignupPage {
        nav: Nav::of(&v),
        error: String::new(),
        name: String::new(),
        email: String::new(),
        needs_invite: c.config.portal.invite_code.is_some(),
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    input: SignupInput,
}

pub async fn signup_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Form(f): Form<SignupForm>,
) -> PageResult {
    csrf::check(&v, &f.csrf)?;
    match signup(&c, &f.input).await {
        Ok((_, token)) => Ok(redirect_with_session(&v, "/projects", &token)),
        Err(e) => Ok((
            e.status(),
            SignupPage {
                nav: Nav::of(&v),
                error: e.message(),
                name: f.input.name,
                email: f.input.email,
                needs_invite: c.config.portal.invite_code.is_some(),
            },
        )
            .into_response()),
    }
}

pub async fn login_page(v: Viewer) -> PageResult {
    Ok(LoginPage {
        nav: Nav::of(&v),
        error: String::new(),
        login: String::new(),
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    login: String,
    password: String,
}

pub async fn login_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Form(f): Form<LoginForm>,
) -> PageResult {
    csrf::check(&v, &f.csrf)?;
    match login(&c, &v, &f.login, &f.password).await {
        Ok((_, token)) => Ok(redirect_with_session(&v, "/projects", &token)),
        Err(e) => Ok((
            e.status(),
            LoginPage {
                nav: Nav::of(&v),
                error: e.message(),
                login: f.login,
            },
        )
            .into_response()),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    csrf::check(&v, &f.csrf)?;
    logout(&c, &v).await?;
    Ok(redirect_with_session(&v, "/", ""))
}

pub async fn account_page(v: Viewer) -> PageResult {
    let s = member(&v)?;
    Ok(AccountPage {
        nav: Nav::of(&v),
        email: s.user.email.clone().unwrap_or_default(),
        error: String::new(),
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
}

pub async fn password_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    member(&v)?;
    csrf::check(&v, &f.csrf)?;
    match change_password(&c, &v, &f.current, &f.new).await {
        Ok(token) => Ok(redirect_with_session(&v, "/account?changed=1", &token)),
        Err(Denied::NotSignedIn) => Err(Denied::NotSignedIn.into()),
        Err(e) => Ok((
            e.status(),
            AccountPage {
                nav: Nav::of(&v),
                email: v
                    .session
                    .as_ref()
                    .and_then(|s| s.user.email.clone())
                    .unwrap_or_default(),
                error: e.message(),
            },
        )
            .into_response()),
    }
}

/// Shown after a successful action that has no better page to go back to.
pub fn message(v: &Viewer, title: &str, message: &str) -> Response {
    MessagePage {
        nav: Nav::of(v),
        title: title.to_string(),
        message: message.to_string(),
    }
    .into_response()
}
