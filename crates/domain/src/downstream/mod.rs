//! Downstream work of a sales order: what the jobs component must make
//! exist after an order changes — work orders for the units to be
//! manufactured, a project with one task per service line — and the
//! snapshot ([`OrderDemand`]) every `order.*` event that changes that work
//! carries in its payload.
//!
//! The jobs component *reconciles*: it brings the downstream records to the
//! newest snapshot per order and ignores snapshots of older order versions,
//! so confirm, amend, reduce and cancel are one idempotent code path
//! ([`plan_line`] says what to do with one line).
//!
//! What it deliberately does not do: decide quantities. The orchestrator
//! nets free stock when it promises the order (availability's `work_order`
//! source is the shortfall, `project_slot` the service booking) and puts the
//! result here; this module only carries and compares it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::availability::{
    DayHours, LinePromise, ProjectRoleId, PromiseSource, ProposedBooking, ProposedWorkOrder,
    WorkCenterId,
};
use crate::ids::{CustomerId, LineId, OrderId, ProductId, WarehouseId};

#[cfg(test)]
mod tests;

crate::define_id!(WorkOrderId, "work order");
crate::define_id!(ProjectId, "project");
crate::define_id!(ProjectTaskId, "project task");
crate::define_id!(NotificationId, "notification");

/// A downstream record's state: planned work, or cancelled by
/// compensation (kept for the audit trail; a later amendment that wants
/// the work again plans the same record again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkStatus {
    Planned,
    Cancelled,
}

impl WorkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkStatus::Planned => "planned",
            WorkStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<WorkStatus> {
        match text {
            "planned" => Some(WorkStatus::Planned),
            "cancelled" => Some(WorkStatus::Cancelled),
            _ => None,
        }
    }
}

/// Whether an order still wants its downstream work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandState {
    /// Confirmed (or further): the work should exist as the lines say.
    Active,
    /// Cancelled: every downstream record is cancelled (compensation).
    Cancelled,
    /// Closed: nothing new is created and nothing is undone; the records
    /// stay as they are (ERPNext leaves a closed order's work orders).
    Closed,
}

impl DemandState {
    pub fn as_str(self) -> &'static str {
        match self {
            DemandState::Active => "active",
            DemandState::Cancelled => "cancelled",
            DemandState::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<DemandState> {
        match text {
            "active" => Some(DemandState::Active),
            "cancelled" => Some(DemandState::Cancelled),
            "closed" => Some(DemandState::Closed),
            _ => None,
        }
    }
}

/// The units of a line to be manufactured: availability's `work_order`
/// source (the shortfall after netting free stock), with where the units
/// arrive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManufactureDemand {
    pub quantity: Decimal,
    /// The warehouse the finished units are received into.
    pub warehouse_id: WarehouseId,
    pub work_center_id: WorkCenterId,
    /// Production hours on the work centre.
    pub hours: Decimal,
    pub start: NaiveDate,
    pub finish: NaiveDate,
    /// The hours per day the work centre is loaded with.
    #[serde(default)]
    pub schedule: Vec<DayHours>,
}

impl ManufactureDemand {
    /// From the promise engine's proposal.
    pub fn from_proposal(wo: &ProposedWorkOrder, warehouse_id: WarehouseId) -> ManufactureDemand {
        ManufactureDemand {
            quantity: wo.quantity,
            warehouse_id,
            work_center_id: wo.work_center,
            hours: wo.hours,
            start: wo.start,
            finish: wo.finish,
            schedule: wo.schedule.clone(),
        }
    }
}

/// The hours of a service line: availability's `project_slot` source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDemand {
    pub hours: Decimal,
    pub role_id: ProjectRoleId,
    pub start: NaiveDate,
    pub finish: NaiveDate,
    #[serde(default)]
    pub schedule: Vec<DayHours>,
}

impl ServiceDemand {
    pub fn from_booking(b: &ProposedBooking) -> ServiceDemand {
        ServiceDemand {
            hours: b.hours,
            role_id: b.role,
            start: b.start,
            finish: b.finish,
            schedule: b.schedule.clone(),
        }
    }
}

/// One order line's downstream demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineDemand {
    pub line_id: LineId,
    pub product_id: ProductId,
    /// The date the customer was promised (or asked for).
    pub due_date: Option<NaiveDate>,
    /// Units to make, if any.
    #[serde(default)]
    pub manufacture: Option<ManufactureDemand>,
    /// Service hours, if the line is a service.
    #[serde(default)]
    pub service: Option<ServiceDemand>,
}

