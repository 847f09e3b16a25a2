//! The running application: components ready to instantiate, the stores, the
//! per-instance host state, and invocation of guests for HTTP requests and
//! Redis messages.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::RunnerPre;
use crate::broker::Broker;
use crate::kv::KvBackend;
use crate::routes::{RouteMatch, Router};
use crate::sqlite::SqliteDb;
pub use crate::sqlite::SqliteHandle;

/// Most handles of one kind a single instance may hold open (Spin's limit).
pub const MAX_HANDLES: usize = 256;

/// A component ready to be instantiated, with what it was granted.
pub struct ComponentRuntime {
    /// Component id from the manifest.
    pub id: String,
    /// Pre-instantiated for the HTTP trigger (exports `wasi:http/incoming-handler`).
    pub http: Option<ProxyPre<HostState>>,
    /// Pre-instantiated for the Redis trigger (exports `fermyon:spin/inbound-redis`).
    pub redis: Option<RunnerPre<HostState>>,
    /// Guest environment.
    pub env: Vec<(String, String)>,
    /// Read-only preopens `(host dir, guest path)`.
    pub preopens: Vec<(PathBuf, String)>,
    /// Outbound allow list.
    pub allowed_hosts: AllowedHosts,
    /// Granted SQLite labels.
    pub sqlite_databases: HashSet<String>,
    /// Granted key-value labels.
    pub key_value_stores: HashSet<String>,
    /// Resolved component variables.
    pub variables: HashMap<String, String>,
}

/// Counts in-flight guest invocations so shutdown can wait for them.
#[derive(Default)]
pub struct Tracker {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Decrements the tracker when dropped.
pub struct TrackerToken(Arc<AppState>);

impl Drop for TrackerToken {
    fn drop(&mut self) {
        if self.0.tracker.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.tracker.idle.notify_waiters();
        }
    }
}

/// Everything shared by all requests of one running app.
pub struct AppState {
    /// `[application] name`.
    pub name: String,
    /// `[application] version`.
    pub version: Option<String>,
    /// Components by id.
    pub components: HashMap<String, Arc<ComponentRuntime>>,
    /// Public HTTP routes.
    pub router: Router,
    /// SQLite databases by label.
    pub sqlite: HashMap<String, Arc<SqliteDb>>,
    /// Key-value stores by label.
    pub kv: HashMap<String, Arc<KvBackend>>,
    /// The embedded broker and the channel table.
    pub broker: Broker,
    /// Per-request / per-message deadline.
    pub request_timeout: Duration,
    /// Per-instance linear memory limit in bytes.
    pub memory_limit: usize,
    /// In-flight guest invocations.
    pub tracker: Tracker,
    /// Source of request ids.
    pub next_id: AtomicU64,
    /// Outbound Redis connections by address.
    pub redis_conns: tokio::sync::Mutex<HashMap<String, redis::aio::MultiplexedConnection>>,
    /// Values the embedded broker stores for `get`/`set`/... without a Redis.
    pub embedded_redis: Mutex<HashMap<String, crate::broker::EmbeddedValue>>,
    /// Instances made ahead of their request, one per HTTP component.
    pub spares: Spares,
}

impl AppState {
    /// Marks one guest invocation as in flight until the token is dropped.
    pub fn track(self: &Arc<Self>) -> TrackerToken {
        self.tracker.count.fetch_add(1, Ordering::AcqRel);
        TrackerToken(self.clone())
    }

    /// Waits until no guest invocation is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.tracker.idle.notified();
            if self.tracker.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// A fresh request id.
    pub fn request_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Handles held by an instance: a small slab with Spin's capacity.
pub struct Handles<T> {
    items: HashMap<u32, T>,
    next: u32,
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
            next: 1,
        }
    }
}

impl<T> Handles<T> {
    /// Stores `item`; `None` when the table is full.
    pub fn push(&mut self, item: T) -> Option<u32> {
        if self.items.len() >= MAX_HANDLES {
            return None;
        }
        let id = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        self.items.insert(id, item);
        Some(id)
    }
    /// The item behind `id`.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.items.get_mut(&id)
    }
    /// Removes and returns the item behind `id`.
    pub fn remove(&mut self, id: u32) -> Option<T> {
        self.items.remove(&id)
    }
    /// Removes everything.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.items.drain().map(|(_, v)| v)
    }
}

