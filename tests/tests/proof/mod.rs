//! Shared by the fault and replica tests (`crash.rs`, `redis_outage.rs`,
//! `replicas.rs`): `sales-runner up` processes that can be killed with
//! SIGKILL, a small shop set up over the API, concurrent order traffic,
//! and the database invariants read back from the SQLite file (read-only)
//! where the API does not show them (every reservation row, every outbox
//! row).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
pub use sales_e2e::shop::Shop;
use sales_e2e::shop::ShopSpec;
use sales_e2e::{json, TestApp};
use serde_json::Value;
use tokio::sync::Mutex;

/// A `sales-runner up` process (the binary cargo builds), killed with
/// SIGKILL when dropped. Its log goes to `<state>/runner-<port>.log`.
pub struct Runner {
    child: std::process::Child,
    pub base_url: String,
    pub pid: u32,
}

/// The newest modification time of the files under `path`.
fn newest(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| newest(&e.ok()?.path()))
        .max()
}

/// `target/debug/sales-runner`, built once per test binary unless it is
/// newer than the runner's sources, manifest and `Cargo.lock` (as after
/// `cargo test`, which builds it): `cargo build` waits for the build
/// directory's lock, which other builds on the machine may hold a while.
fn runner_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = sales_e2e::workspace_root();
            let bin = root.join("target/debug/sales-runner");
            let sources = [
                "crates/runner/src",
                "crates/runner/Cargo.toml",
                "Cargo.lock",
            ]
            .iter()
            .filter_map(|p| newest(&root.join(p)))
            .max();
            if let (Some(built), Some(sources)) = (newest(&bin), sources) {
                if built > sources {
                    return bin;
                }
            }
            let status = std::process::Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "sales-runner"])
                .current_dir(&root)
                .status()
                .expect("cargo build -p sales-runner");
            assert!(status.success(), "failed to build sales-runner");
            bin
        })
        .clone()
}

