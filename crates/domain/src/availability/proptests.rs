//! Property tests of the promise engine's invariants over random stock
//! pictures, work centres, roles and orders:
//!
//! - a promise is never before today, nor before the requested date;
//! - every line's sources add up to its promised quantity, every stock
//!   piece is within its warehouse's ATP, and writing the planned
//!   reservations never over-commits a position (reserved never exceeds
//!   on hand plus receipts);
//! - manufactured lines use free stock before a work order is proposed;
//! - work orders and bookings never land on a holiday or non-working day,
//!   nor exceed a day's free capacity;
//! - adding stock never makes a promise later or smaller.

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::catalog::ProductKind;
use crate::ids::{LineId, OrderId, ProductId, WarehouseId};

fn base() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
}

fn day(offset: i64) -> NaiveDate {
    if offset >= 0 {
        base() + Days::new(offset as u64)
    } else {
        base() - Days::new(offset.unsigned_abs())
    }
}

/// Quantities with up to one decimal.
fn qty(max_tenths: i64) -> impl Strategy<Value = Decimal> {
    (1..=max_tenths).prop_map(|t| Decimal::new(t, 1))
}

fn calendar() -> impl Strategy<Value = WorkingCalendarSpec> {
    (
        proptest::sample::subsequence(Weekday::ALL.to_vec(), 1..=7),
        proptest::collection::vec(0i64..60, 0..12),
    )
        .prop_map(|(working_days, holidays)| WorkingCalendarSpec {
            working_days,
            holidays: holidays.into_iter().map(day).collect(),
        })
}

#[derive(Debug, Clone)]
struct PositionGen {
    on_hand: Decimal,
    reservations: Vec<(Decimal, i64, Option<i64>)>,
    receipts: Vec<(Decimal, i64)>,
}

fn position() -> impl Strategy<Value = PositionGen> {
    (
        (0i64..=200).prop_map(|t| Decimal::new(t, 1)),
        proptest::collection::vec((qty(100), -5i64..40, proptest::option::of(-3i64..20)), 0..3),
        proptest::collection::vec((qty(100), -5i64..40), 0..3),
    )
        .prop_map(|(on_hand, reservations, receipts)| PositionGen {
            on_hand,
            reservations,
            receipts,
        })
}

const WAREHOUSES: usize = 3;
/// Products 0 and 1 are stocked, 2 is manufactured, 3 is a service.
const PRODUCTS: usize = 4;

#[derive(Debug, Clone)]
struct WorldGen {
    positions: Vec<PositionGen>, // PRODUCTS × WAREHOUSES, the service's unused
    center_calendar: WorkingCalendarSpec,
    hours_per_day: Decimal,
    load: Vec<(i64, Decimal)>,
    hours_per_unit: Decimal,
    lead_days: u32,
    role_calendar: WorkingCalendarSpec,
    hours_per_week: Decimal,
    bookings: Vec<(i64, i64, Decimal)>,
}

fn world_gen() -> impl Strategy<Value = WorldGen> {
    (
        proptest::collection::vec(position(), PRODUCTS * WAREHOUSES),
        calendar(),
        qty(120),
        proptest::collection::vec((0i64..40, qty(100)), 0..10),
        qty(40),
        0u32..10,
        calendar(),
        qty(500),
        proptest::collection::vec((0i64..30, 0i64..10, qty(300)), 0..4),
    )
        .prop_map(
            |(
                positions,
                center_calendar,
                hours_per_day,
                load,
                hours_per_unit,
                lead_days,
                role_calendar,
                hours_per_week,
                bookings,
            )| WorldGen {
                positions,
                center_calendar,
                hours_per_day,
                load,
                hours_per_unit,
                lead_days,
                role_calendar,
                hours_per_week,
                bookings,
            },
        )
}

struct World {
    products: Vec<ProductId>,
    warehouses: Vec<WarehouseId>,
    spec: PromiseContextSpec,
    ctx: PromiseContext,
}

