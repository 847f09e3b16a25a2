//! End to end: the connectors to outside systems (issue #9 item 5, issue
//! #5 item 7) through the runner and the real components, each against a
//! stand-in HTTP server on loopback that plays the outside system —
//! answering per the documented contract, slowly, wrongly or not at all.
//!
//! - Inventory: a check promises from the outside system's stock; a slow,
//!   failing, refused or contract-breaking inventory degrades the check
//!   with the reason (it answers, from the embedded positions) instead of
//!   hanging or failing.
//! - Manufacturing and projects: a confirmed order's work order and
//!   project are sent once per change, with an idempotency key, retried
//!   after failures with the same key.
//! - Mail and `create_task`: an automation's notification is e-mailed once
//!   per recipient; its follow-up task is created once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sales_e2e::TestApp;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// A request the stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the stand-in answers: a status, a body, after a delay.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: String,
    delay: Duration,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
}

type Script = Arc<dyn Fn(&Seen, usize) -> Answer + Send + Sync>;

/// An outside system on loopback: records every request and answers what
/// its script says (given the request and how many came before it).
struct StandIn {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests whose answer has been written (a slow answer is not).
    answered: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    async fn start(script: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let answered: Arc<Mutex<usize>> = Arc::default();
        let script: Script = Arc::new(script);
        let (s, a) = (seen.clone(), answered.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, answered, script) = (s.clone(), a.clone(), script.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let (seen, answered, script) =
                            (seen.clone(), answered.clone(), script.clone());
                        async move {
                            let method = req.method().to_string();
                            let path = req
                                .uri()
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default();
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (n.to_string(), v.to_str().unwrap_or_default().to_string())
                                })
                                .collect();
                            let bytes = req.into_body().collect().await.unwrap().to_bytes();
                            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            let request = Seen {
                                method,
                                path,
                                headers,
                                body,
                            };
                            let answer = {
                                let mut all = seen.lock().unwrap();
                                let answer = script(&request, all.len());
                                all.push(request);
                                answer
                            };
                            tokio::time::sleep(answer.delay).await;
                            *answered.lock().unwrap() += 1;
                            Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .status(answer.status)
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(answer.body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        StandIn {
            addr,
            seen,
            answered,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn answered(&self) -> usize {
        *self.answered.lock().unwrap()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// An app whose connectors point at `vars` (loopback allowed).
async fn app_with(vars: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("connector_allowed_hosts", "http://127.0.0.1:*")];
    all.extend_from_slice(vars);
    TestApp::spawn_with(&all)
        .await
        .expect("failed to start the app")
}

/// Two warehouses and a stocked product; embedded on hand 1 in the first.
struct Stock {
    main_code: String,
    north_code: String,
    main: String,
    sku: String,
    product: String,
}

async fn stock(app: &TestApp) -> Stock {
    let main_code = app.code("MAIN");
    let north_code = app.code("NORTH");
    let main = id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": main_code, "name": "Main" }),
        )
        .await
        .unwrap());
    let north = id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": north_code, "name": "North" }),
        )
        .await
        .unwrap());
    let sku = app.code("SKU");
    let product = id(&app
        .create_product(json!({
            "sku": sku, "name": "Drill", "uom": "unit", "kind": "stocked",
            "standard_cost": { "amount": "10.00", "currency": "EUR" }
        }))
        .await
        .unwrap());
    for (w, q) in [(&main, "1"), (&north, "5")] {
        app.post(
            "/api/v1/stock/adjustments",
            json!({ "product_id": product, "warehouse_id": w, "on_hand": q, "reason": "count" }),
        )
        .await
        .unwrap()
        .assert_status(201);
    }
    Stock {
        main_code,
        north_code,
        main,
        sku,
        product,
    }
}

async fn check(app: &TestApp, s: &Stock, quantity: &str) -> Value {
    app.post(
        "/api/v1/availability/check",
        json!({ "warehouses": [s.main_code, s.north_code],
                "lines": [{ "product_id": s.product, "quantity": quantity }] }),
    )
    .await
    .unwrap()
    .assert_status(200)
    .clone()
}

