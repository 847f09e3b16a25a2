//! The dashboard component: the web UI at `/` (Spin route `/...`, which
//! only catches what no `/api/v1/...` route of another component takes —
//! Spin prefers the longest matching prefix).
//!
//! Its assets are built from `web/` by Vite (`scripts/build-wasm` runs
//! `npm ci && npm run build` first) and compiled in by `build.rs`, so the
//! component has no file system, database or outbound access. Caching:
//! `/assets/*` have content hashes in their names and are immutable for a
//! year; `index.html` (the answer for `/` and every client-side route such
//! as `/orders/...`) is `no-cache`, so a new build is picked up at once.
//! Every page gets a Content-Security-Policy limiting scripts, styles and
//! fetches to this origin.
//!
//! Under `/api/` nothing is served: a path no API component routes is a
//! problem+json 404, as the API's own unknown paths are.

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, t, b)| (*t, *b))
}

/// What `path` answers: (status, content type, cache-control, body).
pub(crate) fn resolve(path: &str) -> (u16, &'static str, &'static str, Vec<u8>) {
    if path == "/api" || path.starts_with("/api/") {
        let body = format!(
            "{{\"type\":\"about:blank\",\"title\":\"Not found\",\"status\":404,\"code\":\"not_found\",\"detail\":\"no resource at {}\"}}",
            path.replace(['"', '\\'], "")
        );
        return (
            404,
            "application/problem+json",
            "no-store",
            body.into_bytes(),
        );
    }
    if path.starts_with("/assets/") {
        return match asset(path) {
            Some((t, b)) => (200, t, "public, max-age=31536000, immutable", b.to_vec()),
            None => (
                404,
                "text/plain; charset=utf-8",
                "no-store",
                b"not found\n".to_vec(),
            ),
        };
    }
    // Client-side routes all get the page.
    match asset("/index.html") {
        Some((t, b)) => (200, t, "no-cache", b.to_vec()),
        None => (
            404,
            "text/plain; charset=utf-8",
            "no-store",
            b"not found\n".to_vec(),
        ),
    }
}

#[http_component]
fn handle(req: Request) -> Response {
    let method = req.method().clone();
    if !matches!(method, Method::Get | Method::Head) {
        return Response::builder()
            .status(405)
            .header("allow", "GET, HEAD")
            .header("content-type", "text/plain; charset=utf-8")
            .body("method not allowed\n")
            .build();
    }
    let (status, content_type, cache, body) = resolve(req.path());
    let body = if method == Method::Head {
        Vec::new()
    } else {
        body
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", cache)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("content-security-policy", CSP)
        .body(body)
        .build()
}
