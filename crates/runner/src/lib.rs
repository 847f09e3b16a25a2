//! `sales-runner`: a local host that runs a Spin (manifest v2) application
//! the way `spin up` does, built on the crates.io `wasmtime`,
//! `wasmtime-wasi` and `wasmtime-wasi-http` crates.
//!
//! It exists because the Spin CLI cannot be installed where this project is
//! developed and tested; the same `spin.toml` and `.wasm` files must keep
//! running unchanged on real Spin and SpinKube, so every behaviour here
//! follows Spin's documented behaviour: HTTP routing and `spin-*` headers,
//! `fermyon:spin/{sqlite,key-value,variables,redis}@2.0.0`, the Redis trigger,
//! outbound HTTP with `allowed_outbound_hosts` and service chaining,
//! `runtime-config.toml` stores.
//!
//! What it deliberately does not do: build components (`spin build`), fetch
//! remote component sources or registries, WAGI or WASI-preview-3 / Spin 1.x
//! components, libSQL / Postgres / MySQL / MQTT / LLM host interfaces, Vault
//! or Azure variable providers, TLS on the listener, OpenTelemetry.
//! It also adds one thing Spin does not have: an embedded in-process Redis
//! broker (see [`broker`]) so the app runs with nothing but the runner.
//!
//! Main types: [`UpOptions`] → [`start`] → [`RunningApp`].

/// mimalloc instead of glibc's allocator: a request allocates and frees
/// many small blocks on the host side (wasmtime's instance and resource
/// tables, hyper, SQLite rows, strings lowered into the guest), where
/// glibc's `malloc`/`free`/`malloc_consolidate` were ~15 % of the CPU of an
/// order submission (BENCHMARKS.md, "Runner"). Declared by the library so
/// that every binary that runs the runner — `sales-runner`, the end-to-end
/// tests and the benches that run it in process — allocates the same way.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod allowed_hosts;
mod app;
mod bindings;
pub mod broker;
mod engine;
mod host;
mod kv;
mod log_writer;
pub mod manifest;
mod redis_trigger;
mod routes;
pub mod runtime_config;
mod server;
mod sqlite;
pub mod variables;
mod walbuf;

pub use app::SpareStats;
pub use engine::{pool_metrics, quiet_error_backtraces};
pub use log_writer::LogWriter;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;
use wasmtime::component::{HasSelf, Linker};

use crate::allowed_hosts::AllowedHosts;
use crate::app::{AppState, ComponentRuntime, HostState};
use crate::broker::Broker;
use crate::kv::KvBackend;
use crate::manifest::{FileMount, HttpRoute, Manifest};
use crate::runtime_config::{KeyValueStoreConfig, RuntimeConfig, SqliteDatabaseConfig};
use crate::sqlite::SqliteDb;

pub use crate::redis_trigger::parse_duration;

/// Default channel for `--tick`.
pub const DEFAULT_TICK_CHANNEL: &str = "sales-jobs";

/// Periodic `tick` messages.
#[derive(Debug, Clone)]
pub struct TickOptions {
    /// Interval between ticks.
    pub interval: Duration,
    /// Channel to publish on.
    pub channel: String,
}

impl TickOptions {
    /// Ticks every `interval` on [`DEFAULT_TICK_CHANNEL`].
    pub fn every(interval: Duration) -> Self {
        Self {
            interval,
            channel: DEFAULT_TICK_CHANNEL.to_string(),
        }
    }
}

/// Options of `sales-runner up` (Spin's flag names in brackets).
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The manifest (`--from`).
    pub manifest: PathBuf,
    /// Address to listen on (`--listen`); port 0 picks a free port.
    pub listen: SocketAddr,
    /// `--runtime-config-file`.
    pub runtime_config: Option<PathBuf>,
    /// `--state-dir`: where the default SQLite database and key-value store live.
    pub state_dir: PathBuf,
    /// `--variable key=value`, highest priority.
    pub variables: Vec<(String, String)>,
    /// `--sqlite`: `@file.sql` or a statement, run on `default` before serving.
    pub sqlite: Vec<String>,
    /// `--tick`: periodic `tick` messages.
    pub tick: Option<TickOptions>,
    /// Deadline of one request or message (a looping guest gets a 500).
    pub request_timeout: Duration,
    /// Linear memory limit per instance, in bytes.
    pub memory_limit: usize,
    /// Read `SPIN_VARIABLE_*` from the environment (as Spin does).
    pub env_variables: bool,
}

