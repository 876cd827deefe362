//! Notifications over TLS and across restarts: https webhooks trusted through `notify.ca_file`
//! (and an untrusted certificate refused, logged and retried without holding anything up), SMTP
//! over STARTTLS and over TLS from the first byte, and a note recorded while its receiver was
//! down, delivered exactly once after the server restarted.

use std::path::Path;

use crate::common::*;
use crate::sinks::*;

fn configure(club: &Club, extra: &str) {
    let text = std::fs::read_to_string(&club.config).unwrap() + extra;
    std::fs::write(&club.config, text).unwrap();
}

fn state_of(club: &Club, slug: &str) -> String {
    let out = club.ok(&["project", "show", slug, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["project"]["state"].as_str().unwrap().to_string()
}

/// Waits (bounded) until the server's log contains `text`.
fn wait_log(club: &Club, text: &str) {
    let found = wait(|| club.log().contains(text).then_some(()));
    assert!(found.is_some(), "no {text:?} in the log:\n{}", club.log());
}

fn toml_path(p: &Path) -> String {
    format!("{:?}", p.to_str().unwrap())
}

#[tokio::test]
async fn https_webhooks_are_trusted_through_the_ca_file_and_others_refused() {
    let ours = TestCa::new();
    let strangers = TestCa::new();
    let trusted = WebhookSink::start_on(0, 0, Some(ours.server.clone()));
    let untrusted = WebhookSink::start_on(0, 0, Some(strangers.server.clone()));
    let mut club = Club::new();
    configure(
        &club,
        &format!(
            "\n[notify]\nattempts = 3\nbackoff = \"100ms\"\nca_file = {}\n\
             [[notify.webhooks]]\nkind = \"slack\"\nurl = \"{}\"\n\
             [[notify.webhooks]]\nkind = \"discord\"\nurl = \"{}\"\n",
            toml_path(&ours.ca_file),
            trusted.url(),
            untrusted.url()
        ),
    );
    club.start();
    club.ok(&["user", "add", "ana"]);
    let slug = slug("tlshook");
    let stack = club.write_stack("s.yml", &format!("services:\n  web:\n    image: {IMAGE}\n"));
    club.submit(&slug, &stack);
    // The submit returned at once; the request is recorded whatever the webhooks do.
    assert_eq!(state_of(&club, &slug), "requested");

    let body = trusted.wait_for(&format!("New hosting request: {slug}"));
    assert!(body.contains("\"text\""), "slack payload: {body}");
    // The stranger's certificate is refused at the handshake: nothing is ever posted to it, the
    // reason is logged with each retry, and after the last one the note is given up.
    wait_log(&club, "notification lost after every retry");
    let log = club.log();
    // Logged by host only: a webhook's path is its secret.
    let host_only = untrusted.url().replace("/hook", "/…");
    assert!(
        !log.contains(&untrusted.url()),
        "the webhook path was logged:\n{log}"
    );
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&host_only) && l.contains("certificate"))
        .collect();
    assert_eq!(refused.len(), 3, "one logged refusal per round:\n{log}");
    assert!(
        refused.iter().all(|l| l.contains("UnknownIssuer")),
        "{refused:#?}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert!(untrusted.delivered().is_empty());
    // The trusted hook got it once: a retry only goes where the note has not arrived yet.
    let to_trusted = trusted
        .delivered()
        .iter()
        .filter(|b| b.contains(&slug))
        .count();
    assert_eq!(to_trusted, 1, "{:?}", trusted.delivered());
}

/// A club without a server whose mail goes to `sink` with `tls`, trusting `ca`.
fn mail_club(sink: &SmtpSink, tls: &str, ca: &TestCa) -> Club {
    let club = Club::new();
    configure(
        &club,
        &format!(
            "\n[notify]\nattempts = 2\nbackoff = \"100ms\"\nca_file = {}\n\
             [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"{tls}\"\n\
             from = \"clubhost <club@club.example>\"\n",
            toml_path(&ca.ca_file),
            sink.port
        ),
    );
    club.ok(&[
        "user",
        "add",
        "boss",
        "--admin",
        "--email",
        "boss@club.example",
    ]);
    club.ok(&["user", "add", "ana", "--email", "ana@club.example"]);
    club
}

#[test]
fn email_goes_over_starttls_and_over_tls_from_the_first_byte() {
    let ca = TestCa::new();
    for (mode, sink) in [
        (
            "starttls",
            SmtpSink::start_with(SinkTls::Starttls(ca.server.clone())),
        ),
        (
            "tls",
            SmtpSink::start_with(SinkTls::Wrapper(ca.server.clone())),
        ),
    ] {
        let club = mail_club(&sink, mode, &ca);
        let stack = club.write_stack("s.yml", &format!("services:\n  web:\n    image: {IMAGE}\n"));
        let slug = slug(&format!("mail-{mode}"));
        // No server: the CLI delivers before it exits.
        club.submit(&slug, &stack);
        let mail = sink.wait_for("boss@club.example", &format!("New hosting request: {slug}"));
        assert!(mail.tls, "{mode}: the mail came over plain text");
        club.ok(&["project", "reject", &slug, "--reason", "not club related"]);
        let mail = sink.wait_for("ana@club.example", "was not approved");
        assert!(mail.tls && mail.data.contains("not club related"), "{mode}");
    }

    // A server that only speaks plain SMTP, where STARTTLS is required: nothing goes out in the
    // clear, and the command still finishes.
    let plain = SmtpSink::start();
    let club = mail_club(&plain, "starttls", &ca);
    let stack = club.write_stack("s.yml", &format!("services:\n  web:\n    image: {IMAGE}\n"));
    let slug = slug("mail-plain");
    club.submit(&slug, &stack);
    assert!(plain.mails().is_empty(), "{:?}", plain.mails());
}

#[tokio::test]
async fn notes_recorded_while_the_receiver_is_down_are_delivered_once_after_a_restart() {
    // The receiver's port is chosen now; nothing listens there until after the restart.
    let port = free_port();
    let mut club = Club::new();
    configure(
        &club,
        &format!(
            "\n[notify]\nattempts = 50\nbackoff = \"1h\"\n\
             [[notify.webhooks]]\nkind = \"slack\"\nurl = \"http://127.0.0.1:{port}/hook\"\n"
        ),
    );
    club.start();
    club.ok(&["user", "add", "ana"]);
    let stack = club.write_stack("s.yml", &format!("services:\n  web:\n    image: {IMAGE}\n"));
    let first = slug("outbox");
    club.submit(&first, &stack);
    // The first round fails (connection refused); the next would be an hour away.
    wait_log(&club, "notification failed; retrying");
    club.stop();

    let hook = WebhookSink::start_on(port, 0, None);
    club.start();
    hook.wait_for(&format!("New hosting request: {first}"));
    assert!(
        club.log().contains("resuming undelivered notifications"),
        "{}",
        club.log()
    );

    // Once more: a delivered note is not sent again. A new note sent after the restart arrives
    // after anything resumed would have, so when it is there, a repeat would be too.
    club.stop();
    club.start();
    let second = format!("{first}-b");
    club.submit(&second, &stack);
    hook.wait_for(&format!("New hosting request: {second}"));
    // The payload is JSON: the subject line ends with an escaped newline.
    let count = |slug: &str| {
        let subject = format!("New hosting request: {slug}\\n");
        hook.delivered()
            .iter()
            .filter(|b| b.contains(&subject))
            .count()
    };
    assert_eq!(count(&first), 1, "{:?}", hook.delivered());
    assert_eq!(count(&second), 1, "{:?}", hook.delivered());
}
