//! `clubhost gc --images`: images clubhost deployed that no project needs any more are listed (dry
//! run) and removed with `--apply`; an image a project still uses, and one clubhost never
//! deployed, are never touched. The images are the local test image tagged under throwaway names,
//! so removing one only untags it and no other test loses its image.

use crate::common::*;

fn image_exists(reference: &str) -> bool {
    docker(&["image", "inspect", reference]).status.success()
}

/// Tags the test image as `reference`; untagged again when dropped.
struct Tag(String);

impl Tag {
    fn new(name: &str) -> Tag {
        let reference = format!("clubhost-gcimg-{name}-{}:t", std::process::id());
        let out = docker(&["tag", IMAGE, &reference]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tag(reference)
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        docker(&["image", "rm", &self.0]);
    }
}

fn web_stack(image: &str) -> String {
    format!(
        "services:\n  web:\n    image: {image}\n    command: [\"sh\", \"-c\", \"mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8000 -h /www\"]\nx-clubhost:\n  expose: web\n  port: 8000\n"
    )
}

#[tokio::test]
async fn gc_images_prunes_only_what_clubhost_deployed_and_no_project_needs() {
    let gone = Tag::new("gone");
    let kept = Tag::new("kept");
    let foreign = Tag::new("foreign");
    let mut club = Club::new();
    club.start();
    let (a, b) = (slug("gcimg-a"), slug("gcimg-b"));
    assert!(club.deploy(&a, &web_stack(&gone.0)).contains("running"));
    assert!(club.deploy(&b, &web_stack(&kept.0)).contains("running"));

    // Both images are in use by a project: nothing to prune.
    let out = club.ok(&["gc", "--images"]);
    assert_eq!(out.trim(), "no orphans or unused images");

    club.ok(&["project", "delete", &a]);
    let dry = club.ok(&["gc", "--images"]);
    assert!(
        dry.contains(&format!("would remove image {}", gone.0)),
        "{dry}"
    );
    assert!(!dry.contains(&kept.0) && !dry.contains(&foreign.0), "{dry}");
    assert!(dry.contains("dry run: 1 to remove"), "{dry}");
    // Without --images, images are not even looked at.
    assert_eq!(club.ok(&["gc"]).trim(), "no orphans");
    assert!(image_exists(&gone.0), "a dry run removed it");

    let applied = club.ok(&["gc", "--images", "--apply"]);
    assert!(
        applied.contains(&format!("removed image {}", gone.0)),
        "{applied}"
    );
    assert!(!image_exists(&gone.0));
    assert!(image_exists(&kept.0), "project {b} still uses it");
    assert!(image_exists(&foreign.0), "clubhost never deployed it");
    assert!(image_exists(IMAGE));
    assert_eq!(
        club.ok(&["gc", "--images"]).trim(),
        "no orphans or unused images"
    );
    let log = club.ok(&["audit"]);
    assert!(
        log.lines()
            .any(|l| l.contains("gc.remove_images") && l.contains(&gone.0)),
        "{log}"
    );

    // An expired project may be restored: its image stays until it is purged.
    club.ok(&["project", "expire", &b, "--reason", "test"]);
    assert_eq!(
        club.ok(&["gc", "--images"]).trim(),
        "no orphans or unused images"
    );
}
