//! `POST /internal/crm-intake`: a CRM deal (`deal.won`, `quote.requested`)
//! into a priced **draft quotation**, reached only by service chaining
//! from the integrations component's `/hooks/crm` after it verified the
//! Standard Webhooks signature (`crm_creates = "quotation"`, the default).
//!
//! No route of the manifest leads here from outside, and the request must
//! carry the `spin-raw-component-route: /...` that only a chained request
//! has; anything else is a 404. The body is the verified CRM event, as
//! received; `x-crm-channel` and `x-received-at` carry the channel code
//! and the hook's receipt time.
//!
//! Three steps, so that pricing (the read-only `pricing` capability, which
//! reads committed data) sees the customer: (1) a transaction that answers
//! a repeat of `<type>:<deal id>` (200, the first document) or finds or
//! creates the customer — a retry finds it again; (2) pricing, outside any
//! transaction, exactly as `POST /api/v1/quotations` does; (3) one
//! transaction that checks the repeat again, numbers and stores the
//! quotation, credits the sales person 100 %, keeps the CRM's deal and
//! account ids as its external references, enqueues
//! `quotation.created` and records the inbound event (document kind
//! `quotation`; `held` with the reasons, which are also appended to the
//! quotation's notes). When no SKU of the deal is sold here there is no
//! quotation to make (it needs a line): the deal becomes the draft order
//! on hold of `crm_creates = "order"`, and the answer says so.

use chrono::{DateTime, Datelike, Utc};
use sales_domain::ids::{PrincipalId, QuotationId};
use sales_domain::integrations::crm::CrmEnvelope;
use sales_domain::money::Currency;
use sales_domain::quotations::{default_valid_until, LineKind, NewLine, NewQuotation, Quotation};
use sales_domain::series::{DocumentSeries, QUOTATION_PREFIX};
use sales_kit::json::{parse_json_bytes, MAX_JSON_BODY};
use sales_kit::spin::PublicCtx;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult, Method};
use sales_store::integrations::crm;
use sales_store::integrations::inbound::{self, InboundEvent};
use sales_store::integrations::shop::IntakeError;
use sales_store::quotations as store;
use sales_store::teams::allocations::DocumentKind;
use sales_store::{channels, settings, Db};
use serde_json::{json, Value};

use crate::quotation_wire as wire;

/// The chained path.
pub const PATH: &str = "/internal/crm-intake";

/// The principal a CRM quotation is `created_by` (no person keyed it in).
pub const CRM_PRINCIPAL_ID: &str = "00000000-0000-7000-8000-00000000c2a1";

/// Whether `req` is for [`PATH`] (checked for chaining by [`intake`]).
pub fn is_crm_intake(req: &ApiRequest) -> bool {
    req.path.trim_end_matches('/') == PATH
}

fn not_found(req: &ApiRequest) -> ApiError {
    ApiError::not_found(format!("no resource at {}", req.path))
}

pub fn intake(ctx: &PublicCtx, req: &ApiRequest) -> ApiResult {
    if req.header("spin-raw-component-route") != Some("/...") {
        return Err(not_found(req));
    }
    if req.method != Method::Post {
        return sales_kit::not_allowed(&req.method, "POST");
    }
    let env: CrmEnvelope = parse_json_bytes(&req.body, MAX_JSON_BODY)?;
    env.check()
        .map_err(|e| ApiError::invalid_field(e.field, e.message))?;
    let raw = String::from_utf8_lossy(&req.body).into_owned();
    let channel_code = req.header("x-crm-channel").unwrap_or("B2B").to_owned();
    let now = req
        .header("x-received-at")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(ctx.now, |t| t.with_timezone(&Utc));
    let today = now.date_naive();
    let deal = &env.data;

    // (1) A repeat, or the customer (committed, so pricing sees it).
    let mut event = crm::new_event(&env, &raw, now);
    let first = ctx.db.transaction(|db| -> Result<_, ApiError> {
        if let Some(first) = crm::repeat(db, &env, &mut event)? {
            return Ok(Err(first));
        }
        Ok(Ok(crm::customer(db, &env, now)?))
    })?;
    let (customer_id, customer_hold) = match first {
        Err(first) => return duplicate(&ctx.db, &event, &first),
        Ok(c) => c,
    };

    // (2) Lines, sales person, the priced draft.
    let channel = channels::find_by_code(&ctx.db, &channel_code)?
        .ok_or_else(|| no_channel(&channel_code))?
        .record;
    let currency = Currency::from_code(&deal.currency).map_err(|_| {
        ApiError::invalid_field(
            "currency",
            format!("{:?} is not an ISO 4217 currency code", deal.currency),
        )
    })?;
    let mut reasons: Vec<String> = customer_hold.into_iter().collect();
    let lines = crm::deal_lines(&ctx.db, &env, &mut reasons)?;
    if lines.is_empty() {
        return as_order(ctx, &env, &channel_code, &raw, now);
    }
    let person = crm::sales_person(&ctx.db, &env, &mut reasons)?;
    let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    let settings = settings::get(&ctx.db)?.record;
    let series = DocumentSeries::new(QUOTATION_PREFIX, today.year())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let placeholder = series
        .number(1)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut notes = format!("From CRM {} for deal {}.", env.kind, deal.deal_id);
    if let Some(r) = &reason {
        notes.push_str(" Held: ");
        notes.push_str(r);
    }
    let created_by =
        PrincipalId::parse(CRM_PRINCIPAL_ID).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut q = Quotation::new(
        NewQuotation {
            id: QuotationId::new(),
            number: placeholder,
            customer_id,
            channel_id: channel.id(),
            channel_code: channel.code().to_owned(),
            currency,
            valid_until: default_valid_until(today, &settings, channel.code()),
            notes: Some(
                notes
                    .chars()
                    .take(sales_domain::quotations::MAX_TEXT)
                    .collect(),
            ),
            created_by,
            lines: lines
                .into_iter()
                .map(|(product_id, quantity)| NewLine {
                    product_id,
                    quantity,
                    uom: None,
                    requested_date: None,
                    kind: LineKind::Standard,
                    group: None,
                    selected: None,
                })
                .collect(),
        },
        today,
    )
    .map_err(wire::error)?;
    crate::quotations::price(&mut q, today)?;

    // (3) The quotation, its team, its event and the inbound record.
    let done = ctx.db.transaction(|db| -> Result<_, ApiError> {
        let mut event = crm::new_event(&env, &raw, now);
        if let Some(first) = crm::repeat(db, &env, &mut event)? {
            return Ok(Err((event, first)));
        }
        let number = sales_store::series::next_document_number(db, &series)?;
        let mut spec = q.spec().clone();
        spec.number = number;
        let q = Quotation::from_spec(spec).map_err(|e| wire::error(e.into()))?;
        let id = q.id().to_string();
        if let Some(p) = person {
            crm::credit(db, DocumentKind::Quotation, &id, p)?;
        }
        let stored = store::create(db, &q, now)?;
        sales_store::integrations::references::record(
            db,
            "quotation",
            &id,
            &crm::deal_refs(&env),
            now,
        )?;
        store::enqueue_event(db, "created", &q, json!({}), now)?;
        event.outcome = if reason.is_some() { "held" } else { "created" }.into();
        event.reason = reason.clone();
        event.document_kind = Some("quotation".into());
        event.document_id = Some(id);
        inbound::record(db, &event)?;
        Ok(Ok((event, stored.record.number().to_string())))
    })?;
    match done {
        Err((event, first)) => duplicate(&ctx.db, &event, &first),
        Ok((event, number)) => {
            sales_kit::spin::wake_jobs();
            answer(201, &event, event.document_id.clone(), Some(number), None)
        }
    }
}

