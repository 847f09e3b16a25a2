//! `/api/v1/quotations`: create (priced), read (with revision history),
//! update a draft (PATCH + If-Match, re-priced when lines change), list
//! with filters, and the actions `send` (answers a signed accept link, or
//! waits for approval when the approval policies ask for one),
//! `submit-for-approval`, `accept`, `lose`, `revise`, `convert` (a draft
//! sales order in the same transaction as the ordered quantities) and
//! `cancel`; `POST
//! /api/v1/quotations/expire` is the periodic expiry for a CronJob; `POST
//! /api/v1/quotation-links/accept` is the customer's public accept.
//!
//! Pricing goes through the `pricing` capability (read-only) before the
//! write transaction; every line is priced, optional and alternative ones
//! too, in request order, so the capability's `lines[n]` fields are this
//! request's. Every write runs in one transaction with its outbox event
//! (`quotation.<verb>`) and `Idempotency-Key`; the jobs component is woken
//! after the commit.
//!
//! Approval before sending (see [`crate::quotation_approvals`]): `send`
//! and `submit-for-approval` ask the approvals capability about the
//! quotation's current version before the transaction; when levels are
//! required the request is opened in the transaction (smart re-approval
//! against the last one) and the quotation waits in `pending_approval`;
//! the jobs component applies the outcome (`approved`, or back to `draft`
//! with the reason). Editing or cancelling a quotation that waits
//! supersedes its request in the same transaction.

use chrono::{Datelike, NaiveDate};
use sales_domain::approvals::ApprovalRequest;
use sales_domain::auth::Action;
use sales_domain::ids::{ApprovalRequestId, ChannelId, CustomerId, LineId, OrderId, QuotationId};
use sales_domain::money::Currency;
use sales_domain::orders::{NewOrder, NewOrderLine};
use sales_domain::quotations::{
    default_valid_until, AcceptedBy, Choice, LinePrice, LostReason, NewQuotation, PriceStep,
    Quotation, QuotationStatus,
};
use sales_domain::series::{DocumentSeries, QUOTATION_PREFIX};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::{parse_query, Page, PageRequest};
use sales_kit::spin::PublicCtx;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::page::{Page as StorePage, Versioned};
use sales_store::quotations::{self as store, QuotationFilter};
use sales_store::{channels, customers, settings, Db, StoreError};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::capabilities::{self, Basket, BasketLine};
use crate::quotation_approvals::{self as approvals, Gate};
use crate::quotation_wire::{self as wire, path_id};
use crate::Ctx;

/// The path of the public accept route.
pub const PUBLIC_ACCEPT: &str = "/api/v1/quotation-links/accept";

/// Whether a request goes to the public (unauthenticated) accept route:
/// exactly `POST /api/v1/quotation-links/accept`.
pub fn is_public(req: &ApiRequest) -> bool {
    req.method == sales_kit::Method::Post && req.path.trim_end_matches('/') == PUBLIC_ACCEPT
}

fn today(ctx_now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    ctx_now.date_naive()
}

fn principal(ctx: &Ctx) -> String {
    ctx.principal.id().to_string()
}

/// An action's body: optional — empty means the defaults.
fn optional_body<T: DeserializeOwned + Default>(req: &ApiRequest) -> Result<T, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(req)
    }
}

fn store_page(limit: Option<u32>, cursor: Option<String>) -> Result<StorePage, ApiError> {
    let p = PageRequest::new(limit, cursor)?;
    Ok(match p.cursor() {
        Some(c) => StorePage::after(p.limit(), c),
        None => StorePage::first(p.limit()),
    })
}

/// Prices every line of `q` (a draft) through the pricing capability.
pub(crate) fn price(q: &mut Quotation, today: NaiveDate) -> Result<(), ApiError> {
    let basket = Basket {
        customer: q.customer_id(),
        channel_code: q.channel_code().to_owned(),
        currency: q.currency(),
        date: Some(today),
        coupon_codes: Vec::new(),
        lines: q
            .lines()
            .iter()
            .map(|l| BasketLine {
                product: l.product_id(),
                quantity: l.quantity(),
                uom: l.uom().map(str::to_owned),
            })
            .collect(),
    };
    let priced = capabilities::price(&basket)?;
    let mut prices = Vec::with_capacity(q.lines().len());
    for n in 1..=q.lines().len() {
        let line = priced
            .lines
            .iter()
            .find(|l| l.line_no as usize == n && l.free_item_rule.is_none())
            .ok_or_else(|| {
                ApiError::internal(format!("the pricing capability did not price line {n}"))
            })?;
        prices.push(LinePrice {
            uom: line.uom.clone(),
            list_price: line.list_price,
            adjustments: line
                .adjustments
                .iter()
                .map(|a| PriceStep {
                    rule_id: a.rule_id.clone(),
                    rule_name: a.rule_name.clone(),
                    kind: a.kind.clone(),
                    amount_per_unit: a.amount_per_unit,
                    unit_price_after: a.unit_price_after,
                })
                .collect(),
            net_unit_price: line.net_unit_price,
            net_total: line.net_total,
            tax_total: line.tax_total,
            gross_total: line.gross_total,
            flags: line.flags.clone(),
            margin: Some(line.margin),
        });
    }
    q.apply_prices(prices).map_err(wire::error)
}

