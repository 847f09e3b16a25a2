//! Pricing rules: when a rule applies (its [`RuleConditions`]), what it does
//! (its [`RuleAction`]) and how it combines with others (its [`Stacking`]
//! and [`PricingRule::precedence`]).
//!
//! Conditions, each optional — an empty set or `None` matches everything:
//! products; item groups (a line matches when any group in its ancestry
//! chain is listed, so a rule on "Tools" covers "Tools › Drills"); customers;
//! customer groups and territories (both by ancestry chain); channels; a
//! coupon code the basket must carry; minimum/maximum quantity and amount
//! (both bounds inclusive; the amount is quantity × list price, before any
//! rule); validity dates (inclusive). With `mixed` set, quantity and amount
//! are summed over every basket line that matches the rule's product and
//! item-group conditions, and each such line gets the rule (ERPNext's
//! "mixed conditions").
//!
//! This module validates rules and answers "does it match". Walking the
//! candidates of a line, stacking and computing adjustments is
//! [`super::engine`]'s job; the tier arithmetic of a schedule action is
//! [`super::schedules`]'.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::price_list::Uom;
use super::{DiscountScheduleId, PricingRuleId};
use crate::ids::{ChannelId, CustomerGroupId, CustomerId, ItemGroupId, ProductId, TerritoryId};
use crate::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    #[error("rule name must not be empty")]
    EmptyName,
    #[error("invalid coupon code {0:?}: expected 1 to 64 letters, digits, '-' or '_'")]
    InvalidCoupon(String),
    #[error("impossible quantity range: min_qty {min} is above max_qty {max}")]
    QuantityRange { min: Decimal, max: Decimal },
    #[error("impossible amount range: min_amount {min} is above max_amount {max}")]
    AmountRange { min: Decimal, max: Decimal },
    #[error("impossible validity: valid_from {from} is after valid_to {to}")]
    DateRange { from: NaiveDate, to: NaiveDate },
    #[error("{field} must not be negative (got {value})")]
    Negative { field: &'static str, value: Decimal },
    #[error("discount of {0}% is above 100%")]
    DiscountAbove100(Decimal),
    #[error("free item quantities must be positive (buy {buy}, get {get})")]
    FreeItemQuantity { buy: Decimal, get: Decimal },
    #[error("a rule's amounts must share one currency: found {0} and {1}")]
    MixedCurrencies(Currency, Currency),
}

/// A coupon code, stored trimmed and upper-cased so `" spring-10 "` and
/// `"SPRING-10"` are the same coupon.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CouponCode(String);

impl CouponCode {
    pub fn new(code: &str) -> Result<CouponCode, RuleError> {
        let normal = code.trim().to_ascii_uppercase();
        let ok = (1..=64).contains(&normal.len())
            && normal
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if ok {
            Ok(CouponCode(normal))
        } else {
            Err(RuleError::InvalidCoupon(code.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CouponCode {
    type Error = RuleError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CouponCode::new(&value)
    }
}

impl From<CouponCode> for String {
    fn from(value: CouponCode) -> Self {
        value.0
    }
}

impl fmt::Display for CouponCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CouponCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CouponCode({})", self.0)
    }
}

/// How a rule combines with the other rules that match the same line.
///
/// The engine walks a line's matching rules in [`PricingRule::precedence`]
/// order, each acting on the running unit price:
///
/// - `ApplyInOrder`: applies, and the walk goes on.
/// - `Exclusive`: applies, and the walk stops — rules after it do not apply.
///   An exclusive rule first in line is therefore the only one.
/// - `BestForCustomer`: the best-for-customer rules of one priority form a
///   group; when the walk reaches the group, each member is tried on the
///   running price and only the one giving the lowest net price applies
///   (for free-item rules: the most free goods by list value). A tie goes
///   to the member earliest in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    Exclusive,
    BestForCustomer,
    ApplyInOrder,
}

/// Which product a free-item rule gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FreeProduct {
    /// The product of the line that earned it, in that line's unit.
    Same,
    /// Another product, priced from the same lists as the basket.
    Other { product: ProductId, uom: Uom },
}

