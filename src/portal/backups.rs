//! A member's backups of their own project ("My projects" → Backups): the list, and each file of
//! a backup to download (its manifest, registry record, volume archives and database dumps).
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
    pub id: i64,
    pub taken: String,
    pub bytes: i64,
    pub files: Vec<(String, u64)>,
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
            Ok((_, files)) => files.into_iter().map(|f| (f.file, f.bytes)).collect(),
            Err(_) => Vec::new(),
        };
        backups.push(BackupRowView {
            id: b.id,
            taken: humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(b.created_at.max(0) as u64),
            )
            .to_string(),
            bytes: b.bytes,
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