impl World {
    fn build(g: &WorldGen, extra_stock: Option<(usize, usize, Decimal, i64)>) -> Option<World> {
        // Fixed ids so two builds of one generated world line up.
        let id =
            |n: u128| uuid::Uuid::from_u128((0x0190_0000_0000_7000_8000_0000_0000_0000u128) | n);
        let products: Vec<ProductId> = (0..PRODUCTS)
            .map(|i| ProductId::from_uuid(id(i as u128 + 1)))
            .collect::<Result<_, _>>()
            .ok()?;
        let warehouses: Vec<WarehouseId> = (0..WAREHOUSES)
            .map(|i| WarehouseId::from_uuid(id(i as u128 + 100)))
            .collect::<Result<_, _>>()
            .ok()?;
        let center = WorkCenterId::from_uuid(id(200)).ok()?;
        let role = ProjectRoleId::from_uuid(id(300)).ok()?;
        let mut positions = Vec::new();
        for (pi, product) in products.iter().enumerate().take(3) {
            for (wi, warehouse) in warehouses.iter().enumerate() {
                let p = &g.positions[pi * WAREHOUSES + wi];
                let mut on_hand = p.on_hand;
                let mut receipts: Vec<ReceiptSpec> = p
                    .receipts
                    .iter()
                    .map(|(q, due)| ReceiptSpec {
                        quantity: *q,
                        due_on: day(*due),
                    })
                    .collect();
                if let Some((ep, ew, q, due)) = extra_stock {
                    if ep == pi && ew == wi {
                        if due <= 0 {
                            on_hand += q;
                        } else {
                            receipts.push(ReceiptSpec {
                                quantity: q,
                                due_on: day(due),
                            });
                        }
                    }
                }
                positions.push(StockPositionSpec {
                    product: *product,
                    warehouse: *warehouse,
                    on_hand,
                    reservations: p
                        .reservations
                        .iter()
                        .map(|(q, need, until)| ReservationSpec {
                            quantity: *q,
                            needed_on: day(*need),
                            valid_until: until.map(day),
                        })
                        .collect(),
                    receipts,
                });
            }
        }
        let spec = PromiseContextSpec {
            stock: StockPictureSpec { positions },
            work_centers: vec![WorkCenterSpec {
                id: center,
                name: "Assembly".into(),
                hours_per_day: g.hours_per_day,
                calendar: g.center_calendar.clone(),
                planned_load: g
                    .load
                    .iter()
                    .map(|(d, h)| PlannedLoad {
                        date: day(*d),
                        hours: *h,
                    })
                    .collect(),
            }],
            routings: vec![RoutingSpec {
                product: products[2],
                work_center: center,
                hours_per_unit: g.hours_per_unit,
                material_lead_days: g.lead_days,
            }],
            roles: vec![ProjectRoleSpec {
                id: role,
                name: "Consultant".into(),
                hours_per_week: g.hours_per_week,
                calendar: g.role_calendar.clone(),
                bookings: g
                    .bookings
                    .iter()
                    .map(|(from, len, h)| BookingSpec {
                        from: day(*from),
                        to: day(from + len),
                        hours: *h,
                    })
                    .collect(),
            }],
            services: vec![ServiceSpec {
                product: products[3],
                role,
                hours_per_unit: Decimal::ONE,
            }],
        };
        // A booking on no working day is invalid input: such worlds are skipped.
        let ctx = PromiseContext::new(spec.clone()).ok()?;
        Some(World {
            products,
            warehouses,
            spec,
            ctx,
        })
    }
}

#[derive(Debug, Clone)]
struct OrderGen {
    lines: Vec<(usize, Decimal, Option<i64>)>,
    warehouses: Vec<usize>,
    strategy: AllocationStrategy,
    policy: ShipPolicy,
}

fn order_gen(max_lines: usize) -> impl Strategy<Value = OrderGen> {
    (
        proptest::collection::vec(
            (0..PRODUCTS, qty(300), proptest::option::of(0i64..30)),
            1..=max_lines,
        ),
        proptest::sample::subsequence((0..WAREHOUSES).collect::<Vec<_>>(), 0..=WAREHOUSES)
            .prop_shuffle(),
        prop_oneof![
            Just(AllocationStrategy::Priority),
            Just(AllocationStrategy::MostStockFirst)
        ],
        prop_oneof![
            Just(ShipPolicy::ShipComplete),
            Just(ShipPolicy::ShipAsAvailable)
        ],
    )
        .prop_map(|(lines, warehouses, strategy, policy)| OrderGen {
            lines,
            warehouses,
            strategy,
            policy,
        })
}

fn kind_of(product: usize) -> ProductKind {
    match product {
        0 | 1 => ProductKind::Stocked,
        2 => ProductKind::Manufactured,
        _ => ProductKind::Service,
    }
}

