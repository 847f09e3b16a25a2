//! Sales orders: drafts and numbers, lists, optimistic edits, the
//! submission's conditional reserve, the jobs component's confirm /
//! return-to-draft, shipments (once per outside id) and cancellation.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sales_domain::availability::{
    plan_reservations, promise, AllocationStrategy, NewWarehouse, PromiseContext, PromiseLine,
    PromiseRequest, PromiseRequestSpec, ReservationStatus, ShipPolicy, Warehouse,
};
use sales_domain::downstream::DemandState;
use sales_domain::ids::{LineId, OrderId, ReservationId, StockAdjustmentId, WarehouseId};
use sales_domain::orders::{
    NewOrder, NewOrderLine, OrderError, OrderPatch, OrderStatus, Shipment, ShipmentLine,
};
use sales_store::availability::reservations::Hold;
use sales_store::availability::stock::{self, Change, NewAdjustment};
use sales_store::availability::{load, warehouses};
use sales_store::db::Db;
use sales_store::orders::{
    self, change_status, confirm_approved, record_shipment, record_submission, return_to_draft,
    FlowError, OrderFilter, OrderRecord, ShipmentSource, StatusAction, Submission,
};
use sales_store::page::Versioned;
use sales_store::{outbox, Page, StoreError, Value};

use crate::common::{at, db};
use crate::fixtures;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

struct World {
    customer: sales_domain::ids::CustomerId,
    channel: sales_domain::ids::ChannelId,
    product: sales_domain::catalog::Product,
    warehouse: WarehouseId,
}

fn world(db: &impl Db, on_hand: Decimal) -> World {
    world_in(db, on_hand, fixtures::channel("B2B"))
}

/// A point-of-sale channel: orders are handed over at the counter.
fn counter() -> sales_domain::catalog::Channel {
    let mut new = fixtures::channel("POS").to_new();
    new.fulfil_on_order = true;
    new.paid_on_order = true;
    new.quotation_required = false;
    sales_domain::catalog::Channel::create(sales_domain::ids::ChannelId::new(), new).unwrap()
}

fn world_in(db: &impl Db, on_hand: Decimal, channel: sales_domain::catalog::Channel) -> World {
    let c = sales_store::customers::create(db, &fixtures::customer("Acme"), at(1)).unwrap();
    let ch = sales_store::channels::create(db, &channel, at(1)).unwrap();
    let p = sales_store::products::create(db, &fixtures::product("W-1"), at(1)).unwrap();
    let w = Warehouse::new(
        WarehouseId::new(),
        NewWarehouse {
            code: "MAIN".into(),
            name: "Main".into(),
        },
    )
    .unwrap();
    let w = warehouses::create(db, &w, at(1)).unwrap().record.id();
    stock::adjust(
        db,
        &NewAdjustment {
            id: StockAdjustmentId::new(),
            product: p.record.id(),
            warehouse: w,
            change: Change::Count(on_hand),
            reason: "count".into(),
            external: None,
        },
        at(1),
    )
    .unwrap();
    World {
        customer: c.record.id(),
        channel: ch.record.id(),
        product: p.record,
        warehouse: w,
    }
}

fn new_order(w: &World, quantity: Decimal) -> NewOrder {
    NewOrder {
        customer_id: w.customer,
        channel_id: w.channel,
        currency: sales_domain::money::Currency::EUR,
        payment_terms: None,
        requested_date: None,
        customer_reference: Some("PO-1".into()),
        quotation_id: None,
        lines: vec![NewOrderLine {
            id: LineId::new(),
            product_id: w.product.id(),
            quantity,
            uom: None,
            requested_date: None,
            kept_rate: None,
            quotation_line_id: None,
        }],
    }
}

fn draft(db: &impl Db, w: &World, quantity: Decimal) -> Versioned<OrderRecord> {
    orders::create_draft(db, OrderId::new(), new_order(w, quantity), today(), at(2)).unwrap()
}

