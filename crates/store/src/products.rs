//! Products, with unique SKUs and external ids (unique per source).

use chrono::{DateTime, Utc};
use sales_domain::catalog::{ExternalIds, NewProduct, Product, ProductKind, ValidationError};
use sales_domain::ids::{ItemGroupId, ProductId};

use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{
    self, atomically, contains_pattern, money_amount, money_currency, read_external_ids,
    read_money, replace_external_ids, require_exists, stale_or_missing, ExternallyKnown, Upserted,
    Where,
};
use crate::{time, StoreError};

const ENTITY: &str = "product";
const LIST: &str = "products";
const EXTERNAL: &str = "product_external_ids";
const SELECT: &str = "SELECT p.id, p.sku, p.name, p.description, p.item_group_id, p.uom, p.kind,
        p.standard_cost_amount, p.standard_cost_currency, p.lead_time_days, p.active,
        p.version, p.created_at, p.updated_at,
        (SELECT json_group_object(e.source, e.external_id) FROM product_external_ids e
         WHERE e.product_id = p.id) AS external_ids
    FROM products p";

/// Filters for [`list`]; all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub item_group_id: Option<ItemGroupId>,
    pub kind: Option<ProductKind>,
    pub active: Option<bool>,
    /// Exactly this SKU.
    pub sku: Option<String>,
    /// Text anywhere in the name or SKU, ignoring ASCII case.
    pub q: Option<String>,
    /// Products with an id from this source …
    pub external_source: Option<String>,
    /// … that is this id (needs `external_source`).
    pub external_id: Option<String>,
}

