//! The end-to-end test harness.
//!
//! [`TestApp::spawn`] starts the runner in-process on `127.0.0.1:0` with the
//! project's real `spin.toml`, the real `.wasm` components (built by
//! `scripts/build-wasm`) and a fresh state directory, and hands back a client
//! with readable calls (`app.create_customer(..)`).
//!
//! Set `SALES_BASE_URL` and `SALES_API_KEY` to point the same suite at an
//! already-running instance instead: real Spin, or a deployed cluster. The
//! suites create uniquely named records and count through filters or
//! before/after, never assuming an empty database; a test that needs its own
//! runner processes (several replicas on one database file) or a fresh
//! installation's defaults still starts or skips its own.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub use serde_json::json;

pub mod approvals;
pub mod demand;
pub mod shop;

/// The workspace root (where `spin.toml` lives).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// A running app and a client for it.
pub struct TestApp {
    pub base_url: String,
    pub admin_key: String,
    client: reqwest::Client,
    /// Kept so the state directory lives as long as the app.
    _state: Option<tempfile::TempDir>,
    running: Option<sales_runner::RunningApp>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem `code` of an error reply.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Asserts a problem+json reply with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "not a problem+json reply: {}",
            self.text
        );
        assert_eq!(
            self.code(),
            code,
            "unexpected problem code; body: {}",
            self.text
        );
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        &self.body
    }
}

