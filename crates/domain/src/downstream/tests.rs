use chrono::NaiveDate;
use rust_decimal_macros::dec;

use super::*;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_default()
}

fn demand(state: DemandState, version: i64) -> OrderDemand {
    let wc = WorkCenterId::new();
    OrderDemand {
        order_id: OrderId::new(),
        order_number: "SO-2026-00001".into(),
        version,
        customer_id: CustomerId::new(),
        state,
        lines: vec![
            LineDemand {
                line_id: LineId::new(),
                product_id: ProductId::new(),
                due_date: Some(day(20)),
                manufacture: Some(ManufactureDemand {
                    quantity: dec!(5),
                    warehouse_id: WarehouseId::new(),
                    work_center_id: wc,
                    hours: dec!(10),
                    start: day(2),
                    finish: day(3),
                    schedule: vec![
                        DayHours {
                            date: day(2),
                            hours: dec!(8),
                        },
                        DayHours {
                            date: day(3),
                            hours: dec!(2),
                        },
                    ],
                }),
                service: None,
            },
            LineDemand {
                line_id: LineId::new(),
                product_id: ProductId::new(),
                due_date: None,
                manufacture: None,
                service: Some(ServiceDemand {
                    hours: dec!(0),
                    role_id: ProjectRoleId::new(),
                    start: day(4),
                    finish: day(4),
                    schedule: vec![],
                }),
            },
        ],
    }
}

#[test]
fn the_snapshot_round_trips_through_json_with_decimal_strings() {
    let d = demand(DemandState::Active, 3);
    let json = serde_json::to_value(&d).unwrap_or_default();
    assert_eq!(json["state"], "active");
    assert_eq!(json["lines"][0]["manufacture"]["quantity"], "5");
    let back: OrderDemand =
        serde_json::from_value(json).unwrap_or_else(|_| demand(DemandState::Closed, 0));
    assert_eq!(back, d);
}

#[test]
fn only_an_active_order_wants_work_and_zero_wants_nothing() {
    let d = demand(DemandState::Active, 1);
    let (made, served) = (d.lines[0].line_id, d.lines[1].line_id);
    assert_eq!(
        d.wanted_manufacture(made).map(|m| m.quantity),
        Some(dec!(5))
    );
    // zero hours is no task
    assert!(d.wanted_service(served).is_none());
    let cancelled = OrderDemand {
        state: DemandState::Cancelled,
        ..d.clone()
    };
    assert!(cancelled.wanted_manufacture(made).is_none());
    assert!(d.wanted_manufacture(LineId::new()).is_none());
}

#[test]
fn older_snapshots_never_supersede_newer_ones() {
    let d = demand(DemandState::Active, 4);
    assert!(d.supersedes(None));
    assert!(d.supersedes(Some(3)));
    assert!(!d.supersedes(Some(4)));
    assert!(!d.supersedes(Some(5)));
}

#[test]
fn a_line_plan_compares_what_exists_with_what_is_wanted() {
    let eq = |a: &i32, b: &i32| a == b;
    assert_eq!(plan_line::<i32, i32>(None, None, eq), LinePlan::Keep);
    assert_eq!(plan_line(None, Some(&1), eq), LinePlan::Create);
    assert_eq!(plan_line(Some(&1), None, eq), LinePlan::Cancel);
    assert_eq!(plan_line(Some(&1), Some(&1), eq), LinePlan::Keep);
    assert_eq!(plan_line(Some(&1), Some(&2), eq), LinePlan::Change);
}

#[test]
fn two_work_order_sources_of_a_line_merge_into_one_demand() {
    let d = demand(DemandState::Active, 1);
    let m = d.lines[0]
        .manufacture
        .clone()
        .unwrap_or_else(|| unreachable!());
    let later = ManufactureDemand {
        quantity: dec!(2),
        hours: dec!(4),
        start: day(3),
        finish: day(5),
        schedule: vec![
            DayHours {
                date: day(3),
                hours: dec!(1),
            },
            DayHours {
                date: day(5),
                hours: dec!(3),
            },
        ],
        ..m.clone()
    };
    let merged = merge(m, later);
    assert_eq!(merged.quantity, dec!(7));
    assert_eq!(merged.hours, dec!(14));
    assert_eq!((merged.start, merged.finish), (day(2), day(5)));
    assert_eq!(
        merged.schedule.iter().map(|d| d.hours).collect::<Vec<_>>(),
        vec![dec!(8), dec!(3), dec!(3)]
    );
}
