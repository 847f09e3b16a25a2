//! A CRM's deal into a draft sales order, in the caller's transaction.
//!
//! Once per CRM deal and event type (`inbound_events` first receipt of
//! `(crm, "<type>:<deal id>")`). The customer is found by the CRM's id
//! (`external_ids.crm`), else by e-mail, else created; the sales person by
//! e-mail among the teams component's people, credited 100 % on the
//! order (`document_sales_teams`). The order is a **draft** on the
//! configured channel: it is priced, credit-checked and promised when
//! someone submits it, like any order a rep keys in. A SKU we do not sell,
//! an unknown sales person or a made-up customer is named in the draft's
//! `status_reason` and the log says `held` — never dropped.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sales_domain::ids::{CustomerId, InboundEventId, LineId, OrderId, ProductId, SalesPersonId};
use sales_domain::integrations::crm::CrmEnvelope;
use sales_domain::money::Currency;
use sales_domain::orders::{NewOrder, NewOrderLine, Order};
use sales_domain::teams::{Allocation, Split};

use super::inbound::{self, InboundEvent};
use super::references::{self, ExternalRef};
use super::shop::{resolve_customer, Buyer, Intake, IntakeError};
use crate::db::Db;
use crate::orders::{self, FlowError, OrderRecord};
use crate::teams::allocations::{self, DocumentKind, DocumentTeam};

