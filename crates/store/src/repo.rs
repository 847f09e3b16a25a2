//! Helpers shared by the repositories: optimistic version checks, reference
//! checks, value encodings, search patterns.

use sales_domain::catalog::{ExternalIds, ValidationError};
use sales_domain::money::Money;

use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Page, Versioned};
use crate::StoreError;

/// After an `UPDATE … WHERE id = ? AND version = ?` touched no row: tells a
/// missing row ([`StoreError::NotFound`]) from a stale version
/// ([`StoreError::VersionConflict`]).
pub(crate) fn stale_or_missing(
    db: &impl Db,
    table: &str,
    entity: &'static str,
    id: &str,
    expected: i64,
) -> StoreError {
    let sql = format!("SELECT version FROM {table} WHERE id = ?");
    match db.execute(&sql, &[Value::from(id)]) {
        Err(e) => e.into(),
        Ok(rows) => match rows.first().map(|r| r.int("version")) {
            None => StoreError::NotFound {
                entity,
                id: id.to_owned(),
            },
            Some(Ok(actual)) => StoreError::VersionConflict {
                entity,
                id: id.to_owned(),
                expected,
                actual,
            },
            Some(Err(e)) => e.into(),
        },
    }
}

/// Runs `sql`, a versioned `UPDATE … WHERE id = ? AND version = ?
/// RETURNING id` with its `params`; when it touched no row, tells a missing
/// row from a stale version ([`stale_or_missing`]).
pub(crate) fn update_versioned(
    db: &impl Db,
    table: &str,
    entity: &'static str,
    (id, expected): (&str, i64),
    sql: &str,
    params: &[Value],
) -> Result<(), StoreError> {
    if db.execute(sql, params)?.is_empty() {
        return Err(stale_or_missing(db, table, entity, id, expected));
    }
    Ok(())
}

/// `DELETE FROM {table} WHERE id = ?`; no such row is
/// [`StoreError::NotFound`].
pub(crate) fn delete_by_id(
    db: &impl Db,
    table: &str,
    entity: &'static str,
    id: &str,
) -> Result<(), StoreError> {
    let rows = db.execute(
        &format!("DELETE FROM {table} WHERE id = ? RETURNING id"),
        &[Value::from(id)],
    )?;
    if rows.is_empty() {
        return Err(StoreError::NotFound {
            entity,
            id: id.to_owned(),
        });
    }
    Ok(())
}

/// Row `id` of `select` (`SELECT … FROM table`), decoded; no such row is
/// [`StoreError::NotFound`].
pub(crate) fn get_by_id<T>(
    db: &impl Db,
    select: &str,
    entity: &'static str,
    id: &str,
    decode: impl Fn(Row<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let rows = db.execute(&format!("{select} WHERE id = ?"), &[Value::from(id)])?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity,
            id: id.to_owned(),
        }),
    }
}

/// One page of `select` (`SELECT … FROM table`) under `filter`, in id
/// order, after the page's cursor of list `list` (`parse` checks the id it
/// points after); the next cursor is made from `key`.
pub(crate) fn page_by_id<T, I: std::fmt::Display, E>(
    db: &impl Db,
    (list, select): (&str, &str),
    mut filter: Where,
    page: &Page,
    parse: impl FnOnce(&str) -> Result<I, E>,
    decode: impl Fn(Row<'_>) -> Result<T, StoreError>,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), StoreError> {
    if let Some(cursor) = &page.after {
        let after = decode_cursor(list, cursor, parse)?;
        filter.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = filter.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!("{select} {} ORDER BY id LIMIT ?", filter.sql()),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(list, items, limit, key))
}

/// Fails with [`StoreError::MissingReference`] unless `table` has row `id`.
pub(crate) fn require_exists(
    db: &impl Db,
    table: &str,
    field: &'static str,
    id: Option<String>,
) -> Result<(), StoreError> {
    let Some(id) = id else {
        return Ok(());
    };
    let sql = format!("SELECT 1 AS one FROM {table} WHERE id = ?");
    if db.execute(&sql, &[Value::from(&id)])?.is_empty() {
        return Err(StoreError::MissingReference { field, id });
    }
    Ok(())
}

/// A `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` escaped
/// (use with `ESCAPE '\'`). SQLite's LIKE ignores ASCII case.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub(crate) fn money_amount(m: Option<&Money>) -> Value {
    m.map_or(Value::Null, |m| Value::Text(m.amount().to_string()))
}

pub(crate) fn money_currency(m: Option<&Money>) -> Value {
    m.map_or(Value::Null, |m| Value::from(m.currency().code()))
}

/// Reads a money pair of columns (`<prefix>_amount`, `<prefix>_currency`).
pub(crate) fn read_money(row: &Row<'_>, prefix: &str) -> Result<Option<Money>, DbError> {
    let amount = row.opt_text(&format!("{prefix}_amount"))?;
    let currency = row.opt_text(&format!("{prefix}_currency"))?;
    match (amount, currency) {
        (None, None) => Ok(None),
        (Some(a), Some(c)) => Money::parse(a, c)
            .map(Some)
            .map_err(|e| DbError::Decode(format!("{prefix}: {e}"))),
        _ => Err(DbError::Decode(format!(
            "{prefix}: amount without currency"
        ))),
    }
}

