//! Sales orders through the runner (issue 7): a draft created, submitted
//! in one request (priced, credit-checked, promised, approvals evaluated,
//! stock reserved) and confirmed with promised dates; an order that waits
//! for approval; the credit check blocking or warning per channel; channel
//! behaviour from configuration (quotation required, web orders arriving
//! paid, a point of sale fulfilling on the spot); holds, cancellation,
//! partial and complete shipments (once per outside id); an amendment;
//! bad input that is a clear 4xx and writes nothing; an idempotent retry
//! of a submission; 40 concurrent submissions for the last units.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use sales_e2e::{json, shop, Reply, TestApp};
use serde_json::Value;

async fn app() -> TestApp {
    TestApp::spawn().await.expect("failed to start the app")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// A warehouse MAIN with `on_hand` drills priced at 100.00 EUR (19 % VAT
/// on top), a customer with `credit_limit` (none when `None`).
struct World {
    warehouse: String,
    drill: String,
    customer: String,
}

async fn world(app: &TestApp, on_hand: &str, credit_limit: Option<&str>) -> World {
    let warehouse = id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": "MAIN", "name": "Main warehouse" }),
        )
        .await
        .unwrap());
    let drill = shop::drills(app, &warehouse, on_hand).await;
    app.create(
        "/api/v1/tax-templates",
        json!({ "name": "VAT", "mode": "exclusive", "is_default": true,
                "lines": [{ "code": "VAT", "name": "VAT 19 %", "rate_percent": "19" }] }),
    )
    .await
    .unwrap();
    let mut c = json!({ "name": app.unique("Drill & Co") });
    if let Some(limit) = credit_limit {
        c["credit_limit"] = eur(limit);
    }
    let customer = id(&app.create_customer(c).await.unwrap());
    World {
        warehouse,
        drill,
        customer,
    }
}

/// A channel selling from MAIN; `extra` overrides fields. Returns (id, code).
async fn channel(app: &TestApp, extra: Value) -> (String, String) {
    let code = app.code("CH");
    let mut body = json!({ "code": code, "name": "Channel", "kind": "b2b", "mode": "offline",
                           "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"] });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let ch = app.create("/api/v1/channels", body).await.unwrap();
    (id(&ch), code)
}

async fn draft(app: &TestApp, w: &World, channel: &str, quantity: &str) -> Value {
    app.create(
        "/api/v1/orders",
        json!({ "customer_id": w.customer, "channel_id": channel,
                "lines": [{ "product_id": w.drill, "quantity": quantity }] }),
    )
    .await
    .unwrap()
}

async fn submit(app: &TestApp, order: &Value) -> Reply {
    app.post(&format!("/api/v1/orders/{}/submit", id(order)), json!({}))
        .await
        .unwrap()
}

async fn get(app: &TestApp, order: &Value) -> Value {
    let reply = app
        .get(&format!("/api/v1/orders/{}", id(order)))
        .await
        .unwrap();
    reply.assert_status(200).clone()
}

/// (on hand, reserved) of the drill in MAIN.
async fn stock(app: &TestApp, w: &World) -> (String, String) {
    let reply = app
        .get(&format!("/api/v1/stock?product_id={}", w.drill))
        .await
        .unwrap();
    let items = reply.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone();
    let p = items
        .iter()
        .find(|p| p["warehouse_id"] == w.warehouse.as_str())
        .expect("a position in MAIN");
    (
        p["on_hand"].as_str().unwrap().to_string(),
        p["reserved"].as_str().unwrap().to_string(),
    )
}

/// An approval chain of one level that `boss` alone decides.
fn manager_chain(boss: &str) -> Value {
    json!({ "levels": [{ "name": "Manager",
        "approvers": [{ "type": "principal", "id": boss }],
        "mode": { "type": "any_one" } }] })
}

async fn count(app: &TestApp, path: &str) -> usize {
    app.count(path).await.unwrap()
}

