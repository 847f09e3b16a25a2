//! `/api/v1/products`.

use sales_domain::auth::Action;
use sales_domain::catalog::{ExternalIds, NewProduct, Product, ProductKind, ProductPatch};
use sales_domain::ids::{ItemGroupId, ProductId};
use sales_domain::money::Money;
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiRequest, ApiResult};
use sales_store::products::{self, ProductFilter};
use serde::Deserialize;

use crate::wire::{invalid, not_null, nullable, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProductBody {
    sku: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    item_group_id: Option<ItemGroupId>,
    uom: String,
    kind: ProductKind,
    standard_cost: Money,
    #[serde(default)]
    lead_time_days: u16,
    #[serde(default)]
    external_ids: Option<ExternalIds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    sku: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    item_group_id: Option<Option<ItemGroupId>>,
    #[serde(default, deserialize_with = "not_null")]
    uom: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    kind: Option<ProductKind>,
    #[serde(default, deserialize_with = "not_null")]
    standard_cost: Option<Money>,
    #[serde(default, deserialize_with = "not_null")]
    lead_time_days: Option<u16>,
    #[serde(default, deserialize_with = "not_null")]
    external_ids: Option<ExternalIds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    item_group_id: Option<ItemGroupId>,
    kind: Option<ProductKind>,
    sku: Option<String>,
    q: Option<String>,
    external_source: Option<String>,
    external_id: Option<String>,
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = ProductFilter {
        item_group_id: q.item_group_id,
        kind: q.kind,
        active: q.active,
        sku: q.sku,
        q: q.q,
        external_source: q.external_source,
        external_id: q.external_id,
    };
    let (items, next) = products::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, ProductId::parse)?;
    record(200, &products::get(&ctx.db, id)?, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteProducts)?;
    let b: NewProductBody = parse_json(req)?;
    let new = NewProduct {
        sku: b.sku,
        name: b.name,
        description: b.description,
        item_group_id: b.item_group_id,
        uom: b.uom,
        kind: b.kind,
        standard_cost: b.standard_cost,
        lead_time_days: b.lead_time_days,
        external_ids: b.external_ids.unwrap_or_default(),
    };
    let product = Product::create(ProductId::new(), new).map_err(invalid)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let stored = products::create(db, &product, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/products/{}", product.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteProducts)?;
    let id = path_id(id, ProductId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    let patch = ProductPatch {
        sku: b.sku,
        name: b.name,
        description: b.description,
        item_group_id: b.item_group_id,
        uom: b.uom,
        kind: b.kind,
        standard_cost: b.standard_cost,
        lead_time_days: b.lead_time_days,
        external_ids: b.external_ids,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = products::get(db, id)?;
            let next = current.record.patched(patch).map_err(invalid)?;
            record(200, &products::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteProducts)?;
    let id = path_id(id, ProductId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| record(200, &products::deactivate(db, id, ctx.now)?, None),
    )
}
