//! `openapi.yaml` walked against the running app, so the document cannot
//! drift from the code: every documented operation is called with a valid
//! request and with a bad one; each answer's status must be documented for
//! that operation and its body must validate against the documented schema.
//! Every route prefix in `spin.toml` must be documented.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use reqwest::Method;
use sales_e2e::{json, workspace_root, Reply, TestApp};
use serde_json::Value;

fn document() -> Value {
    let text =
        std::fs::read_to_string(workspace_root().join("openapi.yaml")).expect("openapi.yaml");
    serde_yaml_ng::from_str(&text).expect("openapi.yaml is valid YAML")
}

/// Follows a local `$ref` (`#/components/responses/Problem`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"))
        }
        None => v,
    }
}

/// Checks a reply against the operation's documented responses.
fn check(doc: &Value, op_name: &str, op: &Value, reply: &Reply) {
    let status = reply.status.as_u16().to_string();
    let responses = &op["responses"];
    let response = responses.get(&status).unwrap_or_else(|| {
        panic!(
            "{op_name}: status {status} is not documented; body: {}",
            reply.text
        )
    });
    let response = resolve(doc, response);
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return;
    };
    let ct = reply.header("content-type").unwrap_or("");
    let (media, entry) = content
        .iter()
        .find(|(m, _)| ct.starts_with(m.as_str()))
        .unwrap_or_else(|| panic!("{op_name} {status}: content-type {ct:?} is not documented"));
    let mut schema = entry["schema"].clone();
    schema["components"] = doc["components"].clone();
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| {
        panic!("{op_name} {status} {media}: the documented schema is invalid: {e}")
    });
    let errors: Vec<String> = validator
        .iter_errors(&reply.body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{op_name} {status}: the body does not match the document: {errors:?}\nbody: {}",
        reply.text
    );
}

