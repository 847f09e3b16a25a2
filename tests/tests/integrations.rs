//! End to end: the integration hub (issue #9) through the runner and the
//! real components — signed shop webhooks in (Shopify `orders/create`,
//! WooCommerce `order.created`, payloads shaped as the platforms document
//! them), signed webhooks out (verified by the `standardwebhooks` library
//! from PyPI in a loopback receiver, which also fails the first attempts),
//! automations, and bad input.
//!
//! The receiver is a small Python script (below) run from a venv under
//! `target/standardwebhooks-venv`, created with `pip install
//! standardwebhooks` on first use, like `scripts/fuzz-api` installs
//! schemathesis.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![recursion_limit = "256"]

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use sales_domain::integrations::signature::{new_secret, shop_signature, standard_sign};
use sales_e2e::{workspace_root, RedisServer, Reply, TestApp};
use serde_json::{json, Value};

const SHOPIFY_SECRET: &str = "shpss_test_secret_0123456789";
const WOO_SECRET: &str = "woo-test-secret";

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

/// An app with both shops configured and webhooks allowed to loopback,
/// retried quickly; `extra` adds variables.
async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("shopify_webhook_secret", SHOPIFY_SECRET),
        ("woocommerce_webhook_secret", WOO_SECRET),
        ("webhook_allowed_hosts", "http://127.0.0.1:*"),
        ("webhook_retry_base_ms", "200"),
        ("webhook_retry_cap_ms", "1000"),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars)
        .await
        .expect("failed to start the app")
}

/// The WEB channel (paid on order) and two products sold by SKU.
async fn shop_world(app: &TestApp) -> (String, String) {
    app.create(
        "/api/v1/channels",
        json!({ "code": "WEB", "name": "Web shop", "kind": "b2c", "mode": "online",
                "currency": "EUR", "tax_mode": "exclusive", "paid_on_order": true }),
    )
    .await
    .unwrap();
    let mut skus = Vec::new();
    for name in ["Pink iPod", "Charger"] {
        let sku = app.code("SKU");
        app.create_product(
            json!({ "sku": sku, "name": name, "uom": "pcs", "kind": "stocked",
                                   "standard_cost": eur("1.00") }),
        )
        .await
        .unwrap();
        skus.push(sku);
    }
    (skus[0].clone(), skus[1].clone())
}

/// A Shopify `orders/create` body as Shopify's documentation shows it
/// (the fields we read and many we do not).
fn shopify_order(order_id: u64, customer_id: u64, email: &str, sku_a: &str, sku_b: &str) -> Value {
    json!({
        "id": order_id,
        "admin_graphql_api_id": format!("gid://shopify/Order/{order_id}"),
        "app_id": null,
        "browser_ip": "216.191.105.146",
        "buyer_accepts_marketing": false,
        "cancel_reason": null,
        "cancelled_at": null,
        "confirmed": true,
        "contact_email": email,
        "created_at": "2026-11-27T06:10:17-05:00",
        "currency": "EUR",
        "current_subtotal_price": "398.00",
        "current_total_discounts": "10.00",
        "current_total_price": "432.72",
        "current_total_tax": "73.72",
        "email": email,
        "financial_status": "paid",
        "fulfillment_status": null,
        "name": "#9999",
        "note": null,
        "order_number": 1000 + order_id % 1000,
        "presentment_currency": "EUR",
        "processed_at": "2026-11-27T06:10:17-05:00",
        "source_name": "web",
        "subtotal_price": "388.00",
        "tags": "",
        "taxes_included": false,
        "test": true,
        "total_discounts": "10.00",
        "total_line_items_price": "398.00",
        "total_price": "461.72",
        "total_tax": "73.72",
        "total_weight": 0,
        "billing_address": { "first_name": "Bob", "last_name": "Norman", "address1": "Chestnut Street 92",
                             "city": "Louisville", "zip": "40202", "country": "United States",
                             "country_code": "US" },
        "customer": {
            "id": customer_id,
            "email": email,
            "created_at": "2026-11-27T06:10:17-05:00",
            "first_name": "Bob",
            "last_name": "Norman",
            "state": "enabled",
            "verified_email": true,
            "currency": "EUR",
            "admin_graphql_api_id": format!("gid://shopify/Customer/{customer_id}")
        },
        "discount_codes": [{ "code": "TENOFF", "amount": "10.00", "type": "fixed_amount" }],
        "line_items": [
            {
                "id": 866550311766439020u64,
                "admin_graphql_api_id": "gid://shopify/LineItem/866550311766439020",
                "fulfillable_quantity": 1,
                "fulfillment_service": "manual",
                "gift_card": false,
                "grams": 567,
                "name": "IPod Nano - 8GB",
                "price": "199.00",
                "price_set": { "shop_money": { "amount": "199.00", "currency_code": "EUR" } },
                "product_exists": true,
                "product_id": 632910392,
                "quantity": 1,
                "requires_shipping": true,
                "sku": sku_a,
                "taxable": true,
                "title": "IPod Nano - 8GB",
                "total_discount": "10.00",
                "variant_id": 808950810,
                "variant_title": null,
                "vendor": null,
                "tax_lines": [{ "channel_liable": null, "price": "35.91", "rate": 0.19, "title": "VAT" }],
                "discount_allocations": [{ "amount": "10.00", "discount_application_index": 0 }]
            },
            {
                "id": 141249953214522974u64,
                "name": "Charger",
                "price": "199.00",
                "product_id": 632910393,
                "quantity": 1,
                "sku": sku_b,
                "taxable": true,
                "title": "Charger",
                "total_discount": "0.00",
                "variant_id": 808950811,
                "tax_lines": [{ "price": "37.81", "rate": 0.19, "title": "VAT" }],
                "discount_allocations": []
            }
        ],
        "shipping_lines": [{ "id": 271878346596884015u64, "code": "Standard", "price": "29.00",
                             "title": "Standard", "tax_lines": [] }]
    })
}

/// A WooCommerce `order.created` body as WooCommerce's REST API v3 shows
/// an order.
fn woo_order(order_id: u64, email: &str, lines: Value) -> Value {
    json!({
        "id": order_id,
        "parent_id": 0,
        "number": order_id.to_string(),
        "order_key": "wc_order_58d2d042d1d",
        "created_via": "checkout",
        "version": "8.3.0",
        "status": "processing",
        "currency": "EUR",
        "date_created": "2026-11-27T06:10:17",
        "date_created_gmt": "2026-11-27T11:10:17",
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "10.00",
        "shipping_tax": "0.00",
        "cart_tax": "1.35",
        "total": "29.35",
        "total_tax": "1.35",
        "prices_include_tax": false,
        "customer_id": 0,
        "customer_ip_address": "",
        "customer_user_agent": "",
        "customer_note": "",
        "billing": { "first_name": "John", "last_name": "Doe", "company": "", "address_1": "969 Market",
                     "address_2": "", "city": "San Francisco", "state": "CA", "postcode": "94103",
                     "country": "US", "email": email, "phone": "(555) 555-5555" },
        "shipping": { "first_name": "John", "last_name": "Doe", "address_1": "969 Market",
                      "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US" },
        "payment_method": "bacs",
        "payment_method_title": "Direct Bank Transfer",
        "transaction_id": "",
        "date_paid": "2026-11-27T06:10:18",
        "meta_data": [],
        "line_items": lines,
        "tax_lines": [{ "id": 318, "rate_code": "US-CA-STATE TAX", "rate_id": 75, "label": "State Tax",
                        "compound": false, "tax_total": "1.35", "shipping_tax_total": "0.00" }],
        "shipping_lines": [{ "id": 317, "method_title": "Flat Rate", "method_id": "flat_rate",
                             "total": "10.00", "total_tax": "0.00", "taxes": [] }],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": []
    })
}

