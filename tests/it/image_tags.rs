//! The tests must not poison a club's machine (issue 19, item 12): no test may add, move or remove
//! an image tag under a public name (`mysql:5.7`, `wordpress/wordpress`), since clubhost never
//! pulls an image that is present and a club that ran the tests would deploy the stand-in.
//!
//! The common setup (`common::ensure_image`, which every test using Docker calls first) records
//! the engine's public tags (every repository not starting with `clubhost`) once per test
//! process and arms a check that runs when the process exits, after every test: if a public tag
//! was added, now names another image, or is gone, it prints which and exits with status 1, so
//! `cargo test` fails. A test that runs during the suite also compares what it sees then.
//! Tags of other processes using the same engine at the same time count too: on a shared engine
//! run the suite alone.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::common::docker_text;

static BEFORE: OnceLock<BTreeMap<String, String>> = OnceLock::new();

/// `repository:tag` → image id for every tag whose repository does not start with `clubhost`.
fn public_tags() -> BTreeMap<String, String> {
    docker_text(&[
        "image",
        "ls",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ])
    .lines()
    .filter_map(|l| l.split_once(' '))
    .filter(|(name, _)| !name.starts_with("clubhost") && !name.contains("<none>"))
    .map(|(name, id)| (name.to_string(), id.to_string()))
    .collect()
}

/// Records the public tags the first time it is called in this process, and arms the check at
/// exit.
pub fn record_before() {
    BEFORE.get_or_init(|| {
        let before = public_tags();
        // SAFETY: `check_at_exit` is an `extern "C" fn()` that never unwinds (it catches panics).
        let armed = unsafe { libc::atexit(check_at_exit) };
        assert_eq!(armed, 0, "could not arm the image-tag check at exit");
        before
    });
}

/// Every difference between two tag lists, in words.
fn changes(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, id) in after {
        match before.get(name) {
            None => out.push(format!("{name} was tagged ({id})")),
            Some(old) if old != id => out.push(format!("{name} now names {id}, not {old}")),
            Some(_) => {}
        }
    }
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        out.push(format!("{name} was removed"));
    }
    out
}

extern "C" fn check_at_exit() {
    let result = std::panic::catch_unwind(|| {
        let before = BEFORE.get()?;
        let found = changes(before, &public_tags());
        (!found.is_empty()).then_some(found)
    });
    if let Ok(Some(found)) = result {
        eprintln!(
            "\nthe tests changed public image tags on the engine (tests must use names starting \
             with `clubhost` and leave a club's images alone):\n  {}",
            found.join("\n  ")
        );
        // SAFETY: ends the process without running further exit handlers, as required inside one.
        unsafe { libc::_exit(1) };
    }
}

#[test]
fn changes_name_every_public_tag_added_moved_or_removed() {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let before = map(&[("mysql:5.7", "sha256:a"), ("nginx:1", "sha256:b")]);
    assert!(changes(&before, &before).is_empty());
    let after = map(&[
        ("mysql:5.7", "sha256:c"),
        ("wordpress/wordpress:latest", "sha256:d"),
    ]);
    let found = changes(&before, &after);
    assert_eq!(
        found,
        [
            "mysql:5.7 now names sha256:c, not sha256:a",
            "wordpress/wordpress:latest was tagged (sha256:d)",
            "nginx:1 was removed",
        ]
    );
}

#[test]
fn the_suite_leaves_public_image_tags_as_it_found_them() {
    crate::common::ensure_image();
    let before = BEFORE.get().expect("ensure_image records the tags");
    let found = changes(before, &public_tags());
    assert!(found.is_empty(), "public image tags changed: {found:?}");
}