/// "Buy `buy`, get `get` free." Without `recursive` the reward is given once
/// when the quantity reaches `buy`; with it, once per full `buy`
/// (buy 10 get 1: 25 units earn 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeItem {
    pub product: FreeProduct,
    pub buy: Decimal,
    pub get: Decimal,
    pub recursive: bool,
}

impl FreeItem {
    /// Free quantity earned by `quantity` bought.
    pub fn free_quantity(&self, quantity: Decimal) -> Decimal {
        if quantity < self.buy || self.buy <= Decimal::ZERO {
            Decimal::ZERO
        } else if self.recursive {
            // Saturates; the engine then reports the line total as out of range.
            (quantity / self.buy)
                .floor()
                .checked_mul(self.get)
                .unwrap_or(Decimal::MAX)
        } else {
            self.get
        }
    }
}

/// What a rule does to the unit price of each line it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    /// Takes `percent` (0–100) off the running price.
    DiscountPercent { percent: Decimal },
    /// Takes `amount` off the running unit price, clamping at zero.
    DiscountAmount { amount: Money },
    /// Sets the unit price.
    FixedRate { rate: Money },
    /// Sets the unit price to standard cost × (1 + `percent` / 100).
    MarkupOnCost { percent: Decimal },
    /// Takes the percentage of the discount schedule's reached tier(s) off.
    Schedule { schedule: DiscountScheduleId },
    /// Adds a free line; the paid line's price is untouched.
    FreeItem(FreeItem),
}

impl RuleAction {
    pub fn is_free_item(&self) -> bool {
        matches!(self, RuleAction::FreeItem(_))
    }
}

/// When a rule applies. See the module documentation for each condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConditions {
    pub products: BTreeSet<ProductId>,
    pub item_groups: BTreeSet<ItemGroupId>,
    pub customers: BTreeSet<CustomerId>,
    pub customer_groups: BTreeSet<CustomerGroupId>,
    pub territories: BTreeSet<TerritoryId>,
    pub channels: BTreeSet<ChannelId>,
    pub coupon: Option<CouponCode>,
    pub min_qty: Option<Decimal>,
    pub max_qty: Option<Decimal>,
    pub min_amount: Option<Money>,
    pub max_amount: Option<Money>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// Aggregate quantity and amount over the basket's matching lines.
    pub mixed: bool,
}

/// The unvalidated fields of a [`PricingRule`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingRuleSpec {
    pub id: PricingRuleId,
    pub name: String,
    /// Higher applies first.
    #[serde(default)]
    pub priority: u32,
    pub stacking: Stacking,
    #[serde(default)]
    pub conditions: RuleConditions,
    pub action: RuleAction,
}

/// A validated pricing rule.
///
/// Invariants: a non-empty name; every range possible (min ≤ max for
/// quantity and amount, valid_from ≤ valid_to); no negative bound, discount,
/// amount, rate or markup; a discount of at most 100 %; positive free-item
/// quantities; all money in one currency (the rule then applies only to
/// baskets in that currency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PricingRuleSpec")]
pub struct PricingRule {
    id: PricingRuleId,
    name: String,
    priority: u32,
    stacking: Stacking,
    conditions: RuleConditions,
    action: RuleAction,
}

fn non_negative(field: &'static str, value: Decimal) -> Result<(), RuleError> {
    if value.is_sign_negative() && !value.is_zero() {
        Err(RuleError::Negative { field, value })
    } else {
        Ok(())
    }
}

