//! Taxes: templates of one or more percentage tax lines (VAT 20 % plus an
//! eco levy 0.5 %), computed exclusive (B2B: tax added on top of the net) or
//! inclusive (B2C: the gross is what the customer sees, net and tax are
//! extracted from it), and the rounding arithmetic both share.
//!
//! The arithmetic, used per line or per document
//! ([`TaxRounding`], a catalog setting):
//!
//! - exclusive: tax = round(net × Σ rates), gross = net + tax;
//! - inclusive: net = round(gross ÷ (1 + Σ rates)), tax = gross − net, so
//!   the gross is never touched by rounding;
//! - the tax is then split among the template's lines in proportion to
//!   their rates by [`allocate`] (largest remainder), so the lines always
//!   add up to the rounded total exactly.
//!
//! Rounding the *total* rate once (instead of each tax line separately)
//! is what makes the two modes agree to the minor unit: extracting the net
//! from a gross and adding tax back to it lands within one cent of that
//! gross (see the property test below).
//!
//! Which template applies to a basket (customer exemption, customer
//! override, channel, default) is decided in [`super::engine`]. Compound
//! taxes (tax on tax), fixed per-unit levies and per-product tax classes are
//! not modelled.

use std::collections::{BTreeSet, HashSet};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{pct, TaxTemplateId};
use crate::ids::{ChannelId, CustomerId};
use crate::money::{round, Currency, RoundingMode};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaxError {
    #[error("tax template name must not be empty")]
    EmptyName,
    #[error("invalid tax code {0:?}: expected 1 to 32 letters, digits, '-' or '_'")]
    InvalidCode(String),
    #[error("tax code {0} appears twice in the template")]
    DuplicateCode(String),
    #[error("tax rate {rate}% of {code} is outside 0..=100")]
    Rate { code: String, rate: Decimal },
}

/// Whether the document's prices include tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// B2C: the gross is computed from the net unit price and shown; net
    /// and tax are extracted from it.
    Inclusive,
    /// B2B: tax is added on top of the net.
    Exclusive,
}

/// Where tax is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxRounding {
    /// Each line's tax is rounded; the document's tax is their sum.
    #[default]
    PerLine,
    /// The document's tax is computed on the document total and rounded
    /// once, then allocated back to the lines (largest remainder) so the
    /// lines still add up to it exactly.
    PerDocument,
}

/// One tax of a template: a code (`"VAT"`), a display name and a rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRate {
    pub code: String,
    pub name: String,
    pub rate_percent: Decimal,
}

/// The unvalidated fields of a [`TaxTemplate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxTemplateSpec {
    pub id: TaxTemplateId,
    pub name: String,
    pub mode: TaxMode,
    /// May be empty: a zero-rated template.
    pub lines: Vec<TaxRate>,
    /// The channels this template is the template of.
    #[serde(default)]
    pub channels: BTreeSet<ChannelId>,
    /// The customers this template is the template of, whatever the channel
    /// (ERPNext's tax rule by customer, Odoo's fiscal position on the
    /// partner). A template with no lines assigned to a customer is their
    /// tax exemption: its name is the exemption's reference.
    #[serde(default)]
    pub customers: BTreeSet<CustomerId>,
    /// The template for baskets no channel template or override covers.
    #[serde(default)]
    pub is_default: bool,
}

/// A validated tax template.
///
/// Invariants: a non-empty name; tax codes plain and unique; rates within
/// 0..=100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TaxTemplateSpec")]
pub struct TaxTemplate {
    id: TaxTemplateId,
    name: String,
    mode: TaxMode,
    lines: Vec<TaxRate>,
    channels: BTreeSet<ChannelId>,
    customers: BTreeSet<CustomerId>,
    is_default: bool,
}

impl TaxTemplate {
    pub fn new(spec: TaxTemplateSpec) -> Result<TaxTemplate, TaxError> {
        if spec.name.trim().is_empty() {
            return Err(TaxError::EmptyName);
        }
        let mut codes = HashSet::new();
        for line in &spec.lines {
            let plain = (1..=32).contains(&line.code.len())
                && line
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
            if !plain {
                return Err(TaxError::InvalidCode(line.code.clone()));
            }
            if !codes.insert(line.code.as_str()) {
                return Err(TaxError::DuplicateCode(line.code.clone()));
            }
            if line.rate_percent < Decimal::ZERO || line.rate_percent > Decimal::ONE_HUNDRED {
                return Err(TaxError::Rate {
                    code: line.code.clone(),
                    rate: line.rate_percent,
                });
            }
        }
        Ok(TaxTemplate {
            id: spec.id,
            name: spec.name,
            mode: spec.mode,
            lines: spec.lines,
            channels: spec.channels,
            customers: spec.customers,
            is_default: spec.is_default,
        })
    }

