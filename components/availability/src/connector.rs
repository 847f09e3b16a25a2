//! Where a check's stock comes from: the embedded `stock_positions`
//! (default) or an outside inventory system over HTTP, chosen by the Spin
//! variable `inventory_base_url` (empty: embedded).
//!
//! With the connector, a check asks `POST {base}/stock/query` (the contract
//! is `sales_domain::integrations::connectors`) for the SKUs × warehouse
//! codes it draws from, and promises from what the outside system calls
//! *available* in place of our on-hand figure; our own holds and scheduled
//! receipts still count on top (the outside system does not know them).
//! A position it does not answer has nothing.
//!
//! It never hangs and never fails a check: a call that times out
//! (`inventory_timeout_ms`, default 2 s), is refused, answers a non-2xx or
//! a body that breaks the contract leaves the embedded positions in place,
//! and the answer's `stock_source` says so with the reason.
//!
//! Holds are not made in the outside system: a reservation is our
//! race-free conditional update in SQLite, which an HTTP call cannot be
//! part of, and it is checked against the embedded positions — which the
//! outside system keeps current through the stock feed
//! (`/api/v1/stock/import`, `/api/v1/stock/adjustments`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use sales_domain::availability::{PromiseContextSpec, StockPositionSpec, Warehouse};
use sales_domain::ids::{ProductId, WarehouseId};
use sales_domain::integrations::connectors::{Endpoint, StockQuery, StockReply};
use sales_store::Db;
use serde::Serialize;

/// How a check's stock was found; answered as `stock_source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StockSource {
    /// `embedded` or `connector`.
    pub kind: &'static str,
    /// True when the connector is configured but could not be used.
    pub degraded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl StockSource {
    pub(crate) fn embedded() -> StockSource {
        StockSource {
            kind: "embedded",
            degraded: false,
            reason: None,
        }
    }

    fn degraded(reason: String) -> StockSource {
        StockSource {
            kind: "embedded",
            degraded: true,
            reason: Some(format!(
                "the inventory connector failed ({reason}); promised from the embedded stock positions"
            )),
        }
    }
}

/// The configured inventory endpoint; `Err` with why when the settings are
/// wrong (a check then degrades with that reason).
fn endpoint() -> Result<Option<Endpoint>, String> {
    let var = |n: &str| sales_kit::spin::variable(n).unwrap_or_default();
    Endpoint::from_settings(
        "inventory_base_url",
        &var("inventory_base_url"),
        &var("inventory_api_key"),
        &var("inventory_timeout_ms"),
    )
    .map_err(|e| e.to_string())
}

/// Replaces the on-hand figures of `spec` with the outside system's, when
/// the connector is configured and answers; says what it did.
pub(crate) fn overlay(
    db: &impl Db,
    products: &[ProductId],
    warehouses: &[Warehouse],
    spec: &mut PromiseContextSpec,
) -> StockSource {
    let endpoint = match endpoint() {
        Ok(None) => return StockSource::embedded(),
        Ok(Some(e)) => e,
        Err(why) => return StockSource::degraded(why),
    };
    if products.is_empty() || warehouses.is_empty() {
        return StockSource {
            kind: "connector",
            degraded: false,
            reason: None,
        };
    }
    match fetch(db, &endpoint, products, warehouses) {
        Ok(levels) => {
            apply(spec, products, warehouses, &levels);
            StockSource {
                kind: "connector",
                degraded: false,
                reason: None,
            }
        }
        Err(why) => {
            eprintln!("availability: inventory connector: {why}");
            StockSource::degraded(why)
        }
    }
}

/// Available per (product, warehouse), from the outside system.
fn fetch(
    db: &impl Db,
    endpoint: &Endpoint,
    products: &[ProductId],
    warehouses: &[Warehouse],
) -> Result<BTreeMap<(ProductId, WarehouseId), Decimal>, String> {
    let mut by_sku = BTreeMap::new();
    for p in products {
        let product = sales_store::products::get(db, *p).map_err(|e| e.to_string())?;
        by_sku.insert(product.record.sku().to_owned(), *p);
    }
    let by_code: BTreeMap<String, WarehouseId> = warehouses
        .iter()
        .map(|w| (w.code().to_owned(), w.id()))
        .collect();
    let query = StockQuery {
        skus: by_sku.keys().cloned().collect(),
        warehouses: by_code.keys().cloned().collect(),
    };
    let body = serde_json::to_vec(&query).map_err(|e| e.to_string())?;
    let url = endpoint.url("/stock/query");
    let reply = sales_kit::outbound::call(
        "POST",
        &url,
        &endpoint.headers(),
        Some(&body),
        endpoint.timeout(),
    )
    .map_err(|e| e.to_string())?;
    if !(200..300).contains(&reply.status) {
        let text = String::from_utf8_lossy(&reply.body);
        let snippet: String = text.chars().take(200).collect();
        return Err(format!("{url} answered {}: {snippet}", reply.status));
    }
    let parsed: StockReply = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("{url} answered a body outside the contract: {e}"))?;
    let levels = parsed
        .levels(&query)
        .map_err(|e| format!("{url} answered a body outside the contract: {e}"))?;
    Ok(levels
        .into_iter()
        .filter_map(|((sku, code), q)| Some(((*by_sku.get(&sku)?, *by_code.get(&code)?), q)))
        .collect())
}

/// Every asked position takes the outside figure (zero when unanswered);
/// reservations and receipts stay ours.
fn apply(
    spec: &mut PromiseContextSpec,
    products: &[ProductId],
    warehouses: &[Warehouse],
    levels: &BTreeMap<(ProductId, WarehouseId), Decimal>,
) {
    let positions = &mut spec.stock.positions;
    for p in positions.iter_mut() {
        p.on_hand = levels
            .get(&(p.product, p.warehouse))
            .copied()
            .unwrap_or_default();
    }
    for product in products {
        for w in warehouses {
            let key = (*product, w.id());
            let known = positions
                .iter()
                .any(|p| p.product == key.0 && p.warehouse == key.1);
            if let (false, Some(q)) = (known, levels.get(&key)) {
                positions.push(StockPositionSpec {
                    product: key.0,
                    warehouse: key.1,
                    on_hand: *q,
                    reservations: Vec::new(),
                    receipts: Vec::new(),
                });
            }
        }
    }
}