/// A write with its `quotation.<verb>` event; wakes the jobs after commit.
fn write_with_event(
    ctx: &Ctx,
    req: &ApiRequest,
    handler: impl FnOnce(&sales_kit::spin::SpinDb) -> ApiResult,
) -> ApiResult {
    let resp = write(&ctx.db, &principal(ctx), req, ctx.now, handler)?;
    if resp.header(sales_kit::idempotency::REPLAYED).is_none() {
        sales_kit::spin::wake_jobs();
    }
    Ok(resp)
}

fn no_payload() -> Value {
    json!({})
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: wire::ListQuery = parse_query(&req.query)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            QuotationStatus::parse(s).ok_or_else(|| {
                ApiError::invalid_query(
                    "status",
                    format!("expected one of {}", QuotationStatus::expected()),
                )
            })
        })
        .transpose()?;
    let id_query = |field: &str, v: Option<String>| -> Result<Option<String>, ApiError> {
        Ok(v.filter(|s| !s.is_empty()).map(|s| s.trim().to_owned())).and_then(|v| match v {
            Some(s) if s.len() != 36 => Err(ApiError::invalid_query(field, "expected a UUID v7")),
            other => Ok(other),
        })
    };
    let customer_id = id_query("customer_id", q.customer_id)?
        .map(|s| {
            CustomerId::parse(&s).map_err(|e| ApiError::invalid_query("customer_id", e.to_string()))
        })
        .transpose()?;
    let channel_id = id_query("channel_id", q.channel_id)?
        .map(|s| {
            ChannelId::parse(&s).map_err(|e| ApiError::invalid_query("channel_id", e.to_string()))
        })
        .transpose()?;
    let filter = QuotationFilter {
        status,
        customer_id,
        channel_id,
        valid_from: q.valid_from,
        valid_to: q.valid_to,
    };
    let seen = crate::visible::scope(ctx)?;
    let page = store_page(q.limit, q.cursor)?;
    let (items, next) = store::list_visible(&ctx.db, &filter, &page, &seen)?;
    let items = wire::quotation_page_items(&ctx.db, &items)?;
    ApiResponse::json(
        200,
        &Page {
            items,
            next_cursor: next,
        },
    )
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, QuotationId::parse)?;
    let q = store::get(&ctx.db, id)?;
    let history = store::revisions(&ctx.db, id)?;
    let mut extra = vec![("revisions", wire::history_json(&history))];
    extra.extend(crate::visible::quotation_team(
        &ctx.db,
        id,
        q.record.customer_id(),
    )?);
    // The outside systems' ids (the CRM deal and account it came from).
    let refs = sales_store::integrations::references::of(&ctx.db, "quotation", &id.to_string())?;
    extra.push((
        "external_references",
        sales_store::integrations::references::view(&refs),
    ));
    wire::respond(200, &q, extra, false)
}

