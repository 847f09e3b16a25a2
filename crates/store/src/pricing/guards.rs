//! Price guards, with their product or item group as an indexed column.

use chrono::{DateTime, Utc};
use sales_domain::pricing::{GuardScope, PriceGuard, PriceGuardId};

use super::records::{self, JsonRecord, Stored};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::Where;
use crate::StoreError;

impl JsonRecord for PriceGuard {
    type Id = PriceGuardId;
    const TABLE: &'static str = "price_guards";
    const ENTITY: &'static str = "price guard";
    fn record_id(&self) -> PriceGuardId {
        self.id()
    }
    fn parse_id(text: &str) -> Option<PriceGuardId> {
        PriceGuardId::parse(text).ok()
    }
    /// Guards have no name of their own; the column holds the scope kind.
    fn name(&self) -> &str {
        match self.scope() {
            GuardScope::Product(_) => "product",
            GuardScope::ItemGroup(_) => "item_group",
        }
    }
    fn extra(&self) -> Vec<(&'static str, Value)> {
        vec![("target_id", Value::Text(target(self)))]
    }
}

fn target(guard: &PriceGuard) -> String {
    match guard.scope() {
        GuardScope::Product(p) => p.to_string(),
        GuardScope::ItemGroup(g) => g.to_string(),
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardFilter {
    pub active: Option<bool>,
    /// Guards of this product or item group id.
    pub target_id: Option<String>,
}

pub fn create(
    db: &impl Db,
    guard: &PriceGuard,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PriceGuard>>, StoreError> {
    records::create(db, guard, now)?;
    get(db, guard.id())
}

pub fn get(db: &impl Db, id: PriceGuardId) -> Result<Versioned<Stored<PriceGuard>>, StoreError> {
    records::get(db, id)
}

pub fn list(
    db: &impl Db,
    filter: &GuardFilter,
    page: &Page,
) -> Result<Listed<Stored<PriceGuard>>, StoreError> {
    let mut w = Where::default();
    if let Some(active) = filter.active {
        w.and("active = ?", [Value::from(active)]);
    }
    if let Some(t) = &filter.target_id {
        w.and("target_id = ?", [Value::from(t)]);
    }
    records::list(db, w, page)
}

pub fn update(
    db: &impl Db,
    guard: &PriceGuard,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PriceGuard>>, StoreError> {
    records::update(db, guard, expected_version, now)?;
    get(db, guard.id())
}

pub fn deactivate(
    db: &impl Db,
    id: PriceGuardId,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PriceGuard>>, StoreError> {
    records::deactivate(db, id, now)
}

/// Every active guard with its target id, in id order (for the pricing
/// snapshot).
pub(crate) fn all_active_with_targets(
    db: &impl Db,
) -> Result<Vec<(String, PriceGuard)>, StoreError> {
    let rows = db.execute(
        "SELECT id, body, target_id FROM price_guards WHERE active = 1 ORDER BY id",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            let guard = records::decode_body::<PriceGuard>(&row)?;
            Ok((row.text("target_id")?.to_owned(), guard))
        })
        .collect()
}
