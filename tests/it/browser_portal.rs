//! The portal's rough edges as a real browser shows them (issue 19's findings), each checked in
//! Debian's chromium against a real `clubhost serve` and the real Docker engine:
//! - a refused action (rejecting a request that is already running) keeps the admin's menu, says
//!   in plain words which action failed and why, and links back to the page it came from;
//! - after "The project is now running" the review card no longer offers Reject or Send back, and
//!   the disabled "Approve and deploy" button looks disabled;
//! - an admin lands on the dashboard after logging in; a member on their
//!   projects;
//! - the menu: admin pages behind one "Admin" entry, "Account (name)", "Log out" styled as a link,
//!   and at 390 px one row with no horizontal scroll.

use serde_json::json;

use crate::browser_driver::{Browser, set_password};
use crate::common::{self, Club, IMAGE};

fn site_stack() -> String {
    format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8000 -h /www"]
x-clubhost:
  expose: web
  port: 8000
"#
    )
}

async fn log_in(b: &Browser, club: &Club, name: &str, password: &str) -> Result<(), String> {
    b.goto(&club.url("/portal/login")).await?;
    b.type_into("#login", name).await?;
    b.type_into("#password", password).await?;
    b.click("main button[type=submit]").await
}

/// The page's path, as the browser shows it.
async fn path(b: &Browser) -> Result<String, String> {
    let v = b.exec("return location.pathname;", json!([])).await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// Fails unless the page fits `width` CSS pixels and its menu is one row.
async fn fits(b: &Browser, width: u32, page: &str) -> Result<(), String> {
    let v = b
        .exec(
            "return [document.documentElement.scrollWidth, window.innerWidth,
                     document.querySelector('header nav').getBoundingClientRect().height];",
            json!([]),
        )
        .await?;
    let (scroll, inner, nav) = (
        v[0].as_f64().unwrap_or(0.0),
        v[1].as_f64().unwrap_or(0.0),
        v[2].as_f64().unwrap_or(0.0),
    );
    if inner as u32 != width {
        return Err(format!("{page}: the viewport is {inner} px, not {width}"));
    }
    if scroll > inner {
        return Err(format!(
            "{page}: scrolls sideways at {width} px ({scroll} px wide)"
        ));
    }
    // One row of links is about 25 px tall; two rows would be 50.
    if nav > 40.0 {
        return Err(format!("{page}: the menu is {nav} px tall at {width} px"));
    }
    Ok(())
}

