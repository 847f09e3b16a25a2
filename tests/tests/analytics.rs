//! Analytics through the runner (issue #10), against a seeded data set
//! whose answers are worked out by hand:
//!
//! Territories World › Europe › {Germany, France}; customers A (Germany,
//! group Retail) and B (France, group Wholesale); a drill (cost 40, price
//! 100) and a saw (cost 10, price 50) in item group Tools; channels B2B
//! and WEB. Booked orders, all dated today:
//!
//! | order | customer | channel | lines            | net | margin |
//! |-------|----------|---------|------------------|-----|--------|
//! | 1     | A        | B2B     | 2 drills         | 200 | 120    |
//! | 2     | A        | WEB     | 1 drill + 4 saws | 300 | 220    |
//! | 3     | B        | B2B     | 3 saws (quoted)  | 150 | 120    |
//!
//! plus an order submitted and then cancelled and a draft, which do not
//! count. Quotations: one sent and converted (order 3), one sent and lost
//! ("price"), one left a draft.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Datelike;

use reqwest::Method;
use sales_e2e::{json, Reply, TestApp};
use sales_store::analytics::rollup;
use sales_store::rusqlite_db::RusqliteDb;
use sales_store::Db;
use serde_json::Value;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

struct Seeded {
    germany: String,
    france: String,
    europe: String,
    world: String,
    b2b: String,
    drill: String,
    saw: String,
    orders: Vec<Value>,
}

async fn tree(app: &TestApp, path: &str, name: &str, parent: Option<&str>) -> String {
    let mut body = json!({ "code": app.code(name), "name": name });
    if let Some(p) = parent {
        body["parent_id"] = json!(p);
    }
    id(&app.create(path, body).await.unwrap())
}

async fn submit(app: &TestApp, order: &Value) -> Value {
    let r = app
        .post(&format!("/api/v1/orders/{}/submit", id(order)), json!({}))
        .await
        .unwrap();
    let body = r.assert_status(200).clone();
    assert_eq!(body["status"], "confirmed", "{body}");
    body
}

async fn order(app: &TestApp, customer: &str, channel: &str, lines: Value) -> Value {
    app.create(
        "/api/v1/orders",
        json!({ "customer_id": customer, "channel_id": channel, "lines": lines }),
    )
    .await
    .unwrap()
}

/// The sales organisation of [`seed_with`]'s `teams`.
struct People {
    boss: String,
    rick: String,
    fran: String,
}

async fn person(app: &TestApp, name: &str, manager: Option<&str>) -> String {
    id(&app
        .create(
            "/api/v1/sales-people",
            json!({ "name": name, "manager_id": manager }),
        )
        .await
        .unwrap())
}

/// Bea Boss manages Rick (Germany) and Fran (France). Germany's team
/// credits Rick 60 % and Bea 40 %, France's Fran 100 %. Rick earns 5 %
/// commission, Fran 8 %, Bea has no plan. Monthly targets from the first
/// of this month: Rick 1,000.00, Fran 500.00.
async fn organisation(app: &TestApp, germany: &str, france: &str) -> People {
    let boss = person(app, "Bea Boss", None).await;
    let rick = person(app, "Rick Rep", Some(&boss)).await;
    let fran = person(app, "Fran Rep", Some(&boss)).await;
    for (territory, members) in [
        (
            germany,
            json!([{ "sales_person_id": rick, "percentage": "60" },
                   { "sales_person_id": boss, "percentage": "40" }]),
        ),
        (
            france,
            json!([{ "sales_person_id": fran, "percentage": "100" }]),
        ),
    ] {
        app.create(
            "/api/v1/teams",
            json!({ "code": app.code("TEAM"), "name": app.unique("Team"),
                    "territory_id": territory, "members": members }),
        )
        .await
        .unwrap();
    }
    let first = chrono::Utc::now()
        .date_naive()
        .with_day(1)
        .unwrap()
        .to_string();
    for (who, rate, target) in [(&rick, "5", "1000.00"), (&fran, "8", "500.00")] {
        app.create(
            "/api/v1/commission-plans",
            json!({ "name": app.unique("Plan"), "beneficiary": { "kind": "sales_person", "id": who },
                    "currency": "EUR", "effective_from": "2020-01-01", "default_rate": rate }),
        )
        .await
        .unwrap();
        app.create(
            "/api/v1/targets",
            json!({ "subject": { "kind": "sales_person", "id": who }, "period": "month",
                    "period_start": first, "amount": target, "currency": "EUR" }),
        )
        .await
        .unwrap();
    }
    People { boss, rick, fran }
}

