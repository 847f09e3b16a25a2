//! Price lists and their items.
//!
//! A list's header is one row of `price_lists`; its items are rows of
//! `price_list_items`, keyed by (list, product, unit) and indexed by
//! (product, list) so a basket's products find their prices by index
//! however many items the lists hold. Records come back as headers: a
//! `PriceList` with no items ([`items`] pages through those).
//!
//! Changing the items (replace or upsert) bumps the list's version, so a
//! client holding an ETag sees that the list changed.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::ids::{ChannelId, CustomerGroupId, CustomerId, PriceListId, ProductId};
use sales_domain::money::Currency;
use sales_domain::pricing::{
    Derivation, PriceList, PriceListItem, PriceListScope, PriceListSpec, Uom,
};

use super::records::{marks, Stored};
use crate::db::{Db, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{atomically, contains_pattern, stale_or_missing, Where};
use crate::{time, StoreError};

const ENTITY: &str = "price list";
const LIST: &str = "price_lists";
const ITEMS: &str = "price_list_items";
const COLUMNS: &str = "id, name, currency, customer_id, customer_group_id, channel_id,
    valid_from, valid_to, base_price_list_id, adjustment_percent, active, version,
    created_at, updated_at";
/// Rows per multi-row INSERT (4 parameters each, far below SQLite's limit).
const ITEM_CHUNK: usize = 250;

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceListFilter {
    pub active: Option<bool>,
    pub currency: Option<Currency>,
    pub customer_id: Option<CustomerId>,
    pub customer_group_id: Option<CustomerGroupId>,
    pub channel_id: Option<ChannelId>,
    pub q: Option<String>,
}

fn parse<T, E: std::fmt::Display>(
    id: &str,
    column: &str,
    text: Option<&str>,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    text.map(f).transpose().map_err(|e| StoreError::Corrupt {
        entity: ENTITY,
        id: id.to_owned(),
        message: format!("{column}: {e}"),
    })
}

/// A header row as a `PriceList` without items.
fn decode_list(row: &Row<'_>) -> Result<PriceList, StoreError> {
    let id_text = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id_text.to_owned(),
        message,
    };
    let id = PriceListId::parse(id_text).map_err(|e| corrupt(e.to_string()))?;
    let currency =
        Currency::from_code(row.text("currency")?).map_err(|e| corrupt(e.to_string()))?;
    let base = parse(
        id_text,
        "base_price_list_id",
        row.opt_text("base_price_list_id")?,
        PriceListId::parse,
    )?;
    let adjustment = parse(
        id_text,
        "adjustment_percent",
        row.opt_text("adjustment_percent")?,
        Decimal::from_str,
    )?;
    let derivation = match (base, adjustment) {
        (Some(base), Some(adjustment_percent)) => Some(Derivation {
            base,
            adjustment_percent,
        }),
        (None, None) => None,
        _ => return Err(corrupt("a base without an adjustment".into())),
    };
    PriceList::new(PriceListSpec {
        id,
        name: row.text("name")?.to_owned(),
        currency,
        scope: PriceListScope {
            customer: parse(
                id_text,
                "customer_id",
                row.opt_text("customer_id")?,
                CustomerId::parse,
            )?,
            customer_group: parse(
                id_text,
                "customer_group_id",
                row.opt_text("customer_group_id")?,
                CustomerGroupId::parse,
            )?,
            channel: parse(
                id_text,
                "channel_id",
                row.opt_text("channel_id")?,
                ChannelId::parse,
            )?,
        },
        valid_from: parse(
            id_text,
            "valid_from",
            row.opt_text("valid_from")?,
            NaiveDate::from_str,
        )?,
        valid_to: parse(
            id_text,
            "valid_to",
            row.opt_text("valid_to")?,
            NaiveDate::from_str,
        )?,
        derivation,
        items: Vec::new(),
    })
    .map_err(|e| corrupt(e.to_string()))
}