impl PricingRule {
    pub fn new(spec: PricingRuleSpec) -> Result<PricingRule, RuleError> {
        if spec.name.trim().is_empty() {
            return Err(RuleError::EmptyName);
        }
        let c = &spec.conditions;
        if let Some(min) = c.min_qty {
            non_negative("min_qty", min)?;
        }
        if let Some(max) = c.max_qty {
            non_negative("max_qty", max)?;
        }
        if let (Some(min), Some(max)) = (c.min_qty, c.max_qty) {
            if min > max {
                return Err(RuleError::QuantityRange { min, max });
            }
        }
        if let Some(min) = &c.min_amount {
            non_negative("min_amount", min.amount())?;
        }
        if let Some(max) = &c.max_amount {
            non_negative("max_amount", max.amount())?;
        }
        if let (Some(min), Some(max)) = (&c.min_amount, &c.max_amount) {
            if min.currency() == max.currency() && min.amount() > max.amount() {
                return Err(RuleError::AmountRange {
                    min: min.amount(),
                    max: max.amount(),
                });
            }
        }
        if let (Some(from), Some(to)) = (c.valid_from, c.valid_to) {
            if from > to {
                return Err(RuleError::DateRange { from, to });
            }
        }
        match &spec.action {
            RuleAction::DiscountPercent { percent } => {
                non_negative("discount percent", *percent)?;
                if *percent > Decimal::ONE_HUNDRED {
                    return Err(RuleError::DiscountAbove100(*percent));
                }
            }
            RuleAction::DiscountAmount { amount } => {
                non_negative("discount amount", amount.amount())?;
            }
            RuleAction::FixedRate { rate } => non_negative("fixed rate", rate.amount())?,
            RuleAction::MarkupOnCost { percent } => non_negative("markup percent", *percent)?,
            RuleAction::Schedule { .. } => {}
            RuleAction::FreeItem(free) => {
                if free.buy <= Decimal::ZERO || free.get <= Decimal::ZERO {
                    return Err(RuleError::FreeItemQuantity {
                        buy: free.buy,
                        get: free.get,
                    });
                }
            }
        }
        let rule = PricingRule {
            id: spec.id,
            name: spec.name,
            priority: spec.priority,
            stacking: spec.stacking,
            conditions: spec.conditions,
            action: spec.action,
        };
        let mut currencies = rule.money().map(|m| m.currency());
        if let Some(first) = currencies.next() {
            if let Some(other) = currencies.find(|c| *c != first) {
                return Err(RuleError::MixedCurrencies(first, other));
            }
        }
        drop(currencies);
        Ok(rule)
    }

    pub fn id(&self) -> PricingRuleId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn priority(&self) -> u32 {
        self.priority
    }
    pub fn stacking(&self) -> Stacking {
        self.stacking
    }
    pub fn conditions(&self) -> &RuleConditions {
        &self.conditions
    }
    pub fn action(&self) -> &RuleAction {
        &self.action
    }

    fn money(&self) -> impl Iterator<Item = &Money> {
        let action = match &self.action {
            RuleAction::DiscountAmount { amount } => Some(amount),
            RuleAction::FixedRate { rate } => Some(rate),
            _ => None,
        };
        action
            .into_iter()
            .chain(self.conditions.min_amount.as_ref())
            .chain(self.conditions.max_amount.as_ref())
    }

    /// The currency of the rule's amounts, if it has any: the rule applies
    /// only to baskets in that currency.
    pub fn currency(&self) -> Option<Currency> {
        self.money().next().map(|m| m.currency())
    }

    /// How specific the conditions are, as bits: product 64, customer 32,
    /// item group 16, customer group 8, territory 4, channel 2, coupon 1.
    /// Compared as a number, so one product condition outranks any mix of
    /// the broader ones.
    pub fn specificity(&self) -> u32 {
        let c = &self.conditions;
        [
            !c.products.is_empty(),
            !c.customers.is_empty(),
            !c.item_groups.is_empty(),
            !c.customer_groups.is_empty(),
            !c.territories.is_empty(),
            !c.channels.is_empty(),
            c.coupon.is_some(),
        ]
        .iter()
        .fold(0, |acc, set| (acc << 1) | u32::from(*set))
    }

    /// The documented deterministic order in which matching rules are
    /// considered (smaller first): priority descending, then specificity
    /// descending, then rule id ascending. Two rules never compare equal, so
    /// a tie is never an error and never random.
    pub fn precedence(&self) -> (Reverse<u32>, Reverse<u32>, PricingRuleId) {
        (Reverse(self.priority), Reverse(self.specificity()), self.id)
    }

    /// Whether the basket-wide conditions hold: customer, groups,
    /// territories, channel, coupon, dates and currency.
    pub(crate) fn matches_basket(&self, basket: &BasketFacts<'_>) -> bool {
        let c = &self.conditions;
        self.currency().is_none_or(|cur| cur == basket.currency)
            && c.valid_from.is_none_or(|f| f <= basket.date)
            && c.valid_to.is_none_or(|t| basket.date <= t)
            && (c.customers.is_empty() || c.customers.contains(&basket.customer))
            && (c.customer_groups.is_empty()
                || basket
                    .customer_groups
                    .iter()
                    .any(|g| c.customer_groups.contains(g)))
            && (c.territories.is_empty()
                || basket.territories.iter().any(|t| c.territories.contains(t)))
            && (c.channels.is_empty() || c.channels.contains(&basket.channel))
            && c.coupon
                .as_ref()
                .is_none_or(|code| basket.coupons.contains(code))
    }

