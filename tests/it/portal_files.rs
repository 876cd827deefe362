//! A git project's files on its page (issue 15), router-level on the real Docker engine (harness
//! in `portal`): the owner sees where the files come from, the webhook's URL and a "pull and
//! redeploy" button, but the secret only on its own page (not cached), which another member
//! cannot open; a new secret (CSRF) replaces the old one for the webhook; pulling through the
//! portal deploys the new commit; old revisions are pruned past `[build] keep_revisions` after a
//! successful deploy and by `gc`, never the deployed or the pending one.

use std::path::Path;
use std::process::Command;

use hyper::StatusCode;
use serde_json::Value;

use crate::common::{self, IMAGE};
use crate::portal::{HOST, Portal};
use clubhost_core::control::{FilesSubmission, GitRequest, ProjectFiles, Submission, WebhookAuth};
use clubhost_core::model::ProjectState;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Commits a compose file serving `text`; `image` may be one the engine lacks (the deploy then
/// fails at once, with `pull_policy: never`).
fn commit(repo: &Path, text: &str, image: &str) -> String {
    let stack = format!(
        "services:\n  web:\n    image: {image}\n    pull_policy: never\n    command: [\"sh\", \
         \"-c\", \"mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 8000 -h \
         /www\"]\n    expose: [\"8000\"]\n"
    );
    std::fs::write(repo.join("compose.yaml"), stack).unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", text]);
    git(repo, &["rev-parse", "HEAD"])
}

fn revisions_on_disk(p: &Portal, slug: &str) -> Vec<i64> {
    let dir = p.control.config().data_dir.join("projects").join(slug);
    let mut out: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    out.sort_unstable();
    out
}

async fn secret_of(p: &Portal, slug: &str) -> String {
    let s = p.control.source(slug).await.unwrap().unwrap();
    s.source.webhook_secret.unwrap()
}

#[tokio::test]
async fn the_owner_sees_the_webhook_renews_its_secret_and_pulls_old_revisions_pruned() {
    common::ensure_image();
    let mut p = Portal::new(|c| c.build.keep_revisions = 1).await;
    let slug = common::slug("pfiles");
    p.slugs.push(slug.clone());
    let ana = p.signup("ana").await;
    let bo = p.signup("bo").await;
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    commit(repo.path(), "version-one", IMAGE);
    let submission = FilesSubmission {
        submission: Submission {
            owner: "ana".into(),
            slug: slug.clone(),
            name: None,
            description: String::new(),
            stack: String::new(),
            days: None,
            root: false,
            vars: Default::default(),
            source_url: String::new(),
        },
        stack_file: None,
        git: None,
    };
    let request = GitRequest {
        url: format!("file://{}", repo.path().display()),
        reference: Some("main".into()),
    };
    let files = ProjectFiles::Git {
        request,
        local: true,
    };
    p.control
        .submit_files(&submission, files, "ana")
        .await
        .unwrap();
    let page_path = format!("/portal/projects/{slug}");

    // Before approval: the files and the webhook's URL, no pull button yet (nothing deployed).
    let page = p.get(&page_path, Some(&ana)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let hook_url = format!("http://{HOST}/portal/hooks/{slug}");
    assert!(page.body.contains(&hook_url), "{}", page.body);
    assert!(page.body.contains("From the git repository file://"));
    assert!(!page.body.contains(&format!("/projects/{slug}/pull\"")));
    let first_secret = secret_of(&p, &slug).await;
    assert!(!page.body.contains(&first_secret));

    let deployed = p.control.approve(&slug, "boss").await.unwrap();
    assert_eq!(deployed.state(), ProjectState::Running, "{deployed:?}");
    let page = p.get(&page_path, Some(&ana)).await;
    assert!(
        page.body
            .contains(&format!("/portal/projects/{slug}/pull\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("Pull and redeploy"));
    assert!(!page.body.contains(&first_secret));

    // The secret: its own page, the owner's only, never cached.
    let webhook_path = format!("/portal/projects/{slug}/webhook");
    let shown = p.get(&webhook_path, Some(&ana)).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(shown.body.contains(&first_secret));
    assert!(shown.body.contains(&hook_url));
    assert_eq!(shown.headers["cache-control"], "no-store");
    let other = p.get(&webhook_path, Some(&bo)).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(!other.body.contains(&first_secret));
    let anonymous = p.get(&webhook_path, None).await;
    assert!(!anonymous.body.contains(&first_secret));
    assert_ne!(anonymous.status, StatusCode::OK);
    let api = p
        .get(&format!("/portal/api/projects/{slug}/webhook"), Some(&bo))
        .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);

    // A new secret: refused without the CSRF token or for another member; then the old secret
    // no longer passes the webhook and the new one does.
    let no_token = p
        .form(&webhook_path, &ana.cookie, &[("csrf", "wrong")])
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN, "{}", no_token.body);
    let theirs = p
        .form(&webhook_path, &bo.cookie, &[("csrf", &bo.csrf)])
        .await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN, "{}", theirs.body);
    assert_eq!(secret_of(&p, &slug).await, first_secret);
    let renewed = p
        .form(&webhook_path, &ana.cookie, &[("csrf", &ana.csrf)])
        .await;
    assert_eq!(renewed.status, StatusCode::SEE_OTHER, "{}", renewed.body);
    assert_eq!(renewed.headers["location"], webhook_path.as_str());
    let second_secret = secret_of(&p, &slug).await;
    assert_ne!(second_secret, first_secret);
    assert_eq!(second_secret.len(), 64);
    assert!(
        p.control
            .check_webhook(&slug, WebhookAuth::Token(&first_secret), b"")
            .await
            .is_err()
    );
    p.control
        .check_webhook(&slug, WebhookAuth::Token(&second_secret), b"")
        .await
        .unwrap();
    let api = p
        .api(
            "GET",
            &format!("/portal/api/projects/{slug}/webhook"),
            Some(&ana),
            Value::Null,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    assert_eq!(api.json()["secret"], second_secret.as_str());
    assert_eq!(api.json()["url"], hook_url.as_str());
    let audit = p.control.audit_log(Some(&slug)).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "project.webhook_secret"));
    assert!(!format!("{audit:?}").contains(&second_secret));

    // Korean page.
    let ko = p
        .send(
            hyper::Request::builder()
                .uri(&page_path)
                .header("host", HOST)
                .header("cookie", &ana.cookie)
                .header("accept-language", "ko")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(ko.body.contains("웹훅"), "{}", ko.body);
    assert!(ko.body.contains("새로 가져와 다시 배포"), "{}", ko.body);

    // Pull and redeploy from the portal (the API the button posts to, with the CSRF header):
    // revision 2 deploys, and revision 1's files go (keep_revisions = 1).
    let second = commit(repo.path(), "version-two", IMAGE);
    let pulled = p
        .api(
            "POST",
            &format!("/portal/api/projects/{slug}/pull"),
            Some(&ana),
            Value::Null,
        )
        .await;
    assert_eq!(pulled.status, StatusCode::OK, "{}", pulled.body);
    assert_eq!(pulled.json()["state"], "running", "{}", pulled.body);
    let s = p.control.source(&slug).await.unwrap().unwrap().source;
    assert_eq!((s.revision, s.deployed_revision), (2, Some(2)));
    assert_eq!(s.commit_id.as_deref(), Some(second.as_str()));
    assert_eq!(revisions_on_disk(&p, &slug), [2]);
    let no_csrf = p
        .api_with(
            "POST",
            &format!("/portal/api/projects/{slug}/pull"),
            Some(&ana),
            false,
            Value::Null,
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);

    // Two pulls whose deploys fail (an image the engine lacks): revision 2 keeps serving, and
    // neither it (deployed) nor the newest (pending) is ever pruned; gc removes the one between.
    let absent = format!("clubhost-test-absent-{slug}:1");
    commit(repo.path(), "version-three", &absent);
    p.control.pull(&slug, "ana").await.unwrap();
    let s = p.control.source(&slug).await.unwrap().unwrap().source;
    assert_eq!((s.revision, s.deployed_revision), (3, Some(2)));
    let page = p.get(&page_path, Some(&ana)).await;
    assert!(
        page.body
            .contains("Serving revision 2 until the newest one deploys."),
        "{}",
        page.body
    );
    let dry = p.control.gc(false, false, "test").await.unwrap();
    let dry = serde_json::to_value(&dry).unwrap();
    assert_eq!(dry["revisions"], serde_json::json!([]), "{dry}");
    commit(repo.path(), "version-four", &absent);
    p.control.pull(&slug, "ana").await.unwrap();
    assert_eq!(revisions_on_disk(&p, &slug), [2, 3, 4]);
    let dry = serde_json::to_value(p.control.gc(false, false, "test").await.unwrap()).unwrap();
    assert_eq!(dry["revisions"], serde_json::json!([format!("{slug}/3")]));
    assert_eq!(revisions_on_disk(&p, &slug), [2, 3, 4]);
    let done = serde_json::to_value(p.control.gc(true, false, "test").await.unwrap()).unwrap();
    assert_eq!(done["revisions"], serde_json::json!([format!("{slug}/3")]));
    assert_eq!(revisions_on_disk(&p, &slug), [2, 4]);
    let audit = p.control.audit_log(Some(&slug)).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "gc.revisions"));
    // Still serving revision 2's deployment.
    assert_eq!(
        p.control.project(&slug).await.unwrap().state(),
        ProjectState::Running
    );
}

