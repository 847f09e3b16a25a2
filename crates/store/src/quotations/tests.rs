#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::TimeZone;
use rust_decimal_macros::dec;
use sales_domain::ids::{PrincipalId, ProductId};
use sales_domain::money::{Currency, Money};
use sales_domain::quotations::{
    ConversionRequest, LineKind, LinePrice, LostReason, NewLine, NewQuotation,
};
use sales_domain::series::DocumentSeries;

use super::*;
use crate::rusqlite_db::RusqliteDb;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

struct Fixture {
    db: RusqliteDb,
    customer: CustomerId,
    channel: ChannelId,
}

fn fixture() -> Fixture {
    let db = RusqliteDb::open_in_memory().unwrap();
    crate::migrate(&db).unwrap();
    let customer = CustomerId::new();
    let channel = ChannelId::new();
    let ts = Value::Text(time::to_sql(now()));
    db.execute(
        "INSERT INTO customers (id, name, created_at, updated_at) VALUES (?, 'C', ?, ?)",
        &[Value::Text(customer.to_string()), ts.clone(), ts.clone()],
    )
    .unwrap();
    db.execute(
        "INSERT INTO channels (id, code, name, kind, mode, currency, tax_mode, warehouses,
           quotation_required, paid_on_order, fulfil_on_order, created_at, updated_at)
         VALUES (?, 'B2B', 'B2B', 'b2b', 'offline', 'EUR', 'exclusive', '[]', 0, 0, 0, ?, ?)",
        &[Value::Text(channel.to_string()), ts.clone(), ts],
    )
    .unwrap();
    Fixture {
        db,
        customer,
        channel,
    }
}

fn eur(a: rust_decimal::Decimal) -> Money {
    Money::new(a, Currency::from_code("EUR").unwrap()).unwrap()
}

fn new_quotation(f: &Fixture, seq: u64, valid_until: NaiveDate) -> Quotation {
    let line = |kind, group: Option<&str>| NewLine {
        product_id: ProductId::new(),
        quantity: dec!(10),
        uom: None,
        requested_date: None,
        kind,
        group: group.map(str::to_owned),
        selected: None,
    };
    let mut q = Quotation::new(
        NewQuotation {
            id: QuotationId::new(),
            number: DocumentSeries::new("QTN", 2026)
                .unwrap()
                .number(seq)
                .unwrap(),
            customer_id: f.customer,
            channel_id: f.channel,
            channel_code: "B2B".into(),
            currency: Currency::from_code("EUR").unwrap(),
            valid_until,
            notes: None,
            created_by: PrincipalId::new(),
            lines: vec![
                line(LineKind::Standard, None),
                line(LineKind::Optional, None),
                line(LineKind::Alternative, Some("A")),
                line(LineKind::Alternative, Some("A")),
            ],
        },
        today(),
    )
    .unwrap();
    let price = LinePrice {
        uom: "pcs".into(),
        list_price: eur(dec!(2)),
        adjustments: vec![],
        net_unit_price: eur(dec!(2)),
        net_total: eur(dec!(20)),
        tax_total: eur(dec!(2)),
        gross_total: eur(dec!(22)),
        flags: vec![],
        margin: None,
    };
    q.apply_prices(vec![price; 4]).unwrap();
    q
}

#[test]
fn a_quotation_round_trips_with_its_lines() {
    let f = fixture();
    let q = new_quotation(&f, 1, today());
    let stored = create(&f.db, &q, now()).unwrap();
    assert_eq!(stored.record, q);
    assert_eq!(stored.version, 1);
    assert_eq!(get(&f.db, q.id()).unwrap().record, q);
    // The same number twice is refused.
    let mut again = new_quotation(&f, 1, today());
    again.cancel().unwrap();
    assert!(matches!(
        create(&f.db, &again, now()),
        Err(StoreError::Duplicate {
            field: "number",
            ..
        })
    ));
}

#[test]
fn an_unknown_customer_is_a_missing_reference() {
    let mut f = fixture();
    f.customer = CustomerId::new();
    let q = new_quotation(&f, 1, today());
    assert!(matches!(
        create(&f.db, &q, now()),
        Err(StoreError::MissingReference {
            field: "customer_id",
            ..
        })
    ));
}

