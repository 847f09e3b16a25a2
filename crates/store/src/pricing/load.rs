//! What one basket needs, in three statements and one cache read.
//!
//! [`basket_facts`] resolves the catalog side of a basket in one statement
//! — the customer, its group and territory ancestry chains, the channel
//! and the pricing data version — and [`product_facts`] each product's
//! unit, standard cost and item-group chain in another. [`basket_catalog`]
//! then takes the pricing data of that version from the key-value cache
//! ([`super::snapshot`]; built from the database and cached on a miss):
//! the active rules that could touch the basket (targeting one of its
//! products or item groups, for any item, or needing one of its coupons),
//! the schedules those rules use, the price-list headers in the basket's
//! currency, every active tax template, the guards on its products and
//! groups, the settings; and reads by index only the items of the
//! basket's products (and of the products free-item rules give) in those
//! lists.
//!
//! Loading everything instead would read 100,000 items and 1,000 rules per
//! request; this decodes what the engine would look at anyway, so the
//! result is the same (the engine only ever probes by product, item group
//! and coupon).

use std::collections::{BTreeMap, BTreeSet};

use sales_domain::catalog::TaxMode as ChannelTaxMode;
use sales_domain::ids::{
    ChannelId, CustomerGroupId, CustomerId, ItemGroupId, PriceListId, ProductId, TerritoryId,
};
use sales_domain::money::{Currency, Money};
use sales_domain::pricing::{
    CouponCode, FreeProduct, PriceList, PriceListSpec, PricingCatalogSpec, PricingSettings,
    RuleAction,
};

use uuid::Uuid;

use super::price_lists;
use super::records::marks;
use super::snapshot::{self, SnapshotCache};
use crate::db::{Db, Value};
use crate::repo::read_money;
use crate::StoreError;

/// The catalog facts of one product, as pricing needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFacts {
    pub id: ProductId,
    pub uom: String,
    pub standard_cost: Money,
    /// The product's group first, then its parent, up to the root.
    pub item_groups: Vec<ItemGroupId>,
    pub active: bool,
}

/// The channel, as pricing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelFacts {
    pub id: ChannelId,
    pub code: String,
    pub tax_mode: ChannelTaxMode,
    pub active: bool,
}

/// The catalog side of a basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketFacts {
    pub customer_active: bool,
    /// The customer's group first, then its ancestors.
    pub customer_groups: Vec<CustomerGroupId>,
    /// The customer's territory first, then its ancestors.
    pub territories: Vec<TerritoryId>,
    /// `None` when no channel has the code.
    pub channel: Option<ChannelFacts>,
    /// The products found, by id (missing ids are simply absent).
    pub products: BTreeMap<ProductId, ProductFacts>,
    /// The pricing data version ([`snapshot::data_version`]), read in the
    /// same statement as the customer.
    pub pricing_version: i64,
}

