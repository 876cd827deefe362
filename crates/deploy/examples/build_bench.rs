//! `bench/build.sh`'s clubhost side: builds the context `DIR` the way a deploy does (the
//! context's tar from the project's files, then the engine's classic builder under `[build]`'s
//! default limits) `N` times, each with a fresh `NONCE` build argument so no step after it comes
//! from the cache, and prints each build's wall-clock seconds. Removes the images it tagged.
//!
//! `cargo run --release -p clubhost-deploy --example build_bench -- DIR N`

use std::time::Instant;

use clubhost_deploy::{BuildLimits, context_tar};
use clubhost_docker::{BuildJob, Engine};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: build_bench DIR N");
    let runs: u32 = args.next().map_or(5, |n| n.parse().expect("N is a number"));
    let engine = Engine::connect(None, "build-bench").await.expect("engine");
    let limits = BuildLimits::default();
    for run in 0..runs {
        let nonce = format!("clubhost-{}-{run}", std::process::id());
        let args = [("NONCE".to_string(), nonce)].into();
        let tag = format!("clubhost-bench/build:{run}");
        let job = BuildJob {
            tag: &tag,
            project: "build-bench",
            dockerfile: "Dockerfile",
            args: &args,
            target: None,
            memory: limits.memory,
            cpus: limits.cpus,
            network: limits.network,
            timeout: limits.timeout,
            labelled: true,
        };
        let started = Instant::now();
        let tail = engine.label_line("build-bench");
        let context = context_tar(std::path::Path::new(&dir), ".", "Dockerfile", Some(&tail))
            .expect("context");
        engine
            .build_image(&job, context, &mut |_| {})
            .await
            .expect("build");
        println!("{:.3}", started.elapsed().as_secs_f64());
        let _ = std::process::Command::new("docker")
            .args(["rmi", &tag])
            .output();
    }
}
