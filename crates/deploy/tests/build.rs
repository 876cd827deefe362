//! Builds and project files against the real engine (issue 15, items 3 to 5): a project folder
//! with `build:`, a relative file bind, a writable relative folder, `env_file`, a secret and
//! `ports:` deployed through `clubhost_deploy::deploy` with its files; a build that allocates far
//! more than its memory limit; a build that never ends, stopped at its timeout with no build
//! container left; and a context with a symlink. Images are built FROM scratch around Debian's
//! static busybox, copied into the context (no registry is reachable).
//!
//! Every object carries the test's own instance label and is removed at the end, with the
//! images the builds made (the failed builds' cache layers too).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clubhost_deploy::{
    self as deploy, BuildLimits, BuildQueue, DeployRequest, FolderFiles, Progress,
};
use clubhost_docker::Engine;
use clubhost_stack::{Limits, Vars};
use futures_util::future::BoxFuture;

/// A /24 out of 10.240.0.0/12 at random, never one Docker refused.
struct RandomSubnets;

impl deploy::Subnets for RandomSubnets {
    fn subnet_for<'a>(
        &'a self,
        _network: &'a str,
        refused: &'a [String],
    ) -> BoxFuture<'a, Result<String, deploy::SubnetError>> {
        Box::pin(async move {
            loop {
                let n = std::process::id() as usize + refused.len() * 7919 + nanos();
                let s = format!("10.{}.{}.0/24", 240 + n % 15, (n / 15) % 256);
                if !refused.contains(&s) {
                    return Ok(s);
                }
            }
        })
    }
}

