//! `sales-runner up`: run a Spin application locally, like `spin up`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sales-runner",
    version,
    about = "Run a Spin application locally, like `spin up`"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the application.
    Up(UpArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// The application manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Runtime configuration file (stores).
    #[arg(long = "runtime-config-file")]
    runtime_config_file: Option<PathBuf>,
    /// Directory for the default SQLite database and key-value store
    /// (default: `.spin` beside the manifest).
    #[arg(long = "state-dir")]
    state_dir: Option<PathBuf>,
    /// Set an application variable (`key=value`), repeatable.
    #[arg(long = "variable", value_name = "KEY=VALUE")]
    variables: Vec<String>,
    /// Run a statement (or `@file.sql`) on the `default` database before serving.
    #[arg(long = "sqlite", value_name = "STATEMENT")]
    sqlite: Vec<String>,
    /// Publish `tick` on `--tick-channel` at this interval (e.g. `5s`).
    #[arg(long)]
    tick: Option<String>,
    /// Channel for `--tick`.
    #[arg(long = "tick-channel", default_value = sales_runner::DEFAULT_TICK_CHANNEL)]
    tick_channel: String,
    /// Deadline for one request or message (e.g. `30s`).
    #[arg(long = "request-timeout", default_value = "30s")]
    request_timeout: String,
    /// Linear memory limit per instance, in MiB.
    #[arg(long = "memory-limit-mib", default_value_t = 256)]
    memory_limit_mib: usize,
}

fn options(args: UpArgs) -> Result<sales_runner::UpOptions> {
    let mut opts = sales_runner::UpOptions::new(args.from);
    opts.listen = args.listen;
    opts.runtime_config = args.runtime_config_file;
    if let Some(dir) = args.state_dir {
        opts.state_dir = dir;
    }
    for v in args.variables {
        let (k, val) = v
            .split_once('=')
            .with_context(|| format!("failed to parse --variable {v:?}: expected key=value"))?;
        opts.variables.push((k.to_string(), val.to_string()));
    }
    opts.sqlite = args.sqlite;
    if let Some(t) = args.tick {
        let interval = sales_runner::parse_duration(&t)
            .map_err(|e| anyhow::anyhow!(e))
            .context("failed to parse --tick")?;
        opts.tick = Some(sales_runner::TickOptions {
            interval,
            channel: args.tick_channel,
        });
    }
    opts.request_timeout = sales_runner::parse_duration(&args.request_timeout)
        .map_err(|e| anyhow::anyhow!(e))
        .context("failed to parse --request-timeout")?;
    opts.memory_limit = args.memory_limit_mib << 20;
    Ok(opts)
}

async fn wait_for_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("failed to listen for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

fn main() -> Result<()> {
    sales_runner::quiet_error_backtraces();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?
        .block_on(run())
}

async fn run() -> Result<()> {
    // Request lines are written in batches (see `LogWriter`); whatever is
    // still collected is written before the process exits.
    let log = sales_runner::LogWriter::stderr().context("failed to start the log writer")?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SALES_RUNNER_LOG")
                .or_else(|_| tracing_subscriber::EnvFilter::try_new("info"))
                .context("failed to set up logging")?,
        )
        .with_writer(log.clone())
        // Colour codes only for a terminal, not in log files and CI output.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = serve().await;
    log.flush();
    result
}

async fn serve() -> Result<()> {
    let Cli {
        command: Command::Up(args),
    } = Cli::parse();
    let opts = options(args)?;
    let app = sales_runner::start(opts)
        .await
        .context("failed to start the application")?;
    println!("listening on http://{}", app.local_addr());
    wait_for_signal().await?;
    tracing::info!("shutting down; waiting for in-flight requests");
    app.shutdown().await;
    Ok(())
}