/// A valid body for each create operation.
async fn create_body(op_id: &str, app: &TestApp) -> Value {
    let code = app
        .unique("C")
        .to_uppercase()
        .chars()
        .take(30)
        .collect::<String>();
    match op_id {
        "createApiKey" => json!({ "name": "walker", "roles": ["viewer"] }),
        "createCustomer" => {
            json!({ "name": "Walker GmbH", "external_ids": { "crm": app.unique("crm") } })
        }
        "createCustomerGroup" | "createItemGroup" | "createTerritory" => {
            json!({ "code": code, "name": "Node" })
        }
        "createProduct" => {
            json!({ "sku": app.unique("SKU"), "name": "Thing", "uom": "unit", "kind": "stocked",
                                   "standard_cost": { "amount": "1.00", "currency": "EUR" } })
        }
        "createChannel" => {
            json!({ "code": code, "name": "Channel", "kind": "b2b", "mode": "offline",
                                   "currency": "EUR", "tax_mode": "exclusive" })
        }
        "createPriceList" => json!({ "name": "Walker list", "currency": "EUR" }),
        "createPricingRule" => {
            json!({ "name": "Walker rule", "stacking": "exclusive",
                    "action": { "type": "discount_percent", "percent": "1" } })
        }
        "createDiscountSchedule" => {
            json!({ "name": "Walker tiers", "kind": "volume", "basis": "quantity",
                    "tiers": [{ "from": "0", "discount_percent": "1" }] })
        }
        "createTaxTemplate" => {
            json!({ "name": "Walker tax", "mode": "exclusive",
                    "lines": [{ "code": "VAT", "name": "VAT", "rate_percent": "19" }] })
        }
        "createPriceGuard" => {
            let product = app
                .create_product(Box::pin(create_body("createProduct", app)).await)
                .await
                .unwrap();
            json!({ "scope": { "type": "product", "id": product["id"] },
                    "floor_price": { "amount": "1.00", "currency": "EUR" } })
        }
        "expireReservations" => json!({}),
        "createWarehouse" => json!({ "code": code, "name": "Walker warehouse" }),
        "createStockAdjustment" => {
            let (product, warehouse, _) = stocked(app).await;
            json!({ "product_id": product, "warehouse_id": warehouse, "quantity": "2",
                    "reason": "walker" })
        }
        "createReceipt" => {
            let (product, warehouse, _) = stocked(app).await;
            json!({ "product_id": product, "warehouse_id": warehouse, "quantity": "5",
                    "due_on": "2099-01-01" })
        }
        "checkAvailability" => {
            let (product, _, code) = stocked(app).await;
            json!({ "warehouses": [code], "lines": [{ "product_id": product, "quantity": "1" }] })
        }
        "createReservation" => {
            let (product, _, code) = stocked(app).await;
            json!({ "document": app.unique("SO"), "warehouses": [code],
                    "lines": [{ "product_id": product, "quantity": "1" }] })
        }
        "createCalendar" => json!({ "name": "Walker week", "working_days":
                                    ["monday", "tuesday", "wednesday", "thursday", "friday"] }),
        "createWorkCenter" | "createProjectRole" => {
            let calendar = app
                .create(
                    "/api/v1/calendars",
                    Box::pin(create_body("createCalendar", app)).await,
                )
                .await
                .unwrap();
            if op_id == "createWorkCenter" {
                json!({ "name": "Walker cell", "calendar_id": calendar["id"], "hours_per_day": "8" })
            } else {
                json!({ "name": "Walker role", "calendar_id": calendar["id"], "hours_per_week": "40" })
            }
        }
        "createApprovalPolicy" => approval_policy(&code, None),
        "tickApprovals" => json!({}),
        "createApprovalManager" => {
            let (_, principal_id) = app.person("rep").await.unwrap();
            let (_, manager_id) = app.person("manager").await.unwrap();
            json!({ "principal_id": principal_id, "manager_id": manager_id })
        }
        "evaluateApprovals" | "openApprovalRequest" => {
            json!({ "snapshot": approval_snapshot(app).await })
        }
        "createDelegation" => {
            let (_, from) = app.person("manager").await.unwrap();
            let (_, to) = app.person("manager").await.unwrap();
            json!({ "from": from, "to": to, "starts": "2026-01-01", "ends": "2026-01-31" })
        }
        "createQuotation" => priceable_basket(app).await,
        "expireQuotations" => json!({}),
        "acceptQuotationLink" => {
            let q = app
                .create("/api/v1/quotations", Box::pin(priceable_basket(app)).await)
                .await
                .unwrap();
            let sent = app
                .post(
                    &format!("/api/v1/quotations/{}/send", q["id"].as_str().unwrap()),
                    json!({}),
                )
                .await
                .unwrap();
            json!({ "token": sent.assert_status(200)["accept_link"]["token"] })
        }
        "createOrder" => {
            let basket = Box::pin(priceable_basket(app)).await;
            let code = basket["channel_code"].as_str().unwrap();
            let channel = app
                .get(&format!("/api/v1/channels?code={code}"))
                .await
                .unwrap()
                .body["items"][0]["id"]
                .clone();
            json!({ "customer_id": basket["customer_id"], "channel_id": channel,
                    "lines": basket["lines"] })
        }
        // Teams (issue #8).
        "createSalesPerson" => json!({ "name": "Walker Rep" }),
        "createTeam" => json!({ "code": code, "name": "Walker team" }),
        "createSalesPartner" => {
            json!({ "code": code, "name": "Walker reseller", "commission_rate": "5" })
        }
        "createTerritoryManager" | "createTerritoryRule" => {
            let territory = app
                .create(
                    "/api/v1/territories",
                    json!({ "code": code, "name": "Walker land" }),
                )
                .await
                .unwrap();
            if op_id == "createTerritoryRule" {
                json!({ "territory_id": territory["id"], "country": "DE",
                        "postcode_from": "80000", "postcode_to": "81999" })
            } else {
                let person = app
                    .create("/api/v1/sales-people", json!({ "name": "Walker Boss" }))
                    .await
                    .unwrap();
                json!({ "territory_id": territory["id"], "sales_person_id": person["id"] })
            }
        }
        "resolveTerritory" => json!({ "country": "DE", "postcode": "80331" }),
        "createCommissionPlan" | "createTarget" | "createCommissionAdjustment" => {
            let person = app
                .create("/api/v1/sales-people", json!({ "name": "Walker Rep" }))
                .await
                .unwrap();
            let who = json!({ "kind": "sales_person", "id": person["id"] });
            match op_id {
                "createCommissionPlan" => json!({ "name": "Walker plan", "beneficiary": who,
                    "currency": "EUR", "effective_from": "2026-01-01", "default_rate": "5" }),
                "createTarget" => json!({ "subject": who, "period": "month",
                    "period_start": "2026-03-01", "amount": "1000", "currency": "EUR" }),
                _ => json!({ "beneficiary": who, "amount": "10.00", "currency": "EUR",
                    "earned_on": "2026-03-01", "reason": "walker" }),
            }
        }
        "rebuildAnalyticsRollups" => json!({}),
        "recalculateCommissions" => {
            let order = app
                .create(
                    "/api/v1/orders",
                    Box::pin(create_body("createOrder", app)).await,
                )
                .await
                .unwrap();
            json!({ "order_id": order["id"] })
        }
        "createWebhookSubscription" => {
            json!({ "url": "https://hooks.example.com/walker", "event_types": ["order.*"] })
        }
        "linkExternalReference" => {
            let order = app
                .create(
                    "/api/v1/orders",
                    Box::pin(create_body("createOrder", app)).await,
                )
                .await
                .unwrap();
            json!({ "document_kind": "order", "document_id": order["id"], "system": "crm",
                    "kind": "deal", "id": app.unique("deal") })
        }
        "createShopConnection" => {
            let channel = Box::pin(create_body("createChannel", app)).await;
            app.create("/api/v1/channels", channel.clone())
                .await
                .unwrap();
            json!({ "platform": "shopify", "shop": format!("{}.myshopify.com", app.unique("walker")),
                    "code": app.code("w").to_lowercase(),
                    "secret": "walker-secret-123", "channel_code": channel["code"] })
        }
        "createAutomation" => {
            // Harmless for the rest of the walk: a note to the bootstrap admin.
            json!({ "name": "Walker rule", "event": "quotation.sent",
                    "actions": [{ "type": "notify", "recipients": [
                        { "kind": "principal", "id": "00000000-0000-7000-8000-000000000001" }] }] })
        }
        // Signed by the shop, which the walker is not: 401 (documented).
        "receiveShopifyOrder" | "receiveWooCommerceOrder" | "receiveCrmEvent" => json!({}),
        other => panic!("no valid body for {other}: add one to the walker"),
    }
}

