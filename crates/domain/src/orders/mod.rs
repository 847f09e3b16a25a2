//! Sales orders: the document, its lines, its lifecycle and the rules the
//! order flow applies around pricing, availability and approvals.
//!
//! The pieces, in the order an order meets them:
//!
//! 1. [`document`]: an [`Order`] (customer, channel, currency, payment
//!    terms, requested date, the quotation it came from) and its
//!    [`OrderLine`]s (product, quantity, unit, requested date, a kept
//!    quoted rate, goods or service from the product), validated on
//!    construction: quantities above zero with at most three decimals (the
//!    availability capability's thousandths), active products only, the
//!    product's own unit, kept rates in the order's currency.
//! 2. [`status`]: the lifecycle `draft → pending_approval → confirmed →
//!    partially_fulfilled → fulfilled`, plus `on_hold`, `cancelled`,
//!    `closed`. Every transition is a method that refuses an illegal one
//!    with a typed [`TransitionError`].
//! 3. [`policy`]: what the channel (else the settings) says about an
//!    order — quotation required, paid on order, fulfilled on the spot,
//!    the credit check mode, payment terms. Never a channel's name.
//! 4. [`credit`]: the credit check — this order plus open orders plus
//!    unpaid exposure against the customer's limit, `block` / `warn` /
//!    `off`.
//! 5. [`pricing`]: the priced result kept on the order (per line list and
//!    net price, totals, tax, margin, flags), with kept quoted rates
//!    applied over the pricing capability's answer.
//! 6. [`fulfilment`]: shipped quantities per line, never above what was
//!    ordered, and which reserved rows a shipment consumes.
//! 7. [`amendment`]: the difference between two versions of an order
//!    (which lines changed price, quantity or dates, which terms changed).
//!
//! What it deliberately does not do: I/O. Callers load the customer,
//! channel, settings and products, pass `today`, and store what these
//! functions return.

pub mod amendment;
pub mod credit;
pub mod document;
pub mod fulfilment;
pub mod policy;
pub mod pricing;
pub mod status;

#[cfg(test)]
mod proptests;

pub use amendment::{diff, Amendment, LineChange, LineChangeKind};
pub use credit::{check_credit, CreditDecision, CreditExposure, CreditOutcome};
pub use document::{
    quantity, LineKind, NewOrder, NewOrderLine, Order, OrderError, OrderLine, OrderParts,
    OrderPatch, MAX_LINES,
};
pub use fulfilment::{
    record_shipment, split_for_shipment, HeldRow, Shipment, ShipmentId, ShipmentLine, ShipmentSplit,
};
pub use policy::OrderPolicy;
pub use pricing::{apply_priced, with_kept_rate, LinePricing, OrderTotals, PricingError};
pub use status::{OrderStatus, TransitionError};
