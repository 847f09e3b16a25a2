//! Shop orders as Shopify (`orders/create`) and WooCommerce
//! (`order.created`) send them, read into one platform-neutral
//! [`ShopOrder`]: who bought (the shop's customer id and e-mail), each
//! line's SKU, quantity and what the shop charged — list total before
//! discounts, net total after them, tax — all excluding tax, in the
//! order's currency.
//!
//! - Shopify: `price` is the unit price (tax included when
//!   `taxes_included`), `total_discount` (or the sum of
//!   `discount_allocations`) the line's discount, `tax_lines[].price` its
//!   tax; the customer is `customer.id` / `customer.email` (else `email`).
//! - WooCommerce: `subtotal` is the line before discounts and `total`
//!   after them, both excluding tax (WooCommerce stores line totals ex
//!   tax whatever `prices_include_tax` says), `total_tax` its tax; the
//!   customer is `customer_id` (0 for a guest) and `billing.email`.
//!
//! Unknown fields are ignored: both platforms add fields over time and the
//! raw payload is kept anyway.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::IntegrationError;

/// Where a shop order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Shopify,
    WooCommerce,
}

impl Platform {
    /// The `external_source` of its customers and the inbound log's source.
    pub fn source(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::WooCommerce => "woocommerce",
        }
    }
}

impl Platform {
    /// `shopify` or `woocommerce`.
    pub fn parse(s: &str) -> Option<Platform> {
        match s {
            "shopify" => Some(Platform::Shopify),
            "woocommerce" => Some(Platform::WooCommerce),
            _ => None,
        }
    }

    /// The header naming the shop a delivery comes from
    /// (`X-Shopify-Shop-Domain`, `X-WC-Webhook-Source`).
    pub fn shop_header(self) -> &'static str {
        match self {
            Platform::Shopify => "x-shopify-shop-domain",
            Platform::WooCommerce => "x-wc-webhook-source",
        }
    }

    /// A shop as the platform's header names it, in one spelling: a
    /// Shopify shop is its `*.myshopify.com`-style host name (lower case,
    /// no scheme), a WooCommerce site the site URL its deliveries carry
    /// (`http(s)://host/path`, lower case, no trailing `/`). `field`
    /// names the input in errors.
    pub fn normalize_shop(self, field: &str, raw: &str) -> Result<String, IntegrationError> {
        let s = raw.trim().to_ascii_lowercase();
        let bad = |why: &str| IntegrationError::new(field, why.to_owned());
        if s.is_empty() || s.len() > 200 {
            return Err(bad("1 to 200 characters"));
        }
        let host_ok = |h: &str| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
        };
        match self {
            Platform::Shopify => {
                if !host_ok(&s) || s.contains(':') {
                    return Err(bad(
                        "the shop's host name as Shopify sends it in X-Shopify-Shop-Domain \
                         (example.myshopify.com)",
                    ));
                }
                Ok(s)
            }
            Platform::WooCommerce => {
                let rest = s
                    .strip_prefix("https://")
                    .or_else(|| s.strip_prefix("http://"))
                    .ok_or_else(|| {
                        bad(
                            "the site URL as WooCommerce sends it in X-WC-Webhook-Source \
                             (https://shop.example.com/)",
                        )
                    })?;
                let host = rest.split('/').next().unwrap_or("");
                if !host_ok(host) || s.contains(['?', '#', '@', ' ']) {
                    return Err(bad("an http(s) site URL with a host and no query"));
                }
                Ok(s.trim_end_matches('/').to_owned())
            }
        }
    }
}

/// A shop connection's code: 1 to 30 of `a-z`, `0-9`, `-`, `_`. The
/// shop's system name — the inbound log's source, its customers'
/// `external_ids` key, its orders' external references — is
/// `{platform}.{code}` ([`shop_system`]).
pub fn check_shop_code(field: &str, code: &str) -> Result<String, IntegrationError> {
    let c = code.trim();
    let ok = (1..=30).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
    if ok {
        Ok(c.to_owned())
    } else {
        Err(IntegrationError::new(
            field,
            "1 to 30 of a-z, 0-9, '-' or '_'",
        ))
    }
}

/// `shopify.eu-store`: the system name of a connected shop.
pub fn shop_system(platform: Platform, code: &str) -> String {
    format!("{}.{code}", platform.source())
}

/// A shop's order, platform-neutral. Amounts exclude tax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopOrder {
    pub platform: Platform,
    /// The shop's order id.
    pub external_id: String,
    /// What the shop shows (`#1001`, `1001`).
    pub number: String,
    pub currency: String,
    pub customer_external_id: Option<String>,
    pub email: Option<String>,
    pub customer_name: String,
    pub lines: Vec<ShopLine>,
    /// The order's total as the shop charged it, tax included.
    pub total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopLine {
    /// `line_items[3]`, for reasons that name the line.
    pub field: String,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: Decimal,
    /// Before discounts, excluding tax.
    pub list_total: Decimal,
    /// After discounts, excluding tax.
    pub net_total: Decimal,
    pub tax_total: Decimal,
}

