//! The loader: the slice one check reads, as the engine's
//! `PromiseContextSpec` — the positions of the request's products in the
//! request's warehouses, their open receipts and held reservations (the
//! totals per date and expiry the reservation store keeps), and
//! the work centres and roles that make or deliver those products.

use std::collections::BTreeMap;

use sales_domain::availability::{
    CalendarId, ProjectRoleSpec, PromiseContextSpec, ReceiptSpec, ReservationSpec, RoutingSpec,
    ServiceSpec, StockPictureSpec, StockPositionSpec, WorkCenterSpec, WorkingCalendarSpec,
};
use sales_domain::catalog::ProductKind;
use sales_domain::ids::{ProductId, WarehouseId};

use super::{capacity, date, qty};
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

/// Everything a check of `products` over `warehouses` reads: their stock,
/// and the work centres (with routings) and roles (with services) that make
/// or deliver them, with their calendars.
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
        // One statement for the three tables (positions first, so the
        // receipts and holds find theirs): each statement costs a round
        // trip through the host, more than these few rows.
        //
        // Held stock per position, date and expiry comes from the totals
        // the reservation store keeps (migration 14): the engine only adds
        // reservations up by date (and drops expired ones), so one row per
        // (needed on, valid until) is the same picture as every hold's rows
        // — and a check reads as many rows with 1,000 open orders as with one.
        let params = [params.clone(), params.clone(), params].concat();
        let rows = db.execute(
            &format!(
                "SELECT 'a' AS part, product_id, warehouse_id, on_hand_milli AS q,
                        '' AS d1, '' AS d2, '' AS rid
                 FROM stock_positions WHERE {scope}
                 UNION ALL
                 SELECT 'b', product_id, warehouse_id, quantity_milli, due_on, '', id
                 FROM receipts WHERE active = 1 AND {scope}
                 UNION ALL
                 SELECT 'c', product_id, warehouse_id, quantity_milli, needed_on, valid_until, ''
                 FROM reservation_totals WHERE {scope}
                 ORDER BY part, d1, d2, rid"
            ),
            &params,
        )?;
        for r in rows.iter() {
            let p = parse(r.text("product_id")?, ProductId::parse)?;
            let w = parse(r.text("warehouse_id")?, WarehouseId::parse)?;
            let quantity = qty(r.int("q")?);
            match r.text("part")? {
                "a" => {
                    positions.insert(
                        (p, w),
                        StockPositionSpec {
                            product: p,
                            warehouse: w,
                            on_hand: quantity,
                            reservations: Vec::new(),
                            receipts: Vec::new(),
                        },
                    );
                }
                "b" => {
                    if let Some(pos) = positions.get_mut(&(p, w)) {
                        pos.receipts.push(ReceiptSpec {
                            quantity,
                            due_on: date(r.text("d1")?)?,
                        });
                    }
                }
                _ => {
                    if let Some(pos) = positions.get_mut(&(p, w)) {
                        pos.reservations.push(ReservationSpec {
                            quantity,
                            needed_on: date(r.text("d1")?)?,
                            // `''`: a hold without a last day.
                            valid_until: match r.text("d2")? {
                                "" => None,
                                d => Some(date(d)?),
                            },
                        });
                    }
                }
            }
        }
    }
    let (centers, roles, calendars) = capacity::for_products(db, products)?;
    let calendar = |id: CalendarId| -> Result<WorkingCalendarSpec, StoreError> {
        let c = calendars.get(&id).ok_or_else(|| {
            StoreError::Db(DbError::Decode(format!("calendar {id} was not loaded")))
        })?;
        Ok(WorkingCalendarSpec {
            working_days: c.working_days.clone(),
            holidays: c.holidays.clone(),
        })
    };
    let wanted = |p: &ProductId| products.contains(p);
    let mut spec = PromiseContextSpec {
        stock: StockPictureSpec {
            positions: positions.into_values().collect(),
        },
        work_centers: Vec::new(),
        routings: Vec::new(),
        roles: Vec::new(),
        services: Vec::new(),
    };
    for w in centers {
        spec.routings.extend(
            w.routings
                .iter()
                .filter(|r| wanted(&r.product_id))
                .map(|r| RoutingSpec {
                    product: r.product_id,
                    work_center: w.id,
                    hours_per_unit: r.hours_per_unit,
                    material_lead_days: r.material_lead_days,
                }),
        );
        spec.work_centers.push(WorkCenterSpec {
            id: w.id,
            name: w.name,
            hours_per_day: w.hours_per_day,
            calendar: calendar(w.calendar_id)?,
            planned_load: w.planned_load,
        });
    }
    for r in roles {
        spec.services.extend(
            r.services
                .iter()
                .filter(|s| wanted(&s.product_id))
                .map(|s| ServiceSpec {
                    product: s.product_id,
                    role: r.id,
                    hours_per_unit: s.hours_per_unit,
                }),
        );
        spec.roles.push(ProjectRoleSpec {
            id: r.id,
            name: r.name,
            hours_per_week: r.hours_per_week,
            calendar: calendar(r.calendar_id)?,
            bookings: r.bookings,
        });
    }
    Ok(spec)
}

/// The kind and `active` flag of each of `products` that exists, in one
/// statement (a check's lines).
pub fn product_kinds(
    db: &impl Db,
    products: &[ProductId],
) -> Result<BTreeMap<ProductId, (ProductKind, bool)>, StoreError> {
    let mut out = BTreeMap::new();
    if products.is_empty() {
        return Ok(out);
    }
    let rows = db.execute(
        &format!(
            "SELECT id, kind, active FROM products WHERE id IN ({})",
            marks(products.len())
        ),
        &ids(products),
    )?;
    for r in rows.iter() {
        let id = parse(r.text("id")?, ProductId::parse)?;
        let kind_text = r.text("kind")?;
        let kind = ProductKind::parse(kind_text).ok_or_else(|| StoreError::Corrupt {
            entity: "product",
            id: id.to_string(),
            message: format!("kind {kind_text:?}"),
        })?;
        out.insert(id, (kind, r.bool("active")?));
    }
    Ok(out)
}
