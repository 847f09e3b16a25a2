//! The Spin SDK seam: the only module of the project that calls `spin_sdk`
//! for storage, variables and HTTP conversion.

use sales_store::db::{Db, DbError, Rows, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::sqlite;

use crate::auth::{self, Principal};
use crate::http::{ApiRequest, ApiResponse, Method};
use crate::problem::ApiError;
use crate::ApiResult;

/// What every handler gets: the database (migrated), who is calling, and
/// the time of the request.
pub struct Ctx {
    pub db: SpinDb,
    pub principal: Principal,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// The `default` database, migrated to this build's schema.
pub fn open_db() -> Result<SpinDb, ApiError> {
    let db = SpinDb::open_default()?;
    sales_store::migrate(&db)
        .map_err(|e| ApiError::unavailable(format!("failed to prepare the database: {e}")))?;
    Ok(db)
}

/// A component's whole HTTP entry: opens and migrates the database,
/// authenticates the bearer key (the bootstrap admin key is the Spin variable
/// `admin_api_key`), hands the request to `route`, and answers its result or
/// its problem. `#[http_component] fn handle(req: Request) -> Response {
/// sales_kit::spin::serve(req, route) }`.
pub fn serve(req: Request, route: impl FnOnce(&Ctx, &ApiRequest) -> ApiResult) -> Response {
    answer(ApiRequest::from(req), route)
}

/// Authenticates `req`, routes it, and answers (the body of [`serve`]).
fn answer(req: ApiRequest, route: impl FnOnce(&Ctx, &ApiRequest) -> ApiResult) -> Response {
    let result = (|| {
        let db = open_db()?;
        let admin_key = variable("admin_api_key");
        let principal = auth::authenticate(&db, &req, admin_key.as_deref())?;
        let ctx = Ctx {
            db,
            principal,
            now: chrono::Utc::now(),
        };
        route(&ctx, &req)
    })();
    match result {
        Ok(resp) => resp.into(),
        Err(err) => err.to_response().into(),
    }
}

/// What a public route's handler gets: the database and the time, and no
/// principal — nobody authenticated.
pub struct PublicCtx {
    pub db: SpinDb,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// [`serve`] for a component with a few routes that take no API key (a
/// customer accepting a quotation through a signed link). A request for
/// which `is_public` is true goes to `public` **without authentication**;
/// every other request is authenticated and routed by `route` exactly as
/// in [`serve`].
///
/// Keep `is_public` to exact (method, path) pairs and let the public
/// handler carry its own proof (a signed token) and do one narrow thing:
/// it has no principal, so it must not reach anything a key protects. A
/// public route gets no principal-scoped `Idempotency-Key` either.
pub fn serve_with_public(
    req: Request,
    is_public: impl FnOnce(&ApiRequest) -> bool,
    public: impl FnOnce(&PublicCtx, &ApiRequest) -> ApiResult,
    route: impl FnOnce(&Ctx, &ApiRequest) -> ApiResult,
) -> Response {
    let api = ApiRequest::from(req);
    if !is_public(&api) {
        return answer(api, route);
    }
    let result = (|| {
        let ctx = PublicCtx {
            db: open_db()?,
            now: chrono::Utc::now(),
        };
        public(&ctx, &api)
    })();
    match result {
        Ok(resp) => resp.into(),
        Err(err) => err.to_response().into(),
    }
}

/// The key-value store `default` as the pricing snapshot's cache
/// (`sales_store::pricing::snapshot`). A store that cannot be opened or
/// read behaves as an empty cache: pricing then reads the database.
pub struct KvCache {
    store: Option<spin_sdk::key_value::Store>,
}

impl KvCache {
    /// Opens the `default` store (granted to the pricing and orders
    /// components in `spin.toml`).
    pub fn open_default() -> KvCache {
        KvCache {
            store: spin_sdk::key_value::Store::open_default().ok(),
        }
    }
}

impl sales_store::pricing::snapshot::SnapshotCache for KvCache {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.store.as_ref()?.get(key).ok().flatten()
    }
    fn set(&self, key: &str, value: &[u8]) {
        if let Some(store) = &self.store {
            // A failed write only costs the next request a rebuild.
            let _ = store.set(key, value);
        }
    }
}

/// `sales_store::Db` over a Spin SQLite connection. One connection per
/// request; `BEGIN IMMEDIATE … COMMIT` through it is a real transaction.
pub struct SpinDb {
    conn: sqlite::Connection,
}

impl SpinDb {
    /// Opens the `default` database, the system of record.
    pub fn open_default() -> Result<SpinDb, ApiError> {
        let conn = sqlite::Connection::open_default()
            .map_err(|e| ApiError::unavailable(format!("failed to open the database: {e}")))?;
        Ok(SpinDb { conn })
    }
}

impl Db for SpinDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let params: Vec<sqlite::Value> = params.iter().map(to_spin).collect();
        let result = self.conn.execute(sql, &params).map_err(|e| {
            let msg = match e {
                sqlite::Error::Io(m) => m,
                other => other.to_string(),
            };
            DbError::from_sqlite_message(msg)
        })?;
        Ok(Rows {
            columns: result.columns,
            rows: result
                .rows
                .into_iter()
                .map(|r| r.values.into_iter().map(from_spin).collect())
                .collect(),
        })
    }
}