/// An open outbound Redis handle of a guest.
pub struct RedisHandle {
    /// The address given to `open` (may be empty in embedded mode).
    pub address: String,
    /// Whether the address is a usable Redis URL.
    pub real: bool,
}

/// Decides the fate of outgoing HTTP requests of one instance.
pub struct Hooks {
    app: Arc<AppState>,
    component: Arc<ComponentRuntime>,
    /// While the incoming request is converted only `Connection` is dropped
    /// from the client's headers (as Spin does); afterwards the default
    /// forbidden headers apply to what the guest sends.
    incoming: bool,
}

impl WasiHttpHooks for Hooks {
    fn forbidden_header_filter(&mut self) -> wasmtime_wasi_http::ForbiddenHeaderFilter {
        if self.incoming {
            Arc::new(|name| *name == http::header::CONNECTION)
        } else {
            Arc::new(|name| wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(name))
        }
    }

    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        use wasmtime_wasi_http::Error as E;
        let app = self.app.clone();
        let component = self.component.clone();
        Box::new(async move {
            let uri = request.uri().clone();
            let scheme = uri.scheme_str().unwrap_or("http").to_string();
            let host = uri.host().unwrap_or("").to_string();
            let port = uri.port_u16();
            if !component.allowed_hosts.allows(&scheme, &host, port) {
                tracing::warn!(
                    component = %component.id,
                    url = %uri,
                    "outbound request denied: not in allowed_outbound_hosts"
                );
                return Err(E::HttpRequestDenied);
            }
            if let Some(target) = host.strip_suffix(".spin.internal") {
                let Some(target) = app.components.get(target).cloned() else {
                    return Err(E::DestinationNotFound);
                };
                if target.http.is_none() {
                    return Err(E::DestinationNotFound);
                }
                let path = uri.path().to_string();
                let route = RouteMatch::synthetic(&target.id, &path);
                let client: SocketAddr = ([0, 0, 0, 0], 0).into();
                let resp = invoke_http(&app, &target, request, &route, client)
                    .await
                    .map_err(|e| E::InternalError(Some(format!("{e:#}"))))?;
                let resp = resp.map(|b| b.boxed_unsync());
                let done: Box<dyn Future<Output = Result<(), E>> + Send> =
                    Box::new(async { Ok(()) });
                return Ok((resp, done));
            }
            let (resp, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let done: Box<dyn Future<Output = Result<(), E>> + Send> = Box::new(io);
            Ok((resp.map(|b| b.boxed_unsync()), done))
        })
    }
}

/// The `T` of every `Store<T>`.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: Hooks,
    limits: StoreLimits,
    /// The app.
    pub app: Arc<AppState>,
    /// The component this instance runs.
    pub component: Arc<ComponentRuntime>,
    /// Open SQLite connections.
    pub sqlite: Handles<SqliteHandle>,
    /// Open key-value stores.
    pub kv: Handles<Arc<KvBackend>>,
    /// Open outbound Redis connections.
    pub redis: Handles<RedisHandle>,
    /// When the invocation's time is up: SQLite statements still running
    /// then are interrupted.
    pub deadline: std::time::Instant,
}