/// A policy that applies only to documents in channel `channel` with more
/// than 10% off a line, approved by any admin (`approver` when given);
/// admins may approve their own documents under it.
fn approval_policy(channel: &str, approver: Option<&Value>) -> Value {
    let approvers = match approver {
        Some(id) => json!([{ "type": "principal", "id": id }]),
        None => json!([{ "type": "role", "role": "admin" }]),
    };
    json!({ "name": "Walker policy", "applies_to": ["quotation", "order"],
            "condition": { "type": "all", "all": [
                { "type": "channels", "codes": [channel] },
                { "type": "max_line_discount", "over": "10" } ] },
            "chain": { "levels": [{ "name": "Admin", "approvers": approvers,
                                    "mode": { "type": "any_one" } }] },
            "allow_self_approval": true })
}

/// A quotation snapshot (version 1, 20% off, by the caller) that a fresh
/// walker policy requires approval for.
async fn approval_snapshot(app: &TestApp) -> Value {
    let channel = app.code("A");
    app.create("/api/v1/approval-policies", approval_policy(&channel, None))
        .await
        .unwrap();
    let me = app.get("/api/v1/me").await.unwrap().body["id"].clone();
    let eur = |a: &str| json!({ "amount": a, "currency": "EUR" });
    json!({
        "document": { "kind": "quotation", "id": uuid::Uuid::now_v7().to_string() },
        "version": 1, "channel": channel,
        "customer": { "id": uuid::Uuid::now_v7().to_string(), "open_exposure": eur("0") },
        "submitted_by": me, "payment_terms_days": 30, "default_payment_terms_days": 30,
        "currency": "EUR", "total": eur("800"),
        "lines": [{ "line_no": 1, "product": uuid::Uuid::now_v7().to_string(), "quantity": "10",
                    "list_price": eur("100"), "net_price": eur("80"), "discount_percent": "20" }]
    })
}

/// A stocked product with 10 on hand in a fresh warehouse: (product id,
/// warehouse id, warehouse code).
async fn stocked(app: &TestApp) -> (Value, Value, String) {
    let code = app.code("W");
    let warehouse = app
        .create(
            "/api/v1/warehouses",
            json!({ "code": code, "name": "Walker stock" }),
        )
        .await
        .unwrap();
    let product = app
        .create_product(Box::pin(create_body("createProduct", app)).await)
        .await
        .unwrap();
    app.post(
        "/api/v1/stock/adjustments",
        json!({ "product_id": product["id"], "warehouse_id": warehouse["id"],
                "on_hand": "10", "reason": "walker" }),
    )
    .await
    .unwrap()
    .assert_status(201);
    (product["id"].clone(), warehouse["id"].clone(), code)
}

