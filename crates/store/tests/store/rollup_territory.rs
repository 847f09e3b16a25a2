//! The analytics refresh's territory of an order (issue 7: the jobs
//! drain's statements per order): the explicit territory and "no address,
//! so none" come with the order's row, and only a customer that a
//! territory rule places by address is read again — with the same answer
//! as `teams::territories::customer_territory` in every case.

use sales_domain::catalog::{
    Address, AddressInput, Customer, NewCustomer, NewTreeNode, Territory, TreeNode,
};
use sales_domain::ids::{CustomerId, OrderId, TerritoryId};
use sales_store::analytics::rollup;
use sales_store::rusqlite_db::{Counted, RusqliteDb};
use sales_store::teams::territories;

use crate::common::{self, at, db};
use crate::fixtures;

fn territory(db: &RusqliteDb, code: &str) -> TerritoryId {
    let t: Territory = TreeNode::create(
        TerritoryId::new(),
        NewTreeNode {
            code: code.into(),
            name: code.into(),
            parent_id: None,
        },
    )
    .unwrap();
    sales_store::trees::create(db, &t, at(1))
        .unwrap()
        .record
        .id()
}

fn customer(db: &RusqliteDb, new: NewCustomer) -> CustomerId {
    let c = Customer::create(CustomerId::new(), new).unwrap();
    sales_store::customers::create(db, &c, at(1))
        .unwrap()
        .record
        .id()
}

/// A confirmed one-line order of `customer`.
fn confirmed_order(db: &RusqliteDb, customer: CustomerId, n: usize) -> OrderId {
    common::confirmed_order(db, customer, &format!("C{n}"), 1)
}

/// The territory the refresh books `order` under, the statements it took,
/// and the territory the teams' placement answers for its customer.
fn booked(db: &RusqliteDb, customer: CustomerId, n: usize) -> (String, usize, String) {
    let order = confirmed_order(db, customer, n);
    let counted = Counted::new(db);
    let (facts, n) = counted.count(|c| rollup::facts(c, &order.to_string()).unwrap());
    let facts = facts.unwrap().1.expect("a confirmed order is booked");
    let placed = territories::customer_territory(db, customer)
        .unwrap()
        .territory_id
        .map(|t| t.to_string())
        .unwrap_or_default();
    (facts.key.territory_id, n, placed)
}

#[test]
fn an_orders_territory_is_read_again_only_for_a_customer_placed_by_address() {
    let db = db();
    let explicit_territory = territory(&db, "NORTH");
    let explicit = customer(
        &db,
        NewCustomer {
            name: "Explicit".into(),
            territory_id: Some(explicit_territory),
            ..NewCustomer::default()
        },
    );
    let nowhere = customer(
        &db,
        NewCustomer {
            name: "No address".into(),
            ..NewCustomer::default()
        },
    );
    let munich = territory(&db, "MUC");
    let rule = fixtures::munich_postcodes(munich);
    territories::rules::create(&db, &rule, at(1)).unwrap();
    let placed = customer(
        &db,
        NewCustomer {
            name: "Placed".into(),
            shipping_address: Some(
                Address::new(AddressInput {
                    line1: "Marienplatz 1".into(),
                    city: "Munich".into(),
                    postcode: Some("80331".into()),
                    country: "DE".into(),
                    ..AddressInput::default()
                })
                .unwrap(),
            ),
            ..NewCustomer::default()
        },
    );

    // The order's row (with its customer's territory and whether it has an
    // address) and its lines: nothing else.
    let (t, n, teams) = booked(&db, explicit, 1);
    assert_eq!(
        (t.as_str(), n),
        (explicit_territory.to_string().as_str(), 2)
    );
    assert_eq!(t, teams);
    let (t, n, teams) = booked(&db, nowhere, 2);
    assert_eq!((t.as_str(), n), ("", 2));
    assert_eq!(t, teams);
    // The refresh of a new order: one read of the order, its customer, the
    // version applied and its stored contribution, one of its lines, then
    // the writes (daily and monthly cells, the order's and its lines'
    // rows, the version).
    let order = confirmed_order(&db, explicit, 4);
    let counted = Counted::new(&db);
    let (refreshed, n) = counted.count(|c| rollup::refresh_order(c, order).unwrap());
    assert_eq!((refreshed, n), (rollup::Refreshed::Applied, 7));
    let (refreshed, n) = counted.count(|c| rollup::refresh_order(c, order).unwrap());
    assert_eq!((refreshed, n), (rollup::Refreshed::AlreadyCurrent, 1));
    // Placed by a rule: the customer and the country's rules read as well.
    let (t, n, teams) = booked(&db, placed, 3);
    assert_eq!(t, munich.to_string());
    assert_eq!(t, teams);
    assert!(n > 2, "{n} statements");
}
