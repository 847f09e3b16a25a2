//! Approval before a quotation is sent: the snapshot the approval policies
//! test, and the gate `send` and `submit-for-approval` pass.
//!
//! [`gate`] runs before the write transaction, like submission's approvals
//! step: it builds the [`DocumentSnapshotInput`] of the quotation's current
//! [`Quotation::document_version`] from what is stored (never from the
//! request), asks the approvals capability whether the document's latest
//! request still authorizes it (`check-authorized`), and when not, which
//! levels are required (`evaluate`). Inside the transaction [`open`] opens
//! the request through submission's `open_request`, which supersedes the
//! document's live request and plans smart re-approval against it: levels
//! whose tested values did not get worse since they were approved are
//! kept, the others ask again.
//!
//! What the policies see of a quotation: every line of the offer —
//! optional lines not yet taken and every alternative included, since the
//! customer may take any of them at acceptance — and as the total the
//! most the customer may order ([`Quotation::offer_ceiling`]). Margins are
//! pricing's per line; credit is the customer's open exposure plus that
//! total; payment terms are the customer's, else the channel's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sales_domain::approvals::{
    ApprovalRequest, CustomerFacts, DocumentId, DocumentSnapshotInput, RequestStatus,
    RequiredApprovals,
};
use sales_domain::ids::{ApprovalRequestId, OrderId};
use sales_domain::quotations::Quotation;
use sales_kit::auth::Principal;
use sales_kit::ApiError;
use sales_store::approvals::requests;
use sales_store::outbox::{enqueue, NewEvent};
use sales_store::{channels, customers, orders, Db};
use serde_json::{json, Value};

use crate::capabilities;
use crate::submit::{decision_error, open_request, required, snapshot_line, PricedLine};

/// What the policies say about the quotation as stored.
pub(crate) enum Gate {
    /// No approval is needed, or the latest request authorizes exactly
    /// this version: it may be sent.
    Clear,
    /// These levels must approve (some may be kept from an earlier
    /// approval when the request is opened).
    Required(RequiredApprovals),
}

/// The snapshot of `q`'s current document version, submitted by `caller`.
pub(crate) fn snapshot(
    db: &impl Db,
    q: &Quotation,
    caller: &Principal,
) -> Result<DocumentSnapshotInput, ApiError> {
    let customer = customers::get(db, q.customer_id())?.record;
    let channel = channels::get(db, q.channel_id())?.record;
    let group_chain = match customer.customer_group_id() {
        Some(g) => {
            let mut chain = vec![g];
            chain.extend(sales_store::trees::ancestors(db, g)?);
            chain
        }
        None => vec![],
    };
    // A quotation is no order: every open order and unpaid delivery of the
    // customer counts (a fresh id excludes none of them).
    let (open, unpaid) =
        orders::customer_exposure(db, customer.id(), q.currency(), OrderId::new())?;
    let open_exposure = open
        .checked_add(&unpaid)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let products = orders::load_products(db, q.lines().iter().map(|l| l.product_id()))?;
    let mut chains = BTreeMap::new();
    let mut lines = Vec::with_capacity(q.lines().len());
    for (i, l) in q.lines().iter().enumerate() {
        let Some(p) = l.price() else {
            return Err(ApiError::invalid_field(
                "lines",
                "the quotation is not priced",
            ));
        };
        lines.push(snapshot_line(
            db,
            &products,
            &mut chains,
            i,
            PricedLine {
                product: l.product_id(),
                quantity: l.quantity(),
                list_price: p.list_price,
                net_unit_price: p.net_unit_price,
                net_total: p.net_total,
                margin: p.margin,
                flags: &p.flags,
            },
        )?);
    }
    let total = q
        .offer_ceiling()
        .ok_or_else(|| ApiError::invalid_field("lines", "the quotation is not priced"))?;
    let default_terms = channel.payment_terms().map_or(0, |t| t.days());
    Ok(DocumentSnapshotInput {
        document: DocumentId::Quotation(q.id()),
        version: q.document_version(),
        channel: channel.code().to_owned(),
        customer: CustomerFacts {
            id: customer.id(),
            group_chain,
            territory: crate::submit::effective_territory(db, &customer)?,
            credit_limit: customer.credit_limit(),
            open_exposure,
        },
        submitted_by: caller.id(),
        payment_terms_days: customer.payment_terms().map_or(default_terms, |t| t.days()),
        default_payment_terms_days: default_terms,
        currency: q.currency(),
        total,
        lines,
    })
}