fn decode(row: Row<'_>) -> Result<Versioned<Stored<PriceList>>, StoreError> {
    Ok(Versioned {
        record: Stored {
            value: decode_list(&row)?,
            active: row.bool("active")?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn header_values(list: &PriceList) -> Vec<Value> {
    let scope = list.scope();
    let d = list.derivation();
    vec![
        Value::from(list.name()),
        Value::from(list.currency().code()),
        Value::from(scope.customer.map(|i| i.to_string())),
        Value::from(scope.customer_group.map(|i| i.to_string())),
        Value::from(scope.channel.map(|i| i.to_string())),
        Value::from(list.valid_from().map(|d| d.to_string())),
        Value::from(list.valid_to().map(|d| d.to_string())),
        Value::from(d.map(|d| d.base.to_string())),
        Value::from(d.map(|d| d.adjustment_percent.to_string())),
    ]
}

/// Inserts or replaces items of `list`, a chunk per statement.
fn put_items(db: &impl Db, list: PriceListId, items: &[PriceListItem]) -> Result<(), StoreError> {
    let list = list.to_string();
    for chunk in items.chunks(ITEM_CHUNK) {
        let mut params = Vec::with_capacity(chunk.len() * 4);
        for item in chunk {
            params.extend([
                Value::from(&list),
                Value::Text(item.product.to_string()),
                Value::from(item.uom.as_str()),
                Value::Text(item.rate.to_string()),
            ]);
        }
        let rows = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        db.execute(
            &format!(
                "INSERT INTO price_list_items (price_list_id, product_id, uom, rate) VALUES {rows}
                 ON CONFLICT (price_list_id, product_id, uom) DO UPDATE SET rate = excluded.rate"
            ),
            &params,
        )?;
    }
    Ok(())
}

/// Stores a new list (version 1) with its items, atomically.
pub fn create(
    db: &impl Db,
    list: &PriceList,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PriceList>>, StoreError> {
    atomically(db, || {
        let ts = Value::Text(time::to_sql(now));
        let mut params = vec![Value::Text(list.id().to_string())];
        params.extend(header_values(list));
        params.extend([ts.clone(), ts]);
        db.execute(
            "INSERT INTO price_lists (id, name, currency, customer_id, customer_group_id,
                 channel_id, valid_from, valid_to, base_price_list_id, adjustment_percent,
                 active, version, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?)",
            &params,
        )?;
        put_items(db, list.id(), list.items())?;
        get(db, list.id())
    })
}

pub fn get(db: &impl Db, id: PriceListId) -> Result<Versioned<Stored<PriceList>>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM price_lists WHERE id = ?"),
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

pub fn list(
    db: &impl Db,
    filter: &PriceListFilter,
    page: &Page,
) -> Result<Listed<Stored<PriceList>>, StoreError> {
    let mut w = Where::default();
    if let Some(active) = filter.active {
        w.and("active = ?", [Value::from(active)]);
    }
    if let Some(c) = filter.currency {
        w.and("currency = ?", [Value::from(c.code())]);
    }
    if let Some(c) = filter.customer_id {
        w.and("customer_id = ?", [Value::Text(c.to_string())]);
    }
    if let Some(g) = filter.customer_group_id {
        w.and("customer_group_id = ?", [Value::Text(g.to_string())]);
    }
    if let Some(c) = filter.channel_id {
        w.and("channel_id = ?", [Value::Text(c.to_string())]);
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        w.and(
            "name LIKE ? ESCAPE '\\'",
            [Value::Text(contains_pattern(q))],
        );
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, PriceListId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM price_lists {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |l| {
        l.record.value.id().to_string()
    }))
}

fn bump(
    db: &impl Db,
    id: PriceListId,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id_text = id.to_string();
    let rows = match expected_version {
        Some(v) => db.execute(
            "UPDATE price_lists SET version = version + 1, updated_at = ?
             WHERE id = ? AND version = ? RETURNING id",
            &[Value::Text(time::to_sql(now)), Value::from(&id_text), Value::Integer(v)],
        )?,
        None => db.execute(
            "UPDATE price_lists SET version = version + 1, updated_at = ? WHERE id = ? RETURNING id",
            &[Value::Text(time::to_sql(now)), Value::from(&id_text)],
        )?,
    };
    if rows.is_empty() {
        return Err(stale_or_missing(
            db,
            LIST,
            ENTITY,
            &id_text,
            expected_version.unwrap_or(0),
        ));
    }
    Ok(())
}

/// Stores the header of `list` (its items are left as they are) if the row
/// is still at `expected_version`.
pub fn update(
    db: &impl Db,
    list: &PriceList,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PriceList>>, StoreError> {
    let id = list.id().to_string();
    let mut params = header_values(list);
    params.extend([
        Value::Text(time::to_sql(now)),
        Value::from(&id),
        Value::Integer(expected_version),
    ]);
    let rows = db.execute(
        "UPDATE price_lists SET name = ?, currency = ?, customer_id = ?, customer_group_id = ?,
             channel_id = ?, valid_from = ?, valid_to = ?, base_price_list_id = ?,
             adjustment_percent = ?, version = version + 1, updated_at = ?
         WHERE id = ? AND version = ? RETURNING id",
        &params,
    )?;
    if rows.is_empty() {
        return Err(stale_or_missing(db, LIST, ENTITY, &id, expected_version));
    }
    get(db, list.id())
}

pub fn deactivate(
    db: &impl Db,
    id: PriceListId,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PriceList>>, StoreError> {
    db.execute(
        "UPDATE price_lists SET active = 0, version = version + 1, updated_at = ?
         WHERE id = ? AND active = 1",
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    get(db, id)
}

/// Replaces every item of the list with `items` if the list is still at
/// `expected_version`. Atomic.
pub fn replace_items(
    db: &impl Db,
    id: PriceListId,
    items: &[PriceListItem],
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PriceList>>, StoreError> {
    atomically(db, || {
        bump(db, id, Some(expected_version), now)?;
        db.execute(
            "DELETE FROM price_list_items WHERE price_list_id = ?",
            &[Value::Text(id.to_string())],
        )?;
        put_items(db, id, items)?;
        get(db, id)
    })
}

/// Adds `items` to the list, replacing the rates of items it already has
/// for the same product and unit. Atomic.
pub fn upsert_items(
    db: &impl Db,
    id: PriceListId,
    items: &[PriceListItem],
    now: DateTime<Utc>,
) -> Result<Versioned<Stored<PriceList>>, StoreError> {
    atomically(db, || {
        bump(db, id, None, now)?;
        put_items(db, id, items)?;
        get(db, id)
    })
}

fn decode_item(row: &Row<'_>) -> Result<(PriceListId, PriceListItem), StoreError> {
    let list_text = row.text("price_list_id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: "price list item",
        id: format!("{list_text}/{}", row.text("product_id").unwrap_or("?")),
        message,
    };
    let list = PriceListId::parse(list_text).map_err(|e| corrupt(e.to_string()))?;
    let product = ProductId::parse(row.text("product_id")?).map_err(|e| corrupt(e.to_string()))?;
    let uom = Uom::new(row.text("uom")?).map_err(|e| corrupt(e.to_string()))?;
    let rate = Decimal::from_str(row.text("rate")?).map_err(|e| corrupt(e.to_string()))?;
    Ok((list, PriceListItem { product, uom, rate }))
}

/// The items of a list by product id and unit, a page at a time.
pub fn items(
    db: &impl Db,
    id: PriceListId,
    product: Option<ProductId>,
    page: &Page,
) -> Result<(Vec<PriceListItem>, Option<String>), StoreError> {
    let mut w = Where::default();
    w.and("price_list_id = ?", [Value::Text(id.to_string())]);
    if let Some(p) = product {
        w.and("product_id = ?", [Value::Text(p.to_string())]);
    }
    if let Some(cursor) = &page.after {
        let (product, uom) = decode_cursor(ITEMS, cursor, |key| {
            key.split_once('/')
                .map(|(p, u)| (p.to_owned(), u.to_owned()))
                .ok_or(())
        })?;
        w.and(
            "(product_id, uom) > (?, ?)",
            [Value::Text(product), Value::Text(uom)],
        );
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT price_list_id, product_id, uom, rate FROM price_list_items {}
             ORDER BY product_id, uom LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows
        .iter()
        .map(|r| decode_item(&r).map(|(_, item)| item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(finish(ITEMS, items, limit, |i| {
        format!("{}/{}", i.product, i.uom)
    }))
}

/// Whether an active list other than `id` derives from `id`.
pub fn has_active_derivations(db: &impl Db, id: PriceListId) -> Result<bool, StoreError> {
    let rows = db.execute(
        "SELECT 1 AS one FROM price_lists WHERE base_price_list_id = ? AND active = 1 LIMIT 1",
        &[Value::Text(id.to_string())],
    )?;
    Ok(!rows.is_empty())
}

/// Every active list's header (lists are few; their items are many).
pub fn active_headers(db: &impl Db) -> Result<Vec<PriceList>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM price_lists WHERE active = 1 ORDER BY id"),
        &[],
    )?;
    rows.iter().map(|r| decode_list(&r)).collect()
}

/// The items of `products` in `lists`, by the (product, list) index.
pub(crate) fn items_for(
    db: &impl Db,
    lists: &[PriceListId],
    products: &[ProductId],
) -> Result<Vec<(PriceListId, PriceListItem)>, StoreError> {
    if lists.is_empty() || products.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Value> = products
        .iter()
        .map(|p| Value::Text(p.to_string()))
        .collect();
    params.extend(lists.iter().map(|l| Value::Text(l.to_string())));
    let rows = db.execute(
        &format!(
            "SELECT price_list_id, product_id, uom, rate FROM price_list_items
             WHERE product_id IN ({}) AND price_list_id IN ({})",
            marks(products.len()),
            marks(lists.len())
        ),
        &params,
    )?;
    rows.iter().map(|r| decode_item(&r)).collect()
}
