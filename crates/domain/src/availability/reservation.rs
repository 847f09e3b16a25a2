//! Reservation planning: the exact rows a promise implies, for the store
//! to write in the order's transaction.
//!
//! Every stock piece of the promise becomes one row (line, product,
//! warehouse, quantity, the date the units are needed, how long an
//! unconfirmed hold lasts). A row never asks for more than its warehouse
//! could promise on its date, so writing all rows of one plan onto the
//! picture the plan was made from leaves no position over-committed
//! ([`super::atp::StockPosition::overcommitted`] stays zero) — the
//! "reserved never exceeds on hand plus receipts" rule. The store still
//! re-checks with a conditional update, because another order may have
//! reserved the same units since the picture was read.
//!
//! A ship-complete order that cannot ship complete reserves nothing: there
//! is no date to hold the stock for. Work orders and bookings are not
//! reservations; the jobs component creates them from the promise.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::allocation::ShipPolicy;
use super::atp::{Reservation, ReservationSpec, StockPicture, StockPosition};
use super::promise::{promise, OrderPromise, PromiseContext, PromiseRequest, PromiseSource};
use crate::ids::{LineId, OrderId, ProductId, WarehouseId};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReservationError {
    #[error("valid_until: {valid_until} is before today ({today})")]
    HoldEndsInPast {
        valid_until: NaiveDate,
        today: NaiveDate,
    },
    #[error("the order ships complete but not every line can be promised in full")]
    OrderCannotShipComplete,
}

/// One reservation row to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedReservation {
    pub line_id: LineId,
    pub product: ProductId,
    pub warehouse: WarehouseId,
    pub quantity: Decimal,
    pub needed_on: NaiveDate,
    /// The last day the hold lasts unless confirmed; `None` holds until
    /// released.
    pub valid_until: Option<NaiveDate>,
}

/// The rows for one order, in line order then allocation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationPlan {
    pub order: OrderId,
    pub rows: Vec<PlannedReservation>,
}

/// The reservation rows `promised` implies for `order`.
pub fn plan_reservations(
    order: OrderId,
    promised: &OrderPromise,
    valid_until: Option<NaiveDate>,
) -> Result<ReservationPlan, ReservationError> {
    if let Some(until) = valid_until {
        if until < promised.today {
            return Err(ReservationError::HoldEndsInPast {
                valid_until: until,
                today: promised.today,
            });
        }
    }
    if promised.ship_policy == ShipPolicy::ShipComplete && !promised.complete {
        return Err(ReservationError::OrderCannotShipComplete);
    }
    let rows = promised
        .lines
        .iter()
        .flat_map(|line| {
            line.sources.iter().filter_map(move |s| match s {
                PromiseSource::Stock(a) => Some(PlannedReservation {
                    line_id: line.line_id,
                    product: line.product,
                    warehouse: a.warehouse,
                    quantity: a.quantity,
                    needed_on: a.available_on,
                    valid_until,
                }),
                PromiseSource::WorkOrder(_) | PromiseSource::ProjectSlot(_) => None,
            })
        })
        .collect();
    Ok(ReservationPlan { order, rows })
}

/// Checks `request` and plans its reservations in one step.
pub fn promise_and_plan(
    ctx: &PromiseContext,
    request: &PromiseRequest,
    order: OrderId,
    valid_until: Option<NaiveDate>,
) -> Result<(OrderPromise, ReservationPlan), ReservationError> {
    let promised = promise(ctx, request);
    let plan = plan_reservations(order, &promised, valid_until)?;
    Ok((promised, plan))
}

/// The picture after writing `plan`'s rows (what the store's transaction
/// does, in memory).
pub fn apply_reservations(picture: &StockPicture, plan: &ReservationPlan) -> StockPicture {
    let mut next = picture.clone();
    for row in &plan.rows {
        let position = next
            .position(row.product, row.warehouse)
            .cloned()
            .unwrap_or_else(|| StockPosition::empty(row.product, row.warehouse));
        // Planned quantities are positive and within bounds by construction.
        let Ok(reservation) = Reservation::new(ReservationSpec {
            quantity: row.quantity,
            needed_on: row.needed_on,
            valid_until: row.valid_until,
        }) else {
            continue;
        };
        next = next.with_position(position.with_reservation(reservation));
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::atp::tests::d;
    use crate::availability::promise::tests::{line, request, stocked_world};
    use crate::availability::{AllocationStrategy, LineStatus};
    use rust_decimal_macros::dec;

    #[test]
    fn each_stock_piece_becomes_one_row_and_writing_them_overcommits_nothing() {
        let w = stocked_world();
        let req = request(
            ShipPolicy::ShipAsAvailable,
            AllocationStrategy::Priority,
            &w.warehouses,
            vec![line(w.product, dec!(15), None)],
        );
        let order = OrderId::new();
        let (promised, plan) =
            promise_and_plan(&w.ctx, &req, order, Some(d("2026-03-09"))).unwrap();
        assert_eq!(promised.lines[0].status, LineStatus::Full);
        assert_eq!(plan.order, order);
        let total: Decimal = plan.rows.iter().map(|r| r.quantity).sum();
        assert_eq!(total, dec!(15));
        assert!(plan
            .rows
            .iter()
            .all(|r| r.valid_until == Some(d("2026-03-09"))));
        let after = apply_reservations(w.ctx.stock(), &plan);
        for p in after.positions() {
            assert_eq!(p.overcommitted(d("2026-03-02")), dec!(0));
        }
        // The same order again finds only what is left.
        let again = crate::availability::promise::promise(
            &PromiseContext::from_parts(after, vec![], vec![], vec![], vec![]).unwrap(),
            &req,
        );
        assert_eq!(again.lines[0].promised_quantity, dec!(2));
    }

    #[test]
    fn a_hold_ending_before_today_is_refused() {
        let w = stocked_world();
        let req = request(
            ShipPolicy::ShipAsAvailable,
            AllocationStrategy::Priority,
            &w.warehouses,
            vec![line(w.product, dec!(1), None)],
        );
        assert_eq!(
            promise_and_plan(&w.ctx, &req, OrderId::new(), Some(d("2026-03-01"))).unwrap_err(),
            ReservationError::HoldEndsInPast {
                valid_until: d("2026-03-01"),
                today: d("2026-03-02")
            }
        );
    }

    #[test]
    fn a_ship_complete_order_that_cannot_ship_complete_reserves_nothing() {
        let w = stocked_world();
        let req = request(
            ShipPolicy::ShipComplete,
            AllocationStrategy::Priority,
            &w.warehouses,
            vec![line(w.product, dec!(100), None)],
        );
        assert_eq!(
            promise_and_plan(&w.ctx, &req, OrderId::new(), None).unwrap_err(),
            ReservationError::OrderCannotShipComplete
        );
    }
}
