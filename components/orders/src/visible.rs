//! Record visibility at the orders component's edge (issue #8 item 5):
//! the caller's [`Visibility`] (`sales_store::visibility`) applied to
//! every quotation and order route, the sales team split the
//! single-document reads and the list items carry ([`with_teams`]), and
//! the one the create bodies may give ([`given_team`]).
//!
//! [`guard`] runs before the router dispatches: a quotation or order the
//! caller may not see is a 404 `not_found` on every route under its id —
//! reads, edits, every action — exactly as an unknown id, so another
//! territory's documents cannot be probed; creating a document for a
//! customer the caller may not see is the 422 `unknown_reference` of an
//! unknown customer. Lists filter in SQL through `list_visible`, so their
//! pages stay full.

use sales_domain::ids::{CustomerId, OrderId, QuotationId};
use sales_kit::{ApiError, ApiRequest, Method};
use sales_store::teams::allocations::{self, DocumentKind, DocumentTeam};
use sales_store::visibility::{self, Visibility};
use sales_store::{Db, StoreError};
use serde_json::{json, Value};

use crate::Ctx;

/// What the caller may see.
pub(crate) fn scope(ctx: &Ctx) -> Result<Visibility, ApiError> {
    Ok(visibility::for_principal(&ctx.db, &ctx.principal)?)
}