fn to_spin(v: &Value) -> sqlite::Value {
    match v {
        Value::Null => sqlite::Value::Null,
        Value::Integer(i) => sqlite::Value::Integer(*i),
        Value::Real(f) => sqlite::Value::Real(*f),
        Value::Text(s) => sqlite::Value::Text(s.clone()),
        Value::Blob(b) => sqlite::Value::Blob(b.clone()),
    }
}

fn from_spin(v: sqlite::Value) -> Value {
    match v {
        sqlite::Value::Null => Value::Null,
        sqlite::Value::Integer(i) => Value::Integer(i),
        sqlite::Value::Real(f) => Value::Real(f),
        sqlite::Value::Text(s) => Value::Text(s),
        sqlite::Value::Blob(b) => Value::Blob(b),
    }
}

/// The Redis channel the jobs component listens on.
pub const JOBS_CHANNEL: &str = "sales-jobs";

/// Wakes the jobs component after a transaction that wrote outbox events
/// has committed: publishes `wake` on [`JOBS_CHANNEL`] at the Redis address
/// of the Spin variable `redis_address` (declare it in the component's
/// `[component.x.variables]` as `"{{ redis_address }}"` and allow
/// `redis://*:*` outbound).
///
/// Never fails: an unset address, a refused connection or a failed publish
/// is logged to stderr and ignored — the event is in the outbox and the
/// next `tick` finds it. An empty address still tries to publish: the
/// sales runner then delivers the message through its embedded broker
/// (`scripts/up` without Redis); real Spin refuses it, which is logged.
pub fn wake_jobs() {
    let address = spin_sdk::variables::get("redis_address").unwrap_or_default();
    let result = spin_sdk::redis::Connection::open(&address)
        .and_then(|conn| conn.publish(JOBS_CHANNEL, b"wake".as_ref()));
    if let Err(e) = result {
        eprintln!("wake_jobs: could not publish on {JOBS_CHANNEL} at {address:?}: {e}");
    }
}

/// A Spin variable; `None` when undefined or empty.
pub fn variable(name: &str) -> Option<String> {
    spin_sdk::variables::get(name)
        .ok()
        .filter(|v| !v.is_empty())
}

impl From<Request> for ApiRequest {
    fn from(req: Request) -> ApiRequest {
        let method = Method::parse(&req.method().to_string());
        let path = req.path().to_string();
        let query = req.query().to_string();
        let headers = req
            .headers()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string()))
            .collect();
        ApiRequest {
            method,
            path,
            query,
            headers,
            body: req.into_body(),
        }
    }
}

impl From<ApiResponse> for Response {
    fn from(resp: ApiResponse) -> Response {
        let mut builder = Response::builder();
        builder.status(resp.status);
        for (name, value) in resp.headers {
            builder.header(name, value);
        }
        builder.body(resp.body).build()
    }
}

/// POSTs `body` to `url` with `headers` (outbound HTTP: the host must be in
/// the component's `allowed_outbound_hosts`) and answers the response
/// status, or the error (denied host, refused connection, …) as text.
/// Used by the jobs component to deliver webhooks.
pub fn post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> Result<u16, String> {
    let mut builder = spin_sdk::http::Request::builder();
    builder.method(spin_sdk::http::Method::Post).uri(url);
    for (name, value) in headers {
        builder.header(name.as_str(), value.as_str());
    }
    let request = builder.body(body).build();
    let response: Result<Response, _> = spin_sdk::http::run(spin_sdk::http::send(request));
    response.map(|r| *r.status()).map_err(|e| e.to_string())
}
