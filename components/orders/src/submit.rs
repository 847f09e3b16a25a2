//! Order submission in one request, and amendments after confirmation.
//!
//! `POST /orders/{id}/submit` runs the pipeline:
//!
//! 1. **validate** — a draft with lines, an active customer, channel and
//!    products; a channel that sells from quotations refuses an order not
//!    converted from one (422 `quotation_required`);
//! 2. **price** — the `pricing` capability prices the lines (kept quoted
//!    rates win over today's price);
//! 3. **credit check** — this order plus open orders plus unpaid exposure
//!    against the customer's limit, `block` (409 `credit_limit_exceeded`)
//!    / `warn` / `off` from the channel, else the settings; a channel whose
//!    orders arrive paid skips it;
//! 4. **promise** — the `availability` capability promises each line and
//!    the reservation rows follow from it;
//! 5. **approvals** — the `approvals` capability evaluates the snapshot;
//! 6. **one transaction** — the priced order, its reservations (re-checked
//!    with the store's conditional reserve: a line that no longer fits is
//!    409 `insufficient_stock` and nothing is written), the approval
//!    request when one is needed (status `pending_approval`, else
//!    `confirmed`), the outbox events (`order.submitted`, then
//!    `order.confirmed` with the downstream demand or `approval.requested`
//!    with the request and its approvers) and the idempotency record;
//! 7. after the commit, the jobs component is woken, and the answer is
//!    the order: status, totals, per-line promised dates.
//!
//! Steps 1–5 only read (the capabilities are read-only and see committed
//! data), so they run before the write transaction and do not hold the
//! database's write lock; step 6 re-reads the order (a concurrent
//! submission makes it 409) and re-runs the credit check on the exposure
//! of the moment. Fault points (`sales_kit::fault::point`) sit between the
//! steps, for the atomicity tests.
//!
//! A channel whose orders are handed over on the spot (`fulfil_on_order`,
//! a point of sale) skips the promise: every goods line is taken from the
//! channel's first warehouse, reserved and consumed in the same
//! transaction, and the order ends `fulfilled` (unless it needs approval,
//! when it waits like any other order).
//!
//! `PATCH` of a submitted order ([`amend`]) re-prices it, re-runs the
//! credit check, re-plans its reservations inside the transaction (its own
//! hold released first, so it does not compete with itself) and asks the
//! approvals capability whether the latest approval still authorizes what
//! the new version needs (`check-authorized`); when it does not, the
//! levels whose values got worse ask again (smart re-approval) and a
//! confirmed order goes back to `pending_approval`. `order.amended`
//! carries the diff, and the new demand only when no approval is needed
//! again: downstream work (work orders, projects) never runs ahead of an
//! approval; the approval's `order.confirmed` carries the new demand.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use sales_domain::approvals::{
    ApprovalRequest, CustomerFacts, DocumentId, DocumentSnapshotInput, PricingFlagKind,
    RequiredApprovals, SnapshotLineInput,
};
use sales_domain::auth::Action;
use sales_domain::availability::{
    plan_reservations, OrderPromise, PlannedReservation, PromiseContext, PromiseLine,
    PromiseRequest, PromiseRequestSpec, PromiseSource, ReservationStatus,
};
use sales_domain::catalog::{Channel, CreditCheck, Customer, Product, Settings};
use sales_domain::downstream::DemandState;
use sales_domain::ids::{
    ApprovalRequestId, ItemGroupId, OrderId, ProductId, ReservationId, TerritoryId, WarehouseId,
};
use sales_domain::money::Money;
use sales_domain::orders::fulfilment::record_shipment;
use sales_domain::orders::{
    apply_priced, check_credit, diff, CreditExposure, CreditOutcome, LineKind, LinePricing, Order,
    OrderError, OrderPatch, OrderPolicy, OrderStatus, Shipment,
};
use sales_kit::auth::{require, Principal};
use sales_kit::fault::point;
use sales_kit::idempotency::{self, write};
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::api_keys::{self, ApiKeyFilter};
use sales_store::approvals::requests;
use sales_store::availability::reservations::{self, Hold};
use sales_store::orders::{
    self, emit, order_event, source_name, OrderRecord, RawJson, StoredPromise,
};
use sales_store::outbox::{enqueue, enqueue_all, NewEvent};
use sales_store::page::{Versioned, MAX_LIMIT};
use sales_store::{Db, Page, StoreError};
use serde::Deserialize;

use crate::capabilities::{self, Basket, BasketLine, CheckLine, CheckRequest};
use crate::errors;
use crate::orders::{channel, customer, optional_body, today};
use crate::wire::{order_response, path_id};
use crate::Ctx;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// Coupons for pricing.
    #[serde(default)]
    coupon_codes: Vec<String>,
}