/// Promises the order's lines on the current stock and submits it with
/// the hold that promise implies (confirmed unless `approval`).
fn submit(
    db: &impl Db,
    w: &World,
    rec: &Versioned<OrderRecord>,
    approval: bool,
) -> Result<Versioned<OrderRecord>, FlowError> {
    let order = &rec.record.order;
    let spec = load::promise_context(db, &[w.product.id()], &[w.warehouse]).unwrap();
    let ctx = PromiseContext::new(spec).unwrap();
    let request = PromiseRequest::new(PromiseRequestSpec {
        today: today(),
        warehouses: vec![w.warehouse],
        strategy: AllocationStrategy::Priority,
        ship_policy: ShipPolicy::ShipAsAvailable,
        lines: order
            .lines()
            .iter()
            .map(|l| PromiseLine {
                line_id: l.id,
                product: l.product_id,
                kind: l.product_kind,
                quantity: l.quantity,
                requested_date: None,
            })
            .collect(),
    })
    .unwrap();
    let promised = promise(&ctx, &request);
    let plan = plan_reservations(order.id(), &promised, None).unwrap();
    let promised = orders::StoredPromise::new(promised).unwrap();
    let status = order.status().submit(approval).unwrap();
    let submitted = order.with_status(status, None);
    record_submission(
        db,
        Submission {
            order: submitted,
            expected_version: rec.version,
            new_revision: false,
            waterfall: Some(orders::RawJson::to_raw(&serde_json::json!({"totals": {}})).unwrap()),
            promise: Some(promised.clone()),
            hold: Some(Hold {
                id: ReservationId::new(),
                document: order.number().to_owned(),
                status: ReservationStatus::Held,
                valid_until: None,
                rows: plan.rows,
                promise: promised,
            }),
            release_first: false,
        },
        at(3),
    )
}

fn reserved(db: &impl Db, w: &World) -> Decimal {
    stock::position(db, w.product.id(), w.warehouse)
        .unwrap()
        .unwrap()
        .reserved
}

fn events(db: &impl Db, topic: &str) -> Vec<serde_json::Value> {
    let rows = db
        .execute(
            "SELECT id FROM outbox WHERE topic = ? ORDER BY id",
            &[Value::from(topic)],
        )
        .unwrap();
    rows.iter()
        .map(|r| {
            let id = r.text("id").unwrap().parse().unwrap();
            outbox::get(db, id).unwrap().payload
        })
        .collect()
}

#[test]
fn drafts_get_consecutive_numbers_and_come_back_whole() {
    let db = db();
    let w = world(&db, dec!(10));
    let a = draft(&db, &w, dec!(2.5));
    let b = draft(&db, &w, dec!(1));
    assert_eq!(a.record.order.number(), "SO-2026-00001");
    assert_eq!(b.record.order.number(), "SO-2026-00002");
    assert_eq!((a.version, a.record.revision), (1, 1));
    let back = orders::get(&db, a.record.order.id()).unwrap();
    assert_eq!(back.record.order, a.record.order);
    assert_eq!(back.record.order.lines()[0].quantity, dec!(2.5));
    assert_eq!(
        orders::get_by_number(&db, "SO-2026-00002")
            .unwrap()
            .record
            .order
            .id(),
        b.record.order.id()
    );
}

#[test]
fn a_refused_draft_writes_nothing_and_takes_no_number() {
    let db = db();
    let w = world(&db, dec!(10));
    let refused = orders::create_draft(&db, OrderId::new(), new_order(&w, dec!(0)), today(), at(2));
    assert!(
        matches!(refused, Err(FlowError::Order(OrderError::Invalid(ref v))) if v.field == "lines[0].quantity")
    );
    assert_eq!(orders::count(&db).unwrap(), 0);
    assert_eq!(
        draft(&db, &w, dec!(1)).record.order.number(),
        "SO-2026-00001"
    );
}

