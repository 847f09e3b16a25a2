//! SQLite databases (`fermyon:spin/sqlite@2.0.0`) and the SQLite-backed
//! key-value store.
//!
//! Every guest `open` gets a connection of its own, so `BEGIN IMMEDIATE` …
//! `COMMIT` issued through `execute` is a real transaction. Connections are
//! pooled per database: a connection returns to the pool only when its guest
//! handle is dropped, after any open transaction has been rolled back, so a
//! connection is never shared by two live handles; one a guest left state
//! on (a pragma setting, a TEMP table) is closed instead ([`SqliteHandle`]),
//! so no guest sees another's.
//!
//! Statements run on the calling thread (a Tokio worker): a hop to the
//! blocking pool and back is a futex wake and two context switches per
//! statement, most of a short statement's cost, and a write transaction
//! that yields between its statements keeps the write lock while its task
//! waits for a worker. [`execute_now`] runs a statement with the busy
//! timeout off and hands back one that meets a lock another connection or
//! process holds (`SQLITE_BUSY`), to be run again on tokio's blocking pool
//! with `busy_timeout` ([`execute`]), so waiting for a lock never stalls a
//! worker. Commits do not checkpoint (`wal_autocheckpoint = 0`): a thread
//! per database file runs a passive checkpoint every
//! [`CHECKPOINT_INTERVAL`], so copying the WAL into the database and its
//! `fsync`s never run on a request either. A statement that runs past the
//! request's deadline is interrupted ([`with_deadline`]), wherever it runs,
//! so a slow query cannot hold a worker thread (or a blocking thread, the
//! connection and the write lock) past it.
//!
//! Writers of one process take turns in arrival order: a guest's
//! `BEGIN IMMEDIATE` / `BEGIN EXCLUSIVE` first waits for the database's
//! write turn ([`SqliteDb::writer_turn`], a fair one-permit semaphore), and
//! the turn passes on when the transaction ends (the connection is back in
//! autocommit mode) or the handle goes away. Without it, concurrent writers
//! poll the lock in SQLite's busy handler, which is not first-come
//! first-served: under load some wait past `busy_timeout` and fail while
//! later ones go through. Other processes on the same file still meet
//! `busy_timeout`, as before.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, Statement};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a connection waits for another writer (another connection or
/// another runner process on the same file) before failing with SQLITE_BUSY.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a guest's `BEGIN IMMEDIATE` waits for this process's other
/// writers before failing with `database is locked` (the request deadline
/// ends a stuck holder well before).
pub const WRITE_TURN_TIMEOUT: Duration = Duration::from_secs(30);

/// Spin caps query results at 128 MiB.
const MAX_RESULT_BYTES: usize = 128 << 20;

/// Idle connections kept per database. A composed request holds one per
/// component instance (the orders component and its three plugs: four), so
/// at 16 concurrent submissions plus the jobs drain some 70 are open at
/// once; a pool smaller than that closed and reopened connections all the
/// time, each reopening its files, memory map and prepared statements.
const MAX_POOLED: usize = 128;

/// How often a file database's WAL is checkpointed (passively: never
/// waiting for readers or writers) by its checkpoint thread.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Prepared statements kept per connection (rusqlite's default is 16,
/// fewer than one submission's distinct statements: past it every
/// statement was parsed and planned again).
const STATEMENT_CACHE: usize = 256;

/// SQLite's allocator: mimalloc, the process's allocator (see `lib.rs`),
/// instead of the C library's `malloc`, which SQLite calls for every
/// statement, row and page (~10 % of an order submission's CPU).
fn sqlite_mem() -> rusqlite::ffi::sqlite3_mem_methods {
    rusqlite::ffi::sqlite3_mem_methods {
        xMalloc: Some(sqlite_malloc),
        xFree: Some(sqlite_free),
        xRealloc: Some(sqlite_realloc),
        xSize: Some(sqlite_size),
        xRoundup: Some(sqlite_roundup),
        xInit: Some(sqlite_mem_init),
        xShutdown: Some(sqlite_mem_shutdown),
        pAppData: std::ptr::null_mut(),
    }
}

unsafe extern "C" fn sqlite_malloc(n: c_int) -> *mut c_void {
    // SAFETY: mimalloc returns null or a 16-byte aligned block of `n` bytes.
    unsafe { libmimalloc_sys::mi_malloc(n.max(0) as usize) }
}

unsafe extern "C" fn sqlite_free(p: *mut c_void) {
    // SAFETY: SQLite frees only what `sqlite_malloc`/`sqlite_realloc` gave.
    unsafe { libmimalloc_sys::mi_free(p) }
}

unsafe extern "C" fn sqlite_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    // SAFETY: as above; SQLite never asks for a size of 0 here.
    unsafe { libmimalloc_sys::mi_realloc(p, n.max(0) as usize) }
}

