use super::*;
use crate::availability::atp::tests::d;
use crate::availability::atp::{ReceiptSpec, StockPosition, StockPositionSpec};
use crate::availability::calendar::WorkingCalendarSpec;
use crate::availability::ctp::PlannedLoad;
use rust_decimal_macros::dec;

pub(crate) const TODAY: &str = "2026-03-02";

pub(crate) struct World {
    pub(crate) product: ProductId,
    pub(crate) warehouses: Vec<WarehouseId>,
    pub(crate) ctx: PromiseContext,
}

/// One stocked product: warehouse A has 4 on hand and 6 due on the 10th,
/// warehouse B has 7 on hand.
pub(crate) fn stocked_world() -> World {
    let product = ProductId::new();
    let a = WarehouseId::new();
    let b = WarehouseId::new();
    let ctx = PromiseContext::new(PromiseContextSpec {
        stock: StockPictureSpec {
            positions: vec![
                StockPositionSpec {
                    product,
                    warehouse: a,
                    on_hand: dec!(4),
                    reservations: vec![],
                    receipts: vec![ReceiptSpec {
                        quantity: dec!(6),
                        due_on: d("2026-03-10"),
                    }],
                },
                StockPositionSpec {
                    product,
                    warehouse: b,
                    on_hand: dec!(7),
                    reservations: vec![],
                    receipts: vec![],
                },
            ],
        },
        work_centers: vec![],
        routings: vec![],
        roles: vec![],
        services: vec![],
    })
    .unwrap();
    World {
        product,
        warehouses: vec![a, b],
        ctx,
    }
}

pub(crate) fn line(product: ProductId, quantity: Decimal, requested: Option<&str>) -> PromiseLine {
    PromiseLine {
        line_id: LineId::new(),
        product,
        kind: ProductKind::Stocked,
        quantity,
        requested_date: requested.map(d),
    }
}

pub(crate) fn request(
    ship_policy: ShipPolicy,
    strategy: AllocationStrategy,
    warehouses: &[WarehouseId],
    lines: Vec<PromiseLine>,
) -> PromiseRequest {
    PromiseRequest::new(PromiseRequestSpec {
        today: d(TODAY),
        warehouses: warehouses.to_vec(),
        strategy,
        ship_policy,
        lines,
    })
    .unwrap()
}

/// A world with a manufactured product (2 on hand in the one warehouse,
/// made on Assembly at 2 h a unit after 1 day of material lead time) and a
/// service product (1 h a unit, by a 40 h/week consultant booked 30 h in
/// the first week).
struct Plant {
    made: ProductId,
    service: ProductId,
    warehouse: WarehouseId,
    ctx: PromiseContext,
}

fn plant() -> Plant {
    let made = ProductId::new();
    let service = ProductId::new();
    let warehouse = WarehouseId::new();
    let center = WorkCenterId::new();
    let role = ProjectRoleId::new();
    let ctx = PromiseContext::new(PromiseContextSpec {
        stock: StockPictureSpec {
            positions: vec![StockPositionSpec {
                product: made,
                warehouse,
                on_hand: dec!(2),
                reservations: vec![],
                receipts: vec![],
            }],
        },
        work_centers: vec![WorkCenterSpec {
            id: center,
            name: "Assembly".into(),
            hours_per_day: dec!(8),
            // Wednesday the 4th is a holiday.
            calendar: WorkingCalendarSpec::monday_to_friday(vec![d("2026-03-04")]),
            planned_load: vec![PlannedLoad {
                date: d("2026-03-03"),
                hours: dec!(4),
            }],
        }],
        routings: vec![RoutingSpec {
            product: made,
            work_center: center,
            hours_per_unit: dec!(2),
            material_lead_days: 1,
        }],
        roles: vec![ProjectRoleSpec {
            id: role,
            name: "Consultant".into(),
            hours_per_week: dec!(40),
            calendar: WorkingCalendarSpec::monday_to_friday(vec![]),
            bookings: vec![crate::availability::projects::BookingSpec {
                from: d("2026-03-02"),
                to: d("2026-03-06"),
                hours: dec!(30),
            }],
        }],
        services: vec![ServiceSpec {
            product: service,
            role,
            hours_per_unit: dec!(1),
        }],
    })
    .unwrap();
    Plant {
        made,
        service,
        warehouse,
        ctx,
    }
}

