//! Shipments: what left the warehouse per line, never more than ordered,
//! and which held reservation rows a shipment consumes.
//!
//! A shipment consumes the line's reserved rows first, in the order they
//! were planned (preferred warehouse first); what it ships beyond what was
//! reserved (a line promised from a work order, now made) is reported as
//! `unreserved` so the caller takes it from a warehouse's free stock. The
//! rest of the held rows stay held for what is still to ship.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::document::{quantity, Order, OrderError};
use crate::availability::PlannedReservation;
use crate::catalog::ValidationError;
use crate::ids::LineId;

crate::define_id!(
    /// A recorded shipment.
    ShipmentId,
    "shipment"
);

/// A held reservation row (the availability capability's planned row).
pub type HeldRow = PlannedReservation;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub line_id: LineId,
    pub quantity: Decimal,
}

/// What shipped, per line (each line at most once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub lines: Vec<ShipmentLine>,
}

impl Shipment {
    /// Every line of `order` in full: what is still open.
    pub fn everything_open(order: &Order) -> Shipment {
        Shipment {
            lines: order
                .lines()
                .iter()
                .filter(|l| !l.open_quantity().is_zero())
                .map(|l| ShipmentLine {
                    line_id: l.id,
                    quantity: l.open_quantity(),
                })
                .collect(),
        }
    }
}

/// The order after `shipment`: shipped quantities raised, reserved
/// quantities lowered by what the shipment consumed, and the status moved
/// to partially fulfilled or fulfilled. Fields are paths of the shipment
/// (`lines[1].quantity`).
pub fn record_shipment(order: &Order, shipment: &Shipment) -> Result<Order, OrderError> {
    if shipment.lines.is_empty() {
        return Err(ValidationError::new("lines", "a shipment needs at least one line").into());
    }
    let mut parts = order.parts().clone();
    let mut seen = BTreeSet::new();
    for (i, s) in shipment.lines.iter().enumerate() {
        let q = quantity(&format!("lines[{i}].quantity"), s.quantity)?;
        if !seen.insert(s.line_id) {
            return Err(ValidationError::new(
                format!("lines[{i}].line_id"),
                "the same line is given twice",
            )
            .into());
        }
        let line = parts
            .lines
            .iter_mut()
            .find(|l| l.id == s.line_id)
            .ok_or_else(|| {
                ValidationError::new(
                    format!("lines[{i}].line_id"),
                    format!("the order has no line {}", s.line_id),
                )
            })?;
        let shipped = line.shipped_quantity + q;
        if shipped > line.quantity {
            return Err(OrderError::OverShipped {
                field: format!("lines[{i}].quantity"),
                ordered: line.quantity,
                shipped,
            });
        }
        line.shipped_quantity = shipped;
        line.reserved_quantity = (line.reserved_quantity - q).max(Decimal::ZERO);
    }
    let next = Order::from_parts(parts)?;
    let status = order.status().ship(next.everything_shipped())?;
    Ok(next.with_status(status, None))
}

/// How a shipment splits the held rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipmentSplit {
    /// Rows (or parts of rows) the shipment takes.
    pub consume: Vec<HeldRow>,
    /// Rows (or parts) still held for what has not shipped.
    pub keep: Vec<HeldRow>,
    /// Per line, what shipped beyond its held rows.
    pub unreserved: BTreeMap<LineId, Decimal>,
}

