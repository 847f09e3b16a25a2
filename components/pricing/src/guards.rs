//! `/api/v1/price-guards`: floor prices and minimum margins per product or
//! item group. A line below a guard is priced and flagged, never refused.

use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::money::Money;
use sales_domain::pricing::{GuardScope, PriceGuard, PriceGuardId, PriceGuardSpec};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::pricing::guards::{self, GuardFilter};
use sales_store::{Db, StoreError};
use serde::Deserialize;

use crate::errors;
use crate::wire::{not_null, nullable, page, path_id, record, same, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    scope: GuardScope,
    #[serde(default)]
    floor_price: Option<Money>,
    #[serde(default)]
    min_margin_percent: Option<Decimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    scope: Option<GuardScope>,
    #[serde(default, deserialize_with = "nullable")]
    floor_price: Option<Option<Money>>,
    #[serde(default, deserialize_with = "nullable")]
    min_margin_percent: Option<Option<Decimal>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    /// A product or item-group id.
    target_id: Option<String>,
}

fn build(spec: PriceGuardSpec) -> Result<PriceGuard, ApiError> {
    PriceGuard::new(spec).map_err(errors::guard)
}

/// The guarded product or item group must exist.
fn check_scope(db: &impl Db, scope: &GuardScope) -> Result<(), ApiError> {
    let found = match scope {
        GuardScope::Product(p) => sales_store::products::get(db, *p).map(|_| ()),
        GuardScope::ItemGroup(g) => sales_store::trees::get(db, *g).map(|_| ()),
    };
    match found {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound { id, .. }) => Err(StoreError::MissingReference {
            field: "scope.id",
            id,
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = GuardFilter {
        active: q.active,
        target_id: q.target_id,
    };
    let (items, next) = guards::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, same, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, PriceGuardId::parse)?;
    record(200, &guards::get(&ctx.db, id)?, same, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let b: NewBody = parse_json(req)?;
    let guard = build(PriceGuardSpec {
        id: PriceGuardId::new(),
        scope: b.scope,
        floor_price: b.floor_price,
        min_margin_percent: b.min_margin_percent,
    })?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check_scope(db, guard.scope())?;
            let stored = guards::create(db, &guard, ctx.now)?;
            record(
                201,
                &stored,
                same,
                Some(format!("/api/v1/price-guards/{}", guard.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, PriceGuardId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let c = guards::get(db, id)?.record.value;
            let next = build(PriceGuardSpec {
                id,
                scope: b.scope.unwrap_or_else(|| c.scope().clone()),
                floor_price: b.floor_price.unwrap_or(c.floor_price()),
                min_margin_percent: b.min_margin_percent.unwrap_or(c.min_margin_percent()),
            })?;
            check_scope(db, next.scope())?;
            record(
                200,
                &guards::update(db, &next, expected, ctx.now)?,
                same,
                None,
            )
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, PriceGuardId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| record(200, &guards::deactivate(db, id, ctx.now)?, same, None),
    )
}