unsafe extern "C" fn sqlite_size(p: *mut c_void) -> c_int {
    // SAFETY: `p` is a live block from this allocator.
    let n = unsafe { libmimalloc_sys::mi_usable_size(p) };
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn sqlite_roundup(n: c_int) -> c_int {
    (n.max(0) + 7) & !7
}

unsafe extern "C" fn sqlite_mem_init(_: *mut c_void) -> c_int {
    rusqlite::ffi::SQLITE_OK
}

unsafe extern "C" fn sqlite_mem_shutdown(_: *mut c_void) {}

/// Process-wide SQLite settings, made once before the first connection
/// the runner opens: mimalloc as SQLite's allocator ([`sqlite_mem`]) and no
/// memory statistics (SQLite's `memstatus` takes a global mutex and asks
/// the allocator for the block's size on every allocation and free). If
/// SQLite is already initialised in this process (another part of it
/// opened a database first), `sqlite3_config` refuses with
/// `SQLITE_MISUSE` and the defaults stay: slower, not wrong.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` is called before any connection of ours
        // is opened, from one thread (the `Once`); SQLite keeps its own
        // copy of the methods structure.
        let mem = sqlite_mem();
        let (memstatus, malloc) = unsafe {
            (
                rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int),
                rusqlite::ffi::sqlite3_config(
                    rusqlite::ffi::SQLITE_CONFIG_MALLOC,
                    &mem as *const rusqlite::ffi::sqlite3_mem_methods,
                ),
            )
        };
        if memstatus != rusqlite::ffi::SQLITE_OK || malloc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                memstatus,
                malloc,
                "SQLite was initialised before the runner configured it; keeping its defaults"
            );
        }
        // A commit's WAL frames in one write (`crate::walbuf`); off with
        // `SALES_SQLITE_WALBUF=off`, to measure against.
        let off = std::env::var("SALES_SQLITE_WALBUF").is_ok_and(|v| v == "off");
        if !off && !crate::walbuf::register() {
            tracing::warn!("could not register the WAL-gathering VFS; SQLite's default stays");
        }
    });
}

/// SQLite virtual-machine steps between two looks at the deadline
/// (`sqlite3_progress_handler`): a few microseconds of work.
const PROGRESS_STEPS: i32 = 1_000;

