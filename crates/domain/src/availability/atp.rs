//! The stock picture and date-aware available-to-promise (ATP).
//!
//! A [`StockPosition`] is one product in one warehouse: on hand now,
//! reservations (each needed on a date, each optionally expiring) and
//! scheduled receipts (each due on a date). Its [`AtpProfile`] answers "how
//! many more units can be promised for delivery on date D":
//!
//! 1. the running balance `B(t)` = on hand − active reservations needed by
//!    `t` + receipts due by `t`, evaluated at every date something happens;
//! 2. ATP on `D` = the smallest `B(t)` over all `t ≥ D`, never below zero.
//!
//! Taking the minimum over *later* dates is what makes ATP cumulative: a
//! receipt due on day 10 that a reservation needed on day 12 already counts
//! on cannot be promised a second time, and units on hand today that are
//! needed by a reservation next week are not promised today unless a
//! receipt replaces them in time. ATP therefore never decreases with the
//! date, and promising `q` on `D` (adding a demand of `q` on `D`) can never
//! make any balance negative.
//!
//! A reservation is active while `valid_until` is absent (confirmed) or not
//! before today; expired ones no longer count. A reservation needed before
//! today and a receipt that is overdue count from today.
//!
//! The picture may arrive over-committed (stock was adjusted down below
//! what is reserved): ATP is then zero until receipts cover the gap and
//! [`StockPosition::overcommitted`] says by how much. Plans made by this
//! module never create that state: see [`super::reservation`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{check_quantity, QuantityIssue};
use crate::ids::{ProductId, WarehouseId};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StockError {
    #[error("{field}: {issue} (got {value})")]
    InvalidQuantity {
        field: String,
        value: Decimal,
        issue: QuantityIssue,
    },
    #[error("product {product} in warehouse {warehouse} is listed twice")]
    DuplicatePosition {
        product: ProductId,
        warehouse: WarehouseId,
    },
}

