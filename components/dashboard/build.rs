//! Compiles the built web assets (`web/dist`, written by `npm run build`,
//! which `scripts/build-wasm` runs first) into the component: generates
//! `assets.rs` with one `(path, content type, bytes)` entry per file.
//! Without a build, the table holds one page saying how to build it, so
//! `cargo check` of the workspace never needs Node.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("web").join("dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!(
        "cargo:rerun-if-changed={}",
        dist.join("index.html").display()
    );
    let mut files = Vec::new();
    walk(&dist, &mut files);
    files.sort();
    let mut code = String::from("pub(crate) static ASSETS: &[(&str, &str, &[u8])] = &[\n");
    if files.iter().any(|f| f.ends_with("index.html")) {
        for f in &files {
            println!("cargo:rerun-if-changed={}", f.display());
            let rel = f.strip_prefix(&dist).unwrap_or(f);
            let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
            let _ = writeln!(
                code,
                "    ({url:?}, {:?}, include_bytes!({:?})),",
                content_type(f),
                f.display().to_string()
            );
        }
    } else {
        println!(
            "cargo:warning=dashboard: {} has no build; run scripts/build-wasm (npm run build in components/dashboard/web)",
            dist.display()
        );
        code.push_str(
            "    (\"/index.html\", \"text/html; charset=utf-8\", b\"<!doctype html><title>Sales dashboard</title><p>The dashboard's assets were not built: run scripts/build-wasm.</p>\"),\n",
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("assets.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("failed to write {}: {e}", out.display());
    }
}