impl TestApp {
    /// Starts a fresh app, or connects to `SALES_BASE_URL`.
    pub async fn spawn() -> Result<TestApp> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("failed to build the HTTP client")?;
        if let Ok(base_url) = std::env::var("SALES_BASE_URL") {
            let admin_key = std::env::var("SALES_API_KEY")
                .context("SALES_API_KEY must be set with SALES_BASE_URL")?;
            return Ok(TestApp {
                base_url: base_url.trim_end_matches('/').to_string(),
                admin_key,
                client,
                _state: None,
                running: None,
            });
        }
        let mut apps = TestApp::spawn_replicas(1).await?;
        apps.pop().context("no app started")
    }

    /// `n` in-process runners serving one state directory — one SQLite file
    /// — with one admin key, as replicas on a shared database would. The
    /// first app owns the directory; keep them all alive together.
    pub async fn spawn_replicas(n: usize) -> Result<Vec<TestApp>> {
        TestApp::spawn_replicas_with(n, &[]).await
    }

    /// A fresh in-process app with extra Spin variables
    /// (`("fault_points", "submit.before_commit")`). Always starts its own
    /// runner, even with `SALES_BASE_URL` set: the variables are the point.
    pub async fn spawn_with(variables: &[(&str, &str)]) -> Result<TestApp> {
        let mut apps = TestApp::spawn_replicas_with(1, variables).await?;
        apps.pop().context("no app started")
    }

    /// [`TestApp::spawn_replicas`] with extra Spin variables.
    pub async fn spawn_replicas_with(n: usize, variables: &[(&str, &str)]) -> Result<Vec<TestApp>> {
        let root = workspace_root();
        check_components_built(&root)?;
        let state = tempfile::tempdir().context("failed to create a state directory")?;
        let admin_key = format!("sk_test_{}", uuid::Uuid::now_v7().simple());
        let dir = state.path().to_path_buf();
        let mut owner = Some(state);
        let mut apps = Vec::with_capacity(n);
        for _ in 0..n {
            let mut opts = sales_runner::UpOptions::new(root.join("spin.toml"));
            opts.listen = "127.0.0.1:0"
                .parse()
                .context("failed to parse the listen address")?;
            opts.state_dir = dir.clone();
            opts.variables
                .push(("admin_api_key".to_string(), admin_key.clone()));
            for (name, value) in variables {
                opts.variables.push((name.to_string(), value.to_string()));
            }
            let running = sales_runner::start(opts)
                .await
                .context("failed to start the runner")?;
            apps.push(TestApp {
                base_url: format!("http://{}", running.local_addr()),
                admin_key: admin_key.clone(),
                client: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(60))
                    .build()
                    .context("failed to build the HTTP client")?,
                _state: owner.take(),
                running: Some(running),
            });
        }
        Ok(apps)
    }

    /// A client for an app started elsewhere (a runner process, real Spin).
    pub fn connect(base_url: &str, admin_key: &str) -> Result<TestApp> {
        Ok(TestApp {
            base_url: base_url.trim_end_matches('/').to_string(),
            admin_key: admin_key.to_string(),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .context("failed to build the HTTP client")?,
            _state: None,
            running: None,
        })
    }

    /// The SQLite file behind the `default` database of an app this
    /// harness started (`None` for `SALES_BASE_URL`). For tests that stand
    /// in for the passage of time (backdating a date) where the API rightly
    /// refuses a date in the past; never for asserting through the back door.
    pub fn database_path(&self) -> Option<PathBuf> {
        self._state.as_ref().map(|s| s.path().join("sqlite_db.db"))
    }

    /// Stops the in-process runner, letting in-flight requests finish.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        Ok(())
    }

    /// A request with the admin key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Reply> {
        self.call_as(&self.admin_key.clone(), method, path, body, &[])
            .await
    }

    /// A request with a given key (`""` sends no Authorization header) and
    /// extra headers.
    pub async fn call_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply> {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base_url, path));
        if !key.is_empty() {
            req = req.bearer_auth(key);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        read(
            req.send()
                .await
                .with_context(|| format!("failed to call {path}"))?,
        )
        .await
    }

    /// A request with a raw body and content type, for malformed-input tests.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> Result<Reply> {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base_url, path))
            .bearer_auth(&self.admin_key)
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(
            req.send()
                .await
                .with_context(|| format!("failed to call {path}"))?,
        )
        .await
    }

    /// [`TestApp::call_raw`] with a given key (an import by a scoped key).
    pub async fn call_raw_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> Result<Reply> {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base_url, path))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(
            req.send()
                .await
                .with_context(|| format!("failed to call {path}"))?,
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Reply> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A POST with the admin key whose answer is decoded straight into `T`
    /// (unknown fields skipped) instead of a [`Reply`]: for benchmarks,
    /// whose client shares the machine with the server and should cost as
    /// little as it can. The status, and the body's text when it does not
    /// decode, come back too. `headers` are sent besides.
    pub async fn post_typed<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, std::result::Result<T, String>)> {
        let mut req = self
            .client
            .post(format!("{}{}", self.base_url, path))
            .bearer_auth(&self.admin_key)
            .json(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("failed to call {path}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .context("failed to read the response body")?;
        let decoded = serde_json::from_slice(&bytes)
            .map_err(|_| String::from_utf8_lossy(&bytes).into_owned());
        Ok((status, decoded))
    }

    /// PUT with `If-Match` set to `version`.
    pub async fn put(&self, path: &str, version: i64, body: Value) -> Result<Reply> {
        let etag = format!("\"{version}\"");
        let key = self.admin_key.clone();
        self.call_as(&key, Method::PUT, path, Some(body), &[("if-match", &etag)])
            .await
    }

    /// PATCH with `If-Match` set to `version`.
    pub async fn patch(&self, path: &str, version: i64, body: Value) -> Result<Reply> {
        let etag = format!("\"{version}\"");
        let key = self.admin_key.clone();
        self.call_as(
            &key,
            Method::PATCH,
            path,
            Some(body),
            &[("if-match", &etag)],
        )
        .await
    }

    /// POST that must succeed with 201; returns the created resource.
    pub async fn create(&self, path: &str, body: Value) -> Result<Value> {
        let reply = self.post(path, body).await?;
        if reply.status != StatusCode::CREATED {
            bail!("POST {path} answered {}: {}", reply.status, reply.text);
        }
        Ok(reply.body)
    }

    pub async fn create_customer(&self, body: Value) -> Result<Value> {
        self.create("/api/v1/customers", body).await
    }

    pub async fn create_product(&self, body: Value) -> Result<Value> {
        self.create("/api/v1/products", body).await
    }

    /// Creates an API key with these roles and returns the secret.
    pub async fn create_key(&self, name: &str, roles: &[&str]) -> Result<String> {
        let body = self
            .create("/api/v1/api-keys", json!({ "name": name, "roles": roles }))
            .await?;
        body["key"]
            .as_str()
            .map(str::to_string)
            .context("the created key has no `key`")
    }

    /// A new API key with `role` (uniquely named) and the principal it
    /// stands for: (secret, principal id).
    pub async fn person(&self, role: &str) -> Result<(String, String)> {
        let key = self.create_key(&self.unique(role), &[role]).await?;
        let me = self.get_as(&key, "/api/v1/me").await?;
        if me.status != StatusCode::OK {
            bail!("GET /api/v1/me answered {}: {}", me.status, me.text);
        }
        let id = me.body["id"]
            .as_str()
            .context("GET /api/v1/me has no `id`")?
            .to_string();
        Ok((key, id))
    }

    /// GET as the holder of `key`.
    pub async fn get_as(&self, key: &str, path: &str) -> Result<Reply> {
        self.call_as(key, Method::GET, path, None, &[]).await
    }

    /// POST `body` as the holder of `key`.
    pub async fn post_as(&self, key: &str, path: &str, body: Value) -> Result<Reply> {
        self.call_as(key, Method::POST, path, Some(body), &[]).await
    }

    /// A name unique to this run, for records in a shared database.
    pub fn unique(&self, prefix: &str) -> String {
        format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
    }

    /// A short unique code (`PREFIX-` + 10 random hex digits) for fields with
    /// a length limit, such as tree and channel codes.
    pub fn code(&self, prefix: &str) -> String {
        let id = uuid::Uuid::now_v7().simple().to_string();
        format!("{prefix}-{}", &id[id.len() - 10..]).to_uppercase()
    }

    /// How many items a list returns over all its pages.
    pub async fn count(&self, path: &str) -> Result<usize> {
        let mut n = 0;
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
                None => format!("{path}{sep}limit=200"),
            };
            let reply = self.get(&url).await?;
            if !reply.status.is_success() {
                bail!("GET {url} answered {}: {}", reply.status, reply.text);
            }
            n += reply.body["items"].as_array().map_or(0, Vec::len);
            match reply.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(n),
            }
        }
    }
}

