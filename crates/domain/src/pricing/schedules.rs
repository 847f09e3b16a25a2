//! Discount schedules: a discount percentage that depends on how much is
//! bought, in tiers.
//!
//! - [`TierKind::Volume`]: every unit gets the percentage of the highest
//!   tier reached (100 units, tiers 0 → 0 %, 50 → 5 %, 100 → 10 %: all 100
//!   at 10 %).
//! - [`TierKind::Slab`] (marginal): each slice gets its own tier's
//!   percentage, like income tax brackets (the same 100 units: 50 at 0 %,
//!   50 at 5 %, none above 100 → 2.5 % on average).
//!
//! The measure is the quantity ([`TierBasis::Quantity`]) or the list amount
//! ([`TierBasis::Amount`], quantity × list price in the schedule's
//! currency). A tier's `from` is the measure already reached: with tiers at
//! 0 and 10, the units after the tenth are in the second tier.
//!
//! A schedule is attached to lines by a pricing rule whose action is
//! [`super::RuleAction::Schedule`]; the rule's conditions choose the lines,
//! and a `mixed` rule measures the basket's matching lines together.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::DiscountScheduleId;
use crate::money::Currency;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    #[error("schedule name must not be empty")]
    EmptyName,
    #[error("a discount schedule needs at least one tier")]
    NoTiers,
    #[error(
        "tier bounds must be non-negative and strictly ascending (tier {index} starts at {from})"
    )]
    TierOrder { index: usize, from: Decimal },
    #[error("tier {index} discount {percent}% is outside 0..=100")]
    Percent { index: usize, percent: Decimal },
    #[error("an amount-based schedule needs a currency")]
    CurrencyRequired,
    #[error("a quantity-based schedule has no currency")]
    CurrencyNotAllowed,
    #[error("impossible validity: valid_from {from} is after valid_to {to}")]
    DateRange { from: NaiveDate, to: NaiveDate },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierKind {
    Volume,
    Slab,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierBasis {
    Quantity,
    Amount,
}

/// From `from` (exclusive of what came before) upward, `discount_percent` off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub from: Decimal,
    pub discount_percent: Decimal,
}

/// The unvalidated fields of a [`DiscountSchedule`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountScheduleSpec {
    pub id: DiscountScheduleId,
    pub name: String,
    pub kind: TierKind,
    pub basis: TierBasis,
    /// Required for [`TierBasis::Amount`], absent for quantity.
    #[serde(default)]
    pub currency: Option<Currency>,
    pub tiers: Vec<Tier>,
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

/// A validated discount schedule.
///
/// Invariants: a non-empty name; at least one tier; tier bounds
/// non-negative and strictly ascending; percentages within 0..=100; a
/// currency exactly when the basis is an amount; a possible validity window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DiscountScheduleSpec")]
pub struct DiscountSchedule {
    id: DiscountScheduleId,
    name: String,
    kind: TierKind,
    basis: TierBasis,
    currency: Option<Currency>,
    tiers: Vec<Tier>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

impl DiscountSchedule {
    pub fn new(spec: DiscountScheduleSpec) -> Result<DiscountSchedule, ScheduleError> {
        if spec.name.trim().is_empty() {
            return Err(ScheduleError::EmptyName);
        }
        if spec.tiers.is_empty() {
            return Err(ScheduleError::NoTiers);
        }
        let mut previous: Option<Decimal> = None;
        for (index, tier) in spec.tiers.iter().enumerate() {
            let ascending = previous.is_none_or(|p| tier.from > p);
            if tier.from < Decimal::ZERO || !ascending {
                return Err(ScheduleError::TierOrder {
                    index,
                    from: tier.from,
                });
            }
            if tier.discount_percent < Decimal::ZERO || tier.discount_percent > Decimal::ONE_HUNDRED
            {
                return Err(ScheduleError::Percent {
                    index,
                    percent: tier.discount_percent,
                });
            }
            previous = Some(tier.from);
        }
        match (spec.basis, spec.currency) {
            (TierBasis::Amount, None) => return Err(ScheduleError::CurrencyRequired),
            (TierBasis::Quantity, Some(_)) => return Err(ScheduleError::CurrencyNotAllowed),
            _ => {}
        }
        if let (Some(from), Some(to)) = (spec.valid_from, spec.valid_to) {
            if from > to {
                return Err(ScheduleError::DateRange { from, to });
            }
        }
        Ok(DiscountSchedule {
            id: spec.id,
            name: spec.name,
            kind: spec.kind,
            basis: spec.basis,
            currency: spec.currency,
            tiers: spec.tiers,
            valid_from: spec.valid_from,
            valid_to: spec.valid_to,
        })
    }

