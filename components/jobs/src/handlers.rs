//! One handler per topic family; every handler is idempotent, and runs in
//! the transaction that marks its outbox row done.
//!
//! - `order.*` with a demand snapshot: reconcile the order's work orders,
//!   project and tasks to it (`sales_store::downstream::reconcile`).
//! - `approval.requested` / `approval.escalated`: notify the people the
//!   request waits for (and their delegates of the day) / the escalation
//!   names (in-app inbox, once per person and request or escalation).
//! - `approval.approved` / `approval.rejected` for an order: confirm it
//!   (which writes `order.confirmed` with its demand, drained next) or send
//!   it back to draft with the reason, through the order store's own
//!   transitions, and tell the submitter; an order that is no longer
//!   pending approval at that revision is left alone.
//! - The same for a quotation: `pending_approval → approved` (ready to be
//!   sent by the rep: sending answers the accept link, which only the
//!   sender can pass on) or back to `draft` with the reason, with
//!   `quotation.approved` / `quotation.rejected`; one that was edited,
//!   cancelled or decided meanwhile is left alone.
//! - Everything else (`work_order.*`, `project.*`, `quotation.*`, …) has
//!   no in-process effect: those events exist for outside subscribers, and
//!   delivering them (webhooks) is the handler issue #9 adds here.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sales_domain::approvals::{DocumentId, EscalationAction, StepState};
use sales_domain::downstream::OrderDemand;
use sales_domain::ids::{ApprovalRequestId, OrderId, PrincipalId, QuotationId};
use sales_domain::orders::OrderStatus;
use sales_domain::quotations::QuotationStatus;
use sales_store::approvals::{delegations, requests};
use sales_store::downstream::notifications::{self, NewNotification};
use sales_store::downstream::reconcile;
use sales_store::orders::{self, FlowError};
use sales_store::outbox::Event;
use sales_store::quotations;
use sales_store::{Db, DbError, StoreError};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub(crate) enum HandlerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error(transparent)]
    Quotation(#[from] sales_domain::quotations::QuotationError),
    #[error("payload of {topic}: {message}")]
    Payload { topic: String, message: String },
}

impl From<DbError> for HandlerError {
    fn from(e: DbError) -> Self {
        HandlerError::Store(e.into())
    }
}

fn payload<T: for<'de> Deserialize<'de>>(event: &Event) -> Result<T, HandlerError> {
    serde_json::from_value(event.payload.clone()).map_err(|e| HandlerError::Payload {
        topic: event.topic.clone(),
        message: e.to_string(),
    })
}

pub(crate) fn handle(db: &impl Db, event: &Event, now: DateTime<Utc>) -> Result<(), HandlerError> {
    match event.topic.as_str() {
        t if t.starts_with("order.") => order_changed(db, event, now),
        "approval.requested" => approval_requested(db, event, now),
        "approval.escalated" => approval_escalated(db, event, now),
        "approval.approved" | "approval.rejected" => approval_decided(db, event, now),
        // Published for subscribers only (issue #9 adds the delivery).
        _ => Ok(()),
    }
}

/// The part of an `order.*` payload the jobs component reads.
#[derive(Deserialize)]
struct OrderEventDemand {
    #[serde(default)]
    demand: Option<OrderDemand>,
}

