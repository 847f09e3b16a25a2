//! The sales team credited on a quotation or an order: a [`Split`] of
//! sales people (percentages totalling 100) and optionally one sales
//! partner, in `document_sales_teams` / `document_sales_partners`.
//!
//! An order without a stored split gets one the first time it is needed
//! for commission ([`for_order`] with `persist`): its quotation's split
//! when it was converted from one (copied once: the rows are keyed by
//! document and person, so nothing is duplicated), else the customer's
//! default from its territory. From then on the order keeps it, so a
//! later change of territories or teams does not move commission that
//! was already earned.

use rust_decimal::Decimal;
use sales_domain::ids::{OrderId, QuotationId, SalesPersonId};
use sales_domain::teams::{Allocation, SalesPartnerId, Split, TeamsError};
use serde::{Deserialize, Serialize};

use super::territories;
use crate::db::{Db, Value};
use crate::orders::OrderRecord;
use crate::StoreError;

/// Which kind of document a split belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Quotation,
    Order,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Quotation => "quotation",
            DocumentKind::Order => "order",
        }
    }
}

/// A document's sales team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentTeam {
    pub sales_team: Split,
    pub sales_partner_id: Option<SalesPartnerId>,
}

fn corrupt(id: &str, m: impl ToString) -> StoreError {
    StoreError::Corrupt {
        entity: "document sales team",
        id: id.to_owned(),
        message: m.to_string(),
    }
}

