//! Reconciling an order's downstream records to its demand snapshots:
//! confirm → work order (load, receipt, pegged hold) and project; reduce →
//! shrunk; cancel → everything compensated; stale or replayed snapshots
//! change nothing.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sales_domain::availability::{
    DayHours, NewWarehouse, ProjectRoleId, ReservationStatus, Warehouse, Weekday, WorkCenterId,
};
use sales_domain::downstream::{
    DemandState, LineDemand, ManufactureDemand, OrderDemand, ServiceDemand, WorkStatus,
};
use sales_domain::ids::{
    CustomerId, EventId, LineId, OrderId, PrincipalId, ProductId, WarehouseId,
};
use sales_store::availability::capacity::{self, ProjectRole, WorkCenter};
use sales_store::availability::reservations::{self, HoldFilter};
use sales_store::availability::{receipts, stock, warehouses};
use sales_store::db::Db;
use sales_store::downstream::notifications::{self, NewNotification};
use sales_store::downstream::reconcile::{self, Change};
use sales_store::downstream::{projects, work_orders};
use sales_store::outbox::{self, EventFilter};
use sales_store::Page;

use crate::common::{at, db};
use crate::fixtures;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
}

struct World {
    warehouse: WarehouseId,
    center: WorkCenterId,
    role: ProjectRoleId,
    made: ProductId,
    service: ProductId,
}

fn world(db: &impl Db) -> World {
    let w = Warehouse::new(
        WarehouseId::new(),
        NewWarehouse {
            code: "MAIN".into(),
            name: "Main".into(),
        },
    )
    .unwrap();
    warehouses::create(db, &w, at(1)).unwrap();
    let cal = fixtures::calendar("Plant", &Weekday::WEEKDAYS, &[]);
    capacity::create(db, &cal, at(1)).unwrap();
    let (made, service) = (ProductId::new(), ProductId::new());
    let center = fixtures::assembly(cal.id, &[(made, dec!(2), 0)]);
    capacity::create(db, &center, at(1)).unwrap();
    let role = fixtures::installer(cal.id, service);
    capacity::create(db, &role, at(1)).unwrap();
    World {
        warehouse: w.id(),
        center: center.id,
        role: role.id,
        made,
        service,
    }
}

fn demand(w: &World, version: i64, units: Decimal, hours: Decimal) -> OrderDemand {
    OrderDemand {
        order_id: OrderId::parse("01900000-0000-7000-8000-000000000001").unwrap(),
        order_number: "SO-2026-00001".into(),
        version,
        customer_id: CustomerId::parse("01900000-0000-7000-8000-000000000002").unwrap(),
        state: DemandState::Active,
        lines: vec![
            LineDemand {
                line_id: LineId::parse("01900000-0000-7000-8000-00000000000a").unwrap(),
                product_id: w.made,
                due_date: Some(day(20)),
                manufacture: Some(ManufactureDemand {
                    quantity: units,
                    warehouse_id: w.warehouse,
                    work_center_id: w.center,
                    hours: units * dec!(2),
                    start: day(9),
                    finish: day(10),
                    schedule: vec![
                        DayHours {
                            date: day(9),
                            hours: units,
                        },
                        DayHours {
                            date: day(10),
                            hours: units,
                        },
                    ],
                }),
                service: None,
            },
            LineDemand {
                line_id: LineId::parse("01900000-0000-7000-8000-00000000000b").unwrap(),
                product_id: w.service,
                due_date: Some(day(20)),
                manufacture: None,
                service: Some(ServiceDemand {
                    hours,
                    role_id: w.role,
                    start: day(11),
                    finish: day(12),
                    schedule: vec![],
                }),
            },
        ],
    }
}

fn load(db: &impl Db, w: &World) -> Vec<(NaiveDate, Decimal)> {
    capacity::get::<WorkCenter>(db, &w.center.to_string())
        .unwrap()
        .record
        .planned_load
        .iter()
        .map(|l| (l.date, l.hours))
        .collect()
}

fn bookings(db: &impl Db, w: &World) -> Vec<Decimal> {
    capacity::get::<ProjectRole>(db, &w.role.to_string())
        .unwrap()
        .record
        .bookings
        .iter()
        .map(|b| b.hours)
        .collect()
}