#[test]
fn conversion_is_saved_once_and_a_stale_second_one_is_refused() {
    let f = fixture();
    let mut q = new_quotation(&f, 1, today());
    q.send(today()).unwrap();
    let stored = create(&f.db, &q, now()).unwrap();
    let req = ConversionRequest {
        lines: Some(vec![(q.lines()[0].id(), Some(dec!(4)))]),
        ..Default::default()
    };
    let plan = stored
        .record
        .plan_conversion(&req, today(), false, true)
        .unwrap();
    let saved = save(&f.db, &plan.quotation, stored.version, now()).unwrap();
    assert_eq!(saved.record.status(), QuotationStatus::PartiallyOrdered);
    let ordered = ordered_quantity(&f.db, q.id()).unwrap();
    assert_eq!(
        (ordered[0].quantity_milli, ordered[0].ordered_milli),
        (10_000, 4_000)
    );
    // A second conversion planned from the same read loses.
    assert!(matches!(
        save(&f.db, &plan.quotation, stored.version, now()),
        Err(StoreError::VersionConflict { .. })
    ));
}

#[test]
fn the_schema_refuses_ordering_more_than_was_quoted() {
    let f = fixture();
    let q = new_quotation(&f, 1, today());
    create(&f.db, &q, now()).unwrap();
    let e = f.db.execute(
        "UPDATE quotation_lines SET ordered_milli = quantity_milli + 1 WHERE quotation_id = ?",
        &[Value::Text(q.id().to_string())],
    );
    assert!(e.is_err());
}

#[test]
fn a_revision_keeps_the_previous_one_readable() {
    let f = fixture();
    let mut q = new_quotation(&f, 1, today());
    q.send(today()).unwrap();
    let stored = create(&f.db, &q, now()).unwrap();
    let next = stored.record.revise(today(), today()).unwrap();
    let saved = revise(&f.db, &stored, &next, now()).unwrap();
    assert_eq!(saved.record.revision(), 2);
    assert_eq!(saved.record.status(), QuotationStatus::Draft);
    let history = revisions(&f.db, q.id()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].quotation, q);
    assert_eq!(revision(&f.db, q.id(), 1).unwrap().quotation.revision(), 1);
    assert!(revision(&f.db, q.id(), 2).is_err());
}

#[test]
fn lists_filter_by_status_customer_and_validity_in_pages() {
    let f = fixture();
    let late = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    for n in 1..=5 {
        let mut q = new_quotation(&f, n, if n % 2 == 0 { late } else { today() });
        if n <= 3 {
            q.send(today()).unwrap();
        }
        create(&f.db, &q, now()).unwrap();
    }
    let sent = QuotationFilter {
        status: Some(QuotationStatus::Sent),
        ..Default::default()
    };
    let (first, next) = list(&f.db, &sent, &Page::first(2)).unwrap();
    assert_eq!(first.len(), 2);
    let (rest, none) = list(&f.db, &sent, &Page::after(2, next.unwrap())).unwrap();
    assert_eq!((rest.len(), none), (1, None));
    let valid = QuotationFilter {
        valid_from: Some(late),
        customer_id: Some(f.customer),
        ..Default::default()
    };
    assert_eq!(list(&f.db, &valid, &Page::first(50)).unwrap().0.len(), 2);
    let other = QuotationFilter {
        customer_id: Some(CustomerId::new()),
        ..Default::default()
    };
    assert!(list(&f.db, &other, &Page::first(50)).unwrap().0.is_empty());
}

#[test]
fn expiry_touches_only_offers_past_their_validity_and_writes_one_event_each() {
    let f = fixture();
    let mut due = new_quotation(&f, 1, today());
    due.send(today()).unwrap();
    create(&f.db, &due, now()).unwrap();
    let mut valid = new_quotation(&f, 2, NaiveDate::from_ymd_opt(2026, 6, 1).unwrap());
    valid.send(today()).unwrap();
    create(&f.db, &valid, now()).unwrap();
    let draft = new_quotation(&f, 3, today());
    create(&f.db, &draft, now()).unwrap();
    let mut lost = new_quotation(&f, 4, today());
    lost.lose(LostReason::new("price", None, now()).unwrap())
        .unwrap();
    create(&f.db, &lost, now()).unwrap();

    let tomorrow = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
    let expired =
        f.db.transaction(|db| expire_due(db, tomorrow, now()))
            .unwrap();
    assert_eq!(expired, vec![due.id()]);
    assert_eq!(
        get(&f.db, due.id()).unwrap().record.status(),
        QuotationStatus::Expired
    );
    assert_eq!(
        get(&f.db, draft.id()).unwrap().record.status(),
        QuotationStatus::Draft
    );
    assert!(expire_due(&f.db, tomorrow, now()).unwrap().is_empty());
    let events = f
        .db
        .execute(
            "SELECT count(*) AS n FROM outbox WHERE topic = 'quotation.expired' AND aggregate_id = ?",
            &[Value::Text(due.id().to_string())],
        )
        .unwrap();
    assert_eq!(events.first().unwrap().int("n").unwrap(), 1);
}
