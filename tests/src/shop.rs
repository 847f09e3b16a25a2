//! A small shop set up over the API, shared by the main scenario
//! (`tests/flow.rs`) and the fault and replica tests (`tests/proof`):
//! shelves in stock in warehouse `MAIN`, cabinets made to order on a work
//! centre (none on hand: every order for one makes a work order),
//! installation hours delivered by a project role (every order for them
//! makes a project), a price list, customers, a B2B channel and a policy
//! sending large orders to a manager. [`ShopSpec`] holds what the tests
//! set differently.

// A fixture: a refused call fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

use crate::{json, TestApp};

/// What differs between the shops of the tests.
#[derive(Debug, Clone)]
pub struct ShopSpec<'a> {
    /// Shelves on hand in `MAIN`.
    pub shelves_on_hand: &'a str,
    /// Work-centre hours one cabinet takes.
    pub cabinet_hours: &'a str,
    /// One customer per name, each with this EUR credit limit.
    pub customers: &'a [&'a str],
    pub credit_limit: &'a str,
    /// Whether the B2B channel sells only from quotations.
    pub quotation_required: bool,
    /// Orders over this many EUR wait for the manager.
    pub approval_over: &'a str,
}

/// The ids of what [`shop`] created.
#[derive(Debug, Clone)]
pub struct Shop {
    /// The manager's API key and principal id (the approver).
    pub manager_key: String,
    pub manager: String,
    pub warehouse: String,
    pub shelf: String,
    pub cabinet: String,
    pub install: String,
    /// The installer role.
    pub role: String,
    /// In the order of [`ShopSpec::customers`].
    pub customers: Vec<String>,
    pub channel: String,
    pub channel_code: String,
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

/// Sets the shop up; panics (fails the test) on any refused call.
pub async fn shop(app: &TestApp, spec: &ShopSpec<'_>) -> Shop {
    let manager_key = app.create_key("manager", &["manager"]).await.unwrap();
    let me = app
        .call_as(&manager_key, reqwest::Method::GET, "/api/v1/me", None, &[])
        .await
        .unwrap();
    let manager = me.assert_status(200)["id"].as_str().unwrap().to_owned();
    let product = |sku: &str, kind: &str, uom: &str| {
        json!({ "sku": sku, "name": sku, "uom": uom, "kind": kind,
                "standard_cost": eur("40.00") })
    };
    let shelf = id(&app
        .create_product(product("SHELF", "stocked", "pcs"))
        .await
        .unwrap());
    let cabinet = id(&app
        .create_product(product("CABINET", "manufactured", "pcs"))
        .await
        .unwrap());
    let install = id(&app
        .create_product(product("INSTALL", "service", "h"))
        .await
        .unwrap());
    let Plant {
        warehouse, role, ..
    } = plant(
        app,
        "MAIN",
        json!([{ "product_id": cabinet, "hours_per_unit": spec.cabinet_hours }]),
        json!([{ "product_id": install }]),
    )
    .await;
    count(app, &shelf, &warehouse, spec.shelves_on_hand).await;
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR", "items": [
            { "product_id": shelf, "uom": "pcs", "rate": "60.00" },
            { "product_id": cabinet, "uom": "pcs", "rate": "300.00" },
            { "product_id": install, "uom": "h", "rate": "80.00" },
        ]}),
    )
    .await
    .unwrap();
    let mut customers = Vec::new();
    for name in spec.customers {
        customers.push(id(&app
            .create_customer(json!({ "name": name,
                                     "credit_limit": eur(spec.credit_limit) }))
            .await
            .unwrap()));
    }
    let channel_code = "B2B".to_string();
    let channel = id(&app
        .create(
            "/api/v1/channels",
            json!({ "code": channel_code, "name": "B2B", "kind": "b2b", "mode": "offline",
                    "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"],
                    "quotation_required": spec.quotation_required, "credit_check": "block",
                    "payment_terms": { "name": "Net 30", "days": 30 } }),
        )
        .await
        .unwrap());
    app.create(
        "/api/v1/approval-policies",
        json!({ "name": "Large order", "applies_to": ["order"],
                "condition": { "type": "total_amount",
                               "limits": { "EUR": { "over": spec.approval_over } } },
                "chain": { "levels": [{ "name": "Manager",
                                        "approvers": [{ "type": "principal", "id": manager }],
                                        "mode": { "type": "any_one" } }] } }),
    )
    .await
    .unwrap();
    Shop {
        manager_key,
        manager,
        warehouse,
        shelf,
        cabinet,
        install,
        role,
        customers,
        channel,
        channel_code,
    }
}

