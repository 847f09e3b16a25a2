//! `/api/v1/targets`: per person, team or territory, per month, quarter
//! or year, optionally per item group; every answer carries its
//! attainment computed from orders (`achieved`, `attainment` in percent,
//! `orders`). A person's targets are visible within the caller's
//! [`Scope`](crate::Scope) (others are 404, and left out of lists — a
//! list page may then hold fewer than `limit` items); team and territory
//! targets to every reader.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::ids::{SalesPersonId, TerritoryId};
use sales_domain::money::Currency;
use sales_domain::teams::{
    Period, PeriodKind, Target, TargetId, TargetInput, TargetSubject, TeamId,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::{parse_query, Page};
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::page::Versioned;
use sales_store::teams::targets::{self, TargetFilter};
use sales_store::Db;
use serde::Deserialize;

use crate::errors::{self, reference};
use crate::wire::{envelope, not_null, path_id, record_with, store_page};
use crate::{scope, Ctx, Scope};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetPatch {
    #[serde(default, deserialize_with = "not_null")]
    amount: Option<Decimal>,
    #[serde(default, deserialize_with = "not_null")]
    currency: Option<Currency>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    sales_person_id: Option<SalesPersonId>,
    team_id: Option<TeamId>,
    territory_id: Option<TerritoryId>,
    period: Option<PeriodKind>,
    period_start: Option<NaiveDate>,
}

fn visible(scope: &Scope, t: &Target) -> bool {
    match t.subject() {
        TargetSubject::SalesPerson(p) => scope.sees(p),
        TargetSubject::Team(_) | TargetSubject::Territory(_) => true,
    }
}

fn with_attainment(db: &impl Db, v: &Versioned<Target>) -> Result<serde_json::Value, ApiError> {
    let a = targets::attainment(db, &v.record)?;
    envelope(
        v,
        Some(serde_json::to_value(a).map_err(|e| ApiError::internal(e.to_string()))?),
    )
}

fn check(db: &impl Db, t: &Target) -> Result<(), ApiError> {
    match t.subject() {
        TargetSubject::SalesPerson(p) => {
            reference(sales_store::teams::people::get(db, p), "subject.id")?;
        }
        TargetSubject::Team(team) => {
            reference(sales_store::teams::sales_teams::get(db, team), "subject.id")?;
        }
        TargetSubject::Territory(territory) => {
            reference(sales_store::trees::get(db, territory), "subject.id")?;
        }
    }
    if let Some(g) = t.item_group_id() {
        reference(sales_store::trees::get(db, g), "item_group_id")?;
    }
    Ok(())
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: TargetQuery = parse_query(&req.query)?;
    let mut subjects = Vec::new();
    subjects.extend(q.sales_person_id.map(TargetSubject::SalesPerson));
    subjects.extend(q.team_id.map(TargetSubject::Team));
    subjects.extend(q.territory_id.map(TargetSubject::Territory));
    let period = match (q.period, q.period_start) {
        (Some(kind), Some(start)) => Some(
            Period::starting("period_start", kind, start)
                .map_err(|e| ApiError::invalid_query(e.field, e.message))?,
        ),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ApiError::invalid_query(
                "period_start",
                "give period and period_start together",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid_query(
                "period",
                "give period and period_start together",
            ))
        }
    };
    let filter = TargetFilter {
        subjects: (!subjects.is_empty()).then_some(subjects),
        period,
    };
    let scope = scope(&ctx.db, &ctx.principal)?;
    let (items, next_cursor) = targets::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    let items = items
        .iter()
        .filter(|v| visible(&scope, &v.record))
        .map(|v| with_attainment(&ctx.db, v))
        .collect::<Result<Vec<_>, _>>()?;
    ApiResponse::json(200, &Page { items, next_cursor })
}

fn visible_target(ctx: &Ctx, db: &impl Db, id: TargetId) -> Result<Versioned<Target>, ApiError> {
    let v = targets::get(db, id)?;
    if !visible(&scope(db, &ctx.principal)?, &v.record) {
        return Err(ApiError::not_found(format!("target {id} does not exist")));
    }
    Ok(v)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, TargetId::parse)?;
    let v = visible_target(ctx, &ctx.db, id)?;
    let a = targets::attainment(&ctx.db, &v.record)?;
    record_with(
        200,
        &v,
        Some(serde_json::to_value(a).map_err(|e| ApiError::internal(e.to_string()))?),
        None,
    )
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let b: TargetInput = parse_json(req)?;
    let target = Target::new(TargetId::new(), b).map_err(errors::invalid)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check(db, &target)?;
            let stored = targets::create(db, &target, ctx.now)?;
            let a = targets::attainment(db, &stored.record)?;
            record_with(
                201,
                &stored,
                Some(serde_json::to_value(a).map_err(|e| ApiError::internal(e.to_string()))?),
                Some(format!("/api/v1/targets/{}", target.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, TargetId::parse)?;
    let expected = if_match(req)?;
    let b: TargetPatch = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = targets::get(db, id)?.record;
            let mut input = current.to_input();
            input.amount = b.amount.unwrap_or(input.amount);
            input.currency = b.currency.unwrap_or(input.currency);
            let next = Target::new(id, input).map_err(errors::invalid)?;
            let stored = targets::update(db, &next, expected, ctx.now)?;
            let a = targets::attainment(db, &stored.record)?;
            record_with(
                200,
                &stored,
                Some(serde_json::to_value(a).map_err(|e| ApiError::internal(e.to_string()))?),
                None,
            )
        },
    )
}
