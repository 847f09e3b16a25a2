//! Public, signature-authenticated inbound webhooks.
//!
//! Order of checks, so an unauthenticated caller learns nothing and a bad
//! call writes nothing: body size (the kit's 1 MiB JSON limit, 413) → a
//! signature header at all (401 `invalid_signature`) → the shop (a
//! connected shop by the platform's shop header, else the default shop of
//! the Spin variables; none configured: 503 `integration_not_configured`,
//! a named shop that is neither: 401 `unknown_shop`) → the signature with
//! that shop's secret (401) → the
//! platform's topic and delivery headers (400 naming the header) → JSON
//! (400 malformed, 422 naming the field) → the intake in one transaction.
//! Refused calls are written to the component's log (stderr) only;
//! accepted ones are in `/api/v1/inbound-events`.

use sales_domain::integrations::crm::CrmEnvelope;
use sales_domain::integrations::shop::{Platform, ShopOrder, ShopifyOrder, WooOrder};
use sales_domain::integrations::signature::{standard_verify, verify_shop, SignatureError};
use sales_kit::json::{parse_json_bytes, MAX_JSON_BODY};
use sales_kit::spin::PublicCtx;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult, Method};
use sales_store::integrations::connections;
use sales_store::integrations::inbound::{self, InboundEvent};
use sales_store::integrations::shop::{intake, IntakeError, ShopSource};
use sales_store::Db;

use crate::wire::invalid;

pub const SHOPIFY: &str = "/hooks/shopify";
pub const WOOCOMMERCE: &str = "/hooks/woocommerce";
pub const CRM: &str = "/hooks/crm";

pub fn is_public(req: &ApiRequest) -> bool {
    req.path.starts_with("/hooks/")
}

pub fn route(ctx: &PublicCtx, req: &ApiRequest) -> ApiResult {
    let path = req.path.trim_end_matches('/');
    let platform = match path {
        SHOPIFY => Some(Platform::Shopify),
        WOOCOMMERCE => Some(Platform::WooCommerce),
        CRM => None,
        _ => return Err(ApiError::not_found(format!("no webhook at {path}"))),
    };
    if req.method != Method::Post {
        return sales_kit::not_allowed(&req.method, "POST");
    }
    let result = match platform {
        Some(p) => shop(ctx, req, p),
        None => crm(ctx, req),
    };
    if let Err(e) = &result {
        eprintln!(
            "integrations: {} webhook refused: {} {} ({})",
            platform.map_or("crm", Platform::source),
            e.status(),
            e.code(),
            e.detail()
        );
    }
    result
}

struct Headers {
    signature: &'static str,
    topic: &'static str,
    delivery: &'static str,
    accepted_topic: &'static str,
    secret_var: &'static str,
    channel_var: &'static str,
}

fn headers(p: Platform) -> Headers {
    match p {
        Platform::Shopify => Headers {
            signature: "x-shopify-hmac-sha256",
            topic: "x-shopify-topic",
            delivery: "x-shopify-webhook-id",
            accepted_topic: "orders/create",
            secret_var: "shopify_webhook_secret",
            channel_var: "shopify_channel",
        },
        Platform::WooCommerce => Headers {
            signature: "x-wc-webhook-signature",
            topic: "x-wc-webhook-topic",
            delivery: "x-wc-webhook-delivery-id",
            accepted_topic: "order.created",
            secret_var: "woocommerce_webhook_secret",
            channel_var: "woocommerce_channel",
        },
    }
}

fn unauthorized(e: SignatureError) -> ApiError {
    ApiError::new(
        401,
        "invalid_signature",
        "The webhook signature is missing or does not match",
        e.to_string(),
    )
}

fn required_header<'a>(req: &'a ApiRequest, name: &'static str) -> Result<&'a str, ApiError> {
    req.header(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "missing_header",
                "A required header is missing",
                format!("the {name} header is required"),
            )
            .with_field(name)
        })
}

/// The shop a verified delivery is from, and where its orders go.
struct Shop {
    system: String,
    channel: String,
}

fn unknown_shop(header: &'static str, shop: &str, why: &str) -> ApiError {
    ApiError::new(
        401,
        "unknown_shop",
        "The webhook comes from a shop that is not connected",
        format!("{shop:?} ({header}) is not a connected shop{why}"),
    )
    .with_field(header)
}

