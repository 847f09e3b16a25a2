//! The sales teams of a page of quotations or orders, read for the page
//! at once (issue #8 item 2: list items carry the split a single read
//! shows).
//!
//! A single read answers a document's stored split, else the one it would
//! get ([`super::allocations::for_quotation`] / `for_order` without
//! persisting): an order's quotation's, else the customer's default from
//! its territory. Doing that per row of a page would be an N+1 (two
//! statements per stored split, about eight per default), so [`for_page`]
//! reads every stored split and partner of the page — and of the orders'
//! quotations — in **one** statement, and only when some row falls back
//! to its customer's default, resolves the defaults of all those
//! customers together in at most five more (the customers, the active
//! rules of their countries, the territory chains, the teams on them, the
//! territory managers): a fixed number per page whatever its length. The
//! answers are the single reads' answers; `tests.rs` compares them.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use sales_domain::catalog::Address;
use sales_domain::ids::{CustomerId, SalesPersonId, TerritoryId};
use sales_domain::teams::{
    resolve_territory, Allocation, SalesPartnerId, Split, Team, TeamsError, TerritoryRule,
};

use super::allocations::{DocumentKind, DocumentTeam};
use super::records;
use crate::db::{Db, Value};
use crate::repo::{from_json, Where};
use crate::StoreError;

/// One document of a page: what its split depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageDocument {
    pub kind: DocumentKind,
    pub id: String,
    /// An order's quotation, whose stored split it takes before its
    /// customer's default.
    pub quotation_id: Option<String>,
    pub customer_id: CustomerId,
}

/// Whether a page entry's team was stored for the document itself.
pub type PageTeam = (bool, DocumentTeam);

fn corrupt(entity: &'static str, id: &str, m: impl ToString) -> StoreError {
    StoreError::Corrupt {
        entity,
        id: id.to_owned(),
        message: m.to_string(),
    }
}

fn json_list<'a>(ids: impl IntoIterator<Item = &'a str>) -> Value {
    let list: Vec<&str> = ids.into_iter().collect();
    Value::Text(serde_json::Value::from(list).to_string())
}

/// The team of every document of `docs`, in order: `(true, stored)` when
/// the document has its own, else `(false, what a single read answers)`
/// (see the module docs for the statements it costs).
pub fn for_page(db: &impl Db, docs: &[PageDocument]) -> Result<Vec<PageTeam>, StoreError> {
    if docs.is_empty() {
        return Ok(vec![]);
    }
    let mut orders: BTreeSet<&str> = BTreeSet::new();
    let mut quotations: BTreeSet<&str> = BTreeSet::new();
    for d in docs {
        match d.kind {
            DocumentKind::Order => {
                orders.insert(&d.id);
                if let Some(q) = &d.quotation_id {
                    quotations.insert(q);
                }
            }
            DocumentKind::Quotation => {
                quotations.insert(&d.id);
            }
        }
    }
    let stored = stored(db, &orders, &quotations)?;
    let mut out: Vec<Option<PageTeam>> = Vec::with_capacity(docs.len());
    let mut wanted: BTreeSet<CustomerId> = BTreeSet::new();
    for d in docs {
        let own = stored.get(&(d.kind.as_str(), d.id.clone()));
        let from_quotation = || {
            d.quotation_id
                .as_deref()
                .and_then(|q| stored.get(&("quotation", q.to_owned())))
        };
        match (own, d.kind) {
            (Some(t), _) => out.push(Some((true, t.clone()))),
            (None, DocumentKind::Order) if from_quotation().is_some() => {
                out.push(from_quotation().map(|t| (false, t.clone())))
            }
            (None, _) => {
                wanted.insert(d.customer_id);
                out.push(None);
            }
        }
    }
    let defaults = if wanted.is_empty() {
        BTreeMap::new()
    } else {
        defaults(db, &wanted)?
    };
    Ok(out
        .into_iter()
        .zip(docs)
        .map(|(t, d)| {
            t.unwrap_or_else(|| {
                (
                    false,
                    DocumentTeam {
                        sales_team: defaults.get(&d.customer_id).cloned().unwrap_or_default(),
                        sales_partner_id: None,
                    },
                )
            })
        })
        .collect())
}

