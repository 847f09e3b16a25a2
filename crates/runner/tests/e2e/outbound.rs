//! Outbound HTTP: `allowed_outbound_hosts` and service chaining.

use crate::helpers::{stub_server, TestApp};

fn manifest(allowed: &str) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "outbound"
[variables]
stub_port = {{ default = "1" }}
[[trigger.http]]
route = "/caller/..."
component = "caller"
[[trigger.http]]
route = {{ private = true }}
component = "backend"
[[trigger.http]]
route = "/open/..."
component = "open"
[component.caller]
source = "{{probe}}"
allowed_outbound_hosts = [{allowed}]
[component.backend]
source = "{{probe}}"
environment = {{ COMPONENT = "backend" }}
[component.open]
source = "{{probe}}"
"#
    )
}

#[tokio::test]
async fn allowed_host_is_reached_and_others_are_denied() {
    let stub = stub_server().await;
    let mut t = TestApp::new(&manifest(r#""http://127.0.0.1:{{ stub_port }}""#));
    t.opts
        .variables
        .push(("stub_port".into(), stub.port().to_string()));
    let app = t.start().await;
    let ok = app
        .get(&format!(
            "/caller?op=fetch&url=http://127.0.0.1:{}/hello",
            stub.port()
        ))
        .await
        .json();
    assert_eq!(ok["status"], 200, "{ok}");
    assert_eq!(ok["body"], "stub:/hello");
    let other_port = app
        .get("/caller?op=fetch&url=http://127.0.0.1:1/x")
        .await
        .json();
    assert_eq!(
        other_port["send_error"],
        "Http(ErrorCode::HttpRequestDenied)"
    );
    let other_host = app
        .get(&format!(
            "/caller?op=fetch&url=http://localhost:{}/x",
            stub.port()
        ))
        .await
        .json();
    assert_eq!(
        other_host["send_error"],
        "Http(ErrorCode::HttpRequestDenied)"
    );
    let nothing_allowed = app
        .get(&format!(
            "/open?op=fetch&url=http://127.0.0.1:{}/x",
            stub.port()
        ))
        .await
        .json();
    assert_eq!(
        nothing_allowed["send_error"],
        "Http(ErrorCode::HttpRequestDenied)"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn service_chaining_reaches_private_components_in_process() {
    let app = TestApp::new(&manifest(r#""http://backend.spin.internal""#))
        .start()
        .await;
    let r = app
        .get("/caller?op=fetch&url=http://backend.spin.internal/inner/path%3Fq%3D1")
        .await
        .json();
    assert_eq!(r["status"], 200, "{r}");
    let inner: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(inner["component"], "backend");
    assert_eq!(inner["headers"]["spin-path-info"], "/inner/path");
    assert_eq!(inner["headers"]["spin-matched-route"], "/...");
    assert!(
        inner["headers"].get("host").is_none(),
        "Host of a chaining target is dropped"
    );
    // Not allowed: the open component may not chain.
    let denied = app
        .get("/open?op=fetch&url=http://backend.spin.internal/")
        .await
        .json();
    assert_eq!(denied["send_error"], "Http(ErrorCode::HttpRequestDenied)");
    app.shutdown().await;
}

#[tokio::test]
async fn wildcard_chaining_entry_and_unknown_component() {
    let app = TestApp::new(&manifest(r#""http://*.spin.internal""#))
        .start()
        .await;
    let ok = app
        .get("/caller?op=fetch&url=http://open.spin.internal/x")
        .await
        .json();
    assert_eq!(ok["status"], 200, "{ok}");
    let missing = app
        .get("/caller?op=fetch&url=http://nobody.spin.internal/x")
        .await
        .json();
    assert!(
        missing["send_error"]
            .as_str()
            .unwrap()
            .contains("DestinationNotFound"),
        "{missing}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn malformed_allowed_host_stops_the_start() {
    let err = TestApp::new(&manifest(r#""not a url""#)).start_err().await;
    assert!(err.contains("allowed_outbound_hosts"), "{err}");
}
