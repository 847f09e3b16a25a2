//! The analytics rollups (issue #10): every `order.*` event brings that
//! order's contribution to the rollup tables up to date
//! (`sales_store::analytics::rollup::refresh_order`), in the transaction
//! that marks the event done. The refresh reads the order as it is now,
//! so a replayed or late event changes nothing; a version already applied
//! is skipped outright.

use sales_domain::ids::OrderId;
use sales_store::analytics::rollup::{refresh_order, Refreshed};
use sales_store::outbox::Event;
use sales_store::Db;

use crate::handlers::HandlerError;

pub(crate) fn handle(db: &impl Db, event: &Event) -> Result<(), HandlerError> {
    if !event.topic.starts_with("order.") || event.aggregate_kind != "order" {
        return Ok(());
    }
    let order = OrderId::parse(&event.aggregate_id).map_err(|e| HandlerError::Payload {
        topic: event.topic.clone(),
        message: format!("aggregate_id: {e}"),
    })?;
    if refresh_order(db, order)? == Refreshed::Missing {
        eprintln!("jobs: rollups: order {order} of {} not found", event.id);
    }
    Ok(())
}
