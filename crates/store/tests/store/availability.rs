//! Availability tables: warehouses, stock adjustments, receipts, holds,
//! the loader, and race-free reserving on several connections.

use std::sync::{Arc, Barrier};
use std::thread;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sales_domain::availability::{
    plan_reservations, promise, AllocationStrategy, NewWarehouse, OrderPromise, PlannedReservation,
    PromiseContext, PromiseLine, PromiseRequest, PromiseRequestSpec, ReservationStatus, ShipPolicy,
    Warehouse,
};
use sales_domain::catalog::ProductKind;
use sales_domain::ids::{
    LineId, OrderId, ProductId, ReceiptId, ReservationId, StockAdjustmentId, WarehouseId,
};
use sales_store::availability::receipts::{self, Receipt};
use sales_store::availability::reservations::{self, Hold};
use sales_store::availability::stock::{self, Change, NewAdjustment};
use sales_store::availability::{load, warehouses};
use sales_store::db::Db;
use sales_store::migrate;
use sales_store::rusqlite_db::{Counted, RusqliteDb};
use sales_store::{StoreError, Upserted};

use crate::common::{at, db, planned_where};
use crate::fixtures;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

fn warehouse(db: &impl Db, code: &str) -> WarehouseId {
    let w = Warehouse::new(
        WarehouseId::new(),
        NewWarehouse {
            code: code.into(),
            name: format!("{code} warehouse"),
        },
    )
    .unwrap();
    warehouses::create(db, &w, at(1)).unwrap().record.id()
}

fn set_on_hand(db: &impl Db, p: ProductId, w: WarehouseId, q: Decimal) {
    stock::adjust(
        db,
        &NewAdjustment {
            id: StockAdjustmentId::new(),
            product: p,
            warehouse: w,
            change: Change::Count(q),
            reason: "count".into(),
            external: None,
        },
        at(1),
    )
    .unwrap();
}

/// The promise and hold for `quantity` of `p` from `w`, ship complete.
fn hold_for(db: &impl Db, p: ProductId, w: WarehouseId, quantity: Decimal) -> Hold {
    try_hold_for(db, p, w, quantity).expect("the picture promises the quantity")
}

/// `None` when the picture read cannot promise the quantity.
fn try_hold_for(db: &impl Db, p: ProductId, w: WarehouseId, quantity: Decimal) -> Option<Hold> {
    let spec = load::promise_context(db, &[p], &[w]).unwrap();
    let ctx = PromiseContext::new(spec).unwrap();
    let request = PromiseRequest::new(PromiseRequestSpec {
        today: today(),
        warehouses: vec![w],
        strategy: AllocationStrategy::Priority,
        ship_policy: ShipPolicy::ShipComplete,
        lines: vec![PromiseLine {
            line_id: LineId::new(),
            product: p,
            kind: ProductKind::Stocked,
            quantity,
            requested_date: None,
        }],
    })
    .unwrap();
    let promised: OrderPromise = promise(&ctx, &request);
    let plan = plan_reservations(OrderId::new(), &promised, None).ok()?;
    Some(Hold {
        id: ReservationId::new(),
        document: "SO-1".into(),
        status: ReservationStatus::Held,
        valid_until: None,
        rows: plan.rows,
        promise: sales_store::orders::StoredPromise::new(promised).unwrap(),
    })
}

#[test]
fn warehouse_codes_are_unique() {
    let db = db();
    warehouse(&db, "CENTRAL");
    let dup = Warehouse::new(
        WarehouseId::new(),
        NewWarehouse {
            code: "CENTRAL".into(),
            name: "Again".into(),
        },
    )
    .unwrap();
    assert!(matches!(
        warehouses::create(&db, &dup, at(1)),
        Err(StoreError::Duplicate { field: "code", .. })
    ));
    assert!(warehouses::find_by_code(&db, "CENTRAL").unwrap().is_some());
}