impl Drop for HostState {
    fn drop(&mut self) {
        // Connections the guest never closed go back to their pool after a
        // rollback (or are closed, which also rolls back).
        let open: Vec<SqliteHandle> = self.sqlite.drain().collect();
        if open.is_empty() {
            return;
        }
        let needs_rollback = open.iter().any(SqliteHandle::in_transaction);
        let release = move || open.into_iter().for_each(SqliteHandle::close);
        // Nothing to roll back: returning them to the pool does not block.
        if !needs_rollback {
            release();
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(release);
            }
            Err(_) => release(),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// A store for one invocation, with the memory limit and deadline set.
pub fn new_store(
    app: &Arc<AppState>,
    component: &Arc<ComponentRuntime>,
) -> anyhow::Result<Store<HostState>> {
    let mut wasi = WasiCtx::builder();
    wasi.envs(&component.env)
        .stdout(wasmtime_wasi::cli::stderr())
        .stderr(wasmtime_wasi::cli::stderr())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    for (host, guest) in &component.preopens {
        wasi.preopened_dir(host, guest, FsPerms::ReadOnly)
            .map_err(|e| anyhow::anyhow!("failed to preopen {}: {e}", host.display()))?;
    }
    let state = HostState {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        http: WasiHttpCtx::new(),
        hooks: Hooks {
            app: app.clone(),
            component: component.clone(),
            incoming: false,
        },
        limits: StoreLimitsBuilder::new()
            .memory_size(app.memory_limit)
            .build(),
        app: app.clone(),
        component: component.clone(),
        sqlite: Handles::default(),
        kv: Handles::default(),
        redis: Handles::default(),
        deadline: std::time::Instant::now() + app.request_timeout,
    };
    let mut store = Store::new(crate::engine::engine()?, state);
    store.limiter(|s| &mut s.limits);
    store.epoch_deadline_trap();
    start_deadline(&mut store);
    Ok(store)
}

/// Starts the invocation's time: the epoch deadline (counted from the
/// engine's current epoch) and the SQLite deadline. Called by [`new_store`]
/// (the deadline then also bounds the instantiation) and again when a
/// request takes a spare instance made earlier.
fn start_deadline(store: &mut Store<HostState>) {
    let timeout = store.data().app.request_timeout;
    store.data_mut().deadline = std::time::Instant::now() + timeout;
    let ticks = (timeout.as_millis() / crate::engine::EPOCH_TICK.as_millis()).max(1);
    store.set_epoch_deadline(ticks as u64);
}

/// A fresh instance of a component's HTTP handler, made ahead of the
/// request it will serve (see [`Spares`]).
pub struct Spare {
    store: Store<HostState>,
    proxy: Proxy,
}

enum SpareState {
    Empty,
    Preparing,
    Ready(Box<Spare>),
}

/// Pre-instantiation: at most one spare instance per HTTP component, made
/// on the task that tears down the component's previous instance, after
/// that request's response was written, and taken by the component's next
/// request, which then skips `new_store` and the instantiation. A spare
/// serves exactly one request, like every instance; nothing
/// request-specific is in its store until a request takes it (the request
/// and its response outparam go into its resource table, the epoch and
/// SQLite deadlines are started, then). A request that finds no spare
/// (none yet, or one being made) instantiates inline, as before.
#[derive(Default)]
pub struct Spares {
    slots: Mutex<SpareSlots>,
    prepared: AtomicU64,
    taken: AtomicU64,
}

#[derive(Default)]
struct SpareSlots {
    by_component: HashMap<String, SpareState>,
    /// Set at shutdown: no more spares are kept.
    closed: bool,
}

/// Counts of [`Spares`] (exposed for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpareStats {
    /// Spare instances made.
    pub prepared: u64,
    /// Requests served by a spare instance.
    pub taken: u64,
}

impl Spares {
    fn lock(&self) -> std::sync::MutexGuard<'_, SpareSlots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The component's spare, if one is ready; the slot is then empty.
    fn take(&self, component: &str) -> Option<Spare> {
        let mut slots = self.lock();
        let slot = slots.by_component.get_mut(component)?;
        if !matches!(slot, SpareState::Ready(_)) {
            return None;
        }
        let SpareState::Ready(spare) = std::mem::replace(slot, SpareState::Empty) else {
            return None;
        };
        drop(slots);
        self.taken.fetch_add(1, Ordering::Relaxed);
        Some(*spare)
    }

    /// Claims the component's empty slot for a spare about to be made.
    fn begin(&self, component: &str) -> bool {
        let mut slots = self.lock();
        if slots.closed {
            return false;
        }
        let slot = slots
            .by_component
            .entry(component.to_string())
            .or_insert(SpareState::Empty);
        if !matches!(slot, SpareState::Empty) {
            return false;
        }
        *slot = SpareState::Preparing;
        true
    }

