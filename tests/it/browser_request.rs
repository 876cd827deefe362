//! The request form and the review card as a member and an admin see them in Debian's chromium,
//! at a phone's width (390 px), against a real `clubhost serve` (issue 19, finding 4): the
//! example compose file with `x-clubhost` beside the form, folded; the slug not judged before
//! its field is touched, then judged next to it, once, wrapped; the stack's verdict right below
//! the stack; messages starting with a capital; no page scrolling sideways; and the review card's
//! normalized stack folded and in units (256 MiB, 0.5 CPU), without nulls.

use serde_json::json;

use crate::browser_driver::{Browser, set_password};
use crate::common::{self, Club, IMAGE};

async fn no_sideways_scroll(b: &Browser, page: &str) -> Result<(), String> {
    let v = b
        .exec(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            json!([]),
        )
        .await?;
    if v[0].as_f64() > v[1].as_f64() {
        return Err(format!("{page} scrolls sideways at 390 px: {v}"));
    }
    Ok(())
}

async fn scenario(b: &mut Browser, club: &Club, slug: &str) -> Result<(), String> {
    b.set_width(390).await?;
    b.goto(&club.url("/portal/login")).await?;
    b.type_into("#login", "ana").await?;
    b.type_into("#password", "member password 123").await?;
    b.click("main button[type=submit]").await?;
    b.expect("My projects</h1>").await?;

    b.goto(&club.url("/portal/request")).await?;
    b.expect("Request a hosting slot</h1>").await?;
    if b.source().await?.contains("best as the club") {
        return Err("the form still says \"(best as the club's root project)\"".into());
    }
    // The example: folded, beside the compose file, with x-clubhost as a top-level key.
    b.click("#template-own").await?;
    let example = b
        .exec(
            "var d = document.querySelector('#vars-own details.example');
             return d ? [d.open, d.querySelector('pre').textContent] : null;",
            json!([]),
        )
        .await?;
    if example[0] != false
        || !example[1]
            .as_str()
            .unwrap_or("")
            .contains("\nx-clubhost:\n  expose: web")
    {
        return Err(format!(
            "no folded example with a top-level x-clubhost: {example}"
        ));
    }

    // Typing elsewhere makes the live checker answer, but says nothing about the untouched slug.
    b.type_into("#name", "Phone site").await?;
    b.expect("Checker's verdict").await?;
    b.expect("Stack: choose a template, or paste or upload a compose file")
        .await?;
    let status = b
        .exec(
            "return document.getElementById('slug-status').textContent;",
            json!([]),
        )
        .await?;
    // What the page shows (its words for the script sit in data- attributes, not shown).
    let shown = b.exec("return document.body.innerText;", json!([])).await?;
    if status != "" || shown.as_str().unwrap_or_default().contains("Slug") {
        return Err(format!(
            "the slug was judged before it was touched: {status}"
        ));
    }
    // The verdict sits right below the stack it judges, not above the form.
    let order = b
        .exec(
            "var stack = document.querySelector('fieldset.stack-choice');
             var card = document.getElementById('verdict-card');
             return stack.nextElementSibling === card;",
            json!([]),
        )
        .await?;
    if order != true {
        return Err("the verdict is not right below the stack".into());
    }
    no_sideways_scroll(b, "/portal/request").await?;

    // A bad slug: judged next to the field, once, starting with a capital, wrapped at 390 px.
    b.type_into(
        "#slug",
        "Bad Slug With Spaces And A Very Long Tail Past Forty Characters",
    )
    .await?;
    b.expect("use 2-40 lowercase letters").await?;
    b.shot("bad-slug").await;
    let reason = b
        .exec(
            "var s = document.getElementById('slug-status');
             var text = s.textContent;
             var count = document.body.innerText.split('use 2-40 lowercase letters').length - 1;
             return [text, s.scrollWidth <= s.clientWidth, s.getBoundingClientRect().right <= window.innerWidth,
                     s.getBoundingClientRect().height, count];",
            json!([]),
        )
        .await?;
    let text = reason[0].as_str().unwrap_or("");
    if !text.starts_with(|c: char| c.is_uppercase()) {
        return Err(format!("the slug's reason starts in lowercase: {text}"));
    }
    if reason[1] != true || reason[2] != true || reason[3].as_f64() < Some(30.0) {
        return Err(format!(
            "the slug's reason does not wrap at 390 px: {reason}"
        ));
    }
    if reason[4] != 1 {
        return Err(format!("the slug's reason is shown {} times", reason[4]));
    }
    no_sideways_scroll(b, "/portal/request with a bad slug").await?;
    b.clear("#slug").await?;
    b.type_into("#slug", slug).await?;
    b.expect(&format!("The address /{slug}/ is available."))
        .await?;

    // A stack with limits: the verdict reads in units.
    let stack = format!(
        "services:\n  web:\n    image: {IMAGE}\n    command: [\"httpd\", \"-f\", \"-p\", \"8000\"]\n    mem_limit: 256m\n    cpus: 0.5\nx-clubhost:\n  expose: web\n  port: 8000\n"
    );
    b.type_into("#stack", &stack).await?;
    b.expect("Stack: accepted.").await?;
    let deployed = b
        .exec(
            "var pre = document.querySelector('#verdict-body pre.readable');
             var firsts = Array.from(document.querySelectorAll('#verdict-body > p, #verdict-body > pre'))
                 .map(function (e) { return e.textContent.charAt(0); });
             return [pre ? pre.textContent : '', firsts];",
            json!([]),
        )
        .await?;
    let text = deployed[0].as_str().unwrap_or("");
    if !text.contains("memory: 256 MiB") || !text.contains("cpus: 0.5 CPU") || text.contains("null")
    {
        return Err(format!("what would be deployed is not in units: {text}"));
    }
    for first in deployed[1].as_array().into_iter().flatten() {
        let c = first.as_str().unwrap_or("").chars().next().unwrap_or('A');
        if c.is_lowercase() {
            return Err(format!("a verdict line starts in lowercase: {deployed}"));
        }
    }
    b.shot("request-ready").await;
    b.click("button[value=submit]").await?;
    b.expect("Request submitted").await?;

    // The admin's review card: the normalized stack folded, in units, no nulls.
    b.click("label.menu-toggle").await?;
    b.click("header form button").await?;
    b.expect("Log in").await?;
    b.goto(&club.url("/portal/login")).await?;
    b.type_into("#login", "boss").await?;
    b.type_into("#password", "admin password 123").await?;
    b.click("main button[type=submit]").await?;
    b.expect("Dashboard</h1>").await?;
    b.goto(&club.url("/portal/admin/")).await?;
    b.expect("Review queue</h1>").await?;
    no_sideways_scroll(b, "/portal/admin/").await?;
    let card = b
        .exec(
            "var card = document.querySelector(arguments[0]);
             var d = Array.from(card.querySelectorAll('details'))
                 .find(function (d) { return d.querySelector('summary').textContent.startsWith('Normalized stack'); });
             return d ? [d.open, d.querySelector('pre').textContent] : null;",
            json!([format!("section[aria-labelledby='q-{slug}']")]),
        )
        .await?;
    let text = card[1].as_str().unwrap_or("");
    if card[0] != false {
        return Err("the review card's normalized stack is open".into());
    }
    if !text.contains("256 MiB")
        || !text.contains("0.5 CPU")
        || text.contains("null")
        || text.contains("268435456")
    {
        return Err(format!(
            "the review card's normalized stack is not readable: {text}"
        ));
    }
    Ok(())
}

#[tokio::test]
async fn request_form_and_review_card_at_phone_width_in_a_real_browser() {
    let mut club = Club::new();
    let slug = common::slug("breq");
    club.slugs.push(slug.clone());
    club.start();
    club.ok(&["user", "add", "boss", "--admin"]);
    club.ok(&["user", "add", "ana"]);
    set_password(&club, "boss", "admin password 123");
    set_password(&club, "ana", "member password 123");

    let profile = tempfile::tempdir().unwrap();
    let mut browser = Browser::for_test(&slug, profile.path()).await;
    let result = scenario(&mut browser, &club, &slug).await;
    browser.finish(result, &club).await;
}
