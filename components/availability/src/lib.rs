//! The availability component: warehouses, stock positions and their
//! adjustments (one by one, or a bulk NDJSON feed from an outside
//! inventory system), scheduled receipts, reservation holds and the
//! delivery promise (`POST /api/v1/availability/check`), under `/api/v1/...`.
//!
//! This crate is the edge only, in the catalog and pricing components'
//! style: it routes on `(method, segments)`, converts wire records to
//! domain values, checks roles (reads and checks need `ReadCatalog`, stock
//! writes `WriteStock`, holds `Reserve`) and calls the store inside one
//! transaction per write with `Idempotency-Key`. The engine is
//! `sales_domain::availability`, the SQL `sales_store::availability`.
//!
//! Capacity — working calendars, work centres with routings, project roles
//! with services — lives in [`capacity`]; a check plans manufactured
//! shortfalls and service hours on it.
//!
//! It also exports the WIT interface `sales:orchestration/availability`
//! ([`exports`]): the same check, for the order flow.
//!
//! Stock for a check comes from the embedded positions or, when
//! `inventory_base_url` is set, from an outside inventory system
//! ([`connector`]).

use sales_kit::{methods, not_allowed, ApiError, ApiRequest, ApiResult, Method};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

mod capacity;
mod check;
mod connector;
mod errors;
mod exports;
mod receipts;
mod reservations;
mod stock;
mod warehouses;
mod wire;

pub(crate) use sales_kit::spin::Ctx;

/// Today's date (UTC) for a request: promises are never before it.
pub(crate) fn today(ctx: &Ctx) -> chrono::NaiveDate {
    ctx.now.date_naive()
}

#[http_component]
fn handle(req: Request) -> Response {
    sales_kit::spin::serve(req, route)
}

fn route(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let segments = req.segments();
    let m = &req.method;
    match segments.as_slice() {
        ["api", "v1", "availability", "check"] => methods!(m, {
            Post => check::handle(ctx, req),
        }),
        ["api", "v1", "warehouses", rest @ ..] => match (rest, m) {
            ([], Method::Get) => warehouses::list(ctx, req),
            ([], Method::Post) => warehouses::create(ctx, req),
            ([id], Method::Get) => warehouses::get(ctx, id),
            ([id], Method::Patch) => warehouses::update(ctx, req, id),
            ([id, "deactivate"], Method::Post) => warehouses::deactivate(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            ([_, "deactivate"], _) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "stock", rest @ ..] => match (rest, m) {
            ([], Method::Get) => stock::list_positions(ctx, req),
            (["adjustments"], Method::Get) => stock::list_adjustments(ctx, req),
            (["adjustments"], Method::Post) => stock::adjust(ctx, req),
            (["adjustments", id], Method::Get) => stock::get_adjustment(ctx, id),
            (["import"], Method::Post) => stock::import(ctx, req),
            ([], _) | (["adjustments", _], _) => not_allowed(m, "GET"),
            (["adjustments"], _) => not_allowed(m, "GET, POST"),
            (["import"], _) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "receipts", rest @ ..] => match (rest, m) {
            ([], Method::Get) => receipts::list(ctx, req),
            ([], Method::Post) => receipts::create(ctx, req),
            ([id], Method::Get) => receipts::get(ctx, id),
            ([id], Method::Patch) => receipts::update(ctx, req, id),
            ([id, "deactivate"], Method::Post) => receipts::deactivate(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            ([_, "deactivate"], _) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "reservations", rest @ ..] => match (rest, m) {
            ([], Method::Get) => reservations::list(ctx, req),
            ([], Method::Post) => reservations::create(ctx, req),
            (["expire"], Method::Post) => reservations::expire(ctx, req),
            (["expire"], _) => not_allowed(m, "POST"),
            ([id], Method::Get) => reservations::get(ctx, id),
            ([id, "release"], Method::Post) => reservations::release(ctx, req, id),
            ([id, "consume"], Method::Post) => reservations::consume(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET"),
            ([_, "release" | "consume"], _) => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "calendars", rest @ ..] => match (rest, m) {
            ([], Method::Get) => capacity::list_calendars(ctx, req),
            ([], Method::Post) => capacity::create_calendar(ctx, req),
            ([id], Method::Get) => capacity::get_calendar(ctx, id),
            ([id], Method::Patch) => capacity::update_calendar(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "work-centers", rest @ ..] => match (rest, m) {
            ([], Method::Get) => capacity::list_work_centers(ctx, req),
            ([], Method::Post) => capacity::create_work_center(ctx, req),
            ([id], Method::Get) => capacity::get_work_center(ctx, id),
            ([id], Method::Patch) => capacity::update_work_center(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            _ => Err(not_found(req)),
        },
        ["api", "v1", "project-roles", rest @ ..] => match (rest, m) {
            ([], Method::Get) => capacity::list_roles(ctx, req),
            ([], Method::Post) => capacity::create_role(ctx, req),
            ([id], Method::Get) => capacity::get_role(ctx, id),
            ([id], Method::Patch) => capacity::update_role(ctx, req, id),
            ([], _) => not_allowed(m, "GET, POST"),
            ([_], _) => not_allowed(m, "GET, PATCH"),
            _ => Err(not_found(req)),
        },
        _ => Err(not_found(req)),
    }
}

fn not_found(req: &ApiRequest) -> ApiError {
    ApiError::not_found(format!("no resource at {}", req.path))
}
