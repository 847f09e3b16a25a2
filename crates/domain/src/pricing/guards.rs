//! Price guards: a floor price and/or a minimum margin for a product or an
//! item group (and its child groups).
//!
//! A guard never refuses a price. A line below a guard is priced as the
//! rules say and carries a [`LineFlag`] naming the guard and the reason;
//! approvals decide what happens to a flagged document. Every guard that
//! covers a line is checked (the product's own and those of each group in
//! its ancestry), so the strictest one always shows.
//!
//! The margin is on the selling price, as sales teams quote it:
//! `(net − cost) ÷ net × 100`. A guard's floor applies only to baskets in
//! the floor's currency.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::waterfall::LineFlag;
use super::PriceGuardId;
use crate::ids::{ItemGroupId, ProductId};
use crate::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GuardError {
    #[error("a guard needs a floor price, a minimum margin, or both")]
    NothingGuarded,
    #[error("floor price must not be negative (got {0})")]
    NegativeFloor(Money),
    #[error("minimum margin {0}% must be below 100%")]
    MarginNotBelow100(Decimal),
}

/// What a guard covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum GuardScope {
    Product(ProductId),
    /// The group and every group below it.
    ItemGroup(ItemGroupId),
}

/// The unvalidated fields of a [`PriceGuard`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceGuardSpec {
    pub id: PriceGuardId,
    pub scope: GuardScope,
    #[serde(default)]
    pub floor_price: Option<Money>,
    #[serde(default)]
    pub min_margin_percent: Option<Decimal>,
}

/// A validated guard.
///
/// Invariants: at least one of floor and margin; a non-negative floor; a
/// minimum margin below 100 % (a negative minimum allows selling at a loss
/// down to that margin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PriceGuardSpec")]
pub struct PriceGuard {
    id: PriceGuardId,
    scope: GuardScope,
    floor_price: Option<Money>,
    min_margin_percent: Option<Decimal>,
}

impl PriceGuard {
    pub fn new(spec: PriceGuardSpec) -> Result<PriceGuard, GuardError> {
        if spec.floor_price.is_none() && spec.min_margin_percent.is_none() {
            return Err(GuardError::NothingGuarded);
        }
        if let Some(floor) = spec.floor_price {
            if floor.is_negative() {
                return Err(GuardError::NegativeFloor(floor));
            }
        }
        if let Some(m) = spec.min_margin_percent {
            if m >= Decimal::ONE_HUNDRED {
                return Err(GuardError::MarginNotBelow100(m));
            }
        }
        Ok(PriceGuard {
            id: spec.id,
            scope: spec.scope,
            floor_price: spec.floor_price,
            min_margin_percent: spec.min_margin_percent,
        })
    }

    pub fn id(&self) -> PriceGuardId {
        self.id
    }
    pub fn scope(&self) -> &GuardScope {
        &self.scope
    }
    pub fn floor_price(&self) -> Option<Money> {
        self.floor_price
    }
    pub fn min_margin_percent(&self) -> Option<Decimal> {
        self.min_margin_percent
    }

    /// The flags this guard raises for a line with `net_unit` price,
    /// `net_total` and `cost_total` in `currency`: a unit price below the
    /// floor, or a margin below the minimum (a zero net total with a
    /// positive cost has no margin percentage and is below any minimum).
    pub(crate) fn check(
        &self,
        currency: Currency,
        net_unit: Decimal,
        net_total: Decimal,
        cost_total: Decimal,
        flags: &mut Vec<LineFlag>,
    ) {
        if let Some(floor) = self.floor_price {
            if floor.currency() == currency && net_unit < floor.amount() {
                flags.push(LineFlag::BelowFloorPrice {
                    guard: self.id,
                    floor_price: floor.amount(),
                    net_unit_price: net_unit,
                });
            }
        }
        if let Some(min) = self.min_margin_percent {
            let margin = margin_percent(net_total, cost_total);
            let below = match margin {
                Some(m) => m < min,
                None => cost_total > Decimal::ZERO,
            };
            if below {
                flags.push(LineFlag::BelowMinimumMargin {
                    guard: self.id,
                    min_margin_percent: min,
                    margin_percent: margin.map(|m| m.round_dp(2)),
                });
            }
        }
    }
}

