//! The jobs component through the runner with a real Redis: outbox events
//! woken by a Redis message are processed; a poison event backs off, is
//! parked, shows at /api/v1/outbox and is retried by hand; two job
//! consumers (two runners on one database file, both subscribed) and
//! replayed messages perform each downstream effect once; an order's
//! demand is reconciled through confirm, reduce and cancel.
//!
//! Order events are enqueued through the store into the app's SQLite file,
//! standing in for the order flow's transaction (the writer), and the test
//! publishes the wake-up the writer would. What the jobs component did is
//! read back over HTTP.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal_macros::dec;
use sales_domain::availability::{ProjectRoleId, WorkCenterId};
use sales_domain::downstream::DemandState;
use sales_domain::ids::{EventId, OrderId, ProductId, WarehouseId};
use sales_e2e::demand::{demand, enqueue, Spec};
use sales_e2e::{json, shop, RedisServer, TestApp};
use sales_store::db::Db;
use sales_store::rusqlite_db::RusqliteDb;
use serde_json::Value;

const CHANNEL: &str = "sales-jobs";

async fn apps(redis: &RedisServer, n: usize, extra: &[(&str, &str)]) -> Vec<TestApp> {
    let url = redis.url();
    let mut vars = vec![
        ("redis_address", url.as_str()),
        ("jobs_retry_base_ms", "300"),
        ("jobs_retry_cap_ms", "2000"),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_replicas_with(n, &vars).await.unwrap()
}

/// A warehouse, a work centre and a project role (with their calendar)
/// created over the API: (warehouse, centre, role).
async fn world(app: &TestApp) -> (WarehouseId, WorkCenterId, ProjectRoleId) {
    let plant = shop::plant(app, &app.code("JW"), json!([]), json!([])).await;
    (
        WarehouseId::parse(&plant.warehouse).unwrap(),
        WorkCenterId::parse(&plant.center).unwrap(),
        ProjectRoleId::parse(&plant.role).unwrap(),
    )
}

async fn event(app: &TestApp, id: EventId) -> Value {
    app.get(&format!("/api/v1/outbox/{id}"))
        .await
        .unwrap()
        .assert_status(200)
        .clone()
}

/// Polls until the event reaches `status`; publishes a wake-up every
/// round when `nudge` (standing in for the runner's `--tick`).
async fn wait_for(
    app: &TestApp,
    redis: &RedisServer,
    id: EventId,
    status: &str,
    nudge: bool,
) -> Value {
    let start = Instant::now();
    loop {
        let e = event(app, id).await;
        if e["status"] == status {
            return e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "event {id} never became {status}: {e}"
        );
        if nudge {
            redis.publish(CHANNEL, "wake").unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn items(app: &TestApp, path: &str) -> Vec<Value> {
    app.get(path).await.unwrap().assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn position(app: &TestApp, p: ProductId, w: WarehouseId) -> (String, String) {
    let rows = items(
        app,
        &format!("/api/v1/stock?product_id={p}&warehouse_id={w}"),
    )
    .await;
    match rows.first() {
        Some(r) => (
            r["incoming"].as_str().unwrap().to_string(),
            r["reserved"].as_str().unwrap().to_string(),
        ),
        None => ("0".into(), "0".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_reconciled_through_confirm_reduce_and_cancel() {
    let redis = RedisServer::start().unwrap();
    let app = apps(&redis, 1, &[]).await.pop().unwrap();
    let (warehouse, center, role) = world(&app).await;
    let db_file = app.database_path().unwrap();
    let (product, service) = (ProductId::new(), ProductId::new());
    let mut spec = Spec {
        order: OrderId::new(),
        version: 1,
        state: DemandState::Active,
        product,
        warehouse,
        center,
        units: dec!(5),
        service: Some((service, role, dec!(6))),
    };

    // Confirmed: the writer's event and one wake-up are enough.
    let id = enqueue(&db_file, "order.confirmed", &demand(&spec));
    assert_eq!(redis.publish(CHANNEL, "wake").unwrap(), 1);
    let done = wait_for(&app, &redis, id, "done", false).await;
    assert_eq!(done["attempts"], 1);
    assert!(done["processed_at"].is_string());
    let order = spec.order;
    let wos = items(&app, &format!("/api/v1/work-orders?order_id={order}")).await;
    assert_eq!(wos.len(), 1, "{wos:?}");
    let wo = &wos[0];
    assert_eq!(
        (wo["quantity"].as_str(), wo["status"].as_str()),
        (Some("5"), Some("planned"))
    );
    assert!(wo["number"].as_str().unwrap().starts_with("WO-"));
    let wo_id = wo["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&format!("/api/v1/work-orders/{wo_id}"))
            .await
            .unwrap()
            .assert_status(200)["id"],
        wo["id"]
    );
    // Its output is incoming and pegged to the order: none of it is free.
    assert_eq!(
        position(&app, product, warehouse).await,
        ("5".into(), "5".into())
    );
    let receipt = app
        .get(&format!(
            "/api/v1/receipts/{}",
            wo["receipt_id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(receipt.assert_status(200)["due_on"], "2030-03-11");
    let hold = app
        .get(&format!(
            "/api/v1/reservations/{}",
            wo["reservation_id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(hold.assert_status(200)["status"], "held");
    let cell = app
        .get(&format!("/api/v1/work-centers/{center}"))
        .await
        .unwrap();
    assert_eq!(
        cell.assert_status(200)["planned_load"],
        json!([{ "date": "2030-03-11", "hours": "5" }])
    );
    let projects = items(&app, &format!("/api/v1/projects?order_id={order}")).await;
    assert_eq!(projects.len(), 1);
    let project = &projects[0];
    assert_eq!(project["status"], "planned");
    assert_eq!(project["tasks"][0]["hours"], "6");
    assert_eq!(project["tasks"][0]["booked"], true);
    let roles = app
        .get(&format!("/api/v1/project-roles/{role}"))
        .await
        .unwrap();
    assert_eq!(
        roles.assert_status(200)["bookings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Reduced to 3 units and 4 hours: the same records shrink.
    spec.version = 2;
    spec.units = dec!(3);
    spec.service = Some((service, role, dec!(4)));
    let id = enqueue(&db_file, "order.amended", &demand(&spec));
    redis.publish(CHANNEL, "wake").unwrap();
    wait_for(&app, &redis, id, "done", false).await;
    let wo = app
        .get(&format!("/api/v1/work-orders/{wo_id}"))
        .await
        .unwrap();
    let wo = wo.assert_status(200);
    assert_eq!(
        (wo["quantity"].as_str(), wo["version"].as_i64()),
        (Some("3"), Some(2))
    );
    assert_eq!(
        position(&app, product, warehouse).await,
        ("3".into(), "3".into())
    );
    let project = app
        .get(&format!(
            "/api/v1/projects/{}",
            project["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(project.assert_status(200)["tasks"][0]["hours"], "4");

    // An older snapshot arriving late changes nothing.
    spec.version = 1;
    spec.units = dec!(9);
    let id = enqueue(&db_file, "order.confirmed", &demand(&spec));
    redis.publish(CHANNEL, "wake").unwrap();
    wait_for(&app, &redis, id, "done", false).await;
    assert_eq!(
        position(&app, product, warehouse).await,
        ("3".into(), "3".into())
    );

    // Cancelled: everything is compensated.
    spec.version = 3;
    spec.state = DemandState::Cancelled;
    let id = enqueue(&db_file, "order.cancelled", &demand(&spec));
    redis.publish(CHANNEL, "wake").unwrap();
    wait_for(&app, &redis, id, "done", false).await;
    let wo = app
        .get(&format!("/api/v1/work-orders/{wo_id}"))
        .await
        .unwrap();
    let wo = wo.assert_status(200);
    assert_eq!(wo["status"], "cancelled");
    assert_eq!(
        (wo["receipt_id"].is_null(), wo["reservation_id"].is_null()),
        (true, true)
    );
    assert_eq!(
        position(&app, product, warehouse).await,
        ("0".into(), "0".into())
    );
    let cell = app
        .get(&format!("/api/v1/work-centers/{center}"))
        .await
        .unwrap();
    assert_eq!(cell.assert_status(200)["planned_load"], json!([]));
    let projects = items(
        &app,
        &format!("/api/v1/projects?order_id={order}&status=cancelled"),
    )
    .await;
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0]["tasks"][0]["status"], "cancelled");
    let roles = app
        .get(&format!("/api/v1/project-roles/{role}"))
        .await
        .unwrap();
    assert_eq!(roles.assert_status(200)["bookings"], json!([]));

    // Every change was announced for subscribers, and the jobs component
    // drained those too.
    let announced = items(
        &app,
        &format!("/api/v1/outbox?aggregate_kind=work_order&aggregate_id={wo_id}"),
    )
    .await;
    let topics: Vec<&str> = announced
        .iter()
        .map(|e| e["topic"].as_str().unwrap())
        .collect();
    assert_eq!(
        topics,
        [
            "work_order.planned",
            "work_order.changed",
            "work_order.cancelled"
        ]
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_backs_off_is_parked_and_is_retried_by_hand() {
    let redis = RedisServer::start().unwrap();
    let app = apps(&redis, 1, &[("jobs_max_attempts", "3")])
        .await
        .pop()
        .unwrap();
    let (warehouse, center, _) = world(&app).await;
    let db_file = app.database_path().unwrap();
    // The service line names a role that does not exist (yet).
    let missing_role = ProjectRoleId::new();
    let spec = Spec {
        order: OrderId::new(),
        version: 1,
        state: DemandState::Active,
        product: ProductId::new(),
        warehouse,
        center,
        units: dec!(1),
        service: Some((ProductId::new(), missing_role, dec!(2))),
    };
    let id = enqueue(&db_file, "order.confirmed", &demand(&spec));
    let parked = wait_for(&app, &redis, id, "parked", true).await;
    assert_eq!(parked["attempts"], 3);
    assert!(
        parked["last_error"].as_str().unwrap().contains("role_id"),
        "{parked}"
    );
    // It waited 300 ms, then 600 ms, before its second and third attempts.
    let created =
        chrono::DateTime::parse_from_rfc3339(parked["created_at"].as_str().unwrap()).unwrap();
    let last =
        chrono::DateTime::parse_from_rfc3339(parked["available_at"].as_str().unwrap()).unwrap();
    assert!(
        last - created >= chrono::Duration::milliseconds(900),
        "{parked}"
    );
    // Visible to operators, and it did nothing.
    let listed = items(&app, "/api/v1/outbox?status=parked&topic=order.confirmed").await;
    assert!(listed.iter().any(|e| e["id"] == parked["id"]));
    assert!(items(
        &app,
        &format!("/api/v1/work-orders?order_id={}", spec.order)
    )
    .await
    .is_empty());

    // Only an admin retries; an integration may look.
    let integration = app
        .create_key(&app.unique("ops"), &["integration"])
        .await
        .unwrap();
    let retry = format!("/api/v1/outbox/{id}/retry");
    let r = app
        .call_as(
            &integration,
            reqwest::Method::POST,
            &retry,
            Some(json!({})),
            &[],
        )
        .await
        .unwrap();
    r.assert_problem(403, "forbidden");
    let r = app
        .call_as(
            &integration,
            reqwest::Method::GET,
            &format!("/api/v1/outbox/{id}"),
            None,
            &[],
        )
        .await
        .unwrap();
    r.assert_status(200);

    // The master data arrives (the role, as an import would write it) and
    // the operator retries: the retry wakes the jobs component itself.
    let db = RusqliteDb::open(&db_file).unwrap();
    let calendar = db
        .execute("SELECT id FROM calendars LIMIT 1", &[])
        .unwrap()
        .first()
        .unwrap()
        .text("id")
        .unwrap()
        .to_string();
    let role = sales_store::availability::capacity::ProjectRole {
        id: missing_role,
        name: "Late installer".into(),
        calendar_id: sales_domain::availability::CalendarId::parse(&calendar).unwrap(),
        hours_per_week: dec!(40),
        bookings: vec![],
        services: vec![],
    };
    sales_store::availability::capacity::create(&db, &role, Utc::now()).unwrap();
    let again = app.post(&retry, json!({})).await.unwrap();
    let again = again.assert_status(200);
    assert_eq!(
        (again["status"].as_str(), again["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    let done = wait_for(&app, &redis, id, "done", false).await;
    assert_eq!(done["attempts"], 1);
    let projects = items(&app, &format!("/api/v1/projects?order_id={}", spec.order)).await;
    assert_eq!(projects[0]["tasks"][0]["booked"], true);
    // Only a parked event is retried.
    app.post(&retry, json!({}))
        .await
        .unwrap()
        .assert_problem(409, "invalid_state");
    // Bad filters are refused, naming the parameter.
    let long_topic = format!("topic={}", "x".repeat(201));
    for (query, field) in [
        ("status=stuck", "status"),
        (long_topic.as_str(), "topic"),
        ("limit=0", "limit"),
    ] {
        let r = app.get(&format!("/api/v1/outbox?{query}")).await.unwrap();
        r.assert_problem(400, "invalid_query");
        assert_eq!(r.body["field"], field, "{}", r.text);
    }
    app.get("/api/v1/work-orders?order_id=nope")
        .await
        .unwrap()
        .assert_problem(400, "invalid_query");
    app.get("/api/v1/outbox/not-an-id")
        .await
        .unwrap()
        .assert_problem(400, "invalid_id");
    app.stop().await.unwrap();
}

/// Issue 7: the drain runs a claimed batch in one transaction; an event
/// that fails in it must not take the others down with it (the batch is
/// rolled back and each event runs on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_claimed_with_good_ones_is_parked_alone_and_they_are_done() {
    let redis = RedisServer::start().unwrap();
    let app = apps(&redis, 1, &[("jobs_max_attempts", "1")])
        .await
        .pop()
        .unwrap();
    let (warehouse, center, _) = world(&app).await;
    let db_file = app.database_path().unwrap();
    let product = ProductId::new();
    let spec = |service| Spec {
        order: OrderId::new(),
        version: 1,
        state: DemandState::Active,
        product,
        warehouse,
        center,
        units: dec!(1),
        service,
    };
    // Written together, claimed together by the first wake-up.
    let first = enqueue(&db_file, "order.confirmed", &demand(&spec(None)));
    let poison = enqueue(
        &db_file,
        "order.confirmed",
        &demand(&spec(Some((
            ProductId::new(),
            ProjectRoleId::new(),
            dec!(2),
        )))),
    );
    let last = enqueue(&db_file, "order.confirmed", &demand(&spec(None)));
    let parked = wait_for(&app, &redis, poison, "parked", true).await;
    assert_eq!(parked["attempts"], 1);
    assert!(
        parked["last_error"].as_str().unwrap().contains("role_id"),
        "{parked}"
    );
    for id in [first, last] {
        wait_for(&app, &redis, id, "done", false).await;
    }
    // The good orders' work orders exist, once each; the poison's none.
    let wos = items(&app, &format!("/api/v1/work-orders?product_id={product}")).await;
    assert_eq!(wos.len(), 2, "{wos:?}");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_and_replayed_messages_perform_each_effect_once() {
    let redis = RedisServer::start().unwrap();
    let apps = apps(&redis, 2, &[]).await;
    let app = &apps[0];
    let (warehouse, center, _) = world(app).await;
    let db_file = app.database_path().unwrap();
    let product = ProductId::new();
    let orders: Vec<OrderId> = (0..12).map(|_| OrderId::new()).collect();
    let mut ids = Vec::new();
    for order in &orders {
        let d = demand(&Spec {
            order: *order,
            version: 1,
            state: DemandState::Active,
            product,
            warehouse,
            center,
            units: dec!(1),
            service: None,
        });
        ids.push(enqueue(&db_file, "order.confirmed", &d));
        // A duplicate delivery of the first order's event (a writer that
        // retried): a second event with the same snapshot.
        if ids.len() == 1 {
            ids.push(enqueue(&db_file, "order.confirmed", &d));
        }
    }
    // Both runners listen; every message reaches both, five times over.
    for _ in 0..5 {
        assert_eq!(redis.publish(CHANNEL, "wake").unwrap(), 2);
    }
    for id in &ids {
        wait_for(app, &redis, *id, "done", false).await;
    }
    let wos = items(app, &format!("/api/v1/work-orders?product_id={product}")).await;
    assert_eq!(wos.len(), orders.len(), "{wos:?}");
    let mut numbers: Vec<&str> = wos.iter().map(|w| w["number"].as_str().unwrap()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), orders.len());
    assert!(wos
        .iter()
        .all(|w| w["quantity"] == "1" && w["version"] == 1));
    assert_eq!(
        position(app, product, warehouse).await,
        ("12".into(), "12".into())
    );
    let planned = items(app, "/api/v1/outbox?topic=work_order.planned&limit=200").await;
    let mine = planned
        .iter()
        .filter(|e| e["payload"]["product_id"] == json!(product))
        .count();
    assert_eq!(mine, orders.len());
    for a in apps {
        a.stop().await.unwrap();
    }
}

/// Polls `path` (as `key`) until `done` holds for its body, publishing
/// nothing: the writers' own wake-ups must do.
async fn eventually(app: &TestApp, key: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let r = app
            .call_as(key, reqwest::Method::GET, path, None, &[])
            .await
            .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_outcomes_confirm_or_return_real_orders_and_the_work_follows() {
    let redis = RedisServer::start().unwrap();
    let app = apps(&redis, 1, &[]).await.pop().unwrap();
    let admin = app.admin_key.clone();
    let eur = |a: &str| json!({ "amount": a, "currency": "EUR" });
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();

    // A made-to-order product (nothing on hand) made on a work centre.
    let warehouse = id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": "MAIN", "name": "Main" }),
        )
        .await
        .unwrap());
    let cabinet = id(&app
        .create_product(
            json!({ "sku": app.unique("CAB"), "name": "Cabinet", "uom": "pcs",
                                "kind": "manufactured", "standard_cost": eur("40.00") }),
        )
        .await
        .unwrap());
    let calendar = app
        .create(
            "/api/v1/calendars",
            json!({ "name": "Plant", "working_days":
                    ["monday", "tuesday", "wednesday", "thursday", "friday"] }),
        )
        .await
        .unwrap();
    let center = id(&app
        .create(
            "/api/v1/work-centers",
            json!({ "name": "Carpentry", "calendar_id": calendar["id"], "hours_per_day": "8",
                    "routings": [{ "product_id": cabinet, "hours_per_unit": "2" }] }),
        )
        .await
        .unwrap());
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR",
                "items": [{ "product_id": cabinet, "uom": "pcs", "rate": "100.00" }] }),
    )
    .await
    .unwrap();
    let customer = id(&app
        .create_customer(json!({ "name": app.unique("Cabinets & Co") }))
        .await
        .unwrap());
    let code = app.code("CH");
    let channel = id(&app
        .create(
            "/api/v1/channels",
            json!({ "code": code, "name": "B2B", "kind": "b2b", "mode": "offline",
                    "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"] }),
        )
        .await
        .unwrap());
    // Orders over 500 EUR wait for the manager.
    let (manager, _) = shop::order_approver(&app, &code, "500").await;

    let order = |quantity: &str| {
        json!({ "customer_id": customer, "channel_id": channel,
                "lines": [{ "product_id": cabinet, "quantity": quantity }] })
    };
    let submit = |o: &Value| format!("/api/v1/orders/{}/submit", o["id"].as_str().unwrap());

    // Six cabinets: pending approval; the manager is notified.
    let approved = app.create("/api/v1/orders", order("6")).await.unwrap();
    let waiting = app.post(&submit(&approved), json!({})).await.unwrap();
    let waiting = waiting.assert_status(200).clone();
    assert_eq!(waiting["status"], "pending_approval", "{waiting}");
    let request = waiting["approval_request_id"].as_str().unwrap().to_string();
    let inbox = eventually(&app, &manager, "/api/v1/notifications", |b| {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["subject_id"] == request.as_str())
    })
    .await;
    let note = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["subject_id"] == request.as_str())
        .unwrap()
        .clone();
    assert_eq!(note["kind"], "approval_requested");
    // Nobody else's inbox shows it.
    let mine = app.get("/api/v1/notifications").await.unwrap();
    assert!(!mine.text.contains(&request));
    // No work before the approval.
    let orders_wos = format!("/api/v1/work-orders?order_id={}", id(&approved));
    assert!(items(&app, &orders_wos).await.is_empty());

    // Approved: the jobs component confirms the order, and the confirmed
    // order's demand becomes a work order for the six cabinets.
    shop::decide(&app, &manager, &request, "approve", json!({}))
        .await
        .assert_status(200);
    let path = format!("/api/v1/orders/{}", id(&approved));
    eventually(&app, &admin, &path, |o| o["status"] == "confirmed").await;
    let wos = eventually(&app, &admin, &orders_wos, |b| {
        b["items"].as_array().unwrap().len() == 1
    })
    .await;
    let wo = &wos["items"][0];
    assert_eq!(
        (wo["quantity"].as_str(), wo["status"].as_str()),
        (Some("6"), Some("planned"))
    );
    assert_eq!(wo["work_center_id"], center.as_str());
    assert_eq!(wo["warehouse_id"], warehouse.as_str());

    // Seven more: rejected, back to draft with the reason, no work.
    let rejected = app.create("/api/v1/orders", order("7")).await.unwrap();
    let waiting = app.post(&submit(&rejected), json!({})).await.unwrap();
    let request = waiting.assert_status(200)["approval_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let reason = json!({ "comment": "too many cabinets" });
    shop::decide(&app, &manager, &request, "reject", reason)
        .await
        .assert_status(200);
    let path = format!("/api/v1/orders/{}", id(&rejected));
    let back = eventually(&app, &admin, &path, |o| o["status"] == "draft").await;
    assert!(back.to_string().contains("too many cabinets"), "{back}");
    // The submitter was told both outcomes.
    let told = eventually(&app, &admin, "/api/v1/notifications", |b| {
        b["items"].as_array().unwrap().iter().any(|n| {
            n["kind"] == "order_returned_to_draft" && n["subject_id"] == id(&rejected).as_str()
        })
    })
    .await;
    let kinds: Vec<&str> = told["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["order_confirmed", "order_returned_to_draft"],
        "{told}"
    );
    assert!(told.to_string().contains("too many cabinets"));
    assert!(items(
        &app,
        &format!("/api/v1/work-orders?order_id={}", id(&rejected))
    )
    .await
    .is_empty());
    // Every event the flow wrote was handled.
    let pending = items(&app, "/api/v1/outbox?status=pending").await;
    let parked = items(&app, "/api/v1/outbox?status=parked").await;
    assert!(parked.is_empty(), "{parked:?}");
    assert!(
        pending.is_empty() || pending.iter().all(|e| e["attempts"] == 0),
        "{pending:?}"
    );
    app.stop().await.unwrap();
}

/// Moves every RFC 3339 timestamp in a JSON text `days` into the past:
/// standing in for the passage of time on a stored approval request.
fn backdate(body: &str, days: i64) -> String {
    body.split('"')
        .map(|token| match chrono::DateTime::parse_from_rfc3339(token) {
            Ok(t) => (t - chrono::Duration::days(days))
                .with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Err(_) => token.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_expires_reservations_and_escalations_notify() {
    let redis = RedisServer::start().unwrap();
    let app = apps(&redis, 1, &[]).await.pop().unwrap();
    let db_file = app.database_path().unwrap();
    let (rep_key, rep) = app.person("rep").await.unwrap();
    let (manager_key, manager) = app.person("manager").await.unwrap();
    let (director_key, director) = app.person("manager").await.unwrap();

    // A hold whose last day has passed.
    let code = app.code("TW");
    let warehouse = app
        .create(
            "/api/v1/warehouses",
            json!({ "code": code, "name": "Tick" }),
        )
        .await
        .unwrap();
    let product = app
        .create_product(
            json!({ "sku": app.unique("TICK"), "name": "Tick", "uom": "pcs",
                                "kind": "stocked",
                                "standard_cost": { "amount": "1.00", "currency": "EUR" } }),
        )
        .await
        .unwrap();
    app.post(
        "/api/v1/stock/adjustments",
        json!({ "product_id": product["id"], "warehouse_id": warehouse["id"], "on_hand": "5",
                "reason": "count" }),
    )
    .await
    .unwrap()
    .assert_status(201);
    let hold = app
        .create(
            "/api/v1/reservations",
            json!({ "document": app.unique("SO"), "warehouses": [code],
                    "lines": [{ "product_id": product["id"], "quantity": "2" }],
                    "valid_until": "2099-01-01" }),
        )
        .await
        .unwrap();
    let db = RusqliteDb::open(&db_file).unwrap();
    db.execute(
        "UPDATE reservations SET valid_until = '2020-01-01' WHERE id = ?",
        &[hold["id"].as_str().unwrap().into()],
    )
    .unwrap();

    // A discount request with a 24-hour limit, opened three days ago.
    let channel = app.code("TC");
    app.create(
        "/api/v1/approval-policies",
        json!({ "name": "Discount", "applies_to": ["quotation"],
                "condition": { "type": "all", "all": [
                    { "type": "channels", "codes": [channel] },
                    { "type": "max_line_discount", "over": "10" } ] },
                "chain": { "levels": [{ "name": "Manager",
                    "approvers": [{ "type": "principal", "id": manager }],
                    "mode": { "type": "any_one" },
                    "escalation": { "after_hours": 24,
                                    "to": { "type": "principal", "id": director } } }] } }),
    )
    .await
    .unwrap();
    let eur = |a: &str| json!({ "amount": a, "currency": "EUR" });
    let opened = app
        .call_as(
            &rep_key,
            reqwest::Method::POST,
            "/api/v1/approval-requests",
            Some(json!({ "snapshot": {
                "document": { "kind": "quotation", "id": uuid::Uuid::now_v7().to_string() },
                "version": 1, "channel": channel,
                "customer": { "id": uuid::Uuid::now_v7().to_string(), "open_exposure": eur("0") },
                "submitted_by": rep, "payment_terms_days": 30, "default_payment_terms_days": 30,
                "currency": "EUR", "total": eur("800"),
                "lines": [{ "line_no": 1, "product": uuid::Uuid::now_v7().to_string(),
                            "quantity": "10", "list_price": eur("100"), "net_price": eur("80"),
                            "discount_percent": "20" }] } })),
            &[],
        )
        .await
        .unwrap();
    let request = opened.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The manager was asked (approval.requested, woken by the approvals
    // component itself).
    eventually(&app, &manager_key, "/api/v1/notifications", |b| {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["subject_id"] == request.as_str() && n["kind"] == "approval_requested")
    })
    .await;
    let body = db
        .execute(
            "SELECT body FROM approval_requests WHERE id = ?",
            &[request.as_str().into()],
        )
        .unwrap()
        .first()
        .unwrap()
        .text("body")
        .unwrap()
        .to_string();
    db.execute(
        "UPDATE approval_requests SET body = ? WHERE id = ?",
        &[backdate(&body, 3).into(), request.as_str().into()],
    )
    .unwrap();

    // One tick: the hold expires, the step escalates to the director, who
    // is notified.
    assert_eq!(redis.publish(CHANNEL, "tick").unwrap(), 1);
    let hold_path = format!("/api/v1/reservations/{}", hold["id"].as_str().unwrap());
    eventually(&app, &app.admin_key, &hold_path, |h| {
        h["status"] == "expired"
    })
    .await;
    let inbox = eventually(&app, &director_key, "/api/v1/notifications", |b| {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["subject_id"] == request.as_str() && n["kind"] == "approval_escalated")
    })
    .await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
    let request_now = app
        .get(&format!("/api/v1/approvals/{request}"))
        .await
        .unwrap();
    assert_eq!(
        request_now.assert_status(200)["steps"][0]["escalated_to"],
        json!([director])
    );
    // A second tick changes nothing: the clock restarted, the inbox holds one.
    redis.publish(CHANNEL, "tick").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let inbox = app
        .call_as(
            &director_key,
            reqwest::Method::GET,
            "/api/v1/notifications",
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inbox.body["items"].as_array().unwrap().len(), 1);
    app.stop().await.unwrap();
}