    /// Ends what [`Spares::begin`] claimed: keeps `spare`, or empties the
    /// slot when it failed (or the app is shutting down).
    fn finish(&self, component: &str, spare: Option<Spare>) {
        let mut slots = self.lock();
        let closed = slots.closed;
        let Some(slot) = slots.by_component.get_mut(component) else {
            return;
        };
        match spare {
            Some(spare) if !closed => {
                *slot = SpareState::Ready(Box::new(spare));
                drop(slots);
                self.prepared.fetch_add(1, Ordering::Relaxed);
            }
            unused => {
                *slot = SpareState::Empty;
                drop(slots);
                // A store's teardown resets its pool slots: not under the lock.
                drop(unused);
            }
        }
    }

    /// Drops every ready spare (their pool slots go back to the pool);
    /// returns how many there were.
    fn clear(&self) -> usize {
        let spares: Vec<SpareState> = {
            let mut slots = self.lock();
            slots
                .by_component
                .values_mut()
                .filter(|s| matches!(s, SpareState::Ready(_)))
                .map(|s| std::mem::replace(s, SpareState::Empty))
                .collect()
        };
        spares.len()
    }

    /// No more spares from now on; the ready ones are dropped (a spare's
    /// store holds the app, so this also breaks that cycle).
    pub fn close(&self) {
        self.lock().closed = true;
        self.clear();
    }

    /// How many spares were made and taken so far.
    pub fn stats(&self) -> SpareStats {
        SpareStats {
            prepared: self.prepared.load(Ordering::Relaxed),
            taken: self.taken.load(Ordering::Relaxed),
        }
    }
}

/// Makes a spare instance of `component` for its next request, unless it
/// has one already (or one is being made). A failure is logged; the next
/// request then instantiates inline.
async fn prepare_spare(
    app: &Arc<AppState>,
    component: &Arc<ComponentRuntime>,
    pre: &ProxyPre<HostState>,
) {
    if !app.spares.begin(&component.id) {
        return;
    }
    let spare = match new_store(app, component) {
        Ok(mut store) => match pre.instantiate_async(&mut store).await {
            Ok(proxy) => Some(Spare { store, proxy }),
            Err(e) => {
                tracing::warn!(component = %component.id, "spare instance failed to instantiate: {e:?}");
                None
            }
        },
        Err(e) => {
            tracing::warn!(component = %component.id, "spare instance: no store: {e:#}");
            None
        }
    };
    app.spares.finish(&component.id, spare);
}

/// Instantiates inline (no spare was ready). When the pooling allocator is
/// out of slots and spares hold some, the spares are dropped and the
/// instantiation is tried once more, in the same store (the request and its
/// response outparam are already in its table): a spare never makes a
/// request fail.
async fn instantiate_inline(
    app: &Arc<AppState>,
    component: &Arc<ComponentRuntime>,
    pre: &ProxyPre<HostState>,
    store: &mut Store<HostState>,
) -> wasmtime::Result<Proxy> {
    match pre.instantiate_async(&mut *store).await {
        Err(e)
            if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                .is_some()
                && app.spares.clear() > 0 =>
        {
            tracing::warn!(
                component = %component.id,
                "pool exhausted ({e}); spare instances dropped, instantiating again"
            );
            pre.instantiate_async(&mut *store).await
        }
        other => other,
    }
}

fn is_deadline(e: &wasmtime::Error) -> bool {
    matches!(
        e.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    )
}

/// Runs `component` for one HTTP request whose route already matched.
///
/// Adds the `spin-*` headers, instantiates a fresh instance and returns the
/// response once the guest has set it (its body may still be streaming).
pub async fn invoke_http<B>(
    app: &Arc<AppState>,
    component: &Arc<ComponentRuntime>,
    request: http::Request<B>,
    route: &RouteMatch,
    client_addr: SocketAddr,
) -> anyhow::Result<http::Response<HyperOutgoingBody>>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let Some(pre) = component.http.clone() else {
        anyhow::bail!(
            "component {:?} does not export wasi:http/incoming-handler",
            component.id
        );
    };
    let (mut parts, body) = request.into_parts();