thread_local! {
    /// The deadline of the statements this thread runs (see [`with_deadline`]).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with the statements it runs on this thread interrupted
/// (`SQLITE_INTERRUPT`, "interrupted") once `deadline` has passed.
pub fn with_deadline<T>(deadline: Option<Instant>, f: impl FnOnce() -> T) -> T {
    let outer = DEADLINE.replace(deadline);
    let r = f();
    DEADLINE.set(outer);
    r
}

/// The progress handler of every connection: `true` interrupts.
fn past_deadline() -> bool {
    DEADLINE.get().is_some_and(|d| Instant::now() >= d)
}

/// One configured database (a file, or a private in-memory database).
#[derive(Debug)]
pub struct SqliteDb {
    label: String,
    target: Target,
    pool: Mutex<Vec<Connection>>,
    /// One permit: the write turn (see the module docs).
    writer: Arc<Semaphore>,
    /// A file database's checkpoint thread, until [`SqliteDb::close`] or
    /// the drop stops it.
    checkpointer: Mutex<Option<Checkpointer>>,
}

/// The thread that checkpoints a file database's WAL, and how to stop it.
#[derive(Debug)]
struct Checkpointer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    /// Stops the thread after its current checkpoint; it closes its
    /// connection on the way out.
    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

impl Drop for SqliteDb {
    fn drop(&mut self) {
        self.stop_checkpoints();
    }
}

#[derive(Debug)]
enum Target {
    File(PathBuf),
    Memory(String),
}

impl SqliteDb {
    /// A database stored in `path` (created if missing, parent directories too).
    pub fn file(label: &str, path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        }
        let mut db = Self {
            label: label.to_string(),
            target: Target::File(path.to_path_buf()),
            pool: Mutex::new(Vec::new()),
            writer: Arc::new(Semaphore::new(1)),
            checkpointer: Mutex::new(None),
        };
        // Open once now so a bad path fails the start, and switch to WAL.
        let conn = db.connect()?;
        db.release(conn);
        let checkpoints = db.connect()?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let name = db.label.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sqlite-checkpoint-{label}"))
            .spawn(move || loop {
                std::thread::park_timeout(CHECKPOINT_INTERVAL);
                if stopped.load(std::sync::atomic::Ordering::Acquire) {
                    break;
                }
                if let Err(e) =
                    checkpoints.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                {
                    tracing::warn!(db = %name, "WAL checkpoint failed: {e}");
                }
            })
            .map_err(|e| format!("failed to start the checkpoint thread: {e}"))?;
        db.checkpointer = Mutex::new(Some(Checkpointer { stop, thread }));
        Ok(db)
    }

    /// A private in-memory database shared by all connections of this app.
    pub fn memory(label: &str) -> Result<Self, String> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let uri = format!(
            "file:sales-runner-{}-{label}-{n}?mode=memory&cache=shared",
            std::process::id()
        );
        let db = Self {
            label: label.to_string(),
            target: Target::Memory(uri),
            pool: Mutex::new(Vec::new()),
            writer: Arc::new(Semaphore::new(1)),
            checkpointer: Mutex::new(None),
        };
        // Keep one connection pooled so the shared in-memory database lives
        // as long as the app.
        let conn = db.connect()?;
        db.release(conn);
        Ok(db)
    }

    /// Waits for this process's write turn on the database, first come
    /// first served; hold it from `BEGIN IMMEDIATE` to the end of the
    /// transaction. Fails with `database is locked` after
    /// [`WRITE_TURN_TIMEOUT`].
    pub async fn writer_turn(&self) -> Result<OwnedSemaphorePermit, String> {
        match tokio::time::timeout(WRITE_TURN_TIMEOUT, self.writer.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            Ok(Err(e)) => Err(format!("database is locked: {e}")),
            Err(_) => Err(format!(
                "database is locked: waited {} s for other writers of {:?}",
                WRITE_TURN_TIMEOUT.as_secs(),
                self.label
            )),
        }
    }

    /// The label this database is configured under.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn connect(&self) -> Result<Connection, String> {
        configure_sqlite();
        let conn = match &self.target {
            Target::File(path) => Connection::open(path),
            Target::Memory(uri) => Connection::open_with_flags(
                uri,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ),
        }
        .map_err(|e| format!("failed to open sqlite database {:?}: {e}", self.label))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| format!("failed to set busy_timeout: {e}"))?;
        if matches!(self.target, Target::File(_)) {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| format!("failed to enable WAL: {e}"))?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| format!("failed to set synchronous: {e}"))?;
            // The checkpoint thread does it (see the module docs).
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(|e| format!("failed to set wal_autocheckpoint: {e}"))?;
            wal_trace::install(&conn);
        }
        conn.progress_handler(PROGRESS_STEPS, Some(past_deadline));
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Statement journals and sorts in memory, not in a temporary file
        // created, written and deleted per statement (`/var/tmp/etilqs_*`).
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(|e| format!("failed to set temp_store: {e}"))?;
        // Spin denies ATTACH of other files.
        conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)
            .map_err(|e| format!("failed to limit ATTACH: {e}"))?;
        Ok(conn)
    }

    /// A connection for one guest handle: pooled if available, else new.
    /// Blocking; call from a blocking thread.
    pub fn acquire(&self) -> Result<Connection, String> {
        match self.pooled() {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    /// An idle pooled connection, if there is one. Does not block.
    pub fn pooled(&self) -> Option<Connection> {
        self.pool.lock().ok().and_then(|mut p| p.pop())
    }

    /// Returns a connection to the pool, rolling back any transaction the
    /// guest left open. Blocking; call from a blocking thread.
    pub fn release(&self, conn: Connection) {
        if !conn.is_autocommit() {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::warn!(db = %self.label, "dropping connection after failed rollback: {e}");
                return;
            }
        }
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < MAX_POOLED {
                pool.push(conn);
            }
        }
    }

    /// Stops the checkpoint thread (closing its connection) and closes the
    /// idle pooled connections: once the guests' connections are gone too,
    /// the last one to close checkpoints the WAL into the file and removes
    /// it, as SQLite does. For a shutdown; the database still works after
    /// it, without the checkpoint thread. Blocking.
    pub fn close(&self) {
        self.stop_checkpoints();
        let idle: Vec<Connection> = self
            .pool
            .lock()
            .map(|mut p| p.drain(..).collect())
            .unwrap_or_default();
        drop(idle);
    }

    fn stop_checkpoints(&self) {
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        if let Some(c) = checkpointer {
            c.stop();
        }
    }

    /// Runs a batch of statements (used by `--sqlite`). Blocking.
    pub fn execute_batch(&self, sql: &str) -> Result<(), String> {
        let conn = self.acquire()?;
        let result = conn.execute_batch(sql).map_err(|e| e.to_string());
        self.release(conn);
        result
    }
}

