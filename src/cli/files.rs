//! `project submit --dir DIR | --git URL`: the project's files sent to the admin API as a
//! multipart form (`POST /api/project-files`): the submission as JSON, and a folder packed into a
//! tar (with the checks the server makes again: no links, no device files, `.git` left out).
//! A local git path is sent as an absolute `file://` URL, which only the admin API accepts.

use std::path::PathBuf;

use anyhow::Context;
use hyper::Method;
use serde_json::Value;

use super::client::Api;
use clubhost_core::control::{FilesSubmission, GitRequest, Submission};

/// Where the files come from, as the command line gave it.
pub(super) struct Files {
    pub dir: Option<PathBuf>,
    pub git: Option<String>,
    pub reference: Option<String>,
    /// `--stack`: a name among the files.
    pub stack: Option<PathBuf>,
}

impl Files {
    pub(super) async fn submit(
        self,
        api: &Api,
        submission: Submission,
        caps: &clubhost_source::Caps,
    ) -> anyhow::Result<Value> {
        let git = match self.git {
            Some(url) => Some(GitRequest {
                url: local_as_url(&url)?,
                reference: self.reference,
            }),
            None => None,
        };
        let body = FilesSubmission {
            submission,
            stack_file: self.stack.map(|p| p.to_string_lossy().into_owned()),
            git,
        };
        let archive = match &self.dir {
            Some(dir) => {
                let tar = clubhost_source::pack_dir(dir, caps)
                    .with_context(|| format!("cannot pack {}", dir.display()))?;
                Some(tar)
            }
            None => None,
        };
        let (content_type, form) = multipart(&serde_json::to_vec(&body)?, archive.as_deref());
        api.call_raw(Method::POST, "/api/project-files", &content_type, form)
            .await
    }
}

/// A local path (relative ones from here) as a `file://` URL; URLs as they are.
fn local_as_url(url: &str) -> anyhow::Result<String> {
    if url.contains("://") {
        return Ok(url.to_string());
    }
    let path = std::path::absolute(url).with_context(|| format!("git repository {url}"))?;
    Ok(format!("file://{}", path.display()))
}

/// A `multipart/form-data` body with the `submission` part and, if given, the `archive` part.
fn multipart(submission: &[u8], archive: Option<&[u8]>) -> (String, Vec<u8>) {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).expect("the OS random source failed");
    let boundary: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let boundary = format!("clubhost-{boundary}");
    let mut body = Vec::new();
    let mut part = |headers: &str, data: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"submission\"\r\nContent-Type: application/json",
        submission,
    );
    if let Some(tar) = archive {
        part(
            "Content-Disposition: form-data; name=\"archive\"; filename=\"project.tar\"\r\n\
             Content-Type: application/x-tar",
            tar,
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