impl Runner {
    /// Starts a runner on `state` with the admin key, extra variables and
    /// an optional `--tick`.
    pub fn start(state: &Path, key: &str, vars: &[(&str, &str)], tick: Option<&str>) -> Runner {
        use std::io::BufRead;
        let root = sales_e2e::workspace_root();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(state.join("runner.log"))
            .expect("a log file");
        let mut cmd = std::process::Command::new(runner_binary());
        cmd.args([
            "up",
            "--from",
            "spin.toml",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(state)
        .args(["--variable", &format!("admin_api_key={key}")]);
        for (k, v) in vars {
            cmd.args(["--variable", &format!("{k}={v}")]);
        }
        if let Some(t) = tick {
            cmd.args(["--tick", t]);
        }
        let mut child = cmd
            .current_dir(&root)
            .env("SALES_RUNNER_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("sales-runner starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?} (see runner.log)"))
            .to_string();
        let pid = child.id();
        Runner {
            child,
            base_url,
            pid,
        }
    }

    /// `kill -9`: no shutdown, no flush, in-flight requests cut.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL the runner");
        let status = self.child.wait().expect("wait for the runner");
        assert!(!status.success(), "the runner was killed: {status:?}");
    }

    /// The resident set size of the process in KiB (from /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// What the orders are made of (`sales_e2e::shop`): shelves in stock
/// (plenty), cabinets made to order on a work centre (none on hand: every
/// order makes a work order), installation hours by a project role (every
/// order makes a project), eight customers, a B2B channel without
/// quotations, and a policy sending orders over 1,000 EUR to the manager
/// (an approval request and a notification).
pub async fn shop(app: &TestApp) -> Shop {
    sales_e2e::shop::shop(
        app,
        &ShopSpec {
            shelves_on_hand: "100000",
            cabinet_hours: "0.1",
            customers: &[
                "Proof 0 GmbH",
                "Proof 1 GmbH",
                "Proof 2 GmbH",
                "Proof 3 GmbH",
                "Proof 4 GmbH",
                "Proof 5 GmbH",
                "Proof 6 GmbH",
                "Proof 7 GmbH",
            ],
            credit_limit: "1000000000.00",
            quotation_required: false,
            approval_over: "1000",
        },
    )
    .await
}

/// Lines per order: shelves, cabinets, installation hours.
pub const LINES: i64 = 3;

/// The `n`th order's body: every third order is over 1,000 EUR (waits for
/// the manager), the others are confirmed on submission.
pub fn order_body(shop: &Shop, n: usize) -> Value {
    let shelves = if n.is_multiple_of(3) { "20" } else { "2" };
    json!({ "customer_id": shop.customers[n % shop.customers.len()],
            "channel_id": shop.channel,
            "lines": [
                { "product_id": shop.shelf, "quantity": shelves },
                { "product_id": shop.cabinet, "quantity": "1" },
                { "product_id": shop.install, "quantity": "2" },
            ] })
}

/// What a client was told.
#[derive(Debug, Clone)]
pub struct Told {
    pub id: String,
    pub number: String,
    /// The status answered by a 2xx submit; `None` when the submit got no
    /// answer (or not a 2xx): the draft was created, the submit may or may
    /// not have committed.
    pub submitted: Option<String>,
}

/// The outcome of a load phase.
#[derive(Default)]
pub struct Load {
    pub told: Vec<Told>,
    /// Unexpected replies (status and body) — answers that are neither a
    /// success nor a transport error.
    pub unexpected: Vec<String>,
    /// Transport errors (connection refused or cut).
    pub cut: usize,
}

/// `clients` tasks per app, each creating and submitting orders until
/// `stop` is set or its app stops answering. Client `c`'s `n`th order uses
/// body `order_body(shop, c * 1000 + n)`.
pub async fn submit_load(
    apps: Vec<Arc<TestApp>>,
    shop: Arc<Shop>,
    clients: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    max_per_client: usize,
) -> Load {
    let load = Arc::new(Mutex::new(Load::default()));
    let mut tasks = Vec::new();
    for (a, app) in apps.iter().enumerate() {
        for c in 0..clients {
            let (app, shop, stop, load) = (app.clone(), shop.clone(), stop.clone(), load.clone());
            let client = a * clients + c;
            tasks.push(tokio::spawn(async move {
                for n in 0..max_per_client {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let created = match app
                        .post("/api/v1/orders", order_body(&shop, client * 1000 + n))
                        .await
                    {
                        Ok(r) if r.status.as_u16() == 201 => r.body,
                        Ok(r) => {
                            load.lock()
                                .await
                                .unexpected
                                .push(format!("create {}: {}", r.status, r.text));
                            continue;
                        }
                        Err(_) => {
                            load.lock().await.cut += 1;
                            return;
                        }
                    };
                    let mut told = Told {
                        id: id(&created),
                        number: created["number"].as_str().unwrap_or_default().to_owned(),
                        submitted: None,
                    };
                    let reply = app
                        .post(&format!("/api/v1/orders/{}/submit", told.id), json!({}))
                        .await;
                    let mut l = load.lock().await;
                    match reply {
                        Ok(r) if r.status.is_success() => {
                            told.submitted = r.body["status"].as_str().map(str::to_owned);
                            l.told.push(told);
                        }
                        Ok(r) => {
                            l.unexpected
                                .push(format!("submit {}: {}", r.status, r.text));
                            l.told.push(told);
                        }
                        Err(_) => {
                            l.cut += 1;
                            l.told.push(told);
                            return;
                        }
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(load)
        .ok()
        .expect("every task is done")
        .into_inner()
}

/// Opens the app's database read-only.
pub fn open(db: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the database read-only");
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

fn rows<T>(
    c: &rusqlite::Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    let mut st = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    st.query_map([], f)
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_else(|e| panic!("amount {text:?}: {e}"))
}

/// The order store's invariants over the whole database; panics naming
/// the first broken one. Returns the orders' statuses by id.
pub fn check_orders(db: &Path) -> HashMap<String, (String, String)> {
    let c = open(db);
    // No duplicate document numbers.
    for (table, what) in [
        ("sales_orders", "order"),
        ("quotations", "quotation"),
        ("work_orders", "work order"),
        ("projects", "project"),
    ] {
        let dups: Vec<(String, i64)> = rows(
            &c,
            &format!("SELECT number, COUNT(*) FROM {table} GROUP BY number HAVING COUNT(*) > 1"),
            |r| Ok((r.get(0)?, r.get(1)?)),
        );
        assert!(dups.is_empty(), "duplicate {what} numbers: {dups:?}");
    }
    let orders: Vec<(String, String, String, Option<String>)> = rows(
        &c,
        "SELECT id, number, status, grand_total FROM sales_orders",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    );
    // Lines by order: (line id, kind, quantity, reserved, gross total).
    type Line = (String, String, i64, i64, Option<String>);
    let mut lines: HashMap<String, Vec<Line>> = HashMap::new();
    for (order, line) in rows(
        &c,
        "SELECT order_id, id, product_kind, quantity_milli, reserved_milli, gross_total
           FROM sales_order_lines",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        },
    ) {
        lines.entry(order).or_default().push(line);
    }
    // Held reservation rows by document and line.
    let mut held: HashMap<(String, String), i64> = HashMap::new();
    for (document, line, q) in rows(
        &c,
        "SELECT r.document, l.line_id, l.quantity_milli
           FROM reservations r JOIN reservation_lines l ON l.reservation_id = r.id
          WHERE r.status = 'held'",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        },
    ) {
        *held.entry((document, line)).or_default() += q;
    }
    let by_number: HashMap<&str, &str> = orders
        .iter()
        .map(|(_, number, status, _)| (number.as_str(), status.as_str()))
        .collect();
    // A work order pegs its receipt to the order with a hold of its own.
    let work_orders: HashMap<String, String> =
        rows(&c, "SELECT number, status FROM work_orders", |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .into_iter()
        .collect();
    // No hold without a live order (or a live work order).
    for (document, _) in held.keys() {
        if let Some(status) = work_orders.get(document) {
            assert_ne!(
                status, "cancelled",
                "a cancelled work order {document} holds stock"
            );
            continue;
        }
        let status = by_number
            .get(document.as_str())
            .unwrap_or_else(|| panic!("a held reservation for {document}, which is no order"));
        assert!(
            [
                "pending_approval",
                "confirmed",
                "on_hold",
                "partially_fulfilled"
            ]
            .contains(status),
            "a held reservation for {document}, which is {status}"
        );
    }
    let mut out = HashMap::new();
    for (order, number, status, grand_total) in &orders {
        let ls = lines.get(order).map(Vec::as_slice).unwrap_or_default();
        // No half-written document.
        assert_eq!(
            ls.len() as i64,
            LINES,
            "order {number} ({status}) has {} lines",
            ls.len()
        );
        if let Some(total) = grand_total {
            let sum: Decimal = ls
                .iter()
                .map(|l| {
                    dec(l.4.as_deref().unwrap_or_else(|| {
                        panic!("order {number} has a total but line {} is unpriced", l.0)
                    }))
                })
                .sum();
            assert_eq!(dec(total), sum, "order {number}: total vs its lines");
        }
        let live = ["pending_approval", "confirmed"].contains(&status.as_str());
        for (line, kind, quantity, reserved, _) in ls {
            let holds = held
                .get(&(number.clone(), line.clone()))
                .copied()
                .unwrap_or(0);
            assert_eq!(
                holds, *reserved,
                "order {number} line {line}: held rows vs the line's reserved quantity"
            );
            if live && kind == "stocked" {
                assert_eq!(
                    reserved, quantity,
                    "order {number} ({status}) line {line}: the stocked line is reserved whole"
                );
            }
            if !live {
                assert_eq!(holds, 0, "order {number} ({status}) holds stock");
            }
        }
        out.insert(order.clone(), (number.clone(), status.clone()));
    }
    // The positions' counters agree with the held rows.
    let bad: Vec<(String, i64, i64)> = rows(
        &c,
        "SELECT p.product_id, p.reserved_milli,
                COALESCE((SELECT SUM(l.quantity_milli) FROM reservation_lines l
                            JOIN reservations r ON r.id = l.reservation_id
                           WHERE r.status = 'held' AND l.product_id = p.product_id
                             AND l.warehouse_id = p.warehouse_id), 0)
           FROM stock_positions p",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .into_iter()
    .filter(|(_, counter, sum)| counter != sum)
    .collect();
    assert!(
        bad.is_empty(),
        "positions whose reserved counter is not the sum of held rows: {bad:?}"
    );
    // No oversell: held + consumed never exceed on hand + incoming.
    let over: Vec<(String, i64, i64, i64)> = rows(
        &c,
        "SELECT product_id, on_hand_milli, incoming_milli, reserved_milli FROM stock_positions
          WHERE reserved_milli > on_hand_milli + incoming_milli",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    );
    assert!(over.is_empty(), "oversold positions: {over:?}");
    out
}

/// Outbox rows by status.
pub fn outbox_counts(db: &Path) -> BTreeMap<String, i64> {
    rows(
        &open(db),
        "SELECT status, COUNT(*) FROM outbox GROUP BY status",
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .into_iter()
    .collect()
}

/// Waits until every outbox row is done (none pending, running or parked).
pub async fn drained(db: &Path, within: Duration) -> BTreeMap<String, i64> {
    let start = Instant::now();
    loop {
        let counts = outbox_counts(db);
        assert_eq!(counts.get("parked"), None, "parked events: {counts:?}");
        if counts.keys().all(|s| s == "done") {
            return counts;
        }
        assert!(
            start.elapsed() < within,
            "the outbox did not drain: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Each event effect exactly once: one work order per confirmed order's
/// manufactured line, one project per confirmed order with its task, one
/// `approval_requested` notification per approver per request, and nothing
/// for the orders that do not ask for it.
pub fn check_effects(db: &Path, manager: &str) {
    let c = open(db);
    let orders: Vec<(String, String, Option<String>)> = rows(
        &c,
        "SELECT id, status, approval_request_id FROM sales_orders",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    let count = |sql: &str, arg: &str| -> i64 {
        c.query_row(sql, [arg], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    for (order, status, request) in &orders {
        let work = count(
            "SELECT COUNT(*) FROM work_orders WHERE order_id = ? AND status != 'cancelled'",
            order,
        );
        let projects = count("SELECT COUNT(*) FROM projects WHERE order_id = ?", order);
        let tasks = count(
            "SELECT COUNT(*) FROM project_tasks t JOIN projects p ON p.id = t.project_id
              WHERE p.order_id = ?",
            order,
        );
        let expected = i64::from(status == "confirmed");
        assert_eq!(
            (work, projects, tasks),
            (expected, expected, expected),
            "order {order} ({status}): work orders, projects, tasks"
        );
        if status == "pending_approval" {
            let request = request
                .as_deref()
                .expect("a pending order names its request");
            let told: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM notifications
                      WHERE recipient = ? AND kind = 'approval_requested' AND subject_id = ?",
                    [manager, request],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(told, 1, "the manager is told once about {request}");
        }
    }
}

/// A `redis-server` on a fixed loopback port that can be stopped and
/// started again on the same port (an outage), killed on drop.
pub struct Redis {
    child: Option<std::process::Child>,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut r = Redis { child: None, port };
        r.up();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port.
    pub fn up(&mut self) {
        assert!(self.child.is_none(), "redis is already up");
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL): every connection drops at once.
    pub fn down(&mut self) {
        let mut child = self.child.take().expect("redis is up");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// `PUBSUB NUMSUB channel`: how many clients are subscribed.
    pub fn subscribers(&self, channel: &str) -> u64 {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "PUBSUB", "NUMSUB", channel])
            .output()
            .expect("redis-cli must be installed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until `n` clients are subscribed to `channel`.
    pub async fn wait_subscribers(&self, channel: &str, n: u64, within: Duration) {
        let start = Instant::now();
        while self.subscribers(channel) < n {
            assert!(
                start.elapsed() < within,
                "{channel} has {} subscribers, not {n}, after {within:?}",
                self.subscribers(channel)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
