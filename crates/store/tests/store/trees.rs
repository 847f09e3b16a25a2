use sales_domain::catalog::TreeNodePatch;
use sales_domain::ids::{CustomerGroupId, ItemGroupId, TerritoryId};
use sales_store::trees::{self, TreeFilter};
use sales_store::{Page, StoreError};

use crate::common::{at, db};
use crate::fixtures::node;

#[test]
fn nodes_are_created_read_and_listed_by_parent() {
    let db = db();
    let world = trees::create(&db, &node(TerritoryId::new(), "WORLD", None), at(1)).unwrap();
    assert_eq!(world.version, 1);
    let eu = node(TerritoryId::new(), "EU", Some(world.record.id()));
    trees::create(&db, &eu, at(1)).unwrap();
    let us = node(TerritoryId::new(), "US", Some(world.record.id()));
    trees::create(&db, &us, at(1)).unwrap();

    assert_eq!(trees::get(&db, eu.id()).unwrap().record, eu);
    let (children, next) = trees::list(
        &db,
        &TreeFilter {
            parent_id: Some(world.record.id()),
            ..TreeFilter::default()
        },
        &Page::first(10),
    )
    .unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(next, None);
    let (roots, _) = trees::list(
        &db,
        &TreeFilter::<TerritoryId> {
            roots_only: true,
            ..TreeFilter::default()
        },
        &Page::first(10),
    )
    .unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(trees::descendants(&db, world.record.id()).unwrap().len(), 2);
    assert_eq!(
        trees::ancestors(&db, eu.id()).unwrap(),
        vec![world.record.id()]
    );
}

#[test]
fn a_taken_code_is_a_duplicate_per_tree() {
    let db = db();
    trees::create(&db, &node(CustomerGroupId::new(), "RETAIL", None), at(1)).unwrap();
    assert!(matches!(
        trees::create(&db, &node(CustomerGroupId::new(), "RETAIL", None), at(1)),
        Err(StoreError::Duplicate { field: "code", .. })
    ));
    // Another tree may use the same code.
    trees::create(&db, &node(ItemGroupId::new(), "RETAIL", None), at(1)).unwrap();
}

#[test]
fn a_missing_parent_is_a_missing_reference() {
    let db = db();
    assert!(matches!(
        trees::create(
            &db,
            &node(ItemGroupId::new(), "X", Some(ItemGroupId::new())),
            at(1)
        ),
        Err(StoreError::MissingReference {
            field: "parent_id",
            ..
        })
    ));
}

#[test]
fn moving_a_node_under_its_descendant_is_a_cycle() {
    let db = db();
    let a = node(TerritoryId::new(), "A", None);
    let b = node(TerritoryId::new(), "B", Some(a.id()));
    let c = node(TerritoryId::new(), "C", Some(b.id()));
    for n in [&a, &b, &c] {
        trees::create(&db, n, at(1)).unwrap();
    }
    let moved = a
        .patched(TreeNodePatch {
            parent_id: Some(Some(c.id())),
            ..TreeNodePatch::default()
        })
        .unwrap();
    assert!(matches!(
        trees::update(&db, &moved, 1, at(2)),
        Err(StoreError::Cycle { .. })
    ));
    assert_eq!(trees::get(&db, a.id()).unwrap().record.parent_id(), None);

    // Moving c to the root and then a under c is fine.
    let c_root = c
        .patched(TreeNodePatch {
            parent_id: Some(None),
            ..TreeNodePatch::default()
        })
        .unwrap();
    trees::update(&db, &c_root, 1, at(2)).unwrap();
    let a_under_c = trees::update(&db, &moved, 1, at(3)).unwrap();
    assert_eq!(a_under_c.version, 2);
    assert_eq!(a_under_c.record.parent_id(), Some(c.id()));
}

#[test]
fn a_stale_version_is_a_conflict() {
    let db = db();
    let a = node(ItemGroupId::new(), "A", None);
    trees::create(&db, &a, at(1)).unwrap();
    let renamed = a
        .patched(TreeNodePatch {
            name: Some("Alpha".into()),
            ..TreeNodePatch::default()
        })
        .unwrap();
    trees::update(&db, &renamed, 1, at(2)).unwrap();
    assert!(matches!(
        trees::update(&db, &renamed, 1, at(3)),
        Err(StoreError::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    assert!(matches!(
        trees::update(&db, &node(ItemGroupId::new(), "Z", None), 1, at(3)),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn deactivation_is_idempotent() {
    let db = db();
    let a = node(CustomerGroupId::new(), "A", None);
    trees::create(&db, &a, at(1)).unwrap();
    let d = trees::deactivate(&db, a.id(), at(2)).unwrap();
    assert!(!d.record.is_active());
    assert_eq!(d.version, 2);
    assert_eq!(trees::deactivate(&db, a.id(), at(3)).unwrap().version, 2);
    let (active, _) = trees::list(
        &db,
        &TreeFilter::<CustomerGroupId> {
            active: Some(true),
            ..TreeFilter::default()
        },
        &Page::first(10),
    )
    .unwrap();
    assert!(active.is_empty());
}

#[test]
fn a_cursor_from_another_tree_is_rejected() {
    let db = db();
    for code in ["A", "B", "C"] {
        trees::create(&db, &node(TerritoryId::new(), code, None), at(1)).unwrap();
        trees::create(&db, &node(ItemGroupId::new(), code, None), at(1)).unwrap();
    }
    let (_, next) =
        trees::list::<TerritoryId>(&db, &TreeFilter::default(), &Page::first(1)).unwrap();
    let cursor = next.unwrap();
    let (page2, _) =
        trees::list::<TerritoryId>(&db, &TreeFilter::default(), &Page::after(1, cursor.clone()))
            .unwrap();
    assert_eq!(page2.len(), 1);
    assert!(matches!(
        trees::list::<ItemGroupId>(&db, &TreeFilter::default(), &Page::after(1, cursor)),
        Err(StoreError::BadCursor(_))
    ));
}
