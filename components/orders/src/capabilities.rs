//! The three capabilities the orchestrator imports — `pricing`,
//! `availability` and `approvals` (world `orchestrator` in
//! `wit/orders.wit`) — behind typed Rust functions. At build time
//! `sales-compose` plugs the components exporting them into this one, so
//! each call here is a plain function call into the plugged component,
//! which reads the same `default` database through its own connection.
//!
//! This module is the only one that sees WIT types: everything goes in as
//! domain values (ids, `Money`, `Decimal`, `NaiveDate`) and comes back as
//! the Rust records below. Every capability call but one is read-only
//! (DESIGN §2), so the order flow may call them inside its own write
//! transaction; the plugged component's connection sees what was
//! committed before, not the caller's open transaction. The exception is
//! approvals' [`decide`], a write committed in the capability's own
//! transaction: call it with no transaction of this component open.
//!
//! Errors: a capability answers `invalid(problem)` or `failed(problem)`.
//! [`ApiError`]s keep the capability's stable `code` and `field` (the field
//! names the *capability's* request as its HTTP API would: `lines[2].quantity`
//! for the third basket or check line, `snapshot.lines[0].quantity` for
//! approvals), so build the requests with lines in the order's line order.
//! `invalid` is a 409 for the codes that mean "the state does not allow
//! this" (`not_approved`, `insufficient_stock`, ...), else a 422; `failed`
//! is a 503 when the capability said `unavailable`, else a 500.
//! An answer that breaks the WIT contract (an id that is not a UUID, an
//! unparseable amount) is a 500 `capability_contract`.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::approvals::{DocumentId, DocumentSnapshotInput, StepKey, Verdict};
use sales_domain::availability::{
    AllocationStrategy, LineStatus, ProjectRoleId, ShipPolicy, WorkCenterId,
};
use sales_domain::ids::{
    ApprovalPolicyId, ChannelId, CustomerId, LineId, PriceListId, ProductId, WarehouseId,
};
use sales_domain::money::{Currency, Money};
use sales_kit::auth::Principal;
use sales_kit::{ApiError, ApiRequest};
use sales_store::orders::{RawJson, StoredPromise};

spin_sdk::wit_bindgen::generate!({
    world: "orchestrator",
    path: "../../wit",
    runtime_path: "spin_sdk::wit_bindgen::rt",
});

use sales::orchestration::approvals as wit_approvals;
use sales::orchestration::availability as wit_availability;
use sales::orchestration::pricing as wit_pricing;
use sales::orchestration::types::{
    DocumentKind as WitDocumentKind, DocumentRef as WitDocumentRef, Money as WitMoney,
};

// --- pricing ----------------------------------------------------------------

/// A basket to price: one line per order line, in the order's line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket {
    pub customer: CustomerId,
    /// The sales channel's code (`B2B`, `WEB`).
    pub channel_code: String,
    pub currency: Currency,
    /// The pricing date; today when `None`.
    pub date: Option<NaiveDate>,
    pub coupon_codes: Vec<String>,
    pub lines: Vec<BasketLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketLine {
    pub product: ProductId,
    pub quantity: Decimal,
    /// The product's own unit when `None`.
    pub uom: Option<String>,
}

