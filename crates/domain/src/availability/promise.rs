//! The promise: for each line of an order, when it can be delivered, from
//! where, and why — and for the order, when everything can ship.
//!
//! [`promise`] serves the lines in request order against one shared view
//! of stock, work-centre load and role bookings, so two lines never count
//! on the same unit or hour. Per line, by the product's kind:
//!
//! - **stocked**: allocated from the channel's warehouses
//!   ([`super::allocation`]) for the needed date;
//! - **manufactured**: free stock on the needed date is taken first, and
//!   only the shortfall becomes a proposed work order ([`super::ctp`]);
//! - **service**: the hours sold become a proposed booking on the role
//!   that delivers the product ([`super::projects`]), starting no earlier
//!   than the needed date.
//!
//! The needed date is the requested date, or today when none was given.
//! The promised date is the day the promised quantity is ready, but never
//! before today and never before the requested date. Under ship complete
//! every line is promised for the order's date (the latest line), and when
//! any line falls short the order has no promised date at all. What cannot
//! be served (no stock, no routing, no capacity within the horizon) is a
//! shortfall with its reason in the line's explanation, not an error:
//! errors are for input that is wrong.
//!
//! Serving is greedy: an earlier line is never re-planned to leave a
//! better source for a later one. For one line, more stock never makes the
//! promise later or smaller (a property test); across lines it can, when
//! the extra stock makes an earlier line pick another warehouse — the test
//! `more_stock_can_delay_a_later_line_because_lines_are_served_greedily`
//! pins that behaviour down.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::allocation::{
    allocate, allocate_on, AllocationPlan, AllocationStrategy, ShipPolicy, StockView,
    WarehouseAllocation,
};
use super::atp::{StockError, StockPicture, StockPictureSpec};
use super::ctp::{
    plan_work_order, CtpError, ProposedWorkOrder, Routing, RoutingSpec, WorkCenter, WorkCenterId,
    WorkCenterSpec,
};
use super::projects::{
    plan_booking, ProjectError, ProjectRole, ProjectRoleId, ProjectRoleSpec, ProposedBooking,
    Service, ServiceSpec,
};
use super::{check_quantity, qty, QuantityIssue};
use crate::catalog::ProductKind;
use crate::ids::{LineId, ProductId, WarehouseId};

/// The most lines one check may carry.
pub const MAX_LINES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PromiseError {
    #[error("stock: {0}")]
    Stock(#[from] StockError),
    #[error("work_centers[{index}]: {source}")]
    WorkCenter { index: usize, source: CtpError },
    #[error("routings[{index}]: {source}")]
    Routing { index: usize, source: CtpError },
    #[error("roles[{index}]: {source}")]
    Role { index: usize, source: ProjectError },
    #[error("services[{index}]: {source}")]
    Service { index: usize, source: ProjectError },
    #[error("work centre {0} is listed twice")]
    DuplicateWorkCenter(WorkCenterId),
    #[error("product {0} has two routings")]
    DuplicateRouting(ProductId),
    #[error("routing of product {product} names unknown work centre {work_center}")]
    UnknownWorkCenter {
        product: ProductId,
        work_center: WorkCenterId,
    },
    #[error("project role {0} is listed twice")]
    DuplicateRole(ProjectRoleId),
    #[error("service product {0} is listed twice")]
    DuplicateService(ProductId),
    #[error("service product {product} names unknown project role {role}")]
    UnknownRole {
        product: ProductId,
        role: ProjectRoleId,
    },
    #[error("lines: at least one line is needed")]
    NoLines,
    #[error("lines: at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("lines[{index}].line_id: line {line} is listed twice")]
    DuplicateLine { index: usize, line: LineId },
    #[error("{field}: {issue} (got {value})")]
    InvalidQuantity {
        field: String,
        value: Decimal,
        issue: QuantityIssue,
    },
    #[error("{field}: {requested} is before today ({today})")]
    RequestedDateInPast {
        field: String,
        requested: NaiveDate,
        today: NaiveDate,
    },
    #[error("warehouses[{index}]: warehouse {warehouse} is listed twice")]
    DuplicateWarehouse {
        index: usize,
        warehouse: WarehouseId,
    },
}

/// Everything a check reads: the stock of the products on the order, the
/// work centres and routings of manufactured ones, the roles and service
/// definitions of service ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromiseContextSpec {
    pub stock: StockPictureSpec,
    #[serde(default)]
    pub work_centers: Vec<WorkCenterSpec>,
    #[serde(default)]
    pub routings: Vec<RoutingSpec>,
    #[serde(default)]
    pub roles: Vec<ProjectRoleSpec>,
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
}

