//! The orders component as `spin.toml` runs it: `orders.wasm` with the
//! pricing, availability and approvals components plugged in at build time
//! by `sales-compose` (`scripts/build-wasm`). These tests prove the
//! composed artifact is complete and that the runner instantiates and
//! serves it; the order and quotation suites drive real calls through the
//! capabilities.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sales_e2e::{json, workspace_root, TestApp};

const COMPOSED: &str = "target/wasm32-wasip2/release/orders.composed.wasm";

/// The top-level import names of a component (not of its nested ones).
fn component_imports(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    top_level_names(bytes, false)
}

/// The top-level export names of a component.
fn component_exports(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    top_level_names(bytes, true)
}

/// The import (or export) names of a component at its top level: nested
/// modules and components have their own sections, skipped by depth.
fn top_level_names(bytes: &[u8], exports: bool) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(section) if depth == 0 && !exports => {
                for import in section {
                    names.push(import?.name.0.to_string());
                }
            }
            wasmparser::Payload::ComponentExportSection(section) if depth == 0 && exports => {
                for export in section {
                    names.push(export?.name.0.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

/// Each capability component, as built, exports its WIT interface (what
/// `sales-compose` plugs into orders) and the HTTP handler (its own API).
#[test]
fn each_capability_component_exports_its_interface_and_its_http_handler() {
    for capability in ["pricing", "availability", "approvals"] {
        let path = workspace_root().join(format!("target/wasm32-wasip2/release/{capability}.wasm"));
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|_| panic!("{capability}.wasm is built (scripts/build-wasm)"));
        let exports = component_exports(&bytes).unwrap();
        let interface = format!("sales:orchestration/{capability}@0.1.0");
        assert!(exports.contains(&interface), "{capability}: {exports:?}");
        assert!(
            exports
                .iter()
                .any(|e| e.starts_with("wasi:http/incoming-handler@0.2")),
            "{capability}: {exports:?}"
        );
    }
}

#[test]
fn spin_toml_runs_the_composed_orders_component() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["component"]["orders"]["source"].as_str(),
        Some(COMPOSED)
    );
}

#[test]
fn the_composed_component_imports_no_capability_only_the_host() {
    let plain = std::fs::read(workspace_root().join("target/wasm32-wasip2/release/orders.wasm"))
        .expect("orders.wasm is built by scripts/build-wasm");
    let composed = std::fs::read(workspace_root().join(COMPOSED))
        .expect("orders.composed.wasm is written by scripts/build-wasm");

    // Before: the orchestrator world's three imports.
    let before = component_imports(&plain).unwrap();
    for capability in ["pricing", "availability", "approvals"] {
        let name = format!("sales:orchestration/{capability}@0.1.0");
        assert!(
            before.contains(&name),
            "orders.wasm lacks {name}: {before:?}"
        );
    }

    // After: they are filled inside; what is left is the host's (and the
    // types-only interface, which has nothing to implement).
    let after = component_imports(&composed).unwrap();
    for import in &after {
        assert!(
            import.starts_with("wasi:")
                || import.starts_with("fermyon:spin/")
                || import == "sales:orchestration/types@0.1.0",
            "the composed component still imports {import}"
        );
    }
    assert!(
        after.iter().any(|i| i.starts_with("fermyon:spin/sqlite")),
        "the plugs' SQLite import is hoisted to the composed component: {after:?}"
    );
}

#[tokio::test]
async fn the_runner_instantiates_the_composed_component_and_it_authenticates() {
    let app = TestApp::spawn().await.unwrap();

    for path in ["/api/v1/orders", "/api/v1/quotations"] {
        let reply = app
            .call_as("", reqwest::Method::GET, path, None, &[])
            .await
            .unwrap();
        reply.assert_problem(401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
}

/// A customer, a product and a B2B channel; no price yet.
async fn catalog(app: &TestApp) -> (String, String) {
    let customer = app
        .create_customer(json!({ "name": app.unique("Composed Co") }))
        .await
        .unwrap();
    let product = app
        .create_product(
            json!({ "sku": app.code("CMP"), "name": "Composed widget", "uom": "pcs",
                                "kind": "stocked",
                                "standard_cost": { "amount": "40.00", "currency": "EUR" } }),
        )
        .await
        .unwrap();
    app.create(
        "/api/v1/channels",
        json!({ "code": "B2B", "name": "B2B", "kind": "b2b", "mode": "offline",
                "currency": "EUR", "tax_mode": "exclusive" }),
    )
    .await
    .unwrap();
    (
        customer["id"].as_str().unwrap().to_owned(),
        product["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_quotation_is_priced_through_the_plugged_pricing_component() {
    let app = TestApp::spawn_with(&[]).await.unwrap();
    let (customer, product) = catalog(&app).await;
    let quotation = json!({ "customer_id": customer, "channel_code": "B2B",
                            "lines": [{ "product_id": product, "quantity": "2" }] });

    // No price yet: the plugged pricing refuses, and the orders component
    // answers with pricing's own problem — the same code and field as
    // pricing's HTTP API gives for the same basket.
    let direct = app
        .post(
            "/api/v1/pricing/price",
            json!({ "customer_id": customer, "channel_code": "B2B", "currency": "EUR",
                    "lines": [{ "product_id": product, "quantity": "2" }] }),
        )
        .await
        .unwrap();
    assert!(direct.status.is_client_error(), "{}", direct.text);
    let through = app
        .post("/api/v1/quotations", quotation.clone())
        .await
        .unwrap();
    through.assert_problem(direct.status.as_u16(), direct.code());
    assert_eq!(
        through.body["field"], direct.body["field"],
        "{}",
        through.text
    );

    // A price list written by the pricing component's HTTP API (its own
    // request, committed) is what the plugged instance reads next: it
    // opens its own connection and sees committed data.
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR",
                "items": [{ "product_id": product, "uom": "pcs", "rate": "100.00" }] }),
    )
    .await
    .unwrap();
    let created = app.post("/api/v1/quotations", quotation).await.unwrap();
    let body = created.assert_status(201);
    assert_eq!(body["totals"]["net_total"]["amount"], "200.00", "{body}");
}
