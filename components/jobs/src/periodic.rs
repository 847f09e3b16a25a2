//! The periodic work a `tick` runs, each piece in its own transaction so
//! one failing does not hold back the others: reservation expiry, approval
//! escalation (the same store function as `POST /api/v1/approvals/tick`;
//! each escalation becomes an `approval.escalated` event that the drain
//! turns into notifications right after), and quotation expiry.

use chrono::{DateTime, Utc};
use sales_store::approvals::escalation;
use sales_store::availability::reservations;
use sales_store::{Db, StoreError};

pub(crate) fn run(db: &impl Db, now: DateTime<Utc>) -> Result<(), StoreError> {
    let today = now.date_naive();
    let mut first_error = None;
    let mut note = |what: &str, r: Result<usize, StoreError>| match r {
        Ok(0) => {}
        Ok(n) => eprintln!("jobs tick: {what}: {n}"),
        Err(e) => {
            eprintln!("jobs tick: {what} failed: {e}");
            first_error.get_or_insert(e);
        }
    };
    note(
        "reservations expired",
        db.transaction(|db| reservations::expire_due(db, today, now)),
    );
    note(
        "approval steps escalated",
        db.transaction(|db| {
            let dir = escalation::directory(db, None)?;
            Ok(escalation::escalate_due(db, &dir, now)?.len())
        }),
    );
    note(
        "quotations expired",
        db.transaction(|db| Ok(sales_store::quotations::expire_due(db, today, now)?.len())),
    );
    match first_error {
        None => Ok(()),
        Some(e) => Err(e),
    }
}
