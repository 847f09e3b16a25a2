use sales_domain::catalog::{ChannelPatch, CreditCheck, Settings, SettingsPatch};
use sales_store::channels::{self, ChannelFilter};
use sales_store::{settings, Page, StoreError};

use crate::common::{at, db};
use crate::fixtures::channel;

#[test]
fn a_channel_round_trips_and_is_found_by_code() {
    let db = db();
    let c = channel("b2b");
    assert_eq!(channels::create(&db, &c, at(1)).unwrap().record, c);
    assert_eq!(channels::get(&db, c.id()).unwrap().record, c);
    assert_eq!(
        channels::find_by_code(&db, "b2b").unwrap().unwrap().record,
        c
    );
    assert_eq!(channels::find_by_code(&db, "nope").unwrap(), None);
}

#[test]
fn a_taken_code_is_a_duplicate() {
    let db = db();
    channels::create(&db, &channel("web"), at(1)).unwrap();
    assert!(matches!(
        channels::create(&db, &channel("web"), at(1)),
        Err(StoreError::Duplicate { field: "code", .. })
    ));
}

#[test]
fn updates_check_the_version_and_deactivation_filters() {
    let db = db();
    let c = channel("pos");
    channels::create(&db, &c, at(1)).unwrap();
    let warned = c
        .patched(ChannelPatch {
            credit_check: Some(Some(CreditCheck::Warn)),
            warehouses: Some(vec!["EAST".into()]),
            ..ChannelPatch::default()
        })
        .unwrap();
    let v2 = channels::update(&db, &warned, 1, at(2)).unwrap();
    assert_eq!(v2.record.credit_check(), Some(CreditCheck::Warn));
    assert_eq!(v2.record.warehouses(), ["EAST"]);
    assert!(matches!(
        channels::update(&db, &warned, 1, at(3)),
        Err(StoreError::VersionConflict { .. })
    ));
    channels::deactivate(&db, c.id(), at(3)).unwrap();
    channels::create(&db, &channel("web"), at(3)).unwrap();
    let (active, _) = channels::list(
        &db,
        &ChannelFilter {
            active: Some(true),
            ..ChannelFilter::default()
        },
        &Page::first(10),
    )
    .unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].record.code(), "web");
}

#[test]
fn settings_may_name_an_existing_channel_as_default() {
    let db = db();
    channels::create(&db, &channel("b2b"), at(1)).unwrap();
    let s = Settings::default()
        .patched(SettingsPatch {
            default_channel: Some(Some("b2b".into())),
            ..SettingsPatch::default()
        })
        .unwrap();
    let saved = settings::save(&db, &s, 1, at(2)).unwrap();
    assert_eq!(saved.record.default_channel(), Some("b2b"));
}
