//! `/api/v1/channels`: where and how the business sells. A channel's
//! behaviour (quotation required, paid on order, fulfilled on the spot,
//! credit check) is configuration here, never a code path per channel name.

use sales_domain::auth::Action;
use sales_domain::catalog::{
    Channel, ChannelKind, ChannelMode, ChannelPatch, CreditCheck, NewChannel, PaymentTerms, TaxMode,
};
use sales_domain::ids::ChannelId;
use sales_domain::money::Currency;
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiRequest, ApiResult};
use sales_store::channels::{self, ChannelFilter};
use serde::Deserialize;

use crate::wire::{invalid, not_null, nullable, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewChannelBody {
    code: String,
    name: String,
    kind: ChannelKind,
    mode: ChannelMode,
    currency: Currency,
    #[serde(default)]
    default_price_list_id: Option<String>,
    tax_mode: TaxMode,
    #[serde(default)]
    warehouses: Vec<String>,
    #[serde(default)]
    quotation_required: bool,
    #[serde(default)]
    approval_policy_id: Option<String>,
    #[serde(default)]
    payment_terms: Option<PaymentTerms>,
    #[serde(default)]
    credit_check: Option<CreditCheck>,
    #[serde(default)]
    paid_on_order: bool,
    #[serde(default)]
    fulfil_on_order: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    code: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    kind: Option<ChannelKind>,
    #[serde(default, deserialize_with = "not_null")]
    mode: Option<ChannelMode>,
    #[serde(default, deserialize_with = "not_null")]
    currency: Option<Currency>,
    #[serde(default, deserialize_with = "nullable")]
    default_price_list_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    tax_mode: Option<TaxMode>,
    #[serde(default, deserialize_with = "not_null")]
    warehouses: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    quotation_required: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    approval_policy_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    payment_terms: Option<Option<PaymentTerms>>,
    #[serde(default, deserialize_with = "nullable")]
    credit_check: Option<Option<CreditCheck>>,
    #[serde(default, deserialize_with = "not_null")]
    paid_on_order: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    fulfil_on_order: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    code: Option<String>,
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = ChannelFilter {
        code: q.code,
        active: q.active,
    };
    let (items, next) = channels::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, ChannelId::parse)?;
    record(200, &channels::get(&ctx.db, id)?, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteCatalogStructure)?;
    let b: NewChannelBody = parse_json(req)?;
    let new = NewChannel {
        code: b.code,
        name: b.name,
        kind: b.kind,
        mode: b.mode,
        currency: b.currency,
        default_price_list_id: b.default_price_list_id,
        tax_mode: b.tax_mode,
        warehouses: b.warehouses,
        quotation_required: b.quotation_required,
        approval_policy_id: b.approval_policy_id,
        payment_terms: b.payment_terms,
        credit_check: b.credit_check,
        paid_on_order: b.paid_on_order,
        fulfil_on_order: b.fulfil_on_order,
    };
    let channel = Channel::create(ChannelId::new(), new).map_err(invalid)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let stored = channels::create(db, &channel, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/channels/{}", channel.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteCatalogStructure)?;
    let id = path_id(id, ChannelId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    let patch = ChannelPatch {
        code: b.code,
        name: b.name,
        kind: b.kind,
        mode: b.mode,
        currency: b.currency,
        default_price_list_id: b.default_price_list_id,
        tax_mode: b.tax_mode,
        warehouses: b.warehouses,
        quotation_required: b.quotation_required,
        approval_policy_id: b.approval_policy_id,
        payment_terms: b.payment_terms,
        credit_check: b.credit_check,
        paid_on_order: b.paid_on_order,
        fulfil_on_order: b.fulfil_on_order,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = channels::get(db, id)?;
            let next = current.record.patched(patch).map_err(invalid)?;
            record(200, &channels::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteCatalogStructure)?;
    let id = path_id(id, ChannelId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| record(200, &channels::deactivate(db, id, ctx.now)?, None),
    )
}