/// Everything the read-only steps worked out, for the transaction to write.
struct Prepared {
    /// The order in its next state: priced, promised, with the credit
    /// outcome, the status and (when needed) the approval request id.
    order: Order,
    waterfall: RawJson,
    promise: Option<StoredPromise>,
    /// The reservation rows (none for services or what stock cannot cover).
    rows: Vec<PlannedReservation>,
    policy: OrderPolicy,
    limit: Option<Money>,
    required: Option<RequiredApprovals>,
    /// Where manufactured units of the order are received (its demand),
    /// resolved before the write transaction.
    receiving: Option<WarehouseId>,
}

fn bad_line(field: String, message: &str) -> ApiError {
    ApiError::invalid_field(field, message)
}

/// The lines' products, each active, or a 422 naming the line.
fn active_products(
    db: &impl Db,
    order: &Order,
) -> Result<BTreeMap<sales_domain::ids::ProductId, Product>, ApiError> {
    let products = orders::load_products(db, order.lines().iter().map(|l| l.product_id))?;
    for (i, l) in order.lines().iter().enumerate() {
        match products.get(&l.product_id) {
            None => {
                return Err(errors::order(OrderError::UnknownProduct {
                    field: format!("lines[{i}].product_id"),
                    product: l.product_id,
                }))
            }
            Some(p) if !p.is_active() => {
                return Err(errors::order(OrderError::InactiveProduct {
                    field: format!("lines[{i}].product_id"),
                    product: l.product_id,
                }))
            }
            Some(_) => {}
        }
    }
    Ok(products)
}

/// Prices the order's lines through the pricing capability.
fn price(
    order: &Order,
    channel: &Channel,
    settings: &Settings,
    coupons: &[String],
    ctx: &Ctx,
) -> Result<(Order, RawJson), ApiError> {
    let basket = Basket {
        customer: order.customer_id(),
        channel_code: channel.code().to_owned(),
        currency: order.currency(),
        date: Some(today(ctx)),
        coupon_codes: coupons.to_vec(),
        lines: order
            .lines()
            .iter()
            .map(|l| BasketLine {
                product: l.product_id,
                quantity: l.quantity,
                uom: Some(l.uom.clone()),
            })
            .collect(),
    };
    let priced = capabilities::price(&basket)?;
    let lines: Vec<LinePricing> = priced
        .lines
        .iter()
        .filter(|l| l.free_item_rule.is_none())
        .take(order.lines().len())
        .map(|l| LinePricing {
            list_price: l.list_price,
            net_unit_price: l.net_unit_price,
            net_total: l.net_total,
            tax_total: l.tax_total,
            gross_total: l.gross_total,
            margin: l.margin,
            flags: l.flags.clone(),
        })
        .collect();
    let order = apply_priced(order, lines, settings.rounding()).map_err(errors::pricing)?;
    Ok((order, priced.waterfall))
}

/// The credit check on the exposure of the moment.
fn credit(
    db: &impl Db,
    order: &Order,
    mode: CreditCheck,
    limit: Option<&Money>,
) -> Result<CreditOutcome, ApiError> {
    let (open, unpaid) = if mode == CreditCheck::Off {
        let zero = Money::zero(order.currency());
        (zero, zero)
    } else {
        orders::customer_exposure(db, order.customer_id(), order.currency(), order.id())?
    };
    let exposure = CreditExposure {
        this_order: order.grand_total(),
        open_orders: open,
        unpaid,
    };
    let outcome = check_credit(mode, limit, &exposure).map_err(|e| {
        ApiError::new(
            422,
            "out_of_range",
            "An amount is out of range",
            e.to_string(),
        )
    })?;
    if outcome.blocked() {
        return Err(ApiError::conflict(
            "credit_limit_exceeded",
            outcome
                .message
                .clone()
                .unwrap_or_else(|| "the order is over the customer's credit limit".into()),
        )
        .with_field("customer_id"));
    }
    Ok(outcome)
}

fn with_credit(order: Order, outcome: CreditOutcome) -> Result<Order, ApiError> {
    let mut parts = order.into_parts();
    parts.credit = Some(outcome);
    Order::from_parts(parts).map_err(errors::order)
}

/// The order's lines with the dates and sources of `promise`.
fn with_promise(order: &Order, promise: &OrderPromise) -> Result<Order, ApiError> {
    let mut parts = order.parts().clone();
    for l in &mut parts.lines {
        if let Some(p) = promise.lines.iter().find(|p| p.line_id == l.id) {
            l.promised_date = p.promised_date;
            l.promise_source = source_name(&p.sources).map(str::to_owned);
        }
    }
    Order::from_parts(parts).map_err(errors::order)
}

