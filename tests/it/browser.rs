//! One end-to-end test in a real browser: Debian's chromium driven over WebDriver (chromedriver)
//! against a real `clubhost serve` and the real Docker engine. A member signs up and requests a
//! slot from the club's `static-site` template (its page title as a template variable; the live
//! verdict shows before submitting), the admin approves it, a visitor sees the container's page,
//! the admin expires it, the visitor sees the expired page. A screenshot is taken after every step
//! and kept (under target/tmp/browser-shots/) only when the test fails or CLUBHOST_KEEP_SHOTS is
//! set.
//!
//! The WebDriver client is in `browser_driver`.

use crate::browser_driver::{Browser, set_password};
use crate::common::{self, Club};

async fn scenario(b: &mut Browser, club: &Club, slug: &str) -> Result<(), String> {
    b.goto(&club.url("/portal/signup")).await?;
    b.type_into("#name", "ana").await?;
    b.type_into("#email", "ana@club.example").await?;
    b.type_into("#password", "correct horse battery").await?;
    b.shot("signup").await;
    b.click("main button[type=submit]").await?;
    b.expect("My projects").await?;

    b.goto(&club.url("/portal/request")).await?;
    b.type_into("#name", "Browser site").await?;
    b.type_into("#slug", slug).await?;
    b.type_into("#description", "made in a real browser")
        .await?;
    // The live slug check and checker's verdict appear a moment after typing stops and push the
    // form down: wait for both, or a click below can land on whatever moved under it.
    b.expect(&format!("The address /{slug}/ is available."))
        .await?;
    b.expect("choose a template, or paste or upload a compose file")
        .await?;
    // From a template: the static site, whose page title is one of its variables (its default
    // image is the test image).
    b.click("#template-static-site").await?;
    b.clear("#var-static-site-SITE_TITLE").await?;
    b.type_into("#var-static-site-SITE_TITLE", "hello from the browser test")
        .await?;
    // The live verdict (request.js) shows before submitting.
    b.expect("Stack: accepted").await?;
    b.shot("request").await;
    b.click("button[value=submit]").await?;
    b.expect("Request submitted").await?;
    b.shot("submitted").await;

    b.click("header form button").await?; // log out
    // Wait for the logout's redirect to land, so it cannot replace the login page opened next.
    b.expect("Sign up").await?;
    b.goto(&club.url("/portal/login")).await?;
    b.type_into("#login", "boss").await?;
    b.type_into("#password", "admin password 123").await?;
    b.click("main button[type=submit]").await?;
    b.expect("My projects").await?;

    b.goto(&club.url("/portal/admin/")).await?;
    b.expect(slug).await?;
    b.shot("queue").await;
    b.click(&format!(
        "form[action='/portal/admin/projects/{slug}/approve'] button"
    ))
    .await?;
    // The deploy's steps show live on the queue page (the project's page without JavaScript).
    b.expect("the project is running").await?;
    b.shot("deployed").await;
    b.goto(&club.url("/portal/admin/projects")).await?;
    b.expect("running").await?;
    b.shot("approved").await;

    b.goto(&club.url(&format!("/{slug}/"))).await?;
    b.expect("hello from the browser test").await?;
    b.shot("visitor-running").await;

    b.goto(&club.url("/portal/admin/projects")).await?;
    b.click(&format!(
        "form[action='/portal/admin/projects/{slug}/expire'] button"
    ))
    .await?;
    b.expect("expired").await?;
    b.shot("expired").await;

    b.goto(&club.url(&format!("/{slug}/"))).await?;
    b.expect("This project is expired").await?;
    b.shot("visitor-expired").await;
    Ok(())
}

#[tokio::test]
async fn member_to_visitor_in_a_real_browser() {
    let mut club = Club::new();
    let slug = common::slug("browser");
    club.slugs.push(slug.clone());
    club.start();
    club.ok(&["user", "add", "boss", "--admin"]);
    set_password(&club, "boss", "admin password 123");

    let profile = tempfile::tempdir().unwrap();
    // Screenshots are kept on failure, or on request: CLUBHOST_KEEP_SHOTS=1 cargo test browser.
    let mut browser = Browser::for_test(&slug, profile.path()).await;
    let result = scenario(&mut browser, &club, &slug).await;
    browser.finish(result, &club).await;
}
