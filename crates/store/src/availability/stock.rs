//! Stock positions (product × warehouse) and the adjustment ledger that
//! explains every change of on hand.
//!
//! An adjustment is a delta (`+5` received, `-2` damaged) or a count
//! (`on hand is now 40`, what an outside inventory system reports); both
//! are stored as the delta they caused and the on hand after it. An
//! adjustment with an external reference (`external_source`,
//! `external_id`) is written once: sending it again changes nothing and
//! returns the first one, so an inventory system may resend its feed.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sales_domain::ids::{ProductId, StockAdjustmentId, WarehouseId};

use super::{milli, qty};
use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Page};
use crate::repo::{atomically, Where};
use crate::{time, StoreError, Upserted};

/// The stock of one product in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub product: ProductId,
    pub warehouse: WarehouseId,
    pub on_hand: Decimal,
    /// Open scheduled receipts.
    pub incoming: Decimal,
    /// Held reservations.
    pub reserved: Decimal,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl Position {
    /// On hand plus incoming minus reserved: what a new reservation may take.
    pub fn free(&self) -> Decimal {
        self.on_hand + self.incoming - self.reserved
    }
}

/// How an adjustment changes on hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add (or, negative, take away) this much.
    Delta(Decimal),
    /// On hand is now this much (a count).
    Count(Decimal),
}

/// An adjustment to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdjustment {
    pub id: StockAdjustmentId,
    pub product: ProductId,
    pub warehouse: WarehouseId,
    pub change: Change,
    pub reason: String,
    /// (source, id) of an outside system's record: written at most once.
    pub external: Option<(String, String)>,
}

/// A stored adjustment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub id: StockAdjustmentId,
    pub product: ProductId,
    pub warehouse: WarehouseId,
    pub delta: Decimal,
    pub on_hand_after: Decimal,
    pub reason: String,
    pub external: Option<(String, String)>,
    pub created_at: DateTime<Utc>,
}

/// Filters for [`list_positions`] and [`list_adjustments`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockFilter {
    pub product: Option<ProductId>,
    pub warehouse: Option<WarehouseId>,
}

const POSITION_COLUMNS: &str =
    "product_id, warehouse_id, on_hand_milli, incoming_milli, reserved_milli, version, updated_at";
const ADJUSTMENT_COLUMNS: &str = "id, product_id, warehouse_id, delta_milli, on_hand_after_milli,
    reason, external_source, external_id, created_at";

fn corrupt(entity: &'static str, id: &str, message: String) -> StoreError {
    StoreError::Corrupt {
        entity,
        id: id.to_owned(),
        message,
    }
}

