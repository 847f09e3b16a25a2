//! Pre-instantiation (`Spares`, ARCHITECTURE.md Runner): the instance for a
//! component's next request is made after the current one's response, and
//! still serves exactly one request.

use std::time::Duration;

use sales_runner::SpareStats;

use crate::helpers::{eventually, Running, TestApp};

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "spares"
[[trigger.http]]
route = "/..."
component = "probe"
[component.probe]
source = "{probe}"
sqlite_databases = ["default"]
"#;

fn stats(app: &Running) -> SpareStats {
    match app.app.as_ref() {
        Some(app) => app.spare_stats(),
        None => panic!("the app was shut down"),
    }
}

/// Waits until a spare is ready: one component, so one was made that no
/// request took yet.
async fn spare_ready(app: &Running) {
    let ready = eventually(Duration::from_secs(10), || async {
        let s = stats(app);
        (s.prepared > s.taken).then_some(())
    })
    .await;
    assert!(ready.is_some(), "no spare instance ready: {:?}", stats(app));
}

/// Every request, sequential or concurrent, runs in an instance of its own
/// (the probe's static counter is 1 every time), also when that instance
/// was made ahead of it; and the sequential ones each took a spare.
#[tokio::test]
async fn a_spare_instance_serves_exactly_one_request() {
    let app = TestApp::new(APP).start().await;
    assert_eq!(app.get("/?op=counter").await.text(), "1");
    for _ in 0..20 {
        spare_ready(&app).await;
        let before = stats(&app);
        assert_eq!(app.get("/?op=counter").await.text(), "1");
        assert_eq!(stats(&app).taken, before.taken + 1, "{:?}", stats(&app));
    }
    for _ in 0..5 {
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let url = app.url("/?op=counter");
                tokio::spawn(async move { crate::helpers::send("GET", &url, &[], "").await })
            })
            .collect();
        for call in calls {
            let r = call.await.unwrap();
            assert_eq!((r.status, r.text()), (200, "1".to_string()));
        }
    }
    for _ in 0..20 {
        assert_eq!(app.get("/?op=counter").await.text(), "1");
    }
    assert!(stats(&app).taken >= 20, "{:?}", stats(&app));
    app.shutdown().await;
}

/// A spare made long before its request gets the request's own deadlines:
/// the epoch deadline and the SQLite deadline start when the request takes
/// it, not when it was made (a spare older than the timeout still answers).
#[tokio::test]
async fn a_spare_older_than_the_deadline_still_gets_the_full_deadline() {
    let mut t = TestApp::new(APP);
    t.opts.request_timeout = Duration::from_millis(500);
    let app = t.start().await;
    assert_eq!(app.get("/?op=noop").await.status, 200);

    // Guest code past the epoch deadline would trap (500).
    spare_ready(&app).await;
    let before = stats(&app);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let r = app.get("/?op=counter").await;
    assert_eq!((r.status, r.text()), (200, "1".to_string()));
    assert_eq!(stats(&app).taken, before.taken + 1, "{:?}", stats(&app));

    // A statement of more than a few thousand SQLite steps past the SQLite
    // deadline would be interrupted.
    spare_ready(&app).await;
    let before = stats(&app);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let count = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) \
                 SELECT count(*) FROM c";
    let r = app.sql("default", &[(count, serde_json::json!([]))]).await;
    assert_eq!(r["results"][0]["rows"][0][0]["integer"], 20000, "{r}");
    assert_eq!(stats(&app).taken, before.taken + 1, "{:?}", stats(&app));
    app.shutdown().await;
}

/// A component whose instantiation fails (its initial memory is above the
/// per-instance limit) is answered 500 every time, as without spares, and
/// no spare of it is ever made.
#[tokio::test]
async fn a_component_that_fails_to_instantiate_is_500_and_gets_no_spare() {
    let mut t = TestApp::new(APP);
    t.opts.memory_limit = 64 << 10;
    let app = t.start().await;
    for _ in 0..5 {
        let r = app.get("/?op=noop").await;
        assert_eq!(r.status, 500, "{}", r.text());
        assert!(r.body.is_empty(), "{}", r.text());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        stats(&app),
        SpareStats {
            prepared: 0,
            taken: 0
        }
    );
    app.shutdown().await;
}