    // Spin drops a `Host` naming a service-chaining target.
    if parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| {
            h.split(':')
                .next()
                .unwrap_or("")
                .ends_with(".spin.internal")
        })
    {
        parts.headers.remove(http::header::HOST);
    }
    let scheme = parts.uri.scheme_str().unwrap_or("http").to_string();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_string());
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let full_url = format!("{scheme}://{host}{path_and_query}");
    parts.uri = full_url
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid request URL {full_url:?}: {e}"))?;

    use http::{HeaderName, HeaderValue};
    let headers = &mut parts.headers;
    let client_addr = client_addr.to_string();
    let fixed = [
        ("spin-path-info", route.path_info.as_str()),
        ("spin-full-url", full_url.as_str()),
        ("spin-matched-route", route.based_route.as_str()),
        ("spin-base-path", "/"),
        ("spin-raw-component-route", route.raw_route.as_str()),
        ("spin-component-route", route.component_route()),
        ("spin-client-addr", client_addr.as_str()),
    ];
    for (name, value) in fixed {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_str(value)?);
    }
    for (name, value) in &route.captures {
        let name = format!(
            "spin-path-match-{}",
            name.to_ascii_lowercase().replace('_', "-")
        );
        headers.insert(
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(value)?,
        );
    }
    let request = http::Request::from_parts(parts, body);

    // A spare instance made after the component's previous request (see
    // `Spares`), or a new store to instantiate in. Either way the request's
    // own state goes into the store only now.
    let (mut store, ready) = match app.spares.take(&component.id) {
        Some(spare) => {
            let mut store = spare.store;
            start_deadline(&mut store);
            (store, Some(spare.proxy))
        }
        None => (new_store(app, component)?, None),
    };
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let data = store.data_mut();
    data.hooks.incoming = true;
    let req = data.http().new_incoming_request(
        wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http,
        request,
    )?;
    data.hooks.incoming = false;
    let out = data.http().new_response_outparam(sender)?;

    let token = app.track();
    let component_id = component.id.clone();
    let timeout = app.request_timeout;
    let app = app.clone();
    let component = component.clone();
    let guest: GuestFuture = Box::pin(async move {
        let proxy = match ready {
            Some(proxy) => Ok(proxy),
            None => instantiate_inline(&app, &component, &pre, &mut store).await,
        };
        // The next request of this component gets a spare only after one
        // that instantiated: a component whose instantiation fails keeps
        // failing inline, without a spare's failure logged each time.
        let next = proxy.is_ok().then_some((app, component, pre));
        let result = match proxy {
            Ok(proxy) => {
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            }
            Err(e) => Err(e),
        };
        teardown_later(store, token, next);
        result
    });

    // The guest runs on this task (no hand-off to another task) until it
    // sets the response; after that it is driven by polls of the response
    // body, so writing the body needs no cross-task wake-ups either.
    // Epoch interruption stops a guest that computes for too long; the
    // deadline timer stops one that waits (on outbound I/O, say) for too
    // long. The timer is armed only once the guest has to wait: registering
    // a Tokio timer wakes the runtime's I/O driver (an eventfd write and an
    // extra `epoll_wait`), which a guest answering in its first poll — most
    // requests — does not need.
    let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(1);
    let mut guest = Some(guest);
    let mut receiver = receiver;
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    // The guest and the response channel are polled with a waker that
    // absorbs wake-ups made while they are being polled (`LocalWake`):
    // setting the response (a oneshot) wakes this very task from inside its
    // poll (so did wasmtime's completion of the guest call while the engine
    // had concurrency support on), which made Tokio re-queue the
    // connection's task after every request and wake an idle worker for it
    // (an eventfd write and a cross-CPU wake-up). Such a wake-up re-polls
    // them here instead.
    let local = Arc::new(LocalWake::default());
    let local_waker = std::task::Waker::from(local.clone());
    let raced = std::future::poll_fn(|cx| {
        use std::task::Poll;
        local.set_task(cx.waker());
        let mut lcx = std::task::Context::from_waker(&local_waker);
        let mut ready = None;
        let mut again = false;
        for _ in 0..LocalWake::MAX_ROUNDS {
            local.polling.store(true, Ordering::SeqCst);
            local.woken.store(false, Ordering::SeqCst);
            ready = poll_guest_once(&mut guest, &mut receiver, &mut lcx);
            local.polling.store(false, Ordering::SeqCst);
            again = local.woken.swap(false, Ordering::SeqCst);
            if ready.is_some() || !again {
                break;
            }
        }
        if let Some(r) = ready {
            return Poll::Ready(Ok(r));
        }
        // Out of rounds, or woken from outside since the last poll.
        if again || local.woken.load(Ordering::SeqCst) {
            cx.waker().wake_by_ref();
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(()));
        }
        Poll::Pending
    })
    .await;
    drop(timer);
    let finished = match raced {
        Err(()) => anyhow::bail!("guest did not respond within the {timeout:?} deadline"),
        Ok(Ok(response)) => {
            return match response {
                Ok(Ok(resp)) => Ok(resp.map(|body| {
                    GuestBody {
                        inner: body,
                        guest: guest.take(),
                        component: component_id,
                        timeout,
                    }
                    .boxed_unsync()
                })),
                Ok(Err(code)) => anyhow::bail!("guest returned an error response: {code:?}"),
                Err(_) => anyhow::bail!("guest dropped its response"),
            };
        }
        Ok(Err(finished)) => finished,
    };
    // The guest finished before (or right after) setting a response.
    match receiver.try_recv() {
        Ok(Ok(resp)) => {
            if let Some(Err(e)) = finished {
                log_late_failure(&component_id, timeout, &e);
            }
            Ok(resp)
        }
        Ok(Err(code)) => anyhow::bail!("guest returned an error response: {code:?}"),
        Err(_) => match finished {
            Some(Ok(())) | None => anyhow::bail!("guest never set a response"),
            Some(Err(e)) if is_deadline(&e) => {
                anyhow::bail!("guest exceeded the {timeout:?} deadline")
            }
            Some(Err(e)) => Err(anyhow::anyhow!("{e:?}").context("guest trapped")),
        },
    }
}

