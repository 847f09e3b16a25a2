//! Commission accrual (issue #8): every `order.*` event recalculates that
//! order's commission (`sales_store::teams::commissions::recalculate_order`)
//! in the transaction that marks the event done. The recalculation reads
//! the order as it is now and books only the difference between what is
//! due and what the ledger holds, so confirm, fulfil, amend, cancel and a
//! replayed or late event are one idempotent path: running it twice books
//! nothing new. The first event of an order also fixes its sales team
//! (its quotation's, else the customer's default).

use chrono::{DateTime, Utc};
use sales_domain::ids::OrderId;
use sales_store::outbox::Event;
use sales_store::teams::commissions::recalculate_order;
use sales_store::{Db, StoreError};

use crate::handlers::HandlerError;

pub(crate) fn handle(db: &impl Db, event: &Event, now: DateTime<Utc>) -> Result<(), HandlerError> {
    if !event.topic.starts_with("order.") || event.aggregate_kind != "order" {
        return Ok(());
    }
    let order = OrderId::parse(&event.aggregate_id).map_err(|e| HandlerError::Payload {
        topic: event.topic.clone(),
        message: format!("aggregate_id: {e}"),
    })?;
    match recalculate_order(db, order, now) {
        Ok(rows) => {
            for r in &rows {
                eprintln!(
                    "jobs: commission {} {} {} {} for {} {} ({})",
                    r.kind.as_str(),
                    r.amount,
                    r.currency.code(),
                    r.order_number.as_deref().unwrap_or("-"),
                    r.beneficiary.kind(),
                    r.beneficiary.id_text(),
                    event.topic
                );
            }
            Ok(())
        }
        // An order that no longer exists has nothing to earn.
        Err(StoreError::NotFound {
            entity: "order", ..
        }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
