//! Intake on real files: a folder, tar, tar.gz and zip archives built here (the hostile ones
//! with raw headers, since the writers refuse to make them), and a real git repository made
//! with Debian's `git` at two commits, cloned through `file://`. Every refusal is checked to leave
//! nothing in the store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use clubhost_source::{Caps, GitSource, SourceError, StackOrigin, Store, find_stack};

const CAPS: Caps = Caps {
    max_compressed: 1 << 20,
    max_unpacked: 1 << 20,
    max_files: 50,
};

/// The store's folder holds nothing at all (no staging folder left behind).
fn assert_empty(root: &Path) {
    let left: Vec<_> = std::fs::read_dir(root)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A tar entry with any name, type and link target: written by hand, because the `tar` crate's
/// builder refuses `..` and absolute names.
fn raw_entry(out: &mut Vec<u8>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn finish_tar(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn refused(store: &Store, root: &Path, archive: &Path) -> SourceError {
    let e = store.stage_archive(archive, &CAPS).unwrap_err();
    assert_empty(root);
    e
}

#[test]
fn a_folder_is_copied_and_kept_as_a_revision() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("conf")).unwrap();
    std::fs::create_dir_all(src.join(".git/hooks")).unwrap();
    write(&src, "compose.yaml", b"services: {}\n");
    write(&src, "conf/site.conf", b"listen 80;\n");
    write(&src, ".git/hooks/post-checkout", b"#!/bin/sh\n");
    let root = tmp.path().join("projects");
    let store = Store::new(&root);
    let staged = store.stage_dir(&src, &CAPS).unwrap();
    assert_eq!((staged.entries, staged.bytes), (3, 24));
    let kept = staged.keep(&store, "web", 1).unwrap();
    assert_eq!(kept, root.join("web/1"));
    assert_eq!(
        std::fs::read(kept.join("conf/site.conf")).unwrap(),
        b"listen 80;\n"
    );
    assert!(!kept.join(".git").exists(), ".git is left out");
    use std::os::unix::fs::PermissionsExt;
    for p in [&root.join("web"), &kept, &kept.join("conf")] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", p.display());
    }
    let stack = find_stack(&kept, None).unwrap();
    assert_eq!(stack.origin, StackOrigin::File("compose.yaml".into()));
    // A second intake never overwrites a revision.
    let again = store.stage_dir(&src, &CAPS).unwrap();
    assert!(again.keep(&store, "web", 1).is_err());
    assert_eq!(std::fs::read_dir(root.join("web")).unwrap().count(), 1);

    // A link anywhere in a folder is refused, and nothing is left.
    std::os::unix::fs::symlink("/etc/passwd", src.join("conf/passwd")).unwrap();
    let root2 = tmp.path().join("projects2");
    let e = Store::new(&root2).stage_dir(&src, &CAPS).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_empty(&root2);
    let e = clubhost_source::pack_dir(&src, &CAPS).unwrap_err();
    assert!(e.to_string().contains("conf/passwd"), "{e}");
}

#[test]
fn tar_gz_and_zip_unpack_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("www")).unwrap();
    write(&src, "index.html", b"<h1>hi</h1>");
    write(&src, "www/app.js", b"go()");
    let tar = clubhost_source::pack_dir(&src, &CAPS).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.add_directory("www/", opts).unwrap();
    zip.start_file("index.html", opts).unwrap();
    zip.write_all(b"<h1>hi</h1>").unwrap();
    zip.start_file("www/app.js", opts).unwrap();
    zip.write_all(b"go()").unwrap();
    let zip = zip.finish().unwrap().into_inner();
    let root = tmp.path().join("projects");
    let store = Store::new(&root);
    for (name, bytes) in [
        ("a.tar", tar.clone()),
        ("a.tgz", gzip(&tar)),
        ("a.zip", zip),
    ] {
        let file = write(tmp.path(), name, &bytes);
        let staged = store.stage_archive(&file, &CAPS).unwrap();
        assert_eq!(staged.entries, 3, "{name}");
        let got = std::fs::read(staged.path().join("www/app.js")).unwrap();
        assert_eq!(got, b"go()", "{name}");
        let stack = find_stack(staged.path(), None).unwrap();
        assert_eq!(stack.origin, StackOrigin::StaticSite, "{name}");
        drop(staged);
        assert_empty(&root);
    }
}