#[test]
fn lists_filter_by_status_customer_and_date_and_page_by_id() {
    let db = db();
    let w = world(&db, dec!(100));
    let ids: Vec<_> = (0..3).map(|_| draft(&db, &w, dec!(1))).collect();
    submit(&db, &w, &ids[0], false).unwrap();
    let confirmed = OrderFilter {
        status: Some(OrderStatus::Confirmed),
        ..OrderFilter::default()
    };
    let (items, _) = orders::list(&db, &confirmed, &Page::first(10)).unwrap();
    assert_eq!(items.len(), 1);
    let (page1, next) = orders::list(&db, &OrderFilter::default(), &Page::first(2)).unwrap();
    assert_eq!(page1.len(), 2);
    let (page2, last) =
        orders::list(&db, &OrderFilter::default(), &Page::after(2, next.unwrap())).unwrap();
    assert_eq!((page2.len(), last), (1, None));
    let later = OrderFilter {
        from: Some(today().succ_opt().unwrap()),
        customer_id: Some(w.customer),
        ..OrderFilter::default()
    };
    assert!(orders::list(&db, &later, &Page::first(10))
        .unwrap()
        .0
        .is_empty());
}

#[test]
fn a_draft_edit_needs_the_current_version_and_bumps_the_revision() {
    let db = db();
    let w = world(&db, dec!(10));
    let d = draft(&db, &w, dec!(1));
    let patch = OrderPatch {
        customer_reference: Some(Some("PO-2".into())),
        ..OrderPatch::default()
    };
    let edited = orders::update_draft(&db, d.record.order.id(), patch.clone(), 1, at(3)).unwrap();
    assert_eq!((edited.version, edited.record.revision), (2, 2));
    assert!(matches!(
        orders::update_draft(&db, d.record.order.id(), patch, 1, at(3)),
        Err(FlowError::Store(StoreError::VersionConflict { .. }))
    ));
}

#[test]
fn a_submission_reserves_and_a_line_that_no_longer_fits_writes_nothing() {
    let db = db();
    let w = world(&db, dec!(5));
    let first = draft(&db, &w, dec!(5));
    let second = draft(&db, &w, dec!(5));
    // Both promised on the same picture; the second re-check fails.
    let ok = submit(&db, &w, &first, false).unwrap();
    assert_eq!(ok.record.order.status(), OrderStatus::Confirmed);
    assert_eq!(ok.record.order.lines()[0].reserved_quantity, dec!(5));
    assert_eq!(reserved(&db, &w), dec!(5));
    // A stale picture: plan against 5 free although 0 are.
    let order = &second.record.order;
    let hold = Hold {
        id: ReservationId::new(),
        document: order.number().into(),
        status: ReservationStatus::Held,
        valid_until: None,
        rows: vec![sales_domain::availability::PlannedReservation {
            line_id: order.lines()[0].id,
            product: w.product.id(),
            warehouse: w.warehouse,
            quantity: dec!(5),
            needed_on: today(),
            valid_until: None,
        }],
        promise: ok.record.promise.clone().unwrap(),
    };
    let refused = record_submission(
        &db,
        Submission {
            order: order.with_status(OrderStatus::Confirmed, None),
            expected_version: second.version,
            new_revision: false,
            waterfall: None,
            promise: None,
            hold: Some(hold),
            release_first: false,
        },
        at(3),
    );
    assert!(matches!(
        refused,
        Err(FlowError::Store(StoreError::InsufficientStock { .. }))
    ));
    let after = orders::get(&db, order.id()).unwrap();
    assert_eq!(after.record.order.status(), OrderStatus::Draft);
    assert_eq!(after.version, second.version);
    assert_eq!(reserved(&db, &w), dec!(5));
}

