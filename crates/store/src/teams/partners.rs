//! Sales partners (outside resellers).

use chrono::{DateTime, Utc};
use sales_domain::teams::{SalesPartner, SalesPartnerId};

use super::records::{self, Record};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::Where;
use crate::StoreError;

impl Record for SalesPartner {
    const TABLE: &'static str = "sales_partners";
    const ENTITY: &'static str = "sales partner";
    const UNIQUE_FIELD: &'static str = "code";
    fn id_text(&self) -> String {
        self.id().to_string()
    }
    fn is_active(&self) -> bool {
        SalesPartner::is_active(self)
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![("code", Value::from(self.code()))]
    }
    fn unique_value(&self) -> String {
        self.code().to_owned()
    }
}

pub fn create(
    db: &impl Db,
    p: &SalesPartner,
    now: DateTime<Utc>,
) -> Result<Versioned<SalesPartner>, StoreError> {
    records::create(db, p, now)
}

pub fn get(db: &impl Db, id: SalesPartnerId) -> Result<Versioned<SalesPartner>, StoreError> {
    records::get(db, &id.to_string())
}

pub fn update(
    db: &impl Db,
    p: &SalesPartner,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<SalesPartner>, StoreError> {
    records::update(db, p, expected_version, now)
}

pub fn list(
    db: &impl Db,
    active: Option<bool>,
    page: &Page,
) -> Result<Listed<SalesPartner>, StoreError> {
    let mut w = Where::default();
    if let Some(a) = active {
        w.and("active = ?", [Value::from(a)]);
    }
    records::list(db, w, page, SalesPartnerId::parse)
}
