//! Test support: a test image built locally from busybox (nothing is pulled), a real `clubhost
//! serve` process on a free port with its own data dir, the CLI, and Docker inspection through the
//! docker command line.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const IMAGE: &str = "clubhost-test-busybox:latest";
pub const GATEWAY: &str = "clubhost-test-gateway";

/// Builds the test image once per test process: a FROM-scratch root with Debian's static busybox
/// and its applets, imported with `docker import` (no registry, no build step).
/// The busybox applets the test image links; tests use nothing else.
const APPLETS: [&str; 14] = [
    "sh", "httpd", "nc", "echo", "mkdir", "cat", "sleep", "true", "false", "hostname", "ls",
    "wget", "kill", "trap",
];

pub fn ensure_image() {
    // Before any test touches the engine: the public image tags, checked again at exit.
    crate::image_tags::record_before();
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // The applet list is stamped on the image, so an image built by an older test with fewer
        // applets is rebuilt rather than silently used.
        let stamp = APPLETS.join(",");
        let label = "{{index .Config.Labels \"clubhost.test-applets\"}}";
        if docker_text(&["image", "inspect", "-f", label, IMAGE]) == stamp {
            return;
        }
        let busybox = busybox();
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        let script = format!(
            "tar -C {} -c . | docker import --change 'LABEL clubhost.test-applets={stamp}' - {IMAGE}",
            root.path().display()
        );
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert!(
            out.status.success(),
            "docker import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Debian's static busybox, which every test image is built around.
pub fn busybox() -> &'static str {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static must be installed (apt-get install busybox-static)")
}

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI")
}

pub fn docker_text(args: &[&str]) -> String {
    let out = docker(args);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Names of the containers (running or not) of a project.
pub fn containers_of(slug: &str) -> Vec<String> {
    let filter = format!("label=clubhost.project={slug}");
    let text = docker_text(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
    let mut names: Vec<String> = text.lines().map(str::to_string).collect();
    names.sort();
    names
}

pub fn networks_of(slug: &str) -> Vec<String> {
    let filter = format!("label=clubhost.project={slug}");
    let text = docker_text(&[
        "network",
        "ls",
        "--filter",
        &filter,
        "--format",
        "{{.Name}}",
    ]);
    text.lines().map(str::to_string).collect()
}

pub fn volumes_of(slug: &str) -> Vec<String> {
    let filter = format!("label=clubhost.project={slug}");
    let text = docker_text(&["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"]);
    text.lines().map(str::to_string).collect()
}

/// A web service whose page names the container it runs in, and a stand-in database.
pub fn two_service_stack() -> String {
    format!(
        r#"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo \"hello from $(hostname)\" > /www/index.html && exec httpd -f -p 8000 -h /www"]
    depends_on: [db]
    environment:
      DB_HOST: db:3306
  db:
    image: {IMAGE}
    command: nc -ll -p 3306 -e echo hello db
    volumes:
      - data:/data
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 3
volumes:
  data:
x-clubhost:
  expose: web
  port: 8000
"#
    )
}

/// One clubhost: its own data dir and config, and optionally a running server.
pub struct Club {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub port: u16,
    server: Option<Child>,
    /// Slugs this test used; their Docker objects are removed when the test ends.
    pub slugs: Vec<String>,
}

impl Club {
    pub fn new() -> Club {
        ensure_image();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("clubhost.toml");
        std::fs::write(
            &config,
            format!(
                "domain = \"club.example\"\ndata_dir = \"{}\"\n\n[proxy]\nlisten = \"127.0.0.1:{port}\"\n\n[docker]\ngateway_network = \"{GATEWAY}\"\ndeploy_timeout = \"60s\"\ndrain_timeout = \"1s\"\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        Club {
            dir,
            config,
            port,
            server: None,
            slugs: Vec::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Runs the CLI with this club's config.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_clubhost"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("CLUBHOST_LOG", "warn")
            .output()
            .unwrap()
    }

    /// Runs the CLI and asserts it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "clubhost {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub fn write_stack(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Submits the stack file at `stack` as project `slug`, owned by ana, whatever the outcome.
    pub fn try_submit(&self, slug: &str, stack: &Path) -> Output {
        let stack = stack.to_str().unwrap();
        self.cli(&[
            "project", "submit", "--owner", "ana", "--slug", slug, "--stack", stack,
        ])
    }

    /// Like `try_submit`, asserting that it succeeded; returns stdout.
    pub fn submit(&self, slug: &str, stack: &Path) -> String {
        let stack = stack.to_str().unwrap();
        self.ok(&[
            "project", "submit", "--owner", "ana", "--slug", slug, "--stack", stack,
        ])
    }

    /// Adds a member, submits `stack` under `slug` and approves it.
    pub fn deploy(&mut self, slug: &str, stack: &str) -> String {
        self.slugs.push(slug.to_string());
        let _ = self.cli(&["user", "add", "ana"]);
        let path = self.write_stack(&format!("{slug}.yml"), stack);
        self.submit(slug, &path);
        self.ok(&["project", "approve", slug])
    }

    pub fn start(&mut self) {
        assert!(self.server.is_none(), "server already running");
        let log = std::fs::File::create(self.dir.path().join("serve.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_clubhost"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.server = Some(child);
        let socket = self.dir.path().join("data/clubhost.sock");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(socket.exists() && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()) {
            if let Some(status) = self.server.as_mut().unwrap().try_wait().unwrap() {
                panic!("server exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "server did not come up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.wait();
        }
    }

    /// Kills the server with SIGKILL: no cleanup, as in a crash or power loss.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs the CLI in the background (to be interrupted by a crash).
    pub fn cli_background(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_clubhost"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("CLUBHOST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
}

impl Drop for Club {
    fn drop(&mut self) {
        self.stop();
        for slug in &self.slugs {
            for c in containers_of(slug) {
                docker(&["rm", "-f", &c]);
            }
            for n in networks_of(slug) {
                docker(&["network", "rm", &n]);
            }
            for v in volumes_of(slug) {
                docker(&["volume", "rm", "-f", &v]);
            }
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client that does not follow redirects, so tests see them.
pub fn http() -> reqwest::Client {
    // reqwest is built with rustls but no provider of its own (see `notify::tls`).
    clubhost_core::notify::tls::install_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A unique slug per test run, so parallel tests and leftovers never collide.
pub fn slug(base: &str) -> String {
    format!("{base}-{}", std::process::id() % 100_000)
}

/// `s` percent-encoded for a form body or a query (everything but letters, digits, `-_.`).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
