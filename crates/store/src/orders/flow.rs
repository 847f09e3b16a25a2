//! What happens to a stored order: edits, status transitions, the
//! submission's writes, the jobs component's confirm / return-to-draft
//! after an approval decision, shipments, and the outbox events with the
//! downstream demand.
//!
//! Every function here writes inside a SAVEPOINT of the caller's
//! transaction, so a refused step leaves nothing.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{OrderPromise, PromiseSource, ReservationStatus};
use sales_domain::downstream::{DemandState, LineDemand, OrderDemand};
use sales_domain::ids::{OrderId, ReservationId, WarehouseId};
use sales_domain::orders::fulfilment::record_shipment as ship_lines;
use sales_domain::orders::{
    split_for_shipment, HeldRow, Order, OrderError, OrderPatch, OrderStatus, Shipment, ShipmentId,
};
use serde::{Deserialize, Serialize};

use super::orders::{get, load_products, save, OrderRecord};
use super::{FlowError, StoredPromise};
use crate::availability::reservations::{self, Hold};
use crate::db::{Db, DbError, Value};
use crate::outbox::{enqueue, NewEvent};
use crate::page::Versioned;
use crate::repo::{from_json, to_json};
use crate::{time, StoreError};

/// The payload of every `order.*` event: the order's identity and status
/// at `version`, and — on the events that change downstream work
/// (`order.confirmed`, `order.amended`, `order.cancelled`, `order.closed`,
/// `order.returned_to_draft`) — the demand snapshot the jobs component
/// reconciles to. `detail` carries event-specific facts (the amendment
/// diff, the shipment, the cancel reason).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order_id: OrderId,
    pub number: String,
    pub status: OrderStatus,
    pub version: i64,
    pub demand: Option<OrderDemand>,
    #[serde(default)]
    pub detail: serde_json::Value,
}

fn refuse_stale(rec: &Versioned<OrderRecord>, expected: Option<i64>) -> Result<(), StoreError> {
    match expected {
        Some(v) if v != rec.version => Err(StoreError::VersionConflict {
            entity: "order",
            id: rec.record.order.id().to_string(),
            expected: v,
            actual: rec.version,
        }),
        _ => Ok(()),
    }
}

fn atomically<T>(db: &impl Db, f: impl FnOnce() -> Result<T, FlowError>) -> Result<T, FlowError> {
    db.execute("SAVEPOINT order_flow", &[])?;
    match f() {
        Ok(v) => {
            db.execute("RELEASE order_flow", &[])?;
            Ok(v)
        }
        Err(e) => {
            let _ = db.execute("ROLLBACK TO order_flow", &[]);
            let _ = db.execute("RELEASE order_flow", &[]);
            Err(e)
        }
    }
}

/// The warehouse manufactured units of an order are received into: the
/// channel's first warehouse, else the first active one.
pub fn receiving_warehouse(db: &impl Db, order: &Order) -> Result<Option<WarehouseId>, StoreError> {
    let channel = crate::channels::get(db, order.channel_id())?;
    receiving_warehouse_of(db, &channel.record)
}

/// [`receiving_warehouse`] for an order of `channel`, already read (the
/// submission has it: one read fewer).
pub fn receiving_warehouse_of(
    db: &impl Db,
    channel: &sales_domain::catalog::Channel,
) -> Result<Option<WarehouseId>, StoreError> {
    for code in channel.warehouses() {
        if let Some(w) = crate::availability::warehouses::find_by_code(db, code)? {
            if w.record.is_active() {
                return Ok(Some(w.record.id()));
            }
        }
    }
    Ok(crate::availability::warehouses::all_active(db)?
        .first()
        .map(|w| w.id()))
}

/// The downstream demand of `rec` at `version` in `state`: per line of the
/// stored promise, the units to manufacture (availability's `work_order`
/// source) and the service hours (its `project_slot`), with the date
/// promised. Lines of the order that the promise does not cover carry no
/// work.
pub fn demand(
    db: &impl Db,
    rec: &OrderRecord,
    version: i64,
    state: DemandState,
) -> Result<OrderDemand, StoreError> {
    let warehouse = receiving_warehouse(db, &rec.order)?;
    Ok(demand_into(rec, version, state, warehouse))
}

