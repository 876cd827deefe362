//! The project's files on disk, as the deployer reads them: [`FolderFiles`] (the stack crate's
//! [`ProjectFiles`] over a real folder, for `load_with_files`), the tar of a build context, and
//! the tar of what one container gets (relative binds' files, secrets, configs).
//!
//! Only plain files and folders inside the project's folder are ever read: a symlink anywhere on
//! the way (even one pointing inside) is refused, so nothing outside the folder can be reached.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use clubhost_stack::{FileKind, ProjectFiles, ServiceSpec};

/// The project's files in a folder of the server (the stack file's folder).
#[derive(Debug, Clone)]
pub struct FolderFiles {
    root: PathBuf,
}

impl FolderFiles {
    /// The files under `root`.
    pub fn new(root: &Path) -> FolderFiles {
        FolderFiles {
            root: root.to_path_buf(),
        }
    }
}

/// What is at `rel` under `root`, looking at every component without following symlinks.
fn kind_at(root: &Path, rel: &str) -> Option<FileKind> {
    let mut at = root.to_path_buf();
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Some(FileKind::Other);
    }
    let mut kind = kind_of(&std::fs::symlink_metadata(&at).ok()?);
    for part in parts {
        if kind != FileKind::Folder {
            return if kind == FileKind::Other {
                Some(FileKind::Other)
            } else {
                None
            };
        }
        at.push(part);
        kind = kind_of(&std::fs::symlink_metadata(&at).ok()?);
    }
    Some(kind)
}

fn kind_of(m: &std::fs::Metadata) -> FileKind {
    let t = m.file_type();
    if t.is_file() {
        FileKind::File
    } else if t.is_dir() {
        FileKind::Folder
    } else {
        FileKind::Other
    }
}

impl ProjectFiles for FolderFiles {
    fn kind(&self, path: &str) -> Option<FileKind> {
        kind_at(&self.root, path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        match kind_at(&self.root, path) {
            Some(FileKind::File) => std::fs::read(self.root.join(path)).map_err(|e| e.to_string()),
            Some(_) => Err("not a plain file".into()),
            None => Err("no such file".into()),
        }
    }
}

/// Why a folder cannot be sent.
fn refuse(rel: &str, what: &str) -> String {
    format!("{rel:?} is {what}: the project's files may hold only plain files and folders")
}

/// The tar of the build context `context` (relative to `root`), without what its
/// `.dockerignore` excludes (the Dockerfile and `.dockerignore` are always sent, as Docker does).
/// Refuses symlinks and special files anywhere in it. `tail` is appended to the Dockerfile (the
/// deployer's one `LABEL` line: one build step where the builder's `labels` option makes one per
/// label).
pub fn context_tar(
    root: &Path,
    context: &str,
    dockerfile: &str,
    tail: Option<&str>,
) -> Result<Vec<u8>, String> {
    match kind_at(root, context) {
        Some(FileKind::Folder) => {}
        Some(_) => return Err(refuse(context, "not a folder")),
        None => {
            return Err(format!(
                "the build context {context:?} is not in the project's files"
            ));
        }
    }
    let dir = root.join(context);
    let ignore = std::fs::read_to_string(dir.join(".dockerignore"))
        .map(|t| DockerIgnore::parse(&t))
        .unwrap_or_default();
    let mut tar = tar::Builder::new(Vec::new());
    let keep = |rel: &str| {
        if rel == dockerfile {
            tail.is_none()
        } else {
            rel == ".dockerignore" || !ignore.excludes(rel)
        }
    };
    add_folder(&mut tar, &dir, "", "", &keep, None)
        .map_err(|e| format!("build context {context:?}: {e}"))?;
    if let Some(tail) = tail {
        let path = format!("{context}/{dockerfile}");
        if kind_at(root, &path) != Some(FileKind::File) {
            return Err(format!(
                "the build context {context:?} has no Dockerfile {dockerfile:?}"
            ));
        }
        let file = dir.join(dockerfile);
        let meta = std::fs::metadata(&file).map_err(|e| e.to_string())?;
        let mut text = std::fs::read(&file).map_err(|e| e.to_string())?;
        text.extend_from_slice(format!("\n{tail}\n").as_bytes());
        append(&mut tar, dockerfile, &text, mode(&meta, None), None)?;
    }
    tar.into_inner().map_err(|e| e.to_string())
}

/// Appends the folder `dir` to `tar` under `prefix` (`rel`: where it is in the walk), refusing
/// symlinks and special files. `read_only` clears the write bits of what it adds.
fn add_folder(
    tar: &mut tar::Builder<Vec<u8>>,
    dir: &Path,
    rel: &str,
    prefix: &str,
    keep: &dyn Fn(&str) -> bool,
    read_only: Option<bool>,
) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if !keep(&rel) {
            continue;
        }
        let meta = std::fs::symlink_metadata(e.path()).map_err(|e| e.to_string())?;
        let to = join(prefix, &rel);
        match kind_of(&meta) {
            FileKind::File => append(
                tar,
                &to,
                &std::fs::read(e.path()).map_err(|e| e.to_string())?,
                mode(&meta, read_only),
                None,
            )?,
            FileKind::Folder => {
                dir_entry(tar, &to, mode(&meta, read_only))?;
                add_folder(tar, &e.path(), &rel, prefix, keep, read_only)?;
            }
            FileKind::Other if meta.file_type().is_symlink() => {
                return Err(refuse(&rel, "a symlink"));
            }
            FileKind::Other => return Err(refuse(&rel, "a special file")),
        }
    }
    Ok(())
}

