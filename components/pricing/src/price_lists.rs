//! `/api/v1/price-lists` and `/api/v1/price-lists/{id}/items`.
//!
//! A list is created with its items (up to the 1 MiB body limit); larger
//! lists grow by `POST …/items` (upsert by product and unit) in batches, or
//! are replaced whole by `PUT …/items` with `If-Match`. Before any write the
//! list is checked with every other active list (`PricingCatalog::new`): a
//! derived list's base must be active, in the same currency, and form no
//! cycle.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::ids::{ChannelId, CustomerGroupId, CustomerId, PriceListId, ProductId};
use sales_domain::money::Currency;
use sales_domain::pricing::{
    Derivation, PriceList, PriceListItem, PriceListScope, PriceListSpec, PricingCatalog,
    PricingCatalogSpec, Uom,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::{parse_query, Page};
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::pricing::price_lists::{self, PriceListFilter};
use sales_store::Db;
use serde::{Deserialize, Serialize};

use crate::errors;
use crate::wire::{not_null, nullable, page, path_id, record, store_page};
use crate::Ctx;

/// One item on the wire.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    product_id: ProductId,
    uom: Uom,
    rate: Decimal,
}

impl From<ItemBody> for PriceListItem {
    fn from(b: ItemBody) -> PriceListItem {
        PriceListItem {
            product: b.product_id,
            uom: b.uom,
            rate: b.rate,
        }
    }
}