/// Whether `statement` may leave state on its connection that a later
/// guest's `open` would see: a `PRAGMA` that sets something (`PRAGMA x = v`,
/// `PRAGMA x(v)` other than the schema queries), a `TEMP` table, view or
/// trigger. Errs towards yes (a CREATE with `temp.` anywhere, a literal
/// included): a false yes costs a pooled connection, no more.
pub fn sets_connection_state(statement: &str) -> bool {
    /// Pragmas that take an argument and only answer.
    const QUERIES: [&str; 11] = [
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
        "wal_checkpoint",
    ];
    let text = statement.trim_start();
    let mut words = text
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == '=')
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or("");
    if first.eq_ignore_ascii_case("PRAGMA") {
        let name = words.next().unwrap_or("");
        let name = name.rsplit('.').next().unwrap_or(name);
        return text.contains('=')
            || (text.contains('(') && !QUERIES.iter().any(|q| name.eq_ignore_ascii_case(q)));
    }
    // Only a CREATE makes a temp object (`CREATE TEMP …`, `CREATE TABLE
    // temp.x …`); later statements on it find the handle marked already.
    // Every other statement is told by its first word: nothing scanned on
    // the hot path.
    first.eq_ignore_ascii_case("CREATE")
        && (matches!(words.next(), Some(w) if w.eq_ignore_ascii_case("TEMP") || w.eq_ignore_ascii_case("TEMPORARY"))
            || text
                .as_bytes()
                .windows(5)
                .any(|w| w.eq_ignore_ascii_case(b"temp.")))
}

/// An open SQLite handle of a guest: a connection of its own (pooled),
/// and its write turn while a write transaction lasts.
///
/// A statement that leaves state on the connection
/// ([`sets_connection_state`]: a pragma setting, a TEMP table) marks the
/// handle; its connection is then closed with it instead of pooled, so
/// the next guest's `open` gets a connection without another guest's
/// state, as Spin's fresh one is.
pub struct SqliteHandle {
    /// The database.
    pub db: Arc<SqliteDb>,
    /// The connection; `None` only while a statement runs on a blocking
    /// thread.
    pub conn: Option<Connection>,
    /// This handle's write turn, from its `BEGIN IMMEDIATE` to the end of
    /// the transaction (dropped after the connection is released).
    write_turn: Option<OwnedSemaphorePermit>,
    /// The connection carries state a guest left on it.
    marked: bool,
}

impl SqliteHandle {
    /// A handle on `conn`, a connection of `db`.
    pub fn new(db: Arc<SqliteDb>, conn: Connection) -> Self {
        Self {
            db,
            conn: Some(conn),
            write_turn: None,
            marked: false,
        }
    }

    /// Whether `statement` must first wait for the write turn.
    pub fn needs_turn(&self, statement: &str) -> bool {
        self.write_turn.is_none() && begins_write(statement)
    }

    /// Holds the write turn for the transaction `statement` begins.
    pub fn take_turn(&mut self, turn: OwnedSemaphorePermit) {
        self.write_turn = Some(turn);
    }

    /// Before `statement` runs: one that leaves state on the connection
    /// marks it.
    pub fn before(&mut self, statement: &str) {
        self.marked = self.marked || sets_connection_state(statement);
    }

    /// After a statement: back in autocommit mode, no transaction holds
    /// the write lock (COMMIT, ROLLBACK, or a `BEGIN` that failed), so the
    /// turn passes on.
    pub fn after(&mut self) {
        if !self.in_transaction() {
            self.write_turn = None;
        }
    }

    /// Whether a transaction is open on the handle's connection.
    pub fn in_transaction(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| !c.is_autocommit())
    }

    /// Closes the handle: its connection goes back to the pool (after
    /// rolling back an open transaction: blocking then) or, marked, is
    /// closed (which rolls back too); then its write turn passes on.
    pub fn close(self) {
        if let Some(conn) = self.conn {
            if self.marked {
                drop(conn);
            } else {
                self.db.release(conn);
            }
        }
        drop(self.write_turn);
    }
}

/// Whether `statement` starts a transaction that takes the write lock at
/// once (`BEGIN IMMEDIATE`, `BEGIN EXCLUSIVE`, any case and spacing): the
/// statements that wait for [`SqliteDb::writer_turn`].
pub fn begins_write(statement: &str) -> bool {
    let mut words = statement
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty());
    matches!(words.next(), Some(w) if w.eq_ignore_ascii_case("BEGIN"))
        && matches!(words.next(), Some(w) if w.eq_ignore_ascii_case("IMMEDIATE")
            || w.eq_ignore_ascii_case("EXCLUSIVE"))
}

/// A guest-visible value, independent of the generated bindings.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// `integer(s64)`.
    Integer(i64),
    /// `real(f64)`.
    Real(f64),
    /// `text(string)`.
    Text(String),
    /// `blob(list<u8>)`.
    Blob(Vec<u8>),
    /// `null`.
    Null,
}

/// Result of one statement.
#[derive(Debug, Clone, Default)]
pub struct SqlResult {
    /// Column names from the prepared statement.
    pub columns: Vec<String>,
    /// Rows, values in column order.
    pub rows: Vec<Vec<SqlValue>>,
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            SqlValue::Integer(i) => ValueRef::Integer(*i),
            SqlValue::Real(f) => ValueRef::Real(*f),
            SqlValue::Text(s) => ValueRef::Text(s.as_bytes()),
            SqlValue::Blob(b) => ValueRef::Blob(b),
            SqlValue::Null => ValueRef::Null,
        }))
    }
}

