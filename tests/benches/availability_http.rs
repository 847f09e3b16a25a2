//! Availability over HTTP: a 20-line check over 10 warehouses, 10,000
//! products and a 365-day capacity calendar, through the runner with the
//! real `spin.toml` and `availability.wasm` — p50/p90/p99 of
//! `POST /api/v1/availability/check`.
//!
//! Run: `scripts/build-wasm && cargo bench -p sales-e2e --bench availability_http`
//! (`SAMPLES=n` changes the number of measured requests, default 2,000).
//! Set up over HTTP from a fixed seed: 10 warehouses; 10,000 products
//! imported as NDJSON (the first 16 of the check stocked, 4 manufactured);
//! every product stocked in 2 warehouses and the check's 20 in all 10
//! (stock feed, NDJSON); 2 receipts for each check product; a Monday–Friday
//! calendar with 10 holidays over the year; one work centre with planned
//! load on every working day of the next 365 days and routings for the 4
//! manufactured products. The check asks for more than the stock of some
//! lines, so receipts and production are planned too.

// A benchmark is a test-like binary: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use sales_e2e::{json, TestApp};
use serde_json::Value;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

async fn ndjson(app: &TestApp, path: &str, lines: &[String]) {
    for chunk in lines.chunks(5_000) {
        let body = chunk.join("\n") + "\n";
        let reply = app
            .call_raw(Method::POST, path, "application/x-ndjson", body, &[])
            .await
            .unwrap();
        let report = reply.assert_status(200);
        assert_eq!(report["failed"], json!(0), "{}", reply.text);
    }
}

