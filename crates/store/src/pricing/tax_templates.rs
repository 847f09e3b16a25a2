//! Tax templates. `is_default` is a column so the default is found without
//! reading every body; which channels a template claims stays in the body
//! (the component checks the whole active set with `PricingCatalog::new`
//! before a write, so two templates never claim one channel).

use chrono::{DateTime, Utc};
use sales_domain::pricing::{TaxTemplate, TaxTemplateId};

use super::records::{self, JsonRecord, Stored};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::{contains_pattern, Where};
use crate::StoreError;

impl JsonRecord for TaxTemplate {
    type Id = TaxTemplateId;
    const TABLE: &'static str = "tax_templates";
    const ENTITY: &'static str = "tax template";
    fn record_id(&self) -> TaxTemplateId {
        self.id()
    }
    fn parse_id(text: &str) -> Option<TaxTemplateId> {
        TaxTemplateId::parse(text).ok()
    }
    fn name(&self) -> &str {
        TaxTemplate::name(self)
    }
    fn extra(&self) -> Vec<(&'static str, Value)> {
        vec![("is_default", Value::from(self.is_default()))]
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxTemplateFilter {
    pub active: Option<bool>,
    pub is_default: Option<bool>,
    pub q: Option<String>,
}

pub fn create(
    db: &impl Db,
    template: &TaxTemplate,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<TaxTemplate>>, StoreError> {
    records::create(db, template, now)?;
    get(db, template.id())
}

pub fn get(db: &impl Db, id: TaxTemplateId) -> Result<Versioned<Stored<TaxTemplate>>, StoreError> {
    records::get(db, id)
}

pub fn list(
    db: &impl Db,
    filter: &TaxTemplateFilter,
    page: &Page,
) -> Result<Listed<Stored<TaxTemplate>>, StoreError> {
    let mut w = Where::default();
    if let Some(active) = filter.active {
        w.and("active = ?", [Value::from(active)]);
    }
    if let Some(d) = filter.is_default {
        w.and("is_default = ?", [Value::from(d)]);
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        w.and(
            "name LIKE ? ESCAPE '\\'",
            [Value::Text(contains_pattern(q))],
        );
    }
    records::list(db, w, page)
}

pub fn update(
    db: &impl Db,
    template: &TaxTemplate,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<TaxTemplate>>, StoreError> {
    records::update(db, template, expected_version, now)?;
    get(db, template.id())
}

pub fn deactivate(
    db: &impl Db,
    id: TaxTemplateId,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<TaxTemplate>>, StoreError> {
    records::deactivate(db, id, now)
}

/// Every active template (a handful: one per tax regime).
pub fn all_active(db: &impl Db) -> Result<Vec<TaxTemplate>, StoreError> {
    records::all_active(db, Where::default())
}
