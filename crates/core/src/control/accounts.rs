//! Accounts and sessions through `Control`: creating accounts (sign-up, `user add`), passwords,
//! logins with throttling, sessions, promoting or disabling users, and a member's chat invite. The rules themselves live in
//! [`crate::accounts`]; every check runs before anything is written, so a refused request leaves
//! nothing behind.

use clubhost_registry::User;
use clubhost_registry::accounts::UserFlag;
use clubhost_registry::sessions::{LoginFailures, Session};

use super::{Control, ControlError, Result};
use crate::accounts::{
    DUMMY_HASH, check_email, check_name, check_password_rules, hash_password, verify_password,
};
use crate::chat::ChatInvite;

/// Failed logins for one account from one address before each further try must wait; the
/// notice "2 more tries before a short wait" comes before the first wait.
pub const FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS: i64 = 5;
/// Failed logins from one address, any accounts, before each further try must wait: a shared
/// address (a club room's NAT) gets several accounts' share.
pub const FREE_FAILURES_PER_ADDRESS: i64 = 20;
/// Failed logins for one account, from every address that never logged into it, before each
/// further try from such an address must wait: a botnet guessing one account from many addresses
/// gets at most one try per [`MAX_LOGIN_DELAY_SECS`] once these are spent, while an address
/// that has logged into the account before is never slowed by them.
pub const FREE_FAILURES_PER_ACCOUNT_FROM_STRANGERS: i64 = 10;
/// The longest wait: delays grow 1 s, 2 s, 4 s … up to this, so there is never a lock, least of
/// all one a stranger can put on an owner's account from elsewhere.
pub const MAX_LOGIN_DELAY_SECS: i64 = 60;
/// How far back failed logins count (a success from the same address clears that account's).
pub const THROTTLE_WINDOW_SECS: i64 = 60 * 60;

/// The wait after `failures` failures when `free` are allowed without one: 0, then 1, 2, 4 … s
/// up to [`MAX_LOGIN_DELAY_SECS`].
fn login_delay(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(16) as u32;
    (1i64 << doublings).min(MAX_LOGIN_DELAY_SECS)
}

/// Seconds still to wait before the next try, given the failures counted and when the last was.
/// Times are whole seconds: the last failure counts from the end of its second, so a wait is
/// never shorter than it says.
fn wait_left(failures: i64, last: Option<i64>, free: i64, now: i64) -> i64 {
    let delay = login_delay(failures, free);
    match last {
        Some(at) if delay > 0 => (at + 1 + delay - now).max(0),
        _ => 0,
    }
}

/// Seconds a login must still wait: the longest of the waits per account and address, per
/// address, and, for an address that never logged into the account, per account from all such
/// addresses. `Wait::account` says the last one is what holds it up.
fn throttle_wait(f: &LoginFailures, now: i64) -> Wait {
    let pair = wait_left(
        f.pair,
        f.pair_last,
        FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS,
        now,
    );
    let address = wait_left(f.by_address, f.address_last, FREE_FAILURES_PER_ADDRESS, now);
    let account = if f.address_trusted {
        0
    } else {
        wait_left(
            f.by_strangers,
            f.strangers_last,
            FREE_FAILURES_PER_ACCOUNT_FROM_STRANGERS,
            now,
        )
    };
    Wait {
        secs: pair.max(address).max(account),
        account: account > pair.max(address),
    }
}

/// How long a login must wait, and whether for the account's sake (many addresses failed on it)
/// rather than this address's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wait {
    secs: i64,
    account: bool,
}

/// The refusal of a login that came before its wait was over.
fn throttled(
    Wait {
        secs: wait,
        account,
    }: Wait,
) -> ControlError {
    if account {
        return ControlError::Throttled(format!(
            "Please wait {wait} second{} before trying again: this account had too many failed logins from addresses it was never used from.",
            if wait == 1 { "" } else { "s" }
        ));
    }
    ControlError::Throttled(if wait == 1 {
        "Please wait a second before trying again: there were too many failed logins from your address.".into()
    } else {
        format!(
            "Please wait {wait} seconds before trying again: there were too many failed logins from your address."
        )
    })
}

