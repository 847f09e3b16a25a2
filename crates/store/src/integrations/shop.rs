//! A shop's order into a sales order, in the caller's transaction.
//!
//! Once per shop order (the first receipt of `(shop system, shop order
//! id)` in `inbound_events`; a repeat is logged as a duplicate of it — the
//! same order id from two connected shops is two orders). The customer is
//! found by the shop's customer id (`external_ids` under the shop's
//! system), else by e-mail, else created. The shop's order and customer
//! ids are kept as the order's external references. Lines are matched by
//! SKU. The order is stored **confirmed and paid** on the configured
//! channel (a shop has taken the money: `paid_amount` is the grand total
//! when the channel is `paid_on_order`) with the prices and taxes the shop
//! charged kept on each line (`kept_rate` = the shop's net unit price,
//! flag `shop_price`), and `order.confirmed` is written. Anything it
//! cannot match — a SKU we do not sell, a customer it had to make up —
//! puts the order **on hold** with the reason (lines it could not match
//! are left out and named in the reason; an order with no line it could
//! match stays a draft with the reason). The raw body is kept in the log.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sales_domain::catalog::{Customer, ExternalIds, NewCustomer};
use sales_domain::downstream::DemandState;
use sales_domain::ids::{CustomerId, InboundEventId, LineId, OrderId};
use sales_domain::integrations::shop::ShopOrder;
use sales_domain::money::{round, Currency, Money, RoundingMode};
use sales_domain::orders::{LinePricing, NewOrder, NewOrderLine, Order, OrderStatus, OrderTotals};
use thiserror::Error;

use super::inbound::{self, InboundEvent};
use super::references::{self, ExternalRef};
use crate::db::{Db, Value};
use crate::orders::{self, FlowError, OrderRecord};
use crate::StoreError;

/// Why a signed shop order could not be taken at all (nothing written).
#[derive(Debug, Error)]
pub enum IntakeError {
    /// The channel the platform is configured for does not exist.
    #[error("the channel {0:?} configured for this shop does not exist")]
    NoChannel(String),
    /// The order's currency is not an ISO 4217 code.
    #[error("currency {0:?} is not an ISO 4217 code")]
    Currency(String),
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::DbError> for IntakeError {
    fn from(e: crate::DbError) -> Self {
        IntakeError::Store(e.into())
    }
}

/// What happened to a shop order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    pub event: InboundEvent,
    pub order_id: Option<OrderId>,
    pub order_number: Option<String>,
}

impl Intake {
    /// Logs `event` as having made order `id` — `held` with the reason when
    /// there is one, else `created` — and answers it.
    pub(super) fn order_made(
        db: &impl Db,
        mut event: InboundEvent,
        reason: Option<String>,
        id: OrderId,
        number: &str,
    ) -> Result<Self, StoreError> {
        event.outcome = if reason.is_some() { "held" } else { "created" }.into();
        event.reason = reason;
        event.document_kind = Some("order".into());
        event.document_id = Some(id.to_string());
        inbound::record(db, &event)?;
        Ok(Self {
            event,
            order_id: Some(id),
            order_number: Some(number.to_owned()),
        })
    }
}

fn find_customer_by_email(db: &impl Db, email: &str) -> Result<Option<CustomerId>, StoreError> {
    let rows = db.execute(
        "SELECT id FROM customers WHERE lower(email) = lower(?) AND active = 1 ORDER BY id LIMIT 1",
        &[Value::from(email)],
    )?;
    match rows.first() {
        None => Ok(None),
        Some(r) => Ok(CustomerId::parse(r.text("id")?).ok()),
    }
}

/// The customer of the order, and a reason to hold it when it had to be
/// made up from too little.
/// Who an inbound document is for.
pub(crate) struct Buyer<'a> {
    pub source: &'a str,
    pub external_id: Option<&'a String>,
    pub email: Option<&'a String>,
    pub name: &'a str,
}

