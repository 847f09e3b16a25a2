//! Reservation holds: the stock a document (an order, a quotation) holds,
//! one row per line and warehouse, with an optional last day.
//!
//! [`reserve`] writes a hold and its rows, then one conditional update of
//! every position the rows touch — `reserved = reserved + q WHERE on_hand +
//! incoming - reserved >= q`, with `q` the rows' sum per position —
//! checking that every position was updated. Two holds racing for the last
//! units on separate connections cannot both pass it: SQLite serialises
//! the writers and the second sees the first one's `reserved`. The engine
//! planned the rows on a picture read earlier; this is the re-check that
//! makes the plan safe. It is four statements however many rows the hold
//! has (the rows are inserted [`ROWS_PER_INSERT`] to a statement).
//!
//! `reservation_totals` (migration 14) is the held quantity per position,
//! `needed_on` and the hold's last day (`''` for none), moved in the same
//! SAVEPOINT as every status change of a hold ([`reserve`] adds the rows,
//! [`finish_hold`] takes them off), so the loader reads a check's held
//! stock without summing every open hold's rows.
//!
//! A hold is `held` until it is released, consumed (the goods left: on
//! hand and reserved both drop, with a ledger row; refused while a row is
//! held against a receipt that has not arrived) or expired (its
//! `valid_until` passed; [`expire_due`], run by the jobs tick and before
//! every reserve). Only `held` counts against stock.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{PlannedReservation, ReservationStatus};
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
    pub promise: crate::orders::StoredPromise,
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

/// Ledger rows per `INSERT` (7 parameters each, far below SQLite's limit).
pub const ROWS_PER_INSERT: usize = 100;

/// The key `reservation_totals` stores a hold's last day under.
fn until_key(valid_until: Option<NaiveDate>) -> String {
    valid_until.map(|d| d.to_string()).unwrap_or_default()
}

/// Moves `reservation_totals` by the rows of hold `id` (last day `until`):
/// `sign` 1 when the hold becomes held, -1 when it stops being held. Totals
/// that reach zero are deleted. Call inside the SAVEPOINT that changes the
/// hold's status.
fn move_totals(db: &impl Db, id: &str, until: &str, sign: i64) -> Result<(), StoreError> {
    // `WHERE` before `GROUP BY` keeps SQLite's parser from reading the
    // upsert's `ON` as a join constraint.
    db.execute(
        "INSERT INTO reservation_totals
            (product_id, warehouse_id, needed_on, valid_until, quantity_milli)
         SELECT product_id, warehouse_id, needed_on, ?, ? * SUM(quantity_milli)
         FROM reservation_lines WHERE reservation_id = ?
         GROUP BY product_id, warehouse_id, needed_on
         ON CONFLICT (product_id, warehouse_id, needed_on, valid_until)
         DO UPDATE SET quantity_milli = quantity_milli + excluded.quantity_milli",
        &[Value::from(until), Value::Integer(sign), Value::from(id)],
    )?;
    if sign < 0 {
        db.execute(
            "DELETE FROM reservation_totals
             WHERE quantity_milli = 0 AND valid_until = ?
               AND (product_id, warehouse_id, needed_on) IN
                   (SELECT product_id, warehouse_id, needed_on
                    FROM reservation_lines WHERE reservation_id = ?)",
            &[Value::from(until), Value::from(id)],
        )?;
    }
    Ok(())
}

/// Moves `reserved` of every position hold `id`'s rows touch by their sum
/// there (`sign` 1 or -1), in one statement. Reserving (`sign` 1) only
/// updates a position whose free stock covers the sum; returns the
/// positions updated.
fn move_reserved(
    db: &impl Db,
    id: &str,
    sign: i64,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = db.execute(
        "UPDATE stock_positions AS p
         SET reserved_milli = p.reserved_milli + ? * s.q, version = p.version + 1,
             updated_at = ?
         FROM (SELECT product_id, warehouse_id, SUM(quantity_milli) AS q
               FROM reservation_lines WHERE reservation_id = ?
               GROUP BY product_id, warehouse_id) AS s
         WHERE p.product_id = s.product_id AND p.warehouse_id = s.warehouse_id
           AND (? < 0 OR p.on_hand_milli + p.incoming_milli - p.reserved_milli >= s.q)
         RETURNING product_id, warehouse_id",
        &[
            Value::Integer(sign),
            Value::Text(time::to_sql(now)),
            Value::from(id),
            Value::Integer(sign),
        ],
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                r.text("product_id")?.to_owned(),
                r.text("warehouse_id")?.to_owned(),
            ))
        })
        .collect()
}

