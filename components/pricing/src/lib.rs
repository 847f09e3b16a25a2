//! The pricing component: price lists (with items and derived lists),
//! pricing rules, discount schedules, tax templates, price guards, and the
//! price waterfall of a basket, under `/api/v1/...`; it also exports the
//! WIT interface `sales:orchestration/pricing` for the order flow
//! ([`exports`]).
//!
//! This crate is the edge only, in the catalog component's style: it
//! routes on `(method, segments)`, converts wire records to domain values,
//! checks roles (reads need `ReadCatalog`, writes `WritePricing`), and
//! calls the store inside one transaction per write with `Idempotency-Key`.
//! The engine is `sales_domain::pricing`, the SQL `sales_store::pricing`.

use sales_kit::{methods, not_allowed, ApiError, ApiRequest, ApiResult, Method};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

mod errors;
mod exports;
mod guards;
mod price;
mod price_lists;
mod rules;
mod schedules;
mod tax_templates;
mod wire;

pub(crate) use sales_kit::spin::Ctx;

#[http_component]
fn handle(req: Request) -> Response {
    sales_kit::spin::serve(req, route)
}

fn route(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let segments = req.segments();
    let m = &req.method;
    match segments.as_slice() {
        ["api", "v1", "pricing", "price"] => methods!(m, {
            Post => price::handle(ctx, req),
        }),

        ["api", "v1", "price-lists"] => methods!(m, {
            Get => price_lists::list(ctx, req),
            Post => price_lists::create(ctx, req),
        }),
        ["api", "v1", "price-lists", id] => methods!(m, {
            Get => price_lists::get(ctx, id),
            Patch => price_lists::update(ctx, req, id),
        }),
        ["api", "v1", "price-lists", id, "items"] => methods!(m, {
            Get => price_lists::list_items(ctx, req, id),
            Put => price_lists::replace_items(ctx, req, id),
            Post => price_lists::upsert_items(ctx, req, id),
        }),
        ["api", "v1", "price-lists", id, "deactivate"] => methods!(m, {
            Post => price_lists::deactivate(ctx, req, id),
        }),

        ["api", "v1", "pricing-rules", rest @ ..] => match (rest, m) {
            ([], Method::Get) => rules::list(ctx, req),
            ([], Method::Post) => rules::create(ctx, req),
            ([id], Method::Get) => rules::get(ctx, id),
            ([id], Method::Patch) => rules::update(ctx, req, id),
            ([id, "deactivate"], Method::Post) => rules::deactivate(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            ([_, "deactivate"], _) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "discount-schedules", rest @ ..] => match (rest, m) {
            ([], Method::Get) => schedules::list(ctx, req),
            ([], Method::Post) => schedules::create(ctx, req),
            ([id], Method::Get) => schedules::get(ctx, id),
            ([id], Method::Patch) => schedules::update(ctx, req, id),
            ([id, "deactivate"], Method::Post) => schedules::deactivate(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            ([_, "deactivate"], _) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "tax-templates", rest @ ..] => match (rest, m) {
            ([], Method::Get) => tax_templates::list(ctx, req),
            ([], Method::Post) => tax_templates::create(ctx, req),
            ([id], Method::Get) => tax_templates::get(ctx, id),
            ([id], Method::Patch) => tax_templates::update(ctx, req, id),
            ([id, "deactivate"], Method::Post) => tax_templates::deactivate(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            ([_, "deactivate"], _) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "price-guards", rest @ ..] => match (rest, m) {
            ([], Method::Get) => guards::list(ctx, req),
            ([], Method::Post) => guards::create(ctx, req),
            ([id], Method::Get) => guards::get(ctx, id),
            ([id], Method::Patch) => guards::update(ctx, req, id),
            ([id, "deactivate"], Method::Post) => guards::deactivate(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            ([_, "deactivate"], _) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },

        _ => Err(not_found(req)),
    }
}

fn not_found(req: &ApiRequest) -> ApiError {
    ApiError::not_found(format!("no resource at {}", req.path))
}