pub(crate) fn resolve_customer(
    db: &impl Db,
    buyer: &Buyer<'_>,
    now: DateTime<Utc>,
) -> Result<(CustomerId, Option<String>), StoreError> {
    let source = buyer.source;
    if let Some(ext) = buyer.external_id {
        if let Some(c) = crate::customers::find_by_external_id(db, source, ext)? {
            return Ok((c.record.id(), None));
        }
    }
    if let Some(email) = buyer.email {
        if let Some(id) = find_customer_by_email(db, email)? {
            if let Some(ext) = buyer.external_id {
                // Matched by e-mail: the system's id is linked to the
                // customer (unless it has one there already), so the next
                // order is matched by id even after an e-mail change.
                db.execute(
                    "INSERT INTO customer_external_ids (source, external_id, customer_id)
                     VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    &[
                        Value::from(source),
                        Value::from(ext),
                        Value::Text(id.to_string()),
                    ],
                )?;
            }
            return Ok((id, None));
        }
    }
    let mut ids = std::collections::BTreeMap::new();
    let mut hold = None;
    match buyer.external_id {
        Some(ext) => {
            ids.insert(source.to_owned(), ext.clone());
        }
        None if buyer.email.is_none() => {
            hold = Some(format!(
                "unknown customer: the {source} order carries neither a customer id nor an e-mail; \
                 a customer named {:?} was created for it",
                buyer.name
            ));
        }
        None => {}
    }
    let external_ids = ExternalIds::new(ids).unwrap_or_default();
    let make = |email: Option<String>| {
        Customer::create(
            CustomerId::new(),
            NewCustomer {
                name: buyer.name.chars().take(200).collect(),
                email,
                customer_group_id: None,
                territory_id: None,
                credit_limit: None,
                payment_terms: None,
                tax_id: None,
                billing_address: None,
                shipping_address: None,
                external_ids: external_ids.clone(),
            },
        )
    };
    let customer = match make(buyer.email.cloned()) {
        Ok(c) => c,
        Err(e) => {
            hold = Some(format!(
                "unknown customer: the shop's customer could not be recorded as given ({e}); \
                 created without an e-mail"
            ));
            make(None).map_err(|e| StoreError::Corrupt {
                entity: "customer",
                id: buyer.name.to_owned(),
                message: e.to_string(),
            })?
        }
    };
    let created = crate::customers::create(db, &customer, now)?;
    Ok((created.record.id(), hold))
}

fn money(amount: Decimal, c: Currency) -> Result<Money, StoreError> {
    Money::new(amount, c).map_err(|e| StoreError::Corrupt {
        entity: "shop order",
        id: String::new(),
        message: e.to_string(),
    })
}

/// Which shop an order came from: its system name (the platform's
/// source for the default shop, `{platform}.{code}` for a connected one —
/// the dedupe key, the customers' `external_ids` key and the external
/// references' system) and the channel its orders arrive on.
#[derive(Debug, Clone, Copy)]
pub struct ShopSource<'a> {
    pub system: &'a str,
    pub channel_code: &'a str,
}