/// Promises the lines through the availability capability.
fn promise(
    order: &Order,
    channel: &Channel,
    today: chrono::NaiveDate,
) -> Result<(StoredPromise, Vec<PlannedReservation>), ApiError> {
    let request = CheckRequest {
        // The channel's warehouses in its order, as the capability would
        // read them from the channel: given as codes, so it does not read
        // the channel again (issue 7). A channel without warehouses ships
        // from every active one.
        channel: None,
        warehouses: (!channel.warehouses().is_empty()).then(|| channel.warehouses().to_vec()),
        strategy: None,
        ship_policy: None,
        lines: order
            .lines()
            .iter()
            .map(|l| CheckLine {
                line_id: Some(l.id),
                product: l.product_id,
                quantity: l.quantity,
                // A date that has passed since the draft was written means
                // as soon as possible (as a quotation's conversion drops it).
                requested_date: l
                    .requested_date
                    .or(order.requested_date())
                    .filter(|d| *d >= today),
            })
            .collect(),
    };
    let promised = capabilities::promise(&request)
        .map_err(|e| channel_warehouse_error(e, channel))?
        .detail;
    let plan = plan_reservations(order.id(), &promised, None).map_err(|e| {
        ApiError::conflict("cannot_ship_complete", e.to_string()).with_field("lines")
    })?;
    Ok((promised, plan.rows))
}

/// A warehouse of the channel that is gone or inactive, refused as the
/// capability refuses it when it reads the channel itself: the channel
/// named, on `channel_id`.
fn channel_warehouse_error(e: ApiError, channel: &Channel) -> ApiError {
    match e.field() {
        Some(f) if f.starts_with("warehouses") && e.code() == "unknown_reference" => ApiError::new(
            e.status(),
            e.code(),
            "The request was refused",
            format!("channel {}: {}", channel.code(), e.detail()),
        )
        .with_field("channel_id"),
        _ => e,
    }
}

/// A point of sale: every goods line in full from the channel's first
/// warehouse, today.
fn counter_rows(
    db: &impl Db,
    order: &Order,
    channel: &Channel,
    ctx: &Ctx,
) -> Result<Vec<PlannedReservation>, ApiError> {
    let warehouse = first_warehouse(db, channel)?;
    Ok(order
        .lines()
        .iter()
        .filter(|l| l.kind() == LineKind::Goods)
        .map(|l| PlannedReservation {
            line_id: l.id,
            product: l.product_id,
            warehouse,
            quantity: l.quantity,
            needed_on: today(ctx),
            valid_until: None,
        })
        .collect())
}

fn first_warehouse(db: &impl Db, channel: &Channel) -> Result<WarehouseId, ApiError> {
    let code = channel.warehouses().first().ok_or_else(|| {
        ApiError::new(
            422,
            "no_warehouse",
            "The channel has no warehouse",
            format!(
                "channel {} hands orders over on the spot but lists no warehouse",
                channel.code()
            ),
        )
        .with_field("channel_id")
    })?;
    match sales_store::availability::warehouses::find_by_code(db, code)? {
        Some(w) if w.record.is_active() => Ok(w.record.id()),
        _ => Err(ApiError::new(
            422,
            "no_warehouse",
            "The channel's warehouse does not exist",
            format!(
                "warehouse {code} of channel {} is not an active warehouse",
                channel.code()
            ),
        )
        .with_field("channel_id")),
    }
}

/// The customer's territory as approvals see it: the explicit one, else the
/// one a territory rule places the customer in (the same placement
/// visibility and the sales team default use), so a `territory_manager`
/// level finds its approver for rule-placed customers too.
pub(crate) fn effective_territory(
    db: &impl Db,
    customer: &Customer,
) -> Result<Option<TerritoryId>, ApiError> {
    match customer.territory_id() {
        Some(t) => Ok(Some(t)),
        // Placed from the customer already read: no second read of it.
        None => Ok(sales_store::teams::territories::territory_of(db, customer)?.territory_id),
    }
}

pub(crate) fn flag_kind(flag: &str) -> Option<PricingFlagKind> {
    match flag {
        "below_floor" | "below_floor_price" => Some(PricingFlagKind::BelowFloor),
        "below_minimum_margin" => Some(PricingFlagKind::BelowMinimumMargin),
        "clamped_at_zero" => Some(PricingFlagKind::ClampedAtZero),
        _ => None,
    }
}

/// What a priced line of a quotation or an order brings to its approval
/// snapshot.
pub(crate) struct PricedLine<'a> {
    pub product: ProductId,
    pub quantity: Decimal,
    pub list_price: Money,
    pub net_unit_price: Money,
    pub net_total: Money,
    /// `None` when the line's cost is unknown.
    pub margin: Option<Money>,
    pub flags: &'a [String],
}