impl LineDemand {
    /// The demand a line's promise implies: its work-order sources (summed
    /// into one work order: quantity and hours added, earliest start, latest
    /// finish, load merged per day — the engine proposes at most one per
    /// line) received into `warehouse_id`, and its project slot.
    pub fn from_promise(line: &LinePromise, warehouse_id: WarehouseId) -> LineDemand {
        let mut manufacture: Option<ManufactureDemand> = None;
        let mut service = None;
        for source in &line.sources {
            match source {
                PromiseSource::WorkOrder(wo) => {
                    let next = ManufactureDemand::from_proposal(wo, warehouse_id);
                    manufacture = Some(match manufacture {
                        None => next,
                        Some(m) => merge(m, next),
                    });
                }
                PromiseSource::ProjectSlot(b) => service = Some(ServiceDemand::from_booking(b)),
                PromiseSource::Stock(_) => {}
            }
        }
        LineDemand {
            line_id: line.line_id,
            product_id: line.product,
            due_date: line.promised_date.or(line.requested_date),
            manufacture,
            service,
        }
    }
}

fn merge(a: ManufactureDemand, b: ManufactureDemand) -> ManufactureDemand {
    let mut schedule = a.schedule;
    for d in b.schedule {
        match schedule.iter_mut().find(|x| x.date == d.date) {
            Some(x) => x.hours += d.hours,
            None => schedule.push(d),
        }
    }
    schedule.sort_by_key(|d| d.date);
    ManufactureDemand {
        quantity: a.quantity + b.quantity,
        warehouse_id: a.warehouse_id,
        work_center_id: a.work_center_id,
        hours: a.hours + b.hours,
        start: a.start.min(b.start),
        finish: a.finish.max(b.finish),
        schedule,
    }
}

/// An order's downstream demand at one order version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDemand {
    pub order_id: OrderId,
    pub order_number: String,
    /// The order's version; a snapshot older than the one applied is ignored.
    pub version: i64,
    pub customer_id: CustomerId,
    pub state: DemandState,
    pub lines: Vec<LineDemand>,
}

impl OrderDemand {
    /// The manufacture demand per line, as wanted now (none unless active).
    pub fn wanted_manufacture(&self, line: LineId) -> Option<&ManufactureDemand> {
        if self.state != DemandState::Active {
            return None;
        }
        self.lines
            .iter()
            .find(|l| l.line_id == line)
            .and_then(|l| l.manufacture.as_ref())
            .filter(|m| m.quantity > Decimal::ZERO)
    }

    /// The service demand per line, as wanted now (none unless active).
    pub fn wanted_service(&self, line: LineId) -> Option<&ServiceDemand> {
        if self.state != DemandState::Active {
            return None;
        }
        self.lines
            .iter()
            .find(|l| l.line_id == line)
            .and_then(|l| l.service.as_ref())
            .filter(|s| s.hours > Decimal::ZERO)
    }

    /// Whether a snapshot at `version` should be applied when `applied` is
    /// the version already applied (if any): only newer ones are.
    pub fn supersedes(&self, applied: Option<i64>) -> bool {
        applied.is_none_or(|a| self.version > a)
    }
}

/// What reconciliation does with one downstream record of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinePlan {
    /// Nothing exists and nothing is wanted, or what exists is what is wanted.
    Keep,
    /// Nothing (active) exists; create it.
    Create,
    /// It exists but differs (quantity, hours or dates); replace its effects.
    Change,
    /// It exists and is no longer wanted; cancel it and undo its effects.
    Cancel,
}

/// Compares what exists (`current`, active records only) with what is
/// wanted; `same` says whether the two are equal in everything that
/// matters.
pub fn plan_line<A, B>(
    current: Option<&A>,
    wanted: Option<&B>,
    same: impl FnOnce(&A, &B) -> bool,
) -> LinePlan {
    match (current, wanted) {
        (None, None) => LinePlan::Keep,
        (None, Some(_)) => LinePlan::Create,
        (Some(_), None) => LinePlan::Cancel,
        (Some(c), Some(w)) => {
            if same(c, w) {
                LinePlan::Keep
            } else {
                LinePlan::Change
            }
        }
    }
}
