//! `/api/v1/stock`: positions (product × warehouse: on hand, incoming,
//! reserved, free), the adjustment ledger, and a bulk NDJSON feed from an
//! outside inventory system.
//!
//! An adjustment is a `quantity` delta or an `on_hand` count. One with an
//! external reference (`external_source` + `external_id`) is written once:
//! a resend answers 200 with the first adjustment instead of 201, and the
//! bulk feed reports it `unchanged` — so a feed can be replayed safely.

use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::ids::{ProductId, StockAdjustmentId, WarehouseId};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::import::{parse_import, RowError};
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::availability::stock::{
    self, Adjustment, Change, NewAdjustment, Position, StockFilter,
};
use sales_store::{Db, StoreError, Upserted};
use serde::{Deserialize, Serialize};

use crate::check::product;
use crate::warehouses::{by_code, by_id};
use crate::wire::{path_id, plain_page, quantity, store_page, Sign};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustBody {
    product_id: ProductId,
    warehouse_id: WarehouseId,
    /// Add this much (negative takes away).
    #[serde(default)]
    quantity: Option<Decimal>,
    /// Or: on hand is now this much.
    #[serde(default)]
    on_hand: Option<Decimal>,
    reason: String,
    #[serde(default)]
    external_source: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
}

/// One row of the bulk feed (NDJSON keys or CSV columns).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRow {
    external_source: String,
    external_id: String,
    product_id: ProductId,
    warehouse_code: String,
    on_hand: Decimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    product_id: Option<ProductId>,
    warehouse_id: Option<WarehouseId>,
}

#[derive(Serialize)]
struct PositionView {
    product_id: ProductId,
    warehouse_id: WarehouseId,
    on_hand: Decimal,
    incoming: Decimal,
    reserved: Decimal,
    /// On hand plus incoming minus reserved.
    free: Decimal,
    version: i64,
    updated_at: String,
}

impl From<&Position> for PositionView {
    fn from(p: &Position) -> Self {
        PositionView {
            product_id: p.product,
            warehouse_id: p.warehouse,
            on_hand: p.on_hand,
            incoming: p.incoming,
            reserved: p.reserved,
            free: p.free(),
            version: p.version,
            updated_at: sales_store::time::to_sql(p.updated_at),
        }
    }
}

#[derive(Serialize)]
struct AdjustmentView {
    id: StockAdjustmentId,
    product_id: ProductId,
    warehouse_id: WarehouseId,
    delta: Decimal,
    on_hand_after: Decimal,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    created_at: String,
}

impl From<&Adjustment> for AdjustmentView {
    fn from(a: &Adjustment) -> Self {
        let (source, id) = a.external.clone().unzip();
        AdjustmentView {
            id: a.id,
            product_id: a.product,
            warehouse_id: a.warehouse,
            delta: a.delta,
            on_hand_after: a.on_hand_after,
            reason: a.reason.clone(),
            external_source: source,
            external_id: id,
            created_at: sales_store::time::to_sql(a.created_at),
        }
    }
}

fn filter(q: &ListQuery) -> StockFilter {
    StockFilter {
        product: q.product_id,
        warehouse: q.warehouse_id,
    }
}

pub fn list_positions(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let (items, next) = stock::list_positions(
        &ctx.db,
        &filter(&q),
        &store_page(q.limit, q.cursor.clone())?,
    )?;
    plain_page(items.iter().map(PositionView::from).collect(), next)
}

pub fn list_adjustments(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let (items, next) = stock::list_adjustments(
        &ctx.db,
        &filter(&q),
        &store_page(q.limit, q.cursor.clone())?,
    )?;
    plain_page(items.iter().map(AdjustmentView::from).collect(), next)
}

pub fn get_adjustment(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, StockAdjustmentId::parse)?;
    ApiResponse::json(
        200,
        &AdjustmentView::from(&stock::get_adjustment(&ctx.db, id)?),
    )
}

/// A reason or external reference: trimmed, 1–200 characters.
fn text(field: &str, value: &str) -> Result<String, ApiError> {
    sales_domain::catalog::required_text(field, value, sales_domain::catalog::NAME_MAX)
        .map_err(crate::warehouses::invalid)
}

fn external(
    source: Option<String>,
    id: Option<String>,
) -> Result<Option<(String, String)>, ApiError> {
    match (source, id) {
        (None, None) => Ok(None),
        (Some(s), Some(i)) => Ok(Some((
            text("external_source", &s)?,
            text("external_id", &i)?,
        ))),
        (Some(_), None) => Err(ApiError::missing_field("external_id")),
        (None, Some(_)) => Err(ApiError::missing_field("external_source")),
    }
}

