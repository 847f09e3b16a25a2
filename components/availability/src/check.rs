//! `POST /api/v1/availability/check`: lines → promises, without side
//! effects. The same request shape (plus a document and a hold length)
//! reserves through `/api/v1/reservations`.
//!
//! Warehouses come from, in this order: `warehouses` (codes), the
//! channel's list (`channel_id`), or every active warehouse by code.
//! `strategy` defaults to `priority`, `ship_policy` to `ship_as_available`.
//! Every product must exist and be active; its kind (stocked,
//! manufactured, service) comes from the catalog.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::availability::{
    promise, AllocationStrategy, OrderPromise, PromiseContext, PromiseLine, PromiseRequest,
    PromiseRequestSpec, PromiseSource, ShipPolicy, Warehouse,
};
use sales_domain::catalog::Product;
use sales_domain::ids::{ChannelId, LineId, ProductId, WarehouseId};
use sales_kit::auth::require;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::availability::{load, warehouses};
use sales_store::{Db, StoreError};
use serde::Deserialize;

use crate::connector::StockSource;
use crate::errors;
use crate::warehouses::by_code;
use crate::wire::{not_past, quantity, Sign};
use crate::Ctx;

/// What a check (and a reservation) asks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    #[serde(default)]
    pub channel_id: Option<ChannelId>,
    /// Warehouse codes, first preferred.
    #[serde(default)]
    pub warehouses: Option<Vec<String>>,
    #[serde(default)]
    pub strategy: Option<AllocationStrategy>,
    #[serde(default)]
    pub ship_policy: Option<ShipPolicy>,
    pub lines: Vec<LineBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    #[serde(default)]
    pub line_id: Option<LineId>,
    pub product_id: ProductId,
    pub quantity: Decimal,
    #[serde(default)]
    pub requested_date: Option<NaiveDate>,
}

/// The product an id names, active, or a 422 naming `field`.
pub(crate) fn product(db: &impl Db, field: &str, id: ProductId) -> Result<Product, ApiError> {
    let unknown = |why: String| {
        ApiError::new(
            422,
            "unknown_reference",
            "A referenced record does not exist",
            why,
        )
        .with_field(field)
    };
    match sales_store::products::get(db, id) {
        Ok(p) if p.record.is_active() => Ok(p.record),
        Ok(_) => Err(unknown(format!("product {id} is inactive"))),
        Err(StoreError::NotFound { .. }) => Err(unknown(format!("product {id} does not exist"))),
        Err(e) => Err(e.into()),
    }
}

/// The warehouses the check draws from, in preference order.
fn resolve_warehouses(db: &impl Db, b: &CheckBody) -> Result<Vec<Warehouse>, ApiError> {
    if let Some(codes) = &b.warehouses {
        if codes.is_empty() {
            return Err(ApiError::invalid_field(
                "warehouses",
                "list at least one warehouse code, or leave warehouses out",
            ));
        }
        let active = warehouses::all_active(db)?;
        return codes
            .iter()
            .enumerate()
            .map(
                |(i, c)| match active.iter().find(|w| w.code() == c.trim()) {
                    Some(w) => Ok(w.clone()),
                    None => by_code(db, &format!("warehouses[{i}]"), c.trim()),
                },
            )
            .collect();
    }
    if let Some(channel) = b.channel_id {
        let c = match sales_store::channels::get(db, channel) {
            Ok(c) => c.record,
            Err(StoreError::NotFound { .. }) => {
                return Err(StoreError::MissingReference {
                    field: "channel_id",
                    id: channel.to_string(),
                }
                .into())
            }
            Err(e) => return Err(e.into()),
        };
        if c.warehouses().is_empty() {
            return Err(ApiError::invalid_field(
                "channel_id",
                format!("channel {} lists no warehouses", c.code()),
            ));
        }
        let active = warehouses::all_active(db)?;
        return c
            .warehouses()
            .iter()
            .map(|code| {
                if let Some(w) = active.iter().find(|w| w.code() == code) {
                    return Ok(w.clone());
                }
                by_code(db, "channel_id", code).map_err(|e| {
                    ApiError::new(
                        422,
                        "unknown_reference",
                        "A referenced record does not exist",
                        format!("channel {}: {}", c.code(), e.detail()),
                    )
                    .with_field("channel_id")
                })
            })
            .collect();
    }
    // With no warehouse at all, stocked lines are simply unavailable (the
    // explanation says so); service lines need none.
    Ok(warehouses::all_active(db)?)
}

/// A check, evaluated on the embedded stock: the warehouses it used and
/// the promise. Reads only (reservations use it inside their transaction).
pub(crate) fn evaluate(
    db: &impl Db,
    today: NaiveDate,
    b: &CheckBody,
) -> Result<(Vec<Warehouse>, OrderPromise), ApiError> {
    evaluate_from(db, today, b, false).map(|(used, promised, _)| (used, promised))
}

/// A check on the stock the configuration names: the inventory connector
/// when `inventory_base_url` is set ([`crate::connector`]), else embedded.
pub(crate) fn evaluate_with_connector(
    db: &impl Db,
    today: NaiveDate,
    b: &CheckBody,
) -> Result<(Vec<Warehouse>, OrderPromise, StockSource), ApiError> {
    evaluate_from(db, today, b, true)
}