/// `GET /quotations/{id}/revisions/{n}`: a superseded revision as it was.
pub fn get_revision(ctx: &Ctx, id: &str, revision: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, QuotationId::parse)?;
    let n: u32 = revision
        .parse()
        .map_err(|_| ApiError::invalid_id("revision", "expected a revision number"))?;
    let r = store::revision(&ctx.db, id, n)?;
    let mut body = serde_json::to_value(&r.quotation)
        .map_err(|e| ApiError::internal(format!("failed to serialise a revision: {e}")))?;
    if let Value::Object(map) = &mut body {
        map.insert("totals".into(), json!(r.quotation.totals()));
        map.insert(
            "superseded_at".into(),
            sales_store::time::to_sql(r.superseded_at).into(),
        );
    }
    ApiResponse::json(200, &body)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteQuotations)?;
    let b: wire::CreateBody = parse_json(req)?;
    let team = crate::visible::given_team(b.sales_team, b.sales_partner_id)?;
    let today = today(ctx.now);
    let settings = settings::get(&ctx.db)?.record;
    let code = match b
        .channel_code
        .or_else(|| settings.default_channel().map(str::to_owned))
    {
        Some(c) => c,
        None => return Err(ApiError::missing_field("channel_code")),
    };
    let channel = channels::find_by_code(&ctx.db, &code)?
        .filter(|c| c.record.is_active())
        .ok_or_else(|| {
            ApiError::new(
                422,
                "unknown_reference",
                "A referenced record does not exist",
                format!("no active channel has code {code:?}"),
            )
            .with_field("channel_code")
        })?
        .record;
    match customers::get(&ctx.db, b.customer_id) {
        Ok(c) if c.record.is_active() => {}
        Ok(_) | Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::new(
                422,
                "unknown_reference",
                "A referenced record does not exist",
                format!("no active customer has id {}", b.customer_id),
            )
            .with_field("customer_id"))
        }
        Err(e) => return Err(e.into()),
    }
    let currency = match &b.currency {
        Some(c) => Currency::from_code(c)
            .map_err(|e| ApiError::invalid_field("currency", e.to_string()))?,
        None => channel.currency(),
    };
    let series = DocumentSeries::new(QUOTATION_PREFIX, today.year())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let placeholder = series
        .number(1)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut q = Quotation::new(
        NewQuotation {
            id: QuotationId::new(),
            number: placeholder,
            customer_id: b.customer_id,
            channel_id: channel.id(),
            channel_code: channel.code().to_owned(),
            currency,
            valid_until: b
                .valid_until
                .unwrap_or_else(|| default_valid_until(today, &settings, channel.code())),
            notes: b.notes,
            created_by: ctx.principal.id(),
            lines: b.lines.into_iter().map(Into::into).collect(),
        },
        today,
    )
    .map_err(wire::error)?;
    price(&mut q, today)?;
    write_with_event(ctx, req, |db| {
        let number = sales_store::series::next_document_number(db, &series)?;
        let mut spec = q.spec().clone();
        spec.number = number;
        let q = Quotation::from_spec(spec).map_err(|e| wire::error(e.into()))?;
        if let Some(t) = &team {
            let kind = sales_store::teams::allocations::DocumentKind::Quotation;
            t.store(db, kind, &q.id().to_string(), q.customer_id())?;
        }
        let stored = store::create(db, &q, ctx.now)?;
        store::enqueue_event(db, "created", &q, no_payload(), ctx.now)?;
        wire::respond(201, &stored, vec![], true)
    })
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteQuotations)?;
    let id = path_id(id, QuotationId::parse)?;
    let expected = if_match(req)?;
    let b: wire::PatchBody = parse_json(req)?;
    let today = today(ctx.now);
    let reprice = b.lines.is_some();
    let current = store::get(&ctx.db, id)?;
    let mut next = current.record.clone();
    next.edit(b.into(), today).map_err(wire::error)?;
    if reprice {
        price(&mut next, today)?;
    }
    write_with_event(ctx, req, |db| {
        // The edit was planned on the version read before pricing; `save`
        // refuses it unless the row is still at the client's version.
        let now_stored = store::get(db, id)?;
        if now_stored.version != expected || now_stored.version != current.version {
            return Err(ApiError::version_conflict(now_stored.version));
        }
        if current.record.status() == QuotationStatus::PendingApproval {
            approvals::supersede_pending(db, &next, ctx.now)?;
        }
        let saved = store::save(db, &next, expected, ctx.now)?;
        wire::respond(200, &saved, vec![], false)
    })
}

