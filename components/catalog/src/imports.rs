//! `POST /api/v1/imports/{customers|products}`: bulk upsert by external id.
//!
//! This is how a CRM or an inventory system syncs master data in. The body
//! is NDJSON (one JSON object a line) or CSV (a header row, then one record
//! a row). Each row is upserted by (`external_source`, `external_id`) in its
//! own savepoint: a bad row is reported — row number, field, code, message —
//! and skipped, the good rows are written, all in one transaction with the
//! `Idempotency-Key`. Replaying an import changes nothing (`unchanged`).
//!
//! A row a scoped key may not write is not a bad row but a permission
//! refusal, as `POST /customers` answers it: a customer row that lands
//! (explicit territory, else by territory rule) outside the caller's
//! territories fails the whole import with 403 `outside_territory` naming
//! the row (`rows[n].territory_code`), and nothing of it is written
//! (issue #8 item 5; ERPNext's Data Import stops on a permission error).
//! Reading the body into rows is `sales_kit::import`'s (tested natively).

use sales_domain::auth::Action;
use sales_domain::catalog::{
    Address, AddressInput, Customer, NewCustomer, NewProduct, PaymentTerms, Product, ProductKind,
    ValidationError,
};
use sales_domain::ids::{CustomerGroupId, CustomerId, ItemGroupId, ProductId, TerritoryId};
use sales_domain::money::{Currency, Money};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::import::{lenient_u16, parse_import, Amount, RowError};
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::{customers, products, Db, StoreError, Upserted};
use serde::{Deserialize, Serialize};

use crate::customers::external_ids;
use crate::trees::id_by_code;
use crate::Ctx;

#[derive(Default, Serialize)]
struct Report {
    rows: usize,
    created: usize,
    updated: usize,
    unchanged: usize,
    failed: usize,
    errors: Vec<RowError>,
}

/// A domain validation error as a row error.
fn invalid(row: usize, e: ValidationError) -> RowError {
    RowError::new(row, Some(&e.field), "invalid_field", e.message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerRow {
    external_source: String,
    external_id: String,
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    customer_group_code: Option<String>,
    #[serde(default)]
    territory_code: Option<String>,
    #[serde(default)]
    credit_limit: Option<Amount>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default, deserialize_with = "lenient_u16")]
    payment_terms_days: Option<u16>,
    #[serde(default)]
    tax_id: Option<String>,
    #[serde(default)]
    address_line1: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    postcode: Option<String>,
    #[serde(default)]
    country: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductRow {
    external_source: String,
    external_id: String,
    sku: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    item_group_code: Option<String>,
    uom: String,
    kind: String,
    standard_cost: Amount,
    currency: String,
    #[serde(default, deserialize_with = "lenient_u16")]
    lead_time_days: Option<u16>,
}

const CUSTOMER_REQUIRED: &[&str] = &["external_source", "external_id", "name"];
const PRODUCT_REQUIRED: &[&str] = &[
    "external_source",
    "external_id",
    "sku",
    "name",
    "uom",
    "kind",
    "standard_cost",
    "currency",
];

pub fn customers(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::Import)?;
    let rows = parse_import::<CustomerRow>(req, CUSTOMER_REQUIRED)?;
    let seen = sales_store::visibility::for_principal(&ctx.db, &ctx.principal)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let mut report = Report::default();
            for (n, row) in rows {
                report.rows += 1;
                let outcome = row.map_err(RowFailure::Row).and_then(|row| {
                    let (source, candidate) = customer_candidate(db, n, row)?;
                    let result = customers::upsert_by_external_id(db, &source, &candidate, ctx.now);
                    if let Ok((_, stored)) = &result {
                        if let Err(why) =
                            crate::customers::own_territory(db, &seen, stored.record.id())
                                .map_err(RowFailure::Abort)?
                        {
                            return Err(RowFailure::Abort(outside_row(n, why)));
                        }
                    }
                    store_outcome(n, result)
                });
                tally(&mut report, outcome)?;
            }
            ApiResponse::json(200, &report)
        },
    )
}

pub fn products(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::Import)?;
    let rows = parse_import::<ProductRow>(req, PRODUCT_REQUIRED)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let mut report = Report::default();
            for (n, row) in rows {
                report.rows += 1;
                let outcome = row.map_err(RowFailure::Row).and_then(|row| {
                    let (source, candidate) = product_candidate(db, n, row)?;
                    store_outcome(
                        n,
                        products::upsert_by_external_id(db, &source, &candidate, ctx.now),
                    )
                });
                tally(&mut report, outcome)?;
            }
            ApiResponse::json(200, &report)
        },
    )
}

/// The whole import's 403 for a row that lands outside the caller's
/// territories (see the module docs).
fn outside_row(row: usize, why: String) -> ApiError {
    ApiError::new(
        403,
        "outside_territory",
        "Outside the territories this key may see",
        format!("row {row}: {why}; nothing was imported"),
    )
    .with_field(format!("rows[{row}].territory_code"))
}

/// A row's outcome: upserted, a row error, or a failure that aborts the
/// whole import (the database itself failed, or a row is refused).
enum RowFailure {
    Row(RowError),
    Abort(ApiError),
}

impl From<RowError> for RowFailure {
    fn from(e: RowError) -> RowFailure {
        RowFailure::Row(e)
    }
}

