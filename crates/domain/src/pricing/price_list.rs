//! Price lists: item prices per product and unit of measure, in one
//! currency, for a scope (a customer, a customer group, a channel, or
//! everyone) and a validity window; a list may derive its prices from
//! another list with a markup or markdown.
//!
//! This module validates single lists. Which lists apply to a basket and in
//! what order, the hash index over all items, derivation chains and cycle
//! detection live in [`super::catalog`], which sees every list at once.
//! Prices here are net of tax; [`super::tax`] adds or extracts tax.

use std::collections::HashSet;
use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{ChannelId, CustomerGroupId, CustomerId, PriceListId, ProductId};
use crate::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PriceListError {
    #[error("invalid unit of measure {0:?}: expected 1 to 20 characters, no surrounding spaces or control characters")]
    InvalidUom(String),
    #[error("price list name must not be empty")]
    EmptyName,
    #[error("price list validity is impossible: valid_from {from} is after valid_to {to}")]
    ValidityRange { from: NaiveDate, to: NaiveDate },
    #[error("price of product {product} per {uom} is negative ({rate})")]
    NegativePrice {
        product: ProductId,
        uom: Uom,
        rate: Decimal,
    },
    #[error(
        "price of product {product} per {uom} is above the maximum of {}",
        Money::MAX_AMOUNT
    )]
    PriceTooLarge { product: ProductId, uom: Uom },
    #[error("product {product} per {uom} is listed twice")]
    DuplicateItem { product: ProductId, uom: Uom },
    #[error("derivation adjustment {0}% would make prices negative (minimum -100%)")]
    AdjustmentBelowMinus100(Decimal),
    #[error("price list derives from itself")]
    DerivesFromItself,
}

/// A unit of measure (`"pcs"`, `"kg"`, `"box of 12"`), compared exactly.
///
/// The same text as a catalog product's unit: 1 to 20 characters, no
/// leading or trailing spaces, no control characters. The engine does not
/// convert between units: a price per `box of 12` is found only for a line
/// sold per `box of 12`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Uom(String);

/// The code as a JSON string (without the copy `into = "String"` makes).
impl Serialize for Uom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Uom {
    pub fn new(code: &str) -> Result<Uom, PriceListError> {
        let ok = (1..=20).contains(&code.chars().count())
            && code.trim() == code
            && !code.chars().any(char::is_control);
        if ok {
            Ok(Uom(code.to_owned()))
        } else {
            Err(PriceListError::InvalidUom(code.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Uom {
    type Error = PriceListError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Uom::new(&value)
    }
}

impl From<Uom> for String {
    fn from(value: Uom) -> Self {
        value.0
    }
}

impl fmt::Display for Uom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uom({})", self.0)
    }
}

/// One price: `rate` in the list's currency per `uom` of `product`, net of tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceListItem {
    pub product: ProductId,
    pub uom: Uom,
    /// Non-negative and at most [`Money::MAX_AMOUNT`]; may carry more
    /// decimals than the currency (`0.0125`).
    pub rate: Decimal,
}

/// Who a list is for. Every field that is set must match the basket; a list
/// with no field set applies to everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceListScope {
    #[serde(default)]
    pub customer: Option<CustomerId>,
    /// Matches customers of this group and of its child groups.
    #[serde(default)]
    pub customer_group: Option<CustomerGroupId>,
    #[serde(default)]
    pub channel: Option<ChannelId>,
}

/// A list that takes the prices of `base` it does not list itself,
/// multiplied by `1 + adjustment_percent / 100` (`15` is a 15 % markup,
/// `-10` a 10 % markdown). Items the derived list holds override the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derivation {
    pub base: PriceListId,
    pub adjustment_percent: Decimal,
}

/// The unvalidated fields of a [`PriceList`], as the caller or the wire has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceListSpec {
    pub id: PriceListId,
    pub name: String,
    pub currency: Currency,
    #[serde(default)]
    pub scope: PriceListScope,
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
    #[serde(default)]
    pub derivation: Option<Derivation>,
    #[serde(default)]
    pub items: Vec<PriceListItem>,
}

/// A validated price list.
///
/// Invariants: a non-empty name, `valid_from <= valid_to` when both are set
/// (both inclusive), non-negative rates, at most one item per
/// product and unit, a derivation adjustment of at least -100 % and not
/// from itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PriceListSpec")]
pub struct PriceList {
    id: PriceListId,
    name: String,
    currency: Currency,
    scope: PriceListScope,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    derivation: Option<Derivation>,
    items: Vec<PriceListItem>,
}