/// One line of an approval snapshot (`line_index` counts from 0): its item
/// group chain (looked up once per group in `chains`, however many lines
/// share it), the discount off the list price and the margin in percent,
/// both to 4 places, and the pricing flags the policies test.
pub(crate) fn snapshot_line(
    db: &impl Db,
    products: &BTreeMap<ProductId, Product>,
    chains: &mut BTreeMap<ItemGroupId, Vec<ItemGroupId>>,
    line_index: usize,
    line: PricedLine<'_>,
) -> Result<SnapshotLineInput, ApiError> {
    let item_group_chain = match products.get(&line.product).and_then(|p| p.item_group_id()) {
        Some(g) => match chains.get(&g) {
            Some(chain) => chain.clone(),
            None => {
                let mut chain = vec![g];
                chain.extend(sales_store::trees::ancestors(db, g)?);
                chains.insert(g, chain.clone());
                chain
            }
        },
        None => vec![],
    };
    let list = line.list_price.amount();
    let net = line.net_unit_price.amount();
    let discount_percent = if list.is_zero() {
        Decimal::ZERO
    } else {
        ((list - net) / list * Decimal::ONE_HUNDRED).round_dp(4)
    };
    let margin_percent = match line.margin {
        Some(m) if !line.net_total.amount().is_zero() => {
            Some((m.amount() / line.net_total.amount() * Decimal::ONE_HUNDRED).round_dp(4))
        }
        _ => None,
    };
    Ok(SnapshotLineInput {
        line_no: u32::try_from(line_index + 1).unwrap_or(u32::MAX),
        product: line.product,
        item_group_chain,
        quantity: line.quantity,
        list_price: line.list_price,
        net_price: line.net_unit_price,
        discount_percent,
        margin_percent,
        flags: line.flags.iter().filter_map(|f| flag_kind(f)).collect(),
    })
}

/// The snapshot the approval policies test.
#[allow(clippy::too_many_arguments)]
fn snapshot(
    db: &impl Db,
    order: &Order,
    revision: i64,
    customer: &Customer,
    channel: &Channel,
    policy: &OrderPolicy,
    products: &BTreeMap<ProductId, Product>,
    principal: &Principal,
) -> Result<DocumentSnapshotInput, ApiError> {
    let group_chain = match customer.customer_group_id() {
        Some(g) => {
            let mut chain = vec![g];
            chain.extend(sales_store::trees::ancestors(db, g)?);
            chain
        }
        None => vec![],
    };
    // The credit check worked the exposure out already (unless it is off).
    let (open, unpaid) = match order
        .parts()
        .credit
        .as_ref()
        .and_then(|c| c.exposure.as_ref())
    {
        Some(e) => (e.open_orders, e.unpaid),
        None => orders::customer_exposure(db, order.customer_id(), order.currency(), order.id())?,
    };
    let zero = Money::zero(order.currency());
    // One chain lookup per item group, however many lines share it.
    let mut chains = BTreeMap::new();
    let mut lines = Vec::with_capacity(order.lines().len());
    for (i, l) in order.lines().iter().enumerate() {
        let Some(p) = &l.pricing else {
            return Err(ApiError::internal("a line was not priced"));
        };
        lines.push(snapshot_line(
            db,
            products,
            &mut chains,
            i,
            PricedLine {
                product: l.product_id,
                quantity: l.quantity,
                list_price: p.list_price,
                net_unit_price: p.net_unit_price,
                net_total: p.net_total,
                margin: Some(p.margin),
                flags: &p.flags,
            },
        )?);
    }
    let open_exposure = open
        .checked_add(&unpaid)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(DocumentSnapshotInput {
        document: DocumentId::Order(order.id()),
        version: u32::try_from(revision).unwrap_or(u32::MAX),
        channel: channel.code().to_owned(),
        customer: CustomerFacts {
            id: customer.id(),
            group_chain,
            territory: effective_territory(db, customer)?,
            credit_limit: customer.credit_limit(),
            open_exposure,
        },
        submitted_by: principal.id(),
        payment_terms_days: policy.payment_terms.as_ref().map_or(0, |t| t.days()),
        default_payment_terms_days: channel.payment_terms().map_or(0, |t| t.days()),
        currency: order.currency(),
        total: order.totals().map_or(zero, |t| t.net_total),
        lines,
    })
}

/// The levels the snapshot needs, from the approvals capability's answer.
pub(crate) fn required(
    snapshot: &DocumentSnapshotInput,
) -> Result<Option<RequiredApprovals>, ApiError> {
    let evaluation = capabilities::evaluate(snapshot)?;
    if !evaluation.approval_required {
        return Ok(None);
    }
    let mut detail = evaluation.detail()?;
    if let Some(map) = detail.as_object_mut() {
        map.remove("approval_required");
    }
    serde_json::from_value(detail).map(Some).map_err(|e| {
        ApiError::new(
            500,
            "capability_contract",
            "A capability broke its interface",
            format!("the approvals evaluation does not decode: {e}"),
        )
    })
}

/// The people approvals know, from the usable API keys (and the caller),
/// who manages whom and who runs each territory — built as the approvals
/// component builds it.
pub(crate) fn directory(
    db: &impl Db,
    caller: &Principal,
) -> Result<sales_domain::approvals::Directory, ApiError> {
    let mut dir = sales_domain::approvals::Directory::default();
    let mut add = |p: &Principal| {
        dir.principals.insert(p.id());
        for role in p.roles() {
            dir.roles.entry(*role).or_default().insert(p.id());
        }
    };
    add(caller);
    let filter = ApiKeyFilter {
        revoked: Some(false),
    };
    let mut page = Page::first(MAX_LIMIT);
    loop {
        let (keys, next) = api_keys::list(db, &filter, &page)?;
        for key in &keys {
            add(key.principal());
        }
        match next {
            Some(cursor) => page = Page::after(MAX_LIMIT, cursor),
            None => break,
        }
    }
    dir.managers = sales_store::approvals::managers::all(db)?;
    // The sales hierarchy (who manages whom, territory managers) where the
    // teams capability knows it; the approval-managers list stays the fallback.
    sales_store::teams::directory::fill(db, &mut dir)?;
    Ok(dir)
}

