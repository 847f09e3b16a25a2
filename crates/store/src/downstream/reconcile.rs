//! Brings an order's downstream records to an [`OrderDemand`] snapshot.
//!
//! [`apply`] is the one code path for confirm, amend, reduce and cancel:
//! it compares, per order line, the planned work order and project task
//! with what the snapshot wants ([`plan_line`]) and creates, replaces or
//! cancels them, moving availability's records with them in the caller's
//! transaction:
//!
//! - a work order loads its work centre (`planned_load`, per day), adds a
//!   scheduled receipt of the product on its finish date (`incoming`), and
//!   reserves those units with a hold whose document is the work order's
//!   number and whose rows carry the order's line — so the next order
//!   cannot promise them away;
//! - a task books its role (`bookings`).
//!
//! Replacing undoes the old effects and applies the new ones; cancelling
//! undoes them (a hold someone else already released is left as it is).
//! `downstream_orders` remembers the newest version applied: a snapshot of
//! an older or the same version changes nothing, so a replayed or
//! out-of-order event is harmless. Each change is announced in the outbox
//! (`work_order.planned|changed|cancelled`, `project.planned|changed|cancelled`)
//! for subscribers.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{
    AllocationStrategy, BookingSpec, DayHours, LinePromise, LineStatus, OrderPromise, PlannedLoad,
    PlannedReservation, ProjectRoleId, PromiseSource, ProposedWorkOrder, ReservationStatus,
    ShipPolicy, WorkCenterId,
};
use sales_domain::catalog::ProductKind;
use sales_domain::downstream::{
    plan_line, DemandState, LinePlan, ManufactureDemand, OrderDemand, ProjectId, ProjectTaskId,
    ServiceDemand, WorkOrderId, WorkStatus,
};
use sales_domain::ids::{EventId, LineId, OrderId, ReceiptId, ReservationId};
use sales_domain::series::DocumentSeries;
use serde_json::json;

use super::projects::{self, Project, ProjectTask};
use super::work_orders::{self, WorkOrder};
use crate::availability::capacity::{self, ProjectRole, WorkCenter};
use crate::availability::receipts::{self, Receipt};
use crate::availability::reservations::{self, Hold};
use crate::db::{Db, DbError, Value};
use crate::orders::StoredPromise;
use crate::outbox::{self, NewEvent};
use crate::series::next_document_number;
use crate::{time, StoreError};

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Planned,
    Changed,
    Cancelled,
}

impl Change {
    fn verb(self) -> &'static str {
        match self {
            Change::Planned => "planned",
            Change::Changed => "changed",
            Change::Cancelled => "cancelled",
        }
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// False when the snapshot was not newer than the one applied.
    pub applied: bool,
    pub work_orders: Vec<(WorkOrderId, Change)>,
    pub project: Option<(ProjectId, Change)>,
    pub tasks: Vec<(ProjectTaskId, Change)>,
}

/// The version of the order whose demand was applied last, if any.
pub fn applied_version(db: &impl Db, order: OrderId) -> Result<Option<i64>, StoreError> {
    let rows = db.execute(
        "SELECT applied_version FROM downstream_orders WHERE order_id = ?",
        &[Value::Text(order.to_string())],
    )?;
    Ok(rows.first().map(|r| r.int("applied_version")).transpose()?)
}

/// What [`apply`] needs to know before it reads the records, in one read:
/// the version applied last and whether the order has any work order or a
/// project at all (most orders have neither, and then neither is read).
struct Known {
    applied: Option<i64>,
    work_orders: bool,
    project: bool,
}

fn known(db: &impl Db, order: OrderId) -> Result<Known, StoreError> {
    let id = Value::Text(order.to_string());
    let rows = db.execute(
        "SELECT (SELECT applied_version FROM downstream_orders WHERE order_id = ?) AS applied,
                EXISTS (SELECT 1 FROM work_orders WHERE order_id = ?) AS work_orders,
                EXISTS (SELECT 1 FROM projects WHERE order_id = ?) AS project",
        &[id.clone(), id.clone(), id],
    )?;
    let Some(r) = rows.first() else {
        return Ok(Known {
            applied: None,
            work_orders: false,
            project: false,
        });
    };
    Ok(Known {
        applied: r.opt_int("applied")?,
        work_orders: r.int("work_orders")? != 0,
        project: r.int("project")? != 0,
    })
}