impl PriceList {
    pub fn new(spec: PriceListSpec) -> Result<PriceList, PriceListError> {
        if spec.name.trim().is_empty() {
            return Err(PriceListError::EmptyName);
        }
        if let (Some(from), Some(to)) = (spec.valid_from, spec.valid_to) {
            if from > to {
                return Err(PriceListError::ValidityRange { from, to });
            }
        }
        if let Some(d) = &spec.derivation {
            if d.adjustment_percent < Decimal::NEGATIVE_ONE * Decimal::ONE_HUNDRED {
                return Err(PriceListError::AdjustmentBelowMinus100(
                    d.adjustment_percent,
                ));
            }
            if d.base == spec.id {
                return Err(PriceListError::DerivesFromItself);
            }
        }
        let mut seen = HashSet::with_capacity(spec.items.len());
        for item in &spec.items {
            if item.rate.is_sign_negative() && !item.rate.is_zero() {
                return Err(PriceListError::NegativePrice {
                    product: item.product,
                    uom: item.uom.clone(),
                    rate: item.rate,
                });
            }
            if item.rate > Money::MAX_AMOUNT {
                return Err(PriceListError::PriceTooLarge {
                    product: item.product,
                    uom: item.uom.clone(),
                });
            }
            if !seen.insert((item.product, &item.uom)) {
                return Err(PriceListError::DuplicateItem {
                    product: item.product,
                    uom: item.uom.clone(),
                });
            }
        }
        Ok(PriceList {
            id: spec.id,
            name: spec.name,
            currency: spec.currency,
            scope: spec.scope,
            valid_from: spec.valid_from,
            valid_to: spec.valid_to,
            derivation: spec.derivation,
            items: spec.items,
        })
    }

    pub fn id(&self) -> PriceListId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }
    pub fn scope(&self) -> &PriceListScope {
        &self.scope
    }
    pub fn valid_from(&self) -> Option<NaiveDate> {
        self.valid_from
    }
    pub fn valid_to(&self) -> Option<NaiveDate> {
        self.valid_to
    }
    pub fn derivation(&self) -> Option<&Derivation> {
        self.derivation.as_ref()
    }
    pub fn items(&self) -> &[PriceListItem] {
        &self.items
    }

    /// Whether `date` lies in the validity window (both ends inclusive).
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= date) && self.valid_to.is_none_or(|t| date <= t)
    }

    /// Splits the list into its header and its items (the catalog indexes
    /// the items and keeps the header).
    pub(crate) fn into_parts(self) -> (PriceListHeader, Vec<PriceListItem>) {
        (
            PriceListHeader {
                id: self.id,
                name: self.name,
                currency: self.currency,
                scope: self.scope,
                valid_from: self.valid_from,
                valid_to: self.valid_to,
                derivation: self.derivation,
            },
            self.items,
        )
    }
}

impl TryFrom<PriceListSpec> for PriceList {
    type Error = PriceListError;
    fn try_from(spec: PriceListSpec) -> Result<Self, Self::Error> {
        PriceList::new(spec)
    }
}

/// A validated list without its items (the catalog holds those in its index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PriceListHeader {
    pub(crate) id: PriceListId,
    pub(crate) name: String,
    pub(crate) currency: Currency,
    pub(crate) scope: PriceListScope,
    pub(crate) valid_from: Option<NaiveDate>,
    pub(crate) valid_to: Option<NaiveDate>,
    pub(crate) derivation: Option<Derivation>,
}

