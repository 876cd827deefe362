//! "Join the chat" with a Discord bot (issue 19, item 13), in Debian's chromium against a real
//! `clubhost serve`: a signed-in member presses "Make my invite" and gets a single-use,
//! short-lived invite made for them; asking again within a minute shows the same invite without a
//! second call. Discord itself cannot be reached from a test, so `[club] discord_api` points at a
//! local stand-in of the one endpoint clubhost calls, `POST /channels/{id}/invites` (a small axum
//! server in this test), which records each call and answers as Discord does, with a `code`.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::browser_driver::{Browser, set_password};
use crate::common::Club;

/// One call the stand-in received: channel, `Authorization` header, JSON body.
type Calls = Arc<Mutex<Vec<(String, String, Value)>>>;

/// Discord's create-invite endpoint, as far as clubhost uses it.
async fn create_invite(
    State(calls): State<Calls>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut calls = calls.lock().unwrap();
    calls.push((channel, auth, body));
    Json(json!({ "code": format!("standin{}", calls.len()), "max_uses": 1 }))
}

async fn scenario(b: &mut Browser, club: &Club, calls: &Calls) -> Result<(), String> {
    b.goto(&club.url("/portal/login")).await?;
    b.type_into("#login", "ana").await?;
    b.type_into("#password", "member password 123").await?;
    b.click("main button[type=submit]").await?;
    b.expect("Account (ana)").await?;
    b.goto(&club.url("/portal/join")).await?;
    b.expect("Make my invite").await?;
    // Opening the page makes nothing: only the button does.
    if !calls.lock().unwrap().is_empty() {
        return Err("an invite was made by opening the page".into());
    }
    b.click("main form button").await?;
    b.expect("https://discord.gg/standin1").await?;
    b.expect("it works once, for 10 minutes").await?;
    b.shot("invite").await;
    // Again at once: the same invite, no second call.
    b.goto(&club.url("/portal/join")).await?;
    b.click("main form button").await?;
    b.expect("https://discord.gg/standin1").await?;
    let calls = calls.lock().unwrap().clone();
    if calls.len() != 1 {
        return Err(format!("expected one call to Discord, got {calls:?}"));
    }
    let (channel, auth, body) = &calls[0];
    if channel != "424242" || auth != "Bot test-bot-token" {
        return Err(format!("wrong channel or authorization: {calls:?}"));
    }
    if body["max_uses"] != 1 || body["unique"] != true || body["max_age"] != 600 {
        return Err(format!(
            "the invite is not single-use and short-lived: {body}"
        ));
    }
    if b.source().await?.contains("test-bot-token") {
        return Err("the bot token shows on the page".into());
    }
    Ok(())
}

#[tokio::test]
async fn members_get_a_single_use_discord_invite_made_for_them() {
    let calls: Calls = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/v10/channels/{channel}/invites",
            axum::routing::post(create_invite),
        )
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let standin = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut club = Club::new();
    let mut config = std::fs::read_to_string(&club.config).unwrap();
    config.push_str(&format!(
        "\n[club]\ndiscord_bot_token = \"test-bot-token\"\ndiscord_channel_id = \"424242\"\ndiscord_api = \"http://{standin}/api/v10\"\n"
    ));
    std::fs::write(&club.config, config).unwrap();
    club.start();
    club.ok(&["user", "add", "ana"]);
    set_password(&club, "ana", "member password 123");

    let profile = tempfile::tempdir().unwrap();
    let mut browser = Browser::for_test("chat-invite", profile.path()).await;
    let result = scenario(&mut browser, &club, &calls).await;
    browser.finish(result, &club).await;
    server.abort();
}
