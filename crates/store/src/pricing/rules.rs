//! Pricing rules. Besides the JSON body, each rule has its targets in
//! `pricing_rule_targets` (its products, else its item groups) or
//! `any_item = 1`, and its coupon and schedule as columns, so the loader
//! reads only the rules that could touch a basket.

use chrono::{DateTime, Utc};
use sales_domain::pricing::{
    CouponCode, DiscountScheduleId, PricingRule, PricingRuleId, RuleAction,
};

use super::records::{self, JsonRecord, Stored};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::{atomically, contains_pattern, Where};
use crate::StoreError;

impl JsonRecord for PricingRule {
    type Id = PricingRuleId;
    const TABLE: &'static str = "pricing_rules";
    const ENTITY: &'static str = "pricing rule";
    fn record_id(&self) -> PricingRuleId {
        self.id()
    }
    fn parse_id(text: &str) -> Option<PricingRuleId> {
        PricingRuleId::parse(text).ok()
    }
    fn name(&self) -> &str {
        PricingRule::name(self)
    }
    fn extra(&self) -> Vec<(&'static str, Value)> {
        let c = self.conditions();
        vec![
            ("priority", Value::from(self.priority())),
            (
                "any_item",
                Value::from(c.products.is_empty() && c.item_groups.is_empty()),
            ),
            (
                "coupon",
                Value::from(c.coupon.as_ref().map(CouponCode::as_str)),
            ),
            (
                "schedule_id",
                Value::from(schedule_of(self).map(|s| s.to_string())),
            ),
        ]
    }
}

fn schedule_of(rule: &PricingRule) -> Option<DiscountScheduleId> {
    match rule.action() {
        RuleAction::Schedule { schedule } => Some(*schedule),
        _ => None,
    }
}

/// The ids the loader finds a rule by: its products, else its item groups
/// (the engine's own index order).
pub(crate) fn targets(rule: &PricingRule) -> Vec<String> {
    let c = rule.conditions();
    if !c.products.is_empty() {
        c.products.iter().map(ToString::to_string).collect()
    } else {
        c.item_groups.iter().map(ToString::to_string).collect()
    }
}

fn write_targets(db: &impl Db, rule: &PricingRule) -> Result<(), StoreError> {
    let id = rule.id().to_string();
    db.execute(
        "DELETE FROM pricing_rule_targets WHERE rule_id = ?",
        &[Value::from(&id)],
    )?;
    for target in targets(rule) {
        db.execute(
            "INSERT INTO pricing_rule_targets (target_id, rule_id) VALUES (?, ?)",
            &[Value::Text(target), Value::from(&id)],
        )?;
    }
    Ok(())
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFilter {
    pub active: Option<bool>,
    /// Rules that need this coupon.
    pub coupon: Option<CouponCode>,
    /// Rules that apply this discount schedule.
    pub schedule: Option<DiscountScheduleId>,
    /// Text anywhere in the name, ignoring ASCII case.
    pub q: Option<String>,
}

pub fn create(
    db: &impl Db,
    rule: &PricingRule,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PricingRule>>, StoreError> {
    atomically(db, || {
        records::create(db, rule, now)?;
        write_targets(db, rule)?;
        get(db, rule.id())
    })
}

pub fn get(db: &impl Db, id: PricingRuleId) -> Result<Versioned<Stored<PricingRule>>, StoreError> {
    records::get(db, id)
}

pub fn list(
    db: &impl Db,
    filter: &RuleFilter,
    page: &Page,
) -> Result<Listed<Stored<PricingRule>>, StoreError> {
    let mut w = Where::default();
    if let Some(active) = filter.active {
        w.and("active = ?", [Value::from(active)]);
    }
    if let Some(coupon) = &filter.coupon {
        w.and("coupon = ?", [Value::from(coupon.as_str())]);
    }
    if let Some(schedule) = filter.schedule {
        w.and("schedule_id = ?", [Value::Text(schedule.to_string())]);
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        w.and(
            "name LIKE ? ESCAPE '\\'",
            [Value::Text(contains_pattern(q))],
        );
    }
    records::list(db, w, page)
}

/// Stores `rule` if the row is still at `expected_version`.
pub fn update(
    db: &impl Db,
    rule: &PricingRule,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PricingRule>>, StoreError> {
    atomically(db, || {
        records::update(db, rule, expected_version, now)?;
        write_targets(db, rule)?;
        get(db, rule.id())
    })
}

pub fn deactivate(
    db: &impl Db,
    id: PricingRuleId,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PricingRule>>, StoreError> {
    records::deactivate(db, id, now)
}

/// Whether an active rule applies `schedule` (a schedule in use may not be
/// deactivated).
pub fn schedule_in_use(db: &impl Db, schedule: DiscountScheduleId) -> Result<bool, StoreError> {
    let rows = db.execute(
        "SELECT 1 AS one FROM pricing_rules WHERE schedule_id = ? AND active = 1 LIMIT 1",
        &[Value::Text(schedule.to_string())],
    )?;
    Ok(!rows.is_empty())
}