type GuestFuture = std::pin::Pin<Box<dyn Future<Output = wasmtime::Result<()>> + Send>>;

type ResponseResult = Result<
    Result<
        http::Response<HyperOutgoingBody>,
        wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
    >,
    tokio::sync::oneshot::error::RecvError,
>;

/// One poll of the guest, then of the response channel: the response if it
/// is set (`Ok`), or the guest's result if it finished (`Err`).
fn poll_guest_once(
    guest: &mut Option<GuestFuture>,
    receiver: &mut tokio::sync::oneshot::Receiver<
        Result<
            http::Response<HyperOutgoingBody>,
            wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
        >,
    >,
    cx: &mut std::task::Context<'_>,
) -> Option<Result<ResponseResult, Option<wasmtime::Result<()>>>> {
    use std::task::Poll;
    let Some(g) = guest.as_mut() else {
        return Some(Err(None));
    };
    if let Poll::Ready(finished) = g.as_mut().poll(cx) {
        return Some(Err(Some(finished)));
    }
    // The guest may have set the response and then waited.
    if let Poll::Ready(r) = std::pin::Pin::new(receiver).poll(cx) {
        return Some(Ok(r));
    }
    None
}

/// The waker the guest is polled with by [`invoke_http`]: a wake-up while
/// the guest is being polled only marks it for another poll; one from
/// outside (I/O, a blocking task, another thread) wakes the connection's
/// task.
#[derive(Default)]
struct LocalWake {
    polling: std::sync::atomic::AtomicBool,
    woken: std::sync::atomic::AtomicBool,
    task: Mutex<Option<std::task::Waker>>,
}

impl LocalWake {
    /// Re-polls in one poll of the task before yielding to the scheduler.
    const MAX_ROUNDS: usize = 8;

    fn set_task(&self, waker: &std::task::Waker) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if !task.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *task = Some(waker.clone());
        }
    }
}

impl std::task::Wake for LocalWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(task) = task {
                task.wake();
            }
        }
    }
}

/// Ends an instance (its store's teardown returns the linear memory, tables
/// and fiber stack to the pool) on a task of its own, spawned from the
/// connection's task: it runs when that task next yields, after hyper has
/// written the response, so the client does not wait for the teardown.
/// With `next`, the same task then makes a spare instance for the
/// component's next request (`Spares`). Shutdown waits for both through
/// `token`.
fn teardown_later(
    store: Store<HostState>,
    token: TrackerToken,
    next: Option<(Arc<AppState>, Arc<ComponentRuntime>, ProxyPre<HostState>)>,
) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(async move {
                drop(store);
                if let Some((app, component, pre)) = next {
                    prepare_spare(&app, &component, &pre).await;
                }
                drop(token);
            });
        }
        Err(_) => {
            drop(store);
            drop(token);
        }
    }
}

