//! A member's backups of their own project ("My projects" → Backups): the list, each file of a
//! backup to download (its manifest, registry record, volume archives and database dumps), and
//! the whole backup as one tar archive (`archive`), streamed from the files with no copy made.
//! Owner or admin only; a file is named by the backup's own manifest, never by a path the
//! browser chose.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::auth;
use super::pages::Nav;
use super::refusal::{Denied, PageResult};
use super::session::Viewer;
use clubhost_core::control::Control;

pub struct BackupRowView {
    pub id: String,
    pub taken: String,
    pub bytes: String,
    pub files: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "project_backups.html")]
pub struct BackupsPage {
    pub nav: Nav,
    pub slug: String,
    pub backups: Vec<BackupRowView>,
}

async fn owned(c: &Control, v: &Viewer, slug: &str) -> Result<(), Denied> {
    auth::member(v)?;
    let p = c.project(slug).await?;
    auth::owner_or_admin(v, &p)?;
    Ok(())
}

/// The project's backups, newest first, with their files.
pub async fn list_page(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> PageResult {
    owned(&c, &v, &slug).await?;
    let mut backups = Vec::new();
    for b in c.backups(Some(&slug)).await.map_err(Denied::from)? {
        let files = match c.backup_files(b.id).await {
            Ok((_, files)) => files
                .into_iter()
                .map(|f| (f.file, f.bytes.to_string()))
                .collect(),
            Err(_) => Vec::new(),
        };
        backups.push(BackupRowView {
            id: b.id.to_string(),
            taken: humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(b.created_at.max(0) as u64),
            )
            .to_string(),
            bytes: b.bytes.to_string(),
            files,
        });
    }
    Ok(BackupsPage {
        nav: Nav::of(&v),
        slug,
        backups,
    }
    .into_response())
}

/// A file's bytes as a stream of chunks, opened on first read; an error once `bytes` are sent
/// or the file ends early (it changed since its size was checked: the archive would be corrupt).
fn file_chunks(
    path: std::path::PathBuf,
    bytes: u64,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(
        (None::<tokio::fs::File>, path, 0u64),
        move |(f, path, sent)| async move {
            if sent == bytes {
                return None;
            }
            let mut f = match f {
                Some(f) => f,
                None => match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    Err(e) => return Some((Err(e), (None, path, bytes))),
                },
            };
            let want = (bytes - sent).min(256 * 1024) as usize;
            let mut buf = vec![0u8; want];
            match f.read(&mut buf).await {
                Ok(0) => {
                    let e = std::io::Error::other(format!("{} ended early", path.display()));
                    Some((Err(e), (None, path, bytes)))
                }
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (Some(f), path, sent + n as u64)))
                }
                Err(e) => Some((Err(e), (None, path, bytes))),
            }
        },
    )
}

/// One whole backup of the project as a tar archive: the manifest, the record, each volume's
/// archive and each database dump as SQL, under `<slug>-backup-<id>/`. What members whose term
/// ended are sent to (the expiry notes and the expired page link to the backups page).
pub async fn archive(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path((slug, id)): Path<(String, i64)>,
) -> PageResult {
    use clubhost_core::backup::archive::{TRAILER, folder, header, padding};
    use futures_util::StreamExt;
    owned(&c, &v, &slug).await?;
    let (info, members, length) = c.backup_archive(id).await.map_err(Denied::from)?;
    if info.project != slug {
        return Err(Denied::Forbidden(format!("backup {id} is not of {slug}")).into());
    }
    let mut parts = Vec::new();
    for m in members {
        let head = Bytes::copy_from_slice(&header(&m.name, m.bytes, info.created_at));
        let pad = Bytes::from(vec![0u8; padding(m.bytes)]);
        parts.push(
            futures_util::stream::once(async move { Ok(head) })
                .chain(file_chunks(m.path, m.bytes))
                .chain(futures_util::stream::once(async move { Ok(pad) }))
                .boxed(),
        );
    }
    parts.push(futures_util::stream::once(async { Ok(Bytes::from_static(&TRAILER)) }).boxed());
    let body = futures_util::stream::iter(parts).flatten();
    let disposition = format!("attachment; filename=\"{}.tar\"", folder(&slug, id));
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/x-tar".to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CONTENT_LENGTH, length.to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// One file of one of the project's backups, streamed from disk.
pub async fn download(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path((slug, id, file)): Path<(String, i64, String)>,
) -> PageResult {
    owned(&c, &v, &slug).await?;
    let info = c.backup_info(id).await.map_err(Denied::from)?;
    if info.project != slug {
        return Err(Denied::Forbidden(format!("backup {id} is not of {slug}")).into());
    }
    let path = c.backup_file(id, &file).await.map_err(Denied::from)?;
    let f = tokio::fs::File::open(&path).await.map_err(|e| {
        Denied::Control(clubhost_core::control::ControlError::Internal(
            e.to_string(),
        ))
    })?;
    let chunks = futures_util::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let name = file.replace('/', "-");
    let disposition = format!("attachment; filename=\"{slug}-backup-{id}-{name}\"");
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}
