//! The WIT export `sales:orchestration/pricing@0.1.0` (world
//! `pricing-provider` in `wit/pricing.wit`), for the order orchestrator to
//! plug in at build time. It prices exactly like `POST /api/v1/pricing/price`
//! ([`crate::price::price_basket`]), without authentication: the caller is
//! a component of the same application that has authenticated its own
//! request. The conversion between WIT records and the wire/domain types
//! happens here and nowhere else.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::ids::{CustomerId, ProductId};
use sales_domain::money::{Currency, Money};
use sales_domain::pricing::{AdjustmentKind, LineFlag, LineKind, PricedBasket};
use sales_kit::ApiError;

use crate::price::{price_basket, BasketBody, LineBody};

spin_sdk::wit_bindgen::generate!({
    world: "pricing-provider",
    path: "../../wit",
    runtime_path: "spin_sdk::wit_bindgen::rt",
});

use exports::sales::orchestration::pricing as wit;
use sales::orchestration::types::Money as WitMoney;

struct Pricing;

export!(Pricing);

impl wit::Guest for Pricing {
    fn price_basket(basket: wit::Basket) -> Result<wit::PricedBasket, wit::PricingError> {
        let body = to_body(basket).map_err(problem)?;
        // Called only from the orders component it is composed into, which
        // opened and migrated the same database for this request: no
        // schema check of its own (one `PRAGMA user_version` fewer per
        // submission, as the availability and approvals plugs, issue 7).
        let db = sales_kit::spin::SpinDb::open_default().map_err(problem)?;
        let today = chrono::Utc::now().date_naive();
        let cache = sales_kit::spin::KvCache::open_default();
        let priced = price_basket(&db, &cache, &body, today).map_err(problem)?;
        to_wit(&priced).map_err(problem)
    }
}

fn problem(e: ApiError) -> wit::PricingError {
    let p = wit::Problem {
        code: e.code().to_owned(),
        field: e.field().map(str::to_owned),
        detail: e.detail().to_owned(),
    };
    if e.status() < 500 {
        wit::PricingError::Invalid(p)
    } else {
        wit::PricingError::Failed(p)
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

fn to_body(b: wit::Basket) -> Result<BasketBody, ApiError> {
    let lines = b
        .lines
        .into_iter()
        .enumerate()
        .map(|(n, l)| {
            Ok(LineBody {
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
                uom: l.uom,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(BasketBody {
        customer_id: parse(|| "customer_id".into(), &b.customer_id, CustomerId::parse)?,
        channel_code: b.channel_code,
        currency: parse(|| "currency".into(), &b.currency, Currency::from_code)?,
        date: b
            .date
            .map(|d| parse(|| "date".into(), &d, NaiveDate::from_str))
            .transpose()?,
        coupon_codes: b.coupon_codes,
        lines,
    })
}

fn money(m: &Money) -> WitMoney {
    WitMoney {
        amount: m.amount().to_string(),
        currency: m.currency().code().to_owned(),
    }
}

fn kind(k: &AdjustmentKind) -> &'static str {
    match k {
        AdjustmentKind::DiscountPercent { .. } => "discount_percent",
        AdjustmentKind::DiscountAmount => "discount_amount",
        AdjustmentKind::FixedRate => "fixed_rate",
        AdjustmentKind::MarkupOnCost { .. } => "markup_on_cost",
        AdjustmentKind::Schedule { .. } => "schedule",
        AdjustmentKind::FreeItem => "free_item",
    }
}

fn flag(f: &LineFlag) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "flag".to_owned())
}

fn to_wit(p: &PricedBasket) -> Result<wit::PricedBasket, ApiError> {
    let waterfall_json = p
        .to_json_string()
        .map_err(|e| ApiError::internal(format!("failed to serialise the priced basket: {e}")))?;
    Ok(wit::PricedBasket {
        currency: p.currency.code().to_owned(),
        lines: p
            .lines
            .iter()
            .map(|l| wit::PricedLine {
                line_no: l.line_no,
                free_item_rule: match &l.kind {
                    LineKind::Requested => None,
                    LineKind::FreeItem { rule, .. } => Some(rule.to_string()),
                },
                product_id: l.product.to_string(),
                uom: l.uom.to_string(),
                quantity: l.quantity.to_string(),
                price_list_id: l.price_source.price_list.to_string(),
                list_price: money(&l.list_price),
                adjustments: l
                    .adjustments
                    .iter()
                    .map(|a| wit::Adjustment {
                        rule_id: a.rule.to_string(),
                        rule_name: a.rule_name.clone(),
                        kind: kind(&a.kind).to_owned(),
                        amount_per_unit: money(&a.amount_per_unit),
                        unit_price_after: money(&a.unit_price_after),
                    })
                    .collect(),
                net_unit_price: money(&l.net_unit_price),
                net_total: money(&l.net_total),
                tax_total: money(&l.tax_total),
                gross_total: money(&l.gross_total),
                margin: money(&l.margin.amount),
                flags: l.flags.iter().map(flag).collect(),
            })
            .collect(),
        tax_breakdown: p
            .tax_breakdown
            .iter()
            .map(|t| wit::TaxLine {
                code: t.code.clone(),
                rate_percent: t.rate_percent.to_string(),
                amount: money(&t.amount),
            })
            .collect(),
        totals: wit::Totals {
            list_total: money(&p.totals.list_total),
            discount_total: money(&p.totals.discount_total),
            net_total: money(&p.totals.net_total),
            tax_total: money(&p.totals.tax_total),
            gross_total: money(&p.totals.gross_total),
        },
        requires_approval: p.requires_approval,
        waterfall_json,
    })
}
