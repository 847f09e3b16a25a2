//! The main scenario through the runner with a real Redis
//! (issue 7, "Must show"): quote → send → the customer accepts through the
//! signed link → convert → submit (priced, credit-checked, promised and
//! evaluated through the composed capabilities) → the manager approves →
//! the jobs component confirms the order and creates the work order (for
//! the cabinets nobody has) and the project (for the installation hours)
//! → partial fulfilment → fulfilled; and a second sale that is cancelled
//! after confirmation, which compensates everything: its reservation is
//! released, its work order and project are cancelled and the role's
//! booking is gone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::Method;
use sales_e2e::shop::{shop, Shop, ShopSpec};
use sales_e2e::{json, RedisServer, TestApp};
use serde_json::Value;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

async fn items(app: &TestApp, path: &str) -> Vec<Value> {
    app.get(path).await.unwrap().assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls `path` until `done` holds (the jobs component works after the
/// writer's commit, woken through Redis).
async fn eventually(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let r = app.get(path).await.unwrap();
        if r.status.is_success() && done(&r.body) {
            return r.body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{path} never got there: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shop of `sales_e2e::shop`: ten shelves, cabinets taking two hours
/// each, one customer, a B2B channel that sells from quotations and checks
/// credit, and orders over 500 EUR going to the manager.
async fn kitchen_shop(app: &TestApp) -> Shop {
    shop(
        app,
        &ShopSpec {
            shelves_on_hand: "10",
            cabinet_hours: "2",
            customers: &["Kitchens & Co"],
            credit_limit: "50000.00",
            quotation_required: true,
            approval_over: "500",
        },
    )
    .await
}

/// Quote → send → accepted through the link → converted → submitted →
/// approved → confirmed by the jobs component. Returns the order.
async fn sell(app: &TestApp, shop: &Shop) -> Value {
    let quotation = app
        .create(
            "/api/v1/quotations",
            json!({ "customer_id": shop.customers[0], "channel_code": shop.channel_code, "lines": [
                { "product_id": shop.shelf, "quantity": "4" },
                { "product_id": shop.cabinet, "quantity": "2" },
                { "product_id": shop.install, "quantity": "6" },
            ]}),
        )
        .await
        .unwrap();
    // 4 × 60 + 2 × 300 + 6 × 80, priced through the plugged pricing.
    assert_eq!(
        quotation["totals"]["net_total"]["amount"], "1320.00",
        "{quotation}"
    );
    let q = id(&quotation);

    let sent = app
        .post(&format!("/api/v1/quotations/{q}/send"), json!({}))
        .await
        .unwrap();
    let token = sent.assert_status(200)["accept_link"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The customer accepts through the signed link, without an API key.
    let accepted = app
        .call_as(
            "",
            Method::POST,
            "/api/v1/quotation-links/accept",
            Some(json!({ "token": token })),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        accepted.assert_status(200)["status"],
        "accepted",
        "{}",
        accepted.text
    );

    let converted = app
        .post(&format!("/api/v1/quotations/{q}/convert"), json!({}))
        .await
        .unwrap();
    let converted = converted.assert_status(201).clone();
    let order = converted["order"]["id"]
        .as_str()
        .or_else(|| converted["id"].as_str())
        .expect("the converted order's id")
        .to_owned();

    // Submitted in one request: priced, credit-checked, promised (the
    // shelves reserved), evaluated — over 500 EUR, so it waits.
    let submitted = app
        .post(&format!("/api/v1/orders/{order}/submit"), json!({}))
        .await
        .unwrap();
    let submitted = submitted.assert_status(200).clone();
    assert_eq!(submitted["status"], "pending_approval", "{submitted}");
    assert!(
        submitted["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| !l["promised_date"].is_null()),
        "every line has a promised date: {submitted}"
    );
    let request = submitted["approval_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // No work before the approval.
    assert!(items(app, &format!("/api/v1/work-orders?order_id={order}"))
        .await
        .is_empty());

    // The manager approves; the jobs component confirms the order.
    sales_e2e::shop::decide(app, &shop.manager_key, &request, "approve", json!({}))
        .await
        .assert_status(200);
    eventually(app, &format!("/api/v1/orders/{order}"), |o| {
        o["status"] == "confirmed"
    })
    .await
}

/// The order's reserved shelves at MAIN (0 when there is no position row).
async fn reserved_shelves(app: &TestApp, shop: &Shop) -> String {
    let rows = items(
        app,
        &format!(
            "/api/v1/stock?product_id={}&warehouse_id={}",
            shop.shelf, shop.warehouse
        ),
    )
    .await;
    rows.first()
        .map(|r| r["reserved"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| "0".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quote_to_fulfilled_order_with_work_order_and_project() {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    let app = TestApp::spawn_with(&[("redis_address", url.as_str())])
        .await
        .unwrap();
    let shop = kitchen_shop(&app).await;

    let order = sell(&app, &shop).await;
    let order_id = id(&order);
    assert_eq!(reserved_shelves(&app, &shop).await, "4");

    // The jobs component created the work order for the two cabinets and
    // the project with the six installation hours.
    let wos = eventually(
        &app,
        &format!("/api/v1/work-orders?order_id={order_id}"),
        |b| b["items"].as_array().unwrap().len() == 1,
    )
    .await;
    let wo = &wos["items"][0];
    assert_eq!(wo["product_id"], shop.cabinet.as_str(), "{wo}");
    assert_eq!(wo["quantity"], "2", "{wo}");
    let projects = eventually(
        &app,
        &format!("/api/v1/projects?order_id={order_id}"),
        |b| b["items"].as_array().unwrap().len() == 1,
    )
    .await;
    let task = &projects["items"][0]["tasks"][0];
    assert_eq!(task["hours"], "6", "{projects}");

    // Partial fulfilment: two shelves leave the warehouse.
    let line = |product: &str| {
        order["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["product_id"] == product)
            .unwrap()["id"]
            .clone()
    };
    let part = app
        .post(
            &format!("/api/v1/orders/{order_id}/fulfil"),
            json!({ "lines": [{ "line_id": line(&shop.shelf), "quantity": "2" }],
                    "external_source": "wms", "external_id": "DN-1" }),
        )
        .await
        .unwrap();
    assert_eq!(
        part.assert_status(200)["status"],
        "partially_fulfilled",
        "{}",
        part.text
    );

    // The plant delivers the cabinets (the inventory system counts them),
    // then the rest ships and the installers' hours are reported.
    app.post(
        "/api/v1/stock/adjustments",
        json!({ "product_id": shop.cabinet, "warehouse_id": shop.warehouse,
                "quantity": "2", "reason": "production" }),
    )
    .await
    .unwrap()
    .assert_status(201);
    let done = app
        .post(
            &format!("/api/v1/orders/{order_id}/fulfil"),
            json!({ "lines": [
                        { "line_id": line(&shop.shelf), "quantity": "2" },
                        { "line_id": line(&shop.cabinet), "quantity": "2" },
                        { "line_id": line(&shop.install), "quantity": "6" }],
                    "external_source": "wms", "external_id": "DN-2" }),
        )
        .await
        .unwrap();
    assert_eq!(
        done.assert_status(200)["status"],
        "fulfilled",
        "{}",
        done.text
    );
    assert_eq!(reserved_shelves(&app, &shop).await, "0");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_compensates_everything() {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    let app = TestApp::spawn_with(&[("redis_address", url.as_str())])
        .await
        .unwrap();
    let shop = kitchen_shop(&app).await;

    let order = sell(&app, &shop).await;
    let order_id = id(&order);
    eventually(
        &app,
        &format!("/api/v1/work-orders?order_id={order_id}"),
        |b| b["items"].as_array().unwrap().len() == 1,
    )
    .await;
    eventually(
        &app,
        &format!("/api/v1/projects?order_id={order_id}"),
        |b| b["items"].as_array().unwrap().len() == 1,
    )
    .await;
    let role = format!("/api/v1/project-roles/{}", shop.role);
    let booked = app.get(&role).await.unwrap();
    assert_ne!(booked.assert_status(200)["bookings"], json!([]));
    assert_eq!(reserved_shelves(&app, &shop).await, "4");

    let cancelled = app
        .post(
            &format!("/api/v1/orders/{order_id}/cancel"),
            json!({ "reason": "customer withdrew" }),
        )
        .await
        .unwrap();
    assert_eq!(
        cancelled.assert_status(200)["status"],
        "cancelled",
        "{}",
        cancelled.text
    );
    // Released in the cancelling transaction.
    assert_eq!(reserved_shelves(&app, &shop).await, "0");
    // Undone by the jobs component: the work order, the project and its
    // task, the installer's booking.
    eventually(
        &app,
        &format!("/api/v1/work-orders?order_id={order_id}"),
        |b| {
            b["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["status"] == "cancelled")
        },
    )
    .await;
    let projects = eventually(
        &app,
        &format!("/api/v1/projects?order_id={order_id}&status=cancelled"),
        |b| b["items"].as_array().unwrap().len() == 1,
    )
    .await;
    assert_eq!(projects["items"][0]["tasks"][0]["status"], "cancelled");
    eventually(&app, &role, |r| r["bookings"] == json!([])).await;
    // Nothing is left half-done in the outbox.
    let parked = items(&app, "/api/v1/outbox?status=parked").await;
    assert!(parked.is_empty(), "{parked:?}");
    app.stop().await.unwrap();
}