/// The validated context. Invariants: ids are unique, every routing names
/// a known work centre and every service a known role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "PromiseContextSpec")]
pub struct PromiseContext {
    stock: StockPicture,
    work_centers: BTreeMap<WorkCenterId, WorkCenter>,
    routings: BTreeMap<ProductId, Routing>,
    roles: BTreeMap<ProjectRoleId, ProjectRole>,
    services: BTreeMap<ProductId, Service>,
}

impl PromiseContext {
    pub fn new(spec: PromiseContextSpec) -> Result<PromiseContext, PromiseError> {
        let stock = StockPicture::new(spec.stock)?;
        let mut work_centers = Vec::with_capacity(spec.work_centers.len());
        for (index, w) in spec.work_centers.into_iter().enumerate() {
            work_centers.push(
                WorkCenter::new(w).map_err(|source| PromiseError::WorkCenter { index, source })?,
            );
        }
        let mut routings = Vec::with_capacity(spec.routings.len());
        for (index, r) in spec.routings.into_iter().enumerate() {
            routings
                .push(Routing::new(r).map_err(|source| PromiseError::Routing { index, source })?);
        }
        let mut roles = Vec::with_capacity(spec.roles.len());
        for (index, r) in spec.roles.into_iter().enumerate() {
            roles.push(ProjectRole::new(r).map_err(|source| PromiseError::Role { index, source })?);
        }
        let mut services = Vec::with_capacity(spec.services.len());
        for (index, s) in spec.services.into_iter().enumerate() {
            services
                .push(Service::new(s).map_err(|source| PromiseError::Service { index, source })?);
        }
        PromiseContext::from_parts(stock, work_centers, routings, roles, services)
    }

    /// Assembles a context from validated parts, checking the references.
    pub fn from_parts(
        stock: StockPicture,
        work_centers: Vec<WorkCenter>,
        routings: Vec<Routing>,
        roles: Vec<ProjectRole>,
        services: Vec<Service>,
    ) -> Result<PromiseContext, PromiseError> {
        let mut ctx = PromiseContext {
            stock,
            work_centers: BTreeMap::new(),
            routings: BTreeMap::new(),
            roles: BTreeMap::new(),
            services: BTreeMap::new(),
        };
        for w in work_centers {
            let id = w.id();
            if ctx.work_centers.insert(id, w).is_some() {
                return Err(PromiseError::DuplicateWorkCenter(id));
            }
        }
        for r in routings {
            if !ctx.work_centers.contains_key(&r.work_center()) {
                return Err(PromiseError::UnknownWorkCenter {
                    product: r.product(),
                    work_center: r.work_center(),
                });
            }
            let product = r.product();
            if ctx.routings.insert(product, r).is_some() {
                return Err(PromiseError::DuplicateRouting(product));
            }
        }
        for r in roles {
            let id = r.id();
            if ctx.roles.insert(id, r).is_some() {
                return Err(PromiseError::DuplicateRole(id));
            }
        }
        for s in services {
            if !ctx.roles.contains_key(&s.role()) {
                return Err(PromiseError::UnknownRole {
                    product: s.product(),
                    role: s.role(),
                });
            }
            let product = s.product();
            if ctx.services.insert(product, s).is_some() {
                return Err(PromiseError::DuplicateService(product));
            }
        }
        Ok(ctx)
    }

    pub fn stock(&self) -> &StockPicture {
        &self.stock
    }
    pub fn work_center(&self, id: WorkCenterId) -> Option<&WorkCenter> {
        self.work_centers.get(&id)
    }
    pub fn routing(&self, product: ProductId) -> Option<&Routing> {
        self.routings.get(&product)
    }
    pub fn role(&self, id: ProjectRoleId) -> Option<&ProjectRole> {
        self.roles.get(&id)
    }
    pub fn service(&self, product: ProductId) -> Option<&Service> {
        self.services.get(&product)
    }
}

impl TryFrom<PromiseContextSpec> for PromiseContext {
    type Error = PromiseError;
    fn try_from(spec: PromiseContextSpec) -> Result<Self, Self::Error> {
        PromiseContext::new(spec)
    }
}

/// One line to promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromiseLine {
    pub line_id: LineId,
    pub product: ProductId,
    /// The product's kind from the catalog.
    pub kind: ProductKind,
    pub quantity: Decimal,
    /// When the customer wants it; `None` means as soon as possible.
    #[serde(default)]
    pub requested_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromiseRequestSpec {
    pub today: NaiveDate,
    /// The channel's warehouses, first preferred.
    pub warehouses: Vec<WarehouseId>,
    pub strategy: AllocationStrategy,
    pub ship_policy: ShipPolicy,
    pub lines: Vec<PromiseLine>,
}

