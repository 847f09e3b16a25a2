//! The logs: `/api/v1/inbound-events` (every accepted inbound call with
//! its outcome) and `/api/v1/webhook-deliveries` (every delivery with its
//! attempts; `POST …/{id}/redeliver` puts a parked or delivered one back).
//! Reading needs `ReadOutbox` (admin, integration); redelivering
//! `ManageIntegrations`.

use sales_domain::auth::Action;
use sales_domain::ids::{EventId, InboundEventId, WebhookDeliveryId, WebhookSubscriptionId};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::integrations::deliveries::{self, Delivery, DeliveryFilter};
use sales_store::integrations::inbound::{self, InboundFilter};
use sales_store::Db;
use serde::Deserialize;

use crate::hooks::event_view;
use crate::wire::{page, path_id, store_page};
use crate::Ctx;

const OUTCOMES: &[&str] = &["created", "held", "duplicate", "ignored"];
const STATUSES: &[&str] = &["pending", "sending", "delivered", "parked"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    source: Option<String>,
    outcome: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
    subscription_id: Option<String>,
    event_id: Option<String>,
    topic: Option<String>,
}

fn one_of(field: &str, v: Option<String>, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match v {
        Some(v) if !allowed.contains(&v.as_str()) => Err(ApiError::invalid_query(
            field,
            format!("must be one of {}", allowed.join(", ")),
        )),
        other => Ok(other),
    }
}

fn short(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(v) if v.chars().count() > 200 => {
            Err(ApiError::invalid_query(field, "at most 200 characters"))
        }
        other => Ok(other),
    }
}

pub fn inbound(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadOutbox)?;
    let q: InboundQuery = parse_query(&req.query)?;
    let filter = InboundFilter {
        source: short("source", q.source)?,
        outcome: one_of("outcome", q.outcome, OUTCOMES)?,
    };
    let (items, next) = inbound::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(items.iter().map(event_view).collect(), next)
}

pub fn inbound_one(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadOutbox)?;
    let id = path_id(id, InboundEventId::parse)?;
    let e = inbound::get(&ctx.db, id)?;
    let mut body = event_view(&e);
    if let serde_json::Value::Object(m) = &mut body {
        m.insert("payload".into(), e.payload.clone().into());
    }
    ApiResponse::json(200, &body)
}

fn delivery_view(d: &Delivery) -> serde_json::Value {
    serde_json::json!({
        "id": d.id,
        "subscription_id": d.subscription_id,
        "event_id": d.event_id,
        "topic": d.topic,
        "origin": d.origin,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": sales_store::time::to_sql(d.next_attempt_at),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at.map(sales_store::time::to_sql),
        "created_at": sales_store::time::to_sql(d.created_at),
        "updated_at": sales_store::time::to_sql(d.updated_at),
    })
}

fn delivery_detail(db: &impl Db, d: &Delivery) -> Result<serde_json::Value, ApiError> {
    let mut body = delivery_view(d);
    let attempts = deliveries::attempts(db, d.id)?;
    if let serde_json::Value::Object(m) = &mut body {
        m.insert("body".into(), d.body.clone().into());
        m.insert(
            "attempt_log".into(),
            attempts
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "attempt": a.attempt,
                        "at": sales_store::time::to_sql(a.at),
                        "status_code": a.status_code,
                        "error": a.error,
                        "duration_ms": a.duration_ms,
                    })
                })
                .collect(),
        );
    }
    Ok(body)
}

pub fn deliveries(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadOutbox)?;
    let q: DeliveryQuery = parse_query(&req.query)?;
    let filter = DeliveryFilter {
        status: one_of("status", q.status, STATUSES)?,
        subscription_id: q
            .subscription_id
            .map(|s| WebhookSubscriptionId::parse(&s))
            .transpose()
            .map_err(|e| ApiError::invalid_query("subscription_id", e.to_string()))?,
        event_id: q
            .event_id
            .map(|s| EventId::parse(&s))
            .transpose()
            .map_err(|e| ApiError::invalid_query("event_id", e.to_string()))?,
        topic: short("topic", q.topic)?,
    };
    let (items, next) = deliveries::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(items.iter().map(delivery_view).collect(), next)
}

pub fn delivery(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadOutbox)?;
    let id = path_id(id, WebhookDeliveryId::parse)?;
    let d = deliveries::get(&ctx.db, id)?;
    ApiResponse::json(200, &delivery_detail(&ctx.db, &d)?)
}

pub fn redeliver(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, WebhookDeliveryId::parse)?;
    let resp = write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            match deliveries::redeliver(db, id, ctx.now)? {
            Some(d) => ApiResponse::json(200, &delivery_detail(db, &d)?),
            None => Err(ApiError::conflict(
                "not_redeliverable",
                "only a parked or delivered delivery can be sent again; this one is still on its way",
            )),
        }
        },
    )?;
    sales_kit::spin::wake_jobs();
    Ok(resp)
}
