//! `POST /api/project-files`: a submission that brings the project's files, as
//! `multipart/form-data` with a `submission` part (a `FilesSubmission`, JSON) and, unless it names
//! a git repository, an `archive` part (`.tar`, `.tar.gz` or `.zip`; the CLI packs a folder into
//! a tar). The archive is written to the data dir as it arrives and refused the moment it passes
//! `[build] max_compressed`. From the admin socket, git URLs may be local (`file://`, a path).
//!
//! [`read_files_form`] is the reading, shared with the portal's upload form.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, State};

use clubhost_core::control::{Control, ControlError, FilesSubmission, ProjectFiles};

use super::{ApiResult, SOCKET_ACTOR};

/// A files form, read: the submission's JSON part (or `None`) and the archive, if one came.
pub(crate) struct FilesForm {
    pub submission: Option<FilesSubmission>,
    pub archive: Option<clubhost_core::control::Upload>,
    /// Plain text fields, for a form that sends its submission field by field (the portal).
    pub fields: Vec<(String, String)>,
}

/// Reads a multipart files form, streaming `archive` (or `upload`) parts into a capped upload.
pub(crate) async fn read_files_form(
    c: &Control,
    mut form: Multipart,
) -> Result<FilesForm, ControlError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ControlError::Invalid(format!("the form could not be read: {e}"))
    };
    let mut out = FilesForm {
        submission: None,
        archive: None,
        fields: Vec::new(),
    };
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "archive" | "upload" => {
                let mut upload = c.upload()?;
                let mut any = false;
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    any |= !chunk.is_empty();
                    upload
                        .write(&chunk)
                        .map_err(|e| ControlError::Invalid(e.to_string()))?;
                }
                // A file input left empty sends an empty part.
                if any {
                    out.archive = Some(upload);
                }
            }
            "submission" => {
                let bytes = field.bytes().await.map_err(bad)?;
                let s = serde_json::from_slice(&bytes)
                    .map_err(|e| ControlError::Invalid(format!("submission: {e}")))?;
                out.submission = Some(s);
            }
            _ => {
                let text = field.text().await.map_err(bad)?;
                out.fields.push((name, text));
            }
        }
    }
    Ok(out)
}

/// The files of a form: its archive, else its submission's git repository.
pub(crate) fn files_of(
    s: &FilesSubmission,
    archive: Option<clubhost_core::control::Upload>,
    local: bool,
) -> Result<ProjectFiles, ControlError> {
    match (archive, &s.git) {
        (Some(a), None) => Ok(ProjectFiles::Archive(a)),
        (None, Some(g)) => Ok(ProjectFiles::Git {
            request: g.clone(),
            local,
        }),
        (Some(_), Some(_)) => Err(ControlError::Invalid(
            "give either an archive or a git repository, not both".into(),
        )),
        (None, None) => Err(ControlError::Invalid(
            "no project files: upload an archive (.tar, .tar.gz, .zip) or give a git URL".into(),
        )),
    }
}

pub(super) async fn submit_files(
    State(c): State<Arc<Control>>,
    form: Multipart,
) -> ApiResult<clubhost_core::model::Project> {
    let form = read_files_form(&c, form).await?;
    let s = form
        .submission
        .ok_or_else(|| ControlError::Invalid("the form has no `submission` part".into()))?;
    // The admin socket is an admin on the server: local repositories are allowed.
    let files = files_of(&s, form.archive, true)?;
    Ok(Json(c.submit_files(&s, files, SOCKET_ACTOR).await?))
}