/// [`demand`] with the receiving warehouse already resolved
/// ([`receiving_warehouse`]): reads nothing, so a submission resolves the
/// warehouse before its write transaction and holds the lock for less.
pub fn demand_into(
    rec: &OrderRecord,
    version: i64,
    state: DemandState,
    warehouse: Option<WarehouseId>,
) -> OrderDemand {
    let order = &rec.order;
    let lines = match &rec.promise {
        None => vec![],
        Some(p) => p
            .lines
            .iter()
            .filter(|l| order.lines().iter().any(|o| o.id == l.line_id))
            .map(|l| match warehouse {
                Some(w) => LineDemand::from_promise(l, w),
                None => LineDemand {
                    line_id: l.line_id,
                    product_id: l.product,
                    due_date: l.promised_date.or(l.requested_date),
                    manufacture: None,
                    service: None,
                },
            })
            .collect(),
    };
    OrderDemand {
        order_id: order.id(),
        order_number: order.number().to_owned(),
        version,
        customer_id: order.customer_id(),
        state,
        lines,
    }
}

/// Writes an `order.<verb>` outbox event about `rec` (at its stored
/// version), with the demand in `state` when given.
pub fn emit(
    db: &impl Db,
    topic: &str,
    rec: &Versioned<OrderRecord>,
    state: Option<DemandState>,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let demand = state
        .map(|s| demand(db, &rec.record, rec.version, s))
        .transpose()?;
    enqueue(db, &order_event(topic, rec, demand, detail)?, now)?;
    Ok(())
}

/// The `order.<verb>` outbox event about `rec` (at its stored version)
/// with `demand`, to write with [`crate::outbox::enqueue_all`] beside
/// others of the same transaction.
pub fn order_event(
    topic: &str,
    rec: &Versioned<OrderRecord>,
    demand: Option<OrderDemand>,
    detail: serde_json::Value,
) -> Result<NewEvent, StoreError> {
    let event = OrderEvent {
        order_id: rec.record.order.id(),
        number: rec.record.order.number().to_owned(),
        status: rec.record.order.status(),
        version: rec.version,
        demand,
        detail,
    };
    let payload = serde_json::to_value(&event)
        .map_err(|e| crate::DbError::Decode(format!("order event: {e}")))?;
    Ok(NewEvent {
        topic: topic.to_owned(),
        aggregate_kind: "order".into(),
        aggregate_id: rec.record.order.id().to_string(),
        payload,
    })
}