/// Why a statement failed.
enum Failure {
    Sql(rusqlite::Error),
    TooLarge,
}

impl Failure {
    fn is_busy(&self) -> bool {
        matches!(self, Failure::Sql(e) if is_busy(e))
    }
}

/// `SQLITE_BUSY`: the statement met a lock and changed nothing.
fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Sql(e) => e.fmt(f),
            Failure::TooLarge => write!(
                f,
                "query result exceeds the {} MiB limit",
                MAX_RESULT_BYTES >> 20
            ),
        }
    }
}

/// Executes one statement with positional parameters, waiting up to
/// [`BUSY_TIMEOUT`] for locks. Blocking: call from a blocking thread.
pub fn execute(
    conn: &Connection,
    statement: &str,
    params: &[SqlValue],
) -> Result<SqlResult, String> {
    let read = wal_trace::statement(conn, statement);
    let mut stmt = conn.prepare_cached(statement).map_err(|e| e.to_string())?;
    let result = run(&mut stmt, params).map_err(|e| e.to_string());
    wal_trace::after(conn, statement, read);
    result
}

/// Executes one statement on this thread with the busy timeout off;
/// `None` when it met a lock and must run with [`execute`] on a blocking
/// thread instead (see the module docs). Nothing has changed when it
/// answers `None`: a statement that meets a lock fails whole with
/// `SQLITE_BUSY` before it writes.
pub fn execute_now(
    conn: &Connection,
    statement: &str,
    params: &[SqlValue],
) -> Option<Result<SqlResult, String>> {
    let result = without_waiting(conn, || {
        let read = wal_trace::statement(conn, statement);
        let mut stmt = conn.prepare_cached(statement).map_err(Failure::Sql)?;
        let result = run(&mut stmt, params);
        wal_trace::after(conn, statement, read);
        result
    })?;
    let met_a_lock = result.as_ref().is_err_and(Failure::is_busy);
    (!met_a_lock).then(|| result.map_err(|e| e.to_string()))
}

/// Runs `f` (a read or a write) on this thread, like [`execute_now`]:
/// `None` when it met a lock and must run again where it may wait.
pub fn run_now<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Option<rusqlite::Result<T>> {
    let result = without_waiting(conn, || f(conn))?;
    let met_a_lock = result.as_ref().is_err_and(is_busy);
    (!met_a_lock).then_some(result)
}

/// Runs `f` with the busy timeout off (a lock fails at once with
/// `SQLITE_BUSY` instead of waiting); `None` if the timeout cannot be
/// switched.
fn without_waiting<T>(conn: &Connection, f: impl FnOnce() -> T) -> Option<T> {
    conn.busy_timeout(Duration::ZERO).ok()?;
    let r = f();
    if conn.busy_timeout(BUSY_TIMEOUT).is_err() {
        tracing::warn!("failed to restore busy_timeout");
    }
    Some(r)
}

fn run(stmt: &mut Statement<'_>, params: &[SqlValue]) -> Result<SqlResult, Failure> {
    let columns: Vec<String> = stmt
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(Failure::Sql)?;
    let mut out = Vec::new();
    let mut size = 0usize;
    while let Some(row) = rows.next().map_err(Failure::Sql)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let v = match row.get_ref(i).map_err(Failure::Sql)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(i) => SqlValue::Integer(i),
                ValueRef::Real(f) => SqlValue::Real(f),
                ValueRef::Text(t) => {
                    size += t.len();
                    // SQLite's text is UTF-8 unless a guest bound invalid
                    // bytes; the strict check is the fast path
                    // (`from_utf8_lossy` walks the text chunk by chunk).
                    SqlValue::Text(match std::str::from_utf8(t) {
                        Ok(s) => s.to_owned(),
                        Err(_) => String::from_utf8_lossy(t).into_owned(),
                    })
                }
                ValueRef::Blob(b) => {
                    size += b.len();
                    SqlValue::Blob(b.to_vec())
                }
            };
            size += 16;
            values.push(v);
        }
        if size > MAX_RESULT_BYTES {
            return Err(Failure::TooLarge);
        }
        out.push(values);
    }
    Ok(SqlResult { columns, rows: out })
}