pub(crate) fn decision_error(e: sales_domain::approvals::DecisionError) -> ApiError {
    use sales_domain::approvals::DecisionError as D;
    match &e {
        D::Approvers { .. } => ApiError::new(
            422,
            "approvers_unavailable",
            "Nobody can approve",
            e.to_string(),
        ),
        D::NothingToApprove => ApiError::internal(e.to_string()),
        D::Prior(_)
        | D::RequestClosed { .. }
        | D::StaleVersion { .. }
        | D::NotNewer { .. }
        | D::PriorStillOpen { .. }
        | D::UnknownStep(_)
        | D::StepNotPending { .. }
        | D::SelfApproval(_)
        | D::NotAnApprover { .. }
        | D::AlreadyDecided { .. }
        | D::ReasonRequired
        | D::BadComment(_) => ApiError::conflict("approval_conflict", e.to_string()),
    }
}

/// Opens the approval request for `required` (superseding the document's
/// live request, whose kept levels carry over) and stores it.
pub(crate) fn open_request(
    db: &impl Db,
    required: &RequiredApprovals,
    id: ApprovalRequestId,
    caller: &Principal,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ApprovalRequest, ApiError> {
    let prior = match requests::latest_for(db, required.document.document)? {
        Some(latest) => match latest.record.status().name() {
            "pending" | "approved" => {
                let superseded = latest
                    .record
                    .supersede(required.document.version, now)
                    .map_err(decision_error)?;
                requests::save(db, &superseded, latest.version, now)?;
                Some(superseded)
            }
            _ => Some(latest.record),
        },
        None => None,
    };
    let request = ApprovalRequest::open(id, required, prior.as_ref(), &directory(db, caller)?, now)
        .map_err(decision_error)?;
    requests::create(db, &request, now)?;
    Ok(request)
}

/// `approval.requested`: the request, the document and who is asked.
fn approval_event(
    db: &impl Db,
    request: &ApprovalRequest,
    order: &Order,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let mut approvers: Vec<String> = request
        .steps()
        .iter()
        .flat_map(|s| s.approvers().iter().map(ToString::to_string))
        .collect();
    approvers.sort();
    approvers.dedup();
    enqueue(
        db,
        &NewEvent {
            topic: "approval.requested".into(),
            aggregate_kind: "approval_request".into(),
            aggregate_id: request.id().to_string(),
            payload: serde_json::json!({
                "request_id": request.id(),
                "document_kind": "order",
                "document_id": order.id(),
                "document_version": request.document().version,
                "document_number": order.number(),
                "approvers": approvers,
            }),
        },
        now,
    )?;
    Ok(())
}

/// The order's lines pointing at the hold of `rows`.
fn point_at(
    order: &Order,
    rows: &[PlannedReservation],
    hold: ReservationId,
) -> Result<Order, ApiError> {
    let mut parts = order.parts().clone();
    for l in &mut parts.lines {
        let held: Decimal = rows
            .iter()
            .filter(|r| r.line_id == l.id)
            .map(|r| r.quantity)
            .sum();
        l.reserved_quantity = held;
        l.reservation_id = (held > Decimal::ZERO).then_some(hold);
    }
    Order::from_parts(parts).map_err(errors::order)
}

fn empty_promise(ctx: &Ctx) -> Result<StoredPromise, ApiError> {
    StoredPromise::new(OrderPromise {
        today: today(ctx),
        ship_policy: sales_domain::availability::ShipPolicy::ShipAsAvailable,
        strategy: sales_domain::availability::AllocationStrategy::Priority,
        complete: true,
        complete_by: Some(today(ctx)),
        lines: vec![],
    })
    .map_err(|e| ApiError::internal(format!("failed to write a promise: {e}")))
}

/// Whether a line of `promise` is made (a work order) or booked (a project
/// slot): only then does the order's demand need a receiving warehouse.
fn demands_work(promise: &OrderPromise) -> bool {
    promise
        .lines
        .iter()
        .flat_map(|l| &l.sources)
        .any(|s| !matches!(s, PromiseSource::Stock(_)))
}

/// Steps 1–5: validate, price, credit, promise, approvals. Writes nothing.
fn prepare(
    ctx: &Ctx,
    current: &Versioned<OrderRecord>,
    body: &SubmitBody,
) -> Result<Prepared, ApiError> {
    let db = &ctx.db;
    let order = &current.record.order;
    order
        .status()
        .submit(false)
        .map_err(|e| errors::order(e.into()))?;
    if order.lines().is_empty() {
        return Err(bad_line(
            "lines".into(),
            "an order needs at least one line to be submitted",
        ));
    }
    let customer = customer(db, order.customer_id())?;
    let channel = channel(db, order.channel_id())?;
    let settings = sales_store::settings::get(db)?.record;
    let products = active_products(db, order)?;
    let policy = OrderPolicy::resolve(order, &customer, &channel, &settings);
    policy
        .check_origin(order, channel.code())
        .map_err(errors::order)?;

    let (order, waterfall) = price(order, &channel, &settings, &body.coupon_codes, ctx)?;
    point("submit.after_price")?;

    let outcome = credit(
        db,
        &order,
        policy.credit_check,
        customer.credit_limit().as_ref(),
    )?;
    let order = with_credit(order, outcome)?;
    point("submit.after_credit")?;

    let (order, promise, rows) = if policy.fulfil_on_order {
        let rows = counter_rows(db, &order, &channel, ctx)?;
        let mut parts = order.into_parts();
        for l in &mut parts.lines {
            l.promised_date = Some(today(ctx));
            l.promise_source = Some("stock".into());
        }
        (Order::from_parts(parts).map_err(errors::order)?, None, rows)
    } else {
        let (promised, rows) = promise(&order, &channel, today(ctx))?;
        (with_promise(&order, &promised)?, Some(promised), rows)
    };
    point("submit.after_promise")?;

    let snap = snapshot(
        db,
        &order,
        current.record.revision,
        &customer,
        &channel,
        &policy,
        &products,
        &ctx.principal,
    )?;
    let required = required(&snap)?;
    point("submit.after_approvals")?;
    // Only a line made or booked (a work order or a project slot) demands
    // anything of a warehouse downstream; a promise all from stock needs
    // no receiving warehouse (`demand_into` gives the same lines without
    // it), so the read is skipped.
    let receiving = if promise.as_deref().is_some_and(demands_work) {
        orders::receiving_warehouse_of(db, &channel)?
    } else {
        None
    };

    Ok(Prepared {
        receiving,
        order,
        waterfall,
        promise,
        rows,
        policy,
        limit: customer.credit_limit(),
        required,
    })
}

/// Step 6, inside the write transaction.
fn commit(ctx: &Ctx, db: &impl Db, current: &Versioned<OrderRecord>, p: Prepared) -> ApiResult {
    let id = current.record.order.id();
    // The exposure may have grown since the check: check again, now that
    // the write lock is held.
    let outcome = credit(db, &p.order, p.policy.credit_check, p.limit.as_ref())?;
    let mut order = with_credit(p.order, outcome)?;

    let status = order
        .status()
        .submit(p.required.is_some())
        .map_err(|e| errors::order(e.into()))?;
    let request_id = p.required.as_ref().map(|_| ApprovalRequestId::new());
    let hold_id = ReservationId::new();
    {
        let mut parts = order.with_status(status, None).into_parts();
        parts.approval_request_id = request_id;
        parts.submitted_by = Some(ctx.principal.id());
        if p.policy.paid_on_order {
            parts.paid_amount = parts
                .totals
                .as_ref()
                .map_or(Decimal::ZERO, |t| t.grand_total.amount());
        }
        parts.payment_terms = p.policy.payment_terms.clone();
        order = point_at(
            &Order::from_parts(parts).map_err(errors::order)?,
            &p.rows,
            hold_id,
        )?;
    }
    let rec = OrderRecord {
        order,
        revision: current.record.revision,
        order_date: current.record.order_date,
        waterfall: Some(p.waterfall),
        promise: p.promise.clone(),
        submitted_at: Some(ctx.now),
    };
    // Saved on the version the steps above read: a submission or edit that
    // committed meanwhile makes this a conflict, told apart below.
    let mut saved =
        match orders::save_over(db, rec, &current.record.order, current.version, ctx.now) {
            Err(StoreError::VersionConflict { .. }) => {
                let now = orders::get(db, id)?;
                now.record
                    .order
                    .status()
                    .submit(false)
                    .map_err(|e| errors::order(e.into()))?;
                return Err(ApiError::version_conflict(now.version));
            }
            other => other?,
        };
    point("submit.after_order_written")?;

    if !p.rows.is_empty() {
        let hold = Hold {
            id: hold_id,
            document: saved.record.order.number().to_owned(),
            status: ReservationStatus::Held,
            valid_until: None,
            rows: p.rows.clone(),
            promise: match &p.promise {
                Some(promise) => promise.clone(),
                None => empty_promise(ctx)?,
            },
        };
        // The submission's transaction rolls back whole on an error: no
        // SAVEPOINT of the hold's own.
        reservations::reserve_in_transaction(db, &hold, ctx.now)?;
        if p.policy.fulfil_on_order && status == OrderStatus::Confirmed {
            reservations::consume(db, hold_id, ctx.now)?;
        }
    }
    if p.policy.fulfil_on_order && status == OrderStatus::Confirmed {
        let order = &saved.record.order;
        let shipped =
            record_shipment(order, &Shipment::everything_open(order)).map_err(errors::order)?;
        let mut parts = shipped.into_parts();
        for l in &mut parts.lines {
            l.reserved_quantity = Decimal::ZERO;
            l.reservation_id = None;
        }
        let rec = OrderRecord {
            order: Order::from_parts(parts).map_err(errors::order)?,
            ..saved.record.clone()
        };
        saved = orders::save_over(db, rec, &saved.record.order, saved.version, ctx.now)?;
    }
    point("submit.after_reservations")?;

    let request = match (&p.required, request_id) {
        (Some(required), Some(rid)) => {
            Some(open_request(db, required, rid, &ctx.principal, ctx.now)?)
        }
        _ => None,
    };
    point("submit.after_approval_request")?;

    // The order's events in one statement; the demand from the warehouse
    // resolved before the transaction.
    let mut events = vec![order_event(
        "order.submitted",
        &saved,
        None,
        serde_json::json!({}),
    )?];
    match saved.record.order.status() {
        OrderStatus::Confirmed | OrderStatus::Fulfilled => {
            let demand = orders::demand_into(
                &saved.record,
                saved.version,
                DemandState::Active,
                p.receiving,
            );
            events.push(order_event(
                "order.confirmed",
                &saved,
                Some(demand),
                serde_json::json!({}),
            )?);
            if saved.record.order.status() == OrderStatus::Fulfilled {
                events.push(order_event(
                    "order.fulfilled",
                    &saved,
                    None,
                    serde_json::json!({"on_the_spot": true}),
                )?);
            }
        }
        _ => {}
    }
    enqueue_all(db, &events, ctx.now)?;
    if let Some(request) = &request {
        approval_event(db, request, &saved.record.order, ctx.now)?;
    }
    point("submit.before_commit")?;
    order_response(200, &saved, false)
}

/// `POST /orders/{id}/submit`.
pub fn submit(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteOrders)?;
    let id = path_id(id, OrderId::parse)?;
    let body: SubmitBody = optional_body(req)?;
    let me = ctx.principal.id().to_string();
    // A retry of a submission that went through is answered from its
    // record, before anything is checked again.
    if let Some(key) = idempotency::key(req)? {
        if sales_store::idempotency::get(&ctx.db, &me, key)?.is_some() {
            return write(&ctx.db, &me, req, ctx.now, |_| {
                Err(ApiError::internal("the stored answer vanished; retry"))
            });
        }
    }
    let current = orders::get(&ctx.db, id)?;
    let prepared = prepare(ctx, &current, &body)?;
    let resp = write(&ctx.db, &me, req, ctx.now, |db| {
        commit(ctx, db, &current, prepared)
    })?;
    sales_kit::spin::wake_jobs();
    Ok(resp)
}

