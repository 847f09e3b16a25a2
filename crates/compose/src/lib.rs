//! Build-time composition of the orders component.
//!
//! The orders component (the *socket*) imports the capability interfaces
//! `sales:orchestration/pricing`, `availability` and `approvals`; the
//! pricing, availability and approvals components (the *plugs*) export
//! them. [`compose`] instantiates each plug, wires its exports into the
//! socket's matching imports and encodes one component — the artifact
//! `spin.toml` points at — so no host needs runtime composition. Whatever
//! neither side provides (WASI, `fermyon:spin/*`) stays an import of the
//! composed component, which is why `[component.orders]` must be granted
//! every store and variable the plugs use.
//!
//! The graph work is the crates.io `wac-graph` library (`wac_graph::plug`,
//! the same code `wac plug` runs). This crate adds the checks a build
//! needs so a mistake is an error, not a silently different artifact: a
//! plug that fills none of the socket's imports (a wrong file, an
//! interface version that drifted) and a required import left unfilled
//! (a plug missing from the command line).
//!
//! What it deliberately does not do: fetch packages from a registry,
//! compose anything but one socket with its plugs, or build components
//! (cargo does that; `scripts/build-wasm` runs both).

use std::collections::BTreeMap;

use wac_graph::types::{ItemKind, Package};
use wac_graph::{CompositionGraph, EncodeOptions, NodeKind, PackageId, PlugError};

/// A component given to [`compose`]: its bytes and a label for messages
/// (the file name on the command line).
#[derive(Debug, Clone)]
pub struct Input {
    pub label: String,
    pub bytes: Vec<u8>,
}

impl Input {
    pub fn new(label: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Input {
            label: label.into(),
            bytes: bytes.into(),
        }
    }
}

/// One socket import and the plug that now provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The socket's import name (`sales:orchestration/pricing@0.1.0`).
    pub import: String,
    /// The label of the plug whose export fills it.
    pub plug: String,
}

/// The composed component and what was wired.
#[derive(Debug, Clone)]
pub struct Composed {
    pub bytes: Vec<u8>,
    /// Every filled socket import, in the socket's import order.
    pub fills: Vec<Fill>,
    /// The socket imports left to the host (WASI, `fermyon:spin/*`, ...).
    pub unfilled: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("`{label}` is not a WebAssembly component: {source:#}")]
    NotAComponent {
        label: String,
        source: anyhow::Error,
    },
    #[error(
        "plug `{plug}` fills none of the socket's imports (it exports {exports}); \
         is it the right file, built against the same WIT version?"
    )]
    PlugFillsNothing { plug: String, exports: String },
    #[error(
        "socket import{s} {imports} must be filled by a plug but none of the plugs exports {it}",
        s = if .imports.len() == 1 { "" } else { "s" },
        it = if .imports.len() == 1 { "it" } else { "them" }
    )]
    RequiredImportUnfilled { imports: String },
    #[error("failed to compose the graph: {0:#}")]
    Graph(anyhow::Error),
    #[error("failed to encode the composed component: {0:#}")]
    Encode(anyhow::Error),
}

