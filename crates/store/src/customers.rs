//! Customers, with their external ids (unique per source).

use chrono::{DateTime, Utc};
use sales_domain::catalog::{
    Address, Customer, ExternalIds, NewCustomer, PaymentTerms, ValidationError,
};
use sales_domain::ids::{CustomerGroupId, CustomerId, TerritoryId};

use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{
    self, atomically, contains_pattern, from_json, money_amount, money_currency, opt_to_json,
    read_external_ids, read_money, replace_external_ids, require_exists, stale_or_missing,
    ExternallyKnown, Upserted, Where,
};
use crate::visibility::Visibility;
use crate::{time, StoreError};

const ENTITY: &str = "customer";
const LIST: &str = "customers";
const EXTERNAL: &str = "customer_external_ids";
const SELECT: &str = "SELECT c.id, c.name, c.email, c.customer_group_id, c.territory_id,
        c.credit_limit_amount, c.credit_limit_currency, c.payment_terms_name,
        c.payment_terms_days, c.tax_id, c.billing_address, c.shipping_address, c.active,
        c.version, c.created_at, c.updated_at,
        (SELECT json_group_object(e.source, e.external_id) FROM customer_external_ids e
         WHERE e.customer_id = c.id) AS external_ids
    FROM customers c";

/// Filters for [`list`]; all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    pub customer_group_id: Option<CustomerGroupId>,
    pub territory_id: Option<TerritoryId>,
    pub active: Option<bool>,
    /// Text anywhere in the name or e-mail, ignoring ASCII case.
    pub q: Option<String>,
    /// Customers with an id from this source …
    pub external_source: Option<String>,
    /// … that is this id (needs `external_source`).
    pub external_id: Option<String>,
}

