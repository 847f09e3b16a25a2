//! The shared repository of the JSON-bodied pricing records (rules,
//! schedules, tax templates, guards): one table each with `id`, `name`,
//! `body` (the domain record's JSON), `active`, the optimistic `version`,
//! timestamps, and a few extra columns the loader filters on.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::{Db, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{from_json, stale_or_missing, to_json, Where};
use crate::{time, StoreError};

/// A pricing record and whether it is active (inactive records are kept but
/// never used for pricing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T> {
    pub value: T,
    pub active: bool,
}

/// What the shared repository needs to know about a record kind.
pub(crate) trait JsonRecord: Serialize + DeserializeOwned {
    type Id: Copy + std::fmt::Display;
    const TABLE: &'static str;
    const ENTITY: &'static str;
    fn record_id(&self) -> Self::Id;
    fn parse_id(text: &str) -> Option<Self::Id>;
    fn name(&self) -> &str;
    /// Extra columns beside `name` and `body`, in a fixed order.
    fn extra(&self) -> Vec<(&'static str, Value)>;
}

fn select<T: JsonRecord>() -> String {
    format!(
        "SELECT id, body, active, version, created_at, updated_at FROM {}",
        T::TABLE
    )
}

pub(crate) fn decode<T: JsonRecord>(row: Row<'_>) -> Result<Versioned<Stored<T>>, StoreError> {
    let id = row.text("id")?;
    let value: T = from_json("body", row.text("body")?).map_err(|e| StoreError::Corrupt {
        entity: T::ENTITY,
        id: id.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Versioned {
        record: Stored {
            value,
            active: row.bool("active")?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

pub(crate) fn create<T: JsonRecord>(
    db: &impl Db,
    record: &T,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let extra = record.extra();
    let mut columns = vec!["id", "name", "body"];
    columns.extend(extra.iter().map(|(c, _)| *c));
    columns.extend(["active", "version", "created_at", "updated_at"]);
    let mut params = vec![
        Value::Text(record.record_id().to_string()),
        Value::from(record.name()),
        to_json("body", record)?,
    ];
    params.extend(extra.into_iter().map(|(_, v)| v));
    let ts = time::to_sql(now);
    params.extend([
        Value::Integer(1),
        Value::Integer(1),
        Value::from(&ts),
        Value::Text(ts),
    ]);
    let marks = vec!["?"; params.len()].join(", ");
    db.execute(
        &format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            T::TABLE,
            columns.join(", ")
        ),
        &params,
    )?;
    Ok(())
}

pub(crate) fn get<T: JsonRecord>(
    db: &impl Db,
    id: T::Id,
) -> Result<Versioned<Stored<T>>, StoreError> {
    let rows = db.execute(
        &format!("{} WHERE id = ?", select::<T>()),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity: T::ENTITY,
            id: id.to_string(),
        }),
    }
}

/// Records in id order, a page at a time; `w` holds the caller's filters.
pub(crate) fn list<T: JsonRecord>(
    db: &impl Db,
    mut w: Where,
    page: &Page,
) -> Result<Listed<Stored<T>>, StoreError> {
    if let Some(cursor) = &page.after {
        let after = decode_cursor(T::TABLE, cursor, |s| T::parse_id(s).ok_or(()))?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!("{} {} ORDER BY id LIMIT ?", select::<T>(), w.sql()),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(T::TABLE, items, limit, |r| {
        r.record.value.record_id().to_string()
    }))
}

pub(crate) fn update<T: JsonRecord>(
    db: &impl Db,
    record: &T,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let extra = record.extra();
    let mut sets = vec!["name = ?".to_owned(), "body = ?".to_owned()];
    sets.extend(extra.iter().map(|(c, _)| format!("{c} = ?")));
    let id = record.record_id().to_string();
    let mut params = vec![Value::from(record.name()), to_json("body", record)?];
    params.extend(extra.into_iter().map(|(_, v)| v));
    params.extend([
        Value::Text(time::to_sql(now)),
        Value::from(&id),
        Value::Integer(expected_version),
    ]);
    let rows = db.execute(
        &format!(
            "UPDATE {} SET {}, version = version + 1, updated_at = ?
             WHERE id = ? AND version = ? RETURNING id",
            T::TABLE,
            sets.join(", ")
        ),
        &params,
    )?;
    if rows.is_empty() {
        return Err(stale_or_missing(
            db,
            T::TABLE,
            T::ENTITY,
            &id,
            expected_version,
        ));
    }
    Ok(())
}

/// Marks a record inactive; an inactive record keeps its version.
pub(crate) fn deactivate<T: JsonRecord>(
    db: &impl Db,
    id: T::Id,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<T>>, StoreError> {
    db.execute(
        &format!(
            "UPDATE {} SET active = 0, version = version + 1, updated_at = ?
             WHERE id = ? AND active = 1",
            T::TABLE
        ),
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    get(db, id)
}

/// Every active record of a kind matching `w`, in id order (for the
/// loader and whole-set checks; these sets are small).
pub(crate) fn all_active<T: JsonRecord>(db: &impl Db, mut w: Where) -> Result<Vec<T>, StoreError> {
    w.and("active = 1", []);
    let rows = db.execute(
        &format!("SELECT id, body FROM {} {} ORDER BY id", T::TABLE, w.sql()),
        &w.params,
    )?;
    rows.iter().map(|row| decode_body(&row)).collect()
}

/// The record in a row's `body`, validated.
pub(crate) fn decode_body<T: JsonRecord>(row: &Row<'_>) -> Result<T, StoreError> {
    let id = row.text("id")?;
    from_json::<T>("body", row.text("body")?).map_err(|e| StoreError::Corrupt {
        entity: T::ENTITY,
        id: id.to_owned(),
        message: e.to_string(),
    })
}

/// `?, ?, ?` for `n` parameters (at least one, so `IN ()` never occurs).
pub(crate) fn marks(n: usize) -> String {
    vec!["?"; n.max(1)].join(", ")
}