#[test]
fn adjustments_move_on_hand_and_an_external_reference_is_written_once() {
    let db = db();
    let (p, w) = (ProductId::new(), warehouse(&db, "A"));
    let new = |change, ext: &str| NewAdjustment {
        id: StockAdjustmentId::new(),
        product: p,
        warehouse: w,
        change,
        reason: "sync".into(),
        external: Some(("erp".into(), ext.into())),
    };
    let (a, how) = stock::adjust(&db, &new(Change::Count(dec!(40)), "1"), at(1)).unwrap();
    assert_eq!((a.delta, how), (dec!(40), Upserted::Created));
    let (again, how) = stock::adjust(&db, &new(Change::Count(dec!(40)), "1"), at(2)).unwrap();
    assert_eq!((again.id, how), (a.id, Upserted::Unchanged));
    stock::adjust(&db, &new(Change::Delta(dec!(-2.5)), "2"), at(2)).unwrap();
    let pos = stock::position(&db, p, w).unwrap().unwrap();
    assert_eq!(pos.on_hand, dec!(37.5));
    let below = stock::adjust(&db, &new(Change::Delta(dec!(-100)), "3"), at(2));
    assert!(matches!(below, Err(StoreError::InsufficientStock { .. })));
    assert_eq!(
        stock::position(&db, p, w).unwrap().unwrap().on_hand,
        dec!(37.5)
    );
}

#[test]
fn receipts_count_as_incoming_until_cancelled_and_the_loader_reads_them() {
    let db = db();
    let (p, w) = (ProductId::new(), warehouse(&db, "A"));
    set_on_hand(&db, p, w, dec!(5));
    let r = Receipt {
        id: ReceiptId::new(),
        product: p,
        warehouse: w,
        quantity: dec!(10),
        due_on: NaiveDate::from_ymd_opt(2026, 3, 9).unwrap(),
        reference: Some("PO-1".into()),
        active: true,
    };
    receipts::create(&db, &r, at(1)).unwrap();
    assert_eq!(
        stock::position(&db, p, w).unwrap().unwrap().incoming,
        dec!(10)
    );
    let spec = load::promise_context(&db, &[p], &[w]).unwrap();
    assert_eq!(spec.stock.positions.len(), 1);
    assert_eq!(spec.stock.positions[0].receipts[0].quantity, dec!(10));
    receipts::deactivate(&db, r.id, at(2)).unwrap();
    assert_eq!(
        stock::position(&db, p, w).unwrap().unwrap().incoming,
        dec!(0)
    );
    assert!(load::promise_context(&db, &[p], &[w])
        .unwrap()
        .stock
        .positions[0]
        .receipts
        .is_empty());
}

#[test]
fn a_hold_is_released_consumed_or_expired_once() {
    let db = db();
    let (p, w) = (ProductId::new(), warehouse(&db, "A"));
    set_on_hand(&db, p, w, dec!(10));
    let h = reservations::reserve(&db, &hold_for(&db, p, w, dec!(4)), at(2)).unwrap();
    assert_eq!(
        stock::position(&db, p, w).unwrap().unwrap().reserved,
        dec!(4)
    );
    reservations::consume(&db, h.record.id, at(3)).unwrap();
    let pos = stock::position(&db, p, w).unwrap().unwrap();
    assert_eq!((pos.on_hand, pos.reserved), (dec!(6), dec!(0)));
    assert!(matches!(
        reservations::release(&db, h.record.id, at(3)),
        Err(StoreError::InvalidState { .. })
    ));

    let mut short = hold_for(&db, p, w, dec!(6));
    short.valid_until = Some(today());
    let short = reservations::reserve(&db, &short, at(3)).unwrap();
    assert_eq!(
        reservations::expire_due(&db, today(), at(3)).unwrap(),
        0,
        "valid through its last day"
    );
    let next = today().succ_opt().unwrap();
    assert_eq!(reservations::expire_due(&db, next, at(4)).unwrap(), 1);
    let expired = reservations::get(&db, short.record.id).unwrap();
    assert_eq!(expired.record.status, ReservationStatus::Expired);
    assert_eq!(
        stock::position(&db, p, w).unwrap().unwrap().reserved,
        dec!(0)
    );
}