fn stock_quantity(promise: &Value) -> Vec<(String, String)> {
    promise["lines"][0]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "stock")
        .map(|s| {
            (
                s["warehouse_code"].as_str().unwrap().to_string(),
                s["quantity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_promises_from_the_outside_inventory_less_our_own_holds() {
    // Arrange: the outside system has 10 on hand, 8 available in MAIN and
    // answers nothing for NORTH (where our own table says 5).
    let sku_cell: Arc<Mutex<(String, String)>> = Arc::default();
    let cell = sku_cell.clone();
    let inventory = StandIn::start(move |_, _| {
        let (sku, main) = cell.lock().unwrap().clone();
        Answer::json(
            200,
            json!({ "positions": [
                { "sku": sku, "warehouse": main, "on_hand": "10", "available": "8" },
                { "sku": "SOMETHING-ELSE", "warehouse": main, "on_hand": "99", "available": "99" }
            ], "as_of": "2026-11-27T09:00:00Z" }),
        )
    })
    .await;
    let app = app_with(&[
        (
            "inventory_base_url",
            &format!("{}/inventory/", inventory.url()),
        ),
        ("inventory_api_key", "inv-key-1"),
    ])
    .await;
    let s = stock(&app).await;
    *sku_cell.lock().unwrap() = (s.sku.clone(), s.main_code.clone());

    // Act
    let promise = check(&app, &s, "9").await;

    // Assert: 8 from MAIN (the outside figure, not our 1); NORTH counts as
    // empty because the system of record did not answer it.
    assert_eq!(
        promise["stock_source"],
        json!({ "kind": "connector", "degraded": false })
    );
    assert_eq!(
        stock_quantity(&promise),
        vec![(s.main_code.clone(), "8".into())]
    );
    assert_eq!(promise["lines"][0]["promised_quantity"], "8");
    let seen = inventory.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/inventory/stock/query");
    assert_eq!(seen[0].header("authorization"), Some("Bearer inv-key-1"));
    let mut codes = vec![s.main_code.clone(), s.north_code.clone()];
    codes.sort();
    assert_eq!(
        seen[0].body,
        json!({ "skus": [s.sku], "warehouses": codes })
    );

    // Our own hold (made on the embedded position) still counts on top of
    // the outside figure: 8 available less 1 held = 7.
    app.post(
        "/api/v1/reservations",
        json!({ "document": "SO-TEST-1", "warehouses": [s.main_code],
                "lines": [{ "product_id": s.product, "quantity": "1" }] }),
    )
    .await
    .unwrap()
    .assert_status(201);
    let promise = check(&app, &s, "9").await;
    assert_eq!(
        stock_quantity(&promise),
        vec![(s.main_code.clone(), "7".into())]
    );
    let _ = s.main;
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_inventory_degrades_the_check_with_the_reason_instead_of_hanging() {
    // The stand-in would answer after 30 s; the connector waits 300 ms.
    let inventory = StandIn::start(|_, _| Answer {
        status: 200,
        body: json!({ "positions": [] }).to_string(),
        delay: Duration::from_secs(30),
    })
    .await;
    let app = app_with(&[
        ("inventory_base_url", &inventory.url()),
        ("inventory_timeout_ms", "300"),
    ])
    .await;
    let s = stock(&app).await;

    let promise = check(&app, &s, "3").await;

    // The check answered while the outside system was still sitting on the
    // request, from the embedded positions (1 in MAIN, 5 in NORTH), and
    // says why.
    assert_eq!(inventory.seen().len(), 1);
    assert_eq!(
        inventory.answered(),
        0,
        "the check did not wait for the answer"
    );
    let source = &promise["stock_source"];
    assert_eq!(source["kind"], "embedded");
    assert_eq!(source["degraded"], true);
    let reason = source["reason"].as_str().unwrap();
    assert!(
        reason.contains("within 300 ms") && reason.contains("embedded stock positions"),
        "{reason}"
    );
    assert_eq!(
        stock_quantity(&promise),
        vec![
            (s.main_code.clone(), "1".into()),
            (s.north_code.clone(), "2".into())
        ]
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_contract_breaking_inventory_degrades_the_check_with_the_reason() {
    // Requests 0, 1, 2: a 503, a body that is not the contract, a
    // negative quantity.
    let sku_cell: Arc<Mutex<(String, String)>> = Arc::default();
    let cell = sku_cell.clone();
    let inventory = StandIn::start(move |_, n| {
        let (sku, main) = cell.lock().unwrap().clone();
        match n {
            0 => Answer::json(503, json!({ "error": "maintenance" })),
            1 => Answer::json(200, json!({ "stock": [] })),
            _ => Answer::json(
                200,
                json!({ "positions": [
                    { "sku": sku, "warehouse": main, "on_hand": "-2", "available": "0" }
                ] }),
            ),
        }
    })
    .await;
    // A port nothing listens on, for a refused connection.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = app_with(&[("inventory_base_url", &inventory.url())]).await;
    let refused = app_with(&[("inventory_base_url", &format!("http://127.0.0.1:{closed}"))]).await;
    // Allowed hosts without loopback: the host is refused by the runtime.
    let denied = TestApp::spawn_with(&[
        ("inventory_base_url", &inventory.url()),
        ("connector_allowed_hosts", "https://inventory.example.com"),
    ])
    .await
    .unwrap();
    let s = stock(&app).await;
    *sku_cell.lock().unwrap() = (s.sku.clone(), s.main_code.clone());

    let mut reasons = Vec::new();
    for _ in 0..3 {
        let p = check(&app, &s, "1").await;
        assert_eq!(p["stock_source"]["degraded"], true, "{p}");
        assert_eq!(
            p["lines"][0]["status"], "full",
            "promised from the embedded stock"
        );
        reasons.push(p["stock_source"]["reason"].as_str().unwrap().to_string());
    }
    for a in [&refused, &denied] {
        let s = stock(a).await;
        let p = check(a, &s, "1").await;
        assert_eq!(p["stock_source"]["degraded"], true, "{p}");
        reasons.push(p["stock_source"]["reason"].as_str().unwrap().to_string());
    }

    assert!(
        reasons[0].contains("answered 503") && reasons[0].contains("maintenance"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("outside the contract") && reasons[1].contains("positions"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("outside the contract") && reasons[2].contains("not negative"),
        "{}",
        reasons[2]
    );
    assert!(reasons[3].contains("connection refused"), "{}", reasons[3]);
    assert!(
        reasons[4].contains("allowed_outbound_hosts"),
        "{}",
        reasons[4]
    );
    assert_eq!(
        inventory.seen().len(),
        3,
        "the denied call never left the runtime"
    );
    for a in [app, refused, denied] {
        a.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_inventory_degrades_the_check_naming_the_setting() {
    let app = app_with(&[
        ("inventory_base_url", "http://127.0.0.1:9"),
        ("inventory_timeout_ms", "soon"),
    ])
    .await;
    let s = stock(&app).await;
    let p = check(&app, &s, "1").await;
    let reason = p["stock_source"]["reason"].as_str().unwrap();
    assert!(reason.contains("inventory_timeout_ms"), "{reason}");
    assert_eq!(p["lines"][0]["status"], "full");
    app.stop().await.unwrap();
}

mod downstream {
    //! Manufacturing and project connectors: an `order.confirmed` event
    //! carrying a demand is written into the app's database (as the order
    //! flow would), the jobs component (woken through a real Redis) plans
    //! the work order and project, and the outside systems hear of them.

    use super::*;
    use rust_decimal_macros::dec;
    use sales_domain::availability::{ProjectRoleId, WorkCenterId};
    use sales_domain::downstream::{DemandState, OrderDemand};
    use sales_domain::ids::{OrderId, ProductId, WarehouseId};
    use sales_e2e::demand::Spec;
    use sales_e2e::RedisServer;

    struct World {
        warehouse: WarehouseId,
        center: WorkCenterId,
        role: ProjectRoleId,
        made: ProductId,
        made_sku: String,
        service: ProductId,
    }

    async fn world(app: &TestApp) -> World {
        let plant = sales_e2e::shop::plant(app, &app.code("W"), json!([]), json!([])).await;
        let made_sku = app.code("MADE");
        let made = app
            .create_product(json!({ "sku": made_sku, "name": "Cabinet", "uom": "unit",
                "kind": "manufactured", "standard_cost": { "amount": "10.00", "currency": "EUR" } }))
            .await
            .unwrap();
        let service = app
            .create_product(
                json!({ "sku": app.code("SVC"), "name": "Installation", "uom": "hour",
                "kind": "service", "standard_cost": { "amount": "10.00", "currency": "EUR" } }),
            )
            .await
            .unwrap();
        World {
            warehouse: WarehouseId::parse(&plant.warehouse).unwrap(),
            center: WorkCenterId::parse(&plant.center).unwrap(),
            role: ProjectRoleId::parse(&plant.role).unwrap(),
            made: ProductId::parse(made["id"].as_str().unwrap()).unwrap(),
            made_sku,
            service: ProductId::parse(service["id"].as_str().unwrap()).unwrap(),
        }
    }

    fn demand(w: &World, order: OrderId, version: i64, state: DemandState) -> OrderDemand {
        sales_e2e::demand::demand(&Spec {
            order,
            version,
            state,
            product: w.made,
            warehouse: w.warehouse,
            center: w.center,
            units: dec!(4),
            service: Some((w.service, w.role, dec!(6))),
        })
    }

    fn enqueue(app: &TestApp, topic: &str, d: &OrderDemand) {
        sales_e2e::demand::enqueue(&app.database_path().unwrap(), topic, d);
    }

    /// Wakes the jobs until `done` holds for what `outside` has seen.
    async fn until(redis: &RedisServer, outside: &StandIn, done: impl Fn(&[Seen]) -> bool) {
        for _ in 0..300 {
            if done(&outside.seen()) {
                return;
            }
            redis.publish("sales-jobs", "wake").unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the outside system never saw it: {:#?}", outside.seen());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_orders_and_projects_reach_the_outside_systems_once_per_change_with_a_key() {
        // Manufacturing fails its first two calls (503), then accepts.
        let manufacturing = StandIn::start(|_, n| match n {
            0 | 1 => Answer::json(503, json!({ "error": "busy" })),
            _ => Answer::json(200, json!({ "ok": true })),
        })
        .await;
        let projects = StandIn::start(|_, _| Answer::json(201, json!({ "ok": true }))).await;
        let redis = RedisServer::start().unwrap();
        let app = app_with(&[
            ("redis_address", &redis.url()),
            ("jobs_retry_base_ms", "200"),
            ("jobs_retry_cap_ms", "400"),
            (
                "manufacturing_base_url",
                &format!("{}/mes", manufacturing.url()),
            ),
            ("manufacturing_api_key", "mes-key"),
            ("project_base_url", &projects.url()),
        ])
        .await;
        let w = world(&app).await;
        let order = OrderId::new();

        // Confirmed: a work order and a project are planned.
        enqueue(
            &app,
            "order.confirmed",
            &demand(&w, order, 1, DemandState::Active),
        );
        until(&redis, &manufacturing, |s| s.len() >= 3).await;
        until(&redis, &projects, |s| !s.is_empty()).await;

        let wos = app
            .get(&format!("/api/v1/work-orders?order_id={order}"))
            .await
            .unwrap()
            .assert_status(200)["items"]
            .clone();
        let wo = &wos[0];
        let seen = manufacturing.seen();
        assert_eq!(seen.len(), 3, "two failures and one success: {seen:#?}");
        let key = seen[0].header("idempotency-key").unwrap().to_string();
        for s in &seen {
            assert_eq!(s.method, "PUT");
            assert_eq!(
                s.path,
                format!("/mes/work-orders/{}", wo["id"].as_str().unwrap())
            );
            assert_eq!(
                s.header("idempotency-key"),
                Some(key.as_str()),
                "the same key on every retry"
            );
            assert_eq!(s.header("authorization"), Some("Bearer mes-key"));
        }
        let body = &seen[2].body;
        assert_eq!(body["sku"], json!(w.made_sku));
        assert_eq!(body["quantity"], "4");
        assert_eq!(body["status"], "planned");
        assert_eq!(body["number"], wo["number"]);
        assert_eq!(body["finish"], "2030-03-11");
        // The event behind it is done after its third attempt.
        let event = app.get(&format!("/api/v1/outbox/{key}")).await.unwrap();
        let event = event.assert_status(200);
        assert_eq!(
            (event["status"].as_str(), event["attempts"].as_i64()),
            (Some("done"), Some(3))
        );

        let p = projects.seen();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].method, "PUT");
        assert!(p[0].path.starts_with("/projects/"));
        assert_eq!(p[0].body["status"], "planned");
        assert_eq!(p[0].body["tasks"][0]["hours"], "6");
        assert_eq!(p[0].body["tasks"][0]["role"], json!(w.role.to_string()));
        assert!(
            p[0].header("authorization").is_none(),
            "no key configured, none sent"
        );

        // Cancelled: one more call each, a new key, status cancelled.
        enqueue(
            &app,
            "order.cancelled",
            &demand(&w, order, 2, DemandState::Cancelled),
        );
        until(&redis, &manufacturing, |s| s.len() >= 4).await;
        until(&redis, &projects, |s| s.len() >= 2).await;
        // Replayed wake-ups change nothing.
        for _ in 0..5 {
            redis.publish("sales-jobs", "wake").unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let seen = manufacturing.seen();
        assert_eq!(seen.len(), 4, "{seen:#?}");
        assert_eq!(seen[3].body["status"], "cancelled");
        assert_ne!(seen[3].header("idempotency-key"), Some(key.as_str()));
        let p = projects.seen();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].body["status"], "cancelled");
        assert!(p[1].body["version"].as_i64() > p[0].body["version"].as_i64());
        app.stop().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_manufacturing_system_that_keeps_refusing_parks_the_event_with_its_answer() {
        let manufacturing =
            StandIn::start(|_, _| Answer::json(422, json!({ "error": "unknown sku" }))).await;
        let redis = RedisServer::start().unwrap();
        let app = app_with(&[
            ("redis_address", &redis.url()),
            ("jobs_max_attempts", "2"),
            ("jobs_retry_base_ms", "100"),
            ("jobs_retry_cap_ms", "200"),
            ("manufacturing_base_url", &manufacturing.url()),
        ])
        .await;
        let w = world(&app).await;
        enqueue(
            &app,
            "order.confirmed",
            &demand(&w, OrderId::new(), 1, DemandState::Active),
        );
        until(&redis, &manufacturing, |s| s.len() >= 2).await;
        let mut parked = Value::Null;
        for _ in 0..100 {
            let list = app.get("/api/v1/outbox?status=parked").await.unwrap();
            let items = list.assert_status(200)["items"].as_array().unwrap().clone();
            if let Some(e) = items
                .into_iter()
                .find(|e| e["topic"] == "work_order.planned")
            {
                parked = e;
                break;
            }
            redis.publish("sales-jobs", "wake").unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let error = parked["last_error"].as_str().unwrap_or_default();
        assert!(
            error.contains("answered 422") && error.contains("unknown sku"),
            "{parked}"
        );
        assert_eq!(
            manufacturing.seen().len(),
            2,
            "parked after the last attempt"
        );
        app.stop().await.unwrap();
    }
}

/// A priced, stocked drill, a customer and a B2B channel: (customer,
/// channel, drill).
async fn sales_world(app: &TestApp) -> (String, String, String) {
    let wh = app.code("MAIN");
    let warehouse = id(&app
        .create("/api/v1/warehouses", json!({ "code": wh, "name": "Main" }))
        .await
        .unwrap());
    let drill = id(&app
        .create_product(
            json!({ "sku": app.code("DRILL"), "name": "Drill", "uom": "pcs",
            "kind": "stocked", "standard_cost": { "amount": "40.00", "currency": "EUR" } }),
        )
        .await
        .unwrap());
    app.post(
        "/api/v1/stock/adjustments",
        json!({ "product_id": drill, "warehouse_id": warehouse, "on_hand": "100", "reason": "count" }),
    )
    .await
    .unwrap()
    .assert_status(201);
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR",
                "items": [{ "product_id": drill, "uom": "pcs", "rate": "100.00" }] }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/tax-templates",
        json!({ "name": "VAT", "mode": "exclusive", "is_default": true,
                "lines": [{ "code": "VAT", "name": "VAT 19 %", "rate_percent": "19" }] }),
    )
    .await
    .unwrap();
    let customer = id(&app
        .create_customer(json!({ "name": "Buyer" }))
        .await
        .unwrap());
    let channel = id(&app
        .create(
            "/api/v1/channels",
            json!({ "code": app.code("B2B"), "name": "B2B", "kind": "b2b", "mode": "offline",
                    "currency": "EUR", "tax_mode": "exclusive", "warehouses": [wh] }),
        )
        .await
        .unwrap());
    (customer, channel, drill)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automation_emails_each_recipient_once_and_creates_its_task_once() {
    let mail = StandIn::start(|_, _| Answer::json(202, json!({ "queued": true }))).await;
    let projects = StandIn::start(|_, _| Answer::json(201, json!({ "ok": true }))).await;
    let app = app_with(&[
        ("mail_base_url", &mail.url()),
        ("mail_api_key", "mail-key"),
        ("mail_from", "sales@example.com"),
        ("project_base_url", &projects.url()),
    ])
    .await;
    // Two people to notify: one with an e-mail address, one without.
    let mut people = Vec::new();
    for (name, email) in [("Mia Mail", Some("mia@example.com")), ("Nils Nomail", None)] {
        let (key, principal) = app.person("manager").await.unwrap();
        let mut body = json!({ "name": name, "principal_id": principal });
        if let Some(e) = email {
            body["email"] = json!(e);
        }
        app.create("/api/v1/sales-people", body).await.unwrap();
        people.push((key, principal));
    }
    let (customer, channel, drill) = sales_world(&app).await;
    app.create(
        "/api/v1/automations",
        json!({
            "name": "Order confirmed",
            "event": "order.confirmed",
            "actions": [
                { "type": "notify", "message": "An order was confirmed",
                  "recipients": [{ "kind": "principal", "id": people[0].1 },
                                 { "kind": "principal", "id": people[1].1 }] },
                { "type": "create_task", "title": "Call the customer", "hours": "1.5" }
            ]
        }),
    )
    .await
    .unwrap();

    let order = app
        .create(
            "/api/v1/orders",
            json!({ "customer_id": customer, "channel_id": channel,
                    "lines": [{ "product_id": drill, "quantity": "2" }] }),
        )
        .await
        .unwrap();
    let submitted = app
        .post(&format!("/api/v1/orders/{}/submit", id(&order)), json!({}))
        .await
        .unwrap();
    assert_eq!(
        submitted.assert_status(200)["status"],
        "confirmed",
        "{}",
        submitted.text
    );

    for _ in 0..300 {
        if !mail.seen().is_empty() && !projects.seen().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything duplicated would arrive meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let sent = mail.seen();
    assert_eq!(
        sent.len(),
        1,
        "one e-mail, to the one person with an address: {sent:#?}"
    );
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/messages")
    );
    assert_eq!(
        sent[0].body,
        json!({ "from": "sales@example.com", "to": "mia@example.com",
                "subject": "Order confirmed", "text": "An order was confirmed" })
    );
    assert_eq!(sent[0].header("authorization"), Some("Bearer mail-key"));
    assert!(sent[0].header("idempotency-key").is_some());
    // Both still have it in their in-app inbox.
    for (key, _) in &people {
        let inbox = app
            .call_as(
                key,
                reqwest::Method::GET,
                "/api/v1/notifications",
                None,
                &[],
            )
            .await
            .unwrap();
        let items = inbox.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(
            items.iter().filter(|n| n["kind"] == "automation").count(),
            1
        );
    }

    let tasks = projects.seen();
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    assert_eq!(
        (tasks[0].method.as_str(), tasks[0].path.as_str()),
        ("POST", "/tasks")
    );
    assert_eq!(tasks[0].body["title"], "Call the customer");
    assert_eq!(tasks[0].body["hours"], "1.5");
    assert_eq!(tasks[0].body["order_id"], json!(id(&order)));
    assert_eq!(
        tasks[0].body["order_number"],
        submitted.assert_status(200)["number"]
    );
    assert!(tasks[0].header("idempotency-key").is_some());
    app.stop().await.unwrap();
}

mod crm_status {
    //! The CRM connector: a quotation or order that came from a CRM deal
    //! (signed `deal.won` on `/hooks/crm`) tells the CRM where it stands —
    //! one upsert per event, keyed by the event id, retried after the
    //! CRM's failures with the same key, through the real jobs component
    //! woken by a real Redis.

    use super::*;
    use reqwest::Method;
    use sales_domain::integrations::signature::{new_secret, standard_sign};
    use sales_e2e::RedisServer;

    async fn until(redis: &RedisServer, outside: &StandIn, done: impl Fn(&[Seen]) -> bool) {
        for _ in 0..300 {
            if done(&outside.seen()) {
                return;
            }
            redis.publish("sales-jobs", "wake").unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the CRM never saw it: {:#?}", outside.seen());
    }

    async fn deal(app: &TestApp, secret: &str, body: &Value) -> Value {
        let raw = serde_json::to_vec(body).unwrap();
        let now = chrono::Utc::now().timestamp();
        let msg = app.unique("msg");
        let sig = standard_sign(secret, &msg, now, &raw).unwrap();
        let ts = now.to_string();
        let r = app
            .call_raw(
                reqwest::Method::POST,
                "/hooks/crm",
                "application/json",
                raw,
                &[
                    ("webhook-id", &msg),
                    ("webhook-timestamp", &ts),
                    ("webhook-signature", &sig),
                ],
            )
            .await
            .unwrap();
        r.assert_status(201).clone()
    }

    /// An app whose jobs component (woken by a real Redis) reports to a
    /// CRM stand-in, and what it sells.
    struct CrmShop {
        app: TestApp,
        /// The CRM's webhook secret (`/hooks/crm`).
        secret: String,
        sku: String,
        product: Value,
    }

    /// A B2B channel selling a product at 25.00 EUR from a warehouse
    /// holding 10; the CRM at `{crm}/crm/v2` with key `crm-key`.
    async fn crm_shop(redis: &RedisServer, crm: &StandIn) -> CrmShop {
        let secret = new_secret(&[77; 24]);
        let app = app_with(&[
            ("redis_address", &redis.url()),
            ("jobs_retry_base_ms", "200"),
            ("jobs_retry_cap_ms", "400"),
            ("crm_webhook_secret", &secret),
            ("crm_base_url", &format!("{}/crm/v2", crm.url())),
            ("crm_api_key", "crm-key"),
        ])
        .await;
        let warehouse_code = app.code("CRMW");
        let warehouse = app
            .create(
                "/api/v1/warehouses",
                json!({ "code": warehouse_code, "name": "CRM stock" }),
            )
            .await
            .unwrap();
        app.create(
            "/api/v1/channels",
            json!({ "code": "B2B", "name": "B2B", "kind": "b2b", "mode": "offline",
                    "currency": "EUR", "tax_mode": "exclusive",
                    "warehouses": [warehouse_code] }),
        )
        .await
        .unwrap();
        let sku = app.code("SKU");
        let product = app
            .create_product(json!({ "sku": sku, "name": "Gadget", "uom": "pcs",
                "kind": "stocked", "standard_cost": { "amount": "1.00", "currency": "EUR" } }))
            .await
            .unwrap();
        app.post(
            "/api/v1/stock/adjustments",
            json!({ "product_id": product["id"], "warehouse_id": warehouse["id"],
                    "on_hand": "10", "reason": "count" }),
        )
        .await
        .unwrap()
        .assert_status(201);
        app.create(
            "/api/v1/price-lists",
            json!({ "name": "CRM list", "currency": "EUR", "items": [
                { "product_id": product["id"], "uom": "pcs", "rate": "25.00" }
            ]}),
        )
        .await
        .unwrap();
        CrmShop {
            app,
            secret,
            sku,
            product,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crm_deals_quotation_and_order_report_their_status_back_once_per_event() {
        // The CRM fails its first two calls (503), then accepts.
        let crm = StandIn::start(|_, n| match n {
            0 | 1 => Answer::json(503, json!({ "error": "busy" })),
            _ => Answer::json(200, json!({ "ok": true })),
        })
        .await;
        let redis = RedisServer::start().unwrap();
        let CrmShop {
            app,
            secret,
            sku,
            product,
        } = crm_shop(&redis, &crm).await;

        // A deal becomes a draft quotation carrying the deal's ids.
        let won = deal(
            &app,
            &secret,
            &json!({ "type": "deal.won", "data": {
                "deal_id": "D 77/x",
                "customer": { "external_id": "acct-9", "email": "buy@initech.example",
                              "name": "Initech" },
                "currency": "EUR",
                "lines": [{ "sku": sku, "quantity": "4" }] } }),
        )
        .await;
        let qid = won["quotation_id"].as_str().unwrap().to_string();
        let q = app
            .get(&format!("/api/v1/quotations/{qid}"))
            .await
            .unwrap()
            .assert_status(200)
            .clone();
        assert_eq!(
            q["external_references"],
            json!([{ "system": "crm", "kind": "account", "id": "acct-9" },
                   { "system": "crm", "kind": "deal", "id": "D 77/x" }]),
            "{q}"
        );
        // A quotation nobody's CRM knows: sent, and the CRM hears nothing.
        let customer = app
            .create_customer(json!({ "name": "Walk-in" }))
            .await
            .unwrap();
        let plain = app
            .create(
                "/api/v1/quotations",
                json!({ "customer_id": customer["id"], "channel_code": "B2B",
                        "lines": [{ "product_id": product["id"], "quantity": "1" }] }),
            )
            .await
            .unwrap();
        app.post(
            &format!("/api/v1/quotations/{}/send", id(&plain)),
            json!({}),
        )
        .await
        .unwrap()
        .assert_status(200);

        // Sent: the CRM is told, after two failures, with one key.
        app.post(&format!("/api/v1/quotations/{qid}/send"), json!({}))
            .await
            .unwrap()
            .assert_status(200);
        until(&redis, &crm, |s| s.len() >= 3).await;
        let seen = crm.seen();
        let key = seen[0].header("idempotency-key").unwrap().to_string();
        for s in &seen {
            assert_eq!(s.method, "PUT");
            assert_eq!(
                s.path,
                format!("/crm/v2/deals/D%2077%2Fx/sales-documents/{qid}")
            );
            assert_eq!(s.header("idempotency-key"), Some(key.as_str()));
            assert_eq!(s.header("authorization"), Some("Bearer crm-key"));
        }
        let body = &seen[2].body;
        assert_eq!(body["deal_id"], "D 77/x");
        assert_eq!(body["account_id"], "acct-9");
        assert_eq!(body["document_kind"], "quotation");
        assert_eq!(body["status"], "sent");
        assert_eq!(body["event"], "quotation.sent");
        assert_eq!(body["event_id"], key.as_str());
        assert_eq!(body["number"], q["number"]);
        assert_eq!(
            body["grand_total"], q["totals"]["gross_total"]["amount"],
            "{body} {q}"
        );
        assert_eq!(q["totals"]["net_total"]["amount"], "100.00", "{q}");
        let event = app.get(&format!("/api/v1/outbox/{key}")).await.unwrap();
        let event = event.assert_status(200);
        assert_eq!(
            (event["status"].as_str(), event["attempts"].as_i64()),
            (Some("done"), Some(3))
        );

        // Converted and then cancelled: the order came from the deal's
        // quotation, so the CRM hears of it too — once.
        let converted = app
            .post(&format!("/api/v1/quotations/{qid}/convert"), json!({}))
            .await
            .unwrap();
        let order = converted.assert_status(201)["order"].clone();
        app.post(&format!("/api/v1/orders/{}/cancel", id(&order)), json!({}))
            .await
            .unwrap()
            .assert_status(200);
        until(&redis, &crm, |s| {
            s.iter().any(|r| r.body["event"] == "order.cancelled")
        })
        .await;
        // Give any stray repeat a chance to show.
        for _ in 0..5 {
            redis.publish("sales-jobs", "wake").unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = crm.seen();
        let cancelled: Vec<&Seen> = seen
            .iter()
            .filter(|r| r.body["event"] == "order.cancelled")
            .collect();
        assert_eq!(cancelled.len(), 1, "{seen:#?}");
        let c = cancelled[0];
        assert_eq!(
            c.path,
            format!("/crm/v2/deals/D%2077%2Fx/sales-documents/{}", id(&order))
        );
        assert_eq!(c.body["document_kind"], "order");
        assert_eq!(c.body["status"], "cancelled");
        assert_eq!(c.body["quotation_id"], qid.as_str());
        // Nothing about the walk-in quotation, ever.
        assert!(
            seen.iter().all(|r| r.body["deal_id"] == "D 77/x"),
            "{seen:#?}"
        );
        assert!(
            !seen.iter().any(|r| r.path.contains(&id(&plain))),
            "{seen:#?}"
        );

        // Our documents by the CRM's deal id: the quotation and nothing
        // else (the order is linked through its quotation).
        let found = app
            .get("/api/v1/external-references?system=crm&kind=deal&external_id=D%2077%2Fx")
            .await
            .unwrap()
            .assert_status(200)
            .clone();
        assert_eq!(
            found["items"],
            json!([{ "document_kind": "quotation", "document_id": qid, "system": "crm",
                     "kind": "deal", "id": "D 77/x" }])
        );

        // A quotation keyed in here, linked to a deal by hand: the CRM
        // hears of it like one the deal created. Bad links write nothing.
        let keyed = app
            .create(
                "/api/v1/quotations",
                json!({ "customer_id": customer["id"], "channel_code": "B2B",
                        "lines": [{ "product_id": product["id"], "quantity": "2" }] }),
            )
            .await
            .unwrap();
        let link = json!({ "document_kind": "quotation", "document_id": id(&keyed),
                           "system": "crm", "kind": "deal", "id": "D-88" });
        let with = |field: &str, value: Value| {
            let mut b = link.clone();
            b[field] = value;
            b
        };
        for (body, field) in [
            (with("document_kind", json!("invoice")), "document_kind"),
            (with("document_id", json!(id(&order))), "document_id"),
            (with("system", json!("CRM system")), "system"),
            (with("kind", json!("lead")), "kind"),
            (with("id", json!("")), "id"),
        ] {
            let r = app.post("/api/v1/external-references", body).await.unwrap();
            r.assert_problem(422, "invalid_field");
            assert_eq!(r.body["field"], field, "{}", r.text);
        }
        app.post("/api/v1/external-references", link.clone())
            .await
            .unwrap()
            .assert_status(201);
        app.post("/api/v1/external-references", link.clone())
            .await
            .unwrap()
            .assert_status(200);
        let r = app
            .post("/api/v1/external-references", with("id", json!("D-99")))
            .await
            .unwrap();
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(
            references_of(&app, &keyed).await,
            json!([{ "system": "crm", "kind": "deal", "id": "D-88" }])
        );
        // A link is removed by the same names (404 once gone, and for a
        // link the document never had), and made again.
        let unlink = |external_id: &str| {
            format!(
                "/api/v1/external-references?document_kind=quotation&document_id={}\
                 &system=crm&kind=deal&external_id={external_id}",
                id(&keyed)
            )
        };
        let gone = app
            .call(Method::DELETE, &unlink("D-99"), None)
            .await
            .unwrap();
        gone.assert_problem(404, "not_found");
        app.call(Method::DELETE, &unlink("D-88"), None)
            .await
            .unwrap()
            .assert_status(204);
        assert_eq!(references_of(&app, &keyed).await, json!([]));
        let found = app
            .get("/api/v1/external-references?system=crm&kind=deal&external_id=D-88")
            .await
            .unwrap()
            .assert_status(200)
            .clone();
        assert_eq!(found["items"], json!([]));
        app.call(Method::DELETE, &unlink("D-88"), None)
            .await
            .unwrap()
            .assert_problem(404, "not_found");
        app.post("/api/v1/external-references", link.clone())
            .await
            .unwrap()
            .assert_status(201);
        app.post(
            &format!("/api/v1/quotations/{}/send", id(&keyed)),
            json!({}),
        )
        .await
        .unwrap()
        .assert_status(200);
        until(&redis, &crm, |s| {
            s.iter().any(|r| r.body["deal_id"] == "D-88")
        })
        .await;
        let hand: Vec<Seen> = crm
            .seen()
            .into_iter()
            .filter(|r| r.body["deal_id"] == "D-88")
            .collect();
        assert_eq!(hand.len(), 1, "{hand:#?}");
        assert_eq!(
            hand[0].path,
            format!("/crm/v2/deals/D-88/sales-documents/{}", id(&keyed))
        );
        assert_eq!(hand[0].body["status"], "sent");
        assert_eq!(hand[0].body["account_id"], Value::Null);
        app.stop().await.unwrap();
    }

    /// The quotation's outside ids, as `GET /quotations/{id}` shows them.
    async fn references_of(app: &TestApp, quotation: &Value) -> Value {
        app.get(&format!("/api/v1/quotations/{}", id(quotation)))
            .await
            .unwrap()
            .assert_status(200)["external_references"]
            .clone()
    }

    /// POST `path` with `body`: the reply's body, which must have `status`.
    async fn act(app: &TestApp, path: &str, body: Value, status: u16) -> Value {
        app.post(path, body)
            .await
            .unwrap()
            .assert_status(status)
            .clone()
    }

    /// Issue 9: every status a CRM hears of besides `sent` and `cancelled`
    /// (those are above). A deal's quotation is sent and accepted, and its
    /// order confirmed and fulfilled; another deal's quotation is sent and
    /// lost. Each of those outbox events reaches the CRM as exactly one
    /// PUT on the document under its deal, with the event's status and its
    /// id as the `Idempotency-Key`, and nothing else reaches it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crm_hears_once_of_each_quotation_sent_accepted_lost_and_order_confirmed_fulfilled() {
        let crm = StandIn::start(|_, _| Answer::json(200, json!({ "ok": true }))).await;
        let redis = RedisServer::start().unwrap();
        let CrmShop {
            app, secret, sku, ..
        } = crm_shop(&redis, &crm).await;
        let won = |deal_id: &str, account: &str| {
            json!({ "type": "deal.won", "data": {
                "deal_id": deal_id,
                "customer": { "external_id": account, "name": account,
                              "email": format!("{account}@example.com") },
                "currency": "EUR",
                "lines": [{ "sku": sku, "quantity": "4" }] } })
        };
        let quotation = |r: Value| r["quotation_id"].as_str().unwrap().to_string();

        // Deal A: sent, accepted, converted; the order confirmed, then
        // shipped whole.
        let qa = quotation(deal(&app, &secret, &won("D-A", "acct-a")).await);
        let qa_path = format!("/api/v1/quotations/{qa}");
        let sent = act(&app, &format!("{qa_path}/send"), json!({}), 200).await;
        assert_eq!(sent["status"], "sent", "{sent}");
        let accepted = act(&app, &format!("{qa_path}/accept"), json!({}), 200).await;
        assert_eq!(accepted["status"], "accepted", "{accepted}");
        let converted = act(&app, &format!("{qa_path}/convert"), json!({}), 201).await;
        let order = id(&converted["order"]);
        let order_path = format!("/api/v1/orders/{order}");
        let confirmed = act(&app, &format!("{order_path}/submit"), json!({}), 200).await;
        assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
        let line = confirmed["lines"][0]["id"].clone();
        let shipped = act(
            &app,
            &format!("{order_path}/fulfil"),
            json!({ "lines": [{ "line_id": line, "quantity": "4" }] }),
            200,
        )
        .await;
        assert_eq!(shipped["status"], "fulfilled", "{shipped}");

        // Deal B: sent, then lost to a competitor.
        let qb = quotation(deal(&app, &secret, &won("D-B", "acct-b")).await);
        let qb_path = format!("/api/v1/quotations/{qb}");
        act(&app, &format!("{qb_path}/send"), json!({}), 200).await;
        let lost = act(
            &app,
            &format!("{qb_path}/lose"),
            json!({ "reason": "price too high", "competitor": "Globex" }),
            200,
        )
        .await;
        assert_eq!(lost["status"], "lost", "{lost}");

        // What the CRM must hear: one PUT per event, keyed by its id.
        let expected = [
            ("quotation", &qa, "D-A", "quotation.sent", "sent"),
            ("quotation", &qa, "D-A", "quotation.accepted", "accepted"),
            ("order", &order, "D-A", "order.confirmed", "confirmed"),
            ("order", &order, "D-A", "order.fulfilled", "fulfilled"),
            ("quotation", &qb, "D-B", "quotation.sent", "sent"),
            ("quotation", &qb, "D-B", "quotation.lost", "lost"),
        ];
        until(&redis, &crm, |s| s.len() >= expected.len()).await;
        // Give any stray repeat or extra push a chance to show.
        for _ in 0..5 {
            redis.publish("sales-jobs", "wake").unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = crm.seen();
        assert_eq!(seen.len(), expected.len(), "{seen:#?}");
        for (kind, doc, deal_id, topic, status) in expected {
            let events = app
                .get(&format!(
                    "/api/v1/outbox?aggregate_kind={kind}&aggregate_id={doc}&topic={topic}"
                ))
                .await
                .unwrap()
                .assert_status(200)["items"]
                .clone();
            let events = events.as_array().unwrap();
            assert_eq!(events.len(), 1, "{topic} of {doc}: {events:#?}");
            let event_id = events[0]["id"].as_str().unwrap();
            let puts: Vec<&Seen> = seen
                .iter()
                .filter(|s| s.header("idempotency-key") == Some(event_id))
                .collect();
            assert_eq!(puts.len(), 1, "{topic} {event_id}: {seen:#?}");
            let put = puts[0];
            assert_eq!(put.method, "PUT");
            assert_eq!(
                put.path,
                format!("/crm/v2/deals/{deal_id}/sales-documents/{doc}")
            );
            assert_eq!(put.header("authorization"), Some("Bearer crm-key"));
            let body = &put.body;
            assert_eq!(
                (
                    body["status"].as_str(),
                    body["event"].as_str(),
                    body["event_id"].as_str(),
                    body["document_kind"].as_str(),
                    body["deal_id"].as_str(),
                ),
                (
                    Some(status),
                    Some(topic),
                    Some(event_id),
                    Some(kind),
                    Some(deal_id)
                ),
                "{body}"
            );
            match topic {
                "quotation.lost" => assert_eq!(body["reason"], "price too high", "{body}"),
                "order.confirmed" | "order.fulfilled" => {
                    assert_eq!(body["quotation_id"], qa.as_str(), "{body}")
                }
                _ => {}
            }
        }
        app.stop().await.unwrap();
    }
}