/// Writes `hold` (status `held`) and reserves its rows with one
/// conditional update per position. A position whose free stock no longer
/// covers the rows is [`StoreError::InsufficientStock`] (field
/// `lines[i].quantity` of the first such row's line `i` in the promise) and
/// nothing of the hold is written.
pub fn reserve(
    db: &impl Db,
    hold: &Hold,
    now: DateTime<Utc>,
) -> Result<Versioned<Hold>, StoreError> {
    atomically(db, || reserve_in_transaction(db, hold, now))
}

/// [`reserve`] without a SAVEPOINT of its own, for a caller whose
/// transaction rolls back whole on any error it returns (the order
/// submission): a failure part-way leaves rows behind only until that
/// rollback. Two statements fewer while the write lock is held (issue 7).
pub fn reserve_in_transaction(
    db: &impl Db,
    hold: &Hold,
    now: DateTime<Utc>,
) -> Result<Versioned<Hold>, StoreError> {
    {
        let ts = Value::Text(time::to_sql(now));
        let id = hold.id.to_string();
        let until = until_key(hold.valid_until);
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
        let mut stored = Vec::with_capacity(hold.rows.len());
        for (chunk_no, chunk) in hold.rows.chunks(ROWS_PER_INSERT).enumerate() {
            let mut params = Vec::with_capacity(chunk.len() * 7);
            for (i, r) in chunk.iter().enumerate() {
                let seq = chunk_no * ROWS_PER_INSERT + i;
                let q = milli("quantity", r.quantity)?;
                stored.push(PlannedReservation {
                    quantity: qty(q),
                    valid_until: hold.valid_until,
                    ..r.clone()
                });
                params.extend([
                    Value::from(&id),
                    Value::Integer(i64::try_from(seq).unwrap_or(i64::MAX)),
                    Value::Text(r.line_id.to_string()),
                    Value::Text(r.product.to_string()),
                    Value::Text(r.warehouse.to_string()),
                    Value::Integer(q),
                    Value::Text(r.needed_on.to_string()),
                ]);
            }
            db.execute(
                &format!(
                    "INSERT INTO reservation_lines
                     (reservation_id, seq, line_id, product_id, warehouse_id, quantity_milli,
                      needed_on) VALUES {}",
                    vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
                ),
                &params,
            )?;
        }
        let updated = move_reserved(db, &id, 1, now)?;
        let short = hold.rows.iter().find(|r| {
            !updated
                .iter()
                .any(|(p, w)| *p == r.product.to_string() && *w == r.warehouse.to_string())
        });
        if let Some(r) = short {
            let free = position(db, r.product, r.warehouse)?.map_or(Decimal::ZERO, |p| p.free());
            let line = hold
                .promise
                .lines
                .iter()
                .position(|l| l.line_id == r.line_id)
                .unwrap_or(0);
            // What all of this hold's rows ask of that position.
            let requested: Decimal = hold
                .rows
                .iter()
                .filter(|o| o.product == r.product && o.warehouse == r.warehouse)
                .map(|o| o.quantity)
                .sum();
            return Err(StoreError::InsufficientStock {
                field: format!("lines[{line}].quantity"),
                product: r.product.to_string(),
                warehouse: r.warehouse.to_string(),
                requested: requested.to_string(),
                available: free.max(Decimal::ZERO).to_string(),
            });
        }
        move_totals(db, &id, &until, 1)?;
        // What `get` would read back, without reading it: the caller's
        // transaction holds the write lock, so every statement counts.
        let at = time::from_sql(&time::to_sql(now))?;
        Ok(Versioned {
            record: Hold {
                id: hold.id,
                document: hold.document.clone(),
                status: ReservationStatus::Held,
                valid_until: hold.valid_until,
                rows: stored,
                promise: hold.promise.clone(),
            },
            version: 1,
            created_at: at,
            updated_at: at,
        })
    }
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
        let key = id.to_string();
        move_reserved(db, &key, -1, now)?;
        move_totals(db, &key, &until_key(current.record.valid_until), -1)?;
        for r in &current.record.rows {
            let q = milli("quantity", r.quantity)?;
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