/// Every stored split and partner of these orders and quotations, in one
/// statement (primary-key probes on both tables).
fn stored<'a>(
    db: &impl Db,
    orders: &BTreeSet<&'a str>,
    quotations: &BTreeSet<&'a str>,
) -> Result<BTreeMap<(&'static str, String), DocumentTeam>, StoreError> {
    let o = json_list(orders.iter().copied());
    let q = json_list(quotations.iter().copied());
    let rows = db.execute(
        "SELECT document_kind AS kind, document_id AS doc, sales_person_id AS who, percentage, seq
           FROM document_sales_teams
          WHERE document_kind = 'order' AND document_id IN (SELECT value FROM json_each(?))
         UNION ALL
         SELECT document_kind, document_id, sales_person_id, percentage, seq
           FROM document_sales_teams
          WHERE document_kind = 'quotation' AND document_id IN (SELECT value FROM json_each(?))
         UNION ALL
         SELECT document_kind, document_id, sales_partner_id, NULL, -1
           FROM document_sales_partners
          WHERE document_kind = 'order' AND document_id IN (SELECT value FROM json_each(?))
         UNION ALL
         SELECT document_kind, document_id, sales_partner_id, NULL, -1
           FROM document_sales_partners
          WHERE document_kind = 'quotation' AND document_id IN (SELECT value FROM json_each(?))",
        &[o.clone(), q.clone(), o, q],
    )?;
    type Parts = (Vec<(i64, Allocation)>, Option<SalesPartnerId>);
    let mut parts: BTreeMap<(&'static str, String), Parts> = BTreeMap::new();
    for r in rows.iter() {
        let kind = match r.text("kind")? {
            "order" => "order",
            _ => "quotation",
        };
        let doc = r.text("doc")?;
        let who = r.text("who")?;
        let bad = |e: &dyn ToString| corrupt("document sales team", doc, e.to_string());
        let entry = parts.entry((kind, doc.to_owned())).or_default();
        match r.opt_text("percentage")? {
            Some(p) => entry.0.push((
                r.int("seq")?,
                Allocation {
                    sales_person_id: SalesPersonId::parse(who).map_err(|e| bad(&e))?,
                    percentage: p.parse::<Decimal>().map_err(|e| bad(&e))?,
                },
            )),
            None => entry.1 = Some(SalesPartnerId::parse(who).map_err(|e| bad(&e))?),
        }
    }
    parts
        .into_iter()
        .map(|(key, (mut allocations, partner))| {
            allocations.sort_by_key(|(seq, _)| *seq);
            let split = Split::new(
                "sales_team",
                allocations.into_iter().map(|(_, a)| a).collect(),
            )
            .map_err(|e: TeamsError| corrupt("document sales team", &key.1, e))?;
            Ok((
                key,
                DocumentTeam {
                    sales_team: split,
                    sales_partner_id: partner,
                },
            ))
        })
        .collect()
}

/// The default split of each customer (`allocations::default_for_customer`
/// for many at once): its territory (explicit, else by rule), then the
/// nearest territory up the tree whose oldest active team has members,
/// else the nearest territory manager at 100 %. A customer the catalog
/// does not know, or without a territory, has none (empty).
fn defaults(
    db: &impl Db,
    customers: &BTreeSet<CustomerId>,
) -> Result<BTreeMap<CustomerId, Split>, StoreError> {
    let rows = db.execute(
        "SELECT id, territory_id, shipping_address, billing_address FROM customers
          WHERE id IN (SELECT value FROM json_each(?))",
        &[Value::Text(
            serde_json::Value::from(
                customers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .to_string(),
        )],
    )?;
    // Each customer's territory, or its addresses to place by rule.
    let mut explicit: BTreeMap<CustomerId, TerritoryId> = BTreeMap::new();
    let mut by_rule: Vec<(CustomerId, Vec<Address>)> = Vec::new();
    for r in rows.iter() {
        let id = r.text("id")?;
        let customer = CustomerId::parse(id).map_err(|e| corrupt("customer", id, e))?;
        if let Some(t) = r.opt_text("territory_id")? {
            explicit.insert(
                customer,
                TerritoryId::parse(t).map_err(|e| corrupt("customer", id, e))?,
            );
            continue;
        }
        let mut addresses = Vec::new();
        for column in ["shipping_address", "billing_address"] {
            if let Some(text) = r.opt_text(column)? {
                addresses.push(from_json::<Address>(column, text)?);
            }
        }
        if !addresses.is_empty() {
            by_rule.push((customer, addresses));
        }
    }
    let mut placed = explicit;
    if !by_rule.is_empty() {
        let countries: BTreeSet<String> = by_rule
            .iter()
            .flat_map(|(_, a)| a.iter().map(|a| a.country().trim().to_ascii_uppercase()))
            .collect();
        let mut w = Where::default();
        w.and(
            "active = 1 AND country IN (SELECT value FROM json_each(?))",
            [json_list(countries.iter().map(String::as_str))],
        );
        let rules: Vec<TerritoryRule> = records::all(db, w)?;
        for (customer, addresses) in &by_rule {
            // Shipping address first, then billing, as `customer_territory`.
            if let Some(rule) = addresses
                .iter()
                .find_map(|a| resolve_territory(&rules, a.country(), a.region(), a.postcode()))
            {
                placed.insert(*customer, rule.territory_id());
            }
        }
    }
    if placed.is_empty() {
        return Ok(BTreeMap::new());
    }
    let chains = chains(db, placed.values().copied().collect())?;
    let on_chains: BTreeSet<TerritoryId> = chains.values().flatten().copied().collect();
    let mut w = Where::default();
    w.and(
        "active = 1 AND territory_id IN (SELECT value FROM json_each(?))",
        [Value::Text(
            serde_json::Value::from(
                on_chains
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .to_string(),
        )],
    );
    // The oldest active team of each territory (`sales_teams::for_territory`).
    let mut oldest: BTreeMap<TerritoryId, Team> = BTreeMap::new();
    for team in records::all::<Team>(db, w)? {
        if let Some(t) = team.territory_id() {
            oldest.entry(t).or_insert(team);
        }
    }
    let managers = super::territories::managers::all(db)?;
    let mut out = BTreeMap::new();
    for (customer, territory) in placed {
        let chain = chains
            .get(&territory)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let team = chain.iter().find_map(|t| {
            oldest
                .get(t)
                .filter(|team| !team.members().is_empty())
                .map(|team| team.members().clone())
        });
        let split = team.or_else(|| {
            chain
                .iter()
                .find_map(|t| managers.get(t).map(|p| Split::whole(*p)))
        });
        if let Some(s) = split {
            out.insert(customer, s);
        }
    }
    Ok(out)
}

/// Each territory and its ancestors, nearest first
/// (`territories::chain` for many at once, one recursive statement).
fn chains(
    db: &impl Db,
    starts: BTreeSet<TerritoryId>,
) -> Result<BTreeMap<TerritoryId, Vec<TerritoryId>>, StoreError> {
    let mut out: BTreeMap<TerritoryId, Vec<TerritoryId>> =
        starts.iter().map(|t| (*t, vec![*t])).collect();
    let rows = db.execute(
        "WITH RECURSIVE up(start, id, parent_id, depth) AS (
             SELECT id, id, parent_id, 0 FROM territories
              WHERE id IN (SELECT value FROM json_each(?))
             UNION ALL
             SELECT up.start, t.id, t.parent_id, up.depth + 1
               FROM territories t JOIN up ON t.id = up.parent_id
         )
         SELECT start, id FROM up WHERE depth > 0 ORDER BY start, depth",
        &[Value::Text(
            serde_json::Value::from(starts.iter().map(ToString::to_string).collect::<Vec<_>>())
                .to_string(),
        )],
    )?;
    for r in rows.iter() {
        let parse = |c: &str| -> Result<TerritoryId, StoreError> {
            let t = r.text(c)?;
            TerritoryId::parse(t).map_err(|e| corrupt("territory", t, e))
        };
        let start = parse("start")?;
        let id = parse("id")?;
        out.entry(start).or_insert_with(|| vec![start]).push(id);
    }
    Ok(out)
}
