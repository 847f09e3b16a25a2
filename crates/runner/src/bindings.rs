//! Host bindings for the Spin platform interfaces, generated once from the
//! WIT vendored in `crates/runner/wit/` (spin-sdk 5.2.0 / spin-macro 5.2.0).
//!
//! Every other module uses these types; nothing else runs `bindgen!`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "sales:runner-host/runner",
    imports: { default: async },
    exports: { default: async },
});
