//! The priced result an order keeps: per line what pricing said (list and
//! net unit price, totals, tax, margin, flags) with kept quoted rates
//! applied over it, and the document's totals.
//!
//! A kept rate (a quotation's price the customer was promised) replaces
//! the net unit price pricing computed today. The line's net total is the
//! rate times the quantity, rounded once; its tax is pricing's tax scaled
//! by the same factor as the net (the tax rate does not depend on the
//! price), and its margin moves by the difference, since cost is
//! unchanged. The line is flagged `kept_quoted_rate` so an approver sees
//! it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::document::Order;
use crate::money::{round, Money, MoneyError, RoundingMode};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PricingError {
    #[error("pricing answered {got} lines for an order of {expected}")]
    LineCount { expected: usize, got: usize },
    #[error("lines[{line}]: pricing answered in another currency")]
    Currency { line: usize },
    #[error("the priced order is invalid: {0}")]
    Invalid(String),
    #[error("amounts out of range: {0}")]
    Money(#[from] MoneyError),
}

/// One line's price, as pricing answered it (or with a kept rate applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinePricing {
    pub list_price: Money,
    pub net_unit_price: Money,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
    pub margin: Money,
    /// Guard and clamp flags (`below_floor_price`, `kept_quoted_rate`, …).
    pub flags: Vec<String>,
}

/// The document's totals.
///
/// `discount_total` is what the rules (or a kept rate) took off, summed
/// per line as pricing defines it: `list_price × quantity` rounded minus
/// `net_unit_price × quantity` rounded. It is not `list_total −
/// net_total`: in a tax-inclusive channel the net total is extracted from
/// the gross and may be a cent off `net_unit_price × quantity`, which
/// would show a 1-cent "discount" on an undiscounted order (issue #4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderTotals {
    pub list_total: Money,
    pub discount_total: Money,
    pub net_total: Money,
    pub tax_total: Money,
    pub grand_total: Money,
    pub margin_total: Money,
    /// Whether any line carries a flag (pricing's or a kept rate).
    pub flagged: bool,
}

/// Applies a line's kept rate (if any) over pricing's answer.
pub fn with_kept_rate(
    priced: &LinePricing,
    kept: &Money,
    quantity: Decimal,
    mode: RoundingMode,
) -> Result<LinePricing, PricingError> {
    let c = kept.currency();
    let net = Money::new(round(kept.amount() * quantity, c, mode), c)?;
    let tax = if priced.net_total.is_zero() {
        Money::zero(c)
    } else {
        let factor = net.amount() / priced.net_total.amount();
        Money::new(round(priced.tax_total.amount() * factor, c, mode), c)?
    };
    let margin = priced
        .margin
        .checked_add(&net.checked_sub(&priced.net_total)?)?;
    let mut flags = priced.flags.clone();
    flags.push("kept_quoted_rate".into());
    Ok(LinePricing {
        list_price: priced.list_price,
        net_unit_price: *kept,
        net_total: net,
        tax_total: tax,
        gross_total: net.checked_add(&tax)?,
        margin,
        flags,
    })
}

