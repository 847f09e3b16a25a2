//! Routing, `spin-*` headers, well-known endpoints, error statuses.

use crate::helpers::TestApp;

const ROUTES: &str = r#"
spin_manifest_version = 2
[application]
name = "routes"
version = "1.2.3"
[[trigger.http]]
route = "/..."
component = "root"
[[trigger.http]]
route = "/orders/..."
component = "orders-wild"
[[trigger.http]]
route = "/orders/:order_id"
component = "orders-param"
[[trigger.http]]
route = "/orders/new"
component = "orders-exact"
[[trigger.http]]
route = "/orders/:order_id/lines/:line_no/..."
component = "lines"
[[trigger.http]]
route = "/exact/"
component = "exact"
[[trigger.http]]
route = { private = true }
component = "private"
[component.root]
source = "{probe}"
environment = { COMPONENT = "root" }
[component.orders-wild]
source = "{probe}"
environment = { COMPONENT = "orders-wild" }
[component.orders-param]
source = "{probe}"
environment = { COMPONENT = "orders-param" }
[component.orders-exact]
source = "{probe}"
environment = { COMPONENT = "orders-exact" }
[component.lines]
source = "{probe}"
environment = { COMPONENT = "lines" }
[component.exact]
source = "{probe}"
environment = { COMPONENT = "exact" }
[component.private]
source = "{probe}"
environment = { COMPONENT = "private" }
"#;

#[tokio::test]
async fn routes_follow_spin_precedence() {
    let app = TestApp::new(ROUTES).start().await;
    for (path, component) in [
        ("/orders/new", "orders-exact"),
        ("/orders/42", "orders-param"),
        ("/orders/42/notes", "orders-wild"),
        ("/orders", "orders-wild"),
        ("/orders/42/lines/3/x/y", "lines"),
        ("/exact", "exact"),
        ("/exact/more", "root"),
        ("/", "root"),
        ("/anything/else", "root"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json()["component"], component, "{path}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn unmatched_path_is_404_with_empty_body_and_private_routes_are_unreachable() {
    let app = TestApp::new(
        r#"
spin_manifest_version = 2
[application]
name = "private"
[[trigger.http]]
route = "/public"
component = "public"
[[trigger.http]]
route = { private = true }
component = "private"
[component.public]
source = "{probe}"
[component.private]
source = "{probe}"
"#,
    )
    .start()
    .await;
    for path in ["/nope", "/private", "/public/extra"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body.is_empty(), "{path}: {}", r.text());
    }
    assert_eq!(app.get("/public").await.status, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn well_known_endpoints() {
    let app = TestApp::new(ROUTES).start().await;
    let health = app.get("/.well-known/spin/health").await;
    assert_eq!((health.status, health.text().as_str()), (200, "OK"));
    let info = app.get("/.well-known/spin/info").await;
    assert_eq!(info.status, 200);
    assert_eq!(info.headers["content-type"], "application/json");
    assert_eq!(info.json()["name"], "routes");
    assert_eq!(info.json()["version"], "1.2.3");
    let other = app.get("/.well-known/spin/other").await;
    assert_eq!(other.status, 404);
    assert!(other.body.is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn spin_headers_for_a_wildcard_route() {
    let app = TestApp::new(ROUTES).start().await;
    let r = app
        .request(
            "GET",
            "/orders/42/lines/3/a/b?x=1&y=2",
            &[("connection", "keep-alive"), ("x-client", "yes")],
            "",
        )
        .await;
    let h = &r.json()["headers"];
    let addr = app.addr();
    assert_eq!(
        h["spin-full-url"],
        format!("http://{addr}/orders/42/lines/3/a/b?x=1&y=2")
    );
    assert_eq!(h["spin-path-info"], "/a/b");
    assert_eq!(
        h["spin-matched-route"],
        "/orders/:order_id/lines/:line_no/..."
    );
    assert_eq!(
        h["spin-raw-component-route"],
        "/orders/:order_id/lines/:line_no/..."
    );
    assert_eq!(
        h["spin-component-route"],
        "/orders/:order_id/lines/:line_no"
    );
    assert_eq!(h["spin-base-path"], "/");
    assert!(h["spin-client-addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(h["spin-path-match-order-id"], "42");
    assert_eq!(h["spin-path-match-line-no"], "3");
    assert_eq!(h["x-client"], "yes");
    assert_eq!(h["host"], addr.to_string());
    assert!(h.get("connection").is_none(), "Connection must be stripped");
    let spin: Vec<&String> = h
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("spin-"))
        .collect();
    assert_eq!(spin.len(), 9, "unexpected spin-* headers: {spin:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn spin_headers_for_exact_and_wildcard_tail_edges() {
    let app = TestApp::new(ROUTES).start().await;
    let exact = app.get("/orders/new").await.json();
    assert_eq!(exact["headers"]["spin-path-info"], "");
    assert_eq!(exact["headers"]["spin-component-route"], "/orders/new");
    let bare = app.get("/orders").await.json();
    assert_eq!(bare["headers"]["spin-path-info"], "");
    assert_eq!(bare["headers"]["spin-component-route"], "/orders");
    let slash = app.get("/orders/7/x/").await.json();
    assert_eq!(slash["headers"]["spin-path-info"], "/7/x/");
    app.shutdown().await;
}

#[tokio::test]
async fn every_request_gets_a_fresh_instance() {
    let app = TestApp::new(ROUTES).start().await;
    for _ in 0..3 {
        assert_eq!(app.get("/c?op=counter").await.text(), "1");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn guest_trap_is_500_with_empty_body() {
    let app = TestApp::new(ROUTES).start().await;
    let trap = app.get("/x?op=panic").await;
    assert_eq!(trap.status, 500);
    assert!(trap.body.is_empty(), "{}", trap.text());
    // An `Err` from a spin-sdk handler is turned into a 500 by the SDK itself.
    assert_eq!(app.get("/x?op=error").await.status, 500);
    // The guest's own status codes pass through.
    assert_eq!(app.get("/x?op=status&code=418").await.status, 418);
    app.shutdown().await;
}

#[tokio::test]
async fn request_method_and_body_reach_the_guest() {
    let app = TestApp::new(ROUTES).start().await;
    let r = app
        .request("PUT", "/x", &[("content-type", "text/plain")], "payload")
        .await
        .json();
    assert_eq!(r["method"], "Method::Put");
    assert_eq!(r["body"], "payload");
    app.shutdown().await;
}