/// A validated check. Invariants: 1 to [`MAX_LINES`] lines with distinct
/// ids and positive quantities; no requested date before today; no
/// warehouse listed twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PromiseRequestSpec", into = "PromiseRequestSpec")]
pub struct PromiseRequest {
    today: NaiveDate,
    warehouses: Vec<WarehouseId>,
    strategy: AllocationStrategy,
    ship_policy: ShipPolicy,
    lines: Vec<PromiseLine>,
}

impl PromiseRequest {
    pub fn new(spec: PromiseRequestSpec) -> Result<PromiseRequest, PromiseError> {
        if spec.lines.is_empty() {
            return Err(PromiseError::NoLines);
        }
        if spec.lines.len() > MAX_LINES {
            return Err(PromiseError::TooManyLines);
        }
        let mut seen = BTreeSet::new();
        for (index, w) in spec.warehouses.iter().enumerate() {
            if !seen.insert(*w) {
                return Err(PromiseError::DuplicateWarehouse {
                    index,
                    warehouse: *w,
                });
            }
        }
        let mut ids = BTreeSet::new();
        let mut lines = spec.lines;
        for (index, line) in lines.iter_mut().enumerate() {
            if !ids.insert(line.line_id) {
                return Err(PromiseError::DuplicateLine {
                    index,
                    line: line.line_id,
                });
            }
            line.quantity = check_quantity(line.quantity, false).map_err(|issue| {
                PromiseError::InvalidQuantity {
                    field: format!("lines[{index}].quantity"),
                    value: line.quantity,
                    issue,
                }
            })?;
            if let Some(requested) = line.requested_date {
                if requested < spec.today {
                    return Err(PromiseError::RequestedDateInPast {
                        field: format!("lines[{index}].requested_date"),
                        requested,
                        today: spec.today,
                    });
                }
            }
        }
        Ok(PromiseRequest {
            today: spec.today,
            warehouses: spec.warehouses,
            strategy: spec.strategy,
            ship_policy: spec.ship_policy,
            lines,
        })
    }

    pub fn today(&self) -> NaiveDate {
        self.today
    }
    pub fn warehouses(&self) -> &[WarehouseId] {
        &self.warehouses
    }
    pub fn strategy(&self) -> AllocationStrategy {
        self.strategy
    }
    pub fn ship_policy(&self) -> ShipPolicy {
        self.ship_policy
    }
    pub fn lines(&self) -> &[PromiseLine] {
        &self.lines
    }
}

impl TryFrom<PromiseRequestSpec> for PromiseRequest {
    type Error = PromiseError;
    fn try_from(spec: PromiseRequestSpec) -> Result<Self, Self::Error> {
        PromiseRequest::new(spec)
    }
}

impl From<PromiseRequest> for PromiseRequestSpec {
    fn from(r: PromiseRequest) -> Self {
        PromiseRequestSpec {
            today: r.today,
            warehouses: r.warehouses,
            strategy: r.strategy,
            ship_policy: r.ship_policy,
            lines: r.lines,
        }
    }
}

/// Where (part of) a line comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromiseSource {
    Stock(WarehouseAllocation),
    WorkOrder(ProposedWorkOrder),
    ProjectSlot(ProposedBooking),
}

impl PromiseSource {
    /// The units this source contributes to the line (a booking delivers
    /// the whole line).
    fn quantity(&self, line_quantity: Decimal) -> Decimal {
        match self {
            PromiseSource::Stock(a) => a.quantity,
            PromiseSource::WorkOrder(w) => w.quantity,
            PromiseSource::ProjectSlot(_) => line_quantity,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// All of the quantity is promised.
    Full,
    /// Some of it.
    Partial,
    /// None of it.
    Unavailable,
}

/// One line's promise. `promised_quantity + shortfall = quantity`; the
/// sources add up to `promised_quantity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinePromise {
    pub line_id: LineId,
    pub product: ProductId,
    pub kind: ProductKind,
    pub quantity: Decimal,
    pub requested_date: Option<NaiveDate>,
    pub status: LineStatus,
    pub promised_quantity: Decimal,
    pub shortfall: Decimal,
    /// When the promised quantity is ready (the latest source).
    pub ready_on: Option<NaiveDate>,
    /// The date told to the customer: `ready_on`, never before today or
    /// the requested date; under ship complete, the order's date. `None`
    /// when nothing can be promised (or a ship-complete order cannot ship
    /// complete).
    pub promised_date: Option<NaiveDate>,
    pub sources: Vec<PromiseSource>,
    pub explanation: String,
}

/// The promise for a whole check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPromise {
    pub today: NaiveDate,
    pub ship_policy: ShipPolicy,
    pub strategy: AllocationStrategy,
    /// Whether every line is promised in full.
    pub complete: bool,
    /// The date by which everything can ship (the latest line's promised
    /// date), when every line is promised in full.
    pub complete_by: Option<NaiveDate>,
    /// In request order.
    pub lines: Vec<LinePromise>,
}

