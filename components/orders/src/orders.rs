//! `/api/v1/orders`: sales orders.
//!
//! - `POST /orders` creates a draft (`SO-<year>-<n>`), `GET /orders/{id}`
//!   reads it (with its price waterfall once priced), `GET /orders` lists
//!   (filters `status`, `customer_id`, `channel_id`, `quotation_id`,
//!   `from` / `to` on the order date; cursor pages).
//! - `PATCH /orders/{id}` with `If-Match`: a draft is edited; a submitted
//!   order is *amended* ([`crate::submit::amend`]: re-priced, stock
//!   re-checked, re-approved where affected).
//! - `POST /orders/{id}/submit` ([`crate::submit`]), `hold`, `resume`,
//!   `cancel` (releases reservations; `order.cancelled` carries the
//!   cancelled demand so the jobs component compensates downstream work),
//!   `close` (nothing more ships; what is held is released), `fulfil`
//!   (shipped quantities per line; with `external_source` +
//!   `external_id` a resend from an outside inventory system is applied
//!   once).
//!
//! Every POST and the PATCH run in one transaction with `Idempotency-Key`;
//! a write that emitted outbox events wakes the jobs component after the
//! commit.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::catalog::{Channel, Customer};
use sales_domain::ids::{ChannelId, CustomerId, LineId, OrderId, QuotationId};
use sales_domain::orders::{NewOrder, OrderPatch, OrderStatus, Shipment, ShipmentLine};
use sales_kit::auth::require;
use sales_kit::etag::etag;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::orders::{self, OrderFilter, ShipmentSource, StatusAction};
use sales_store::{Db, StoreError};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::errors;
use crate::wire::{
    order_page, order_response, order_view, path_id, store_page, NewOrderBody, PatchBody,
};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<OrderStatus>,
    customer_id: Option<CustomerId>,
    channel_id: Option<ChannelId>,
    quotation_id: Option<QuotationId>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// `hold`, `resume`, `cancel`, `close`: an optional reason.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipLineBody {
    line_id: LineId,
    quantity: Decimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfilBody {
    lines: Vec<ShipLineBody>,
    /// The outside inventory system that reports the shipment; with
    /// `external_id` a resend is applied once.
    #[serde(default)]
    external_source: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
}

/// A POST body that may be left out: an empty body is `T::default()`.
pub(crate) fn optional_body<T: Default + DeserializeOwned>(
    req: &ApiRequest,
) -> Result<T, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(req)
    }
}

pub(crate) fn today(ctx: &Ctx) -> NaiveDate {
    ctx.now.date_naive()
}

fn unknown(field: &str, detail: String) -> ApiError {
    ApiError::new(
        422,
        "unknown_reference",
        "A referenced record does not exist",
        detail,
    )
    .with_field(field)
}