#[test]
fn hostile_tars_are_refused_and_leave_nothing() {
    use tar::EntryType::{Block, Fifo, Link, Regular, Symlink};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("projects");
    let store = Store::new(&root);
    type Entries = Vec<(&'static str, tar::EntryType, &'static str)>;
    let cases: [(&str, Entries, &str); 7] = [
        (
            "dotdot",
            vec![("ok.txt", Regular, ""), ("../evil", Regular, "")],
            "climbs out",
        ),
        ("nested", vec![("a/../../evil", Regular, "")], "climbs out"),
        (
            "absolute",
            vec![("/tmp/evil", Regular, "")],
            "absolute path",
        ),
        (
            "symlink-out",
            vec![("etc", Symlink, "/etc")],
            "symbolic link",
        ),
        (
            "symlink-in",
            vec![("a", Regular, ""), ("b", Symlink, "a")],
            "symbolic link",
        ),
        (
            "hardlink-out",
            vec![("h", Link, "/etc/shadow")],
            "hard link",
        ),
        (
            "device",
            vec![("null", Block, ""), ("p", Fifo, "")],
            "device file",
        ),
    ];
    for (name, entries, want) in cases {
        let mut tar = Vec::new();
        for (n, kind, link) in entries {
            raw_entry(
                &mut tar,
                n,
                kind,
                link,
                if kind == Regular { b"x" } else { b"" },
            );
        }
        let file = write(tmp.path(), &format!("{name}.tar"), &finish_tar(tar.clone()));
        let e = refused(&store, &root, &file);
        assert!(e.to_string().contains(want), "{name}: {e}");
        let file = write(tmp.path(), &format!("{name}.tgz"), &gzip(&finish_tar(tar)));
        let e = refused(&store, &root, &file);
        assert!(e.to_string().contains(want), "{name}.tgz: {e}");
    }
    assert!(!tmp.path().parent().unwrap().join("evil").exists());

    // A hard link to a file the archive already wrote is taken as a copy.
    let mut tar = Vec::new();
    raw_entry(&mut tar, "a.txt", Regular, "", b"same");
    raw_entry(&mut tar, "b.txt", Link, "a.txt", b"");
    let file = write(tmp.path(), "link.tar", &finish_tar(tar));
    let staged = store.stage_archive(&file, &CAPS).unwrap();
    assert_eq!(std::fs::read(staged.path().join("b.txt")).unwrap(), b"same");
}

#[test]
fn bombs_stop_while_unpacking() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("projects");
    let store = Store::new(&root);

    // Zip bomb: 16 MiB of zeros deflate to a few KiB, far under max_compressed.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("zeros.bin", opts).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..16 {
        zip.write_all(&chunk).unwrap();
    }
    let zip = zip.finish().unwrap().into_inner();
    assert!(zip.len() < 100 << 10, "compressed to {} bytes", zip.len());
    let file = write(tmp.path(), "bomb.zip", &zip);
    let e = refused(&store, &root, &file);
    assert!(e.to_string().contains("max_unpacked"), "{e}");

    // The same as a tar.gz.
    let mut tar = Vec::new();
    raw_entry(
        &mut tar,
        "zeros.bin",
        tar::EntryType::Regular,
        "",
        &vec![0u8; 4 << 20],
    );
    let file = write(tmp.path(), "bomb.tgz", &gzip(&finish_tar(tar)));
    let e = refused(&store, &root, &file);
    assert!(e.to_string().contains("max_unpacked"), "{e}");

    // File-count bomb: many empty files.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..CAPS.max_files + 1 {
        zip.start_file(format!("f{i}"), opts).unwrap();
    }
    let file = write(tmp.path(), "many.zip", &zip.finish().unwrap().into_inner());
    let e = refused(&store, &root, &file);
    assert!(e.to_string().contains("max_files"), "{e}");

    // An archive over max_compressed is refused before it is read.
    let file = write(
        tmp.path(),
        "big.tar",
        &vec![0u8; (CAPS.max_compressed + 1) as usize],
    );
    let e = refused(&store, &root, &file);
    assert!(e.to_string().contains("max_compressed"), "{e}");

    // A zip entry marked as a symbolic link.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.add_symlink("etc", "/etc", opts).unwrap();
    let file = write(tmp.path(), "link.zip", &zip.finish().unwrap().into_inner());
    let e = refused(&store, &root, &file);
    assert!(e.to_string().contains("symbolic link"), "{e}");
}

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

/// A repository at two commits on `main`, plus a tag on the first.
pub fn two_commit_repo(dir: &Path) -> (String, String) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    write(dir, "Dockerfile", b"FROM scratch\nEXPOSE 8080\n");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "one"]);
    git(dir, &["tag", "v1"]);
    let first = git(dir, &["rev-parse", "HEAD"]);
    write(dir, "index.html", b"two");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "two"]);
    (first, git(dir, &["rev-parse", "HEAD"]))
}