/// Reads the customer (with both ancestry chains), the channel and the
/// pricing data version in one statement, and the products in a second.
/// A customer that does not exist is [`StoreError::NotFound`]; unknown
/// channel codes and product ids come back as `None` / absent for the
/// caller to report.
pub fn basket_facts(
    db: &impl Db,
    customer: CustomerId,
    channel_code: &str,
    products: &[ProductId],
) -> Result<BasketFacts, StoreError> {
    // One row per fact, told apart by `kind`: c(ustomer), g(roup chain),
    // h (the channel), t(erritory chain), v(ersion); chains nearest first.
    let rows = db.execute(
        "WITH RECURSIVE
             c AS (SELECT customer_group_id, territory_id, active FROM customers WHERE id = ?),
             cg(id, depth) AS (
                 SELECT customer_group_id, 0 FROM c WHERE customer_group_id IS NOT NULL
                 UNION ALL
                 SELECT g.parent_id, cg.depth + 1 FROM cg JOIN customer_groups g ON g.id = cg.id
                 WHERE g.parent_id IS NOT NULL AND cg.depth < 1000
             ),
             tr(id, depth) AS (
                 SELECT territory_id, 0 FROM c WHERE territory_id IS NOT NULL
                 UNION ALL
                 SELECT t.parent_id, tr.depth + 1 FROM tr JOIN territories t ON t.id = tr.id
                 WHERE t.parent_id IS NOT NULL AND tr.depth < 1000
             )
         SELECT 'c' AS kind, NULL AS id, active AS num, NULL AS code, NULL AS mode, 0 AS depth
         FROM c
         UNION ALL SELECT 'g', id, NULL, NULL, NULL, depth FROM cg
         UNION ALL SELECT 't', id, NULL, NULL, NULL, depth FROM tr
         UNION ALL SELECT 'h', id, active, code, tax_mode, 0 FROM channels WHERE code = ?
         UNION ALL SELECT 'v', NULL, version, NULL, NULL, 0 FROM pricing_data_version WHERE id = 1
         ORDER BY kind, depth",
        &[Value::Text(customer.to_string()), Value::from(channel_code)],
    )?;
    let corrupt = |entity: &'static str, id: &str, message: String| StoreError::Corrupt {
        entity,
        id: id.to_owned(),
        message,
    };
    let mut customer_active = None;
    let mut customer_groups = Vec::new();
    let mut territories = Vec::new();
    let mut channel = None;
    let mut pricing_version = None;
    for row in rows.iter() {
        match row.text("kind")? {
            "c" => customer_active = Some(row.int("num")? != 0),
            "g" => {
                let id = row.text("id")?;
                customer_groups.push(
                    CustomerGroupId::parse(id)
                        .map_err(|e| corrupt("customer group", id, e.to_string()))?,
                );
            }
            "t" => {
                let id = row.text("id")?;
                territories.push(
                    TerritoryId::parse(id).map_err(|e| corrupt("territory", id, e.to_string()))?,
                );
            }
            "h" => {
                let id = row.text("id")?;
                let mode = row.text("mode")?;
                channel = Some(ChannelFacts {
                    id: ChannelId::parse(id).map_err(|e| corrupt("channel", id, e.to_string()))?,
                    code: row.text("code")?.to_owned(),
                    tax_mode: ChannelTaxMode::parse(mode)
                        .ok_or_else(|| corrupt("channel", id, format!("tax_mode {mode:?}")))?,
                    active: row.int("num")? != 0,
                });
            }
            "v" => pricing_version = Some(row.int("num")?),
            other => return Err(corrupt("basket facts", other, "unknown kind".into())),
        }
    }
    let customer_active = customer_active.ok_or_else(|| StoreError::NotFound {
        entity: "customer",
        id: customer.to_string(),
    })?;
    Ok(BasketFacts {
        customer_active,
        customer_groups,
        territories,
        channel,
        products: product_facts(db, products)?,
        pricing_version: pricing_version.ok_or(StoreError::NotFound {
            entity: "pricing data version",
            id: "1".into(),
        })?,
    })
}

