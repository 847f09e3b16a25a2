//! `/api/v1/receipts`: stock expected on a date (a purchase or production
//! order). Cancelling is `POST /{id}/deactivate`; the product and the
//! warehouse of a receipt never change (cancel it and create another).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::ids::{ProductId, ReceiptId, WarehouseId};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::availability::receipts::{self, Receipt, ReceiptFilter};
use serde::{Deserialize, Serialize};

use crate::check::product;
use crate::warehouses::by_id;
use crate::wire::{
    not_null, not_past, nullable, page, path_id, quantity, record, store_page, Sign,
};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    product_id: ProductId,
    warehouse_id: WarehouseId,
    quantity: Decimal,
    due_on: NaiveDate,
    #[serde(default)]
    reference: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    quantity: Option<Decimal>,
    #[serde(default, deserialize_with = "not_null")]
    due_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "nullable")]
    reference: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    product_id: Option<ProductId>,
    warehouse_id: Option<WarehouseId>,
    active: Option<bool>,
}

#[derive(Serialize)]
struct View {
    id: ReceiptId,
    product_id: ProductId,
    warehouse_id: WarehouseId,
    quantity: Decimal,
    due_on: NaiveDate,
    reference: Option<String>,
    active: bool,
}

fn view(r: &Receipt) -> View {
    View {
        id: r.id,
        product_id: r.product,
        warehouse_id: r.warehouse,
        quantity: r.quantity,
        due_on: r.due_on,
        reference: r.reference.clone(),
        active: r.active,
    }
}

fn reference(r: Option<String>) -> Result<Option<String>, ApiError> {
    sales_domain::catalog::optional_text("reference", r.as_deref(), sales_domain::catalog::NAME_MAX)
        .map_err(crate::warehouses::invalid)
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = ReceiptFilter {
        product: q.product_id,
        warehouse: q.warehouse_id,
        active: q.active,
    };
    let (items, next) = receipts::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, view, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, ReceiptId::parse)?;
    record(200, &receipts::get(&ctx.db, id)?, view, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let b: NewBody = parse_json(req)?;
    let r = Receipt {
        id: ReceiptId::new(),
        product: b.product_id,
        warehouse: b.warehouse_id,
        quantity: quantity("quantity", b.quantity, Sign::Positive)?,
        due_on: not_past("due_on", b.due_on, crate::today(ctx))?,
        reference: reference(b.reference)?,
        active: true,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            product(db, "product_id", r.product)?;
            by_id(db, "warehouse_id", r.warehouse)?;
            let stored = receipts::create(db, &r, ctx.now)?;
            record(
                201,
                &stored,
                view,
                Some(format!("/api/v1/receipts/{}", r.id)),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let id = path_id(id, ReceiptId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    let q = b
        .quantity
        .map(|q| quantity("quantity", q, Sign::Positive))
        .transpose()?;
    let due = b
        .due_on
        .map(|d| not_past("due_on", d, crate::today(ctx)))
        .transpose()?;
    let reference = b.reference.map(reference).transpose()?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let c = receipts::get(db, id)?.record;
            let next = Receipt {
                quantity: q.unwrap_or(c.quantity),
                due_on: due.unwrap_or(c.due_on),
                reference: reference.unwrap_or_else(|| c.reference.clone()),
                ..c
            };
            record(
                200,
                &receipts::update(db, &next, expected, ctx.now)?,
                view,
                None,
            )
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let id = path_id(id, ReceiptId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| record(200, &receipts::deactivate(db, id, ctx.now)?, view, None),
    )
}
