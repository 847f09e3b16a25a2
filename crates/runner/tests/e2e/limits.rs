//! Deadlines, memory limits and graceful shutdown.

use std::time::{Duration, Instant};

use crate::helpers::TestApp;

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "limits"
[[trigger.http]]
route = "/..."
component = "probe"
[component.probe]
source = "{probe}"
"#;

#[tokio::test]
async fn looping_guest_gets_500_within_the_deadline() {
    let mut t = TestApp::new(APP);
    t.opts.request_timeout = Duration::from_millis(500);
    let app = t.start().await;
    let started = Instant::now();
    let r = app.get("/?op=loop").await;
    assert_eq!(r.status, 500);
    assert!(r.body.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // The server is still serving.
    assert_eq!(app.get("/?op=noop").await.status, 200);
    app.shutdown().await;
}

/// A guest waiting on I/O (here an outbound request to a server that
/// accepts but never answers) runs no wasm, so the epoch cannot stop it:
/// the deadline timer armed once the guest waits answers 500.
#[tokio::test]
async fn guest_waiting_past_the_deadline_gets_500() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
        }
    });
    let manifest = APP.replace(
        "source = \"{probe}\"",
        "source = \"{probe}\"\nallowed_outbound_hosts = [\"http://127.0.0.1:*\"]",
    );
    let mut t = TestApp::new(&manifest);
    t.opts.request_timeout = Duration::from_millis(300);
    let app = t.start().await;
    let started = Instant::now();
    let r = app
        .get(&format!("/?op=fetch&url=http://127.0.0.1:{port}/never"))
        .await;
    assert_eq!(r.status, 500);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    assert_eq!(app.get("/?op=noop").await.status, 200);
    app.shutdown().await;
    held.abort();
}

#[tokio::test]
async fn memory_limit_is_enforced_per_instance() {
    let mut t = TestApp::new(APP);
    t.opts.memory_limit = 32 << 20;
    let app = t.start().await;
    assert_eq!(app.get("/?op=alloc&mb=4").await.status, 200);
    assert_eq!(app.get("/?op=alloc&mb=64").await.status, 500);
    app.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let app = TestApp::new(APP).start().await;
    let url = app.url("/?op=slow&ms=700");
    let in_flight = tokio::spawn(async move { crate::helpers::send("GET", &url, &[], "").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = app.addr();
    app.shutdown().await;
    let r = in_flight.await.unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "slow done"));
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener must be closed"
    );
}

/// Pool slots are reset between requests by scanning for the pages the
/// last instance dirtied (`PAGEMAP_SCAN`) and keeping up to 2 MiB of them
/// resident: an instance that dirtied more than that (4 MiB) or that trapped
/// on the memory limit leaves the next one in its slot a pristine memory
/// (its static counter starts again at 1), and the limit still holds on a
/// reused slot.
#[tokio::test]
async fn reused_pool_slots_are_pristine_and_still_limited() {
    let mut t = TestApp::new(APP);
    t.opts.memory_limit = 32 << 20;
    let app = t.start().await;
    for _ in 0..3 {
        let r = app.get("/?op=alloc&mb=4").await;
        assert_eq!((r.status, r.text()), (200, (4usize << 20).to_string()));
        assert_eq!(app.get("/?op=counter").await.text(), "1");
        assert_eq!(app.get("/?op=alloc&mb=64").await.status, 500);
        assert_eq!(app.get("/?op=counter").await.text(), "1");
    }
    app.shutdown().await;
}
