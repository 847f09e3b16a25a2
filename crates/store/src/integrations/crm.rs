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
use sales_domain::ids::{InboundEventId, LineId, OrderId};
use sales_domain::integrations::crm::CrmEnvelope;
use sales_domain::money::Currency;
use sales_domain::orders::{NewOrder, NewOrderLine, Order};
use sales_domain::teams::{Allocation, Split};

use super::inbound::{self, InboundEvent};
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
    let key = format!("{}:{}", env.kind, deal.deal_id);
    let mut event = InboundEvent {
        id: InboundEventId::new(),
        source: "crm".into(),
        topic: env.kind.clone(),
        external_id: Some(key.clone()),
        outcome: "created".into(),
        reason: None,
        document_kind: None,
        document_id: None,
        duplicate_of: None,
        payload: raw.to_owned(),
        received_at: now,
    };
    if let Some(first) = inbound::first_receipt(db, "crm", &key)? {
        event.outcome = "duplicate".into();
        event.duplicate_of = Some(first.id);
        event.document_kind = first.document_kind.clone();
        event.document_id = first.document_id.clone();
        event.reason = Some(format!(
            "CRM {} for deal {} was received before",
            env.kind, deal.deal_id
        ));
        inbound::record(db, &event)?;
        let order_id = first
            .document_id
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
    let buyer = Buyer {
        source: "crm",
        external_id: deal.customer.external_id.as_ref(),
        email: deal.customer.email.as_ref(),
        name: &deal.customer.name,
    };
    let (customer_id, customer_hold) = resolve_customer(db, &buyer, now)?;
    let mut reasons: Vec<String> = customer_hold.into_iter().collect();
    let mut lines = Vec::new();
    for (i, l) in deal.lines.iter().enumerate() {
        match crate::products::find_by_sku(db, &l.sku)?.filter(|p| p.record.is_active()) {
            None => reasons.push(format!(
                "unknown SKU {:?} on data.lines[{i}] ({}): line left out",
                l.sku, l.quantity
            )),
            Some(p) => lines.push(NewOrderLine {
                id: LineId::new(),
                product_id: p.record.id(),
                quantity: l.quantity,
                uom: None,
                requested_date: None,
                kept_rate: None,
                quotation_line_id: None,
            }),
        }
    }
    let person = match &deal.sales_person_email {
        None => None,
        Some(email) => {
            let found = crate::teams::people::all(db)?.into_iter().find(|p| {
                p.is_active()
                    && p.to_new()
                        .email
                        .is_some_and(|e| e.eq_ignore_ascii_case(email.trim()))
            });
            if found.is_none() {
                reasons.push(format!("unknown sales person {email:?}: nobody credited"));
            }
            found
        }
    };
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
        let split = Split::new(
            "",
            vec![Allocation {
                sales_person_id: p.id(),
                percentage: Decimal::from(100),
            }],
        )
        .map_err(|e| crate::StoreError::Corrupt {
            entity: "sales team",
            id: p.id().to_string(),
            message: e.to_string(),
        })?;
        allocations::set(
            db,
            DocumentKind::Order,
            &id.to_string(),
            &DocumentTeam {
                sales_team: split,
                sales_partner_id: None,
            },
        )?;
    }
    event.outcome = if reason.is_some() { "held" } else { "created" }.into();
    event.reason = reason;
    event.document_kind = Some("order".into());
    event.document_id = Some(id.to_string());
    inbound::record(db, &event)?;
    Ok(Intake {
        event,
        order_id: Some(id),
        order_number: Some(saved.record.order.number().to_owned()),
    })
}