fn decode(row: Row<'_>) -> Result<Versioned<Customer>, StoreError> {
    let id_text = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id_text.to_owned(),
        message,
    };
    let id = CustomerId::parse(id_text).map_err(|e| corrupt(e.to_string()))?;
    let group = row
        .opt_text("customer_group_id")?
        .map(CustomerGroupId::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let territory = row
        .opt_text("territory_id")?
        .map(TerritoryId::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let payment_terms = match (
        row.opt_text("payment_terms_name")?,
        row.opt_int("payment_terms_days")?,
    ) {
        (Some(name), Some(days)) => {
            let days = u16::try_from(days).map_err(|_| corrupt("payment_terms.days".into()))?;
            Some(PaymentTerms::new(name, days).map_err(|e| corrupt(e.to_string()))?)
        }
        _ => None,
    };
    let address = |column: &str| -> Result<Option<Address>, DbError> {
        row.opt_text(column)?
            .map(|text| from_json::<Address>(column, text))
            .transpose()
    };
    let new = NewCustomer {
        name: row.text("name")?.to_owned(),
        email: row.opt_text("email")?.map(str::to_owned),
        customer_group_id: group,
        territory_id: territory,
        credit_limit: read_money(&row, "credit_limit")?,
        payment_terms,
        tax_id: row.opt_text("tax_id")?.map(str::to_owned),
        billing_address: address("billing_address")?,
        shipping_address: address("shipping_address")?,
        external_ids: read_external_ids(&row)?,
    };
    let customer =
        Customer::from_parts(id, new, row.bool("active")?).map_err(|e| corrupt(e.to_string()))?;
    Ok(Versioned {
        record: customer,
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn check_references(db: &impl Db, c: &Customer) -> Result<(), StoreError> {
    require_exists(
        db,
        "customer_groups",
        "customer_group_id",
        c.customer_group_id().map(|i| i.to_string()),
    )?;
    require_exists(
        db,
        "territories",
        "territory_id",
        c.territory_id().map(|i| i.to_string()),
    )
}

/// The data columns of a customer, in the order of [`DATA_COLUMNS`].
fn data_values(c: &Customer) -> Result<Vec<Value>, StoreError> {
    Ok(vec![
        Value::from(c.name()),
        Value::from(c.email()),
        Value::from(c.customer_group_id().map(|i| i.to_string())),
        Value::from(c.territory_id().map(|i| i.to_string())),
        money_amount(c.credit_limit().as_ref()),
        money_currency(c.credit_limit().as_ref()),
        Value::from(c.payment_terms().map(|t| t.name())),
        Value::from(c.payment_terms().map(|t| t.days())),
        Value::from(c.tax_id()),
        opt_to_json("billing_address", c.billing_address())?,
        opt_to_json("shipping_address", c.shipping_address())?,
        Value::from(c.is_active()),
    ])
}

const DATA_COLUMNS: &str = "name, email, customer_group_id, territory_id, credit_limit_amount,
    credit_limit_currency, payment_terms_name, payment_terms_days, tax_id, billing_address,
    shipping_address, active";

/// Stores a new customer (version 1) with its external ids, atomically.
/// The group and territory must exist; an external id another customer
/// holds is [`StoreError::Duplicate`] (field `external_ids`).
pub fn create(
    db: &impl Db,
    customer: &Customer,
    now: DateTime<Utc>,
) -> Result<Versioned<Customer>, StoreError> {
    check_references(db, customer)?;
    atomically(db, || {
        let id = customer.id().to_string();
        let ts = Value::Text(time::to_sql(now));
        let mut params = vec![Value::from(&id)];
        params.extend(data_values(customer)?);
        params.extend([ts.clone(), ts]);
        db.execute(
            &format!(
                "INSERT INTO customers (id, {DATA_COLUMNS}, version, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
            ),
            &params,
        )?;
        replace_external_ids(
            db,
            EXTERNAL,
            "customer_id",
            &id,
            ENTITY,
            customer.external_ids(),
        )?;
        get(db, customer.id())
    })
}

pub fn get(db: &impl Db, id: CustomerId) -> Result<Versioned<Customer>, StoreError> {
    let rows = db.execute(
        &format!("{SELECT} WHERE c.id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity: ENTITY,
            id: id.to_string(),
        }),
    }
}

/// The customer holding `external_id` from `source`, if any.
pub fn find_by_external_id(
    db: &impl Db,
    source: &str,
    external_id: &str,
) -> Result<Option<Versioned<Customer>>, StoreError> {
    let rows = db.execute(
        &format!(
            "{SELECT} WHERE c.id = (SELECT customer_id FROM customer_external_ids
                                     WHERE source = ? AND external_id = ?)"
        ),
        &[Value::from(source), Value::from(external_id)],
    )?;
    rows.first().map(decode).transpose()
}

/// Customers in creation order, a page at a time.
pub fn list(
    db: &impl Db,
    filter: &CustomerFilter,
    page: &Page,
) -> Result<Listed<Customer>, StoreError> {
    list_visible(db, filter, page, &Visibility::All)
}

/// [`list`] within what `visible` lets the caller see.
pub fn list_visible(
    db: &impl Db,
    filter: &CustomerFilter,
    page: &Page,
    visible: &Visibility,
) -> Result<Listed<Customer>, StoreError> {
    let mut w = Where::default();
    if let Some((clause, params)) = visible.customer_row("c") {
        w.and(&clause, params);
    }
    if let Some(g) = filter.customer_group_id {
        w.and("c.customer_group_id = ?", [Value::Text(g.to_string())]);
    }
    if let Some(t) = filter.territory_id {
        w.and("c.territory_id = ?", [Value::Text(t.to_string())]);
    }
    if let Some(active) = filter.active {
        w.and("c.active = ?", [Value::from(active)]);
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let p = contains_pattern(q);
        w.and(
            "(c.name LIKE ? ESCAPE '\\' OR c.email LIKE ? ESCAPE '\\')",
            [Value::from(&p), Value::from(p)],
        );
    }
    match (&filter.external_source, &filter.external_id) {
        (Some(source), Some(id)) => w.and(
            "c.id IN (SELECT customer_id FROM customer_external_ids WHERE source = ? AND external_id = ?)",
            [Value::from(source), Value::from(id)],
        ),
        (Some(source), None) => w.and(
            "c.id IN (SELECT customer_id FROM customer_external_ids WHERE source = ?)",
            [Value::from(source)],
        ),
        (None, Some(id)) => w.and(
            "c.id IN (SELECT customer_id FROM customer_external_ids WHERE external_id = ?)",
            [Value::from(id)],
        ),
        (None, None) => {}
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, CustomerId::parse)?;
        w.and("c.id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!("{SELECT} {} ORDER BY c.id LIMIT ?", w.sql()),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |c| c.record.id().to_string()))
}

/// Stores `customer` (built with `Customer::patched`) if the row is still at
/// `expected_version`; its external ids replace the stored ones. Atomic.
pub fn update(
    db: &impl Db,
    customer: &Customer,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Customer>, StoreError> {
    check_references(db, customer)?;
    let id = customer.id().to_string();
    atomically(db, || {
        let mut params = data_values(customer)?;
        params.extend([
            Value::Text(time::to_sql(now)),
            Value::from(&id),
            Value::Integer(expected_version),
        ]);
        let rows = db.execute(
            "UPDATE customers SET name = ?, email = ?, customer_group_id = ?, territory_id = ?,
                 credit_limit_amount = ?, credit_limit_currency = ?, payment_terms_name = ?,
                 payment_terms_days = ?, tax_id = ?, billing_address = ?, shipping_address = ?,
                 active = ?, version = version + 1, updated_at = ?
             WHERE id = ? AND version = ?
             RETURNING id",
            &params,
        )?;
        if rows.is_empty() {
            return Err(stale_or_missing(
                db,
                "customers",
                ENTITY,
                &id,
                expected_version,
            ));
        }
        replace_external_ids(
            db,
            EXTERNAL,
            "customer_id",
            &id,
            ENTITY,
            customer.external_ids(),
        )?;
        get(db, customer.id())
    })
}

/// Marks a customer inactive. Deactivating an inactive customer changes
/// nothing and keeps its version.
pub fn deactivate(
    db: &impl Db,
    id: CustomerId,
    now: DateTime<Utc>,
) -> Result<Versioned<Customer>, StoreError> {
    db.execute(
        "UPDATE customers SET active = 0, version = version + 1, updated_at = ?
         WHERE id = ? AND active = 1",
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    get(db, id)
}

/// Creates or updates the customer that holds, for `source`, the external
/// id `candidate` carries for `source` (bulk imports from a CRM or shop).
///
/// `candidate` is the imported record, validated, with the id to use if it
/// is new; it must carry an id for `source`, else
/// [`StoreError::MissingReference`] (field `external_ids`). An existing
/// customer keeps its id, its `active` flag and its ids from other sources,
/// and takes every other field from `candidate`; when nothing differs it is
/// left alone ([`Upserted::Unchanged`], version kept), so replaying an
/// import is a no-op. Atomic.
pub fn upsert_by_external_id(
    db: &impl Db,
    source: &str,
    candidate: &Customer,
    now: DateTime<Utc>,
) -> Result<(Upserted, Versioned<Customer>), StoreError> {
    repo::upsert_by_external_id(
        db,
        source,
        candidate,
        |external_id| find_by_external_id(db, source, external_id),
        || create(db, candidate, now),
        |next, version| update(db, next, version, now),
    )
}

impl ExternallyKnown for Customer {
    const ENTITY: &'static str = ENTITY;

    fn external_ids(&self) -> &ExternalIds {
        Customer::external_ids(self)
    }

    fn id_text(&self) -> String {
        self.id().to_string()
    }

    fn onto(&self, current: &Customer) -> Result<Customer, ValidationError> {
        let mut new = self.to_new();
        new.external_ids = current.external_ids().clone().merged(&new.external_ids);
        Customer::from_parts(current.id(), new, current.is_active())
    }
}