async fn action(app: &TestApp, order: &Value, verb: &str, body: Value) -> Reply {
    app.post(&format!("/api/v1/orders/{}/{verb}", id(order)), body)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_submitted_and_confirmed_with_prices_promised_dates_and_reservations() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, _) = channel(&app, json!({})).await;

    let order = draft(&app, &w, &b2b, "4").await;
    assert_eq!(order["status"], "draft");
    assert!(order["number"].as_str().unwrap().starts_with("SO-"));
    assert_eq!(order["lines"][0]["kind"], "goods");
    assert_eq!(order["totals"], Value::Null);

    let reply = submit(&app, &order).await;
    let done = reply.assert_status(200);
    assert_eq!(done["status"], "confirmed");
    assert_eq!(done["totals"]["net_total"], eur("400.00"));
    assert_eq!(done["totals"]["tax_total"], eur("76.00"));
    assert_eq!(done["totals"]["grand_total"], eur("476.00"));
    let line = &done["lines"][0];
    assert_eq!(line["pricing"]["list_price"], eur("100.00"));
    assert_eq!(line["promised_date"], today().as_str());
    assert_eq!(line["promise_source"], "stock");
    assert_eq!(line["reserved_quantity"], "4");
    assert_eq!(done["credit"]["decision"], "no_limit");
    assert!(done["approval_request_id"].is_null());
    assert_eq!(stock(&app, &w).await, ("10".into(), "4".into()));

    // The read has the waterfall; the list filters by status.
    let read = get(&app, &order).await;
    assert!(read["waterfall"]["lines"].is_array());
    assert_eq!(count(&app, "/api/v1/orders?status=confirmed").await, 1);
    assert_eq!(count(&app, "/api/v1/orders?status=draft").await, 0);
    assert_eq!(
        count(&app, &format!("/api/v1/orders?customer_id={}", w.customer)).await,
        1
    );

    // A requested date that passed while the order was a draft means as
    // soon as possible.
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let late = app
        .create(
            "/api/v1/orders",
            json!({ "customer_id": w.customer, "channel_id": b2b, "requested_date": yesterday,
                    "lines": [{ "product_id": w.drill, "quantity": "1" }] }),
        )
        .await
        .unwrap();
    let done = submit(&app, &late).await;
    assert_eq!(
        done.assert_status(200)["lines"][0]["promised_date"],
        today().as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_needing_approval_waits_is_confirmed_on_approval_and_asks_again_when_amended() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, code) = channel(&app, json!({})).await;
    let (manager, _) = shop::order_approver(&app, &code, "500").await;

    let small = draft(&app, &w, &b2b, "2").await;
    assert_eq!(
        submit(&app, &small).await.assert_status(200)["status"],
        "confirmed"
    );

    let large = draft(&app, &w, &b2b, "6").await;
    let reply = submit(&app, &large).await;
    let waiting = reply.assert_status(200);
    assert_eq!(waiting["status"], "pending_approval");
    let request = waiting["approval_request_id"].as_str().unwrap().to_string();
    let approval = app
        .get(&format!("/api/v1/approvals/{request}"))
        .await
        .unwrap();
    let approval = approval.assert_status(200);
    assert_eq!(approval["document"]["document"]["id"], id(&large).as_str());
    // The stock is held while the approval is pending.
    assert_eq!(stock(&app, &w).await, ("10".into(), "8".into()));

    // The manager approves: the jobs component confirms the order.
    let revision = waiting["revision"].as_i64().unwrap();
    app.call_as(
        &manager,
        Method::POST,
        &format!("/api/v1/approvals/{request}/approve"),
        Some(json!({ "document_version": revision })),
        &[],
    )
    .await
    .unwrap()
    .assert_status(200);
    let confirmed = wait_for_status(&app, &large, "confirmed").await;

    // An amendment that raises the total past what was approved asks again.
    let path = format!("/api/v1/orders/{}", id(&large));
    let line = confirmed["lines"][0]["id"].clone();
    let amended = app
        .patch(
            &path,
            confirmed["version"].as_i64().unwrap(),
            json!({ "lines": [{ "id": line, "product_id": w.drill, "quantity": "7" }] }),
        )
        .await
        .unwrap();
    let amended = amended.assert_status(200).clone();
    assert_eq!(amended["status"], "pending_approval");
    let second = amended["approval_request_id"].as_str().unwrap().to_string();
    assert_ne!(second, request);
    assert_eq!(stock(&app, &w).await, ("10".into(), "9".into()));
    // Downstream work does not run ahead of the approval: the confirmation
    // carried the order's demand, the amendment that waits carries none.
    let events = |topic: &'static str| {
        let app = &app;
        let order = id(&large);
        async move {
            let page = app
                .get(&format!(
                    "/api/v1/outbox?aggregate_kind=order&aggregate_id={order}&topic={topic}"
                ))
                .await
                .unwrap();
            page.assert_status(200)["items"].as_array().unwrap().clone()
        }
    };
    let confirmations = events("order.confirmed").await;
    assert_eq!(confirmations.len(), 1);
    assert!(confirmations[0]["payload"]["demand"].is_object());
    let amendments = events("order.amended").await;
    assert_eq!(amendments.len(), 1);
    assert!(amendments[0]["payload"]["demand"].is_null());

    // Rejected: back to draft, the stock given back.
    app.call_as(
        &manager,
        Method::POST,
        &format!("/api/v1/approvals/{second}/reject"),
        Some(json!({ "document_version": amended["revision"], "comment": "too much" })),
        &[],
    )
    .await
    .unwrap()
    .assert_status(200);
    let draft = wait_for_status(&app, &large, "draft").await;
    assert_eq!(draft["lines"][0]["reserved_quantity"], "0");
    assert_eq!(stock(&app, &w).await, ("10".into(), "2".into()));
}

