//! What an amendment changed: the lines whose price, quantity, product or
//! dates differ between two versions of an order, and the header terms.
//! The order flow uses it to say what was re-approved and what the
//! `order.amended` event carries; approvals' own smart re-approval decides
//! which levels ask again.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::document::{Order, OrderLine};
use crate::ids::{LineId, ProductId};
use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineChangeKind {
    Added,
    Removed,
    Changed,
}

/// One line that differs. `before`/`after` values are `None` where the
/// line did not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineChange {
    pub line_id: LineId,
    pub product_id: ProductId,
    pub kind: LineChangeKind,
    pub quantity_before: Option<Decimal>,
    pub quantity_after: Option<Decimal>,
    pub price_before: Option<Money>,
    pub price_after: Option<Money>,
    pub requested_date_changed: bool,
    pub product_changed: bool,
}

impl LineChange {
    pub fn quantity_changed(&self) -> bool {
        self.quantity_before != self.quantity_after
    }

    pub fn price_changed(&self) -> bool {
        self.price_before != self.price_after
    }
}

/// The difference between two versions of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    pub lines: Vec<LineChange>,
    pub payment_terms_changed: bool,
    pub requested_date_changed: bool,
    pub total_before: Money,
    pub total_after: Money,
}

impl Amendment {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
            && !self.payment_terms_changed
            && !self.requested_date_changed
            && self.total_before == self.total_after
    }

    /// Whether any line asks for less (a removed line or a lower
    /// quantity): downstream work shrinks.
    pub fn reduces_demand(&self) -> bool {
        self.lines
            .iter()
            .any(|c| match (c.quantity_before, c.quantity_after) {
                (Some(_), None) => true,
                (Some(b), Some(a)) => a < b || c.product_changed,
                _ => false,
            })
    }

    /// Whether stock must be checked again (a line added, a quantity,
    /// product or date changed).
    pub fn needs_restock_check(&self) -> bool {
        self.requested_date_changed
            || self
                .lines
                .iter()
                .any(|c| c.quantity_changed() || c.product_changed || c.requested_date_changed)
    }
}

fn price(l: &OrderLine) -> Option<Money> {
    l.pricing.as_ref().map(|p| p.net_unit_price)
}

/// What changed from `before` to `after`, lines in `after`'s order then
/// removed lines in `before`'s order.
pub fn diff(before: &Order, after: &Order) -> Amendment {
    let mut lines = Vec::new();
    for a in after.lines() {
        match before.lines().iter().find(|b| b.id == a.id) {
            None => lines.push(LineChange {
                line_id: a.id,
                product_id: a.product_id,
                kind: LineChangeKind::Added,
                quantity_before: None,
                quantity_after: Some(a.quantity),
                price_before: None,
                price_after: price(a),
                requested_date_changed: false,
                product_changed: false,
            }),
            Some(b) => {
                let change = LineChange {
                    line_id: a.id,
                    product_id: a.product_id,
                    kind: LineChangeKind::Changed,
                    quantity_before: Some(b.quantity),
                    quantity_after: Some(a.quantity),
                    price_before: price(b),
                    price_after: price(a),
                    requested_date_changed: b.requested_date != a.requested_date,
                    product_changed: b.product_id != a.product_id,
                };
                if change.quantity_changed()
                    || change.price_changed()
                    || change.requested_date_changed
                    || change.product_changed
                {
                    lines.push(change);
                }
            }
        }
    }
    for b in before.lines() {
        if !after.lines().iter().any(|a| a.id == b.id) {
            lines.push(LineChange {
                line_id: b.id,
                product_id: b.product_id,
                kind: LineChangeKind::Removed,
                quantity_before: Some(b.quantity),
                quantity_after: None,
                price_before: price(b),
                price_after: None,
                requested_date_changed: false,
                product_changed: false,
            });
        }
    }
    let date = |o: &Order| -> Option<NaiveDate> { o.requested_date() };
    Amendment {
        lines,
        payment_terms_changed: before.payment_terms() != after.payment_terms(),
        requested_date_changed: date(before) != date(after),
        total_before: before.grand_total(),
        total_after: after.grand_total(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{PaymentTerms, ProductKind};
    use crate::money::RoundingMode;
    use crate::orders::document::tests::{catalog, line_of, product};
    use crate::orders::document::{NewOrderLine, OrderPatch};
    use crate::orders::pricing::apply_priced;
    use crate::orders::pricing::tests::priced;
    use rust_decimal_macros::dec;

    fn as_input(l: &OrderLine) -> NewOrderLine {
        NewOrderLine {
            id: l.id,
            product_id: l.product_id,
            quantity: l.quantity,
            uom: None,
            requested_date: l.requested_date,
            kept_rate: l.kept_rate,
            quotation_line_id: l.quotation_line_id,
        }
    }

    #[test]
    fn the_diff_names_changed_added_and_removed_lines() {
        let p = product(ProductKind::Stocked);
        let before = crate::orders::document::tests::draft_of(&[
            (&p, dec!(5)),
            (&p, dec!(2)),
            (&p, dec!(1)),
        ]);
        let before = apply_priced(
            &before,
            vec![
                priced("10", dec!(5)),
                priced("10", dec!(2)),
                priced("10", dec!(1)),
            ],
            RoundingMode::HalfUp,
        )
        .unwrap();
        let mut first = as_input(&before.lines()[0]);
        first.quantity = dec!(3);
        let second = as_input(&before.lines()[1]);
        let added = line_of(&p, dec!(7));
        let after = before
            .patched(
                OrderPatch {
                    lines: Some(vec![first, second, added.clone()]),
                    payment_terms: Some(Some(PaymentTerms::new("Net 30", 30).unwrap())),
                    ..OrderPatch::default()
                },
                &catalog(&[&p]),
            )
            .unwrap();
        let after = apply_priced(
            &after,
            vec![
                priced("10", dec!(3)),
                priced("9", dec!(2)),
                priced("10", dec!(7)),
            ],
            RoundingMode::HalfUp,
        )
        .unwrap();
        let d = diff(&before, &after);
        let kinds: Vec<_> = d.lines.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                LineChangeKind::Changed,
                LineChangeKind::Changed,
                LineChangeKind::Added,
                LineChangeKind::Removed
            ]
        );
        assert!(d.lines[0].quantity_changed() && !d.lines[0].price_changed());
        assert!(d.lines[1].price_changed() && !d.lines[1].quantity_changed());
        assert_eq!(d.lines[2].line_id, added.id);
        assert!(d.payment_terms_changed);
        assert!(d.reduces_demand());
        assert!(d.needs_restock_check());
        assert!(diff(&after, &after).is_empty());
    }
}
