//! `sales-domain`: the pure business rules of the sales system.
//!
//! What lives here: [`money`] (exact decimal amounts in ISO 4217 currencies
//! and the one rounding function), [`ids`] (a UUID v7 newtype per record
//! kind), [`series`] (human document numbers such as `QTN-2026-00042`),
//! [`catalog`] (customers, products, the group and territory trees,
//! channels, settings — each with validating constructors and patches whose
//! errors name the field), [`auth`] (roles, principals, the permission
//! table, API key hashing).
//!
//! What deliberately does not: any I/O. No database, no HTTP, no Spin, no
//! clock and no randomness inside rules — callers pass `today`/`now` and
//! random bytes in, so every rule is deterministic and testable. The crate
//! builds for native and `wasm32-wasip2` alike. Serde derives exist only on
//! plain value types so the edge can (de)serialize them; converting wire
//! requests into domain values is the components' job.
//!
//! Every type validates on construction: fields are private, constructors
//! return `Result`, and each module has one `thiserror` error enum.

pub mod analytics;
pub mod approvals;
pub mod auth;
pub mod availability;
pub mod catalog;
pub mod downstream;
pub mod ids;
pub mod integrations;
pub mod money;
pub mod orders;
pub mod pricing;
pub mod quotations;
pub mod series;
pub mod teams;

pub use ids::*;
pub use money::{round, Currency, Money, MoneyError, RoundingMode};
pub use series::{DocumentNumber, DocumentSeries, SeriesError};
