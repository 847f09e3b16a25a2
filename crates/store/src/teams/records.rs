//! One repository shape for the teams tables that keep a validated domain
//! record as JSON in `body` beside the columns lookups use (`id`, `body`,
//! `active`, `version`, `created_at`, `updated_at` plus [`Record::columns`]).

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{from_json, stale_or_missing, to_json, Where};
use crate::{time, StoreError};

/// A record stored in [`Record::TABLE`].
pub trait Record: Serialize + DeserializeOwned {
    const TABLE: &'static str;
    const ENTITY: &'static str;
    /// The field a unique index violation is reported on.
    const UNIQUE_FIELD: &'static str;
    fn id_text(&self) -> String;
    fn is_active(&self) -> bool;
    /// The lookup columns besides the fixed ones, with their values.
    fn columns(&self) -> Vec<(&'static str, Value)>;
    /// What the unique index holds for this record (for the error).
    fn unique_value(&self) -> String;
}

fn decode<R: Record>(row: Row<'_>) -> Result<Versioned<R>, StoreError> {
    let id = row.text("id")?;
    let record: R = from_json("body", row.text("body")?).map_err(|e| StoreError::Corrupt {
        entity: R::ENTITY,
        id: id.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Versioned {
        record,
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn unique<R: Record>(r: &R) -> impl FnOnce(DbError) -> StoreError + '_ {
    move |e| match e {
        DbError::Unique(_) => StoreError::Duplicate {
            entity: R::ENTITY,
            field: R::UNIQUE_FIELD,
            value: r.unique_value(),
        },
        e => e.into(),
    }
}

pub fn create<R: Record>(
    db: &impl Db,
    r: &R,
    now: DateTime<Utc>,
) -> Result<Versioned<R>, StoreError> {
    let cols = r.columns();
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let marks = vec!["?"; cols.len()].join(", ");
    let sep = if cols.is_empty() { "" } else { ", " };
    let ts = time::to_sql(now);
    let mut params = vec![
        Value::Text(r.id_text()),
        to_json("body", r)?,
        Value::from(r.is_active()),
        Value::from(&ts),
        Value::Text(ts),
    ];
    params.extend(cols.into_iter().map(|(_, v)| v));
    db.execute(
        &format!(
            "INSERT INTO {} (id, body, active, version, created_at, updated_at{sep}{})
             VALUES (?, ?, ?, 1, ?, ?{sep}{marks})",
            R::TABLE,
            names.join(", ")
        ),
        &params,
    )
    .map_err(unique(r))?;
    get(db, &r.id_text())
}

pub fn get<R: Record>(db: &impl Db, id: &str) -> Result<Versioned<R>, StoreError> {
    let rows = db.execute(
        &format!(
            "SELECT id, body, version, created_at, updated_at FROM {} WHERE id = ?",
            R::TABLE
        ),
        &[Value::from(id)],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity: R::ENTITY,
            id: id.to_owned(),
        }),
    }
}

/// Stores `r` if its row is still at `expected_version`.
pub fn update<R: Record>(
    db: &impl Db,
    r: &R,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<R>, StoreError> {
    let cols = r.columns();
    let sets: String = cols.iter().map(|(n, _)| format!(", {n} = ?")).collect();
    let id = r.id_text();
    let mut params = vec![
        to_json("body", r)?,
        Value::from(r.is_active()),
        Value::Text(time::to_sql(now)),
    ];
    params.extend(cols.into_iter().map(|(_, v)| v));
    params.push(Value::from(&id));
    params.push(Value::Integer(expected_version));
    let rows = db
        .execute(
            &format!(
                "UPDATE {} SET body = ?, active = ?, updated_at = ?, version = version + 1{sets}
                 WHERE id = ? AND version = ? RETURNING id",
                R::TABLE
            ),
            &params,
        )
        .map_err(unique(r))?;
    if rows.is_empty() {
        return Err(stale_or_missing(
            db,
            R::TABLE,
            R::ENTITY,
            &id,
            expected_version,
        ));
    }
    get(db, &id)
}

/// A page of records matching `w`, in id order.
pub(crate) fn list<R: Record, I: std::fmt::Display, E>(
    db: &impl Db,
    mut w: Where,
    page: &Page,
    parse: impl FnOnce(&str) -> Result<I, E>,
) -> Result<Listed<R>, StoreError> {
    if let Some(cursor) = &page.after {
        let after = decode_cursor(R::TABLE, cursor, parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT id, body, version, created_at, updated_at FROM {} {} ORDER BY id LIMIT ?",
            R::TABLE,
            w.sql()
        ),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(R::TABLE, items, limit, |v: &Versioned<R>| {
        v.record.id_text()
    }))
}

/// Every record matching `w`, in id order.
pub(crate) fn all<R: Record>(db: &impl Db, w: Where) -> Result<Vec<R>, StoreError> {
    let rows = db.execute(
        &format!(
            "SELECT id, body, version, created_at, updated_at FROM {} {} ORDER BY id",
            R::TABLE,
            w.sql()
        ),
        &w.params,
    )?;
    rows.iter()
        .map(|r| decode::<R>(r).map(|v| v.record))
        .collect()
}
