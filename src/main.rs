//! The clubhost binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;

/// mimalloc instead of glibc's malloc: the proxy allocates and frees small buffers on every
/// request, and glibc's malloc/free were ≈ 7 % of the proxy's instructions per request
/// (bench/callgrind.sh, docs/performance.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLUBHOST_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = clubhost::cli::Cli::parse();
    match clubhost::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
