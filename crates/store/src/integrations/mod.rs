//! The integration hub's data (migration 12).
//!
//! - [`inbound`]: the log of inbound calls (shops, CRM) with their
//!   outcome and raw payload; the first receipt of a platform event is
//!   unique, so a repeat creates nothing and is logged as a duplicate.
//! - [`subscriptions`]: outbound webhook subscriptions (URL, event-type
//!   patterns, signing secret).
//! - [`deliveries`]: one row per event and target, claimed with a lease,
//!   retried with backoff, parked after the last attempt, redeliverable;
//!   every attempt kept.
//! - [`automations`]: rules as data, the facts their conditions look at,
//!   and the run record that makes each action happen once per event.
//! - [`connections`] (migration 16): several shops per platform, each
//!   with its own secret and channel.
//! - [`references`] (migration 16): the outside systems' own ids (shop
//!   order and customer, CRM deal and account) on our documents.

pub mod automations;
pub mod connections;
pub mod crm;
pub mod deliveries;
pub mod inbound;
pub mod references;
pub mod shop;
pub mod subscriptions;

use crate::StoreError;

pub(crate) fn corrupt(entity: &'static str, id: &str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        entity,
        id: id.to_owned(),
        message: message.to_string(),
    }
}
