//! The teams capability's tables (migration 10): sales people and their
//! hierarchy, teams, sales partners, territory managers and rules,
//! commission plans, targets, the split credited on each document, and
//! the append-only commission ledger.
//!
//! - [`people`], [`sales_teams`], [`partners`], [`territories`] (managers,
//!   rules, a customer's territory and default split), [`targets`] (and
//!   attainment from orders), [`allocations`] (document splits),
//!   [`commissions`] (plans, ledger, [`commissions::recalculate_order`],
//!   statements), [`directory`] (what approvals learn from the hierarchy),
//!   [`listed`] (the splits of a page of documents, read for the page).
//!
//! Rules that need several records (a hierarchy without cycles, plans
//! that do not overlap) are the domain's (`sales_domain::teams`); the
//! component reads what they need from here inside its write transaction
//! and checks before it writes. Orders are read through
//! `crate::orders` and, for date ranges, with read-only queries on
//! `sales_orders`; this module never writes an order table.

pub mod allocations;
pub mod commissions;
pub mod directory;
pub mod listed;
pub mod partners;
pub mod people;
mod records;
pub mod sales_teams;
pub mod targets;
pub mod territories;

pub use records::Record;

#[cfg(all(test, feature = "rusqlite"))]
mod tests;
