//! `/api/v1/customers`.

use std::collections::BTreeMap;

use sales_domain::auth::Action;
use sales_domain::catalog::{
    Address, Customer, CustomerPatch, ExternalIds, NewCustomer, PaymentTerms,
};
use sales_domain::ids::{CustomerGroupId, CustomerId, TerritoryId};
use sales_domain::money::Money;
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::customers::{self, CustomerFilter};
use sales_store::visibility;
use serde::Deserialize;

use crate::wire::{invalid, not_null, nullable, page, path_id, record, store_page};
use crate::Ctx;

/// The create body. Ids, money, addresses and terms validate while parsing,
/// so a bad one is reported with its JSON path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCustomerBody {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub customer_group_id: Option<CustomerGroupId>,
    #[serde(default)]
    pub territory_id: Option<TerritoryId>,
    #[serde(default)]
    pub credit_limit: Option<Money>,
    #[serde(default)]
    pub payment_terms: Option<PaymentTerms>,
    #[serde(default)]
    pub tax_id: Option<String>,
    #[serde(default)]
    pub billing_address: Option<Address>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
    #[serde(default)]
    pub external_ids: Option<ExternalIds>,
}

impl From<NewCustomerBody> for NewCustomer {
    fn from(b: NewCustomerBody) -> NewCustomer {
        NewCustomer {
            name: b.name,
            email: b.email,
            customer_group_id: b.customer_group_id,
            territory_id: b.territory_id,
            credit_limit: b.credit_limit,
            payment_terms: b.payment_terms,
            tax_id: b.tax_id,
            billing_address: b.billing_address,
            shipping_address: b.shipping_address,
            external_ids: b.external_ids.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    customer_group_id: Option<Option<CustomerGroupId>>,
    #[serde(default, deserialize_with = "nullable")]
    territory_id: Option<Option<TerritoryId>>,
    #[serde(default, deserialize_with = "nullable")]
    credit_limit: Option<Option<Money>>,
    #[serde(default, deserialize_with = "nullable")]
    payment_terms: Option<Option<PaymentTerms>>,
    #[serde(default, deserialize_with = "nullable")]
    tax_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    billing_address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "nullable")]
    shipping_address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "not_null")]
    external_ids: Option<ExternalIds>,
}

impl From<PatchBody> for CustomerPatch {
    fn from(b: PatchBody) -> CustomerPatch {
        CustomerPatch {
            name: b.name,
            email: b.email,
            customer_group_id: b.customer_group_id,
            territory_id: b.territory_id,
            credit_limit: b.credit_limit,
            payment_terms: b.payment_terms,
            tax_id: b.tax_id,
            billing_address: b.billing_address,
            shipping_address: b.shipping_address,
            external_ids: b.external_ids,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    customer_group_id: Option<CustomerGroupId>,
    territory_id: Option<TerritoryId>,
    q: Option<String>,
    external_source: Option<String>,
    external_id: Option<String>,
}

fn location(id: CustomerId) -> String {
    format!("/api/v1/customers/{id}")
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = CustomerFilter {
        customer_group_id: q.customer_group_id,
        territory_id: q.territory_id,
        active: q.active,
        q: q.q,
        external_source: q.external_source,
        external_id: q.external_id,
    };
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    let (items, next) =
        customers::list_visible(&ctx.db, &filter, &store_page(q.limit, q.cursor)?, &seen)?;
    page(&items, next)
}

/// A customer outside the caller's visibility is a 404, as an unknown id.
fn require_visible(ctx: &Ctx, id: CustomerId) -> Result<(), ApiError> {
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    Ok(visibility::require_customer(&ctx.db, &seen, id)?)
}

/// A scoped caller may only write a customer they will see: its territory
/// (explicit, else by territory rule — resolved in the write's
/// transaction, after the write) must be one of theirs, else 403
/// `outside_territory` on `territory_id` and the transaction rolls back.
/// As ERPNext's user permissions refuse saving a record whose Territory
/// link the user is not permitted (a permission error, not a validation).
fn require_own_territory(
    db: &impl sales_store::Db,
    seen: &visibility::Visibility,
    id: CustomerId,
) -> Result<(), ApiError> {
    own_territory(db, seen, id)?.map_err(outside)
}

/// Whether the stored customer `id` lands in one of `seen`'s territories
/// (always, for an unscoped caller): `Ok(Err(why))` when it does not.
/// Imports use it too, naming the row.
pub(crate) fn own_territory(
    db: &impl sales_store::Db,
    seen: &visibility::Visibility,
    id: CustomerId,
) -> Result<Result<(), String>, ApiError> {
    let Some(mine) = seen.territories() else {
        return Ok(Ok(()));
    };
    let placed = sales_store::teams::territories::customer_territory(db, id)?;
    Ok(match placed.territory_id {
        Some(t) if mine.contains(&t) => Ok(()),
        Some(t) => Err(format!(
            "territory {t} is not one of the territories this key may see"
        )),
        None => Err(
            "the customer would have no territory (none given, no territory rule places its \
             address); give one of the territories this key may see"
                .to_owned(),
        ),
    })
}

fn outside(detail: String) -> ApiError {
    ApiError::new(
        403,
        "outside_territory",
        "Outside the territories this key may see",
        detail,
    )
    .with_field("territory_id")
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, CustomerId::parse)?;
    require_visible(ctx, id)?;
    record(200, &customers::get(&ctx.db, id)?, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteCustomers)?;
    let body: NewCustomerBody = parse_json(req)?;
    let customer = Customer::create(CustomerId::new(), body.into()).map_err(invalid)?;
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let stored = customers::create(db, &customer, ctx.now)?;
            require_own_territory(db, &seen, customer.id())?;
            record(201, &stored, Some(location(customer.id())))
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteCustomers)?;
    let id = path_id(id, CustomerId::parse)?;
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    visibility::require_customer(&ctx.db, &seen, id)?;
    let expected = if_match(req)?;
    let body: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = customers::get(db, id)?;
            let next = current.record.patched(body.into()).map_err(invalid)?;
            let stored = customers::update(db, &next, expected, ctx.now)?;
            require_own_territory(db, &seen, id)?;
            record(200, &stored, None)
        },
    )
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteCustomers)?;
    let id = path_id(id, CustomerId::parse)?;
    require_visible(ctx, id)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| record(200, &customers::deactivate(db, id, ctx.now)?, None),
    )
}

/// External ids from one (source, id) pair, for imports.
pub(crate) fn external_ids(
    source: &str,
    id: &str,
) -> Result<ExternalIds, sales_domain::catalog::ValidationError> {
    ExternalIds::new(BTreeMap::from([(source.to_string(), id.to_string())]))
}