#[test]
fn a_hold_that_no_longer_fits_writes_nothing() {
    let db = db();
    let (p, w) = (ProductId::new(), warehouse(&db, "A"));
    set_on_hand(&db, p, w, dec!(3));
    // Planned on a picture with 3 free; another hold takes 2 first.
    let late = hold_for(&db, p, w, dec!(3));
    reservations::reserve(&db, &hold_for(&db, p, w, dec!(2)), at(2)).unwrap();
    let err = reservations::reserve(&db, &late, at(2)).unwrap_err();
    assert!(
        matches!(&err, StoreError::InsufficientStock { field, available, .. }
            if field == "lines[0].quantity" && available == "1"),
        "{err:?}"
    );
    assert!(matches!(
        reservations::get(&db, late.id),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        stock::position(&db, p, w).unwrap().unwrap().reserved,
        dec!(2)
    );
}

/// Issue 5: two orders competing for the last units never both get them.
#[test]
fn parallel_reservations_on_separate_connections_never_oversell() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.db");
    let setup = RusqliteDb::open(&path).unwrap();
    migrate(&setup).unwrap();
    let (p, w) = (ProductId::new(), warehouse(&setup, "A"));
    set_on_hand(&setup, p, w, dec!(10));

    let threads = 6;
    let per_thread = 5;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let path = path.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                let db = RusqliteDb::open(&path).unwrap();
                barrier.wait();
                let mut won = 0;
                for _ in 0..per_thread {
                    // Every attempt plans on a picture read outside the
                    // write lock, as a check followed by a reserve would.
                    let Some(hold) = try_hold_for(&db, p, w, dec!(1)) else {
                        continue;
                    };
                    match db.transaction(|db| reservations::reserve(db, &hold, at(2))) {
                        Ok(_) => won += 1,
                        Err(StoreError::InsufficientStock { .. }) => {}
                        Err(e) => panic!("unexpected: {e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();

    assert_eq!(won, 10, "exactly the 10 units on hand are reserved");
    let pos = stock::position(&setup, p, w).unwrap().unwrap();
    assert_eq!(pos.reserved, dec!(10));
    let rows = setup
        .execute(
            "SELECT COALESCE(SUM(quantity_milli), 0) AS n FROM reservation_lines",
            &[],
        )
        .unwrap();
    assert_eq!(rows.first().unwrap().int("n").unwrap(), 10_000);
}

#[test]
fn the_loader_reads_the_work_centre_and_role_of_the_products_asked_about() {
    use sales_domain::availability::{CalendarId, Weekday, WorkCenterId};
    use sales_store::availability::capacity::{self, WorkCenter};
    let db = db();
    let christmas = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
    let cal = fixtures::calendar("Plant", &Weekday::WEEKDAYS, &[christmas]);
    capacity::create(&db, &cal, at(1)).unwrap();
    let (made, other, service) = (ProductId::new(), ProductId::new(), ProductId::new());
    let center = fixtures::assembly(cal.id, &[(made, dec!(2), 3), (other, dec!(1), 0)]);
    capacity::create(&db, &center, at(1)).unwrap();
    let role = fixtures::installer(cal.id, service);
    capacity::create(&db, &role, at(1)).unwrap();

    let spec = load::promise_context(&db, &[made, service], &[]).unwrap();
    assert_eq!(spec.work_centers.len(), 1);
    assert_eq!(spec.routings.len(), 1, "only the routing asked about");
    assert_eq!(spec.routings[0].material_lead_days, 3);
    assert_eq!(spec.roles.len(), 1);
    assert_eq!(spec.services[0].product, service);
    assert_eq!(spec.work_centers[0].calendar.holidays.len(), 1);
    assert!(PromiseContext::new(spec).is_ok());

    // A product has one maker.
    let rival = WorkCenter {
        id: WorkCenterId::new(),
        routings: center.routings[..1].to_vec(),
        ..center.clone()
    };
    assert!(matches!(
        capacity::create(&db, &rival, at(2)),
        Err(StoreError::Duplicate {
            field: "routings",
            ..
        })
    ));
    // A missing calendar is a missing reference.
    let orphan = WorkCenter {
        id: WorkCenterId::new(),
        calendar_id: CalendarId::new(),
        routings: Vec::new(),
        ..center
    };
    assert!(matches!(
        capacity::create(&db, &orphan, at(2)),
        Err(StoreError::MissingReference {
            field: "calendar_id",
            ..
        })
    ));
}

#[test]
fn a_hold_on_a_receipt_that_has_not_arrived_cannot_be_consumed() {
    let db = db();
    let (p, w) = (ProductId::new(), warehouse(&db, "A"));
    set_on_hand(&db, p, w, dec!(1));
    receipts::create(
        &db,
        &Receipt {
            id: ReceiptId::new(),
            product: p,
            warehouse: w,
            quantity: dec!(5),
            due_on: NaiveDate::from_ymd_opt(2026, 3, 20).unwrap(),
            reference: None,
            active: true,
        },
        at(1),
    )
    .unwrap();
    let h = reservations::reserve(&db, &hold_for(&db, p, w, dec!(4)), at(2)).unwrap();
    assert!(matches!(
        reservations::consume(&db, h.record.id, at(3)),
        Err(StoreError::InsufficientStock { .. })
    ));
    let pos = stock::position(&db, p, w).unwrap().unwrap();
    assert_eq!((pos.on_hand, pos.reserved), (dec!(1), dec!(4)));
    assert_eq!(
        reservations::get(&db, h.record.id).unwrap().record.status,
        ReservationStatus::Held
    );
}

/// Issue 7's submission benchmark: a check's cost grew with every open
/// order's reservation rows. The loader sums them per date and expiry,
/// which is the same picture for the engine.
#[test]
fn the_loader_sums_held_reservations_per_date_and_the_promise_is_unchanged() {
    let db = db();
    let (p, w) = (ProductId::new(), warehouse(&db, "A"));
    set_on_hand(&db, p, w, dec!(100));
    for q in [dec!(3), dec!(4), dec!(5)] {
        reservations::reserve(&db, &hold_for(&db, p, w, q), at(2)).unwrap();
    }
    let spec = load::promise_context(&db, &[p], &[w]).unwrap();
    let held = &spec.stock.positions[0].reservations;
    assert_eq!(held.len(), 1, "one row per date and expiry: {held:?}");
    assert_eq!(held[0].quantity, dec!(12));
    // What is left to promise is on hand minus all three holds.
    assert!(try_hold_for(&db, p, w, dec!(88)).is_some());
    assert!(try_hold_for(&db, p, w, dec!(89)).is_none());
}

/// `reservation_totals` as it is stored, and as the ledger says it should
/// be: the held holds' rows summed per position, date and last day.
fn totals_and_ledger(db: &impl Db) -> (Vec<String>, Vec<String>) {
    let render = |sql: &str| -> Vec<String> {
        db.execute(sql, &[])
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {:?} {}",
                    r.text("product_id").unwrap(),
                    r.text("warehouse_id").unwrap(),
                    r.text("needed_on").unwrap(),
                    r.text("valid_until").unwrap(),
                    r.int("quantity_milli").unwrap()
                )
            })
            .collect()
    };
    (
        render(
            "SELECT product_id, warehouse_id, needed_on, valid_until, quantity_milli
             FROM reservation_totals ORDER BY 1, 2, 3, 4",
        ),
        render(
            "SELECT l.product_id, l.warehouse_id, l.needed_on,
                    COALESCE(h.valid_until, '') AS valid_until,
                    SUM(l.quantity_milli) AS quantity_milli
             FROM reservation_lines l JOIN reservations h ON h.id = l.reservation_id
             WHERE h.status = 'held'
             GROUP BY 1, 2, 3, 4 HAVING SUM(l.quantity_milli) <> 0 ORDER BY 1, 2, 3, 4",
        ),
    )
}

