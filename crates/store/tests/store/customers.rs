use sales_domain::catalog::{Customer, CustomerPatch, ExternalIds, NewCustomer};
use sales_domain::ids::{CustomerGroupId, CustomerId, TerritoryId};
use sales_store::customers::{self, CustomerFilter};
use sales_store::{trees, Page, StoreError, Upserted};

use crate::common::{at, db};
use crate::fixtures::{customer, customer_with_crm, new_customer, node};

#[test]
fn a_customer_round_trips_with_every_field() {
    let db = db();
    let group = node(CustomerGroupId::new(), "WHOLESALE", None);
    let territory = node(TerritoryId::new(), "DE", None);
    trees::create(&db, &group, at(1)).unwrap();
    trees::create(&db, &territory, at(1)).unwrap();
    let c = Customer::create(
        CustomerId::new(),
        NewCustomer {
            customer_group_id: Some(group.id()),
            territory_id: Some(territory.id()),
            external_ids: ExternalIds::default()
                .with("crm", "C-1")
                .unwrap()
                .with("shop", "77")
                .unwrap(),
            ..new_customer("Acme")
        },
    )
    .unwrap();
    let stored = customers::create(&db, &c, at(1)).unwrap();
    assert_eq!(stored.record, c);
    assert_eq!((stored.version, stored.created_at), (1, at(1)));
    assert_eq!(customers::get(&db, c.id()).unwrap().record, c);
    assert_eq!(
        customers::find_by_external_id(&db, "shop", "77")
            .unwrap()
            .unwrap()
            .record,
        c
    );
}

#[test]
fn unknown_group_or_territory_is_a_missing_reference() {
    let db = db();
    let c = Customer::create(
        CustomerId::new(),
        NewCustomer {
            territory_id: Some(TerritoryId::new()),
            ..new_customer("Acme")
        },
    )
    .unwrap();
    assert!(matches!(
        customers::create(&db, &c, at(1)),
        Err(StoreError::MissingReference {
            field: "territory_id",
            ..
        })
    ));
}

