//! Writes: one transaction per state-changing request, with `Idempotency-Key`.
//!
//! [`write`] runs a handler inside `BEGIN IMMEDIATE … COMMIT`. With an
//! `Idempotency-Key` header it first looks the key up: the same key with the
//! same request replays the stored response (`Idempotent-Replayed: true`);
//! the same key with a different request is 422. On a miss the handler runs
//! and its 2xx response is stored **in the same transaction as its effect**,
//! so a crash leaves either both or neither. A failed request stores nothing,
//! so the client can retry it with the same key.
//!
//! Handlers called through `write` never begin transactions themselves.

use chrono::{DateTime, Utc};
use sales_store::idempotency::{self as record, IdempotencyRecord};
use sales_store::Db;
use sha2::{Digest, Sha256};

use crate::http::{ApiRequest, ApiResponse};
use crate::problem::ApiError;
use crate::ApiResult;

/// The header that marks a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

/// The `Idempotency-Key` of a request, validated: 1–255 visible ASCII characters.
pub fn key(req: &ApiRequest) -> Result<Option<&str>, ApiError> {
    match req.header("idempotency-key") {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k))
        }
        Some(_) => Err(ApiError::new(
            400,
            "invalid_idempotency_key",
            "The Idempotency-Key is invalid",
            "an Idempotency-Key is 1 to 255 visible ASCII characters",
        )
        .with_field("Idempotency-Key")),
    }
}

/// What makes two requests "the same request".
pub fn request_hash(req: &ApiRequest) -> String {
    let mut h = Sha256::new();
    h.update(req.method.as_str().as_bytes());
    h.update([0]);
    h.update(req.path.as_bytes());
    h.update([0]);
    h.update(req.query.as_bytes());
    h.update([0]);
    h.update(&req.body);
    hex::encode(h.finalize())
}

/// Runs `handler` in one write transaction, honouring `Idempotency-Key`.
pub fn write<D: Db>(
    db: &D,
    principal: &str,
    req: &ApiRequest,
    now: DateTime<Utc>,
    handler: impl FnOnce(&D) -> ApiResult,
) -> ApiResult {
    let key = key(req)?;
    db.transaction(|db| {
        let hash = request_hash(req);
        if let Some(key) = key {
            if let Some(stored) = record::get(db, principal, key)? {
                if stored.request_hash != hash {
                    return Err(ApiError::idempotency_key_reused());
                }
                let mut resp = ApiResponse {
                    status: stored.status,
                    headers: stored.response_headers,
                    body: stored.response_body,
                };
                resp.headers
                    .push((REPLAYED.to_string(), "true".to_string()));
                return Ok(resp);
            }
        }
        let resp = handler(db)?;
        if let Some(key) = key {
            if (200..300).contains(&resp.status) {
                record::put(
                    db,
                    &IdempotencyRecord {
                        principal: principal.to_string(),
                        key: key.to_string(),
                        method: req.method.as_str().to_string(),
                        path: req.path.clone(),
                        request_hash: hash,
                        status: resp.status,
                        response_headers: resp.headers.clone(),
                        response_body: resp.body.clone(),
                        created_at: now,
                    },
                )?;
            }
        }
        Ok(resp)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use sales_store::rusqlite_db::RusqliteDb;
    use sales_store::Value;
    use std::cell::Cell;

    fn db() -> RusqliteDb {
        let db = RusqliteDb::open_in_memory().unwrap();
        sales_store::migrate(&db).unwrap();
        db.execute("CREATE TABLE effects (n INTEGER)", &[]).unwrap();
        db
    }

    fn post(body: &str, key: Option<&str>) -> ApiRequest {
        let r = ApiRequest::new(Method::Post, "/api/v1/things").with_body(body);
        match key {
            Some(k) => r.with_header("Idempotency-Key", k),
            None => r,
        }
    }

    fn effects(db: &RusqliteDb) -> i64 {
        let rows = db
            .execute("SELECT COUNT(*) AS n FROM effects", &[])
            .unwrap();
        rows.first().unwrap().int("n").unwrap()
    }

    fn insert(db: &RusqliteDb) -> ApiResult {
        db.execute("INSERT INTO effects (n) VALUES (1)", &[])?;
        ApiResponse::json(201, &serde_json::json!({"created": true}))
    }

    #[test]
    fn a_retry_with_the_same_key_replays_the_first_response_and_writes_once() {
        let db = db();
        let now = Utc::now();
        let calls = Cell::new(0);
        let run = || {
            write(&db, "p1", &post("{\"a\":1}", Some("k1")), now, |db| {
                calls.set(calls.get() + 1);
                insert(db)
            })
            .unwrap()
        };
        let first = run();
        let second = run();
        assert_eq!(calls.get(), 1);
        assert_eq!(effects(&db), 1);
        assert_eq!(first.body, second.body);
        assert_eq!(second.status, 201);
        assert_eq!(second.header(REPLAYED), Some("true"));
        assert_eq!(first.header(REPLAYED), None);
    }

    #[test]
    fn the_same_key_with_another_body_is_refused() {
        let db = db();
        let now = Utc::now();
        write(&db, "p1", &post("{\"a\":1}", Some("k1")), now, |db| {
            insert(db)
        })
        .unwrap();
        let err = write(&db, "p1", &post("{\"a\":2}", Some("k1")), now, |db| {
            insert(db)
        })
        .unwrap_err();
        assert_eq!(err.code(), "idempotency_key_reused");
        assert_eq!(effects(&db), 1);
    }

    #[test]
    fn keys_are_scoped_per_principal() {
        let db = db();
        let now = Utc::now();
        write(&db, "p1", &post("{}", Some("k1")), now, insert).unwrap();
        write(&db, "p2", &post("{}", Some("k1")), now, insert).unwrap();
        assert_eq!(effects(&db), 2);
    }

    #[test]
    fn a_failed_handler_writes_nothing_and_stores_no_key() {
        let db = db();
        let now = Utc::now();
        let err = write(&db, "p1", &post("{}", Some("k1")), now, |db| {
            db.execute("INSERT INTO effects (n) VALUES (?)", &[Value::Integer(1)])?;
            Err(ApiError::invalid_field("name", "bad"))
        })
        .unwrap_err();
        assert_eq!(err.code(), "invalid_field");
        assert_eq!(effects(&db), 0);
        // The retry runs for real.
        write(&db, "p1", &post("{}", Some("k1")), now, insert).unwrap();
        assert_eq!(effects(&db), 1);
    }

    #[test]
    fn a_malformed_key_is_refused_before_anything_runs() {
        let db = db();
        let err = write(&db, "p1", &post("{}", Some("bad key")), Utc::now(), |db| {
            insert(db)
        })
        .unwrap_err();
        assert_eq!(err.code(), "invalid_idempotency_key");
        assert_eq!(effects(&db), 0);
    }
}
