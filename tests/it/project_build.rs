//! A member's project as a folder, end to end through the real server and engine: `project submit
//! --dir` stores the files, approval builds the image from its Dockerfile (FROM scratch around
//! Debian's static busybox copied into the folder: nothing is pulled) and deploys it with a
//! relative bind delivered as files and an env file read into its environment; the image is the
//! project's own tag, and `delete` leaves nothing behind.

use std::path::Path;

use crate::common::*;

/// Writes the project folder: a Dockerfile, busybox beside it, a compose file with `build:`, a
/// read-only relative bind and an `env_file`.
fn project_folder(root: &Path) {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    std::fs::write(
        root.join("Dockerfile"),
        "FROM scratch\nCOPY bin /bin\nEXPOSE 8000\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("site")).unwrap();
    std::fs::write(
        root.join("site/index.html"),
        "<h1>built from a folder</h1>\n",
    )
    .unwrap();
    std::fs::write(
        root.join(".env"),
        "# the greeting\nexport GREETING=\"hello from .env\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("compose.yaml"),
        r#"services:
  web:
    build: .
    env_file: .env
    volumes:
      - ./site:/srv/site:ro
    command: ["/bin/busybox", "sh", "-c", "echo \"$$GREETING\" > /srv/env.txt && exec /bin/busybox httpd -f -p 8000 -h /srv"]
    ports:
      - "8080:8000"
"#,
    )
    .unwrap();
}

#[tokio::test]
async fn a_folder_with_a_dockerfile_builds_and_serves_its_files_and_env() {
    let mut club = Club::new();
    club.start();
    club.ok(&["user", "add", "ana"]);
    let slug = slug("built");
    club.slugs.push(slug.clone());
    let dir = club.dir.path().join("project");
    project_folder(&dir);

    let out = club.cli(&[
        "project",
        "submit",
        "--owner",
        "ana",
        "--slug",
        &slug,
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let approved = club.ok(&["project", "approve", &slug]);
    assert!(approved.contains("running"), "{approved}");

    let get = |path: String| async move {
        let r = http().get(path).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let (status, body) = get(club.url(&format!("/{slug}/site/index.html"))).await;
    assert_eq!((status, body.trim()), (200, "<h1>built from a folder</h1>"));
    let (status, body) = get(club.url(&format!("/{slug}/env.txt"))).await;
    assert_eq!((status, body.trim()), (200, "hello from .env"));

    // The image is the project's own build, labelled as clubhost's, never a name it chose.
    let web = containers_of(&slug)
        .into_iter()
        .find(|n| n.contains("-web-"))
        .unwrap();
    let image = docker_text(&["inspect", "-f", "{{.Config.Image}}", &web]);
    assert!(
        image.starts_with(&format!("clubhost/{slug}/web:")),
        "{image}"
    );
    let label = docker_text(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"clubhost.project\"}}",
        &image,
    ]);
    assert_eq!(label, slug);
    // No host path is mounted: the site arrived as files.
    let mounts = docker_text(&["inspect", "-f", "{{range .Mounts}}{{.Type}} {{end}}", &web]);
    assert!(!mounts.contains("bind"), "{mounts}");

    club.ok(&["project", "delete", &slug]);
    assert!(containers_of(&slug).is_empty());
    club.ok(&["gc", "--images", "--apply"]);
    let left = docker_text(&["images", "-q", &format!("clubhost/{slug}/web")]);
    assert!(left.is_empty(), "the build is left behind: {left}");
}
