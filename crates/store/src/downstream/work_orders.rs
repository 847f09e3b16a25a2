//! Work orders: real planned production for an order line's shortfall, one
//! per order line (a cancelled one is planned again if an amendment wants
//! the units back). Written by [`super::reconcile`] only; read by the API.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{DayHours, WorkCenterId};
use sales_domain::downstream::{WorkOrderId, WorkStatus};
use sales_domain::ids::{LineId, OrderId, ProductId, ReceiptId, ReservationId, WarehouseId};

use super::{corrupt, decimal, schedule};
use crate::availability::{date, milli, qty};
use crate::db::{Db, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{to_json, Where};
use crate::visibility::Visibility;
use crate::{time, StoreError};

const ENTITY: &str = "work order";
const LIST: &str = "work_orders";
const COLUMNS: &str = "id, number, order_id, order_number, line_id, product_id, warehouse_id,
    work_center_id, quantity_milli, hours, start_on, finish_on, due_on, schedule, status,
    receipt_id, reservation_id, version, created_at, updated_at";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOrder {
    pub id: WorkOrderId,
    /// `WO-2026-00001`.
    pub number: String,
    pub order_id: OrderId,
    pub order_number: String,
    pub line_id: LineId,
    pub product_id: ProductId,
    /// Where the finished units are received.
    pub warehouse_id: WarehouseId,
    pub work_center_id: WorkCenterId,
    pub quantity: Decimal,
    pub hours: Decimal,
    pub start: NaiveDate,
    pub finish: NaiveDate,
    /// The order line's due date.
    pub due_on: Option<NaiveDate>,
    /// The load it puts on the work centre, per day.
    pub schedule: Vec<DayHours>,
    pub status: WorkStatus,
    /// The scheduled receipt of its output (while planned).
    pub receipt_id: Option<ReceiptId>,
    /// The hold pegging its output to the order (while planned).
    pub reservation_id: Option<ReservationId>,
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkOrderFilter {
    pub status: Option<WorkStatus>,
    pub order_id: Option<OrderId>,
    pub product_id: Option<ProductId>,
}

fn decode(row: Row<'_>) -> Result<Versioned<WorkOrder>, StoreError> {
    let id = row.text("id")?;
    let bad = |e: sales_domain::ids::IdError| corrupt(ENTITY, id, e);
    let opt =
        |c: &str| -> Result<Option<String>, StoreError> { Ok(row.opt_text(c)?.map(str::to_owned)) };
    Ok(Versioned {
        record: WorkOrder {
            id: WorkOrderId::parse(id).map_err(bad)?,
            number: row.text("number")?.to_owned(),
            order_id: OrderId::parse(row.text("order_id")?).map_err(bad)?,
            order_number: row.text("order_number")?.to_owned(),
            line_id: LineId::parse(row.text("line_id")?).map_err(bad)?,
            product_id: ProductId::parse(row.text("product_id")?).map_err(bad)?,
            warehouse_id: WarehouseId::parse(row.text("warehouse_id")?).map_err(bad)?,
            work_center_id: WorkCenterId::parse(row.text("work_center_id")?).map_err(bad)?,
            quantity: qty(row.int("quantity_milli")?),
            hours: decimal(row.text("hours")?)?,
            start: date(row.text("start_on")?)?,
            finish: date(row.text("finish_on")?)?,
            due_on: row.opt_text("due_on")?.map(date).transpose()?,
            schedule: schedule(row.text("schedule")?)?,
            status: WorkStatus::parse(row.text("status")?)
                .ok_or_else(|| corrupt(ENTITY, id, "unknown status"))?,
            receipt_id: opt("receipt_id")?
                .map(|t| ReceiptId::parse(&t))
                .transpose()
                .map_err(bad)?,
            reservation_id: opt("reservation_id")?
                .map(|t| ReservationId::parse(&t))
                .transpose()
                .map_err(bad)?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

pub fn get(db: &impl Db, id: WorkOrderId) -> Result<Versioned<WorkOrder>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM work_orders WHERE id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity: ENTITY,
            id: id.to_string(),
        }),
    }
}

/// Every work order of an order (any status), by line.
pub fn for_order(db: &impl Db, order: OrderId) -> Result<Vec<Versioned<WorkOrder>>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM work_orders WHERE order_id = ? ORDER BY id"),
        &[Value::Text(order.to_string())],
    )?;
    rows.iter().map(decode).collect()
}

pub fn list(
    db: &impl Db,
    filter: &WorkOrderFilter,
    page: &Page,
) -> Result<Listed<WorkOrder>, StoreError> {
    list_visible(db, filter, page, &Visibility::All)
}

/// [`list`] within what `visible` lets the caller see: the rows of the
/// orders it sees (`Visibility::of_order`), filtered in SQL so pages stay
/// full.
pub fn list_visible(
    db: &impl Db,
    filter: &WorkOrderFilter,
    page: &Page,
    visible: &Visibility,
) -> Result<Listed<WorkOrder>, StoreError> {
    let mut w = Where::default();
    if let Some((clause, params)) = visible.of_order("work_orders.order_id") {
        w.and(&clause, params);
    }
    if let Some(s) = filter.status {
        w.and("status = ?", [Value::from(s.as_str())]);
    }
    if let Some(o) = filter.order_id {
        w.and("order_id = ?", [Value::Text(o.to_string())]);
    }
    if let Some(p) = filter.product_id {
        w.and("product_id = ?", [Value::Text(p.to_string())]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, WorkOrderId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM work_orders {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |v| v.record.id.to_string()))
}

/// Inserts a new work order or rewrites an existing one (same id).
pub(crate) fn save(
    db: &impl Db,
    wo: &WorkOrder,
    now: DateTime<Utc>,
) -> Result<Versioned<WorkOrder>, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    let params = vec![
        Value::Text(wo.id.to_string()),
        Value::from(&wo.number),
        Value::Text(wo.order_id.to_string()),
        Value::from(&wo.order_number),
        Value::Text(wo.line_id.to_string()),
        Value::Text(wo.product_id.to_string()),
        Value::Text(wo.warehouse_id.to_string()),
        Value::Text(wo.work_center_id.to_string()),
        Value::Integer(milli("quantity", wo.quantity)?),
        Value::Text(wo.hours.normalize().to_string()),
        Value::Text(wo.start.to_string()),
        Value::Text(wo.finish.to_string()),
        Value::from(wo.due_on.map(|d| d.to_string())),
        to_json("schedule", &wo.schedule)?,
        Value::from(wo.status.as_str()),
        Value::from(wo.receipt_id.map(|r| r.to_string())),
        Value::from(wo.reservation_id.map(|r| r.to_string())),
        ts.clone(),
        ts,
    ];
    db.execute(
        &format!(
            "INSERT INTO work_orders ({COLUMNS})
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
             ON CONFLICT (id) DO UPDATE SET quantity_milli = excluded.quantity_milli,
               warehouse_id = excluded.warehouse_id, work_center_id = excluded.work_center_id,
               hours = excluded.hours, start_on = excluded.start_on,
               finish_on = excluded.finish_on, due_on = excluded.due_on,
               schedule = excluded.schedule, status = excluded.status,
               receipt_id = excluded.receipt_id, reservation_id = excluded.reservation_id,
               version = work_orders.version + 1, updated_at = excluded.updated_at"
        ),
        &params,
    )?;
    get(db, wo.id)
}
