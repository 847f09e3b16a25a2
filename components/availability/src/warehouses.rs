//! `/api/v1/warehouses`: where stock is held. Channels list warehouses by
//! `code`; a check or a reservation maps those codes to ids here.

use sales_domain::auth::Action;
use sales_domain::availability::{NewWarehouse, Warehouse};
use sales_domain::catalog::ValidationError;
use sales_domain::ids::WarehouseId;
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::availability::warehouses::{self, WarehouseFilter};
use sales_store::Db;
use serde::Deserialize;

use crate::wire::{not_null, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    code: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    code: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    code: Option<String>,
    active: Option<bool>,
}

pub(crate) fn invalid(e: ValidationError) -> ApiError {
    ApiError::invalid_field(e.field, e.message)
}

/// The warehouse a code names, active, or a 422 naming `field`.
pub(crate) fn by_code(db: &impl Db, field: &str, code: &str) -> Result<Warehouse, ApiError> {
    match warehouses::find_by_code(db, code)? {
        Some(w) if w.record.is_active() => Ok(w.record),
        Some(_) => Err(ApiError::new(
            422,
            "unknown_reference",
            "A referenced record does not exist",
            format!("warehouse {code:?} is inactive"),
        )
        .with_field(field)),
        None => Err(ApiError::new(
            422,
            "unknown_reference",
            "A referenced record does not exist",
            format!("no warehouse has code {code:?}"),
        )
        .with_field(field)),
    }
}

/// The warehouse an id names, active, or a 422 naming `field`.
pub(crate) fn by_id(db: &impl Db, field: &str, id: WarehouseId) -> Result<Warehouse, ApiError> {
    match warehouses::get(db, id) {
        Ok(w) if w.record.is_active() => Ok(w.record),
        Ok(_) => Err(ApiError::new(
            422,
            "unknown_reference",
            "A referenced record does not exist",
            format!("warehouse {id} is inactive"),
        )
        .with_field(field)),
        Err(sales_store::StoreError::NotFound { .. }) => Err(ApiError::new(
            422,
            "unknown_reference",
            "A referenced record does not exist",
            format!("warehouse {id} does not exist"),
        )
        .with_field(field)),
        Err(e) => Err(e.into()),
    }
}

fn same(w: &Warehouse) -> Warehouse {
    w.clone()
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = WarehouseFilter {
        code: q.code,
        active: q.active,
    };
    let (items, next) = warehouses::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, same, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, WarehouseId::parse)?;
    record(200, &warehouses::get(&ctx.db, id)?, same, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let b: NewBody = parse_json(req)?;
    let w = Warehouse::new(
        WarehouseId::new(),
        NewWarehouse {
            code: b.code,
            name: b.name,
        },
    )
    .map_err(invalid)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let stored = warehouses::create(db, &w, ctx.now)?;
            record(
                201,
                &stored,
                same,
                Some(format!("/api/v1/warehouses/{}", w.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let id = path_id(id, WarehouseId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let c = warehouses::get(db, id)?.record;
            let next = Warehouse::from_parts(
                id,
                NewWarehouse {
                    code: b.code.unwrap_or_else(|| c.code().to_owned()),
                    name: b.name.unwrap_or_else(|| c.name().to_owned()),
                },
                c.is_active(),
            )
            .map_err(invalid)?;
            record(
                200,
                &warehouses::update(db, &next, expected, ctx.now)?,
                same,
                None,
            )
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let id = path_id(id, WarehouseId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| record(200, &warehouses::deactivate(db, id, ctx.now)?, same, None),
    )
}
