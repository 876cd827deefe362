//! The portal by keyboard alone, in a real browser (chromium over WebDriver, `browser.rs`): a new
//! member tabs from the top of the sign-up page (the skip link first), types into each field and
//! submits with Enter; then fills the request form the same way, picks a template with the arrow
//! keys and submits it. Every control reached shows a visible focus ring, and the live checker's
//! answers do not move the page (cumulative layout shift measured by the browser itself).

use std::path::PathBuf;

use serde_json::Value;

use crate::browser_driver::Browser;
use crate::browser_home::screenshot_dir;
use crate::common::{self, Club};

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const DOWN: &str = "\u{E015}";

impl Browser {
    /// The focused element: `#id`, or its tag and name when it has no id.
    async fn focused(&self) -> Result<String, String> {
        let v = self
            .script(
                "const e = document.activeElement; \
                 return e.id ? '#' + e.id : e.tagName.toLowerCase() + \
                   (e.name ? '[name=' + e.name + ']' : '') + \
                   (e.value && e.tagName === 'BUTTON' ? '[value=' + e.value + ']' : '') + \
                   (e.className ? '.' + e.className : '');",
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Presses Tab until the focused element matches `css` (at most 40 times), checking that each
    /// element reached shows a focus ring.
    async fn tab_to(&self, css: &str) -> Result<(), String> {
        let mut path = Vec::new();
        for _ in 0..40 {
            self.keys(TAB).await?;
            let at = self.focused().await?;
            let ring = self
                .script(
                    "const s = getComputedStyle(document.activeElement); \
                     return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;",
                )
                .await?;
            if ring != Value::Bool(true) {
                return Err(format!("{at} has no visible focus ring"));
            }
            let matches = self
                .script(&format!(
                    "return document.activeElement.matches({})",
                    serde_json::to_string(css).unwrap()
                ))
                .await?;
            if matches == Value::Bool(true) {
                return Ok(());
            }
            path.push(at);
        }
        Err(format!("Tab never reached {css}; it went {path:?}"))
    }
}

async fn scenario(b: &Browser, club: &Club, slug: &str) -> Result<(), String> {
    let dir = screenshot_dir("keyboard");
    b.goto(&club.url("/portal/signup")).await?;
    b.find("#name").await?;
    // The first Tab on a page reaches the skip link, which shows itself.
    b.keys(TAB).await?;
    if b.focused().await? != "a.skip" {
        return Err(format!("the first Tab went to {}", b.focused().await?));
    }
    let shown = b
        .script("return document.activeElement.getBoundingClientRect().left >= 0")
        .await?;
    if shown != Value::Bool(true) {
        return Err("the focused skip link stays off screen".into());
    }
    b.capture(&dir, "skip-link").await;
    b.tab_to("#name").await?;
    b.keys("kim").await?;
    b.tab_to("#email").await?;
    b.keys("kim@club.example").await?;
    b.tab_to("#password").await?;
    b.keys("correct horse battery").await?;
    b.tab_to("main button[type=submit], main input[type=submit]")
        .await?;
    b.capture(&dir, "signup-by-keyboard").await;
    b.keys(ENTER).await?;
    b.expect("kim").await?;
    b.find("header form").await?;

    // The request form, keys only. Watch for layout shifts from here on.
    b.goto(&club.url("/portal/request")).await?;
    b.find("#name").await?;
    b.script(
        "window.__shift = 0; new PerformanceObserver(l => l.getEntries().forEach(e => { \
           if (!e.hadRecentInput) window.__shift += e.value; })) \
           .observe({ type: 'layout-shift', buffered: false }); return true;",
    )
    .await?;
    b.tab_to("#name").await?;
    b.keys("Keyboard site").await?;
    b.tab_to("#slug").await?;
    b.keys(slug).await?;
    b.tab_to("#description").await?;
    b.keys("typed without a mouse").await?;
    // Radio buttons: Tab reaches the group, the arrow keys choose.
    b.tab_to("input[name=template]").await?;
    for _ in 0..10 {
        let chosen = b
            .script("return document.activeElement.id")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string();
        if chosen == "template-static-site" {
            break;
        }
        b.keys(DOWN).await?;
    }
    if b.focused().await? != "#template-static-site" {
        return Err(format!(
            "arrows never chose the static site: {}",
            b.focused().await?
        ));
    }
    b.tab_to("#var-static-site-SITE_TITLE").await?;
    b.keys(" by keys").await?;
    // Let the live checks answer (slug and stack) and the page settle.
    b.expect(&format!("/{slug}/ is available")).await?;
    b.expect("Stack: accepted").await?;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let shift = b.script("return window.__shift").await?;
    b.capture(&dir, "request-by-keyboard").await;
    if shift.as_f64().is_none_or(|s| s > 0.1) {
        return Err(format!(
            "the page moved when the checker answered (layout shift {shift}, 0.1 is the limit)"
        ));
    }
    b.tab_to("button[value=submit]").await?;
    b.keys(ENTER).await?;
    b.expect("Request submitted").await?;
    b.capture(&dir, "submitted-by-keyboard").await;
    Ok(())
}

#[tokio::test]
async fn sign_up_and_request_by_keyboard_alone() {
    let mut club = Club::new();
    let slug = common::slug("keys");
    club.slugs.push(slug.clone());
    club.start();
    let profile = tempfile::tempdir().unwrap();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-keys-shots");
    let mut b = Browser::start(shots, profile.path()).await;
    let result = scenario(&b, &club, &slug).await;
    if result.is_err() {
        b.shot("failure").await;
    }
    b.quit().await;
    if let Err(e) = result {
        panic!("{e}\nserver log:\n{}", club.log());
    }
}