async fn seed(app: &TestApp) -> Seeded {
    seed_with(app, false).await.0
}

/// The data set of the module docs; with `teams`, [`organisation`] is set
/// up before the first order.
async fn seed_with(app: &TestApp, teams: bool) -> (Seeded, Option<People>) {
    let world = tree(app, "/api/v1/territories", "World", None).await;
    let europe = tree(app, "/api/v1/territories", "Europe", Some(&world)).await;
    let germany = tree(app, "/api/v1/territories", "Germany", Some(&europe)).await;
    let france = tree(app, "/api/v1/territories", "France", Some(&europe)).await;
    let people = if teams {
        Some(organisation(app, &germany, &france).await)
    } else {
        None
    };
    let retail = tree(app, "/api/v1/customer-groups", "Retail", None).await;
    let wholesale = tree(app, "/api/v1/customer-groups", "Wholesale", None).await;
    let tools = tree(app, "/api/v1/item-groups", "Tools", None).await;
    app.create(
        "/api/v1/warehouses",
        json!({ "code": "MAIN", "name": "Main warehouse" }),
    )
    .await
    .unwrap();
    let warehouse = app.get("/api/v1/warehouses").await.unwrap().body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut products = Vec::new();
    for (name, cost) in [("Drill", "40.00"), ("Saw", "10.00")] {
        let p = id(&app
            .create_product(json!({
                "sku": app.unique(name), "name": name, "uom": "pcs", "kind": "stocked",
                "standard_cost": eur(cost), "item_group_id": tools
            }))
            .await
            .unwrap());
        app.post(
            "/api/v1/stock/adjustments",
            json!({ "product_id": p, "warehouse_id": warehouse, "on_hand": "1000",
                    "reason": "count" }),
        )
        .await
        .unwrap()
        .assert_status(201);
        products.push(p);
    }
    let (drill, saw) = (products[0].clone(), products[1].clone());
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR", "items": [
            { "product_id": drill, "uom": "pcs", "rate": "100.00" },
            { "product_id": saw, "uom": "pcs", "rate": "50.00" }
        ]}),
    )
    .await
    .unwrap();
    let mut channels = Vec::new();
    for name in ["B2B", "WEB"] {
        let code = app.code(name);
        let ch = app
            .create(
                "/api/v1/channels",
                json!({ "code": code, "name": name, "kind": "b2b", "mode": "offline",
                        "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"] }),
            )
            .await
            .unwrap();
        channels.push((id(&ch), code));
    }
    let a = id(&app
        .create_customer(json!({ "name": app.unique("A"), "territory_id": germany,
                                 "customer_group_id": retail }))
        .await
        .unwrap());
    let b = id(&app
        .create_customer(json!({ "name": app.unique("B"), "territory_id": france,
                                 "customer_group_id": wholesale }))
        .await
        .unwrap());
    let (b2b, web) = (channels[0].0.clone(), channels[1].0.clone());

    let o1 = order(
        app,
        &a,
        &b2b,
        json!([{ "product_id": drill, "quantity": "2" }]),
    )
    .await;
    let o2 = order(
        app,
        &a,
        &web,
        json!([{ "product_id": drill, "quantity": "1" },
               { "product_id": saw, "quantity": "4" }]),
    )
    .await;
    submit(app, &o1).await;
    submit(app, &o2).await;

    // Quotations: converted, lost, draft.
    let quote =
        |lines: Value| json!({ "customer_id": b, "channel_code": channels[0].1, "lines": lines });
    let q1 = app
        .create(
            "/api/v1/quotations",
            quote(json!([{ "product_id": saw, "quantity": "3" }])),
        )
        .await
        .unwrap();
    let q2 = app
        .create(
            "/api/v1/quotations",
            quote(json!([{ "product_id": drill, "quantity": "5" }])),
        )
        .await
        .unwrap();
    app.create(
        "/api/v1/quotations",
        quote(json!([{ "product_id": drill, "quantity": "1" }])),
    )
    .await
    .unwrap();
    for q in [&q1, &q2] {
        app.post(&format!("/api/v1/quotations/{}/send", id(q)), json!({}))
            .await
            .unwrap()
            .assert_status(200);
    }
    app.post(
        &format!("/api/v1/quotations/{}/lose", id(&q2)),
        json!({ "reason": "price", "competitor": "Rival GmbH" }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let converted = app
        .post(
            &format!("/api/v1/quotations/{}/convert", id(&q1)),
            json!({}),
        )
        .await
        .unwrap();
    let o3 = converted.assert_status(201)["order"].clone();
    submit(app, &o3).await;

    // Cancelled after submission, and a draft: neither counts.
    let cancelled = order(
        app,
        &b,
        &b2b,
        json!([{ "product_id": drill, "quantity": "1" }]),
    )
    .await;
    submit(app, &cancelled).await;
    if people.is_some() {
        // Its commission accrues before the cancellation claws it back
        // (else the jobs may see it cancelled already and book nothing).
        let mine = format!("/api/v1/commissions?order_id={}", id(&cancelled));
        for _ in 0..150 {
            if app.count(&mine).await.unwrap() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    app.post(
        &format!("/api/v1/orders/{}/cancel", id(&cancelled)),
        json!({ "reason": "changed their mind" }),
    )
    .await
    .unwrap()
    .assert_status(200);
    order(
        app,
        &a,
        &b2b,
        json!([{ "product_id": saw, "quantity": "9" }]),
    )
    .await;

    (
        Seeded {
            germany,
            france,
            europe,
            world,
            b2b,
            drill,
            saw,
            orders: vec![o1, o2, o3],
        },
        people,
    )
}

async fn report(app: &TestApp, path: &str) -> Value {
    let r = app.get(path).await.unwrap();
    r.assert_status(200).clone()
}

/// Waits until the jobs component has rolled up `orders` booked orders
/// and nothing is left in the outbox.
async fn rolled_up(app: &TestApp, orders: i64) -> Value {
    for _ in 0..150 {
        let s = report(app, "/api/v1/analytics/sales?currency=EUR").await;
        let pending = app.count("/api/v1/outbox?status=pending").await.unwrap();
        if s["totals"]["orders"] == orders && pending == 0 {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the rollups never reached {orders} orders");
}

fn item<'a>(items: &'a Value, key: &str) -> &'a Value {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap_or_else(|| panic!("no item {key} in {items}"))
}

fn db(app: &TestApp) -> RusqliteDb {
    RusqliteDb::open(app.database_path().expect("a local app")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_gives_the_seeded_answers() {
    let app = TestApp::spawn().await.unwrap();
    let s = seed(&app).await;
    let sales = rolled_up(&app, 3).await;

    // Totals: three booked orders.
    let t = &sales["totals"];
    assert_eq!(t["revenue"], eur("650.00"));
    assert_eq!(t["margin"], eur("460.00"));
    assert_eq!(t["quantity"], "10");
    assert_eq!(t["average_order_value"], eur("216.67"));
    assert_eq!(t["margin_percent"], "70.77");
    // Today is the last point of the daily series and holds everything.
    let series = sales["series"].as_array().unwrap();
    assert_eq!(sales["granularity"], "day");
    assert_eq!(series.len(), 30);
    assert_eq!(series[29]["revenue"], eur("650.00"));
    assert_eq!(series[0]["orders"], 0);
    assert_eq!(sales["previous"]["totals"]["orders"], 0);
    assert_eq!(sales["change"]["revenue_percent"], Value::Null);

    // A filter changes the numbers.
    let b2b = report(
        &app,
        &format!("/api/v1/analytics/sales?channel_id={}", s.b2b),
    )
    .await;
    assert_eq!(b2b["totals"]["revenue"], eur("350.00"));
    assert_eq!(b2b["totals"]["orders"], 2);
    let saws = report(
        &app,
        &format!("/api/v1/analytics/sales?product_id={}", s.saw),
    )
    .await;
    assert_eq!(saws["totals"]["revenue"], eur("350.00"));
    assert_eq!(saws["totals"]["orders"], 2);
    assert_eq!(saws["totals"]["quantity"], "7");
    let france = report(
        &app,
        &format!("/api/v1/analytics/sales?territory_id={}", s.france),
    )
    .await;
    assert_eq!(france["totals"]["revenue"], eur("150.00"));

    // Territory rolled up the tree.
    let by = report(&app, "/api/v1/analytics/breakdown?dimension=territory").await;
    assert_eq!(item(&by, &s.germany)["total"]["revenue"], eur("500.00"));
    assert_eq!(item(&by, &s.france)["total"]["revenue"], eur("150.00"));
    assert_eq!(item(&by, &s.europe)["total"]["revenue"], eur("650.00"));
    assert_eq!(item(&by, &s.europe)["own"]["revenue"], eur("0.00"));
    assert_eq!(item(&by, &s.world)["total"]["orders"], 3);
    assert_eq!(item(&by, &s.germany)["label"], "Germany");
    assert_eq!(item(&by, &s.germany)["parent_id"], s.europe.as_str());
    // Channel, product, item group.
    let by = report(&app, "/api/v1/analytics/breakdown?dimension=channel").await;
    assert_eq!(item(&by, &s.b2b)["own"]["revenue"], eur("350.00"));
    assert_eq!(by["items"][0]["key"], s.b2b.as_str(), "largest first");
    let top = report(&app, "/api/v1/analytics/top-products?limit=1").await;
    assert_eq!(top["items"].as_array().unwrap().len(), 1);
    assert_eq!(top["items"][0]["key"], s.saw.as_str());
    assert_eq!(top["items"][0]["own"]["quantity"], "7");
    let by = report(&app, "/api/v1/analytics/breakdown?dimension=product").await;
    assert_eq!(item(&by, &s.drill)["own"]["revenue"], eur("300.00"));
    assert_eq!(item(&by, &s.drill)["own"]["margin"], eur("180.00"));
    let by = report(&app, "/api/v1/analytics/breakdown?dimension=item_group").await;
    assert_eq!(by["items"][0]["own"]["revenue"], eur("650.00"));
    assert_eq!(by["items"][0]["label"], "Tools");
    let top = report(&app, "/api/v1/analytics/top-customers").await;
    assert_eq!(top["items"][0]["own"]["revenue"], eur("500.00"));
    let by = report(&app, "/api/v1/analytics/breakdown?dimension=customer_group").await;
    assert_eq!(by["items"][1]["own"]["revenue"], eur("150.00"));
    assert_eq!(by["items"][1]["label"], "Wholesale");

    // The funnel: three created, two sent, one ordered, one lost.
    let f = report(&app, "/api/v1/analytics/funnel").await;
    assert_eq!(
        (
            &f["created"],
            &f["sent"],
            &f["accepted"],
            &f["ordered"],
            &f["lost"],
            &f["open"]
        ),
        (
            &json!(3),
            &json!(2),
            &json!(1),
            &json!(1),
            &json!(1),
            &json!(1)
        )
    );
    assert_eq!(f["conversion_rate_percent"], "50.00");
    assert_eq!(
        f["lost_reasons"],
        json!([{ "reason": "price", "count": 1 }])
    );

    // Nothing shipped yet: four lines pending, none late (promised ahead).
    let p = report(&app, "/api/v1/analytics/pending-lines").await;
    assert_eq!(p["items"].as_array().unwrap().len(), 4);
    assert!(p["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["days_late"] == 0));

    // Ship order 1 in full: it leaves the pending lines, the order-to-
    // fulfilled cycle time counts it; order 3 came from a quotation today.
    let o1 = app
        .get(&format!("/api/v1/orders/{}", id(&s.orders[0])))
        .await
        .unwrap()
        .body;
    app.post(
        &format!("/api/v1/orders/{}/fulfil", id(&o1)),
        json!({ "lines": [{ "line_id": o1["lines"][0]["id"], "quantity": "2" }],
                "external_source": "wms", "external_id": "DN-1" }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let p = report(&app, "/api/v1/analytics/pending-lines").await;
    assert_eq!(p["items"].as_array().unwrap().len(), 3);
    let c = report(&app, "/api/v1/analytics/cycle-times").await;
    assert_eq!(c["quotation_to_order"]["count"], 1);
    assert_eq!(c["quotation_to_order"]["median_days"], "0");
    assert_eq!(c["order_to_fulfilled"]["count"], 1);
    assert_eq!(c["order_to_fulfilled"]["mean_days"], "0.00");

    // Teams' reports answer from their tables (nothing set up here).
    assert_eq!(
        report(&app, "/api/v1/analytics/targets").await["items"],
        json!([])
    );
    assert_eq!(
        report(&app, "/api/v1/analytics/commissions").await["items"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_reports_count_only_their_territory() {
    let app = TestApp::spawn().await.unwrap();
    let s = seed(&app).await;
    rolled_up(&app, 3).await;
    let key = app
        .create(
            "/api/v1/api-keys",
            json!({ "name": app.unique("rep-fr"), "roles": ["rep"], "territory_id": s.france }),
        )
        .await
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let as_rep = |path: &str| {
        let app = &app;
        let key = key.clone();
        let path = path.to_string();
        async move {
            let r: Reply = app
                .call_as(&key, Method::GET, &path, None, &[])
                .await
                .unwrap();
            r.assert_status(200).clone()
        }
    };
    let sales = as_rep("/api/v1/analytics/sales").await;
    assert_eq!(sales["totals"]["revenue"], eur("150.00"));
    assert_eq!(sales["totals"]["orders"], 1);
    // Asking for a territory outside theirs reports nothing.
    let other = as_rep(&format!(
        "/api/v1/analytics/sales?territory_id={}",
        s.germany
    ))
    .await;
    assert_eq!(other["totals"]["orders"], 0);
    // The breakdown shows France only, not the totals above it.
    let by = as_rep("/api/v1/analytics/breakdown?dimension=territory").await;
    let keys: Vec<&Value> = by["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["key"])
        .collect();
    assert_eq!(keys, vec![&json!(s.france)]);
    let f = as_rep("/api/v1/analytics/funnel").await;
    assert_eq!(
        f["created"], 3,
        "all three quotations were for the French customer"
    );
    let p = as_rep("/api/v1/analytics/pending-lines").await;
    assert_eq!(p["items"].as_array().unwrap().len(), 1);
    // Rebuilding is for admins.
    app.call_as(
        &key,
        Method::POST,
        "/api/v1/analytics/rollups/rebuild",
        None,
        &[],
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollups_match_a_recomputation_from_scratch_and_replays_change_nothing() {
    let app = TestApp::spawn().await.unwrap();
    let s = seed(&app).await;
    rolled_up(&app, 3).await;
    let db = db(&app);
    assert_eq!(rollup::verify(&db).unwrap(), vec![]);
    let before = rollup::stored_daily(&db).unwrap();
    assert!(!before.is_empty());

    // Replaying every order's refresh changes nothing, even with the
    // applied versions forgotten.
    for o in &s.orders {
        let order = sales_domain::ids::OrderId::parse(&id(o)).unwrap();
        assert_eq!(
            rollup::refresh_order(&db, order).unwrap(),
            rollup::Refreshed::AlreadyCurrent
        );
    }
    db.execute("DELETE FROM analytics_order_versions", &[])
        .unwrap();
    for o in &s.orders {
        let order = sales_domain::ids::OrderId::parse(&id(o)).unwrap();
        rollup::refresh_order(&db, order).unwrap();
    }
    assert_eq!(rollup::stored_daily(&db).unwrap(), before);

    // Order 3 moved 40 days back (as if it were old), then a rebuild: the
    // last 30 days hold 500, the 30 before 150, a change of +233.33 %.
    let day = (chrono::Utc::now().date_naive() - chrono::Days::new(40)).to_string();
    db.execute(
        "UPDATE sales_orders SET order_date = ? WHERE id = ?",
        &[day.as_str().into(), id(&s.orders[2]).as_str().into()],
    )
    .unwrap();
    // Stale until rebuilt: the order's old and new day, and month, differ.
    let stale: Vec<&str> = rollup::verify(&db)
        .unwrap()
        .iter()
        .map(|m| m.table)
        .collect();
    assert_eq!(
        stale,
        vec![
            "analytics_daily",
            "analytics_daily",
            "analytics_monthly",
            "analytics_monthly"
        ]
    );
    let r = app
        .post("/api/v1/analytics/rollups/rebuild", json!({}))
        .await
        .unwrap();
    assert_eq!(r.assert_status(200)["orders"], 5);
    assert_eq!(rollup::verify(&db).unwrap(), vec![]);
    let sales = report(&app, "/api/v1/analytics/sales").await;
    assert_eq!(sales["totals"]["revenue"], eur("500.00"));
    assert_eq!(sales["previous"]["totals"]["revenue"], eur("150.00"));
    assert_eq!(sales["change"]["revenue_percent"], "233.33");
    let quarter = report(
        &app,
        &format!(
            "/api/v1/analytics/sales?granularity=month&from={day}&to={}",
            chrono::Utc::now().date_naive()
        ),
    )
    .await;
    let months: Vec<&Value> = quarter["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["revenue"])
        .collect();
    assert!(months.contains(&&eur("150.00")), "{quarter}");
    // From the first of that month: the whole month is read from the
    // monthly cube, this month's days from the daily one.
    let first = format!("{}-01", &day[..7]);
    let whole = report(
        &app,
        &format!(
            "/api/v1/analytics/sales?granularity=month&from={first}&to={}",
            chrono::Utc::now().date_naive()
        ),
    )
    .await;
    assert_eq!(whole["totals"]["revenue"], eur("650.00"), "{whole}");
    assert_eq!(whole["totals"]["orders"], 3);
    let points = whole["series"].as_array().unwrap();
    assert_eq!(points[0]["period"], first.as_str());
    assert_eq!(points[0]["revenue"], eur("150.00"));
    assert_eq!(points.last().unwrap()["revenue"], eur("500.00"));

    // Revenue by month × territory: Europe's rolled-up months hold the old
    // order (France) and today's two (Germany) apart.
    let grid = report(
        &app,
        &format!(
            "/api/v1/analytics/breakdown?dimension=territory&granularity=month&from={day}&to={}",
            chrono::Utc::now().date_naive()
        ),
    )
    .await;
    let europe: Vec<&Value> = item(&grid, &s.europe)["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["revenue"])
        .collect();
    assert_eq!(europe, vec![&eur("150.00"), &eur("500.00")], "{grid}");
    let france = item(&grid, &s.france)["series"].as_array().unwrap();
    assert_eq!(france[1]["revenue"], eur("0.00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_a_400_naming_the_parameter() {
    let app = TestApp::spawn().await.unwrap();
    for (path, field) in [
        ("/api/v1/analytics/sales?from=2026-13-01", "from"),
        (
            "/api/v1/analytics/sales?from=2026-02-01&to=2026-01-01",
            "from",
        ),
        (
            "/api/v1/analytics/sales?from=2000-01-01&to=2026-01-01",
            "to",
        ),
        ("/api/v1/analytics/sales?granularity=hour", "granularity"),
        ("/api/v1/analytics/sales?currency=euro", "currency"),
        ("/api/v1/analytics/sales?colour=red", "colour"),
        ("/api/v1/analytics/breakdown?dimension=planet", "dimension"),
        ("/api/v1/analytics/top-products?limit=0", "limit"),
        ("/api/v1/analytics/sales?territory_id=x%27y", "territory_id"),
    ] {
        let r = app.get(path).await.unwrap();
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.body["field"], field, "{path}: {}", r.body);
    }
    app.post("/api/v1/analytics/sales", json!({}))
        .await
        .unwrap()
        .assert_problem(405, "method_not_allowed");
}

/// Waits until the commission ledger holds `n` entries.
async fn ledger(app: &TestApp, n: usize) {
    for _ in 0..150 {
        if app.count("/api/v1/commissions").await.unwrap() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = app.get("/api/v1/commissions").await.unwrap().body;
    panic!("the commission ledger never reached {n} entries: {now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teams_reports_and_the_timing_reports_give_the_seeded_answers() {
    let app = TestApp::spawn().await.unwrap();
    let (s, people) = seed_with(&app, true).await;
    let p = people.unwrap();
    rolled_up(&app, 3).await;
    // Rick: accruals on orders 1 and 2; Fran: order 3, and the cancelled
    // order's accrual and its reversal.
    ledger(&app, 5).await;

    // The sales-person split, rolled up the manager hierarchy. Germany's
    // orders (net 500, margin 340, 7 pieces) are Rick's 60 % and Bea's
    // 40 %; France's (150, 120, 3) Fran's.
    let by = report(&app, "/api/v1/analytics/breakdown?dimension=sales_person").await;
    let rick = item(&by, &p.rick);
    assert_eq!(rick["own"]["revenue"], eur("300.00"));
    assert_eq!(rick["own"]["margin"], eur("204.00"));
    assert_eq!(rick["own"]["quantity"], "4.2");
    assert_eq!(rick["own"]["orders"], 2);
    assert_eq!(
        rick["total"]["revenue"],
        eur("300.00"),
        "Rick manages nobody"
    );
    assert_eq!(rick["parent_id"], p.boss.as_str());
    assert_eq!(rick["label"], "Rick Rep");
    let fran = item(&by, &p.fran);
    assert_eq!(fran["own"]["revenue"], eur("150.00"));
    assert_eq!(fran["own"]["orders"], 1);
    let boss = item(&by, &p.boss);
    assert_eq!(boss["own"]["revenue"], eur("200.00"));
    assert_eq!(boss["own"]["margin"], eur("136.00"));
    assert_eq!(
        boss["total"]["revenue"],
        eur("650.00"),
        "her own and both reps'"
    );
    assert_eq!(boss["total"]["margin"], eur("460.00"));
    assert_eq!(boss["parent_id"], Value::Null);
    assert_eq!(
        by["items"][0]["key"],
        p.boss.as_str(),
        "largest total first"
    );
    // Filtered to a channel: only order 1 (B2B, Germany) and order 3.
    let b2b = report(
        &app,
        &format!(
            "/api/v1/analytics/breakdown?dimension=sales_person&channel_id={}",
            s.b2b
        ),
    )
    .await;
    assert_eq!(item(&b2b, &p.rick)["own"]["revenue"], eur("120.00"));
    assert_eq!(item(&b2b, &p.boss)["total"]["revenue"], eur("350.00"));

    // Targets against what was credited this month.
    let t = report(&app, "/api/v1/analytics/targets").await;
    let target = |who: &str| {
        t["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["target"]["subject"]["id"] == who)
            .unwrap_or_else(|| panic!("no target of {who} in {t}"))
            .clone()
    };
    let r = target(&p.rick);
    assert_eq!(r["achieved"], eur("300.00"));
    assert_eq!(r["orders"], 2);
    assert_eq!(
        r["attainment_percent"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        30.0
    );
    let f = target(&p.fran);
    assert_eq!(f["achieved"], eur("150.00"));
    assert_eq!(
        f["attainment_percent"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        30.0
    );
    assert_eq!(t["items"].as_array().unwrap().len(), 2);

    // Commission: Rick 5 % of his 300.00; Fran 8 % of 150.00, plus 8.00
    // accrued and reversed on the cancelled order.
    let c = report(&app, "/api/v1/analytics/commissions").await;
    let rows: Vec<(&Value, &Value, &Value)> = c["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (&i["beneficiary_id"], &i["amount"], &i["entries"]))
        .collect();
    assert_eq!(
        rows,
        vec![
            (&json!(p.rick), &eur("15.00"), &json!(2)),
            (&json!(p.fran), &eur("12.00"), &json!(3)),
        ]
    );
    assert_eq!(c["items"][0]["name"], "Rick Rep");

    // Timing: quotation 1 created four days before order 3 was submitted;
    // order 1 submitted three days before its shipment; order 2's lines
    // promised five days ago and not shipped.
    let db = db(&app);
    let back = |col: &str, days: u64| {
        format!("date(substr({col}, 1, 10), '-{days} days') || substr({col}, 11)")
    };
    let o3 = app
        .get(&format!("/api/v1/orders/{}", id(&s.orders[2])))
        .await
        .unwrap()
        .body;
    db.execute(
        &format!(
            "UPDATE quotations SET created_at = {} WHERE id = ?",
            back("created_at", 4)
        ),
        &[o3["quotation_id"].as_str().unwrap().into()],
    )
    .unwrap();
    let o1 = app
        .get(&format!("/api/v1/orders/{}", id(&s.orders[0])))
        .await
        .unwrap()
        .body;
    app.post(
        &format!("/api/v1/orders/{}/fulfil", id(&o1)),
        json!({ "lines": [{ "line_id": o1["lines"][0]["id"], "quantity": "2" }],
                "external_source": "wms", "external_id": "DN-T-1" }),
    )
    .await
    .unwrap()
    .assert_status(200);
    db.execute(
        &format!(
            "UPDATE sales_orders SET submitted_at = {} WHERE id = ?",
            back("submitted_at", 3)
        ),
        &[id(&o1).as_str().into()],
    )
    .unwrap();
    let promised = (chrono::Utc::now().date_naive() - chrono::Days::new(5)).to_string();
    db.execute(
        "UPDATE sales_order_lines SET promised_date = ? WHERE order_id = ?",
        &[promised.as_str().into(), id(&s.orders[1]).as_str().into()],
    )
    .unwrap();
    let c = report(&app, "/api/v1/analytics/cycle-times").await;
    assert_eq!(c["quotation_to_order"]["count"], 1);
    assert_eq!(c["quotation_to_order"]["median_days"], "4");
    assert_eq!(c["quotation_to_order"]["mean_days"], "4.00");
    assert_eq!(c["order_to_fulfilled"]["count"], 1);
    assert_eq!(c["order_to_fulfilled"]["median_days"], "3");
    let pending = report(&app, "/api/v1/analytics/pending-lines").await;
    let lines = pending["items"].as_array().unwrap();
    // Order 2's two lines (late, first) and order 3's line.
    assert_eq!(lines.len(), 3, "{pending}");
    for l in &lines[..2] {
        assert_eq!(l["order_id"], id(&s.orders[1]).as_str());
        assert_eq!(l["days_late"], 5);
        assert_eq!(l["promised_date"], promised.as_str());
    }
    assert_eq!(lines[2]["order_id"], id(&s.orders[2]).as_str());
    assert_eq!(lines[2]["days_late"], 0);

    // Top customers: A (orders 1 and 2) before B.
    let top = report(&app, "/api/v1/analytics/top-customers").await;
    let figures: Vec<(&Value, &Value)> = top["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (&i["own"]["revenue"], &i["own"]["orders"]))
        .collect();
    assert_eq!(
        figures,
        vec![(&eur("500.00"), &json!(2)), (&eur("150.00"), &json!(1))]
    );
}