/// Runs `change` on the quotation inside the write transaction, saves it
/// and writes `quotation.<verb>`.
fn transition(
    ctx: &Ctx,
    req: &ApiRequest,
    id: &str,
    verb: &'static str,
    change: impl FnOnce(&mut Quotation) -> Result<Value, ApiError>,
    extra: impl FnOnce(&Quotation) -> Result<Vec<(&'static str, Value)>, ApiError>,
) -> ApiResult {
    require(&ctx.principal, Action::WriteQuotations)?;
    let id = path_id(id, QuotationId::parse)?;
    write_with_event(ctx, req, |db| {
        let current = store::get(db, id)?;
        let mut q = current.record;
        let payload = change(&mut q)?;
        let saved = store::save(db, &q, current.version, ctx.now)?;
        store::enqueue_event(db, verb, &q, payload, ctx.now)?;
        let extra = extra(&saved.record)?;
        wire::respond(200, &saved, extra, false)
    })
}

fn link_key() -> Result<Vec<u8>, ApiError> {
    wire::link_key(
        sales_kit::spin::variable("quotation_link_secret"),
        sales_kit::spin::variable("admin_api_key"),
    )
}

fn accept_link(key: &[u8], q: &Quotation) -> Result<Value, ApiError> {
    Ok(json!({
        "token": wire::sign(key, q)?,
        "path": PUBLIC_ACCEPT,
        "revision": q.revision(),
        "valid_until": q.valid_until(),
    }))
}

/// Reads the quotation and asks the approval policies about it, before
/// the write transaction. `check` is the transition's dry run, so a
/// quotation in the wrong status is refused before anything is evaluated.
fn gated(
    ctx: &Ctx,
    id: QuotationId,
    check: impl FnOnce(&mut Quotation) -> Result<(), ApiError>,
) -> Result<(Versioned<Quotation>, Gate), ApiError> {
    let current = store::get(&ctx.db, id)?;
    check(&mut current.record.clone())?;
    // Sending a sent quotation again only re-issues its link: it was
    // offered (and passed the gate) already.
    let gate = if current.record.status() == QuotationStatus::Sent {
        Gate::Clear
    } else {
        approvals::gate(&ctx.db, &current.record, &ctx.principal)?
    };
    Ok((current, gate))
}

/// The quotation as it was when the gate read it (a change since is a 412:
/// read it again).
fn unchanged(db: &impl Db, current: &Versioned<Quotation>) -> Result<Quotation, ApiError> {
    let fresh = store::get(db, current.record.id())?;
    if fresh.version != current.version {
        return Err(ApiError::version_conflict(fresh.version));
    }
    Ok(fresh.record)
}

/// Opens the approval request `levels` need and submits `q` for it. When
/// smart re-approval kept every level, the quotation is approved on the
/// spot. Returns the request.
fn submit_for(
    db: &impl Db,
    ctx: &Ctx,
    q: &mut Quotation,
    levels: &sales_domain::approvals::RequiredApprovals,
) -> Result<ApprovalRequest, ApiError> {
    let today = today(ctx.now);
    let request = approvals::open(db, levels, &ctx.principal, ctx.now)?;
    q.submit_for_approval(request.id(), today)
        .map_err(wire::error)?;
    let payload = json!({
        "approval_request_id": request.id(),
        "document_version": q.document_version(),
    });
    if approvals::is_approved(&request) {
        q.approval_granted(q.document_version())
            .map_err(wire::error)?;
        store::enqueue_event(db, "approved", q, payload, ctx.now)?;
    } else {
        store::enqueue_event(db, "submitted_for_approval", q, payload, ctx.now)?;
        approvals::requested_event(db, &request, q, ctx.now)?;
    }
    Ok(request)
}

/// `POST /quotations/{id}/send`: a draft or approved quotation is offered
/// (200 with the accept link) unless the approval policies require levels
/// its latest approval does not cover: then it waits in
/// `pending_approval` (202 with the approval request, no link) and is sent
/// once approved.
pub fn send(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteQuotations)?;
    let _: EmptyBody = optional_body(req)?;
    let key = link_key()?;
    let id = path_id(id, QuotationId::parse)?;
    let today = today(ctx.now);
    let (current, gate) = gated(ctx, id, |q| q.send(today).map_err(wire::error))?;
    write_with_event(ctx, req, |db| {
        let mut q = unchanged(db, &current)?;
        let mut extra = Vec::new();
        if let Gate::Required(levels) = &gate {
            let request = submit_for(db, ctx, &mut q, levels)?;
            extra.push(("approval_request", approvals::request_json(&request)));
            if !approvals::is_approved(&request) {
                let saved = store::save(db, &q, current.version, ctx.now)?;
                return wire::respond(202, &saved, extra, false);
            }
        }
        q.send(today).map_err(wire::error)?;
        let saved = store::save(db, &q, current.version, ctx.now)?;
        store::enqueue_event(db, "sent", &q, no_payload(), ctx.now)?;
        extra.push(("accept_link", accept_link(&key, &saved.record)?));
        wire::respond(200, &saved, extra, false)
    })
}