impl ShopLine {
    pub fn list_unit(&self) -> Decimal {
        self.list_total / self.quantity
    }
    pub fn net_unit(&self) -> Decimal {
        self.net_total / self.quantity
    }
}

/// Shopify's order webhook body (the fields read).
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyOrder {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub currency: String,
    #[serde(default)]
    pub taxes_included: bool,
    pub total_price: Decimal,
    #[serde(default)]
    pub customer: Option<ShopifyCustomer>,
    pub line_items: Vec<ShopifyLine>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyCustomer {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyLine {
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    pub quantity: Decimal,
    pub price: Decimal,
    #[serde(default)]
    pub total_discount: Option<Decimal>,
    #[serde(default)]
    pub discount_allocations: Vec<ShopifyAmount>,
    #[serde(default)]
    pub tax_lines: Vec<ShopifyTaxLine>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyAmount {
    pub amount: Decimal,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyTaxLine {
    pub price: Decimal,
}

/// WooCommerce's order webhook body (the fields read).
#[derive(Debug, Clone, Deserialize)]
pub struct WooOrder {
    pub id: u64,
    #[serde(default)]
    pub number: Option<String>,
    pub currency: String,
    pub total: Decimal,
    #[serde(default)]
    pub customer_id: Option<u64>,
    #[serde(default)]
    pub billing: Option<WooBilling>,
    pub line_items: Vec<WooLine>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WooBilling {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WooLine {
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub quantity: Decimal,
    pub subtotal: Decimal,
    pub total: Decimal,
    #[serde(default)]
    pub total_tax: Decimal,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn name_of(first: Option<String>, last: Option<String>, fallback: &str) -> String {
    let n = [non_empty(first), non_empty(last)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if n.is_empty() {
        fallback.to_owned()
    } else {
        n
    }
}

fn check_line(line: &ShopLine) -> Result<(), IntegrationError> {
    if line.quantity <= Decimal::ZERO {
        return Err(IntegrationError::new(
            format!("{}.quantity", line.field),
            "must be greater than zero",
        ));
    }
    for (what, v) in [
        ("list total", line.list_total),
        ("net total", line.net_total),
        ("tax", line.tax_total),
    ] {
        if v < Decimal::ZERO {
            return Err(IntegrationError::new(
                line.field.clone(),
                format!("the {what} must not be negative"),
            ));
        }
    }
    Ok(())
}

fn check(order: ShopOrder) -> Result<ShopOrder, IntegrationError> {
    if order.lines.is_empty() {
        return Err(IntegrationError::new(
            "line_items",
            "an order needs at least one line",
        ));
    }
    for l in &order.lines {
        check_line(l)?;
    }
    Ok(order)
}

impl TryFrom<ShopifyOrder> for ShopOrder {
    type Error = IntegrationError;
    fn try_from(o: ShopifyOrder) -> Result<ShopOrder, IntegrationError> {
        let taxes_included = o.taxes_included;
        let lines = o
            .line_items
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let gross = l.price * l.quantity;
                let tax: Decimal = l.tax_lines.iter().map(|t| t.price).sum();
                let discount = match l.total_discount {
                    Some(d) if !d.is_zero() => d,
                    _ => l.discount_allocations.iter().map(|a| a.amount).sum(),
                };
                let list_total = if taxes_included { gross - tax } else { gross };
                ShopLine {
                    field: format!("line_items[{i}]"),
                    sku: non_empty(l.sku),
                    title: l.title.unwrap_or_default(),
                    quantity: l.quantity,
                    list_total,
                    net_total: list_total - discount,
                    tax_total: tax,
                }
            })
            .collect();
        let (customer_external_id, customer_email, first, last) = match o.customer {
            Some(c) => (
                c.id.map(|i| i.to_string()),
                c.email,
                c.first_name,
                c.last_name,
            ),
            None => (None, None, None, None),
        };
        let email = non_empty(customer_email).or(non_empty(o.email));
        let fallback = email.clone().unwrap_or_else(|| "Shopify customer".into());
        check(ShopOrder {
            platform: Platform::Shopify,
            external_id: o.id.to_string(),
            number: non_empty(o.name).unwrap_or_else(|| o.id.to_string()),
            currency: o.currency,
            customer_external_id,
            customer_name: name_of(first, last, &fallback),
            email,
            lines,
            total: o.total_price,
        })
    }
}

impl TryFrom<WooOrder> for ShopOrder {
    type Error = IntegrationError;
    fn try_from(o: WooOrder) -> Result<ShopOrder, IntegrationError> {
        let lines = o
            .line_items
            .into_iter()
            .enumerate()
            .map(|(i, l)| ShopLine {
                field: format!("line_items[{i}]"),
                sku: non_empty(l.sku),
                title: l.name.unwrap_or_default(),
                quantity: l.quantity,
                list_total: l.subtotal,
                net_total: l.total,
                tax_total: l.total_tax,
            })
            .collect();
        let (first, last, email) = match o.billing {
            Some(b) => (b.first_name, b.last_name, b.email),
            None => (None, None, None),
        };
        let email = non_empty(email);
        let fallback = email
            .clone()
            .unwrap_or_else(|| "WooCommerce customer".into());
        check(ShopOrder {
            platform: Platform::WooCommerce,
            external_id: o.id.to_string(),
            number: non_empty(o.number).unwrap_or_else(|| o.id.to_string()),
            currency: o.currency,
            // 0 is WooCommerce's guest checkout.
            customer_external_id: o.customer_id.filter(|i| *i != 0).map(|i| i.to_string()),
            customer_name: name_of(first, last, &fallback),
            email,
            lines,
            total: o.total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn shopify(taxes_included: bool) -> ShopifyOrder {
        ShopifyOrder {
            id: 820982911946154508,
            name: Some("#9999".into()),
            email: Some("jon@example.com".into()),
            currency: "USD".into(),
            taxes_included,
            total_price: dec!(403.00),
            customer: Some(ShopifyCustomer {
                id: Some(115310627314723954),
                email: None,
                first_name: Some("John".into()),
                last_name: Some("Smith".into()),
            }),
            line_items: vec![ShopifyLine {
                sku: Some("IPOD2008PINK".into()),
                title: Some("IPod Nano - 8gb".into()),
                quantity: dec!(2),
                price: dec!(199.00),
                total_discount: Some(dec!(10.00)),
                discount_allocations: vec![],
                tax_lines: vec![ShopifyTaxLine { price: dec!(15.00) }],
            }],
        }
    }

    #[test]
    fn shopify_prices_exclude_tax_when_taxes_are_added() {
        let o = ShopOrder::try_from(shopify(false)).unwrap();
        let l = &o.lines[0];
        assert_eq!(l.list_total, dec!(398.00));
        assert_eq!(l.net_total, dec!(388.00));
        assert_eq!(l.tax_total, dec!(15.00));
        assert_eq!(
            o.customer_external_id.as_deref(),
            Some("115310627314723954")
        );
        assert_eq!(o.email.as_deref(), Some("jon@example.com"));
        assert_eq!(o.customer_name, "John Smith");
    }

    #[test]
    fn shopify_tax_is_taken_out_of_tax_included_prices() {
        let o = ShopOrder::try_from(shopify(true)).unwrap();
        assert_eq!(o.lines[0].list_total, dec!(383.00));
        assert_eq!(o.lines[0].net_total, dec!(373.00));
    }

    #[test]
    fn a_woocommerce_guest_has_no_customer_id() {
        let o = ShopOrder::try_from(WooOrder {
            id: 727,
            number: Some("727".into()),
            currency: "EUR".into(),
            total: dec!(29.35),
            customer_id: Some(0),
            billing: Some(WooBilling {
                first_name: Some("Jane".into()),
                last_name: None,
                email: Some("jane@example.com".into()),
            }),
            line_items: vec![WooLine {
                sku: Some("".into()),
                name: Some("Woo Single #1".into()),
                quantity: dec!(2),
                subtotal: dec!(6.00),
                total: dec!(6.00),
                total_tax: dec!(0.45),
            }],
        })
        .unwrap();
        assert_eq!(o.customer_external_id, None);
        assert_eq!(o.lines[0].sku, None);
        assert_eq!(o.customer_name, "Jane");
    }

    #[test]
    fn shops_are_named_in_one_spelling_and_bad_names_refused() {
        let s = Platform::Shopify;
        assert_eq!(
            s.normalize_shop("shop", " Example.MyShopify.com ").unwrap(),
            "example.myshopify.com"
        );
        assert!(s
            .normalize_shop("shop", "https://example.myshopify.com")
            .is_err());
        let w = Platform::WooCommerce;
        assert_eq!(
            w.normalize_shop("shop", "https://Shop.Example.com/")
                .unwrap(),
            "https://shop.example.com"
        );
        assert!(w.normalize_shop("shop", "shop.example.com").is_err());
        assert!(w.normalize_shop("shop", "https://a.com/?x=1").is_err());
        assert_eq!(check_shop_code("code", "eu-store").unwrap(), "eu-store");
        assert!(check_shop_code("code", "EU store").is_err());
        assert_eq!(shop_system(w, "outlet"), "woocommerce.outlet");
    }

    #[test]
    fn a_zero_quantity_names_the_line() {
        let mut s = shopify(false);
        s.line_items[0].quantity = dec!(0);
        let e = ShopOrder::try_from(s).unwrap_err();
        assert_eq!(e.field, "line_items[0].quantity");
    }
}
