//! Volume archives for backups: a volume's files read and written as a tar through Docker's
//! container archive endpoint (`GET`/`PUT /containers/{id}/archive`), on a helper container that is
//! created from an image already on the engine and never started. Nothing is pulled, no process
//! runs, and the data never passes through a shell.
//!
//! Also the two container actions a consistent copy needs: pausing a service while its volume is
//! read, and running a dump command (`mysqldump`, `pg_dumpall`) inside a running container, or
//! a client (`mysql`, `psql`) with a dump streamed to its standard input.

use std::path::Path;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{DockerError, Engine, LABEL_PROJECT, Result, api};

/// Where a helper container mounts the volume it reads or fills; the tar's entries start with its
/// last segment (`clubhost-volume/…`).
pub const VOLUME_MOUNT: &str = "/clubhost-volume";

/// Label marking a backup helper container, so `gc` and tests can tell it from a service's.
const LABEL_ROLE: &str = "clubhost.role";

/// What a command run in a container printed, and how it ended.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// The exit code; -1 when Docker did not report one.
    pub exit_code: i64,
    /// Standard output, as bytes (a dump is not necessarily UTF-8).
    pub stdout: Vec<u8>,
    /// Standard error, for the message when the command failed.
    pub stderr: String,
}

impl Engine {
    /// Refuses a container without this instance's labels: pausing, exec and writing archives
    /// act only on clubhost's own containers, like every other call here.
    async fn ensure_ours(&self, id: &str) -> Result<()> {
        let c = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(api(format!("inspect container {id}")))?;
        if self.is_ours(c.config.as_ref().and_then(|c| c.labels.as_ref())) {
            Ok(())
        } else {
            Err(DockerError::NotOurs(id.to_string()))
        }
    }

