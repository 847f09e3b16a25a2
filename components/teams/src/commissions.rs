//! `/api/v1/commissions`: the commission ledger (append-only rows:
//! accrual, reversal, adjustment — each with the order, its version and
//! the amount), filtered and paged; `GET /sales-people/{id}/statement`
//! and `/sales-partners/{id}/statement` — totals and rows for a period
//! (the current month by default); `POST
//! /commissions/adjustments` — a manual row (admins); `POST
//! /commissions/recalculate` — recalculate one order now (admins; the
//! jobs component does it for every order event).
//!
//! Visibility follows [`Scope`](crate::Scope): a rep sees their own rows,
//! a manager their subtree's, an admin everything; partners' rows are
//! admin-only. A row outside the caller's scope is a 404.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::ids::{OrderId, SalesPersonId};
use sales_domain::money::{Currency, Money};
use sales_domain::teams::{
    Beneficiary, EntryKind, LedgerEntryId, Period, PeriodKind, SalesPartnerId,
};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::{parse_query, Page};
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::teams::commissions::{self, ledger, LedgerEntry, LedgerFilter};
use sales_store::StoreError;
use serde::Deserialize;

use crate::errors::reference;
use crate::wire::{path_id, store_page};
use crate::{scope, Ctx, Scope};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    sales_person_id: Option<SalesPersonId>,
    sales_partner_id: Option<SalesPartnerId>,
    order_id: Option<OrderId>,
    kind: Option<EntryKind>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

fn sees(scope: &Scope, b: Beneficiary) -> bool {
    match (scope, b) {
        (Scope::All, _) => true,
        (s, Beneficiary::SalesPerson(p)) => s.sees(p),
        (Scope::People(_), Beneficiary::SalesPartner(_)) => false,
    }
}

/// The beneficiaries a filter may name within the caller's scope.
fn within(scope: &Scope, wanted: Option<Beneficiary>) -> Option<Vec<Beneficiary>> {
    match (scope, wanted) {
        (Scope::All, None) => None,
        (Scope::All, Some(b)) => Some(vec![b]),
        (s, Some(b)) => Some(if sees(s, b) { vec![b] } else { vec![] }),
        (Scope::People(set), None) => {
            Some(set.iter().map(|p| Beneficiary::SalesPerson(*p)).collect())
        }
    }
}

