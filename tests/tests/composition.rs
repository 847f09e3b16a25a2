//! The orders component as `spin.toml` runs it: `orders.wasm` with the
//! pricing, availability and approvals components plugged in at build time
//! by `sales-compose` (`scripts/build-wasm`). These tests prove the
//! composed artifact is complete and that the runner instantiates and
//! serves it; the order and quotation suites drive real calls through the
//! capabilities.

use sales_e2e::{workspace_root, TestApp};

const COMPOSED: &str = "target/wasm32-wasip2/release/orders.composed.wasm";

/// The top-level import names of a component (not of its nested ones).
fn component_imports(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    names.push(import?.name.0.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(names)
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
