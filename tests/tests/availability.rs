//! Availability through the runner: warehouses, stock, receipts and
//! channels set up over HTTP; promises checked exactly (dates, sources,
//! explanations); reservations reserved, released and consumed; bad input
//! that must be a clear 4xx and leave nothing behind; and issue 5's race —
//! many parallel reservations for scarce stock never oversell, against one
//! runner and against two runners sharing one database file.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proof;

use std::sync::Arc;

use proof::Runner;
use reqwest::Method;
use sales_e2e::{json, shop, TestApp};
use serde_json::Value;

async fn app() -> TestApp {
    TestApp::spawn().await.expect("failed to start the app")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

async fn warehouse(app: &TestApp, code: &str) -> String {
    id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": code, "name": format!("{code} warehouse") }),
        )
        .await
        .unwrap())
}

async fn product(app: &TestApp, kind: &str) -> String {
    id(&app
        .create_product(json!({
            "sku": app.unique("SKU"), "name": "Drill", "uom": "unit", "kind": kind,
            "standard_cost": { "amount": "10.00", "currency": "EUR" }
        }))
        .await
        .unwrap())
}

async fn position(app: &TestApp, product: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/api/v1/stock?product_id={product}"))
        .await
        .unwrap();
    reply.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn check(app: &TestApp, body: Value) -> Value {
    let reply = app.post("/api/v1/availability/check", body).await.unwrap();
    reply.assert_status(200).clone()
}

/// Two warehouses, CENTRAL (3 on hand) and NORTH (5), and a drill.
struct World {
    central: String,
    north: String,
    central_code: String,
    north_code: String,
    drill: String,
}

async fn world(app: &TestApp) -> World {
    let central_code = app.code("CENTRAL");
    let north_code = app.code("NORTH");
    let central = warehouse(app, &central_code).await;
    let north = warehouse(app, &north_code).await;
    let drill = product(app, "stocked").await;
    shop::count(app, &drill, &central, "3").await;
    shop::count(app, &drill, &north, "5").await;
    World {
        central,
        north,
        central_code,
        north_code,
        drill,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_is_split_across_warehouses_in_priority_order() {
    let app = app().await;
    let w = world(&app).await;

    let p = check(
        &app,
        json!({ "warehouses": [w.central_code, w.north_code],
                "lines": [{ "product_id": w.drill, "quantity": "6" }] }),
    )
    .await;

    let today = p["today"].as_str().unwrap().to_string();
    assert_eq!(p["complete"], json!(true));
    assert_eq!(p["complete_by"], json!(today));
    let line = &p["lines"][0];
    assert_eq!(line["status"], "full");
    assert_eq!(line["promised_quantity"], "6");
    assert_eq!(line["shortfall"], "0");
    assert_eq!(line["promised_date"], json!(today));
    assert_eq!(
        line["sources"],
        json!([
            { "kind": "stock", "warehouse": w.central, "warehouse_code": w.central_code,
              "quantity": "3", "available_on": today },
            { "kind": "stock", "warehouse": w.north, "warehouse_code": w.north_code,
              "quantity": "3", "available_on": today },
        ])
    );
    assert_eq!(
        line["explanation"],
        json!(format!("6 from stock in 2 warehouses; promised {today}"))
    );
    // A check writes nothing.
    let stock = position(&app, &w.drill).await;
    assert!(stock.iter().all(|s| s["reserved"] == "0"));
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_orders_its_warehouses_and_a_receipt_dates_the_rest() {
    let app = app().await;
    let w = world(&app).await;
    app.create(
        "/api/v1/receipts",
        json!({ "product_id": w.drill, "warehouse_id": w.central, "quantity": "10",
                "due_on": "2099-01-05", "reference": "PO-7" }),
    )
    .await
    .unwrap();
    let channel = app
        .create(
            "/api/v1/channels",
            json!({ "code": app.code("SHOP"), "name": "Shop", "kind": "b2c", "mode": "online",
                    "currency": "EUR", "tax_mode": "inclusive",
                    "warehouses": [w.north_code, w.central_code] }),
        )
        .await
        .unwrap();

    // NORTH first (the channel's order); 5 + 3 from stock, 2 from the receipt.
    let p = check(
        &app,
        json!({ "channel_id": id(&channel),
                "lines": [{ "product_id": w.drill, "quantity": "10" }] }),
    )
    .await;
    let today = p["today"].as_str().unwrap().to_string();
    let line = &p["lines"][0];
    assert_eq!(line["status"], "full");
    let sources: Vec<(String, String, String)> = line["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["warehouse_code"].as_str().unwrap().to_string(),
                s["quantity"].as_str().unwrap().to_string(),
                s["available_on"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            (w.north_code.clone(), "5".into(), today.clone()),
            (w.central_code.clone(), "3".into(), today.clone()),
            (w.central_code.clone(), "2".into(), "2099-01-05".into()),
        ]
    );
    assert_eq!(line["promised_date"], "2099-01-05");
    assert_eq!(
        line["explanation"],
        "10 from stock in 2 warehouses as receipts arrive by 2099-01-05; promised 2099-01-05"
    );

    // Ship complete, more than will ever come: no date, and the reason.
    let p = check(
        &app,
        json!({ "channel_id": id(&channel), "ship_policy": "ship_complete",
                "lines": [{ "product_id": w.drill, "quantity": "100" }] }),
    )
    .await;
    assert_eq!(p["complete"], json!(false));
    assert_eq!(p["complete_by"], Value::Null);
    assert_eq!(p["lines"][0]["promised_date"], Value::Null);
    assert_eq!(p["lines"][0]["shortfall"], "82");
    assert_eq!(
        p["lines"][0]["explanation"],
        "18 from stock in 2 warehouses as receipts arrive by 2099-01-05; 82 of 100 short; \
         the order cannot ship complete"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_holds_stock_until_released_or_consumed() {
    let app = app().await;
    let w = world(&app).await;
    let key = app.unique("hold");
    let body = json!({ "document": app.unique("SO"), "warehouses": [w.central_code, w.north_code],
                       "ship_policy": "ship_complete",
                       "lines": [{ "product_id": w.drill, "quantity": "4" }] });

    let first = app
        .call_as(
            &app.admin_key,
            Method::POST,
            "/api/v1/reservations",
            Some(body.clone()),
            &[("idempotency-key", key.as_str())],
        )
        .await
        .unwrap();
    let hold = first.assert_status(201).clone();
    assert_eq!(hold["status"], "held");
    assert_eq!(hold["rows"].as_array().unwrap().len(), 2);
    // A retry with the same key holds nothing more.
    let again = app
        .call_as(
            &app.admin_key,
            Method::POST,
            "/api/v1/reservations",
            Some(body.clone()),
            &[("idempotency-key", key.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(again.assert_status(201)["id"], hold["id"]);

    let reserved: Vec<(String, String)> = position(&app, &w.drill)
        .await
        .iter()
        .map(|s| {
            (
                s["reserved"].as_str().unwrap().into(),
                s["free"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut reserved = reserved;
    reserved.sort();
    // CENTRAL 3 of 3 held, NORTH 1 of 5.
    assert_eq!(
        reserved,
        [("1".into(), "4".into()), ("3".into(), "0".into())]
    );

    // The check sees the hold.
    let p = check(
        &app,
        json!({ "warehouses": [w.central_code, w.north_code],
                "lines": [{ "product_id": w.drill, "quantity": "5" }] }),
    )
    .await;
    assert_eq!(p["lines"][0]["promised_quantity"], "4");

    let released = app
        .post(
            &format!("/api/v1/reservations/{}/release", id(&hold)),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(released.assert_status(200)["status"], "released");
    assert!(position(&app, &w.drill)
        .await
        .iter()
        .all(|s| s["reserved"] == "0"));
    app.post(
        &format!("/api/v1/reservations/{}/consume", id(&hold)),
        json!({}),
    )
    .await
    .unwrap()
    .assert_problem(409, "invalid_state");

    // Consuming takes the units off on hand, with a ledger row.
    let hold = app
        .create("/api/v1/reservations", body.clone())
        .await
        .unwrap();
    app.post(
        &format!("/api/v1/reservations/{}/consume", id(&hold)),
        json!({}),
    )
    .await
    .unwrap()
    .assert_status(200);
    let mut on_hand: Vec<String> = position(&app, &w.drill)
        .await
        .iter()
        .map(|s| s["on_hand"].as_str().unwrap().into())
        .collect();
    on_hand.sort();
    assert_eq!(on_hand, ["0", "4"]);
    let ledger = app
        .get(&format!("/api/v1/stock/adjustments?product_id={}", w.drill))
        .await
        .unwrap();
    assert_eq!(
        ledger.assert_status(200)["items"].as_array().unwrap().len(),
        4
    );

    // The periodic expiry: nothing is past its last day; only machines run it.
    let expired = app
        .post("/api/v1/reservations/expire", json!({}))
        .await
        .unwrap();
    assert_eq!(expired.assert_status(200)["expired"], json!(0));
    let viewer = app.create_key("viewer", &["viewer"]).await.unwrap();
    app.call_as(
        &viewer,
        Method::POST,
        "/api/v1/reservations/expire",
        Some(json!({})),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");

    // What is left cannot ship 5 complete.
    let mut short = body.clone();
    short["lines"][0]["quantity"] = json!("5");
    app.post("/api/v1/reservations", short)
        .await
        .unwrap()
        .assert_problem(409, "cannot_ship_complete");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_naming_the_field_and_writes_nothing() {
    let app = app().await;
    let w = world(&app).await;
    let line = |q: &str| json!([{ "product_id": w.drill, "quantity": q }]);
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            "/api/v1/availability/check",
            json!({ "lines": [{ "product_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162", "quantity": "1" }] }),
            422,
            "unknown_reference",
            "lines[0].product_id",
        ),
        (
            "/api/v1/availability/check",
            json!({ "warehouses": ["NOWHERE"], "lines": line("1") }),
            422,
            "unknown_reference",
            "warehouses[0]",
        ),
        (
            "/api/v1/availability/check",
            json!({ "lines": line("-1") }),
            422,
            "invalid_field",
            "lines[0].quantity",
        ),
        (
            "/api/v1/availability/check",
            json!({ "lines": line("0.0001") }),
            422,
            "invalid_field",
            "lines[0].quantity",
        ),
        (
            "/api/v1/availability/check",
            json!({ "lines": [{ "product_id": w.drill, "quantity": "1", "requested_date": "2000-01-01" }] }),
            422,
            "invalid_field",
            "lines[0].requested_date",
        ),
        (
            "/api/v1/reservations",
            json!({ "document": "SO-X", "valid_until": "2000-01-01", "lines": line("1") }),
            422,
            "invalid_field",
            "valid_until",
        ),
        (
            "/api/v1/reservations",
            json!({ "document": "SO-X", "lines": line("-2") }),
            422,
            "invalid_field",
            "lines[0].quantity",
        ),
        (
            "/api/v1/receipts",
            json!({ "product_id": w.drill, "warehouse_id": w.central, "quantity": "5", "due_on": "2000-01-01" }),
            422,
            "invalid_field",
            "due_on",
        ),
        (
            "/api/v1/receipts",
            json!({ "product_id": w.drill, "warehouse_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162", "quantity": "5", "due_on": "2099-01-01" }),
            422,
            "unknown_reference",
            "warehouse_id",
        ),
        (
            "/api/v1/receipts",
            json!({ "product_id": w.drill, "warehouse_id": w.central, "quantity": "-5", "due_on": "2099-01-01" }),
            422,
            "invalid_field",
            "quantity",
        ),
        (
            "/api/v1/stock/adjustments",
            json!({ "product_id": w.drill, "warehouse_id": w.central, "quantity": "-4", "reason": "lost" }),
            409,
            "insufficient_stock",
            "quantity",
        ),
        (
            "/api/v1/stock/adjustments",
            json!({ "product_id": w.drill, "warehouse_id": w.central,
                    "on_hand": "678130454649156807385826820.17", "reason": "fuzz" }),
            422,
            "invalid_field",
            "on_hand",
        ),
        (
            "/api/v1/stock/adjustments",
            json!({ "product_id": w.drill, "warehouse_id": w.central, "quantity": "999999999", "reason": "found" }),
            422,
            "invalid_field",
            "quantity",
        ),
        (
            "/api/v1/stock/adjustments",
            json!({ "product_id": w.drill, "warehouse_id": w.central, "on_hand": "-1", "reason": "count" }),
            422,
            "invalid_field",
            "on_hand",
        ),
        (
            "/api/v1/warehouses",
            json!({ "code": "has space", "name": "X" }),
            422,
            "invalid_field",
            "code",
        ),
        (
            "/api/v1/warehouses",
            json!({ "code": w.central_code, "name": "Again" }),
            409,
            "duplicate",
            "code",
        ),
    ];
    for (path, body, status, code, field) in cases {
        let reply = app.post(path, body.clone()).await.unwrap();
        reply.assert_problem(status, code);
        assert_eq!(reply.body["field"], json!(field), "{path} {body}");
    }
    // Nothing was written: the stock, the receipts and the holds are as set up.
    let stock = position(&app, &w.drill).await;
    assert!(stock
        .iter()
        .all(|s| s["reserved"] == "0" && s["incoming"] == "0"));
    assert_eq!(
        app.count("/api/v1/reservations?document=SO-X")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.count(&format!("/api/v1/receipts?product_id={}", w.drill))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.count(&format!("/api/v1/warehouses?code={}", w.central_code))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.count(&format!("/api/v1/stock/adjustments?product_id={}", w.drill))
            .await
            .unwrap(),
        2
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_feed_is_applied_once_and_reports_bad_lines() {
    let app = app().await;
    let w = world(&app).await;
    let feed = format!(
        "{{\"external_source\":\"wms\",\"external_id\":\"c-1\",\"product_id\":\"{d}\",\"warehouse_code\":\"{c}\",\"on_hand\":\"40\"}}\n\
         {{\"external_source\":\"wms\",\"external_id\":\"c-2\",\"product_id\":\"{d}\",\"warehouse_code\":\"NOWHERE\",\"on_hand\":\"1\"}}\n",
        d = w.drill,
        c = w.central_code
    );
    let post = || {
        app.call_raw(
            Method::POST,
            "/api/v1/stock/import",
            "application/x-ndjson",
            feed.clone(),
            &[],
        )
    };
    let report = post().await.unwrap();
    let report = report.assert_status(200);
    assert_eq!(
        (&report["rows"], &report["created"], &report["failed"]),
        (&json!(2), &json!(1), &json!(1))
    );
    assert_eq!(report["errors"][0]["field"], "warehouse_code");
    let again = post().await.unwrap();
    assert_eq!(again.assert_status(200)["unchanged"], json!(1));
    let central: Vec<Value> = position(&app, &w.drill)
        .await
        .into_iter()
        .filter(|s| s["warehouse_id"] == json!(w.central))
        .collect();
    assert_eq!(central[0]["on_hand"], "40");

    // The same feed as CSV; a header without a column writes nothing.
    let csv = format!(
        "external_source,external_id,product_id,warehouse_code,on_hand\n\
         wms,c-3,{d},{c},12\n",
        d = w.drill,
        c = w.central_code
    );
    let reply = app
        .call_raw(Method::POST, "/api/v1/stock/import", "text/csv", csv, &[])
        .await
        .unwrap();
    assert_eq!(reply.assert_status(200)["created"], json!(1));
    let reply = app
        .call_raw(
            Method::POST,
            "/api/v1/stock/import",
            "text/csv",
            "external_source,external_id,product_id,on_hand\nwms,c-4,x,1\n".to_string(),
            &[],
        )
        .await
        .unwrap();
    reply.assert_problem(422, "invalid_field");
    assert_eq!(reply.body["field"], "warehouse_code");
    let central: Vec<Value> = position(&app, &w.drill)
        .await
        .into_iter()
        .filter(|s| s["warehouse_id"] == json!(w.central))
        .collect();
    assert_eq!(central[0]["on_hand"], "12");
    app.stop().await.unwrap();
}

/// The day after `date` (`YYYY-MM-DD`), without a date library.
fn next_day(date: &str) -> String {
    let parts: Vec<u32> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (y, m, d) = (parts[0], parts[1], parts[2]);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let (y, m, d) = if d < days {
        (y, m, d + 1)
    } else if m < 12 {
        (y, m + 1, 1)
    } else {
        (y + 1, 1, 1)
    };
    format!("{y:04}-{m:02}-{d:02}")
}

const EVERY_DAY: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A calendar working every day of the week.
async fn every_day(app: &TestApp) -> Value {
    app.create(
        "/api/v1/calendars",
        json!({ "name": "Every day", "working_days": EVERY_DAY }),
    )
    .await
    .unwrap()
}

/// A warehouse holding one manufactured cabinet, and "Cell 1": a work
/// centre of 8 hours a day on an every-day calendar making the cabinet in
/// 2 hours a unit.
struct Plant {
    code: String,
    cabinet: String,
    calendar: Value,
    cell: Value,
}

async fn plant(app: &TestApp) -> Plant {
    let code = app.code("PLANT");
    let wh = warehouse(app, &code).await;
    let cabinet = product(app, "manufactured").await;
    shop::count(app, &cabinet, &wh, "1").await;
    let calendar = every_day(app).await;
    let cell = app
        .create(
            "/api/v1/work-centers",
            json!({ "name": "Cell 1", "calendar_id": id(&calendar), "hours_per_day": "8",
                    "routings": [{ "product_id": cabinet, "hours_per_unit": "2" }] }),
        )
        .await
        .unwrap();
    Plant {
        code,
        cabinet,
        calendar,
        cell,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shortfall_is_made_on_the_work_centre_and_holidays_are_skipped() {
    let app = app().await;
    let Plant {
        code,
        cabinet,
        calendar,
        cell,
    } = plant(&app).await;
    let body = json!({ "warehouses": [code],
                       "lines": [{ "product_id": cabinet, "quantity": "5" }] });

    // 1 from stock (netted first), 4 made: 8 hours, one day today.
    let p = check(&app, body.clone()).await;
    let today = p["today"].as_str().unwrap().to_string();
    let line = &p["lines"][0];
    assert_eq!(line["status"], "full");
    assert_eq!(line["sources"][0]["kind"], "stock");
    assert_eq!(line["sources"][0]["quantity"], "1");
    let wo = &line["sources"][1];
    assert_eq!(
        (
            &wo["kind"],
            &wo["work_center"],
            &wo["work_center_name"],
            &wo["quantity"],
            &wo["hours"]
        ),
        (
            &json!("work_order"),
            &json!(id(&cell)),
            &json!("Cell 1"),
            &json!("4"),
            &json!("8")
        )
    );
    assert_eq!(
        (&wo["start"], &wo["finish"]),
        (&json!(today), &json!(today))
    );
    assert_eq!(line["promised_date"], json!(today));

    // Today becomes a holiday: production moves to tomorrow.
    app.patch(
        &format!("/api/v1/calendars/{}", id(&calendar)),
        calendar["version"].as_i64().unwrap(),
        json!({ "holidays": [today] }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let p = check(&app, body).await;
    let tomorrow = next_day(&today);
    assert_eq!(p["lines"][0]["sources"][1]["start"], json!(tomorrow));
    assert_eq!(p["lines"][0]["promised_date"], json!(tomorrow));
    app.stop().await.unwrap();
}

/// Issue 5's benchmark: the day-by-day schedule of a proposed work order or
/// project slot is in the check's answer only when asked for
/// (`?detail=schedule`); the promise is otherwise the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checks_day_by_day_schedule_is_answered_only_when_asked_for() {
    let app = app().await;
    let Plant { code, cabinet, .. } = plant(&app).await;
    // 1 from stock, 9 made: 18 hours over three days (8, 8, 2).
    let body = json!({ "warehouses": [code],
                       "lines": [{ "product_id": cabinet, "quantity": "10" }] });

    let summary = check(&app, body.clone()).await;
    let wo = &summary["lines"][0]["sources"][1];
    assert_eq!(wo["kind"], "work_order");
    assert_eq!(wo["hours"], "18");
    assert!(
        wo.get("schedule").is_none(),
        "no schedule unless asked: {wo}"
    );

    let reply = app
        .post("/api/v1/availability/check?detail=schedule", body.clone())
        .await
        .unwrap();
    let detailed = reply.assert_status(200).clone();
    let days: Vec<(String, String)> = detailed["lines"][0]["sources"][1]["schedule"]
        .as_array()
        .expect("a schedule when asked for")
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().into(),
                d["hours"].as_str().unwrap().into(),
            )
        })
        .collect();
    let today = summary["today"].as_str().unwrap().to_string();
    let second = next_day(&today);
    let third = next_day(&second);
    assert_eq!(
        days,
        vec![
            (today, "8".to_string()),
            (second, "8".to_string()),
            (third, "2".to_string())
        ]
    );
    // Apart from the schedule (and the line ids a check makes up when
    // none is given), the same promise.
    let mut without = detailed.clone();
    without["lines"][0]["sources"][1]
        .as_object_mut()
        .unwrap()
        .remove("schedule");
    let mut summary = summary;
    without["lines"][0]["line_id"] = Value::Null;
    summary["lines"][0]["line_id"] = Value::Null;
    assert_eq!(without, summary);

    // Any other detail is a 400 naming the parameter.
    let reply = app
        .post("/api/v1/availability/check?detail=everything", body)
        .await
        .unwrap();
    assert_eq!(reply.assert_status(400)["field"], "detail");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_hours_are_booked_on_the_role_after_its_bookings() {
    let app = app().await;
    let install = product(&app, "service").await;
    let calendar = every_day(&app).await;
    let role = app
        .create(
            "/api/v1/project-roles",
            json!({ "name": "Installer", "calendar_id": id(&calendar), "hours_per_week": "70",
                    "services": [{ "product_id": install }] }),
        )
        .await
        .unwrap();

    // 10 hours a day: 15 hours take today and half of tomorrow.
    let p = check(
        &app,
        json!({ "lines": [{ "product_id": install, "quantity": "15" }] }),
    )
    .await;
    let today = p["today"].as_str().unwrap().to_string();
    let tomorrow = next_day(&today);
    let slot = &p["lines"][0]["sources"][0];
    assert_eq!(
        (
            &slot["kind"],
            &slot["role"],
            &slot["role_name"],
            &slot["hours"]
        ),
        (
            &json!("project_slot"),
            &json!(id(&role)),
            &json!("Installer"),
            &json!("15")
        )
    );
    assert_eq!(
        (&slot["start"], &slot["finish"]),
        (&json!(today), &json!(tomorrow))
    );
    assert_eq!(p["lines"][0]["promised_date"], json!(tomorrow));

    // A booking that fills today pushes the start to tomorrow.
    app.patch(
        &format!("/api/v1/project-roles/{}", id(&role)),
        role["version"].as_i64().unwrap(),
        json!({ "bookings": [{ "from": today, "to": today, "hours": "10" }] }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let p = check(
        &app,
        json!({ "lines": [{ "product_id": install, "quantity": "15" }] }),
    )
    .await;
    assert_eq!(p["lines"][0]["sources"][0]["start"], json!(tomorrow));
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_capacity_input_names_the_field_and_writes_nothing() {
    let app = app().await;
    let drill = product(&app, "manufactured").await;
    let reply = app
        .post(
            "/api/v1/calendars",
            json!({ "name": "Never", "working_days": [] }),
        )
        .await
        .unwrap();
    reply.assert_problem(422, "invalid_field");
    assert_eq!(reply.body["field"], "working_days");
    let calendar = app
        .create(
            "/api/v1/calendars",
            json!({ "name": "Week", "working_days": ["monday"] }),
        )
        .await
        .unwrap();
    let cases = [
        (
            "/api/v1/work-centers",
            json!({ "name": "Cell", "calendar_id": id(&calendar), "hours_per_day": "-8" }),
            "hours_per_day",
        ),
        (
            "/api/v1/work-centers",
            json!({ "name": "Cell", "calendar_id": id(&calendar), "hours_per_day": "8",
                    "routings": [{ "product_id": drill, "hours_per_unit": "0" }] }),
            "routings[0].hours_per_unit",
        ),
        (
            "/api/v1/work-centers",
            json!({ "name": "Cell", "calendar_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162",
                    "hours_per_day": "8" }),
            "calendar_id",
        ),
        (
            "/api/v1/project-roles",
            json!({ "name": "Role", "calendar_id": id(&calendar), "hours_per_week": "40",
                    "bookings": [{ "from": "2099-01-10", "to": "2099-01-01", "hours": "1" }] }),
            "bookings[0].to",
        ),
    ];
    for (path, body, field) in cases {
        let reply = app.post(path, body.clone()).await.unwrap();
        assert_eq!(reply.status.as_u16(), 422, "{path} {body}: {}", reply.text);
        assert_eq!(reply.body["field"], json!(field), "{path} {body}");
    }
    assert_eq!(
        app.count("/api/v1/work-centers").await.unwrap()
            + app.count("/api/v1/project-roles").await.unwrap(),
        0
    );
    app.stop().await.unwrap();
}

/// Reserves one unit `n` times at once; returns (held, refused).
async fn race(app: Arc<TestApp>, code: &str, drill: &str, n: usize) -> (usize, usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let app = app.clone();
            let body = json!({ "document": format!("SO-{i}"), "warehouses": [code],
                               "ship_policy": "ship_complete",
                               "lines": [{ "product_id": drill, "quantity": "1" }] });
            tokio::spawn(async move { app.post("/api/v1/reservations", body).await.unwrap() })
        })
        .collect();
    let (mut held, mut refused) = (0, 0);
    for t in tasks {
        let reply = t.await.unwrap();
        match reply.status.as_u16() {
            201 => held += 1,
            409 => {
                assert!(
                    ["insufficient_stock", "cannot_ship_complete"].contains(&reply.code()),
                    "{}",
                    reply.text
                );
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    (held, refused)
}

/// After a race for the ten units on hand: all ten reserved, none free.
async fn assert_all_ten_held(app: &TestApp, drill: &str) {
    let stock = position(app, drill).await;
    assert_eq!(
        (
            &stock[0]["on_hand"],
            &stock[0]["reserved"],
            &stock[0]["free"]
        ),
        (&json!("10"), &json!("10"), &json!("0"))
    );
}

/// Issue 5: two orders competing for the last units never both get them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_reservations_for_scarce_stock_never_oversell() {
    let app = Arc::new(app().await);
    let code = app.code("SCARCE");
    let wh = warehouse(&app, &code).await;
    let drill = product(&app, "stocked").await;
    shop::count(&app, &drill, &wh, "10").await;

    let (held, refused) = race(app.clone(), &code, &drill, 40).await;

    assert_eq!((held, refused), (10, 30));
    assert_all_ten_held(&app, &drill).await;
    assert_eq!(
        app.count("/api/v1/reservations?status=held").await.unwrap(),
        10
    );
}

/// Issue 5, across replicas: two runners on one database file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_on_one_database_never_oversell() {
    let mut apps = TestApp::spawn_replicas(2).await.unwrap();
    let second = Arc::new(apps.pop().unwrap());
    let first = Arc::new(apps.pop().unwrap());
    let code = first.code("SHARED");
    let wh = warehouse(&first, &code).await;
    let drill = product(&first, "stocked").await;
    shop::count(&first, &drill, &wh, "10").await;

    let (a, b) = tokio::join!(
        race(first.clone(), &code, &drill, 20),
        race(second.clone(), &code, &drill, 20)
    );

    assert_eq!((a.0 + b.0, a.1 + b.1), (10, 30));
    assert_all_ten_held(&second, &drill).await;
}

/// Issue 5, across processes: two `sales-runner` processes on one database
/// file (WAL, busy timeout), each serving half of the racing requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runner_processes_on_one_database_never_oversell() {
    let state = tempfile::tempdir().unwrap();
    let key = format!("sk_test_{}", uuid::Uuid::now_v7().simple());
    let a = Runner::start(state.path(), &key, &[], None);
    let b = Runner::start(state.path(), &key, &[], None);
    let first = Arc::new(TestApp::connect(&a.base_url, &key).unwrap());
    let second = Arc::new(TestApp::connect(&b.base_url, &key).unwrap());
    let code = first.code("PROC");
    let wh = warehouse(&first, &code).await;
    let drill = product(&first, "stocked").await;
    shop::count(&first, &drill, &wh, "10").await;

    let (x, y) = tokio::join!(
        race(first.clone(), &code, &drill, 20),
        race(second.clone(), &code, &drill, 20)
    );

    assert_eq!((x.0 + y.0, x.1 + y.1), (10, 30));
    assert_all_ten_held(&second, &drill).await;
    drop((a, b));
}
