//! Accounts in the portal: sign-up (open or gated by the club's invite code), login (throttled,
//! audited), logout and password change, as operations the pages and the JSON API share, and their
//! pages. The rules (names, e-mail, passwords, hashing, throttling) live in `clubhost_core`; this
//! module adds the session cookie.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::member;
use super::csrf::{self, CsrfOnly};
use super::pages::{AccountPage, LoginPage, MessagePage, Nav, SignupPage};
use super::refusal::{Denied, PageResult};
use super::session::{self, Viewer};
use clubhost_core::control::Control;
use clubhost_core::model::User;

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
    if let Some(code) = &c.config().portal.invite_code
        && input.invite_code.trim() != code
    {
        return Err(Denied::Forbidden(
            "invite code: that is not the club's invite code; ask a member for it".into(),
        ));
    }
    let user = c
        .sign_up(input.name.trim(), input.email.trim(), &input.password)
        .await?;
    let token = start_session(c, &user).await?;
    Ok((user, token))
}

async fn start_session(c: &Control, user: &User) -> Result<String, Denied> {
    let token = session::random_token();
    c.start_session(
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
    // Without a known address (the proxy did not pass one) only the per-account limit applies.
    let address = v.address.as_deref().unwrap_or("");
    let user = c
        .log_in(login.trim(), password, address, &from_address(v))
        .await?;
    // The language the member reads the portal in is the one their notes speak.
    c.remember_language(&user.name, v.lang).await;
    let token = start_session(c, &user).await?;
    Ok((user, token))
}

/// "from 192.0.2.7", for the audit log.
fn from_address(v: &Viewer) -> String {
    match v.address.as_deref() {
        Some(a) if !a.is_empty() => format!("from {a}"),
        _ => "from an unknown address".into(),
    }
}

/// Ends the viewer's session; audited as `user.logout`.
pub async fn logout(c: &Control, v: &Viewer) -> Result<(), Denied> {
    if let Some(s) = &v.session {
        c.end_session(&s.token_hash, &s.user.name, &from_address(v))
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
    if !c.check_password(&s.user.name, current).await? {
        return Err(Denied::Forbidden(
            "current password: that is not your password".into(),
        ));
    }
    c.set_password(&s.user.name, new, &s.user.name).await?;
    start_session(c, &s.user).await
}

/// Where a viewer lands after logging in, below the portal's base: the one place that decides
/// it. An admin lands on the dashboard (the portal's root for admins: requests and renewals
/// waiting, failures, disk), everyone else on their projects.
pub async fn landing_for(_c: &Control, user: &User) -> String {
    if user.is_admin {
        return "/".into();
    }
    "/projects".into()
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

pub async fn signup_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    Ok(SignupPage {
        nav: Nav::of(&v),
        error: String::new(),
        name: String::new(),
        email: String::new(),
        needs_invite: c.config().portal.invite_code.is_some(),
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
                needs_invite: c.config().portal.invite_code.is_some(),
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
        Ok((user, token)) => {
            let to = landing_for(&c, &user).await;
            Ok(redirect_with_session(&v, &to, &token))
        }
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
        back: None,
    }
    .into_response()
}
