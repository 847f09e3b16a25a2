//! The WIT export `sales:orchestration/availability@0.1.0` (world
//! `availability-provider` in `wit/availability.wit`), for the order
//! orchestrator to plug in at build time. It promises exactly like
//! `POST /api/v1/availability/check` ([`crate::check::evaluate`]), without
//! authentication: the caller is a component of the same application that
//! has authenticated its own request. The conversion between WIT records
//! and the wire/domain types happens here and nowhere else.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::availability::{OrderPromise, PromiseSource};
use sales_domain::ids::{ChannelId, LineId, ProductId};
use sales_kit::ApiError;

use crate::check::{evaluate, CheckBody, LineBody};

spin_sdk::wit_bindgen::generate!({
    world: "availability-provider",
    path: "../../wit",
    runtime_path: "spin_sdk::wit_bindgen::rt",
});

use exports::sales::orchestration::availability as wit;

struct Availability;

export!(Availability);

impl wit::Guest for Availability {
    fn promise(request: wit::CheckRequest) -> Result<wit::OrderPromise, wit::AvailabilityError> {
        let body = to_body(request).map_err(problem)?;
        // Called only from the orders component it is composed into, which
        // opened and migrated the same database for this request: no
        // schema check of its own (one `PRAGMA user_version` fewer per
        // submission, issue 7).
        let db = sales_kit::spin::SpinDb::open_default().map_err(problem)?;
        let today = chrono::Utc::now().date_naive();
        let (_, promised) = evaluate(&db, today, &body).map_err(problem)?;
        // The engine's record as it is (no warehouse codes, no tree built
        // and edited first): what the caller keeps and plans from (issue 7).
        let json = serde_json::to_string(&promised).map_err(|e| {
            problem(ApiError::internal(format!(
                "failed to serialise a promise: {e}"
            )))
        })?;
        Ok(to_wit(&promised, json))
    }
}

fn problem(e: ApiError) -> wit::AvailabilityError {
    let p = wit::Problem {
        code: e.code().to_owned(),
        field: e.field().map(str::to_owned),
        detail: e.detail().to_owned(),
    };
    if e.status() < 500 {
        wit::AvailabilityError::Invalid(p)
    } else {
        wit::AvailabilityError::Failed(p)
    }
}

/// `text` through `f`; the field is named (written) only for an error.
fn parse<T, E: std::fmt::Display>(
    field: impl FnOnce() -> String,
    text: &str,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    f(text).map_err(|e| ApiError::invalid_field(field(), e.to_string()))
}

/// A snake_case enum (`ship_complete`) through its serde name.
fn word<T: serde::de::DeserializeOwned>(
    field: &str,
    text: Option<String>,
) -> Result<Option<T>, ApiError> {
    text.map(|t| {
        serde_json::from_value(serde_json::Value::String(t))
            .map_err(|e| ApiError::invalid_field(field, e.to_string()))
    })
    .transpose()
}

fn to_body(r: wit::CheckRequest) -> Result<CheckBody, ApiError> {
    let lines = r
        .lines
        .into_iter()
        .enumerate()
        .map(|(n, l)| {
            Ok(LineBody {
                line_id: l
                    .line_id
                    .map(|id| parse(|| format!("lines[{n}].line_id"), &id, LineId::parse))
                    .transpose()?,
                product_id: parse(
                    || format!("lines[{n}].product_id"),
                    &l.product_id,
                    ProductId::parse,
                )?,
                quantity: parse(
                    || format!("lines[{n}].quantity"),
                    &l.quantity,
                    Decimal::from_str,
                )?,
                requested_date: l
                    .requested_date
                    .map(|d| {
                        parse(
                            || format!("lines[{n}].requested_date"),
                            &d,
                            |s| NaiveDate::parse_from_str(s, "%Y-%m-%d"),
                        )
                    })
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(CheckBody {
        channel_id: r
            .channel_id
            .map(|c| parse(|| "channel_id".into(), &c, ChannelId::parse))
            .transpose()?,
        warehouses: r.warehouses,
        strategy: word("strategy", r.strategy)?,
        ship_policy: word("ship_policy", r.ship_policy)?,
        lines,
    })
}

fn snake<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn source(s: &PromiseSource) -> wit::Source {
    match s {
        PromiseSource::Stock(a) => wit::Source {
            kind: "stock".into(),
            origin_id: a.warehouse.to_string(),
            quantity: a.quantity.to_string(),
            ready_on: a.available_on.to_string(),
        },
        PromiseSource::WorkOrder(w) => wit::Source {
            kind: "work_order".into(),
            origin_id: w.work_center.to_string(),
            quantity: w.quantity.to_string(),
            ready_on: w.finish.to_string(),
        },
        PromiseSource::ProjectSlot(b) => wit::Source {
            kind: "project_slot".into(),
            origin_id: b.role.to_string(),
            quantity: b.hours.to_string(),
            ready_on: b.finish.to_string(),
        },
    }
}

fn to_wit(p: &OrderPromise, promise_json: String) -> wit::OrderPromise {
    wit::OrderPromise {
        today: p.today.to_string(),
        complete: p.complete,
        complete_by: p.complete_by.map(|d| d.to_string()),
        lines: p
            .lines
            .iter()
            .map(|l| wit::LinePromise {
                line_id: l.line_id.to_string(),
                product_id: l.product.to_string(),
                status: snake(&l.status),
                quantity: l.quantity.to_string(),
                promised_quantity: l.promised_quantity.to_string(),
                shortfall: l.shortfall.to_string(),
                promised_date: l.promised_date.map(|d| d.to_string()),
                sources: l.sources.iter().map(source).collect(),
                explanation: l.explanation.clone(),
            })
            .collect(),
        promise_json,
    }
}
