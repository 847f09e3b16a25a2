//! Multi-replica (issue 11): three `sales-runner up` processes on one
//! SQLite database and one Redis (all three subscribed to the jobs
//! channel), under concurrent load on all of them at once — orders created
//! and submitted, quotations created, and a race for the last ten units of
//! a scarce product. Afterwards: no oversell (held ≤ on hand + incoming on
//! every position, exactly ten of thirty one-unit holds granted), no
//! duplicate document numbers (orders, quotations, work orders, projects),
//! and each event's effect once although three job consumers were woken
//! for every event (one work order and project per confirmed order, one
//! notification per approver per request).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proof;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use proof::{check_effects, check_orders, drained, id, shop, submit_load, Redis, Runner};
use sales_e2e::{json, TestApp};

const REPLICAS: usize = 3;

/// Reserves one unit of `product` `n` times at once; returns the held ids
/// and how many were refused.
async fn race(app: Arc<TestApp>, product: String, n: usize) -> (Vec<String>, usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let app = app.clone();
            let body = json!({ "document": format!("RACE-{i}"), "warehouses": ["MAIN"],
                               "ship_policy": "ship_complete",
                               "lines": [{ "product_id": product, "quantity": "1" }] });
            tokio::spawn(async move { app.post("/api/v1/reservations", body).await.unwrap() })
        })
        .collect();
    let (mut held, mut refused) = (Vec::new(), 0);
    for t in tasks {
        let reply = t.await.unwrap();
        match reply.status.as_u16() {
            201 => held.push(id(&reply.body)),
            409 => refused += 1,
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    (held, refused)
}

/// Creates `n` quotations one after another; returns their numbers.
async fn quote(app: Arc<TestApp>, customer: String, product: String, n: usize) -> Vec<String> {
    let mut numbers = Vec::new();
    for _ in 0..n {
        let q = app
            .create(
                "/api/v1/quotations",
                json!({ "customer_id": customer, "channel_code": "B2B",
                        "lines": [{ "product_id": product, "quantity": "1" }] }),
            )
            .await
            .unwrap();
        numbers.push(q["number"].as_str().unwrap().to_owned());
    }
    numbers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_runner_processes_on_one_database_and_redis_stay_consistent() {
    let redis = Redis::start();
    let url = redis.url();
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("sqlite_db.db");
    let key = format!("sk_test_{}", uuid::Uuid::now_v7().simple());
    let vars = [
        ("redis_address", url.as_str()),
        ("jobs_retry_base_ms", "300"),
    ];
    // The first creates the database; the others join it.
    let mut runners = vec![Runner::start(state.path(), &key, &vars, None)];
    for _ in 1..REPLICAS {
        runners.push(Runner::start(state.path(), &key, &vars, None));
    }
    let apps: Vec<Arc<TestApp>> = runners
        .iter()
        .map(|r| Arc::new(TestApp::connect(&r.base_url, &key).unwrap()))
        .collect();
    let shop = Arc::new(shop(&apps[0]).await);
    redis
        .wait_subscribers("sales-jobs", REPLICAS as u64, Duration::from_secs(10))
        .await;
    let scarce = id(&apps[1]
        .create_product(json!({ "sku": "SCARCE", "name": "Scarce", "uom": "pcs",
                                "kind": "stocked",
                                "standard_cost": { "amount": "1.00", "currency": "EUR" } }))
        .await
        .unwrap());
    apps[2]
        .post(
            "/api/v1/stock/adjustments",
            json!({ "product_id": scarce, "warehouse_id": shop.warehouse, "on_hand": "10",
                    "reason": "count" }),
        )
        .await
        .unwrap()
        .assert_status(201);

    // Everything at once, on every replica.
    let orders = submit_load(
        apps.clone(),
        shop.clone(),
        3,
        Arc::new(AtomicBool::new(false)),
        4,
    );
    let races = futures_join(
        apps.iter()
            .map(|a| tokio::spawn(race(a.clone(), scarce.clone(), 10)))
            .collect(),
    );
    let quotes = futures_join(
        apps.iter()
            .enumerate()
            .map(|(n, a)| {
                tokio::spawn(quote(
                    a.clone(),
                    shop.customers[n].clone(),
                    shop.shelf.clone(),
                    8,
                ))
            })
            .collect(),
    );
    let (orders, races, quotes) = tokio::join!(orders, races, quotes);

    assert!(orders.unexpected.is_empty(), "{:?}", orders.unexpected);
    assert_eq!(orders.cut, 0);
    assert_eq!(orders.told.len(), REPLICAS * 3 * 4);
    assert!(orders.told.iter().all(|t| t.submitted.is_some()));
    let numbers: BTreeSet<&String> = orders.told.iter().map(|t| &t.number).collect();
    assert_eq!(numbers.len(), orders.told.len(), "order numbers are unique");

    let held: Vec<String> = races.iter().flat_map(|r| r.0.clone()).collect();
    let refused: usize = races.iter().map(|r| r.1).sum();
    assert_eq!((held.len(), refused), (10, 20), "ten units, ten holds");
    let position = apps[0]
        .get(&format!("/api/v1/stock?product_id={scarce}"))
        .await
        .unwrap();
    let position = &position.assert_status(200)["items"][0];
    assert_eq!(
        (
            &position["on_hand"],
            &position["reserved"],
            &position["free"]
        ),
        (&json!("10"), &json!("10"), &json!("0"))
    );

    let quotes: Vec<String> = quotes.into_iter().flatten().collect();
    let distinct: BTreeSet<&String> = quotes.iter().collect();
    assert_eq!(distinct.len(), REPLICAS * 8, "quotation numbers are unique");

    // The race's holds are no orders' holds: released before the order
    // invariants, each on another replica than the one that granted it.
    for (n, hold) in held.iter().enumerate() {
        apps[n % REPLICAS]
            .post(&format!("/api/v1/reservations/{hold}/release"), json!({}))
            .await
            .unwrap()
            .assert_status(200);
    }
    // Every replica woke on every event; each effect exists once.
    let counts = drained(&db, Duration::from_secs(30)).await;
    check_orders(&db);
    check_effects(&db, &shop.manager);
    println!("outbox: {counts:?}");
    drop(runners);
}

async fn futures_join<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
