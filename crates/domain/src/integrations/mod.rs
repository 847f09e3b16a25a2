//! The integration hub's rules: signatures (shop HMACs and the Standard
//! Webhooks scheme), what a shop's order payload means ([`shop`]),
//! outbound subscriptions ([`subscriptions`]: URL and event-type patterns)
//! and automation rules ([`automations`]: an event, conditions, actions).
//!
//! No I/O: the caller passes the raw body, the secret, `now` and random
//! bytes; sending and storing are the jobs component's and the store's.

pub mod automations;
pub mod connectors;
pub mod crm;
pub mod shop;
pub mod signature;
pub mod subscriptions;

use thiserror::Error;

/// A refused integration input, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct IntegrationError {
    pub field: String,
    pub message: String,
}

impl IntegrationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        IntegrationError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every event topic the system writes to its outbox, by family. Outbound
/// subscriptions and automations may only name these (or a `family.*`
/// pattern), so a typo is refused instead of silently never matching.
pub const TOPICS: &[&str] = &[
    "quotation.created",
    "quotation.updated",
    "quotation.sent",
    "quotation.accepted",
    "quotation.lost",
    "quotation.revised",
    "quotation.converted",
    "quotation.cancelled",
    "quotation.expired",
    "order.created",
    "order.submitted",
    "order.confirmed",
    "order.amended",
    "order.held",
    "order.resumed",
    "order.cancelled",
    "order.closed",
    "order.shipped",
    "order.fulfilled",
    "order.returned_to_draft",
    "order.delayed",
    "approval.requested",
    "approval.escalated",
    "approval.approved",
    "approval.rejected",
    "work_order.planned",
    "work_order.changed",
    "work_order.cancelled",
    "project.planned",
    "project.changed",
    "project.cancelled",
];

/// The families subscribers may use with `.*`.
pub const FAMILIES: &[&str] = &["quotation", "order", "approval", "work_order", "project"];
