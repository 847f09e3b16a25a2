//! The availability and promise engine: when can we deliver what a customer
//! asks for, and from where.
//!
//! What it does, in the order [`promise::promise`] runs it for each line:
//!
//! 1. **Available-to-promise** ([`atp`]): per product and warehouse, the
//!    stock picture — on hand, reservations (with the date they are needed
//!    and an optional expiry), scheduled receipts (with a due date) — becomes
//!    a cumulative ATP profile: what can still be promised on each date
//!    without taking units that earlier or later demand already counts on.
//! 2. **Allocation** ([`allocation`]): a line's quantity is taken from the
//!    channel's warehouses in priority order or "most stock first", either
//!    in one shipment (ship complete) or in pieces as stock arrives (ship as
//!    available), split across warehouses when no single one suffices.
//! 3. **Capable-to-promise** ([`ctp`]): for manufactured products the
//!    shortfall left after netting free stock is planned on a work centre
//!    (hours per day, a [`calendar::WorkingCalendar`], existing load, hours
//!    per unit, material lead time) as a proposed work order.
//! 4. **Project timelines** ([`projects`]): service hours are booked on a
//!    role's weekly capacity after its existing bookings.
//! 5. **The promise** ([`promise`]): per line the promised date, its sources
//!    and a one-line explanation; per order the ship-complete date.
//! 6. **Reservation planning** ([`reservation`]): the exact reservation rows
//!    a promise implies, for the store to write atomically.
//!
//! Beside the engine, [`stock`] holds the small records the availability
//! component stores: warehouses, a reservation hold's lifecycle, and the
//! thousandths quantities are stored in.
//!
//! What it deliberately does not do: any I/O, and no clock. The caller
//! loads the [`promise::PromiseContext`] (stock, work centres, routings,
//! roles) for the products on the order and passes `today`. The same input
//! always gives the same output, byte for byte once serialized: collections
//! are `BTreeMap`s or sorted `Vec`s, and lines are served in request order.
//! Quantities and hours are `rust_decimal::Decimal`, never floats. Every
//! scheduling search is bounded by [`HORIZON_DAYS`], so a calendar whose
//! holidays swallow every day is an error, not an endless loop.
//!
//! Date conventions: a receipt counts on its due date; a receipt that is
//! overdue counts from today (it is still expected). Production finishing
//! on day D and a booking ending on day D make the line ready on D.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub mod allocation;
pub mod atp;
pub mod calendar;
pub mod ctp;
pub mod projects;
pub mod promise;
pub mod reservation;
pub mod stock;

#[cfg(test)]
mod proptests;

pub use allocation::{
    allocate, allocate_on, AllocationPlan, AllocationStrategy, ShipPolicy, StockView,
    WarehouseAllocation,
};
pub use atp::{
    AtpPoint, AtpProfile, Receipt, ReceiptSpec, Reservation, ReservationSpec, StockError,
    StockPicture, StockPictureSpec, StockPosition, StockPositionSpec,
};
pub use calendar::{
    schedule_hours, CalendarError, CalendarId, DayHours, ScheduledHours, Weekday, WorkingCalendar,
    WorkingCalendarSpec,
};
pub use ctp::{
    plan_work_order, CtpError, PlannedLoad, ProposedWorkOrder, Routing, RoutingSpec, WorkCenter,
    WorkCenterId, WorkCenterSpec,
};
pub use projects::{
    plan_booking, Booking, BookingSpec, ProjectError, ProjectRole, ProjectRoleId, ProjectRoleSpec,
    ProposedBooking, Service, ServiceSpec,
};
pub use promise::{
    promise, LinePromise, LineStatus, OrderPromise, PromiseContext, PromiseContextSpec,
    PromiseError, PromiseLine, PromiseRequest, PromiseRequestSpec, PromiseSource,
};
pub use reservation::{
    apply_reservations, plan_reservations, promise_and_plan, PlannedReservation, ReservationError,
    ReservationPlan,
};
pub use stock::{
    from_milli, to_milli, NewWarehouse, ReservationStatus, ReservationTransitionError, Warehouse,
};

/// The longest stretch any search looks ahead, in days (about ten years).
/// Scheduling that cannot finish within it is an error.
pub const HORIZON_DAYS: u32 = 3660;

/// The largest quantity (units or hours) any input may carry. Keeps every
/// sum and product the engine forms far inside `Decimal`'s range.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Why a quantity was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantityIssue {
    Negative,
    /// Zero where only a positive quantity makes sense.
    Zero,
    TooLarge,
}

impl std::fmt::Display for QuantityIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QuantityIssue::Negative => "must not be negative",
            QuantityIssue::Zero => "must be greater than zero",
            QuantityIssue::TooLarge => "is above the maximum of 1000000000",
        })
    }
}

/// Checks a quantity: never negative, never above [`MAX_QUANTITY`], and
/// positive unless `zero_allowed`.
pub(crate) fn check_quantity(value: Decimal, zero_allowed: bool) -> Result<Decimal, QuantityIssue> {
    if value.is_sign_negative() && !value.is_zero() {
        Err(QuantityIssue::Negative)
    } else if value.is_zero() && !zero_allowed {
        Err(QuantityIssue::Zero)
    } else if value > MAX_QUANTITY {
        Err(QuantityIssue::TooLarge)
    } else {
        Ok(value.normalize())
    }
}

/// `date + days`, or `None` past the end of the calendar.
pub(crate) fn add_days(date: NaiveDate, days: u32) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(u64::from(days)))
}

/// A quantity as people write it (`10`, `2.5`), for explanations.
pub(crate) fn qty(value: Decimal) -> String {
    value.normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn quantities_are_checked_for_sign_zero_and_size() {
        assert_eq!(check_quantity(dec!(-1), true), Err(QuantityIssue::Negative));
        assert_eq!(check_quantity(dec!(0), false), Err(QuantityIssue::Zero));
        assert_eq!(check_quantity(dec!(0), true), Ok(dec!(0)));
        assert_eq!(check_quantity(dec!(-0), true), Ok(dec!(0)));
        assert_eq!(
            check_quantity(MAX_QUANTITY + dec!(1), true),
            Err(QuantityIssue::TooLarge)
        );
        assert_eq!(check_quantity(dec!(2.50), false), Ok(dec!(2.5)));
    }
}
