//! Stored results of state-changing requests, keyed by (principal, `Idempotency-Key`).
//!
//! The kit hashes the request, looks the key up with [`get`] and, on a miss,
//! runs the handler and [`put`]s the response **in the same transaction as
//! the effect**, so either both are written or neither is. A retry with the
//! same key finds the record and replays it; the same key with a different
//! request hash is the client's mistake (the kit answers 422).

use chrono::{DateTime, Utc};

use crate::db::{Db, DbError, Row, Value};
use crate::{time, StoreError};

/// One remembered response. A plain record: the kit fills every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Who sent the request (the principal id); keys are scoped per principal.
    pub principal: String,
    /// The `Idempotency-Key` header value.
    pub key: String,
    pub method: String,
    pub path: String,
    /// A hash of what makes the request the same request (method, path, body).
    pub request_hash: String,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

fn decode(row: Row<'_>) -> Result<IdempotencyRecord, StoreError> {
    let headers: Vec<(String, String)> = serde_json::from_str(row.text("response_headers")?)
        .map_err(|e| DbError::Decode(format!("response_headers: {e}")))?;
    let status = u16::try_from(row.int("status")?)
        .map_err(|_| DbError::Decode("status out of range".into()))?;
    Ok(IdempotencyRecord {
        principal: row.text("principal")?.to_owned(),
        key: row.text("key")?.to_owned(),
        method: row.text("method")?.to_owned(),
        path: row.text("path")?.to_owned(),
        request_hash: row.text("request_hash")?.to_owned(),
        status,
        response_headers: headers,
        response_body: row.blob("response_body")?.to_vec(),
        created_at: time::from_sql(row.text("created_at")?)?,
    })
}

/// The record for (`principal`, `key`), if one was stored.
pub fn get(
    db: &impl Db,
    principal: &str,
    key: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let rows = db.execute(
        "SELECT principal, key, method, path, request_hash, status, response_headers,
                response_body, created_at
         FROM idempotency_keys WHERE principal = ? AND key = ?",
        &[Value::from(principal), Value::from(key)],
    )?;
    rows.first().map(decode).transpose()
}

/// Stores a record. A second record for the same (principal, key) is
/// [`StoreError::Duplicate`] (field `Idempotency-Key`): two concurrent first
/// attempts race, one wins, the loser's transaction rolls back.
pub fn put(db: &impl Db, record: &IdempotencyRecord) -> Result<(), StoreError> {
    let headers = serde_json::to_string(&record.response_headers)
        .map_err(|e| DbError::Decode(format!("response_headers: {e}")))?;
    let result = db.execute(
        "INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status,
                                       response_headers, response_body, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            Value::from(&record.principal),
            Value::from(&record.key),
            Value::from(&record.method),
            Value::from(&record.path),
            Value::from(&record.request_hash),
            Value::from(record.status),
            Value::Text(headers),
            Value::Blob(record.response_body.clone()),
            Value::Text(time::to_sql(record.created_at)),
        ],
    );
    match result {
        Ok(_) => Ok(()),
        Err(DbError::Unique(_)) => Err(StoreError::Duplicate {
            entity: "idempotency record",
            field: "Idempotency-Key",
            value: record.key.clone(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Deletes records created before `cutoff`; returns how many.
pub fn purge_before(db: &impl Db, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
    let rows = db.execute(
        "DELETE FROM idempotency_keys WHERE created_at < ? RETURNING 1",
        &[Value::Text(time::to_sql(cutoff))],
    )?;
    Ok(rows.len() as u64)
}