fn order_changed(db: &impl Db, event: &Event, now: DateTime<Utc>) -> Result<(), HandlerError> {
    let OrderEventDemand { demand } = payload(event)?;
    if let Some(demand) = demand {
        let outcome = reconcile::apply(db, &demand, event.id, now)?;
        // Logged when something downstream changed (not for every order
        // that needs no work order or project: one line per order under
        // load).
        if !outcome.work_orders.is_empty() || !outcome.tasks.is_empty() || outcome.project.is_some()
        {
            eprintln!(
                "jobs: {} v{}: {} work order(s), {} task(s) changed",
                demand.order_number,
                demand.version,
                outcome.work_orders.len(),
                outcome.tasks.len()
            );
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct ApprovalEvent {
    request_id: ApprovalRequestId,
    document_kind: String,
    document_id: String,
    document_version: i64,
    #[serde(default)]
    reason: Option<String>,
}

fn describe(document: DocumentId) -> String {
    match document {
        DocumentId::Order(id) => format!("order {id}"),
        DocumentId::Quotation(id) => format!("quotation {id}"),
    }
}

/// Notifies everyone a pending step of the request waits for, once per
/// person and request.
fn approval_requested(db: &impl Db, event: &Event, now: DateTime<Utc>) -> Result<(), HandlerError> {
    let e: ApprovalEvent = payload(event)?;
    let request = requests::get(db, e.request_id)?.record;
    if request.status().name() != "pending" {
        return Ok(());
    }
    let mut waiting: BTreeSet<PrincipalId> = BTreeSet::new();
    for step in request.steps() {
        if matches!(step.state(), StepState::Pending { .. }) {
            waiting.extend(step.approvers().iter().copied());
            waiting.extend(step.escalated_to().iter().copied());
        }
    }
    // Whoever decides for an approver today (a delegate) is asked too.
    let today = now.date_naive();
    let delegates: Vec<PrincipalId> = delegations::all(db)?
        .iter()
        .filter(|d| d.is_active_on(today) && waiting.contains(&d.from()))
        .map(|d| d.to())
        .collect();
    waiting.extend(delegates);
    let what = describe(request.document().document);
    for who in waiting {
        notifications::notify(
            db,
            &NewNotification {
                recipient: who,
                kind: "approval_requested".into(),
                subject_kind: "approval_request".into(),
                subject_id: e.request_id.to_string(),
                message: format!(
                    "Your approval is requested for {what} (version {})",
                    e.document_version
                ),
                dedupe_key: format!("approval.requested:{}", e.request_id),
            },
            now,
        )?;
    }
    Ok(())
}

/// Notifies the people an escalation names (and the one it added).
fn approval_escalated(db: &impl Db, event: &Event, now: DateTime<Utc>) -> Result<(), HandlerError> {
    let action: EscalationAction = payload(event)?;
    let mut people = action.notify.clone();
    people.extend(action.escalate_to);
    let what = describe(action.document.document);
    for who in people {
        notifications::notify(
            db,
            &NewNotification {
                recipient: who,
                kind: "approval_escalated".into(),
                subject_kind: "approval_request".into(),
                subject_id: action.request.to_string(),
                message: format!(
                    "An approval step of {what} passed its time limit ({}) and was escalated",
                    action.due_at.to_rfc3339()
                ),
                dedupe_key: format!(
                    "approval.escalated:{}:{:?}:{}",
                    action.request,
                    action.step,
                    action.due_at.timestamp()
                ),
            },
            now,
        )?;
    }
    Ok(())
}

/// Confirms an approved order or sends a rejected one back to draft.
fn approval_decided(db: &impl Db, event: &Event, now: DateTime<Utc>) -> Result<(), HandlerError> {
    let e: ApprovalEvent = payload(event)?;
    match e.document_kind.as_str() {
        "order" => {}
        "quotation" => return quotation_decided(db, event, e, now),
        _ => return Ok(()),
    }
    let order_id = OrderId::parse(&e.document_id).map_err(|err| HandlerError::Payload {
        topic: event.topic.clone(),
        message: err.to_string(),
    })?;
    let current = orders::get(db, order_id)?;
    // Replayed, superseded by an amendment, or cancelled meanwhile: the
    // decision no longer applies to the order as it is.
    if current.record.order.status() != OrderStatus::PendingApproval
        || current.record.revision != e.document_version
    {
        eprintln!(
            "jobs: {} for {} revision {} ignored: the order is {} at revision {}",
            event.topic,
            current.record.order.number(),
            e.document_version,
            current.record.order.status().as_str(),
            current.record.revision
        );
        return Ok(());
    }
    let number = current.record.order.number().to_owned();
    let (kind, message) = if event.topic == "approval.approved" {
        let done = orders::confirm_approved(db, order_id, e.document_version, now)?;
        // A point-of-sale order is handed over on approval (fulfilled).
        let how = if done.record.order.status() == OrderStatus::Fulfilled {
            "confirmed and handed over"
        } else {
            "confirmed"
        };
        (
            "order_confirmed",
            format!("{number} was approved and is {how}"),
        )
    } else {
        let reason = e
            .reason
            .unwrap_or_else(|| "the approval request was rejected".into());
        orders::return_to_draft(db, order_id, &reason, now)?;
        (
            "order_returned_to_draft",
            format!("{number} was rejected and is back in draft: {reason}"),
        )
    };
    // The submitter learns the outcome.
    let request = requests::get(db, e.request_id)?.record;
    notifications::notify(
        db,
        &NewNotification {
            recipient: request.submitted_by(),
            kind: kind.into(),
            subject_kind: "order".into(),
            subject_id: order_id.to_string(),
            message,
            dedupe_key: format!("{}:{}", event.topic, e.request_id),
        },
        now,
    )?;
    Ok(())
}

/// Approves a quotation waiting for approval (`approved`, ready to send) or
/// sends a rejected one back to draft with the reason, and tells the
/// submitter. A quotation no longer waiting at that version (edited,
/// cancelled, decided by a replay) is left alone.
fn quotation_decided(
    db: &impl Db,
    event: &Event,
    e: ApprovalEvent,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    let bad = |message: String| HandlerError::Payload {
        topic: event.topic.clone(),
        message,
    };
    let id = QuotationId::parse(&e.document_id).map_err(|err| bad(err.to_string()))?;
    let version = u32::try_from(e.document_version).map_err(|err| bad(err.to_string()))?;
    let current = match quotations::get(db, id) {
        Ok(current) => current,
        // A request opened over the approvals API for a document that is
        // not a stored quotation: nothing to move.
        Err(StoreError::NotFound { .. }) => {
            eprintln!("jobs: {} for unknown quotation {id} ignored", event.topic);
            return Ok(());
        }
        Err(err) => return Err(err.into()),
    };
    let mut q = current.record;
    if q.status() != QuotationStatus::PendingApproval || q.document_version() != version {
        eprintln!(
            "jobs: {} for {} version {} ignored: the quotation is {} at version {}",
            event.topic,
            q.number(),
            version,
            q.status().as_str(),
            q.document_version()
        );
        return Ok(());
    }
    let payload = serde_json::json!({
        "approval_request_id": e.request_id,
        "document_version": version,
    });
    let (verb, kind, message) = if event.topic == "approval.approved" {
        q.approval_granted(version)?;
        (
            "approved",
            "quotation_approved",
            format!("{} was approved and may be sent", q.number()),
        )
    } else {
        let reason = e
            .reason
            .unwrap_or_else(|| "the approval request was rejected".into());
        q.approval_rejected(version, &reason, now)?;
        (
            "rejected",
            "quotation_rejected",
            format!("{} was rejected and is back in draft: {reason}", q.number()),
        )
    };
    quotations::save(db, &q, current.version, now)?;
    let mut payload = payload;
    if let (Some(map), Some(r)) = (payload.as_object_mut(), q.approval_rejection()) {
        map.insert("reason".into(), r.reason.clone().into());
    }
    quotations::enqueue_event(db, verb, &q, payload, now)?;
    let request = requests::get(db, e.request_id)?.record;
    notifications::notify(
        db,
        &NewNotification {
            recipient: request.submitted_by(),
            kind: kind.into(),
            subject_kind: "quotation".into(),
            subject_id: id.to_string(),
            message,
            dedupe_key: format!("{}:{}", event.topic, e.request_id),
        },
        now,
    )?;
    Ok(())
}