/// Pricing's answer. Requested lines come first, numbered 1.. in request
/// order (`lines[n].line_no == n + 1`); free-item lines follow.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedBasket {
    pub currency: Currency,
    pub lines: Vec<PricedLine>,
    pub tax_breakdown: Vec<TaxLine>,
    pub totals: PricedTotals,
    /// Whether any line carries a flag that needs approval.
    pub requires_approval: bool,
    /// The whole waterfall as `POST /api/v1/pricing/price` answers it, for
    /// the document to keep as its price explanation: the capability's text,
    /// checked to be JSON, never decoded into a tree (issue 7).
    pub waterfall: RawJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub line_no: u32,
    /// `None` for a requested line; the rule's id for a free-item line.
    pub free_item_rule: Option<String>,
    pub product: ProductId,
    pub uom: String,
    pub quantity: Decimal,
    pub price_list: PriceListId,
    pub list_price: Money,
    pub adjustments: Vec<PriceAdjustment>,
    pub net_unit_price: Money,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
    pub margin: Money,
    /// Guard and clamp flags (`below_floor_price`, ...).
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceAdjustment {
    pub rule_id: String,
    pub rule_name: String,
    /// `discount_percent`, `discount_amount`, `fixed_rate`,
    /// `markup_on_cost`, `schedule` or `free_item`.
    pub kind: String,
    pub amount_per_unit: Money,
    pub unit_price_after: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxLine {
    pub code: String,
    pub rate_percent: Decimal,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedTotals {
    pub list_total: Money,
    pub discount_total: Money,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
}

/// Prices `basket` through the `pricing` capability (read-only).
pub fn price(basket: &Basket) -> Result<PricedBasket, ApiError> {
    let request = wit_pricing::Basket {
        customer_id: basket.customer.to_string(),
        channel_code: basket.channel_code.clone(),
        currency: basket.currency.code().to_owned(),
        date: basket.date.map(|d| d.to_string()),
        coupon_codes: basket.coupon_codes.clone(),
        lines: basket
            .lines
            .iter()
            .map(|l| wit_pricing::BasketLine {
                product_id: l.product.to_string(),
                quantity: l.quantity.to_string(),
                uom: l.uom.clone(),
            })
            .collect(),
    };
    let answer = wit_pricing::price_basket(&request).map_err(|e| match e {
        wit_pricing::PricingError::Invalid(p) => invalid(&p.code, p.field, p.detail),
        wit_pricing::PricingError::Failed(p) => failed(&p.code, p.field, p.detail),
    })?;
    from_priced(answer).map_err(|e| contract("pricing", e))
}

fn from_priced(p: wit_pricing::PricedBasket) -> Result<PricedBasket, String> {
    let lines = p
        .lines
        .into_iter()
        .map(|l| {
            Ok(PricedLine {
                line_no: l.line_no,
                free_item_rule: l.free_item_rule,
                product: id(&l.product_id, ProductId::parse)?,
                uom: l.uom,
                quantity: decimal(&l.quantity)?,
                price_list: id(&l.price_list_id, PriceListId::parse)?,
                list_price: money(&l.list_price)?,
                adjustments: l
                    .adjustments
                    .into_iter()
                    .map(|a| {
                        Ok(PriceAdjustment {
                            amount_per_unit: money(&a.amount_per_unit)?,
                            unit_price_after: money(&a.unit_price_after)?,
                            rule_id: a.rule_id,
                            rule_name: a.rule_name,
                            kind: a.kind,
                        })
                    })
                    .collect::<Result<_, String>>()?,
                net_unit_price: money(&l.net_unit_price)?,
                net_total: money(&l.net_total)?,
                tax_total: money(&l.tax_total)?,
                gross_total: money(&l.gross_total)?,
                margin: money(&l.margin)?,
                flags: l.flags,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(PricedBasket {
        currency: Currency::from_code(&p.currency).map_err(|e| e.to_string())?,
        lines,
        tax_breakdown: p
            .tax_breakdown
            .into_iter()
            .map(|t| {
                Ok(TaxLine {
                    rate_percent: decimal(&t.rate_percent)?,
                    amount: money(&t.amount)?,
                    code: t.code,
                })
            })
            .collect::<Result<_, String>>()?,
        totals: PricedTotals {
            list_total: money(&p.totals.list_total)?,
            discount_total: money(&p.totals.discount_total)?,
            net_total: money(&p.totals.net_total)?,
            tax_total: money(&p.totals.tax_total)?,
            gross_total: money(&p.totals.gross_total)?,
        },
        requires_approval: p.requires_approval,
        waterfall: RawJson::from_string(p.waterfall_json).map_err(|e| format!("not JSON: {e}"))?,
    })
}

// --- availability -----------------------------------------------------------

/// What to promise: one line per order line, in the order's line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequest {
    /// The channel whose warehouses (in order) to use.
    pub channel: Option<ChannelId>,
    /// Warehouse codes, first preferred; overrides the channel.
    pub warehouses: Option<Vec<String>>,
    /// `priority` when `None`.
    pub strategy: Option<AllocationStrategy>,
    /// `ship_as_available` when `None`.
    pub ship_policy: Option<ShipPolicy>,
    pub lines: Vec<CheckLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// The order line's id, so the promise names it; a fresh one when `None`.
    pub line_id: Option<LineId>,
    pub product: ProductId,
    /// At most three decimals (availability works in thousandths).
    pub quantity: Decimal,
    /// As soon as possible when `None`.
    pub requested_date: Option<NaiveDate>,
}

/// Availability's promise, lines in request order.
#[derive(Debug, Clone, PartialEq)]
pub struct Promise {
    pub today: NaiveDate,
    /// Whether every line is promised in full.
    pub complete: bool,
    /// When everything can ship, if `complete`.
    pub complete_by: Option<NaiveDate>,
    pub lines: Vec<LinePromise>,
    /// The whole promise as the availability engine made it (work-order
    /// start and finish, day schedules): what the order keeps and plans
    /// its reservations from, with the JSON text the capability gave (the
    /// order and its hold store that text: no serialising it again).
    pub detail: StoredPromise,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePromise {
    pub line_id: LineId,
    pub product: ProductId,
    pub status: LineStatus,
    pub quantity: Decimal,
    /// `promised_quantity + shortfall == quantity`.
    pub promised_quantity: Decimal,
    pub shortfall: Decimal,
    /// The date told to the customer; `None` when nothing can be promised.
    pub promised_date: Option<NaiveDate>,
    /// Add up to `promised_quantity` (a project slot delivers the line).
    pub sources: Vec<PromiseSource>,
    pub explanation: String,
}

/// Where (part of) a line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromiseSource {
    /// Free stock in a warehouse: what the order reserves.
    Stock {
        warehouse: WarehouseId,
        quantity: Decimal,
        ready_on: NaiveDate,
    },
    /// A work order to propose on a work centre (the shortfall to make).
    WorkOrder {
        work_center: WorkCenterId,
        quantity: Decimal,
        ready_on: NaiveDate,
    },
    /// Hours on a project role (a service line).
    ProjectSlot {
        role: ProjectRoleId,
        hours: Decimal,
        ready_on: NaiveDate,
    },
}

/// Promises `request` through the `availability` capability (read-only:
/// reserve the stock sources with `sales_store::availability::reservations`
/// inside the order's transaction).
pub fn promise(request: &CheckRequest) -> Result<Promise, ApiError> {
    let wit_request = wit_availability::CheckRequest {
        channel_id: request.channel.map(|c| c.to_string()),
        warehouses: request.warehouses.clone(),
        strategy: request.strategy.map(|s| word(&s)),
        ship_policy: request.ship_policy.map(|s| word(&s)),
        lines: request
            .lines
            .iter()
            .map(|l| wit_availability::CheckLine {
                line_id: l.line_id.map(|id| id.to_string()),
                product_id: l.product.to_string(),
                quantity: l.quantity.to_string(),
                requested_date: l.requested_date.map(|d| d.to_string()),
            })
            .collect(),
    };
    let answer = wit_availability::promise(&wit_request).map_err(|e| match e {
        wit_availability::AvailabilityError::Invalid(p) => invalid(&p.code, p.field, p.detail),
        wit_availability::AvailabilityError::Failed(p) => failed(&p.code, p.field, p.detail),
    })?;
    from_promise(answer).map_err(|e| contract("availability", e))
}

fn from_promise(p: wit_availability::OrderPromise) -> Result<Promise, String> {
    let lines = p
        .lines
        .into_iter()
        .map(|l| {
            Ok(LinePromise {
                line_id: id(&l.line_id, LineId::parse)?,
                product: id(&l.product_id, ProductId::parse)?,
                status: serde_json::from_value(serde_json::Value::String(l.status))
                    .map_err(|e| format!("line status: {e}"))?,
                quantity: decimal(&l.quantity)?,
                promised_quantity: decimal(&l.promised_quantity)?,
                shortfall: decimal(&l.shortfall)?,
                promised_date: l.promised_date.as_deref().map(date).transpose()?,
                sources: l
                    .sources
                    .into_iter()
                    .map(source)
                    .collect::<Result<_, String>>()?,
                explanation: l.explanation,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Promise {
        today: date(&p.today)?,
        complete: p.complete,
        complete_by: p.complete_by.as_deref().map(date).transpose()?,
        lines,
        detail: StoredPromise::from_json(p.promise_json)
            .map_err(|e| format!("the promise does not decode: {e}"))?,
    })
}

fn source(s: wit_availability::Source) -> Result<PromiseSource, String> {
    let quantity = decimal(&s.quantity)?;
    let ready_on = date(&s.ready_on)?;
    match s.kind.as_str() {
        "stock" => Ok(PromiseSource::Stock {
            warehouse: id(&s.origin_id, WarehouseId::parse)?,
            quantity,
            ready_on,
        }),
        "work_order" => Ok(PromiseSource::WorkOrder {
            work_center: id(&s.origin_id, WorkCenterId::parse)?,
            quantity,
            ready_on,
        }),
        "project_slot" => Ok(PromiseSource::ProjectSlot {
            role: id(&s.origin_id, ProjectRoleId::parse)?,
            hours: quantity,
            ready_on,
        }),
        other => Err(format!("unknown source kind `{other}`")),
    }
}

// --- approvals --------------------------------------------------------------

/// The levels a document version needs under the active policies.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// False when the document may go ahead without anyone's approval.
    pub approval_required: bool,
    /// By policy id, then level.
    pub levels: Vec<RequiredLevel>,
    /// The evaluation as `POST /api/v1/approvals/evaluate` answers it, with
    /// the values each level would approve (what an approval request
    /// keeps), as JSON text: decoded by [`Evaluation::detail`] only when
    /// an approval is required (issue 7: most submissions need none).
    detail_json: String,
}

impl Evaluation {
    /// The evaluation as `POST /api/v1/approvals/evaluate` answers it.
    pub fn detail(&self) -> Result<serde_json::Value, ApiError> {
        json(&self.detail_json).map_err(|e| contract("approvals", e))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredLevel {
    pub step: StepKey,
    pub policy_name: String,
    pub policy_revision: u32,
    pub level_name: String,
    pub reasons: Vec<Reason>,
}

/// One condition that triggered: what the document has against what the
/// policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub path: String,
    pub condition: String,
    pub observed: String,
    pub threshold: String,
}

/// Evaluates the approval policies against `snapshot` (read-only).
pub fn evaluate(snapshot: &DocumentSnapshotInput) -> Result<Evaluation, ApiError> {
    let answer = wit_approvals::evaluate(&to_snapshot(snapshot)?).map_err(approvals_error)?;
    let levels = answer
        .levels
        .into_iter()
        .map(|l| {
            Ok(RequiredLevel {
                step: StepKey {
                    policy: id(&l.step.policy_id, ApprovalPolicyId::parse)?,
                    level: l.step.level,
                },
                policy_name: l.policy_name,
                policy_revision: l.policy_revision,
                level_name: l.level_name,
                reasons: l
                    .reasons
                    .into_iter()
                    .map(|r| Reason {
                        path: r.path,
                        condition: r.condition,
                        observed: r.observed,
                        threshold: r.threshold,
                    })
                    .collect(),
            })
        })
        .collect::<Result<_, String>>()
        .map_err(|e| contract("approvals", e))?;
    Ok(Evaluation {
        approval_required: answer.approval_required,
        levels,
        detail_json: answer.evaluation_json,
    })
}

/// The gate before an order is confirmed: `Ok` when `snapshot` needs no
/// approval or its latest approval request authorizes exactly what it
/// needs now; otherwise the 409 `not_approved` problem with the reason.
pub fn check_authorized(snapshot: &DocumentSnapshotInput) -> Result<(), ApiError> {
    wit_approvals::check_authorized(&to_snapshot(snapshot)?).map_err(approvals_error)
}

/// A decision on a document's newest approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentDecision {
    pub document: DocumentId,
    pub verdict: Verdict,
    /// `None`: the caller's one pending step.
    pub step: Option<StepKey>,
    pub comment: Option<String>,
    /// The document version the approver looked at.
    pub document_version: u32,
}

/// What `decide` answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The approval request as `GET /api/v1/approvals/{id}` answers it.
    pub request: serde_json::Value,
    /// The stored answer to an earlier call with the same
    /// `Idempotency-Key`: nothing was decided now.
    pub replayed: bool,
}

/// Records `decision` by `by` through the approvals capability — the same
/// rules and code as `POST /api/v1/approvals/{id}/approve|reject`, the
/// outcome applied to the document by the jobs component from the outbox.
/// `req`'s `Idempotency-Key` (validate it first with
/// `sales_kit::idempotency::key`) is stored with the decision.
///
/// A WRITE, unlike every other capability call: the capability commits in
/// its own transaction on its own connection, so call it with no write
/// transaction of this component open (DESIGN §2).
///
/// Refusals keep the HTTP route's status, `code`, `field` and `detail`:
/// 422 invalid, 403 forbidden, 404 not found, 409 conflict.
pub fn decide(
    by: &Principal,
    decision: &DocumentDecision,
    req: &ApiRequest,
) -> Result<Decided, ApiError> {
    let (kind, id) = match decision.document {
        DocumentId::Quotation(q) => (WitDocumentKind::Quotation, q.to_string()),
        DocumentId::Order(o) => (WitDocumentKind::SalesOrder, o.to_string()),
    };
    let principal = wit_approvals::Principal {
        id: by.id().to_string(),
        name: by.name().to_owned(),
        roles: by.roles().iter().map(|r| r.as_str().to_owned()).collect(),
        sales_person_id: by.sales_person_id().map(|p| p.to_string()),
        territory_id: by.territory_id().map(|t| t.to_string()),
    };
    let wit_decision = wit_approvals::Decision {
        subject: wit_approvals::DecisionSubject::Document(WitDocumentRef {
            kind,
            id,
            number: None,
            version: decision.document_version,
        }),
        verdict: match decision.verdict {
            Verdict::Approve => wit_approvals::Verdict::Approve,
            Verdict::Reject => wit_approvals::Verdict::Reject,
        },
        step: decision.step.map(|s| wit_approvals::StepKey {
            policy_id: s.policy.to_string(),
            level: s.level,
        }),
        comment: decision.comment.clone(),
        document_version: decision.document_version,
    };
    let idempotency = req.header("idempotency-key").map(|key| {
        let target = if req.query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{}", req.path, req.query)
        };
        wit_approvals::Idempotency {
            key: key.to_owned(),
            method: req.method.as_str().to_owned(),
            target,
            body: req.body.clone(),
        }
    });
    let answer = wit_approvals::decide(&principal, &wit_decision, idempotency.as_ref())
        .map_err(decision_error)?;
    Ok(Decided {
        request: json(&answer.request_json).map_err(|e| contract("approvals", e))?,
        replayed: answer.replayed,
    })
}

fn decision_error(e: wit_approvals::DecisionError) -> ApiError {
    use wit_approvals::DecisionError as E;
    let (status, title, p) = match e {
        E::Invalid(p) => (422, "The decision was refused", p),
        E::Forbidden(p) => (403, "You may not decide this approval", p),
        E::NotFound(p) => (404, "Not found", p),
        E::Conflict(p) => (409, "The approval does not take this decision", p),
        E::Failed(p) => return failed(&p.code, p.field, p.detail),
    };
    let err = ApiError::new(status, static_code(&p.code), title, p.detail);
    match p.field {
        Some(f) => err.with_field(f),
        None => err,
    }
}

fn approvals_error(e: wit_approvals::ApprovalsError) -> ApiError {
    match e {
        wit_approvals::ApprovalsError::Invalid(p) => invalid(&p.code, p.field, p.detail),
        wit_approvals::ApprovalsError::Failed(p) => failed(&p.code, p.field, p.detail),
    }
}

fn to_snapshot(s: &DocumentSnapshotInput) -> Result<wit_approvals::DocumentSnapshot, ApiError> {
    let (kind, id) = match s.document {
        DocumentId::Quotation(q) => (WitDocumentKind::Quotation, q.to_string()),
        DocumentId::Order(o) => (WitDocumentKind::SalesOrder, o.to_string()),
    };
    Ok(wit_approvals::DocumentSnapshot {
        document: WitDocumentRef {
            kind,
            id,
            number: None,
            version: s.version,
        },
        channel_code: s.channel.clone(),
        customer: wit_approvals::CustomerFacts {
            id: s.customer.id.to_string(),
            group_chain: s
                .customer
                .group_chain
                .iter()
                .map(ToString::to_string)
                .collect(),
            territory_id: s.customer.territory.map(|t| t.to_string()),
            credit_limit: s.customer.credit_limit.as_ref().map(to_money),
            open_exposure: to_money(&s.customer.open_exposure),
        },
        submitted_by: s.submitted_by.to_string(),
        payment_terms_days: s.payment_terms_days,
        default_payment_terms_days: s.default_payment_terms_days,
        currency: s.currency.code().to_owned(),
        total: to_money(&s.total),
        lines: s
            .lines
            .iter()
            .map(|l| wit_approvals::SnapshotLine {
                line_no: l.line_no,
                product_id: l.product.to_string(),
                item_group_chain: l.item_group_chain.iter().map(ToString::to_string).collect(),
                quantity: l.quantity.to_string(),
                list_price: to_money(&l.list_price),
                net_price: to_money(&l.net_price),
                discount_percent: l.discount_percent.to_string(),
                margin_percent: l.margin_percent.map(|m| m.to_string()),
                flags: l.flags.iter().map(word).collect(),
            })
            .collect(),
    })
}

// --- conversions ------------------------------------------------------------

/// The codes a capability answers as `invalid` that are 409s over HTTP
/// (the request is fine, the state does not allow it). Any other
/// `invalid` code is a 422, as the capabilities' HTTP APIs answer them.
const CONFLICT_CODES: &[&str] = &[
    "not_approved",
    "not_a_newer_version",
    "approval_closed",
    "stale_document_version",
    "step_not_pending",
    "already_decided",
    "insufficient_stock",
    "cannot_ship_complete",
    "invalid_state",
    "duplicate",
];

/// `ApiError` codes are `&'static str` (stable codes are constants). A
/// known code is used as is; a code only a replacement capability knows is
/// leaked once, which is bounded: every request runs in a fresh instance.
fn static_code(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "invalid_field",
        "missing_field",
        "unknown_field",
        "unknown_reference",
        "unknown_coupon",
        "currency_mismatch",
        "no_price",
        "out_of_range",
        "nothing_to_approve",
        "approvers_unavailable",
        "unknown_approver",
        "self_approval",
        "not_an_approver",
        "forbidden",
        "not_found",
        "reason_required",
        "no_approval_request",
        "idempotency_key_reused",
        "version_conflict",
        "unavailable",
        "internal",
    ];
    KNOWN
        .iter()
        .chain(CONFLICT_CODES)
        .find(|k| **k == code)
        .copied()
        .unwrap_or_else(|| Box::leak(code.to_owned().into_boxed_str()))
}

fn invalid(code: &str, field: Option<String>, detail: String) -> ApiError {
    let code = static_code(code);
    let err = if CONFLICT_CODES.contains(&code) {
        ApiError::conflict(code, detail)
    } else {
        ApiError::new(422, code, "The request was refused", detail)
    };
    match field {
        Some(f) => err.with_field(f),
        None => err,
    }
}

fn failed(code: &str, field: Option<String>, detail: String) -> ApiError {
    let status = if code == "unavailable" { 503 } else { 500 };
    let err = ApiError::new(status, static_code(code), "A capability failed", detail);
    match field {
        Some(f) => err.with_field(f),
        None => err,
    }
}

fn contract(capability: &str, detail: String) -> ApiError {
    ApiError::new(
        500,
        "capability_contract",
        "A capability broke its interface",
        format!(
            "the {capability} capability answered something its interface does not allow: {detail}"
        ),
    )
}

fn id<T, E: std::fmt::Display>(
    s: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, String> {
    parse(s).map_err(|e| format!("`{s}`: {e}"))
}

fn decimal(s: &str) -> Result<Decimal, String> {
    Decimal::from_str(s).map_err(|e| format!("`{s}` is not a decimal: {e}"))
}

fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("`{s}` is not a date: {e}"))
}

fn money(m: &WitMoney) -> Result<Money, String> {
    Money::parse(&m.amount, &m.currency).map_err(|e| format!("{} {}: {e}", m.amount, m.currency))
}

fn to_money(m: &Money) -> WitMoney {
    WitMoney {
        amount: m.amount().to_string(),
        currency: m.currency().code().to_owned(),
    }
}

fn json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))
}

/// A snake_case enum's serde name (`ship_complete`, `below_floor`).
fn word<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