fn made_line(p: &Plant, quantity: Decimal) -> PromiseLine {
    PromiseLine {
        kind: ProductKind::Manufactured,
        ..line(p.made, quantity, None)
    }
}

fn service_line(p: &Plant, quantity: Decimal) -> PromiseLine {
    PromiseLine {
        kind: ProductKind::Service,
        ..line(p.service, quantity, None)
    }
}

#[test]
fn a_stocked_line_in_stock_is_promised_today_with_its_warehouse() {
    let w = stocked_world();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &w.warehouses,
        vec![line(w.product, dec!(3), None)],
    );
    let p = promise(&w.ctx, &req);
    let l = &p.lines[0];
    assert_eq!(l.status, LineStatus::Full);
    assert_eq!(l.promised_date, Some(d(TODAY)));
    assert_eq!(
        l.sources,
        vec![PromiseSource::Stock(WarehouseAllocation {
            warehouse: w.warehouses[0],
            quantity: dec!(3),
            available_on: d(TODAY)
        })]
    );
    assert_eq!(
        l.explanation,
        "3 from stock in 1 warehouse; promised 2026-03-02"
    );
    assert!(p.complete);
    assert_eq!(p.complete_by, Some(d(TODAY)));
}

#[test]
fn a_later_requested_date_is_kept_and_never_moved_earlier() {
    let w = stocked_world();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &w.warehouses,
        vec![line(w.product, dec!(3), Some("2026-04-01"))],
    );
    let l = &promise(&w.ctx, &req).lines[0];
    assert_eq!(l.promised_date, Some(d("2026-04-01")));
    assert!(
        l.explanation.ends_with("promised 2026-04-01"),
        "{}",
        l.explanation
    );
}

#[test]
fn ship_as_available_promises_what_it_can_and_names_the_shortfall() {
    let w = stocked_world();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &w.warehouses,
        vec![line(w.product, dec!(20), None)],
    );
    let p = promise(&w.ctx, &req);
    let l = &p.lines[0];
    assert_eq!(l.status, LineStatus::Partial);
    assert_eq!((l.promised_quantity, l.shortfall), (dec!(17), dec!(3)));
    assert_eq!(l.promised_date, Some(d("2026-03-10")));
    assert_eq!(l.sourced_quantity(), dec!(17));
    assert_eq!(
        l.explanation,
        "17 from stock in 2 warehouses as receipts arrive by 2026-03-10; 3 of 20 short; promised 2026-03-10"
    );
    assert!(!p.complete);
    assert_eq!(p.complete_by, None);
}

#[test]
fn ship_complete_promises_every_line_for_the_latest_lines_date() {
    let w = stocked_world();
    let other = ProductId::new();
    let ctx = PromiseContext::from_parts(
        w.ctx.stock().clone().with_position(
            StockPosition::new(StockPositionSpec {
                product: other,
                warehouse: w.warehouses[1],
                on_hand: dec!(1),
                reservations: vec![],
                receipts: vec![],
            })
            .unwrap(),
        ),
        vec![],
        vec![],
        vec![],
        vec![],
    )
    .unwrap();
    let req = request(
        ShipPolicy::ShipComplete,
        AllocationStrategy::Priority,
        &w.warehouses,
        vec![line(other, dec!(1), None), line(w.product, dec!(15), None)],
    );
    let p = promise(&ctx, &req);
    assert_eq!(p.complete_by, Some(d("2026-03-10")));
    assert_eq!(p.lines[0].ready_on, Some(d(TODAY)));
    assert_eq!(p.lines[0].promised_date, Some(d("2026-03-10")));
    assert_eq!(p.lines[1].promised_date, Some(d("2026-03-10")));
    assert!(p.lines[0]
        .explanation
        .ends_with("ships complete with the order on 2026-03-10"));
}

#[test]
fn a_ship_complete_order_with_a_short_line_has_no_date() {
    let w = stocked_world();
    let req = request(
        ShipPolicy::ShipComplete,
        AllocationStrategy::Priority,
        &w.warehouses,
        vec![
            line(w.product, dec!(1), None),
            line(ProductId::new(), dec!(1), None),
        ],
    );
    let p = promise(&w.ctx, &req);
    assert_eq!(p.lines[0].status, LineStatus::Full);
    assert_eq!(p.lines[1].status, LineStatus::Unavailable);
    assert!(p.lines.iter().all(|l| l.promised_date.is_none()));
    assert_eq!(
        p.lines[1].explanation,
        "1 of 1 short; the order cannot ship complete"
    );
}