fn quantity(field: String, value: Decimal, zero_allowed: bool) -> Result<Decimal, StockError> {
    check_quantity(value, zero_allowed).map_err(|issue| StockError::InvalidQuantity {
        field,
        value,
        issue,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationSpec {
    pub quantity: Decimal,
    /// The date the reserved units leave (the promised date of the line).
    pub needed_on: NaiveDate,
    /// The last day an unconfirmed reservation holds; `None` once confirmed.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
}

/// Units held for an order. Invariant: a positive quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReservationSpec")]
pub struct Reservation {
    quantity: Decimal,
    needed_on: NaiveDate,
    valid_until: Option<NaiveDate>,
}

impl Reservation {
    pub fn new(spec: ReservationSpec) -> Result<Reservation, StockError> {
        Ok(Reservation {
            quantity: quantity("quantity".into(), spec.quantity, false)?,
            needed_on: spec.needed_on,
            valid_until: spec.valid_until,
        })
    }
    pub fn quantity(&self) -> Decimal {
        self.quantity
    }
    pub fn needed_on(&self) -> NaiveDate {
        self.needed_on
    }
    pub fn valid_until(&self) -> Option<NaiveDate> {
        self.valid_until
    }
    /// Whether the reservation still holds on `today`.
    pub fn is_active(&self, today: NaiveDate) -> bool {
        self.valid_until.is_none_or(|until| until >= today)
    }
}

impl TryFrom<ReservationSpec> for Reservation {
    type Error = StockError;
    fn try_from(spec: ReservationSpec) -> Result<Self, Self::Error> {
        Reservation::new(spec)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSpec {
    pub quantity: Decimal,
    pub due_on: NaiveDate,
}

/// Units expected to arrive (a purchase or production receipt).
/// Invariant: a positive quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReceiptSpec")]
pub struct Receipt {
    quantity: Decimal,
    due_on: NaiveDate,
}

impl Receipt {
    pub fn new(spec: ReceiptSpec) -> Result<Receipt, StockError> {
        Ok(Receipt {
            quantity: quantity("quantity".into(), spec.quantity, false)?,
            due_on: spec.due_on,
        })
    }
    pub fn quantity(&self) -> Decimal {
        self.quantity
    }
    pub fn due_on(&self) -> NaiveDate {
        self.due_on
    }
}

impl TryFrom<ReceiptSpec> for Receipt {
    type Error = StockError;
    fn try_from(spec: ReceiptSpec) -> Result<Self, Self::Error> {
        Receipt::new(spec)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockPositionSpec {
    pub product: ProductId,
    pub warehouse: WarehouseId,
    pub on_hand: Decimal,
    #[serde(default)]
    pub reservations: Vec<ReservationSpec>,
    #[serde(default)]
    pub receipts: Vec<ReceiptSpec>,
}

/// One product in one warehouse. Invariants: on hand is not negative;
/// reservations and receipts are positive and kept in date order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StockPositionSpec")]
pub struct StockPosition {
    product: ProductId,
    warehouse: WarehouseId,
    on_hand: Decimal,
    reservations: Vec<Reservation>,
    receipts: Vec<Receipt>,
}

impl StockPosition {
    pub fn new(spec: StockPositionSpec) -> Result<StockPosition, StockError> {
        let on_hand = quantity("on_hand".into(), spec.on_hand, true)?;
        let mut reservations = Vec::with_capacity(spec.reservations.len());
        for (i, r) in spec.reservations.into_iter().enumerate() {
            reservations.push(Reservation::new(r).map_err(|e| within(e, "reservations", i))?);
        }
        let mut receipts = Vec::with_capacity(spec.receipts.len());
        for (i, r) in spec.receipts.into_iter().enumerate() {
            receipts.push(Receipt::new(r).map_err(|e| within(e, "receipts", i))?);
        }
        reservations.sort_by_key(|r| (r.needed_on, r.valid_until.is_some(), r.valid_until));
        receipts.sort_by_key(|r| r.due_on);
        Ok(StockPosition {
            product: spec.product,
            warehouse: spec.warehouse,
            on_hand,
            reservations,
            receipts,
        })
    }

    /// An empty position (nothing on hand, nothing expected).
    pub fn empty(product: ProductId, warehouse: WarehouseId) -> StockPosition {
        StockPosition {
            product,
            warehouse,
            on_hand: Decimal::ZERO,
            reservations: Vec::new(),
            receipts: Vec::new(),
        }
    }

    pub fn product(&self) -> ProductId {
        self.product
    }
    pub fn warehouse(&self) -> WarehouseId {
        self.warehouse
    }
    pub fn on_hand(&self) -> Decimal {
        self.on_hand
    }
    pub fn reservations(&self) -> &[Reservation] {
        &self.reservations
    }
    pub fn receipts(&self) -> &[Receipt] {
        &self.receipts
    }

    /// The units held by reservations still active on `today`.
    pub fn reserved(&self, today: NaiveDate) -> Decimal {
        self.reservations
            .iter()
            .filter(|r| r.is_active(today))
            .map(|r| r.quantity)
            .sum()
    }

    /// The same position with one more reservation (what writing a
    /// planned reservation does).
    pub fn with_reservation(&self, reservation: Reservation) -> StockPosition {
        let mut next = self.clone();
        let at = next
            .reservations
            .partition_point(|r| r.needed_on <= reservation.needed_on);
        next.reservations.insert(at, reservation);
        next
    }

    /// The running balance at each date something happens, from `today`,
    /// with `extra` demands (date, quantity) on top of the reservations.
    fn balances(
        &self,
        today: NaiveDate,
        extra: &[(NaiveDate, Decimal)],
    ) -> Vec<(NaiveDate, Decimal)> {
        let mut deltas: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
        deltas.insert(today, self.on_hand);
        for r in self.reservations.iter().filter(|r| r.is_active(today)) {
            *deltas.entry(r.needed_on.max(today)).or_default() -= r.quantity;
        }
        for r in &self.receipts {
            *deltas.entry(r.due_on.max(today)).or_default() += r.quantity;
        }
        for (date, q) in extra {
            *deltas.entry((*date).max(today)).or_default() -= *q;
        }
        let mut balance = Decimal::ZERO;
        deltas
            .into_iter()
            .map(|(date, delta)| {
                balance += delta;
                (date, balance)
            })
            .collect()
    }

    /// The ATP profile on `today`.
    pub fn atp(&self, today: NaiveDate) -> AtpProfile {
        self.atp_with(today, &[])
    }

    /// The ATP profile on `today` with further demands (date, quantity)
    /// that are not reservations yet — the earlier lines of the same check.
    pub fn atp_with(&self, today: NaiveDate, extra: &[(NaiveDate, Decimal)]) -> AtpProfile {
        let balances = self.balances(today, extra);
        let mut points = Vec::with_capacity(balances.len());
        let mut min_after = Decimal::MAX;
        for (date, balance) in balances.into_iter().rev() {
            min_after = min_after.min(balance);
            points.push(AtpPoint {
                date,
                available: min_after.max(Decimal::ZERO),
            });
        }
        points.reverse();
        // Steps where ATP does not change carry no information.
        points.dedup_by(|later, earlier| later.available == earlier.available);
        AtpProfile { points }
    }

    /// How far demand exceeds supply at the worst date (zero when every
    /// reservation is covered in time). Reservations planned by this engine
    /// never make it positive.
    pub fn overcommitted(&self, today: NaiveDate) -> Decimal {
        self.balances(today, &[])
            .into_iter()
            .map(|(_, b)| -b)
            .max()
            .unwrap_or_default()
            .max(Decimal::ZERO)
    }
}

fn within(e: StockError, list: &str, i: usize) -> StockError {
    match e {
        StockError::InvalidQuantity {
            field,
            value,
            issue,
        } => StockError::InvalidQuantity {
            field: format!("{list}[{i}].{field}"),
            value,
            issue,
        },
        other => other,
    }
}

impl TryFrom<StockPositionSpec> for StockPosition {
    type Error = StockError;
    fn try_from(spec: StockPositionSpec) -> Result<Self, Self::Error> {
        StockPosition::new(spec)
    }
}

impl From<StockPosition> for StockPositionSpec {
    fn from(p: StockPosition) -> Self {
        StockPositionSpec {
            product: p.product,
            warehouse: p.warehouse,
            on_hand: p.on_hand,
            reservations: p
                .reservations
                .into_iter()
                .map(|r| ReservationSpec {
                    quantity: r.quantity,
                    needed_on: r.needed_on,
                    valid_until: r.valid_until,
                })
                .collect(),
            receipts: p
                .receipts
                .into_iter()
                .map(|r| ReceiptSpec {
                    quantity: r.quantity,
                    due_on: r.due_on,
                })
                .collect(),
        }
    }
}

/// From `date` on (until the next point), `available` more units can be
/// promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtpPoint {
    pub date: NaiveDate,
    pub available: Decimal,
}

/// ATP as a step function: points in date order with non-decreasing
/// `available`, the first on `today`. Before the first point nothing is
/// available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtpProfile {
    points: Vec<AtpPoint>,
}

impl AtpProfile {
    pub fn points(&self) -> &[AtpPoint] {
        &self.points
    }

    /// What can be promised for `date`.
    pub fn available_on(&self, date: NaiveDate) -> Decimal {
        let after = self.points.partition_point(|p| p.date <= date);
        after
            .checked_sub(1)
            .and_then(|i| self.points.get(i))
            .map_or(Decimal::ZERO, |p| p.available)
    }

    /// The earliest date on or after `from` when `quantity` can be promised.
    pub fn earliest_date_for(&self, quantity: Decimal, from: NaiveDate) -> Option<NaiveDate> {
        if self.available_on(from) >= quantity {
            return Some(from);
        }
        self.points
            .iter()
            .find(|p| p.date > from && p.available >= quantity)
            .map(|p| p.date)
    }

    /// The most that will ever be promisable (the last step).
    pub fn eventually_available(&self) -> Decimal {
        self.points.last().map_or(Decimal::ZERO, |p| p.available)
    }
}

/// Stock positions of many products in many warehouses. Invariant: at most
/// one position per (product, warehouse); a missing one means nothing on
/// hand and nothing expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StockPictureSpec", into = "StockPictureSpec")]
pub struct StockPicture {
    positions: BTreeMap<(ProductId, WarehouseId), StockPosition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockPictureSpec {
    pub positions: Vec<StockPositionSpec>,
}

impl StockPicture {
    pub fn new(spec: StockPictureSpec) -> Result<StockPicture, StockError> {
        let mut positions = BTreeMap::new();
        for (i, p) in spec.positions.into_iter().enumerate() {
            let p = StockPosition::new(p).map_err(|e| within(e, "positions", i))?;
            let key = (p.product, p.warehouse);
            if positions.insert(key, p).is_some() {
                return Err(StockError::DuplicatePosition {
                    product: key.0,
                    warehouse: key.1,
                });
            }
        }
        Ok(StockPicture { positions })
    }

    pub fn position(&self, product: ProductId, warehouse: WarehouseId) -> Option<&StockPosition> {
        self.positions.get(&(product, warehouse))
    }

    /// Every position, by product then warehouse.
    pub fn positions(&self) -> impl Iterator<Item = &StockPosition> {
        self.positions.values()
    }

    /// Replaces (or adds) one position.
    pub fn with_position(mut self, position: StockPosition) -> StockPicture {
        self.positions
            .insert((position.product, position.warehouse), position);
        self
    }

    /// The ATP profile of `product` in `warehouse` on `today` with extra
    /// demands on top.
    pub fn atp_with(
        &self,
        product: ProductId,
        warehouse: WarehouseId,
        today: NaiveDate,
        extra: &[(NaiveDate, Decimal)],
    ) -> AtpProfile {
        match self.position(product, warehouse) {
            Some(p) => p.atp_with(today, extra),
            None => StockPosition::empty(product, warehouse).atp_with(today, extra),
        }
    }
}

impl TryFrom<StockPictureSpec> for StockPicture {
    type Error = StockError;
    fn try_from(spec: StockPictureSpec) -> Result<Self, Self::Error> {
        StockPicture::new(spec)
    }
}

impl From<StockPicture> for StockPictureSpec {
    fn from(p: StockPicture) -> Self {
        StockPictureSpec {
            positions: p.positions.into_values().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    pub(crate) fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    pub(crate) fn position(
        on_hand: Decimal,
        reservations: &[(Decimal, &str, Option<&str>)],
        receipts: &[(Decimal, &str)],
    ) -> StockPosition {
        StockPosition::new(StockPositionSpec {
            product: ProductId::new(),
            warehouse: WarehouseId::new(),
            on_hand,
            reservations: reservations
                .iter()
                .map(|(q, n, v)| ReservationSpec {
                    quantity: *q,
                    needed_on: d(n),
                    valid_until: v.map(d),
                })
                .collect(),
            receipts: receipts
                .iter()
                .map(|(q, due)| ReceiptSpec {
                    quantity: *q,
                    due_on: d(due),
                })
                .collect(),
        })
        .unwrap()
    }

    const TODAY: &str = "2026-03-02";

    #[test]
    fn atp_is_on_hand_minus_reservations_plus_receipts_due_by_the_date() {
        let p = position(
            dec!(10),
            &[(dec!(3), TODAY, None)],
            &[(dec!(5), "2026-03-10"), (dec!(7), "2026-03-20")],
        );
        let atp = p.atp(d(TODAY));
        assert_eq!(atp.available_on(d(TODAY)), dec!(7));
        assert_eq!(atp.available_on(d("2026-03-09")), dec!(7));
        assert_eq!(atp.available_on(d("2026-03-10")), dec!(12));
        assert_eq!(atp.available_on(d("2026-03-25")), dec!(19));
        assert_eq!(atp.available_on(d("2026-03-01")), dec!(0));
        assert_eq!(
            atp.earliest_date_for(dec!(12), d(TODAY)),
            Some(d("2026-03-10"))
        );
        assert_eq!(atp.earliest_date_for(dec!(20), d(TODAY)), None);
        assert_eq!(atp.eventually_available(), dec!(19));
    }

    #[test]
    fn a_receipt_already_counted_on_by_later_demand_is_not_promised_twice() {
        // 5 on hand, 10 arrive on the 10th, 12 are needed on the 12th:
        // only 3 can be promised at any date.
        let p = position(
            dec!(5),
            &[(dec!(12), "2026-03-12", None)],
            &[(dec!(10), "2026-03-10")],
        );
        let atp = p.atp(d(TODAY));
        assert_eq!(atp.available_on(d(TODAY)), dec!(3));
        assert_eq!(atp.available_on(d("2026-03-11")), dec!(3));
        assert_eq!(atp.available_on(d("2026-03-30")), dec!(3));
    }

    #[test]
    fn stock_needed_later_can_be_promised_now_when_a_receipt_replaces_it_in_time() {
        let p = position(
            dec!(5),
            &[(dec!(5), "2026-03-20", None)],
            &[(dec!(5), "2026-03-10")],
        );
        assert_eq!(p.atp(d(TODAY)).available_on(d(TODAY)), dec!(5));
        let late = position(
            dec!(5),
            &[(dec!(5), "2026-03-20", None)],
            &[(dec!(5), "2026-03-25")],
        );
        let atp = late.atp(d(TODAY));
        assert_eq!(atp.available_on(d(TODAY)), dec!(0));
        assert_eq!(atp.available_on(d("2026-03-25")), dec!(5));
    }

    #[test]
    fn expired_reservations_free_their_units() {
        let p = position(
            dec!(10),
            &[
                (dec!(4), TODAY, Some("2026-03-01")),
                (dec!(3), TODAY, Some(TODAY)),
            ],
            &[],
        );
        assert_eq!(p.reserved(d(TODAY)), dec!(3));
        assert_eq!(p.atp(d(TODAY)).available_on(d(TODAY)), dec!(7));
    }

    #[test]
    fn overdue_receipts_and_past_needs_count_from_today() {
        let p = position(
            dec!(0),
            &[(dec!(2), "2026-02-01", None)],
            &[(dec!(5), "2026-02-20")],
        );
        let atp = p.atp(d(TODAY));
        assert_eq!(
            atp.points(),
            &[AtpPoint {
                date: d(TODAY),
                available: dec!(3)
            }]
        );
    }

    #[test]
    fn an_overcommitted_position_promises_nothing_until_receipts_cover_the_gap() {
        let p = position(
            dec!(2),
            &[(dec!(5), TODAY, None)],
            &[(dec!(4), "2026-03-10")],
        );
        assert_eq!(p.overcommitted(d(TODAY)), dec!(3));
        let atp = p.atp(d(TODAY));
        assert_eq!(atp.available_on(d(TODAY)), dec!(0));
        assert_eq!(atp.available_on(d("2026-03-10")), dec!(1));
    }

    #[test]
    fn negative_or_zero_quantities_are_refused_naming_the_field() {
        let mut spec = StockPositionSpec {
            product: ProductId::new(),
            warehouse: WarehouseId::new(),
            on_hand: dec!(-1),
            reservations: vec![],
            receipts: vec![],
        };
        assert_eq!(
            StockPosition::new(spec.clone()).unwrap_err().to_string(),
            "on_hand: must not be negative (got -1)"
        );
        spec.on_hand = dec!(0);
        spec.receipts = vec![ReceiptSpec {
            quantity: dec!(0),
            due_on: d(TODAY),
        }];
        assert!(matches!(
            StockPosition::new(spec.clone()),
            Err(StockError::InvalidQuantity { field, issue: QuantityIssue::Zero, .. }) if field == "receipts[0].quantity"
        ));
        spec.receipts = vec![];
        spec.reservations = vec![ReservationSpec {
            quantity: dec!(-2),
            needed_on: d(TODAY),
            valid_until: None,
        }];
        assert!(matches!(
            StockPosition::new(spec),
            Err(StockError::InvalidQuantity { field, issue: QuantityIssue::Negative, .. }) if field == "reservations[0].quantity"
        ));
    }

    #[test]
    fn a_picture_refuses_a_position_listed_twice_and_round_trips_through_json() {
        let p = position(dec!(1), &[], &[]);
        let spec = StockPictureSpec {
            positions: vec![p.clone().into(), p.clone().into()],
        };
        assert!(matches!(
            StockPicture::new(spec),
            Err(StockError::DuplicatePosition { .. })
        ));
        let picture = StockPicture::new(StockPictureSpec {
            positions: vec![p.clone().into()],
        })
        .unwrap();
        let json = serde_json::to_string(&picture).unwrap();
        assert_eq!(
            serde_json::from_str::<StockPicture>(&json).unwrap(),
            picture
        );
        assert!(serde_json::from_str::<StockPicture>(r#"{"positions":[],"x":1}"#).is_err());
    }

    #[test]
    fn a_missing_position_has_nothing_to_promise() {
        let picture = StockPicture::new(StockPictureSpec { positions: vec![] }).unwrap();
        let atp = picture.atp_with(ProductId::new(), WarehouseId::new(), d(TODAY), &[]);
        assert_eq!(atp.available_on(d("2030-01-01")), dec!(0));
    }
}