/// Splits `rows` by `shipment`: each line's shipped quantity consumes its
/// rows in order; the remainder of a row is kept.
pub fn split_for_shipment(rows: &[HeldRow], shipment: &Shipment) -> ShipmentSplit {
    let mut left: BTreeMap<LineId, Decimal> = shipment
        .lines
        .iter()
        .map(|s| (s.line_id, s.quantity))
        .collect();
    let mut split = ShipmentSplit::default();
    for row in rows {
        let want = left.get(&row.line_id).copied().unwrap_or(Decimal::ZERO);
        let take = want.min(row.quantity);
        if take > Decimal::ZERO {
            split.consume.push(HeldRow {
                quantity: take,
                ..row.clone()
            });
            left.insert(row.line_id, want - take);
        }
        let rest = row.quantity - take;
        if rest > Decimal::ZERO {
            split.keep.push(HeldRow {
                quantity: rest,
                ..row.clone()
            });
        }
    }
    split.unreserved = left
        .into_iter()
        .filter(|(_, q)| *q > Decimal::ZERO)
        .collect();
    split
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ProductKind;
    use crate::ids::WarehouseId;
    use crate::orders::document::tests::{draft_of, product};
    use crate::orders::OrderStatus;
    use chrono::NaiveDate;
    use rust_decimal_macros::dec;

    fn confirmed(qs: &[Decimal]) -> Order {
        let p = product(ProductKind::Stocked);
        let lines: Vec<_> = qs.iter().map(|q| (&p, *q)).collect();
        draft_of(&lines).with_status(OrderStatus::Confirmed, None)
    }

    fn ship(o: &Order, i: usize, q: Decimal) -> ShipmentLine {
        ShipmentLine {
            line_id: o.lines()[i].id,
            quantity: q,
        }
    }

    #[test]
    fn partial_then_complete_shipments_fulfil_the_order() {
        let o = confirmed(&[dec!(10), dec!(2)]);
        let o = record_shipment(
            &o,
            &Shipment {
                lines: vec![ship(&o, 0, dec!(4))],
            },
        )
        .unwrap();
        assert_eq!(o.status(), OrderStatus::PartiallyFulfilled);
        assert_eq!(o.lines()[0].shipped_quantity, dec!(4));
        let rest = Shipment::everything_open(&o);
        assert_eq!(rest.lines.len(), 2);
        let o = record_shipment(&o, &rest).unwrap();
        assert_eq!(o.status(), OrderStatus::Fulfilled);
    }

    #[test]
    fn shipping_more_than_ordered_is_refused_naming_the_line() {
        let o = confirmed(&[dec!(3)]);
        let err = record_shipment(
            &o,
            &Shipment {
                lines: vec![ship(&o, 0, dec!(3.001))],
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, OrderError::OverShipped { ref field, .. } if field == "lines[0].quantity")
        );
        let err = record_shipment(
            &o,
            &Shipment {
                lines: vec![ShipmentLine {
                    line_id: LineId::new(),
                    quantity: dec!(1),
                }],
            },
        )
        .unwrap_err();
        assert!(matches!(err, OrderError::Invalid(ref v) if v.field == "lines[0].line_id"));
        let draft = draft_of(&[(&product(ProductKind::Stocked), dec!(1))]);
        assert!(matches!(
            record_shipment(&draft, &Shipment::everything_open(&draft)),
            Err(OrderError::Transition(_))
        ));
    }

    #[test]
    fn a_shipment_consumes_rows_in_order_and_keeps_the_rest() {
        let line = LineId::new();
        let other = LineId::new();
        let row = |l: LineId, q: Decimal| HeldRow {
            line_id: l,
            product: crate::ids::ProductId::new(),
            warehouse: WarehouseId::new(),
            quantity: q,
            needed_on: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            valid_until: None,
        };
        let rows = vec![row(line, dec!(3)), row(line, dec!(5)), row(other, dec!(2))];
        let split = split_for_shipment(
            &rows,
            &Shipment {
                lines: vec![
                    ShipmentLine {
                        line_id: line,
                        quantity: dec!(4),
                    },
                    ShipmentLine {
                        line_id: other,
                        quantity: dec!(3),
                    },
                ],
            },
        );
        let consumed: Vec<_> = split.consume.iter().map(|r| r.quantity).collect();
        assert_eq!(consumed, [dec!(3), dec!(1), dec!(2)]);
        let kept: Vec<_> = split.keep.iter().map(|r| r.quantity).collect();
        assert_eq!(kept, [dec!(4)]);
        assert_eq!(split.unreserved.get(&other), Some(&dec!(1)));
        assert_eq!(split.unreserved.get(&line), None);
    }
}
