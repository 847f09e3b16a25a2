//! Reservation holds: the stock a document (an order, a quotation) holds,
//! one row per line and warehouse, with an optional last day.
//!
//! [`reserve`] writes a hold and, per row, one conditional update —
//! `reserved = reserved + q WHERE on_hand + incoming - reserved >= q` —
//! checking the row count. Two holds racing for the last units on separate
//! connections cannot both pass it: SQLite serialises the writers and the
//! second sees the first one's `reserved`. The engine planned the rows on
//! a picture read earlier; this is the re-check that makes the plan safe.
//!
//! A hold is `held` until it is released, consumed (the goods left: on
//! hand and reserved both drop, with a ledger row; refused while a row is
//! held against a receipt that has not arrived) or expired (its
//! `valid_until` passed; [`expire_due`], run by the jobs tick and before
//! every reserve). Only `held` counts against stock.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{OrderPromise, PlannedReservation, ReservationStatus};
use sales_domain::ids::{LineId, ProductId, ReservationId, StockAdjustmentId, WarehouseId};

use super::stock::{bump, position};
use super::{date, milli, qty};
use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{atomically, from_json, to_json, Where};
use crate::{time, StoreError};

const ENTITY: &str = "reservation";
const LIST: &str = "reservations";
const COLUMNS: &str = "id, document, status, valid_until, promise, version, created_at, updated_at";

/// A hold and its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: ReservationId,
    /// The document holding the stock (`SO-2026-00017`, an order id).
    pub document: String,
    pub status: ReservationStatus,
    pub valid_until: Option<NaiveDate>,
    pub rows: Vec<PlannedReservation>,
    /// The promise the rows were planned from.
    pub promise: OrderPromise,
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldFilter {
    pub document: Option<String>,
    pub status: Option<ReservationStatus>,
}

fn load_rows(db: &impl Db, id: &str) -> Result<Vec<PlannedReservation>, StoreError> {
    let rows = db.execute(
        "SELECT line_id, product_id, warehouse_id, quantity_milli, needed_on
         FROM reservation_lines WHERE reservation_id = ? ORDER BY seq",
        &[Value::from(id)],
    )?;
    rows.iter()
        .map(|r| {
            let bad = |e: sales_domain::ids::IdError| StoreError::Corrupt {
                entity: ENTITY,
                id: id.to_owned(),
                message: e.to_string(),
            };
            Ok(PlannedReservation {
                line_id: LineId::parse(r.text("line_id")?).map_err(bad)?,
                product: ProductId::parse(r.text("product_id")?).map_err(bad)?,
                warehouse: WarehouseId::parse(r.text("warehouse_id")?).map_err(bad)?,
                quantity: qty(r.int("quantity_milli")?),
                needed_on: date(r.text("needed_on")?)?,
                valid_until: None,
            })
        })
        .collect()
}

fn decode(db: &impl Db, row: Row<'_>) -> Result<Versioned<Hold>, StoreError> {
    let id = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id.to_owned(),
        message,
    };
    let status =
        ReservationStatus::parse(row.text("status")?).ok_or_else(|| corrupt("status".into()))?;
    let valid_until = row.opt_text("valid_until")?.map(date).transpose()?;
    let mut rows = load_rows(db, id)?;
    for r in &mut rows {
        r.valid_until = valid_until;
    }
    Ok(Versioned {
        record: Hold {
            id: ReservationId::parse(id).map_err(|e| corrupt(e.to_string()))?,
            document: row.text("document")?.to_owned(),
            status,
            valid_until,
            rows,
            promise: from_json("promise", row.text("promise")?)?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

/// Writes `hold` (status `held`) and reserves each of its rows with a
/// conditional update. A row that no longer fits is
/// [`StoreError::InsufficientStock`] (field `lines[i].quantity` of the
/// row's line `i` in the promise) and nothing of the hold is written.
pub fn reserve(
    db: &impl Db,
    hold: &Hold,
    now: DateTime<Utc>,
) -> Result<Versioned<Hold>, StoreError> {
    atomically(db, || {
        let ts = Value::Text(time::to_sql(now));
        let id = hold.id.to_string();
        db.execute(
            &format!("INSERT INTO reservations ({COLUMNS}) VALUES (?, ?, 'held', ?, ?, 1, ?, ?)"),
            &[
                Value::from(&id),
                Value::from(&hold.document),
                Value::from(hold.valid_until.map(|d| d.to_string())),
                to_json("promise", &hold.promise)?,
                ts.clone(),
                ts.clone(),
            ],
        )?;
        for (seq, r) in hold.rows.iter().enumerate() {
            let q = milli("quantity", r.quantity)?;
            let product = Value::Text(r.product.to_string());
            let warehouse = Value::Text(r.warehouse.to_string());
            let changed = db.execute(
                "UPDATE stock_positions SET reserved_milli = reserved_milli + ?,
                 version = version + 1, updated_at = ?
                 WHERE product_id = ? AND warehouse_id = ?
                   AND on_hand_milli + incoming_milli - reserved_milli >= ?
                 RETURNING version",
                &[
                    Value::Integer(q),
                    ts.clone(),
                    product.clone(),
                    warehouse.clone(),
                    Value::Integer(q),
                ],
            )?;
            if changed.is_empty() {
                let free =
                    position(db, r.product, r.warehouse)?.map_or(Decimal::ZERO, |p| p.free());
                let line = hold
                    .promise
                    .lines
                    .iter()
                    .position(|l| l.line_id == r.line_id)
                    .unwrap_or(0);
                return Err(StoreError::InsufficientStock {
                    field: format!("lines[{line}].quantity"),
                    product: r.product.to_string(),
                    warehouse: r.warehouse.to_string(),
                    requested: r.quantity.to_string(),
                    available: free.max(Decimal::ZERO).to_string(),
                });
            }
            db.execute(
                "INSERT INTO reservation_lines
                 (reservation_id, seq, line_id, product_id, warehouse_id, quantity_milli, needed_on)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    Value::from(&id),
                    Value::Integer(i64::try_from(seq).unwrap_or(i64::MAX)),
                    Value::Text(r.line_id.to_string()),
                    product,
                    warehouse,
                    Value::Integer(q),
                    Value::Text(r.needed_on.to_string()),
                ],
            )?;
        }
        get(db, hold.id)
    })
}

pub fn get(db: &impl Db, id: ReservationId) -> Result<Versioned<Hold>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM reservations WHERE id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(db, row),
        None => Err(StoreError::NotFound {
            entity: ENTITY,
            id: id.to_string(),
        }),
    }
}