fn item_view(i: &PriceListItem) -> ItemBody {
    ItemBody {
        product_id: i.product,
        uom: i.uom.clone(),
        rate: i.rate,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    name: String,
    currency: Currency,
    #[serde(default)]
    customer_id: Option<CustomerId>,
    #[serde(default)]
    customer_group_id: Option<CustomerGroupId>,
    #[serde(default)]
    channel_id: Option<ChannelId>,
    #[serde(default)]
    valid_from: Option<NaiveDate>,
    #[serde(default)]
    valid_to: Option<NaiveDate>,
    #[serde(default)]
    base_price_list_id: Option<PriceListId>,
    #[serde(default)]
    adjustment_percent: Option<Decimal>,
    #[serde(default)]
    items: Vec<ItemBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    currency: Option<Currency>,
    #[serde(default, deserialize_with = "nullable")]
    customer_id: Option<Option<CustomerId>>,
    #[serde(default, deserialize_with = "nullable")]
    customer_group_id: Option<Option<CustomerGroupId>>,
    #[serde(default, deserialize_with = "nullable")]
    channel_id: Option<Option<ChannelId>>,
    #[serde(default, deserialize_with = "nullable")]
    valid_from: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    valid_to: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    base_price_list_id: Option<Option<PriceListId>>,
    #[serde(default, deserialize_with = "nullable")]
    adjustment_percent: Option<Option<Decimal>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsBody {
    items: Vec<ItemBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    currency: Option<Currency>,
    customer_id: Option<CustomerId>,
    customer_group_id: Option<CustomerGroupId>,
    channel_id: Option<ChannelId>,
    q: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    product_id: Option<ProductId>,
}

/// A list header on the wire.
#[derive(Serialize)]
struct View {
    id: PriceListId,
    name: String,
    currency: Currency,
    customer_id: Option<CustomerId>,
    customer_group_id: Option<CustomerGroupId>,
    channel_id: Option<ChannelId>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    base_price_list_id: Option<PriceListId>,
    adjustment_percent: Option<Decimal>,
}

fn view(l: &PriceList) -> View {
    let s = l.scope();
    View {
        id: l.id(),
        name: l.name().to_owned(),
        currency: l.currency(),
        customer_id: s.customer,
        customer_group_id: s.customer_group,
        channel_id: s.channel,
        valid_from: l.valid_from(),
        valid_to: l.valid_to(),
        base_price_list_id: l.derivation().map(|d| d.base),
        adjustment_percent: l.derivation().map(|d| d.adjustment_percent),
    }
}

fn derivation(
    base: Option<PriceListId>,
    adjustment: Option<Decimal>,
) -> Result<Option<Derivation>, ApiError> {
    match (base, adjustment) {
        (None, None) => Ok(None),
        (Some(base), Some(adjustment_percent)) => Ok(Some(Derivation {
            base,
            adjustment_percent,
        })),
        (Some(_), None) => Err(ApiError::missing_field("adjustment_percent")),
        (None, Some(_)) => Err(ApiError::missing_field("base_price_list_id")),
    }
}

fn build(spec: PriceListSpec) -> Result<PriceList, ApiError> {
    let items = spec.items.clone();
    PriceList::new(spec).map_err(|e| errors::price_list(e, &items))
}

/// Checks `list` against every other active list: base, currency, cycles.
fn check_with_others(db: &impl Db, list: &PriceList) -> Result<(), ApiError> {
    let mut lists: Vec<PriceList> = price_lists::active_headers(db)?
        .into_iter()
        .filter(|l| l.id() != list.id())
        .collect();
    lists.push(header_only(list)?);
    PricingCatalog::new(PricingCatalogSpec {
        price_lists: lists,
        ..PricingCatalogSpec::default()
    })
    .map(|_| ())
    .map_err(errors::catalog)
}

fn header_only(list: &PriceList) -> Result<PriceList, ApiError> {
    build(PriceListSpec {
        items: Vec::new(),
        ..spec_of(list)
    })
}

fn spec_of(l: &PriceList) -> PriceListSpec {
    PriceListSpec {
        id: l.id(),
        name: l.name().to_owned(),
        currency: l.currency(),
        scope: l.scope().clone(),
        valid_from: l.valid_from(),
        valid_to: l.valid_to(),
        derivation: l.derivation().cloned(),
        items: l.items().to_vec(),
    }
}

/// Scope references must exist.
fn check_references(db: &impl Db, scope: &PriceListScope) -> Result<(), ApiError> {
    if let Some(c) = scope.customer {
        exists(
            sales_store::customers::get(db, c).map(|_| ()),
            "customer_id",
        )?;
    }
    if let Some(g) = scope.customer_group {
        exists(
            sales_store::trees::get(db, g).map(|_| ()),
            "customer_group_id",
        )?;
    }
    if let Some(c) = scope.channel {
        exists(sales_store::channels::get(db, c).map(|_| ()), "channel_id")?;
    }
    Ok(())
}

fn exists(r: Result<(), sales_store::StoreError>, field: &'static str) -> Result<(), ApiError> {
    match r {
        Ok(()) => Ok(()),
        Err(sales_store::StoreError::NotFound { id, .. }) => {
            Err(sales_store::StoreError::MissingReference { field, id }.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn location(id: PriceListId) -> Option<String> {
    Some(format!("/api/v1/price-lists/{id}"))
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = PriceListFilter {
        active: q.active,
        currency: q.currency,
        customer_id: q.customer_id,
        customer_group_id: q.customer_group_id,
        channel_id: q.channel_id,
        q: q.q,
    };
    let (items, next) = price_lists::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, view, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, PriceListId::parse)?;
    record(200, &price_lists::get(&ctx.db, id)?, view, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let b: NewBody = parse_json(req)?;
    let list = build(PriceListSpec {
        id: PriceListId::new(),
        name: b.name,
        currency: b.currency,
        scope: PriceListScope {
            customer: b.customer_id,
            customer_group: b.customer_group_id,
            channel: b.channel_id,
        },
        valid_from: b.valid_from,
        valid_to: b.valid_to,
        derivation: derivation(b.base_price_list_id, b.adjustment_percent)?,
        items: b.items.into_iter().map(Into::into).collect(),
    })?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check_references(db, list.scope())?;
            check_with_others(db, &list)?;
            let stored = price_lists::create(db, &list, ctx.now)?;
            record(201, &stored, view, location(list.id()))
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, PriceListId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = price_lists::get(db, id)?.record.value;
            let mut spec = spec_of(&current);
            if let Some(name) = b.name {
                spec.name = name;
            }
            if let Some(c) = b.currency {
                spec.currency = c;
            }
            if let Some(c) = b.customer_id {
                spec.scope.customer = c;
            }
            if let Some(g) = b.customer_group_id {
                spec.scope.customer_group = g;
            }
            if let Some(c) = b.channel_id {
                spec.scope.channel = c;
            }
            if let Some(d) = b.valid_from {
                spec.valid_from = d;
            }
            if let Some(d) = b.valid_to {
                spec.valid_to = d;
            }
            let (base, adjustment) = (
                spec.derivation.as_ref().map(|d| d.base),
                spec.derivation.as_ref().map(|d| d.adjustment_percent),
            );
            spec.derivation = derivation(
                b.base_price_list_id.unwrap_or(base),
                b.adjustment_percent.unwrap_or(adjustment),
            )?;
            let next = build(spec)?;
            check_references(db, next.scope())?;
            check_with_others(db, &next)?;
            record(
                200,
                &price_lists::update(db, &next, expected, ctx.now)?,
                view,
                None,
            )
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, PriceListId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            price_lists::get(db, id)?;
            if price_lists::has_active_derivations(db, id)? {
                return Err(ApiError::conflict(
                    "price_list_in_use",
                    format!(
                        "active price lists derive from price list {id}; deactivate them first"
                    ),
                ));
            }
            record(200, &price_lists::deactivate(db, id, ctx.now)?, view, None)
        },
    )
}

pub fn list_items(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, PriceListId::parse)?;
    let q: ItemsQuery = parse_query(&req.query)?;
    price_lists::get(&ctx.db, id)?;
    let (items, next_cursor) =
        price_lists::items(&ctx.db, id, q.product_id, &store_page(q.limit, q.cursor)?)?;
    ApiResponse::json(
        200,
        &Page {
            items: items.iter().map(item_view).collect::<Vec<_>>(),
            next_cursor,
        },
    )
}

/// Validates `items` as items of `list` (units, rates, duplicates).
fn valid_items(list: &PriceList, items: Vec<ItemBody>) -> Result<Vec<PriceListItem>, ApiError> {
    let items: Vec<PriceListItem> = items.into_iter().map(Into::into).collect();
    let checked = build(PriceListSpec {
        items,
        ..spec_of(list)
    })?;
    Ok(checked.items().to_vec())
}

/// `PUT …/items`: replaces every item (needs `If-Match`).
pub fn replace_items(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, PriceListId::parse)?;
    let expected = if_match(req)?;
    let b: ItemsBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = price_lists::get(db, id)?.record.value;
            let items = valid_items(&current, b.items)?;
            let stored = price_lists::replace_items(db, id, &items, expected, ctx.now)?;
            record(200, &stored, view, None)
        },
    )
}

/// `POST …/items`: adds items, replacing the rate of any the list has.
pub fn upsert_items(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, PriceListId::parse)?;
    let b: ItemsBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = price_lists::get(db, id)?.record.value;
            let items = valid_items(&current, b.items)?;
            let stored = price_lists::upsert_items(db, id, &items, ctx.now)?;
            record(200, &stored, view, None)
        },
    )
}
