use sales_domain::catalog::{CreditCheck, Settings, SettingsPatch};
use sales_domain::money::RoundingMode;
use sales_store::{settings, StoreError};

use crate::common::{at, db};

#[test]
fn a_fresh_database_has_the_default_settings_at_version_1() {
    let db = db();
    let s = settings::get(&db).unwrap();
    assert_eq!(s.record, Settings::default());
    assert_eq!(s.version, 1);
}

#[test]
fn saving_bumps_the_version_and_keeps_the_values() {
    let db = db();
    let current = settings::get(&db).unwrap();
    let next = current
        .record
        .patched(SettingsPatch {
            quotation_validity_days: Some(14),
            rounding: Some(RoundingMode::HalfEven),
            credit_check: Some(CreditCheck::Warn),
            keep_quoted_rate: Some(false),
            ..SettingsPatch::default()
        })
        .unwrap();
    let saved = settings::save(&db, &next, current.version, at(2)).unwrap();
    assert_eq!(saved.version, 2);
    assert_eq!(saved.updated_at, at(2));
    assert_eq!(settings::get(&db).unwrap().record, next);
}

#[test]
fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let db = db();
    let next = Settings::default()
        .patched(SettingsPatch {
            quotation_validity_days: Some(7),
            ..SettingsPatch::default()
        })
        .unwrap();
    settings::save(&db, &next, 1, at(2)).unwrap();
    assert_eq!(
        settings::save(&db, &Settings::default(), 1, at(3)),
        Err(StoreError::VersionConflict {
            entity: "settings",
            id: "1".into(),
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(settings::get(&db).unwrap().record, next);
}

#[test]
fn the_default_channel_must_exist() {
    let db = db();
    let next = Settings::default()
        .patched(SettingsPatch {
            default_channel: Some(Some("nowhere".into())),
            ..SettingsPatch::default()
        })
        .unwrap();
    assert!(matches!(
        settings::save(&db, &next, 1, at(2)),
        Err(StoreError::MissingReference {
            field: "default_channel",
            ..
        })
    ));
}