/// 404 for a document outside the caller's visibility; 422 for a new
/// document naming a customer outside it (see the module docs).
pub(crate) fn guard(ctx: &Ctx, req: &ApiRequest) -> Result<(), ApiError> {
    let segments = req.segments();
    let check = match segments.as_slice() {
        ["api", "v1", "quotations", "expire"] => return Ok(()),
        ["api", "v1", "quotations", id, ..] => match QuotationId::parse(id) {
            // A malformed id is the handler's 400.
            Err(_) => return Ok(()),
            Ok(q) => Check::Quotation(q),
        },
        ["api", "v1", "orders", id, ..] => match OrderId::parse(id) {
            Err(_) => return Ok(()),
            Ok(o) => Check::Order(o),
        },
        ["api", "v1", "quotations" | "orders"] if req.method == Method::Post => Check::NewDocument,
        _ => return Ok(()),
    };
    let seen = scope(ctx)?;
    if seen.is_all() {
        return Ok(());
    }
    match check {
        Check::Quotation(q) => Ok(visibility::require_quotation(&ctx.db, &seen, q)?),
        Check::Order(o) => Ok(visibility::require_order(&ctx.db, &seen, o)?),
        Check::NewDocument => {
            // Only a well-formed customer id is checked here; anything else
            // is the handler's to refuse with its own field error.
            let Some(customer) = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|b| {
                    b.get("customer_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .and_then(|s| CustomerId::parse(&s).ok())
            else {
                return Ok(());
            };
            let exists = sales_store::customers::get(&ctx.db, customer).is_ok();
            match visibility::require_customer(&ctx.db, &seen, customer) {
                Ok(()) => Ok(()),
                // An unknown customer: the handler says so itself.
                Err(StoreError::NotFound { .. }) if !exists => Ok(()),
                Err(StoreError::NotFound { .. }) => Err(ApiError::new(
                    422,
                    "unknown_reference",
                    "A referenced record does not exist",
                    format!("customer {customer} does not exist"),
                )
                .with_field("customer_id")),
                Err(e) => Err(e.into()),
            }
        }
    }
}

enum Check {
    Quotation(QuotationId),
    Order(OrderId),
    NewDocument,
}

pub(crate) fn fields(stored: bool, team: &DocumentTeam) -> Vec<(&'static str, Value)> {
    vec![
        ("sales_team", json!(team.sales_team)),
        ("sales_partner_id", json!(team.sales_partner_id)),
        (
            "sales_team_source",
            json!(if stored { "stored" } else { "default" }),
        ),
    ]
}

/// Adds the sales team fields a single read carries to every item of a
/// page (`items[i]` is the JSON of `docs[i]`), read for the whole page
/// by `teams::listed::for_page` — one statement when every document has
/// its own split, a fixed few more when some take their customer's
/// default; never one per row.
pub(crate) fn with_teams(
    db: &impl Db,
    docs: &[sales_store::teams::listed::PageDocument],
    items: &mut [Value],
) -> Result<(), ApiError> {
    let teams = sales_store::teams::listed::for_page(db, docs)?;
    for (item, (stored, team)) in items.iter_mut().zip(&teams) {
        if let Some(obj) = item.as_object_mut() {
            for (k, v) in fields(*stored, team) {
                obj.insert(k.to_owned(), v);
            }
        }
    }
    Ok(())
}

/// A quotation's sales team fields: the stored split, else the
/// customer's default (`sales_team_source` says which).
pub(crate) fn quotation_team(
    db: &impl Db,
    id: QuotationId,
    customer: CustomerId,
) -> Result<Vec<(&'static str, Value)>, ApiError> {
    let stored = allocations::get(db, DocumentKind::Quotation, &id.to_string())?;
    Ok(match stored {
        Some(t) => fields(true, &t),
        None => fields(false, &allocations::for_quotation(db, id, customer)?),
    })
}

/// An order's sales team fields: the stored split, else what it would
/// be given (its quotation's, else the customer's default), not written.
pub(crate) fn order_team(
    db: &impl Db,
    rec: &sales_store::orders::OrderRecord,
) -> Result<Vec<(&'static str, Value)>, ApiError> {
    let stored = allocations::get(db, DocumentKind::Order, &rec.order.id().to_string())?;
    Ok(match stored {
        Some(t) => fields(true, &t),
        None => fields(false, &allocations::for_order(db, rec, false)?),
    })
}

/// The sales team given in a create body (`sales_team`, optional
/// `sales_partner_id`; the same shape and rules as `PUT
/// /sales-teams/...`): checked before the transaction for its shape
/// (percentages above 0, distinct people, total 100 — 422 `split_total`
/// on `sales_team`). `None` when neither field was given: the document
/// then takes the customer's default, as before.
pub(crate) fn given_team(
    sales_team: Option<Vec<sales_domain::teams::Allocation>>,
    sales_partner_id: Option<sales_domain::teams::SalesPartnerId>,
) -> Result<Option<GivenTeam>, ApiError> {
    if sales_team.is_none() && sales_partner_id.is_none() {
        return Ok(None);
    }
    let split = match sales_team {
        Some(a) => Some(sales_domain::teams::Split::new("sales_team", a).map_err(team_error)?),
        None => None,
    };
    Ok(Some(GivenTeam {
        split,
        sales_partner_id,
    }))
}

/// A create body's team, shape-checked by [`given_team`].
pub(crate) struct GivenTeam {
    /// `None`: only a partner was given; the split is the customer's
    /// default, stored with the partner.
    split: Option<sales_domain::teams::Split>,
    sales_partner_id: Option<sales_domain::teams::SalesPartnerId>,
}

impl GivenTeam {
    /// Inside the document's transaction, before it is written: every
    /// person must exist and be active, the partner must exist (422
    /// `unknown_reference` naming `sales_team[i].sales_person_id` or
    /// `sales_partner_id`); then the split is stored for `id`, so the
    /// document and its team are written together or not at all.
    pub(crate) fn store(
        &self,
        db: &impl Db,
        kind: DocumentKind,
        id: &str,
        customer: CustomerId,
    ) -> Result<(), ApiError> {
        let unknown = |detail: String, field: String| {
            ApiError::new(
                422,
                "unknown_reference",
                "A referenced record does not exist",
                detail,
            )
            .with_field(field)
        };
        let split = match &self.split {
            Some(s) => s.clone(),
            None => allocations::default_for_customer(db, customer)?.sales_team,
        };
        if self.split.is_some() {
            for (i, a) in split.allocations().iter().enumerate() {
                match sales_store::teams::people::get(db, a.sales_person_id) {
                    Ok(p) if p.record.is_active() => {}
                    Ok(_) | Err(StoreError::NotFound { .. }) => {
                        return Err(unknown(
                            format!("no active sales person has id {}", a.sales_person_id),
                            format!("sales_team[{i}].sales_person_id"),
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let Some(p) = self.sales_partner_id {
            match sales_store::teams::partners::get(db, p) {
                Ok(_) => {}
                Err(StoreError::NotFound { .. }) => {
                    return Err(unknown(
                        format!("sales partner {p} does not exist"),
                        "sales_partner_id".into(),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
        let team = DocumentTeam {
            sales_team: split,
            sales_partner_id: self.sales_partner_id,
        };
        allocations::set(db, kind, id, &team)?;
        Ok(())
    }
}

/// A split's shape error as the teams component answers it on `PUT
/// /sales-teams/...`.
fn team_error(e: sales_domain::teams::TeamsError) -> ApiError {
    use sales_domain::teams::TeamsError;
    let detail = e.to_string();
    match e {
        TeamsError::SplitTotal { field, .. } => ApiError::new(
            422,
            "split_total",
            "The percentages of a sales team must total 100",
            detail,
        )
        .with_field(field),
        TeamsError::Invalid(v) => ApiError::invalid_field(v.field, v.message),
        other => ApiError::invalid_field(other.field().to_owned(), detail),
    }
}