/// Where goods are kept, made and installed, created over the API.
#[derive(Debug, Clone)]
pub struct Plant {
    pub warehouse: String,
    pub calendar: String,
    /// The work centre (8 hours a day).
    pub center: String,
    /// The project role (40 hours a week).
    pub role: String,
}

/// A warehouse `warehouse_code`, a Monday-to-Friday calendar, a work centre
/// on it making `routings` (`[{ "product_id", "hours_per_unit" }]`) and a
/// project role on it delivering `services` (`[{ "product_id" }]`).
pub async fn plant(app: &TestApp, warehouse_code: &str, routings: Value, services: Value) -> Plant {
    let warehouse = id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": warehouse_code, "name": warehouse_code }),
        )
        .await
        .unwrap());
    let calendar = id(&app
        .create(
            "/api/v1/calendars",
            json!({ "name": "Plant", "working_days":
                    ["monday", "tuesday", "wednesday", "thursday", "friday"] }),
        )
        .await
        .unwrap());
    let center = id(&app
        .create(
            "/api/v1/work-centers",
            json!({ "name": "Carpentry", "calendar_id": calendar, "hours_per_day": "8",
                    "routings": routings }),
        )
        .await
        .unwrap());
    let role = id(&app
        .create(
            "/api/v1/project-roles",
            json!({ "name": "Installer", "calendar_id": calendar, "hours_per_week": "40",
                    "services": services }),
        )
        .await
        .unwrap());
    Plant {
        warehouse,
        calendar,
        center,
        role,
    }
}

/// A new manager to whom orders sold in channel `channel_code` for more
/// than `over` EUR go for approval: (API key, principal id).
pub async fn order_approver(app: &TestApp, channel_code: &str, over: &str) -> (String, String) {
    let (key, manager) = app.person("manager").await.unwrap();
    let approvers = json!([{ "type": "principal", "id": manager }]);
    order_policy(app, channel_code, over, approvers).await;
    (key, manager)
}

/// A policy sending orders sold in channel `channel_code` for more than
/// `over` EUR to any one of `approvers` (`[{ "type": "territory_manager" }]`).
pub async fn order_policy(app: &TestApp, channel_code: &str, over: &str, approvers: Value) {
    app.create(
        "/api/v1/approval-policies",
        json!({ "name": "Large order", "applies_to": ["order"],
                "condition": { "type": "all", "all": [
                    { "type": "channels", "codes": [channel_code] },
                    { "type": "total_amount", "limits": { "EUR": { "over": over } } } ] },
                "chain": { "levels": [{ "name": "Manager", "approvers": approvers,
                    "mode": { "type": "any_one" } }] } }),
    )
    .await
    .unwrap();
}

/// `verb` (`approve` / `reject`) on approval `request` as the holder of
/// `key`, at the document version the request names, with `extra` fields
/// (`{ "comment": … }`) in the body; the reply.
pub async fn decide(
    app: &TestApp,
    key: &str,
    request: &str,
    verb: &str,
    extra: Value,
) -> crate::Reply {
    let got = app
        .get(&format!("/api/v1/approvals/{request}"))
        .await
        .unwrap();
    let mut body = json!({ "document_version": got.assert_status(200)["document"]["version"] });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.post_as(key, &format!("/api/v1/approvals/{request}/{verb}"), body)
        .await
        .unwrap()
}

/// A stocked drill (a unique SKU, standard cost 40.00 EUR) with `on_hand`
/// counted in `warehouse` and a "Standard" EUR price list selling it at
/// 100.00 a piece: the drill's id.
pub async fn drills(app: &TestApp, warehouse: &str, on_hand: &str) -> String {
    let drill = drill(app).await;
    count(app, &drill, warehouse, on_hand).await;
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR", "items": [
            { "product_id": drill, "uom": "pcs", "rate": "100.00" }
        ]}),
    )
    .await
    .unwrap();
    drill
}

/// A stocked drill: a unique SKU, sold by the piece, standard cost 40.00
/// EUR; its id.
pub async fn drill(app: &TestApp) -> String {
    id(&app
        .create_product(json!({
            "sku": app.unique("DRILL"), "name": "Drill", "uom": "pcs", "kind": "stocked",
            "standard_cost": eur("40.00")
        }))
        .await
        .unwrap())
}

/// A stock count: `on_hand` of `product` in `warehouse` (must be 201).
pub async fn count(app: &TestApp, product: &str, warehouse: &str, on_hand: &str) {
    app.post(
        "/api/v1/stock/adjustments",
        json!({ "product_id": product, "warehouse_id": warehouse, "on_hand": on_hand,
                "reason": "count" }),
    )
    .await
    .unwrap()
    .assert_status(201);
}