/// Edits a draft (`status` must be draft) if it is still at
/// `expected_version`; the revision grows.
pub fn update_draft(
    db: &impl Db,
    id: OrderId,
    patch: OrderPatch,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, FlowError> {
    atomically(db, || {
        let current = get(db, id)?;
        refuse_stale(&current, Some(expected_version))?;
        let order = &current.record.order;
        order.status().edit()?;
        let products = load_products(
            db,
            patch
                .lines
                .iter()
                .flatten()
                .map(|l| l.product_id)
                .collect::<Vec<_>>(),
        )?;
        let next = order.patched(patch, &products)?;
        let rec = OrderRecord {
            order: next,
            revision: current.record.revision + 1,
            waterfall: None,
            promise: None,
            ..current.record.clone()
        };
        Ok(save(db, &rec, expected_version, now)?)
    })
}

/// The held reservation holds an order's lines point at.
fn held_holds(db: &impl Db, order: &Order) -> Result<Vec<Versioned<Hold>>, StoreError> {
    let mut ids: Vec<ReservationId> = order
        .lines()
        .iter()
        .filter_map(|l| l.reservation_id)
        .collect();
    ids.sort();
    ids.dedup();
    let mut out = vec![];
    for id in ids {
        let hold = reservations::get(db, id)?;
        if hold.record.status == ReservationStatus::Held {
            out.push(hold);
        }
    }
    Ok(out)
}

/// Releases every held reservation of `order`; the lines hold nothing
/// afterwards.
pub fn release_reservations(
    db: &impl Db,
    order: &Order,
    now: DateTime<Utc>,
) -> Result<Order, FlowError> {
    for hold in held_holds(db, order)? {
        reservations::release(db, hold.record.id, now)?;
    }
    let mut parts = order.parts().clone();
    for l in &mut parts.lines {
        l.reserved_quantity = Decimal::ZERO;
        l.reservation_id = None;
    }
    Ok(Order::from_parts(parts)?)
}

/// The topic and demand state of a status change, when it has one.
fn status_event(to: OrderStatus) -> Option<(&'static str, Option<DemandState>)> {
    match to {
        OrderStatus::Cancelled => Some(("order.cancelled", Some(DemandState::Cancelled))),
        OrderStatus::Closed => Some(("order.closed", Some(DemandState::Closed))),
        OrderStatus::OnHold => Some(("order.held", None)),
        _ => None,
    }
}

/// A status action on a stored order: `hold`, `resume`, `cancel` or
/// `close`. Cancelling and closing release what the order still holds;
/// cancelling emits `order.cancelled` with the demand marked cancelled
/// (the jobs component compensates downstream work), closing
/// `order.closed`. `expected_version`, when given, must match.
pub fn change_status(
    db: &impl Db,
    id: OrderId,
    action: StatusAction,
    expected_version: Option<i64>,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, FlowError> {
    atomically(db, || {
        let current = get(db, id)?;
        refuse_stale(&current, expected_version)?;
        let order = &current.record.order;
        let to = match action {
            StatusAction::Hold => order.status().hold()?,
            StatusAction::Resume => order.status().resume(order.held_from())?,
            StatusAction::Cancel => order.status().cancel(order.held_from())?,
            StatusAction::Close => order.status().close()?,
        };
        let mut next = order.with_status(to, reason.clone());
        let mut revision = current.record.revision;
        if matches!(to, OrderStatus::Cancelled | OrderStatus::Closed) {
            next = release_reservations(db, &next, now)?;
            // A request still waiting for approvers leaves their inboxes:
            // the cancelled order is a new revision that supersedes it.
            if withdraw_pending_approval(db, order, revision + 1, now)? {
                revision += 1;
            }
        }
        let rec = OrderRecord {
            order: next,
            revision,
            ..current.record.clone()
        };
        let saved = save(db, &rec, current.version, now)?;
        let topic = match action {
            StatusAction::Resume => Some(("order.resumed", None)),
            _ => status_event(to),
        };
        if let Some((topic, state)) = topic {
            emit(
                db,
                topic,
                &saved,
                state,
                serde_json::json!({ "reason": reason, "from": order.status() }),
                now,
            )?;
        }
        if action == StatusAction::Resume {
            return settle_decided_approval(db, saved, now);
        }
        Ok(saved)
    })
}

/// Supersedes the order's approval request if it is still pending, by
/// `by_revision`; whether it did.
fn withdraw_pending_approval(
    db: &impl Db,
    order: &Order,
    by_revision: i64,
    now: DateTime<Utc>,
) -> Result<bool, FlowError> {
    let Some(request_id) = order.approval_request_id() else {
        return Ok(false);
    };
    let stored = crate::approvals::requests::get(db, request_id)?;
    if stored.record.status().name() != "pending" {
        return Ok(false);
    }
    let by = u32::try_from(by_revision).unwrap_or(u32::MAX);
    let superseded = stored
        .record
        .supersede(by, now)
        .map_err(|e| StoreError::InvalidState {
            entity: "approval request",
            id: request_id.to_string(),
            message: e.to_string(),
        })?;
    crate::approvals::requests::save(db, &superseded, stored.version, now)?;
    Ok(true)
}

/// A pending order resumed after its approval request was decided while
/// it was on hold (the jobs component leaves a held order alone): the
/// decision applies now — approved at this revision confirms it, rejected
/// returns it to draft.
fn settle_decided_approval(
    db: &impl Db,
    saved: Versioned<OrderRecord>,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, FlowError> {
    let order = &saved.record.order;
    let Some(request_id) = order.approval_request_id() else {
        return Ok(saved);
    };
    if order.status() != OrderStatus::PendingApproval {
        return Ok(saved);
    }
    let request = crate::approvals::requests::get(db, request_id)?.record;
    if i64::from(request.document().version) != saved.record.revision {
        return Ok(saved);
    }
    match request.status().name() {
        "approved" => confirm_approved(db, order.id(), saved.record.revision, now),
        "rejected" => return_to_draft(db, order.id(), "the approval request was rejected", now),
        _ => Ok(saved),
    }
}

/// The status actions of [`change_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    Hold,
    Resume,
    Cancel,
    Close,
}

/// What the submitting request writes for an order, all in its
/// transaction: the order in its next state (priced, promised, with the
/// credit outcome and the approval request id), the pricing waterfall and
/// the promise, and the reservation hold to take (re-checked row by row
/// with the store's conditional reserve).
#[derive(Debug, Clone)]
pub struct Submission {
    pub order: Order,
    pub expected_version: i64,
    /// Whether the content changed (an amendment): the revision grows.
    pub new_revision: bool,
    pub waterfall: Option<super::RawJson>,
    pub promise: Option<super::StoredPromise>,
    /// The hold to write; its rows' line ids are the order's.
    pub hold: Option<Hold>,
    /// Reservations the order held before (an amendment): released first.
    pub release_first: bool,
}

/// Writes a submission (or an amendment): releases the old holds when
/// asked, reserves the new hold (a row that no longer fits is
/// [`StoreError::InsufficientStock`] and nothing is written), points the
/// lines at it with their reserved quantities, and saves the order.
pub fn record_submission(
    db: &impl Db,
    sub: Submission,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, FlowError> {
    atomically(db, || {
        let current = get(db, sub.order.id())?;
        refuse_stale(&current, Some(sub.expected_version))?;
        let mut order = sub.order;
        if sub.release_first {
            for hold in held_holds(db, &current.record.order)? {
                reservations::release(db, hold.record.id, now)?;
            }
            order = clear_reservations(&order)?;
        }
        if let Some(hold) = &sub.hold {
            if !hold.rows.is_empty() {
                reservations::reserve(db, hold, now)?;
                order = point_at_hold(&order, hold)?;
            }
        }
        let rec = OrderRecord {
            order,
            revision: current.record.revision + i64::from(sub.new_revision),
            order_date: current.record.order_date,
            waterfall: sub.waterfall,
            promise: sub.promise,
            submitted_at: current.record.submitted_at.or(Some(now)),
        };
        Ok(save(db, &rec, sub.expected_version, now)?)
    })
}

fn clear_reservations(order: &Order) -> Result<Order, OrderError> {
    let mut parts = order.parts().clone();
    for l in &mut parts.lines {
        l.reserved_quantity = Decimal::ZERO;
        l.reservation_id = None;
    }
    Order::from_parts(parts)
}

/// The order's lines pointing at `hold`, each with the quantity it holds.
fn point_at_hold(order: &Order, hold: &Hold) -> Result<Order, OrderError> {
    let mut parts = order.parts().clone();
    for l in &mut parts.lines {
        let held: Decimal = hold
            .rows
            .iter()
            .filter(|r| r.line_id == l.id)
            .map(|r| r.quantity)
            .sum();
        if held > Decimal::ZERO {
            l.reserved_quantity = held;
            l.reservation_id = Some(hold.id);
        }
    }
    Order::from_parts(parts)
}

/// After the order's approval request was approved: a pending order at
/// `approved_revision` (the document version the request approved) is
/// confirmed, and `order.confirmed` is written with its demand. Called by
/// the jobs component inside its transaction. An order changed since
/// (another revision) or no longer pending is refused with the reason.
///
/// A point-of-sale order (its channel `fulfil_on_order`) is then handed
/// over on the spot, as one that needed no approval is at submission:
/// everything open is shipped from what it held in the store's warehouse
/// since submission ([`record_shipment`]: the hold consumed,
/// `order.fulfilled`).
pub fn confirm_approved(
    db: &impl Db,
    order_id: OrderId,
    approved_revision: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, FlowError> {
    atomically(db, || {
        let current = get(db, order_id)?;
        if current.record.revision != approved_revision {
            return Err(StoreError::InvalidState {
                entity: "order",
                id: order_id.to_string(),
                message: format!(
                    "revision {approved_revision} was approved but the order is at revision {}",
                    current.record.revision
                ),
            }
            .into());
        }
        let order = &current.record.order;
        let to = order.status().approve()?;
        let rec = OrderRecord {
            order: order.with_status(to, None),
            ..current.record.clone()
        };
        let saved = save(db, &rec, current.version, now)?;
        emit(
            db,
            "order.confirmed",
            &saved,
            Some(DemandState::Active),
            serde_json::json!({ "approved_revision": approved_revision }),
            now,
        )?;
        let channel = crate::channels::get(db, saved.record.order.channel_id())?;
        if channel.record.fulfil_on_order() {
            let everything = Shipment::everything_open(&saved.record.order);
            let shipped =
                record_shipment(db, order_id, &everything, None, Some(saved.version), now)?;
            return Ok(shipped.order);
        }
        Ok(saved)
    })
}

/// After the order's approval request was rejected: a pending order goes
/// back to draft, its reservations are released, and
/// `order.returned_to_draft` is written with the demand cancelled (an
/// amended order may have had downstream work). Called by the jobs
/// component inside its transaction.
pub fn return_to_draft(
    db: &impl Db,
    order_id: OrderId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, FlowError> {
    atomically(db, || {
        let current = get(db, order_id)?;
        let order = &current.record.order;
        let to = order.status().return_to_draft()?;
        let next = release_reservations(db, &order.with_status(to, Some(reason.to_owned())), now)?;
        let mut parts = next.into_parts();
        parts.approval_request_id = None;
        // A new revision: submitting it again asks for approval afresh
        // (one approval request per document version).
        let rec = OrderRecord {
            order: Order::from_parts(parts)?,
            revision: current.record.revision + 1,
            ..current.record.clone()
        };
        let saved = save(db, &rec, current.version, now)?;
        emit(
            db,
            "order.returned_to_draft",
            &saved,
            Some(DemandState::Cancelled),
            serde_json::json!({ "reason": reason }),
            now,
        )?;
        Ok(saved)
    })
}

/// Where a shipment came from: an outside system's id makes a resend a
/// no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentSource {
    pub external_source: String,
    pub external_id: String,
}

/// The result of [`record_shipment`].
#[derive(Debug, Clone, PartialEq)]
pub struct Shipped {
    pub order: Versioned<OrderRecord>,
    /// False when the outside id was seen before and nothing was done.
    pub applied: bool,
}

/// A line's reservation rows that no hold covers ship from here.
fn shipping_warehouse(db: &impl Db, order: &Order) -> Result<Option<WarehouseId>, StoreError> {
    receiving_warehouse(db, order)
}

/// Records a shipment: raises shipped quantities (never above ordered),
/// consumes the matching reserved rows (the stock leaves: on hand and
/// reserved drop, with ledger rows), takes what shipped beyond the
/// reservation from the channel's first warehouse (refused when it is not
/// there), keeps the rest held, and moves the order to partially fulfilled
/// or fulfilled. With a `source`, a resend of the same outside id is
/// answered with the order as it is (`applied: false`).
pub fn record_shipment(
    db: &impl Db,
    order_id: OrderId,
    shipment: &Shipment,
    source: Option<&ShipmentSource>,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Shipped, FlowError> {
    atomically(db, || {
        if let Some(src) = source {
            let seen = db.execute(
                "SELECT order_id FROM sales_order_shipments
                 WHERE external_source = ? AND external_id = ?",
                &[
                    Value::from(&src.external_source),
                    Value::from(&src.external_id),
                ],
            )?;
            if let Some(row) = seen.first() {
                if row.text("order_id")? != order_id.to_string() {
                    return Err(StoreError::Duplicate {
                        entity: "shipment",
                        field: "external_id",
                        value: format!("{}:{}", src.external_source, src.external_id),
                    }
                    .into());
                }
                return Ok(Shipped {
                    order: get(db, order_id)?,
                    applied: false,
                });
            }
        }
        let current = get(db, order_id)?;
        refuse_stale(&current, expected_version)?;
        let order = &current.record.order;
        let shipped = ship_lines(order, shipment)?;
        let next = consume_for(db, order, shipped, shipment, now)?;
        let rec = OrderRecord {
            order: next,
            ..current.record.clone()
        };
        let saved = save(db, &rec, current.version, now)?;
        db.execute(
            "INSERT INTO sales_order_shipments
             (id, order_id, external_source, external_id, body, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
            &[
                Value::Text(ShipmentId::new().to_string()),
                Value::Text(order_id.to_string()),
                Value::from(source.map(|s| s.external_source.clone())),
                Value::from(source.map(|s| s.external_id.clone())),
                to_json("body", shipment)?,
                Value::Text(time::to_sql(now)),
            ],
        )?;
        let topic = if saved.record.order.status() == OrderStatus::Fulfilled {
            "order.fulfilled"
        } else {
            "order.shipped"
        };
        emit(
            db,
            topic,
            &saved,
            None,
            serde_json::to_value(shipment)
                .map_err(|e| crate::DbError::Decode(format!("shipment: {e}")))?,
            now,
        )?;
        Ok(Shipped {
            order: saved,
            applied: true,
        })
    })
}

/// Moves the stock of a shipment: the held rows it takes are consumed,
/// the rest re-held, goods shipped beyond the holds taken from the
/// shipping warehouse. Returns `shipped` with the lines pointing at the
/// new hold.
fn consume_for(
    db: &impl Db,
    before: &Order,
    shipped: Order,
    shipment: &Shipment,
    now: DateTime<Utc>,
) -> Result<Order, FlowError> {
    let holds = held_holds(db, before)?;
    let rows: Vec<HeldRow> = holds.iter().flat_map(|h| h.record.rows.clone()).collect();
    let split = split_for_shipment(&rows, shipment);
    let promise = holds.first().map(|h| h.record.promise.clone());
    for h in &holds {
        reservations::release(db, h.record.id, now)?;
    }
    let mut consume = split.consume;
    // Goods shipped beyond what was held leave the shipping warehouse.
    let from = shipping_warehouse(db, before)?;
    for (line_id, q) in &split.unreserved {
        let Some(line) = before.lines().iter().find(|l| l.id == *line_id) else {
            continue;
        };
        if line.kind() == sales_domain::orders::LineKind::Service {
            continue;
        }
        let Some(warehouse) = from else {
            return Err(StoreError::InvalidState {
                entity: "order",
                id: before.id().to_string(),
                message: "no warehouse to ship from".into(),
            }
            .into());
        };
        consume.push(HeldRow {
            line_id: *line_id,
            product: line.product_id,
            warehouse,
            quantity: *q,
            needed_on: now.date_naive(),
            valid_until: None,
        });
    }
    let promise = match promise {
        Some(p) => p,
        None => StoredPromise::new(OrderPromise {
            today: now.date_naive(),
            ship_policy: sales_domain::availability::ShipPolicy::ShipAsAvailable,
            strategy: sales_domain::availability::AllocationStrategy::Priority,
            complete: true,
            complete_by: None,
            lines: vec![],
        })
        .map_err(|e| DbError::Decode(format!("promise: {e}")))?,
    };
    if !consume.is_empty() {
        let hold = Hold {
            id: ReservationId::new(),
            document: before.number().to_owned(),
            status: ReservationStatus::Held,
            valid_until: None,
            rows: consume,
            promise: promise.clone(),
        };
        reservations::reserve(db, &hold, now)?;
        reservations::consume(db, hold.id, now)?;
    }
    let mut next = clear_reservations(&shipped)?;
    if !split.keep.is_empty() {
        let hold = Hold {
            id: ReservationId::new(),
            document: before.number().to_owned(),
            status: ReservationStatus::Held,
            valid_until: None,
            rows: split.keep,
            promise,
        };
        reservations::reserve(db, &hold, now)?;
        next = point_at_hold(&next, &hold)?;
    }
    Ok(next)
}

/// The shipments recorded for an order, oldest first.
pub fn shipments(db: &impl Db, order_id: OrderId) -> Result<Vec<Shipment>, StoreError> {
    let rows = db.execute(
        "SELECT body FROM sales_order_shipments WHERE order_id = ? ORDER BY created_at, id",
        &[Value::Text(order_id.to_string())],
    )?;
    rows.iter()
        .map(|r| Ok(from_json("body", r.text("body")?)?))
        .collect()
}

/// Whether a promise line is covered by a work order or a project slot
/// (for the `promise_source` of a line).
pub fn source_name(sources: &[PromiseSource]) -> Option<&'static str> {
    let mut names = sources.iter().map(|s| match s {
        PromiseSource::Stock(_) => "stock",
        PromiseSource::WorkOrder(_) => "work_order",
        PromiseSource::ProjectSlot(_) => "project_slot",
    });
    let first = names.next()?;
    if names.all(|n| n == first) {
        Some(first)
    } else {
        Some("mixed")
    }
}