/// A basket that prices: a customer, a channel, a product and its price.
async fn priceable_basket(app: &TestApp) -> Value {
    let customer = app
        .create_customer(json!({ "name": "Basket AG" }))
        .await
        .unwrap();
    let channel = Box::pin(create_body("createChannel", app)).await;
    app.create("/api/v1/channels", channel.clone())
        .await
        .unwrap();
    let product = app
        .create_product(Box::pin(create_body("createProduct", app)).await)
        .await
        .unwrap();
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Walker prices", "currency": "EUR",
                "items": [{ "product_id": product["id"], "uom": "unit", "rate": "9.99" }] }),
    )
    .await
    .unwrap();
    json!({ "customer_id": customer["id"], "channel_code": channel["code"], "currency": "EUR",
            "lines": [{ "product_id": product["id"], "quantity": "2" }] })
}

/// A policy on `channel` for `kind` (`quotation` / `order`) that asks an
/// admin to approve anything over 0 EUR, and lets the admin approve their
/// own document (the walker is the only principal).
fn walker_policy(kind: &str, channel: &Value) -> Value {
    json!({ "name": format!("Walker {kind} decisions"), "applies_to": [kind],
            "condition": { "type": "all", "all": [
                { "type": "channels", "codes": [channel] },
                { "type": "total_amount", "limits": { "EUR": { "over": "0" } } } ] },
            "chain": { "levels": [{ "name": "Admin",
                "approvers": [{ "type": "role", "role": "admin" }],
                "mode": { "type": "any_one" } }] },
            "allow_self_approval": true })
}

/// An operation that takes no API key (`security: []`), such as the
/// customer's accept through a signed quotation link.
fn is_public(op: &Value) -> bool {
    op.get("security") == Some(&json!([]))
}

/// The collection path a `{id}` path belongs to: `/api/v1/customers/{id}/deactivate` → `/api/v1/customers`.
fn collection(path: &str) -> &str {
    path.split("/{id}").next().unwrap_or(path)
}