fn decode_position(row: Row<'_>) -> Result<Position, StoreError> {
    let p = row.text("product_id")?;
    let w = row.text("warehouse_id")?;
    let bad = |e: sales_domain::ids::IdError| {
        corrupt("stock position", &format!("{p}/{w}"), e.to_string())
    };
    Ok(Position {
        product: ProductId::parse(p).map_err(bad)?,
        warehouse: WarehouseId::parse(w).map_err(bad)?,
        on_hand: qty(row.int("on_hand_milli")?),
        incoming: qty(row.int("incoming_milli")?),
        reserved: qty(row.int("reserved_milli")?),
        version: row.int("version")?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn decode_adjustment(row: Row<'_>) -> Result<Adjustment, StoreError> {
    let id = row.text("id")?;
    let bad = |e: sales_domain::ids::IdError| corrupt("stock adjustment", id, e.to_string());
    let external = match (
        row.opt_text("external_source")?,
        row.opt_text("external_id")?,
    ) {
        (Some(s), Some(i)) => Some((s.to_owned(), i.to_owned())),
        _ => None,
    };
    Ok(Adjustment {
        id: StockAdjustmentId::parse(id).map_err(bad)?,
        product: ProductId::parse(row.text("product_id")?).map_err(bad)?,
        warehouse: WarehouseId::parse(row.text("warehouse_id")?).map_err(bad)?,
        delta: qty(row.int("delta_milli")?),
        on_hand_after: qty(row.int("on_hand_after_milli")?),
        reason: row.text("reason")?.to_owned(),
        external,
        created_at: time::from_sql(row.text("created_at")?)?,
    })
}

/// Creates the (empty) position of `product` in `warehouse` unless it exists.
pub(crate) fn ensure_position(
    db: &impl Db,
    product: ProductId,
    warehouse: WarehouseId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT OR IGNORE INTO stock_positions (product_id, warehouse_id, updated_at)
         VALUES (?, ?, ?)",
        &[
            Value::Text(product.to_string()),
            Value::Text(warehouse.to_string()),
            Value::Text(time::to_sql(now)),
        ],
    )?;
    Ok(())
}

/// Moves one running total of a position by `delta_milli` (`column` is one
/// of ours, never input).
pub(crate) fn bump(
    db: &impl Db,
    column: &str,
    product: ProductId,
    warehouse: WarehouseId,
    delta_milli: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    ensure_position(db, product, warehouse, now)?;
    db.execute(
        &format!(
            "UPDATE stock_positions SET {column} = {column} + ?, version = version + 1,
             updated_at = ? WHERE product_id = ? AND warehouse_id = ?"
        ),
        &[
            Value::Integer(delta_milli),
            Value::Text(time::to_sql(now)),
            Value::Text(product.to_string()),
            Value::Text(warehouse.to_string()),
        ],
    )?;
    Ok(())
}

/// The position of `product` in `warehouse` (an empty one when none is stored).
pub fn position(
    db: &impl Db,
    product: ProductId,
    warehouse: WarehouseId,
) -> Result<Option<Position>, StoreError> {
    let rows = db.execute(
        &format!(
            "SELECT {POSITION_COLUMNS} FROM stock_positions WHERE product_id = ? AND warehouse_id = ?"
        ),
        &[
            Value::Text(product.to_string()),
            Value::Text(warehouse.to_string()),
        ],
    )?;
    rows.first().map(decode_position).transpose()
}

/// Writes an adjustment and moves on hand. An adjustment whose external
/// reference was written before is [`Upserted::Unchanged`] and returns the
/// first one. On hand may not go below zero
/// ([`StoreError::InsufficientStock`], field `quantity`).
pub fn adjust(
    db: &impl Db,
    new: &NewAdjustment,
    now: DateTime<Utc>,
) -> Result<(Adjustment, Upserted), StoreError> {
    if let Some((source, id)) = &new.external {
        let rows = db.execute(
            &format!(
                "SELECT {ADJUSTMENT_COLUMNS} FROM stock_adjustments
                 WHERE external_source = ? AND external_id = ?"
            ),
            &[Value::from(source), Value::from(id)],
        )?;
        if let Some(row) = rows.first() {
            return Ok((decode_adjustment(row)?, Upserted::Unchanged));
        }
    }
    atomically(db, || {
        ensure_position(db, new.product, new.warehouse, now)?;
        let current = position(db, new.product, new.warehouse)?
            .ok_or_else(|| DbError::Decode("stock position vanished".into()))?;
        let on_hand = milli("on_hand", current.on_hand)?;
        let delta = match new.change {
            Change::Delta(d) => milli("quantity", d)?,
            Change::Count(c) => milli("quantity", c)? - on_hand,
        };
        let after = on_hand + delta;
        if after < 0 {
            return Err(StoreError::InsufficientStock {
                field: "quantity".into(),
                product: new.product.to_string(),
                warehouse: new.warehouse.to_string(),
                requested: qty(-delta).to_string(),
                available: current.on_hand.to_string(),
            });
        }
        bump(db, "on_hand_milli", new.product, new.warehouse, delta, now)?;
        let (source, ext_id) = match &new.external {
            Some((s, i)) => (Value::from(s), Value::from(i)),
            None => (Value::Null, Value::Null),
        };
        let rows = db.execute(
            &format!(
                "INSERT INTO stock_adjustments ({ADJUSTMENT_COLUMNS})
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {ADJUSTMENT_COLUMNS}"
            ),
            &[
                Value::Text(new.id.to_string()),
                Value::Text(new.product.to_string()),
                Value::Text(new.warehouse.to_string()),
                Value::Integer(delta),
                Value::Integer(after),
                Value::from(&new.reason),
                source,
                ext_id,
                Value::Text(time::to_sql(now)),
            ],
        )?;
        let row = rows
            .first()
            .ok_or_else(|| DbError::Decode("no row returned".into()))?;
        Ok((decode_adjustment(row)?, Upserted::Created))
    })
}

/// One adjustment by id.
pub fn get_adjustment(db: &impl Db, id: StockAdjustmentId) -> Result<Adjustment, StoreError> {
    let rows = db.execute(
        &format!("SELECT {ADJUSTMENT_COLUMNS} FROM stock_adjustments WHERE id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode_adjustment(row),
        None => Err(StoreError::NotFound {
            entity: "stock adjustment",
            id: id.to_string(),
        }),
    }
}

fn filtered(filter: &StockFilter) -> Where {
    let mut w = Where::default();
    if let Some(p) = filter.product {
        w.and("product_id = ?", [Value::Text(p.to_string())]);
    }
    if let Some(wh) = filter.warehouse {
        w.and("warehouse_id = ?", [Value::Text(wh.to_string())]);
    }
    w
}

/// Positions in (product, warehouse) order, a page at a time.
pub fn list_positions(
    db: &impl Db,
    filter: &StockFilter,
    page: &Page,
) -> Result<(Vec<Position>, Option<String>), StoreError> {
    const LIST: &str = "stock";
    let mut w = filtered(filter);
    if let Some(cursor) = &page.after {
        let (p, wh) = decode_cursor(LIST, cursor, |key| {
            let (p, wh) = key.split_once('/').ok_or(())?;
            Ok::<_, ()>((
                ProductId::parse(p).map_err(|_| ())?,
                WarehouseId::parse(wh).map_err(|_| ())?,
            ))
        })?;
        w.and(
            "(product_id, warehouse_id) > (?, ?)",
            [Value::Text(p.to_string()), Value::Text(wh.to_string())],
        );
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {POSITION_COLUMNS} FROM stock_positions {} ORDER BY product_id, warehouse_id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows
        .iter()
        .map(decode_position)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |p| {
        format!("{}/{}", p.product, p.warehouse)
    }))
}

/// Adjustments, oldest first, a page at a time.
pub fn list_adjustments(
    db: &impl Db,
    filter: &StockFilter,
    page: &Page,
) -> Result<(Vec<Adjustment>, Option<String>), StoreError> {
    const LIST: &str = "stock-adjustments";
    let mut w = filtered(filter);
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, StockAdjustmentId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {ADJUSTMENT_COLUMNS} FROM stock_adjustments {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows
        .iter()
        .map(decode_adjustment)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |a| a.id.to_string()))
}
