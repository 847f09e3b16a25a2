//! `/api/v1/webhook-subscriptions`: a URL (http or https), event-type
//! patterns (`order.confirmed`, `order.*`, `*`) and a signing secret
//! (`whsec_…`, generated, shown once in the creation response).

use sales_domain::auth::Action;
use sales_domain::ids::WebhookSubscriptionId;
use sales_domain::integrations::signature::new_secret;
use sales_domain::integrations::subscriptions::{check_patterns, check_url};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::integrations::subscriptions::{self as store, Subscription};
use serde::Deserialize;

use crate::wire::{envelope, invalid, not_null, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    url: String,
    event_types: Vec<String>,
    #[serde(default)]
    description: Option<String>,
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
    url: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    event_types: Option<Vec<String>>,
    #[serde(default)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The subscription without its secret (shown once, at creation).
fn view(s: &Subscription) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "url": s.url,
        "event_types": s.event_types,
        "description": s.description,
        "active": s.active,
    })
}

fn description(d: Option<String>) -> Result<Option<String>, ApiError> {
    match d.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()) {
        Some(d) if d.chars().count() > 500 => Err(ApiError::invalid_field(
            "description",
            "at most 500 characters",
        )),
        other => Ok(other),
    }
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let q: ListQuery = parse_query(&req.query)?;
    let (items, next) = store::list(&ctx.db, &store_page(q.limit, q.cursor)?)?;
    page(items.iter().map(|s| envelope(s, view)).collect(), next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, WebhookSubscriptionId::parse)?;
    let s = store::get(&ctx.db, id)?;
    record(200, &envelope(&s, view), s.version, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let b: NewBody = parse_json(req)?;
    let url = check_url("url", &b.url).map_err(invalid)?;
    let event_types = check_patterns("event_types", &b.event_types).map_err(invalid)?;
    let description = description(b.description)?;
    let mut random = [0u8; 24];
    getrandom::fill(&mut random).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let sub = Subscription {
        id: WebhookSubscriptionId::new(),
        url,
        event_types,
        secret: new_secret(&random),
        description,
        active: b.active,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let stored = store::create(db, &sub, ctx.now)?;
            let mut body = envelope(&stored, view);
            if let serde_json::Value::Object(m) = &mut body {
                // Shown once: later reads never include it.
                m.insert("secret".into(), stored.record.secret.clone().into());
            }
            record(
                201,
                &body,
                stored.version,
                Some(format!("/api/v1/webhook-subscriptions/{}", sub.id)),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, WebhookSubscriptionId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    let url = b
        .url
        .map(|u| check_url("url", &u))
        .transpose()
        .map_err(invalid)?;
    let event_types = b
        .event_types
        .map(|t| check_patterns("event_types", &t))
        .transpose()
        .map_err(invalid)?;
    let description = b.description.map(description).transpose()?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = store::get(db, id)?.record;
            let next = Subscription {
                url: url.unwrap_or(current.url.clone()),
                event_types: event_types.unwrap_or(current.event_types.clone()),
                description: description.unwrap_or(current.description.clone()),
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
    let id = path_id(id, WebhookSubscriptionId::parse)?;
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