#[test]
fn an_approved_order_is_confirmed_once_with_its_demand_and_a_rejected_one_releases_its_stock() {
    let db = db();
    let w = world(&db, dec!(10));
    let a = submit(&db, &w, &draft(&db, &w, dec!(3)), true).unwrap();
    assert_eq!(a.record.order.status(), OrderStatus::PendingApproval);
    let id = a.record.order.id();
    assert!(confirm_approved(&db, id, a.record.revision + 1, at(4)).is_err());
    let confirmed = confirm_approved(&db, id, a.record.revision, at(4)).unwrap();
    assert_eq!(confirmed.record.order.status(), OrderStatus::Confirmed);
    assert!(matches!(
        confirm_approved(&db, id, a.record.revision, at(4)),
        Err(FlowError::Order(OrderError::Transition(_)))
    ));
    let sent = events(&db, "order.confirmed");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["demand"]["state"], "active");
    assert_eq!(sent[0]["demand"]["version"], confirmed.version);

    let b = submit(&db, &w, &draft(&db, &w, dec!(4)), true).unwrap();
    assert_eq!(reserved(&db, &w), dec!(7));
    let back = return_to_draft(&db, b.record.order.id(), "too cheap", at(4)).unwrap();
    assert_eq!(back.record.order.status(), OrderStatus::Draft);
    assert_eq!(back.record.order.lines()[0].reserved_quantity, dec!(0));
    assert_eq!(reserved(&db, &w), dec!(3));
    assert_eq!(events(&db, "order.returned_to_draft").len(), 1);
}

/// Issue #7 item 6: a point-of-sale order that needed approval is handed
/// over when it is approved, as an unapproved one is at submission.
#[test]
fn an_approved_point_of_sale_order_is_confirmed_and_fulfilled_from_what_it_held() {
    let db = db();
    let w = world_in(&db, dec!(10), counter());
    let pending = submit(&db, &w, &draft(&db, &w, dec!(3)), true).unwrap();
    assert_eq!(pending.record.order.status(), OrderStatus::PendingApproval);
    assert_eq!(reserved(&db, &w), dec!(3));

    let done = confirm_approved(
        &db,
        pending.record.order.id(),
        pending.record.revision,
        at(4),
    )
    .unwrap();
    assert_eq!(done.record.order.status(), OrderStatus::Fulfilled);
    let line = &done.record.order.lines()[0];
    assert_eq!(line.shipped_quantity, dec!(3));
    assert_eq!(line.reserved_quantity, dec!(0));
    let position = stock::position(&db, w.product.id(), w.warehouse)
        .unwrap()
        .unwrap();
    assert_eq!((position.on_hand, position.reserved), (dec!(7), dec!(0)));
    assert_eq!(events(&db, "order.confirmed").len(), 1);
    assert_eq!(events(&db, "order.fulfilled").len(), 1);
}

#[test]
fn shipments_consume_reservations_once_per_outside_id_until_fulfilled() {
    let db = db();
    let w = world(&db, dec!(10));
    let o = submit(&db, &w, &draft(&db, &w, dec!(6)), false).unwrap();
    let id = o.record.order.id();
    let line = o.record.order.lines()[0].id;
    let ship = |q| Shipment {
        lines: vec![ShipmentLine {
            line_id: line,
            quantity: q,
        }],
    };
    let src = ShipmentSource {
        external_source: "wms".into(),
        external_id: "D-1".into(),
    };
    let first = record_shipment(&db, id, &ship(dec!(4)), Some(&src), None, at(4)).unwrap();
    assert!(first.applied);
    assert_eq!(
        first.order.record.order.status(),
        OrderStatus::PartiallyFulfilled
    );
    let pos = stock::position(&db, w.product.id(), w.warehouse)
        .unwrap()
        .unwrap();
    assert_eq!((pos.on_hand, pos.reserved), (dec!(6), dec!(2)));
    let resent = record_shipment(&db, id, &ship(dec!(4)), Some(&src), None, at(4)).unwrap();
    assert!(!resent.applied);
    assert_eq!(resent.order.version, first.order.version);
    assert!(matches!(
        record_shipment(&db, id, &ship(dec!(3)), None, None, at(4)),
        Err(FlowError::Order(OrderError::OverShipped { .. }))
    ));
    let done = record_shipment(&db, id, &ship(dec!(2)), None, None, at(5)).unwrap();
    assert_eq!(done.order.record.order.status(), OrderStatus::Fulfilled);
    let pos = stock::position(&db, w.product.id(), w.warehouse)
        .unwrap()
        .unwrap();
    assert_eq!((pos.on_hand, pos.reserved), (dec!(4), dec!(0)));
    assert!(matches!(
        change_status(&db, id, StatusAction::Cancel, None, None, at(5)),
        Err(FlowError::Order(OrderError::Transition(_)))
    ));
    assert_eq!(orders::shipments(&db, id).unwrap().len(), 2);
}