fn woo_line(n: u64, sku: &str, quantity: u64, subtotal: &str, total: &str, tax: &str) -> Value {
    json!({
        "id": 315 + n, "name": format!("Woo Single #{n}"), "product_id": 93, "variation_id": 0,
        "quantity": quantity, "tax_class": "", "subtotal": subtotal, "subtotal_tax": tax,
        "total": total, "total_tax": tax,
        "taxes": [{ "id": 75, "total": tax, "subtotal": tax }],
        "meta_data": [], "sku": sku, "price": 3
    })
}

async fn hook(app: &TestApp, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
    app.call_raw(
        Method::POST,
        path,
        "application/json",
        body.to_vec(),
        headers,
    )
    .await
    .unwrap()
}

async fn shopify(app: &TestApp, body: &Value, webhook_id: &str) -> Reply {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = shop_signature(SHOPIFY_SECRET, &raw).unwrap();
    hook(
        app,
        "/hooks/shopify",
        &raw,
        &[
            ("x-shopify-hmac-sha256", &sig),
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-webhook-id", webhook_id),
            ("x-shopify-shop-domain", "example.myshopify.com"),
        ],
    )
    .await
}

async fn woocommerce(app: &TestApp, body: &Value, delivery: &str) -> Reply {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = shop_signature(WOO_SECRET, &raw).unwrap();
    hook(
        app,
        "/hooks/woocommerce",
        &raw,
        &[
            ("x-wc-webhook-signature", &sig),
            ("x-wc-webhook-topic", "order.created"),
            ("x-wc-webhook-delivery-id", delivery),
            ("x-wc-webhook-source", "https://shop.example.com/"),
        ],
    )
    .await
}

/// Asserts the problem and answers its `field`.
fn problem_field(r: &Reply, status: u16, code: &str) -> Value {
    r.assert_problem(status, code);
    r.body["field"].clone()
}

/// GET `path`, which must answer 200: its body.
async fn fetch(app: &TestApp, path: &str) -> Value {
    app.get(path).await.unwrap().assert_status(200).clone()
}

/// Asserts that a webhook's `reply` created something (201) and fetches the
/// order it names: the reply's body and the order.
async fn created_order(app: &TestApp, reply: Reply) -> (Value, Value) {
    let body = reply.assert_status(201).clone();
    let order = fetch(
        app,
        &format!("/api/v1/orders/{}", body["order_id"].as_str().unwrap()),
    )
    .await;
    (body, order)
}

async fn count(app: &TestApp, path: &str) -> usize {
    app.count(path).await.unwrap()
}

