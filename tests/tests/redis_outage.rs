//! Redis outage (issue 11): the runner's jobs trigger and the writers'
//! wake-ups go through a real `redis-server`, which is killed in the
//! middle of the day. Order submissions keep succeeding while it is down
//! (their events wait in the outbox, nothing downstream happens yet); when
//! Redis is back on the same port the runner's trigger re-subscribes by
//! itself, the next wake-up drains everything, and each downstream effect
//! (work order, project, approver notification) exists exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proof;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use proof::{
    check_effects, check_orders, drained, outbox_counts, shop, submit_load, Redis, Runner,
};
use sales_e2e::TestApp;

const CHANNEL: &str = "sales-jobs";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submissions_survive_a_redis_outage_and_the_jobs_catch_up_once() {
    let mut redis = Redis::start();
    let url = redis.url();
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("sqlite_db.db");
    let key = format!("sk_test_{}", uuid::Uuid::now_v7().simple());
    // No --tick: only the wake-ups through Redis drive the jobs.
    let runner = Runner::start(
        state.path(),
        &key,
        &[("redis_address", &url), ("jobs_retry_base_ms", "300")],
        None,
    );
    let app = Arc::new(TestApp::connect(&runner.base_url, &key).unwrap());
    let shop = Arc::new(shop(&app).await);
    redis
        .wait_subscribers(CHANNEL, 1, Duration::from_secs(10))
        .await;
    let no_stop = || Arc::new(AtomicBool::new(false));

    // With Redis up: submitted orders are worked off at once.
    let before = submit_load(vec![app.clone()], shop.clone(), 2, no_stop(), 3).await;
    assert!(before.unexpected.is_empty(), "{:?}", before.unexpected);
    drained(&db, Duration::from_secs(30)).await;
    check_effects(&db, &shop.manager);

    // Redis goes away: submissions still succeed, their events wait.
    redis.down();
    let during = submit_load(vec![app.clone()], shop.clone(), 4, no_stop(), 3).await;
    assert!(during.unexpected.is_empty(), "{:?}", during.unexpected);
    assert_eq!(during.cut, 0, "no request failed");
    assert_eq!(during.told.len(), 12);
    assert!(during.told.iter().all(|t| t.submitted.is_some()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let waiting = outbox_counts(&db);
    assert!(
        waiting.get("pending").copied().unwrap_or(0) >= 12,
        "the outage's events wait in the outbox: {waiting:?}"
    );
    let stored = check_orders(&db);
    let confirmed: Vec<&String> = during
        .told
        .iter()
        .filter(|t| stored[&t.id].1 == "confirmed")
        .map(|t| &t.id)
        .collect();
    assert!(!confirmed.is_empty());
    let work = app
        .get(&format!("/api/v1/work-orders?order_id={}", confirmed[0]))
        .await
        .unwrap();
    assert_eq!(
        work.assert_status(200)["items"].as_array().unwrap().len(),
        0,
        "nothing downstream happens while the jobs sleep"
    );

    // Redis is back on the same port: the trigger re-subscribes by itself
    // (backoff up to 5 s) and the next writer's wake-up drains the backlog.
    redis.up();
    redis
        .wait_subscribers(CHANNEL, 1, Duration::from_secs(15))
        .await;
    let after = submit_load(vec![app.clone()], shop.clone(), 1, no_stop(), 1).await;
    assert!(after.unexpected.is_empty(), "{:?}", after.unexpected);
    let counts = drained(&db, Duration::from_secs(30)).await;
    check_orders(&db);
    check_effects(&db, &shop.manager);
    // Over the API too: the confirmed order of the outage has its work order.
    let work = app
        .get(&format!("/api/v1/work-orders?order_id={}", confirmed[0]))
        .await
        .unwrap();
    assert_eq!(
        work.assert_status(200)["items"].as_array().unwrap().len(),
        1,
        "{}",
        work.text
    );
    println!("outbox after the outage: {counts:?}");
    drop(runner);
}
