//! Sales people and the manager hierarchy.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sales_domain::ids::{PrincipalId, SalesPersonId};
use sales_domain::teams::SalesPerson;

use super::records::{self, Record};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::Where;
use crate::StoreError;

impl Record for SalesPerson {
    const TABLE: &'static str = "sales_people";
    const ENTITY: &'static str = "sales person";
    const UNIQUE_FIELD: &'static str = "principal_id";
    fn id_text(&self) -> String {
        self.id().to_string()
    }
    fn is_active(&self) -> bool {
        SalesPerson::is_active(self)
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("name", Value::from(self.name())),
            (
                "principal_id",
                Value::from(self.principal_id().map(|p| p.to_string())),
            ),
            (
                "manager_id",
                Value::from(self.manager_id().map(|p| p.to_string())),
            ),
        ]
    }
    fn unique_value(&self) -> String {
        self.principal_id()
            .map(|p| p.to_string())
            .unwrap_or_default()
    }
}

/// Filters for [`list`]; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonFilter {
    pub active: Option<bool>,
    /// Direct reports of this person.
    pub manager_id: Option<SalesPersonId>,
    pub principal_id: Option<PrincipalId>,
}

pub fn create(
    db: &impl Db,
    p: &SalesPerson,
    now: DateTime<Utc>,
) -> Result<Versioned<SalesPerson>, StoreError> {
    records::create(db, p, now)
}

pub fn get(db: &impl Db, id: SalesPersonId) -> Result<Versioned<SalesPerson>, StoreError> {
    records::get(db, &id.to_string())
}

pub fn update(
    db: &impl Db,
    p: &SalesPerson,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<SalesPerson>, StoreError> {
    records::update(db, p, expected_version, now)
}

pub fn list(
    db: &impl Db,
    filter: &PersonFilter,
    page: &Page,
) -> Result<Listed<SalesPerson>, StoreError> {
    let mut w = Where::default();
    if let Some(a) = filter.active {
        w.and("active = ?", [Value::from(a)]);
    }
    if let Some(m) = filter.manager_id {
        w.and("manager_id = ?", [Value::Text(m.to_string())]);
    }
    if let Some(p) = filter.principal_id {
        w.and("principal_id = ?", [Value::Text(p.to_string())]);
    }
    records::list(db, w, page, SalesPersonId::parse)
}

/// Every person's manager (inactive people included: the hierarchy is
/// checked over everyone).
pub fn managers(
    db: &impl Db,
) -> Result<BTreeMap<SalesPersonId, Option<SalesPersonId>>, StoreError> {
    let rows = db.execute("SELECT id, manager_id FROM sales_people", &[])?;
    rows.iter()
        .map(|r| {
            let id = r.text("id")?;
            let bad = |e: sales_domain::ids::IdError| StoreError::Corrupt {
                entity: "sales person",
                id: id.to_owned(),
                message: e.to_string(),
            };
            Ok((
                SalesPersonId::parse(id).map_err(bad)?,
                r.opt_text("manager_id")?
                    .map(SalesPersonId::parse)
                    .transpose()
                    .map_err(bad)?,
            ))
        })
        .collect()
}

/// The person an API-key principal acts as, if any.
pub fn by_principal(db: &impl Db, p: PrincipalId) -> Result<Option<SalesPerson>, StoreError> {
    let mut w = Where::default();
    w.and("principal_id = ?", [Value::Text(p.to_string())]);
    Ok(records::all(db, w)?.into_iter().next())
}

/// Every person (active or not).
pub fn all(db: &impl Db) -> Result<Vec<SalesPerson>, StoreError> {
    records::all(db, Where::default())
}