async fn items(app: &TestApp, path: &str) -> Vec<Value> {
    app.get(path).await.unwrap().assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_order_becomes_one_confirmed_paid_order_at_the_shops_prices() {
    let app = app_with(&[]).await;
    let (sku_a, sku_b) = shop_world(&app).await;
    let body = shopify_order(
        820982911946154508,
        115310627314723954,
        "bob@example.com",
        &sku_a,
        &sku_b,
    );

    let reply = shopify(&app, &body, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043").await;
    let (created, order) = created_order(&app, reply).await;
    assert_eq!(created["outcome"], "created", "{created}");
    assert_eq!(order["status"], "confirmed", "{order}");
    assert_eq!(order["number"], created["order_number"]);
    // What the shop charged: 199 − 10 discount + 35.91 tax; 199 + 37.81.
    let lines = order["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["pricing"]["net_total"]["amount"], "189.00");
    assert_eq!(lines[0]["pricing"]["tax_total"]["amount"], "35.91");
    assert_eq!(lines[1]["pricing"]["net_total"]["amount"], "199.00");
    assert_eq!(lines[1]["pricing"]["tax_total"]["amount"], "37.81");
    assert_eq!(order["totals"]["grand_total"]["amount"], "461.72");
    // A shop order arrives paid.
    assert_eq!(order["paid_amount"], "461.72", "{order}");
    // The customer was created with the shop's id and e-mail.
    let customer = fetch(
        &app,
        &format!(
            "/api/v1/customers/{}",
            order["customer_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(customer["email"], "bob@example.com");
    assert_eq!(
        customer["external_ids"]["shopify"], "115310627314723954",
        "{customer}"
    );

    // The same platform event again (Shopify retries): one order.
    let again = shopify(&app, &body, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043").await;
    let dup = again.assert_status(200).clone();
    assert_eq!(dup["outcome"], "duplicate");
    assert_eq!(dup["order_id"], created["order_id"]);
    assert_eq!(count(&app, "/api/v1/orders").await, 1);

    // A second order of the same customer finds them by the shop's id.
    let second = shopify_order(
        820982911946154509,
        115310627314723954,
        "bob@example.com",
        &sku_a,
        &sku_b,
    );
    let (_, o2) = created_order(
        &app,
        shopify(&app, &second, "c0ffee00-0000-4000-8000-000000000002").await,
    )
    .await;
    assert_eq!(o2["customer_id"], order["customer_id"]);
    assert_eq!(count(&app, "/api/v1/customers").await, 1);

    // Every call is logged with its outcome, the raw payload kept.
    let log = items(&app, "/api/v1/inbound-events?source=shopify").await;
    let outcomes: Vec<&str> = log.iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["created", "duplicate", "created"]);
    assert_eq!(log[1]["duplicate_of"], log[0]["id"]);
    let first = fetch(&app, &format!("/api/v1/inbound-events/{}", id(&log[0]))).await;
    let kept: Value = serde_json::from_str(first["payload"].as_str().unwrap()).unwrap();
    assert_eq!(kept, body);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_sku_puts_the_woocommerce_order_on_hold_with_the_reason() {
    let app = app_with(&[]).await;
    let (sku_a, _) = shop_world(&app).await;
    let body = woo_order(
        727,
        "john.doe@example.com",
        json!([
            woo_line(1, &sku_a, 2, "6.00", "6.00", "0.45"),
            woo_line(2, "NOT-SOLD-HERE", 1, "12.00", "12.00", "0.90"),
        ]),
    );
    let r = woocommerce(&app, &body, "d1").await;
    let (r, order) = created_order(&app, r).await;
    assert_eq!(r["outcome"], "held", "{r}");
    assert!(
        r["reason"].as_str().unwrap().contains("NOT-SOLD-HERE"),
        "{r}"
    );
    assert_eq!(order["status"], "on_hold", "{order}");
    assert!(order["status_reason"]
        .as_str()
        .unwrap()
        .contains("NOT-SOLD-HERE"));
    // The line it knows is there at the shop's price; nothing was dropped.
    let lines = order["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["quantity"], "2");
    assert_eq!(lines[0]["pricing"]["net_total"]["amount"], "6.00");
    assert_eq!(lines[0]["pricing"]["tax_total"]["amount"], "0.45");
    // A guest: the customer was created from the billing e-mail.
    let customers = items(&app, "/api/v1/customers").await;
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["email"], "john.doe@example.com");

    // Redelivered by WooCommerce under a new delivery id: still one order.
    let again = woocommerce(&app, &body, "d2").await;
    assert_eq!(again.assert_status(200)["outcome"], "duplicate");
    assert_eq!(count(&app, "/api/v1/orders").await, 1);

    // Only unknown SKUs: the order is kept (a draft with the reason).
    let none_known = woo_order(
        728,
        "john.doe@example.com",
        json!([woo_line(1, "GHOST", 1, "5.00", "5.00", "0.00")]),
    );
    let r = woocommerce(&app, &none_known, "d3").await;
    let (r, o) = created_order(&app, r).await;
    assert_eq!(r["outcome"], "held");
    assert_eq!(o["status"], "draft");
    assert!(o["status_reason"].as_str().unwrap().contains("GHOST"));
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_and_bad_input_are_refused_and_write_nothing() {
    // Only Shopify is configured here.
    let app = TestApp::spawn_with(&[("shopify_webhook_secret", SHOPIFY_SECRET)])
        .await
        .unwrap();
    let (sku_a, sku_b) = shop_world(&app).await;
    let body = shopify_order(1, 2, "x@example.com", &sku_a, &sku_b);
    let raw = serde_json::to_vec(&body).unwrap();
    let good = shop_signature(SHOPIFY_SECRET, &raw).unwrap();
    let wrong = shop_signature("another secret", &raw).unwrap();
    let h = |sig: &'static str| sig;
    let _ = h;

    // Wrong secret, a tampered body, no signature, garbage: 401.
    for (sig, payload) in [
        (Some(wrong.as_str()), raw.clone()),
        (Some(good.as_str()), [raw.clone(), b" ".to_vec()].concat()),
        (None, raw.clone()),
        (Some("not base64!"), raw.clone()),
    ] {
        let mut headers = vec![
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-webhook-id", "w1"),
        ];
        if let Some(s) = sig {
            headers.push(("x-shopify-hmac-sha256", s));
        }
        hook(&app, "/hooks/shopify", &payload, &headers)
            .await
            .assert_problem(401, "invalid_signature");
    }
    // Signed, but a header is missing: 400 naming it.
    let r = hook(
        &app,
        "/hooks/shopify",
        &raw,
        &[
            ("x-shopify-hmac-sha256", &good),
            ("x-shopify-webhook-id", "w1"),
        ],
    )
    .await;
    r.assert_problem(400, "missing_header");
    assert_eq!(r.body["field"], "x-shopify-topic");
    let r = hook(
        &app,
        "/hooks/shopify",
        &raw,
        &[
            ("x-shopify-hmac-sha256", &good),
            ("x-shopify-topic", "orders/create"),
        ],
    )
    .await;
    assert_eq!(
        problem_field(&r, 400, "missing_header"),
        "x-shopify-webhook-id"
    );
    // Signed malformed JSON: 400; a required field missing: 422 naming it.
    let bad = b"{\"id\": 1, \"line_items\": [".to_vec();
    let sig = shop_signature(SHOPIFY_SECRET, &bad).unwrap();
    hook(
        &app,
        "/hooks/shopify",
        &bad,
        &[
            ("x-shopify-hmac-sha256", &sig),
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-webhook-id", "w2"),
        ],
    )
    .await
    .assert_problem(400, "malformed_json");
    let mut no_currency = body.clone();
    no_currency.as_object_mut().unwrap().remove("currency");
    let nc = serde_json::to_vec(&no_currency).unwrap();
    let sig = shop_signature(SHOPIFY_SECRET, &nc).unwrap();
    let r = hook(
        &app,
        "/hooks/shopify",
        &nc,
        &[
            ("x-shopify-hmac-sha256", &sig),
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-webhook-id", "w3"),
        ],
    )
    .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.text);
    assert_eq!(r.body["field"], "currency", "{}", r.text);
    // A huge body: 413 before anything is read.
    let huge = vec![b' '; 1024 * 1024 + 1];
    let sig = shop_signature(SHOPIFY_SECRET, &huge).unwrap();
    hook(
        &app,
        "/hooks/shopify",
        &huge,
        &[
            ("x-shopify-hmac-sha256", &sig),
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-webhook-id", "w4"),
        ],
    )
    .await
    .assert_problem(413, "payload_too_large");
    // WooCommerce has no secret here: 503, nothing written.
    hook(
        &app,
        "/hooks/woocommerce",
        &raw,
        &[("x-wc-webhook-signature", &good)],
    )
    .await
    .assert_problem(503, "integration_not_configured");

    // Subscriptions: forbidden schemes and unknown event types, 422
    // naming the field; malformed JSON 400.
    for url in [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://h/",
        "https://user:pw@h/x",
    ] {
        let r = app
            .post(
                "/api/v1/webhook-subscriptions",
                json!({ "url": url, "event_types": ["order.*"] }),
            )
            .await
            .unwrap();
        assert_eq!(problem_field(&r, 422, "invalid_field"), "url", "{url}");
    }
    let r = app
        .post(
            "/api/v1/webhook-subscriptions",
            json!({ "url": "https://h/x", "event_types": ["order.*", "invoice.paid"] }),
        )
        .await
        .unwrap();
    assert_eq!(problem_field(&r, 422, "invalid_field"), "event_types[1]");
    app.call_raw(
        Method::POST,
        "/api/v1/webhook-subscriptions",
        "application/json",
        "{\"url\":",
        &[],
    )
    .await
    .unwrap()
    .assert_problem(400, "malformed_json");
    // Automations: an unknown event, an unknown action, no actions.
    let r = app
        .post(
            "/api/v1/automations",
            json!({ "name": "x", "event": "order.exploded",
            "actions": [{ "type": "hold", "reason": "r" }] }),
        )
        .await
        .unwrap();
    assert_eq!(problem_field(&r, 422, "invalid_field"), "event");
    let r = app
        .post(
            "/api/v1/automations",
            json!({ "name": "x", "event": "order.confirmed",
            "actions": [{ "type": "launch_rocket" }] }),
        )
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 422, "{}", r.text);
    assert!(
        r.body["field"].as_str().unwrap().starts_with("actions"),
        "{}",
        r.text
    );
    let r = app
        .post(
            "/api/v1/automations",
            json!({ "name": "x", "event": "order.confirmed", "actions": [] }),
        )
        .await
        .unwrap();
    assert_eq!(problem_field(&r, 422, "invalid_field"), "actions");
    let r = app
        .post("/api/v1/automations", json!({ "name": "x", "event": "order.confirmed",
            "actions": [{ "type": "webhook", "subscription_id": "01930000-0000-7000-8000-000000000000" }] }))
        .await
        .unwrap();
    assert_eq!(
        problem_field(&r, 422, "unknown_reference"),
        "actions[0].subscription_id"
    );

    // Nothing was written anywhere.
    assert_eq!(count(&app, "/api/v1/orders").await, 0);
    assert_eq!(count(&app, "/api/v1/customers").await, 0);
    assert_eq!(count(&app, "/api/v1/inbound-events").await, 0);
    assert_eq!(count(&app, "/api/v1/webhook-subscriptions").await, 0);
    assert_eq!(count(&app, "/api/v1/automations").await, 0);
    // The management API needs a key, and an admin's.
    app.call_as("", Method::GET, "/api/v1/webhook-subscriptions", None, &[])
        .await
        .unwrap()
        .assert_problem(401, "unauthorized");
    let viewer = app.create_key("viewer", &["viewer"]).await.unwrap();
    app.call_as(&viewer, Method::GET, "/api/v1/automations", None, &[])
        .await
        .unwrap()
        .assert_problem(403, "forbidden");
    app.stop().await.unwrap();
}

// --- the CRM hook ------------------------------------------------------------

async fn crm(app: &TestApp, secret: &str, msg_id: &str, ts: i64, body: &Value) -> Reply {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = standard_sign(secret, msg_id, ts, &raw).unwrap();
    let ts = ts.to_string();
    hook(
        app,
        "/hooks/crm",
        &raw,
        &[
            ("webhook-id", msg_id),
            ("webhook-timestamp", &ts),
            ("webhook-signature", &sig),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_crm_deal_becomes_one_draft_order_for_the_customer_and_sales_person() {
    let secret = new_secret(&[42; 24]);
    let app = TestApp::spawn_with(&[("crm_webhook_secret", &secret), ("crm_creates", "order")])
        .await
        .unwrap();
    app.create(
        "/api/v1/channels",
        json!({ "code": "B2B", "name": "B2B", "kind": "b2b", "mode": "offline",
                "currency": "EUR", "tax_mode": "exclusive" }),
    )
    .await
    .unwrap();
    let (sku, _) = shop_world(&app).await;
    // The sales person the deal names (matched by e-mail, any case).
    app.create(
        "/api/v1/sales-people",
        json!({ "name": "Sam Seller", "email": "sam@example.com" }),
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let deal = json!({
        "type": "deal.won",
        "timestamp": "2026-11-27T07:00:00Z",
        "data": {
            "deal_id": "D-4711",
            "customer": { "external_id": "crm-acme", "email": "buy@acme.example", "name": "ACME Corp" },
            "sales_person_email": "SAM@example.com",
            "currency": "EUR",
            "lines": [{ "sku": sku, "quantity": "3" }]
        }
    });
    let r = crm(&app, &secret, "msg_1", now, &deal).await;
    let (r, order) = created_order(&app, r).await;
    assert_eq!(r["outcome"], "created", "{r}");
    assert_eq!(order["status"], "draft");
    assert_eq!(order["lines"][0]["quantity"], "3");
    let customer = fetch(
        &app,
        &format!(
            "/api/v1/customers/{}",
            order["customer_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(customer["external_ids"]["crm"], "crm-acme");
    // The same deal again: one order. A replay with an old timestamp, a
    // bad signature, a missing header: refused, nothing written.
    crm(&app, &secret, "msg_2", now, &deal)
        .await
        .assert_status(200);
    crm(&app, &secret, "msg_1", now - 301, &deal)
        .await
        .assert_problem(401, "stale_timestamp");
    crm(&app, &new_secret(&[1; 24]), "msg_3", now, &deal)
        .await
        .assert_problem(401, "invalid_signature");
    let raw = serde_json::to_vec(&deal).unwrap();
    let sig = standard_sign(&secret, "m", now, &raw).unwrap();
    let r = hook(
        &app,
        "/hooks/crm",
        &raw,
        &[("webhook-id", "m"), ("webhook-signature", &sig)],
    )
    .await;
    assert_eq!(
        problem_field(&r, 400, "missing_header"),
        "webhook-timestamp"
    );
    let mut bad = deal.clone();
    bad["type"] = json!("deal.lost");
    let r = crm(&app, &secret, "msg_4", now, &bad).await;
    assert_eq!(problem_field(&r, 422, "invalid_field"), "type");
    assert_eq!(count(&app, "/api/v1/orders").await, 1);
    let outcomes: Vec<String> = items(&app, "/api/v1/inbound-events?source=crm")
        .await
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["created", "duplicate"]);

    // An unknown SKU and an unknown sales person: a draft with the reason.
    let mut other = deal.clone();
    other["type"] = json!("quote.requested");
    other["data"]["sales_person_email"] = json!("nobody@example.com");
    other["data"]["lines"] =
        json!([{ "sku": sku, "quantity": "1" }, { "sku": "NOPE", "quantity": "2" }]);
    let r = crm(&app, &secret, "msg_5", now, &other).await;
    let r = r.assert_status(201).clone();
    assert_eq!(r["outcome"], "held");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("NOPE") && reason.contains("nobody@example.com"),
        "{reason}"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_crm_deal_becomes_one_priced_quotation_for_the_customer_and_sales_person() {
    let secret = new_secret(&[43; 24]);
    let app = TestApp::spawn_with(&[("crm_webhook_secret", &secret)])
        .await
        .unwrap();
    app.create(
        "/api/v1/channels",
        json!({ "code": "B2B", "name": "B2B", "kind": "b2b", "mode": "offline",
                "currency": "EUR", "tax_mode": "exclusive" }),
    )
    .await
    .unwrap();
    let sku = app.code("SKU");
    let product = app
        .create_product(
            json!({ "sku": sku, "name": "Gadget", "uom": "pcs", "kind": "stocked",
                                "standard_cost": eur("1.00") }),
        )
        .await
        .unwrap();
    let product_id = id(&product);
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "CRM list", "currency": "EUR", "items": [
            { "product_id": product_id, "uom": "pcs", "rate": "25.00" }
        ]}),
    )
    .await
    .unwrap();
    let sam = app
        .create(
            "/api/v1/sales-people",
            json!({ "name": "Sam Seller", "email": "sam@example.com" }),
        )
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let deal = json!({
        "type": "deal.won",
        "timestamp": "2026-11-27T07:00:00Z",
        "data": {
            "deal_id": "D-900",
            "customer": { "external_id": "crm-globex", "email": "buy@globex.example", "name": "Globex" },
            "sales_person_email": "Sam@Example.com",
            "currency": "EUR",
            "lines": [{ "sku": sku, "quantity": "4" }]
        }
    });
    let r = crm(&app, &secret, "q_1", now, &deal).await;
    let r = r.assert_status(201).clone();
    assert_eq!(r["outcome"], "created", "{r}");
    assert_eq!(r["document_kind"], "quotation", "{r}");
    assert!(r["order_id"].is_null(), "{r}");
    let qid = r["quotation_id"].as_str().unwrap().to_string();
    let q = fetch(&app, &format!("/api/v1/quotations/{qid}")).await;
    assert_eq!(q["number"], r["quotation_number"], "{q}");
    assert_eq!(q["status"], "draft");
    assert_eq!(q["lines"][0]["quantity"], "4");
    assert_eq!(q["totals"]["net_total"], eur("100.00"), "{q}");
    assert_eq!(q["sales_team_source"], "stored", "{q}");
    assert_eq!(q["sales_team"][0]["sales_person_id"], sam["id"], "{q}");
    assert_eq!(q["sales_team"][0]["percentage"], "100", "{q}");
    let customer = fetch(
        &app,
        &format!("/api/v1/customers/{}", q["customer_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(customer["external_ids"]["crm"], "crm-globex");
    // The same deal again (another message id): 200, the same quotation.
    let again = crm(&app, &secret, "q_2", now, &deal).await;
    let again = again.assert_status(200).clone();
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["quotation_id"], qid.as_str());
    assert_eq!(count(&app, "/api/v1/quotations").await, 1);
    assert_eq!(count(&app, "/api/v1/orders").await, 0);

    // An unknown SKU next to a known one: a draft quotation, held, with
    // the reason in the inbound log and the notes.
    let mut held = deal.clone();
    held["type"] = json!("quote.requested");
    held["data"]["lines"] =
        json!([{ "sku": sku, "quantity": "1" }, { "sku": "NOPE", "quantity": "2" }]);
    let r = crm(&app, &secret, "q_3", now, &held).await;
    let r = r.assert_status(201).clone();
    assert_eq!(r["outcome"], "held", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("NOPE"), "{r}");
    let q = fetch(
        &app,
        &format!("/api/v1/quotations/{}", r["quotation_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(q["lines"].as_array().unwrap().len(), 1, "{q}");
    assert!(q["notes"].as_str().unwrap().contains("NOPE"), "{q}");

    // Nothing we sell: no quotation can be made, the draft order on hold.
    let mut none = deal.clone();
    none["data"]["deal_id"] = json!("D-901");
    none["data"]["lines"] = json!([{ "sku": "NOPE", "quantity": "2" }]);
    let r = crm(&app, &secret, "q_4", now, &none).await;
    let r = r.assert_status(201).clone();
    assert_eq!(r["document_kind"], "order", "{r}");
    assert_eq!(r["outcome"], "held", "{r}");
    assert!(r["order_id"].is_string(), "{r}");
    assert_eq!(count(&app, "/api/v1/quotations").await, 2);

    // The chained route is not reachable from outside: the manifest routes
    // it to nobody but the dashboard's catch-all, which takes only GET.
    let raw = serde_json::to_vec(&deal).unwrap();
    let outside = hook(
        &app,
        "/internal/crm-intake",
        &raw,
        &[("spin-raw-component-route", "/...")],
    )
    .await;
    assert_eq!(outside.status, 405, "{}", outside.text);
    assert_eq!(count(&app, "/api/v1/quotations").await, 2);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_crm_creates_setting_is_a_503() {
    let secret = new_secret(&[44; 24]);
    let app = TestApp::spawn_with(&[("crm_webhook_secret", &secret), ("crm_creates", "invoice")])
        .await
        .unwrap();
    let deal = json!({
        "type": "deal.won",
        "data": {
            "deal_id": "D-1", "customer": { "name": "X" }, "currency": "EUR",
            "lines": [{ "sku": "A", "quantity": "1" }]
        }
    });
    crm(&app, &secret, "m_1", chrono::Utc::now().timestamp(), &deal)
        .await
        .assert_problem(503, "integration_not_configured");
    assert_eq!(count(&app, "/api/v1/inbound-events").await, 0);
    app.stop().await.unwrap();
}

// --- the loopback receiver ------------------------------------------------

const RECEIVER: &str = r##"# A loopback webhook receiver for the integration tests. Verifies every
# delivery with the `standardwebhooks` library from PyPI (an independent
# implementation of the Standard Webhooks specification) and records it.
#
#   PUT  /_config/<path>  {"secret": "whsec_...", "fail_first": n}
#        the next n deliveries of each webhook-id to <path> get a 500
#        (-1: every delivery fails)
#   GET  /_log            every delivery received, in order
#   POST /<path>          a delivery: 400 if the signature does not verify,
#                         500 while failing, else 200
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

lock = threading.Lock()
config = {}
received = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_GET(self):
        with lock:
            body = json.dumps(received).encode()
        self.reply(200, body)

    def do_PUT(self):
        path = self.path[len("/_config"):]
        with lock:
            config[path] = json.loads(self.read_body())
        self.reply(204)

    def do_POST(self):
        body = self.read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            cfg = config.get(self.path, {})
        verified, error = False, None
        try:
            Webhook(cfg.get("secret", "whsec_AAAA")).verify(body, headers)
            verified = True
        except Exception as e:  # noqa: BLE001 - any failure is recorded
            error = f"{type(e).__name__}: {e}"
        msg_id = headers.get("webhook-id")
        with lock:
            seen = sum(1 for r in received if r["path"] == self.path and r["id"] == msg_id)
            fail_first = cfg.get("fail_first", 0)
            failing = fail_first < 0 or seen < fail_first
            status = 400 if not verified else (500 if failing else 200)
            received.append({
                "path": self.path,
                "id": msg_id,
                "verified": verified,
                "error": error,
                "status": status,
                "type": json.loads(body).get("type") if verified else None,
                "data": json.loads(body).get("data") if verified else None,
            })
        self.reply(status)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"##;

/// `target/standardwebhooks-venv/bin/python`, created on first use.
fn python() -> PathBuf {
    let root = workspace_root();
    let venv = root.join("target/standardwebhooks-venv");
    let py = venv.join("bin/python");
    let ready = Command::new(&py)
        .args(["-c", "import standardwebhooks"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 must be installed")
            .success();
        assert!(ok, "failed to create the venv");
        let ok = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "standardwebhooks",
            ])
            .status()
            .expect("failed to run pip")
            .success();
        assert!(ok, "pip install standardwebhooks failed");
    }
    py
}

struct Receiver {
    child: Child,
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn start() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("receiver.py");
        std::fs::write(&script, RECEIVER).unwrap();
        let mut child = Command::new(python())
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the receiver prints its port");
        Receiver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn configure(&self, path: &str, secret: &str, fail_first: i64) {
        let r = self
            .client
            .put(format!("{}/_config{path}", self.base))
            .json(&json!({ "secret": secret, "fail_first": fail_first }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }

    async fn log(&self) -> Vec<Value> {
        self.client
            .get(format!("{}/_log", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn subscribe(app: &TestApp, url: &str, types: &[&str]) -> (String, String) {
    let s = app
        .create(
            "/api/v1/webhook-subscriptions",
            json!({ "url": url, "event_types": types }),
        )
        .await
        .unwrap();
    let secret = s["secret"]
        .as_str()
        .expect("the secret is shown once")
        .to_string();
    assert!(secret.starts_with("whsec_"));
    // Never again.
    let again = app
        .get(&format!("/api/v1/webhook-subscriptions/{}", id(&s)))
        .await
        .unwrap();
    assert!(again.assert_status(200).get("secret").is_none());
    (id(&s), secret)
}

/// Polls the delivery log (waking the jobs through Redis) until `done`
/// holds or 30 s pass.
async fn wait_until<F: Fn(&[Value]) -> bool>(
    app: &TestApp,
    redis: Option<&RedisServer>,
    path: &str,
    done: F,
) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let list = items(app, path).await;
        if done(&list) {
            return list;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {list:#?}"
        );
        if let Some(r) = redis {
            r.publish("sales-jobs", "wake").unwrap();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_until_delivered_once_and_parked_ones_are_redelivered() {
    let redis = RedisServer::start().unwrap();
    let receiver = Receiver::start();
    let url = redis.url();
    let app = app_with(&[("redis_address", &url), ("webhook_max_attempts", "3")]).await;
    let (sku_a, sku_b) = shop_world(&app).await;
    let (flaky, flaky_secret) = subscribe(&app, &receiver.url("/flaky"), &["order.*"]).await;
    let (down, down_secret) = subscribe(&app, &receiver.url("/down"), &["order.confirmed"]).await;
    let (_, other_secret) = subscribe(&app, &receiver.url("/quotes"), &["quotation.*"]).await;
    // /flaky fails each message's first two attempts; /down every one.
    receiver.configure("/flaky", &flaky_secret, 2).await;
    receiver.configure("/down", &down_secret, -1).await;
    receiver.configure("/quotes", &other_secret, 0).await;

    // Two shop orders: two order.confirmed events.
    for n in 0..2u64 {
        let body = shopify_order(5000 + n, 77, "eve@example.com", &sku_a, &sku_b);
        shopify(&app, &body, &format!("hook-{n}"))
            .await
            .assert_status(201);
    }
    let flaky_path = format!("/api/v1/webhook-deliveries?subscription_id={flaky}");
    let delivered = wait_until(&app, Some(&redis), &flaky_path, |l| {
        l.len() == 2 && l.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    for d in &delivered {
        assert_eq!(d["attempts"], 3, "{d}");
        assert_eq!(d["topic"], "order.confirmed");
        let detail = fetch(&app, &format!("/api/v1/webhook-deliveries/{}", id(d))).await;
        let codes: Vec<i64> = detail["attempt_log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status_code"].as_i64().unwrap())
            .collect();
        assert_eq!(codes, [500, 500, 200], "{detail}");
    }
    // The down receiver's deliveries park after the third attempt.
    let down_path = format!("/api/v1/webhook-deliveries?subscription_id={down}");
    let parked = wait_until(&app, Some(&redis), &down_path, |l| {
        l.len() == 2 && l.iter().all(|d| d["status"] == "parked")
    })
    .await;
    assert!(parked.iter().all(|d| d["attempts"] == 3));

    // What the receiver saw, each delivery verified by `standardwebhooks`.
    let log = receiver.log().await;
    assert!(log.iter().all(|r| r["verified"] == true), "{log:#?}");
    let flaky_hits: Vec<&Value> = log.iter().filter(|r| r["path"] == "/flaky").collect();
    assert_eq!(flaky_hits.len(), 6, "two messages, three attempts each");
    let accepted: Vec<&str> = flaky_hits
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut unique = accepted.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (accepted.len(), unique.len()),
        (2, 2),
        "each message accepted exactly once"
    );
    for r in &flaky_hits {
        assert_eq!(r["type"], "order.confirmed");
        assert!(r["data"]["order_id"].is_string(), "{r}");
    }
    // Nothing went to the quotation subscriber.
    assert!(log.iter().all(|r| r["path"] != "/quotes"));

    // The receiver is fixed; an operator redelivers one parked delivery.
    receiver.configure("/down", &down_secret, 0).await;
    let target = id(&parked[0]);
    let r = app
        .post(
            &format!("/api/v1/webhook-deliveries/{target}/redeliver"),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.assert_status(200)["status"], "pending");
    let after = wait_until(&app, Some(&redis), &down_path, |l| {
        l.iter()
            .any(|d| d["id"] == target.as_str() && d["status"] == "delivered")
    })
    .await;
    let other = after.iter().find(|d| d["id"] != target.as_str()).unwrap();
    assert_eq!(other["status"], "parked", "only the one redelivered");
    // A delivered one cannot be redelivered while pending; a pending one
    // is 409.
    let log = receiver.log().await;
    let down_ok: Vec<&Value> = log
        .iter()
        .filter(|r| r["path"] == "/down" && r["status"] == 200)
        .collect();
    assert_eq!(down_ok.len(), 1);
    assert_eq!(
        down_ok[0]["id"],
        target.as_str(),
        "the same webhook-id as the failed attempts"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automation_notifies_the_territory_manager_and_calls_a_webhook_once_per_big_b2b_order() {
    let receiver = Receiver::start();
    let app = app_with(&[]).await;
    // The territory, its manager (a sales person acting as a key), and a
    // customer there.
    let territory = app
        .create(
            "/api/v1/territories",
            json!({ "code": app.code("T"), "name": "North" }),
        )
        .await
        .unwrap();
    let (manager_key, manager) = app.person("manager").await.unwrap();
    let person = app
        .create(
            "/api/v1/sales-people",
            json!({ "name": "Nora North", "principal_id": manager }),
        )
        .await
        .unwrap();
    app.create(
        "/api/v1/territory-managers",
        json!({ "territory_id": id(&territory), "sales_person_id": id(&person) }),
    )
    .await
    .unwrap();
    // Drills at 100.00 EUR (19 % VAT), plenty in stock.
    app.create(
        "/api/v1/warehouses",
        json!({ "code": "MAIN", "name": "Main" }),
    )
    .await
    .unwrap();
    let drill = id(&app
        .create_product(
            json!({ "sku": app.code("DRILL"), "name": "Drill", "uom": "pcs",
                                "kind": "stocked", "standard_cost": eur("40.00") }),
        )
        .await
        .unwrap());
    let warehouses = items(&app, "/api/v1/warehouses").await;
    app.post(
        "/api/v1/stock/adjustments",
        json!({ "product_id": drill, "warehouse_id": id(&warehouses[0]), "on_hand": "1000", "reason": "count" }),
    )
    .await
    .unwrap()
    .assert_status(201);
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR", "items": [{ "product_id": drill, "uom": "pcs", "rate": "100.00" }] }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/tax-templates",
        json!({ "name": "VAT", "mode": "exclusive", "is_default": true,
                "lines": [{ "code": "VAT", "name": "VAT 19 %", "rate_percent": "19" }] }),
    )
    .await
    .unwrap();
    let customer = id(&app
        .create_customer(json!({ "name": "Big Buyer", "territory_id": id(&territory) }))
        .await
        .unwrap());
    let b2b_code = app.code("B2B");
    let b2b = id(&app
        .create(
            "/api/v1/channels",
            json!({ "code": b2b_code, "name": "B2B", "kind": "b2b", "mode": "offline",
                "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"] }),
        )
        .await
        .unwrap());
    let retail = id(&app
        .create(
            "/api/v1/channels",
            json!({ "code": app.code("RET"), "name": "Retail", "kind": "b2b", "mode": "offline",
                "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"] }),
        )
        .await
        .unwrap());

    let (sub, secret) =
        subscribe(&app, &receiver.url("/big-orders"), &["approval.requested"]).await;
    receiver.configure("/big-orders", &secret, 0).await;
    let rule = app
        .create(
            "/api/v1/automations",
            json!({
                "name": "Big B2B order",
                "event": "order.confirmed",
                "conditions": { "channels": [b2b_code], "min_amount": "10000.01" },
                "actions": [
                    { "type": "notify", "recipients": [{ "kind": "territory_manager" }],
                      "message": "A B2B order over 10,000 was confirmed" },
                    { "type": "webhook", "subscription_id": sub }
                ]
            }),
        )
        .await
        .unwrap();

    // 101 drills on B2B (12,019.00 gross): matches. 50 on B2B (5,950.00)
    // and 101 on retail: do not.
    let mut orders = Vec::new();
    for (channel, qty) in [(&b2b, "101"), (&b2b, "50"), (&retail, "101"), (&b2b, "120")] {
        let o = app
            .create(
                "/api/v1/orders",
                json!({ "customer_id": customer, "channel_id": channel,
                    "lines": [{ "product_id": drill, "quantity": qty }] }),
            )
            .await
            .unwrap();
        let r = app
            .post(&format!("/api/v1/orders/{}/submit", id(&o)), json!({}))
            .await
            .unwrap();
        assert_eq!(r.assert_status(200)["status"], "confirmed", "{}", r.text);
        orders.push(id(&o));
    }
    let matching = [orders[0].clone(), orders[3].clone()];

    // Both matching orders reach the manager's inbox, once each.
    let start = Instant::now();
    let inbox = loop {
        let r = app
            .call_as(
                &manager_key,
                Method::GET,
                "/api/v1/notifications",
                None,
                &[],
            )
            .await
            .unwrap();
        let list = r.assert_status(200)["items"].as_array().unwrap().clone();
        let ours: Vec<Value> = list
            .into_iter()
            .filter(|n| n["kind"] == "automation")
            .collect();
        let hits = receiver
            .log()
            .await
            .iter()
            .filter(|r| r["path"] == "/big-orders" && r["status"] == 200)
            .count();
        if ours.len() >= 2 && hits >= 2 {
            break ours;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let deliveries = app.get("/api/v1/webhook-deliveries").await.unwrap();
            panic!(
                "timed out: {ours:#?} {} {:?}",
                deliveries.text,
                receiver.log().await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Give any stray event time to show up, then count exactly.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = app
        .call_as(
            &manager_key,
            Method::GET,
            "/api/v1/notifications",
            None,
            &[],
        )
        .await
        .unwrap();
    let all: Vec<Value> = r.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "automation")
        .cloned()
        .collect();
    assert_eq!(all.len(), 2, "{all:#?}");
    let mut subjects: Vec<&str> = all
        .iter()
        .map(|n| n["subject_id"].as_str().unwrap())
        .collect();
    subjects.sort();
    let mut want: Vec<&str> = matching.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(subjects, want);
    assert_eq!(inbox[0]["message"], "A B2B order over 10,000 was confirmed");
    // The webhook: once per matching order, verified, never for others
    // (the subscription's own patterns do not include orders).
    let log = receiver.log().await;
    let calls: Vec<&Value> = log.iter().filter(|r| r["path"] == "/big-orders").collect();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(calls
        .iter()
        .all(|c| c["verified"] == true && c["type"] == "order.confirmed"));
    let mut called: Vec<&str> = calls
        .iter()
        .map(|c| c["data"]["order_id"].as_str().unwrap())
        .collect();
    called.sort();
    assert_eq!(called, want);
    // The rule shows its runs: two actions for each matching order.
    let shown = fetch(&app, &format!("/api/v1/automations/{}", id(&rule))).await;
    let runs = shown["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "{shown}");
    assert!(runs.iter().all(|r| r["outcome"] == "done"), "{shown}");
    app.stop().await.unwrap();
}

// --- several shops per platform ------------------------------------------------

/// A Shopify `orders/create` delivery from `shop`, signed with `secret`.
async fn shopify_from(app: &TestApp, shop: &str, secret: &str, body: &Value, id: &str) -> Reply {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = shop_signature(secret, &raw).unwrap();
    hook(
        app,
        "/hooks/shopify",
        &raw,
        &[
            ("x-shopify-hmac-sha256", &sig),
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-webhook-id", id),
            ("x-shopify-shop-domain", shop),
        ],
    )
    .await
}

async fn woo_from(app: &TestApp, site: &str, secret: &str, body: &Value, id: &str) -> Reply {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = shop_signature(secret, &raw).unwrap();
    hook(
        app,
        "/hooks/woocommerce",
        &raw,
        &[
            ("x-wc-webhook-signature", &sig),
            ("x-wc-webhook-topic", "order.created"),
            ("x-wc-webhook-delivery-id", id),
            ("x-wc-webhook-source", site),
        ],
    )
    .await
}

async fn channel_id(app: &TestApp, code: &str) -> Value {
    items(app, "/api/v1/channels?limit=100")
        .await
        .into_iter()
        .find(|c| c["code"] == code)
        .unwrap_or_else(|| panic!("no channel {code}"))["id"]
        .clone()
}

const EU_SECRET: &str = "eu-store-secret-4711";
const US_SECRET: &str = "us-store-secret-0815";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shops_of_one_platform_sign_with_their_own_secrets_and_sell_on_their_own_channels() {
    let app = app_with(&[]).await;
    let (sku_a, sku_b) = shop_world(&app).await;
    app.create(
        "/api/v1/channels",
        json!({ "code": "WEB-EU", "name": "EU shop", "kind": "b2c", "mode": "online",
                "currency": "EUR", "tax_mode": "exclusive", "paid_on_order": false }),
    )
    .await
    .unwrap();
    // Connected with their secrets, which are never shown again.
    let eu = app
        .post(
            "/api/v1/shop-connections",
            json!({ "platform": "shopify", "shop": "EU-Store.myshopify.com", "code": "eu",
                    "secret": EU_SECRET, "channel_code": "WEB-EU" }),
        )
        .await
        .unwrap();
    let eu = eu.assert_status(201).clone();
    assert!(!eu.to_string().contains(EU_SECRET), "{eu}");
    assert_eq!(eu["secret_set"], true);
    assert_eq!(eu["shop"], "eu-store.myshopify.com");
    assert_eq!(eu["system"], "shopify.eu");
    app.create(
        "/api/v1/shop-connections",
        json!({ "platform": "shopify", "shop": "us-store.myshopify.com", "code": "us",
                "secret": US_SECRET, "channel_code": "WEB" }),
    )
    .await
    .unwrap();
    let read = app
        .get(&format!("/api/v1/shop-connections/{}", id(&eu)))
        .await
        .unwrap();
    assert!(!read.text.contains(EU_SECRET), "{}", read.text);
    let list = app.get("/api/v1/shop-connections").await.unwrap();
    assert!(
        !list.text.contains(EU_SECRET) && !list.text.contains(US_SECRET),
        "{}",
        list.text
    );

    // The same Shopify order id from both shops: two orders, each on its
    // shop's channel, each with the shop's ids as external references.
    let body = shopify_order(450789469, 207119551, "bob@example.com", &sku_a, &sku_b);
    let from_eu = shopify_from(&app, "eu-store.myshopify.com", EU_SECRET, &body, "d-1").await;
    let (from_eu, eu_order) = created_order(&app, from_eu).await;
    let from_us = shopify_from(&app, "us-store.myshopify.com", US_SECRET, &body, "d-2").await;
    let (from_us, us_order) = created_order(&app, from_us).await;
    assert_ne!(from_eu["order_id"], from_us["order_id"]);
    assert_eq!(eu_order["channel_id"], channel_id(&app, "WEB-EU").await);
    assert_eq!(us_order["channel_id"], channel_id(&app, "WEB").await);
    // The EU channel is not paid on order; the WEB one is.
    assert_eq!(eu_order["paid_amount"], "0", "{eu_order}");
    assert_eq!(us_order["paid_amount"], "461.72", "{us_order}");
    assert_eq!(
        eu_order["external_references"],
        json!([{ "system": "shopify.eu", "kind": "customer", "id": "207119551" },
               { "system": "shopify.eu", "kind": "order", "id": "450789469" }]),
        "{eu_order}"
    );
    assert_eq!(
        us_order["external_references"][1],
        json!({ "system": "shopify.us", "kind": "order", "id": "450789469" })
    );
    // Shopify customer ids are per shop: the US shop's 207119551 is not
    // found under the EU shop's id but by the same e-mail, and the one
    // customer now carries both shops' ids.
    assert_eq!(eu_order["customer_id"], us_order["customer_id"]);
    let customer = fetch(
        &app,
        &format!(
            "/api/v1/customers/{}",
            eu_order["customer_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        customer["external_ids"],
        json!({ "shopify.eu": "207119551", "shopify.us": "207119551" }),
        "{customer}"
    );

    // The EU shop's order again: a duplicate of its first, not of the US one.
    let again = shopify_from(&app, "eu-store.myshopify.com", EU_SECRET, &body, "d-3").await;
    let again = again.assert_status(200).clone();
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["order_id"], from_eu["order_id"]);
    let log = items(&app, "/api/v1/inbound-events?source=shopify.eu").await;
    assert_eq!(log.len(), 2, "{log:?}");

    // Refused, nothing written: the EU shop signing with the US secret, a
    // shop nobody connected signing with its own, the default shop's
    // name with a wrong signature.
    let orders_before = count(&app, "/api/v1/orders").await;
    let events_before = count(&app, "/api/v1/inbound-events").await;
    let other = shopify_order(450789470, 207119551, "bob@example.com", &sku_a, &sku_b);
    shopify_from(&app, "eu-store.myshopify.com", US_SECRET, &other, "x-1")
        .await
        .assert_problem(401, "invalid_signature");
    let r = shopify_from(
        &app,
        "stranger.myshopify.com",
        "stranger-secret",
        &other,
        "x-2",
    )
    .await;
    r.assert_problem(401, "invalid_signature");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("stranger.myshopify.com"),
        "{}",
        r.text
    );
    shopify_from(
        &app,
        "example.myshopify.com",
        "not-the-default",
        &other,
        "x-3",
    )
    .await
    .assert_problem(401, "invalid_signature");
    assert_eq!(count(&app, "/api/v1/orders").await, orders_before);
    assert_eq!(count(&app, "/api/v1/inbound-events").await, events_before);

    // The default shop of the Spin variables still works, as before.
    let (_, o) = created_order(&app, shopify(&app, &other, "d-4").await).await;
    assert_eq!(o["external_references"][1]["system"], "shopify", "{o}");

    // A disconnected shop is unknown again (here: the default secret is
    // tried, and the EU shop does not hold it).
    let conn = fetch(&app, &format!("/api/v1/shop-connections/{}", id(&eu))).await;
    app.patch(
        &format!("/api/v1/shop-connections/{}", id(&eu)),
        conn["version"].as_i64().unwrap(),
        json!({ "active": false }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let other2 = shopify_order(450789471, 207119551, "bob@example.com", &sku_a, &sku_b);
    shopify_from(&app, "eu-store.myshopify.com", EU_SECRET, &other2, "x-4")
        .await
        .assert_problem(401, "invalid_signature");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_shop_customer_is_matched_by_the_shops_customer_id_before_the_email() {
    let app = app_with(&[]).await;
    let (sku_a, sku_b) = shop_world(&app).await;
    app.create(
        "/api/v1/shop-connections",
        json!({ "platform": "shopify", "shop": "eu-store.myshopify.com", "code": "eu",
                "secret": EU_SECRET, "channel_code": "WEB" }),
    )
    .await
    .unwrap();
    // Known by e-mail before the shop ever sent anything.
    let known = app
        .create_customer(json!({ "name": "Carla Known", "email": "carla@example.com" }))
        .await
        .unwrap();
    let first = shopify_order(1001, 555, "carla@example.com", &sku_a, &sku_b);
    let (_, o1) = created_order(
        &app,
        shopify_from(&app, "eu-store.myshopify.com", EU_SECRET, &first, "c-1").await,
    )
    .await;
    assert_eq!(o1["customer_id"], known["id"]);
    // Matched by e-mail, the shop's customer id is now on the customer …
    let c = fetch(&app, &format!("/api/v1/customers/{}", id(&known))).await;
    assert_eq!(c["external_ids"]["shopify.eu"], "555", "{c}");
    // … so after an e-mail change at the shop, the id still finds them,
    // even though the new e-mail belongs to someone else here.
    let other = app
        .create_customer(json!({ "name": "Somebody Else", "email": "new@example.com" }))
        .await
        .unwrap();
    let second = shopify_order(1002, 555, "new@example.com", &sku_a, &sku_b);
    let (_, o2) = created_order(
        &app,
        shopify_from(&app, "eu-store.myshopify.com", EU_SECRET, &second, "c-2").await,
    )
    .await;
    assert_eq!(o2["customer_id"], known["id"]);
    assert_ne!(o2["customer_id"], other["id"]);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_connections_refuse_bad_input_and_unknown_shops_without_a_default_get_401() {
    // No WooCommerce default shop: only connected sites are taken.
    let app = TestApp::spawn_with(&[("shopify_webhook_secret", SHOPIFY_SECRET)])
        .await
        .unwrap();
    let (sku_a, _) = shop_world(&app).await;
    let good = json!({ "platform": "woocommerce", "shop": "https://outlet.example.com/",
                       "code": "outlet", "secret": WOO_SECRET, "channel_code": "WEB" });
    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    for (body, field) in [
        (with("platform", json!("magento")), "platform"),
        (with("shop", json!("outlet.example.com")), "shop"),
        (with("shop", json!("ftp://outlet.example.com")), "shop"),
        (with("code", json!("Outlet Store")), "code"),
        (with("secret", json!("short")), "secret"),
        (with("channel_code", json!("NOPE")), "channel_code"),
    ] {
        let r = app.post("/api/v1/shop-connections", body).await.unwrap();
        assert_eq!(problem_field(&r, 422, "invalid_field"), field, "{}", r.text);
    }
    let r = app
        .post("/api/v1/shop-connections", with("secret", Value::Null))
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(count(&app, "/api/v1/shop-connections").await, 0);
    let outlet = app
        .create("/api/v1/shop-connections", good.clone())
        .await
        .unwrap();
    // The same site again (any spelling) or the same code: 409.
    let r = app
        .post(
            "/api/v1/shop-connections",
            with("shop", json!("HTTPS://Outlet.Example.com")),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(count(&app, "/api/v1/shop-connections").await, 1);

    let order = woo_order(
        727,
        "jane@example.com",
        json!([woo_line(1, &sku_a, 2, "6.00", "6.00", "0.54")]),
    );
    // A site nobody connected, and no default: 401 unknown_shop.
    let r = woo_from(
        &app,
        "https://stranger.example.com",
        WOO_SECRET,
        &order,
        "w-1",
    )
    .await;
    assert_eq!(
        problem_field(&r, 401, "unknown_shop"),
        "x-wc-webhook-source"
    );
    // The connected site with a wrong signature: 401.
    woo_from(
        &app,
        "https://outlet.example.com/",
        "wrong-secret",
        &order,
        "w-2",
    )
    .await
    .assert_problem(401, "invalid_signature");
    assert_eq!(count(&app, "/api/v1/orders").await, 0);
    assert_eq!(count(&app, "/api/v1/inbound-events").await, 0);
    // Signed by the connected site: taken, on its system.
    let r = woo_from(
        &app,
        "https://outlet.example.com/",
        WOO_SECRET,
        &order,
        "w-3",
    )
    .await;
    let r = r.assert_status(201).clone();
    assert_eq!(r["source"], "woocommerce.outlet", "{r}");

    // A new secret replaces the old one, unseen; the old one stops working.
    let v = outlet["version"].as_i64().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/shop-connections/{}", id(&outlet)),
            v,
            json!({ "secret": "rotated-secret-2" }),
        )
        .await
        .unwrap();
    let r = r.assert_status(200).clone();
    assert!(!r.to_string().contains("rotated-secret-2"), "{r}");
    let next = woo_order(
        728,
        "jane@example.com",
        json!([woo_line(1, &sku_a, 1, "3.00", "3.00", "0.27")]),
    );
    woo_from(&app, "https://outlet.example.com", WOO_SECRET, &next, "w-4")
        .await
        .assert_problem(401, "invalid_signature");
    woo_from(
        &app,
        "https://outlet.example.com",
        "rotated-secret-2",
        &next,
        "w-5",
    )
    .await
    .assert_status(201);
    app.stop().await.unwrap();
}