    pub fn id(&self) -> DiscountScheduleId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn kind(&self) -> TierKind {
        self.kind
    }
    pub fn basis(&self) -> TierBasis {
        self.basis
    }
    pub fn currency(&self) -> Option<Currency> {
        self.currency
    }
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }
    pub fn valid_from(&self) -> Option<NaiveDate> {
        self.valid_from
    }
    pub fn valid_to(&self) -> Option<NaiveDate> {
        self.valid_to
    }

    /// Whether the schedule can apply to a basket in `currency` on `date`.
    pub fn applies(&self, currency: Currency, date: NaiveDate) -> bool {
        self.currency.is_none_or(|c| c == currency)
            && self.valid_from.is_none_or(|f| f <= date)
            && self.valid_to.is_none_or(|t| date <= t)
    }

    /// The discount percentage for `measure` (a quantity or an amount,
    /// according to [`Self::basis`]). For a slab schedule it is the
    /// average over the slices, at full precision.
    pub fn discount_percent(&self, measure: Decimal) -> Decimal {
        if measure <= Decimal::ZERO {
            return Decimal::ZERO;
        }
        match self.kind {
            TierKind::Volume => self
                .tiers
                .iter()
                .rev()
                .find(|t| measure >= t.from)
                .map_or(Decimal::ZERO, |t| t.discount_percent),
            TierKind::Slab => {
                let mut weighted = Decimal::ZERO;
                for (i, tier) in self.tiers.iter().enumerate() {
                    if measure <= tier.from {
                        break;
                    }
                    let upper = self
                        .tiers
                        .get(i + 1)
                        .map_or(measure, |next| next.from.min(measure));
                    weighted += (upper - tier.from) * tier.discount_percent;
                }
                weighted / measure
            }
        }
    }
}