async fn fresh(app: &TestApp, doc: &Value, collection_path: &str) -> (String, i64) {
    // Approval requests are opened at their own path, read under /approvals.
    let create_path = match collection_path {
        "/api/v1/approvals" => "/api/v1/approval-requests",
        // A document's sales team is read and replaced on the document's id.
        "/api/v1/sales-teams/orders" => "/api/v1/orders",
        "/api/v1/sales-teams/quotations" => "/api/v1/quotations",
        other => other,
    };
    let create = &doc["paths"][create_path]["post"];
    if create.is_null() {
        // A read-only collection (the outbox, work orders, projects): a
        // record that exists, else an id that answers 404.
        let listed = app
            .get(&format!("{collection_path}?limit=1"))
            .await
            .unwrap();
        let id = listed.body["items"][0]["id"]
            .as_str()
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_string);
        return (id, 1);
    }
    let op_id = create["operationId"].as_str().expect("a create operation");
    let reply = app
        .post(create_path, create_body(op_id, app).await)
        .await
        .unwrap();
    let body = reply.assert_status(201).clone();
    (
        body["id"].as_str().unwrap().to_string(),
        body["version"].as_i64().unwrap_or(1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_answers_as_documented() {
    let doc = document();
    let app = TestApp::spawn().await.unwrap();
    let key = app.admin_key.clone();
    let mut walked = 0;
    let mut op_ids = BTreeSet::new();

    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let m = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "patch" => Method::PATCH,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let op_id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            walked += 1;
            op_ids.insert(op_id.to_string());

            // A valid request.
            let (url, version) = if path.contains("{id}") {
                let (id, version) = fresh(&app, &doc, collection(path)).await;
                (path.replace("{id}", &id), version)
            } else {
                (path.clone(), 1)
            };
            let reply = match (m.clone(), path.as_str()) {
                (Method::POST, p) if p.starts_with("/api/v1/imports/") => {
                    let body = if p.ends_with("customers") {
                        format!("{{\"external_source\":\"crm\",\"external_id\":\"{}\",\"name\":\"Imported\"}}\n", app.unique("X"))
                    } else {
                        format!("{{\"external_source\":\"erp\",\"external_id\":\"{0}\",\"sku\":\"{0}\",\"name\":\"P\",\"uom\":\"unit\",\"kind\":\"service\",\"standard_cost\":\"1\",\"currency\":\"EUR\"}}\n", app.unique("X"))
                    };
                    app.call_raw(m.clone(), &url, "application/x-ndjson", body, &[])
                        .await
                        .unwrap()
                }
                (Method::POST, "/api/v1/stock/import") => {
                    let (product, _, code) = stocked(&app).await;
                    let body = format!(
                        "{{\"external_source\":\"wms\",\"external_id\":\"{}\",\"product_id\":{product},\"warehouse_code\":\"{code}\",\"on_hand\":\"7\"}}\n",
                        app.unique("X")
                    );
                    app.call_raw(m.clone(), &url, "application/x-ndjson", body, &[])
                        .await
                        .unwrap()
                }
                (Method::GET, "/api/v1/external-references") => app
                    .get(&format!("{url}?system=crm&kind=deal&external_id=walker"))
                    .await
                    .unwrap(),
                (Method::DELETE, "/api/v1/external-references") => {
                    let link = create_body("linkExternalReference", &app).await;
                    app.post(&url, link.clone())
                        .await
                        .unwrap()
                        .assert_status(201);
                    let query = format!(
                        "{url}?document_kind=order&document_id={}&system=crm&kind=deal&external_id={}",
                        link["document_id"].as_str().unwrap(),
                        link["id"].as_str().unwrap()
                    );
                    app.call(Method::DELETE, &query, None).await.unwrap()
                }
                (Method::POST, "/api/v1/pricing/price") => {
                    app.post(&url, priceable_basket(&app).await).await.unwrap()
                }
                (Method::POST, p) if !p.contains("{id}") => app
                    .post(&url, create_body(op_id, &app).await)
                    .await
                    .unwrap(),
                (Method::PUT, p) if p.starts_with("/api/v1/sales-teams/") => app
                    .put(&url, version, json!({ "sales_team": [] }))
                    .await
                    .unwrap(),
                (Method::PUT, p) if p.ends_with("/items") => app
                    .put(&url, version, json!({ "items": [] }))
                    .await
                    .unwrap(),
                (Method::POST, p) if p.ends_with("/items") => {
                    app.post(&url, json!({ "items": [] })).await.unwrap()
                }
                (Method::PATCH, "/api/v1/settings") => {
                    let v = app.get("/api/v1/settings").await.unwrap().body["version"]
                        .as_i64()
                        .unwrap();
                    app.patch(&url, v, json!({ "quotation_validity_days": 21 }))
                        .await
                        .unwrap()
                }
                (Method::PATCH, _) => app.patch(&url, version, json!({})).await.unwrap(),
                // Quotation actions other than send and cancel need a
                // sent quotation; losing needs a reason.
                (Method::POST, p) if p.starts_with("/api/v1/quotations/{id}/") => {
                    let (base, verb) = url.rsplit_once('/').unwrap();
                    if verb == "submit-for-approval" {
                        // A policy on the quotation's channel that asks
                        // an admin to approve anything over 0 EUR.
                        let q = app.get(base).await.unwrap();
                        app.create(
                            "/api/v1/approval-policies",
                            json!({ "name": "Walker quotations", "applies_to": ["quotation"],
                                    "condition": { "type": "all", "all": [
                                        { "type": "channels", "codes": [q.body["channel_code"]] },
                                        { "type": "total_amount",
                                          "limits": { "EUR": { "over": "0" } } } ] },
                                    "chain": { "levels": [{ "name": "Admin",
                                        "approvers": [{ "type": "role", "role": "admin" }],
                                        "mode": { "type": "any_one" } }] },
                                    "allow_self_approval": true }),
                        )
                        .await
                        .unwrap();
                    }
                    if matches!(verb, "accept" | "lose" | "revise" | "convert") {
                        app.post(&format!("{base}/send"), json!({}))
                            .await
                            .unwrap()
                            .assert_status(200);
                    }
                    // Deciding from the quotation: the same policy, asked.
                    if matches!(verb, "approve" | "reject") {
                        let q = app.get(base).await.unwrap();
                        app.create(
                            "/api/v1/approval-policies",
                            walker_policy("quotation", &q.body["channel_code"]),
                        )
                        .await
                        .unwrap();
                        app.post(&format!("{base}/submit-for-approval"), json!({}))
                            .await
                            .unwrap()
                            .assert_status(200);
                    }
                    let body = match verb {
                        "lose" => json!({ "reason": "walker" }),
                        "approve" | "reject" => {
                            let q = app.get(base).await.unwrap();
                            json!({ "document_version": q.body["document_version"],
                                    "comment": "walker" })
                        }
                        _ => json!({}),
                    };
                    app.post(&url, body).await.unwrap()
                }
                // Order actions other than submit need a submitted order
                // (resume a held one); a shipment names a line.
                (Method::POST, p) if p.starts_with("/api/v1/orders/{id}/") => {
                    let (base, verb) = url.rsplit_once('/').unwrap();
                    if verb == "fulfil" {
                        // Stock to reserve at submission and ship from.
                        let order = app.get(base).await.unwrap();
                        let code = app.code("W");
                        let warehouse = app
                            .create(
                                "/api/v1/warehouses",
                                json!({ "code": code, "name": "Walker" }),
                            )
                            .await
                            .unwrap();
                        app.post(
                            "/api/v1/stock/adjustments",
                            json!({ "product_id": order.body["lines"][0]["product_id"],
                                    "warehouse_id": warehouse["id"], "on_hand": "10",
                                    "reason": "walker" }),
                        )
                        .await
                        .unwrap()
                        .assert_status(201);
                    }
                    // Deciding from the order: a policy on its channel
                    // that asks an admin, who may approve their own.
                    if matches!(verb, "approve" | "reject") {
                        let order = app.get(base).await.unwrap();
                        let channel = app
                            .get(&format!(
                                "/api/v1/channels/{}",
                                order.body["channel_id"].as_str().unwrap()
                            ))
                            .await
                            .unwrap();
                        app.create(
                            "/api/v1/approval-policies",
                            walker_policy("order", &channel.body["code"]),
                        )
                        .await
                        .unwrap();
                    }
                    let mut submitted = Value::Null;
                    if verb != "submit" {
                        let reply = app
                            .post(&format!("{base}/submit"), json!({}))
                            .await
                            .unwrap();
                        submitted = reply.assert_status(200).clone();
                    }
                    if verb == "resume" {
                        app.post(&format!("{base}/hold"), json!({}))
                            .await
                            .unwrap()
                            .assert_status(200);
                    }
                    let body = match verb {
                        "fulfil" => {
                            let order = app.get(base).await.unwrap();
                            json!({ "lines": [{ "line_id": order.body["lines"][0]["id"], "quantity": "1" }] })
                        }
                        "approve" | "reject" => {
                            json!({ "document_version": submitted["revision"], "comment": "walker" })
                        }
                        _ => json!({}),
                    };
                    app.post(&url, body).await.unwrap()
                }
                (Method::GET, p) if p.contains("{revision}") => {
                    let base = url.split("/revisions/").next().unwrap().to_string();
                    app.post(&format!("{base}/send"), json!({}))
                        .await
                        .unwrap()
                        .assert_status(200);
                    app.post(&format!("{base}/revise"), json!({}))
                        .await
                        .unwrap()
                        .assert_status(200);
                    app.get(&url.replace("{revision}", "1")).await.unwrap()
                }
                (Method::POST, p) if p.ends_with("/approve") => app
                    .post(&url, json!({ "document_version": 1 }))
                    .await
                    .unwrap(),
                (Method::POST, p) if p.ends_with("/reject") => app
                    .post(&url, json!({ "document_version": 1, "comment": "walker" }))
                    .await
                    .unwrap(),
                _ => app.call(m.clone(), &url, None).await.unwrap(),
            };
            // Read-only records may not exist yet in this app (404), and
            // only a parked event can be retried (409): documented answers;
            // tests/tests/jobs.rs covers the successful ones.
            let refused_as_documented = matches!(
                (op_id, reply.status.as_u16(), reply.code()),
                (
                    "getWorkOrder" | "getProject" | "getOutboxEvent" | "retryOutboxEvent",
                    404,
                    "not_found"
                ) | ("retryOutboxEvent", 409, "invalid_state")
                    | (
                        "getInboundEvent" | "getWebhookDelivery" | "redeliverWebhookDelivery",
                        404,
                        "not_found"
                    )
                    | (
                        "receiveShopifyOrder" | "receiveWooCommerceOrder" | "receiveCrmEvent",
                        401,
                        "invalid_signature"
                    )
            );
            assert!(
                reply.status.is_success() || refused_as_documented,
                "{op_id}: a valid request failed: {} {}",
                reply.status,
                reply.text
            );
            check(&doc, op_id, op, &reply);

            // No key (except on public operations: `security: []`).
            if !is_public(op) {
                let reply = app.call_as("", m.clone(), &url, None, &[]).await.unwrap();
                assert_eq!(reply.status.as_u16(), 401, "{op_id}");
                check(&doc, op_id, op, &reply);
            }

            // A bad request: an unknown id, or a body that is not JSON.
            let bad = if path.contains("{id}") {
                let url = path.replace("{id}", "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162");
                app.call_as(
                    &key,
                    m.clone(),
                    &url,
                    Some(json!({})),
                    &[("if-match", "\"1\"")],
                )
                .await
                .unwrap()
            } else if m == Method::GET {
                if !op["parameters"]
                    .to_string()
                    .contains("#/components/parameters/limit")
                {
                    continue; // nothing a client can get wrong
                }
                app.get(&format!("{path}?limit=0")).await.unwrap()
            } else {
                app.call_raw(
                    m.clone(),
                    path,
                    "application/json",
                    "{",
                    &[("if-match", "\"1\"")],
                )
                .await
                .unwrap()
            };
            assert!(
                bad.status.is_client_error(),
                "{op_id}: a bad request got {} {}",
                bad.status,
                bad.text
            );
            check(&doc, op_id, op, &bad);
        }
    }
    assert_eq!(op_ids.len(), walked, "operationIds must be unique");
    assert!(walked >= 39, "only {walked} operations walked");
    app.stop().await.unwrap();
}