    /// Creates (never starts) a helper container of `project` from `image` with `volume` mounted
    /// at [`VOLUME_MOUNT`], read-only unless `writable`. The image must already be on the engine:
    /// a missing one is an error, never a pull. Returns the container's id; remove it with
    /// [`Engine::remove_container`].
    pub async fn volume_helper(
        &self,
        name: &str,
        image: &str,
        volume: &str,
        project: &str,
        writable: bool,
    ) -> Result<String> {
        let mut labels = self.labels(Some(project));
        labels.insert(LABEL_ROLE.to_string(), "backup-helper".to_string());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            // Never run; Docker only wants some command for an image without CMD.
            entrypoint: Some(vec!["/clubhost-backup-helper".to_string()]),
            cmd: Some(Vec::new()),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    target: Some(VOLUME_MOUNT.to_string()),
                    source: Some(volume.to_string()),
                    typ: Some(MountType::VOLUME),
                    read_only: Some(!writable),
                    ..Default::default()
                }]),
                network_mode: Some("none".to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(api(format!(
                "create backup helper {name} for volume {volume}"
            )))?;
        Ok(created.id)
    }

    /// Streams a tar of `path` in container `id` (running or not); entries are named from the
    /// path's last segment.
    pub fn download_archive(
        &self,
        id: &str,
        path: &str,
    ) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let context = format!("read archive of {path} from container {id}");
        self.docker
            .download_from_container(id, Some(opts))
            .map(move |chunk| chunk.map_err(api(context.clone())))
    }

    /// Unpacks the tar file at `tar` into `dir` of container `id`, ownership and modes as the
    /// archive holds them. Read from disk as it is sent.
    pub async fn upload_archive(&self, id: &str, dir: &str, tar: &Path) -> Result<()> {
        self.ensure_ours(id).await?;
        let file = tokio::fs::File::open(tar)
            .await
            .map_err(|e| DockerError::Archive(format!("open {}: {e}", tar.display())))?;
        let chunks = futures_util::stream::unfold(file, |mut file| async move {
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        });
        let opts = UploadToContainerOptionsBuilder::default()
            .path(dir)
            .no_overwrite_dir_non_dir("true")
            .build();
        self.docker
            .upload_to_container(id, Some(opts), bollard::body_try_stream(chunks))
            .await
            .map_err(api(format!("write archive into {dir} of container {id}")))
    }

    /// Freezes every process of a container of ours (its files stop changing until
    /// [`Engine::unpause`]).
    pub async fn pause(&self, id: &str) -> Result<()> {
        self.ensure_ours(id).await?;
        self.docker
            .pause_container(id)
            .await
            .map_err(api(format!("pause container {id}")))
    }

    /// Lets a paused container run again.
    pub async fn unpause(&self, id: &str) -> Result<()> {
        self.ensure_ours(id).await?;
        self.docker
            .unpause_container(id)
            .await
            .map_err(api(format!("unpause container {id}")))
    }

    /// Runs `cmd` in the running container `id` (no shell, no TTY) and collects its output.
    pub async fn exec_output(&self, id: &str, cmd: &[String]) -> Result<ExecOutput> {
        self.exec(id, cmd, None).await
    }

    /// Runs `cmd` in the running container `id` with the file `input` streamed to its standard
    /// input (a database dump loaded back by `mysql` or `psql`), and collects its output.
    pub async fn exec_with_input(
        &self,
        id: &str,
        cmd: &[String],
        input: &Path,
    ) -> Result<ExecOutput> {
        self.exec(id, cmd, Some(input)).await
    }

    async fn exec(&self, id: &str, cmd: &[String], input: Option<&Path>) -> Result<ExecOutput> {
        self.ensure_ours(id).await?;
        let context = format!("run {:?} in container {id}", cmd.first());
        let mut file = match input {
            Some(path) => Some(
                tokio::fs::File::open(path)
                    .await
                    .map_err(|e| DockerError::Archive(format!("open {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(cmd.to_vec()),
                    attach_stdin: Some(file.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(api(context.clone()))?;
        let mut out = ExecOutput {
            exit_code: -1,
            stdout: Vec::new(),
            stderr: String::new(),
        };
        if let StartExecResults::Attached {
            mut output,
            mut input,
        } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(api(context.clone()))?
        {
            // The input is written while the output is read, so neither side can fill up and
            // wait for the other; the input is closed at its end, which ends the command's stdin.
            let feed = async {
                if let Some(f) = file.as_mut() {
                    tokio::io::copy(f, &mut input).await?;
                    input.shutdown().await?;
                }
                Ok::<(), std::io::Error>(())
            };
            let read = async {
                while let Some(chunk) = output.next().await {
                    match chunk.map_err(api(context.clone()))? {
                        bollard::container::LogOutput::StdOut { message } => {
                            out.stdout.extend_from_slice(&message)
                        }
                        bollard::container::LogOutput::StdErr { message } => {
                            out.stderr.push_str(&String::from_utf8_lossy(&message))
                        }
                        _ => {}
                    }
                }
                Ok::<(), DockerError>(())
            };
            let (fed, read) = tokio::join!(feed, read);
            read?;
            fed.map_err(|e| DockerError::Archive(format!("{context}: writing its input: {e}")))?;
        }
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(api(context))?;
        out.exit_code = inspect.exit_code.unwrap_or(-1);
        Ok(out)
    }

    /// The image a container of ours runs (its id), to create a helper from the project's own
    /// image.
    pub async fn container_image(&self, id: &str) -> Result<String> {
        let c = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(api(format!("inspect container {id}")))?;
        let labels = c.config.as_ref().and_then(|c| c.labels.as_ref());
        if !self.is_ours(labels) {
            return Err(DockerError::NotOurs(id.to_string()));
        }
        Ok(c.image.unwrap_or_default())
    }

    /// Whether a volume of ours named `name` exists, with the project it belongs to.
    pub async fn volume_project(&self, name: &str) -> Result<Option<String>> {
        match self.docker.inspect_volume(name).await {
            Ok(v) if self.is_ours(Some(&v.labels)) => Ok(v.labels.get(LABEL_PROJECT).cloned()),
            Ok(_) => Err(DockerError::NotOurs(name.to_string())),
            Err(e) if super::is_not_found(&e) => Ok(None),
            Err(e) => Err(api(format!("inspect volume {name}"))(e)),
        }
    }
}