fn position(db: &impl Db, w: &World) -> (Decimal, Decimal) {
    let p = stock::position(db, w.made, w.warehouse).unwrap().unwrap();
    (p.incoming, p.reserved)
}

fn apply(db: &impl Db, d: &OrderDemand) -> reconcile::Outcome {
    db.transaction(|db| reconcile::apply(db, d, EventId::new(), at(2)))
        .unwrap()
}

#[test]
fn confirm_then_reduce_then_cancel_moves_every_downstream_effect_with_the_order() {
    let db = db();
    let w = world(&db);

    // Confirmed: 5 units to make, 6 service hours.
    let out = apply(&db, &demand(&w, 1, dec!(5), dec!(6)));
    assert!(out.applied);
    assert_eq!(out.work_orders.len(), 1);
    assert_eq!(out.work_orders[0].1, Change::Planned);
    assert_eq!(out.project.map(|p| p.1), Some(Change::Planned));
    let wo = work_orders::get(&db, out.work_orders[0].0).unwrap().record;
    assert_eq!(wo.number, "WO-2026-00001");
    assert_eq!((wo.quantity, wo.status), (dec!(5), WorkStatus::Planned));
    assert_eq!(load(&db, &w), vec![(day(9), dec!(5)), (day(10), dec!(5))]);
    // The receipt is incoming and pegged: nothing free for the next order.
    assert_eq!(position(&db, &w), (dec!(5), dec!(5)));
    let receipt = receipts::get(&db, wo.receipt_id.unwrap()).unwrap().record;
    assert_eq!((receipt.quantity, receipt.due_on), (dec!(5), day(10)));
    let hold = reservations::get(&db, wo.reservation_id.unwrap())
        .unwrap()
        .record;
    assert_eq!(hold.document, "WO-2026-00001");
    assert_eq!(hold.rows[0].line_id, wo.line_id);
    let project = projects::for_order(&db, wo.order_id)
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(project.number, "PRJ-2026-00001");
    assert_eq!(project.tasks.len(), 1);
    assert_eq!(project.tasks[0].record.hours, dec!(6));
    assert!(project.tasks[0].record.booked);
    assert_eq!(bookings(&db, &w), vec![dec!(6)]);

    // The same snapshot again (a replayed event) and an older one: nothing.
    assert!(!apply(&db, &demand(&w, 1, dec!(5), dec!(6))).applied);
    assert!(!apply(&db, &demand(&w, 0, dec!(9), dec!(9))).applied);
    assert_eq!(position(&db, &w), (dec!(5), dec!(5)));

    // Reduced: 3 units, 4 hours — the same records, shrunk.
    let out = apply(&db, &demand(&w, 2, dec!(3), dec!(4)));
    assert_eq!(out.work_orders, vec![(wo.id, Change::Changed)]);
    let shrunk = work_orders::get(&db, wo.id).unwrap();
    assert_eq!(shrunk.record.quantity, dec!(3));
    assert_eq!(shrunk.version, 2);
    assert_eq!(position(&db, &w), (dec!(3), dec!(3)));
    assert_eq!(load(&db, &w), vec![(day(9), dec!(3)), (day(10), dec!(3))]);
    assert_eq!(bookings(&db, &w), vec![dec!(4)]);
    assert_eq!(
        reservations::get(&db, wo.reservation_id.unwrap())
            .unwrap()
            .record
            .status,
        ReservationStatus::Released
    );
    assert!(
        !receipts::get(&db, wo.receipt_id.unwrap())
            .unwrap()
            .record
            .active
    );

    // Cancelled: everything compensated.
    let mut cancelled = demand(&w, 3, dec!(3), dec!(4));
    cancelled.state = DemandState::Cancelled;
    let out = apply(&db, &cancelled);
    assert_eq!(out.work_orders, vec![(wo.id, Change::Cancelled)]);
    assert_eq!(out.project.map(|p| p.1), Some(Change::Cancelled));
    let wo = work_orders::get(&db, wo.id).unwrap().record;
    assert_eq!(wo.status, WorkStatus::Cancelled);
    assert_eq!((wo.receipt_id, wo.reservation_id), (None, None));
    assert_eq!(position(&db, &w), (dec!(0), dec!(0)));
    assert!(load(&db, &w).is_empty());
    assert!(bookings(&db, &w).is_empty());
    let project = projects::for_order(&db, wo.order_id)
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(project.status, WorkStatus::Cancelled);
    assert_eq!(project.tasks[0].record.status, WorkStatus::Cancelled);
    let held = reservations::list(
        &db,
        &HoldFilter {
            status: Some(ReservationStatus::Held),
            ..Default::default()
        },
        &Page::first(10),
    )
    .unwrap()
    .0;
    assert!(held.is_empty());

    // Every change was announced for subscribers.
    let topics: Vec<String> = outbox::list(&db, &EventFilter::default(), &Page::first(50))
        .unwrap()
        .0
        .into_iter()
        .map(|e| e.topic)
        .collect();
    assert_eq!(
        topics,
        [
            "work_order.planned",
            "project.planned",
            "work_order.changed",
            "project.changed",
            "work_order.cancelled",
            "project.cancelled"
        ]
    );
}