    /// Whether a line's product and item-group ancestry match.
    pub(crate) fn matches_item(&self, product: ProductId, item_groups: &[ItemGroupId]) -> bool {
        let c = &self.conditions;
        (c.products.is_empty() || c.products.contains(&product))
            && (c.item_groups.is_empty() || item_groups.iter().any(|g| c.item_groups.contains(g)))
    }

    /// Whether the quantity and amount bounds hold for `quantity` and
    /// `amount` (a line's, or the basket aggregate for a mixed rule).
    pub(crate) fn matches_measure(&self, quantity: Decimal, amount: Decimal) -> bool {
        let c = &self.conditions;
        c.min_qty.is_none_or(|m| quantity >= m)
            && c.max_qty.is_none_or(|m| quantity <= m)
            && c.min_amount.as_ref().is_none_or(|m| amount >= m.amount())
            && c.max_amount.as_ref().is_none_or(|m| amount <= m.amount())
    }
}

impl TryFrom<PricingRuleSpec> for PricingRule {
    type Error = RuleError;
    fn try_from(spec: PricingRuleSpec) -> Result<Self, Self::Error> {
        PricingRule::new(spec)
    }
}

/// The basket-wide facts rules are matched against.
#[derive(Debug, Clone)]
pub(crate) struct BasketFacts<'a> {
    pub(crate) customer: CustomerId,
    pub(crate) customer_groups: &'a [CustomerGroupId],
    pub(crate) territories: &'a [TerritoryId],
    pub(crate) channel: ChannelId,
    pub(crate) currency: Currency,
    pub(crate) date: NaiveDate,
    pub(crate) coupons: &'a BTreeSet<CouponCode>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::*;
    use rust_decimal_macros::dec;

    fn facts(coupons: &BTreeSet<CouponCode>) -> BasketFacts<'_> {
        BasketFacts {
            customer: customer_id(1),
            customer_groups: &[],
            territories: &[],
            channel: channel_id(1),
            currency: Currency::EUR,
            date: day(2026, 3, 15),
            coupons,
        }
    }

    fn with(conditions: RuleConditions) -> PricingRule {
        let mut spec = rule_spec(1, percent_off(dec!(10)));
        spec.conditions = conditions;
        PricingRule::new(spec).unwrap()
    }

    #[test]
    fn impossible_ranges_are_typed_errors_at_construction() {
        let cases = [
            (
                RuleConditions {
                    min_qty: Some(dec!(10)),
                    max_qty: Some(dec!(5)),
                    ..Default::default()
                },
                "qty",
            ),
            (
                RuleConditions {
                    min_amount: Some(eur(dec!(100))),
                    max_amount: Some(eur(dec!(50))),
                    ..Default::default()
                },
                "amount",
            ),
            (
                RuleConditions {
                    valid_from: Some(day(2026, 5, 1)),
                    valid_to: Some(day(2026, 4, 1)),
                    ..Default::default()
                },
                "date",
            ),
        ];
        for (conditions, what) in cases {
            let mut spec = rule_spec(1, percent_off(dec!(10)));
            spec.conditions = conditions;
            let err = PricingRule::new(spec).unwrap_err();
            let ok = match what {
                "qty" => matches!(err, RuleError::QuantityRange { .. }),
                "amount" => matches!(err, RuleError::AmountRange { .. }),
                _ => matches!(err, RuleError::DateRange { .. }),
            };
            assert!(ok, "{what}: {err:?}");
        }
    }

    #[test]
    fn impossible_actions_are_typed_errors_at_construction() {
        let bad = [
            (percent_off(dec!(-1)), "negative"),
            (percent_off(dec!(100.5)), "above"),
            (
                RuleAction::DiscountAmount {
                    amount: eur(dec!(-2)),
                },
                "negative",
            ),
            (
                RuleAction::FixedRate {
                    rate: eur(dec!(-2)),
                },
                "negative",
            ),
            (RuleAction::MarkupOnCost { percent: dec!(-5) }, "negative"),
            (
                RuleAction::FreeItem(FreeItem {
                    product: FreeProduct::Same,
                    buy: dec!(0),
                    get: dec!(1),
                    recursive: true,
                }),
                "free",
            ),
        ];
        for (action, what) in bad {
            let err = PricingRule::new(rule_spec(1, action)).unwrap_err();
            let ok = match what {
                "negative" => matches!(err, RuleError::Negative { .. }),
                "above" => matches!(err, RuleError::DiscountAbove100(_)),
                _ => matches!(err, RuleError::FreeItemQuantity { .. }),
            };
            assert!(ok, "{what}: {err:?}");
        }
        assert!(PricingRule::new(rule_spec(1, percent_off(dec!(100)))).is_ok());
        let mut empty = rule_spec(1, percent_off(dec!(1)));
        empty.name = "  ".into();
        assert_eq!(PricingRule::new(empty), Err(RuleError::EmptyName));
    }

    #[test]
    fn a_rule_mixing_currencies_is_rejected() {
        let mut spec = rule_spec(
            1,
            RuleAction::DiscountAmount {
                amount: eur(dec!(1)),
            },
        );
        spec.conditions.min_amount = Some(Money::new(dec!(5), Currency::USD).unwrap());
        assert!(matches!(
            PricingRule::new(spec),
            Err(RuleError::MixedCurrencies(..))
        ));
    }

    #[test]
    fn a_rule_with_money_applies_only_to_baskets_in_its_currency() {
        let rule =
            PricingRule::new(rule_spec(1, RuleAction::FixedRate { rate: eur(dec!(5)) })).unwrap();
        let coupons = BTreeSet::new();
        let mut f = facts(&coupons);
        assert!(rule.matches_basket(&f));
        f.currency = Currency::USD;
        assert!(!rule.matches_basket(&f));
    }

    #[test]
    fn product_condition_matches_only_listed_products() {
        let rule = with(RuleConditions {
            products: [product_id(1)].into(),
            ..Default::default()
        });
        assert!(rule.matches_item(product_id(1), &[]));
        assert!(!rule.matches_item(product_id(2), &[]));
    }

    #[test]
    fn item_group_condition_matches_child_groups_through_the_ancestry_chain() {
        let tools = item_group_id(1);
        let drills = item_group_id(2);
        let rule = with(RuleConditions {
            item_groups: [tools].into(),
            ..Default::default()
        });
        assert!(rule.matches_item(product_id(9), &[drills, tools]));
        assert!(rule.matches_item(product_id(9), &[tools]));
        assert!(!rule.matches_item(product_id(9), &[drills]));
        assert!(!rule.matches_item(product_id(9), &[]));
    }

    #[test]
    fn customer_condition_matches_only_listed_customers() {
        let coupons = BTreeSet::new();
        let rule = with(RuleConditions {
            customers: [customer_id(1)].into(),
            ..Default::default()
        });
        let mut f = facts(&coupons);
        assert!(rule.matches_basket(&f));
        f.customer = customer_id(2);
        assert!(!rule.matches_basket(&f));
    }

    #[test]
    fn customer_group_condition_matches_subgroups() {
        let coupons = BTreeSet::new();
        let rule = with(RuleConditions {
            customer_groups: [group_id(1)].into(),
            ..Default::default()
        });
        let chain = [group_id(3), group_id(1)];
        let mut f = facts(&coupons);
        f.customer_groups = &chain;
        assert!(rule.matches_basket(&f));
        let other = [group_id(3)];
        f.customer_groups = &other;
        assert!(!rule.matches_basket(&f));
    }

    #[test]
    fn territory_condition_matches_sub_territories() {
        let coupons = BTreeSet::new();
        let rule = with(RuleConditions {
            territories: [territory_id(1)].into(),
            ..Default::default()
        });
        let chain = [territory_id(7), territory_id(1)];
        let mut f = facts(&coupons);
        f.territories = &chain;
        assert!(rule.matches_basket(&f));
        f.territories = &[];
        assert!(!rule.matches_basket(&f));
    }

    #[test]
    fn channel_condition_matches_only_listed_channels() {
        let coupons = BTreeSet::new();
        let rule = with(RuleConditions {
            channels: [channel_id(2)].into(),
            ..Default::default()
        });
        let mut f = facts(&coupons);
        assert!(!rule.matches_basket(&f));
        f.channel = channel_id(2);
        assert!(rule.matches_basket(&f));
    }

    #[test]
    fn coupon_condition_needs_the_coupon_on_the_basket() {
        let rule = with(RuleConditions {
            coupon: Some(coupon("SPRING")),
            ..Default::default()
        });
        let none = BTreeSet::new();
        assert!(!rule.matches_basket(&facts(&none)));
        let some: BTreeSet<_> = [coupon(" spring ")].into();
        assert!(rule.matches_basket(&facts(&some)));
    }

    #[test]
    fn quantity_and_amount_bounds_are_inclusive() {
        let rule = with(RuleConditions {
            min_qty: Some(dec!(5)),
            max_qty: Some(dec!(10)),
            min_amount: Some(eur(dec!(50))),
            max_amount: Some(eur(dec!(500))),
            ..Default::default()
        });
        assert!(rule.matches_measure(dec!(5), dec!(50)));
        assert!(rule.matches_measure(dec!(10), dec!(500)));
        assert!(!rule.matches_measure(dec!(4.99), dec!(50)));
        assert!(!rule.matches_measure(dec!(11), dec!(100)));
        assert!(!rule.matches_measure(dec!(6), dec!(49.99)));
        assert!(!rule.matches_measure(dec!(6), dec!(500.01)));
    }

    #[test]
    fn validity_dates_are_inclusive() {
        let coupons = BTreeSet::new();
        let rule = with(RuleConditions {
            valid_from: Some(day(2026, 3, 15)),
            valid_to: Some(day(2026, 3, 15)),
            ..Default::default()
        });
        let mut f = facts(&coupons);
        assert!(rule.matches_basket(&f));
        f.date = day(2026, 3, 16);
        assert!(!rule.matches_basket(&f));
        f.date = day(2026, 3, 14);
        assert!(!rule.matches_basket(&f));
    }

    #[test]
    fn precedence_is_priority_then_specificity_then_id() {
        let mk = |n, priority, conditions| {
            let mut s = rule_spec(n, percent_off(dec!(1)));
            s.priority = priority;
            s.conditions = conditions;
            PricingRule::new(s).unwrap()
        };
        let product = RuleConditions {
            products: [product_id(1)].into(),
            ..Default::default()
        };
        let groupy = RuleConditions {
            item_groups: [item_group_id(1)].into(),
            customer_groups: [group_id(1)].into(),
            territories: [territory_id(1)].into(),
            ..Default::default()
        };
        let mut rules = [
            mk(1, 0, RuleConditions::default()),
            mk(2, 0, groupy),
            mk(3, 0, product.clone()),
            mk(4, 5, RuleConditions::default()),
            mk(5, 0, product),
        ];
        rules.sort_by_key(PricingRule::precedence);
        let order: Vec<_> = rules.iter().map(PricingRule::id).collect();
        assert_eq!(
            order,
            vec![rule_id(4), rule_id(3), rule_id(5), rule_id(2), rule_id(1)]
        );
    }

    #[test]
    fn buy_ten_get_one_recursively_gives_two_for_twenty_five() {
        let free = FreeItem {
            product: FreeProduct::Same,
            buy: dec!(10),
            get: dec!(1),
            recursive: true,
        };
        assert_eq!(free.free_quantity(dec!(25)), dec!(2));
        assert_eq!(free.free_quantity(dec!(9)), dec!(0));
        let once = FreeItem {
            recursive: false,
            ..free
        };
        assert_eq!(once.free_quantity(dec!(25)), dec!(1));
    }

    #[test]
    fn rules_deserialize_through_validation() {
        let ok =
            serde_json::to_string(&PricingRule::new(rule_spec(1, percent_off(dec!(5)))).unwrap())
                .unwrap();
        assert!(serde_json::from_str::<PricingRule>(&ok).is_ok());
        let bad = ok.replace("\"5\"", "\"150\"");
        assert!(serde_json::from_str::<PricingRule>(&bad).is_err());
    }
}