fn log_late_failure(component: &str, timeout: Duration, e: &wasmtime::Error) {
    if is_deadline(e) {
        tracing::error!(
            component = %component,
            "guest exceeded the {timeout:?} deadline while streaming its response"
        );
    } else {
        tracing::error!(component = %component, "guest failed after responding: {e:?}");
    }
}

/// A response body that also drives the guest producing it.
struct GuestBody {
    inner: HyperOutgoingBody,
    guest: Option<GuestFuture>,
    component: String,
    timeout: Duration,
}

impl http_body::Body for GuestBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        if let Some(guest) = this.guest.as_mut() {
            if let Poll::Ready(result) = guest.as_mut().poll(cx) {
                this.guest = None;
                if let Err(e) = result {
                    log_late_failure(&this.component, this.timeout, &e);
                }
            }
        }
        let frame = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            // The body is complete; let the guest finish on its own.
            if let Some(guest) = this.guest.take() {
                spawn_rest(guest, this.component.clone(), this.timeout);
            }
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for GuestBody {
    fn drop(&mut self) {
        // No body wanted (HEAD, 204) or the client went away: the guest
        // still runs to completion, on its own task.
        if let Some(guest) = self.guest.take() {
            spawn_rest(guest, std::mem::take(&mut self.component), self.timeout);
        }
    }
}

fn spawn_rest(guest: GuestFuture, component: String, timeout: Duration) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            if let Err(e) = guest.await {
                log_late_failure(&component, timeout, &e);
            }
        });
    }
}

/// Runs every component subscribed to nothing in particular: one Redis
/// message for one component, in a fresh instance. Errors are logged, not
/// retried (as in Spin).
pub async fn invoke_redis(
    app: Arc<AppState>,
    component: Arc<ComponentRuntime>,
    channel: String,
    payload: Vec<u8>,
) {
    let _token = app.track();
    let id = app.request_id();
    let started = Instant::now();
    let hard_limit = app.request_timeout + Duration::from_secs(1);
    let run = async {
        let pre = component.redis.clone().ok_or_else(|| {
            anyhow::anyhow!("component does not export fermyon:spin/inbound-redis")
        })?;
        let mut store = new_store(&app, &component)?;
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let r = instance
            .fermyon_spin_inbound_redis()
            .call_handle_message(&mut store, &payload)
            .await;
        match r {
            Ok(Ok(())) => Ok(Ok(())),
            Ok(Err(e)) => Ok(Err(format!("{e:?}"))),
            Err(e) if is_deadline(&e) => Err(anyhow::anyhow!(
                "guest exceeded the {:?} deadline",
                app.request_timeout
            )),
            Err(e) => Err(anyhow::anyhow!("{e:?}").context("guest trapped")),
        }
    };
    let result: anyhow::Result<Result<(), String>> =
        match tokio::time::timeout(hard_limit, run).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!(
                "guest did not finish within the {:?} deadline",
                app.request_timeout
            )),
        };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(Ok(())) => tracing::info!(
            request_id = id, component = %component.id, channel = %channel,
            duration_ms = format!("{ms:.2}"), "redis message handled"
        ),
        Ok(Err(e)) => tracing::warn!(
            request_id = id, component = %component.id, channel = %channel,
            duration_ms = format!("{ms:.2}"), "redis handler returned an error: {e}"
        ),
        Err(e) => tracing::error!(
            request_id = id, component = %component.id, channel = %channel,
            duration_ms = format!("{ms:.2}"), "redis handler failed: {e:#}"
        ),
    }
}

/// Pre-instantiates `component` with the shared linker.
pub fn instance_pre(
    linker: &wasmtime::component::Linker<HostState>,
    component: &wasmtime::component::Component,
) -> anyhow::Result<InstancePre<HostState>> {
    linker
        .instantiate_pre(component)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}