fn nanos() -> usize {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dangling() -> Vec<String> {
    docker(&["images", "-q", "--no-trunc", "-f", "dangling=true"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Writes `files` (path, content) under `root`, with busybox in `app/`.
fn project(root: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static must be installed (apt-get install busybox-static)");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::copy(busybox, root.join("app/busybox")).unwrap();
}

/// One test's engine connection and the cleanup of what it made. The tests of this file run one
/// at a time: a build's intermediate images are dangling until it ends, and another test's
/// cleanup of *its* new dangling images must not take them.
struct Scene {
    engine: Engine,
    slug: String,
    gateway: String,
    before: Vec<String>,
}

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Scene {
    async fn new(slug: &str) -> Scene {
        let instance = format!("buildtest-{}-{slug}", std::process::id());
        let engine = Engine::connect(None, &instance).await.unwrap();
        Scene {
            engine,
            slug: slug.to_string(),
            gateway: format!("clubhost-bt-gw-{slug}-{}", std::process::id()),
            before: dangling(),
        }
    }

    async fn deploy(
        &self,
        stack: &str,
        dir: &Path,
        deployment: i64,
        limits: &BuildLimits,
        steps: &Mutex<Vec<Progress>>,
    ) -> Result<SocketAddr, String> {
        let stack = clubhost_stack::load_with_files(
            stack,
            &Vars::new(),
            &Limits::default(),
            &FolderFiles::new(dir),
        )
        .map_err(|e| e.to_string())?;
        let sink = |p: Progress| steps.lock().unwrap().push(p);
        let subnet = RandomSubnets.subnet_for("gw", &[]).await.unwrap();
        let req = DeployRequest {
            slug: &self.slug,
            stack: &stack,
            deployment,
            gateway: &self.gateway,
            gateway_subnet: &subnet,
            subnets: &RandomSubnets,
            timeout: Duration::from_secs(60),
            progress: &sink,
            files: Some(dir),
            build: limits,
        };
        deploy::deploy(&self.engine, &req)
            .await
            .map_err(|e| e.to_string())
    }

    async fn clean(&self) {
        deploy::remove_deployments(&self.engine, &self.slug, |_| true).await;
        for v in self.engine.volumes(Some(&self.slug)).await.unwrap() {
            self.engine.remove_volume(&v).await.unwrap();
        }
        for n in self.engine.networks(Some(&self.slug)).await.unwrap() {
            let _ = self.engine.remove_network(&n).await;
        }
        docker(&["network", "rm", &self.gateway]);
        // By tag: one image may carry the tags of two deployments.
        let prefix = format!("clubhost/{}/", self.slug);
        let images = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        for i in images.lines().filter(|i| i.starts_with(&prefix)) {
            docker(&["rmi", i]);
        }
        assert!(
            !docker(&["images", "--format", "{{.Repository}}"]).contains(&prefix),
            "built images left"
        );
        for i in dangling() {
            if !self.before.contains(&i) {
                docker(&["rmi", &i]);
            }
        }
    }
}

use clubhost_deploy::Subnets as _;

fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{path}: {head}"
    );
    body.trim_end().to_string()
}

const DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG GREETING_ARG
RUN mkdir -p /www /tmp && echo "built-$GREETING_ARG" > /www/built.txt && ls /sys/class/net > /www/net.txt
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"#;

const STACK: &str = r#"services:
  web:
    build:
      context: ./app
      args:
        GREETING_ARG: hello
    command:
      - /bin/sh
      - -c
      - >-
        echo "$$GREETING $$FROM_FILE $$QUOTED" > /www/env.txt &&
        cp /run/secrets/token /www/secret.txt &&
        ls -l /run/secrets/token > /www/secret-mode.txt &&
        cat /data/seed.txt > /www/seed.txt &&
        echo changed > /data/seed.txt &&
        exec httpd -f -p 8080 -h /www
    env_file: .env
    environment:
      GREETING: hi
    volumes:
      - ./site/index.html:/www/index.html:ro
      - ./data:/data
    secrets: [token]
    ports: ["8080:8080"]
secrets:
  token:
    file: ./secrets/token.txt
"#;

#[tokio::test]
async fn a_project_folder_builds_and_deploys_with_its_files_env_and_secret() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[
            ("app/Dockerfile", DOCKERFILE),
            ("app/.dockerignore", "*.tmp\n"),
            ("app/junk.tmp", "not sent"),
            ("site/index.html", "<h1>from the project</h1>"),
            ("data/seed.txt", "seeded once"),
            ("secrets/token.txt", "t0ken-value"),
            (
                ".env",
                "# the env file\nFROM_FILE=file-value\nexport QUOTED=\"a ${FROM_FILE}\"\nGREETING=overridden\n",
            ),
        ],
    );
    let scene = Scene::new("bt-files").await;
    let steps = Mutex::new(Vec::new());
    let limits = BuildLimits {
        memory: 256 << 20,
        cpus: 1.0,
        timeout: Duration::from_secs(120),
        network: false,
        cache_max: 10 << 30,
        queue: Arc::new(BuildQueue::new(1)),
    };
    let result = scene.deploy(STACK, dir.path(), 1, &limits, &steps).await;
    let checks = async {
        let addr = result.clone()?;
        assert_eq!(get(addr, "/index.html"), "<h1>from the project</h1>");
        assert_eq!(get(addr, "/built.txt"), "built-hello");
        // `[build] network = false`: the build's steps had only the loopback interface.
        assert_eq!(get(addr, "/net.txt"), "lo");
        assert_eq!(get(addr, "/env.txt"), "hi file-value a file-value");
        assert_eq!(get(addr, "/secret.txt"), "t0ken-value");
        assert!(get(addr, "/secret-mode.txt").starts_with("-r--------"));
        assert_eq!(get(addr, "/seed.txt"), "seeded once");
        let steps = steps.lock().unwrap().clone();
        assert!(steps.iter().any(
            |s| matches!(s, Progress::Building { image, .. } if image == "clubhost/bt-files/web:1")
        ));
        assert!(
            steps
                .iter()
                .any(|s| matches!(s, Progress::BuildLog { line, .. } if line.contains("Step 1/"))),
            "{steps:?}"
        );
        // The image carries the instance's labels; the ignored file never reached the engine.
        let labels = docker(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Labels}}",
            "clubhost/bt-files/web:1",
        ]);
        assert!(
            labels.contains("\"clubhost.project\":\"bt-files\""),
            "{labels}"
        );
        // A second deployment: the project volume keeps its data (seeded once), the read-only
        // file comes from the new revision.
        std::fs::write(dir.path().join("data/seed.txt"), "new revision").unwrap();
        std::fs::write(dir.path().join("site/index.html"), "v2").unwrap();
        let addr = scene
            .deploy(STACK, dir.path(), 2, &limits, &Mutex::new(Vec::new()))
            .await?;
        assert_eq!(get(addr, "/seed.txt"), "changed");
        assert_eq!(get(addr, "/index.html"), "v2");
        Ok::<_, String>(())
    };
    let outcome = checks.await;
    scene.clean().await;
    outcome.unwrap();
}