/// Proposed load per work centre and role, by day, from earlier lines.
#[derive(Default)]
struct Load {
    work_centers: BTreeMap<WorkCenterId, BTreeMap<NaiveDate, Decimal>>,
    roles: BTreeMap<ProjectRoleId, BTreeMap<NaiveDate, Decimal>>,
}

fn add_load(into: &mut BTreeMap<NaiveDate, Decimal>, days: &[super::calendar::DayHours]) {
    for d in days {
        *into.entry(d.date).or_default() += d.hours;
    }
}

/// What serving one line produced before dates are settled.
struct Served {
    sources: Vec<PromiseSource>,
    promised_quantity: Decimal,
    ready_on: Option<NaiveDate>,
    notes: Vec<String>,
}

fn stock_note(plan: &AllocationPlan, need: NaiveDate) -> Option<String> {
    if plan.allocated.is_zero() {
        return None;
    }
    let n = plan.warehouse_count();
    let mut note = format!(
        "{} from stock in {n} warehouse{}",
        qty(plan.allocated),
        if n == 1 { "" } else { "s" }
    );
    if let Some(ready) = plan.ready_on().filter(|r| *r > need) {
        note.push_str(&format!(" as receipts arrive by {ready}"));
    }
    Some(note)
}

fn stock_sources(plan: AllocationPlan) -> Vec<PromiseSource> {
    plan.allocations
        .into_iter()
        .map(PromiseSource::Stock)
        .collect()
}

fn serve_stocked(
    view: &mut StockView<'_>,
    req: &PromiseRequest,
    line: &PromiseLine,
    need: NaiveDate,
) -> Served {
    let plan = allocate(
        view,
        line.product,
        line.quantity,
        need,
        &req.warehouses,
        req.strategy,
        req.ship_policy,
    );
    let mut notes: Vec<String> = stock_note(&plan, need).into_iter().collect();
    if req.warehouses.is_empty() {
        notes.push("the channel lists no warehouses".into());
    }
    Served {
        promised_quantity: plan.allocated,
        ready_on: plan.ready_on(),
        sources: stock_sources(plan),
        notes,
    }
}

fn serve_manufactured(
    ctx: &PromiseContext,
    view: &mut StockView<'_>,
    load: &mut Load,
    req: &PromiseRequest,
    line: &PromiseLine,
    need: NaiveDate,
) -> Served {
    // Free stock first: only the shortfall is made.
    let plan = allocate_on(
        view,
        line.product,
        line.quantity,
        need,
        &req.warehouses,
        req.strategy,
    );
    let mut notes: Vec<String> = stock_note(&plan, need).into_iter().collect();
    let mut promised_quantity = plan.allocated;
    let mut ready_on = plan.ready_on();
    let to_make = plan.shortfall;
    let mut sources = stock_sources(plan);
    if to_make > Decimal::ZERO {
        let routing = ctx.routing(line.product);
        let center = routing.and_then(|r| ctx.work_center(r.work_center()));
        match (routing, center) {
            (Some(routing), Some(center)) => {
                let extra = load.work_centers.entry(center.id()).or_default();
                match plan_work_order(center, routing, to_make, req.today, extra) {
                    Ok(wo) => {
                        add_load(extra, &wo.schedule);
                        notes.push(format!(
                            "{} made on {} from {} to {}",
                            qty(wo.quantity),
                            wo.work_center_name,
                            wo.start,
                            wo.finish
                        ));
                        promised_quantity += wo.quantity;
                        ready_on = ready_on.max(Some(wo.finish));
                        sources.push(PromiseSource::WorkOrder(wo));
                    }
                    Err(e) => notes.push(format!("{} cannot be made: {e}", qty(to_make))),
                }
            }
            _ => notes.push(format!("{} cannot be made: no routing", qty(to_make))),
        }
    }
    Served {
        sources,
        promised_quantity,
        ready_on,
        notes,
    }
}