#[test]
fn a_taken_external_id_is_a_duplicate_and_writes_nothing() {
    let db = db();
    customers::create(&db, &customer_with_crm("Acme", "C-1"), at(1)).unwrap();
    let other = customer_with_crm("Other", "C-1");
    assert_eq!(
        customers::create(&db, &other, at(1)),
        Err(StoreError::Duplicate {
            entity: "customer",
            field: "external_ids",
            value: "crm:C-1".into()
        })
    );
    assert!(matches!(
        customers::get(&db, other.id()),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn updates_need_the_current_version() {
    let db = db();
    let c = customer("Acme");
    customers::create(&db, &c, at(1)).unwrap();
    let renamed = c
        .patched(CustomerPatch {
            name: Some("Acme AG".into()),
            credit_limit: Some(None),
            ..CustomerPatch::default()
        })
        .unwrap();
    let v2 = customers::update(&db, &renamed, 1, at(2)).unwrap();
    assert_eq!(
        (v2.version, v2.updated_at, v2.created_at),
        (2, at(2), at(1))
    );
    assert_eq!(v2.record.credit_limit(), None);
    assert_eq!(
        customers::update(&db, &c, 1, at(3)),
        Err(StoreError::VersionConflict {
            entity: "customer",
            id: c.id().to_string(),
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(
        customers::get(&db, c.id()).unwrap().record.name(),
        "Acme AG"
    );
}

#[test]
fn lists_filter_search_and_page() {
    let db = db();
    let group = node(CustomerGroupId::new(), "G", None);
    trees::create(&db, &group, at(1)).unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut new = new_customer(&format!("Customer {i}"));
        if i % 2 == 0 {
            new.customer_group_id = Some(group.id());
        }
        let c = Customer::create(CustomerId::new(), new).unwrap();
        customers::create(&db, &c, at(1)).unwrap();
        ids.push(c.id());
    }
    customers::create(&db, &customer_with_crm("Zeta 50%", "Z"), at(1)).unwrap();
    customers::deactivate(&db, ids[0], at(2)).unwrap();

    // Pages of 3 cover everything once, in creation order.
    let mut seen = Vec::new();
    let mut page = Page::first(3);
    loop {
        let (items, next) = customers::list(&db, &CustomerFilter::default(), &page).unwrap();
        seen.extend(items.iter().map(|c| c.record.id()));
        match next {
            Some(cursor) => page = Page::after(3, cursor),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    assert_eq!(seen[..7], ids[..]);

    let count = |f: CustomerFilter| customers::list(&db, &f, &Page::first(100)).unwrap().0.len();
    assert_eq!(
        count(CustomerFilter {
            customer_group_id: Some(group.id()),
            ..CustomerFilter::default()
        }),
        4
    );
    assert_eq!(
        count(CustomerFilter {
            active: Some(false),
            ..CustomerFilter::default()
        }),
        1
    );
    assert_eq!(
        count(CustomerFilter {
            q: Some("customer 3".into()),
            ..CustomerFilter::default()
        }),
        1
    );
    // Search by e-mail, and wildcards in the text are literal.
    assert_eq!(
        count(CustomerFilter {
            q: Some("@EXAMPLE.com".into()),
            ..CustomerFilter::default()
        }),
        8
    );
    assert_eq!(
        count(CustomerFilter {
            q: Some("50%".into()),
            ..CustomerFilter::default()
        }),
        1
    );
    assert_eq!(
        count(CustomerFilter {
            q: Some("%".into()),
            ..CustomerFilter::default()
        }),
        1
    );
    assert_eq!(
        count(CustomerFilter {
            external_source: Some("crm".into()),
            external_id: Some("Z".into()),
            ..CustomerFilter::default()
        }),
        1
    );
}

#[test]
fn a_bad_cursor_is_a_typed_error() {
    let db = db();
    for bad in ["nonsense", "00", "ff"] {
        assert!(matches!(
            customers::list(&db, &CustomerFilter::default(), &Page::after(5, bad)),
            Err(StoreError::BadCursor(_))
        ));
    }
}

#[test]
fn upsert_creates_then_updates_then_leaves_alone() {
    let db = db();
    let first = customer_with_crm("Acme", "C-9");
    let (what, created) = customers::upsert_by_external_id(&db, "crm", &first, at(1)).unwrap();
    assert_eq!(what, Upserted::Created);
    assert_eq!(created.record.id(), first.id());

    // The same import again: nothing to do.
    let again = customer_with_crm("Acme", "C-9");
    let (what, same) = customers::upsert_by_external_id(&db, "crm", &again, at(2)).unwrap();
    assert_eq!(what, Upserted::Unchanged);
    assert_eq!((same.record.id(), same.version), (first.id(), 1));

    // A changed name updates the existing customer, keeping its other ids.
    let stored = customers::get(&db, first.id()).unwrap();
    let with_shop = stored
        .record
        .patched(CustomerPatch {
            external_ids: Some(ExternalIds::default().with("shop", "S1").unwrap()),
            ..CustomerPatch::default()
        })
        .unwrap();
    customers::update(&db, &with_shop, 1, at(2)).unwrap();
    let renamed = customer_with_crm("Acme Renamed", "C-9");
    let (what, updated) = customers::upsert_by_external_id(&db, "crm", &renamed, at(3)).unwrap();
    assert_eq!(what, Upserted::Updated);
    assert_eq!(updated.record.id(), first.id());
    assert_eq!(updated.record.name(), "Acme Renamed");
    assert_eq!(updated.record.external_ids().get("shop"), Some("S1"));
    assert_eq!(updated.version, 3);
}

#[test]
fn upsert_needs_an_id_for_the_source() {
    let db = db();
    assert!(matches!(
        customers::upsert_by_external_id(&db, "crm", &customer("No ids"), at(1)),
        Err(StoreError::MissingReference {
            field: "external_ids",
            ..
        })
    ));
}