/// On hand may not grow past the engine's largest quantity (1,000,000,000),
/// or every later check of the product would be refused.
fn below_ceiling(db: &impl Db, new: &NewAdjustment) -> Result<(), ApiError> {
    let Change::Delta(delta) = new.change else {
        return Ok(()); // a count is checked like any quantity
    };
    let current =
        stock::position(db, new.product, new.warehouse)?.map_or(Decimal::ZERO, |p| p.on_hand);
    if current + delta > sales_domain::availability::MAX_QUANTITY {
        return Err(ApiError::invalid_field(
            "quantity",
            format!(
                "on hand would be {}, above the maximum of 1000000000",
                current + delta
            ),
        ));
    }
    Ok(())
}

pub fn adjust(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let b: AdjustBody = parse_json(req)?;
    let change = match (b.quantity, b.on_hand) {
        (Some(q), None) => Change::Delta(quantity("quantity", q, Sign::NonZero)?),
        (None, Some(c)) => Change::Count(quantity("on_hand", c, Sign::NotNegative)?),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "on_hand",
                "give either quantity (a delta) or on_hand (a count), not both",
            ))
        }
        (None, None) => return Err(ApiError::missing_field("quantity")),
    };
    let new = NewAdjustment {
        id: StockAdjustmentId::new(),
        product: b.product_id,
        warehouse: b.warehouse_id,
        change,
        reason: text("reason", &b.reason)?,
        external: external(b.external_source, b.external_id)?,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            product(db, "product_id", new.product)?;
            by_id(db, "warehouse_id", new.warehouse)?;
            below_ceiling(db, &new)?;
            let (a, how) = stock::adjust(db, &new, ctx.now)?;
            let status = if how == Upserted::Created { 201 } else { 200 };
            Ok(ApiResponse::json(status, &AdjustmentView::from(&a))?
                .with_header("location", format!("/api/v1/stock/adjustments/{}", a.id)))
        },
    )
}

#[derive(Default, Serialize)]
struct Report {
    rows: usize,
    created: usize,
    unchanged: usize,
    failed: usize,
    errors: Vec<RowError>,
}

/// The columns (CSV header) or keys (NDJSON) every feed row has.
const IMPORT_COLUMNS: &[&str] = &[
    "external_source",
    "external_id",
    "product_id",
    "warehouse_code",
    "on_hand",
];

/// `POST /api/v1/stock/import`: NDJSON or CSV, one count a row
/// (`external_source`, `external_id`, `product_id`, `warehouse_code`,
/// `on_hand`). Each row is applied on its own; a bad row is reported and
/// skipped, a row seen before is `unchanged`. A database failure aborts
/// the whole feed.
pub fn import(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let rows = parse_import::<ImportRow>(req, IMPORT_COLUMNS)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let mut report = Report::default();
            for (n, row) in rows {
                report.rows += 1;
                match row
                    .map_err(RowOutcome::Parse)
                    .and_then(|row| import_row(ctx, db, row))
                {
                    Ok(Upserted::Unchanged) => report.unchanged += 1,
                    Ok(_) => report.created += 1,
                    Err(RowOutcome::Parse(e)) => {
                        report.failed += 1;
                        report.errors.push(e);
                    }
                    Err(RowOutcome::Row(e)) => {
                        report.failed += 1;
                        report.errors.push(RowError::from_api(n, &e));
                    }
                    Err(RowOutcome::Abort(e)) => return Err(e),
                }
            }
            ApiResponse::json(200, &report)
        },
    )
}

enum RowOutcome {
    /// The row could not be read (`sales_kit::import`).
    Parse(RowError),
    Row(ApiError),
    Abort(ApiError),
}

fn row_err(e: ApiError) -> RowOutcome {
    if e.status() >= 500 {
        RowOutcome::Abort(e)
    } else {
        RowOutcome::Row(e)
    }
}

fn import_row(ctx: &Ctx, db: &impl Db, row: ImportRow) -> Result<Upserted, RowOutcome> {
    let on_hand = quantity("on_hand", row.on_hand, Sign::NotNegative).map_err(row_err)?;
    let ext = external(Some(row.external_source), Some(row.external_id)).map_err(row_err)?;
    product(db, "product_id", row.product_id).map_err(row_err)?;
    let w = by_code(db, "warehouse_code", row.warehouse_code.trim()).map_err(row_err)?;
    let new = NewAdjustment {
        id: StockAdjustmentId::new(),
        product: row.product_id,
        warehouse: w.id(),
        change: Change::Count(on_hand),
        reason: "inventory feed".into(),
        external: ext,
    };
    below_ceiling(db, &new).map_err(row_err)?;
    match stock::adjust(db, &new, ctx.now) {
        Ok((_, how)) => Ok(how),
        Err(e @ StoreError::InsufficientStock { .. }) => Err(RowOutcome::Row(e.into())),
        Err(e) => Err(RowOutcome::Abort(e.into())),
    }
}
