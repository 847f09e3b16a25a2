use crate::common::{at, db};
use sales_store::idempotency::{get, purge_before, put, IdempotencyRecord};
use sales_store::StoreError;

fn record(principal: &str, key: &str, day: u32) -> IdempotencyRecord {
    IdempotencyRecord {
        principal: principal.into(),
        key: key.into(),
        method: "POST".into(),
        path: "/api/v1/customers".into(),
        request_hash: "abc".into(),
        status: 201,
        response_headers: vec![
            ("content-type".into(), "application/json".into()),
            ("etag".into(), "\"1\"".into()),
        ],
        response_body: br#"{"id":"x"}"#.to_vec(),
        created_at: at(day),
    }
}

#[test]
fn a_stored_response_is_found_again_by_principal_and_key() {
    let db = db();
    let r = record("p1", "k1", 1);
    put(&db, &r).unwrap();
    assert_eq!(get(&db, "p1", "k1").unwrap(), Some(r));
    assert_eq!(get(&db, "p2", "k1").unwrap(), None);
    assert_eq!(get(&db, "p1", "k2").unwrap(), None);
}

#[test]
fn the_same_key_twice_is_a_duplicate() {
    let db = db();
    put(&db, &record("p1", "k1", 1)).unwrap();
    assert!(matches!(
        put(&db, &record("p1", "k1", 2)),
        Err(StoreError::Duplicate {
            field: "Idempotency-Key",
            ..
        })
    ));
    put(&db, &record("p2", "k1", 2)).unwrap();
}

#[test]
fn old_records_are_purged() {
    let db = db();
    put(&db, &record("p", "old", 1)).unwrap();
    put(&db, &record("p", "new", 5)).unwrap();
    let n = purge_before(&db, at(3)).unwrap();
    assert_eq!(n, 1);
    assert!(get(&db, "p", "old").unwrap().is_none());
    assert!(get(&db, "p", "new").unwrap().is_some());
}