fn assert_totals_match_ledger(db: &impl Db, step: &str) {
    let (totals, ledger) = totals_and_ledger(db);
    assert_eq!(totals, ledger, "after {step}");
}

/// A hold of `rows` (product, warehouse, quantity, days after today).
fn hold_of(
    db: &impl Db,
    rows: &[(ProductId, WarehouseId, Decimal, u64)],
    valid_until: Option<NaiveDate>,
) -> Hold {
    let (p, w, _, _) = rows[0];
    let mut hold = hold_for(db, p, w, dec!(1));
    let line = hold.rows[0].line_id;
    hold.valid_until = valid_until;
    hold.rows = rows
        .iter()
        .map(|&(product, warehouse, quantity, days)| PlannedReservation {
            line_id: line,
            product,
            warehouse,
            quantity,
            needed_on: today() + chrono::Days::new(days),
            valid_until,
        })
        .collect();
    hold
}

/// Issue 7: the check reads `reservation_totals` instead of summing the
/// ledger, so every way a hold starts or stops being held must move the
/// totals exactly as the ledger moves — compared after each step.
#[test]
fn reservation_totals_always_equal_the_ledger_summed() {
    let db = db();
    let (a, b) = (warehouse(&db, "A"), warehouse(&db, "B"));
    let (p, q) = (ProductId::new(), ProductId::new());
    for (product, w) in [(p, a), (p, b), (q, a), (q, b)] {
        set_on_hand(&db, product, w, dec!(100));
    }
    let last_day = Some(today());
    let first = reservations::reserve(
        &db,
        &hold_of(
            &db,
            &[(p, a, dec!(2), 0), (p, a, dec!(3), 0), (q, b, dec!(1.5), 4)],
            None,
        ),
        at(2),
    )
    .unwrap();
    assert_eq!(
        stock::position(&db, p, a).unwrap().unwrap().reserved,
        dec!(5),
        "two rows of one position add up"
    );
    assert_totals_match_ledger(&db, "a hold of three rows");
    let second = reservations::reserve(
        &db,
        &hold_of(&db, &[(p, a, dec!(4), 0), (q, a, dec!(7), 1)], None),
        at(2),
    )
    .unwrap();
    let short = reservations::reserve(
        &db,
        &hold_of(&db, &[(q, b, dec!(10), 0), (p, b, dec!(6), 2)], last_day),
        at(2),
    )
    .unwrap();
    let consumed = reservations::reserve(
        &db,
        &hold_of(&db, &[(p, b, dec!(1), 0), (q, a, dec!(2), 1)], last_day),
        at(2),
    )
    .unwrap();
    assert_totals_match_ledger(&db, "four holds, with and without a last day");
    let (totals, _) = totals_and_ledger(&db);
    assert!(
        totals.len() < 8,
        "rows of one position, date and last day share a total: {totals:?}"
    );

    // Refused: the second row's position is short. Nothing moves.
    let err = reservations::reserve(
        &db,
        &hold_of(&db, &[(p, a, dec!(1), 0), (q, a, dec!(95), 3)], None),
        at(2),
    )
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::InsufficientStock { available, .. } if available == "91"),
        "{err:?}"
    );
    assert_totals_match_ledger(&db, "a refused hold");
    assert_eq!(
        stock::position(&db, p, a).unwrap().unwrap().reserved,
        dec!(9)
    );

    reservations::release(&db, first.record.id, at(3)).unwrap();
    assert_totals_match_ledger(&db, "a release");
    reservations::consume(&db, consumed.record.id, at(3)).unwrap();
    assert_totals_match_ledger(&db, "a consumption");
    let next = today().succ_opt().unwrap();
    assert_eq!(reservations::expire_due(&db, next, at(4)).unwrap(), 1);
    assert_eq!(
        reservations::get(&db, short.record.id)
            .unwrap()
            .record
            .status,
        ReservationStatus::Expired
    );
    assert_totals_match_ledger(&db, "an expiry");
    reservations::release(&db, second.record.id, at(4)).unwrap();
    assert_totals_match_ledger(&db, "the last release");
    let (totals, _) = totals_and_ledger(&db);
    assert!(totals.is_empty(), "nothing held, no totals: {totals:?}");
    for (product, w) in [(p, a), (p, b), (q, a), (q, b)] {
        assert_eq!(
            stock::position(&db, product, w).unwrap().unwrap().reserved,
            dec!(0)
        );
    }
}

