//! Claiming webhook deliveries (issue 7): the jobs component claims after
//! every wake-up and nearly always finds nothing due; that claim must not
//! write (an `UPDATE` that changes no row still takes the write lock), and
//! a due delivery is still claimed once.

use sales_domain::ids::{EventId, WebhookSubscriptionId};
use sales_store::db::Db;
use sales_store::integrations::deliveries::{self, NewDelivery};

use crate::common::{at, db};

#[test]
fn a_claim_with_nothing_due_only_reads_and_a_due_delivery_is_claimed_once() {
    let db = db();
    let lease = chrono::Duration::seconds(60);
    // A connection that refuses every write: a claim that finds nothing
    // due must not need one.
    db.execute("PRAGMA query_only = 1", &[]).unwrap();
    let none = deliveries::claim(&db, "w1", at(5), lease, 8).unwrap();
    assert!(none.is_empty());
    db.execute("PRAGMA query_only = 0", &[]).unwrap();

    let event = EventId::new();
    let subscription = WebhookSubscriptionId::new();
    deliveries::enqueue(
        &db,
        &NewDelivery {
            subscription_id: subscription,
            event_id: event,
            topic: "order.confirmed".into(),
            origin: "subscription".into(),
            dedupe_key: format!("sub:{subscription}:{event}"),
            body: "{}".into(),
        },
        at(5),
    )
    .unwrap();
    let claimed = deliveries::claim(&db, "w1", at(6), lease, 8).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].event_id, event);
    // Claimed (leased to w1): nothing is due for another consumer while
    // the lease runs.
    db.execute("PRAGMA query_only = 1", &[]).unwrap();
    let soon = at(6) + chrono::Duration::seconds(30);
    assert!(deliveries::claim(&db, "w2", soon, lease, 8)
        .unwrap()
        .is_empty());
}