fn request(w: &World, o: &OrderGen) -> PromiseRequest {
    let spec = PromiseRequestSpec {
        today: base(),
        warehouses: o.warehouses.iter().map(|i| w.warehouses[*i]).collect(),
        strategy: o.strategy,
        ship_policy: o.policy,
        lines: o
            .lines
            .iter()
            .enumerate()
            .map(|(i, (p, q, req))| PromiseLine {
                line_id: LineId::from_uuid(uuid::Uuid::from_u128(
                    0x0190_0000_0000_7000_8000_0000_0001_0000u128 | i as u128,
                ))
                .unwrap_or_else(|_| LineId::new()),
                product: w.products[*p],
                kind: kind_of(*p),
                quantity: *q,
                requested_date: req.map(day),
            })
            .collect(),
    };
    match PromiseRequest::new(spec) {
        Ok(r) => r,
        Err(e) => panic!("generated request is valid: {e}"),
    }
}

fn later_or_none(a: Option<NaiveDate>, b: Option<NaiveDate>) -> bool {
    // Is `a` later than `b`, with `None` meaning never?
    match (a, b) {
        (None, None) => false,
        (None, Some(_)) => true,
        (Some(_), None) => false,
        (Some(x), Some(y)) => x > y,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn promises_are_never_before_today_nor_the_requested_date(g in world_gen(), o in order_gen(5)) {
        let Some(w) = World::build(&g, None) else { return Ok(()) };
        let out = promise(&w.ctx, &request(&w, &o));
        for l in &out.lines {
            if let Some(p) = l.promised_date {
                prop_assert!(p >= base());
                if let Some(r) = l.requested_date {
                    prop_assert!(p >= r);
                }
            }
            if let Some(r) = l.ready_on {
                prop_assert!(r >= base());
            }
        }
        if let Some(c) = out.complete_by {
            prop_assert!(c >= base());
        }
    }

    #[test]
    fn allocations_stay_within_atp_and_add_up_to_the_promise(g in world_gen(), o in order_gen(5)) {
        let Some(w) = World::build(&g, None) else { return Ok(()) };
        let req = request(&w, &o);
        let out = promise(&w.ctx, &req);
        let stock = w.ctx.stock();
        for l in &out.lines {
            prop_assert_eq!(l.sourced_quantity(), l.promised_quantity);
            prop_assert_eq!(l.promised_quantity + l.shortfall, l.quantity);
            prop_assert!(l.shortfall >= Decimal::ZERO);
            for s in &l.sources {
                if let PromiseSource::Stock(a) = s {
                    prop_assert!(a.quantity > Decimal::ZERO);
                    prop_assert!(req.warehouses().contains(&a.warehouse));
                    let atp = stock.atp_with(l.product, a.warehouse, base(), &[]);
                    prop_assert!(a.quantity <= atp.available_on(a.available_on));
                }
            }
        }
        // Writing the reservations never over-commits a position further.
        if let Ok(plan) = plan_reservations(OrderId::new(), &out, None) {
            let after = apply_reservations(stock, &plan);
            for p in after.positions() {
                let before = stock
                    .position(p.product(), p.warehouse())
                    .map_or(Decimal::ZERO, |b| b.overcommitted(base()));
                prop_assert_eq!(p.overcommitted(base()), before);
            }
            let reserved: Decimal = plan.rows.iter().map(|r| r.quantity).sum();
            let stock_promised: Decimal = out.lines.iter().flat_map(|l| &l.sources).map(|s| match s {
                PromiseSource::Stock(a) => a.quantity,
                _ => Decimal::ZERO,
            }).sum();
            prop_assert_eq!(reserved, stock_promised);
        }
    }

    #[test]
    fn on_a_consistent_picture_reserved_never_exceeds_on_hand_plus_receipts(
        g in world_gen(), o in order_gen(5)
    ) {
        // Drop the random reservations: start from a picture nothing overcommits.
        let mut g = g;
        for p in &mut g.positions { p.reservations.clear(); }
        let Some(w) = World::build(&g, None) else { return Ok(()) };
        let out = promise(&w.ctx, &request(&w, &o));
        if let Ok(plan) = plan_reservations(OrderId::new(), &out, None) {
            let after = apply_reservations(w.ctx.stock(), &plan);
            for p in after.positions() {
                let supply = p.on_hand() + p.receipts().iter().map(|r| r.quantity()).sum::<Decimal>();
                prop_assert!(p.reserved(base()) <= supply);
                prop_assert_eq!(p.overcommitted(base()), Decimal::ZERO);
            }
        }
    }

    #[test]
    fn free_stock_is_used_before_production_is_proposed(
        g in world_gen(), quantity in qty(300), requested in proptest::option::of(0i64..30),
        o in order_gen(1),
    ) {
        let Some(w) = World::build(&g, None) else { return Ok(()) };
        let o = OrderGen { lines: vec![(2, quantity, requested)], ..o };
        let req = request(&w, &o);
        let out = promise(&w.ctx, &req);
        let l = &out.lines[0];
        let need = requested.map_or(base(), day);
        let free: Decimal = req.warehouses().iter()
            .map(|wh| w.ctx.stock().atp_with(w.products[2], *wh, base(), &[]).available_on(need))
            .sum();
        let from_stock: Decimal = l.sources.iter().map(|s| match s {
            PromiseSource::Stock(a) => a.quantity,
            _ => Decimal::ZERO,
        }).sum();
        prop_assert_eq!(from_stock, free.min(quantity));
        for s in &l.sources {
            if let PromiseSource::WorkOrder(wo) = s {
                prop_assert_eq!(wo.quantity, quantity - from_stock);
            }
        }
        if free >= quantity {
            prop_assert!(l.sources.iter().all(|s| matches!(s, PromiseSource::Stock(_))));
        }
    }

    #[test]
    fn holidays_and_non_working_days_are_never_scheduled(g in world_gen(), o in order_gen(5)) {
        let Some(w) = World::build(&g, None) else { return Ok(()) };
        let out = promise(&w.ctx, &request(&w, &o));
        let center_cal = WorkingCalendar::new(w.spec.work_centers[0].calendar.clone());
        let role_cal = WorkingCalendar::new(w.spec.roles[0].calendar.clone());
        let (Ok(center_cal), Ok(role_cal)) = (center_cal, role_cal) else { return Ok(()) };
        let center = w.ctx.work_center(w.spec.work_centers[0].id);
        let mut used: std::collections::BTreeMap<NaiveDate, Decimal> = Default::default();
        for l in &out.lines {
            for s in &l.sources {
                let (cal, days, start, finish, hours) = match s {
                    PromiseSource::WorkOrder(wo) => (&center_cal, &wo.schedule, wo.start, wo.finish, wo.hours),
                    PromiseSource::ProjectSlot(b) => (&role_cal, &b.schedule, b.start, b.finish, b.hours),
                    PromiseSource::Stock(_) => continue,
                };
                prop_assert!(cal.is_working_day(start));
                prop_assert!(cal.is_working_day(finish));
                prop_assert_eq!(days.iter().map(|d| d.hours).sum::<Decimal>(), hours);
                for d in days {
                    prop_assert!(cal.is_working_day(d.date), "{} scheduled", d.date);
                    prop_assert!(d.date >= start && d.date <= finish);
                    prop_assert!(d.hours > Decimal::ZERO);
                }
                if let (PromiseSource::WorkOrder(wo), Some(c)) = (s, center) {
                    prop_assert!(wo.materials_ready_on <= wo.start);
                    for d in &wo.schedule {
                        let total = used.entry(d.date).or_default();
                        *total += d.hours;
                        prop_assert!(*total + c.load_on(d.date) <= c.hours_per_day().max(c.load_on(d.date)));
                    }
                }
            }
        }
    }

    #[test]
    fn adding_stock_never_makes_a_promise_later_or_smaller(
        g in world_gen(), o in order_gen(1),
        extra in (0usize..3, 0usize..WAREHOUSES, qty(200), -2i64..40),
    ) {
        let (Some(before), Some(after)) = (World::build(&g, None), World::build(&g, Some(extra))) else {
            return Ok(())
        };
        let a = promise(&before.ctx, &request(&before, &o));
        let b = promise(&after.ctx, &request(&after, &o));
        let (la, lb) = (&a.lines[0], &b.lines[0]);
        prop_assert!(lb.promised_quantity >= la.promised_quantity);
        if la.status == LineStatus::Full {
            prop_assert_eq!(lb.status, LineStatus::Full);
            prop_assert!(!later_or_none(lb.promised_date, la.promised_date),
                "{:?} became {:?}", la.promised_date, lb.promised_date);
        }
        prop_assert!(!(a.complete && later_or_none(b.complete_by, a.complete_by)));
    }
}
