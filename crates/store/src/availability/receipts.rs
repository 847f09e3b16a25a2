//! Scheduled receipts: stock expected in a warehouse on a date (a purchase
//! or a production order). An active receipt counts in its position's
//! `incoming`; cancelling one (deactivate) takes it out again.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::ids::{ProductId, ReceiptId, WarehouseId};

use super::stock::bump;
use super::{date, milli, qty};
use crate::db::{Db, DbError, Row, Rows, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{atomically, stale_or_missing, Where};
use crate::{time, StoreError};

const ENTITY: &str = "receipt";
const LIST: &str = "receipts";
const COLUMNS: &str = "id, product_id, warehouse_id, quantity_milli, due_on, reference, active,
    version, created_at, updated_at";

/// A scheduled receipt. The edge checks the quantity (positive) and the
/// date (not in the past) before it reaches the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: ReceiptId,
    pub product: ProductId,
    pub warehouse: WarehouseId,
    pub quantity: Decimal,
    pub due_on: NaiveDate,
    /// The purchase or production order it comes from, if known.
    pub reference: Option<String>,
    pub active: bool,
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptFilter {
    pub product: Option<ProductId>,
    pub warehouse: Option<WarehouseId>,
    pub active: Option<bool>,
}

fn decode(row: Row<'_>) -> Result<Versioned<Receipt>, StoreError> {
    let id = row.text("id")?;
    let bad = |e: sales_domain::ids::IdError| StoreError::Corrupt {
        entity: ENTITY,
        id: id.to_owned(),
        message: e.to_string(),
    };
    Ok(Versioned {
        record: Receipt {
            id: ReceiptId::parse(id).map_err(bad)?,
            product: ProductId::parse(row.text("product_id")?).map_err(bad)?,
            warehouse: WarehouseId::parse(row.text("warehouse_id")?).map_err(bad)?,
            quantity: qty(row.int("quantity_milli")?),
            due_on: date(row.text("due_on")?)?,
            reference: row.opt_text("reference")?.map(str::to_owned),
            active: row.bool("active")?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn one(rows: Rows) -> Result<Versioned<Receipt>, StoreError> {
    decode(
        rows.first()
            .ok_or_else(|| DbError::Decode("no row returned".into()))?,
    )
}

/// Stores a receipt and adds it to its position's `incoming`.
pub fn create(
    db: &impl Db,
    r: &Receipt,
    now: DateTime<Utc>,
) -> Result<Versioned<Receipt>, StoreError> {
    let q = milli("quantity", r.quantity)?;
    atomically(db, || {
        let ts = Value::Text(time::to_sql(now));
        let rows = db.execute(
            &format!(
                "INSERT INTO receipts ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?, ?)
                 RETURNING {COLUMNS}"
            ),
            &[
                Value::Text(r.id.to_string()),
                Value::Text(r.product.to_string()),
                Value::Text(r.warehouse.to_string()),
                Value::Integer(q),
                Value::Text(r.due_on.to_string()),
                Value::from(r.reference.clone()),
                ts.clone(),
                ts,
            ],
        )?;
        bump(db, "incoming_milli", r.product, r.warehouse, q, now)?;
        one(rows)
    })
}

pub fn get(db: &impl Db, id: ReceiptId) -> Result<Versioned<Receipt>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM receipts WHERE id = ?"),
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

pub fn list(
    db: &impl Db,
    filter: &ReceiptFilter,
    page: &Page,
) -> Result<Listed<Receipt>, StoreError> {
    let mut w = Where::default();
    if let Some(p) = filter.product {
        w.and("product_id = ?", [Value::Text(p.to_string())]);
    }
    if let Some(wh) = filter.warehouse {
        w.and("warehouse_id = ?", [Value::Text(wh.to_string())]);
    }
    if let Some(a) = filter.active {
        w.and("active = ?", [Value::from(a)]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, ReceiptId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM receipts {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |v| v.record.id.to_string()))
}

/// Stores a changed quantity, date or reference (product and warehouse
/// stay) if the row is still at `expected_version`; moves `incoming` by
/// the difference while the receipt is active.
pub fn update(
    db: &impl Db,
    r: &Receipt,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Receipt>, StoreError> {
    let q = milli("quantity", r.quantity)?;
    atomically(db, || {
        let before = get(db, r.id)?;
        let id = r.id.to_string();
        let rows = db.execute(
            &format!(
                "UPDATE receipts SET quantity_milli = ?, due_on = ?, reference = ?,
                 version = version + 1, updated_at = ?
                 WHERE id = ? AND version = ? RETURNING {COLUMNS}"
            ),
            &[
                Value::Integer(q),
                Value::Text(r.due_on.to_string()),
                Value::from(r.reference.clone()),
                Value::Text(time::to_sql(now)),
                Value::from(&id),
                Value::Integer(expected_version),
            ],
        )?;
        if rows.is_empty() {
            return Err(stale_or_missing(
                db,
                "receipts",
                ENTITY,
                &id,
                expected_version,
            ));
        }
        if before.record.active {
            let diff = q - milli("quantity", before.record.quantity)?;
            bump(db, "incoming_milli", r.product, r.warehouse, diff, now)?;
        }
        one(rows)
    })
}

/// Cancels a receipt: inactive, and no longer incoming.
pub fn deactivate(
    db: &impl Db,
    id: ReceiptId,
    now: DateTime<Utc>,
) -> Result<Versioned<Receipt>, StoreError> {
    atomically(db, || {
        let rows = db.execute(
            &format!(
                "UPDATE receipts SET active = 0, version = version + 1, updated_at = ?
                 WHERE id = ? AND active = 1 RETURNING {COLUMNS}"
            ),
            &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
        )?;
        match rows.first() {
            Some(row) => {
                let r = decode(row)?;
                let q = milli("quantity", r.record.quantity)?;
                bump(
                    db,
                    "incoming_milli",
                    r.record.product,
                    r.record.warehouse,
                    -q,
                    now,
                )?;
                Ok(r)
            }
            None => get(db, id),
        }
    })
}
