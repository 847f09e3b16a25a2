//! `/api/v1/sales-teams/{orders|quotations}/{id}`: the sales team credited
//! on a document — a split of sales people whose percentages total 100
//! (422 `split_total`) and optionally one sales partner.
//!
//! `GET` answers the stored split, else the default the document would
//! get (an order: its quotation's, else the customer's territory team;
//! a quotation: the customer's), with `source` saying which. `PUT`
//! replaces it whole (an empty `sales_team` means nobody is credited);
//! on an order the commission is recalculated in the same transaction,
//! so a changed split moves what was booked with reversals and accruals,
//! never silently. Writing needs the right to write the document
//! (`WriteOrders` / `WriteQuotations`), as in ERPNext where the sales
//! team is part of the order. A document outside the caller's record
//! visibility is a 404 here too.

use sales_domain::auth::Action;
use sales_domain::ids::{OrderId, QuotationId};
use sales_domain::teams::{Allocation, SalesPartnerId, Split};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::teams::allocations::{self, DocumentKind, DocumentTeam};
use sales_store::teams::commissions;
use sales_store::{visibility, Db, StoreError};
use serde::{Deserialize, Serialize};

use crate::errors::{self, reference};
use crate::wire::path_id;
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    sales_team: Vec<Allocation>,
    #[serde(default)]
    sales_partner_id: Option<SalesPartnerId>,
}

#[derive(Serialize)]
struct View<'a> {
    document_kind: DocumentKind,
    document_id: String,
    /// `stored` or `default` (not stored yet: what it would start with).
    source: &'static str,
    sales_team: &'a Split,
    sales_partner_id: Option<SalesPartnerId>,
}

fn answer(kind: DocumentKind, id: String, stored: bool, team: &DocumentTeam) -> ApiResult {
    ApiResponse::json(
        200,
        &View {
            document_kind: kind,
            document_id: id,
            source: if stored { "stored" } else { "default" },
            sales_team: &team.sales_team,
            sales_partner_id: team.sales_partner_id,
        },
    )
}

/// The document's team (stored or default), after checking it exists.
fn current(db: &impl Db, kind: DocumentKind, id: &str) -> Result<(bool, DocumentTeam), ApiError> {
    match kind {
        DocumentKind::Order => {
            let id = path_id(id, OrderId::parse)?;
            let rec = sales_store::orders::get(db, id)?;
            let stored = allocations::get(db, kind, &id.to_string())?;
            Ok(match stored {
                Some(t) => (true, t),
                None => (false, allocations::for_order(db, &rec.record, false)?),
            })
        }
        DocumentKind::Quotation => {
            let id = path_id(id, QuotationId::parse)?;
            let q = sales_store::quotations::get(db, id)?;
            let stored = allocations::get(db, kind, &id.to_string())?;
            Ok(match stored {
                Some(t) => (true, t),
                None => (
                    false,
                    allocations::for_quotation(db, id, q.record.customer_id())?,
                ),
            })
        }
    }
}

/// A document outside the caller's record visibility is a 404, as an
/// unknown one (`sales_store::visibility`).
fn require_visible(ctx: &Ctx, kind: DocumentKind, id: &str) -> Result<(), ApiError> {
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    match kind {
        DocumentKind::Order => {
            visibility::require_order(&ctx.db, &seen, path_id(id, OrderId::parse)?)?
        }
        DocumentKind::Quotation => {
            visibility::require_quotation(&ctx.db, &seen, path_id(id, QuotationId::parse)?)?
        }
    }
    Ok(())
}

pub fn get(ctx: &Ctx, kind: DocumentKind, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    require_visible(ctx, kind, id)?;
    let (stored, team) = current(&ctx.db, kind, id)?;
    answer(kind, id.to_ascii_lowercase(), stored, &team)
}

pub fn put(ctx: &Ctx, req: &ApiRequest, kind: DocumentKind, id: &str) -> ApiResult {
    require(
        &ctx.principal,
        match kind {
            DocumentKind::Order => Action::WriteOrders,
            DocumentKind::Quotation => Action::WriteQuotations,
        },
    )?;
    // The canonical spelling of the id (upper-case hex is accepted).
    let id = &match kind {
        DocumentKind::Order => path_id(id, OrderId::parse)?.to_string(),
        DocumentKind::Quotation => path_id(id, QuotationId::parse)?.to_string(),
    };
    require_visible(ctx, kind, id)?;
    let b: Body = parse_json(req)?;
    let split = Split::new("sales_team", b.sales_team).map_err(errors::teams)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            current(db, kind, id)?;
            for (i, a) in split.allocations().iter().enumerate() {
                match sales_store::teams::people::get(db, a.sales_person_id) {
                    Err(StoreError::NotFound { id, .. }) => {
                        return Err(ApiError::new(
                            422,
                            "unknown_reference",
                            "A referenced record does not exist",
                            format!("sales person {id} does not exist"),
                        )
                        .with_field(format!("sales_team[{i}].sales_person_id")))
                    }
                    other => {
                        other?;
                    }
                }
            }
            if let Some(p) = b.sales_partner_id {
                reference(sales_store::teams::partners::get(db, p), "sales_partner_id")?;
            }
            let team = DocumentTeam {
                sales_team: split.clone(),
                sales_partner_id: b.sales_partner_id,
            };
            allocations::set(db, kind, id, &team)?;
            if kind == DocumentKind::Order {
                let order = path_id(id, OrderId::parse)?;
                commissions::recalculate_order(db, order, ctx.now)?;
            }
            answer(kind, id.to_owned(), true, &team)
        },
    )
}