impl PriceListHeader {
    pub(crate) fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= date) && self.valid_to.is_none_or(|t| date <= t)
    }

    /// The precedence key of this list for a customer, or `None` when the
    /// list's scope excludes them. Smaller keys win:
    ///
    /// 1. a list for the customer themself;
    /// 2. a customer-group list, the nearest group in the ancestry first;
    /// 3. a channel list;
    /// 4. a general list;
    ///
    /// within one of those, a list that also names the channel beats one
    /// that does not, and finally the smaller list id wins.
    pub(crate) fn precedence(
        &self,
        customer: CustomerId,
        group_chain: &[CustomerGroupId],
        channel: ChannelId,
    ) -> Option<(u8, usize, u8, PriceListId)> {
        if self.scope.customer.is_some_and(|c| c != customer) {
            return None;
        }
        if self.scope.channel.is_some_and(|c| c != channel) {
            return None;
        }
        let group_depth = match self.scope.customer_group {
            Some(g) => Some(group_chain.iter().position(|x| *x == g)?),
            None => None,
        };
        let tier = if self.scope.customer.is_some() {
            0
        } else if group_depth.is_some() {
            1
        } else if self.scope.channel.is_some() {
            2
        } else {
            3
        };
        let channel_rank = if self.scope.channel.is_some() { 0 } else { 1 };
        Some((tier, group_depth.unwrap_or(0), channel_rank, self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::*;
    use rust_decimal_macros::dec;

    fn spec() -> PriceListSpec {
        PriceListSpec {
            id: list_id(1),
            name: "Standard".into(),
            currency: Currency::EUR,
            scope: PriceListScope::default(),
            valid_from: None,
            valid_to: None,
            derivation: None,
            items: vec![item(1, "pcs", dec!(10))],
        }
    }

    #[test]
    fn a_list_valid_to_before_valid_from_is_rejected() {
        let mut s = spec();
        s.valid_from = Some(day(2026, 2, 1));
        s.valid_to = Some(day(2026, 1, 1));
        assert!(matches!(
            PriceList::new(s),
            Err(PriceListError::ValidityRange { .. })
        ));
    }

    #[test]
    fn negative_prices_and_duplicate_items_are_rejected() {
        let mut s = spec();
        s.items.push(item(2, "pcs", dec!(-1)));
        assert!(matches!(
            PriceList::new(s),
            Err(PriceListError::NegativePrice { .. })
        ));
        let mut s = spec();
        s.items.push(item(1, "pcs", dec!(11)));
        assert!(matches!(
            PriceList::new(s),
            Err(PriceListError::DuplicateItem { .. })
        ));
        let mut s = spec();
        s.items
            .push(item(2, "pcs", Money::MAX_AMOUNT + Decimal::ONE));
        assert!(matches!(
            PriceList::new(s),
            Err(PriceListError::PriceTooLarge { .. })
        ));
        // The same product in another unit is a different item.
        let mut s = spec();
        s.items.push(item(1, "box", dec!(95)));
        assert!(PriceList::new(s).is_ok());
    }

    #[test]
    fn a_markdown_beyond_minus_100_percent_or_a_self_derivation_is_rejected() {
        let mut s = spec();
        s.derivation = Some(Derivation {
            base: list_id(2),
            adjustment_percent: dec!(-100.01),
        });
        assert!(matches!(
            PriceList::new(s),
            Err(PriceListError::AdjustmentBelowMinus100(_))
        ));
        let mut s = spec();
        s.derivation = Some(Derivation {
            base: list_id(1),
            adjustment_percent: dec!(5),
        });
        assert_eq!(PriceList::new(s), Err(PriceListError::DerivesFromItself));
    }

    #[test]
    fn validity_is_inclusive_at_both_ends() {
        let mut s = spec();
        s.valid_from = Some(day(2026, 1, 1));
        s.valid_to = Some(day(2026, 1, 31));
        let list = PriceList::new(s).unwrap();
        assert!(list.is_valid_on(day(2026, 1, 1)));
        assert!(list.is_valid_on(day(2026, 1, 31)));
        assert!(!list.is_valid_on(day(2025, 12, 31)));
        assert!(!list.is_valid_on(day(2026, 2, 1)));
    }

    #[test]
    fn uom_codes_are_short_and_plain() {
        assert!(Uom::new("box-12").is_ok());
        assert!(Uom::new("box of 12").is_ok());
        assert!(Uom::new("").is_err());
        assert!(Uom::new(" kg").is_err());
        assert!(Uom::new("k\ng").is_err());
        assert!(Uom::new(&"x".repeat(21)).is_err());
        assert!(serde_json::from_str::<Uom>("\"kg\"").is_ok());
        assert!(serde_json::from_str::<Uom>("\"kg \"").is_err());
    }

    #[test]
    fn precedence_puts_customer_before_nearest_group_before_channel_before_general() {
        let c = customer_id(1);
        let groups = [group_id(2), group_id(1)]; // own group, then parent
        let ch = channel_id(1);
        let header = |scope: PriceListScope, n: u64| {
            let mut s = spec();
            s.id = list_id(n);
            s.scope = scope;
            PriceList::new(s).unwrap().into_parts().0
        };
        let own = header(
            PriceListScope {
                customer: Some(c),
                ..Default::default()
            },
            9,
        );
        let parent_group = header(
            PriceListScope {
                customer_group: Some(group_id(1)),
                ..Default::default()
            },
            3,
        );
        let near_group = header(
            PriceListScope {
                customer_group: Some(group_id(2)),
                ..Default::default()
            },
            8,
        );
        let channel = header(
            PriceListScope {
                channel: Some(ch),
                ..Default::default()
            },
            2,
        );
        let general = header(PriceListScope::default(), 1);
        let other_channel = header(
            PriceListScope {
                channel: Some(channel_id(2)),
                ..Default::default()
            },
            4,
        );
        let mut keyed: Vec<_> = [&general, &channel, &near_group, &parent_group, &own]
            .iter()
            .map(|h| (h.precedence(c, &groups, ch).unwrap(), h.id))
            .collect();
        keyed.sort();
        let order: Vec<_> = keyed.into_iter().map(|(_, id)| id).collect();
        assert_eq!(
            order,
            vec![list_id(9), list_id(8), list_id(3), list_id(2), list_id(1)]
        );
        assert_eq!(other_channel.precedence(c, &groups, ch), None);
        assert_eq!(own.precedence(customer_id(2), &groups, ch), None);
        assert_eq!(near_group.precedence(c, &[group_id(1)], ch), None);
    }
}