impl TryFrom<DiscountScheduleSpec> for DiscountSchedule {
    type Error = ScheduleError;
    fn try_from(spec: DiscountScheduleSpec) -> Result<Self, Self::Error> {
        DiscountSchedule::new(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::*;
    use rust_decimal_macros::dec;

    fn schedule(kind: TierKind, basis: TierBasis) -> DiscountSchedule {
        DiscountSchedule::new(DiscountScheduleSpec {
            id: schedule_id(1),
            name: "volume".into(),
            kind,
            basis,
            currency: (basis == TierBasis::Amount).then_some(Currency::EUR),
            tiers: vec![
                Tier {
                    from: dec!(0),
                    discount_percent: dec!(0),
                },
                Tier {
                    from: dec!(50),
                    discount_percent: dec!(5),
                },
                Tier {
                    from: dec!(100),
                    discount_percent: dec!(10),
                },
            ],
            valid_from: None,
            valid_to: None,
        })
        .unwrap()
    }

    #[test]
    fn volume_by_quantity_gives_every_unit_the_reached_tier() {
        let s = schedule(TierKind::Volume, TierBasis::Quantity);
        assert_eq!(s.discount_percent(dec!(49)), dec!(0));
        assert_eq!(s.discount_percent(dec!(50)), dec!(5));
        assert_eq!(s.discount_percent(dec!(100)), dec!(10));
        assert_eq!(s.discount_percent(dec!(1000)), dec!(10));
    }

    #[test]
    fn slab_by_quantity_gives_each_slice_its_own_rate() {
        let s = schedule(TierKind::Slab, TierBasis::Quantity);
        assert_eq!(s.discount_percent(dec!(50)), dec!(0));
        // 50 at 0 %, 50 at 5 %.
        assert_eq!(s.discount_percent(dec!(100)), dec!(2.5));
        // 50 at 0 %, 50 at 5 %, 100 at 10 %: (250 + 1000) / 200 = 6.25 %.
        assert_eq!(s.discount_percent(dec!(200)), dec!(6.25));
    }

    #[test]
    fn volume_and_slab_by_amount_measure_money() {
        let volume = schedule(TierKind::Volume, TierBasis::Amount);
        let slab = schedule(TierKind::Slab, TierBasis::Amount);
        assert_eq!(volume.discount_percent(dec!(120.00)), dec!(10));
        // 50 at 0 %, 50 at 5 %, 20 at 10 %: (250 + 200) / 120 = 3.75 %.
        assert_eq!(slab.discount_percent(dec!(120.00)), dec!(3.75));
        assert!(volume.applies(Currency::EUR, day(2026, 1, 1)));
        assert!(!volume.applies(Currency::USD, day(2026, 1, 1)));
    }

    #[test]
    fn tiers_below_the_first_bound_get_nothing() {
        let mut spec = DiscountScheduleSpec {
            id: schedule_id(1),
            name: "x".into(),
            kind: TierKind::Slab,
            basis: TierBasis::Quantity,
            currency: None,
            tiers: vec![Tier {
                from: dec!(10),
                discount_percent: dec!(20),
            }],
            valid_from: None,
            valid_to: None,
        };
        let s = DiscountSchedule::new(spec.clone()).unwrap();
        assert_eq!(s.discount_percent(dec!(10)), dec!(0));
        assert_eq!(s.discount_percent(dec!(20)), dec!(10));
        spec.kind = TierKind::Volume;
        let v = DiscountSchedule::new(spec).unwrap();
        assert_eq!(v.discount_percent(dec!(9)), dec!(0));
    }

    #[test]
    fn malformed_schedules_are_rejected() {
        let base = DiscountScheduleSpec {
            id: schedule_id(1),
            name: "x".into(),
            kind: TierKind::Volume,
            basis: TierBasis::Quantity,
            currency: None,
            tiers: vec![
                Tier {
                    from: dec!(10),
                    discount_percent: dec!(5),
                },
                Tier {
                    from: dec!(10),
                    discount_percent: dec!(6),
                },
            ],
            valid_from: None,
            valid_to: None,
        };
        assert!(matches!(
            DiscountSchedule::new(base.clone()),
            Err(ScheduleError::TierOrder { index: 1, .. })
        ));
        let mut s = base.clone();
        s.tiers.truncate(1);
        s.tiers[0].discount_percent = dec!(101);
        assert!(matches!(
            DiscountSchedule::new(s),
            Err(ScheduleError::Percent { .. })
        ));
        let mut s = base.clone();
        s.tiers.clear();
        assert_eq!(DiscountSchedule::new(s), Err(ScheduleError::NoTiers));
        let mut s = base.clone();
        s.tiers.truncate(1);
        s.basis = TierBasis::Amount;
        assert_eq!(
            DiscountSchedule::new(s),
            Err(ScheduleError::CurrencyRequired)
        );
        let mut s = base;
        s.tiers.truncate(1);
        s.valid_from = Some(day(2026, 2, 1));
        s.valid_to = Some(day(2026, 1, 1));
        assert!(matches!(
            DiscountSchedule::new(s),
            Err(ScheduleError::DateRange { .. })
        ));
    }
}
