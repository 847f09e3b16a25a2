//! Warehouses, with unique codes (channels list warehouses by code).

use chrono::{DateTime, Utc};
use sales_domain::availability::{NewWarehouse, Warehouse};
use sales_domain::ids::WarehouseId;

use crate::db::{Db, DbError, Row, Rows, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{stale_or_missing, Where};
use crate::{time, StoreError};

const ENTITY: &str = "warehouse";
const LIST: &str = "warehouses";
const COLUMNS: &str = "id, code, name, active, version, created_at, updated_at";

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarehouseFilter {
    pub code: Option<String>,
    pub active: Option<bool>,
}

fn decode(row: Row<'_>) -> Result<Versioned<Warehouse>, StoreError> {
    let id_text = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id_text.to_owned(),
        message,
    };
    let id = WarehouseId::parse(id_text).map_err(|e| corrupt(e.to_string()))?;
    let warehouse = Warehouse::from_parts(
        id,
        NewWarehouse {
            code: row.text("code")?.to_owned(),
            name: row.text("name")?.to_owned(),
        },
        row.bool("active")?,
    )
    .map_err(|e| corrupt(e.to_string()))?;
    Ok(Versioned {
        record: warehouse,
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn one(rows: Rows) -> Result<Versioned<Warehouse>, StoreError> {
    decode(
        rows.first()
            .ok_or_else(|| DbError::Decode("no row returned".into()))?,
    )
}

fn code_taken(e: DbError, code: &str) -> StoreError {
    match e {
        DbError::Unique(_) => StoreError::Duplicate {
            entity: ENTITY,
            field: "code",
            value: code.to_owned(),
        },
        e => e.into(),
    }
}

/// Stores a new warehouse; a taken code is [`StoreError::Duplicate`].
pub fn create(
    db: &impl Db,
    w: &Warehouse,
    now: DateTime<Utc>,
) -> Result<Versioned<Warehouse>, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    let rows = db
        .execute(
            &format!(
                "INSERT INTO warehouses ({COLUMNS}) VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING {COLUMNS}"
            ),
            &[
                Value::Text(w.id().to_string()),
                Value::from(w.code()),
                Value::from(w.name()),
                Value::from(w.is_active()),
                ts.clone(),
                ts,
            ],
        )
        .map_err(|e| code_taken(e, w.code()))?;
    one(rows)
}

pub fn get(db: &impl Db, id: WarehouseId) -> Result<Versioned<Warehouse>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM warehouses WHERE id = ?"),
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

/// The warehouse with this code, if any.
pub fn find_by_code(db: &impl Db, code: &str) -> Result<Option<Versioned<Warehouse>>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM warehouses WHERE code = ?"),
        &[Value::from(code)],
    )?;
    rows.first().map(decode).transpose()
}

/// Every active warehouse, by code (a check without a channel uses them all).
pub fn all_active(db: &impl Db) -> Result<Vec<Warehouse>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM warehouses WHERE active = 1 ORDER BY code"),
        &[],
    )?;
    rows.iter().map(|r| decode(r).map(|v| v.record)).collect()
}

pub fn list(
    db: &impl Db,
    filter: &WarehouseFilter,
    page: &Page,
) -> Result<Listed<Warehouse>, StoreError> {
    let mut w = Where::default();
    if let Some(code) = &filter.code {
        w.and("code = ?", [Value::from(code)]);
    }
    if let Some(active) = filter.active {
        w.and("active = ?", [Value::from(active)]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, WarehouseId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM warehouses {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |v| v.record.id().to_string()))
}

/// Stores `w`'s code and name if the row is still at `expected_version`.
pub fn update(
    db: &impl Db,
    w: &Warehouse,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Warehouse>, StoreError> {
    let id = w.id().to_string();
    let rows = db
        .execute(
            &format!(
                "UPDATE warehouses SET code = ?, name = ?, version = version + 1, updated_at = ?
                 WHERE id = ? AND version = ? RETURNING {COLUMNS}"
            ),
            &[
                Value::from(w.code()),
                Value::from(w.name()),
                Value::Text(time::to_sql(now)),
                Value::from(&id),
                Value::Integer(expected_version),
            ],
        )
        .map_err(|e| code_taken(e, w.code()))?;
    if rows.is_empty() {
        return Err(stale_or_missing(
            db,
            "warehouses",
            ENTITY,
            &id,
            expected_version,
        ));
    }
    one(rows)
}

/// Marks the warehouse inactive (kept: stock and documents refer to it).
pub fn deactivate(
    db: &impl Db,
    id: WarehouseId,
    now: DateTime<Utc>,
) -> Result<Versioned<Warehouse>, StoreError> {
    let rows = db.execute(
        &format!(
            "UPDATE warehouses SET active = 0, version = version + 1, updated_at = ?
             WHERE id = ? AND active = 1 RETURNING {COLUMNS}"
        ),
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => get(db, id),
    }
}