/// Takes a shop order (see the module docs). `topic` is the platform's
/// (`orders/create`, `order.created`); `raw` the body as received.
pub fn intake(
    db: &impl Db,
    shop: &ShopOrder,
    from: ShopSource<'_>,
    topic: &str,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Intake, IntakeError> {
    let source = from.system;
    let channel_code = from.channel_code;
    let mut event = InboundEvent {
        id: InboundEventId::new(),
        source: source.to_owned(),
        topic: topic.to_owned(),
        external_id: Some(shop.external_id.clone()),
        outcome: "created".into(),
        reason: None,
        document_kind: None,
        document_id: None,
        duplicate_of: None,
        payload: raw.to_owned(),
        received_at: now,
    };
    if let Some(first) = inbound::first_receipt(db, source, &shop.external_id)? {
        event.outcome = "duplicate".into();
        event.duplicate_of = Some(first.id);
        event.document_kind = first.document_kind.clone();
        event.document_id = first.document_id.clone();
        event.reason = Some(format!(
            "{source} order {} was received before",
            shop.number
        ));
        inbound::record(db, &event)?;
        let number = match first.document_id.as_deref().map(OrderId::parse) {
            Some(Ok(id)) => Some(orders::get(db, id)?.record.order.number().to_owned()),
            _ => None,
        };
        return Ok(Intake {
            order_id: first
                .document_id
                .as_deref()
                .and_then(|d| OrderId::parse(d).ok()),
            order_number: number,
            event,
        });
    }
    let channel = crate::channels::find_by_code(db, channel_code)?
        .ok_or_else(|| IntakeError::NoChannel(channel_code.to_owned()))?
        .record;
    let currency = Currency::from_code(&shop.currency)
        .map_err(|_| IntakeError::Currency(shop.currency.clone()))?;
    let buyer = Buyer {
        source,
        external_id: shop.customer_external_id.as_ref(),
        email: shop.email.as_ref(),
        name: &shop.customer_name,
    };
    let (customer_id, customer_hold) = resolve_customer(db, &buyer, now)?;
    let mut reasons: Vec<String> = customer_hold.into_iter().collect();

    let mut new_lines = Vec::new();
    let mut matched = Vec::new();
    for l in &shop.lines {
        let product = match &l.sku {
            None => None,
            Some(sku) => crate::products::find_by_sku(db, sku)?.filter(|p| p.record.is_active()),
        };
        match product {
            None => reasons.push(format!(
                "unknown SKU {:?} on {} ({} × {:?}): line left out",
                l.sku.clone().unwrap_or_default(),
                l.field,
                l.quantity,
                l.title
            )),
            Some(p) => {
                let rate = round(l.net_unit(), currency, RoundingMode::HalfEven);
                new_lines.push(NewOrderLine {
                    id: LineId::new(),
                    product_id: p.record.id(),
                    quantity: l.quantity,
                    uom: None,
                    requested_date: None,
                    kept_rate: Some(money(rate, currency)?),
                    quotation_line_id: None,
                });
                matched.push(l);
            }
        }
    }
    let today = now.date_naive();
    let id = OrderId::new();
    let products = orders::load_products(db, new_lines.iter().map(|l| l.product_id))?;
    let new = NewOrder {
        customer_id,
        channel_id: channel.id(),
        currency,
        payment_terms: None,
        requested_date: None,
        customer_reference: Some(
            format!("{source} {}", shop.number)
                .chars()
                .take(200)
                .collect(),
        ),
        quotation_id: None,
        lines: new_lines,
    };
    Order::draft(id, String::new(), new.clone(), &products).map_err(FlowError::from)?;
    let number = orders::next_number(db, today)?;
    let draft = Order::draft(id, number.to_string(), new, &products).map_err(FlowError::from)?;
    let mut parts = draft.into_parts();
    let zero = Money::zero(currency);
    let mut totals = OrderTotals {
        list_total: zero,
        discount_total: zero,
        net_total: zero,
        tax_total: zero,
        grand_total: zero,
        margin_total: zero,
        flagged: true,
    };
    for (line, shop_line) in parts.lines.iter_mut().zip(&matched) {
        let list = money(shop_line.list_total, currency)?;
        let net = money(shop_line.net_total, currency)?;
        let tax = money(shop_line.tax_total, currency)?;
        let gross = money(shop_line.net_total + shop_line.tax_total, currency)?;
        let pricing = LinePricing {
            list_price: money(
                round(shop_line.list_unit(), currency, RoundingMode::HalfEven),
                currency,
            )?,
            net_unit_price: line.kept_rate.unwrap_or(zero),
            net_total: net,
            tax_total: tax,
            gross_total: gross,
            // The shop does not tell us its cost; the margin is not known.
            margin: zero,
            flags: vec!["shop_price".into()],
        };
        totals.list_total = money(totals.list_total.amount() + list.amount(), currency)?;
        totals.net_total = money(totals.net_total.amount() + net.amount(), currency)?;
        totals.tax_total = money(totals.tax_total.amount() + tax.amount(), currency)?;
        totals.grand_total = money(totals.grand_total.amount() + gross.amount(), currency)?;
        line.pricing = Some(pricing);
    }
    totals.discount_total = money(
        totals.list_total.amount() - totals.net_total.amount(),
        currency,
    )?;
    let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    let has_lines = !parts.lines.is_empty();
    parts.status = match (&reason, has_lines) {
        (_, false) => OrderStatus::Draft,
        (Some(_), true) => OrderStatus::OnHold,
        (None, true) => OrderStatus::Confirmed,
    };
    parts.held_from = (parts.status == OrderStatus::OnHold).then_some(OrderStatus::Confirmed);
    parts.status_reason = reason.clone();
    if has_lines {
        parts.paid_amount = if channel.paid_on_order() {
            totals.grand_total.amount()
        } else {
            Decimal::ZERO
        };
        parts.totals = Some(totals);
    }
    let order = Order::from_parts(parts).map_err(FlowError::from)?;
    let saved = orders::create(
        db,
        &OrderRecord {
            order,
            revision: 1,
            order_date: today,
            waterfall: Some(
                orders::RawJson::to_raw(&serde_json::json!({
                    "source": source,
                    "shop_order_id": shop.external_id,
                    "shop_number": shop.number,
                    "shop_total": shop.total.to_string(),
                    "note": "prices and taxes as the shop charged them"
                }))
                .map_err(|e| FlowError::from(crate::DbError::Decode(format!("waterfall: {e}"))))?,
            ),
            promise: None,
            submitted_at: Some(now),
        },
        now,
    )?;
    let mut refs = vec![ExternalRef::new(source, "order", &shop.external_id)];
    if let Some(c) = &shop.customer_external_id {
        refs.push(ExternalRef::new(source, "customer", c));
    }
    references::record(db, "order", &id.to_string(), &refs, now)?;
    let detail = serde_json::json!({ "source": source, "shop_order_id": shop.external_id, "reason": reason });
    match saved.record.order.status() {
        OrderStatus::Confirmed => orders::emit(
            db,
            "order.confirmed",
            &saved,
            Some(DemandState::Active),
            detail,
            now,
        )?,
        OrderStatus::OnHold => orders::emit(db, "order.held", &saved, None, detail, now)?,
        _ => {}
    }
    Ok(Intake::order_made(
        db,
        event,
        reason,
        id,
        saved.record.order.number(),
    )?)
}