impl TryFrom<PriceGuardSpec> for PriceGuard {
    type Error = GuardError;
    fn try_from(spec: PriceGuardSpec) -> Result<Self, Self::Error> {
        PriceGuard::new(spec)
    }
}

/// `(net − cost) ÷ net × 100` at full precision, or `None` for a zero net.
pub(crate) fn margin_percent(net_total: Decimal, cost_total: Decimal) -> Option<Decimal> {
    if net_total.is_zero() {
        None
    } else {
        Some((net_total - cost_total) / net_total * Decimal::ONE_HUNDRED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::*;
    use rust_decimal_macros::dec;

    fn guard(floor: Option<Decimal>, margin: Option<Decimal>) -> PriceGuard {
        PriceGuard::new(PriceGuardSpec {
            id: guard_id(1),
            scope: GuardScope::Product(product_id(1)),
            floor_price: floor.map(eur),
            min_margin_percent: margin,
        })
        .unwrap()
    }

    #[test]
    fn an_empty_or_impossible_guard_is_rejected() {
        let spec = |floor: Option<Decimal>, margin| PriceGuardSpec {
            id: guard_id(1),
            scope: GuardScope::ItemGroup(item_group_id(1)),
            floor_price: floor.map(eur),
            min_margin_percent: margin,
        };
        assert_eq!(
            PriceGuard::new(spec(None, None)),
            Err(GuardError::NothingGuarded)
        );
        assert!(matches!(
            PriceGuard::new(spec(Some(dec!(-1)), None)),
            Err(GuardError::NegativeFloor(_))
        ));
        assert!(matches!(
            PriceGuard::new(spec(None, Some(dec!(100)))),
            Err(GuardError::MarginNotBelow100(_))
        ));
    }

    #[test]
    fn a_price_below_the_floor_is_flagged_with_the_floor() {
        let g = guard(Some(dec!(8)), None);
        let mut flags = vec![];
        g.check(Currency::EUR, dec!(8.00), dec!(8), dec!(0), &mut flags);
        assert!(flags.is_empty());
        g.check(Currency::EUR, dec!(7.99), dec!(7.99), dec!(0), &mut flags);
        assert_eq!(
            flags,
            vec![LineFlag::BelowFloorPrice {
                guard: guard_id(1),
                floor_price: dec!(8.00),
                net_unit_price: dec!(7.99)
            }]
        );
        let mut usd = vec![];
        g.check(Currency::USD, dec!(1), dec!(1), dec!(0), &mut usd);
        assert!(usd.is_empty(), "a EUR floor does not guard USD baskets");
    }

    #[test]
    fn a_margin_below_the_minimum_is_flagged_with_the_margin() {
        let g = guard(None, Some(dec!(25)));
        let mut flags = vec![];
        // 100 net, 75 cost: exactly 25 %.
        g.check(Currency::EUR, dec!(10), dec!(100), dec!(75), &mut flags);
        assert!(flags.is_empty());
        g.check(Currency::EUR, dec!(10), dec!(100), dec!(80), &mut flags);
        assert_eq!(
            flags,
            vec![LineFlag::BelowMinimumMargin {
                guard: guard_id(1),
                min_margin_percent: dec!(25),
                margin_percent: Some(dec!(20.00)),
            }]
        );
        let mut free = vec![];
        g.check(Currency::EUR, dec!(0), dec!(0), dec!(5), &mut free);
        assert!(matches!(
            free[..],
            [LineFlag::BelowMinimumMargin {
                margin_percent: None,
                ..
            }]
        ));
    }
}
