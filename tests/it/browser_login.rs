//! Login throttling as the owner of an account meets it, in Debian's chromium against a real
//! `clubhost serve` (issue 19, finding 5): a stranger at another address failing many times is
//! slowed but does not stop the owner, who logs in from their own address at once; the owner's
//! own wrong passwords bring a notice ("2 more tries before a short wait") before any wait, then
//! short growing waits, and never a lock: after the wait the right password works. The stranger
//! is a plain HTTP client bound to 127.0.0.2, so the server sees another address.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::browser_driver::{Browser, set_password};
use crate::common::Club;

const PASSWORD: &str = "admin password 123";

async fn try_login(b: &Browser, club: &Club, password: &str) -> Result<(), String> {
    b.goto(&club.url("/portal/login")).await?;
    b.type_into("#login", "boss").await?;
    b.type_into("#password", password).await?;
    b.click("main button[type=submit]").await
}

async fn scenario(b: &mut Browser, club: &Club) -> Result<(), String> {
    // The owner's own mistakes: a plain refusal, then the notice, then a short wait.
    try_login(b, club, "wrong 1").await?;
    b.expect("Wrong name/email or password").await?;
    if b.source().await?.contains("before a short wait") {
        return Err("the notice came after one failure".into());
    }
    try_login(b, club, "wrong 2").await?;
    b.expect("Wrong name/email or password").await?;
    try_login(b, club, "wrong 3").await?;
    b.expect("2 more tries before a short wait.").await?;
    b.shot("notice").await;
    try_login(b, club, "wrong 4").await?;
    b.expect("1 more try before a short wait.").await?;
    try_login(b, club, "wrong 5").await?;
    b.expect("Wait a second before the next try.").await?;
    // Straight away even the right password waits…
    try_login(b, club, PASSWORD).await?;
    b.expect("before trying again: there were too many failed logins")
        .await?;
    b.shot("wait").await;
    // …but only a moment: never a lock.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    try_login(b, club, PASSWORD).await?;
    b.expect("Account (boss)").await?;
    b.shot("in").await;
    Ok(())
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out_and_the_owner_is_warned_before_waits() {
    let mut club = Club::new();
    club.start();
    club.ok(&["user", "add", "boss", "--admin"]);
    set_password(&club, "boss", PASSWORD);

    // A stranger at 127.0.0.2 guesses the well-known admin account thirty times.
    clubhost_core::notify::tls::install_provider();
    let stranger = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let mut refused = Vec::new();
    for i in 0..30 {
        let r = stranger
            .post(club.url("/portal/api/login"))
            .json(&json!({ "login": "boss", "password": format!("guess {i}") }))
            .send()
            .await
            .unwrap();
        refused.push(r.status());
    }
    assert!(
        refused
            .iter()
            .all(|s| *s == StatusCode::FORBIDDEN || *s == StatusCode::TOO_MANY_REQUESTS),
        "{refused:?}"
    );
    assert!(
        refused.contains(&StatusCode::TOO_MANY_REQUESTS),
        "the stranger was never slowed: {refused:?}"
    );
    // Even the right password waits at the stranger's address…
    let r = stranger
        .post(club.url("/portal/api/login"))
        .json(&json!({ "login": "boss", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    // …while the owner, at 127.0.0.1 in the browser, is not held back at all.
    let profile = tempfile::tempdir().unwrap();
    let mut browser = Browser::for_test("login-throttle", profile.path()).await;
    let result = async {
        try_login(&browser, &club, PASSWORD).await?;
        browser.expect("Account (boss)").await?;
        browser.click("header form button").await?;
        browser.expect("Log in").await?;
        scenario(&mut browser, &club).await
    }
    .await;
    browser.finish(result, &club).await;
}
