//! Analytics rules (issue #10): which orders count as booked sales, the
//! period buckets reports group by, report ranges and the previous period
//! they are compared with, and the exact arithmetic of rolled-up amounts.
//!
//! No I/O: the store aggregates, the analytics component turns wire
//! parameters into these values. Money stays decimal throughout — rollup
//! tables hold amounts as integers of ten-thousandths ([`to_e4`],
//! [`from_e4`]) so SQLite can `SUM` them exactly; floating point never
//! touches an amount.

use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use thiserror::Error;

use crate::catalog::string_enum;
use crate::orders::OrderStatus;

/// The longest report range: ten years and a bit.
pub const MAX_RANGE_DAYS: i64 = 3700;

/// A report parameter that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct AnalyticsError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> AnalyticsError {
    AnalyticsError {
        field,
        message: message.into(),
    }
}

string_enum! {
    /// The bucket a time series groups by.
    Granularity {
        Day => "day",
        /// ISO weeks, starting on Monday.
        Week => "week",
        Month => "month",
        Quarter => "quarter",
        Year => "year",
    }
}

impl Granularity {
    /// The first day of the bucket `d` falls in.
    pub fn bucket_start(self, d: NaiveDate) -> NaiveDate {
        let first = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d);
        match self {
            Granularity::Day => d,
            Granularity::Week => d
                .checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_monday())))
                .unwrap_or(d),
            Granularity::Month => first(d.year(), d.month()),
            Granularity::Quarter => first(d.year(), (d.month0() / 3) * 3 + 1),
            Granularity::Year => first(d.year(), 1),
        }
    }

    /// Every bucket start from the bucket of `range.from` to that of
    /// `range.to`, so a series has a point (maybe zero) for every bucket.
    pub fn buckets(self, range: &DateRange) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut d = self.bucket_start(range.from);
        while d <= range.to {
            out.push(d);
            let next = match self {
                Granularity::Day => d.checked_add_days(Days::new(1)),
                Granularity::Week => d.checked_add_days(Days::new(7)),
                Granularity::Month => d.checked_add_months(chrono::Months::new(1)),
                Granularity::Quarter => d.checked_add_months(chrono::Months::new(3)),
                Granularity::Year => d.checked_add_months(chrono::Months::new(12)),
            };
            match next {
                Some(n) => d = n,
                None => break,
            }
        }
        out
    }
}

string_enum! {
    /// What a breakdown groups by.
    Dimension {
        Channel => "channel",
        /// Rolled up the territory tree: a node's figure includes its subtree.
        Territory => "territory",
        /// Credited by the order's sales-team split, rolled up the manager
        /// hierarchy.
        SalesPerson => "sales_person",
        CustomerGroup => "customer_group",
        ItemGroup => "item_group",
        Product => "product",
        Customer => "customer",
    }
}

/// An inclusive range of order dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

impl DateRange {
    /// `from` ≤ `to`, at most [`MAX_RANGE_DAYS`] days.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<DateRange, AnalyticsError> {
        if from > to {
            return Err(refuse("from", format!("must not be after to ({to})")));
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(refuse(
                "to",
                format!("a report covers at most {MAX_RANGE_DAYS} days"),
            ));
        }
        Ok(DateRange { from, to })
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// Number of days, both ends counted.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The range of the same length that ends the day before this one
    /// starts — what "compared with the previous period" means.
    pub fn previous(&self) -> DateRange {
        let len = Days::new(u64::try_from(self.days()).unwrap_or(1));
        let to = self
            .from
            .checked_sub_days(Days::new(1))
            .unwrap_or(self.from);
        let from = self.from.checked_sub_days(len).unwrap_or(to);
        DateRange { from, to }
    }
}

/// Whether an order in `status` counts as booked sales: confirmed, shipped
/// in part or in full, or closed — and a held order that was booked before
/// the hold. Drafts, orders waiting for approval and cancelled ones do not
/// count (ERPNext counts submitted, non-cancelled sales orders).
pub fn is_booked(status: OrderStatus, held_from: Option<OrderStatus>) -> bool {
    match status {
        OrderStatus::Confirmed
        | OrderStatus::PartiallyFulfilled
        | OrderStatus::Fulfilled
        | OrderStatus::Closed => true,
        OrderStatus::OnHold => held_from.is_some_and(|h| is_booked(h, None)),
        OrderStatus::Draft | OrderStatus::PendingApproval | OrderStatus::Cancelled => false,
    }
}