#[test]
fn cancelling_releases_the_reservation_and_announces_the_cancelled_demand() {
    let db = db();
    let w = world(&db, dec!(10));
    let o = submit(&db, &w, &draft(&db, &w, dec!(6)), false).unwrap();
    let id = o.record.order.id();
    let held = change_status(&db, id, StatusAction::Hold, Some(o.version), None, at(4)).unwrap();
    assert_eq!(held.record.order.held_from(), Some(OrderStatus::Confirmed));
    assert!(change_status(&db, id, StatusAction::Hold, None, None, at(4)).is_err());
    let resumed = change_status(&db, id, StatusAction::Resume, None, None, at(4)).unwrap();
    assert_eq!(resumed.record.order.status(), OrderStatus::Confirmed);
    let cancelled = change_status(
        &db,
        id,
        StatusAction::Cancel,
        Some(resumed.version),
        Some("customer withdrew".into()),
        at(5),
    )
    .unwrap();
    assert_eq!(cancelled.record.order.status(), OrderStatus::Cancelled);
    assert_eq!(reserved(&db, &w), dec!(0));
    let sent = events(&db, "order.cancelled");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["demand"]["state"], "cancelled");
    assert_eq!(
        serde_json::from_value::<DemandState>(sent[0]["demand"]["state"].clone()).unwrap(),
        DemandState::Cancelled
    );
}

/// `save_over` (issue 7: a submission's write transaction) rewrites the
/// lines' state columns in place when the lines are the same ones, and
/// what is read back is exactly what was saved — the same as `save`'s
/// `DELETE` + `INSERT`; other lines (one removed) fall back to that.
#[test]
fn save_over_rewrites_the_same_lines_in_place_and_reads_back_whole() {
    use sales_domain::money::{Currency, Money};
    use sales_domain::orders::{LinePricing, Order};
    let db = db();
    let w = world(&db, dec!(10));
    let mut new = new_order(&w, dec!(2));
    for q in [dec!(1), dec!(3.5)] {
        new.lines.push(NewOrderLine {
            id: LineId::new(),
            quantity: q,
            ..new.lines[0].clone()
        });
    }
    let rec = orders::create_draft(&db, OrderId::new(), new, today(), at(2)).unwrap();
    let eur = |d: Decimal| Money::new(d, Currency::EUR).unwrap();
    let hold = ReservationId::new();
    let mut parts = rec.record.order.parts().clone();
    // Every line changes but the second one.
    for (i, l) in parts.lines.iter_mut().enumerate().filter(|(i, _)| *i != 1) {
        l.pricing = Some(LinePricing {
            list_price: eur(dec!(10)),
            net_unit_price: eur(dec!(9)),
            net_total: eur(dec!(9) * l.quantity),
            tax_total: eur(dec!(1.71)),
            gross_total: eur(dec!(10.71)),
            margin: eur(dec!(4)),
            flags: vec![format!("flag-{i}")],
        });
        l.promised_date = Some(today());
        l.promise_source = Some("stock".into());
        l.reserved_quantity = l.quantity;
        l.reservation_id = Some(hold);
    }
    let changed = OrderRecord {
        order: Order::from_parts(parts).unwrap(),
        ..rec.record.clone()
    };
    let saved =
        orders::save_over(&db, changed.clone(), &rec.record.order, rec.version, at(3)).unwrap();
    let back = orders::get(&db, rec.record.order.id()).unwrap();
    assert_eq!(back.record.order, changed.order);
    assert_eq!(back.record.order.lines()[1], rec.record.order.lines()[1]);
    assert_eq!(back.version, saved.version);

    // A line removed: not the same lines, so every line is written anew.
    let mut parts = back.record.order.parts().clone();
    parts.lines.remove(0);
    let fewer = OrderRecord {
        order: Order::from_parts(parts).unwrap(),
        ..back.record.clone()
    };
    orders::save_over(&db, fewer.clone(), &back.record.order, back.version, at(4)).unwrap();
    let back = orders::get(&db, rec.record.order.id()).unwrap();
    assert_eq!(back.record.order, fewer.order);
    assert_eq!(back.record.order.lines().len(), 2);

    // A stale `before` (it is not what is stored) is caught by the version.
    let stale = orders::save_over(&db, changed, &rec.record.order, rec.version, at(5));
    assert!(
        matches!(stale, Err(StoreError::VersionConflict { .. })),
        "{stale:?}"
    );
}

