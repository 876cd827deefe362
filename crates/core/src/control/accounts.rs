//! Accounts and sessions through `Control`: creating accounts (sign-up, `user add`), passwords,
//! logins with throttling, sessions, and promoting or disabling users. The rules themselves live in
//! [`crate::accounts`]; every check runs before anything is written, so a refused request leaves
//! nothing behind.

use clubhost_registry::User;
use clubhost_registry::accounts::UserFlag;
use clubhost_registry::sessions::Session;

use super::{Control, ControlError, Result};
use crate::accounts::{
    DUMMY_HASH, check_email, check_name, check_password_rules, hash_password, verify_password,
};

/// Failed logins allowed per account, and per address, within [`THROTTLE_WINDOW_SECS`].
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// Per address: a shared address (a club room's NAT) gets more than one account's share.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// How far back failed logins count.
pub const THROTTLE_WINDOW_SECS: i64 = 15 * 60;

impl Control {
    /// `clubhost user add`: an account without a password (it cannot log in until one is set),
    /// with an optional notification address. Everything is checked before the account is made.
    pub async fn add_user(
        &self,
        name: &str,
        admin: bool,
        email: Option<&str>,
        actor: &str,
    ) -> Result<User> {
        check_name(name).map_err(ControlError::Invalid)?;
        if let Some(email) = email {
            check_email(email).map_err(ControlError::Invalid)?;
        }
        // One insert: a taken name or e-mail is refused with nothing written.
        Ok(self.registry.add_user(name, admin, email, actor).await?)
    }

    /// The portal's sign-up: a member account with a password.
    pub async fn sign_up(&self, name: &str, email: &str, password: &str) -> Result<User> {
        check_name(name).map_err(ControlError::Invalid)?;
        check_email(email).map_err(ControlError::Invalid)?;
        check_password_rules(password).map_err(ControlError::Invalid)?;
        let hash = hash_password(password).map_err(ControlError::Internal)?;
        Ok(self.registry.create_account(name, email, &hash).await?)
    }

    /// Sets `name`'s password (an admin for any account; the portal for the viewer's own, after
    /// [`Control::check_password`]). Every session of the account ends.
    pub async fn set_password(&self, name: &str, password: &str, actor: &str) -> Result<()> {
        check_password_rules(password).map_err(ControlError::Invalid)?;
        let hash = hash_password(password).map_err(ControlError::Internal)?;
        Ok(self.registry.set_password(name, &hash, actor).await?)
    }

    /// Whether `password` is `name`'s current password.
    pub async fn check_password(&self, name: &str, password: &str) -> Result<bool> {
        let creds = self.registry.credentials(name).await?;
        Ok(creds
            .and_then(|c| c.password_hash)
            .is_some_and(|h| verify_password(password, &h)))
    }

    /// Checks a login (by name or e-mail), throttled per account and per address (`address` may be
    /// empty when unknown: then only the per-account limit applies). Every attempt is audited
    /// (`user.login` or `user.login_failed`, with `from` and why it failed).
    pub async fn log_in(
        &self,
        login: &str,
        password: &str,
        address: &str,
        from: &str,
    ) -> Result<User> {
        let creds = self.registry.credentials(login).await?;
        // Failures count against the account whichever of its names was typed (name, or email in
        // any case), so aliases give a guesser no extra tries.
        let key = creds.as_ref().map_or(login, |cr| cr.user.name.as_str());
        let (by_account, by_address) = self
            .registry
            .recent_failures(key, address, THROTTLE_WINDOW_SECS)
            .await?;
        if by_account >= MAX_FAILURES_PER_ACCOUNT
            || (!address.is_empty() && by_address >= MAX_FAILURES_PER_ADDRESS)
        {
            self.registry
                .audit_action(
                    &typed_name(login),
                    None,
                    "user.login_failed",
                    &format!("{from}: throttled after too many failed logins"),
                )
                .await?;
            return Err(ControlError::Throttled(
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
            Ok(()) => from.to_string(),
            Err(why) => format!("{from}: {why}"),
        };
        self.registry
            .record_login_attempt(key, address, verdict.is_ok(), &actor, &detail)
            .await?;
        match creds {
            Some(cr) if verdict.is_ok() => Ok(cr.user),
            _ => Err(ControlError::Forbidden(
                "wrong name/email or password (or the account is disabled)".into(),
            )),
        }
    }

    /// Stores a new session (the registry keeps only the token's hash).
    pub async fn start_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        lifetime_secs: i64,
    ) -> Result<()> {
        Ok(self
            .registry
            .create_session(token_hash, user_id, csrf, lifetime_secs)
            .await?)
    }

    /// The live session with this token hash, if any.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        Ok(self.registry.session(token_hash).await?)
    }

    /// Ends a session; audited as `user.logout` by `actor` with `detail` (where from).
    pub async fn end_session(&self, token_hash: &str, actor: &str, detail: &str) -> Result<()> {
        Ok(self.registry.end_session(token_hash, actor, detail).await?)
    }

    /// Promotes, demotes, disables or enables an account; the last enabled admin cannot be
    /// demoted or disabled (nobody could approve anything then).
    pub async fn set_user_flag(
        &self,
        name: &str,
        flag: UserFlag,
        value: bool,
        actor: &str,
    ) -> Result<User> {
        let target = self.registry.user(name).await?;
        let removes_admin = target.is_admin
            && !target.disabled
            && matches!(
                (flag, value),
                (UserFlag::Admin, false) | (UserFlag::Disabled, true)
            );
        if removes_admin && self.registry.admin_count().await? <= 1 {
            return Err(ControlError::Invalid(format!(
                "{name:?} is the last admin; promote someone else first"
            )));
        }
        Ok(self
            .registry
            .set_user_flag(name, flag, value, actor)
            .await?)
    }

    /// Every account.
    pub async fn users(&self) -> Result<Vec<User>> {
        Ok(self.registry.users().await?)
    }

    /// One account by name.
    pub async fn user(&self, name: &str) -> Result<User> {
        Ok(self.registry.user(name).await?)
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
