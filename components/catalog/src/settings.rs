//! `/api/v1/settings`: the sales configuration.

use std::collections::BTreeMap;

use sales_domain::auth::Action;
use sales_domain::catalog::{ChannelDefaults, CreditCheck, SettingsPatch};
use sales_domain::money::RoundingMode;
use sales_domain::pricing::TaxRounding;
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::ApiRequest;
use sales_kit::ApiResult;
use sales_store::settings;
use serde::Deserialize;

use crate::wire::{invalid, not_null, nullable, record};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "nullable")]
    default_channel: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    quotation_validity_days: Option<u16>,
    #[serde(default, deserialize_with = "not_null")]
    rounding: Option<RoundingMode>,
    #[serde(default, deserialize_with = "not_null")]
    tax_rounding: Option<TaxRounding>,
    #[serde(default, deserialize_with = "not_null")]
    credit_check: Option<CreditCheck>,
    #[serde(default, deserialize_with = "not_null")]
    allow_order_from_expired_quotation: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    keep_quoted_rate: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    channel_defaults: Option<BTreeMap<String, ChannelDefaults>>,
}

pub fn get(ctx: &Ctx) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    record(200, &settings::get(&ctx.db)?, None)
}

pub fn update(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteSettings)?;
    let expected = if_match(req)?;
    let body: PatchBody = parse_json(req)?;
    let patch = SettingsPatch {
        default_channel: body.default_channel,
        quotation_validity_days: body.quotation_validity_days,
        rounding: body.rounding,
        tax_rounding: body.tax_rounding,
        credit_check: body.credit_check,
        allow_order_from_expired_quotation: body.allow_order_from_expired_quotation,
        keep_quoted_rate: body.keep_quoted_rate,
        channel_defaults: body.channel_defaults,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = settings::get(db)?;
            let next = current.record.patched(patch).map_err(invalid)?;
            record(200, &settings::save(db, &next, expected, ctx.now)?, None)
        },
    )
}
