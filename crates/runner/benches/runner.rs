//! Load benchmark of the runner over real HTTP (not a test; `harness = false`).
//!
//! `cargo bench -p sales-runner --bench runner`
//!
//! Client and servers are separate processes, as with `wrk` or `oha`: the
//! bench (the client) starts `sales-runner up` (the binary cargo builds for
//! this bench, release profile) with two guests, and — as the baseline —
//! itself again as a bare hyper server answering 200, on the same runtime
//! settings as `sales-runner up`. On a machine with two or more CPUs the
//! servers are pinned to CPU 0 and the client to CPU 1 (`taskset`), so the
//! client's and the server's work never share a core and the server's Tokio
//! runtime has one worker, as on a one-vCPU container. For a no-op request
//! (`noop`: the minimal guest, `crates/runner/guests/minimal`, which answers
//! 200 and reads nothing of the request), the probe guest's `?op=noop`
//! (`probe`: spin-sdk's full `Request` conversion — every header, the body,
//! the query — before answering) and a request doing one SQLite read
//! (`sqlread`, probe guest), at concurrency 1, 16 and 64, the
//! client runs keep-alive HTTP/1.1 connections in a closed loop for a fixed
//! time (after a 0.5 s warm-up) and reports requests/s, p50/p99 latency and
//! the server process's CPU time per request (user + system, from
//! `/proc/<pid>/stat`: independent of the client, and much less of the
//! machine's load than latency is), the machine's steal time over the row
//! (`/proc/stat`) and the server's context switches per request (voluntary
//! and not, summed over its threads from `/proc/<pid>/task/*/status`).
//! "Runner overhead" is the no-op p50 (and CPU per request) minus the
//! baseline's at concurrency 1: client, kernel TCP and HTTP parsing costs
//! cancel out; it is given for the minimal guest (the headline) and for
//! the probe guest's `?op=noop`.
//!
//! Environment: `BENCH_SECONDS` (default 5) per row; `BENCH_ONLY` (a
//! comma-separated list of `baseline`, `noop`, `probe`, `sqlread`) and
//! `BENCH_CONCURRENCY` (e.g. `1,16`) narrow the run; `BENCH_PIN=0` turns the
//! CPU pinning off; `BENCH_GUEST=<file.wasm>` uses an already built probe
//! guest instead of running `cargo build` for the guests, and
//! `BENCH_MINIMAL_GUEST=<file.wasm>` the minimal one (default:
//! `runner_guest_minimal.wasm` beside `BENCH_GUEST`); `BENCH_THINK_US=<µs>`
//! makes each client pause that long after every response (requests are
//! then not back to back: the server goes idle between them, as the bare
//! server does anyway); `BENCH_RUNNER=<path>`
//! measures another `sales-runner` binary (an older build, for a
//! before/after comparison); `SALES_RUNNER_LOG` is passed to the runner (default
//! `info`: one log line per request, as `sales-runner up` logs; the log goes
//! to a file in the temp dir).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};

const BASELINE_FLAG: &str = "--baseline-server";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The probe guest and the minimal guest, built unless given.
fn build_guests() -> (PathBuf, PathBuf) {
    if let Some(wasm) = std::env::var_os("BENCH_GUEST") {
        let probe = PathBuf::from(wasm);
        let minimal = std::env::var_os("BENCH_MINIMAL_GUEST")
            .map(PathBuf::from)
            .unwrap_or_else(|| probe.with_file_name("runner_guest_minimal.wasm"));
        return (probe, minimal);
    }
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--release",
            "-p",
            "runner-guest-probe",
            "-p",
            "runner-guest-minimal",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("wasm32-wasip2/release");
    (
        target.join("runner_guest_probe.wasm"),
        target.join("runner_guest_minimal.wasm"),
    )
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts `program args`, pinned to `cpu` when given, and waits for its
    /// `listening on http://ADDR` line.
    fn start(program: &Path, args: &[&str], cpu: Option<usize>, stderr: Stdio) -> Server {
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(program);
                c
            }
            None => Command::new(program),
        };
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line from {}: {line:?}", program.display()))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    /// User + system CPU time of the process so far (all its threads).
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // USER_HZ is 100 on Linux.
        Duration::from_millis(ticks * 10)
    }

    /// Context switches of the process so far, voluntary and not, summed
    /// over its threads.
    fn context_switches(&self) -> (u64, u64) {
        let mut total = (0, 0);
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.child.id())) else {
            return total;
        };
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            for line in status.lines() {
                let value = |l: &str| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                if line.starts_with("voluntary_ctxt_switches") {
                    total.0 += value(line);
                } else if line.starts_with("nonvoluntary_ctxt_switches") {
                    total.1 += value(line);
                }
            }
        }
        total
    }

    fn status_lines(&self) -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The baseline: a bare hyper server answering 200 with an empty body, on
/// a runtime built like `sales-runner up`'s.
fn baseline_server() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            println!("listening on http://{}", listener.local_addr().unwrap());
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::new(),
                        )))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
}

struct Stats {
    rps: f64,
    p50: Duration,
    p99: Duration,
    /// Server CPU time per request.
    cpu: Duration,
    /// Steal time of the whole machine over the row.
    steal: Duration,
    /// The server's voluntary and involuntary context switches per request.
    csw: (f64, f64),
}

/// Steal time of all CPUs so far (`/proc/stat`, in USER_HZ ticks of 10 ms).
fn steal_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks = stat
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(8))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

async fn client_loop(addr: SocketAddr, path: &'static str, until: Instant) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let host = addr.to_string();
    let think = think_time();
    let mut latencies = Vec::with_capacity(100_000);
    while Instant::now() < until {
        let req = http::Request::get(path)
            .header("host", &host)
            .body(Empty::<Bytes>::new())
            .unwrap();
        let started = Instant::now();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.unwrap();
        latencies.push(started.elapsed());
        if !think.is_zero() {
            // Blocks the client's one thread: nothing else to do meanwhile.
            std::thread::sleep(think);
        }
    }
    latencies
}