fn no_channel(code: &str) -> ApiError {
    ApiError::new(
        503,
        "integration_not_configured",
        "This integration is not configured",
        format!("the channel {code:?} configured for the CRM (crm_channel) does not exist"),
    )
}

/// A repeat: 200 with the first receipt's document.
fn duplicate(db: &impl Db, event: &InboundEvent, first: &InboundEvent) -> ApiResult {
    match first.document_kind.as_deref() {
        Some("quotation") => {
            let id = first.document_id.clone();
            let number = match id
                .as_deref()
                .map(|i| wire::path_id(i, QuotationId::parse))
                .transpose()?
            {
                Some(qid) => Some(store::get(db, qid)?.record.number().to_string()),
                None => None,
            };
            answer(200, event, id, number, None)
        }
        Some("order") => {
            let order = match first
                .document_id
                .as_deref()
                .map(sales_domain::ids::OrderId::parse)
            {
                Some(Ok(id)) => Some(sales_store::orders::get(db, id)?),
                _ => None,
            };
            answer(
                200,
                event,
                None,
                None,
                order.map(|o| {
                    (
                        o.record.order.id().to_string(),
                        o.record.order.number().to_owned(),
                    )
                }),
            )
        }
        _ => answer(200, event, None, None, None),
    }
}

/// No SKU of the deal is sold here: the draft order on hold instead.
fn as_order(
    ctx: &PublicCtx,
    env: &CrmEnvelope,
    channel_code: &str,
    raw: &str,
    now: DateTime<Utc>,
) -> ApiResult {
    let taken =
        ctx.db
            .transaction(|db| crm::intake(db, env, channel_code, raw, now))
            .map_err(|e| match e {
                IntakeError::NoChannel(code) => no_channel(&code),
                IntakeError::Currency(c) => ApiError::invalid_field(
                    "currency",
                    format!("{c:?} is not an ISO 4217 currency code"),
                ),
                IntakeError::Flow(sales_store::orders::FlowError::Store(e))
                | IntakeError::Store(e) => e.into(),
                IntakeError::Flow(sales_store::orders::FlowError::Order(e)) => {
                    ApiError::invalid_field("lines", e.to_string())
                }
            })?;
    let status = if taken.event.outcome == "duplicate" {
        200
    } else {
        201
    };
    let order = taken
        .order_id
        .map(|i| i.to_string())
        .zip(taken.order_number);
    answer(status, &taken.event, None, None, order)
}

fn answer(
    status: u16,
    e: &InboundEvent,
    quotation_id: Option<String>,
    quotation_number: Option<String>,
    order: Option<(String, String)>,
) -> ApiResult {
    let (order_id, order_number) = order.unzip();
    let body: Value = json!({
        "id": e.id,
        "inbound_event_id": e.id,
        "source": e.source,
        "topic": e.topic,
        "external_id": e.external_id,
        "outcome": e.outcome,
        "reason": e.reason,
        "document_kind": e.document_kind,
        "document_id": e.document_id,
        "duplicate_of": e.duplicate_of,
        "received_at": sales_store::time::to_sql(e.received_at),
        "quotation_id": quotation_id,
        "quotation_number": quotation_number,
        "order_id": order_id,
        "order_number": order_number,
    });
    ApiResponse::json(status, &body)
}