/// The admin's review card of a request brought as files shows what approving will build: the
/// Dockerfile (collapsed), build arguments with a secret variable's value masked, the files
/// copied into the container, and the files' count, total size and largest ones; the same in
/// the queue's JSON. Members cannot read it.
#[tokio::test]
async fn the_review_card_shows_what_the_build_will_do() {
    let p = Portal::new(|_| {}).await;
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let dir = tempfile::tempdir().unwrap();
    let stack = "services:\n  app:\n    build:\n      context: .\n      args:\n        \
                 GREETING: hello-build\n        TOKEN: ${API_TOKEN}\n    expose: [\"3000\"]\n    \
                 volumes: [\"./conf/site.conf:/etc/site.conf:ro\"]\n";
    let dockerfile = "FROM scratch\nARG GREETING\nCOPY big.bin /big.bin\nEXPOSE 3000\n";
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    std::fs::write(dir.path().join("compose.yaml"), stack).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.path().join("conf/site.conf"), "listen 3000;\n").unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 20 << 10]).unwrap();
    let caps = clubhost_source::Caps {
        max_compressed: 1 << 20,
        max_unpacked: 1 << 20,
        max_files: 10,
    };
    let tar = clubhost_source::pack_dir(dir.path(), &caps).unwrap();
    let mut upload = p.control.upload().unwrap();
    upload.write(&tar).unwrap();
    let mut vars = clubhost_stack::Vars::new();
    vars.set("API_TOKEN", "tok-very-secret-9", true);
    let submission = FilesSubmission {
        submission: Submission {
            owner: "ana".into(),
            slug: "built".into(),
            name: None,
            description: String::new(),
            stack: String::new(),
            days: None,
            root: false,
            vars,
            source_url: String::new(),
        },
        stack_file: None,
        git: None,
    };
    p.control
        .submit_files(&submission, ProjectFiles::Archive(upload), "ana")
        .await
        .unwrap();

    let queue = p.get("/portal/admin/", Some(&boss)).await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    let body = &queue.body;
    assert!(
        body.contains("What the build will do (files of revision 1)"),
        "{body}"
    );
    assert!(
        body.contains("Service app is built from Dockerfile"),
        "{body}"
    );
    // The Dockerfile, collapsed.
    let details = body.find("<details class=\"dockerfile\">").expect(body);
    assert!(body[details..].contains("COPY big.bin /big.bin"), "{body}");
    assert!(!body[details..].starts_with("<details class=\"dockerfile\" open"));
    assert!(body.contains("GREETING=hello-build"), "{body}");
    assert!(
        body.contains("TOKEN=") && !body.contains("tok-very-secret-9"),
        "{body}"
    );
    assert!(
        body.contains("app: ./conf/site.conf → /etc/site.conf (read-only)"),
        "{body}"
    );
    // 20 KiB, the Dockerfile, the compose file and the config file.
    let total = 20 * 1024 + dockerfile.len() + stack.len() + "listen 3000;\n".len();
    let total = format!("{:.1} KiB", total as f64 / 1024.0);
    assert!(
        body.contains(&format!("4 files, {total} in all")),
        "{total}: {body}"
    );
    let largest = body.find("class=\"largest\"").expect(body);
    assert!(body[largest..].starts_with("class=\"largest\"><li><code>big.bin</code> (20 KiB)"));

    let json = p.get("/portal/api/admin/queue", Some(&boss)).await;
    assert_eq!(json.status, StatusCode::OK, "{}", json.body);
    let item = &json.json()[0]["build"];
    assert_eq!(item["builds"][0]["service"], "app");
    assert_eq!(item["builds"][0]["dockerfile"], "Dockerfile");
    assert_eq!(item["builds"][0]["text"], dockerfile);
    assert_eq!(item["files"]["files"], 4);
    assert_eq!(item["files"]["largest"][0][0], "big.bin");
    assert!(!json.body.contains("tok-very-secret-9"));

    let member = p.get("/portal/api/admin/queue", Some(&ana)).await;
    assert_eq!(member.status, StatusCode::FORBIDDEN);
}