/// `BENCH_THINK_US`: a pause of the client after each response (default
/// none: back-to-back requests).
fn think_time() -> Duration {
    std::env::var("BENCH_THINK_US")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::ZERO, Duration::from_micros)
}

async fn run_clients(
    addr: SocketAddr,
    path: &'static str,
    concurrency: usize,
    until: Instant,
) -> Vec<Duration> {
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(client_loop(addr, path, until)))
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

async fn measure(server: &Server, path: &'static str, concurrency: usize, seconds: f64) -> Stats {
    // Warm-up: fill caches and the pooling allocator's slots.
    run_clients(
        server.addr,
        path,
        concurrency,
        Instant::now() + Duration::from_millis(500),
    )
    .await;
    let cpu_before = server.cpu_time();
    let steal_before = steal_time();
    let csw_before = server.context_switches();
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut all = run_clients(server.addr, path, concurrency, until).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_time().saturating_sub(cpu_before);
    let steal = steal_time().saturating_sub(steal_before);
    let csw_after = server.context_switches();
    let n = all.len().max(1) as f64;
    let csw = (
        csw_after.0.saturating_sub(csw_before.0) as f64 / n,
        csw_after.1.saturating_sub(csw_before.1) as f64 / n,
    );
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Stats {
        rps: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        cpu: cpu / all.len().max(1) as u32,
        steal,
        csw,
    }
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Pins this process (the client) to `cpu`; threads started afterwards
/// inherit the mask.
fn pin_self(cpu: usize) -> bool {
    Command::new("taskset")
        .args([
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn main() {
    if std::env::args().any(|a| a == BASELINE_FLAG) {
        baseline_server();
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass other
    // flags: only run when asked to benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = std::env::var("BENCH_PIN").map_or(true, |v| v != "0") && cpus >= 2;
    let (server_cpu, pinned) = if pin && pin_self(1) {
        (Some(0), true)
    } else {
        (None, false)
    };
    // The client: one thread, like `wrk -t1`.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench(server_cpu, pinned));
}

async fn bench(server_cpu: Option<usize>, pinned: bool) {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let (wasm, minimal) = build_guests();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"bench\"\n\
             [[trigger.http]]\nroute = \"/...\"\ncomponent = \"probe\"\n\
             [[trigger.http]]\nroute = \"/minimal\"\ncomponent = \"minimal\"\n\
             [component.probe]\nsource = \"{}\"\nsqlite_databases = [\"default\"]\n\
             [component.minimal]\nsource = \"{}\"\n",
            wasm.display(),
            minimal.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("runner.log")).unwrap();
    let runner_exe = std::env::var_os("BENCH_RUNNER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sales-runner")));
    let runner = Server::start(
        &runner_exe,
        &[
            "up",
            "--from",
            manifest.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            dir.path().join(".spin").to_str().unwrap(),
        ],
        server_cpu,
        Stdio::from(log),
    );
    let base = Server::start(
        &std::env::current_exe().unwrap(),
        &[BASELINE_FLAG],
        server_cpu,
        Stdio::inherit(),
    );

    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').map(|w| w.trim().to_string()).collect());
    let levels: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .map(|s| s.split(',').filter_map(|w| w.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64]);
    println!(
        "load average at the start: {}; {}",
        loadavg(),
        if pinned {
            "servers pinned to CPU 0, client to CPU 1"
        } else {
            "not pinned"
        }
    );
    println!(
        "| scenario | concurrency | requests/s | p50 | p99 | server CPU/request | steal (all CPUs) | server context switches/request (voluntary + involuntary) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut base_c1 = None;
    let mut noop_c1 = None;
    let mut probe_c1 = None;
    for (key, name, server, path) in [
        (
            "baseline",
            "baseline: bare hyper server, no runner",
            &base,
            "/",
        ),
        (
            "noop",
            "no-op component (minimal guest)",
            &runner,
            "/minimal",
        ),
        ("probe", "probe guest `?op=noop`", &runner, "/?op=noop"),
        (
            "sqlread",
            "one SQLite read (`SELECT 1` on `default`)",
            &runner,
            "/?op=sqlread",
        ),
    ] {
        if only.as_ref().is_some_and(|o| !o.iter().any(|w| w == key)) {
            continue;
        }
        for &c in &levels {
            let s = measure(server, path, c, seconds).await;
            println!(
                "| {name} | {c} | {:.0} | {} | {} | {} | {} ms | {:.2} + {:.2} |",
                s.rps,
                us(s.p50),
                us(s.p99),
                us(s.cpu),
                s.steal.as_millis(),
                s.csw.0,
                s.csw.1
            );
            if c == 1 && key == "baseline" {
                base_c1 = Some((s.p50, s.cpu));
            }
            if c == 1 && key == "noop" {
                noop_c1 = Some((s.p50, s.cpu));
            }
            if c == 1 && key == "probe" {
                probe_c1 = Some((s.p50, s.cpu));
            }
        }
    }
    for (what, row) in [
        ("no-op, minimal guest", noop_c1),
        ("probe guest ?op=noop", probe_c1),
    ] {
        if let (Some((bp, bc)), Some((np, nc))) = (base_c1, row) {
            println!(
                "runner overhead at concurrency 1 ({what} - baseline): p50 {}, server CPU/request {}",
                us(np.saturating_sub(bp)),
                us(nc.saturating_sub(bc))
            );
        }
    }
    println!(
        "runner process after the run: {}; load average at the end: {}",
        runner.status_lines().join(", "),
        loadavg()
    );
}