/// Issue 7: `save_over` leaves `quotation_id` out of its `UPDATE` when the
/// order's quotation is the one `before` had (a submission never changes
/// it), so its index entry is not rewritten; a changed quotation is still
/// written, and found by the list's quotation filter (its index).
#[test]
fn save_over_writes_the_quotation_only_when_it_changed() {
    use sales_domain::ids::QuotationId;
    use sales_domain::orders::Order;
    let db = db();
    let w = world(&db, dec!(10));
    let rec = draft(&db, &w, dec!(1));
    let id = rec.record.order.id();
    let by_quotation = |q: QuotationId| {
        let filter = OrderFilter {
            quotation_id: Some(q),
            ..OrderFilter::default()
        };
        let (items, _) = orders::list(&db, &filter, &Page::first(10)).unwrap();
        items
            .iter()
            .map(|o| o.record.order.id())
            .collect::<Vec<_>>()
    };
    let with_quotation = |before: &OrderRecord, q: Option<QuotationId>| {
        let mut parts = before.order.parts().clone();
        parts.quotation_id = q;
        OrderRecord {
            order: Order::from_parts(parts).unwrap(),
            ..before.clone()
        }
    };

    // Changed (none -> one): written.
    let q1 = QuotationId::new();
    let one = with_quotation(&rec.record, Some(q1));
    let saved = orders::save_over(&db, one, &rec.record.order, rec.version, at(3)).unwrap();
    assert_eq!(
        orders::get(&db, id).unwrap().record.order.quotation_id(),
        Some(q1)
    );
    assert_eq!(by_quotation(q1), vec![id]);

    // Unchanged, with another column changed: still the same quotation.
    let mut parts = saved.record.order.parts().clone();
    parts.customer_reference = Some("PO-7".into());
    let same = OrderRecord {
        order: Order::from_parts(parts).unwrap(),
        ..saved.record.clone()
    };
    let saved = orders::save_over(&db, same, &saved.record.order, saved.version, at(4)).unwrap();
    let back = orders::get(&db, id).unwrap();
    assert_eq!(back.record.order.quotation_id(), Some(q1));
    assert_eq!(
        back.record.order.parts().customer_reference.as_deref(),
        Some("PO-7")
    );
    assert_eq!(by_quotation(q1), vec![id]);

    // Changed (one -> another, then -> none): written each time.
    let q2 = QuotationId::new();
    let two = with_quotation(&saved.record, Some(q2));
    let saved = orders::save_over(&db, two, &saved.record.order, saved.version, at(5)).unwrap();
    assert_eq!(
        orders::get(&db, id).unwrap().record.order.quotation_id(),
        Some(q2)
    );
    assert_eq!(by_quotation(q2), vec![id]);
    assert!(by_quotation(q1).is_empty());
    let none = with_quotation(&saved.record, None);
    orders::save_over(&db, none, &saved.record.order, saved.version, at(6)).unwrap();
    assert_eq!(
        orders::get(&db, id).unwrap().record.order.quotation_id(),
        None
    );
    assert!(by_quotation(q2).is_empty());
}

