//! The dashboard (issue #10): the component's answers over HTTP (content
//! types, caching, the page for client-side routes, `/api/...` left to the
//! API), and the browser scenario in real headless Chromium —
//! `components/dashboard/web/tests/browser.mjs`, driven by playwright-core
//! against a runner seeded here. Screenshots land in
//! `tests/artifacts/dashboard/`.
//!
//! Seeded: drills at 100.00 EUR; a B2B channel where orders over 500 need
//! a manager's approval and a WEB channel; a confirmed B2B order of 2
//! (200.00), a confirmed WEB order of 1 (100.00), and a B2B order of 6
//! (600.00) waiting for the manager.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sales_e2e::{json, shop, workspace_root, TestApp};
use serde_json::Value;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

struct Seeded {
    manager: String,
    b2b: String,
    pending_order: String,
}

async fn seed(app: &TestApp) -> Seeded {
    let warehouse = id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": "MAIN", "name": "Main warehouse" }),
        )
        .await
        .unwrap());
    let drill = shop::drills(app, &warehouse, "100").await;
    let mut channels = Vec::new();
    for name in ["B2B", "WEB"] {
        let code = app.code(name);
        let ch = app
            .create(
                "/api/v1/channels",
                json!({ "code": code, "name": name, "kind": "b2b", "mode": "offline",
                        "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"] }),
            )
            .await
            .unwrap();
        channels.push((id(&ch), code));
    }
    let (manager, _) = shop::order_approver(app, &channels[0].1, "500").await;
    let customer = id(&app
        .create_customer(json!({ "name": app.unique("Drill & Co") }))
        .await
        .unwrap());
    let mut pending = String::new();
    for (channel, quantity, status) in [
        (&channels[0].0, "2", "confirmed"),
        (&channels[1].0, "1", "confirmed"),
        (&channels[0].0, "6", "pending_approval"),
    ] {
        let o = app
            .create(
                "/api/v1/orders",
                json!({ "customer_id": customer, "channel_id": channel,
                        "lines": [{ "product_id": drill, "quantity": quantity }] }),
            )
            .await
            .unwrap();
        let r = app
            .post(&format!("/api/v1/orders/{}/submit", id(&o)), json!({}))
            .await
            .unwrap();
        assert_eq!(r.assert_status(200)["status"], status);
        pending = id(&o);
    }
    // Wait for the rollups to hold both confirmed orders.
    for _ in 0..150 {
        let s = app.get("/api/v1/analytics/sales").await.unwrap();
        if s.body["totals"]["orders"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Seeded {
        manager,
        b2b: channels[0].0.clone(),
        pending_order: pending,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_hashed_assets_are_served_with_their_types_and_caching() {
    let app = TestApp::spawn().await.unwrap();
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/", app.base_url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let html = page.text().await.unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a script in the page")
        .to_string();
    assert!(
        script.starts_with("/assets/index-") && script.ends_with(".js"),
        "{script}"
    );
    let js = http
        .get(format!("{}{script}", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        js.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // A client-side route gets the page; a missing asset does not.
    let deep = http
        .get(format!("{}/orders/x", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(deep.status(), 200);
    assert_eq!(deep.text().await.unwrap(), html);
    let missing = http
        .get(format!("{}/assets/nope.js", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // /api/ stays the API's: an unknown API path is a problem, not the page.
    let api = http
        .get(format!("{}/api/v1/nothing-here", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    // The API still answers its own routes.
    assert_eq!(app.get("/api/v1/me").await.unwrap().status, 200);
    let post = http
        .post(format!("{}/", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_signs_in_sees_the_figures_filters_and_approves_in_headless_chromium() {
    let app = TestApp::spawn().await.unwrap();
    let s = seed(&app).await;
    let web = workspace_root().join("components/dashboard/web");
    assert!(
        web.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run scripts/build-wasm (npm ci in components/dashboard/web)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: scripts/test installs Debian's chromium"
    );
    let artifacts = workspace_root().join("tests/artifacts/dashboard");
    let expect = json!({
        "revenue_all": "€300.00",
        "orders_all": 2,
        "revenue_b2b": "€200.00",
        "b2b_channel_id": s.b2b,
        "order_id": s.pending_order,
    });
    let out = tokio::process::Command::new("node")
        .arg("tests/browser.mjs")
        .current_dir(&web)
        .env("BASE_URL", &app.base_url)
        .env("API_KEY", &s.manager)
        .env("EXPECT", expect.to_string())
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("dashboard browser test passed"), "{stdout}");
    // What the browser did is in the data: the order is confirmed.
    let order = app
        .get(&format!("/api/v1/orders/{}", s.pending_order))
        .await
        .unwrap();
    assert_eq!(order.body["status"], "confirmed");
    for shot in ["overview.png", "overview-b2b.png", "inbox.png", "order.png"] {
        assert!(artifacts.join(shot).exists(), "no screenshot {shot}");
    }
}
