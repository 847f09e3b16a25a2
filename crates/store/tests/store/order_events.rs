//! What the jobs component's per-order work costs the single writer (issue
//! 7): the statements that the analytics refresh and the commission
//! recalculation run for one `order.*` event, counted on a wrapper around
//! the real database. Counts, not times: they do not depend on the load.

use sales_domain::ids::OrderId;
use sales_store::analytics::rollup::{self, Refreshed};
use sales_store::db::Db;
use sales_store::rusqlite_db::{Counted, RusqliteDb};
use sales_store::teams::commissions::recalculate_order;
use sales_store::Value;

use crate::common::{self, at, db};
use crate::fixtures;

/// A confirmed order of `lines` lines, each of its own product.
fn confirmed_order(db: &RusqliteDb, lines: usize) -> OrderId {
    let customer = sales_store::customers::create(db, &fixtures::customer("Acme"), at(1))
        .unwrap()
        .record
        .id();
    common::confirmed_order(db, customer, "B2B", lines)
}

/// Statements of one order event's rollup refresh and commission
/// recalculation, then of the same again (the order's second event of the
/// same version, as a submission writes `order.submitted` and
/// `order.confirmed` together).
fn per_event(lines: usize) -> (usize, usize) {
    let db = db();
    let order = confirmed_order(&db, lines);
    let counted = Counted::new(&db);
    let event = |c: &Counted<'_>| {
        let refreshed = rollup::refresh_order(c, order).unwrap();
        recalculate_order(c, order, at(3)).unwrap();
        refreshed
    };
    let (first, n1) = counted.count(event);
    let (second, n2) = counted.count(event);
    assert_eq!(first, Refreshed::Applied);
    assert_eq!(second, Refreshed::AlreadyCurrent);
    // The line rows are all there, in order.
    let rows = db
        .execute(
            "SELECT seq FROM analytics_order_lines WHERE order_id = ? ORDER BY seq",
            &[Value::Text(order.to_string())],
        )
        .unwrap();
    assert_eq!(rows.len(), lines);
    eprintln!("{lines} line(s): {n1} statements for the first event, {n2} for the second");
    (n1, n2)
}

#[test]
fn an_order_events_rollup_and_commission_cost_the_same_statements_for_1_or_20_lines() {
    let one = per_event(1);
    let twenty = per_event(20);
    assert_eq!(one, twenty);
}
