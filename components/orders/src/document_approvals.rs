//! Approving or rejecting from the document, as Salesforce CPQ approvers
//! do from the quote: `POST /api/v1/quotations/{id}/approve|reject` and
//! `POST /api/v1/orders/{id}/approve|reject`.
//!
//! The approver names the document and the version they looked at; the
//! approvals capability's `decide` (through the WIT import, composed in at
//! build time) finds the document's newest approval request and the
//! caller's pending step on it, and records the decision with exactly the
//! rules and the code of `POST /api/v1/approvals/{id}/approve|reject`:
//! the same refusals with the same status, code and field, the same
//! immutable decision record, the same `approval.approved` /
//! `approval.rejected` outbox event. The document moves the one way it
//! always does: the jobs component applies that event (an order is
//! confirmed or back in draft with the reason, a quotation `approved` or
//! back in draft), so there is one path for the consequences.
//!
//! `decide` is a write in the capability's own transaction, so this
//! handler opens none: it reads the document (404 when unknown; the
//! visibility guard has already answered 404 for one the caller may not
//! see) and calls the capability. The answer is the approval request, as
//! the approvals route answers; the `Idempotency-Key` is stored with the
//! decision, so a retry replays it.

use sales_domain::approvals::{DecisionBody, DocumentId, Verdict};
use sales_domain::auth::Action;
use sales_domain::ids::{OrderId, QuotationId};
use sales_kit::auth::require;
use sales_kit::etag::etag;
use sales_kit::idempotency::REPLAYED;
use sales_kit::json::parse_json;
use sales_kit::{ApiRequest, ApiResponse, ApiResult};

use crate::capabilities::{self, DocumentDecision};
use crate::wire::path_id;
use crate::Ctx;

/// Which kind of document the route is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Quotation,
    Order,
}

pub fn decide(ctx: &Ctx, req: &ApiRequest, kind: Kind, id: &str, verdict: &str) -> ApiResult {
    require(&ctx.principal, Action::DecideApprovals)?;
    let document = match kind {
        Kind::Quotation => DocumentId::Quotation(path_id(id, QuotationId::parse)?),
        Kind::Order => DocumentId::Order(path_id(id, OrderId::parse)?),
    };
    let b: DecisionBody = parse_json(req)?;
    // A malformed key is this request's 400, before anything is decided.
    sales_kit::idempotency::key(req)?;
    match document {
        DocumentId::Quotation(q) => {
            sales_store::quotations::get(&ctx.db, q)?;
        }
        DocumentId::Order(o) => {
            sales_store::orders::get(&ctx.db, o)?;
        }
    }
    let decided = capabilities::decide(
        &ctx.principal,
        &DocumentDecision {
            document,
            verdict: if verdict == "reject" {
                Verdict::Reject
            } else {
                Verdict::Approve
            },
            step: b.step,
            comment: b.comment,
            document_version: b.document_version,
        },
        req,
    )?;
    let mut resp = ApiResponse::json(200, &decided.request)?;
    if let Some(v) = decided.request["version"].as_i64() {
        resp = resp.with_header("etag", etag(v));
    }
    if decided.replayed {
        resp = resp.with_header(REPLAYED, "true");
    }
    Ok(resp)
}