/// Reconciles the order's downstream records to `demand` (see the module
/// docs). `event` is the outbox event carrying it.
///
/// Call it inside a transaction (the jobs drain's, which marks the event
/// done): on an error it returns with some records written, and the
/// caller's transaction rolls them back with everything else. (It opened a
/// SAVEPOINT of its own until issue 7's session 6: two statements per
/// order that the drain's transaction made redundant.)
pub fn apply(
    db: &impl Db,
    demand: &OrderDemand,
    event: EventId,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let known = known(db, demand.order_id)?;
    if !demand.supersedes(known.applied) {
        return Ok(Outcome::default());
    }
    let mut outcome = Outcome {
        applied: true,
        ..Outcome::default()
    };
    if demand.state != DemandState::Closed {
        work_orders_to(db, demand, known.work_orders, now, &mut outcome)?;
        project_to(db, demand, known.project, now, &mut outcome)?;
    }
    db.execute(
        "INSERT INTO downstream_orders
         (order_id, order_number, applied_version, state, demand, event_id, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (order_id) DO UPDATE SET applied_version = excluded.applied_version,
           state = excluded.state, demand = excluded.demand, event_id = excluded.event_id,
           updated_at = excluded.updated_at",
        &[
            Value::Text(demand.order_id.to_string()),
            Value::from(&demand.order_number),
            Value::Integer(demand.version),
            Value::from(demand.state.as_str()),
            crate::repo::to_json("demand", demand)?,
            Value::Text(event.to_string()),
            Value::Text(time::to_sql(now)),
        ],
    )?;
    Ok(outcome)
}

fn announce(
    db: &impl Db,
    kind: &str,
    id: String,
    change: Change,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    outbox::enqueue(
        db,
        &NewEvent {
            topic: format!("{kind}.{}", change.verb()),
            aggregate_kind: kind.to_owned(),
            aggregate_id: id,
            payload,
        },
        now,
    )?;
    Ok(())
}

fn lines_of<T>(
    demand: &OrderDemand,
    existing: impl Iterator<Item = T>,
    line: impl Fn(T) -> LineId,
) -> BTreeSet<LineId> {
    let mut set: BTreeSet<LineId> = demand.lines.iter().map(|l| l.line_id).collect();
    set.extend(existing.map(line));
    set
}

// ---- work orders ---------------------------------------------------------

fn same_work(wo: &WorkOrder, m: &ManufactureDemand, due: Option<chrono::NaiveDate>) -> bool {
    wo.quantity == m.quantity
        && wo.warehouse_id == m.warehouse_id
        && wo.work_center_id == m.work_center_id
        && wo.hours == m.hours
        && wo.start == m.start
        && wo.finish == m.finish
        && wo.schedule == m.schedule
        && wo.due_on == due
}

/// `any`: whether the order has any work order (else none is read).
fn work_orders_to(
    db: &impl Db,
    demand: &OrderDemand,
    any: bool,
    now: DateTime<Utc>,
    outcome: &mut Outcome,
) -> Result<(), StoreError> {
    let existing = if any {
        work_orders::for_order(db, demand.order_id)?
    } else {
        Vec::new()
    };
    for line in lines_of(demand, existing.iter(), |w| w.record.line_id) {
        let row = existing.iter().find(|w| w.record.line_id == line);
        let current = row
            .map(|w| &w.record)
            .filter(|w| w.status == WorkStatus::Planned);
        let wanted = demand.wanted_manufacture(line);
        let due = demand
            .lines
            .iter()
            .find(|l| l.line_id == line)
            .and_then(|l| l.due_date);
        let plan = plan_line(current, wanted, |c, w| same_work(c, w, due));
        let change = match plan {
            LinePlan::Keep => continue,
            LinePlan::Create => Change::Planned,
            LinePlan::Change => Change::Changed,
            LinePlan::Cancel => Change::Cancelled,
        };
        let mut wo = match row {
            Some(r) => r.record.clone(),
            None => {
                let series =
                    DocumentSeries::new("WO", now.year()).map_err(|e| StoreError::Corrupt {
                        entity: "document series",
                        id: "WO".into(),
                        message: e.to_string(),
                    })?;
                let product = demand
                    .lines
                    .iter()
                    .find(|l| l.line_id == line)
                    .map(|l| l.product_id)
                    .ok_or_else(|| StoreError::InvalidState {
                        entity: "work order",
                        id: line.to_string(),
                        message: "no such line".into(),
                    })?;
                let m = wanted.ok_or_else(|| StoreError::InvalidState {
                    entity: "work order",
                    id: line.to_string(),
                    message: "nothing to make".into(),
                })?;
                WorkOrder {
                    id: WorkOrderId::new(),
                    number: next_document_number(db, &series)?.to_string(),
                    order_id: demand.order_id,
                    order_number: demand.order_number.clone(),
                    line_id: line,
                    product_id: product,
                    warehouse_id: m.warehouse_id,
                    work_center_id: m.work_center_id,
                    quantity: m.quantity,
                    hours: m.hours,
                    start: m.start,
                    finish: m.finish,
                    due_on: due,
                    schedule: Vec::new(),
                    status: WorkStatus::Cancelled,
                    receipt_id: None,
                    reservation_id: None,
                }
            }
        };
        if wo.status == WorkStatus::Planned {
            undo_work(db, &mut wo, now)?;
        }
        match wanted {
            Some(m) => {
                wo.warehouse_id = m.warehouse_id;
                wo.work_center_id = m.work_center_id;
                wo.quantity = m.quantity;
                wo.hours = m.hours;
                wo.start = m.start;
                wo.finish = m.finish;
                wo.schedule = m.schedule.clone();
                wo.due_on = due;
                do_work(db, &mut wo, now)?;
                wo.status = WorkStatus::Planned;
            }
            None => wo.status = WorkStatus::Cancelled,
        }
        let saved = work_orders::save(db, &wo, now)?;
        announce(
            db,
            "work_order",
            wo.id.to_string(),
            change,
            json!({
                "id": wo.id, "number": wo.number, "order_id": wo.order_id,
                "order_number": wo.order_number, "line_id": wo.line_id,
                "product_id": wo.product_id, "quantity": wo.quantity,
                "finish": wo.finish, "status": wo.status.as_str(), "version": saved.version,
            }),
            now,
        )?;
        outcome.work_orders.push((wo.id, change));
    }
    Ok(())
}

/// Loads the work centre, schedules the receipt, pegs the units.
fn do_work(db: &impl Db, wo: &mut WorkOrder, now: DateTime<Utc>) -> Result<(), StoreError> {
    move_load(db, wo.work_center_id, &wo.schedule, true, now)?;
    let receipt = receipts::create(
        db,
        &Receipt {
            id: ReceiptId::new(),
            product: wo.product_id,
            warehouse: wo.warehouse_id,
            quantity: wo.quantity,
            due_on: wo.finish,
            reference: Some(format!("{} for {}", wo.number, wo.order_number)),
            active: true,
        },
        now,
    )?;
    wo.receipt_id = Some(receipt.record.id);
    let hold = reservations::reserve(db, &peg(wo, now)?, now)?;
    wo.reservation_id = Some(hold.record.id);
    Ok(())
}

/// Releases the peg, cancels the receipt, unloads the work centre.
fn undo_work(db: &impl Db, wo: &mut WorkOrder, now: DateTime<Utc>) -> Result<(), StoreError> {
    if let Some(id) = wo.reservation_id.take() {
        if reservations::get(db, id)?.record.status == ReservationStatus::Held {
            reservations::release(db, id, now)?;
        }
    }
    if let Some(id) = wo.receipt_id.take() {
        receipts::deactivate(db, id, now)?;
    }
    move_load(db, wo.work_center_id, &wo.schedule, false, now)?;
    Ok(())
}

/// The hold pegging a work order's output to its order line.
fn peg(wo: &WorkOrder, now: DateTime<Utc>) -> Result<Hold, StoreError> {
    let promised = wo.due_on.map_or(wo.finish, |d| d.max(wo.finish));
    Ok(Hold {
        id: ReservationId::new(),
        document: wo.number.clone(),
        status: ReservationStatus::Held,
        valid_until: None,
        rows: vec![PlannedReservation {
            line_id: wo.line_id,
            product: wo.product_id,
            warehouse: wo.warehouse_id,
            quantity: wo.quantity,
            needed_on: wo.finish,
            valid_until: None,
        }],
        promise: StoredPromise::new(OrderPromise {
            today: now.date_naive(),
            ship_policy: ShipPolicy::ShipAsAvailable,
            strategy: AllocationStrategy::Priority,
            complete: true,
            complete_by: Some(promised),
            lines: vec![LinePromise {
                line_id: wo.line_id,
                product: wo.product_id,
                kind: ProductKind::Manufactured,
                quantity: wo.quantity,
                requested_date: wo.due_on,
                status: LineStatus::Full,
                promised_quantity: wo.quantity,
                shortfall: Decimal::ZERO,
                ready_on: Some(wo.finish),
                promised_date: Some(promised),
                sources: vec![PromiseSource::WorkOrder(ProposedWorkOrder {
                    product: wo.product_id,
                    work_center: wo.work_center_id,
                    work_center_name: String::new(),
                    quantity: wo.quantity,
                    hours: wo.hours,
                    materials_ready_on: wo.start,
                    start: wo.start,
                    finish: wo.finish,
                    schedule: wo.schedule.clone(),
                })],
                explanation: format!("pegged to work order {} for {}", wo.number, wo.order_number),
            }],
        })
        .map_err(|e| DbError::Decode(format!("promise: {e}")))?,
    })
}

fn missing(field: &'static str, e: StoreError) -> StoreError {
    match e {
        StoreError::NotFound { id, .. } => StoreError::MissingReference { field, id },
        e => e,
    }
}

/// Adds (or takes back) a schedule's hours to the work centre's planned load.
fn move_load(
    db: &impl Db,
    center: WorkCenterId,
    schedule: &[DayHours],
    add: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if schedule.is_empty() {
        return Ok(());
    }
    let current = capacity::get::<WorkCenter>(db, &center.to_string())
        .map_err(|e| missing("work_center_id", e))?;
    let mut record = current.record;
    for d in schedule {
        let delta = if add { d.hours } else { -d.hours };
        match record.planned_load.iter_mut().find(|l| l.date == d.date) {
            Some(l) => l.hours += delta,
            None if add => record.planned_load.push(PlannedLoad {
                date: d.date,
                hours: d.hours,
            }),
            None => {}
        }
    }
    record.planned_load.retain(|l| l.hours > Decimal::ZERO);
    record.planned_load.sort_by_key(|l| l.date);
    capacity::update(db, &record, current.version, now)?;
    Ok(())
}

// ---- projects ------------------------------------------------------------

fn same_task(t: &ProjectTask, s: &ServiceDemand, due: Option<chrono::NaiveDate>) -> bool {
    t.hours == s.hours
        && t.role_id == s.role_id
        && t.start == s.start
        && t.finish == s.finish
        && t.schedule == s.schedule
        && t.due_on == due
}

/// `any`: whether the order has a project (else none is read).
fn project_to(
    db: &impl Db,
    demand: &OrderDemand,
    any: bool,
    now: DateTime<Utc>,
    outcome: &mut Outcome,
) -> Result<(), StoreError> {
    let existing = if any {
        projects::for_order(db, demand.order_id)?
    } else {
        None
    };
    let wants_any = demand
        .lines
        .iter()
        .any(|l| demand.wanted_service(l.line_id).is_some());
    let mut project = match existing {
        Some(p) => p.record,
        None if !wants_any => return Ok(()),
        None => {
            let series =
                DocumentSeries::new("PRJ", now.year()).map_err(|e| StoreError::Corrupt {
                    entity: "document series",
                    id: "PRJ".into(),
                    message: e.to_string(),
                })?;
            Project {
                id: ProjectId::new(),
                number: next_document_number(db, &series)?.to_string(),
                order_id: demand.order_id,
                order_number: demand.order_number.clone(),
                customer_id: demand.customer_id,
                status: WorkStatus::Cancelled,
                tasks: Vec::new(),
            }
        }
    };
    let project_change = match (project.status, wants_any) {
        (WorkStatus::Cancelled, true) => Some(Change::Planned),
        (WorkStatus::Planned, false) => Some(Change::Cancelled),
        _ => None,
    };
    project.status = if wants_any {
        WorkStatus::Planned
    } else {
        WorkStatus::Cancelled
    };
    // The project row first: tasks reference it.
    projects::save(db, &project, now)?;
    let mut task_changed = false;
    for line in lines_of(demand, project.tasks.iter(), |t| t.record.line_id) {
        let row = project.tasks.iter().find(|t| t.record.line_id == line);
        let current = row
            .map(|t| &t.record)
            .filter(|t| t.status == WorkStatus::Planned);
        let wanted = demand.wanted_service(line);
        let demand_line = demand.lines.iter().find(|l| l.line_id == line);
        let due = demand_line.and_then(|l| l.due_date);
        let change = match plan_line(current, wanted, |c, w| same_task(c, w, due)) {
            LinePlan::Keep => continue,
            LinePlan::Create => Change::Planned,
            LinePlan::Change => Change::Changed,
            LinePlan::Cancel => Change::Cancelled,
        };
        let mut task = match (row, wanted, demand_line) {
            (Some(r), _, _) => r.record.clone(),
            (None, Some(s), Some(l)) => ProjectTask {
                id: ProjectTaskId::new(),
                project_id: project.id,
                line_id: line,
                product_id: l.product_id,
                role_id: s.role_id,
                hours: s.hours,
                start: s.start,
                finish: s.finish,
                due_on: due,
                schedule: Vec::new(),
                status: WorkStatus::Cancelled,
                booked: false,
            },
            _ => continue,
        };
        if task.status == WorkStatus::Planned && task.booked {
            book(db, task.role_id, &task, false, now)?;
            task.booked = false;
        }
        match wanted {
            Some(s) => {
                task.role_id = s.role_id;
                task.hours = s.hours;
                task.start = s.start;
                task.finish = s.finish;
                task.schedule = s.schedule.clone();
                task.due_on = due;
                book(db, task.role_id, &task, true, now)?;
                task.booked = true;
                task.status = WorkStatus::Planned;
            }
            None => task.status = WorkStatus::Cancelled,
        }
        projects::save_task(db, &task, now)?;
        outcome.tasks.push((task.id, change));
        task_changed = true;
    }
    let change = project_change.or(task_changed.then_some(Change::Changed));
    if let Some(change) = change {
        if project_change.is_none() {
            // Tasks changed under a project that stays: bump its version.
            projects::save(db, &project, now)?;
        }
        announce(
            db,
            "project",
            project.id.to_string(),
            change,
            json!({
                "id": project.id, "number": project.number, "order_id": project.order_id,
                "order_number": project.order_number, "status": project.status.as_str(),
            }),
            now,
        )?;
        outcome.project = Some((project.id, change));
    }
    Ok(())
}

/// Books (or unbooks) a task's hours on its role.
fn book(
    db: &impl Db,
    role: ProjectRoleId,
    task: &ProjectTask,
    add: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let current =
        capacity::get::<ProjectRole>(db, &role.to_string()).map_err(|e| missing("role_id", e))?;
    let mut record = current.record;
    let spec = BookingSpec {
        from: task.start,
        to: task.finish,
        hours: task.hours,
    };
    if add {
        record.bookings.push(spec);
    } else if let Some(i) = record.bookings.iter().position(|b| *b == spec) {
        record.bookings.remove(i);
    } else {
        return Ok(());
    }
    capacity::update(db, &record, current.version, now)?;
    Ok(())
}
