//! Crash safety (issue 11): a `sales-runner up` process is killed with
//! SIGKILL in the middle of concurrent order submissions, restarted on the
//! same state directory (three rounds), and after every restart the
//! database must show that nothing a client was told is lost or doubled
//! and nothing is half-written:
//!
//! - every order whose create got a 201 exists once, by id and number; one
//!   whose submit got a 2xx has the status it was told;
//! - every order has all its lines, and its total is the sum of its lines;
//! - the held reservation rows of each order are its lines' reserved
//!   quantities (a live order's stocked lines reserved whole), there is no
//!   hold without a live order, and each position's counter is the sum of
//!   its held rows;
//! - the outbox drains after the restart (the `--tick` wakes the jobs; a
//!   lease the killed process held runs out), nothing is parked, and every
//!   effect exists once (a work order and a project per confirmed order, a
//!   notification per approval request).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proof;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proof::{check_effects, check_orders, drained, shop, submit_load, Runner};
use sales_e2e::TestApp;

/// Short leases and retries so the killed process's claims are taken over
/// within the test; a tick every second drives the jobs (no Redis).
const VARS: &[(&str, &str)] = &[
    ("jobs_lease_ms", "1500"),
    ("jobs_retry_base_ms", "300"),
    ("jobs_retry_cap_ms", "1000"),
];

/// Kill-and-restart rounds in one test (each one adds a dozen submissions).
const ROUNDS: i64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_concurrent_submissions_loses_and_doubles_nothing() {
    let t0 = Instant::now();
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("sqlite_db.db");
    let key = format!("sk_test_{}", uuid::Uuid::now_v7().simple());
    let mut runner = Runner::start(state.path(), &key, VARS, Some("1s"));
    let shop = Arc::new(shop(&TestApp::connect(&runner.base_url, &key).unwrap()).await);
    let mut told = Vec::new();
    let (mut answered, mut cut) = (0, 0);

    for round in 1..=ROUNDS {
        // Six clients create and submit orders; the runner is killed once
        // another dozen submissions are in, mid-flight for the others.
        let app = Arc::new(TestApp::connect(&runner.base_url, &key).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(submit_load(vec![app], shop.clone(), 6, stop.clone(), 200));
        let start = Instant::now();
        loop {
            let submitted = proof::open(&db)
                .query_row(
                    "SELECT COUNT(*) FROM sales_orders WHERE status != 'draft'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap();
            if submitted >= 12 * round {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no submissions got through in round {round}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        runner.kill9();
        let load = load.await.unwrap();
        stop.store(true, Ordering::Relaxed);
        assert!(load.unexpected.is_empty(), "{:?}", load.unexpected);
        assert!(load.cut > 0, "the kill cut the clients off");
        answered += load.told.iter().filter(|t| t.submitted.is_some()).count();
        cut += load.cut;
        told.extend(load.told);

        // Restart on the same files: everything anyone was told is there.
        runner = Runner::start(state.path(), &key, VARS, Some("1s"));
        let app = TestApp::connect(&runner.base_url, &key).unwrap();
        let stored = check_orders(&db);
        for t in &told {
            let (number, status) = stored
                .get(&t.id)
                .unwrap_or_else(|| panic!("order {} was answered 201 and is gone", t.id));
            assert_eq!(number, &t.number, "order {}", t.id);
            if let Some(was) = &t.submitted {
                assert_eq!(status, was, "order {} was told {was}", t.number);
            }
            // The API agrees with the file.
            let r = app.get(&format!("/api/v1/orders/{}", t.id)).await.unwrap();
            assert_eq!(r.assert_status(200)["number"], t.number.as_str());
            assert_eq!(r.body["status"], status.as_str());
        }
    }
    assert!(answered >= 12, "only {answered} submissions were answered");

    // Orders still draft (their submit was cut) can be submitted now.
    let app = TestApp::connect(&runner.base_url, &key).unwrap();
    let stored = check_orders(&db);
    for t in told.iter().filter(|t| t.submitted.is_none()) {
        if stored[&t.id].1 == "draft" {
            let r = app
                .post(
                    &format!("/api/v1/orders/{}/submit", t.id),
                    sales_e2e::json!({}),
                )
                .await
                .unwrap();
            assert!(r.status.is_success(), "{}", r.text);
        }
    }
    let counts = drained(&db, Duration::from_secs(40)).await;
    check_orders(&db);
    check_effects(&db, &shop.manager);
    println!(
        "{ROUNDS} kills in {:.1} s: {} orders answered 201 ({answered} submits answered), \
         {cut} requests cut; outbox {counts:?}",
        t0.elapsed().as_secs_f64(),
        told.len(),
    );
    drop(runner);
}