/// `POST /quotations/{id}/submit-for-approval`: asks for the approval the
/// policies require before sending (a draft, or an approved quotation a
/// changed policy needs approved again). 200 with the quotation in
/// `pending_approval` — or `approved` when smart re-approval kept every
/// level — and the request; 422 `nothing_to_approve` when it may be sent
/// as it is.
pub fn submit_for_approval(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteQuotations)?;
    let _: EmptyBody = optional_body(req)?;
    let id = path_id(id, QuotationId::parse)?;
    let today = today(ctx.now);
    let (current, gate) = gated(ctx, id, |q| {
        q.submit_for_approval(ApprovalRequestId::new(), today)
            .map_err(wire::error)
    })?;
    let Gate::Required(levels) = gate else {
        return Err(ApiError::new(
            422,
            "nothing_to_approve",
            "The document needs no approval",
            "no approval policy requires approval of this quotation as it is: send it",
        ));
    };
    write_with_event(ctx, req, |db| {
        let mut q = unchanged(db, &current)?;
        let request = submit_for(db, ctx, &mut q, &levels)?;
        let saved = store::save(db, &q, current.version, ctx.now)?;
        wire::respond(
            200,
            &saved,
            vec![("approval_request", approvals::request_json(&request))],
            false,
        )
    })
}

/// No fields: `{}` or nothing.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

pub fn accept(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    let b: wire::ChoiceBody = optional_body(req)?;
    let choice: Choice = b.into();
    let today = today(ctx.now);
    let by = AcceptedBy::Principal {
        id: ctx.principal.id(),
    };
    let now = ctx.now;
    transition(
        ctx,
        req,
        id,
        "accepted",
        |q| {
            q.accept(&choice, by, now, today).map_err(wire::error)?;
            Ok(json!({ "by": "principal" }))
        },
        |_| Ok(vec![]),
    )
}

pub fn lose(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    let b: wire::LoseBody = parse_json(req)?;
    let reason = LostReason::new(&b.reason, b.competitor.as_deref(), ctx.now)
        .map_err(|e| wire::error(e.into()))?;
    transition(
        ctx,
        req,
        id,
        "lost",
        |q| {
            let payload = json!({ "reason": reason.reason(), "competitor": reason.competitor() });
            q.lose(reason).map_err(wire::error)?;
            Ok(payload)
        },
        |_| Ok(vec![]),
    )
}

/// `→ cancelled`; a quotation waiting for approval has its request
/// superseded in the same transaction (it leaves the approvers' inboxes).
pub fn cancel(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteQuotations)?;
    let _: EmptyBody = optional_body(req)?;
    let id = path_id(id, QuotationId::parse)?;
    write_with_event(ctx, req, |db| {
        let current = store::get(db, id)?;
        let mut q = current.record.clone();
        q.cancel().map_err(wire::error)?;
        if current.record.status() == QuotationStatus::PendingApproval {
            approvals::supersede_pending(db, &q, ctx.now)?;
        }
        let saved = store::save(db, &q, current.version, ctx.now)?;
        store::enqueue_event(db, "cancelled", &q, no_payload(), ctx.now)?;
        wire::respond(200, &saved, vec![], false)
    })
}

/// A new revision (`draft`, valid for the channel's validity from today);
/// the previous one stays readable under `/revisions/{n}`.
pub fn revise(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteQuotations)?;
    let _: EmptyBody = optional_body(req)?;
    let id = path_id(id, QuotationId::parse)?;
    let today = today(ctx.now);
    write_with_event(ctx, req, |db| {
        let settings = settings::get(db)?.record;
        let current = store::get(db, id)?;
        let valid_until = default_valid_until(today, &settings, current.record.channel_code());
        let next = current
            .record
            .revise(today, valid_until)
            .map_err(wire::error)?;
        let saved = store::revise(db, &current, &next, ctx.now)?;
        store::enqueue_event(
            db,
            "revised",
            &next,
            json!({ "previous_revision": current.record.revision() }),
            ctx.now,
        )?;
        let history = store::revisions(db, id)?;
        wire::respond(
            200,
            &saved,
            vec![("revisions", wire::history_json(&history))],
            false,
        )
    })
}