/// What `reserve` answers is what `get` reads back.
#[test]
fn a_reserved_hold_is_answered_as_stored() {
    let db = db();
    let (p, w) = (ProductId::new(), warehouse(&db, "A"));
    set_on_hand(&db, p, w, dec!(10));
    let hold = hold_of(
        &db,
        &[(p, w, dec!(1.25), 0), (p, w, dec!(2), 1)],
        Some(today()),
    );
    let answered = reservations::reserve(&db, &hold, at(2)).unwrap();
    assert_eq!(answered, reservations::get(&db, hold.id).unwrap());
}

/// The migration fills the totals from holds written before it.
#[test]
fn migration_14_fills_the_totals_from_the_ledger() {
    let db = RusqliteDb::open_in_memory().unwrap();
    migrate::migrate_to(&db, &migrate::MIGRATIONS[..13]).unwrap();
    let (p, w) = (ProductId::new(), warehouse(&db, "A"));
    set_on_hand(&db, p, w, dec!(10));
    for (id, status, until, q) in [
        ("r1", "held", None, 2000),
        ("r2", "held", None, 3000),
        ("r3", "held", Some("2026-03-09"), 1000),
        ("r4", "released", None, 4000),
    ] {
        db.execute(
            "INSERT INTO reservations (id, document, status, valid_until, promise, created_at, updated_at)
             VALUES (?, 'SO-1', ?, ?, '{}', 't', 't')",
            &[id.into(), status.into(), until.map(str::to_owned).into()],
        )
        .unwrap();
        db.execute(
            "INSERT INTO reservation_lines
             (reservation_id, seq, line_id, product_id, warehouse_id, quantity_milli, needed_on)
             VALUES (?, 0, 'l', ?, ?, ?, '2026-03-02')",
            &[
                id.into(),
                p.to_string().into(),
                w.to_string().into(),
                sales_store::db::Value::Integer(q),
            ],
        )
        .unwrap();
    }
    migrate::migrate(&db).unwrap();
    let (totals, ledger) = totals_and_ledger(&db);
    assert_eq!(totals, ledger);
    assert_eq!(totals.len(), 2, "{totals:?}");
    assert!(
        totals.iter().any(|t| t.ends_with("\"\" 5000")),
        "{totals:?}"
    );
}