async fn read(resp: reqwest::Response) -> Result<Reply> {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp
        .text()
        .await
        .context("failed to read the response body")?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        body,
        text,
    })
}

fn check_components_built(root: &std::path::Path) -> Result<()> {
    let manifest =
        std::fs::read_to_string(root.join("spin.toml")).context("failed to read spin.toml")?;
    for line in manifest.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("source = \"") {
            let path = rest.trim_end_matches('"');
            if !root.join(path).exists() {
                bail!("{path} is missing: run scripts/build-wasm (scripts/test does) before the end-to-end tests");
            }
        }
    }
    Ok(())
}

/// A throwaway `redis-server` on a free loopback port, killed on drop, for
/// the tests that need a real Redis (the jobs component's trigger).
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> Result<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("failed to find a free port")?
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("redis-server must be installed (apt-get install redis-server)")?;
        let server = RedisServer { child, port };
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > std::time::Duration::from_secs(10) {
                bail!("redis-server did not start");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(server)
    }

    /// `redis://127.0.0.1:<port>`, the value of the `redis_address` variable.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `PUBLISH channel message` through `redis-cli`; returns how many
    /// subscribers received it.
    pub fn publish(&self, channel: &str, message: &str) -> Result<u64> {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "PUBLISH", channel, message])
            .output()
            .context("redis-cli must be installed")?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .with_context(|| format!("unexpected redis-cli answer {text:?}"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
