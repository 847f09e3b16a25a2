//! The edge every component shares.
//!
//! A component turns a Spin request into an [`ApiRequest`], calls its handler,
//! and turns the handler's `Result<ApiResponse, ApiError>` back into a Spin
//! response. Everything between — problem+json errors ([`problem`]), JSON
//! bodies that name the bad field ([`json`]), NDJSON/CSV import bodies read
//! row by row ([`import`]), query strings and cursor
//! pagination ([`query`]), `ETag`/`If-Match` ([`etag`]), `Idempotency-Key`
//! ([`idempotency`]) and bearer-key authentication ([`auth`]) — lives here so
//! every component answers the same way. [`fault`] injects failures between
//! the steps of a transaction for atomicity tests (off unless configured).
//! [`alloc`] is the components' global allocator (small-block free lists in
//! front of dlmalloc, wasm32 only).
//!
//! What it deliberately does not do: business rules (those are in
//! `sales-domain`) or SQL (that is `sales-store`). The only Spin SDK calls of
//! the project live in [`spin`] and [`outbound`] (connectors' HTTP calls with
//! a deadline; both behind the `spin` feature), so a move to a
//! later SDK or WASI 0.3 touches this crate alone.

pub mod alloc;
pub mod auth;
pub mod etag;
pub mod fault;
pub mod http;
pub mod idempotency;
pub mod import;
pub mod json;
#[cfg(feature = "spin")]
pub mod outbound;
pub mod problem;
pub mod query;
#[cfg(feature = "spin")]
pub mod spin;
mod store_errors;

pub use http::{ApiRequest, ApiResponse, Method};
pub use problem::ApiError;

/// What a handler returns.
pub type ApiResult = Result<ApiResponse, ApiError>;

/// 405 for `method` on a resource that allows `allow` (`"GET, POST"`), with
/// the `Allow` header RFC 9110 requires.
pub fn not_allowed(method: &Method, allow: &str) -> ApiResult {
    Err(ApiError::method_not_allowed(method.as_str()).with_header("allow", allow))
}