/// Plugs `plugs` into `socket`. Every socket import whose name starts with
/// one of `required_prefixes` (`sales:orchestration/`) and that has a
/// function to implement (not a types-only interface) must end up filled,
/// and every plug must fill at least one import; otherwise the error says
/// which. The encoded result is validated by `wac-graph`.
pub fn compose(
    socket: &Input,
    plugs: &[Input],
    required_prefixes: &[String],
) -> Result<Composed, ComposeError> {
    let mut graph = CompositionGraph::new();
    let socket_id = register(&mut graph, "socket:orchestrator", socket)?;
    let mut plug_ids = Vec::with_capacity(plugs.len());
    for (n, plug) in plugs.iter().enumerate() {
        plug_ids.push((register(&mut graph, &format!("plug:p{n}"), plug)?, plug));
    }

    match wac_graph::plug(
        &mut graph,
        plug_ids.iter().map(|(id, _)| *id).collect(),
        socket_id,
    ) {
        Ok(()) => {}
        // Reported below, per plug, with what each one exports.
        Err(PlugError::NoPlugHappened) => {}
        Err(e @ PlugError::GraphError { .. }) => {
            return Err(ComposeError::Graph(anyhow::Error::new(e)));
        }
    }

    let fills = fills(&graph, socket_id, &plug_ids);
    for (id, plug) in &plug_ids {
        if !fills.iter().any(|f| f.plug == plug.label) {
            let exports = graph.types()[graph[*id].ty()]
                .exports
                .keys()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>();
            return Err(ComposeError::PlugFillsNothing {
                plug: plug.label.clone(),
                exports: if exports.is_empty() {
                    "nothing".to_owned()
                } else {
                    exports.join(", ")
                },
            });
        }
    }

    let socket_world = &graph.types()[graph[socket_id].ty()];
    let socket_imports: Vec<String> = socket_world.imports.keys().cloned().collect();
    let unfilled: Vec<String> = socket_imports
        .iter()
        .filter(|i| !fills.iter().any(|f| &f.import == *i))
        .cloned()
        .collect();
    let missing: Vec<String> = unfilled
        .iter()
        .filter(|i| required_prefixes.iter().any(|p| i.starts_with(p.as_str())))
        .filter(|i| has_functions(&graph, socket_world.imports[i.as_str()]))
        .map(|i| format!("`{i}`"))
        .collect();
    if !missing.is_empty() {
        return Err(ComposeError::RequiredImportUnfilled {
            imports: missing.join(", "),
        });
    }

    let bytes = graph
        .encode(EncodeOptions::default())
        .map_err(|e| ComposeError::Encode(anyhow::Error::new(e)))?;
    // In the socket's import order, for stable messages.
    let mut fills = fills;
    fills.sort_by_key(|f| socket_imports.iter().position(|i| *i == f.import));
    Ok(Composed {
        bytes,
        fills,
        unfilled,
    })
}

/// Whether an import needs an implementation: a function, or an instance
/// with a function. An interface of types only (`sales:orchestration/types`)
/// has nothing to implement and may stay an import.
fn has_functions(graph: &CompositionGraph, kind: ItemKind) -> bool {
    match kind {
        ItemKind::Func(_) => true,
        ItemKind::Instance(id) => graph.types()[id]
            .exports
            .values()
            .any(|k| has_functions(graph, *k)),
        _ => false,
    }
}

fn register(
    graph: &mut CompositionGraph,
    name: &str,
    input: &Input,
) -> Result<PackageId, ComposeError> {
    let package = Package::from_bytes(name, None, input.bytes.clone(), graph.types_mut()).map_err(
        |source| ComposeError::NotAComponent {
            label: input.label.clone(),
            source,
        },
    )?;
    graph
        .register_package(package)
        .map_err(|e| ComposeError::Graph(anyhow::Error::new(e)))
}

