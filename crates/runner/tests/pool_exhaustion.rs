//! A spare instance never makes a request fail: with a pool of two
//! component instances both held by spares of two components, a request
//! of a third component (no spare) finds the pool exhausted; the spares
//! are then dropped and its instantiation retried (ARCHITECTURE.md, Runner,
//! pre-instantiation). Its own test binary: the pool is process-wide and
//! sized once, from `SALES_RUNNER_POOL_INSTANCES`.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn probe() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--release",
            "-p",
            "runner-guest-probe",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm32-wasip2/release/runner_guest_probe.wasm")
}

async fn get(url: String) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_holding_the_whole_pool_are_dropped_for_a_request_without_one() {
    // Before the runner's engine exists (it is made on the first start).
    std::env::set_var("SALES_RUNNER_POOL_INSTANCES", "2");
    let probe = probe();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    let mut text = String::from("spin_manifest_version = 2\n[application]\nname = \"pool\"\n");
    for id in ["a", "b", "c"] {
        text.push_str(&format!(
            "[[trigger.http]]\nroute = \"/{id}/...\"\ncomponent = \"{id}\"\n\
             [component.{id}]\nsource = \"{}\"\n",
            probe.display()
        ));
    }
    std::fs::write(&manifest, text).unwrap();
    let mut opts = sales_runner::UpOptions::new(&manifest);
    opts.listen = ([127, 0, 0, 1], 0).into();
    opts.state_dir = dir.path().join(".spin");
    opts.env_variables = false;
    let app = sales_runner::start(opts).await.unwrap();
    assert!(
        sales_runner::pool_metrics().is_some(),
        "the pooling allocator is needed for this test"
    );
    let base = format!("http://{}", app.local_addr());

    // `a`, then `b`: each request leaves a spare of its component behind.
    for (n, id) in ["a", "b"].into_iter().enumerate() {
        assert_eq!(
            get(format!("{base}/{id}/?op=counter")).await,
            (200, "1".into())
        );
        let started = Instant::now();
        while app.spare_stats().prepared < n as u64 + 1 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no spare of {id}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Both pool slots are held by spares; `c` has none.
    assert_eq!(
        get(format!("{base}/c/?op=counter")).await,
        (200, "1".into())
    );
    // The spares were dropped for it: `a` and `b` instantiate again.
    assert_eq!(
        get(format!("{base}/a/?op=counter")).await,
        (200, "1".into())
    );
    app.shutdown().await;
}