async fn admin_scenario(
    b: &mut Browser,
    club: &Club,
    running: &str,
    waiting: &str,
) -> Result<(), String> {
    // A member lands on their projects.
    log_in(b, club, "ana", "member password 123").await?;
    b.expect("Account (ana)").await?;
    if path(b).await? != "/portal/projects" {
        return Err(format!("a member landed on {}", path(b).await?));
    }
    b.click("header form button").await?;
    b.expect("Log in").await?;

    // An admin lands on the dashboard, which shows the request waiting.
    log_in(b, club, "boss", "admin password 123").await?;
    b.expect("Dashboard</h1>").await?;
    b.expect("Waiting for an admin</h2>").await?;
    if path(b).await? != "/portal/" {
        return Err(format!("an admin landed on {}", path(b).await?));
    }
    b.shot("admin-landing").await;

    // The menu: one Admin entry holding the admin pages, the account named, Log out a link.
    let menu = b
        .exec(
            "var nav = document.querySelector('header nav');
             var out = getComputedStyle(nav.querySelector('form button'));
             var admin = nav.querySelector('details.admin-menu');
             return [nav.querySelector('a.account').textContent,
                     out.backgroundColor, out.borderTopWidth,
                     admin ? admin.querySelector('summary').textContent : '',
                     admin ? admin.querySelectorAll('a').length : 0,
                     admin ? admin.open : true,
                     nav.getBoundingClientRect().height];",
            json!([]),
        )
        .await?;
    if menu[0] != "Account (boss)" {
        return Err(format!("the account link says {}", menu[0]));
    }
    if menu[1] != "rgba(0, 0, 0, 0)" || menu[2] != "0px" {
        return Err(format!("Log out is styled as a button: {menu}"));
    }
    if menu[3] != "Admin" || menu[4].as_u64() < Some(5) || menu[5] != false {
        return Err(format!(
            "the admin pages are not grouped closed under Admin: {menu}"
        ));
    }
    if menu[6].as_f64().unwrap_or(99.0) > 40.0 {
        return Err(format!("the desktop menu wraps: {menu}"));
    }

    // Approve one request from its card in the review queue, with the live progress.
    b.goto(&club.url("/portal/admin/")).await?;
    b.expect("Review queue</h1>").await?;
    let card = format!("section[aria-labelledby='q-{running}']");
    b.click(&format!("{card} form[action$='/{running}/approve'] button"))
        .await?;
    b.expect("The project is now running").await?;
    b.shot("card-after-approval").await;
    let after = b
        .exec(
            "var card = arguments[0] ? document.querySelector(arguments[0]) : null;
             var button = card.querySelector('form[action$=\"/approve\"] button');
             var style = getComputedStyle(button);
             return [card.querySelectorAll('form').length, button.disabled, style.backgroundColor,
                     style.cursor, card.textContent.includes('Reject'),
                     card.textContent.includes('Send back')];",
            json!([card]),
        )
        .await?;
    if after[0] != 1 || after[4] != false || after[5] != false {
        return Err(format!("the card still offers other decisions: {after}"));
    }
    if after[1] != true || after[2] == "rgb(29, 78, 216)" || after[3] != "not-allowed" {
        return Err(format!("the disabled approve button looks active: {after}"));
    }

    // Rejecting it now (a second tab still showing the old card) is refused on a page that keeps
    // the menu, says what failed in plain words, and leads back to the queue.
    b.exec(
        "var f = document.createElement('form');
         f.method = 'post';
         f.action = arguments[0];
         var add = function (n, v) { var i = document.createElement('input');
             i.type = 'hidden'; i.name = n; i.value = v; f.appendChild(i); };
         add('csrf', document.querySelector('header form input[name=csrf]').value);
         add('reason', 'too late');
         document.body.appendChild(f);
         f.submit();
         return true;",
        json!([format!("/portal/admin/projects/{running}/reject")]),
    )
    .await?;
    b.expect(&format!(
        "The request for “{running}” could not be rejected"
    ))
    .await?;
    b.shot("refusal").await;
    let src = b.source().await?;
    for want in [
        format!("“{running}” is already running, so it can no longer be rejected."),
        "Account (boss)".to_string(),
        "Review queue".to_string(),
        "href=\"/portal/admin/\"".to_string(),
    ] {
        if !src.contains(&want) {
            return Err(format!("the refusal page lacks {want:?}:\n{src}"));
        }
    }
    for unwanted in ["Conflict", "cannot go from", ">Log in<", ">Sign up<"] {
        if src.contains(unwanted) {
            return Err(format!("the refusal page shows {unwanted:?}:\n{src}"));
        }
    }
    b.click("main a.back").await?;
    b.expect(waiting).await?;
    if path(b).await? != "/portal/admin/" {
        return Err(format!("the way back led to {}", path(b).await?));
    }

    // At phone width: no page scrolls sideways and the menu stays one row; opened, it offers
    // every entry.
    b.set_width(390).await?;
    for page in [
        "/portal/",
        "/portal/admin/",
        "/portal/projects",
        "/portal/request",
        "/portal/account",
        "/portal/admin/projects",
    ] {
        b.goto(&club.url(page)).await?;
        b.expect("Menu</label>").await?;
        fits(b, 390, page).await?;
    }
    b.shot("phone-menu-closed").await;
    b.click("label.menu-toggle").await?;
    b.click("details.admin-menu > summary").await?;
    b.shot("phone-menu-open").await;
    b.click("details.admin-menu a[href='/portal/admin/users']")
        .await?;
    b.expect("ana").await?;
    if path(b).await? != "/portal/admin/users" {
        return Err(format!("the phone menu led to {}", path(b).await?));
    }
    Ok(())
}

#[tokio::test]
async fn refusals_review_card_landing_and_menu_in_a_real_browser() {
    let mut club = Club::new();
    let running = common::slug("bpa");
    let waiting = common::slug("bpb");
    club.slugs.push(running.clone());
    club.slugs.push(waiting.clone());
    club.start();
    club.ok(&["user", "add", "boss", "--admin"]);
    club.ok(&["user", "add", "ana"]);
    set_password(&club, "boss", "admin password 123");
    set_password(&club, "ana", "member password 123");
    let stack = club.write_stack("site.yml", &site_stack());
    club.submit(&running, &stack);
    club.submit(&waiting, &stack);

    let profile = tempfile::tempdir().unwrap();
    let mut browser = Browser::for_test(&running, profile.path()).await;
    let result = admin_scenario(&mut browser, &club, &running, &waiting).await;
    browser.finish(result, &club).await;
}