/// `PATCH` of a submitted order: an amendment.
pub fn amend(
    ctx: &Ctx,
    req: &ApiRequest,
    current: Versioned<OrderRecord>,
    patch: OrderPatch,
    expected: i64,
) -> ApiResult {
    let me = ctx.principal.id().to_string();
    if let Some(key) = idempotency::key(req)? {
        if sales_store::idempotency::get(&ctx.db, &me, key)?.is_some() {
            return write(&ctx.db, &me, req, ctx.now, |_| {
                Err(ApiError::internal("the stored answer vanished; retry"))
            });
        }
    }
    if current.version != expected {
        return Err(ApiError::version_conflict(current.version));
    }
    let before = &current.record.order;
    before
        .status()
        .amend()
        .map_err(|e| errors::order(e.into()))?;
    let db = &ctx.db;
    let customer = customer(db, before.customer_id())?;
    let channel = channel(db, before.channel_id())?;
    let settings = sales_store::settings::get(db)?.record;
    let products = orders::load_products(
        db,
        patch
            .lines
            .iter()
            .flatten()
            .map(|l| l.product_id)
            .collect::<Vec<_>>(),
    )?;
    let changed = before.patched(patch, &products).map_err(errors::order)?;
    let products = active_products(db, &changed)?;
    let policy = OrderPolicy::resolve(&changed, &customer, &channel, &settings);
    let (changed, waterfall) = price(&changed, &channel, &settings, &[], ctx)?;
    let outcome = credit(
        db,
        &changed,
        policy.credit_check,
        customer.credit_limit().as_ref(),
    )?;
    let changed = with_credit(changed, outcome)?;
    let revision = current.record.revision + 1;
    let snap = snapshot(
        db,
        &changed,
        revision,
        &customer,
        &channel,
        &policy,
        &products,
        &ctx.principal,
    )?;
    // Smart re-approval: nothing to do when the latest request still
    // authorizes what this version needs.
    let needs = match capabilities::check_authorized(&snap) {
        Ok(()) => None,
        Err(e) if e.code() == "not_approved" => required(&snap)?,
        Err(e) => return Err(e),
    };
    let resp = write(&ctx.db, &me, req, ctx.now, |db| {
        let fresh = orders::get(db, before.id())?;
        if fresh.version != current.version {
            return Err(ApiError::version_conflict(fresh.version));
        }
        let outcome = credit(
            db,
            &changed,
            policy.credit_check,
            customer.credit_limit().as_ref(),
        )?;
        let changed = with_credit(changed, outcome)?;
        // Re-plan the stock with the order's own hold given back first.
        let released = orders::release_reservations(db, &changed, ctx.now).map_err(errors::flow)?;
        let (promised, rows) = replan(db, &released, &channel, ctx)?;
        let planned = with_promise(&released, &promised)?;
        let status = before
            .status()
            .after_amendment(needs.is_some())
            .map_err(|e| errors::order(e.into()))?;
        let request_id = needs.as_ref().map(|_| ApprovalRequestId::new());
        let hold_id = ReservationId::new();
        let mut parts = planned.into_parts();
        parts.status = status;
        if request_id.is_some() {
            parts.approval_request_id = request_id;
        }
        let order = point_at(
            &Order::from_parts(parts).map_err(errors::order)?,
            &rows,
            hold_id,
        )?;
        let amendment = diff(before, &order);
        let rec = OrderRecord {
            order,
            revision,
            order_date: fresh.record.order_date,
            waterfall: Some(waterfall),
            promise: Some(promised.clone()),
            submitted_at: fresh.record.submitted_at,
        };
        let saved = orders::save(db, &rec, fresh.version, ctx.now)?;
        if !rows.is_empty() {
            reservations::reserve(
                db,
                &Hold {
                    id: hold_id,
                    document: saved.record.order.number().to_owned(),
                    status: ReservationStatus::Held,
                    valid_until: None,
                    rows,
                    promise: promised,
                },
                ctx.now,
            )?;
        }
        let request = match (&needs, request_id) {
            (Some(required), Some(rid)) => {
                Some(open_request(db, required, rid, &ctx.principal, ctx.now)?)
            }
            _ => None,
        };
        let detail = serde_json::to_value(&amendment)
            .map_err(|e| ApiError::internal(format!("failed to serialise the amendment: {e}")))?;
        // Downstream work follows the amendment only once it is authorized:
        // an amendment that must be approved again leaves work orders and
        // projects at the last approved demand, and the approval's
        // `order.confirmed` carries the new one.
        emit(
            db,
            "order.amended",
            &saved,
            request.is_none().then_some(DemandState::Active),
            detail,
            ctx.now,
        )?;
        if let Some(request) = &request {
            approval_event(db, request, &saved.record.order, ctx.now)?;
        }
        order_response(200, &saved, false)
    })?;
    sales_kit::spin::wake_jobs();
    Ok(resp)
}