fn decode(row: Row<'_>) -> Result<Versioned<Product>, StoreError> {
    let id_text = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id_text.to_owned(),
        message,
    };
    let id = ProductId::parse(id_text).map_err(|e| corrupt(e.to_string()))?;
    let group = row
        .opt_text("item_group_id")?
        .map(ItemGroupId::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let kind_text = row.text("kind")?;
    let kind =
        ProductKind::parse(kind_text).ok_or_else(|| corrupt(format!("kind {kind_text:?}")))?;
    let standard_cost = read_money(&row, "standard_cost")?
        .ok_or_else(|| corrupt("standard_cost missing".into()))?;
    let lead_time_days =
        u16::try_from(row.int("lead_time_days")?).map_err(|_| corrupt("lead_time_days".into()))?;
    let new = NewProduct {
        sku: row.text("sku")?.to_owned(),
        name: row.text("name")?.to_owned(),
        description: row.opt_text("description")?.map(str::to_owned),
        item_group_id: group,
        uom: row.text("uom")?.to_owned(),
        kind,
        standard_cost,
        lead_time_days,
        external_ids: read_external_ids(&row)?,
    };
    let product =
        Product::from_parts(id, new, row.bool("active")?).map_err(|e| corrupt(e.to_string()))?;
    Ok(Versioned {
        record: product,
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

const DATA_COLUMNS: &str = "sku, name, description, item_group_id, uom, kind,
    standard_cost_amount, standard_cost_currency, lead_time_days, active";

fn data_values(p: &Product) -> Vec<Value> {
    let cost = p.standard_cost();
    vec![
        Value::from(p.sku()),
        Value::from(p.name()),
        Value::from(p.description()),
        Value::from(p.item_group_id().map(|i| i.to_string())),
        Value::from(p.uom()),
        Value::from(p.kind().as_str()),
        money_amount(Some(&cost)),
        money_currency(Some(&cost)),
        Value::from(p.lead_time_days()),
        Value::from(p.is_active()),
    ]
}

fn sku_taken(e: DbError, sku: &str) -> StoreError {
    match e {
        DbError::Unique(_) => StoreError::Duplicate {
            entity: ENTITY,
            field: "sku",
            value: sku.to_owned(),
        },
        e => e.into(),
    }
}

/// Stores a new product (version 1) with its external ids, atomically. The
/// item group must exist; a taken SKU or external id is
/// [`StoreError::Duplicate`] (field `sku` or `external_ids`).
pub fn create(
    db: &impl Db,
    product: &Product,
    now: DateTime<Utc>,
) -> Result<Versioned<Product>, StoreError> {
    require_exists(
        db,
        "item_groups",
        "item_group_id",
        product.item_group_id().map(|i| i.to_string()),
    )?;
    atomically(db, || {
        let id = product.id().to_string();
        let ts = Value::Text(time::to_sql(now));
        let mut params = vec![Value::from(&id)];
        params.extend(data_values(product));
        params.extend([ts.clone(), ts]);
        db.execute(
            &format!(
                "INSERT INTO products (id, {DATA_COLUMNS}, version, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
            ),
            &params,
        )
        .map_err(|e| sku_taken(e, product.sku()))?;
        replace_external_ids(
            db,
            EXTERNAL,
            "product_id",
            &id,
            ENTITY,
            product.external_ids(),
        )?;
        get(db, product.id())
    })
}

pub fn get(db: &impl Db, id: ProductId) -> Result<Versioned<Product>, StoreError> {
    let rows = db.execute(
        &format!("{SELECT} WHERE p.id = ?"),
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

/// The products of `ids` that exist, in one statement per 500 ids (an
/// order's lines; a missing id is simply absent from the map).
pub fn get_many(
    db: &impl Db,
    ids: &[ProductId],
) -> Result<std::collections::BTreeMap<ProductId, Versioned<Product>>, StoreError> {
    let mut out = std::collections::BTreeMap::new();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let params: Vec<Value> = chunk.iter().map(|id| Value::Text(id.to_string())).collect();
        let rows = db.execute(&format!("{SELECT} WHERE p.id IN ({marks})"), &params)?;
        for row in rows.iter() {
            let p = decode(row)?;
            out.insert(p.record.id(), p);
        }
    }
    Ok(out)
}

/// The product with this SKU, if any.
pub fn find_by_sku(db: &impl Db, sku: &str) -> Result<Option<Versioned<Product>>, StoreError> {
    let rows = db.execute(&format!("{SELECT} WHERE p.sku = ?"), &[Value::from(sku)])?;
    rows.first().map(decode).transpose()
}

/// The product holding `external_id` from `source`, if any.
pub fn find_by_external_id(
    db: &impl Db,
    source: &str,
    external_id: &str,
) -> Result<Option<Versioned<Product>>, StoreError> {
    let rows = db.execute(
        &format!(
            "{SELECT} WHERE p.id = (SELECT product_id FROM product_external_ids
                                     WHERE source = ? AND external_id = ?)"
        ),
        &[Value::from(source), Value::from(external_id)],
    )?;
    rows.first().map(decode).transpose()
}

/// Products in creation order, a page at a time.
pub fn list(
    db: &impl Db,
    filter: &ProductFilter,
    page: &Page,
) -> Result<Listed<Product>, StoreError> {
    let mut w = Where::default();
    if let Some(g) = filter.item_group_id {
        w.and("p.item_group_id = ?", [Value::Text(g.to_string())]);
    }
    if let Some(kind) = filter.kind {
        w.and("p.kind = ?", [Value::from(kind.as_str())]);
    }
    if let Some(active) = filter.active {
        w.and("p.active = ?", [Value::from(active)]);
    }
    if let Some(sku) = &filter.sku {
        w.and("p.sku = ?", [Value::from(sku)]);
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let p = contains_pattern(q);
        w.and(
            "(p.name LIKE ? ESCAPE '\\' OR p.sku LIKE ? ESCAPE '\\')",
            [Value::from(&p), Value::from(p)],
        );
    }
    match (&filter.external_source, &filter.external_id) {
        (Some(source), Some(id)) => w.and(
            "p.id IN (SELECT product_id FROM product_external_ids WHERE source = ? AND external_id = ?)",
            [Value::from(source), Value::from(id)],
        ),
        (Some(source), None) => w.and(
            "p.id IN (SELECT product_id FROM product_external_ids WHERE source = ?)",
            [Value::from(source)],
        ),
        (None, Some(id)) => w.and(
            "p.id IN (SELECT product_id FROM product_external_ids WHERE external_id = ?)",
            [Value::from(id)],
        ),
        (None, None) => {}
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, ProductId::parse)?;
        w.and("p.id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!("{SELECT} {} ORDER BY p.id LIMIT ?", w.sql()),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |p| p.record.id().to_string()))
}

/// Stores `product` (built with `Product::patched`) if the row is still at
/// `expected_version`; its external ids replace the stored ones. Atomic.
pub fn update(
    db: &impl Db,
    product: &Product,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Product>, StoreError> {
    require_exists(
        db,
        "item_groups",
        "item_group_id",
        product.item_group_id().map(|i| i.to_string()),
    )?;
    let id = product.id().to_string();
    atomically(db, || {
        let mut params = data_values(product);
        params.extend([
            Value::Text(time::to_sql(now)),
            Value::from(&id),
            Value::Integer(expected_version),
        ]);
        let rows = db
            .execute(
                "UPDATE products SET sku = ?, name = ?, description = ?, item_group_id = ?,
                     uom = ?, kind = ?, standard_cost_amount = ?, standard_cost_currency = ?,
                     lead_time_days = ?, active = ?, version = version + 1, updated_at = ?
                 WHERE id = ? AND version = ?
                 RETURNING id",
                &params,
            )
            .map_err(|e| sku_taken(e, product.sku()))?;
        if rows.is_empty() {
            return Err(stale_or_missing(
                db,
                "products",
                ENTITY,
                &id,
                expected_version,
            ));
        }
        replace_external_ids(
            db,
            EXTERNAL,
            "product_id",
            &id,
            ENTITY,
            product.external_ids(),
        )?;
        get(db, product.id())
    })
}

/// Marks a product inactive. Deactivating an inactive product changes
/// nothing and keeps its version.
pub fn deactivate(
    db: &impl Db,
    id: ProductId,
    now: DateTime<Utc>,
) -> Result<Versioned<Product>, StoreError> {
    db.execute(
        "UPDATE products SET active = 0, version = version + 1, updated_at = ?
         WHERE id = ? AND active = 1",
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    get(db, id)
}

/// Creates or updates the product holding, for `source`, the external id
/// `candidate` carries; the same contract as
/// [`crate::customers::upsert_by_external_id`]. A new product whose SKU is
/// taken by another product is [`StoreError::Duplicate`] (field `sku`).
pub fn upsert_by_external_id(
    db: &impl Db,
    source: &str,
    candidate: &Product,
    now: DateTime<Utc>,
) -> Result<(Upserted, Versioned<Product>), StoreError> {
    repo::upsert_by_external_id(
        db,
        source,
        candidate,
        |external_id| find_by_external_id(db, source, external_id),
        || create(db, candidate, now),
        |next, version| update(db, next, version, now),
    )
}

impl ExternallyKnown for Product {
    const ENTITY: &'static str = ENTITY;

    fn external_ids(&self) -> &ExternalIds {
        Product::external_ids(self)
    }

    fn id_text(&self) -> String {
        self.id().to_string()
    }

    fn onto(&self, current: &Product) -> Result<Product, ValidationError> {
        let mut new = self.to_new();
        new.external_ids = current.external_ids().clone().merged(&new.external_ids);
        Product::from_parts(current.id(), new, current.is_active())
    }
}