#[test]
fn every_route_in_spin_toml_is_documented() {
    let doc = document();
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let manifest = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&manifest).unwrap();
    let triggers = manifest["trigger"]["http"].as_array().unwrap();
    for t in triggers {
        let Some(route) = t["route"].as_str() else {
            continue;
        };
        if !route.starts_with("/api/") {
            continue;
        }
        let prefix = route.trim_end_matches("/...");
        assert!(
            documented
                .iter()
                .any(|p| p == prefix || p.starts_with(&format!("{prefix}/"))),
            "route {route} of spin.toml has no path in openapi.yaml"
        );
    }
}

/// The conventions every operation shares are documented on every operation:
/// an `Idempotency-Key` may be reused wrongly (422), an `If-Match` may be
/// stale (412) or missing (428), and every operation may be refused a key (401).
#[test]
fn shared_conventions_are_documented_on_every_operation() {
    let doc = document();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let shared = item["parameters"].to_string();
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let params = format!("{shared}{}", op["parameters"]);
            let responses = op["responses"].as_object().unwrap();
            let mut need = if is_public(op) { vec![] } else { vec!["401"] };
            if params.contains("#/components/parameters/idempotencyKey") {
                need.push("422");
            }
            if params.contains("#/components/parameters/ifMatch") {
                need.extend(["412", "428"]);
            }
            for status in need {
                if !responses.contains_key(status) {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented shared responses: {missing:#?}"
    );
}

/// A `PATCH` body is any subset of the record's fields (every handler reads
/// each field as optional), so its schema may require none of them: a schema
/// that requires fields makes a valid one-field patch look schema-violating
/// to a client or a fuzzer, which then treats our 200 or 412 as a bug.
#[test]
fn every_patch_body_requires_no_field() {
    let doc = document();
    let mut requiring = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("patch") else {
            continue;
        };
        let mut schema = &op["requestBody"]["content"]["application/json"]["schema"];
        assert!(!schema.is_null(), "PATCH {path} documents no JSON body");
        // A `$ref` may lead to another `$ref` (a patch named after a create).
        while schema.get("$ref").is_some() {
            schema = resolve(&doc, schema);
        }
        let required = schema["required"].as_array().map_or(0, Vec::len);
        if required > 0 || schema["properties"].is_null() {
            requiring.push(format!("PATCH {path}: {}", schema["required"]));
        }
    }
    assert!(
        requiring.is_empty(),
        "PATCH bodies that require fields or list none: {requiring:#?}"
    );
}
