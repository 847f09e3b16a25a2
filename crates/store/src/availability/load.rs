//! The loader: the slice of stock one check reads, as the engine's
//! `StockPictureSpec` — the positions of the request's products in the
//! request's warehouses, their open receipts and held reservation rows.

use std::collections::BTreeMap;

use sales_domain::availability::{
    PromiseContextSpec, ReceiptSpec, ReservationSpec, StockPictureSpec, StockPositionSpec,
};
use sales_domain::ids::{ProductId, WarehouseId};

use super::{date, qty};
use crate::db::{Db, DbError, Value};
use crate::StoreError;

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn ids<T: ToString>(v: &[T]) -> Vec<Value> {
    v.iter().map(|x| Value::Text(x.to_string())).collect()
}

fn parse<T, E: std::fmt::Display>(
    text: &str,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    f(text).map_err(|e| StoreError::Db(DbError::Decode(format!("{text:?}: {e}"))))
}

/// Everything a check of `products` over `warehouses` reads. Work centres,
/// routings, roles and services are left empty: manufactured and service
/// lines are served from stock only until their tables land.
pub fn promise_context(
    db: &impl Db,
    products: &[ProductId],
    warehouses: &[WarehouseId],
) -> Result<PromiseContextSpec, StoreError> {
    let mut positions: BTreeMap<(ProductId, WarehouseId), StockPositionSpec> = BTreeMap::new();
    if !products.is_empty() && !warehouses.is_empty() {
        let mut params = ids(products);
        params.extend(ids(warehouses));
        let scope = format!(
            "product_id IN ({}) AND warehouse_id IN ({})",
            marks(products.len()),
            marks(warehouses.len())
        );
        let rows = db.execute(
            &format!(
                "SELECT product_id, warehouse_id, on_hand_milli FROM stock_positions WHERE {scope}"
            ),
            &params,
        )?;
        for r in rows.iter() {
            let p = parse(r.text("product_id")?, ProductId::parse)?;
            let w = parse(r.text("warehouse_id")?, WarehouseId::parse)?;
            positions.insert(
                (p, w),
                StockPositionSpec {
                    product: p,
                    warehouse: w,
                    on_hand: qty(r.int("on_hand_milli")?),
                    reservations: Vec::new(),
                    receipts: Vec::new(),
                },
            );
        }
        let rows = db.execute(
            &format!(
                "SELECT product_id, warehouse_id, quantity_milli, due_on FROM receipts
                 WHERE active = 1 AND {scope} ORDER BY due_on, id"
            ),
            &params,
        )?;
        for r in rows.iter() {
            let key = (
                parse(r.text("product_id")?, ProductId::parse)?,
                parse(r.text("warehouse_id")?, WarehouseId::parse)?,
            );
            if let Some(pos) = positions.get_mut(&key) {
                pos.receipts.push(ReceiptSpec {
                    quantity: qty(r.int("quantity_milli")?),
                    due_on: date(r.text("due_on")?)?,
                });
            }
        }
        let rows = db.execute(
            &format!(
                "SELECT l.product_id, l.warehouse_id, l.quantity_milli, l.needed_on, h.valid_until
                 FROM reservation_lines l JOIN reservations h ON h.id = l.reservation_id
                 WHERE h.status = 'held' AND l.{} ORDER BY h.id, l.seq",
                scope.replace(" AND warehouse_id", " AND l.warehouse_id")
            ),
            &params,
        )?;
        for r in rows.iter() {
            let key = (
                parse(r.text("product_id")?, ProductId::parse)?,
                parse(r.text("warehouse_id")?, WarehouseId::parse)?,
            );
            if let Some(pos) = positions.get_mut(&key) {
                pos.reservations.push(ReservationSpec {
                    quantity: qty(r.int("quantity_milli")?),
                    needed_on: date(r.text("needed_on")?)?,
                    valid_until: r.opt_text("valid_until")?.map(date).transpose()?,
                });
            }
        }
    }
    Ok(PromiseContextSpec {
        stock: StockPictureSpec {
            positions: positions.into_values().collect(),
        },
        work_centers: Vec::new(),
        routings: Vec::new(),
        roles: Vec::new(),
        services: Vec::new(),
    })
}