/// Units, costs and item-group chains of `ids`, in one query: each
/// product's row once per group of its chain (nearest first), or once with
/// no group.
pub fn product_facts(
    db: &impl Db,
    ids: &[ProductId],
) -> Result<BTreeMap<ProductId, ProductFacts>, StoreError> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut params: Vec<Value> = ids.iter().map(|p| Value::Text(p.to_string())).collect();
    params.extend_from_within(..);
    let rows = db.execute(
        &format!(
            "WITH RECURSIVE up(product_id, group_id, depth) AS (
                 SELECT id, item_group_id, 0 FROM products
                 WHERE id IN ({marks}) AND item_group_id IS NOT NULL
                 UNION ALL
                 SELECT up.product_id, g.parent_id, up.depth + 1
                 FROM up JOIN item_groups g ON g.id = up.group_id
                 WHERE g.parent_id IS NOT NULL AND up.depth < 64
             )
             SELECT p.id, p.uom, p.standard_cost_amount, p.standard_cost_currency, p.active,
                    up.group_id
             FROM products p LEFT JOIN up ON up.product_id = p.id
             WHERE p.id IN ({marks})
             ORDER BY p.id, up.depth",
            marks = marks(ids.len())
        ),
        &params,
    )?;
    for row in rows.iter() {
        let id_text = row.text("id")?;
        let corrupt = |message: String| StoreError::Corrupt {
            entity: "product",
            id: id_text.to_owned(),
            message,
        };
        let id = ProductId::parse(id_text).map_err(|e| corrupt(e.to_string()))?;
        let facts = match out.entry(id) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let standard_cost = read_money(&row, "standard_cost")?
                    .ok_or_else(|| corrupt("standard_cost missing".into()))?;
                e.insert(ProductFacts {
                    id,
                    uom: row.text("uom")?.to_owned(),
                    standard_cost,
                    item_groups: Vec::new(),
                    active: row.bool("active")?,
                })
            }
        };
        if let Some(group) = row.opt_text("group_id")? {
            let group = ItemGroupId::parse(group).map_err(|e| corrupt(e.to_string()))?;
            facts.item_groups.push(group);
        }
    }
    Ok(out)
}

/// What [`basket_catalog`] needs to know about a basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketKeys<'a> {
    pub currency: Currency,
    /// The basket's channel (its settings override may set the tax rounding).
    pub channel_code: &'a str,
    pub products: &'a [ProductId],
    /// Every item group in the lines' chains.
    pub item_groups: &'a [ItemGroupId],
    pub coupons: &'a [CouponCode],
    /// [`BasketFacts::pricing_version`].
    pub pricing_version: i64,
}

/// The slice of the pricing data a basket can touch; see the module docs.
pub fn basket_catalog(
    db: &impl Db,
    cache: &impl SnapshotCache,
    keys: &BasketKeys<'_>,
) -> Result<PricingCatalogSpec, StoreError> {
    let mut targets: Vec<Uuid> = keys.products.iter().map(ProductId::as_uuid).collect();
    targets.extend(keys.item_groups.iter().map(ItemGroupId::as_uuid));
    let slice = snapshot::with_view(db, cache, keys.pricing_version, |view| {
        view.slice(&targets, keys.coupons, keys.currency, keys.channel_code)
    })?;

    let mut products: BTreeSet<ProductId> = keys.products.iter().copied().collect();
    for r in &slice.rules {
        if let RuleAction::FreeItem(free) = r.action() {
            if let FreeProduct::Other { product, .. } = &free.product {
                products.insert(*product);
            }
        }
    }
    let products: Vec<ProductId> = products.into_iter().collect();
    let list_ids: Vec<PriceListId> = slice.headers.iter().map(PriceList::id).collect();
    let mut items: BTreeMap<PriceListId, Vec<_>> = BTreeMap::new();
    for (list, item) in price_lists::items_for(db, &list_ids, &products)? {
        items.entry(list).or_default().push(item);
    }
    let price_lists = slice
        .headers
        .into_iter()
        .map(|h| {
            let id = h.id();
            PriceList::new(PriceListSpec {
                id,
                name: h.name().to_owned(),
                currency: h.currency(),
                scope: h.scope().clone(),
                valid_from: h.valid_from(),
                valid_to: h.valid_to(),
                derivation: h.derivation().cloned(),
                items: items.remove(&id).unwrap_or_default(),
            })
            .map_err(|e| StoreError::Corrupt {
                entity: "price list",
                id: id.to_string(),
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(PricingCatalogSpec {
        settings: PricingSettings {
            rounding_mode: slice.rounding,
            tax_rounding: slice.tax_rounding,
        },
        price_lists,
        rules: slice.rules,
        schedules: slice.schedules,
        tax_templates: slice.tax_templates,
        guards: slice.guards,
    })
}
