//! Pricing over HTTP: a 50-line basket against 1,000 active rules and
//! 100,000 price-list items, through the runner with the real `spin.toml`
//! and `pricing.wasm` — p50/p90/p99 of `POST /api/v1/pricing/price`.
//!
//! Run: `scripts/build-wasm && cargo bench -p sales-e2e --bench pricing_http`
//! (`SAMPLES=n` changes the number of measured requests, default 2,000).
//! Every timed answer must be the first answer's very bytes.
//! Everything is set up over HTTP from a fixed seed (ids of records the
//! server creates differ per run, the shape does not): 4 root, 20 middle
//! and 200 leaf item groups; 50 catalog products in leaf groups; a general
//! list of 80,000 items, a customer-group list of 15,000 and the
//! customer's own list of 5,000; 1,000 rules (50 % product, 30 % item
//! group — some mixed, some applying one of 5 discount schedules — 10 %
//! basket-wide customer-group/territory/channel, 5 % free item, 5 %
//! coupon) spread over all three stacking modes; a two-line tax template;
//! 100 item-group guards. Half of the basket's lines are on products that
//! product rules target, and it carries one coupon.

// A benchmark is a test-like binary: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

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
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// User + system CPU time of this process so far (client and in-process
/// runner together), from `/proc/self/stat`: a figure the machine's other
/// load moves much less than wall-clock time.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the
    // 12th and stime the 13th of them, in clock ticks (100 per second).
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split(' ')
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn price(rng: &mut Lcg) -> String {
    format!("{}.{:02}", 1 + rng.below(999), rng.below(100))
}

async fn items(app: &TestApp, list: &str, products: &[String], rng: &mut Lcg) {
    for chunk in products.chunks(5_000) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|p| json!({ "product_id": p, "uom": "pcs", "rate": price(rng) }))
            .collect();
        let reply = app
            .post(
                &format!("/api/v1/price-lists/{list}/items"),
                json!({ "items": items }),
            )
            .await
            .unwrap();
        reply.assert_status(200);
    }
}