/// Issue 7: the waterfall is kept as the text pricing wrote (its key order,
/// its spacing), never decoded and written out again — a tree in between
/// would sort the keys — and a column that is not JSON is a decode error.
#[test]
fn the_waterfall_is_stored_and_read_back_as_the_text_it_was_given() {
    let db = db();
    let w = world(&db, dec!(10));
    let rec = draft(&db, &w, dec!(1));
    let text = r#"{"lines":[{"net":"9.50","list":"10.00"}], "currency":"EUR","totals":{}}"#;
    let priced = OrderRecord {
        waterfall: Some(orders::RawJson::from_string(text.to_owned()).unwrap()),
        ..rec.record.clone()
    };
    let saved = orders::save_over(&db, priced, &rec.record.order, rec.version, at(3)).unwrap();
    assert_eq!(saved.record.waterfall.as_ref().unwrap().get(), text);
    let back = orders::get(&db, rec.record.order.id()).unwrap();
    assert_eq!(back.record.waterfall.as_ref().unwrap().get(), text);
    let stored = db
        .execute(
            "SELECT waterfall FROM sales_orders WHERE id = ?",
            &[Value::Text(rec.record.order.id().to_string())],
        )
        .unwrap();
    assert_eq!(stored.first().unwrap().text("waterfall").unwrap(), text);

    assert!(orders::RawJson::from_string("{\"lines\": [".to_owned()).is_err());
    db.execute(
        "UPDATE sales_orders SET waterfall = '{not json' WHERE id = ?",
        &[Value::Text(rec.record.order.id().to_string())],
    )
    .unwrap();
    assert!(orders::get(&db, rec.record.order.id()).is_err());
}

/// Issue 7: a promise is written once — the availability capability's
/// text, or the engine's promise serialised once — and the order and its
/// hold store that same text; serialising a `StoredPromise` writes its
/// text verbatim (its spacing too), reading one keeps the text it read,
/// and two are equal when their promises are, whatever their spacing.
#[test]
fn a_promise_is_stored_as_its_text_in_the_order_and_its_hold() {
    let db = db();
    let w = world(&db, dec!(10));
    let rec = draft(&db, &w, dec!(2));
    let saved = submit(&db, &w, &rec, false).unwrap();
    let text = saved
        .record
        .promise
        .as_ref()
        .unwrap()
        .json()
        .get()
        .to_owned();
    let id = Value::Text(rec.record.order.id().to_string());
    let in_order = db
        .execute(
            "SELECT promise FROM sales_orders WHERE id = ?",
            std::slice::from_ref(&id),
        )
        .unwrap();
    assert_eq!(in_order.first().unwrap().text("promise").unwrap(), text);
    let in_hold = db
        .execute(
            "SELECT r.promise FROM reservations r JOIN sales_orders o ON o.number = r.document
             WHERE o.id = ?",
            &[id],
        )
        .unwrap();
    assert_eq!(in_hold.first().unwrap().text("promise").unwrap(), text);
    let back = orders::get(&db, rec.record.order.id()).unwrap();
    assert_eq!(back.record.promise, saved.record.promise);

    // The same promise in other spacing and key order.
    let tree: serde_json::Value = serde_json::from_str(&text).unwrap();
    let spaced = serde_json::to_string_pretty(&tree).unwrap();
    assert_ne!(spaced, text);
    let given = orders::StoredPromise::from_json(spaced.clone()).unwrap();
    assert_eq!(serde_json::to_string(&given).unwrap(), spaced);
    assert_eq!(&given, saved.record.promise.as_ref().unwrap());
    let read: orders::StoredPromise = serde_json::from_str(&spaced).unwrap();
    assert_eq!(read.json().get(), spaced);
    assert!(orders::StoredPromise::from_json("{\"lines\": [".to_owned()).is_err());
}
