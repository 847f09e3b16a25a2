//! The approvals component: approval policies (conditions and chains as
//! data), evaluation of a document snapshot into the levels it needs,
//! approval requests with their decisions, the approver's inbox, and
//! delegations, under `/api/v1/...`.
//!
//! This crate is the edge only, in the catalog and pricing components'
//! style: it routes on `(method, segments)`, converts wire records to
//! domain values, checks roles (`ReadCatalog` to read,
//! `WriteApprovalPolicies`, `RequestApproval`, `DecideApprovals` to
//! write), and calls the store inside one transaction per write with
//! `Idempotency-Key`. The engine is `sales_domain::approvals`, the SQL
//! `sales_store::approvals`.
//!
//! The people approvals resolve ([`directory`]): every principal with a
//! usable key is active, with its roles; who manages whom comes from the
//! sales hierarchy of the teams component (people linked to principals),
//! with the admin-managed `/api/v1/approval-managers` list as the
//! fallback for principals the hierarchy does not cover; territory
//! managers come from the teams' `/api/v1/territory-managers` (a
//! territory without one is run by its nearest ancestor's manager).
//!
//! It also exports the WIT interface `sales:orchestration/approvals` for
//! the order flow ([`exports`]): evaluate a snapshot and check that it is
//! authorized (read-only), and record a decision (`decide`, a write in its
//! own transaction, the same `requests::record_decision` as the HTTP
//! route).

use sales_domain::approvals::Directory;
use sales_kit::auth::Principal;
use sales_kit::{methods, ApiError, ApiRequest, ApiResult};
use sales_store::Db;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

mod delegations;
mod errors;
mod exports;
mod managers;
mod policies;
mod requests;
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
        ["api", "v1", "approval-policies"] => methods!(m, {
            Get => policies::list(ctx, req),
            Post => policies::create(ctx, req),
        }),
        ["api", "v1", "approval-policies", id] => methods!(m, {
            Get => policies::get(ctx, id),
            Patch => policies::update(ctx, req, id),
        }),
        ["api", "v1", "approval-policies", id, "deactivate"] => methods!(m, {
            Post => policies::deactivate(ctx, req, id),
        }),

        ["api", "v1", "approvals", "evaluate"] => methods!(m, {
            Post => requests::evaluate(ctx, req),
        }),
        ["api", "v1", "approvals", "tick"] => methods!(m, {
            Post => requests::tick(ctx, req),
        }),
        ["api", "v1", "approvals"] => methods!(m, {
            Get => requests::list(ctx, req),
        }),
        ["api", "v1", "approvals", id] => methods!(m, {
            Get => requests::get(ctx, id),
        }),
        ["api", "v1", "approvals", id, verdict @ ("approve" | "reject")] => methods!(m, {
            Post => requests::decide(ctx, req, id, verdict),
        }),
        ["api", "v1", "approval-requests"] => methods!(m, {
            Post => requests::open(ctx, req),
        }),

        ["api", "v1", "approval-managers"] => methods!(m, {
            Get => managers::list(ctx, req),
            Post => managers::create(ctx, req),
        }),
        ["api", "v1", "approval-managers", id] => methods!(m, {
            Get => managers::get(ctx, id),
            Delete => managers::delete(ctx, req, id),
        }),

        ["api", "v1", "delegations"] => methods!(m, {
            Get => delegations::list(ctx, req),
            Post => delegations::create(ctx, req),
        }),
        ["api", "v1", "delegations", id] => methods!(m, {
            Get => delegations::get(ctx, id),
            Delete => delegations::delete(ctx, req, id),
        }),

        _ => Err(not_found(req)),
    }
}

fn not_found(req: &ApiRequest) -> ApiError {
    ApiError::not_found(format!("no resource at {}", req.path))
}

/// The people approvals know, from the usable API keys (and the caller,
/// who may be the bootstrap admin, which has no key row), who manages
/// whom (the sales hierarchy, else `approval_managers`) and who runs each
/// territory (the teams' territory managers).
pub(crate) fn directory(db: &impl Db, caller: &Principal) -> Result<Directory, ApiError> {
    Ok(sales_store::approvals::escalation::directory(
        db,
        Some(caller),
    )?)
}