#[test]
fn manufacturing_nets_free_stock_before_proposing_a_work_order() {
    let p = plant();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &[p.warehouse],
        vec![made_line(&p, dec!(8))],
    );
    let out = promise(&p.ctx, &req);
    let l = &out.lines[0];
    assert_eq!(l.status, LineStatus::Full);
    let PromiseSource::Stock(stock) = &l.sources[0] else {
        panic!("stock first: {:?}", l.sources)
    };
    assert_eq!(stock.quantity, dec!(2));
    let PromiseSource::WorkOrder(wo) = &l.sources[1] else {
        panic!("then a work order: {:?}", l.sources)
    };
    // 6 units × 2 h = 12 h from Tuesday the 3rd (4 h free), Wednesday is a
    // holiday, Thursday 8 h.
    assert_eq!((wo.quantity, wo.hours), (dec!(6), dec!(12)));
    assert_eq!((wo.start, wo.finish), (d("2026-03-03"), d("2026-03-05")));
    assert_eq!(l.promised_date, Some(d("2026-03-05")));
    assert_eq!(
        l.explanation,
        "2 from stock in 1 warehouse; 6 made on Assembly from 2026-03-03 to 2026-03-05; promised 2026-03-05"
    );
}

#[test]
fn enough_free_stock_means_no_work_order() {
    let p = plant();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &[p.warehouse],
        vec![made_line(&p, dec!(2))],
    );
    let l = &promise(&p.ctx, &req).lines[0];
    assert!(l
        .sources
        .iter()
        .all(|s| matches!(s, PromiseSource::Stock(_))));
    assert_eq!(l.promised_date, Some(d(TODAY)));
}

#[test]
fn two_lines_on_one_work_centre_do_not_share_hours() {
    let p = plant();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &[p.warehouse],
        vec![
            made_line(&p, dec!(2)),
            made_line(&p, dec!(4)),
            made_line(&p, dec!(4)),
        ],
    );
    let out = promise(&p.ctx, &req);
    let wo = |i: usize| match out.lines[i].sources.last() {
        Some(PromiseSource::WorkOrder(wo)) => wo.clone(),
        other => panic!("line {i}: {other:?}"),
    };
    // Line 2: 8 h = 4 on the 3rd + 4 on the 5th; line 3: 8 h = 4 on the 5th + 4 on the 6th.
    assert_eq!(
        (wo(1).start, wo(1).finish),
        (d("2026-03-03"), d("2026-03-05"))
    );
    assert_eq!(
        (wo(2).start, wo(2).finish),
        (d("2026-03-05"), d("2026-03-06"))
    );
}

#[test]
fn a_manufactured_product_without_routing_is_short_with_the_reason() {
    let w = stocked_world();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &w.warehouses,
        vec![PromiseLine {
            kind: ProductKind::Manufactured,
            ..line(w.product, dec!(12), None)
        }],
    );
    let l = &promise(&w.ctx, &req).lines[0];
    assert_eq!((l.promised_quantity, l.shortfall), (dec!(11), dec!(1)));
    assert!(
        l.explanation.contains("1 cannot be made: no routing"),
        "{}",
        l.explanation
    );
}

#[test]
fn a_service_line_is_booked_after_the_roles_existing_bookings() {
    let p = plant();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &[p.warehouse],
        vec![service_line(&p, dec!(16)), service_line(&p, dec!(8))],
    );
    let out = promise(&p.ctx, &req);
    let PromiseSource::ProjectSlot(first) = &out.lines[0].sources[0] else {
        panic!("{:?}", out.lines[0].sources)
    };
    // 2 h free a day in the first week (10 h), then 8 h a day.
    assert_eq!(
        (first.start, first.finish),
        (d("2026-03-02"), d("2026-03-09"))
    );
    assert_eq!(out.lines[0].promised_date, Some(d("2026-03-09")));
    assert_eq!(
        out.lines[0].explanation,
        "16 h of Consultant from 2026-03-02 to 2026-03-09; promised 2026-03-09"
    );
    let PromiseSource::ProjectSlot(second) = &out.lines[1].sources[0] else {
        panic!()
    };
    assert_eq!(
        (second.start, second.finish),
        (d("2026-03-09"), d("2026-03-10"))
    );
}