/// Issue 5's benchmark: every statement of a check is a round trip through
/// the host. The loader reads a check's stock (positions, receipts in due
/// order, held totals) in one statement and its capacity (work centres,
/// roles, their calendars) in one — 2, however many products, owners and
/// calendars (it was 3 + 1 + one per owner and per calendar: 8 here).
#[test]
fn the_loader_reads_a_checks_stock_and_capacity_in_two_statements() {
    use chrono::Datelike;
    use sales_domain::availability::Weekday;
    use sales_store::availability::capacity;
    let db = db();
    let (p, made, service) = (ProductId::new(), ProductId::new(), ProductId::new());
    let (a, b) = (warehouse(&db, "A"), warehouse(&db, "B"));
    set_on_hand(&db, p, a, dec!(10));
    set_on_hand(&db, p, b, dec!(4));
    for (q, day) in [(dec!(7), 20), (dec!(5), 9)] {
        let r = Receipt {
            id: ReceiptId::new(),
            product: p,
            warehouse: a,
            quantity: q,
            due_on: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            reference: None,
            active: true,
        };
        receipts::create(&db, &r, at(1)).unwrap();
    }
    reservations::reserve(&db, &hold_for(&db, p, b, dec!(3)), at(2)).unwrap();
    let christmas = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
    let plant = fixtures::calendar("Plant", &Weekday::WEEKDAYS, &[christmas]);
    let office = fixtures::calendar("Office", &[Weekday::Monday], &[]);
    capacity::create(&db, &plant, at(1)).unwrap();
    capacity::create(&db, &office, at(1)).unwrap();
    let center = fixtures::assembly(plant.id, &[(made, dec!(2), 3)]);
    capacity::create(&db, &center, at(1)).unwrap();
    let role = fixtures::installer(office.id, service);
    capacity::create(&db, &role, at(1)).unwrap();

    let counted = Counted::new(&db);
    let spec = load::promise_context(&counted, &[p, made, service], &[a, b]).unwrap();
    assert_eq!(counted.statements(), 2);
    let at_a = spec
        .stock
        .positions
        .iter()
        .find(|s| s.warehouse == a)
        .unwrap();
    let at_b = spec
        .stock
        .positions
        .iter()
        .find(|s| s.warehouse == b)
        .unwrap();
    assert_eq!(spec.stock.positions.len(), 2);
    assert_eq!((at_a.on_hand, at_b.on_hand), (dec!(10), dec!(4)));
    let due: Vec<_> = at_a
        .receipts
        .iter()
        .map(|r| (r.due_on.day(), r.quantity))
        .collect();
    assert_eq!(due, vec![(9, dec!(5)), (20, dec!(7))], "in due order");
    assert!(at_a.reservations.is_empty() && at_b.receipts.is_empty());
    assert_eq!(at_b.reservations.len(), 1);
    assert_eq!(at_b.reservations[0].quantity, dec!(3));
    assert_eq!(spec.work_centers.len(), 1);
    assert_eq!(spec.work_centers[0].calendar.holidays.len(), 1);
    assert_eq!(spec.roles.len(), 1);
    assert_eq!(spec.roles[0].calendar.working_days, vec![Weekday::Monday]);
    assert_eq!((spec.routings.len(), spec.services.len()), (1, 1));
    assert!(PromiseContext::new(spec).is_ok());
}