/// An amount as integer ten-thousandths; `None` when it has more than four
/// decimals that matter or does not fit (no currency has more than four).
pub fn to_e4(amount: Decimal) -> Option<i64> {
    let scaled = amount.checked_mul(Decimal::from(10_000))?;
    if scaled.fract() != Decimal::ZERO {
        return None;
    }
    scaled.to_i64()
}

/// The inverse of [`to_e4`].
pub fn from_e4(e4: i64) -> Decimal {
    Decimal::new(e4, 4).normalize()
}

/// `part / whole` in percent, two decimals, half up; `None` when `whole`
/// is zero (a conversion rate of nothing sent is undefined, not 0 %).
pub fn percent(part: Decimal, whole: Decimal) -> Option<Decimal> {
    if whole.is_zero() {
        return None;
    }
    let p = part.checked_mul(Decimal::ONE_HUNDRED)?.checked_div(whole)?;
    let mut p = p.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    // Always two decimals on the wire: "50.00", not "50".
    p.rescale(2);
    Some(p)
}

/// Change from `previous` to `current` in percent (`None` when there was
/// nothing before).
pub fn change_percent(current: Decimal, previous: Decimal) -> Option<Decimal> {
    percent(current - previous, previous)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn buckets_start_on_monday_the_first_of_the_month_quarter_and_year() {
        let x = d("2026-08-13"); // a Thursday
        assert_eq!(Granularity::Day.bucket_start(x), x);
        assert_eq!(Granularity::Week.bucket_start(x), d("2026-08-10"));
        assert_eq!(Granularity::Month.bucket_start(x), d("2026-08-01"));
        assert_eq!(Granularity::Quarter.bucket_start(x), d("2026-07-01"));
        assert_eq!(Granularity::Year.bucket_start(x), d("2026-01-01"));
    }

    #[test]
    fn a_series_has_every_bucket_of_the_range() {
        let r = DateRange::new(d("2026-01-15"), d("2026-04-02")).unwrap();
        assert_eq!(
            Granularity::Month.buckets(&r),
            vec![
                d("2026-01-01"),
                d("2026-02-01"),
                d("2026-03-01"),
                d("2026-04-01")
            ]
        );
        assert_eq!(Granularity::Quarter.buckets(&r).len(), 2);
    }

    #[test]
    fn the_previous_period_has_the_same_length_and_ends_the_day_before() {
        let r = DateRange::new(d("2026-03-01"), d("2026-03-31")).unwrap();
        let p = r.previous();
        assert_eq!((p.from(), p.to()), (d("2026-01-29"), d("2026-02-28")));
        assert_eq!(p.days(), r.days());
    }

    #[test]
    fn a_reversed_or_overlong_range_is_refused_naming_the_field() {
        assert_eq!(
            DateRange::new(d("2026-02-01"), d("2026-01-01"))
                .unwrap_err()
                .field,
            "from"
        );
        assert_eq!(
            DateRange::new(d("2000-01-01"), d("2026-01-01"))
                .unwrap_err()
                .field,
            "to"
        );
    }

    #[test]
    fn booked_means_confirmed_or_later_and_a_hold_keeps_what_it_held() {
        use OrderStatus::*;
        assert!(is_booked(Confirmed, None));
        assert!(is_booked(Closed, None));
        assert!(is_booked(OnHold, Some(PartiallyFulfilled)));
        assert!(!is_booked(OnHold, Some(PendingApproval)));
        assert!(!is_booked(Draft, None));
        assert!(!is_booked(Cancelled, None));
    }

    #[test]
    fn amounts_round_trip_through_ten_thousandths_exactly() {
        assert_eq!(to_e4(dec!(1234.50)), Some(12_345_000));
        assert_eq!(from_e4(12_345_000), dec!(1234.5));
        assert_eq!(to_e4(dec!(0.00001)), None);
        assert_eq!(from_e4(-5), dec!(-0.0005));
    }

    #[test]
    fn rates_are_percent_with_two_decimals_and_undefined_over_nothing() {
        assert_eq!(percent(dec!(1), dec!(3)), Some(dec!(33.33)));
        assert_eq!(percent(dec!(2), dec!(3)), Some(dec!(66.67)));
        assert_eq!(percent(dec!(1), dec!(0)), None);
        assert_eq!(percent(dec!(1), dec!(2)).unwrap().to_string(), "50.00");
        assert_eq!(change_percent(dec!(150), dec!(100)), Some(dec!(50.00)));
    }
}
