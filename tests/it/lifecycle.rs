//! Hosting terms end to end on a real server and real Docker, with the clock moved through the
//! admin API instead of sleeping: reminders, renewal, expiry (the "expired" page), restore with
//! data, purge after grace; quotas at submit and approval; orphans in doctor and gc; notifications
//! to a local webhook receiver and SMTP sink, with retries.

use std::process::Output;

use serde_json::Value;

use crate::common::*;
use crate::sinks::*;

/// Appends lifecycle and notify settings to a club's config.
fn configure(club: &Club, extra: &str) {
    let text = std::fs::read_to_string(&club.config).unwrap() + extra;
    std::fs::write(&club.config, text).unwrap();
}

fn notify_config(hook: &WebhookSink, smtp: &SmtpSink) -> String {
    format!(
        "\n[notify]\nattempts = 3\nbackoff = \"100ms\"\nadmin_emails = [\"admins@club.example\"]\n\
         [[notify.webhooks]]\nkind = \"slack\"\nurl = \"{}\"\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"clubhost <club@club.example>\"\n",
        hook.url(),
        smtp.port
    )
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn state_of(club: &Club, slug: &str) -> String {
    json(&club.ok(&["project", "show", slug, "--json"]))["project"]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits (bounded) until the scheduler has moved `slug` to `state`.
fn wait_state(club: &Club, slug: &str, state: &str) {
    let reached = wait(|| (state_of(club, slug) == state).then_some(()));
    assert!(
        reached.is_some(),
        "{slug} never became {state} (is {}):\n{}",
        state_of(club, slug),
        club.log()
    );
}

/// The club's registry opened beside the CLI, as an outside actor would (no server runs).
async fn outside_registry(club: &Club) -> clubhost_registry::Registry {
    let data = club.dir.path().join("data");
    let key = std::fs::read_to_string(data.join("secret.key")).unwrap();
    let key = clubhost_registry::SecretKey::from_hex(&key).unwrap();
    clubhost_registry::Registry::open(&data.join("clubhost.db"), key)
        .await
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test]
async fn term_runs_out_reminds_renews_expires_restores_and_purges() {
    let hook = WebhookSink::start(0);
    let smtp = SmtpSink::start();
    let mut club = Club::new();
    configure(
        &club,
        &format!(
            "\n[lifecycle]\nsettable_clock = true\n{}",
            notify_config(&hook, &smtp)
        ),
    );
    club.start();
    let slug = slug("term");
    club.slugs.push(slug.clone());
    club.ok(&["user", "add", "ana", "--email", "ana@club.example"]);
    let stack = club.write_stack("term.yml", &two_service_stack());
    club.ok(&[
        "project",
        "submit",
        "--owner",
        "ana",
        "--slug",
        &slug,
        "--stack",
        stack.to_str().unwrap(),
        "--days",
        "10",
        "--description",
        "Rocket launch log",
    ]);
    smtp.wait_for("admins@club.example", "New hosting request");
    assert!(club.ok(&["project", "approve", &slug]).contains("running"));
    hook.wait_for(&format!("{slug} is approved"));
    smtp.wait_for("ana@club.example", &format!("{slug} is approved"));
    let end0 = json(&club.ok(&["project", "show", &slug, "--json"]))["project"]["term_end"]
        .as_i64()
        .unwrap();

    // Write data into the volume: a restore must bring it back.
    let db = containers_of(&slug)
        .into_iter()
        .find(|c| c.contains("-db-"))
        .unwrap();
    let out = docker(&["exec", &db, "sh", "-c", "echo kept > /data/marker"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Day 4 of 10: the 7-day reminder is due, once.
    club.ok(&["clock", "--advance", "4d"]);
    hook.wait_for(&format!("{slug} expires in 7 days"));
    smtp.wait_for("ana@club.example", &format!("{slug} expires in 7 days"));
    let reminders = |club: &Club| {
        json(&club.ok(&["audit", "--project", &slug, "--json"]))
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "term.reminder")
            .count()
    };
    assert_eq!(reminders(&club), 1);
    assert_eq!(state_of(&club, &slug), "running");

    // Renewals are refused past the longest term (365 days) and from someone else.
    let out = club.cli(&["project", "renew", &slug, "--days", "400", "--reason", "x"]);
    let err = stderr(&out);
    assert!(
        err.contains("over the longest term") && err.contains("max_days"),
        "{err}"
    );
    club.ok(&["user", "add", "bob"]);
    let out = club.cli(&[
        "project", "renew", &slug, "--days", "5", "--reason", "x", "--by", "bob",
    ]);
    assert!(stderr(&out).contains("does not own"), "{}", stderr(&out));
    // A renewal request lands in the queue; approval moves the end by 5 days.
    let out = club.ok(&[
        "project",
        "renew",
        &slug,
        "--days",
        "5",
        "--reason",
        "exam season",
    ]);
    assert!(out.contains("waiting for an admin"), "{out}");
    smtp.wait_for("admins@club.example", "Renewal request");
    let queue = json(&club.ok(&["project", "renewals", "--json"]));
    let renewal = &queue.as_array().unwrap()[0];
    assert_eq!(renewal["project"], slug.as_str());
    assert_eq!(renewal["reason"], "exam season");
    let id = renewal["id"].to_string();
    club.ok(&["project", "approve-renewal", &id]);
    let end1 = json(&club.ok(&["project", "show", &slug, "--json"]))["project"]["term_end"]
        .as_i64()
        .unwrap();
    assert_eq!(end1, end0 + 5 * 86_400);
    assert!(
        json(&club.ok(&["project", "renewals", "--json"]))
            .as_array()
            .unwrap()
            .is_empty()
    );
    hook.wait_for(&format!("{slug} renewed"));

    // Past the new end (day 16 of 15): expired by the scheduler; containers go, volumes stay.
    club.ok(&["clock", "--advance", "12d"]);
    wait_state(&club, &slug, "expired");
    assert_eq!(reminders(&club), 1, "no reminder for a term already over");
    smtp.wait_for("ana@club.example", &format!("{slug} has expired"));
    assert!(wait(|| containers_of(&slug).is_empty().then_some(())).is_some());
    assert_eq!(volumes_of(&slug), [format!("clubhost-{slug}-data")]);
    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let page = res.text().await.unwrap();
    assert!(page.contains("expired"), "{page}");
    assert!(page.contains("Rocket launch log"), "{page}");
    assert!(page.contains("a project by ana"), "{page}");

    // Restore within grace: running again with its data.
    assert!(
        club.ok(&["project", "restore", &slug, "--days", "10"])
            .contains("running")
    );
    let db = containers_of(&slug)
        .into_iter()
        .find(|c| c.contains("-db-"))
        .unwrap();
    assert_eq!(docker_text(&["exec", &db, "cat", "/data/marker"]), "kept");

    // Redeploying an expired project is a restore too: it gets a new term, so the scheduler does
    // not expire it again at once.
    club.ok(&["project", "expire", &slug]);
    assert!(club.ok(&["project", "redeploy", &slug]).contains("running"));
    let end = json(&club.ok(&["project", "show", &slug, "--json"]))["project"]["term_end"]
        .as_i64()
        .unwrap();
    assert!(
        end > end1 + 10 * 86_400,
        "new term from the moved clock: {end} vs {end1}"
    );

    // Expire again by hand; after 31 days the scheduler purges everything but the page.
    club.ok(&["project", "expire", &slug]);
    club.ok(&["clock", "--advance", "31d"]);
    wait_state(&club, &slug, "purged");
    assert!(volumes_of(&slug).is_empty());
    assert!(networks_of(&slug).is_empty());
    assert!(containers_of(&slug).is_empty());
    let res = http()
        .get(club.url(&format!("/{slug}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("Rocket launch log"));
    let out = club.cli(&["project", "restore", &slug]);
    assert!(
        stderr(&out).contains("cannot be restored"),
        "{}",
        stderr(&out)
    );

    // The final backup outlives the purge by `[backup] keep_after_purge` (90 days), then goes.
    let backups = |club: &Club| {
        json(&club.ok(&["backup", "list", &slug, "--json"]))
            .as_array()
            .unwrap()
            .len()
    };
    assert!(backups(&club) >= 1, "no final backup before the purge");
    club.ok(&["clock", "--advance", "89d"]);
    club.ok(&["backup", "prune"]);
    assert!(
        backups(&club) >= 1,
        "pruned before keep_after_purge ran out"
    );
    club.ok(&["clock", "--advance", "2d"]);
    club.ok(&["backup", "prune"]);
    assert_eq!(backups(&club), 0, "kept past keep_after_purge");

    // Every step is in the audit log with who did it.
    let log = json(&club.ok(&["audit", "--project", &slug, "--json"]));
    let has = |actor: &str, action: &str| {
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == actor && e["action"] == action)
    };
    assert!(has("scheduler", "term.reminder"));
    assert!(has("scheduler", "project.expired"));
    assert!(has("scheduler", "project.purged"));
    assert!(has("ana", "renewal.request"));
    assert!(has("admin-socket", "renewal.approve"));
    assert!(has("admin-socket", "term.set"));
}

/// Approvals at the same time cannot pass a member's quota together: each checks the quota and
/// becomes approved under the member's lock (before, six approvals at once all ran with
/// `max_running_per_member = 3`).
#[test]
fn approvals_at_once_keep_the_quota() {
    let mut club = Club::new();
    configure(&club, "\n[lifecycle]\nmax_running_per_member = 1\n");
    club.start();
    club.ok(&["user", "add", "ana"]);
    let stack = club.write_stack("q.yml", &two_service_stack());
    let slugs: Vec<String> = (0..3)
        .map(|i| slug(&format!("quota-at-once-{i}")))
        .collect();
    club.slugs.extend(slugs.iter().cloned());
    for s in &slugs {
        assert!(club.try_submit(s, &stack).status.success());
    }
    let outs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = slugs
            .iter()
            .map(|s| scope.spawn(|| club.cli(&["project", "approve", s])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let approved = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        approved,
        1,
        "{:#?}",
        outs.iter().map(stderr).collect::<Vec<_>>()
    );
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert!(stderr(o).contains("at most 1"), "{}", stderr(o));
    }
    let states: Vec<String> = slugs.iter().map(|s| state_of(&club, s)).collect();
    assert_eq!(
        states.iter().filter(|s| *s == "running").count(),
        1,
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|s| *s == "requested").count(),
        2,
        "{states:?}"
    );
}

/// Stopped projects do not count against the quota, so bringing two back at once must fit like
/// approving two: the check and the move to deploying happen under the member's lock (before,
/// both redeploys passed the check).
#[test]
fn redeploys_at_once_keep_the_quota() {
    let mut club = Club::new();
    configure(&club, "\n[lifecycle]\nmax_running_per_member = 1\n");
    club.start();
    club.ok(&["user", "add", "ana"]);
    let stack = club.write_stack("q.yml", &two_service_stack());
    let slugs: Vec<String> = (0..2).map(|i| slug(&format!("quota-back-{i}"))).collect();
    club.slugs.extend(slugs.iter().cloned());
    for s in &slugs {
        assert!(club.try_submit(s, &stack).status.success());
        assert!(club.ok(&["project", "approve", s]).contains("running"));
        club.ok(&["project", "stop", s]);
        assert_eq!(state_of(&club, s), "stopped");
    }
    let outs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = slugs
            .iter()
            .map(|s| scope.spawn(|| club.cli(&["project", "redeploy", s])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let back = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        back,
        1,
        "{:#?}",
        outs.iter().map(stderr).collect::<Vec<_>>()
    );
    let states: Vec<String> = slugs.iter().map(|s| state_of(&club, s)).collect();
    assert_eq!(
        states.iter().filter(|s| *s == "running").count(),
        1,
        "{states:?}"
    );
}

#[tokio::test]
async fn quotas_are_checked_at_submit_and_approval_and_gc_finds_orphans() {
    let mut club = Club::new();
    configure(&club, "\n[lifecycle]\nmax_running_per_member = 1\n");
    let a = slug("quota-a");
    let b = slug("quota-b");
    let c = slug("quota-c");
    club.slugs.extend([a.clone(), b.clone(), c.clone()]);
    club.ok(&["user", "add", "ana"]);
    let stack = club.write_stack("q.yml", &two_service_stack());
    let submit = |slug: &str| club.try_submit(slug, &stack);
    assert!(submit(&a).status.success());
    assert!(submit(&b).status.success());
    // No server: the CLI works in-process.
    assert!(club.ok(&["project", "approve", &a]).contains("running"));
    let out = club.cli(&["project", "approve", &b]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("at most 1") && err.contains("1 over") && err.contains("max_running"),
        "{err}"
    );
    assert_eq!(state_of(&club, &b), "requested");
    let out = submit(&c);
    assert!(stderr(&out).contains("at most 1"), "{}", stderr(&out));

    // Orphans: objects with this instance's labels for a project the registry doesn't know.
    let web = containers_of(&a)
        .into_iter()
        .find(|n| n.contains("-web-"))
        .unwrap();
    let instance = docker_text(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"clubhost.instance\"}}",
        &web,
    ]);
    let ghost = slug("ghost");
    club.slugs.push(ghost.clone());
    let labels = [
        "--label".to_string(),
        "clubhost.managed=true".into(),
        "--label".into(),
        format!("clubhost.instance={instance}"),
        "--label".into(),
        format!("clubhost.project={ghost}"),
    ];
    let vol = format!("clubhost-{ghost}-data");
    let net = format!("clubhost-{ghost}");
    let mut args: Vec<&str> = vec!["volume", "create"];
    args.extend(labels.iter().map(String::as_str));
    args.push(&vol);
    assert!(docker(&args).status.success());
    let mut args: Vec<&str> = vec!["network", "create"];
    args.extend(labels.iter().map(String::as_str));
    args.push(&net);
    assert!(docker(&args).status.success());
    // Its subnet is recorded, as a deploy would have: gc must give it back to the pool.
    let ghost_subnet = docker_text(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        &net,
    ]);
    let registry = outside_registry(&club).await;
    registry
        .record_subnets(&[clubhost_registry::SubnetAllocation {
            network: net.clone(),
            subnet: ghost_subnet,
            project: Some(ghost.clone()),
        }])
        .await
        .unwrap();
    let recorded = |registry: &clubhost_registry::Registry| {
        let registry = registry.clone();
        async move {
            registry
                .subnets()
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.network)
        }
    };
    assert!(recorded(&registry).await.any(|n| n == net));

    let out = club.cli(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&vol) && text.contains(&net), "{text}");
    assert!(text.contains("2 orphaned"), "{text}");

    let dry = club.ok(&["gc"]);
    assert!(dry.contains(&format!("would remove volume {vol}")), "{dry}");
    assert!(
        dry.contains(&format!("would remove network {net}")),
        "{dry}"
    );
    assert!(!dry.contains(&a), "a known project is no orphan: {dry}");
    assert_eq!(volumes_of(&ghost), [vol.as_str()]);
    let applied = club.ok(&["gc", "--apply"]);
    assert!(
        applied.contains(&format!("removed volume {vol}")),
        "{applied}"
    );
    assert!(volumes_of(&ghost).is_empty());
    assert!(networks_of(&ghost).is_empty());
    assert!(
        !recorded(&registry).await.any(|n| n == net),
        "gc --apply removed {net} but left its subnet recorded"
    );
    assert_eq!(volumes_of(&a), [format!("clubhost-{a}-data")]);
    assert_eq!(club.ok(&["gc"]).trim(), "no orphans");
    let log = club.ok(&["audit"]);
    assert!(log.contains("gc.remove"), "{log}");
}

#[tokio::test]
async fn failed_sends_are_retried_and_never_block() {
    // The receiver answers 500 twice, then 200; a second webhook points at a closed port.
    let flaky = WebhookSink::start(2);
    let dead_port = free_port();
    let mut club = Club::new();
    configure(
        &club,
        &format!(
            "\n[notify]\nattempts = 4\nbackoff = \"100ms\"\n\
             [[notify.webhooks]]\nkind = \"discord\"\nurl = \"{}\"\naudience = \"admins\"\n\
             [[notify.webhooks]]\nkind = \"slack\"\nurl = \"http://127.0.0.1:{dead_port}/x\"\n",
            flaky.url()
        ),
    );
    club.start();
    club.ok(&["user", "add", "ana"]);
    let stack = club.write_stack("n.yml", &two_service_stack());
    let slug = slug("notify");
    let started = std::time::Instant::now();
    club.submit(&slug, &stack);
    // Four tries with 100/200/400 ms waits on the dead hook would take 700 ms; the submit
    // returned without waiting for any of them (measured loosely: under the retry time plus CLI).
    let body = flaky.wait_for("New hosting request");
    assert!(body.contains("content"), "discord payload: {body}");
    assert_eq!(flaky.attempts(), 3, "two failures, then the delivery");
    let lost = wait(|| {
        club.log()
            .contains("notification lost after every retry")
            .then_some(())
    });
    assert!(lost.is_some(), "{}", club.log());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(state_of(&club, &slug), "requested");
}

#[test]
fn cli_without_server_delivers_before_exiting() {
    // No server: the CLI runs the API in its own process and waits for its notes to go out.
    let hook = WebhookSink::start(0);
    let smtp = SmtpSink::start();
    let club = Club::new();
    configure(&club, &notify_config(&hook, &smtp));
    club.ok(&[
        "user",
        "add",
        "boss",
        "--admin",
        "--email",
        "boss@club.example",
    ]);
    club.ok(&["user", "add", "ana", "--email", "ana@club.example"]);
    let stack = club.write_stack("s.yml", &format!("services:\n  web:\n    image: {IMAGE}\n"));
    let slug = slug("inproc");
    club.submit(&slug, &stack);
    // Delivered already when the command returned: no waiting needed.
    assert!(
        hook.delivered()
            .iter()
            .any(|b| b.contains("New hosting request")),
        "{:?}",
        hook.delivered()
    );
    let to_admins: Vec<Mail> = smtp
        .mails()
        .into_iter()
        .filter(|m| m.data.contains("New hosting request"))
        .collect();
    let mut rcpts: Vec<String> = to_admins.iter().flat_map(|m| m.to.clone()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["admins@club.example", "boss@club.example"]);
    assert!(!rcpts.contains(&"ana@club.example".to_string()));

    club.ok(&["project", "reject", &slug, "--reason", "not club related"]);
    let mail = smtp.wait_for("ana@club.example", "was not approved");
    assert!(mail.data.contains("not club related"), "{}", mail.data);
}

/// Submits the two-service stack for ana with a term of `days` and approves it.
fn deploy_for_days(club: &mut Club, slug: &str, days: &str) {
    club.slugs.push(slug.to_string());
    let _ = club.cli(&["user", "add", "ana"]);
    let stack = club.write_stack(&format!("{slug}.yml"), &two_service_stack());
    club.ok(&[
        "project",
        "submit",
        "--owner",
        "ana",
        "--slug",
        slug,
        "--stack",
        stack.to_str().unwrap(),
        "--days",
        days,
    ]);
    assert!(club.ok(&["project", "approve", slug]).contains("running"));
}

#[tokio::test]
async fn deadlines_missed_while_down_are_met_at_start_and_permanent_projects_stay() {
    let mut club = Club::new();
    configure(&club, "\n[lifecycle]\nsettable_clock = true\n");
    club.start();
    let temp = slug("temp");
    let kept = slug("kept");
    deploy_for_days(&mut club, &temp, "10");
    deploy_for_days(&mut club, &kept, "10");
    club.ok(&["project", "permanent", &kept]);

    club.ok(&["clock", "--advance", "4d"]);
    let reminders = |club: &Club, slug: &str| {
        json(&club.ok(&["audit", "--project", slug, "--json"]))
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "term.reminder")
            .count()
    };
    assert!(wait(|| (reminders(&club, &temp) == 1).then_some(())).is_some());

    // A restart does not resend the 7-day reminder; the 1-day one comes when due (day 9.5).
    club.stop();
    club.start();
    club.ok(&["clock", "--advance", "132h"]);
    assert!(wait(|| (reminders(&club, &temp) == 2).then_some(())).is_some());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(reminders(&club, &temp), 2);

    // The server goes down; the term ends meanwhile (the CLI moves the test clock itself).
    club.stop();
    club.ok(&["clock", "--advance", "12d"]);
    club.start();
    wait_state(&club, &temp, "expired");
    assert!(wait(|| containers_of(&temp).is_empty().then_some(())).is_some());
    assert_eq!(reminders(&club, &temp), 2, "no reminder is repeated");
    // The permanent project never got a reminder and still runs.
    assert_eq!(reminders(&club, &kept), 0);
    assert_eq!(state_of(&club, &kept), "running");
    let res = http()
        .get(club.url(&format!("/{kept}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let log = club.ok(&["audit", "--project", &kept]);
    assert!(log.contains("term.permanent"), "{log}");
}
