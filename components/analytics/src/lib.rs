//! The analytics component: the numbers a sales manager looks at, under
//! `/api/v1/analytics/...` (all `GET` but the rebuild):
//!
//! - `sales` — revenue, orders, quantity and margin of booked orders over
//!   a range, a series by `granularity` (day, week, month, quarter, year)
//!   and the previous period of the same length for comparison;
//! - `breakdown?dimension=` — the same figures by channel (the default), territory
//!   (rolled up the tree), sales person (the orders' team split, rolled up
//!   the manager hierarchy), customer group, item group, product or
//!   customer; `top-customers`, `top-products` are its first rows;
//! - `funnel` — quotations created in the range: sent, accepted, ordered,
//!   lost (with reasons), expired, conversion rate;
//! - `cycle-times` — quotation → order and order → fulfilled, in days;
//! - `pending-lines` — booked lines still to ship, with days late;
//! - `targets` — targets of the range against what was sold;
//! - `commissions` — commission booked per beneficiary;
//! - `POST rollups/rebuild` — recompute the rollups from the orders
//!   (admin; a backfill or a repair).
//!
//! Filters: `from`, `to` (inclusive order dates; the last 30 days by
//! default), `currency` (default: the currency most orders of the range
//! were in), `channel_id`, `territory_id` (its subtree),
//! `customer_group_id`, `item_group_id`, `product_id`. A principal scoped
//! to a territory (a rep's or a manager's key) only ever sees that
//! territory's subtree: a filter outside it reports nothing.
//!
//! The SQL is `sales_store::analytics`; the rules (booked statuses,
//! buckets, the previous period, percentages) `sales_domain::analytics`.

use sales_kit::{methods, ApiError, ApiRequest, ApiResult};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

mod reports;
mod wire;

pub(crate) use sales_kit::spin::Ctx;

#[http_component]
fn handle(req: Request) -> Response {
    sales_kit::spin::serve(req, route)
}

fn route(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let segments = req.segments();
    let m = &req.method;
    let get = |f: fn(&Ctx, &ApiRequest) -> ApiResult| {
        methods!(m, {
            Get => f(ctx, req),
        })
    };
    match segments.as_slice() {
        ["api", "v1", "analytics", "sales"] => get(reports::sales),
        ["api", "v1", "analytics", "breakdown"] => get(reports::breakdown),
        ["api", "v1", "analytics", "top-customers"] => get(reports::top_customers),
        ["api", "v1", "analytics", "top-products"] => get(reports::top_products),
        ["api", "v1", "analytics", "funnel"] => get(reports::funnel),
        ["api", "v1", "analytics", "cycle-times"] => get(reports::cycle_times),
        ["api", "v1", "analytics", "pending-lines"] => get(reports::pending_lines),
        ["api", "v1", "analytics", "targets"] => get(reports::targets),
        ["api", "v1", "analytics", "commissions"] => get(reports::commissions),
        ["api", "v1", "analytics", "rollups", "rebuild"] => methods!(m, {
            Post => reports::rebuild(ctx, req),
        }),
        _ => Err(ApiError::not_found(format!("no resource at {}", req.path))),
    }
}