/// A JSON column into `T`.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    column: &str,
    text: &str,
) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Decode(format!("{column}: {e}")))
}

/// `T` as JSON text for a column.
pub(crate) fn to_json<T: serde::Serialize>(column: &str, value: &T) -> Result<Value, DbError> {
    serde_json::to_string(value)
        .map(Value::Text)
        .map_err(|e| DbError::Decode(format!("{column}: {e}")))
}

/// An optional JSON column.
pub(crate) fn opt_to_json<T: serde::Serialize>(
    column: &str,
    value: Option<&T>,
) -> Result<Value, DbError> {
    value.map_or(Ok(Value::Null), |v| to_json(column, v))
}

/// Builds a `WHERE` clause from optional conditions.
#[derive(Default)]
pub(crate) struct Where {
    clauses: Vec<String>,
    pub(crate) params: Vec<Value>,
}

impl Where {
    pub(crate) fn and(&mut self, clause: &str, params: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause.to_owned());
        self.params.extend(params);
    }

    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}

/// Runs `f` inside a SAVEPOINT: its statements all apply or none do, both
/// inside the caller's transaction (the normal case) and outside one.
pub(crate) fn atomically<T>(
    db: &impl Db,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    db.execute("SAVEPOINT repo_write", &[])?;
    match f() {
        Ok(v) => {
            db.execute("RELEASE repo_write", &[])?;
            Ok(v)
        }
        Err(e) => {
            let _ = db.execute("ROLLBACK TO repo_write", &[]);
            let _ = db.execute("RELEASE repo_write", &[]);
            Err(e)
        }
    }
}

/// Replaces the external ids of one record in `table` (`customer_external_ids`,
/// `product_external_ids`). A (source, id) pair another record holds is
/// [`StoreError::Duplicate`] with field `external_ids` and value `source:id`.
pub(crate) fn replace_external_ids(
    db: &impl Db,
    table: &str,
    owner_column: &str,
    owner: &str,
    entity: &'static str,
    ids: &ExternalIds,
) -> Result<(), StoreError> {
    db.execute(
        &format!("DELETE FROM {table} WHERE {owner_column} = ?"),
        &[Value::from(owner)],
    )?;
    let sql = format!("INSERT INTO {table} (source, external_id, {owner_column}) VALUES (?, ?, ?)");
    for (source, id) in ids.iter() {
        match db.execute(
            &sql,
            &[Value::from(source), Value::from(id), Value::from(owner)],
        ) {
            Ok(_) => {}
            Err(DbError::Unique(_)) => {
                return Err(StoreError::Duplicate {
                    entity,
                    field: "external_ids",
                    value: format!("{source}:{id}"),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads the `external_ids` JSON object column (built with `json_group_object`).
pub(crate) fn read_external_ids(row: &Row<'_>) -> Result<ExternalIds, DbError> {
    let map: std::collections::BTreeMap<String, String> = from_json(
        "external_ids",
        row.opt_text("external_ids")?.unwrap_or("{}"),
    )?;
    ExternalIds::new(map).map_err(|e| DbError::Decode(format!("external_ids: {e}")))
}

/// A record that bulk imports upsert by the id an outside system gives it.
pub(crate) trait ExternallyKnown: PartialEq + Sized {
    const ENTITY: &'static str;
    fn external_ids(&self) -> &ExternalIds;
    fn id_text(&self) -> String;
    /// This (imported) record's fields on `current`'s id and active flag,
    /// with `current`'s ids from other sources kept.
    fn onto(&self, current: &Self) -> Result<Self, ValidationError>;
}

/// The one body of `customers::upsert_by_external_id` and
/// `products::upsert_by_external_id`: creates the record, or updates the one
/// holding `candidate`'s id for `source`, or leaves it alone when nothing
/// differs (so replaying an import is a no-op). Atomic.
pub(crate) fn upsert_by_external_id<T: ExternallyKnown>(
    db: &impl Db,
    source: &str,
    candidate: &T,
    find: impl FnOnce(&str) -> Result<Option<Versioned<T>>, StoreError>,
    create: impl FnOnce() -> Result<Versioned<T>, StoreError>,
    update: impl FnOnce(&T, i64) -> Result<Versioned<T>, StoreError>,
) -> Result<(Upserted, Versioned<T>), StoreError> {
    let external_id =
        candidate
            .external_ids()
            .get(source)
            .ok_or_else(|| StoreError::MissingReference {
                field: "external_ids",
                id: source.to_owned(),
            })?;
    atomically(db, || match find(external_id)? {
        None => Ok((Upserted::Created, create()?)),
        Some(existing) => {
            let current = &existing.record;
            let next = candidate.onto(current).map_err(|e| StoreError::Corrupt {
                entity: T::ENTITY,
                id: current.id_text(),
                message: e.to_string(),
            })?;
            if &next == current {
                return Ok((Upserted::Unchanged, existing));
            }
            Ok((Upserted::Updated, update(&next, existing.version)?))
        }
    })
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}