/// Converts (part of) the quotation into a draft sales order in one
/// transaction: the plan (choices, remaining quantities, the expired and
/// kept-rate settings), the order through the orders store, the
/// quotation's ordered quantities and status, the event, the idempotency
/// record.
pub fn convert(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteQuotations)?;
    let b: wire::ConvertBody = optional_body(req)?;
    let id = path_id(id, QuotationId::parse)?;
    let today = today(ctx.now);
    write_with_event(ctx, req, |db| {
        let settings = settings::get(db)?.record;
        let current = store::get(db, id)?;
        let plan = current
            .record
            .plan_conversion(
                &b.request(),
                today,
                settings.allow_order_from_expired_quotation(),
                settings.keep_quoted_rate(),
            )
            .map_err(wire::error)?;
        let q = &plan.quotation;
        let order_id = OrderId::new();
        let new = NewOrder {
            customer_id: q.customer_id(),
            channel_id: q.channel_id(),
            currency: q.currency(),
            payment_terms: None,
            requested_date: None,
            customer_reference: b.customer_reference.clone(),
            quotation_id: Some(q.id()),
            lines: plan
                .lines
                .iter()
                .map(|l| NewOrderLine {
                    id: LineId::new(),
                    product_id: l.product_id,
                    quantity: l.quantity,
                    uom: l.uom.clone(),
                    requested_date: l.requested_date.filter(|d| *d >= today),
                    kept_rate: l.kept_rate,
                    quotation_line_id: Some(l.line_id),
                })
                .collect(),
        };
        let order = sales_store::orders::create_draft(db, order_id, new, today, ctx.now)
            .map_err(order_error)?;
        let saved = store::save(db, q, current.version, ctx.now)?;
        let order_number = order.record.order.parts().number.clone();
        let lines: Vec<Value> = plan
            .lines
            .iter()
            .map(|l| json!({ "line_id": l.line_id, "quantity": l.quantity, "kept_rate": l.kept_rate }))
            .collect();
        store::enqueue_event(
            db,
            "converted",
            q,
            json!({ "order_id": order_id.to_string(), "order_number": order_number, "lines": lines }),
            ctx.now,
        )?;
        let body = json!({
            "order": { "id": order_id, "number": order_number },
            "lines": lines,
            "quotation": wire::quotation_json(&saved)?,
        });
        Ok(ApiResponse::json(201, &body)?
            .with_header("location", format!("/api/v1/orders/{order_id}")))
    })
}

/// A draft order the orders store refused (the orders component's
/// mapping). Its product checks ran when the lines were quoted, so a
/// refusal here is a product deactivated since (422 `inactive_product`,
/// `lines[n]` counting the converted lines) or a store failure.
fn order_error(e: sales_store::orders::FlowError) -> ApiError {
    crate::errors::flow(e)
}

/// `POST /api/v1/quotations/expire`: the periodic expiry, for a CronJob
/// (the jobs component's tick calls the store directly).
pub fn expire(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::RunPeriodicWork)?;
    let _: EmptyBody = optional_body(req)?;
    let today = today(ctx.now);
    write_with_event(ctx, req, |db| {
        let expired = store::expire_due(db, today, ctx.now)?;
        ApiResponse::json(200, &json!({ "expired": expired, "as_of": today }))
    })
}

/// The customer's accept through the signed link: verifies the token,
/// checks it names the current revision and is still valid, and accepts
/// with the customer's choices — nothing else is reachable from here.
pub fn public_accept(ctx: &PublicCtx, req: &ApiRequest) -> ApiResult {
    let b: wire::PublicAcceptBody = parse_json(req)?;
    let key = link_key()?;
    let claims = wire::verify(&key, &b.token)?;
    let today = today(ctx.now);
    let choice = Choice {
        alternatives: b.alternatives,
        optional_lines: b.optional_lines,
    };
    let resp = ctx.db.transaction(|db| {
        let current = match store::get(db, claims.quotation) {
            Ok(q) => q,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::not_found("the quotation of this link no longer exists"))
            }
            Err(e) => return Err(e.into()),
        };
        let mut q = current.record;
        if q.revision() != claims.revision {
            return Err(ApiError::conflict(
                "link_superseded",
                format!(
                    "this link is for revision {} of {}; revision {} replaced it — ask for the new link",
                    claims.revision,
                    q.number(),
                    q.revision()
                ),
            )
            .with_field("token"));
        }
        if today > claims.valid_until {
            return Err(ApiError::conflict(
                "quotation_expired",
                format!("the link was valid until {}", claims.valid_until),
            )
            .with_field("token"));
        }
        q.accept(&choice, AcceptedBy::CustomerLink, ctx.now, today)
            .map_err(wire::error)?;
        let saved = store::save(db, &q, current.version, ctx.now)?;
        store::enqueue_event(db, "accepted", &q, json!({ "by": "customer_link" }), ctx.now)?;
        ApiResponse::json(200, &wire::public_json(&saved.record))
    })?;
    sales_kit::spin::wake_jobs();
    Ok(resp)
}