/// Finds the delivery's shop and checks its signature with that shop's
/// secret: a connected shop (`/api/v1/shop-connections`, by the
/// platform's shop header) signs with its own secret and sends to its own
/// channel; any other delivery is the platform's default shop (the Spin
/// variables `{platform}_webhook_secret`, `{platform}_channel`). A named
/// shop that is not connected is 401 `unknown_shop` when there is no
/// default shop, else its signature is checked with the default secret
/// (401 `invalid_signature` naming the shop when it does not match);
/// nothing is written either way.
fn verified_shop(ctx: &PublicCtx, req: &ApiRequest, platform: Platform) -> Result<Shop, ApiError> {
    let h = headers(platform);
    let header = platform.shop_header();
    let named = req
        .header(header)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            platform.normalize_shop(header, v).map_err(|e| {
                ApiError::new(
                    401,
                    "unknown_shop",
                    "The webhook comes from a shop that is not connected",
                    e.to_string(),
                )
                .with_field(header)
            })
        })
        .transpose()?;
    if let Some(shop) = &named {
        if let Some(c) = connections::find(&ctx.db, platform, shop)? {
            verify_shop(&c.secret, &req.body, req.header(h.signature), "signature")
                .map_err(unauthorized)?;
            return Ok(Shop {
                system: c.system(),
                channel: c.channel_code,
            });
        }
    }
    let Some(secret) = sales_kit::spin::variable(h.secret_var) else {
        return Err(match &named {
            Some(shop) => unknown_shop(header, shop, " and there is no default shop"),
            None => ApiError::new(
                503,
                "integration_not_configured",
                "This integration is not configured",
                format!(
                    "set the Spin variable {} to the shop's webhook secret, or connect \
                     the shop at /api/v1/shop-connections",
                    h.secret_var
                ),
            ),
        });
    };
    verify_shop(&secret, &req.body, req.header(h.signature), "signature").map_err(|e| {
        let mut e = unauthorized(e);
        if let Some(shop) = &named {
            e = ApiError::new(
                401,
                e.code(),
                "The webhook signature is missing or does not match",
                format!(
                    "{}: {shop:?} is not a connected shop, so the default shop's secret \
                     was tried",
                    e.detail()
                ),
            );
        }
        e
    })?;
    Ok(Shop {
        system: platform.source().to_owned(),
        channel: sales_kit::spin::variable(h.channel_var).unwrap_or_else(|| "WEB".into()),
    })
}

fn shop(ctx: &PublicCtx, req: &ApiRequest, platform: Platform) -> ApiResult {
    if req.body.len() > MAX_JSON_BODY {
        return Err(ApiError::payload_too_large(MAX_JSON_BODY));
    }
    let h = headers(platform);
    // No signature at all: 401 whether or not this shop is configured.
    if req
        .header(h.signature)
        .map(str::trim)
        .is_none_or(str::is_empty)
    {
        return Err(unauthorized(SignatureError::Missing(h.signature)));
    }
    let from = verified_shop(ctx, req, platform)?;
    let topic = required_header(req, h.topic)?.to_owned();
    required_header(req, h.delivery)?;
    let raw = String::from_utf8_lossy(&req.body).into_owned();
    if topic != h.accepted_topic {
        // Signed, but nothing we act on: logged as ignored, 200 so the
        // platform does not retry it.
        let event = InboundEvent {
            id: sales_domain::ids::InboundEventId::new(),
            source: from.system.clone(),
            topic,
            external_id: None,
            outcome: "ignored".into(),
            reason: Some(format!("only {} is acted on", h.accepted_topic)),
            document_kind: None,
            document_id: None,
            duplicate_of: None,
            payload: raw,
            received_at: ctx.now,
        };
        ctx.db.transaction(|db| inbound::record(db, &event))?;
        return answer(200, &event, None, None);
    }
    let order: ShopOrder = match platform {
        Platform::Shopify => {
            ShopOrder::try_from(parse_json_bytes::<ShopifyOrder>(&req.body, MAX_JSON_BODY)?)
        }
        Platform::WooCommerce => {
            ShopOrder::try_from(parse_json_bytes::<WooOrder>(&req.body, MAX_JSON_BODY)?)
        }
    }
    .map_err(invalid)?;
    let source = ShopSource {
        system: &from.system,
        channel_code: &from.channel,
    };
    let taken = ctx
        .db
        .transaction(|db| intake(db, &order, source, &topic, &raw, ctx.now))
        .map_err(intake_error)?;
    if taken.event.outcome != "duplicate" {
        sales_kit::spin::wake_jobs();
    }
    let status = if taken.event.outcome == "duplicate" {
        200
    } else {
        201
    };
    answer(
        status,
        &taken.event,
        taken.order_id.map(|i| i.to_string()),
        taken.order_number,
    )
}