/// The customer an order names, active, or a 422 naming `customer_id`.
pub(crate) fn customer(db: &impl Db, id: CustomerId) -> Result<Customer, ApiError> {
    match sales_store::customers::get(db, id) {
        Ok(c) if c.record.is_active() => Ok(c.record),
        Ok(_) => Err(ApiError::new(
            422,
            "inactive_customer",
            "The customer is inactive",
            format!("customer {id} is inactive and cannot order"),
        )
        .with_field("customer_id")),
        Err(StoreError::NotFound { .. }) => Err(unknown(
            "customer_id",
            format!("customer {id} does not exist"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The channel an order names, active, or a 422 naming `channel_id`.
pub(crate) fn channel(db: &impl Db, id: ChannelId) -> Result<Channel, ApiError> {
    match sales_store::channels::get(db, id) {
        Ok(c) if c.record.is_active() => Ok(c.record),
        Ok(_) => Err(ApiError::new(
            422,
            "inactive_channel",
            "The channel is inactive",
            format!("channel {id} is inactive"),
        )
        .with_field("channel_id")),
        Err(StoreError::NotFound { .. }) => Err(unknown(
            "channel_id",
            format!("channel {id} does not exist"),
        )),
        Err(e) => Err(e.into()),
    }
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = OrderFilter {
        status: q.status,
        customer_id: q.customer_id,
        channel_id: q.channel_id,
        quotation_id: q.quotation_id,
        from: q.from,
        to: q.to,
    };
    let seen = crate::visible::scope(ctx)?;
    let page = store_page(q.limit, q.cursor)?;
    let (items, next) = orders::list_visible(&ctx.db, &filter, &page, &seen)?;
    order_page(&ctx.db, &items, next)
}

/// The order with its sales team (`sales_team`, `sales_partner_id`,
/// `sales_team_source`); visibility was checked by `visible::guard`.
pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, OrderId::parse)?;
    let v = orders::get(&ctx.db, id)?;
    let mut view = serde_json::to_value(order_view(&v, true))
        .map_err(|e| ApiError::internal(format!("failed to write the order: {e}")))?;
    if let Some(obj) = view.as_object_mut() {
        for (k, val) in crate::visible::order_team(&ctx.db, &v.record)? {
            obj.insert(k.to_owned(), val);
        }
        // The outside systems' ids (shop order/customer, CRM deal/account).
        let refs = sales_store::integrations::references::of(&ctx.db, "order", &id.to_string())?;
        obj.insert(
            "external_references".into(),
            sales_store::integrations::references::view(&refs),
        );
    }
    Ok(ApiResponse::json(200, &view)?.with_header("etag", etag(v.version)))
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteOrders)?;
    let b: NewOrderBody = parse_json(req)?;
    let team = crate::visible::given_team(b.sales_team, b.sales_partner_id)?;
    let me = ctx.principal.id().to_string();
    write(&ctx.db, &me, req, ctx.now, |db| {
        customer(db, b.customer_id)?;
        let ch = channel(db, b.channel_id)?;
        let id = OrderId::new();
        if let Some(t) = &team {
            let kind = sales_store::teams::allocations::DocumentKind::Order;
            t.store(db, kind, &id.to_string(), b.customer_id)?;
        }
        let new = NewOrder {
            customer_id: b.customer_id,
            channel_id: b.channel_id,
            currency: b.currency.unwrap_or(ch.currency()),
            payment_terms: b.payment_terms,
            requested_date: b.requested_date,
            customer_reference: b.customer_reference,
            quotation_id: None,
            lines: b.lines.into_iter().map(|l| l.into_line()).collect(),
        };
        let stored =
            orders::create_draft(db, id, new, today(ctx), ctx.now).map_err(errors::flow)?;
        order_response(201, &stored, true)
    })
}

/// `PATCH`: a draft edit, or an amendment of a submitted order.
pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteOrders)?;
    let id = path_id(id, OrderId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    let patch = OrderPatch {
        payment_terms: b.payment_terms,
        requested_date: b.requested_date,
        customer_reference: b.customer_reference,
        lines: b
            .lines
            .map(|ls| ls.into_iter().map(|l| l.into_line()).collect()),
    };
    let current = orders::get(&ctx.db, id)?;
    if current.record.order.status() != OrderStatus::Draft {
        return crate::submit::amend(ctx, req, current, patch, expected);
    }
    let me = ctx.principal.id().to_string();
    write(&ctx.db, &me, req, ctx.now, |db| {
        let stored =
            orders::update_draft(db, id, patch, expected, ctx.now).map_err(errors::flow)?;
        order_response(200, &stored, false)
    })
}

/// `hold`, `resume`, `cancel`, `close`.
pub fn act(ctx: &Ctx, req: &ApiRequest, id: &str, action: &str) -> ApiResult {
    let action = match action {
        "hold" => StatusAction::Hold,
        "resume" => StatusAction::Resume,
        "cancel" => StatusAction::Cancel,
        _ => StatusAction::Close,
    };
    require(&ctx.principal, Action::ManageOrders)?;
    let id = path_id(id, OrderId::parse)?;
    let expected = match req.header("if-match") {
        Some(_) => Some(if_match(req)?),
        None => None,
    };
    let b: ActionBody = optional_body(req)?;
    let reason = sales_domain::catalog::optional_text("reason", b.reason.as_deref(), 500)
        .map_err(|e| ApiError::invalid_field(e.field, e.message))?;
    let me = ctx.principal.id().to_string();
    let resp = write(&ctx.db, &me, req, ctx.now, |db| {
        let stored = orders::change_status(db, id, action, expected, reason, ctx.now)
            .map_err(errors::flow)?;
        order_response(200, &stored, false)
    })?;
    sales_kit::spin::wake_jobs();
    Ok(resp)
}

pub fn fulfil(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::FulfilOrders)?;
    let id = path_id(id, OrderId::parse)?;
    let expected = match req.header("if-match") {
        Some(_) => Some(if_match(req)?),
        None => None,
    };
    let b: FulfilBody = parse_json(req)?;
    let source = match (b.external_source, b.external_id) {
        (None, None) => None,
        (Some(s), Some(i)) => {
            let text = |field: &str, v: &str| {
                sales_domain::catalog::required_text(field, v, 200)
                    .map_err(|e| ApiError::invalid_field(e.field, e.message))
            };
            Some(ShipmentSource {
                external_source: text("external_source", &s)?,
                external_id: text("external_id", &i)?,
            })
        }
        (Some(_), None) => return Err(ApiError::missing_field("external_id")),
        (None, Some(_)) => return Err(ApiError::missing_field("external_source")),
    };
    let shipment = Shipment {
        lines: b
            .lines
            .into_iter()
            .map(|l| ShipmentLine {
                line_id: l.line_id,
                quantity: l.quantity,
            })
            .collect(),
    };
    let me = ctx.principal.id().to_string();
    let resp = write(&ctx.db, &me, req, ctx.now, |db| {
        let shipped =
            orders::record_shipment(db, id, &shipment, source.as_ref(), expected, ctx.now)
                .map_err(errors::flow)?;
        order_response(200, &shipped.order, false)
    })?;
    sales_kit::spin::wake_jobs();
    Ok(resp)
}