#[test]
fn a_service_without_a_role_is_unavailable() {
    let w = stocked_world();
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::Priority,
        &w.warehouses,
        vec![PromiseLine {
            kind: ProductKind::Service,
            ..line(ProductId::new(), dec!(1), None)
        }],
    );
    let l = &promise(&w.ctx, &req).lines[0];
    assert_eq!(l.status, LineStatus::Unavailable);
    assert_eq!(l.promised_date, None);
    assert_eq!(
        l.explanation,
        "no project role delivers this service; 1 of 1 short"
    );
}

#[test]
fn bad_requests_are_refused_naming_the_field() {
    let w = stocked_world();
    let spec = |lines: Vec<PromiseLine>| PromiseRequestSpec {
        today: d(TODAY),
        warehouses: w.warehouses.clone(),
        strategy: AllocationStrategy::Priority,
        ship_policy: ShipPolicy::ShipAsAvailable,
        lines,
    };
    assert_eq!(
        PromiseRequest::new(spec(vec![])),
        Err(PromiseError::NoLines)
    );
    let neg = PromiseRequest::new(spec(vec![line(w.product, dec!(-1), None)])).unwrap_err();
    assert_eq!(
        neg.to_string(),
        "lines[0].quantity: must not be negative (got -1)"
    );
    let zero = PromiseRequest::new(spec(vec![line(w.product, dec!(0), None)])).unwrap_err();
    assert!(matches!(
        zero,
        PromiseError::InvalidQuantity {
            issue: QuantityIssue::Zero,
            ..
        }
    ));
    let past = PromiseRequest::new(spec(vec![
        line(w.product, dec!(1), None),
        line(w.product, dec!(1), Some("2026-03-01")),
    ]))
    .unwrap_err();
    assert_eq!(
        past.to_string(),
        "lines[1].requested_date: 2026-03-01 is before today (2026-03-02)"
    );
    let l = line(w.product, dec!(1), None);
    assert!(matches!(
        PromiseRequest::new(spec(vec![l.clone(), l])),
        Err(PromiseError::DuplicateLine { index: 1, .. })
    ));
    let twice = PromiseRequestSpec {
        warehouses: vec![w.warehouses[0], w.warehouses[0]],
        ..spec(vec![line(w.product, dec!(1), None)])
    };
    assert!(matches!(
        PromiseRequest::new(twice),
        Err(PromiseError::DuplicateWarehouse { index: 1, .. })
    ));
    let many = (0..=MAX_LINES)
        .map(|_| line(w.product, dec!(1), None))
        .collect();
    assert_eq!(
        PromiseRequest::new(spec(many)),
        Err(PromiseError::TooManyLines)
    );
}

#[test]
fn contexts_with_dangling_or_repeated_references_are_refused() {
    let center = WorkCenterSpec {
        id: WorkCenterId::new(),
        name: "Assembly".into(),
        hours_per_day: dec!(8),
        calendar: WorkingCalendarSpec::monday_to_friday(vec![]),
        planned_load: vec![],
    };
    let routing = RoutingSpec {
        product: ProductId::new(),
        work_center: WorkCenterId::new(),
        hours_per_unit: dec!(1),
        material_lead_days: 0,
    };
    let empty = PromiseContextSpec {
        stock: StockPictureSpec { positions: vec![] },
        work_centers: vec![],
        routings: vec![],
        roles: vec![],
        services: vec![],
    };
    assert!(matches!(
        PromiseContext::new(PromiseContextSpec {
            work_centers: vec![center.clone()],
            routings: vec![routing.clone()],
            ..empty.clone()
        }),
        Err(PromiseError::UnknownWorkCenter { .. })
    ));
    assert!(matches!(
        PromiseContext::new(PromiseContextSpec {
            work_centers: vec![center.clone(), center.clone()],
            ..empty.clone()
        }),
        Err(PromiseError::DuplicateWorkCenter(_))
    ));
    let bad_center = WorkCenterSpec {
        hours_per_day: dec!(-8),
        ..center
    };
    assert_eq!(
        PromiseContext::new(PromiseContextSpec {
            work_centers: vec![bad_center],
            ..empty.clone()
        })
        .unwrap_err()
        .to_string(),
        "work_centers[0]: hours_per_day: must not be negative (got -8)"
    );
    assert!(matches!(
        PromiseContext::new(PromiseContextSpec {
            services: vec![ServiceSpec {
                product: ProductId::new(),
                role: ProjectRoleId::new(),
                hours_per_unit: dec!(1)
            }],
            ..empty
        }),
        Err(PromiseError::UnknownRole { .. })
    ));
}