fn tally(report: &mut Report, outcome: Result<Upserted, RowFailure>) -> Result<(), ApiError> {
    match outcome {
        Ok(Upserted::Created) => report.created += 1,
        Ok(Upserted::Updated) => report.updated += 1,
        Ok(Upserted::Unchanged) => report.unchanged += 1,
        Err(RowFailure::Row(e)) => {
            report.failed += 1;
            report.errors.push(e);
        }
        Err(RowFailure::Abort(e)) => return Err(e),
    }
    Ok(())
}

fn store_outcome<T>(
    row: usize,
    result: Result<(Upserted, T), StoreError>,
) -> Result<Upserted, RowFailure> {
    match result {
        Ok((u, _)) => Ok(u),
        Err(StoreError::Duplicate { field, value, .. }) => Err(RowError::new(
            row,
            Some(field),
            "duplicate",
            format!("{field} {value:?} belongs to another record"),
        )
        .into()),
        Err(StoreError::MissingReference { field, id }) => Err(RowError::new(
            row,
            Some(field),
            "unknown_reference",
            format!("{field} {id} does not exist"),
        )
        .into()),
        Err(e) => Err(RowFailure::Abort(e.into())),
    }
}

fn lookup<I: sales_store::trees::TreeId>(
    db: &impl Db,
    row: usize,
    field: &str,
    code: Option<&str>,
) -> Result<Option<I>, RowFailure> {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    match id_by_code::<I>(db, code) {
        Ok(Some(id)) => Ok(Some(id)),
        Ok(None) => Err(RowError::new(
            row,
            Some(field),
            "unknown_reference",
            format!("no record with code {code:?}"),
        )
        .into()),
        Err(e) => Err(RowFailure::Abort(e)),
    }
}

fn currency(row: usize, code: &str) -> Result<Currency, RowFailure> {
    Currency::from_code(code.trim())
        .map_err(|e| RowError::new(row, Some("currency"), "invalid_field", e.to_string()).into())
}

fn customer_candidate(
    db: &impl Db,
    n: usize,
    r: CustomerRow,
) -> Result<(String, Customer), RowFailure> {
    let source = r.external_source.trim().to_string();
    let ids = external_ids(&source, r.external_id.trim()).map_err(|e| invalid(n, e))?;
    let group = lookup::<CustomerGroupId>(
        db,
        n,
        "customer_group_code",
        r.customer_group_code.as_deref(),
    )?;
    let territory = lookup::<TerritoryId>(db, n, "territory_code", r.territory_code.as_deref())?;
    let credit_limit = match r.credit_limit {
        None => None,
        Some(Amount(a)) => {
            let code = r.currency.as_deref().ok_or_else(|| {
                RowError::new(
                    n,
                    Some("currency"),
                    "missing_field",
                    "a credit_limit needs a currency",
                )
            })?;
            let money = Money::new(a, currency(n, code)?).map_err(|e| {
                RowError::new(n, Some("credit_limit"), "invalid_field", e.to_string())
            })?;
            Some(money)
        }
    };
    let payment_terms = r
        .payment_terms_days
        .map(|d| {
            let name = if d == 0 {
                "Due on receipt".to_string()
            } else {
                format!("Net {d}")
            };
            PaymentTerms::new(&name, d).map_err(|e| invalid(n, e.within("payment_terms_days")))
        })
        .transpose()?;
    let billing_address = match (r.address_line1, r.city, r.country) {
        (Some(line1), Some(city), Some(country)) => Some(
            Address::new(AddressInput {
                line1,
                line2: None,
                city,
                postcode: r.postcode,
                region: None,
                country,
            })
            .map_err(|e| invalid(n, e))?,
        ),
        (None, None, None) => None,
        _ => {
            return Err(RowError::new(
                n,
                Some("address_line1"),
                "invalid_field",
                "an address needs address_line1, city and country together",
            )
            .into())
        }
    };
    let new = NewCustomer {
        name: r.name,
        email: r.email,
        customer_group_id: group,
        territory_id: territory,
        credit_limit,
        payment_terms,
        tax_id: r.tax_id,
        billing_address,
        shipping_address: None,
        external_ids: ids,
    };
    let customer = Customer::create(CustomerId::new(), new).map_err(|e| invalid(n, e))?;
    Ok((source, customer))
}

fn product_candidate(
    db: &impl Db,
    n: usize,
    r: ProductRow,
) -> Result<(String, Product), RowFailure> {
    let source = r.external_source.trim().to_string();
    let ids = external_ids(&source, r.external_id.trim()).map_err(|e| invalid(n, e))?;
    let group = lookup::<ItemGroupId>(db, n, "item_group_code", r.item_group_code.as_deref())?;
    let kind = ProductKind::parse(r.kind.trim()).ok_or_else(|| {
        RowError::new(
            n,
            Some("kind"),
            "invalid_field",
            format!("{:?} is not one of {}", r.kind, ProductKind::expected()),
        )
    })?;
    let cost = Money::new(r.standard_cost.0, currency(n, &r.currency)?)
        .map_err(|e| RowError::new(n, Some("standard_cost"), "invalid_field", e.to_string()))?;
    let new = NewProduct {
        sku: r.sku,
        name: r.name,
        description: r.description,
        item_group_id: group,
        uom: r.uom,
        kind,
        standard_cost: cost,
        lead_time_days: r.lead_time_days.unwrap_or(0),
        external_ids: ids,
    };
    let product = Product::create(ProductId::new(), new).map_err(|e| invalid(n, e))?;
    Ok((source, product))
}