pub fn list(db: &impl Db, filter: &HoldFilter, page: &Page) -> Result<Listed<Hold>, StoreError> {
    let mut w = Where::default();
    if let Some(d) = &filter.document {
        w.and("document = ?", [Value::from(d)]);
    }
    if let Some(s) = filter.status {
        w.and("status = ?", [Value::from(s.as_str())]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, ReservationId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM reservations {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows
        .iter()
        .map(|r| decode(db, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |v| v.record.id.to_string()))
}

/// Moves a held hold to `to` and gives its rows back: released and
/// expired free `reserved`; consumed also takes the units off on hand,
/// with one ledger row per row.
fn finish_hold(
    db: &impl Db,
    id: ReservationId,
    to: ReservationStatus,
    now: DateTime<Utc>,
) -> Result<Versioned<Hold>, StoreError> {
    atomically(db, || {
        let current = get(db, id)?;
        current
            .record
            .status
            .transition(to)
            .map_err(|e| StoreError::InvalidState {
                entity: ENTITY,
                id: id.to_string(),
                message: e.to_string(),
            })?;
        let changed = db.execute(
            "UPDATE reservations SET status = ?, version = version + 1, updated_at = ?
             WHERE id = ? AND status = 'held' RETURNING id",
            &[
                Value::from(to.as_str()),
                Value::Text(time::to_sql(now)),
                Value::Text(id.to_string()),
            ],
        )?;
        if changed.is_empty() {
            return Err(StoreError::InvalidState {
                entity: ENTITY,
                id: id.to_string(),
                message: "the reservation changed meanwhile".into(),
            });
        }
        for r in &current.record.rows {
            let q = milli("quantity", r.quantity)?;
            bump(db, "reserved_milli", r.product, r.warehouse, -q, now)?;
            if to == ReservationStatus::Consumed {
                let on_hand =
                    position(db, r.product, r.warehouse)?.map_or(Decimal::ZERO, |p| p.on_hand);
                // A row held against a receipt that has not arrived yet
                // cannot ship: on hand never goes below zero.
                if on_hand < r.quantity {
                    return Err(StoreError::InsufficientStock {
                        field: "id".into(),
                        product: r.product.to_string(),
                        warehouse: r.warehouse.to_string(),
                        requested: r.quantity.to_string(),
                        available: on_hand.to_string(),
                    });
                }
                bump(db, "on_hand_milli", r.product, r.warehouse, -q, now)?;
                db.execute(
                    "INSERT INTO stock_adjustments (id, product_id, warehouse_id, delta_milli,
                     on_hand_after_milli, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    &[
                        Value::Text(StockAdjustmentId::new().to_string()),
                        Value::Text(r.product.to_string()),
                        Value::Text(r.warehouse.to_string()),
                        Value::Integer(-q),
                        Value::Integer(milli("on_hand", on_hand)? - q),
                        Value::Text(format!("consumed by reservation {id}")),
                        Value::Text(time::to_sql(now)),
                    ],
                )?;
            }
        }
        get(db, id)
    })
}

pub fn release(
    db: &impl Db,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Versioned<Hold>, StoreError> {
    finish_hold(db, id, ReservationStatus::Released, now)
}

pub fn consume(
    db: &impl Db,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Versioned<Hold>, StoreError> {
    finish_hold(db, id, ReservationStatus::Consumed, now)
}

/// Expires every held hold whose last day is before `today`; returns how
/// many. Run by the jobs component's tick and before each reserve.
pub fn expire_due(db: &impl Db, today: NaiveDate, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let due = db.execute(
        "SELECT id FROM reservations WHERE status = 'held' AND valid_until < ? ORDER BY id",
        &[Value::Text(today.to_string())],
    )?;
    let ids = due
        .iter()
        .map(|r| {
            let text = r.text("id")?;
            ReservationId::parse(text).map_err(|e| {
                StoreError::Db(DbError::Decode(format!("reservation id {text:?}: {e}")))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for id in &ids {
        finish_hold(db, *id, ReservationStatus::Expired, now)?;
    }
    Ok(ids.len())
}