#[test]
fn a_git_repository_is_cloned_at_its_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let (first, second) = two_commit_repo(&repo);
    let root = tmp.path().join("projects");
    let store = Store::new(&root);
    let timeout = std::time::Duration::from_secs(60);
    let source = |url: String, reference: Option<&str>, allow_local| GitSource {
        url,
        reference: reference.map(str::to_string),
        allow_local,
    };
    let url = format!("file://{}", repo.display());
    let staged = store
        .stage_git(&source(url.clone(), None, true), &CAPS, timeout)
        .unwrap();
    assert_eq!(staged.commit.as_deref(), Some(second.as_str()));
    assert_eq!(
        std::fs::read(staged.path().join("index.html")).unwrap(),
        b"two"
    );
    let stack = find_stack(staged.path(), None).unwrap();
    assert_eq!(stack.origin, StackOrigin::Dockerfile { port: 8080 });
    assert!(stack.text.contains("build: .") && stack.text.contains("\"8080\""));
    staged.keep(&store, "app", 1).unwrap();

    // A tag, by a plain local path.
    let staged = store
        .stage_git(
            &source(repo.display().to_string(), Some("v1"), true),
            &CAPS,
            timeout,
        )
        .unwrap();
    assert_eq!(staged.commit.as_deref(), Some(first.as_str()));
    assert!(!staged.path().join("index.html").exists());
    drop(staged);

    // From the portal nothing local is fetched; other transports never; a missing ref fails.
    for (url, local) in [
        (url.clone(), false),
        ("http://x/r".into(), true),
        ("ssh://x/r".into(), true),
        ("ext::sh -c x".into(), true),
    ] {
        let e = store
            .stage_git(&source(url.clone(), None, local), &CAPS, timeout)
            .unwrap_err();
        assert!(matches!(e, SourceError::Invalid(_)), "{url}: {e}");
    }
    let e = store
        .stage_git(&source(url.clone(), Some("nope"), true), &CAPS, timeout)
        .unwrap_err();
    assert!(matches!(e, SourceError::Git(_)), "{e}");
    let e = store
        .stage_git(
            &source(url.clone(), Some("--upload-pack=x"), true),
            &CAPS,
            timeout,
        )
        .unwrap_err();
    assert!(matches!(e, SourceError::Invalid(_)), "{e}");

    // A symbolic link committed to the repository is refused like one in an archive.
    std::os::unix::fs::symlink("/etc/passwd", repo.join("passwd")).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "link"]);
    let e = store
        .stage_git(&source(url, None, true), &CAPS, timeout)
        .unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    // Only the kept revision remains.
    let left: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["app"]);
}

#[test]
fn stacks_are_found_or_generated_or_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let e = find_stack(d, None).unwrap_err().to_string();
    assert!(
        e.contains("compose.yaml") && e.contains("Dockerfile") && e.contains("index.html"),
        "{e}"
    );
    write(d, "index.html", b"<h1>site</h1>");
    let site = find_stack(d, None).unwrap();
    assert_eq!(site.origin, StackOrigin::StaticSite);
    // The generated stack passes the checker; what it needs is the project's folder itself.
    let report = clubhost_stack::check(&site.text, &Default::default(), &Default::default());
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(report.project_files.len(), 1, "{:?}", report.project_files);
    write(d, "Dockerfile", b"FROM scratch\n");
    let e = find_stack(d, None).unwrap_err().to_string();
    assert!(e.contains("EXPOSE"), "{e}");
    write(d, "Dockerfile", b"FROM scratch\nEXPOSE 3000\n");
    let built = find_stack(d, None).unwrap();
    let report = clubhost_stack::check(&built.text, &Default::default(), &Default::default());
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(report.stack.unwrap().expose.port, 3000);
    write(d, "docker-compose.yml", b"services: {}\n");
    write(d, "other.yaml", b"services: {}\n");
    assert_eq!(
        find_stack(d, None).unwrap().origin,
        StackOrigin::File("docker-compose.yml".into())
    );
    assert_eq!(
        find_stack(d, Some("other.yaml")).unwrap().origin,
        StackOrigin::File("other.yaml".into())
    );
    assert!(find_stack(d, Some("../x.yaml")).is_err());
    assert!(find_stack(d, Some("missing.yaml")).is_err());
}

#[test]
fn a_clone_past_its_timeout_is_stopped_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    two_commit_repo(&repo);
    let root = tmp.path().join("projects");
    let source = GitSource {
        url: format!("file://{}", repo.display()),
        reference: None,
        allow_local: true,
    };
    // No git process finishes in no time: it is killed at the deadline.
    let e = Store::new(&root)
        .stage_git(&source, &CAPS, std::time::Duration::ZERO)
        .unwrap_err();
    assert!(e.to_string().contains("git_timeout"), "{e}");
    assert_empty(&root);
}