#[tokio::test]
async fn a_build_past_its_memory_is_stopped_saying_so() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[(
            "app/Dockerfile",
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox head -c 400m /dev/zero | /bin/busybox sort > /dev/null\"]\n",
        )],
    );
    let scene = Scene::new("bt-oom").await;
    let limits = BuildLimits {
        memory: 48 << 20,
        timeout: Duration::from_secs(120),
        ..BuildLimits::default()
    };
    let stack = "services:\n  web:\n    build: ./app\n";
    let result = scene
        .deploy(stack, dir.path(), 1, &limits, &Mutex::new(Vec::new()))
        .await;
    scene.clean().await;
    let e = result.unwrap_err();
    assert!(
        e.contains("ran out of memory") && e.contains("48 MiB"),
        "{e}"
    );
    assert!(e.contains("last lines of the build log"), "{e}");
}

#[tokio::test]
async fn a_build_past_its_timeout_is_stopped_and_leaves_no_build_container() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("clubhost-bt-sleep-{}", std::process::id());
    project(
        dir.path(),
        &[(
            "app/Dockerfile",
            &format!(
                "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox sleep 600 # {marker}\"]\n"
            ),
        )],
    );
    let scene = Scene::new("bt-slow").await;
    let limits = BuildLimits {
        timeout: Duration::from_secs(5),
        ..BuildLimits::default()
    };
    let stack = "services:\n  web:\n    build: ./app\n";
    let started = std::time::Instant::now();
    let result = scene
        .deploy(stack, dir.path(), 1, &limits, &Mutex::new(Vec::new()))
        .await;
    let took = started.elapsed();
    // The engine removes the cancelled build's container; give it a moment.
    let mut left = String::new();
    for _ in 0..50 {
        left = docker(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"])
            .lines()
            .filter(|l| l.contains(&marker))
            .collect();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    scene.clean().await;
    let e = result.unwrap_err();
    assert!(e.contains("did not finish within 5s"), "{e}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert!(left.is_empty(), "build container left: {left}");
}

#[tokio::test]
async fn a_context_with_a_symlink_is_refused_before_anything_is_built() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[("app/Dockerfile", DOCKERFILE), ("secret.txt", "x")],
    );
    std::os::unix::fs::symlink("../secret.txt", dir.path().join("app/link")).unwrap();
    let scene = Scene::new("bt-link").await;
    let steps = Mutex::new(Vec::new());
    let stack = "services:\n  web:\n    build: ./app\n";
    let result = scene
        .deploy(stack, dir.path(), 1, &BuildLimits::default(), &steps)
        .await;
    scene.clean().await;
    let e = result.unwrap_err();
    assert!(e.contains("\"link\" is a symlink"), "{e}");
    assert!(
        !steps
            .lock()
            .unwrap()
            .iter()
            .any(|s| matches!(s, Progress::Building { .. }))
    );
    // `..` never gets that far: the stack is refused with its line.
    let e = scene
        .deploy(
            "services:\n  web:\n    build: ../app\n",
            dir.path(),
            2,
            &BuildLimits::default(),
            &steps,
        )
        .await
        .unwrap_err();
    assert!(
        e.contains("line 3") && e.contains("outside the project's files"),
        "{e}"
    );
}

