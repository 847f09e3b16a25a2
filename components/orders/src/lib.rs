//! The orders component: quotations, sales orders and the quote-to-order
//! flow under `/api/v1/...`, and order submission, which calls the
//! `pricing`, `availability` and `approvals` capabilities through their WIT
//! interfaces (composed into this component at build time).
//!
//! This crate is the edge only, in the other components' style: it routes
//! on `(method, segments)`, converts wire records to domain values, checks
//! roles, and calls the store inside one transaction per write with
//! `Idempotency-Key`. The rules are `sales_domain::orders`, the SQL
//! `sales_store::orders`.

use sales_kit::{ApiError, ApiRequest, ApiResult};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

pub(crate) use sales_kit::spin::Ctx;

// Until the order flow calls them (ORDERS, QUOTATIONS).
#[allow(dead_code)]
mod capabilities;

#[http_component]
fn handle(req: Request) -> Response {
    sales_kit::spin::serve(req, route)
}

fn route(_ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    Err(ApiError::not_found(format!("no resource at {}", req.path)))
}
