//! The report handlers: parameters to a [`Scope`] (with the caller's
//! visibility), the store's query, figures out.

use chrono::{Days, NaiveDate};
use sales_domain::analytics::{percent, DateRange, Dimension, Granularity};
use sales_domain::auth::{Action, Role};
use sales_kit::auth::require;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::analytics::reports::{self as store, Durations, Slice};
use sales_store::analytics::{rollup, Scope};
use sales_store::visibility;
use serde_json::{json, Value};

use crate::wire::{change, figures, money, quantity, Filters};
use crate::Ctx;

const DEFAULT_DAYS: u64 = 30;

fn date(field: &'static str, raw: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    raw.map(|s| {
        s.parse::<NaiveDate>().map_err(|_| {
            ApiError::invalid_query(field, format!("{s:?} is not a date (YYYY-MM-DD)"))
        })
    })
    .transpose()
}

fn range(ctx: &Ctx, f: &Filters) -> Result<DateRange, ApiError> {
    let to = date("to", f.to.as_deref())?.unwrap_or_else(|| ctx.now.date_naive());
    let from = match date("from", f.from.as_deref())? {
        Some(d) => d,
        None => to
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(to),
    };
    DateRange::new(from, to).map_err(|e| ApiError::invalid_query(e.field, e.message))
}

fn id_param(field: &'static str, raw: &Option<String>) -> Result<Option<String>, ApiError> {
    match raw.as_deref() {
        None | Some("") => Ok(None),
        Some(s) if s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Ok(Some(s.to_owned()))
        }
        Some(_) => Err(ApiError::invalid_query(field, "not an id")),
    }
}

/// The territories the caller may see: `None` for everything (admins and
/// principals no scope was configured for), else the territories of the
/// caller's record visibility (`sales_store::visibility`: their key's
/// territory, their teams' and managed territories — a manager's whole
/// hierarchy's — each with its subtree).
fn visible(ctx: &Ctx) -> Result<Option<Vec<String>>, ApiError> {
    // Territories only: the reports place rule-placed customers once, for
    // their own territory filter (`visibility::territories_for`).
    Ok(visibility::territories_for(&ctx.db, &ctx.principal)?
        .map(|ts| ts.iter().map(|t| t.to_string()).collect()))
}

/// `territory_id`'s subtree narrowed to what the caller sees.
fn territories(ctx: &Ctx, f: &Filters) -> Result<Option<Vec<String>>, ApiError> {
    let seen = visible(ctx)?;
    let asked = match id_param("territory_id", &f.territory_id)? {
        Some(t) => Some(store::territory_subtree(&ctx.db, &t)?),
        None => None,
    };
    Ok(match (asked, seen) {
        (None, s) => s,
        (Some(a), None) => Some(a),
        (Some(a), Some(s)) => Some(a.into_iter().filter(|t| s.contains(t)).collect()),
    })
}

fn currency(ctx: &Ctx, f: &Filters, r: &DateRange) -> Result<String, ApiError> {
    match f.currency.as_deref() {
        Some(c) => {
            if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
                Ok(c.to_owned())
            } else {
                Err(ApiError::invalid_query(
                    "currency",
                    "an ISO 4217 code such as EUR",
                ))
            }
        }
        None => Ok(store::default_currency(&ctx.db, r)?),
    }
}

fn scope(ctx: &Ctx, f: &Filters) -> Result<Scope, ApiError> {
    let r = range(ctx, f)?;
    Ok(Scope {
        currency: currency(ctx, f, &r)?,
        range: r,
        channel_id: id_param("channel_id", &f.channel_id)?,
        territories: territories(ctx, f)?,
        customer_group_id: id_param("customer_group_id", &f.customer_group_id)?,
        item_group_id: id_param("item_group_id", &f.item_group_id)?,
        product_id: id_param("product_id", &f.product_id)?,
    })
}

fn filters(ctx: &Ctx, req: &ApiRequest) -> Result<Filters, ApiError> {
    require(&ctx.principal, Action::ReadCatalog)?;
    parse_query(&req.query)
}

fn limit(f: &Filters, default: u32) -> Result<usize, ApiError> {
    match f.limit.unwrap_or(default) {
        n @ 1..=200 => Ok(n as usize),
        _ => Err(ApiError::invalid_query("limit", "between 1 and 200")),
    }
}

fn range_json(r: &DateRange) -> Value {
    json!({ "from": r.from().to_string(), "to": r.to().to_string() })
}