    pub fn id(&self) -> TaxTemplateId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn mode(&self) -> TaxMode {
        self.mode
    }
    pub fn lines(&self) -> &[TaxRate] {
        &self.lines
    }
    pub fn channels(&self) -> &BTreeSet<ChannelId> {
        &self.channels
    }
    pub fn customers(&self) -> &BTreeSet<CustomerId> {
        &self.customers
    }
    pub fn is_default(&self) -> bool {
        self.is_default
    }

    /// The sum of the lines' rates as a factor (`20 % + 0.5 %` → `0.205`).
    pub fn total_rate(&self) -> Decimal {
        pct(self.lines.iter().map(|l| l.rate_percent).sum())
    }

    /// The rates as allocation weights, in line order.
    pub(crate) fn weights(&self) -> Vec<Decimal> {
        self.lines.iter().map(|l| l.rate_percent).collect()
    }
}

impl TryFrom<TaxTemplateSpec> for TaxTemplate {
    type Error = TaxError;
    fn try_from(spec: TaxTemplateSpec) -> Result<Self, Self::Error> {
        TaxTemplate::new(spec)
    }
}

/// Exclusive tax on `net` at `total_rate` (a factor), rounded once.
pub fn tax_on_net(
    net: Decimal,
    total_rate: Decimal,
    currency: Currency,
    mode: RoundingMode,
) -> Decimal {
    round(net * total_rate, currency, mode)
}

/// Inclusive: the net inside `gross` at `total_rate` (a factor); the tax is
/// `gross - net`, so net + tax is exactly the gross.
pub fn net_in_gross(
    gross: Decimal,
    total_rate: Decimal,
    currency: Currency,
    mode: RoundingMode,
) -> Decimal {
    round(gross / (Decimal::ONE + total_rate), currency, mode)
}

