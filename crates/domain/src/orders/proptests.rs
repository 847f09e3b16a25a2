//! Property tests of the order rules: shipments never exceed what was
//! ordered and split held rows without losing a unit; the credit check
//! blocks exactly when exposure is over the limit.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::credit::{check_credit, CreditExposure};
use super::document::tests::{draft_of, product};
use super::fulfilment::{record_shipment, split_for_shipment, HeldRow, Shipment, ShipmentLine};
use super::status::OrderStatus;
use crate::catalog::{CreditCheck, ProductKind};
use crate::ids::{LineId, ProductId, WarehouseId};
use crate::money::Money;

fn milli() -> impl Strategy<Value = Decimal> {
    (1i64..50_000).prop_map(|m| Decimal::new(m, 3))
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, crate::money::Currency::from_code("EUR").unwrap()).unwrap()
}

proptest! {
    #[test]
    fn shipped_never_exceeds_ordered(ordered in milli(), shipments in prop::collection::vec(milli(), 1..6)) {
        let p = product(ProductKind::Stocked);
        let mut order = draft_of(&[(&p, ordered)]).with_status(OrderStatus::Confirmed, None);
        for q in shipments {
            let line_id = order.lines()[0].id;
            match record_shipment(&order, &Shipment { lines: vec![ShipmentLine { line_id, quantity: q }] }) {
                Ok(next) => {
                    prop_assert!(next.lines()[0].shipped_quantity <= ordered);
                    prop_assert_eq!(next.status() == OrderStatus::Fulfilled, next.lines()[0].shipped_quantity == ordered);
                    order = next;
                }
                Err(_) => prop_assert!(order.lines()[0].shipped_quantity + q > ordered || order.status() == OrderStatus::Fulfilled),
            }
        }
    }

    #[test]
    fn a_split_keeps_every_unit(rows in prop::collection::vec((0usize..3, milli()), 0..8), ships in prop::collection::vec(milli(), 3)) {
        let lines = [LineId::new(), LineId::new(), LineId::new()];
        let held: Vec<HeldRow> = rows.iter().map(|(l, q)| HeldRow {
            line_id: lines[*l],
            product: ProductId::new(),
            warehouse: WarehouseId::new(),
            quantity: *q,
            needed_on: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            valid_until: None,
        }).collect();
        let shipment = Shipment { lines: lines.iter().zip(&ships).map(|(l, q)| ShipmentLine { line_id: *l, quantity: *q }).collect() };
        let split = split_for_shipment(&held, &shipment);
        for (i, l) in lines.iter().enumerate() {
            let held_q: Decimal = held.iter().filter(|r| r.line_id == *l).map(|r| r.quantity).sum();
            let consumed: Decimal = split.consume.iter().filter(|r| r.line_id == *l).map(|r| r.quantity).sum();
            let kept: Decimal = split.keep.iter().filter(|r| r.line_id == *l).map(|r| r.quantity).sum();
            let unreserved = split.unreserved.get(l).copied().unwrap_or_default();
            prop_assert_eq!(consumed + kept, held_q);
            prop_assert_eq!(consumed + unreserved, ships[i]);
        }
    }

    #[test]
    fn block_refuses_exactly_over_the_limit(this in 0i64..1_000_000, open in 0i64..1_000_000, unpaid in 0i64..1_000_000, limit in 0i64..3_000_000) {
        let e = CreditExposure { this_order: eur(this), open_orders: eur(open), unpaid: eur(unpaid) };
        let out = check_credit(CreditCheck::Block, Some(&eur(limit)), &e).unwrap();
        prop_assert_eq!(out.blocked(), this + open + unpaid > limit);
        let warn = check_credit(CreditCheck::Warn, Some(&eur(limit)), &e).unwrap();
        prop_assert!(!warn.blocked());
        prop_assert_eq!(warn.warned(), this + open + unpaid > limit);
    }
}