fn join(prefix: &str, rel: &str) -> String {
    match (prefix.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}/{rel}"),
    }
}

fn mode(meta: &std::fs::Metadata, read_only: Option<bool>) -> u32 {
    let m = meta.mode() & 0o7777;
    if read_only == Some(true) {
        m & !0o222
    } else {
        m
    }
}

fn append(
    tar: &mut tar::Builder<Vec<u8>>,
    path: &str,
    content: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(content.len() as u64);
    h.set_mode(mode);
    let (uid, gid) = owner.unwrap_or((0, 0));
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    h.set_mtime(0);
    tar.append_data(&mut h, path, content)
        .map_err(|e| e.to_string())
}

fn dir_entry(tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) -> Result<(), String> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(mode | 0o700);
    h.set_mtime(0);
    tar.append_data(&mut h, format!("{path}/"), io::empty())
        .map_err(|e| e.to_string())
}

/// The tar (rooted at `/`) of what `svc`'s new container gets: relative binds copied per
/// container, the folders of `seed` (project volumes this deploy created: seeded once), and its
/// secrets and configs. `None` when it gets nothing.
pub(crate) fn container_tar(
    root: Option<&Path>,
    svc: &ServiceSpec,
    seed: &dyn Fn(&str) -> bool,
) -> Result<Option<Vec<u8>>, String> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut any = false;
    for m in &svc.files {
        if m.volume.as_deref().is_some_and(|v| !seed(v)) {
            continue;
        }
        let root = root.ok_or_else(|| {
            format!(
                "{:?} comes from the project's files, and this project has none",
                m.source
            )
        })?;
        let to = m.target.trim_start_matches('/');
        match kind_at(root, &m.source) {
            Some(FileKind::File) => {
                let path = root.join(&m.source);
                let meta = std::fs::metadata(&path).map_err(|e| e.to_string())?;
                let content = std::fs::read(&path).map_err(|e| e.to_string())?;
                append(&mut tar, to, &content, mode(&meta, Some(m.read_only)), None)?;
            }
            Some(FileKind::Folder) => add_folder(
                &mut tar,
                &root.join(&m.source),
                "",
                to,
                &|_| true,
                Some(m.read_only),
            )?,
            Some(FileKind::Other) => return Err(refuse(&m.source, "a symlink or a special file")),
            None => return Err(format!("{:?} is not in the project's files", m.source)),
        }
        any = true;
    }
    for s in &svc.secrets {
        let owner = Some((s.uid.unwrap_or(0), s.gid.unwrap_or(0)));
        append(
            &mut tar,
            s.target.trim_start_matches('/'),
            &s.content,
            s.mode,
            owner,
        )?;
        any = true;
    }
    if !any {
        return Ok(None);
    }
    tar.into_inner().map(Some).map_err(|e| e.to_string())
}

