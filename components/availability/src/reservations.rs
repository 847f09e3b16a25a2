//! `/api/v1/reservations`: stock held for a document.
//!
//! `POST` takes a check (see [`crate::check`]) plus the `document` that
//! holds the stock and an optional `valid_until` (the last day an
//! unconfirmed hold lasts). Inside one write transaction it expires holds
//! past their last day, promises the lines on the current stock, plans the
//! rows and writes them with the store's conditional reserve — so two
//! requests racing for the last units never both get them; the loser gets
//! 409 `insufficient_stock` and nothing is written. A ship-complete check
//! that cannot ship complete is 409 `cannot_ship_complete`; a check that
//! can hold nothing at all is 409 `insufficient_stock`.
//!
//! `POST /{id}/release` gives the stock back; `POST /{id}/consume` marks
//! it shipped (on hand drops, with a ledger row). Both only from `held`
//! (else 409 `invalid_state`).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::availability::{plan_reservations, ReservationStatus, Warehouse};
use sales_domain::ids::{LineId, OrderId, ProductId, ReservationId, WarehouseId};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::availability::reservations::{self, Hold, HoldFilter};
use sales_store::availability::warehouses;
use sales_store::page::Versioned;
use sales_store::Db;
use serde::{Deserialize, Serialize};

use crate::check::{evaluate, promise_json, CheckBody, LineBody};
use crate::errors;
use crate::wire::{not_past, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    document: String,
    #[serde(default)]
    valid_until: Option<NaiveDate>,
    #[serde(default)]
    channel_id: Option<sales_domain::ids::ChannelId>,
    #[serde(default)]
    warehouses: Option<Vec<String>>,
    #[serde(default)]
    strategy: Option<sales_domain::availability::AllocationStrategy>,
    #[serde(default)]
    ship_policy: Option<sales_domain::availability::ShipPolicy>,
    lines: Vec<LineBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    document: Option<String>,
    status: Option<ReservationStatus>,
}

#[derive(Clone, Serialize)]
struct RowView {
    line_id: LineId,
    product_id: ProductId,
    warehouse_id: WarehouseId,
    #[serde(skip_serializing_if = "Option::is_none")]
    warehouse_code: Option<String>,
    quantity: Decimal,
    needed_on: NaiveDate,
}

#[derive(Clone, Serialize)]
struct HoldView {
    id: ReservationId,
    document: String,
    status: ReservationStatus,
    valid_until: Option<NaiveDate>,
    rows: Vec<RowView>,
    promise: serde_json::Value,
}

fn hold_view(h: &Hold, known: &[Warehouse]) -> Result<HoldView, ApiError> {
    Ok(HoldView {
        id: h.id,
        document: h.document.clone(),
        status: h.status,
        valid_until: h.valid_until,
        rows: h
            .rows
            .iter()
            .map(|r| RowView {
                line_id: r.line_id,
                product_id: r.product,
                warehouse_id: r.warehouse,
                warehouse_code: known
                    .iter()
                    .find(|w| w.id() == r.warehouse)
                    .map(|w| w.code().to_owned()),
                quantity: r.quantity,
                needed_on: r.needed_on,
            })
            .collect(),
        promise: promise_json(known, &h.promise)?,
    })
}

/// The warehouses a hold's rows and promise name.
fn known_warehouses(db: &impl Db, h: &Hold) -> Result<Vec<Warehouse>, ApiError> {
    let mut ids: Vec<WarehouseId> = h.rows.iter().map(|r| r.warehouse).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| Ok(warehouses::get(db, id)?.record))
        .collect()
}

fn answer(db: &impl Db, status: u16, v: &Versioned<Hold>, location: Option<String>) -> ApiResult {
    let known = known_warehouses(db, &v.record)?;
    let wire = hold_view(&v.record, &known)?;
    record(status, v, |_| &wire, location)
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = HoldFilter {
        document: q.document,
        status: q.status,
    };
    let (items, next) = reservations::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    let views = items
        .iter()
        .map(|v| {
            let known = known_warehouses(&ctx.db, &v.record)?;
            Ok(Versioned {
                record: hold_view(&v.record, &known)?,
                version: v.version,
                created_at: v.created_at,
                updated_at: v.updated_at,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    page(&views, HoldView::clone, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, ReservationId::parse)?;
    answer(&ctx.db, 200, &reservations::get(&ctx.db, id)?, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::Reserve)?;
    let b: NewBody = parse_json(req)?;
    let document = sales_domain::catalog::required_text("document", &b.document, 200)
        .map_err(crate::warehouses::invalid)?;
    let today = crate::today(ctx);
    let valid_until = b
        .valid_until
        .map(|d| not_past("valid_until", d, today))
        .transpose()?;
    let check = CheckBody {
        channel_id: b.channel_id,
        warehouses: b.warehouses,
        strategy: b.strategy,
        ship_policy: b.ship_policy,
        lines: b.lines,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            reservations::expire_due(db, today, ctx.now)?;
            let (_, promised) = evaluate(db, today, &check)?;
            let plan = plan_reservations(OrderId::new(), &promised, valid_until)
                .map_err(errors::reservation)?;
            if plan.rows.is_empty() {
                return Err(ApiError::conflict(
                    "insufficient_stock",
                    "nothing of these lines can be held from stock now",
                )
                .with_field("lines"));
            }
            let hold = Hold {
                id: ReservationId::new(),
                document: document.clone(),
                status: ReservationStatus::Held,
                valid_until,
                rows: plan.rows,
                promise: sales_store::orders::StoredPromise::new(promised)
                    .map_err(|e| ApiError::internal(format!("failed to write a promise: {e}")))?,
            };
            let stored = reservations::reserve(db, &hold, ctx.now)?;
            answer(
                db,
                201,
                &stored,
                Some(format!("/api/v1/reservations/{}", hold.id)),
            )
        },
    )
}

pub fn release(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::Reserve)?;
    let id = path_id(id, ReservationId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| answer(db, 200, &reservations::release(db, id, ctx.now)?, None),
    )
}

pub fn consume(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::Reserve)?;
    let id = path_id(id, ReservationId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| answer(db, 200, &reservations::consume(db, id, ctx.now)?, None),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireBody {}

#[derive(Serialize)]
struct Expired {
    today: NaiveDate,
    expired: usize,
}

/// `POST /api/v1/reservations/expire`: the periodic job. Every held hold
/// whose `valid_until` is before today becomes `expired` and gives its
/// stock back, in one transaction. Reserving does the same first, so this
/// only frees stock sooner; a replay expires nothing more.
pub fn expire(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::RunPeriodicWork)?;
    let _: ExpireBody = parse_json(req)?;
    let today = crate::today(ctx);
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let expired = reservations::expire_due(db, today, ctx.now)?;
            sales_kit::ApiResponse::json(200, &Expired { today, expired })
        },
    )
}
