//! Analytics queries: the plans SQLite chooses for the year-long reports
//! (issue #10's benchmark), read with `EXPLAIN QUERY PLAN` for the very
//! statements the report functions run, and the monthly cube's upkeep.

use chrono::NaiveDate;
use sales_domain::analytics::{DateRange, Dimension, Granularity};
use sales_store::analytics::reports::{self, Scope};
use sales_store::analytics::rollup;
use sales_store::db::Db;
use sales_store::rusqlite_db::RusqliteDb;
use sales_store::Value;

use crate::common::{at, db, planned, plans_on};
use crate::fixtures;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn year() -> DateRange {
    DateRange::new(date("2025-03-15"), date("2026-03-14")).unwrap()
}

/// A territory with a rule placing German postcodes 80000–81999 in it and
/// a customer without a territory at 80331 (placed there by the rule).
fn rule_placed(db: &RusqliteDb) -> (String, String) {
    use sales_domain::catalog::{
        Address, AddressInput, Customer, NewCustomer, NewTreeNode, Territory, TreeNode,
    };
    use sales_domain::ids::{CustomerId, TerritoryId};
    let t: Territory = TreeNode::create(
        TerritoryId::new(),
        NewTreeNode {
            code: "MUC".into(),
            name: "Munich".into(),
            parent_id: None,
        },
    )
    .unwrap();
    let t = sales_store::trees::create(db, &t, at(1))
        .unwrap()
        .record
        .id();
    let rule = fixtures::munich_postcodes(t);
    sales_store::teams::territories::rules::create(db, &rule, at(1)).unwrap();
    let address = Address::new(AddressInput {
        line1: "Marienplatz 1".into(),
        city: "Munich".into(),
        postcode: Some("80331".into()),
        country: "DE".into(),
        ..AddressInput::default()
    })
    .unwrap();
    let c = Customer::create(
        CustomerId::new(),
        NewCustomer {
            name: "Placed".into(),
            shipping_address: Some(address),
            ..NewCustomer::default()
        },
    )
    .unwrap();
    let c = sales_store::customers::create(db, &c, at(1))
        .unwrap()
        .record
        .id();
    (t.to_string(), c.to_string())
}

#[test]
fn the_funnel_reads_its_indexes_by_creation_range_with_or_without_filters() {
    let db = db();
    let territories = vec!["t-1".to_owned(), "t-2".to_owned()];
    // A territory a rule places a customer in: its customers are the
    // explicit ones and that list (a `UNION`), the quotations' plans alike.
    let (munich, _) = rule_placed(&db);
    let by_rule = vec![munich];
    for (channel, terr) in [
        (None, None),
        (Some("ch-1"), None),
        (None, Some(territories.as_slice())),
        (None, Some(by_rule.as_slice())),
    ] {
        let p = planned(&db);
        reports::funnel(&p, &year(), channel, terr).unwrap();
        let plans = plans_on(&p, "FROM quotations q");
        assert_eq!(plans.len(), 2, "counts and lost reasons");
        // One (status, created_at) range per listed status, grouped in
        // index order: no temporary B-tree sorts the year's quotations.
        assert!(
            plans[0].contains(
                "USING COVERING INDEX quotations_funnel_status \
                 (status=? AND created_at>? AND created_at<?)"
            ),
            "counts by status: {}",
            plans[0]
        );
        assert!(
            !plans[0].contains("USE TEMP B-TREE"),
            "counts by status sorted: {}",
            plans[0]
        );
        // The lost quotations only (partial index), by creation range.
        assert!(
            plans[1].contains("USING INDEX quotations_lost_reason (created_at>? AND created_at<?)")
                || plans[1].contains(
                    "USING COVERING INDEX quotations_lost_reason (created_at>? AND created_at<?)"
                ),
            "lost reasons: {}",
            plans[1]
        );
        if terr == Some(by_rule.as_slice()) {
            assert!(
                plans[0].contains("json_each"),
                "no placed list: {}",
                plans[0]
            );
        }
        for plan in &plans {
            assert!(!plan.contains("SCAN q"), "a full scan: {plan}");
            assert!(!plan.contains("SCAN c"), "a customers scan: {plan}");
        }
    }
}

fn scope(range: DateRange) -> Scope {
    Scope {
        currency: "EUR".into(),
        range,
        channel_id: None,
        territories: Some(vec!["t-1".into(), "t-2".into()]),
        customer_group_id: None,
        item_group_id: None,
        product_id: None,
    }
}