/// The refusal of a wrong login, saying how many tries are left before waits begin, or how long
/// the next wait is. Whole sentences, one per case, so each can move into a language catalogue.
fn wrong_login(failures: i64) -> ControlError {
    let left = FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS - failures;
    let delay = login_delay(failures, FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS);
    ControlError::Forbidden(match (left, delay) {
        (2, _) => "Wrong name/email or password (or the account is disabled). 2 more tries before a short wait.".into(),
        (1, _) => "Wrong name/email or password (or the account is disabled). 1 more try before a short wait.".into(),
        (_, 0) => "Wrong name/email or password (or the account is disabled).".into(),
        (_, 1) => "Wrong name/email or password (or the account is disabled). Wait a second before the next try.".into(),
        (_, d) => format!("Wrong name/email or password (or the account is disabled). Wait {d} seconds before the next try."),
    })
}

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

    /// Checks a login (by name or e-mail), throttled per account *and* address and per address
    /// with growing, capped delays (`address` may be empty when unknown: then all unknown
    /// addresses count as one). Failures from one address never slow the same account at another,
    /// so nobody can lock an owner out. Every attempt is audited
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
        let failures = self
            .registry
            .login_failures(key, address, THROTTLE_WINDOW_SECS)
            .await?;
        let now = clubhost_registry::now();
        let wait = throttle_wait(&failures, now);
        if wait.secs > 0 {
            self.registry
                .audit_action(
                    &typed_name(login),
                    None,
                    "user.login_failed",
                    &format!("{from}: throttled after too many failed logins"),
                )
                .await?;
            return Err(throttled(wait));
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
            _ => Err(wrong_login(failures.pair + 1)),
        }
    }

    /// Remembers the language `name` uses the portal in (the switch, or the pages' language at
    /// login): the notes they get as an owner speak it. A failure is logged, never refused: it
    /// is a preference.
    pub async fn remember_language(&self, name: &str, lang: crate::i18n::Lang) {
        if let Err(e) = self.registry.set_user_language(name, lang.code()).await {
            tracing::warn!(user = name, error = %e, "cannot store the account's language");
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

    /// Whether members get chat invites made for them (a Discord bot is configured).
    pub fn chat_invites_are_personal(&self) -> bool {
        let club = &self.config().club;
        club.discord_bot_token.is_some() && club.discord_channel_id.is_some()
    }

    /// The chat invite for `member` (`crate::chat`): made for them through the club's Discord bot
    /// (or the one made within the last minute), else the configured link; `None` when the club
    /// has neither. Discord refusing or unreachable is `ControlError::Internal`.
    pub async fn chat_invite(&self, member: &User) -> Result<Option<ChatInvite>> {
        let club = &self.config().club;
        let (Some(token), Some(channel)) = (&club.discord_bot_token, &club.discord_channel_id)
        else {
            let link = self.config().portal.chat_invite_url.clone();
            return Ok(link.map(|url| ChatInvite {
                url,
                personal: false,
            }));
        };
        self.chat
            .discord(member.id, &club.discord_api, token, channel)
            .await
            .map(Some)
            .map_err(|why| ControlError::Internal(format!("Discord made no chat invite: {why}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_begin_after_the_free_tries_then_double_up_to_the_cap() {
        let free = FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS;
        let delays: Vec<i64> = (0..free + 9).map(|n| login_delay(n, free)).collect();
        assert_eq!(&delays[..free as usize], &vec![0; free as usize][..]);
        assert_eq!(&delays[free as usize..], &[1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(login_delay(10_000, free), MAX_LOGIN_DELAY_SECS);
    }

    #[test]
    fn a_wait_is_counted_from_the_end_of_the_last_failures_second() {
        let free = FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS;
        assert_eq!(wait_left(free - 1, Some(100), free, 100), 0);
        assert_eq!(wait_left(free, Some(100), free, 100), 2);
        assert_eq!(wait_left(free, Some(100), free, 101), 1);
        assert_eq!(wait_left(free, Some(100), free, 102), 0);
        assert_eq!(wait_left(free + 2, Some(100), free, 103), 2);
        assert_eq!(wait_left(free, None, free, 100), 0);
    }

    /// A botnet: failures for one account spread over many addresses that never logged into it.
    /// A new address must wait, longer as they grow; the owner's address (it logged in before)
    /// never does, however many there are.
    #[test]
    fn strangers_failures_slow_new_addresses_but_never_the_owners() {
        let free = FREE_FAILURES_PER_ACCOUNT_FROM_STRANGERS;
        let seen = |by_strangers, trusted| LoginFailures {
            pair: 0,
            pair_last: None,
            by_address: 1,
            address_last: Some(100),
            by_strangers,
            strangers_last: Some(100),
            address_trusted: trusted,
        };
        assert_eq!(throttle_wait(&seen(free - 1, false), 100).secs, 0);
        let first = throttle_wait(&seen(free, false), 100);
        assert_eq!(
            first,
            Wait {
                secs: 2,
                account: true
            }
        );
        let waits: Vec<i64> = [free + 1, free + 3, free + 6, free + 500]
            .iter()
            .map(|n| throttle_wait(&seen(*n, false), 101).secs)
            .collect();
        assert_eq!(waits, [2, 8, 60, 60], "growing, capped");
        for n in [free, free + 6, free + 10_000] {
            assert_eq!(
                throttle_wait(&seen(n, true), 100).secs,
                0,
                "{n} slowed the owner"
            );
        }
        let message = throttled(first).to_string();
        assert!(
            message.contains("addresses it was never used from"),
            "{message}"
        );
    }

    #[test]
    fn wrong_logins_warn_before_the_first_wait() {
        let text = |n| match wrong_login(n) {
            ControlError::Forbidden(m) => m,
            other => panic!("{other}"),
        };
        let free = FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS;
        assert!(!text(free - 3).contains("before"), "{}", text(free - 3));
        assert!(text(free - 2).ends_with("2 more tries before a short wait."));
        assert!(text(free - 1).ends_with("1 more try before a short wait."));
        assert!(text(free).ends_with("Wait a second before the next try."));
        assert!(text(free + 1).ends_with("Wait 2 seconds before the next try."));
        assert!(text(1).starts_with("Wrong name/email or password"));
    }
}
