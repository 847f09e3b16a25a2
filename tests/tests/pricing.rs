//! Pricing through the runner: price lists (derived, customer-group
//! scoped), rules, schedules, taxes and guards set up over HTTP, baskets
//! priced with every waterfall number checked; bad input that must be a
//! clear 4xx and leave nothing behind; idempotent creates; roles.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use sales_e2e::{json, TestApp};
use serde_json::Value;

async fn app() -> TestApp {
    TestApp::spawn().await.expect("failed to start the app")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

async fn count(app: &TestApp, path: &str) -> usize {
    let reply = app.get(&format!("{path}?limit=200")).await.unwrap();
    reply.assert_status(200)["items"].as_array().unwrap().len()
}

/// The shop floor of every test: a dealer in a customer-group tree, a drill
/// in an item-group tree, a bit and a gift, a B2B channel.
struct World {
    customer: String,
    wholesale: String,
    tools: String,
    drill: String,
    bit: String,
    gift: String,
}

async fn world(app: &TestApp) -> World {
    let wholesale = app
        .create(
            "/api/v1/customer-groups",
            json!({ "code": "WHOLESALE", "name": "Wholesale" }),
        )
        .await
        .unwrap();
    let dealers = app
        .create(
            "/api/v1/customer-groups",
            json!({ "code": "DEALERS", "name": "Dealers", "parent_id": id(&wholesale) }),
        )
        .await
        .unwrap();
    let customer = app
        .create_customer(json!({ "name": "Drill & Co", "customer_group_id": id(&dealers) }))
        .await
        .unwrap();
    let tools = app
        .create(
            "/api/v1/item-groups",
            json!({ "code": "TOOLS", "name": "Tools" }),
        )
        .await
        .unwrap();
    let drills = app
        .create(
            "/api/v1/item-groups",
            json!({ "code": "DRILLS", "name": "Drills", "parent_id": id(&tools) }),
        )
        .await
        .unwrap();
    let product = |sku: &str, cost: &str, group: Option<String>| {
        let mut body = json!({ "sku": sku, "name": sku, "uom": "pcs", "kind": "stocked",
                               "standard_cost": eur(cost) });
        if let Some(g) = group {
            body["item_group_id"] = json!(g);
        }
        body
    };
    let drill = app
        .create_product(product("DRILL", "40.00", Some(id(&drills))))
        .await
        .unwrap();
    let bit = app
        .create_product(product("BIT", "1.00", None))
        .await
        .unwrap();
    let gift = app
        .create_product(product("GIFT", "2.00", None))
        .await
        .unwrap();
    app.create(
        "/api/v1/channels",
        json!({ "code": "B2B", "name": "Field sales", "kind": "b2b", "mode": "offline",
                "currency": "EUR", "tax_mode": "exclusive" }),
    )
    .await
    .unwrap();
    World {
        customer: id(&customer),
        wholesale: id(&wholesale),
        tools: id(&tools),
        drill: id(&drill),
        bit: id(&bit),
        gift: id(&gift),
    }
}

/// Lists, rules, a schedule, a tax and a guard; returns the standard list.
async fn pricing_setup(app: &TestApp, w: &World) -> Value {
    let standard = app
        .create(
            "/api/v1/price-lists",
            json!({ "name": "Standard", "currency": "EUR", "items": [
                { "product_id": w.drill, "uom": "pcs", "rate": "100.00" },
                { "product_id": w.bit, "uom": "pcs", "rate": "5.00" },
                { "product_id": w.gift, "uom": "pcs", "rate": "3.00" }
            ]}),
        )
        .await
        .unwrap();
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Dealers", "currency": "EUR", "customer_group_id": w.wholesale,
                "base_price_list_id": id(&standard), "adjustment_percent": "-10",
                "items": [{ "product_id": w.bit, "uom": "pcs", "rate": "4.00" }] }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/pricing-rules",
        json!({ "name": "Tools week", "priority": 10, "stacking": "apply_in_order",
                "conditions": { "item_groups": [w.tools] },
                "action": { "type": "discount_percent", "percent": "5" } }),
    )
    .await
    .unwrap();
    let schedule = app
        .create(
            "/api/v1/discount-schedules",
            json!({ "name": "Bits by the box", "kind": "volume", "basis": "quantity",
                    "tiers": [{ "from": "0", "discount_percent": "0" },
                              { "from": "10", "discount_percent": "10" }] }),
        )
        .await
        .unwrap();
    app.create(
        "/api/v1/pricing-rules",
        json!({ "name": "Bit volume", "priority": 5, "stacking": "apply_in_order",
                "conditions": { "products": [w.bit] },
                "action": { "type": "schedule", "schedule": id(&schedule) } }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/pricing-rules",
        json!({ "name": "Spring coupon", "stacking": "apply_in_order",
                "conditions": { "products": [w.bit], "coupon": "spring" },
                "action": { "type": "discount_amount", "amount": eur("0.50") } }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/pricing-rules",
        json!({ "name": "Drill gift", "stacking": "apply_in_order",
                "conditions": { "products": [w.drill] },
                "action": { "type": "free_item", "product": { "other": { "product": w.gift, "uom": "pcs" } },
                            "buy": "2", "get": "1", "recursive": true } }),
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
    app.create(
        "/api/v1/price-guards",
        json!({ "scope": { "type": "product", "id": w.drill }, "floor_price": eur("86.00") }),
    )
    .await
    .unwrap();
    standard
}

fn basket(w: &World, coupons: &[&str], lines: Value) -> Value {
    json!({ "customer_id": w.customer, "channel_code": "B2B", "currency": "EUR",
            "date": "2026-03-02", "coupon_codes": coupons, "lines": lines })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basket_prices_with_the_full_waterfall() {
    let app = app().await;
    let w = world(&app).await;
    let standard = pricing_setup(&app, &w).await;

    let reply = app
        .post(
            "/api/v1/pricing/price",
            basket(
                &w,
                &["spring"],
                json!([
                    { "product_id": w.drill, "quantity": "4", "uom": "pcs" },
                    { "product_id": w.bit, "quantity": "20" }
                ]),
            ),
        )
        .await
        .unwrap();
    let priced = reply.assert_status(200).clone();
    assert_eq!(priced["currency"], "EUR");
    assert_eq!(priced["tax_mode"], "exclusive");
    assert_eq!(priced["tax_template"]["name"], "VAT");
    let lines = priced["lines"].as_array().unwrap();
    assert_eq!(
        lines.len(),
        3,
        "two requested lines and a free one: {priced}"
    );

    // The drill: the dealer list derives 90.00 from the standard 100.00,
    // the tools rule takes 5 % (matched through the DRILLS → TOOLS chain).
    let drill = &lines[0];
    assert_eq!(drill["line_no"], 1);
    assert_eq!(drill["price_source"]["price_list_name"], "Dealers");
    assert_eq!(drill["price_source"]["derived_via"], json!([id(&standard)]));
    assert_eq!(drill["list_price"], eur("90.00"));
    let adj = &drill["adjustments"];
    assert_eq!(adj.as_array().unwrap().len(), 1);
    assert_eq!(adj[0]["rule_name"], "Tools week");
    assert_eq!(
        adj[0]["kind"],
        json!({ "type": "discount_percent", "percent": "5" })
    );
    assert_eq!(adj[0]["amount_per_unit"], eur("-4.50"));
    assert_eq!(adj[0]["unit_price_after"], eur("85.50"));
    assert_eq!(drill["net_unit_price"], eur("85.50"));
    assert_eq!(drill["list_total"], eur("360.00"));
    assert_eq!(drill["discount_total"], eur("18.00"));
    assert_eq!(drill["net_total"], eur("342.00"));
    assert_eq!(
        drill["taxes"],
        json!([{ "code": "VAT", "rate_percent": "19", "amount": eur("64.98") }])
    );
    assert_eq!(drill["tax_total"], eur("64.98"));
    assert_eq!(drill["gross_total"], eur("406.98"));
    assert_eq!(drill["cost_total"], eur("160.00"));
    assert_eq!(drill["margin"]["amount"], eur("182.00"));
    // Below the 86.00 floor: priced, flagged.
    assert_eq!(drill["flags"][0]["type"], "below_floor_price");
    assert_eq!(priced["requires_approval"], true);

    // The bit: its own dealer price 4.00, the volume tier (20 ≥ 10) takes
    // 10 %, then the coupon 0.50.
    let bit = &lines[1];
    assert_eq!(bit["price_source"]["derived_via"], json!([]));
    assert_eq!(bit["list_price"], eur("4.00"));
    let names: Vec<&str> = bit["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bit volume", "Spring coupon"]);
    assert_eq!(bit["adjustments"][0]["kind"]["type"], "schedule");
    assert_eq!(bit["adjustments"][0]["unit_price_after"], eur("3.60"));
    assert_eq!(bit["adjustments"][1]["amount_per_unit"], eur("-0.50"));
    assert_eq!(bit["net_unit_price"], eur("3.10"));
    assert_eq!(bit["net_total"], eur("62.00"));
    assert_eq!(bit["tax_total"], eur("11.78"));

    // The gift: buy 2 get 1, recursive — 4 drills earn 2, free.
    let gift = &lines[2];
    assert_eq!(gift["kind"]["type"], "free_item");
    assert_eq!(gift["kind"]["for_line"], 1);
    assert_eq!(gift["product"], json!(w.gift));
    assert_eq!(gift["quantity"], "2");
    assert_eq!(gift["list_price"], eur("2.70"));
    assert_eq!(gift["net_total"], eur("0.00"));

    let totals = &priced["totals"];
    assert_eq!(totals["net_total"], eur("404.00"));
    assert_eq!(totals["tax_total"], eur("76.76"));
    assert_eq!(totals["gross_total"], eur("480.76"));
    assert_eq!(priced["tax_breakdown"][0]["amount"], eur("76.76"));
    assert_eq!(priced["coupons"][0]["code"], "SPRING");

    // Same basket, same bytes.
    let again = app
        .post(
            "/api/v1/pricing/price",
            basket(
                &w,
                &["spring"],
                json!([
                    { "product_id": w.drill, "quantity": "4", "uom": "pcs" },
                    { "product_id": w.bit, "quantity": "20" }
                ]),
            ),
        )
        .await
        .unwrap();
    assert_eq!(again.text, reply.text);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_baskets_are_clear_4xx_problems_naming_the_field() {
    let app = app().await;
    let w = world(&app).await;
    pricing_setup(&app, &w).await;
    let drill = |qty: &str| json!([{ "product_id": w.drill, "quantity": qty }]);
    let cases = [
        (
            basket(
                &w,
                &[],
                json!([{ "product_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162", "quantity": "1" }]),
            ),
            "unknown_product",
            "lines[0].product_id",
        ),
        (
            basket(&w, &[], drill("-2")),
            "invalid_field",
            "lines[0].quantity",
        ),
        (
            basket(&w, &[], drill("0")),
            "invalid_field",
            "lines[0].quantity",
        ),
        (
            basket(&w, &["spring", "nope-99"], drill("1")),
            "unknown_coupon",
            "coupon_codes[1]",
        ),
        (
            json!({ "customer_id": w.customer, "channel_code": "B2B", "currency": "USD",
                    "lines": drill("1") }),
            "currency_mismatch",
            "currency",
        ),
        (
            json!({ "customer_id": w.customer, "channel_code": "NOPE", "currency": "EUR",
                    "lines": drill("1") }),
            "unknown_channel",
            "channel_code",
        ),
        (
            json!({ "customer_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162", "channel_code": "B2B",
                    "currency": "EUR", "lines": drill("1") }),
            "unknown_customer",
            "customer_id",
        ),
        (basket(&w, &[], json!([])), "invalid_field", "lines"),
        (
            json!({ "customer_id": w.customer, "channel_code": "B2B", "currency": "EUR",
                    "lines": drill("1"), "discount": "99" }),
            "unknown_field",
            "discount",
        ),
    ];
    for (body, code, field) in cases {
        let reply = app.post("/api/v1/pricing/price", body).await.unwrap();
        reply.assert_problem(422, code);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pricing_data_is_refused_and_nothing_is_written() {
    let app = app().await;
    let w = world(&app).await;
    let standard = pricing_setup(&app, &w).await;
    let (lists, rules, taxes) = (
        count(&app, "/api/v1/price-lists").await,
        count(&app, "/api/v1/pricing-rules").await,
        count(&app, "/api/v1/tax-templates").await,
    );

    // A rule whose quantity range can never hold.
    let reply = app
        .post(
            "/api/v1/pricing-rules",
            json!({ "name": "Never", "stacking": "exclusive",
                    "conditions": { "min_qty": "10", "max_qty": "5" },
                    "action": { "type": "discount_percent", "percent": "5" } }),
        )
        .await
        .unwrap();
    reply.assert_problem(422, "impossible_range");
    assert_eq!(reply.body["field"], "conditions.min_qty");

    // A rule applying a schedule that does not exist.
    let reply = app
        .post(
            "/api/v1/pricing-rules",
            json!({ "name": "Ghost", "stacking": "exclusive",
                    "action": { "type": "schedule", "schedule": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162" } }),
        )
        .await
        .unwrap();
    reply.assert_problem(422, "unknown_reference");
    assert_eq!(reply.body["field"], "action.schedule");

    // A negative price, named by its index.
    let reply = app
        .post(
            "/api/v1/price-lists",
            json!({ "name": "Broken", "currency": "EUR", "items": [
                { "product_id": w.drill, "uom": "pcs", "rate": "1" },
                { "product_id": w.bit, "uom": "pcs", "rate": "-1" }
            ]}),
        )
        .await
        .unwrap();
    reply.assert_problem(422, "invalid_field");
    assert_eq!(reply.body["field"], "items[1].rate");

    // A derived list in another currency than its base.
    let reply = app
        .post(
            "/api/v1/price-lists",
            json!({ "name": "Dollars", "currency": "USD", "base_price_list_id": id(&standard),
                    "adjustment_percent": "5" }),
        )
        .await
        .unwrap();
    reply.assert_problem(422, "currency_mismatch");
    assert_eq!(reply.body["field"], "base_price_list_id");

    // A second default tax template.
    let reply = app
        .post(
            "/api/v1/tax-templates",
            json!({ "name": "VAT again", "mode": "inclusive", "is_default": true,
                    "lines": [{ "code": "VAT", "name": "VAT", "rate_percent": "7" }] }),
        )
        .await
        .unwrap();
    reply.assert_problem(409, "default_tax_template_taken");

    // A base list others derive from cannot be deactivated.
    let reply = app
        .post(
            &format!("/api/v1/price-lists/{}/deactivate", id(&standard)),
            json!({}),
        )
        .await
        .unwrap();
    reply.assert_problem(409, "price_list_in_use");

    assert_eq!(count(&app, "/api/v1/price-lists").await, lists);
    assert_eq!(count(&app, "/api/v1/pricing-rules").await, rules);
    assert_eq!(count(&app, "/api/v1/tax-templates").await, taxes);
    let standard_now = app
        .get(&format!("/api/v1/price-lists/{}", id(&standard)))
        .await
        .unwrap();
    assert_eq!(standard_now.body["active"], true);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_retried_with_the_same_idempotency_key_creates_once() {
    let app = app().await;
    let key = app.admin_key.clone();
    let body = json!({ "name": "Ten off", "stacking": "exclusive",
                       "action": { "type": "discount_percent", "percent": "10" } });
    let first = app
        .call_as(
            &key,
            Method::POST,
            "/api/v1/pricing-rules",
            Some(body.clone()),
            &[("idempotency-key", "rule-1")],
        )
        .await
        .unwrap();
    let second = app
        .call_as(
            &key,
            Method::POST,
            "/api/v1/pricing-rules",
            Some(body),
            &[("idempotency-key", "rule-1")],
        )
        .await
        .unwrap();
    first.assert_status(201);
    second.assert_status(201);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(count(&app, "/api/v1/pricing-rules").await, 1);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_list_items_page_upsert_and_replace_with_versions() {
    let app = app().await;
    let w = world(&app).await;
    let list = app
        .create(
            "/api/v1/price-lists",
            json!({ "name": "Items", "currency": "EUR",
                    "items": [{ "product_id": w.drill, "uom": "pcs", "rate": "10" }] }),
        )
        .await
        .unwrap();
    let path = format!("/api/v1/price-lists/{}/items", id(&list));
    let reply = app
        .post(
            &path,
            json!({ "items": [{ "product_id": w.drill, "uom": "pcs", "rate": "11" },
                              { "product_id": w.bit, "uom": "box", "rate": "40" }] }),
        )
        .await
        .unwrap();
    assert_eq!(reply.assert_status(200)["version"], 2);
    let items = app.get(&format!("{path}?limit=1")).await.unwrap();
    let body = items.assert_status(200);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let next = body["next_cursor"].as_str().unwrap().to_string();
    let rest = app
        .get(&format!("{path}?limit=1&cursor={next}"))
        .await
        .unwrap();
    assert_eq!(
        rest.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    let stale = app.put(&path, 1, json!({ "items": [] })).await.unwrap();
    stale.assert_problem(412, "version_conflict");
    let replaced = app
        .put(
            &path,
            2,
            json!({ "items": [{ "product_id": w.bit, "uom": "pcs", "rate": "4.5" }] }),
        )
        .await
        .unwrap();
    assert_eq!(replaced.assert_status(200)["version"], 3);
    let items = app.get(&path).await.unwrap();
    assert_eq!(
        items.assert_status(200)["items"],
        json!([{ "product_id": w.bit, "uom": "pcs", "rate": "4.5" }])
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_price_and_read_but_only_admins_and_managers_write_pricing() {
    let app = app().await;
    let w = world(&app).await;
    pricing_setup(&app, &w).await;
    let viewer = app.create_key("Vera Viewer", &["viewer"]).await.unwrap();
    let manager = app.create_key("Max Manager", &["manager"]).await.unwrap();
    let rule = json!({ "name": "R", "stacking": "exclusive",
                       "action": { "type": "discount_percent", "percent": "1" } });

    let priced = app
        .call_as(
            &viewer,
            Method::POST,
            "/api/v1/pricing/price",
            Some(basket(
                &w,
                &[],
                json!([{ "product_id": w.bit, "quantity": "1" }]),
            )),
            &[],
        )
        .await
        .unwrap();
    priced.assert_status(200);
    let listed = app
        .call_as(&viewer, Method::GET, "/api/v1/pricing-rules", None, &[])
        .await
        .unwrap();
    listed.assert_status(200);
    let refused = app
        .call_as(
            &viewer,
            Method::POST,
            "/api/v1/pricing-rules",
            Some(rule.clone()),
            &[],
        )
        .await
        .unwrap();
    refused.assert_problem(403, "forbidden");
    let created = app
        .call_as(
            &manager,
            Method::POST,
            "/api/v1/pricing-rules",
            Some(rule),
            &[],
        )
        .await
        .unwrap();
    created.assert_status(201);
    app.stop().await.unwrap();
}

/// Three lines at 0.13 under 19 % VAT — the smallest basket where rounding
/// each line's tax (3 × 0.02) and rounding the document's once (0.0741 →
/// 0.07) differ — priced in the exclusive B2B channel and an inclusive WEB
/// channel.
async fn cents_world(app: &TestApp) -> (World, Value) {
    let w = world(app).await;
    app.create(
        "/api/v1/channels",
        json!({ "code": "WEB", "name": "Web shop", "kind": "b2c", "mode": "online",
                "currency": "EUR", "tax_mode": "inclusive" }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Cents", "currency": "EUR", "items": [
            { "product_id": w.drill, "uom": "pcs", "rate": "0.13" },
            { "product_id": w.bit, "uom": "pcs", "rate": "0.13" },
            { "product_id": w.gift, "uom": "pcs", "rate": "0.13" }
        ]}),
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
    let lines = json!([
        { "product_id": w.drill, "quantity": "1" },
        { "product_id": w.bit, "quantity": "1" },
        { "product_id": w.gift, "quantity": "1" }
    ]);
    (w, lines)
}

async fn price_in(app: &TestApp, w: &World, channel: &str, lines: &Value) -> Value {
    let mut body = basket(w, &[], lines.clone());
    body["channel_code"] = json!(channel);
    let reply = app.post("/api/v1/pricing/price", body).await.unwrap();
    reply.assert_status(200).clone()
}

fn amounts(priced: &Value, field: &str) -> Vec<String> {
    priced["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l[field]["amount"].as_str().unwrap().to_owned())
        .collect()
}

fn cents(v: &Value) -> i64 {
    let s = v["amount"].as_str().unwrap();
    let (units, frac) = s.split_once('.').unwrap();
    units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

async fn patch_settings(app: &TestApp, body: Value) -> Value {
    let current = app.get("/api/v1/settings").await.unwrap();
    let version = current.assert_status(200)["version"].as_i64().unwrap();
    let reply = app.patch("/api/v1/settings", version, body).await.unwrap();
    reply.assert_status(200).clone()
}

/// Issue #4 item 4: where tax is rounded is a setting (company-wide, and
/// per channel in `channel_defaults`), and in either mode the inclusive and
/// exclusive prices of the same basket agree to the cent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tax_is_rounded_per_line_or_per_document_as_the_settings_say() {
    let app = app().await;
    let (w, lines) = cents_world(&app).await;
    let settings = app.get("/api/v1/settings").await.unwrap();
    assert_eq!(settings.assert_status(200)["tax_rounding"], "per_line");

    // Per line (the default): each line's tax is round(0.13 × 19 %) = 0.02.
    let b2b = price_in(&app, &w, "B2B", &lines).await;
    assert_eq!(b2b["tax_rounding"], "per_line");
    assert_eq!(amounts(&b2b, "tax_total"), ["0.02", "0.02", "0.02"]);
    assert_eq!(b2b["totals"]["net_total"], eur("0.39"));
    assert_eq!(b2b["totals"]["tax_total"], eur("0.06"));
    assert_eq!(b2b["totals"]["gross_total"], eur("0.45"));
    // Inclusive: 0.13 × 1.19 = 0.1547 shows as 0.15; its net is 0.13.
    let web = price_in(&app, &w, "WEB", &lines).await;
    assert_eq!(web["tax_mode"], "inclusive");
    assert_eq!(amounts(&web, "gross_total"), ["0.15", "0.15", "0.15"]);
    assert_eq!(amounts(&web, "net_total"), ["0.13", "0.13", "0.13"]);
    assert_eq!(web["totals"]["gross_total"], eur("0.45"));
    assert_eq!(web["totals"]["tax_total"], eur("0.06"));

    // Per document: the document's tax is round(0.39 × 19 %) = 0.07, given
    // back to the lines by largest remainder (the first of equal lines
    // takes the extra cent), so the lines still add up to it.
    let saved = patch_settings(&app, json!({ "tax_rounding": "per_document" })).await;
    assert_eq!(saved["tax_rounding"], "per_document");
    let b2b_doc = price_in(&app, &w, "B2B", &lines).await;
    assert_eq!(b2b_doc["tax_rounding"], "per_document");
    assert_eq!(amounts(&b2b_doc, "tax_total"), ["0.03", "0.02", "0.02"]);
    assert_eq!(b2b_doc["totals"]["tax_total"], eur("0.07"));
    assert_eq!(b2b_doc["totals"]["gross_total"], eur("0.46"));
    assert_eq!(b2b_doc["tax_breakdown"][0]["amount"], eur("0.07"));
    // Inclusive: the gross 0.45 is never touched; its net is
    // round(0.45 ÷ 1.19) = 0.38, the tax 0.07.
    let web_doc = price_in(&app, &w, "WEB", &lines).await;
    assert_eq!(web_doc["totals"]["gross_total"], eur("0.45"));
    assert_eq!(web_doc["totals"]["net_total"], eur("0.38"));
    assert_eq!(web_doc["totals"]["tax_total"], eur("0.07"));
    assert_eq!(amounts(&web_doc, "tax_total"), ["0.03", "0.02", "0.02"]);

    // The documented rule: inclusive and exclusive grosses of the same
    // basket agree to the cent, in both modes; every line's net + tax is its
    // gross and the lines add up to the document.
    for (incl, excl) in [(&web, &b2b), (&web_doc, &b2b_doc)] {
        let diff = cents(&incl["totals"]["gross_total"]) - cents(&excl["totals"]["gross_total"]);
        assert!(diff.abs() <= 1, "{incl} vs {excl}");
        for priced in [incl, excl] {
            let mut sums = [0i64; 3];
            for l in priced["lines"].as_array().unwrap() {
                assert_eq!(
                    cents(&l["net_total"]) + cents(&l["tax_total"]),
                    cents(&l["gross_total"])
                );
                sums[0] += cents(&l["net_total"]);
                sums[1] += cents(&l["tax_total"]);
                sums[2] += cents(&l["gross_total"]);
            }
            let t = &priced["totals"];
            assert_eq!(
                sums,
                [
                    cents(&t["net_total"]),
                    cents(&t["tax_total"]),
                    cents(&t["gross_total"])
                ]
            );
        }
    }

    // A channel may keep its own rounding: WEB per line, the company per
    // document.
    patch_settings(
        &app,
        json!({ "channel_defaults": { "WEB": { "tax_rounding": "per_line" } } }),
    )
    .await;
    let web_own = price_in(&app, &w, "WEB", &lines).await;
    assert_eq!(web_own["tax_rounding"], "per_line");
    assert_eq!(web_own["totals"]["tax_total"], eur("0.06"));
    let b2b_still = price_in(&app, &w, "B2B", &lines).await;
    assert_eq!(b2b_still["tax_rounding"], "per_document");

    // A rounding that does not exist is a 422 naming the field; nothing changes.
    let current = app.get("/api/v1/settings").await.unwrap();
    let version = current.assert_status(200)["version"].as_i64().unwrap();
    let bad = app
        .patch(
            "/api/v1/settings",
            version,
            json!({ "tax_rounding": "per_order" }),
        )
        .await
        .unwrap();
    assert_eq!(bad.status.as_u16(), 422, "{}", bad.text);
    assert_eq!(bad.body["field"], "tax_rounding", "{}", bad.text);
    let after = app.get("/api/v1/settings").await.unwrap();
    assert_eq!(
        after.assert_status(200)["version"].as_i64().unwrap(),
        version
    );
    app.stop().await.unwrap();
}

/// A customer's own tax template (ERPNext's tax rule by customer) beats the
/// channel's; a template without lines assigned to a customer is their tax
/// exemption, named on the priced basket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_assigned_a_template_without_lines_is_tax_exempt() {
    let app = app().await;
    let (w, lines) = cents_world(&app).await;
    let other = app
        .create_customer(json!({ "name": "Taxed Ltd" }))
        .await
        .unwrap();
    let exempt = app
        .create(
            "/api/v1/tax-templates",
            json!({ "name": "Exempt: resale certificate RC-7", "mode": "exclusive",
                    "lines": [], "customers": [w.customer] }),
        )
        .await
        .unwrap();
    assert_eq!(exempt["customers"], json!([w.customer]));

    let priced = price_in(&app, &w, "B2B", &lines).await;
    assert_eq!(priced["tax_template"], Value::Null);
    assert_eq!(priced["tax_exemption"], "Exempt: resale certificate RC-7");
    assert_eq!(priced["totals"]["tax_total"], eur("0.00"));
    assert_eq!(priced["totals"]["gross_total"], eur("0.39"));
    assert_eq!(priced["tax_breakdown"], json!([]));

    let mut body = basket(&w, &[], lines.clone());
    body["customer_id"] = json!(id(&other));
    let taxed = app.post("/api/v1/pricing/price", body).await.unwrap();
    let taxed = taxed.assert_status(200);
    assert_eq!(taxed["tax_template"]["name"], "VAT");
    assert_eq!(taxed["tax_exemption"], Value::Null);
    assert_eq!(taxed["totals"]["tax_total"], eur("0.06"));

    // A customer belongs to one template; an unknown customer is named.
    let before = count(&app, "/api/v1/tax-templates").await;
    let taken = app
        .post(
            "/api/v1/tax-templates",
            json!({ "name": "Reduced", "mode": "exclusive", "customers": [w.customer],
                    "lines": [{ "code": "VAT", "name": "VAT 7 %", "rate_percent": "7" }] }),
        )
        .await
        .unwrap();
    taken.assert_problem(409, "customer_tax_template_taken");
    let unknown = app
        .post(
            "/api/v1/tax-templates",
            json!({ "name": "Reduced", "mode": "exclusive",
                    "customers": ["018bcfe5-6801-7a00-8000-000000000999"], "lines": [] }),
        )
        .await
        .unwrap();
    unknown.assert_problem(422, "unknown_reference");
    assert_eq!(unknown.body["field"], "customers[0]");
    assert_eq!(count(&app, "/api/v1/tax-templates").await, before);
    app.stop().await.unwrap();
}

#[test]
fn the_built_component_exports_the_pricing_interface() {
    let path = sales_e2e::workspace_root().join("target/wasm32-wasip2/release/pricing.wasm");
    let bytes = std::fs::read(&path).expect("pricing.wasm is built (scripts/build-wasm)");
    let exports = component_exports(&bytes);
    assert!(
        exports
            .iter()
            .any(|e| e == "sales:orchestration/pricing@0.1.0"),
        "{exports:?}"
    );
    assert!(
        exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2")),
        "{exports:?}"
    );
}

/// The names a component exports at its top level (nested modules and
/// components have their own export sections, skipped by depth).
fn component_exports(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    names.push(export.expect("an export").name.0.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

async fn priced(app: &TestApp, body: &Value) -> Value {
    let reply = app
        .post("/api/v1/pricing/price", body.clone())
        .await
        .unwrap();
    reply.assert_status(200).clone()
}

/// The first item of a list endpoint whose `field` equals `value`.
async fn find(app: &TestApp, path: &str, field: &str, value: &str) -> Value {
    let reply = app.get(&format!("{path}?limit=200")).await.unwrap();
    reply.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i[field] == value)
        .unwrap_or_else(|| panic!("no item of {path} has {field} = {value}"))
        .clone()
}

fn version(v: &Value) -> i64 {
    v["version"].as_i64().expect("a version")
}

/// Issue #4 (pricing speed): a basket reads the pricing data from a
/// key-value cache keyed by the pricing data version. Every kind of pricing
/// write that changes a price, made through one runner, is seen by the
/// next basket priced through another runner on the same database (which
/// had the previous version cached), and both answer the same bytes.
/// Creating a schedule (no rule uses it yet) cannot change a price; the
/// store test `every_pricing_write_bumps_the_pricing_data_version` covers
/// that write and every other one at the version level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_pricing_write_is_seen_by_the_next_basket_on_another_replica() {
    let apps = TestApp::spawn_replicas(2).await.unwrap();
    let (writer, reader) = (&apps[0], &apps[1]);
    let w = world(writer).await;
    let standard = pricing_setup(writer, &w).await;
    let body = basket(
        &w,
        &["spring"],
        json!([{ "product_id": w.drill, "quantity": "2" },
               { "product_id": w.bit, "quantity": "12" }]),
    );
    let channel = find(writer, "/api/v1/channels", "code", "B2B").await;
    let dealers = find(writer, "/api/v1/price-lists", "name", "Dealers").await;
    let schedule = find(
        writer,
        "/api/v1/discount-schedules",
        "name",
        "Bits by the box",
    )
    .await;

    let mut steps = 0;
    let mut last = priced(reader, &body).await;
    macro_rules! step {
        ($what:expr, $write:expr) => {{
            // The reader has the current version cached before each write.
            assert_eq!(priced(reader, &body).await, last);
            let written: Value = $write;
            let now = priced(reader, &body).await;
            assert!(
                now != last,
                "{}: the reader priced from a stale cache",
                $what
            );
            let other = priced(writer, &body).await;
            assert!(now == other, "{}: the two replicas disagree", $what);
            steps += 1;
            last = now;
            written
        }};
    }

    let rule = step!("creating a rule", {
        writer
            .create(
                "/api/v1/pricing-rules",
                json!({ "name": "Late rule", "priority": 1, "stacking": "apply_in_order",
                        "conditions": { "products": [w.drill] },
                        "action": { "type": "discount_percent", "percent": "1" } }),
            )
            .await
            .unwrap()
    });
    assert!(last.to_string().contains("Late rule"));
    let rule_path = format!("/api/v1/pricing-rules/{}", id(&rule));
    step!("updating a rule", {
        let r = writer
            .patch(
                &rule_path,
                version(&rule),
                json!({ "name": "Late rule, renamed" }),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });
    assert!(last.to_string().contains("Late rule, renamed"));
    step!("deactivating a rule", {
        let r = writer
            .post(&format!("{rule_path}/deactivate"), json!({}))
            .await
            .unwrap();
        r.assert_status(200).clone()
    });
    assert!(!last.to_string().contains("Late rule"));

    step!("updating a schedule", {
        let r = writer
            .patch(
                &format!("/api/v1/discount-schedules/{}", id(&schedule)),
                version(&schedule),
                json!({ "tiers": [{ "from": "0", "discount_percent": "0" },
                                  { "from": "10", "discount_percent": "20" }] }),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });

    let own = step!("creating a price list", {
        writer
            .create(
                "/api/v1/price-lists",
                json!({ "name": "Own", "currency": "EUR", "customer_id": w.customer,
                        "items": [{ "product_id": w.drill, "uom": "pcs", "rate": "90.00" }] }),
            )
            .await
            .unwrap()
    });
    step!("updating a price list", {
        let r = writer
            .patch(
                &format!("/api/v1/price-lists/{}", id(&own)),
                version(&own),
                json!({ "valid_from": "2026-03-03" }),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });
    step!("deactivating a price list", {
        let r = writer
            .post(
                &format!("/api/v1/price-lists/{}/deactivate", id(&dealers)),
                json!({}),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });
    step!("changing a price-list item", {
        let r = writer
            .post(
                &format!("/api/v1/price-lists/{}/items", id(&standard)),
                json!({ "items": [{ "product_id": w.drill, "uom": "pcs", "rate": "110.00" }] }),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });

    let template = step!("creating a tax template", {
        writer
            .create(
                "/api/v1/tax-templates",
                json!({ "name": "Field VAT", "mode": "exclusive", "channels": [id(&channel)],
                        "lines": [{ "code": "VAT7", "name": "VAT 7 %", "rate_percent": "7" }] }),
            )
            .await
            .unwrap()
    });
    step!("updating a tax template", {
        let r = writer
            .patch(
                &format!("/api/v1/tax-templates/{}", id(&template)),
                version(&template),
                json!({ "lines": [{ "code": "VAT8", "name": "VAT 8 %", "rate_percent": "8" }] }),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });
    step!("deactivating a tax template", {
        let r = writer
            .post(
                &format!("/api/v1/tax-templates/{}/deactivate", id(&template)),
                json!({}),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });

    let guard = step!("creating a guard", {
        writer
            .create(
                "/api/v1/price-guards",
                json!({ "scope": { "type": "product", "id": w.bit }, "floor_price": eur("9.00") }),
            )
            .await
            .unwrap()
    });
    step!("updating a guard", {
        let r = writer
            .patch(
                &format!("/api/v1/price-guards/{}", id(&guard)),
                version(&guard),
                json!({ "floor_price": null, "min_margin_percent": "90" }),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });
    step!("deactivating a guard", {
        let r = writer
            .post(
                &format!("/api/v1/price-guards/{}/deactivate", id(&guard)),
                json!({}),
            )
            .await
            .unwrap();
        r.assert_status(200).clone()
    });

    step!(
        "changing where tax is rounded",
        patch_settings(writer, json!({ "tax_rounding": "per_document" })).await
    );
    assert_eq!(last["tax_rounding"], "per_document");
    assert_eq!(steps, 15);
    for app in apps {
        app.stop().await.unwrap();
    }
}