impl UpOptions {
    /// Defaults like `spin up`: listen on 127.0.0.1:3000, state in
    /// `<manifest dir>/.spin`, 30 s deadline, 256 MiB per instance.
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        let manifest = manifest.into();
        let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        Self {
            state_dir: dir.join(".spin"),
            manifest,
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            runtime_config: None,
            variables: Vec::new(),
            sqlite: Vec::new(),
            tick: None,
            request_timeout: Duration::from_secs(30),
            memory_limit: 256 << 20,
            env_variables: true,
        }
    }
}

/// A started application.
pub struct RunningApp {
    addr: SocketAddr,
    app: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
    staging: Vec<PathBuf>,
}

impl RunningApp {
    /// The bound listen address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets in-flight requests and Redis
    /// handlers finish, then returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        for task in self.background.drain(..) {
            let _ = task.await;
        }
        let grace = self.app.request_timeout + Duration::from_secs(5);
        if tokio::time::timeout(grace, self.app.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!("shutdown: guests still running after {grace:?}");
        }
        self.app.spares.close();
        // The checkpoint threads stop and the idle connections close, so the
        // last connection's close folds the WAL into the file and removes
        // it: a clean stop leaves no `-wal` beside the database.
        let mut dbs: Vec<Arc<SqliteDb>> = self.app.sqlite.values().cloned().collect();
        dbs.extend(self.app.kv.values().filter_map(|kv| match kv.as_ref() {
            kv::KvBackend::Sqlite { db, .. } => Some(db.clone()),
            kv::KvBackend::Redis { .. } => None,
        }));
        let _ = tokio::task::spawn_blocking(move || dbs.iter().for_each(|db| db.close())).await;
    }

    /// How many spare instances were made ahead of their request and how
    /// many requests were served by one (ARCHITECTURE.md, Runner).
    pub fn spare_stats(&self) -> SpareStats {
        self.app.spares.stats()
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        // Spare instances hold the app (and their preopened directories).
        self.app.spares.close();
        for dir in &self.staging {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn labels_used<'a>(
    manifest: &'a Manifest,
    f: impl Fn(&'a manifest::Component) -> &'a Vec<String>,
) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    for (id, c) in &manifest.component {
        for label in f(c) {
            out.push((id.as_str(), label.as_str()));
        }
    }
    out
}

fn open_sqlite(
    manifest: &Manifest,
    rc: &RuntimeConfig,
    state_dir: &Path,
    want_default: bool,
) -> Result<HashMap<String, Arc<SqliteDb>>> {
    let mut dbs: HashMap<String, Arc<SqliteDb>> = HashMap::new();
    let mut wanted: Vec<(Option<&str>, &str)> = labels_used(manifest, |c| &c.sqlite_databases)
        .into_iter()
        .map(|(c, l)| (Some(c), l))
        .collect();
    if want_default {
        wanted.push((None, "default"));
    }
    for (component, label) in wanted {
        if dbs.contains_key(label) {
            continue;
        }
        let db = match rc.sqlite_databases.get(label) {
            Some(SqliteDatabaseConfig::Spin { path: Some(p) }) => SqliteDb::file(label, p),
            Some(SqliteDatabaseConfig::Spin { path: None }) => SqliteDb::memory(label),
            None if label == "default" => SqliteDb::file(label, &state_dir.join("sqlite_db.db")),
            None => anyhow::bail!(
                "unknown sqlite_databases label {label:?} in component {:?}: add [sqlite_database.{label}] to the runtime config",
                component.unwrap_or("")
            ),
        }
        .map_err(|e| anyhow::anyhow!(e))?;
        dbs.insert(label.to_string(), Arc::new(db));
    }
    Ok(dbs)
}

fn open_kv(
    manifest: &Manifest,
    rc: &RuntimeConfig,
    state_dir: &Path,
) -> Result<HashMap<String, Arc<KvBackend>>> {
    let mut stores: HashMap<String, Arc<KvBackend>> = HashMap::new();
    let mut files: HashMap<PathBuf, Arc<SqliteDb>> = HashMap::new();
    for (component, label) in labels_used(manifest, |c| &c.key_value_stores) {
        if stores.contains_key(label) {
            continue;
        }
        let path = match rc.key_value_stores.get(label) {
            Some(KeyValueStoreConfig::Redis { url }) => {
                let backend = KvBackend::redis(url).map_err(|e| anyhow::anyhow!("key_value_store.{label}: {e}"))?;
                stores.insert(label.to_string(), Arc::new(backend));
                continue;
            }
            Some(KeyValueStoreConfig::Spin { path }) => path.clone(),
            None if label == "default" => Some(state_dir.join("sqlite_key_value.db")),
            None => anyhow::bail!(
                "unknown key_value_stores label {label:?} in component {component:?}: add [key_value_store.{label}] to the runtime config"
            ),
        };
        let db = match path {
            Some(p) => match files.get(&p) {
                Some(db) => db.clone(),
                None => {
                    let db = Arc::new(SqliteDb::file(label, &p).map_err(|e| anyhow::anyhow!(e))?);
                    files.insert(p, db.clone());
                    db
                }
            },
            None => Arc::new(SqliteDb::memory(label).map_err(|e| anyhow::anyhow!(e))?),
        };
        let backend = KvBackend::sqlite(db, label).map_err(|e| anyhow::anyhow!(e))?;
        stores.insert(label.to_string(), Arc::new(backend));
    }
    Ok(stores)
}

fn copy_into(src: &Path, dest: &Path) -> Result<()> {
    if src.is_dir() {
        std::fs::create_dir_all(dest)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            copy_into(&entry.path(), &dest.join(entry.file_name()))?;
        }
    } else {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(src, dest)?;
    }
    Ok(())
}

