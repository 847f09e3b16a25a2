//! Wire shapes: query parameters in, figures out. Amounts are decimal
//! strings with the report's currency (at least two decimals), quantities
//! decimal strings.

use rust_decimal::Decimal;
use sales_domain::analytics::{change_percent, from_e4, percent};
use sales_store::analytics::Measures;
use serde::Deserialize;
use serde_json::{json, Value};

/// The filters every sales report takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Filters {
    pub from: Option<String>,
    pub to: Option<String>,
    pub currency: Option<String>,
    pub channel_id: Option<String>,
    pub territory_id: Option<String>,
    pub customer_group_id: Option<String>,
    pub item_group_id: Option<String>,
    pub product_id: Option<String>,
    pub granularity: Option<String>,
    pub dimension: Option<String>,
    pub limit: Option<u32>,
}

pub(crate) fn money(amount: Decimal, currency: &str) -> Value {
    let mut a = amount;
    if a.scale() < 2 {
        a.rescale(2);
    }
    json!({ "amount": a.to_string(), "currency": currency })
}

pub(crate) fn quantity(milli: i64) -> String {
    Decimal::new(milli, 3).normalize().to_string()
}

/// The figures of a set of booked orders.
pub(crate) fn figures(m: &Measures, currency: &str) -> Value {
    let revenue = from_e4(m.net_e4);
    let margin = from_e4(m.margin_e4);
    let average = if m.orders > 0 {
        (revenue / Decimal::from(m.orders)).round_dp(2)
    } else {
        Decimal::ZERO
    };
    json!({
        "orders": m.orders,
        "quantity": quantity(m.quantity_milli),
        "revenue": money(revenue, currency),
        "margin": money(margin, currency),
        "margin_percent": percent(margin, revenue).map(|p| p.to_string()),
        "average_order_value": money(average, currency),
    })
}

/// Change of revenue, margin and orders against the previous period.
pub(crate) fn change(now: &Measures, before: &Measures) -> Value {
    let pct =
        |a: i64, b: i64| change_percent(Decimal::from(a), Decimal::from(b)).map(|p| p.to_string());
    json!({
        "revenue_percent": pct(now.net_e4, before.net_e4),
        "margin_percent": pct(now.margin_e4, before.margin_e4),
        "orders_percent": pct(now.orders, before.orders),
    })
}
