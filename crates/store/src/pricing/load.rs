//! What one basket needs, read in a handful of indexed queries.
//!
//! [`basket_facts`] resolves the catalog side of a basket — the customer's
//! group and territory ancestry chains, the channel, each product's unit,
//! standard cost and item-group chain — and [`basket_catalog`] reads the
//! pricing side into a `PricingCatalogSpec`: the active price-list headers
//! in the basket's currency with only the items of the basket's products
//! (and of the products free-item rules give), the active rules that could
//! touch the basket (targeting one of its products or item groups, for any
//! item, or needing one of its coupons), the schedules those rules use,
//! every active tax template, and the guards on its products and groups.
//!
//! Loading everything instead would read 100,000 items and 1,000 rules per
//! request; this reads what the engine would look at anyway, so the result
//! is the same (the engine only ever probes by product, item group and
//! coupon).

use std::collections::{BTreeMap, BTreeSet};

use sales_domain::catalog::{Channel, Customer};
use sales_domain::ids::{
    CustomerGroupId, CustomerId, ItemGroupId, PriceListId, ProductId, TerritoryId,
};
use sales_domain::money::{Currency, Money};
use sales_domain::pricing::{
    CouponCode, FreeProduct, PriceList, PriceListSpec, PricingCatalogSpec, PricingSettings,
    RuleAction,
};

use super::records::marks;
use super::{guards, price_lists, rules, schedules, tax_templates};
use crate::db::{Db, Value};
use crate::repo::read_money;
use crate::{channels, customers, settings, trees, StoreError};

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

/// The catalog side of a basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketFacts {
    pub customer: Customer,
    /// The customer's group first, then its ancestors.
    pub customer_groups: Vec<CustomerGroupId>,
    /// The customer's territory first, then its ancestors.
    pub territories: Vec<TerritoryId>,
    /// `None` when no channel has the code.
    pub channel: Option<Channel>,
    /// The products found, by id (missing ids are simply absent).
    pub products: BTreeMap<ProductId, ProductFacts>,
}

/// Reads the customer, channel and products of a basket. A customer that
/// does not exist is [`StoreError::NotFound`]; unknown channel codes and
/// product ids come back as `None` / absent for the caller to report.
pub fn basket_facts(
    db: &impl Db,
    customer: CustomerId,
    channel_code: &str,
    products: &[ProductId],
) -> Result<BasketFacts, StoreError> {
    let customer = customers::get(db, customer)?.record;
    let customer_groups = match customer.customer_group_id() {
        Some(g) => chain(g, trees::ancestors(db, g)?),
        None => Vec::new(),
    };
    let territories = match customer.territory_id() {
        Some(t) => chain(t, trees::ancestors(db, t)?),
        None => Vec::new(),
    };
    let channel = channels::find_by_code(db, channel_code)?.map(|c| c.record);
    Ok(BasketFacts {
        customer,
        customer_groups,
        territories,
        channel,
        products: product_facts(db, products)?,
    })
}

fn chain<I>(first: I, ancestors: Vec<I>) -> Vec<I> {
    let mut out = Vec::with_capacity(ancestors.len() + 1);
    out.push(first);
    out.extend(ancestors);
    out
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
}

/// The slice of the pricing data a basket can touch; see the module docs.
pub fn basket_catalog(
    db: &impl Db,
    keys: &BasketKeys<'_>,
) -> Result<PricingCatalogSpec, StoreError> {
    let mut targets: Vec<String> = keys.products.iter().map(ToString::to_string).collect();
    targets.extend(keys.item_groups.iter().map(ToString::to_string));
    let rules = rules::for_basket(db, &targets, keys.coupons)?;

    let schedule_ids: BTreeSet<_> = rules
        .iter()
        .filter_map(|r| match r.action() {
            RuleAction::Schedule { schedule } => Some(*schedule),
            _ => None,
        })
        .collect();
    let schedules = schedules::active_among(db, &schedule_ids.into_iter().collect::<Vec<_>>())?;

    let mut products: BTreeSet<ProductId> = keys.products.iter().copied().collect();
    for r in &rules {
        if let RuleAction::FreeItem(free) = r.action() {
            if let FreeProduct::Other { product, .. } = &free.product {
                products.insert(*product);
            }
        }
    }
    let products: Vec<ProductId> = products.into_iter().collect();
    let headers = price_lists::active_headers_in(db, keys.currency)?;
    let list_ids: Vec<PriceListId> = headers.iter().map(PriceList::id).collect();
    let mut items: BTreeMap<PriceListId, Vec<_>> = BTreeMap::new();
    for (list, item) in price_lists::items_for(db, &list_ids, &products)? {
        items.entry(list).or_default().push(item);
    }
    let price_lists = headers
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

    let settings = settings::get(db)?.record;
    Ok(PricingCatalogSpec {
        settings: PricingSettings {
            rounding_mode: settings.rounding(),
            tax_rounding: settings.tax_rounding_for(keys.channel_code),
        },
        price_lists,
        rules,
        schedules,
        tax_templates: tax_templates::all_active(db)?,
        guards: guards::for_targets(db, &targets)?,
    })
}