/// Turns `files` into read-only preopens: `{ source = dir, destination }`
/// is mounted directly; glob patterns and single files are copied into a
/// staging directory mounted at `/`.
fn prepare_files(
    id: &str,
    c: &manifest::Component,
    base: &Path,
    staging_dirs: &mut Vec<PathBuf>,
) -> Result<Vec<(PathBuf, String)>> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut preopens = Vec::new();
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new(); // (host file/dir, relative dest)
    let excludes: Vec<glob::Pattern> = c
        .exclude_files
        .iter()
        .map(|p| {
            glob::Pattern::new(p)
                .with_context(|| format!("component.{id}.exclude_files: bad pattern {p:?}"))
        })
        .collect::<Result<_>>()?;
    for mount in &c.files {
        match mount {
            FileMount::Placement(p) => {
                let src = base.join(&p.source);
                if !p.destination.starts_with('/') {
                    anyhow::bail!(
                        "component.{id}.files: destination {:?} must be absolute",
                        p.destination
                    );
                }
                if src.is_dir() {
                    preopens.push((src, p.destination.clone()));
                } else if src.is_file() {
                    staged.push((src, PathBuf::from(p.destination.trim_start_matches('/'))));
                } else {
                    anyhow::bail!(
                        "component.{id}.files: source {} does not exist",
                        src.display()
                    );
                }
            }
            FileMount::Pattern(pattern) => {
                let full = base.join(pattern);
                let full = full.to_string_lossy();
                let matches = glob::glob(&full)
                    .with_context(|| format!("component.{id}.files: bad pattern {pattern:?}"))?;
                for m in matches {
                    let m = m.with_context(|| {
                        format!("component.{id}.files: cannot read a match of {pattern:?}")
                    })?;
                    let rel = m.strip_prefix(base).unwrap_or(&m).to_path_buf();
                    if excludes.iter().any(|e| e.matches_path(&rel)) {
                        continue;
                    }
                    staged.push((m, rel));
                }
            }
        }
    }
    if !staged.is_empty() {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "sales-runner-files-{}-{n}-{id}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).context("failed to create the files staging directory")?;
        staging_dirs.push(dir.clone());
        for (src, rel) in staged {
            copy_into(&src, &dir.join(rel))
                .with_context(|| format!("failed to stage {}", src.display()))?;
        }
        preopens.push((dir, "/".to_string()));
    }
    Ok(preopens)
}