/// The stored team of a document, if one was stored: its sales people
/// and its partner in one read (a `UNION ALL` of the two tables).
pub fn get(db: &impl Db, kind: DocumentKind, id: &str) -> Result<Option<DocumentTeam>, StoreError> {
    let k = Value::from(kind.as_str());
    let rows = db.execute(
        "SELECT 0 AS partner, sales_person_id AS member, percentage, seq
           FROM document_sales_teams WHERE document_kind = ? AND document_id = ?
         UNION ALL
         SELECT 1 AS partner, sales_partner_id AS member, NULL AS percentage, 0 AS seq
           FROM document_sales_partners WHERE document_kind = ? AND document_id = ?
         ORDER BY partner, seq",
        &[k.clone(), Value::from(id), k, Value::from(id)],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut allocations = Vec::new();
    let mut sales_partner_id = None;
    for r in rows.iter() {
        let member = r.text("member")?;
        if r.int("partner")? != 0 {
            if sales_partner_id.is_none() {
                sales_partner_id = Some(SalesPartnerId::parse(member).map_err(|e| corrupt(id, e))?);
            }
            continue;
        }
        allocations.push(Allocation {
            sales_person_id: SalesPersonId::parse(member).map_err(|e| corrupt(id, e))?,
            percentage: r
                .text("percentage")?
                .parse::<Decimal>()
                .map_err(|e| corrupt(id, e))?,
        });
    }
    let sales_team =
        Split::new("sales_team", allocations).map_err(|e: TeamsError| corrupt(id, e))?;
    Ok(Some(DocumentTeam {
        sales_team,
        sales_partner_id,
    }))
}

/// Replaces the stored team of a document.
pub fn set(
    db: &impl Db,
    kind: DocumentKind,
    id: &str,
    team: &DocumentTeam,
) -> Result<(), StoreError> {
    let k = Value::from(kind.as_str());
    db.execute(
        "DELETE FROM document_sales_teams WHERE document_kind = ? AND document_id = ?",
        &[k.clone(), Value::from(id)],
    )?;
    db.execute(
        "DELETE FROM document_sales_partners WHERE document_kind = ? AND document_id = ?",
        &[k.clone(), Value::from(id)],
    )?;
    for (seq, a) in team.sales_team.allocations().iter().enumerate() {
        db.execute(
            "INSERT INTO document_sales_teams
               (document_kind, document_id, sales_person_id, percentage, seq)
             VALUES (?, ?, ?, ?, ?)",
            &[
                k.clone(),
                Value::from(id),
                Value::Text(a.sales_person_id.to_string()),
                Value::Text(a.percentage.to_string()),
                Value::Integer(i64::try_from(seq).unwrap_or(i64::MAX)),
            ],
        )?;
    }
    if let Some(p) = team.sales_partner_id {
        db.execute(
            "INSERT INTO document_sales_partners (document_kind, document_id, sales_partner_id)
             VALUES (?, ?, ?)",
            &[k, Value::from(id), Value::Text(p.to_string())],
        )?;
    }
    Ok(())
}

/// The team a customer's new document starts with (empty when its
/// territory has neither a team nor a manager).
pub fn default_for_customer(
    db: &impl Db,
    customer: sales_domain::ids::CustomerId,
) -> Result<DocumentTeam, StoreError> {
    // A customer the catalog does not know (an outside system's made-up
    // id on a held order) has no territory, so no default team.
    let territory = match territories::customer_territory(db, customer) {
        Ok(t) => t.territory_id,
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(DocumentTeam {
        sales_team: territories::default_split(db, territory)?
            .map(|(_, s)| s)
            .unwrap_or_default(),
        sales_partner_id: None,
    })
}

/// The team of a quotation: stored, else the customer's default.
pub fn for_quotation(
    db: &impl Db,
    id: QuotationId,
    customer: sales_domain::ids::CustomerId,
) -> Result<DocumentTeam, StoreError> {
    match get(db, DocumentKind::Quotation, &id.to_string())? {
        Some(t) => Ok(t),
        None => default_for_customer(db, customer),
    }
}

/// The team of an order: stored, else its quotation's, else the
/// customer's default — written for the order when `persist` (see the
/// module docs).
pub fn for_order(
    db: &impl Db,
    rec: &OrderRecord,
    persist: bool,
) -> Result<DocumentTeam, StoreError> {
    let order = &rec.order;
    for_order_of(
        db,
        order.id(),
        order.quotation_id(),
        order.customer_id(),
        persist,
    )
}

/// [`for_order`] from the three things it needs of the order (commission's
/// recalculation reads only those first: issue 7).
pub fn for_order_of(
    db: &impl Db,
    order: OrderId,
    quotation: Option<QuotationId>,
    customer: sales_domain::ids::CustomerId,
    persist: bool,
) -> Result<DocumentTeam, StoreError> {
    let id = order.to_string();
    if let Some(t) = get(db, DocumentKind::Order, &id)? {
        return Ok(t);
    }
    let team = match quotation {
        Some(q) => match get(db, DocumentKind::Quotation, &q.to_string())? {
            Some(t) => t,
            None => default_for_customer(db, customer)?,
        },
        None => default_for_customer(db, customer)?,
    };
    if persist && (!team.sales_team.is_empty() || team.sales_partner_id.is_some()) {
        set(db, DocumentKind::Order, &id, &team)?;
    }
    Ok(team)
}

/// The orders that credit `p`, with their share.
pub fn orders_of_person(
    db: &impl Db,
    p: SalesPersonId,
) -> Result<Vec<(OrderId, Decimal)>, StoreError> {
    let rows = db.execute(
        "SELECT document_id, percentage FROM document_sales_teams
         WHERE sales_person_id = ? AND document_kind = 'order'",
        &[Value::Text(p.to_string())],
    )?;
    rows.iter()
        .map(|r| {
            let id = r.text("document_id")?;
            Ok((
                OrderId::parse(id).map_err(|e| corrupt(id, e))?,
                r.text("percentage")?
                    .parse::<Decimal>()
                    .map_err(|e| corrupt(id, e))?,
            ))
        })
        .collect()
}

/// The orders a partner brought.
pub fn orders_of_partner(db: &impl Db, p: SalesPartnerId) -> Result<Vec<OrderId>, StoreError> {
    let rows = db.execute(
        "SELECT document_id FROM document_sales_partners
         WHERE sales_partner_id = ? AND document_kind = 'order'",
        &[Value::Text(p.to_string())],
    )?;
    rows.iter()
        .map(|r| {
            let id = r.text("document_id")?;
            OrderId::parse(id).map_err(|e| corrupt(id, e))
        })
        .collect()
}
