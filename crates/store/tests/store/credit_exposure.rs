//! The credit check's exposure (issue 7): what a customer owes on open
//! and on unpaid orders, read on every submission of an order on credit.

use rust_decimal_macros::dec;
use sales_domain::ids::{CustomerId, OrderId};
use sales_domain::money::{Currency, Money};
use sales_store::db::Db;
use sales_store::orders;
use sales_store::Value;

use crate::common::{confirmed_order, db, planned, plans_on};

/// The exposure is read from an index alone, never from the orders' rows:
/// a confirmed order's row carries its price waterfall and promise (tens of
/// kilobytes for 20 lines, in overflow pages), and the columns the sum
/// needs come after them, so reading them from the table walked every
/// order's overflow chain — hundreds of page reads per submission for a
/// customer with a few dozen orders, more with each order.
#[test]
fn the_exposure_is_summed_from_a_covering_index() {
    let db = db();
    let customer = CustomerId::new();
    let first = confirmed_order(&db, customer, "B2B-1", 2);
    let second = confirmed_order(&db, customer, "B2B-2", 2);
    // Totals as a priced submission leaves them; one order partly paid.
    for (order, total, paid) in [(first, "100.00", "30.00"), (second, "50.00", "0")] {
        db.execute(
            "UPDATE sales_orders SET grand_total = ?, paid_amount = ? WHERE id = ?",
            &[
                Value::from(total),
                Value::from(paid),
                Value::Text(order.to_string()),
            ],
        )
        .unwrap();
    }
    let p = planned(&db);
    let (open, unpaid) =
        orders::customer_exposure(&p, customer, Currency::EUR, OrderId::new()).unwrap();
    assert_eq!(open, Money::new(dec!(120.00), Currency::EUR).unwrap());
    assert_eq!(unpaid, Money::zero(Currency::EUR));
    // The order being submitted is not its own exposure.
    let (open, _) = orders::customer_exposure(&db, customer, Currency::EUR, first).unwrap();
    assert_eq!(open, Money::new(dec!(50.00), Currency::EUR).unwrap());
    let plans = plans_on(&p, "FROM sales_orders");
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert!(
        plans[0].contains("USING COVERING INDEX sales_orders_exposure"),
        "{}",
        plans[0]
    );
}
