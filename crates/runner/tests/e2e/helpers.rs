//! Test harness: builds the guest components once, writes a `spin.toml` per
//! test into a temp dir, starts the runner through the library on
//! 127.0.0.1:0 and talks HTTP to it.

// Test support code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sales_runner::{RunningApp, UpOptions};
use serde_json::Value;

static BUILD: Once = Once::new();

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Path of a built guest, building all guests first (once per process; a
/// no-op when they are up to date).
pub fn guest(name: &str) -> PathBuf {
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args([
                "build",
                "--target",
                "wasm32-wasip2",
                "--release",
                "-p",
                "runner-guest-probe",
                "-p",
                "runner-guest-redis-sink",
            ])
            .status()
            .expect("failed to run cargo build for the guests");
        assert!(status.success(), "building the test guests failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.exists(), "missing guest {}", path.display());
    path
}

/// The probe guest (HTTP).
pub fn probe() -> String {
    guest("runner-guest-probe").display().to_string()
}

/// The redis sink guest.
pub fn sink() -> String {
    guest("runner-guest-redis-sink").display().to_string()
}

/// A temp dir with a manifest in it, ready to start.
pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub opts: UpOptions,
}

impl TestApp {
    /// Writes `manifest` (with `{probe}` / `{sink}` replaced by guest paths).
    pub fn new(manifest: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let text = manifest
            .replace("{probe}", &probe())
            .replace("{sink}", &sink());
        let path = dir.path().join("spin.toml");
        std::fs::write(&path, text).unwrap();
        let mut opts = UpOptions::new(&path);
        opts.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        opts.state_dir = dir.path().join(".spin");
        opts.env_variables = false;
        opts.request_timeout = Duration::from_secs(10);
        Self { dir, opts }
    }

    /// Writes a file beside the manifest.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    pub async fn start(self) -> Running {
        let app = sales_runner::start(self.opts.clone())
            .await
            .expect("runner failed to start");
        Running {
            app: Some(app),
            _dir: self.dir,
        }
    }

    pub async fn start_err(self) -> String {
        match sales_runner::start(self.opts.clone()).await {
            Ok(_) => panic!("start unexpectedly succeeded"),
            Err(e) => format!("{e:#}"),
        }
    }
}

/// A response, fully read.
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub struct Running {
    pub app: Option<RunningApp>,
    _dir: tempfile::TempDir,
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.app.as_ref().unwrap().local_addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr(), path)
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        send(method, &self.url(path), headers, body).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[], "").await
    }

    pub async fn post(&self, path: &str, body: &str) -> Resp {
        self.request("POST", path, &[], body).await
    }

    /// Runs SQL statements through the probe on one connection.
    pub async fn sql(&self, db: &str, statements: &[(&str, Value)]) -> Value {
        let statements: Vec<Value> = statements
            .iter()
            .map(|(sql, params)| serde_json::json!({"sql": sql, "params": params}))
            .collect();
        let body = serde_json::json!({"db": db, "statements": statements}).to_string();
        self.post("/probe?op=sqlite", &body).await.json()
    }

    /// Shuts down gracefully; returns the temp dir so a test can inspect
    /// the state left behind.
    pub async fn shutdown(mut self) -> tempfile::TempDir {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        self._dir
    }
}

pub async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    let resp = client.request(req).await.expect("request failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// Polls `f` until it returns `Some`, for at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// A throwaway `redis-server` on a free loopback port, killed on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    /// Kills the server and starts a fresh one on the same port (an outage
    /// and a restart): every connection to the old one is gone.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(std::mem::replace(self, Self::start_on(self.port)));
    }

    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback HTTP server standing in for an outside system; answers
/// `stub:<path>` and counts requests.
pub async fn stub_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let body = format!("stub:{}", req.uri().path());
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from(body),
                        )))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}
