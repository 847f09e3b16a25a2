//! `/api/v1/commission-plans`: who is paid, at which rates (by item group
//! and channel), with which tiers, cap and accrual setting, between which
//! dates. Admins only write them (`ManageCommissions`); anyone who reads
//! the organisation may read them. Two active plans of the same
//! beneficiary and currency may not cover the same day (409
//! `plan_overlap` on `effective_from`).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::teams::{
    AccrueOn, Beneficiary, CommissionPlan, CommissionPlanId, CommissionPlanInput, PeriodKind,
    RateRule, Tier,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::teams::commissions::plans;
use sales_store::{Db, StoreError};
use serde::Deserialize;

use crate::errors::{self, reference};
use crate::wire::{not_null, nullable, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanPatch {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    effective_from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "nullable")]
    effective_to: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "not_null")]
    accrue_on: Option<AccrueOn>,
    #[serde(default, deserialize_with = "not_null")]
    default_rate: Option<Decimal>,
    #[serde(default, deserialize_with = "not_null")]
    rates: Option<Vec<RateRule>>,
    #[serde(default, deserialize_with = "not_null")]
    tiers: Option<Vec<Tier>>,
    #[serde(default, deserialize_with = "not_null")]
    tier_period: Option<PeriodKind>,
    #[serde(default, deserialize_with = "nullable")]
    cap: Option<Option<Decimal>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    sales_person_id: Option<sales_domain::ids::SalesPersonId>,
    sales_partner_id: Option<sales_domain::teams::SalesPartnerId>,
}

/// The beneficiary, item groups and channels exist; no overlap.
fn check(db: &impl Db, plan: &CommissionPlan) -> Result<(), ApiError> {
    match plan.beneficiary() {
        Beneficiary::SalesPerson(p) => {
            reference(sales_store::teams::people::get(db, p), "beneficiary.id")?;
        }
        Beneficiary::SalesPartner(p) => {
            reference(sales_store::teams::partners::get(db, p), "beneficiary.id")?;
        }
    }
    for (i, r) in plan.input().rates.iter().enumerate() {
        let missing = |what: &str, id: String, leaf: &str| {
            ApiError::new(
                422,
                "unknown_reference",
                "A referenced record does not exist",
                format!("{what} {id} does not exist"),
            )
            .with_field(format!("rates[{i}].{leaf}"))
        };
        if let Some(g) = r.item_group_id {
            match sales_store::trees::get(db, g) {
                Err(StoreError::NotFound { id, .. }) => {
                    return Err(missing("item group", id, "item_group_id"))
                }
                other => {
                    other?;
                }
            }
        }
        if let Some(c) = r.channel_id {
            match sales_store::channels::get(db, c) {
                Err(StoreError::NotFound { id, .. }) => {
                    return Err(missing("channel", id, "channel_id"))
                }
                other => {
                    other?;
                }
            }
        }
    }
    plan.check_overlap(&plans::of(db, plan.beneficiary())?)
        .map_err(errors::teams)
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: PlanQuery = parse_query(&req.query)?;
    let beneficiary = match (q.sales_person_id, q.sales_partner_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_query(
                "sales_partner_id",
                "filter by a sales person or a sales partner, not both",
            ))
        }
        (Some(p), None) => Some(Beneficiary::SalesPerson(p)),
        (None, Some(p)) => Some(Beneficiary::SalesPartner(p)),
        (None, None) => None,
    };
    let (items, next) = plans::list(
        &ctx.db,
        beneficiary,
        q.active,
        &store_page(q.limit, q.cursor)?,
    )?;
    page(&items, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, CommissionPlanId::parse)?;
    record(200, &plans::get(&ctx.db, id)?, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageCommissions)?;
    let b: CommissionPlanInput = parse_json(req)?;
    let plan =
        CommissionPlan::from_parts(CommissionPlanId::new(), b, true).map_err(errors::teams)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check(db, &plan)?;
            let stored = plans::create(db, &plan, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/commission-plans/{}", plan.id())),
            )
        },
    )
}

/// Changes a plan. What was booked under it stays; the next recalculation
/// of an order (its next event, or `POST /commissions/recalculate`) books
/// the difference the new terms make.
pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageCommissions)?;
    let id = path_id(id, CommissionPlanId::parse)?;
    let expected = if_match(req)?;
    let b: PlanPatch = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = plans::get(db, id)?.record;
            let cur = current.input().clone();
            let next = CommissionPlan::from_parts(
                id,
                CommissionPlanInput {
                    name: b.name.unwrap_or(cur.name),
                    beneficiary: cur.beneficiary,
                    currency: cur.currency,
                    effective_from: b.effective_from.unwrap_or(cur.effective_from),
                    effective_to: b.effective_to.unwrap_or(cur.effective_to),
                    accrue_on: b.accrue_on.unwrap_or(cur.accrue_on),
                    default_rate: b.default_rate.unwrap_or(cur.default_rate),
                    rates: b.rates.unwrap_or(cur.rates),
                    tiers: b.tiers.unwrap_or(cur.tiers),
                    tier_period: b.tier_period.unwrap_or(cur.tier_period),
                    cap: b.cap.unwrap_or(cur.cap),
                },
                current.is_active(),
            )
            .map_err(errors::teams)?;
            check(db, &next)?;
            record(200, &plans::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageCommissions)?;
    let id = path_id(id, CommissionPlanId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = plans::get(db, id)?;
            if !current.record.is_active() {
                return record(200, &current, None);
            }
            let next = current.record.with_active(false);
            record(
                200,
                &plans::update(db, &next, current.version, ctx.now)?,
                None,
            )
        },
    )
}
