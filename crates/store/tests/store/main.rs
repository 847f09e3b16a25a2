//! Store tests on real SQLite (rusqlite): one test binary, a module per area.
// Helpers outside `#[test]` functions unwrap too; a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod api_keys;
mod approvals;
mod availability;
mod channels;
mod common;
mod concurrency;
mod credit_exposure;
mod customers;
mod delivery_claims;
mod downstream;
mod fixtures;
mod idempotency;
mod order_events;
mod orders;
mod outbox;
mod pricing;
mod products;
mod rollup_territory;
mod series;
mod settings;
mod trees;
