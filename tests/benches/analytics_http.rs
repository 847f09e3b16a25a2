//! Analytics over HTTP at scale (issue 10's benchmark): 1,000,000 booked
//! order lines over a year, then, through the runner with the real
//! `spin.toml` and `analytics.wasm`, one request at a time:
//!
//! - revenue by month × territory for the year
//!   (`GET /analytics/breakdown?dimension=territory&granularity=month`),
//! - the quotation funnel over the year (`GET /analytics/funnel`),
//! - the monthly sales series with the previous year (`GET /analytics/sales`).
//!
//! Reports p50/p90/p99/max per request.
//!
//! Run: `scripts/build-wasm && cargo bench -p sales-e2e --bench analytics_http`
//! (`LINES=n` changes the number of order lines, default 1,000,000, ten per
//! order; `REQUESTS=n` the samples per request, default 200).
//!
//! Set-up, not measured: over HTTP 55 territories (World › 5 regions › 10
//! countries each), 5 customer groups, 10 item groups, 200 products, 3
//! channels and 1,000 customers; then, written straight into the runner's
//! SQLite file (the API would take hours for a million lines), the orders
//! and their lines spread over the last 365 days (90 % confirmed, 5 %
//! fulfilled, 5 % cancelled) and 50,000 quotations in every status; then
//! the rollups (daily and monthly cubes, line facts) are built by the same
//! `rollup::rebuild` the admin endpoint runs (timed and printed: what a
//! backfill costs).

// A benchmark is a test-like binary: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sales_e2e::{json, TestApp};
use sales_store::analytics::rollup;
use sales_store::rusqlite_db::RusqliteDb;
use sales_store::Db;
use serde_json::Value;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1_000.0)
}