#[test]
fn a_year_by_month_and_territory_reads_whole_months_from_the_monthly_cube() {
    let db = db();
    let p = planned(&db);
    let s = scope(year());
    reports::breakdown(&p, &s, Dimension::Territory, 50).unwrap();
    reports::breakdown_series(&p, &s, Dimension::Territory, Granularity::Month).unwrap();
    reports::series(&p, &s, Granularity::Quarter).unwrap();
    // Whole months 2025-04 … 2026-02 from the monthly cube, by its key.
    let monthly = plans_on(&p, "FROM analytics_monthly");
    assert_eq!(monthly.len(), 3, "{monthly:?}");
    for plan in &monthly {
        assert!(
            plan.contains("SEARCH analytics_monthly USING PRIMARY KEY (month>? AND month<?)"),
            "{plan}"
        );
    }
    // The half months at either end from the daily cube, by its key.
    let daily = plans_on(&p, "FROM analytics_daily");
    assert_eq!(daily.len(), 6, "two edges per report: {daily:?}");
    for plan in &daily {
        assert!(
            plan.contains("SEARCH analytics_daily USING PRIMARY KEY (day>? AND day<?)"),
            "{plan}"
        );
    }
}

#[test]
fn a_daily_or_weekly_series_and_a_range_inside_a_month_read_the_daily_cube_only() {
    let db = db();
    for (range, granularity) in [
        (year(), Granularity::Week),
        (year(), Granularity::Day),
        (
            DateRange::new(date("2026-03-02"), date("2026-03-30")).unwrap(),
            Granularity::Month,
        ),
    ] {
        let p = planned(&db);
        reports::series(&p, &scope(range), granularity).unwrap();
        assert!(plans_on(&p, "analytics_monthly").is_empty());
        assert_eq!(plans_on(&p, "FROM analytics_daily").len(), 1);
    }
    // Exactly whole months: the monthly cube alone.
    let p = planned(&db);
    let whole = DateRange::new(date("2026-01-01"), date("2026-02-28")).unwrap();
    reports::totals(&p, &scope(whole)).unwrap();
    assert!(plans_on(&p, "FROM analytics_daily").is_empty());
    assert_eq!(plans_on(&p, "FROM analytics_monthly").len(), 1);
}

/// A booked cell put straight into both cubes, as `refresh_order` would.
fn cell(db: &RusqliteDb, day: &str, territory: &str, net: i64) {
    for (table, col, date) in [
        ("analytics_daily", "day", day.to_owned()),
        ("analytics_monthly", "month", rollup::month_of(day)),
    ] {
        db.execute(
            &format!(
                "INSERT INTO {table} ({col}, currency, channel_id, territory_id,
                    customer_group_id, orders, quantity_milli, net_e4, margin_e4)
                 VALUES (?, 'EUR', 'ch', ?, 'g', 1, 1000, ?, 0)
                 ON CONFLICT DO UPDATE SET orders = orders + 1,
                    quantity_milli = quantity_milli + 1000, net_e4 = net_e4 + excluded.net_e4"
            ),
            &[
                Value::from(date.as_str()),
                Value::from(territory),
                Value::Integer(net),
            ],
        )
        .unwrap();
    }
}

#[test]
fn reports_over_months_and_their_edges_add_up_to_the_same_figures_as_the_days() {
    let db = db();
    // One order on each edge of the year, two inside whole months, one
    // outside the range on each side.
    cell(&db, "2025-03-14", "t-1", 1);
    cell(&db, "2025-03-15", "t-1", 10);
    cell(&db, "2025-04-01", "t-2", 100);
    cell(&db, "2026-02-28", "t-1", 1_000);
    cell(&db, "2026-03-14", "t-2", 10_000);
    cell(&db, "2026-03-15", "t-2", 100_000);
    let s = scope(year());
    let t = reports::totals(&db, &s).unwrap();
    assert_eq!((t.orders, t.net_e4), (4, 11_110));
    let by_quarter = reports::series(&db, &s, Granularity::Quarter).unwrap();
    let nets: Vec<(String, i64)> = by_quarter
        .iter()
        .map(|(d, m)| (d.to_string(), m.net_e4))
        .collect();
    assert_eq!(
        nets,
        vec![
            ("2025-01-01".into(), 10),
            ("2025-04-01".into(), 100),
            ("2025-07-01".into(), 0),
            ("2025-10-01".into(), 0),
            ("2026-01-01".into(), 11_000),
        ]
    );
    let grid =
        reports::breakdown_series(&db, &s, Dimension::Territory, Granularity::Month).unwrap();
    let t1: Vec<i64> = grid["t-1"].iter().map(|(_, m)| m.net_e4).collect();
    let t2: Vec<i64> = grid["t-2"].iter().map(|(_, m)| m.net_e4).collect();
    assert_eq!(t1.len(), 13, "March 2025 … March 2026");
    assert_eq!((t1[0], t1[11], t1.iter().sum::<i64>()), (10, 1_000, 1_010));
    assert_eq!(
        (t2[1], t2[12], t2.iter().sum::<i64>()),
        (100, 10_000, 10_100)
    );
    let by = reports::breakdown(&db, &s, Dimension::Territory, 50).unwrap();
    let net = |k: &str| by.iter().find(|x| x.key == k).unwrap().own.net_e4;
    assert_eq!((net("t-1"), net("t-2")), (1_010, 10_100));
    // What the stored cubes hold agrees with a monthly cube summed from
    // the daily one.
    assert_eq!(
        rollup::stored_monthly(&db).unwrap(),
        rollup::months_of(&rollup::stored_daily(&db).unwrap())
    );
}