async fn create(app: &TestApp, path: &str, body: Value) -> Value {
    app.create(path, body).await.unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let samples: usize = std::env::var("SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let app = TestApp::spawn().await.expect("failed to start the app");
    let mut rng = Lcg(42);
    let started = Instant::now();

    // Catalog: trees, a customer, a channel, 50 products (+ 2 gifts).
    let mut groups: Vec<String> = Vec::new();
    let mut roots = Vec::new();
    for r in 0..4 {
        roots.push(id(&create(
            &app,
            "/api/v1/item-groups",
            json!({ "code": format!("R{r}"), "name": "root" }),
        )
        .await));
    }
    let mut middles = Vec::new();
    for m in 0..20 {
        middles.push(id(&create(
            &app,
            "/api/v1/item-groups",
            json!({ "code": format!("M{m}"), "name": "middle", "parent_id": roots[m % 4] }),
        )
        .await));
    }
    let mut leaves = Vec::new();
    for l in 0..200 {
        leaves.push(id(&create(
            &app,
            "/api/v1/item-groups",
            json!({ "code": format!("L{l}"), "name": "leaf", "parent_id": middles[l % 20] }),
        )
        .await));
    }
    groups.extend(roots.iter().cloned());
    groups.extend(middles.iter().cloned());
    groups.extend(leaves.iter().cloned());
    let cg_root = id(&create(
        &app,
        "/api/v1/customer-groups",
        json!({ "code": "ALL", "name": "All" }),
    )
    .await);
    let cg = id(&create(
        &app,
        "/api/v1/customer-groups",
        json!({ "code": "DEALERS", "name": "Dealers", "parent_id": cg_root }),
    )
    .await);
    let t_root = id(&create(
        &app,
        "/api/v1/territories",
        json!({ "code": "EU", "name": "Europe" }),
    )
    .await);
    let territory = id(&create(
        &app,
        "/api/v1/territories",
        json!({ "code": "DE", "name": "Germany", "parent_id": t_root }),
    )
    .await);
    let customer = id(&create(
        &app,
        "/api/v1/customers",
        json!({ "name": "Bench GmbH", "customer_group_id": cg, "territory_id": territory }),
    )
    .await);
    let channel = id(&create(
        &app,
        "/api/v1/channels",
        json!({ "code": "B2B", "name": "B2B", "kind": "b2b",
        "mode": "offline", "currency": "EUR", "tax_mode": "exclusive" }),
    )
    .await);
    let mut basket_products = Vec::new();
    for n in 0..52 {
        let p = create(&app, "/api/v1/products", json!({ "sku": format!("SKU-{n}"), "name": "thing", "uom": "pcs",
            "kind": "stocked", "item_group_id": leaves[n * 7 % 200],
            "standard_cost": { "amount": format!("{}.00", 1 + rng.below(50)), "currency": "EUR" } })).await;
        basket_products.push(id(&p));
    }
    let gifts = basket_products.split_off(50);

    // 100,000 items: 80k general (every basket product among them), 15k
    // group, 5k the customer's own.
    let mut general_products: Vec<String> = basket_products.clone();
    general_products.extend(gifts.iter().cloned());
    while general_products.len() < 80_000 {
        general_products.push(new_id());
    }
    let general = id(&create(
        &app,
        "/api/v1/price-lists",
        json!({ "name": "General", "currency": "EUR" }),
    )
    .await);
    items(&app, &general, &general_products, &mut rng).await;
    let group_list = id(&create(
        &app,
        "/api/v1/price-lists",
        json!({ "name": "Dealers", "currency": "EUR", "customer_group_id": cg }),
    )
    .await);
    let mut group_products: Vec<String> = general_products[..15_000].to_vec();
    group_products.rotate_left(25); // half the basket at the group price
    items(&app, &group_list, &group_products, &mut rng).await;
    let own = id(&create(
        &app,
        "/api/v1/price-lists",
        json!({ "name": "Own", "currency": "EUR", "customer_id": customer }),
    )
    .await);
    let own_products: Vec<String> = general_products[40..5_040].to_vec();
    items(&app, &own, &own_products, &mut rng).await;

    // 5 schedules, 1,000 rules, a tax template, 100 guards.
    let mut schedules = Vec::new();
    for s in 0..5 {
        let kind = if s % 2 == 0 { "volume" } else { "slab" };
        schedules.push(id(&create(
            &app,
            "/api/v1/discount-schedules",
            json!({ "name": format!("S{s}"),
            "kind": kind, "basis": "quantity", "tiers": [{ "from": "0", "discount_percent": "0" },
            { "from": "5", "discount_percent": "3" }, { "from": "20", "discount_percent": "7" }] }),
        )
        .await));
    }
    let stackings = ["apply_in_order", "best_for_customer", "exclusive"];
    for n in 0..1_000u64 {
        let stacking = stackings[(n % 3) as usize];
        let priority = rng.below(5);
        let percent = format!("{}", 1 + rng.below(15));
        let (conditions, action) = match n % 20 {
            0..=9 => {
                let product = if n % 4 == 0 {
                    rng.pick(&basket_products[..25]).clone()
                } else {
                    rng.pick(&general_products).clone()
                };
                (
                    json!({ "products": [product] }),
                    json!({ "type": "discount_percent", "percent": percent }),
                )
            }
            10..=15 => {
                let g = rng.pick(&groups).clone();
                if n % 7 == 0 {
                    (
                        json!({ "item_groups": [g], "mixed": true }),
                        json!({ "type": "schedule", "schedule": rng.pick(&schedules) }),
                    )
                } else {
                    (
                        json!({ "item_groups": [g], "min_qty": "2" }),
                        json!({ "type": "discount_percent", "percent": percent }),
                    )
                }
            }
            16 | 17 => {
                let c = match n % 3 {
                    0 => json!({ "customer_groups": [cg_root] }),
                    1 => json!({ "territories": [t_root] }),
                    _ => json!({ "channels": [channel] }),
                };
                (
                    c,
                    json!({ "type": "discount_amount", "amount": { "amount": "0.10", "currency": "EUR" } }),
                )
            }
            18 => (
                // One in ten on a basket product: a few free lines per basket.
                json!({ "products": [if n % 200 == 18 {
                    rng.pick(&basket_products).clone()
                } else {
                    rng.pick(&general_products).clone()
                }] }),
                json!({ "type": "free_item", "product": { "other": { "product": rng.pick(&gifts), "uom": "pcs" } },
                           "buy": "10", "get": "1", "recursive": true }),
            ),
            _ => (
                // n % 20 is 19 here, so the coupon cycles on n / 20: ten
                // rules for each of the five coupons.
                json!({ "coupon": format!("C{}", (n / 20) % 5) }),
                json!({ "type": "discount_percent", "percent": "2" }),
            ),
        };
        create(
            &app,
            "/api/v1/pricing-rules",
            json!({ "name": format!("rule {n}"), "priority": priority,
            "stacking": stacking, "conditions": conditions, "action": action }),
        )
        .await;
    }
    create(&app, "/api/v1/tax-templates", json!({ "name": "VAT", "mode": "exclusive", "is_default": true,
        "lines": [{ "code": "VAT", "name": "VAT", "rate_percent": "19" }, { "code": "ECO", "name": "Eco", "rate_percent": "0.5" }] })).await;
    for g in 0..100 {
        create(
            &app,
            "/api/v1/price-guards",
            json!({ "scope": { "type": "item_group", "id": groups[g * 2 % groups.len()] },
            "min_margin_percent": "15" }),
        )
        .await;
    }
    let setup = started.elapsed();

    let lines: Vec<Value> = basket_products
        .iter()
        .map(|p| json!({ "product_id": p, "quantity": format!("{}", 1 + rng.below(30)) }))
        .collect();
    let basket = json!({ "customer_id": customer, "channel_code": "B2B", "currency": "EUR",
                         "date": "2026-03-02", "coupon_codes": ["C4"], "lines": lines });
    let first = app
        .post("/api/v1/pricing/price", basket.clone())
        .await
        .unwrap();
    let priced = first.assert_status(200).clone();
    let adjusted = priced["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["adjustments"].as_array().unwrap().is_empty())
        .count();

    // The timed requests go through a plain client: the basket serialised
    // once, the answer read to its last byte but not parsed (as a load
    // generator would), and checked to be the first answer's very bytes.
    let http = reqwest::Client::new();
    let price_url = format!("{}/api/v1/pricing/price", app.base_url);
    let send = |body: Vec<u8>| {
        let request = http
            .post(&price_url)
            .bearer_auth(&app.admin_key)
            .header("content-type", "application/json")
            .body(body);
        async move {
            let reply = request.send().await.unwrap();
            assert_eq!(reply.status().as_u16(), 200);
            reply.bytes().await.unwrap()
        }
    };
    let basket_bytes = serde_json::to_vec(&basket).unwrap();
    for _ in 0..100 {
        assert_eq!(send(basket_bytes.clone()).await, first.text.as_bytes());
    }
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    let cpu_before = cpu_time();
    for _ in 0..samples {
        let t = Instant::now();
        let body = send(basket_bytes.clone()).await;
        times.push(t.elapsed());
        assert_eq!(body, first.text.as_bytes());
    }
    let cpu = cpu_time() - cpu_before;
    // Baselines: the same path with a one-line basket, and a plain read.
    let one_line = json!({ "customer_id": customer, "channel_code": "B2B", "currency": "EUR",
                           "date": "2026-03-02", "lines": [lines[0].clone()] });
    let one_line_bytes = serde_json::to_vec(&one_line).unwrap();
    let list_url = format!("{}/api/v1/price-lists/{general}", app.base_url);
    let mut small = Vec::with_capacity(samples);
    let mut read = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        send(one_line_bytes.clone()).await;
        small.push(t.elapsed());
        let t = Instant::now();
        let reply = http
            .get(&list_url)
            .bearer_auth(&app.admin_key)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 200);
        reply.bytes().await.unwrap();
        read.push(t.elapsed());
    }
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
        "pricing over HTTP: 50-line basket, 1,000 rules, 100,000 items (setup {:.1} s)",
        setup.as_secs_f64()
    );
    println!(
        "  priced lines: {} ({adjusted} with adjustments), response {} bytes",
        priced["lines"].as_array().unwrap().len(),
        first.text.len()
    );
    report(
        &format!("50-line basket, {samples} sequential requests"),
        &mut times,
    );
    println!(
        "  50-line basket: {:.2} ms of CPU (user + system, the whole process: client and runner) per request",
        cpu.as_secs_f64() * 1e3 / samples as f64
    );
    report("1-line basket (same data)", &mut small);
    report("GET one price list (baseline)", &mut read);
    app.stop().await.unwrap();
}