/// Issue 7: `reservation_lines` has no index by position (migration 20):
/// a hold's rows are read only by their hold, through the primary key, and
/// each index by position cost a 20-line hold some 30 leaf pages written.
/// Every statement that reads a hold's rows — reserving, getting,
/// releasing, expiring — searches the primary key; none scans the table.
#[test]
fn a_holds_rows_are_read_by_their_hold_alone_through_the_primary_key() {
    let db = db();
    let indexes = db
        .execute("PRAGMA index_list('reservation_lines')", &[])
        .unwrap();
    let names: Vec<&str> = indexes.iter().map(|r| r.text("name").unwrap()).collect();
    assert!(
        names.iter().all(|n| n.starts_with("sqlite_autoindex")),
        "reservation_lines keeps only its primary key: {names:?}"
    );
    let (p, q) = (ProductId::new(), ProductId::new());
    let (a, b) = (warehouse(&db, "A"), warehouse(&db, "B"));
    for (product, w) in [(p, a), (p, b), (q, a), (q, b)] {
        set_on_hand(&db, product, w, dec!(10));
    }
    // Writes included: the hold's totals are moved by `INSERT … SELECT`,
    // `UPDATE … FROM` and `DELETE … IN (SELECT …)` over its rows.
    let plans = planned_where(&db, |sql| sql.contains("FROM reservation_lines"));
    let rows = [(p, a, dec!(1), 0), (q, b, dec!(2), 1), (p, b, dec!(3), 2)];
    let first = hold_of(&db, &rows, None);
    reservations::reserve(&plans, &first, at(2)).unwrap();
    assert_eq!(
        reservations::get(&plans, first.id)
            .unwrap()
            .record
            .rows
            .len(),
        3
    );
    reservations::release(&plans, first.id, at(3)).unwrap();
    let second = hold_of(&db, &rows, Some(today()));
    reservations::reserve(&plans, &second, at(2)).unwrap();
    reservations::expire_due(&plans, today() + chrono::Days::new(1), at(4)).unwrap();
    assert_eq!(
        reservations::get(&db, second.id).unwrap().record.status,
        ReservationStatus::Expired
    );
    assert_totals_match_ledger(&db, "reserving, releasing and expiring");
    let plans = plans.into_plans();
    assert!(plans.len() >= 6, "{plans:?}");
    for (_, plan) in &plans {
        assert!(
            plan.contains("SEARCH reservation_lines USING PRIMARY KEY (reservation_id=?)")
                && !plan.contains("SCAN reservation_lines"),
            "{plan}"
        );
    }
}

/// Migration 20 drops the index by position from a database that has
/// holds: they read back, release and keep the totals as before.
#[test]
fn migration_20_keeps_the_holds_written_before_it() {
    let db = RusqliteDb::open_in_memory().unwrap();
    migrate::migrate_to(&db, &migrate::MIGRATIONS[..19]).unwrap();
    let (p, q) = (ProductId::new(), ProductId::new());
    let w = warehouse(&db, "A");
    set_on_hand(&db, p, w, dec!(10));
    set_on_hand(&db, q, w, dec!(10));
    let kept = hold_of(&db, &[(p, w, dec!(1), 0), (q, w, dec!(2), 0)], None);
    let released = hold_of(&db, &[(p, w, dec!(4), 0)], None);
    let before = reservations::reserve(&db, &kept, at(2)).unwrap();
    reservations::reserve(&db, &released, at(2)).unwrap();
    migrate::migrate(&db).unwrap();
    let index = db
        .execute(
            "SELECT name FROM sqlite_schema WHERE name = 'reservation_lines_position'",
            &[],
        )
        .unwrap();
    assert!(index.is_empty(), "the index is gone");
    assert_eq!(reservations::get(&db, kept.id).unwrap(), before);
    reservations::release(&db, released.id, at(3)).unwrap();
    assert_totals_match_ledger(&db, "a release after the migration");
    assert_eq!(
        stock::position(&db, p, w).unwrap().unwrap().reserved,
        dec!(1)
    );
    assert_eq!(
        stock::position(&db, q, w).unwrap().unwrap().reserved,
        dec!(2)
    );
}