#[test]
fn a_line_that_no_longer_needs_making_cancels_its_work_order_and_a_closed_order_keeps_it() {
    let db = db();
    let w = world(&db);
    let first = apply(&db, &demand(&w, 1, dec!(2), dec!(1)));
    let wo = first.work_orders[0].0;
    // Stock arrived elsewhere: the amended order makes nothing.
    let mut amended = demand(&w, 2, dec!(2), dec!(1));
    amended.lines[0].manufacture = None;
    let out = apply(&db, &amended);
    assert_eq!(out.work_orders, vec![(wo, Change::Cancelled)]);
    assert_eq!(out.project, None);
    // Wanted again: the same work order is planned again, same number.
    let out = apply(&db, &demand(&w, 3, dec!(4), dec!(1)));
    assert_eq!(out.work_orders, vec![(wo, Change::Planned)]);
    let again = work_orders::get(&db, wo).unwrap().record;
    assert_eq!(
        (again.number.as_str(), again.quantity),
        ("WO-2026-00001", dec!(4))
    );
    assert_eq!(position(&db, &w), (dec!(4), dec!(4)));
    // Closed: the version is recorded, the work stays.
    let mut closed = demand(&w, 4, dec!(4), dec!(1));
    closed.state = DemandState::Closed;
    let out = apply(&db, &closed);
    assert!(out.applied && out.work_orders.is_empty());
    assert_eq!(
        reconcile::applied_version(&db, closed.order_id).unwrap(),
        Some(4)
    );
    assert_eq!(
        work_orders::get(&db, wo).unwrap().record.status,
        WorkStatus::Planned
    );
}

#[test]
fn a_missing_work_centre_fails_the_whole_reconciliation() {
    let db = db();
    let w = world(&db);
    let mut d = demand(&w, 1, dec!(2), dec!(1));
    if let Some(m) = d.lines[0].manufacture.as_mut() {
        m.work_center_id = WorkCenterId::new();
    }
    let err = db
        .transaction(|db| reconcile::apply(db, &d, EventId::new(), at(2)))
        .unwrap_err();
    assert!(matches!(
        err,
        sales_store::StoreError::MissingReference {
            field: "work_center_id",
            ..
        }
    ));
    // Nothing of it stayed.
    assert!(work_orders::for_order(&db, d.order_id).unwrap().is_empty());
    assert_eq!(reconcile::applied_version(&db, d.order_id).unwrap(), None);
    assert!(stock::position(&db, w.made, w.warehouse)
        .unwrap()
        .is_none_or(|p| p.incoming.is_zero()));
}

#[test]
fn a_notification_is_written_once_per_recipient_and_key() {
    let db = db();
    let (ann, bob) = (PrincipalId::new(), PrincipalId::new());
    let n = |who: PrincipalId| NewNotification {
        recipient: who,
        kind: "approval_requested".into(),
        subject_kind: "approval_request".into(),
        subject_id: "r1".into(),
        message: "SO-2026-00001 waits for your approval".into(),
        dedupe_key: "event-1".into(),
    };
    assert!(notifications::notify(&db, &n(ann), at(2)).unwrap());
    assert!(!notifications::notify(&db, &n(ann), at(3)).unwrap());
    assert!(notifications::notify(&db, &n(bob), at(2)).unwrap());
    let (mine, next) = notifications::list_for(&db, ann, &Page::first(10)).unwrap();
    assert_eq!(mine.len(), 1);
    assert!(next.is_none());
    assert_eq!(mine[0].message, "SO-2026-00001 waits for your approval");
}
