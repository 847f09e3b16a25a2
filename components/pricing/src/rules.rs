//! `/api/v1/pricing-rules`. A rule that applies a discount schedule needs
//! that schedule to exist and be active.

use sales_domain::auth::Action;
use sales_domain::pricing::{
    CouponCode, DiscountScheduleId, PricingRule, PricingRuleId, PricingRuleSpec, RuleAction,
    RuleConditions, Stacking,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::pricing::rules::{self, RuleFilter};
use sales_store::pricing::schedules;
use sales_store::Db;
use serde::Deserialize;

use crate::errors;
use crate::wire::{not_null, page, path_id, record, same, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    name: String,
    #[serde(default)]
    priority: u32,
    stacking: Stacking,
    #[serde(default)]
    conditions: RuleConditions,
    action: RuleAction,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    priority: Option<u32>,
    #[serde(default, deserialize_with = "not_null")]
    stacking: Option<Stacking>,
    #[serde(default, deserialize_with = "not_null")]
    conditions: Option<RuleConditions>,
    #[serde(default, deserialize_with = "not_null")]
    action: Option<RuleAction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    coupon: Option<String>,
    schedule_id: Option<DiscountScheduleId>,
    q: Option<String>,
}

fn build(spec: PricingRuleSpec) -> Result<PricingRule, ApiError> {
    PricingRule::new(spec).map_err(errors::rule)
}

fn check_schedule(db: &impl Db, rule: &PricingRule) -> Result<(), ApiError> {
    if let RuleAction::Schedule { schedule } = rule.action() {
        if !schedules::is_active(db, *schedule)? {
            return Err(errors::catalog(
                sales_domain::pricing::CatalogError::UnknownSchedule {
                    rule: rule.id(),
                    schedule: *schedule,
                },
            ));
        }
    }
    Ok(())
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let coupon = q
        .coupon
        .as_deref()
        .map(CouponCode::new)
        .transpose()
        .map_err(|e| ApiError::invalid_query("coupon", e.to_string()))?;
    let filter = RuleFilter {
        active: q.active,
        coupon,
        schedule: q.schedule_id,
        q: q.q,
    };
    let (items, next) = rules::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, same, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, PricingRuleId::parse)?;
    record(200, &rules::get(&ctx.db, id)?, same, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let b: NewBody = parse_json(req)?;
    let rule = build(PricingRuleSpec {
        id: PricingRuleId::new(),
        name: b.name,
        priority: b.priority,
        stacking: b.stacking,
        conditions: b.conditions,
        action: b.action,
    })?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check_schedule(db, &rule)?;
            let stored = rules::create(db, &rule, ctx.now)?;
            record(
                201,
                &stored,
                same,
                Some(format!("/api/v1/pricing-rules/{}", rule.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, PricingRuleId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = rules::get(db, id)?.record.value;
            let next = build(PricingRuleSpec {
                id,
                name: b.name.unwrap_or_else(|| current.name().to_owned()),
                priority: b.priority.unwrap_or(current.priority()),
                stacking: b.stacking.unwrap_or(current.stacking()),
                conditions: b.conditions.unwrap_or_else(|| current.conditions().clone()),
                action: b.action.unwrap_or_else(|| current.action().clone()),
            })?;
            check_schedule(db, &next)?;
            record(
                200,
                &rules::update(db, &next, expected, ctx.now)?,
                same,
                None,
            )
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, PricingRuleId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| record(200, &rules::deactivate(db, id, ctx.now)?, same, None),
    )
}