/// `.dockerignore` patterns: `#` comments, `*` and `?` within a path part, `**` across parts, a
/// folder excluding what is under it, and `!` exceptions (the last matching line wins).
#[derive(Debug, Default)]
struct DockerIgnore {
    rules: Vec<(bool, String)>,
}

impl DockerIgnore {
    fn parse(text: &str) -> DockerIgnore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (keep, p) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                (keep, clubhost_stack::normalize(p.trim_start_matches('/')))
            })
            .collect();
        DockerIgnore { rules }
    }

    fn excludes(&self, rel: &str) -> bool {
        let mut excluded = false;
        for (keep, pattern) in &self.rules {
            // A pattern matches the path or any folder above it.
            let mut hit = false;
            let mut upto = String::new();
            for part in rel.split('/') {
                if !upto.is_empty() {
                    upto.push('/');
                }
                upto.push_str(part);
                if glob(pattern.as_bytes(), upto.as_bytes()) {
                    hit = true;
                    break;
                }
            }
            if hit {
                excluded = !keep;
            }
        }
        excluded
    }
}

/// `*`/`?` within a part, `**` across parts.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p {
        [] => s.is_empty(),
        [b'*', b'*', rest @ ..] => {
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        [b'*', rest @ ..] => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != b'/')
            .any(|i| glob(rest, &s[i..])),
        [b'?', rest @ ..] => !s.is_empty() && s[0] != b'/' && glob(rest, &s[1..]),
        [c, rest @ ..] => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn names(tar: &[u8]) -> Vec<(String, u32)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().mode().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_context_is_its_folder_without_ignored_files_and_never_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("app/src")).unwrap();
        std::fs::create_dir_all(root.join("app/node_modules/x")).unwrap();
        std::fs::write(root.join("app/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(root.join("app/src/main.c"), "x").unwrap();
        std::fs::write(root.join("app/src/notes.log"), "x").unwrap();
        std::fs::write(root.join("app/node_modules/x/a.js"), "x").unwrap();
        std::fs::write(
            root.join("app/.dockerignore"),
            "node_modules\n**/*.log\nDockerfile\n",
        )
        .unwrap();
        std::fs::write(root.join("outside.txt"), "x").unwrap();
        let tar = context_tar(root, "app", "Dockerfile", None).unwrap();
        let got: Vec<String> = names(&tar).into_iter().map(|(n, _)| n).collect();
        assert_eq!(got, [".dockerignore", "Dockerfile", "src/", "src/main.c"]);
        // With a tail, the Dockerfile is sent with it appended.
        let tar = context_tar(root, "app", "Dockerfile", Some("LABEL a=b")).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let mut docker = String::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_str() == Some("Dockerfile") {
                e.read_to_string(&mut docker).unwrap();
            }
        }
        assert_eq!(docker, "FROM scratch\n\nLABEL a=b\n");
        // A symlink, even to a file inside, is refused; so is a context that is one.
        std::os::unix::fs::symlink("../outside.txt", root.join("app/src/link")).unwrap();
        let e = context_tar(root, "app", "Dockerfile", None).unwrap_err();
        assert!(e.contains("\"src/link\" is a symlink"), "{e}");
        std::os::unix::fs::symlink("app", root.join("alias")).unwrap();
        assert!(
            context_tar(root, "alias", "Dockerfile", None)
                .unwrap_err()
                .contains("not a folder")
        );
        let files = FolderFiles::new(root);
        assert_eq!(files.kind("alias/Dockerfile"), Some(FileKind::Other));
        assert_eq!(files.kind("app/Dockerfile"), Some(FileKind::File));
        assert_eq!(files.kind("app/../outside.txt"), Some(FileKind::Other));
        assert_eq!(files.kind("app/nope"), None);
        assert!(files.read("alias/Dockerfile").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob(b"*.log", b"a.log"));
        assert!(!glob(b"*.log", b"d/a.log"));
        assert!(glob(b"**/*.log", b"d/e/a.log"));
        assert!(glob(b"**/*.log", b"a.log"));
        assert!(glob(b"a?c", b"abc"));
        let ig = DockerIgnore::parse("*.md\n!README.md\n");
        assert!(ig.excludes("x.md") && !ig.excludes("README.md"));
    }
}
