//! Load benchmark of the runner over real HTTP (not a test; `harness = false`).
//!
//! `cargo bench -p sales-runner --bench runner`
//!
//! Starts the runner in-process on 127.0.0.1:0 with the probe guest, then for
//! a no-op request and a request doing one SQLite read, at concurrency 1, 16
//! and 64, runs keep-alive HTTP/1.1 clients in a closed loop for a fixed time
//! and reports requests/s and p50/p99 latency. A bare hyper server answering
//! 200 is measured the same way as the baseline, so "runner overhead" is the
//! runner's p50 minus the baseline's p50 at concurrency 1 (client, kernel and
//! HTTP costs cancel out). Load generator and server share the machine.
//!
//! Environment: `BENCH_SECONDS` (default 5) per scenario; `BENCH_ONLY` (a
//! comma-separated list of `baseline`, `noop`, `sqlread`) and
//! `BENCH_CONCURRENCY` (e.g. `1,16`) narrow the run, for profiling.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn build_guest() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--release",
            "-p",
            "runner-guest-probe",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join("wasm32-wasip2/release/runner_guest_probe.wasm")
}

struct Stats {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

async fn client_loop(addr: SocketAddr, path: &'static str, until: Instant) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut latencies = Vec::with_capacity(100_000);
    while Instant::now() < until {
        let req = http::Request::get(path)
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let started = Instant::now();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.unwrap();
        latencies.push(started.elapsed());
    }
    latencies
}

async fn measure(addr: SocketAddr, path: &'static str, concurrency: usize, seconds: f64) -> Stats {
    // Warm-up: fill caches and the pooling allocator's slots.
    let warm = Instant::now() + Duration::from_millis(500);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(client_loop(addr, path, warm)))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(client_loop(addr, path, until)))
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Stats {
        rps: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

async fn baseline_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::new())))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass other
    // flags: only run when asked to benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // As `sales-runner up` does, before any thread starts.
    sales_runner::quiet_error_backtraces();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}

async fn bench() {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let wasm = build_guest();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"bench\"\n\
             [[trigger.http]]\nroute = \"/...\"\ncomponent = \"probe\"\n\
             [component.probe]\nsource = \"{}\"\nsqlite_databases = [\"default\"]\n",
            wasm.display()
        ),
    )
    .unwrap();
    let mut opts = sales_runner::UpOptions::new(&manifest);
    opts.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    opts.state_dir = dir.path().join(".spin");
    let app = sales_runner::start(opts).await.unwrap();
    let addr = app.local_addr();
    let base = baseline_server().await;

    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').map(|w| w.trim().to_string()).collect());
    let levels: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .map(|s| s.split(',').filter_map(|w| w.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64]);
    println!("| scenario | concurrency | requests/s | p50 | p99 |");
    println!("|---|---|---|---|---|");
    let mut base_p50 = Duration::ZERO;
    let mut noop_p50 = Duration::ZERO;
    for (key, name, target, path) in [
        (
            "baseline",
            "baseline: bare hyper server, no runner",
            base,
            "/",
        ),
        ("noop", "no-op component", addr, "/?op=noop"),
        (
            "sqlread",
            "one SQLite read (`SELECT 1` on `default`)",
            addr,
            "/?op=sqlread",
        ),
    ] {
        if only.as_ref().is_some_and(|o| !o.iter().any(|w| w == key)) {
            continue;
        }
        for &c in &levels {
            let s = measure(target, path, c, seconds).await;
            println!(
                "| {name} | {c} | {:.0} | {} | {} |",
                s.rps,
                us(s.p50),
                us(s.p99)
            );
            if c == 1 && target == base {
                base_p50 = s.p50;
            }
            if c == 1 && path == "/?op=noop" {
                noop_p50 = s.p50;
            }
        }
    }
    println!(
        "\nrunner overhead at concurrency 1 (no-op p50 - baseline p50): {}",
        us(noop_p50.saturating_sub(base_p50))
    );
    // What the process holds after the run: the pool's warm slots and the
    // memory they keep resident, and the resident set size.
    if let Some(m) = sales_runner::pool_metrics() {
        println!(
            "pool after the run: {} warm unused memory slots keeping {:.1} MiB resident, \
             {} warm unused table slots keeping {:.1} MiB",
            m.unused_warm_memories(),
            m.unused_memory_bytes_resident() as f64 / 1048576.0,
            m.unused_warm_tables(),
            m.unused_table_bytes_resident() as f64 / 1048576.0,
        );
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        {
            println!("{line}");
        }
    }
    app.shutdown().await;
}
