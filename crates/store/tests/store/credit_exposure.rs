//! The credit check's exposure (issue 7): what a customer owes on open
//! and on unpaid orders, read on every submission of an order on credit.

use rust_decimal_macros::dec;
use sales_domain::ids::{CustomerId, OrderId};
use sales_domain::money::{Currency, Money};
use sales_domain::orders::OrderStatus;
use sales_store::db::Db;
use sales_store::orders::{self, OrderFilter};
use sales_store::{Page, Value};

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
    priced(&db, [(first, "100.00", "30.00"), (second, "50.00", "0")]);
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
        plans[0].contains("USING COVERING INDEX sales_orders_customer_exposure (customer_id=?"),
        "{}",
        plans[0]
    );
}

/// Issue 7 (migration 22): one index serves the credit check and the order
/// list's customer filters — a submission changes `status`, and each
/// index with it cost a leaf rewritten. The list by customer and status
/// searches both columns of it; by customer alone, its customer prefix.
#[test]
fn the_order_list_by_customer_searches_the_exposure_index() {
    let db = db();
    let indexes = db
        .execute("PRAGMA index_list('sales_orders')", &[])
        .unwrap();
    let names: Vec<&str> = indexes.iter().map(|r| r.text("name").unwrap()).collect();
    assert!(
        !names.contains(&"sales_orders_customer") && !names.contains(&"sales_orders_exposure"),
        "{names:?}"
    );
    let customer = CustomerId::new();
    let first = confirmed_order(&db, customer, "B2B-1", 1);
    let second = confirmed_order(&db, customer, "B2B-2", 1);
    confirmed_order(&db, CustomerId::new(), "B2B-3", 1);
    let p = planned(&db);
    let list = |status: Option<OrderStatus>| {
        let filter = OrderFilter {
            customer_id: Some(customer),
            status,
            ..OrderFilter::default()
        };
        let (items, _) = orders::list(&p, &filter, &Page::first(10)).unwrap();
        items
            .iter()
            .map(|o| o.record.order.id())
            .collect::<Vec<_>>()
    };
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(list(None), both);
    assert_eq!(list(Some(OrderStatus::Confirmed)), both);
    assert!(list(Some(OrderStatus::Draft)).is_empty());
    let plans = plans_on(&p, "FROM sales_orders");
    assert_eq!(plans.len(), 3, "{plans:?}");
    assert!(
        plans[0].contains("INDEX sales_orders_customer_exposure (customer_id=?)"),
        "{}",
        plans[0]
    );
    for plan in &plans[1..] {
        assert!(
            plan.contains("INDEX sales_orders_customer_exposure (customer_id=? AND status=?)"),
            "{plan}"
        );
    }
}

/// Migration 22 on a database with orders: the exposure and the list by
/// customer and status read the same orders after it.
#[test]
fn migration_22_keeps_the_orders_written_before_it() {
    use sales_store::migrate;
    use sales_store::rusqlite_db::RusqliteDb;
    let db = RusqliteDb::open_in_memory().unwrap();
    migrate::migrate_to(&db, &migrate::MIGRATIONS[..21]).unwrap();
    let customer = CustomerId::new();
    let first = confirmed_order(&db, customer, "B2B-1", 2);
    let second = confirmed_order(&db, customer, "B2B-2", 1);
    priced(&db, [(first, "100.00", "30.00"), (second, "50.00", "0")]);
    let before = orders::customer_exposure(&db, customer, Currency::EUR, OrderId::new()).unwrap();
    migrate::migrate(&db).unwrap();
    assert_eq!(
        migrate::schema_version(&db).unwrap(),
        migrate::latest_version()
    );
    let after = orders::customer_exposure(&db, customer, Currency::EUR, OrderId::new()).unwrap();
    assert_eq!(after, before);
    assert_eq!(after.0, Money::new(dec!(120.00), Currency::EUR).unwrap());
    let filter = OrderFilter {
        customer_id: Some(customer),
        status: Some(OrderStatus::Confirmed),
        ..OrderFilter::default()
    };
    let (items, _) = orders::list(&db, &filter, &Page::first(10)).unwrap();
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(
        items
            .iter()
            .map(|o| o.record.order.id())
            .collect::<Vec<_>>(),
        both
    );
}

/// Sets each order's grand total and paid amount, as a priced submission
/// and a payment leave them.
fn priced<const N: usize>(db: &impl Db, orders: [(OrderId, &str, &str); N]) {
    for (order, total, paid) in orders {
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
}
