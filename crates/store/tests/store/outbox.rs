//! The outbox: events commit or roll back with the caller's transaction.

use sales_store::db::Db;
use sales_store::outbox::{self, EventStatus, NewEvent};
use sales_store::StoreError;
use serde_json::json;

use crate::common::{at, db};

fn event(topic: &str) -> NewEvent {
    NewEvent {
        topic: topic.into(),
        aggregate_kind: "order".into(),
        aggregate_id: "0190f000-0000-7000-8000-000000000001".into(),
        payload: json!({"n": 1}),
    }
}

#[test]
fn an_event_is_written_pending_and_due_now_inside_the_callers_transaction() {
    let db = db();
    let id = db
        .transaction(|db| outbox::enqueue(db, &event("order.confirmed"), at(2)))
        .unwrap();
    let e = outbox::get(&db, id).unwrap();
    assert_eq!(e.topic, "order.confirmed");
    assert_eq!(e.status, EventStatus::Pending);
    assert_eq!((e.attempts, e.available_at), (0, at(2)));
    assert_eq!(e.payload, json!({"n": 1}));

    // A transaction that fails leaves no event behind.
    let failed: Result<(), StoreError> = db.transaction(|db| {
        outbox::enqueue(db, &event("order.cancelled"), at(2))?;
        Err(StoreError::BadCursor("boom".into()))
    });
    assert!(failed.is_err());
    let n = db.execute("SELECT count(*) AS n FROM outbox", &[]).unwrap();
    assert_eq!(n.first().unwrap().int("n").unwrap(), 1);
}