/// The order with `priced` (one per line, in line order) applied: kept
/// rates over pricing, and the totals summed from the lines.
pub fn apply_priced(
    order: &Order,
    priced: Vec<LinePricing>,
    mode: RoundingMode,
) -> Result<Order, PricingError> {
    let mut parts = order.parts().clone();
    if priced.len() != parts.lines.len() {
        return Err(PricingError::LineCount {
            expected: parts.lines.len(),
            got: priced.len(),
        });
    }
    let c = parts.currency;
    let zero = Money::zero(c);
    let mut totals = OrderTotals {
        list_total: zero,
        discount_total: zero,
        net_total: zero,
        tax_total: zero,
        grand_total: zero,
        margin_total: zero,
        flagged: false,
    };
    for (i, (line, p)) in parts.lines.iter_mut().zip(priced).enumerate() {
        if p.net_total.currency() != c || p.list_price.currency() != c {
            return Err(PricingError::Currency { line: i });
        }
        let p = match &line.kept_rate {
            Some(kept) => with_kept_rate(&p, kept, line.quantity, mode)?,
            None => p,
        };
        let list = Money::new(round(p.list_price.amount() * line.quantity, c, mode), c)?;
        let discount = list.checked_sub(&Money::new(
            round(p.net_unit_price.amount() * line.quantity, c, mode),
            c,
        )?)?;
        totals.list_total = totals.list_total.checked_add(&list)?;
        totals.discount_total = totals.discount_total.checked_add(&discount)?;
        totals.net_total = totals.net_total.checked_add(&p.net_total)?;
        totals.tax_total = totals.tax_total.checked_add(&p.tax_total)?;
        totals.grand_total = totals.grand_total.checked_add(&p.gross_total)?;
        totals.margin_total = totals.margin_total.checked_add(&p.margin)?;
        totals.flagged |= !p.flags.is_empty();
        line.pricing = Some(p);
    }
    parts.totals = Some(totals);
    Order::from_parts(parts).map_err(|e| PricingError::Invalid(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::ProductKind;
    use crate::orders::document::tests::{draft_of, product};
    use rust_decimal_macros::dec;

    pub(crate) fn m(a: &str) -> Money {
        Money::parse(a, "EUR").unwrap()
    }

    pub(crate) fn priced(unit: &str, qty: Decimal) -> LinePricing {
        let net = Money::new(m(unit).amount() * qty, m(unit).currency()).unwrap();
        let tax = Money::new(net.amount() * dec!(0.2), net.currency()).unwrap();
        LinePricing {
            list_price: m(unit),
            net_unit_price: m(unit),
            net_total: net,
            tax_total: tax,
            gross_total: net.checked_add(&tax).unwrap(),
            margin: m("1.00"),
            flags: vec![],
        }
    }

    #[test]
    fn totals_are_the_sum_of_the_lines() {
        let p = product(ProductKind::Stocked);
        let o = draft_of(&[(&p, dec!(2)), (&p, dec!(3))]);
        let o = apply_priced(
            &o,
            vec![priced("10", dec!(2)), priced("5", dec!(3))],
            RoundingMode::HalfUp,
        )
        .unwrap();
        let t = o.totals().unwrap();
        assert_eq!(t.net_total, m("35.00"));
        assert_eq!(t.tax_total, m("7.00"));
        assert_eq!(t.grand_total, m("42.00"));
        assert_eq!(t.discount_total, m("0.00"));
        assert!(!t.flagged);
        assert_eq!(o.grand_total(), m("42.00"));
    }

    /// Issue #4: in a tax-inclusive channel pricing extracts the net from
    /// the gross (3 × 10.00 gross at 20 % is a net of 25.00, while the net
    /// unit price 8.33 × 3 is 24.99); an undiscounted line still shows no
    /// discount.
    #[test]
    fn an_undiscounted_inclusive_line_shows_no_discount() {
        let p = product(ProductKind::Stocked);
        let o = draft_of(&[(&p, dec!(3)), (&p, dec!(1))]);
        let inclusive = LinePricing {
            list_price: m("8.33"),
            net_unit_price: m("8.33"),
            net_total: m("25.00"),
            tax_total: m("5.00"),
            gross_total: m("30.00"),
            margin: m("1.00"),
            flags: vec![],
        };
        let discounted = LinePricing {
            net_unit_price: m("7.50"),
            net_total: m("7.50"),
            tax_total: m("1.50"),
            gross_total: m("9.00"),
            ..priced("8.33", dec!(1))
        };
        let o = apply_priced(&o, vec![inclusive, discounted], RoundingMode::HalfUp).unwrap();
        let t = o.totals().unwrap();
        assert_eq!(t.list_total, m("33.32"));
        assert_eq!(t.net_total, m("32.50"));
        assert_eq!(t.discount_total, m("0.83"));
    }

    #[test]
    fn a_kept_rate_replaces_the_net_price_and_scales_tax_and_margin() {
        let p = product(ProductKind::Stocked);
        let kept = m("8.00");
        let line =
            with_kept_rate(&priced("10", dec!(3)), &kept, dec!(3), RoundingMode::HalfUp).unwrap();
        assert_eq!(line.net_unit_price, kept);
        assert_eq!(line.net_total, m("24.00"));
        assert_eq!(line.tax_total, m("4.80"));
        assert_eq!(line.gross_total, m("28.80"));
        assert_eq!(line.margin, m("-5.00"));
        assert_eq!(line.flags, ["kept_quoted_rate"]);
        let o = draft_of(&[(&p, dec!(1))]);
        assert!(matches!(
            apply_priced(&o, vec![], RoundingMode::HalfUp),
            Err(PricingError::LineCount {
                expected: 1,
                got: 0
            })
        ));
    }
}
