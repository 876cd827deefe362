//! The WebDriver client every real-browser test shares: Debian's chromium driven over
//! WebDriver (chromedriver) with a few HTTP calls through reqwest (already a dev-dependency)
//! instead of fantoccini, whose dependency tree would add the `webdriver` crate, ICU and a second
//! `cookie`. Also `set_password`, the admin's way to give an account a portal password.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Club};

pub(crate) struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`
    session: String,
    driver: Child,
    shots: PathBuf,
    step: usize,
    /// The page last opened with `goto` (None after a click): `expect` may reload it, so a page
    /// caught in a passing state (a route switching in the same instant) gets another look.
    reloadable: std::sync::Mutex<Option<String>>,
}

impl Browser {
    pub(crate) async fn start(shots: PathBuf, profile: &std::path::Path) -> Browser {
        let port = common::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver must be installed (apt-get install chromium-driver)");
        clubhost_core::notify::tls::install_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(180))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .ok()
                    .map(|v| v["value"]["ready"] == true),
                Err(_) => None,
            };
            if ready == Some(true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-component-update",
                         "--no-first-run", "--disable-dev-shm-usage", "--window-size=1000,1400",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"));
        std::fs::create_dir_all(&shots).unwrap();
        let browser = Browser {
            http,
            session: format!("{base}/session/{id}"),
            driver,
            shots,
            step: 0,
            reloadable: std::sync::Mutex::new(None),
        };
        // Element look-ups wait up to 15 s for the page (a loaded CI machine is slow to render).
        browser
            .call(
                reqwest::Method::POST,
                "/timeouts",
                json!({ "implicit": 15_000 }),
            )
            .await
            .expect("setting the WebDriver implicit wait");
        browser
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let req = self.http.request(method, format!("{}{path}", self.session));
        let req = if body.is_null() { req } else { req.json(&body) };
        let res = req
            .send()
            .await
            .map_err(|e| format!("WebDriver {path}: {e}"))?;
        let ok = res.status().is_success();
        let v: Value = res
            .json()
            .await
            .map_err(|e| format!("WebDriver {path}: {e}"))?;
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(format!("WebDriver {path}: {}", v["value"]))
        }
    }

    pub(crate) async fn goto(&self, url: &str) -> Result<(), String> {
        *self.reloadable.lock().unwrap() = Some(url.to_string());
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await
            .map(drop)
    }

    pub(crate) async fn find(&self, css: &str) -> Result<String, String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await
            .map_err(|e| format!("no element {css:?}: {e}"))?;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no element {css:?}"))
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let el = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            json!({ "text": text }),
        )
        .await
        .map(drop)
    }

    /// Empties a form field (a template variable comes filled with its default).
    pub(crate) async fn clear(&self, css: &str) -> Result<(), String> {
        let el = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            json!({}),
        )
        .await
        .map(drop)
    }

    pub(crate) async fn click(&self, css: &str) -> Result<(), String> {
        *self.reloadable.lock().unwrap() = None;
        let el = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            json!({}),
        )
        .await
        .map(drop)
    }

    pub(crate) async fn source(&self) -> Result<String, String> {
        let v = self
            .call(reqwest::Method::GET, "/source", Value::Null)
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Waits (bounded) until the page source contains `text`.
    pub(crate) async fn expect(&self, text: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let src = self.source().await?;
            if src.contains(text) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("page never showed {text:?}; it shows:\n{src}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            // Every 2 s, reload a page opened by address (never one that a form posted).
            let url = self.reloadable.lock().unwrap().clone();
            if let Some(url) = url.filter(|_| attempt.is_multiple_of(10)) {
                self.goto(&url).await?;
            }
        }
    }

    /// Saves a screenshot named after the step.
    pub(crate) async fn shot(&mut self, name: &str) {
        self.step += 1;
        if let Ok(v) = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await
            && let Some(png) = v.as_str().and_then(base64_decode)
        {
            let path = self.shots.join(format!("{:02}-{name}.png", self.step));
            let _ = std::fs::write(path, png);
        }
    }

    pub(crate) async fn quit(mut self) {
        let _ = self.call(reqwest::Method::DELETE, "", Value::Null).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()) {
        acc = (acc << 6) | val(c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Sets a portal password the way an admin does: `clubhost user passwd NAME`, password on stdin.
pub(crate) fn set_password(club: &Club, name: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clubhost"))
        .arg("--config")
        .arg(&club.config)
        .args(["user", "passwd", name])
        .env("CLUBHOST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user passwd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Browser {
    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its value.
    pub(crate) async fn exec(&self, script: &str, args: Value) -> Result<Value, String> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Resizes the window so the page's viewport is `width` CSS pixels wide (a phone: 390).
    pub(crate) async fn set_width(&self, width: u32) -> Result<(), String> {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({ "width": width, "height": 900 }),
        )
        .await?;
        // The window's frame takes some of it: grow the window until the viewport is `width`.
        let inner = self
            .exec("return window.innerWidth;", json!([]))
            .await?
            .as_u64()
            .unwrap_or(width as u64) as u32;
        if inner != width {
            self.call(
                reqwest::Method::POST,
                "/window/rect",
                json!({ "width": 2 * width - inner, "height": 900 }),
            )
            .await?;
        }
        Ok(())
    }

    /// Starts chromium for a test named `name`; screenshots go under target/tmp/browser-shots/.
    pub(crate) async fn for_test(name: &str, profile: &std::path::Path) -> Browser {
        let shots =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-shots/{name}"));
        let _ = std::fs::remove_dir_all(&shots);
        Browser::start(shots, profile).await
    }

    /// Ends the browser; on failure panics with the error, where the screenshots are and the
    /// server's log. Screenshots are kept on failure or with CLUBHOST_KEEP_SHOTS set.
    pub(crate) async fn finish(mut self, result: Result<(), String>, club: &Club) {
        if result.is_err() {
            self.shot("failure").await;
        }
        let shots = self.shots.clone();
        self.quit().await;
        if let Err(e) = result {
            panic!(
                "{e}\nscreenshots of each step: {}\nserver log:\n{}",
                shots.display(),
                club.log()
            );
        }
        if std::env::var_os("CLUBHOST_KEEP_SHOTS").is_none() {
            let _ = std::fs::remove_dir_all(&shots);
        }
    }
}