/// Diagnostics, off unless the environment names a file in
/// `SALES_WAL_TRACE` when the process starts: after every commit that wrote
/// to a file database's WAL, one tab-separated line is appended to it —
/// the frames (pages) the commit added to the WAL, the statements the
/// transaction ran, the database file, and the first 70 characters of
/// each write statement (`|`-separated); and to `<file>.reads` a line per
/// statement that read pages from the files (page-cache misses: a
/// connection's cache is emptied whenever another connection has
/// committed) — the pages and the statement's first 90 characters. Matched against the frames of the
/// WAL file itself it tells which b-trees each kind of transaction writes
/// (BENCHMARKS.md, Order submission over HTTP, session 7). A hook set on
/// every connection; nothing reads the file.
mod wal_trace {
    use std::collections::HashMap;
    use std::ffi::{c_char, c_int, c_void, CStr};
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};

    struct Trace {
        out: Mutex<std::fs::File>,
        /// `<file>.reads`: per statement, the pages it read from the files.
        reads: Mutex<std::fs::File>,
        /// Per connection (its `sqlite3*`): statements since its last
        /// commit, and the write statements among them.
        pending: Mutex<HashMap<usize, (u32, Vec<String>)>>,
        /// Per WAL file: frames in it after the last commit.
        frames: Mutex<HashMap<String, i64>>,
    }

    fn trace() -> Option<&'static Trace> {
        static T: OnceLock<Option<Trace>> = OnceLock::new();
        T.get_or_init(|| {
            let path = std::env::var_os("SALES_WAL_TRACE")?;
            let open = |p: &std::ffi::OsStr| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .ok()
            };
            let mut reads = path.clone();
            reads.push(".reads");
            Some(Trace {
                out: Mutex::new(open(&path)?),
                reads: Mutex::new(open(&reads)?),
                pending: Mutex::new(HashMap::new()),
                frames: Mutex::new(HashMap::new()),
            })
        })
        .as_ref()
    }

    /// Frames a commit added: the WAL holds `now` frames after it and held
    /// `before` after the previous commit — unless a checkpoint let the
    /// next writer start the WAL over, when all `now` are this commit's
    /// (a restarting commit longer than the WAL was is counted short: hold
    /// a read transaction open to keep the WAL from restarting when every
    /// frame matters).
    pub(super) fn added(before: i64, now: i64) -> i64 {
        if now > before {
            now - before
        } else {
            now
        }
    }

    pub(super) fn install(conn: &rusqlite::Connection) {
        if trace().is_some() {
            // SAFETY: the connection's handle is live; the hook reads only
            // its arguments and this module's statics.
            unsafe {
                rusqlite::ffi::sqlite3_wal_hook(conn.handle(), Some(hook), std::ptr::null_mut());
            }
        }
    }

    fn key(conn: &rusqlite::Connection) -> usize {
        // SAFETY: the handle's address is used as a key only.
        unsafe { conn.handle() as usize }
    }

    /// Pages this connection has read from the files (page-cache misses).
    fn misses(conn: &rusqlite::Connection) -> c_int {
        let (mut current, mut high) = (0, 0);
        // SAFETY: the handle is live; SQLite writes the two counters.
        unsafe {
            rusqlite::ffi::sqlite3_db_status(
                conn.handle(),
                rusqlite::ffi::SQLITE_DBSTATUS_CACHE_MISS,
                &mut current,
                &mut high,
                0,
            );
        }
        current
    }

    /// Before a statement: notes it; answers the connection's page reads
    /// so far (for [`after`]), 0 when tracing is off.
    pub(super) fn statement(conn: &rusqlite::Connection, sql: &str) -> c_int {
        let Some(t) = trace() else { return 0 };
        let before = misses(conn);
        let Ok(mut pending) = t.pending.lock() else {
            return before;
        };
        let entry = pending.entry(key(conn)).or_default();
        entry.0 += 1;
        let head = sql.trim_start();
        let word = head.split_whitespace().next().unwrap_or("");
        let reads = [
            "SELECT",
            "WITH",
            "BEGIN",
            "PRAGMA",
            "COMMIT",
            "END",
            "ROLLBACK",
            "SAVEPOINT",
            "RELEASE",
        ];
        if !reads.iter().any(|r| word.eq_ignore_ascii_case(r)) {
            let words: Vec<&str> = head.split_whitespace().collect();
            entry.1.push(words.join(" ").chars().take(70).collect());
        }
        before
    }

    /// After a statement: outside a transaction, forget its statements
    /// (a commit's were taken by the hook already).
    pub(super) fn after(conn: &rusqlite::Connection, sql: &str, before: c_int) {
        if let Some(t) = trace() {
            let read = misses(conn) - before;
            if read > 0 {
                let words: Vec<&str> = sql.split_whitespace().collect();
                let text: String = words.join(" ").chars().take(90).collect();
                if let Ok(mut out) = t.reads.lock() {
                    let _ = writeln!(out, "{read}\t{text}");
                }
            }
            if conn.is_autocommit() {
                if let Ok(mut pending) = t.pending.lock() {
                    pending.remove(&key(conn));
                }
            }
        }
    }

    unsafe extern "C" fn hook(
        _: *mut c_void,
        db: *mut rusqlite::ffi::sqlite3,
        name: *const c_char,
        frames: c_int,
    ) -> c_int {
        let Some(t) = trace() else { return 0 };
        // SAFETY: SQLite passes its live handle and the database's
        // NUL-terminated schema name; the file name it answers lives as
        // long as the connection.
        let file = unsafe {
            let f = rusqlite::ffi::sqlite3_db_filename(db, name);
            if f.is_null() {
                String::new()
            } else {
                CStr::from_ptr(f).to_string_lossy().into_owned()
            }
        };
        let now = i64::from(frames);
        let before = t
            .frames
            .lock()
            .ok()
            .and_then(|mut f| f.insert(file.clone(), now))
            .unwrap_or(0);
        let (statements, writes) = t
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&(db as usize)))
            .unwrap_or_default();
        let line = format!(
            "{}\t{statements}\t{file}\t{}\n",
            added(before, now),
            writes.join(" | ")
        );
        if let Ok(mut out) = t.out.lock() {
            let _ = out.write_all(line.as_bytes());
        }
        rusqlite::ffi::SQLITE_OK
    }
}