#[tokio::test]
async fn builds_beyond_the_concurrency_wait_in_one_queue_across_projects() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[(
            "app/Dockerfile",
            "FROM scratch\nCOPY busybox /bin/busybox\nARG NONCE\nRUN [\"/bin/busybox\", \"sleep\", \"2\"]\n",
        )],
    );
    let queue = Arc::new(BuildQueue::new(1));
    let limits = BuildLimits {
        queue: queue.clone(),
        ..BuildLimits::default()
    };
    let (a, b) = (Scene::new("bt-qa").await, Scene::new("bt-qb").await);
    let (sa, sb) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
    // No container to start: the stacks are one-shot services that fail after the build; only
    // the builds' order matters here.
    let stack = "services:\n  web:\n    build:\n      context: ./app\n      args: { NONCE: \"${NONCE}\" }\n";
    let stack_a = stack.replace("${NONCE}", "a");
    let stack_b = stack.replace("${NONCE}", "b");
    let (ra, rb) = tokio::join!(
        a.deploy(&stack_a, dir.path(), 1, &limits, &sa),
        b.deploy(&stack_b, dir.path(), 1, &limits, &sb)
    );
    a.clean().await;
    b.clean().await;
    let built = |s: &Mutex<Vec<Progress>>| {
        s.lock()
            .unwrap()
            .iter()
            .any(|p| matches!(p, Progress::Built { .. }))
    };
    assert!(built(&sa) && built(&sb), "{ra:?} {rb:?}");
    let queued: Vec<Progress> = [sa, sb]
        .into_iter()
        .flat_map(|s| s.into_inner().unwrap())
        .filter(|p| matches!(p, Progress::BuildQueued { .. }))
        .collect();
    assert_eq!(
        queued,
        [Progress::BuildQueued {
            service: "web".into(),
            position: 1
        }]
    );
}

#[tokio::test]
async fn earlier_builds_of_a_tag_are_pruned_past_cache_max() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), &[]);
    let scene = Scene::new("bt-prune").await;
    let tag = "clubhost/bt-prune/web:1";
    let mut ids = Vec::new();
    for content in ["first", "second"] {
        std::fs::write(
            dir.path().join("app/Dockerfile"),
            format!("FROM scratch\nCOPY busybox /bin/busybox\nLABEL content={content}\n"),
        )
        .unwrap();
        let args = Default::default();
        let job = clubhost_docker::BuildJob {
            tag,
            project: "bt-prune",
            dockerfile: "Dockerfile",
            args: &args,
            target: None,
            memory: 256 << 20,
            cpus: 1.0,
            network: false,
            timeout: Duration::from_secs(60),
            labelled: false,
        };
        let context =
            deploy::context_tar(&dir.path().join("app"), ".", "Dockerfile", None).unwrap();
        ids.push(
            scene
                .engine
                .build_image(&job, context, &mut |_| {})
                .await
                .unwrap(),
        );
    }
    // The first build's image lost its tag: a dangling image of this instance.
    let exists = |id: &str| {
        !docker(&["images", "-q", "--no-trunc", "-a"])
            .lines()
            .all(|l| l != id)
    };
    assert!(exists(&ids[0]), "{ids:?}");
    // Under the cap nothing goes; past it, the dangling one does (the tagged one stays).
    let spare = Duration::ZERO;
    assert_eq!(scene.engine.prune_builds(u64::MAX, spare).await.unwrap(), 0);
    assert!(exists(&ids[0]));
    let freed = scene.engine.prune_builds(0, spare).await.unwrap();
    let (first_gone, second_kept) = (!exists(&ids[0]), exists(&ids[1]));
    scene.clean().await;
    assert!(first_gone && second_kept && freed > 0, "freed {freed}");
}