/// Asks the approvals capability about `q` as stored (read-only; call it
/// before the write transaction).
pub(crate) fn gate(db: &impl Db, q: &Quotation, caller: &Principal) -> Result<Gate, ApiError> {
    let snap = snapshot(db, q, caller)?;
    match capabilities::check_authorized(&snap) {
        Ok(()) => Ok(Gate::Clear),
        Err(e) if e.code() == "not_approved" => Ok(match required(&snap)? {
            Some(levels) => Gate::Required(levels),
            None => Gate::Clear,
        }),
        Err(e) => Err(e),
    }
}

/// Opens the request for `levels` inside the caller's transaction
/// (superseding the quotation's live request; smart re-approval keeps
/// what did not get worse). The request may come back approved already
/// when every level was kept.
pub(crate) fn open(
    db: &impl Db,
    levels: &RequiredApprovals,
    caller: &Principal,
    now: DateTime<Utc>,
) -> Result<ApprovalRequest, ApiError> {
    open_request(db, levels, ApprovalRequestId::new(), caller, now)
}

/// Whether every level of `request` is met already (all kept).
pub(crate) fn is_approved(request: &ApprovalRequest) -> bool {
    matches!(request.status(), RequestStatus::Approved { .. })
}

/// Closes the quotation's pending approval request because the quotation
/// moved on to `by_version` (edited or cancelled while waiting), so it
/// leaves the approvers' inboxes and can no longer be decided.
pub(crate) fn supersede_pending(
    db: &impl Db,
    q: &Quotation,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(latest) = requests::latest_for(db, DocumentId::Quotation(q.id()))? {
        if matches!(latest.record.status(), RequestStatus::Pending) {
            let closed = latest
                .record
                .supersede(q.document_version(), now)
                .map_err(decision_error)?;
            requests::save(db, &closed, latest.version, now)?;
        }
    }
    Ok(())
}

/// `approval.requested` for a quotation's request: who is asked.
pub(crate) fn requested_event(
    db: &impl Db,
    request: &ApprovalRequest,
    q: &Quotation,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut approvers: Vec<String> = request
        .steps()
        .iter()
        .flat_map(|s| s.approvers().iter().map(ToString::to_string))
        .collect();
    approvers.sort();
    approvers.dedup();
    enqueue(
        db,
        &NewEvent {
            topic: "approval.requested".into(),
            aggregate_kind: "approval_request".into(),
            aggregate_id: request.id().to_string(),
            payload: json!({
                "request_id": request.id(),
                "document_kind": "quotation",
                "document_id": q.id(),
                "document_version": request.document().version,
                "document_number": q.number(),
                "approvers": approvers,
            }),
        },
        now,
    )?;
    Ok(())
}

/// The `approval_request` a response carries: the request, its status and
/// each level with its state and reasons.
pub(crate) fn request_json(request: &ApprovalRequest) -> Value {
    let steps: Vec<Value> = request
        .steps()
        .iter()
        .map(|s| {
            json!({
                "policy_id": s.key().policy,
                "level": s.key().level,
                "policy_name": s.policy_name(),
                "state": s.state().name(),
                "approvers": s.approvers(),
                "reasons": s.reasons(),
            })
        })
        .collect();
    json!({
        "id": request.id(),
        "status": request.status().name(),
        "document_version": request.document().version,
        "steps": steps,
    })
}