fn default_granularity(r: &DateRange) -> Granularity {
    match r.days() {
        ..=62 => Granularity::Day,
        63..=370 => Granularity::Week,
        _ => Granularity::Month,
    }
}

pub(crate) fn sales(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let f = filters(ctx, req)?;
    let s = scope(ctx, &f)?;
    let granularity = match f.granularity.as_deref() {
        None => default_granularity(&s.range),
        Some(g) => Granularity::parse(g).ok_or_else(|| {
            ApiError::invalid_query("granularity", format!("one of {}", Granularity::expected()))
        })?,
    };
    let series = store::series(&ctx.db, &s, granularity)?;
    let mut totals = sales_store::analytics::Measures::default();
    for (_, m) in &series {
        totals.orders += m.orders;
        totals.quantity_milli += m.quantity_milli;
        totals.net_e4 += m.net_e4;
        totals.margin_e4 += m.margin_e4;
    }
    let previous = store::previous_totals(&ctx.db, &s)?;
    let c = &s.currency;
    ApiResponse::json(
        200,
        &json!({
            "currency": c,
            "from": s.range.from().to_string(),
            "to": s.range.to().to_string(),
            "granularity": granularity.as_str(),
            "totals": figures(&totals, c),
            "previous": { "range": range_json(&s.range.previous()), "totals": figures(&previous, c) },
            "change": change(&totals, &previous),
            "series": series.iter().map(|(p, m)| {
                let mut v = figures(m, c);
                v["period"] = json!(p.to_string());
                v
            }).collect::<Vec<_>>(),
        }),
    )
}

fn slices_json(slices: &[Slice], currency: &str) -> Vec<Value> {
    slices
        .iter()
        .map(|s| {
            json!({
                "key": if s.key.is_empty() { Value::Null } else { json!(s.key) },
                "label": s.label,
                "parent_id": s.parent,
                "own": figures(&s.own, currency),
                "total": figures(&s.rolled_up.unwrap_or(s.own), currency),
            })
        })
        .collect()
}

fn breakdown_of(
    ctx: &Ctx,
    req: &ApiRequest,
    fixed: Option<Dimension>,
    default_limit: u32,
) -> ApiResult {
    let f = filters(ctx, req)?;
    let dimension = match (fixed, f.dimension.as_deref()) {
        (Some(d), None) => d,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_query(
                "dimension",
                "not a parameter of this report",
            ))
        }
        (None, None) => Dimension::Channel,
        (None, Some(d)) => Dimension::parse(d).ok_or_else(|| {
            ApiError::invalid_query("dimension", format!("one of {}", Dimension::expected()))
        })?,
    };
    let s = scope(ctx, &f)?;
    let n = limit(&f, default_limit)?;
    let granularity = match f.granularity.as_deref() {
        None => None,
        Some(_) if dimension == Dimension::SalesPerson => {
            return Err(ApiError::invalid_query(
                "granularity",
                "not available for the sales-person split",
            ))
        }
        Some(g) => Some(Granularity::parse(g).ok_or_else(|| {
            ApiError::invalid_query("granularity", format!("one of {}", Granularity::expected()))
        })?),
    };
    let slices = store::breakdown(&ctx.db, &s, dimension, n)?;
    let mut items = slices_json(&slices, &s.currency);
    if let Some(g) = granularity {
        // Revenue by bucket × key: each row's points (its total, rolled up
        // for territories).
        let series = store::breakdown_series(&ctx.db, &s, dimension, g)?;
        for (item, slice) in items.iter_mut().zip(&slices) {
            let points = series.get(&slice.key).map_or_else(Vec::new, |ps| {
                ps.iter()
                    .map(|(p, m)| {
                        let mut v = figures(m, &s.currency);
                        v["period"] = json!(p.to_string());
                        v
                    })
                    .collect()
            });
            item["series"] = json!(points);
        }
    }
    ApiResponse::json(
        200,
        &json!({
            "dimension": dimension.as_str(),
            "currency": s.currency,
            "from": s.range.from().to_string(),
            "to": s.range.to().to_string(),
            "granularity": granularity.map(|g| g.as_str()),
            "items": items,
        }),
    )
}

pub(crate) fn breakdown(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    breakdown_of(ctx, req, None, 50)
}

pub(crate) fn top_customers(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    breakdown_of(ctx, req, Some(Dimension::Customer), 10)
}

pub(crate) fn top_products(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    breakdown_of(ctx, req, Some(Dimension::Product), 10)
}