/// Splits `total` (already at the currency's minor unit) in proportion to
/// `weights` by the largest-remainder method: each share is first rounded
/// toward zero, then the leftover minor units go one each to the shares
/// with the largest remainders, a tie to the lower index. The shares add up
/// to `total` exactly, and each is within one minor unit of its exact
/// proportional value. With all weights zero, the first share takes all.
pub fn allocate(total: Decimal, weights: &[Decimal], currency: Currency) -> Vec<Decimal> {
    let dp = currency.minor_units();
    let zero = round(Decimal::ZERO, currency, RoundingMode::HalfUp);
    let mut shares = vec![zero; weights.len()];
    if weights.is_empty() {
        return shares;
    }
    let Some(sum) = weights
        .iter()
        .try_fold(Decimal::ZERO, |acc, w| acc.checked_add(*w))
    else {
        // Weights beyond Decimal's range: scale them down and retry.
        let scaled: Vec<Decimal> = weights.iter().map(|w| *w / Decimal::ONE_THOUSAND).collect();
        return allocate(total, &scaled, currency);
    };
    if sum.is_zero() {
        shares[0] = total;
        return shares;
    }
    let magnitude = total.abs();
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given = Decimal::ZERO;
    for (i, w) in weights.iter().enumerate() {
        // Divide first: the weight's share is at most 1, so this cannot overflow.
        let exact = magnitude * (*w / sum);
        let mut floor = exact.round_dp_with_strategy(dp, RoundingStrategy::ToZero);
        floor.rescale(dp);
        given += floor;
        remainders.push((exact - floor, i));
        shares[i] = floor;
    }
    let unit = Decimal::new(1, dp);
    let mut left = magnitude - given;
    // Largest remainder first; equal remainders keep index order.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.iter().cycle().take(weights.len() * 2) {
        if left < unit {
            break;
        }
        shares[*i] += unit;
        left -= unit;
    }
    if total.is_sign_negative() {
        for s in &mut shares {
            *s = -*s;
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn template(rates: &[(&str, Decimal)]) -> TaxTemplate {
        TaxTemplate::new(TaxTemplateSpec {
            id: tax_id(1),
            name: "VAT".into(),
            mode: TaxMode::Exclusive,
            lines: rates
                .iter()
                .map(|(code, r)| TaxRate {
                    code: (*code).into(),
                    name: (*code).into(),
                    rate_percent: *r,
                })
                .collect(),
            channels: BTreeSet::new(),
            customers: Default::default(),
            is_default: true,
        })
        .unwrap()
    }

    #[test]
    fn malformed_templates_are_rejected() {
        let spec = |code: &str, rate| TaxTemplateSpec {
            id: tax_id(1),
            name: "x".into(),
            mode: TaxMode::Exclusive,
            lines: vec![TaxRate {
                code: code.into(),
                name: "x".into(),
                rate_percent: rate,
            }],
            channels: BTreeSet::new(),
            customers: Default::default(),
            is_default: false,
        };
        assert!(matches!(
            TaxTemplate::new(spec("VAT", dec!(-1))),
            Err(TaxError::Rate { .. })
        ));
        assert!(matches!(
            TaxTemplate::new(spec("VAT", dec!(100.1))),
            Err(TaxError::Rate { .. })
        ));
        assert!(matches!(
            TaxTemplate::new(spec("V A T", dec!(20))),
            Err(TaxError::InvalidCode(_))
        ));
        let mut dup = spec("VAT", dec!(20));
        dup.lines.push(dup.lines[0].clone());
        assert!(matches!(
            TaxTemplate::new(dup),
            Err(TaxError::DuplicateCode(_))
        ));
    }

    #[test]
    fn exclusive_tax_is_added_on_the_net() {
        let t = template(&[("VAT", dec!(20)), ("ECO", dec!(0.5))]);
        let tax = tax_on_net(
            dec!(100.00),
            t.total_rate(),
            Currency::EUR,
            RoundingMode::HalfUp,
        );
        assert_eq!(tax, dec!(20.50));
        assert_eq!(
            allocate(tax, &t.weights(), Currency::EUR),
            vec![dec!(20.00), dec!(0.50)]
        );
    }

    #[test]
    fn inclusive_extracts_net_and_tax_from_the_gross_exactly() {
        let t = template(&[("VAT", dec!(20))]);
        let net = net_in_gross(
            dec!(10.00),
            t.total_rate(),
            Currency::EUR,
            RoundingMode::HalfUp,
        );
        assert_eq!(net, dec!(8.33));
        assert_eq!(dec!(10.00) - net, dec!(1.67));
    }

    #[test]
    fn allocation_gives_leftover_cents_to_the_largest_remainders() {
        let shares = allocate(dec!(1.00), &[dec!(1), dec!(1), dec!(1)], Currency::EUR);
        assert_eq!(shares, vec![dec!(0.34), dec!(0.33), dec!(0.33)]);
        let shares = allocate(dec!(-1.00), &[dec!(1), dec!(1), dec!(1)], Currency::EUR);
        assert_eq!(shares, vec![dec!(-0.34), dec!(-0.33), dec!(-0.33)]);
        assert_eq!(
            allocate(dec!(5), &[dec!(0), dec!(0)], Currency::EUR),
            vec![dec!(5), dec!(0.00)]
        );
        assert_eq!(
            allocate(dec!(7), &[dec!(2), dec!(1)], Currency::JPY),
            vec![dec!(5), dec!(2)]
        );
    }

    fn cents() -> impl Strategy<Value = Decimal> {
        (0i64..10_000_000).prop_map(|c| Decimal::new(c, 2))
    }

    fn rates() -> impl Strategy<Value = Vec<Decimal>> {
        prop::collection::vec((0i64..=2_500).prop_map(|r| Decimal::new(r, 2)), 1..4)
    }

    fn mode() -> impl Strategy<Value = RoundingMode> {
        prop_oneof![Just(RoundingMode::HalfUp), Just(RoundingMode::HalfEven)]
    }

    proptest! {
        /// Inclusive and exclusive agree to the cent: take a gross, extract
        /// its net, add tax back on that net exclusively — the gross comes
        /// back within one minor unit. (Exact agreement is impossible in
        /// general: at 20 % no net gives a gross of 0.06.)
        #[test]
        fn inclusive_and_exclusive_agree_to_the_cent(gross in cents(), rates in rates(), m in mode()) {
            let total_rate = pct(rates.iter().sum());
            let net = net_in_gross(gross, total_rate, Currency::EUR, m);
            let inclusive_tax = gross - net;
            let exclusive_tax = tax_on_net(net, total_rate, Currency::EUR, m);
            prop_assert!((exclusive_tax - inclusive_tax).abs() <= dec!(0.01),
                "gross {gross} net {net} incl {inclusive_tax} excl {exclusive_tax}");
            prop_assert!(net >= Decimal::ZERO && inclusive_tax >= Decimal::ZERO);
        }

        /// And from the net side: a net's exclusive gross, taken as an
        /// inclusive gross, gives back exactly that net.
        #[test]
        fn a_net_survives_the_round_trip_through_its_gross(net in cents(), rates in rates()) {
            let total_rate = pct(rates.iter().sum());
            let gross = net + tax_on_net(net, total_rate, Currency::EUR, RoundingMode::HalfUp);
            prop_assert_eq!(net_in_gross(gross, total_rate, Currency::EUR, RoundingMode::HalfUp), net);
        }

        #[test]
        fn allocation_adds_up_and_stays_within_a_cent_of_proportional(
            total in cents(),
            weights in prop::collection::vec((0i64..1_000_000).prop_map(|w| Decimal::new(w, 2)), 1..20),
        ) {
            let shares = allocate(total, &weights, Currency::EUR);
            prop_assert_eq!(shares.iter().sum::<Decimal>(), total);
            let sum: Decimal = weights.iter().sum();
            if !sum.is_zero() {
                for (s, w) in shares.iter().zip(&weights) {
                    prop_assert!((*s - total * *w / sum).abs() < dec!(0.01));
                    prop_assert!(*s >= Decimal::ZERO);
                }
            }
        }
    }
}