/// The amended order's promise on the stock of the moment (inside the
/// transaction, after its own hold was released), with the availability
/// engine directly: the capability reads committed data and would count
/// the order's own hold against it.
fn replan(
    db: &impl Db,
    order: &Order,
    channel: &Channel,
    ctx: &Ctx,
) -> Result<(StoredPromise, Vec<PlannedReservation>), ApiError> {
    let mut warehouses = Vec::new();
    for code in channel.warehouses() {
        if let Some(w) = sales_store::availability::warehouses::find_by_code(db, code)? {
            if w.record.is_active() {
                warehouses.push(w.record.id());
            }
        }
    }
    if warehouses.is_empty() {
        warehouses = sales_store::availability::warehouses::all_active(db)?
            .iter()
            .map(|w| w.id())
            .collect();
    }
    // Only what is still to ship is promised again.
    let open: Vec<_> = order
        .lines()
        .iter()
        .filter(|l| !l.open_quantity().is_zero())
        .collect();
    let products: Vec<_> = open.iter().map(|l| l.product_id).collect();
    let spec = sales_store::availability::load::promise_context(db, &products, &warehouses)?;
    let context = PromiseContext::new(spec)
        .map_err(|e| ApiError::internal(format!("stored availability data is invalid: {e}")))?;
    let request = PromiseRequest::new(PromiseRequestSpec {
        today: today(ctx),
        warehouses,
        strategy: sales_domain::availability::AllocationStrategy::Priority,
        ship_policy: sales_domain::availability::ShipPolicy::ShipAsAvailable,
        lines: open
            .iter()
            .map(|l| PromiseLine {
                line_id: l.id,
                product: l.product_id,
                kind: l.product_kind,
                quantity: l.open_quantity(),
                requested_date: l
                    .requested_date
                    .or(order.requested_date())
                    .filter(|d| *d >= today(ctx)),
            })
            .collect(),
    })
    .map_err(|e| ApiError::invalid_field("lines", e.to_string()))?;
    let promised = sales_domain::availability::promise(&context, &request);
    let plan = plan_reservations(order.id(), &promised, None).map_err(|e| {
        ApiError::conflict("cannot_ship_complete", e.to_string()).with_field("lines")
    })?;
    let promised = StoredPromise::new(promised)
        .map_err(|e| ApiError::internal(format!("failed to write a promise: {e}")))?;
    Ok((promised, plan.rows))
}