/// `/hooks/crm`: a Standard-Webhooks-signed CRM event (secret
/// `crm_webhook_secret`, a `whsec_…` value) — `deal.won` or
/// `quote.requested` — becomes a priced draft quotation (`crm_creates =
/// "quotation"`, the default: the orders component makes it, reached by
/// service chaining, see `components/orders/src/crm_intake.rs`) or a draft
/// order (`crm_creates = "order"`) on `crm_channel` (default `B2B`) for the
/// customer, credited to the sales person. A timestamp more
/// than five minutes away is refused as a replay (401 `stale_timestamp`).
fn crm(ctx: &PublicCtx, req: &ApiRequest) -> ApiResult {
    if req.body.len() > MAX_JSON_BODY {
        return Err(ApiError::payload_too_large(MAX_JSON_BODY));
    }
    if req
        .header("webhook-signature")
        .map(str::trim)
        .is_none_or(str::is_empty)
    {
        return Err(unauthorized(SignatureError::Missing("webhook-signature")));
    }
    let secret = sales_kit::spin::variable("crm_webhook_secret").ok_or_else(|| {
        ApiError::new(
            503,
            "integration_not_configured",
            "This integration is not configured",
            "set the Spin variable crm_webhook_secret to the CRM's whsec_ secret",
        )
    })?;
    standard_verify(
        &secret,
        req.header("webhook-id"),
        req.header("webhook-timestamp"),
        req.header("webhook-signature"),
        &req.body,
        ctx.now.timestamp(),
    )
    .map_err(|e| match e {
        SignatureError::Stale(_) => ApiError::new(
            401,
            "stale_timestamp",
            "The webhook timestamp is too old or too far ahead",
            e.to_string(),
        ),
        SignatureError::Missing(h) | SignatureError::Malformed(h) if h != "webhook-signature" => {
            ApiError::new(
                400,
                "missing_header",
                "A required header is missing or malformed",
                e.to_string(),
            )
            .with_field(h)
        }
        other => unauthorized(other),
    })?;
    let env: CrmEnvelope = parse_json_bytes(&req.body, MAX_JSON_BODY)?;
    env.check().map_err(invalid)?;
    let raw = String::from_utf8_lossy(&req.body).into_owned();
    let channel = sales_kit::spin::variable("crm_channel").unwrap_or_else(|| "B2B".into());
    match sales_kit::spin::variable("crm_creates").as_deref() {
        None | Some("quotation") => return crm_quotation(ctx, req, &channel),
        Some("order") => {}
        Some(other) => {
            return Err(ApiError::new(
                503,
                "integration_not_configured",
                "This integration is not configured",
                format!("the Spin variable crm_creates is {other:?}; use quotation or order"),
            ))
        }
    }
    let taken = ctx
        .db
        .transaction(|db| sales_store::integrations::crm::intake(db, &env, &channel, &raw, ctx.now))
        .map_err(intake_error)?;
    let status = if taken.event.outcome == "duplicate" {
        200
    } else {
        201
    };
    answer(
        status,
        &taken.event,
        taken.order_id.map(|i| i.to_string()),
        taken.order_number,
    )
}

/// The chained orders route that turns a verified CRM event into a
/// quotation.
const CRM_INTAKE: &str = "http://orders.spin.internal/internal/crm-intake";

/// Forwards the verified event to the orders component (no transaction is
/// open here: orders writes in its own) and answers what it answers.
fn crm_quotation(ctx: &PublicCtx, req: &ApiRequest, channel: &str) -> ApiResult {
    let headers = [
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-crm-channel".to_owned(), channel.to_owned()),
        (
            "x-received-at".to_owned(),
            ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ),
    ];
    let reply = sales_kit::outbound::call(
        "POST",
        CRM_INTAKE,
        &headers,
        Some(&req.body),
        std::time::Duration::from_secs(30),
    )
    .map_err(|e| ApiError::unavailable(format!("the orders component did not answer: {e}")))?;
    let content_type = if reply.status >= 400 {
        "application/problem+json"
    } else {
        "application/json"
    };
    Ok(ApiResponse {
        status: reply.status,
        headers: vec![("content-type".into(), content_type.into())],
        body: reply.body,
    })
}

fn intake_error(e: IntakeError) -> ApiError {
    match e {
        IntakeError::NoChannel(code) => ApiError::new(
            503,
            "integration_not_configured",
            "This integration is not configured",
            format!("the channel {code:?} configured for this shop does not exist"),
        ),
        IntakeError::Currency(c) => ApiError::invalid_field(
            "currency",
            format!("{c:?} is not an ISO 4217 currency code"),
        ),
        IntakeError::Flow(sales_store::orders::FlowError::Store(e)) | IntakeError::Store(e) => {
            e.into()
        }
        IntakeError::Flow(sales_store::orders::FlowError::Order(e)) => {
            ApiError::invalid_field("line_items", e.to_string())
        }
    }
}

pub fn event_view(e: &InboundEvent) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "source": e.source,
        "topic": e.topic,
        "external_id": e.external_id,
        "outcome": e.outcome,
        "reason": e.reason,
        "document_kind": e.document_kind,
        "document_id": e.document_id,
        "duplicate_of": e.duplicate_of,
        "received_at": sales_store::time::to_sql(e.received_at),
    })
}

fn answer(
    status: u16,
    e: &InboundEvent,
    order_id: Option<String>,
    order_number: Option<String>,
) -> ApiResult {
    let mut body = event_view(e);
    if let serde_json::Value::Object(m) = &mut body {
        m.insert("inbound_event_id".into(), e.id.to_string().into());
        m.insert("order_id".into(), order_id.into());
        m.insert("order_number".into(), order_number.into());
    }
    ApiResponse::json(status, &body)
}
