use sales_domain::auth::{api_key_display_prefix, generate_api_key, hash_api_key, Principal, Role};
use sales_domain::ids::{ApiKeyId, PrincipalId, TerritoryId};
use sales_store::api_keys::{self, ApiKeyFilter, NewApiKey};
use sales_store::{Page, StoreError};

use crate::common::{at, db};

fn principal(name: &str, roles: &[Role]) -> Principal {
    Principal::new(PrincipalId::new(), name, roles.iter().copied()).unwrap()
}

#[test]
fn a_key_is_found_by_its_hash_until_revoked() {
    let db = db();
    let secret = generate_api_key(&[7u8; 32]);
    let p = principal("CRM sync", &[Role::Integration, Role::Viewer])
        .with_territory(Some(TerritoryId::new()));
    let created = api_keys::create(
        &db,
        &NewApiKey {
            id: ApiKeyId::new(),
            key_hash: &hash_api_key(&secret),
            prefix: &api_key_display_prefix(&secret),
            principal: &p,
        },
        at(1),
    )
    .unwrap();
    assert_eq!(created.name(), "CRM sync");
    assert_eq!(created.principal(), &p);

    let found = api_keys::find_active_by_hash(&db, &hash_api_key(&secret))
        .unwrap()
        .unwrap();
    assert_eq!(found, created);
    assert_eq!(
        api_keys::find_active_by_hash(&db, &hash_api_key("sk_other")).unwrap(),
        None
    );

    let revoked = api_keys::revoke(&db, created.id(), at(2)).unwrap();
    assert_eq!(revoked.revoked_at(), Some(at(2)));
    assert_eq!(
        api_keys::find_active_by_hash(&db, &hash_api_key(&secret)).unwrap(),
        None
    );
    // Revoking again keeps the first time.
    let again = api_keys::revoke(&db, created.id(), at(3)).unwrap();
    assert_eq!(again.revoked_at(), Some(at(2)));
}

#[test]
fn the_same_hash_twice_is_a_duplicate() {
    let db = db();
    let p = principal("a", &[Role::Admin]);
    let new = NewApiKey {
        id: ApiKeyId::new(),
        key_hash: "h",
        prefix: "sk_x",
        principal: &p,
    };
    api_keys::create(&db, &new, at(1)).unwrap();
    let again = NewApiKey {
        id: ApiKeyId::new(),
        ..new
    };
    assert!(matches!(
        api_keys::create(&db, &again, at(1)),
        Err(StoreError::Duplicate { field: "key", .. })
    ));
}

#[test]
fn keys_list_in_pages_and_filter_by_revocation() {
    let db = db();
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = principal(&format!("key {i}"), &[Role::Viewer]);
        let k = api_keys::create(
            &db,
            &NewApiKey {
                id: ApiKeyId::new(),
                key_hash: &format!("hash{i}"),
                prefix: "sk_",
                principal: &p,
            },
            at(1),
        )
        .unwrap();
        ids.push(k.id());
    }
    api_keys::revoke(&db, ids[0], at(2)).unwrap();

    let (first, next) = api_keys::list(&db, &ApiKeyFilter::default(), &Page::first(3)).unwrap();
    assert_eq!(first.iter().map(|k| k.id()).collect::<Vec<_>>(), ids[..3]);
    let (rest, end) = api_keys::list(
        &db,
        &ApiKeyFilter::default(),
        &Page::after(3, next.unwrap()),
    )
    .unwrap();
    assert_eq!(rest.iter().map(|k| k.id()).collect::<Vec<_>>(), ids[3..]);
    assert_eq!(end, None);

    let (revoked, _) = api_keys::list(
        &db,
        &ApiKeyFilter {
            revoked: Some(true),
        },
        &Page::first(10),
    )
    .unwrap();
    assert_eq!(revoked.len(), 1);
    assert!(matches!(
        api_keys::list(&db, &ApiKeyFilter::default(), &Page::after(3, "bogus")),
        Err(StoreError::BadCursor(_))
    ));
}

#[test]
fn an_unknown_key_is_not_found() {
    let db = db();
    assert!(matches!(
        api_keys::get(&db, ApiKeyId::new()),
        Err(StoreError::NotFound { .. })
    ));
}
