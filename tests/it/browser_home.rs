//! The club's front door and the admin dashboard in a real browser (Debian's chromium over
//! WebDriver, the `Browser` of `browser.rs`) against a real `clubhost serve` and the real Docker
//! engine: `/` shows the club's page (name, logo, Markdown intro with its raw HTML escaped, the
//! gallery sorted and filtered by plain links, how to join) while no root project exists, and the
//! root project once one does; an admin's portal root is the dashboard, whose counts match the
//! projects this test made and whose disk figures match what `docker system df` reports. Every
//! page is opened at desktop and phone width: none scrolls sideways at 390 px, every control has
//! a label, and a screenshot of each in English and Korean is written under
//! `target/screenshots/<lang>/<width>/` (kept by CI).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::browser_driver::{Browser, base64_decode, set_password};
use crate::common::{self, Club};

/// Desktop and phone widths every page is looked at in.
const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// Where screenshots go: `target/screenshots/<test>/` (CI keeps the folder as an artifact).
pub(crate) fn screenshot_dir(test: &str) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().map_or(tmp.clone(), PathBuf::from);
    let dir = target.join("screenshots").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub(crate) async fn script(&self, script: &str) -> Result<Value, String> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    pub(crate) async fn resize(&self, (width, height): (u32, u32)) -> Result<(), String> {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await
        .map(drop)
    }

    /// Presses keys one after the other, as a keyboard would (WebDriver key actions: no element
    /// is clicked or focused by the driver). WebDriver's codes: Tab `\u{E004}`, Enter `\u{E007}`,
    /// Space `\u{E00D}`, arrow down `\u{E015}`.
    pub(crate) async fn keys(&self, text: &str) -> Result<(), String> {
        let mut actions = Vec::new();
        for c in text.chars() {
            actions.push(json!({ "type": "keyDown", "value": c.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        self.call(
            reqwest::Method::POST,
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await
        .map(drop)
    }

    /// Saves a screenshot as `dir/name.png`.
    pub(crate) async fn capture(&self, dir: &std::path::Path, name: &str) {
        if let Ok(v) = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await
            && let Some(png) = v.as_str().and_then(base64_decode)
        {
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
    }

    /// The checks every page passes, in both languages at both widths, with a screenshot of
    /// each (`target/screenshots/<lang>/<width>/<test>-<name>.png`, `<test>` being `dir`'s
    /// name): no sideways scrolling at phone width (Korean text is wider), a skip link to the
    /// main landmark, every form control labelled. The browser speaks English again after.
    pub(crate) async fn check_page(
        &self,
        url: &str,
        dir: &std::path::Path,
        name: &str,
    ) -> Result<(), String> {
        let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        let test = dir.file_name().and_then(|n| n.to_str()).unwrap_or("page");
        for lang in ["ko", "en"] {
            // The switch's cookie holds for the whole site.
            self.goto(&format!("{origin}/portal/lang/{lang}?back=/portal/login"))
                .await?;
            for size in [DESKTOP, PHONE] {
                self.resize(size).await?;
                self.goto(url).await?;
                self.find("main#main").await?;
                let spoken = self.script("return document.documentElement.lang").await?;
                if spoken != lang {
                    return Err(format!("{url} speaks {spoken}, not {lang}"));
                }
                let shots = dir
                    .parent()
                    .unwrap_or(dir)
                    .join(lang)
                    .join(size.0.to_string());
                std::fs::create_dir_all(&shots).map_err(|e| e.to_string())?;
                self.capture(&shots, &format!("{test}-{name}")).await;
                let overflow = self
                    .script(
                        "const d = document.documentElement; \
                         const wide = [...document.querySelectorAll('body *')] \
                           .filter(e => e.getBoundingClientRect().right > d.clientWidth + 1) \
                           .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.id); \
                         return { scroll: d.scrollWidth, client: d.clientWidth, wide };",
                    )
                    .await?;
                if size == PHONE && overflow["scroll"].as_u64() > overflow["client"].as_u64() {
                    return Err(format!(
                        "{url} in {lang} scrolls sideways at {} px: {overflow}",
                        PHONE.0
                    ));
                }
            }
        }
        let unlabelled = self
            .script(
                "const named = e => e.labels?.length || e.getAttribute('aria-label') \
                   || e.getAttribute('aria-labelledby') || e.title \
                   || (e.tagName === 'BUTTON' && e.textContent.trim()); \
                 return [...document.querySelectorAll('input, select, textarea, button')] \
                   .filter(e => e.type !== 'hidden' && !named(e)) \
                   .map(e => e.outerHTML.slice(0, 120));",
            )
            .await?;
        if unlabelled.as_array().is_some_and(|a| !a.is_empty()) {
            return Err(format!("{url} has controls without a label: {unlabelled}"));
        }
        let landmarks = self
            .script("return ['header', 'nav', 'main'].filter(t => !document.querySelector(t))")
            .await?;
        if landmarks != json!([]) {
            return Err(format!("{url} lacks the landmarks {landmarks}"));
        }
        let skip = self
            .script(
                "const s = document.querySelector('a.skip'); return s && s.getAttribute('href');",
            )
            .await?;
        if skip != "#main" {
            return Err(format!("{url} has no skip link to #main: {skip}"));
        }
        Ok(())
    }
}

/// `docker system df`'s figures, in bytes, by type (`Images`, `Local Volumes`, `Build Cache`).
/// Asked again when the engine refuses (it counts one at a time: "a disk usage operation is
/// already running" while another test's dashboard counts).
fn docker_df() -> Vec<(String, u64)> {
    for _ in 0..5 {
        let out = common::docker_text(&["system", "df", "--format", "{{json .}}"]);
        let figures: Vec<(String, u64)> = out
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| {
                let kind = v["Type"].as_str().unwrap_or_default().to_string();
                (kind, human_bytes(v["Size"].as_str().unwrap_or("0B")))
            })
            .collect();
        if !figures.is_empty() {
            return figures;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    Vec::new()
}

/// The docker CLI's sizes (`1.982MB`, `0B`, `12.3kB`: powers of 1000) in bytes.
fn human_bytes(text: &str) -> u64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => 1.0,
    };
    (number.trim().parse::<f64>().unwrap_or(0.0) * scale) as u64
}

/// Whether `shown` lies within the figures Docker gave just before and just after, give or take
/// the CLI's rounding (3 significant digits) and a little for other tests' objects.
fn within(shown: u64, before: u64, after: u64) -> bool {
    let (lo, hi) = (before.min(after) as f64, before.max(after) as f64);
    let slack = hi * 0.02 + 16_384.0;
    (shown as f64) >= lo - slack && (shown as f64) <= hi + slack
}

fn figure(src: &str, name: &str) -> Option<String> {
    let at = src.find(&format!("data-figure=\"{name}\">"))?;
    let rest = &src[at..];
    let start = rest.find('>')? + 1;
    let end = rest.find('<')?;
    Some(rest[start..end].trim().to_string())
}

fn disk_bytes(src: &str, label: &str) -> Option<u64> {
    let at = src.find(&format!("data-disk=\"{label}\" data-bytes=\""))?;
    let rest = &src[at..];
    let start = rest.find("data-bytes=\"")? + "data-bytes=\"".len();
    let end = start + rest[start..].find('"')?;
    rest[start..end].parse().ok()
}

struct Slugs {
    alpha: String,
    beta: String,
    crash: String,
    waiting: String,
}

async fn scenario(b: &Browser, club: &mut Club, s: &Slugs) -> Result<(), String> {
    let dir = screenshot_dir("portal-home");

    // The front door while no root project exists.
    b.resize(DESKTOP).await?;
    b.goto(&club.url("/")).await?;
    b.expect("Hanbit Coding Club").await?;
    let src = b.source().await?;
    for want in [
        "<strong>code together</strong>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        r#"class="club-logo""#,
        "Alpha site",
        "Beta site",
        "By bob",
        "Hosted until",
        "/portal/signup",
        "Newest first",
    ] {
        if !src.contains(want) {
            return Err(format!("the front page lacks {want:?}:\n{src}"));
        }
    }
    if src.contains("<script>alert(1)") {
        return Err("the intro's raw HTML ran as HTML".into());
    }
    // The club's name heads every page.
    let header = b
        .script("return document.querySelector('header .club-name').textContent")
        .await?;
    if header != "Hanbit Coding Club" {
        return Err(format!("header shows {header}"));
    }
    // Newest first: beta was submitted after alpha.
    let order = b
        .script("return [...document.querySelectorAll('.gallery h3')].map(h => h.textContent)")
        .await?;
    if order != json!(["Beta site", "Alpha site"]) {
        return Err(format!("newest first gave {order}"));
    }
    // Plain links sort and filter.
    b.click("a[href='/?sort=name#gallery']").await?;
    b.expect("aria-current=\"true\">By name").await?;
    let order = b
        .script("return [...document.querySelectorAll('.gallery h3')].map(h => h.textContent)")
        .await?;
    if order != json!(["Alpha site", "Beta site"]) {
        return Err(format!("by name gave {order}"));
    }
    b.click("a[href='/?sort=name&member=bob#gallery']").await?;
    b.expect("aria-current=\"true\">bob").await?;
    let order = b
        .script("return [...document.querySelectorAll('.gallery h3')].map(h => h.textContent)")
        .await?;
    if order != json!(["Beta site"]) {
        return Err(format!("bob's projects gave {order}"));
    }
    b.check_page(&club.url("/"), &dir, "front").await?;
    b.check_page(&club.url("/portal/signup"), &dir, "signup")
        .await?;
    b.check_page(&club.url("/portal/login"), &dir, "login")
        .await?;

    // The admin's portal root is the dashboard.
    b.resize(DESKTOP).await?;
    b.goto(&club.url("/portal/login")).await?;
    b.type_into("#login", "boss").await?;
    b.type_into("#password", "admin password 123").await?;
    b.click("main button[type=submit]").await?;
    b.find("header .club-name").await?;
    let before = docker_df();
    b.goto(&club.url("/portal/")).await?;
    b.expect("Last failed deploys").await?;
    let src = b.source().await?;
    let after = docker_df();
    for (name, want) in [
        ("requests", "1"),
        ("renewals", "0"),
        ("running", "2"),
        ("failed", "1"),
        ("expiring", "1"),
    ] {
        if figure(&src, name).as_deref() != Some(want) {
            return Err(format!(
                "dashboard {name}: {:?}, want {want}:\n{src}",
                figure(&src, name)
            ));
        }
    }
    if !src.contains(&format!("/portal/projects/{}\"", s.alpha))
        || src.contains(&format!(
            "/portal/projects/{}\">{}</a>: term",
            s.beta, s.beta
        ))
    {
        return Err(format!("the expiring list is wrong:\n{src}"));
    }
    if !(src.contains(&format!(">{}</a>", s.crash)) && src.contains("exited with code 3")) {
        return Err(format!(
            "the failed deploy and its reason are missing:\n{src}"
        ));
    }
    let docker = |kind: &str, df: &[(String, u64)]| {
        df.iter()
            .find(|(k, _)| k == kind)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("docker system df has no {kind}: {df:?}"))
    };
    for (label, kind) in [
        ("Images", "Images"),
        ("Volumes", "Local Volumes"),
        ("Build cache", "Build Cache"),
        ("Containers", "Containers"),
    ] {
        let shown = disk_bytes(&src, label).ok_or(format!("no {label} on the dashboard"))?;
        let (b0, b1) = (docker(kind, &before), docker(kind, &after));
        if !within(shown, b0, b1) {
            return Err(format!(
                "dashboard {label}: {shown} bytes; docker system df said {b0} before and {b1} after"
            ));
        }
    }
    if disk_bytes(&src, "Data directory").is_none_or(|n| n == 0) {
        return Err("the data dir's size is missing".into());
    }
    if figure(&src, "memory").is_none() || figure(&src, "load").is_none() {
        return Err(format!("host memory or load missing:\n{src}"));
    }
    // Each figure links to where it is handled.
    b.click("#fig-requests").await?;
    b.expect(&s.waiting).await?;

    // Every page, at both widths, as an admin.
    for (path, name) in [
        ("/portal/", "dashboard"),
        ("/portal/club", "club"),
        ("/portal/admin/", "review-queue"),
        ("/portal/admin/projects", "admin-projects"),
        ("/portal/admin/users", "admin-users"),
        ("/portal/admin/routes", "admin-routes"),
        ("/portal/admin/audit", "admin-audit"),
        ("/portal/admin/certificates", "admin-certificates"),
        ("/portal/request", "request"),
        ("/portal/projects", "my-projects"),
        ("/portal/account", "account"),
        ("/portal/join", "join"),
        (&format!("/portal/projects/{}", s.alpha), "project"),
        (&format!("/portal/projects/{}", s.crash), "project-failed"),
    ] {
        b.check_page(&club.url(path), &dir, name).await?;
    }

    // With a root project, `/` is the project's again.
    let root = common::slug("homeroot");
    club.slugs.push(root.clone());
    let path = club.write_stack("root.yml", &common::two_service_stack());
    club.ok(&[
        "project",
        "submit",
        "--owner",
        "ana",
        "--slug",
        &root,
        "--root",
        "--stack",
        path.to_str().unwrap(),
    ]);
    club.ok(&["project", "approve", &root]);
    b.resize(DESKTOP).await?;
    b.goto(&club.url("/")).await?;
    let src = b.source().await?;
    if src.contains("Hanbit Coding Club") {
        return Err(format!("the root project should answer `/`:\n{src}"));
    }
    Ok(())
}

fn submit(club: &Club, owner: &str, slug: &str, name: &str, days: &str, stack: &str) {
    let path = club.write_stack(&format!("{slug}.yml"), stack);
    club.ok(&[
        "project",
        "submit",
        "--owner",
        owner,
        "--slug",
        slug,
        "--name",
        name,
        "--days",
        days,
        "--description",
        "made for the front page test",
        "--stack",
        path.to_str().unwrap(),
    ]);
}

#[tokio::test]
async fn front_door_and_dashboard_in_a_real_browser() {
    let mut club = Club::new();
    let mut text = std::fs::read_to_string(&club.config).unwrap();
    text.push_str(
        r#"
[club]
name = "Hanbit Coding Club"
intro = """
We **code together** every Thursday.

<script>alert(1)</script>
"""
logo = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 10 10'%3E%3Ccircle cx='5' cy='5' r='5' fill='%231d4ed8'/%3E%3C/svg%3E"

[portal]
chat_invite_url = "https://chat.example/invite"
"#,
    );
    std::fs::write(&club.config, text).unwrap();
    let s = Slugs {
        alpha: common::slug("alpha"),
        beta: common::slug("beta"),
        crash: common::slug("crashhome"),
        waiting: common::slug("waiting"),
    };
    club.slugs
        .extend([&s.alpha, &s.beta, &s.crash, &s.waiting].map(|x| x.to_string()));
    club.start();
    club.ok(&["user", "add", "boss", "--admin"]);
    set_password(&club, "boss", "admin password 123");
    club.ok(&["user", "add", "ana"]);
    club.ok(&["user", "add", "bob"]);
    let stack = common::two_service_stack();
    submit(&club, "ana", &s.alpha, "Alpha site", "3", &stack);
    club.ok(&["project", "approve", &s.alpha]);
    submit(&club, "bob", &s.beta, "Beta site", "30", &stack);
    club.ok(&["project", "approve", &s.beta]);
    let crashing = stack.replace("exec httpd -f -p 8000 -h /www", "echo boom; exit 3");
    submit(&club, "ana", &s.crash, "Crash site", "30", &crashing);
    let _ = club.cli(&["project", "approve", &s.crash]);
    submit(&club, "ana", &s.waiting, "Waiting site", "30", &stack);

    let profile = tempfile::tempdir().unwrap();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-home-shots");
    let mut b = Browser::start(shots, profile.path()).await;
    let result = scenario(&b, &mut club, &s).await;
    if result.is_err() {
        b.shot("failure").await;
    }
    b.quit().await;
    if let Err(e) = result {
        panic!("{e}\nserver log:\n{}", club.log());
    }
}

#[test]
fn docker_sizes_read_as_bytes() {
    assert_eq!(human_bytes("1.982MB"), 1_982_000);
    assert_eq!(human_bytes("0B"), 0);
    assert_eq!(human_bytes("12.3kB"), 12_300);
    assert!(within(1_982_291, 1_982_000, 1_982_000));
    assert!(!within(3_000_000, 1_982_000, 1_982_000));
}
