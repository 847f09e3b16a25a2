//! `/api/v1/shop-connections`: several shops per platform. Each is the
//! shop as the platform's header names it (`shop`: a Shopify shop's
//! `X-Shopify-Shop-Domain`, a WooCommerce site's `X-WC-Webhook-Source`),
//! a `code` (its system name is `{platform}.{code}`), the secret the shop
//! signs its webhooks with — **write-only**: accepted on create and patch,
//! never shown (`secret_set` says one is there), as Odoo's and ERPNext's
//! shop connectors keep API secrets — and the channel its orders arrive
//! on (the channel decides warehouse, prices, paid on order). The Spin
//! variables `{platform}_webhook_secret` / `{platform}_channel` stay the
//! platform's default shop for every delivery from a shop not connected
//! here.

use sales_domain::auth::Action;
use sales_domain::ids::ShopConnectionId;
use sales_domain::integrations::shop::{check_shop_code, shop_system, Platform};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::integrations::connections::{self as store, ShopConnection};
use sales_store::Db;
use serde::Deserialize;

use crate::wire::{envelope, invalid, not_null, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    platform: String,
    shop: String,
    code: String,
    secret: String,
    channel_code: String,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    shop: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    code: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    secret: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    channel_code: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The connection without its secret.
fn view(c: &ShopConnection) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "platform": c.platform.source(),
        "shop": c.shop,
        "code": c.code,
        "system": shop_system(c.platform, &c.code),
        "channel_code": c.channel_code,
        "secret_set": !c.secret.is_empty(),
        "active": c.active,
    })
}

fn platform(raw: &str) -> Result<Platform, ApiError> {
    Platform::parse(raw.trim())
        .ok_or_else(|| ApiError::invalid_field("platform", "one of shopify, woocommerce"))
}

fn secret(raw: &str) -> Result<String, ApiError> {
    let s = raw.trim();
    if (8..=500).contains(&s.len()) {
        Ok(s.to_owned())
    } else {
        Err(ApiError::invalid_field(
            "secret",
            "the shop's webhook signing secret: 8 to 500 characters",
        ))
    }
}

fn channel_code(raw: &str) -> Result<String, ApiError> {
    let c = raw.trim();
    if c.is_empty() || c.len() > 50 {
        return Err(ApiError::invalid_field(
            "channel_code",
            "1 to 50 characters",
        ));
    }
    Ok(c.to_owned())
}

/// The channel must exist (its warehouse, prices and payment behaviour
/// are the shop's).
fn channel_exists(db: &impl Db, code: &str) -> Result<(), ApiError> {
    match sales_store::channels::find_by_code(db, code)? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid_field(
            "channel_code",
            format!("there is no channel {code:?}"),
        )),
    }
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let q: ListQuery = parse_query(&req.query)?;
    let (items, next) = store::list(&ctx.db, &store_page(q.limit, q.cursor)?)?;
    page(items.iter().map(|c| envelope(c, view)).collect(), next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, ShopConnectionId::parse)?;
    let c = store::get(&ctx.db, id)?;
    record(200, &envelope(&c, view), c.version, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let b: NewBody = parse_json(req)?;
    let platform = platform(&b.platform)?;
    let shop = platform.normalize_shop("shop", &b.shop).map_err(invalid)?;
    let code = check_shop_code("code", &b.code).map_err(invalid)?;
    let conn = ShopConnection {
        id: ShopConnectionId::new(),
        platform,
        shop,
        code,
        secret: secret(&b.secret)?,
        channel_code: channel_code(&b.channel_code)?,
        active: b.active,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            channel_exists(db, &conn.channel_code)?;
            let stored = store::create(db, &conn, ctx.now)?;
            record(
                201,
                &envelope(&stored, view),
                stored.version,
                Some(format!("/api/v1/shop-connections/{}", conn.id)),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, ShopConnectionId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    let code = b
        .code
        .map(|c| check_shop_code("code", &c))
        .transpose()
        .map_err(invalid)?;
    let new_secret = b.secret.as_deref().map(secret).transpose()?;
    let channel = b.channel_code.as_deref().map(channel_code).transpose()?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = store::get(db, id)?.record;
            let shop = b
                .shop
                .as_deref()
                .map(|s| current.platform.normalize_shop("shop", s))
                .transpose()
                .map_err(invalid)?;
            if let Some(c) = &channel {
                channel_exists(db, c)?;
            }
            let next = ShopConnection {
                shop: shop.unwrap_or(current.shop.clone()),
                code: code.clone().unwrap_or(current.code.clone()),
                secret: new_secret.clone().unwrap_or(current.secret.clone()),
                channel_code: channel.clone().unwrap_or(current.channel_code.clone()),
                active: b.active.unwrap_or(current.active),
                ..current
            };
            let stored = store::update(db, &next, expected, ctx.now)?;
            record(200, &envelope(&stored, view), stored.version, None)
        },
    )
}

pub fn delete(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, ShopConnectionId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            store::delete(db, id)?;
            Ok(ApiResponse::no_content())
        },
    )
}
