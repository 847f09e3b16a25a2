//! Property tests of conversion: however a quotation is converted in
//! parts, no line is ever ordered past its quantity, the quantities
//! ordered add up to what the plans handed out, and the status is
//! `ordered` exactly when every counted line is fully ordered.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::tests::{quotation, today, valid};
use super::{ConversionRequest, QuotationError, QuotationStatus};

proptest! {
    #[test]
    fn partial_conversions_never_order_more_than_was_quoted(
        steps in prop::collection::vec((0usize..4, 1i64..12_000), 1..12)
    ) {
        let mut q = quotation(valid());
        q.send(today()).unwrap();
        let quoted: Vec<i64> = q.lines().iter().map(|l| l.quantity_milli()).collect();
        let mut handed_out = vec![0i64; quoted.len()];
        for (line, milli) in steps {
            let id = q.lines()[line].id();
            let req = ConversionRequest {
                lines: Some(vec![(id, Some(Decimal::new(milli, 3)))]),
                ..Default::default()
            };
            match q.plan_conversion(&req, today(), false, true) {
                Ok(plan) => {
                    for l in &plan.lines {
                        let i = q.lines().iter().position(|x| x.id() == l.line_id).unwrap();
                        handed_out[i] += l.quantity_milli;
                    }
                    q = plan.quotation;
                }
                Err(QuotationError::ExceedsRemaining { .. })
                | Err(QuotationError::NotChosen { .. })
                | Err(QuotationError::Transition(_)) => {}
                Err(e) => panic!("unexpected refusal: {e}"),
            }
            for (i, l) in q.lines().iter().enumerate() {
                prop_assert!(l.ordered_milli() <= quoted[i]);
                prop_assert_eq!(l.ordered_milli(), handed_out[i]);
            }
            let all_done = q
                .lines()
                .iter()
                .filter(|l| l.counted())
                .all(|l| l.remaining_milli() == 0);
            prop_assert_eq!(q.status() == QuotationStatus::Ordered, all_done);
        }
    }
}