fn serve_service(
    ctx: &PromiseContext,
    load: &mut Load,
    line: &PromiseLine,
    need: NaiveDate,
) -> Served {
    let unserved = |note: String| Served {
        sources: Vec::new(),
        promised_quantity: Decimal::ZERO,
        ready_on: None,
        notes: vec![note],
    };
    let Some(service) = ctx.service(line.product) else {
        return unserved("no project role delivers this service".into());
    };
    let Some(role) = ctx.role(service.role()) else {
        return unserved("no project role delivers this service".into());
    };
    let hours = match service.hours_for(line.quantity) {
        Ok(h) => h,
        Err(e) => return unserved(format!("cannot be booked: {e}")),
    };
    let extra = load.roles.entry(role.id()).or_default();
    match plan_booking(role, hours, need, extra) {
        Ok(booking) => {
            add_load(extra, &booking.schedule);
            let note = format!(
                "{} h of {} from {} to {}",
                qty(booking.hours),
                booking.role_name,
                booking.start,
                booking.finish
            );
            Served {
                promised_quantity: line.quantity,
                ready_on: Some(booking.finish),
                sources: vec![PromiseSource::ProjectSlot(booking)],
                notes: vec![note],
            }
        }
        Err(e) => unserved(format!("cannot be booked: {e}")),
    }
}

/// Promises every line of `request` against `ctx`. Deterministic: the same
/// context and request give the same promise.
pub fn promise(ctx: &PromiseContext, request: &PromiseRequest) -> OrderPromise {
    let today = request.today;
    let mut view = StockView::new(&ctx.stock, today);
    let mut load = Load::default();
    let mut lines = Vec::with_capacity(request.lines.len());
    for line in &request.lines {
        let need = line.requested_date.unwrap_or(today).max(today);
        let served = match line.kind {
            ProductKind::Stocked => serve_stocked(&mut view, request, line, need),
            ProductKind::Manufactured => {
                serve_manufactured(ctx, &mut view, &mut load, request, line, need)
            }
            ProductKind::Service => serve_service(ctx, &mut load, line, need),
        };
        let shortfall = line.quantity - served.promised_quantity;
        let status = if shortfall.is_zero() {
            LineStatus::Full
        } else if served.promised_quantity.is_zero() {
            LineStatus::Unavailable
        } else {
            LineStatus::Partial
        };
        let mut notes = served.notes;
        if !shortfall.is_zero() {
            notes.push(format!(
                "{} of {} short",
                qty(shortfall),
                qty(line.quantity)
            ));
        }
        let promised_date = served.ready_on.map(|r| r.max(need));
        lines.push(LinePromise {
            line_id: line.line_id,
            product: line.product,
            kind: line.kind,
            quantity: line.quantity,
            requested_date: line.requested_date,
            status,
            promised_quantity: served.promised_quantity,
            shortfall,
            ready_on: served.ready_on,
            promised_date,
            sources: served.sources,
            explanation: notes.join("; "),
        });
    }
    let complete = lines.iter().all(|l| l.status == LineStatus::Full);
    let complete_by = if complete {
        lines.iter().filter_map(|l| l.promised_date).max()
    } else {
        None
    };
    for l in &mut lines {
        let tail = match request.ship_policy {
            ShipPolicy::ShipAsAvailable => l.promised_date.map(|p| promised_note(p, l)),
            ShipPolicy::ShipComplete => {
                l.promised_date = complete_by;
                Some(match complete_by {
                    Some(date) => format!("ships complete with the order on {date}"),
                    None => "the order cannot ship complete".into(),
                })
            }
        };
        if let Some(tail) = tail {
            if !l.explanation.is_empty() {
                l.explanation.push_str("; ");
            }
            l.explanation.push_str(&tail);
        }
    }
    OrderPromise {
        today,
        ship_policy: request.ship_policy,
        strategy: request.strategy,
        complete,
        complete_by,
        lines,
    }
}

fn promised_note(date: NaiveDate, line: &LinePromise) -> String {
    if line.ready_on.is_some_and(|r| r < date) {
        format!("promised {date} as requested")
    } else {
        format!("promised {date}")
    }
}

impl LinePromise {
    /// The units the sources add up to (equals `promised_quantity`).
    pub fn sourced_quantity(&self) -> Decimal {
        self.sources.iter().map(|s| s.quantity(self.quantity)).sum()
    }
}

#[cfg(test)]
#[path = "promise_tests.rs"]
pub(crate) mod tests;
