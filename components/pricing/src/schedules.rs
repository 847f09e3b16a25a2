//! `/api/v1/discount-schedules`. A schedule an active rule applies cannot
//! be deactivated.

use chrono::NaiveDate;
use sales_domain::auth::Action;
use sales_domain::money::Currency;
use sales_domain::pricing::{
    DiscountSchedule, DiscountScheduleId, DiscountScheduleSpec, Tier, TierBasis, TierKind,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::pricing::rules;
use sales_store::pricing::schedules::{self, ScheduleFilter};
use serde::Deserialize;

use crate::errors;
use crate::wire::{not_null, nullable, page, path_id, record, same, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    name: String,
    kind: TierKind,
    basis: TierBasis,
    #[serde(default)]
    currency: Option<Currency>,
    tiers: Vec<Tier>,
    #[serde(default)]
    valid_from: Option<NaiveDate>,
    #[serde(default)]
    valid_to: Option<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    kind: Option<TierKind>,
    #[serde(default, deserialize_with = "not_null")]
    basis: Option<TierBasis>,
    #[serde(default, deserialize_with = "nullable")]
    currency: Option<Option<Currency>>,
    #[serde(default, deserialize_with = "not_null")]
    tiers: Option<Vec<Tier>>,
    #[serde(default, deserialize_with = "nullable")]
    valid_from: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    valid_to: Option<Option<NaiveDate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    q: Option<String>,
}

fn build(spec: DiscountScheduleSpec) -> Result<DiscountSchedule, ApiError> {
    DiscountSchedule::new(spec).map_err(errors::schedule)
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = ScheduleFilter {
        active: q.active,
        q: q.q,
    };
    let (items, next) = schedules::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, same, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, DiscountScheduleId::parse)?;
    record(200, &schedules::get(&ctx.db, id)?, same, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let b: NewBody = parse_json(req)?;
    let schedule = build(DiscountScheduleSpec {
        id: DiscountScheduleId::new(),
        name: b.name,
        kind: b.kind,
        basis: b.basis,
        currency: b.currency,
        tiers: b.tiers,
        valid_from: b.valid_from,
        valid_to: b.valid_to,
    })?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let stored = schedules::create(db, &schedule, ctx.now)?;
            record(
                201,
                &stored,
                same,
                Some(format!("/api/v1/discount-schedules/{}", schedule.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, DiscountScheduleId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let c = schedules::get(db, id)?.record.value;
            let next = build(DiscountScheduleSpec {
                id,
                name: b.name.unwrap_or_else(|| c.name().to_owned()),
                kind: b.kind.unwrap_or(c.kind()),
                basis: b.basis.unwrap_or(c.basis()),
                currency: b.currency.unwrap_or(c.currency()),
                tiers: b.tiers.unwrap_or_else(|| c.tiers().to_vec()),
                valid_from: b.valid_from.unwrap_or(c.valid_from()),
                valid_to: b.valid_to.unwrap_or(c.valid_to()),
            })?;
            record(
                200,
                &schedules::update(db, &next, expected, ctx.now)?,
                same,
                None,
            )
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, DiscountScheduleId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            schedules::get(db, id)?;
            if rules::schedule_in_use(db, id)? {
                return Err(ApiError::conflict(
                "schedule_in_use",
                format!("active pricing rules apply discount schedule {id}; change or deactivate them first"),
            ));
            }
            record(200, &schedules::deactivate(db, id, ctx.now)?, same, None)
        },
    )
}
