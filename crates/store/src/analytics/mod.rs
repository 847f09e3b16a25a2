//! Analytics (issue #10): the rollup tables the jobs component maintains
//! from `order.*` events ([`rollup`]) and the report queries over them and
//! over the documents ([`reports`]). Migration 11 holds the schema.

pub mod reports;
pub mod rollup;

pub use reports::Scope;
pub use rollup::{refresh_order, Measures, Refreshed};