/// A small deterministic generator (xorshift), so every run writes the
/// same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn node(app: &TestApp, path: &str, name: &str, parent: Option<&str>) -> String {
    let mut body = json!({ "code": app.code(&name.replace(' ', "")), "name": name });
    if let Some(p) = parent {
        body["parent_id"] = json!(p);
    }
    id(&app.create(path, body).await.unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let lines: usize = std::env::var("LINES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let requests: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let app = TestApp::spawn().await.expect("failed to start the app");
    let started = Instant::now();

    // --- set-up over HTTP ---------------------------------------------------
    let world = node(&app, "/api/v1/territories", "World", None).await;
    let mut countries = Vec::new();
    for r in 0..5 {
        let region = node(
            &app,
            "/api/v1/territories",
            &format!("Region {r}"),
            Some(&world),
        )
        .await;
        for c in 0..10 {
            countries.push(
                node(
                    &app,
                    "/api/v1/territories",
                    &format!("Country {r}.{c}"),
                    Some(&region),
                )
                .await,
            );
        }
    }
    let mut groups = Vec::new();
    for g in 0..5 {
        groups.push(node(&app, "/api/v1/customer-groups", &format!("Group {g}"), None).await);
    }
    let mut item_groups = Vec::new();
    for g in 0..10 {
        item_groups.push(node(&app, "/api/v1/item-groups", &format!("Items {g}"), None).await);
    }
    let mut products = Vec::new();
    for p in 0..200 {
        products.push(id(&app
            .create_product(json!({
                "sku": app.unique(&format!("P{p}")), "name": format!("Product {p}"), "uom": "pcs",
                "kind": "stocked", "item_group_id": item_groups[p % 10],
                "standard_cost": { "amount": "10.00", "currency": "EUR" }
            }))
            .await
            .unwrap()));
    }
    let mut channels = Vec::new();
    for c in 0..3 {
        channels.push(id(&app
            .create(
                "/api/v1/channels",
                json!({ "code": app.code(&format!("CH{c}")), "name": format!("Channel {c}"),
                        "kind": "b2b", "mode": "offline", "currency": "EUR",
                        "tax_mode": "exclusive" }),
            )
            .await
            .unwrap()));
    }
    let mut customers = Vec::new();
    for c in 0..1_000 {
        customers.push(id(&app
            .create_customer(json!({ "name": format!("Customer {c}"),
                                     "territory_id": countries[c % countries.len()],
                                     "customer_group_id": groups[c % groups.len()] }))
            .await
            .unwrap()));
    }
    println!(
        "set-up over HTTP: {} territories, {} customers, {} products in {:.1} s",
        countries.len() + 6,
        customers.len(),
        products.len(),
        started.elapsed().as_secs_f64()
    );

    // --- orders, lines and quotations, straight into SQLite -----------------
    let path = app.database_path().expect("a local app");
    let t = Instant::now();
    let today = chrono::Utc::now().date_naive();
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(Duration::from_secs(30)).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut order = tx
                .prepare(
                    "INSERT INTO sales_orders (id, number, customer_id, channel_id, currency,
                        status, order_date, submitted_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'EUR', ?5, ?6, ?7, ?7, ?7)",
                )
                .unwrap();
            let mut line = tx
                .prepare(
                    "INSERT INTO sales_order_lines (order_id, seq, id, product_id, product_kind,
                        quantity_milli, uom, net_unit_price, net_total, margin, shipped_milli)
                     VALUES (?1, ?2, ?3, ?4, 'stocked', ?5, 'pcs', ?6, ?7, ?8, ?9)",
                )
                .unwrap();
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            for o in 0..lines.div_ceil(10) {
                let oid = uuid::Uuid::now_v7().to_string();
                let day = today - chrono::Days::new(rng.below(365) as u64);
                let roll = rng.below(100);
                let status = match roll {
                    0..=4 => "cancelled",
                    5..=9 => "fulfilled",
                    _ => "confirmed",
                };
                let at = format!("{day}T10:00:00.000Z");
                order
                    .execute(rusqlite::params![
                        oid,
                        format!("SO-B-{o:07}"),
                        customers[rng.below(customers.len())],
                        channels[rng.below(channels.len())],
                        status,
                        day.to_string(),
                        at
                    ])
                    .unwrap();
                for seq in 0..10 {
                    let qty = 1 + rng.below(9) as i64;
                    let price = 10 + rng.below(190) as i64;
                    let shipped = if status == "fulfilled" { qty * 1000 } else { 0 };
                    line.execute(rusqlite::params![
                        oid,
                        seq,
                        uuid::Uuid::now_v7().to_string(),
                        products[rng.below(products.len())],
                        qty * 1000,
                        format!("{price}.00"),
                        format!("{}.00", price * qty),
                        format!("{}.00", (price - 10) * qty),
                        shipped
                    ])
                    .unwrap();
                }
            }
            let mut quote = tx
                .prepare(
                    "INSERT INTO quotations (id, number, revision, status, customer_id,
                        channel_id, currency, valid_until, body, created_at, updated_at)
                     VALUES (?1, ?2, 1, ?3, ?4, ?5, 'EUR', ?6, ?7, ?8, ?8)",
                )
                .unwrap();
            let statuses = [
                "draft",
                "sent",
                "accepted",
                "lost",
                "expired",
                "ordered",
                "partially_ordered",
                "cancelled",
            ];
            let reasons = ["price", "lead time", "competitor", "no budget"];
            for q in 0..50_000 {
                let day = today - chrono::Days::new(rng.below(365) as u64);
                let status = statuses[rng.below(statuses.len())];
                let body = if status == "lost" {
                    json!({ "lost": { "reason": reasons[rng.below(reasons.len())] } })
                } else {
                    json!({})
                };
                quote
                    .execute(rusqlite::params![
                        uuid::Uuid::now_v7().to_string(),
                        format!("QTN-B-{q:07}"),
                        status,
                        customers[rng.below(customers.len())],
                        channels[rng.below(channels.len())],
                        (day + chrono::Days::new(30)).to_string(),
                        body.to_string(),
                        format!("{day}T09:00:00.000Z")
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    println!(
        "wrote {lines} order lines ({} orders) and 50,000 quotations in {:.1} s",
        lines.div_ceil(10),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let db = RusqliteDb::open(&path).unwrap();
    let orders = db.transaction(rollup::rebuild).unwrap();
    println!(
        "rollup::rebuild of {orders} orders: {:.1} s ({} daily cells, {} monthly cells)",
        t.elapsed().as_secs_f64(),
        rollup::stored_daily(&db).unwrap().len(),
        rollup::stored_monthly(&db).unwrap().len()
    );
    db.execute("ANALYZE", &[]).unwrap();

    // --- measured ------------------------------------------------------------
    let from = today - chrono::Days::new(364);
    let cases = [
        (
            "revenue by month × territory, a year",
            format!(
                "/api/v1/analytics/breakdown?dimension=territory&granularity=month&from={from}&to={today}&limit=200"
            ),
        ),
        (
            "quotation funnel, a year",
            format!("/api/v1/analytics/funnel?from={from}&to={today}"),
        ),
        (
            "sales by month + previous year",
            format!("/api/v1/analytics/sales?granularity=month&from={from}&to={today}"),
        ),
    ];
    // Sanity: the figures are there.
    let grid = app.get(&cases[0].1).await.unwrap();
    let grid = grid.assert_status(200).clone();
    let world_row = grid["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == world.as_str())
        .expect("the root territory");
    println!(
        "world: {} orders, revenue {} over {} months",
        world_row["total"]["orders"],
        world_row["total"]["revenue"]["amount"],
        world_row["series"].as_array().unwrap().len()
    );
    for (label, url) in &cases {
        let mut samples = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let r = app.get(url).await.unwrap();
            samples.push(t.elapsed());
            assert_eq!(r.status, 200, "{label}: {}", r.body);
        }
        samples.sort();
        println!(
            "  {label:<40} p50 {:>9}  p90 {:>9}  p99 {:>9}  max {:>9}  (n = {requests})",
            ms(percentile(&samples, 0.5)),
            ms(percentile(&samples, 0.9)),
            ms(percentile(&samples, 0.99)),
            ms(*samples.last().unwrap())
        );
    }
    app.stop().await.unwrap();
}
