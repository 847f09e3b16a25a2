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

use document_approvals::Kind;
use sales_kit::{methods, not_allowed, ApiError, ApiRequest, ApiResult, Method};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

pub(crate) use sales_kit::spin::Ctx;

mod capabilities;
mod crm_intake;
mod document_approvals;
mod errors;
mod orders;
mod quotation_approvals;
mod quotation_wire;
mod quotations;
mod submit;
mod visible;
mod wire;

#[http_component]
fn handle(req: Request) -> Response {
    // The keyless routes: a customer accepting through a signed link, and
    // the CRM intake chained from the integrations component.
    sales_kit::spin::serve_with_public(
        req,
        |r| quotations::is_public(r) || crm_intake::is_crm_intake(r),
        |ctx, r| {
            if crm_intake::is_crm_intake(r) {
                crm_intake::intake(ctx, r)
            } else {
                quotations::public_accept(ctx, r)
            }
        },
        route,
    )
}

fn route(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    visible::guard(ctx, req)?;
    let segments = req.segments();
    let m = &req.method;
    match segments.as_slice() {
        ["api", "v1", "quotations"] => methods!(m, {
            Get => quotations::list(ctx, req),
            Post => quotations::create(ctx, req),
        }),
        ["api", "v1", "quotations", "expire"] => methods!(m, {
            Post => quotations::expire(ctx, req),
        }),
        ["api", "v1", "quotations", id] => methods!(m, {
            Get => quotations::get(ctx, id),
            Patch => quotations::update(ctx, req, id),
        }),
        ["api", "v1", "quotations", id, "revisions", n] => methods!(m, {
            Get => quotations::get_revision(ctx, id, n),
        }),
        ["api", "v1", "quotations", id, action] => match (m, *action) {
            (Method::Post, "send") => quotations::send(ctx, req, id),
            (Method::Post, "submit-for-approval") => quotations::submit_for_approval(ctx, req, id),
            (Method::Post, "accept") => quotations::accept(ctx, req, id),
            (Method::Post, "lose") => quotations::lose(ctx, req, id),
            (Method::Post, "revise") => quotations::revise(ctx, req, id),
            (Method::Post, "convert") => quotations::convert(ctx, req, id),
            (Method::Post, "cancel") => quotations::cancel(ctx, req, id),
            (Method::Post, "approve" | "reject") => {
                document_approvals::decide(ctx, req, Kind::Quotation, id, action)
            }
            (
                _,
                "send"
                | "submit-for-approval"
                | "accept"
                | "lose"
                | "revise"
                | "convert"
                | "cancel"
                | "approve"
                | "reject",
            ) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "orders"] => methods!(m, {
            Get => orders::list(ctx, req),
            Post => orders::create(ctx, req),
        }),
        ["api", "v1", "orders", id] => methods!(m, {
            Get => orders::get(ctx, id),
            Patch => orders::update(ctx, req, id),
        }),
        ["api", "v1", "orders", id, action] => match (m, *action) {
            (Method::Post, "submit") => submit::submit(ctx, req, id),
            (Method::Post, "hold" | "resume" | "cancel" | "close") => {
                orders::act(ctx, req, id, action)
            }
            (Method::Post, "fulfil") => orders::fulfil(ctx, req, id),
            (Method::Post, "approve" | "reject") => {
                document_approvals::decide(ctx, req, Kind::Order, id, action)
            }
            (
                _,
                "submit" | "hold" | "resume" | "cancel" | "close" | "fulfil" | "approve" | "reject",
            ) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        // Only POST .../accept is public (authenticated before it gets
        // here otherwise); anything else under the prefix is unknown.
        ["api", "v1", "quotation-links", ..] => Err(not_found(req)),
        _ => Err(not_found(req)),
    }
}

fn not_found(req: &ApiRequest) -> ApiError {
    ApiError::not_found(format!("no resource at {}", req.path))
}
