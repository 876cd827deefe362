//! Router-level tests of live deploy progress and resource use (harness in `portal`), on the real
//! Docker engine: approving while following the progress stream yields every step, ending in
//! `running` (or `failed` with the reason); who may follow it; the no-JavaScript redeploy lands
//! on the project's page with the steps; the admin's project list shows CPU use.

use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common;
use crate::portal::{Agent, HOST, Portal};

/// A server-sent event stream read from the router.
struct Events {
    body: Body,
    buffer: String,
}

impl Events {
    async fn open(p: &Portal, path: &str, agent: &Agent) -> Events {
        let req = Request::builder()
            .uri(path)
            .header("host", HOST)
            .header("cookie", &agent.cookie)
            .body(Body::empty())
            .unwrap();
        let res = p.router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Events {
            body: res.into_body(),
            buffer: String::new(),
        }
    }

    /// The next event as (name, data), or None when the stream ended; bounded.
    async fn next(&mut self) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = (String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if name.is_empty() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, data));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .expect("an event within 90 s")?
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// The `progress` events up to and including the deploy's last step.
    async fn steps(&mut self) -> Vec<Value> {
        let mut steps = Vec::new();
        while let Some((name, data)) = self.next().await {
            assert_eq!(name, "progress", "{data}");
            let step: Value = serde_json::from_str(&data).unwrap();
            let last = matches!(step["step"].as_str(), Some("running" | "failed"));
            steps.push(step);
            if last {
                break;
            }
        }
        steps
    }
}