fn beneficiary(
    person: Option<SalesPersonId>,
    partner: Option<SalesPartnerId>,
) -> Result<Option<Beneficiary>, ApiError> {
    match (person, partner) {
        (Some(_), Some(_)) => Err(ApiError::invalid_query(
            "sales_partner_id",
            "name a sales person or a sales partner, not both",
        )),
        (Some(p), None) => Ok(Some(Beneficiary::SalesPerson(p))),
        (None, Some(p)) => Ok(Some(Beneficiary::SalesPartner(p))),
        (None, None) => Ok(None),
    }
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: LedgerQuery = parse_query(&req.query)?;
    let wanted = beneficiary(q.sales_person_id, q.sales_partner_id)?;
    let scope = scope(&ctx.db, &ctx.principal)?;
    let filter = LedgerFilter {
        beneficiaries: within(&scope, wanted),
        order_id: q.order_id,
        kind: q.kind,
        from: q.from,
        to: q.to,
    };
    let (items, next_cursor) = ledger::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    ApiResponse::json(200, &Page { items, next_cursor })
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, LedgerEntryId::parse)?;
    let entry = ledger::get(&ctx.db, id)?;
    if !sees(&scope(&ctx.db, &ctx.principal)?, entry.beneficiary) {
        return Err(ApiError::not_found(format!(
            "commission ledger entry {id} does not exist"
        )));
    }
    ApiResponse::json(200, &entry)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementQuery {
    period: Option<PeriodKind>,
    period_start: Option<NaiveDate>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// `GET /sales-people/{id}/statement`.
pub fn person_statement(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    let id = path_id(id, SalesPersonId::parse)?;
    statement(ctx, req, Beneficiary::SalesPerson(id))
}

/// `GET /sales-partners/{id}/statement`.
pub fn partner_statement(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    let id = path_id(id, SalesPartnerId::parse)?;
    statement(ctx, req, Beneficiary::SalesPartner(id))
}

/// A statement for `period` + `period_start` or `from` + `to`; without
/// either, the current month.
fn statement(ctx: &Ctx, req: &ApiRequest, b: Beneficiary) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: StatementQuery = parse_query(&req.query)?;
    let scope = scope(&ctx.db, &ctx.principal)?;
    let missing = || {
        ApiError::not_found(format!(
            "{} {} does not exist",
            b.kind().replace('_', " "),
            b.id_text()
        ))
    };
    if !sees(&scope, b) {
        return Err(missing());
    }
    match b {
        Beneficiary::SalesPerson(p) => {
            sales_store::teams::people::get(&ctx.db, p)?;
        }
        Beneficiary::SalesPartner(p) => {
            sales_store::teams::partners::get(&ctx.db, p)?;
        }
    }
    let (from, to) = match (q.period, q.period_start, q.from, q.to) {
        (None, None, None, None) => {
            let p = Period::containing(PeriodKind::Month, ctx.now.date_naive());
            (p.start, p.end())
        }
        (Some(kind), Some(start), None, None) => {
            let p = Period::starting("period_start", kind, start)
                .map_err(|e| ApiError::invalid_query(e.field, e.message))?;
            (p.start, p.end())
        }
        (None, None, Some(from), Some(to)) => {
            if to < from {
                return Err(ApiError::invalid_query("to", "must not come before from"));
            }
            (from, to)
        }
        _ => {
            return Err(ApiError::invalid_query(
                "period",
                "give period and period_start, or from and to",
            ))
        }
    };
    ApiResponse::json(200, &commissions::statement(&ctx.db, b, from, to)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustmentBody {
    beneficiary: Beneficiary,
    amount: Decimal,
    currency: Currency,
    earned_on: NaiveDate,
    reason: String,
    #[serde(default)]
    order_id: Option<OrderId>,
}

/// A manual row (bonus, correction); recalculation never undoes it.
pub fn adjust(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageCommissions)?;
    let b: AdjustmentBody = parse_json(req)?;
    if b.amount.is_zero() {
        return Err(ApiError::invalid_field("amount", "an adjustment is not 0"));
    }
    let amount = Money::new(b.amount, b.currency)
        .map_err(|e| ApiError::invalid_field("amount", e.to_string()))?;
    if amount.amount().scale() > b.currency.minor_units() {
        return Err(ApiError::invalid_field(
            "amount",
            format!(
                "at most {} decimals in {}",
                b.currency.minor_units(),
                b.currency.code()
            ),
        ));
    }
    // Stored as `YYYY-MM-DD` text that statements compare and read back.
    let year = chrono::Datelike::year(&b.earned_on);
    if !(2000..=9999).contains(&year) {
        return Err(ApiError::invalid_field(
            "earned_on",
            "must be a day between 2000-01-01 and 9999-12-31",
        ));
    }
    let reason = b.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid_field(
            "reason",
            "say why, in 1 to 500 characters",
        ));
    }
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            match b.beneficiary {
                Beneficiary::SalesPerson(p) => {
                    reference(sales_store::teams::people::get(db, p), "beneficiary.id")?;
                }
                Beneficiary::SalesPartner(p) => {
                    reference(sales_store::teams::partners::get(db, p), "beneficiary.id")?;
                }
            }
            let number = match b.order_id {
                Some(o) => Some(
                    reference(sales_store::orders::get(db, o), "order_id")?
                        .record
                        .order
                        .number()
                        .to_owned(),
                ),
                None => None,
            };
            let entry = LedgerEntry {
                id: LedgerEntryId::new(),
                beneficiary: b.beneficiary,
                kind: EntryKind::Adjustment,
                amount: b.amount,
                currency: b.currency,
                order_id: b.order_id,
                order_number: number,
                order_version: None,
                earned_on: b.earned_on,
                plan_id: None,
                reason: Some(reason.clone()),
                created_by: Some(ctx.principal.id()),
                created_at: ctx.now,
            };
            commissions::adjust(db, &entry)?;
            Ok(ApiResponse::json(201, &entry)?
                .with_header("location", format!("/api/v1/commissions/{}", entry.id)))
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecalculateBody {
    order_id: OrderId,
}

/// Recalculates one order's commission now; answers the rows booked
/// (none when the ledger already agrees).
pub fn recalculate(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageCommissions)?;
    let b: RecalculateBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let booked = match commissions::recalculate_order(db, b.order_id, ctx.now) {
                Err(StoreError::NotFound {
                    entity: "order",
                    id,
                }) => {
                    return Err(StoreError::MissingReference {
                        field: "order_id",
                        id,
                    }
                    .into())
                }
                other => other?,
            };
            ApiResponse::json(200, &serde_json::json!({ "booked": booked }))
        },
    )
}
