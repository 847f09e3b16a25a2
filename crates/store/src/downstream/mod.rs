//! The downstream records the jobs component keeps for sales orders —
//! [`work_orders`], [`projects`] with their tasks, approver
//! [`notifications`] — and [`reconcile`], which brings an order's work
//! orders and project to the newest [`OrderDemand`] snapshot in one
//! transaction, through availability's own repositories: a work order adds
//! its planned load to the work centre, an incoming receipt of the product
//! and a reservation pegging those units to the order; a task books its
//! role's capacity. Cancelling or shrinking undoes exactly what was added.
//!
//! What it deliberately does not do: decide quantities (the demand says
//! them), open transactions (the jobs component runs each event in one,
//! together with marking the outbox row done), or read the clock.
//!
//! [`OrderDemand`]: sales_domain::downstream::OrderDemand

pub mod notifications;
pub mod projects;
pub mod reconcile;
pub mod work_orders;

use sales_domain::availability::DayHours;

use crate::db::DbError;
use crate::StoreError;

pub(crate) fn corrupt(entity: &'static str, id: &str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        entity,
        id: id.to_owned(),
        message: message.to_string(),
    }
}

pub(crate) fn decimal(text: &str) -> Result<rust_decimal::Decimal, DbError> {
    text.parse()
        .map_err(|e| DbError::Decode(format!("bad decimal {text:?}: {e}")))
}

pub(crate) fn schedule(text: &str) -> Result<Vec<DayHours>, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Decode(format!("schedule: {e}")))
}