fn names(steps: &[Value]) -> Vec<&str> {
    steps.iter().map(|s| s["step"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn approving_streams_every_deploy_step_until_running() {
    let mut p = Portal::new(|_| {}).await;
    common::ensure_image();
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let bo = p.signup("bo").await;
    let slug = common::slug("progress-ok");
    let bad = common::slug("progress-bad");
    p.slugs.extend([slug.clone(), bad.clone()]);
    let r = p.submit(&ana, &slug, &common::two_service_stack()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Who may follow: the owner and admins.
    let live = format!("/portal/projects/{slug}/progress");
    let json_path = format!("/portal/api/projects/{slug}/progress");
    assert_eq!(
        p.get(&live, None).await.headers["location"],
        "/portal/login"
    );
    assert_eq!(p.get(&live, Some(&bo)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        p.get(&json_path, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        p.get(&json_path, Some(&bo)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = p.get(&json_path, Some(&ana)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["deploying"], false);
    assert!(r.json()["events"].as_array().unwrap().is_empty());
    let none = "/portal/api/projects/no-such-project/progress";
    assert_eq!(p.get(none, Some(&boss)).await.status, StatusCode::NOT_FOUND);

    // Follow the next deploy, then approve: every step arrives, ending in `running`.
    let mut events = Events::open(&p, &format!("{live}?next=1"), &boss).await;
    let (name, data) = events.next().await.unwrap();
    assert_eq!(name, "ready", "{data}");
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap()["state"],
        "requested"
    );
    let approve = format!("/portal/api/admin/projects/{slug}/approve");
    let (reply, steps) = tokio::join!(
        p.api("POST", &approve, Some(&boss), Value::Null),
        events.steps()
    );
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["state"], "running", "{}", reply.body);
    let seen = names(&steps);
    assert_eq!(seen.first(), Some(&"started"), "{seen:?}");
    assert_eq!(seen.last(), Some(&"running"), "{seen:?}");
    for step in [
        "image_ready",
        "network",
        "volume",
        "container_created",
        "container_started",
        "waiting",
        "answering",
        "route_published",
    ] {
        assert!(seen.contains(&step), "{step} missing from {seen:?}");
    }
    let at = |name: &str| seen.iter().position(|s| *s == name).unwrap();
    assert!(at("network") < at("container_created"), "{seen:?}");
    assert!(at("answering") < at("route_published"), "{seen:?}");
    let count = |name: &str| seen.iter().filter(|s| **s == name).count();
    assert_eq!(count("container_started"), 2, "web and db: {seen:?}");
    let texts: Vec<&str> = steps.iter().map(|s| s["text"].as_str().unwrap()).collect();
    assert!(
        texts.contains(&format!("network clubhost-{slug} created").as_str()),
        "{texts:?}"
    );
    assert!(texts.contains(&"waiting for db to be ready"), "{texts:?}");
    assert!(
        texts.contains(&format!("route /{slug} published").as_str()),
        "{texts:?}"
    );
    assert!(
        events.next().await.is_none(),
        "the stream ends after the last step"
    );

    // Afterwards: the JSON API and a replay of the stream show the same steps, to their end.
    let r = p.get(&json_path, Some(&ana)).await.json();
    assert_eq!(r["deploying"], false, "{r}");
    assert_eq!(r["state"], "running", "{r}");
    assert_eq!(r["events"].as_array().unwrap().len(), steps.len(), "{r}");
    let mut replay = Events::open(&p, &live, &ana).await;
    assert_eq!(replay.next().await.unwrap().0, "ready");
    assert_eq!(names(&replay.steps().await), seen);
    assert!(replay.next().await.is_none());

    // Without JavaScript: the redeploy form posts, waits, and lands on the project's page,
    // which lists the new deploy's steps.
    let r = p
        .form(
            &format!("/portal/admin/projects/{slug}/redeploy"),
            &boss.cookie,
            &[("csrf", &boss.csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], format!("/portal/projects/{slug}"));
    let page = p.get(&format!("/portal/projects/{slug}"), Some(&ana)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("started (redeploy)")
            && page
                .body
                .contains("deploy finished: the project is running"),
        "{}",
        page.body
    );

    // A deploy that fails ends the stream with `failed` and the reason.
    let exits = format!(
        "services:\n  web:\n    image: {}\n    command: [\"false\"]\nx-clubhost:\n  expose: web\n  port: 8000\n",
        common::IMAGE
    );
    let r = p.submit(&ana, &bad, &exits).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut events =
        Events::open(&p, &format!("/portal/projects/{bad}/progress?next=1"), &ana).await;
    assert_eq!(events.next().await.unwrap().0, "ready");
    let approve = format!("/portal/api/admin/projects/{bad}/approve");
    let (reply, steps) = tokio::join!(
        p.api("POST", &approve, Some(&boss), Value::Null),
        events.steps()
    );
    assert_eq!(reply.json()["state"], "failed", "{}", reply.body);
    let last = steps.last().unwrap();
    assert_eq!(last["step"], "failed", "{steps:?}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("exited with code 1"),
        "{last}"
    );
    assert_eq!(last["still_serving"], false, "{last}");
}

#[tokio::test]
async fn stats_show_cpu_use_of_a_running_project() {
    let mut p = Portal::new(|_| {}).await;
    common::ensure_image();
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let slug = common::slug("cpu-use");
    p.slugs.push(slug.clone());
    // A busy loop held to a fifth of a core beside the web server.
    let busy = format!(
        "services:\n  web:\n    image: {}\n    cpus: 0.2\n    command: [\"sh\", \"-c\", \"while :; do :; done & mkdir -p /www && echo busy > /www/index.html && exec httpd -f -p 8000 -h /www\"]\nx-clubhost:\n  expose: web\n  port: 8000\n",
        common::IMAGE
    );
    let r = p.submit(&ana, &slug, &busy).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = p
        .api(
            "POST",
            &format!("/portal/api/admin/projects/{slug}/approve"),
            Some(&boss),
            json!({}),
        )
        .await;
    assert_eq!(r.json()["state"], "running", "{}", r.body);

    assert_eq!(
        p.get("/portal/api/admin/projects", Some(&ana)).await.status,
        StatusCode::FORBIDDEN
    );
    // CPU use is measured over half a second: poll (bounded) until the loop shows.
    let mut last = Value::Null;
    for _ in 0..20 {
        let all = p
            .get("/portal/api/admin/projects", Some(&boss))
            .await
            .json();
        last = all
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["slug"] == slug.as_str())
            .unwrap()["containers"][0]
            .clone();
        if last["cpu_percent"].as_f64().is_some_and(|c| c > 2.0) {
            break;
        }
    }
    let cpu = last["cpu_percent"]
        .as_f64()
        .unwrap_or_else(|| panic!("{last}"));
    assert!(cpu > 2.0, "the busy loop shows: {last}");
    assert!(last["cpu"].as_str().unwrap().ends_with('%'), "{last}");
    let page = p.get("/portal/admin/projects", Some(&boss)).await;
    assert!(
        page.body.contains("<th scope=\"col\">CPU</th>"),
        "{}",
        page.body
    );
}
