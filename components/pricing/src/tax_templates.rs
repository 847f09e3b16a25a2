//! `/api/v1/tax-templates`. Before a write the template is checked with
//! every other active one: at most one default, and a channel or a customer
//! belongs to at most one template. A template assigned to `customers`
//! overrides the channel's for them; one with no lines exempts them.

use std::collections::BTreeSet;

use sales_domain::auth::Action;
use sales_domain::ids::{ChannelId, CustomerId};
use sales_domain::pricing::{
    PricingCatalog, PricingCatalogSpec, TaxMode, TaxRate, TaxTemplate, TaxTemplateId,
    TaxTemplateSpec,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::pricing::tax_templates::{self, TaxTemplateFilter};
use sales_store::Db;
use serde::Deserialize;

use crate::errors;
use crate::wire::{not_null, page, path_id, record, same, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    name: String,
    mode: TaxMode,
    lines: Vec<TaxRate>,
    #[serde(default)]
    channels: BTreeSet<ChannelId>,
    #[serde(default)]
    customers: BTreeSet<CustomerId>,
    #[serde(default)]
    is_default: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    mode: Option<TaxMode>,
    #[serde(default, deserialize_with = "not_null")]
    lines: Option<Vec<TaxRate>>,
    #[serde(default, deserialize_with = "not_null")]
    channels: Option<BTreeSet<ChannelId>>,
    #[serde(default, deserialize_with = "not_null")]
    customers: Option<BTreeSet<CustomerId>>,
    #[serde(default, deserialize_with = "not_null")]
    is_default: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    is_default: Option<bool>,
    q: Option<String>,
}

fn build(spec: TaxTemplateSpec) -> Result<TaxTemplate, ApiError> {
    let lines = spec.lines.clone();
    TaxTemplate::new(spec).map_err(|e| errors::tax(e, &lines))
}

/// Channels and customers must exist; the whole active set must stay
/// consistent.
fn check(db: &impl Db, template: &TaxTemplate) -> Result<(), ApiError> {
    for (n, customer) in template.customers().iter().enumerate() {
        if let Err(e) = sales_store::customers::get(db, *customer) {
            return Err(match e {
                sales_store::StoreError::NotFound { id, .. } => ApiError::new(
                    422,
                    "unknown_reference",
                    "A referenced record does not exist",
                    format!("customer {id} does not exist"),
                )
                .with_field(format!("customers[{n}]")),
                e => e.into(),
            });
        }
    }
    for (n, channel) in template.channels().iter().enumerate() {
        if let Err(e) = sales_store::channels::get(db, *channel) {
            return Err(match e {
                sales_store::StoreError::NotFound { id, .. } => ApiError::new(
                    422,
                    "unknown_reference",
                    "A referenced record does not exist",
                    format!("channel {id} does not exist"),
                )
                .with_field(format!("channels[{n}]")),
                e => e.into(),
            });
        }
    }
    let mut all: Vec<TaxTemplate> = tax_templates::all_active(db)?
        .into_iter()
        .filter(|t| t.id() != template.id())
        .collect();
    all.push(template.clone());
    PricingCatalog::new(PricingCatalogSpec {
        tax_templates: all,
        ..PricingCatalogSpec::default()
    })
    .map(|_| ())
    .map_err(errors::catalog)
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = TaxTemplateFilter {
        active: q.active,
        is_default: q.is_default,
        q: q.q,
    };
    let (items, next) = tax_templates::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, same, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, TaxTemplateId::parse)?;
    record(200, &tax_templates::get(&ctx.db, id)?, same, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let b: NewBody = parse_json(req)?;
    let template = build(TaxTemplateSpec {
        id: TaxTemplateId::new(),
        name: b.name,
        mode: b.mode,
        lines: b.lines,
        channels: b.channels,
        customers: b.customers,
        is_default: b.is_default,
    })?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check(db, &template)?;
            let stored = tax_templates::create(db, &template, ctx.now)?;
            record(
                201,
                &stored,
                same,
                Some(format!("/api/v1/tax-templates/{}", template.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, TaxTemplateId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let stored = tax_templates::get(db, id)?;
            let c = &stored.record.value;
            let next = build(TaxTemplateSpec {
                id,
                name: b.name.unwrap_or_else(|| c.name().to_owned()),
                mode: b.mode.unwrap_or(c.mode()),
                lines: b.lines.unwrap_or_else(|| c.lines().to_vec()),
                channels: b.channels.unwrap_or_else(|| c.channels().clone()),
                customers: b.customers.unwrap_or_else(|| c.customers().clone()),
                is_default: b.is_default.unwrap_or(c.is_default()),
            })?;
            if stored.record.active {
                check(db, &next)?;
            }
            record(
                200,
                &tax_templates::update(db, &next, expected, ctx.now)?,
                same,
                None,
            )
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WritePricing)?;
    let id = path_id(id, TaxTemplateId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            record(
                200,
                &tax_templates::deactivate(db, id, ctx.now)?,
                same,
                None,
            )
        },
    )
}