/// The socket's satisfied imports and the plug behind each: the argument
/// is an alias of an export of a plug's instantiation.
fn fills(graph: &CompositionGraph, socket: PackageId, plugs: &[(PackageId, &Input)]) -> Vec<Fill> {
    let labels: BTreeMap<PackageId, &str> = plugs
        .iter()
        .map(|(id, input)| (*id, input.label.as_str()))
        .collect();
    let Some(socket_instance) = graph.node_ids().find(|n| {
        matches!(graph[*n].kind(), NodeKind::Instantiation(_))
            && graph[*n].package() == Some(socket)
    }) else {
        return Vec::new();
    };
    graph
        .get_instantiation_arguments(socket_instance)
        .filter_map(|(import, arg)| {
            let (source, _) = graph.get_alias_source(arg)?;
            let plug = labels.get(&graph[source].package()?)?;
            Some(Fill {
                import: import.to_owned(),
                plug: (*plug).to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tiny components in the text format: a socket importing two
    // interfaces (one of ours, one the host keeps) and plugs exporting them.
    const SOCKET: &str = r#"(component
        (import "sales:orchestration/pricing@0.1.0" (instance $p
            (export "price" (func (param "n" u32) (result u32)))))
        (import "sales:orchestration/approvals@0.1.0" (instance $a
            (export "check" (func (result bool)))))
        (import "sales:orchestration/types@0.1.0" (instance $t
            (type $r (record (field "amount" string)))
            (export "money" (type (eq $r)))))
        (import "fermyon:spin/variables@2.0.0" (instance $v
            (export "get" (func (param "name" string) (result string)))))
        (alias export $p "price" (func $price))
        (export "run" (func $price))
    )"#;

    const PRICING: &str = r#"(component
        (core module $m (func (export "price") (param i32) (result i32) local.get 0))
        (core instance $i (instantiate $m))
        (func $price (param "n" u32) (result u32) (canon lift (core func $i "price")))
        (instance $out (export "price" (func $price)))
        (export "sales:orchestration/pricing@0.1.0" (instance $out))
    )"#;

    const APPROVALS: &str = r#"(component
        (core module $m (func (export "check") (result i32) i32.const 1))
        (core instance $i (instantiate $m))
        (func $check (result bool) (canon lift (core func $i "check")))
        (instance $out (export "check" (func $check)))
        (export "sales:orchestration/approvals@0.1.0" (instance $out))
    )"#;

    const UNRELATED: &str = r#"(component
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f")))
        (instance $out (export "f" (func $f)))
        (export "acme:other/thing@1.0.0" (instance $out))
    )"#;

    fn input(label: &str, text: &str) -> Input {
        Input::new(label, wat::parse_str(text).unwrap())
    }

    fn ours() -> Vec<String> {
        vec!["sales:orchestration/".to_owned()]
    }

    #[test]
    fn plugs_fill_the_capability_imports_and_host_imports_stay() {
        let composed = compose(
            &input("orders.wasm", SOCKET),
            &[
                input("pricing.wasm", PRICING),
                input("approvals.wasm", APPROVALS),
            ],
            &ours(),
        )
        .unwrap();
        assert_eq!(
            composed.fills,
            vec![
                Fill {
                    import: "sales:orchestration/pricing@0.1.0".into(),
                    plug: "pricing.wasm".into()
                },
                Fill {
                    import: "sales:orchestration/approvals@0.1.0".into(),
                    plug: "approvals.wasm".into()
                },
            ]
        );
        // A types-only interface of ours has nothing to implement: it stays.
        assert_eq!(
            composed.unfilled,
            vec![
                "sales:orchestration/types@0.1.0",
                "fermyon:spin/variables@2.0.0"
            ]
        );

        // The result is a component whose only import is the host's and
        // which still exports the socket's exports.
        let mut types = wac_graph::types::Types::default();
        let out = Package::from_bytes("out:c", None, composed.bytes, &mut types).unwrap();
        let world = &types[out.ty()];
        assert_eq!(
            world.imports.keys().collect::<Vec<_>>(),
            vec![
                "sales:orchestration/types@0.1.0",
                "fermyon:spin/variables@2.0.0"
            ]
        );
        assert!(world.exports.contains_key("run"));
    }

    #[test]
    fn a_plug_that_fills_nothing_is_an_error_naming_it() {
        let err = compose(
            &input("orders.wasm", SOCKET),
            &[
                input("pricing.wasm", PRICING),
                input("approvals.wasm", APPROVALS),
                input("other.wasm", UNRELATED),
            ],
            &ours(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ComposeError::PlugFillsNothing { ref plug, .. } if plug == "other.wasm")
        );
        assert!(
            err.to_string().contains("`acme:other/thing@1.0.0`"),
            "{err}"
        );
    }

    #[test]
    fn only_unrelated_plugs_is_an_error_too() {
        let err = compose(
            &input("orders.wasm", SOCKET),
            &[input("other.wasm", UNRELATED)],
            &ours(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ComposeError::PlugFillsNothing { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_required_import_left_unfilled_is_an_error_naming_it() {
        let err = compose(
            &input("orders.wasm", SOCKET),
            &[input("pricing.wasm", PRICING)],
            &ours(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ComposeError::RequiredImportUnfilled { ref imports }
                if imports == "`sales:orchestration/approvals@0.1.0`"),
            "{err}"
        );
    }

    #[test]
    fn without_required_prefixes_a_partial_composition_is_allowed() {
        let composed = compose(
            &input("orders.wasm", SOCKET),
            &[input("pricing.wasm", PRICING)],
            &[],
        )
        .unwrap();
        assert_eq!(composed.fills.len(), 1);
        assert_eq!(
            composed.unfilled,
            vec![
                "sales:orchestration/approvals@0.1.0",
                "sales:orchestration/types@0.1.0",
                "fermyon:spin/variables@2.0.0"
            ]
        );
    }

    #[test]
    fn bytes_that_are_not_a_component_are_named() {
        let err = compose(
            &Input::new("orders.wasm", b"not wasm".to_vec()),
            &[input("pricing.wasm", PRICING)],
            &ours(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`orders.wasm` is not a WebAssembly component"),
            "{err}"
        );
    }
}