pub fn intake(
    db: &impl Db,
    env: &CrmEnvelope,
    channel_code: &str,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Intake, IntakeError> {
    let deal = &env.data;
    let mut event = new_event(env, raw, now);
    if let Some(first) = repeat(db, env, &mut event)? {
        let order_id = (first.document_kind.as_deref() == Some("order"))
            .then_some(first.document_id)
            .flatten()
            .as_deref()
            .and_then(|d| OrderId::parse(d).ok());
        let number = match order_id {
            Some(id) => Some(orders::get(db, id)?.record.order.number().to_owned()),
            None => None,
        };
        return Ok(Intake {
            event,
            order_id,
            order_number: number,
        });
    }
    let channel = crate::channels::find_by_code(db, channel_code)?
        .ok_or_else(|| IntakeError::NoChannel(channel_code.to_owned()))?
        .record;
    let currency = Currency::from_code(&deal.currency)
        .map_err(|_| IntakeError::Currency(deal.currency.clone()))?;
    let (customer_id, customer_hold) = customer(db, env, now)?;
    let mut reasons: Vec<String> = customer_hold.into_iter().collect();
    let lines = deal_lines(db, env, &mut reasons)?
        .into_iter()
        .map(|(product_id, quantity)| NewOrderLine {
            id: LineId::new(),
            product_id,
            quantity,
            uom: None,
            requested_date: None,
            kept_rate: None,
            quotation_line_id: None,
        })
        .collect();
    let person = sales_person(db, env, &mut reasons)?;
    let today = now.date_naive();
    let id = OrderId::new();
    let new = NewOrder {
        customer_id,
        channel_id: channel.id(),
        currency,
        payment_terms: None,
        requested_date: None,
        customer_reference: Some(
            format!("CRM deal {}", deal.deal_id)
                .chars()
                .take(200)
                .collect(),
        ),
        quotation_id: None,
        lines,
    };
    let products = orders::load_products(db, new.lines.iter().map(|l| l.product_id))?;
    Order::draft(id, String::new(), new.clone(), &products).map_err(FlowError::from)?;
    let number = orders::next_number(db, today)?;
    let draft = Order::draft(id, number.to_string(), new, &products).map_err(FlowError::from)?;
    let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    let mut parts = draft.into_parts();
    parts.status_reason = reason.clone();
    let order = Order::from_parts(parts).map_err(FlowError::from)?;
    let saved = orders::create(
        db,
        &OrderRecord {
            order,
            revision: 1,
            order_date: today,
            waterfall: None,
            promise: None,
            submitted_at: None,
        },
        now,
    )?;
    if let Some(p) = person {
        credit(db, DocumentKind::Order, &id.to_string(), p)?;
    }
    references::record(db, "order", &id.to_string(), &deal_refs(env), now)?;
    Ok(Intake::order_made(
        db,
        event,
        reason,
        id,
        saved.record.order.number(),
    )?)
}

/// The `crm` inbound event for `env`, outcome `created` until decided.
pub fn new_event(env: &CrmEnvelope, raw: &str, now: DateTime<Utc>) -> InboundEvent {
    InboundEvent {
        id: InboundEventId::new(),
        source: "crm".into(),
        topic: env.kind.clone(),
        external_id: Some(format!("{}:{}", env.kind, env.data.deal_id)),
        outcome: "created".into(),
        reason: None,
        document_kind: None,
        document_id: None,
        duplicate_of: None,
        payload: raw.to_owned(),
        received_at: now,
    }
}

/// The first receipt of this deal's event, when `env` repeats one: then
/// `event` is recorded as its `duplicate`, pointing at the same document.
pub fn repeat(
    db: &impl Db,
    env: &CrmEnvelope,
    event: &mut InboundEvent,
) -> Result<Option<InboundEvent>, crate::StoreError> {
    let key = format!("{}:{}", env.kind, env.data.deal_id);
    let Some(first) = inbound::first_receipt(db, "crm", &key)? else {
        return Ok(None);
    };
    event.outcome = "duplicate".into();
    event.duplicate_of = Some(first.id);
    event.document_kind = first.document_kind.clone();
    event.document_id = first.document_id.clone();
    event.reason = Some(format!(
        "CRM {} for deal {} was received before",
        env.kind, env.data.deal_id
    ));
    inbound::record(db, event)?;
    Ok(Some(first))
}

/// The deal's customer: by CRM id, else e-mail, else created (then the
/// second value says why the document is held, when it must be).
pub fn customer(
    db: &impl Db,
    env: &CrmEnvelope,
    now: DateTime<Utc>,
) -> Result<(CustomerId, Option<String>), crate::StoreError> {
    let deal = &env.data;
    let buyer = Buyer {
        source: "crm",
        external_id: deal.customer.external_id.as_ref(),
        email: deal.customer.email.as_ref(),
        name: &deal.customer.name,
    };
    resolve_customer(db, &buyer, now)
}

/// The deal's lines we sell (active products by SKU) as `(product,
/// quantity)`; each other one is left out with a reason in `reasons`.
pub fn deal_lines(
    db: &impl Db,
    env: &CrmEnvelope,
    reasons: &mut Vec<String>,
) -> Result<Vec<(ProductId, Decimal)>, crate::StoreError> {
    let mut lines = Vec::new();
    for (i, l) in env.data.lines.iter().enumerate() {
        match crate::products::find_by_sku(db, &l.sku)?.filter(|p| p.record.is_active()) {
            None => reasons.push(format!(
                "unknown SKU {:?} on data.lines[{i}] ({}): line left out",
                l.sku, l.quantity
            )),
            Some(p) => lines.push((p.record.id(), l.quantity)),
        }
    }
    Ok(lines)
}

/// The active sales person whose e-mail the deal names (any case); an
/// unknown one is a reason in `reasons` and credits nobody.
pub fn sales_person(
    db: &impl Db,
    env: &CrmEnvelope,
    reasons: &mut Vec<String>,
) -> Result<Option<SalesPersonId>, crate::StoreError> {
    let Some(email) = &env.data.sales_person_email else {
        return Ok(None);
    };
    let found = crate::teams::people::all(db)?.into_iter().find(|p| {
        p.is_active()
            && p.to_new()
                .email
                .is_some_and(|e| e.eq_ignore_ascii_case(email.trim()))
    });
    if found.is_none() {
        reasons.push(format!("unknown sales person {email:?}: nobody credited"));
    }
    Ok(found.map(|p| p.id()))
}

/// The CRM's deal id and account id (the customer's CRM id, when the deal
/// names one) as the external references of the document the deal
/// became; status pushes back to the CRM follow them.
pub fn deal_refs(env: &CrmEnvelope) -> Vec<ExternalRef> {
    let mut refs = vec![ExternalRef::new(CRM, "deal", &env.data.deal_id)];
    if let Some(a) = &env.data.customer.external_id {
        refs.push(ExternalRef::new(CRM, "account", a));
    }
    refs
}

/// The external-reference system of the CRM.
pub const CRM: &str = "crm";

/// Credits `person` 100 % on the document.
pub fn credit(
    db: &impl Db,
    kind: DocumentKind,
    document_id: &str,
    person: SalesPersonId,
) -> Result<(), crate::StoreError> {
    let split = Split::new(
        "",
        vec![Allocation {
            sales_person_id: person,
            percentage: Decimal::from(100),
        }],
    )
    .map_err(|e| crate::StoreError::Corrupt {
        entity: "sales team",
        id: person.to_string(),
        message: e.to_string(),
    })?;
    allocations::set(
        db,
        kind,
        document_id,
        &DocumentTeam {
            sales_team: split,
            sales_partner_id: None,
        },
    )
}