/// Polls the order until the jobs component has moved it to `status`.
async fn wait_for_status(app: &TestApp, order: &Value, status: &str) -> Value {
    for _ in 0..100 {
        let now = get(app, order).await;
        if now["status"] == status {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "order {} never became {status}: {}",
        id(order),
        get(app, order).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credit_check_blocks_or_warns_per_channel_and_a_paid_channel_skips_it() {
    let app = app().await;
    let w = world(&app, "100", Some("1000")).await;
    let (blocking, _) = channel(&app, json!({ "credit_check": "block" })).await;
    let (warning, _) = channel(&app, json!({ "credit_check": "warn" })).await;
    let (web, _) = channel(
        &app,
        json!({ "kind": "b2c", "mode": "online", "paid_on_order": true, "credit_check": "block" }),
    )
    .await;

    // 5 × 119 = 595 fits; then 5 more would make 1190.
    let first = draft(&app, &w, &blocking, "5").await;
    submit(&app, &first).await.assert_status(200);
    let second = draft(&app, &w, &blocking, "5").await;
    let refused = submit(&app, &second).await;
    refused.assert_problem(409, "credit_limit_exceeded");
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("over the credit limit"));
    let after = get(&app, &second).await;
    assert_eq!(after["status"], "draft");
    assert_eq!(after["version"], second["version"]);
    assert_eq!(stock(&app, &w).await.1, "5");

    let warned = draft(&app, &w, &warning, "5").await;
    let ok = submit(&app, &warned).await;
    let ok = ok.assert_status(200);
    assert_eq!(ok["status"], "confirmed");
    assert_eq!(ok["credit"]["decision"], "warned");

    let paid = draft(&app, &w, &web, "5").await;
    let ok = submit(&app, &paid).await;
    let ok = ok.assert_status(200);
    assert_eq!(ok["status"], "confirmed");
    assert_eq!(ok["credit"]["decision"], "skipped");
    assert_eq!(ok["paid_amount"], "595");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_behave_as_configured_quotation_required_and_point_of_sale() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (quoting, _) = channel(&app, json!({ "quotation_required": true })).await;
    let (pos, _) = channel(
        &app,
        json!({ "kind": "b2c", "mode": "offline", "fulfil_on_order": true }),
    )
    .await;

    let direct = draft(&app, &w, &quoting, "1").await;
    let refused = submit(&app, &direct).await;
    refused.assert_problem(422, "quotation_required");
    assert_eq!(refused.body["field"], "quotation_id");
    assert_eq!(get(&app, &direct).await["status"], "draft");

    let sale = draft(&app, &w, &pos, "3").await;
    let reply = submit(&app, &sale).await;
    let done = reply.assert_status(200);
    assert_eq!(done["status"], "fulfilled");
    assert_eq!(done["lines"][0]["shipped_quantity"], "3");
    assert_eq!(done["lines"][0]["reserved_quantity"], "0");
    assert_eq!(stock(&app, &w).await, ("7".into(), "0".into()));

    // A fulfilled order cannot be cancelled.
    action(&app, &sale, "cancel", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_shipments_and_cancellation_move_the_stock() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, _) = channel(&app, json!({})).await;

    let order = draft(&app, &w, &b2b, "6").await;
    submit(&app, &order).await.assert_status(200);
    let held = action(&app, &order, "hold", json!({ "reason": "customer asked" })).await;
    assert_eq!(held.assert_status(200)["status"], "on_hold");
    action(&app, &order, "hold", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    let line = get(&app, &order).await["lines"][0]["id"].clone();
    action(
        &app,
        &order,
        "fulfil",
        json!({ "lines": [{ "line_id": line, "quantity": "1" }] }),
    )
    .await
    .assert_problem(409, "invalid_transition");
    assert_eq!(
        action(&app, &order, "resume", json!({}))
            .await
            .assert_status(200)["status"],
        "confirmed"
    );

    let ship = json!({ "lines": [{ "line_id": line, "quantity": "4" }],
                       "external_source": "wms", "external_id": "DN-1" });
    let part = action(&app, &order, "fulfil", ship.clone()).await;
    let part = part.assert_status(200).clone();
    assert_eq!(part["status"], "partially_fulfilled");
    assert_eq!(stock(&app, &w).await, ("6".into(), "2".into()));
    // The inventory system sends the same delivery again: applied once.
    let again = action(&app, &order, "fulfil", ship).await;
    assert_eq!(again.assert_status(200)["version"], part["version"]);
    assert_eq!(stock(&app, &w).await, ("6".into(), "2".into()));
    let over = action(
        &app,
        &order,
        "fulfil",
        json!({ "lines": [{ "line_id": line, "quantity": "3" }] }),
    )
    .await;
    over.assert_problem(422, "over_shipped");
    action(&app, &order, "cancel", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    let closed = action(
        &app,
        &order,
        "close",
        json!({ "reason": "rest not needed" }),
    )
    .await;
    assert_eq!(closed.assert_status(200)["status"], "closed");
    assert_eq!(stock(&app, &w).await, ("6".into(), "0".into()));

    let other = draft(&app, &w, &b2b, "5").await;
    submit(&app, &other).await.assert_status(200);
    assert_eq!(stock(&app, &w).await, ("6".into(), "5".into()));
    let cancelled = action(&app, &other, "cancel", json!({ "reason": "withdrawn" })).await;
    let cancelled = cancelled.assert_status(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["lines"][0]["reserved_quantity"], "0");
    assert_eq!(stock(&app, &w).await, ("6".into(), "0".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amendment_reprices_and_readjusts_the_reservation() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, _) = channel(&app, json!({})).await;
    let order = draft(&app, &w, &b2b, "2").await;
    let confirmed = submit(&app, &order).await.assert_status(200).clone();
    let line = confirmed["lines"][0]["id"].clone();
    let path = format!("/api/v1/orders/{}", id(&order));
    let body = json!({ "lines": [{ "id": line, "product_id": w.drill, "quantity": "5" }] });

    let missing = app
        .call(Method::PATCH, &path, Some(body.clone()))
        .await
        .unwrap();
    missing.assert_problem(428, "precondition_required");
    let stale = app.patch(&path, 1, body.clone()).await.unwrap();
    stale.assert_problem(412, "version_conflict");

    let version = confirmed["version"].as_i64().unwrap();
    let amended = app.patch(&path, version, body).await.unwrap();
    let amended = amended.assert_status(200);
    assert_eq!(amended["status"], "confirmed");
    assert_eq!(amended["lines"][0]["id"], line);
    assert_eq!(amended["lines"][0]["reserved_quantity"], "5");
    assert_eq!(amended["totals"]["net_total"], eur("500.00"));
    assert_eq!(
        amended["revision"],
        confirmed["revision"].as_i64().unwrap() + 1
    );
    assert_eq!(stock(&app, &w).await, ("10".into(), "5".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, _) = channel(&app, json!({})).await;
    let before = count(&app, "/api/v1/orders").await;

    for (quantity, field) in [
        ("0", "lines[0].quantity"),
        ("-2", "lines[0].quantity"),
        ("1.0001", "lines[0].quantity"),
    ] {
        let reply = app
            .post(
                "/api/v1/orders",
                json!({ "customer_id": w.customer, "channel_id": b2b,
                        "lines": [{ "product_id": w.drill, "quantity": quantity }] }),
            )
            .await
            .unwrap();
        reply.assert_problem(422, "invalid_field");
        assert_eq!(reply.body["field"], field, "{quantity}");
    }
    let unknown = app
        .post(
            "/api/v1/orders",
            json!({ "customer_id": w.customer, "channel_id": b2b, "discount": "99",
                    "lines": [{ "product_id": w.drill, "quantity": "1" }] }),
        )
        .await
        .unwrap();
    unknown.assert_problem(422, "unknown_field");
    let old = id(&app
        .create_product(
            json!({ "sku": app.unique("OLD"), "name": "Old", "uom": "pcs",
                                "kind": "stocked", "standard_cost": eur("1.00") }),
        )
        .await
        .unwrap());
    app.call(
        Method::POST,
        &format!("/api/v1/products/{old}/deactivate"),
        None,
    )
    .await
    .unwrap()
    .assert_status(200);
    let inactive = app
        .post(
            "/api/v1/orders",
            json!({ "customer_id": w.customer, "channel_id": b2b,
                    "lines": [{ "product_id": old, "quantity": "1" }] }),
        )
        .await
        .unwrap();
    inactive.assert_problem(422, "inactive_product");
    assert_eq!(inactive.body["field"], "lines[0].product_id");
    let nobody = app
        .post(
            "/api/v1/orders",
            json!({ "customer_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162", "channel_id": b2b,
                    "lines": [] }),
        )
        .await
        .unwrap();
    nobody.assert_problem(422, "unknown_reference");
    assert_eq!(count(&app, "/api/v1/orders").await, before);

    // Submitting twice, and submitting an empty draft.
    let order = draft(&app, &w, &b2b, "1").await;
    submit(&app, &order).await.assert_status(200);
    let twice = submit(&app, &order).await;
    twice.assert_problem(409, "invalid_transition");
    assert!(twice.body["detail"]
        .as_str()
        .unwrap()
        .contains("already been submitted"));
    assert_eq!(stock(&app, &w).await.1, "1");
    let empty = app
        .create(
            "/api/v1/orders",
            json!({ "customer_id": w.customer, "channel_id": b2b, "lines": [] }),
        )
        .await
        .unwrap();
    let refused = submit(&app, &empty).await;
    refused.assert_problem(422, "invalid_field");
    assert_eq!(refused.body["field"], "lines");
    app.get("/api/v1/orders/not-an-id")
        .await
        .unwrap()
        .assert_problem(400, "invalid_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_submission_returns_the_first_result() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, _) = channel(&app, json!({})).await;
    let order = draft(&app, &w, &b2b, "3").await;
    let path = format!("/api/v1/orders/{}/submit", id(&order));
    let key = [("idempotency-key", "submit-once")];
    let admin = app_key(&app);
    let first = app
        .call_as(&admin, Method::POST, &path, Some(json!({})), &key)
        .await
        .unwrap();
    first.assert_status(200);
    let second = app
        .call_as(&admin, Method::POST, &path, Some(json!({})), &key)
        .await
        .unwrap();
    second.assert_status(200);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.body, first.body);
    assert_eq!(stock(&app, &w).await.1, "3");
}

fn app_key(app: &TestApp) -> String {
    app.admin_key.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_submissions_never_oversell_the_last_units() {
    let app = app().await;
    let w = world(&app, "5", None).await;
    let (b2b, _) = channel(&app, json!({})).await;
    let mut orders = Vec::new();
    for _ in 0..40 {
        orders.push(draft(&app, &w, &b2b, "1").await);
    }
    let replies = futures_join(&app, &orders).await;
    let mut reserved = 0;
    for r in &replies {
        match r.status.as_u16() {
            200 => {
                if r.body["lines"][0]["reserved_quantity"] == "1" {
                    reserved += 1;
                }
            }
            409 => assert_eq!(r.code(), "insufficient_stock", "{}", r.text),
            503 => {}
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(reserved, 5, "exactly the five units are reserved");
    assert_eq!(stock(&app, &w).await, ("5".into(), "5".into()));
}

async fn futures_join(app: &TestApp, orders: &[Value]) -> Vec<Reply> {
    let mut set = tokio::task::JoinSet::new();
    for o in orders {
        let path = format!("/api/v1/orders/{}/submit", id(o));
        let key = app_key(app);
        let client = TestApp::connect(&app.base_url, &key).unwrap();
        set.spawn(async move { client.post(&path, json!({})).await.unwrap() });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reps_create_and_submit_viewers_only_read_and_only_managers_stop_orders() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, _) = channel(&app, json!({})).await;
    let rep = app.create_key(&app.unique("rep"), &["rep"]).await.unwrap();
    let viewer = app
        .create_key(&app.unique("viewer"), &["viewer"])
        .await
        .unwrap();
    let body = json!({ "customer_id": w.customer, "channel_id": b2b,
                       "lines": [{ "product_id": w.drill, "quantity": "1" }] });
    app.call_as(
        &viewer,
        Method::POST,
        "/api/v1/orders",
        Some(body.clone()),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");
    let created = app
        .call_as(&rep, Method::POST, "/api/v1/orders", Some(body), &[])
        .await
        .unwrap();
    let order = created.assert_status(201).clone();
    let path = format!("/api/v1/orders/{}", id(&order));
    app.call_as(&viewer, Method::GET, &path, None, &[])
        .await
        .unwrap()
        .assert_status(200);
    app.call_as(
        &rep,
        Method::POST,
        &format!("{path}/submit"),
        Some(json!({})),
        &[],
    )
    .await
    .unwrap()
    .assert_status(200);
    app.call_as(
        &rep,
        Method::POST,
        &format!("{path}/cancel"),
        Some(json!({})),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");
    app.call_as(
        &viewer,
        Method::POST,
        &format!("{path}/fulfil"),
        Some(json!({ "lines": [] })),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_converted_from_a_quotation_keeps_the_quoted_rate_where_quotations_are_required() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (_, code) = channel(&app, json!({ "quotation_required": true })).await;
    let q = app
        .create(
            "/api/v1/quotations",
            json!({ "customer_id": w.customer, "channel_code": code,
                    "lines": [{ "product_id": w.drill, "quantity": "3" }] }),
        )
        .await
        .unwrap();
    assert_eq!(q["lines"][0]["price"]["net_unit_price"], eur("100.00"));
    app.post(&format!("/api/v1/quotations/{}/send", id(&q)), json!({}))
        .await
        .unwrap()
        .assert_status(200);
    let converted = app
        .post(&format!("/api/v1/quotations/{}/convert", id(&q)), json!({}))
        .await
        .unwrap();
    let order = converted.assert_status(201)["order"].clone();
    // Prices go down 10 % after the quote; the customer keeps the quoted rate.
    app.create(
        "/api/v1/pricing-rules",
        json!({ "name": "Spring sale", "stacking": "exclusive",
                "action": { "type": "discount_percent", "percent": "10" } }),
    )
    .await
    .unwrap();
    let reply = submit(&app, &order).await;
    let done = reply.assert_status(200);
    assert_eq!(done["status"], "confirmed");
    assert_eq!(done["quotation_id"], q["id"]);
    let pricing = &done["lines"][0]["pricing"];
    assert_eq!(pricing["net_unit_price"], eur("100.00"));
    assert_eq!(pricing["net_total"], eur("300.00"));
    assert!(pricing["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "kept_quoted_rate"));
    assert_eq!(done["totals"]["grand_total"], eur("357.00"));
    // Pricing itself said 90.00 today (the waterfall keeps its answer).
    let read = get(&app, &order).await;
    assert_eq!(
        read["waterfall"]["lines"][0]["net_unit_price"],
        eur("90.00")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_decided_while_the_order_was_held_applies_when_it_resumes() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, code) = channel(&app, json!({})).await;
    let (manager, boss) = app.person("manager").await.unwrap();
    app.create(
        "/api/v1/approval-policies",
        json!({ "name": "Any order", "applies_to": ["order"],
                "condition": { "type": "channels", "codes": [code] },
                "chain": manager_chain(&boss) }),
    )
    .await
    .unwrap();
    let order = draft(&app, &w, &b2b, "1").await;
    let waiting = submit(&app, &order).await.assert_status(200).clone();
    assert_eq!(waiting["status"], "pending_approval");
    action(&app, &order, "hold", json!({}))
        .await
        .assert_status(200);
    let request = waiting["approval_request_id"].as_str().unwrap();
    app.call_as(
        &manager,
        Method::POST,
        &format!("/api/v1/approvals/{request}/approve"),
        Some(json!({ "document_version": waiting["revision"] })),
        &[],
    )
    .await
    .unwrap()
    .assert_status(200);
    // The jobs component leaves a held order alone...
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(get(&app, &order).await["status"], "on_hold");
    // ...and resuming applies the decision.
    let resumed = action(&app, &order, "resume", json!({})).await;
    assert_eq!(resumed.assert_status(200)["status"], "confirmed");

    // Cancelling an order that waits for approval takes the request out of
    // the approvers' inboxes.
    let other = draft(&app, &w, &b2b, "1").await;
    let waiting = submit(&app, &other).await.assert_status(200).clone();
    let request = waiting["approval_request_id"].as_str().unwrap();
    action(&app, &other, "cancel", json!({}))
        .await
        .assert_status(200);
    let closed = app
        .get(&format!("/api/v1/approvals/{request}"))
        .await
        .unwrap();
    assert_eq!(closed.assert_status(200)["status"]["status"], "superseded");
    assert_eq!(stock(&app, &w).await.1, "1");
}

/// Issue #7 item 6: B2C web orders arrive paid — what was paid is recorded
/// and is no exposure, so the same customer's next order on credit is
/// checked against its own total only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_web_order_is_no_credit_exposure_for_the_next_order_on_credit() {
    let app = app().await;
    let w = world(&app, "100", Some("1000")).await;
    let (web, _) = channel(
        &app,
        json!({ "kind": "b2c", "mode": "online", "paid_on_order": true }),
    )
    .await;
    let (blocking, _) = channel(&app, json!({ "credit_check": "block" })).await;

    // 8 × 119 = 952 paid on the web shop.
    let paid = draft(&app, &w, &web, "8").await;
    let paid = submit(&app, &paid).await.assert_status(200).clone();
    assert_eq!(paid["paid_amount"], "952");
    assert_eq!(get(&app, &paid).await["paid_amount"], "952");

    // 5 × 119 = 595 on credit: under the 1,000 limit only because the paid
    // 952 does not count.
    let on_credit = draft(&app, &w, &blocking, "5").await;
    let ok = submit(&app, &on_credit).await;
    let ok = ok.assert_status(200);
    assert_eq!(ok["status"], "confirmed", "{ok}");
    assert_eq!(ok["credit"]["decision"], "within_limit", "{ok}");
    // The same again is over the limit: 595 open + 595.
    let third = draft(&app, &w, &blocking, "5").await;
    submit(&app, &third)
        .await
        .assert_problem(409, "credit_limit_exceeded");
}

/// Issue #7 item 6: a point-of-sale order that needs approval waits like
/// any other, and when approved the jobs component confirms it and hands
/// it over on the spot from the store's warehouse (real Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_point_of_sale_order_is_fulfilled_on_the_spot() {
    let redis = sales_e2e::RedisServer::start().unwrap();
    let url = redis.url();
    let app = TestApp::spawn_with(&[("redis_address", url.as_str())])
        .await
        .unwrap();
    let w = world(&app, "10", None).await;
    let (pos, code) = channel(
        &app,
        json!({ "kind": "b2c", "mode": "offline", "fulfil_on_order": true }),
    )
    .await;
    let (manager, _) = shop::order_approver(&app, &code, "250").await;

    // Three drills (300 EUR net): waits, holding the three at the counter.
    let order = draft(&app, &w, &pos, "3").await;
    let waiting = submit(&app, &order).await.assert_status(200).clone();
    assert_eq!(waiting["status"], "pending_approval", "{waiting}");
    assert_eq!(stock(&app, &w).await, ("10".to_string(), "3".to_string()));
    let request = waiting["approval_request_id"].as_str().unwrap().to_string();
    shop::decide(&app, &manager, &request, "approve", json!({}))
        .await
        .assert_status(200);

    // Approved: confirmed and fulfilled from MAIN, the hold consumed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let done = loop {
        let now = get(&app, &order).await;
        if now["status"] == "fulfilled" {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the approved till order was not handed over: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(done["lines"][0]["shipped_quantity"], "3", "{done}");
    assert_eq!(stock(&app, &w).await, ("7".to_string(), "0".to_string()));
    let fulfilled = app
        .count(&format!(
            "/api/v1/outbox?topic=order.fulfilled&aggregate_id={}",
            id(&order)
        ))
        .await
        .unwrap();
    assert_eq!(fulfilled, 1);
    app.stop().await.unwrap();
}

/// Issue 7: the submission hands the availability capability the
/// channel's warehouse codes instead of the channel (one read fewer); a
/// warehouse of the channel deactivated after the draft is still refused
/// as when the capability read the channel itself — 422
/// `unknown_reference` on `channel_id`, naming the channel — and nothing
/// is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_whose_warehouse_was_deactivated_refuses_the_submission_naming_the_channel() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, code) = channel(&app, json!({})).await;
    let order = draft(&app, &w, &b2b, "2").await;
    app.post(
        &format!("/api/v1/warehouses/{}/deactivate", w.warehouse),
        json!({}),
    )
    .await
    .unwrap()
    .assert_status(200);

    let refused = submit(&app, &order).await;
    refused.assert_status(422);
    assert_eq!(refused.body["code"], "unknown_reference");
    assert_eq!(refused.body["field"], "channel_id");
    assert_eq!(
        refused.body["detail"],
        format!("channel {code}: warehouse \"MAIN\" is inactive")
    );
    assert_eq!(get(&app, &order).await["status"], "draft");
    assert_eq!(stock(&app, &w).await.1, "0");
}

/// A line priced below its product's floor carries the pricing flag into
/// the approvals capability, where a `pricing_flag` policy on that kind
/// holds the order for approval; a policy on another kind does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_below_its_floor_price_sends_the_order_for_approval_on_that_flag() {
    let app = app().await;
    let w = world(&app, "10", None).await;
    let (b2b, _) = channel(&app, json!({})).await;
    let (_, boss) = app.person("manager").await.unwrap();
    // The drill sells at 100.00; its floor is above that.
    app.create(
        "/api/v1/price-guards",
        json!({ "scope": { "type": "product", "id": w.drill }, "floor_price": eur("150.00") }),
    )
    .await
    .unwrap();
    let policy = |kind: &str| {
        json!({ "name": format!("Flag {kind}"), "applies_to": ["order"],
                "condition": { "type": "pricing_flag", "kinds": [kind] },
                "chain": manager_chain(&boss) })
    };
    let margin = app
        .create("/api/v1/approval-policies", policy("below_minimum_margin"))
        .await
        .unwrap();
    let order = draft(&app, &w, &b2b, "1").await;
    let done = submit(&app, &order).await.assert_status(200).clone();
    assert_eq!(done["status"], "confirmed", "{done}");
    app.post(
        &format!("/api/v1/approval-policies/{}/deactivate", id(&margin)),
        json!({}),
    )
    .await
    .unwrap()
    .assert_status(200);
    app.create("/api/v1/approval-policies", policy("below_floor"))
        .await
        .unwrap();
    let order = draft(&app, &w, &b2b, "1").await;
    let waiting = submit(&app, &order).await.assert_status(200).clone();
    assert_eq!(waiting["status"], "pending_approval", "{waiting}");
}
