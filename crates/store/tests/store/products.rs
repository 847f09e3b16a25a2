use sales_domain::catalog::{ExternalIds, NewProduct, Product, ProductKind, ProductPatch};
use sales_domain::ids::{ItemGroupId, ProductId};
use sales_store::products::{self, ProductFilter};
use sales_store::{trees, Page, StoreError, Upserted};

use crate::common::{at, db};
use crate::fixtures::{new_product, node, product};

#[test]
fn a_product_round_trips() {
    let db = db();
    let group = node(ItemGroupId::new(), "FASTENERS", None);
    trees::create(&db, &group, at(1)).unwrap();
    let p = Product::create(
        ProductId::new(),
        NewProduct {
            item_group_id: Some(group.id()),
            description: Some("zinc plated".into()),
            kind: ProductKind::Manufactured,
            external_ids: ExternalIds::default().with("erp", "4711").unwrap(),
            ..new_product("BOLT-M8")
        },
    )
    .unwrap();
    assert_eq!(products::create(&db, &p, at(1)).unwrap().record, p);
    assert_eq!(products::get(&db, p.id()).unwrap().record, p);
    assert_eq!(
        products::find_by_sku(&db, "BOLT-M8")
            .unwrap()
            .unwrap()
            .record,
        p
    );
}

#[test]
fn a_taken_sku_is_a_duplicate_on_create_and_update() {
    let db = db();
    products::create(&db, &product("A"), at(1)).unwrap();
    assert!(matches!(
        products::create(&db, &product("A"), at(1)),
        Err(StoreError::Duplicate { field: "sku", .. })
    ));
    let b = product("B");
    products::create(&db, &b, at(1)).unwrap();
    let b_as_a = b
        .patched(ProductPatch {
            sku: Some("A".into()),
            ..ProductPatch::default()
        })
        .unwrap();
    assert!(matches!(
        products::update(&db, &b_as_a, 1, at(2)),
        Err(StoreError::Duplicate { field: "sku", .. })
    ));
}

#[test]
fn an_unknown_item_group_is_a_missing_reference() {
    let db = db();
    let p = Product::create(
        ProductId::new(),
        NewProduct {
            item_group_id: Some(ItemGroupId::new()),
            ..new_product("X")
        },
    )
    .unwrap();
    assert!(matches!(
        products::create(&db, &p, at(1)),
        Err(StoreError::MissingReference {
            field: "item_group_id",
            ..
        })
    ));
}

#[test]
fn stale_updates_conflict() {
    let db = db();
    let p = product("A");
    products::create(&db, &p, at(1)).unwrap();
    let cheaper = p
        .patched(ProductPatch {
            lead_time_days: Some(9),
            ..ProductPatch::default()
        })
        .unwrap();
    assert_eq!(
        products::update(&db, &cheaper, 1, at(2)).unwrap().version,
        2
    );
    assert!(matches!(
        products::update(&db, &cheaper, 1, at(2)),
        Err(StoreError::VersionConflict { actual: 2, .. })
    ));
}

#[test]
fn lists_filter_by_kind_group_sku_and_text() {
    let db = db();
    let group = node(ItemGroupId::new(), "G", None);
    trees::create(&db, &group, at(1)).unwrap();
    for (i, kind) in [
        ProductKind::Stocked,
        ProductKind::Service,
        ProductKind::Manufactured,
        ProductKind::Service,
    ]
    .into_iter()
    .enumerate()
    {
        let p = Product::create(
            ProductId::new(),
            NewProduct {
                kind,
                item_group_id: (i < 2).then_some(group.id()),
                ..new_product(&format!("SKU-{i}"))
            },
        )
        .unwrap();
        products::create(&db, &p, at(1)).unwrap();
    }
    let count = |f: ProductFilter| products::list(&db, &f, &Page::first(100)).unwrap().0.len();
    assert_eq!(
        count(ProductFilter {
            kind: Some(ProductKind::Service),
            ..ProductFilter::default()
        }),
        2
    );
    assert_eq!(
        count(ProductFilter {
            item_group_id: Some(group.id()),
            ..ProductFilter::default()
        }),
        2
    );
    assert_eq!(
        count(ProductFilter {
            sku: Some("SKU-3".into()),
            ..ProductFilter::default()
        }),
        1
    );
    assert_eq!(
        count(ProductFilter {
            q: Some("sku-".into()),
            ..ProductFilter::default()
        }),
        4
    );
    let (page, next) = products::list(&db, &ProductFilter::default(), &Page::first(3)).unwrap();
    assert_eq!(page.len(), 3);
    let (rest, end) = products::list(
        &db,
        &ProductFilter::default(),
        &Page::after(3, next.unwrap()),
    )
    .unwrap();
    assert_eq!((rest.len(), end), (1, None));
}

#[test]
fn upsert_by_external_id_reports_what_it_did() {
    let db = db();
    let with_erp = |sku: &str, name: &str| {
        Product::create(
            ProductId::new(),
            NewProduct {
                name: name.into(),
                external_ids: ExternalIds::default().with("erp", "E1").unwrap(),
                ..new_product(sku)
            },
        )
        .unwrap()
    };
    let (a, first) =
        products::upsert_by_external_id(&db, "erp", &with_erp("S1", "Widget"), at(1)).unwrap();
    let (b, _) =
        products::upsert_by_external_id(&db, "erp", &with_erp("S1", "Widget"), at(2)).unwrap();
    let (c, changed) =
        products::upsert_by_external_id(&db, "erp", &with_erp("S1", "Widget 2"), at(3)).unwrap();
    assert_eq!(
        (a, b, c),
        (Upserted::Created, Upserted::Unchanged, Upserted::Updated)
    );
    assert_eq!(changed.record.id(), first.record.id());
    assert_eq!(changed.version, 2);

    // A new external id whose SKU another product holds is a duplicate SKU.
    let clash = Product::create(
        ProductId::new(),
        NewProduct {
            external_ids: ExternalIds::default().with("erp", "E2").unwrap(),
            ..new_product("S1")
        },
    )
    .unwrap();
    assert!(matches!(
        products::upsert_by_external_id(&db, "erp", &clash, at(4)),
        Err(StoreError::Duplicate { field: "sku", .. })
    ));
}