/// Starts the application: loads and validates everything, binds the
/// listener, subscribes to Redis, and serves until [`RunningApp::shutdown`].
pub async fn start(opts: UpOptions) -> Result<RunningApp> {
    let manifest = Manifest::load(&opts.manifest)?;
    let base = opts
        .manifest
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let rc = match &opts.runtime_config {
        Some(p) => RuntimeConfig::load(p).map_err(|e| anyhow::anyhow!(e))?,
        None => RuntimeConfig::default(),
    };
    let env_lookup = opts.env_variables;
    let resolver = variables::Resolver::new(&manifest.variables, &opts.variables, |k| {
        if env_lookup {
            std::env::var(k).ok()
        } else {
            None
        }
    })
    .map_err(|e| anyhow::anyhow!(e))?;

    std::fs::create_dir_all(&opts.state_dir)
        .with_context(|| format!("failed to create state dir {}", opts.state_dir.display()))?;
    let sqlite = open_sqlite(&manifest, &rc, &opts.state_dir, !opts.sqlite.is_empty())?;
    let kv = open_kv(&manifest, &rc, &opts.state_dir)?;

    // Which components each trigger kind needs.
    let http_ids: HashSet<&str> = manifest
        .trigger
        .http
        .iter()
        .map(|t| t.component.as_str())
        .collect();
    let redis_ids: HashSet<&str> = manifest
        .trigger
        .redis
        .iter()
        .map(|t| t.component.as_str())
        .collect();

    let engine = engine::engine()?;
    let mut linker: Linker<HostState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    bindings::Runner::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    // Compile (or fetch from the caches) all components in parallel.
    let mut compiles = Vec::new();
    for (id, c) in &manifest.component {
        if !http_ids.contains(id.as_str()) && !redis_ids.contains(id.as_str()) {
            continue;
        }
        let manifest::ComponentSource::Local(source) = &c.source else {
            continue;
        };
        let path = base.join(source);
        let id = id.clone();
        compiles.push(tokio::task::spawn_blocking(move || {
            engine::load_component(&path).map(|component| (id, component))
        }));
    }
    let mut compiled = HashMap::new();
    for c in futures::future::join_all(compiles).await {
        let (id, component) = c.context("component compilation task failed")??;
        compiled.insert(id, component);
    }

    let mut staging = Vec::new();
    let mut components = HashMap::new();
    for (id, c) in &manifest.component {
        let Some(wasm) = compiled.get(id) else {
            continue;
        };
        let pre = app::instance_pre(&linker, wasm).with_context(|| {
            format!("component {id:?} imports something the runner does not provide")
        })?;
        let http = if http_ids.contains(id.as_str()) {
            Some(wasmtime_wasi_http::p2::bindings::ProxyPre::new(pre.clone()).map_err(|e| {
                anyhow::anyhow!("component {id:?} has an HTTP trigger but does not export wasi:http/incoming-handler@0.2: {e}")
            })?)
        } else {
            None
        };
        let redis = if redis_ids.contains(id.as_str()) {
            Some(bindings::RunnerPre::new(pre.clone()).map_err(|e| {
                anyhow::anyhow!("component {id:?} has a Redis trigger but does not export fermyon:spin/inbound-redis: {e}")
            })?)
        } else {
            None
        };
        let mut variables = HashMap::new();
        for (name, template) in &c.variables {
            let value = resolver
                .expand(template)
                .map_err(|e| anyhow::anyhow!("component.{id}.variables.{name}: {e}"))?;
            variables.insert(name.clone(), value);
        }
        let hosts: Vec<String> = c
            .allowed_outbound_hosts
            .iter()
            .map(|h| resolver.expand(h))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("component.{id}.allowed_outbound_hosts: {e}"))?;
        let allowed_hosts = AllowedHosts::parse(&hosts)
            .map_err(|e| anyhow::anyhow!("component.{id}.allowed_outbound_hosts: {e}"))?;
        let preopens = prepare_files(id, c, &base, &mut staging)?;
        components.insert(
            id.clone(),
            Arc::new(ComponentRuntime {
                id: id.clone(),
                http,
                redis,
                env: c
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                preopens,
                allowed_hosts,
                sqlite_databases: c.sqlite_databases.iter().cloned().collect(),
                key_value_stores: c.key_value_stores.iter().cloned().collect(),
                variables,
            }),
        );
    }

    let routes: Vec<(String, String)> = manifest
        .trigger
        .http
        .iter()
        .filter_map(|t| match &t.route {
            HttpRoute::Pattern(p) => Some((t.component.clone(), p.clone())),
            HttpRoute::Private(_) => None,
        })
        .collect();
    let (router, duplicates) = routes::Router::build(&routes).map_err(|e| anyhow::anyhow!(e))?;
    for (route, replaced, effective) in duplicates {
        tracing::warn!(
            "duplicate route {route:?}: component {replaced:?} is shadowed by {effective:?}"
        );
    }

    let default_address = manifest
        .application
        .trigger
        .redis
        .as_ref()
        .and_then(|r| r.address.clone());
    let mut broker = Broker::default();
    for (i, t) in manifest.trigger.redis.iter().enumerate() {
        let address = match t.address.as_ref().or(default_address.as_ref()) {
            Some(a) => resolver
                .expand(a)
                .map_err(|e| anyhow::anyhow!("trigger.redis[{i}].address: {e}"))?,
            None => String::new(),
        };
        let channel = resolver
            .expand(&t.channel)
            .map_err(|e| anyhow::anyhow!("trigger.redis[{i}].channel: {e}"))?;
        broker.add(address.trim(), &channel, &t.component);
    }

    let app = Arc::new(AppState {
        name: manifest.application.name.clone(),
        version: manifest.application.version.clone(),
        components,
        router,
        sqlite,
        kv,
        broker,
        request_timeout: opts.request_timeout,
        memory_limit: opts.memory_limit,
        tracker: Default::default(),
        next_id: Default::default(),
        redis_conns: Default::default(),
        embedded_redis: Default::default(),
        spares: Default::default(),
    });

    if !opts.sqlite.is_empty() {
        let db = app
            .sqlite
            .get("default")
            .cloned()
            .context("no default database")?;
        for stmt in &opts.sqlite {
            let sql = match stmt.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file)
                    .with_context(|| format!("failed to read --sqlite file {file}"))?,
                None => stmt.clone(),
            };
            let db = db.clone();
            tokio::task::spawn_blocking(move || db.execute_batch(&sql))
                .await
                .context("--sqlite task failed")?
                .map_err(|e| anyhow::anyhow!("--sqlite {stmt:?} failed: {e}"))?;
        }
    }

    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("failed to listen on {}", opts.listen))?;
    let addr = listener
        .local_addr()
        .context("failed to read the bound address")?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut background = Vec::new();
    let addresses: Vec<String> = app.broker.real.keys().cloned().collect();
    for address in addresses {
        background.push(redis_trigger::subscribe(app.clone(), address, shutdown_rx.clone()).await?);
    }
    if let Some(tick) = &opts.tick {
        if !app.broker.is_embedded(&tick.channel)
            && app.broker.real_addresses(&tick.channel).is_empty()
        {
            tracing::warn!(channel = %tick.channel, "--tick: no Redis trigger listens on this channel");
        }
        background.push(redis_trigger::tick(
            app.clone(),
            tick.interval,
            tick.channel.clone(),
            shutdown_rx.clone(),
        ));
    }
    let server = tokio::spawn(server::serve(listener, app.clone(), shutdown_rx));
    tracing::info!(
        %addr,
        components = app.components.len(),
        pooling = engine::uses_pooling(),
        embedded_channels = ?app.broker.embedded.keys().collect::<Vec<_>>(),
        "application started"
    );
    Ok(RunningApp {
        addr,
        app,
        shutdown: shutdown_tx,
        server: Some(server),
        background,
        staging,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_api_can_be_used_from_spawned_tasks() {
        assert_send(&start(UpOptions::new("spin.toml")));
        assert_send_sync::<RunningApp>();
        assert_send_sync::<UpOptions>();
    }

    #[test]
    fn up_options_default_like_spin_up() {
        let o = UpOptions::new("/app/spin.toml");
        assert_eq!(o.state_dir, PathBuf::from("/app/.spin"));
        assert_eq!(o.listen, SocketAddr::from(([127, 0, 0, 1], 3000)));
        assert_eq!(o.request_timeout, Duration::from_secs(30));
        assert!(o.env_variables);
    }
}
