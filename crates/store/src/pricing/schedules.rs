//! Discount schedules (tiers a pricing rule's `schedule` action reads).

use chrono::{DateTime, Utc};
use sales_domain::pricing::{DiscountSchedule, DiscountScheduleId};

use super::records::{self, JsonRecord, Stored};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::{contains_pattern, Where};
use crate::StoreError;

impl JsonRecord for DiscountSchedule {
    type Id = DiscountScheduleId;
    const TABLE: &'static str = "discount_schedules";
    const ENTITY: &'static str = "discount schedule";
    fn record_id(&self) -> DiscountScheduleId {
        self.id()
    }
    fn parse_id(text: &str) -> Option<DiscountScheduleId> {
        DiscountScheduleId::parse(text).ok()
    }
    fn name(&self) -> &str {
        DiscountSchedule::name(self)
    }
    fn extra(&self) -> Vec<(&'static str, Value)> {
        Vec::new()
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleFilter {
    pub active: Option<bool>,
    pub q: Option<String>,
}

pub fn create(
    db: &impl Db,
    schedule: &DiscountSchedule,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<DiscountSchedule>>, StoreError> {
    records::create(db, schedule, now)?;
    get(db, schedule.id())
}

pub fn get(
    db: &impl Db,
    id: DiscountScheduleId,
) -> Result<Versioned<Stored<DiscountSchedule>>, StoreError> {
    records::get(db, id)
}

pub fn list(
    db: &impl Db,
    filter: &ScheduleFilter,
    page: &Page,
) -> Result<Listed<Stored<DiscountSchedule>>, StoreError> {
    let mut w = Where::default();
    if let Some(active) = filter.active {
        w.and("active = ?", [Value::from(active)]);
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
    schedule: &DiscountSchedule,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<DiscountSchedule>>, StoreError> {
    records::update(db, schedule, expected_version, now)?;
    get(db, schedule.id())
}

pub fn deactivate(
    db: &impl Db,
    id: DiscountScheduleId,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<DiscountSchedule>>, StoreError> {
    records::deactivate(db, id, now)
}

/// Whether `id` is an active schedule (a rule may only use an active one).
pub fn is_active(db: &impl Db, id: DiscountScheduleId) -> Result<bool, StoreError> {
    let rows = db.execute(
        "SELECT 1 AS one FROM discount_schedules WHERE id = ? AND active = 1",
        &[Value::Text(id.to_string())],
    )?;
    Ok(!rows.is_empty())
}