/// CPU time this process has used so far (user + system, from
/// `/proc/self/stat`, in clock ticks of 10 ms): the runner runs in this
/// process, so the difference over N checks / N is the CPU a check costs
/// the server and the client together — far less load-dependent than
/// wall-clock times on a shared machine.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// `YYYY-MM-DD` `n` days after 2026-01-01 style dates, without a date
/// library: walks the calendar one day at a time.
fn add_days(date: &str, n: u32) -> String {
    let parts: Vec<u32> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (mut y, mut m, mut d) = (parts[0], parts[1], parts[2]);
    for _ in 0..n {
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if d < days {
            d += 1;
        } else if m < 12 {
            (m, d) = (m + 1, 1);
        } else {
            (y, m, d) = (y + 1, 1, 1);
        }
    }
    format!("{y:04}-{m:02}-{d:02}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let samples: usize = std::env::var("SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let app = TestApp::spawn().await.expect("failed to start the app");
    let mut rng = Lcg(7);
    let started = Instant::now();

    let codes: Vec<String> = (0..10).map(|w| format!("WH{w:02}")).collect();
    for c in &codes {
        app.create(
            "/api/v1/warehouses",
            json!({ "code": c, "name": format!("Warehouse {c}") }),
        )
        .await
        .unwrap();
    }

    // 10,000 products; the check's 20 are the first (16 stocked, 4 made).
    let rows: Vec<String> = (0..10_000)
        .map(|n| {
            let kind = if (16..20).contains(&n) { "manufactured" } else { "stocked" };
            format!(
                "{{\"external_source\":\"erp\",\"external_id\":\"P{n}\",\"sku\":\"SKU-{n:05}\",\"name\":\"Part {n}\",\"uom\":\"pcs\",\"kind\":\"{kind}\",\"standard_cost\":\"1\",\"currency\":\"EUR\"}}"
            )
        })
        .collect();
    ndjson(&app, "/api/v1/imports/products", &rows).await;
    let mut by_sku: BTreeMap<String, String> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/products?limit=200&cursor={c}"),
            None => "/api/v1/products?limit=200".to_string(),
        };
        let page = app.get(&url).await.unwrap();
        let page = page.assert_status(200);
        for p in page["items"].as_array().unwrap() {
            by_sku.insert(p["sku"].as_str().unwrap().into(), id(p));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let products: Vec<String> = (0..10_000)
        .map(|n| by_sku[&format!("SKU-{n:05}")].clone())
        .collect();

    // Stock: 2 warehouses each, the check's 20 in all 10.
    let mut feed = Vec::new();
    for (n, p) in products.iter().enumerate() {
        let homes: Vec<usize> = if n < 20 {
            (0..10).collect()
        } else {
            let a = rng.below(10) as usize;
            vec![a, (a + 1 + rng.below(9) as usize) % 10]
        };
        for w in homes {
            feed.push(format!(
                "{{\"external_source\":\"wms\",\"external_id\":\"{n}-{w}\",\"product_id\":\"{p}\",\"warehouse_code\":\"{}\",\"on_hand\":\"{}\"}}",
                codes[w],
                rng.below(20)
            ));
        }
    }
    ndjson(&app, "/api/v1/stock/import", &feed).await;

    // Receipts, a year's calendar, a loaded work centre.
    let probe = app
        .post(
            "/api/v1/availability/check",
            json!({ "lines": [{ "product_id": products[0], "quantity": "1" }] }),
        )
        .await
        .unwrap();
    let today = probe.assert_status(200)["today"]
        .as_str()
        .unwrap()
        .to_string();
    let warehouses = app.get("/api/v1/warehouses?limit=200").await.unwrap();
    let wh_ids: Vec<String> = warehouses.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    for p in &products[..20] {
        for k in 0..2 {
            app.create(
                "/api/v1/receipts",
                json!({ "product_id": p, "warehouse_id": wh_ids[k * 5],
                        "quantity": "25", "due_on": add_days(&today, 10 + 20 * k as u32) }),
            )
            .await
            .unwrap();
        }
    }
    let holidays: Vec<String> = (0..10).map(|h| add_days(&today, 15 + 35 * h)).collect();
    let calendar = app
        .create(
            "/api/v1/calendars",
            json!({ "name": "Plant year",
                    "working_days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                    "holidays": holidays }),
        )
        .await
        .unwrap();
    let load: Vec<Value> = (0..365)
        .map(|d| json!({ "date": add_days(&today, d), "hours": format!("{}", 2 + rng.below(5)) }))
        .collect();
    let routings: Vec<Value> = products[16..20]
        .iter()
        .map(|p| json!({ "product_id": p, "hours_per_unit": "1.5", "material_lead_days": 3 }))
        .collect();
    app.create(
        "/api/v1/work-centers",
        json!({ "name": "Assembly", "calendar_id": id(&calendar), "hours_per_day": "16",
                "planned_load": load, "routings": routings }),
    )
    .await
    .unwrap();
    let setup = started.elapsed();

    // The check: 20 lines, some beyond stock.
    let lines: Vec<Value> = products[..20]
        .iter()
        .enumerate()
        .map(|(n, p)| json!({ "product_id": p, "quantity": format!("{}", 20 + 7 * n) }))
        .collect();
    let check = json!({ "warehouses": codes, "strategy": "priority",
                        "ship_policy": "ship_as_available", "lines": lines });
    let first = app
        .post("/api/v1/availability/check", check.clone())
        .await
        .unwrap();
    let promised = first.assert_status(200).clone();
    let sources: usize = promised["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sources"].as_array().unwrap().len())
        .sum();
    let detail = std::env::var("DETAIL").unwrap_or_default();
    let check_path = if detail.is_empty() {
        "/api/v1/availability/check".to_string()
    } else {
        format!("/api/v1/availability/check?detail={detail}")
    };
    let sized = app.post(&check_path, check.clone()).await.unwrap();
    let measured_bytes = sized.text.len();
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    let cpu_before = cpu_time();
    for _ in 0..samples {
        let t = Instant::now();
        let reply = app.post(&check_path, check.clone()).await.unwrap();
        times.push(t.elapsed());
        assert_eq!(reply.status.as_u16(), 200);
    }
    let check_cpu = cpu_time() - cpu_before;
    let mut read = Vec::with_capacity(samples);
    let cpu_before = cpu_time();
    for _ in 0..samples {
        let t = Instant::now();
        app.get(&format!("/api/v1/warehouses/{}", wh_ids[0]))
            .await
            .unwrap();
        read.push(t.elapsed());
    }
    let read_cpu = cpu_time() - cpu_before;
    let report = |name: &str, times: &mut Vec<Duration>| {
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "  {name}: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            at(0.50).as_secs_f64() * 1e3,
            at(0.90).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
    };
    println!(
        "availability over HTTP: 20-line check, 10 warehouses, 10,000 products, 365-day calendar (setup {:.1} s)",
        setup.as_secs_f64()
    );
    println!(
        "  {} sources over 20 lines, complete: {}, response {} bytes",
        sources,
        promised["complete"],
        first.text.len()
    );
    report(
        &format!("20-line check {check_path}, {samples} sequential requests, response {measured_bytes} bytes"),
        &mut times,
    );
    report("GET one warehouse (baseline)", &mut read);
    let per = |cpu: Duration| cpu.as_secs_f64() * 1e3 / samples as f64;
    println!(
        "  CPU time of the process (runner + client) per request: check {:.3} ms, GET one warehouse {:.3} ms",
        per(check_cpu),
        per(read_cpu)
    );
    app.stop().await.unwrap();
}