#[test]
fn promises_round_trip_through_json_and_requests_refuse_unknown_fields() {
    let p = plant();
    let req = request(
        ShipPolicy::ShipComplete,
        AllocationStrategy::MostStockFirst,
        &[p.warehouse],
        vec![made_line(&p, dec!(8)), service_line(&p, dec!(4))],
    );
    let out = promise(&p.ctx, &req);
    let json = serde_json::to_string(&out).unwrap();
    assert!(json.contains(r#""kind":"work_order""#), "{json}");
    assert!(json.contains(r#""ship_policy":"ship_complete""#));
    assert_eq!(serde_json::from_str::<OrderPromise>(&json).unwrap(), out);
    // The same input gives the same bytes.
    assert_eq!(serde_json::to_string(&promise(&p.ctx, &req)).unwrap(), json);
    let req_json = serde_json::to_value(&req).unwrap();
    assert_eq!(
        serde_json::from_value::<PromiseRequest>(req_json.clone()).unwrap(),
        req
    );
    let mut typo = req_json;
    typo["stratgy"] = serde_json::json!("priority");
    assert!(serde_json::from_value::<PromiseRequest>(typo).is_err());
}

/// Adding stock never makes a single line's promise later (a property
/// test checks it), but lines are served one after another, greedily: with
/// "most stock first", one more unit in warehouse A makes the first line
/// (needed on the 10th) take A's on-hand units instead of B's receipt, and
/// the second line (as soon as possible) then waits for that receipt.
/// FIXME: a smarter allocator would give a later-needed line the later
/// supply first; today's behaviour is asserted here.
#[test]
fn more_stock_can_delay_a_later_line_because_lines_are_served_greedily() {
    let product = ProductId::new();
    let a = WarehouseId::new();
    let b = WarehouseId::new();
    let ctx = |on_hand_a: Decimal| {
        PromiseContext::new(PromiseContextSpec {
            stock: StockPictureSpec {
                positions: vec![
                    StockPositionSpec {
                        product,
                        warehouse: a,
                        on_hand: on_hand_a,
                        reservations: vec![],
                        receipts: vec![],
                    },
                    StockPositionSpec {
                        product,
                        warehouse: b,
                        on_hand: dec!(0),
                        reservations: vec![],
                        receipts: vec![ReceiptSpec {
                            quantity: dec!(6),
                            due_on: d("2026-03-10"),
                        }],
                    },
                ],
            },
            work_centers: vec![],
            routings: vec![],
            roles: vec![],
            services: vec![],
        })
        .unwrap()
    };
    let req = request(
        ShipPolicy::ShipAsAvailable,
        AllocationStrategy::MostStockFirst,
        &[a, b],
        vec![
            line(product, dec!(5), Some("2026-03-10")),
            line(product, dec!(5), None),
        ],
    );
    let before = promise(&ctx(dec!(5)), &req);
    let after = promise(&ctx(dec!(6)), &req);
    assert_eq!(before.lines[1].promised_date, Some(d(TODAY)));
    assert_eq!(after.lines[1].promised_date, Some(d("2026-03-10")));
}

#[test]
fn a_context_deserializes_through_its_validating_constructor() {
    let json = serde_json::json!({
        "stock": {"positions": [{
            "product": ProductId::new(),
            "warehouse": WarehouseId::new(),
            "on_hand": "5",
            "receipts": [{"quantity": "2", "due_on": "2026-03-10"}]
        }]},
        "work_centers": [],
    });
    let ctx: PromiseContext = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(ctx.stock().positions().count(), 1);
    let mut negative = json.clone();
    negative["stock"]["positions"][0]["on_hand"] = serde_json::json!("-5");
    let err = serde_json::from_value::<PromiseContext>(negative).unwrap_err();
    assert!(
        err.to_string().contains("on_hand: must not be negative"),
        "{err}"
    );
    let mut typo = json;
    typo["work_centres"] = serde_json::json!([]);
    assert!(serde_json::from_value::<PromiseContext>(typo).is_err());
}