/// The key-value table Spin keeps in SQLite.
pub const KV_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_transaction_is_rolled_back_before_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::file("default", &dir.path().join("db.sqlite")).unwrap();
        db.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let conn = db.acquire().unwrap();
        execute(&conn, "BEGIN IMMEDIATE", &[]).unwrap();
        execute(&conn, "INSERT INTO t VALUES (?)", &[SqlValue::Integer(1)]).unwrap();
        db.release(conn);
        let conn = db.acquire().unwrap();
        assert!(conn.is_autocommit());
        let r = execute(&conn, "SELECT count(*) AS n FROM t", &[]).unwrap();
        assert_eq!(r.columns, vec!["n"]);
        assert_eq!(r.rows, vec![vec![SqlValue::Integer(0)]]);
    }

    #[test]
    fn statements_that_leave_state_on_the_connection_are_told_apart() {
        for sql in [
            "PRAGMA foreign_keys = ON",
            "pragma main.cache_size(100)",
            "CREATE TEMP TABLE x (n)",
            "  create temporary view v AS SELECT 1",
            "CREATE TABLE temp.x (n)",
            "create index TEMP.i ON x (n)",
        ] {
            assert!(sets_connection_state(sql), "{sql}");
        }
        for sql in [
            "PRAGMA user_version",
            "PRAGMA index_list('outbox')",
            "PRAGMA main.table_info(t)",
            "SELECT temperature FROM readings",
            "SELECT n FROM temp.x",
            "CREATE TABLE tempo (n)",
            "BEGIN IMMEDIATE",
        ] {
            assert!(!sets_connection_state(sql), "{sql}");
        }
    }

    #[test]
    fn only_immediate_and_exclusive_begins_take_a_write_turn() {
        for sql in [
            "BEGIN IMMEDIATE",
            "  begin immediate transaction",
            "BEGIN\tEXCLUSIVE;",
            "Begin Immediate;",
        ] {
            assert!(begins_write(sql), "{sql}");
        }
        for sql in [
            "BEGIN",
            "BEGIN DEFERRED",
            "BEGIN TRANSACTION",
            "COMMIT",
            "SELECT 'BEGIN IMMEDIATE'",
            "BEGINIMMEDIATE",
            "",
        ] {
            assert!(!begins_write(sql), "{sql}");
        }
    }

    /// Eight writers that each hold the write lock for 0.7 s: 5.6 s in
    /// all, past `busy_timeout` (5 s), so polling the lock in SQLite's busy
    /// handler would fail the last ones. Taking turns, every transaction
    /// commits, in the order the writers arrived.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_take_turns_in_arrival_order_past_the_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SqliteDb::file("default", &dir.path().join("db.sqlite")).unwrap());
        db.execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        let mut writers = Vec::new();
        for n in 0..8i64 {
            let db = db.clone();
            writers.push(tokio::spawn(async move {
                let turn = db.writer_turn().await?;
                let db2 = db.clone();
                tokio::task::spawn_blocking(move || {
                    let conn = db2.acquire()?;
                    execute(&conn, "BEGIN IMMEDIATE", &[])?;
                    execute(&conn, "INSERT INTO t VALUES (?)", &[SqlValue::Integer(n)])?;
                    std::thread::sleep(Duration::from_millis(700));
                    execute(&conn, "COMMIT", &[])?;
                    db2.release(conn);
                    Ok::<_, String>(())
                })
                .await
                .map_err(|e| e.to_string())??;
                drop(turn);
                Ok::<_, String>(())
            }));
            // Arrival order.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for w in writers {
            w.await.unwrap().unwrap();
        }
        let conn = db.acquire().unwrap();
        let r = execute(&conn, "SELECT n FROM t ORDER BY rowid", &[]).unwrap();
        let order: Vec<SqlValue> = r.rows.into_iter().flatten().collect();
        assert_eq!(order, (0..8).map(SqlValue::Integer).collect::<Vec<_>>());
    }

    /// Text comes back as it is stored; bytes that are not UTF-8 (a blob
    /// cast to text) as U+FFFD, since the WIT's `text` is a string.
    #[test]
    fn text_is_returned_as_stored_and_invalid_utf8_replaced() {
        let db = SqliteDb::memory("utf8").unwrap();
        let conn = db.acquire().unwrap();
        let r = execute(
            &conn,
            "SELECT 'grüße' AS ok, CAST(x'61ff62' AS TEXT) AS bad",
            &[],
        )
        .unwrap();
        assert_eq!(
            r.rows,
            vec![vec![
                SqlValue::Text("grüße".into()),
                SqlValue::Text("a\u{fffd}b".into()),
            ]]
        );
    }

    /// Commits do not copy the WAL into the database file; the checkpoint
    /// thread does, within a few intervals, and stops with the database.
    #[test]
    fn the_checkpoint_thread_copies_the_wal_into_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let db = SqliteDb::file("default", &path).unwrap();
        db.execute_batch("CREATE TABLE big (b BLOB)").unwrap();
        let conn = db.acquire().unwrap();
        let blob = SqlValue::Blob(vec![7; 2 << 20]);
        execute_now(
            &conn,
            "INSERT INTO big VALUES (?)",
            std::slice::from_ref(&blob),
        )
        .expect("no lock to meet")
        .unwrap();
        let wal = std::fs::metadata(dir.path().join("db.sqlite-wal"))
            .unwrap()
            .len();
        assert!(wal >= 2 << 20, "the row is in the WAL ({wal} bytes)");
        let size = || std::fs::metadata(&path).unwrap().len();
        let deadline = Instant::now() + 20 * CHECKPOINT_INTERVAL;
        while size() < 2 << 20 && Instant::now() < deadline {
            std::thread::sleep(CHECKPOINT_INTERVAL / 4);
        }
        assert!(size() >= 2 << 20, "checkpointed: {} bytes", size());
        db.release(conn);
        // Closed, the checkpoint thread is gone with its connection and the
        // pool is empty: the last connection to close took the WAL away.
        db.close();
        assert!(db.checkpointer.lock().unwrap().is_none());
        assert!(!dir.path().join("db.sqlite-wal").exists());
        drop(db);
    }

    /// The runner's databases allocate through mimalloc without memory
    /// statistics: with `memstatus` on (SQLite's default) the bytes in use
    /// are counted, and with the C library's allocator a block's size would
    /// be `malloc_usable_size`'s.
    #[test]
    fn sqlite_allocates_through_mimalloc_without_statistics() {
        let db = SqliteDb::memory("alloc").unwrap();
        let conn = db.acquire().unwrap();
        execute(&conn, "CREATE TABLE a (x TEXT)", &[]).unwrap();
        execute(
            &conn,
            "INSERT INTO a VALUES (?)",
            &[SqlValue::Text("x".repeat(10_000))],
        )
        .unwrap();
        // SAFETY: plain reads of SQLite's counters and a block of its own.
        let (used, ours) = unsafe {
            let p = rusqlite::ffi::sqlite3_malloc(1000);
            let ours = libmimalloc_sys::mi_is_in_heap_region(p);
            rusqlite::ffi::sqlite3_free(p);
            (rusqlite::ffi::sqlite3_memory_used(), ours)
        };
        assert_eq!(used, 0, "memstatus is off");
        assert!(ours, "SQLite's blocks come from mimalloc");
        db.release(conn);
    }

    /// The WAL trace's frames per commit: the growth since the last
    /// commit, or everything when a checkpoint let the WAL start over.
    #[test]
    fn the_wal_trace_counts_a_commits_frames_across_a_restart() {
        assert_eq!(wal_trace::added(0, 7), 7);
        assert_eq!(wal_trace::added(100, 154), 54);
        assert_eq!(wal_trace::added(154, 20), 20, "restarted");
        assert_eq!(wal_trace::added(20, 20), 20, "restarted, same length");
    }

    #[test]
    fn attach_is_denied() {
        let db = SqliteDb::memory("x").unwrap();
        let conn = db.acquire().unwrap();
        assert!(execute(&conn, "ATTACH DATABASE '/tmp/other.db' AS o", &[]).is_err());
    }

    #[test]
    fn several_statements_in_one_call_are_rejected() {
        let db = SqliteDb::memory("y").unwrap();
        let conn = db.acquire().unwrap();
        assert!(execute(&conn, "SELECT 1; SELECT 2", &[]).is_err());
    }
}
