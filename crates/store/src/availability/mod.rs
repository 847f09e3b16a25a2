//! The availability capability's tables: warehouses, stock positions and
//! their adjustment ledger, scheduled receipts, reservation holds, and
//! [`load::promise_context`], which reads just the slice of stock one check
//! needs into the engine's `PromiseContextSpec`.
//!
//! Quantities are INTEGER thousandths (`sales_domain::availability::to_milli`).
//! A stock position keeps three running totals — `on_hand`, `incoming`
//! (open receipts) and `reserved` (held reservations) — that the
//! repositories move in the same statement group as the ledger row that
//! explains them, inside a SAVEPOINT. Reserving is one conditional
//! `UPDATE … WHERE on_hand + incoming - reserved >= ?` of every position a
//! hold touches, checked position by position ([`reservations::reserve`]):
//! two orders competing for the last units on separate connections never
//! both get them. `reservation_totals` keeps the held quantity per
//! position, date and last day beside the ledger, for [`load`].
//!
//! What it deliberately does not do: decide promise dates (the engine in
//! `sales_domain::availability` does, from what [`load`] reads) or read
//! the clock (callers pass `now` and `today`).

pub mod capacity;
pub mod load;
pub mod receipts;
pub mod reservations;
pub mod stock;
pub mod warehouses;

use rust_decimal::Decimal;
use sales_domain::availability::{from_milli, to_milli};

use crate::db::DbError;
use crate::StoreError;

/// `q` in thousandths; the edge refuses finer quantities, so a failure
/// here is a caller bug reported as a decode error.
pub(crate) fn milli(field: &str, q: Decimal) -> Result<i64, StoreError> {
    to_milli(q).ok_or_else(|| {
        StoreError::Db(DbError::Decode(format!(
            "{field}: {q} has more than three decimals"
        )))
    })
}

pub(crate) fn qty(milli: i64) -> Decimal {
    from_milli(milli)
}

pub(crate) fn date(text: &str) -> Result<chrono::NaiveDate, DbError> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| DbError::Decode(format!("bad date {text:?}: {e}")))
}