fn evaluate_from(
    db: &impl Db,
    today: NaiveDate,
    b: &CheckBody,
    connector: bool,
) -> Result<(Vec<Warehouse>, OrderPromise, StockSource), ApiError> {
    let used = resolve_warehouses(db, b)?;
    let mut lines = Vec::with_capacity(b.lines.len());
    let ids: Vec<ProductId> = b.lines.iter().map(|l| l.product_id).collect();
    let kinds = load::product_kinds(db, &ids)?;
    for (i, l) in b.lines.iter().enumerate() {
        let kind = match kinds.get(&l.product_id) {
            Some((kind, true)) => *kind,
            // Missing or inactive: the single lookup says which, naming the field.
            _ => product(db, &format!("lines[{i}].product_id"), l.product_id)?.kind(),
        };
        // Field names are written only for an error (issue 7).
        let q = match quantity("", l.quantity, Sign::Positive) {
            Ok(q) => q,
            Err(_) => quantity(&format!("lines[{i}].quantity"), l.quantity, Sign::Positive)?,
        };
        let requested = l
            .requested_date
            .map(|d| match not_past("", d, today) {
                Ok(d) => Ok(d),
                Err(_) => not_past(&format!("lines[{i}].requested_date"), d, today),
            })
            .transpose()?;
        lines.push(PromiseLine {
            line_id: l.line_id.unwrap_or_else(LineId::new),
            product: l.product_id,
            kind,
            quantity: q,
            requested_date: requested,
        });
    }
    let warehouse_ids: Vec<WarehouseId> = used.iter().map(Warehouse::id).collect();
    let request = PromiseRequest::new(PromiseRequestSpec {
        today,
        warehouses: warehouse_ids.clone(),
        strategy: b.strategy.unwrap_or(AllocationStrategy::Priority),
        ship_policy: b.ship_policy.unwrap_or(ShipPolicy::ShipAsAvailable),
        lines,
    })
    .map_err(errors::promise)?;
    let mut products: Vec<ProductId> = b.lines.iter().map(|l| l.product_id).collect();
    products.sort();
    products.dedup();
    let mut spec = load::promise_context(db, &products, &warehouse_ids)?;
    let source = if connector {
        crate::connector::overlay(db, &products, &used, &mut spec)
    } else {
        StockSource::embedded()
    };
    let ctx = PromiseContext::new(spec).map_err(errors::promise)?;
    Ok((used, promise(&ctx, &request), source))
}

/// The promise as JSON, with each stock source's `warehouse_code` beside
/// its `warehouse` id (the WIT export and reservations: every field).
pub(crate) fn promise_json(
    used: &[Warehouse],
    promised: &OrderPromise,
) -> Result<serde_json::Value, ApiError> {
    to_json(used, promised, true)
}

/// Whether the check's answer carries the day-by-day `schedule` of each
/// proposed work order and project slot (`?detail=schedule`). Left out by
/// default: it is most of a check's bytes (a 20-line check with 4 work
/// orders: ~30 KB with it) and the promise itself — dates, quantities,
/// sources, start and finish — is the same without it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    Summary,
    Schedule,
}

impl Detail {
    /// From the check's query string: nothing, or `detail=schedule`.
    pub(crate) fn from_query(query: &str) -> Result<Detail, ApiError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Query {
            #[serde(default)]
            detail: Option<String>,
        }
        let q: Query = parse_query(query)?;
        match q.detail.as_deref() {
            None => Ok(Detail::Summary),
            Some("schedule") => Ok(Detail::Schedule),
            Some(other) => Err(ApiError::invalid_query(
                "detail",
                format!("detail must be `schedule` (got {other:?})"),
            )),
        }
    }
}

/// The promise as JSON; without `schedules`, proposed work orders and
/// project slots have no `schedule` key (rather than an empty one, which
/// would read as "no hours planned").
fn to_json(
    used: &[Warehouse],
    promised: &OrderPromise,
    schedules: bool,
) -> Result<serde_json::Value, ApiError> {
    let mut value = serde_json::to_value(promised)
        .map_err(|e| ApiError::internal(format!("failed to serialise a promise: {e}")))?;
    let codes: Vec<(String, &str)> = used
        .iter()
        .map(|w| (w.id().to_string(), w.code()))
        .collect();
    let lines = value
        .get_mut("lines")
        .and_then(serde_json::Value::as_array_mut);
    for line in lines.into_iter().flatten() {
        let sources = line
            .get_mut("sources")
            .and_then(serde_json::Value::as_array_mut);
        for source in sources.into_iter().flatten() {
            let Some(map) = source.as_object_mut() else {
                continue;
            };
            if !schedules {
                map.remove("schedule");
            }
            let code = map
                .get("warehouse")
                .and_then(serde_json::Value::as_str)
                .and_then(|id| codes.iter().find(|(w, _)| w == id))
                .map(|(_, code)| *code);
            if let Some(code) = code {
                map.insert("warehouse_code".into(), code.into());
            }
        }
    }
    Ok(value)
}

/// Drops the per-day schedules before serialising (so they are not built
/// as JSON only to be removed).
fn without_schedules(promised: &mut OrderPromise) {
    for line in &mut promised.lines {
        for source in &mut line.sources {
            match source {
                PromiseSource::WorkOrder(w) => w.schedule = Vec::new(),
                PromiseSource::ProjectSlot(b) => b.schedule = Vec::new(),
                PromiseSource::Stock(_) => {}
            }
        }
    }
}

pub fn handle(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let detail = Detail::from_query(&req.query)?;
    let b: CheckBody = parse_json(req)?;
    let (used, mut promised, source) = evaluate_with_connector(&ctx.db, crate::today(ctx), &b)?;
    let schedules = detail == Detail::Schedule;
    if !schedules {
        without_schedules(&mut promised);
    }
    let mut answer = to_json(&used, &promised, schedules)?;
    if let Some(map) = answer.as_object_mut() {
        map.insert(
            "stock_source".into(),
            serde_json::to_value(&source)
                .map_err(|e| ApiError::internal(format!("failed to serialise a source: {e}")))?,
        );
    }
    ApiResponse::json(200, &answer)
}