pub(crate) fn funnel(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let f = filters(ctx, req)?;
    let r = range(ctx, &f)?;
    let channel = id_param("channel_id", &f.channel_id)?;
    let ts = territories(ctx, &f)?;
    let x = store::funnel(&ctx.db, &r, channel.as_deref(), ts.as_deref())?;
    let rate = |a: i64, b: i64| percent(a.into(), b.into()).map(|p| p.to_string());
    ApiResponse::json(
        200,
        &json!({
            "from": r.from().to_string(),
            "to": r.to().to_string(),
            "created": x.created,
            "sent": x.sent,
            "accepted": x.accepted,
            "ordered": x.ordered,
            "lost": x.lost,
            "expired": x.expired,
            "cancelled": x.cancelled,
            "open": x.open,
            "conversion_rate_percent": rate(x.accepted, x.sent),
            "win_rate_percent": rate(x.accepted, x.accepted + x.lost),
            "lost_reasons": x.lost_reasons.iter()
                .map(|(reason, n)| json!({ "reason": reason, "count": n }))
                .collect::<Vec<_>>(),
        }),
    )
}

fn durations(d: &Durations) -> Value {
    json!({
        "count": d.count,
        "mean_days": d.mean_days.map(|x| x.to_string()),
        "median_days": d.median_days.map(|x| x.to_string()),
    })
}

pub(crate) fn cycle_times(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let f = filters(ctx, req)?;
    let r = range(ctx, &f)?;
    let ts = territories(ctx, &f)?;
    let (q2o, o2f) = store::cycle_times(&ctx.db, &r, ts.as_deref())?;
    ApiResponse::json(
        200,
        &json!({
            "from": r.from().to_string(),
            "to": r.to().to_string(),
            "quotation_to_order": durations(&q2o),
            "order_to_fulfilled": durations(&o2f),
        }),
    )
}

pub(crate) fn pending_lines(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let f = filters(ctx, req)?;
    let n = limit(&f, 50)?;
    let ts = territories(ctx, &f)?;
    let today = ctx.now.date_naive();
    let lines = store::pending_lines(&ctx.db, today, ts.as_deref(), n)?;
    let items: Vec<Value> = lines
        .iter()
        .map(|l| {
            json!({
                "order_id": l.order_id,
                "order_number": l.order_number,
                "status": l.status,
                "customer_id": l.customer_id,
                "customer_name": l.customer_name,
                "line_id": l.line_id,
                "product_id": l.product_id,
                "product_name": l.product_name,
                "quantity": quantity(l.quantity_milli),
                "shipped": quantity(l.shipped_milli),
                "pending": quantity(l.quantity_milli - l.shipped_milli),
                "promised_date": l.promised_date.map(|d| d.to_string()),
                "days_late": l.days_late,
            })
        })
        .collect();
    ApiResponse::json(200, &json!({ "as_of": today.to_string(), "items": items }))
}

pub(crate) fn targets(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let f = filters(ctx, req)?;
    let r = range(ctx, &f)?;
    let rows = store::targets(&ctx.db, &r)?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(t, a)| {
            json!({
                "target": t,
                "achieved": money(a.achieved, t.currency().code()),
                "attainment_percent": a.attainment.to_string(),
                "orders": a.orders,
            })
        })
        .collect();
    ApiResponse::json(
        200,
        &json!({ "from": r.from().to_string(), "to": r.to().to_string(), "items": items }),
    )
}

pub(crate) fn commissions(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let f = filters(ctx, req)?;
    let r = range(ctx, &f)?;
    let rows = store::commissions(&ctx.db, &r)?;
    let items: Vec<Value> = rows
        .iter()
        .map(|c| {
            json!({
                "beneficiary_kind": c.beneficiary_kind,
                "beneficiary_id": c.beneficiary_id,
                "name": c.name,
                "amount": money(c.amount, &c.currency),
                "entries": c.entries,
            })
        })
        .collect();
    ApiResponse::json(
        200,
        &json!({ "from": r.from().to_string(), "to": r.to().to_string(), "items": items }),
    )
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RebuildBody {}

pub(crate) fn rebuild(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    if !ctx.principal.has_role(Role::Admin) {
        return Err(ApiError::forbidden("rebuilding the rollups is for admins"));
    }
    let RebuildBody {} = sales_kit::json::parse_json(req)?;
    let now = ctx.now;
    sales_kit::idempotency::write(&ctx.db, &ctx.principal.id().to_string(), req, now, |db| {
        let orders = rollup::rebuild(db)?;
        let cells = rollup::stored_daily(db)?.len();
        ApiResponse::json(200, &json!({ "orders": orders, "daily_cells": cells }))
    })
}
