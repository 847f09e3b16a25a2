//! The catalog through the runner: CRUD, filters, pagination, versions,
//! idempotency, and bad input that must leave nothing behind.
//!
//! Every test names its records uniquely and counts through filters or
//! before/after, so the suite also runs against a shared, already-used
//! instance (`SALES_BASE_URL`).

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use sales_e2e::{json, TestApp};
use serde_json::Value;

async fn app() -> TestApp {
    TestApp::spawn().await.expect("failed to start the app")
}

fn customer(name: &str, crm_id: &str) -> Value {
    json!({
        "name": name,
        "email": "buyer@example.com",
        "credit_limit": { "amount": "50000.00", "currency": "EUR" },
        "payment_terms": { "name": "Net 30", "days": 30 },
        "billing_address": { "line1": "Hauptstr. 1", "city": "Berlin", "postcode": "10115", "country": "DE" },
        "external_ids": { "crm": crm_id }
    })
}

fn product(sku: &str) -> Value {
    json!({ "sku": sku, "name": "Widget", "uom": "unit", "kind": "stocked",
            "standard_cost": { "amount": "10.00", "currency": "EUR" } })
}

async fn count(app: &TestApp, path: &str) -> usize {
    app.count(path).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_lifecycle_create_read_update_list_deactivate() {
    let app = app().await;
    let name = app.unique("Acme GmbH");
    let crm = app.unique("C");

    let reply = app
        .post("/api/v1/customers", customer(&name, &crm))
        .await
        .unwrap();
    let created = reply.assert_status(201).clone();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/customers/{id}").as_str())
    );
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(created["version"], 1);
    assert_eq!(created["active"], true);
    assert_eq!(
        created["credit_limit"],
        json!({ "amount": "50000.00", "currency": "EUR" })
    );
    assert_eq!(created["external_ids"]["crm"], crm.as_str());

    let read = app.get(&format!("/api/v1/customers/{id}")).await.unwrap();
    assert_eq!(read.assert_status(200)["name"], name.as_str());
    assert_eq!(read.header("etag"), Some("\"1\""));

    let renamed = format!("{name} AG");
    let updated = app
        .patch(
            &format!("/api/v1/customers/{id}"),
            1,
            json!({ "name": renamed, "email": null }),
        )
        .await
        .unwrap();
    let body = updated.assert_status(200);
    assert_eq!(body["name"], renamed.as_str());
    assert_eq!(body["email"], Value::Null);
    assert_eq!(
        body["credit_limit"]["amount"], "50000.00",
        "fields not in the patch are kept"
    );
    assert_eq!(body["version"], 2);
    assert_eq!(updated.header("etag"), Some("\"2\""));

    let deactivated = app
        .call(
            Method::POST,
            &format!("/api/v1/customers/{id}/deactivate"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(deactivated.assert_status(200)["active"], false);

    assert_eq!(
        count(&app, &format!("/api/v1/customers?active=false&q={name}")).await,
        1
    );
    assert_eq!(
        count(&app, &format!("/api/v1/customers?active=true&q={name}")).await,
        0
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_cursors_and_filter() {
    let app = app().await;
    let code = app.code("WHOLESALE");
    let group = app
        .create(
            "/api/v1/customer-groups",
            json!({ "code": code, "name": "Wholesale" }),
        )
        .await
        .unwrap();
    let gid = group["id"].as_str().unwrap();
    let tag = app.unique("paged");
    let source = app.unique("crm");
    for i in 0..5 {
        let mut c = customer(&format!("{tag} customer {i}"), &format!("C-{i}"));
        c["external_ids"] = json!({ &source: format!("C-{i}") });
        if i % 2 == 0 {
            c["customer_group_id"] = json!(gid);
        }
        app.create_customer(c).await.unwrap();
    }

    let first = app
        .get(&format!("/api/v1/customers?limit=2&q={tag}"))
        .await
        .unwrap();
    let first = first.assert_status(200).clone();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next cursor");
    let second = app
        .get(&format!(
            "/api/v1/customers?limit=2&q={tag}&cursor={cursor}"
        ))
        .await
        .unwrap();
    let second = second.assert_status(200).clone();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    let ids: Vec<&Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|c| &c["id"])
        .collect();
    let unique: std::collections::BTreeSet<String> = ids.iter().map(|v| v.to_string()).collect();
    assert_eq!(unique.len(), 4, "pages must not overlap");
    assert_eq!(count(&app, &format!("/api/v1/customers?q={tag}")).await, 5);

    assert_eq!(
        count(&app, &format!("/api/v1/customers?customer_group_id={gid}")).await,
        3
    );
    assert_eq!(
        count(&app, &format!("/api/v1/customers?q={tag}%20customer%203")).await,
        1
    );
    assert_eq!(
        count(
            &app,
            &format!("/api/v1/customers?external_source={source}&external_id=C-4")
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, &format!("/api/v1/customers?external_source={source}")).await,
        5
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_or_missing_if_match_is_refused_and_changes_nothing() {
    let app = app().await;
    let c = app
        .create_customer(customer(&app.unique("Acme"), &app.unique("C")))
        .await
        .unwrap();
    let path = format!("/api/v1/customers/{}", c["id"].as_str().unwrap());
    app.patch(&path, 1, json!({ "name": "First" }))
        .await
        .unwrap()
        .assert_status(200);

    app.patch(&path, 1, json!({ "name": "Stale" }))
        .await
        .unwrap()
        .assert_problem(412, "version_conflict");
    let key = app.admin_key.clone();
    app.call_as(
        &key,
        Method::PATCH,
        &path,
        Some(json!({ "name": "No precondition" })),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(428, "precondition_required");
    app.call_as(
        &key,
        Method::PATCH,
        &path,
        Some(json!({ "name": "x" })),
        &[("if-match", "yesterday")],
    )
    .await
    .unwrap()
    .assert_problem(400, "invalid_if_match");

    let now = app.get(&path).await.unwrap();
    assert_eq!(now.body["name"], "First");
    assert_eq!(now.body["version"], 2);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_catalog_routes_is_a_named_4xx_and_writes_nothing() {
    let app = app().await;
    let crm = app.unique("C");
    let sku = app.unique("SKU");
    let existing = app
        .create_customer(customer(&app.unique("Existing"), &crm))
        .await
        .unwrap();
    let existing_path = format!("/api/v1/customers/{}", existing["id"].as_str().unwrap());
    app.create_product(product(&sku)).await.unwrap();

    let lists = [
        "/api/v1/customers",
        "/api/v1/products",
        "/api/v1/channels",
        "/api/v1/territories",
        "/api/v1/customer-groups",
        "/api/v1/item-groups",
        "/api/v1/api-keys",
    ];
    let mut before = Vec::new();
    for path in lists {
        before.push(count(&app, path).await);
    }

    let raw = |path: &'static str, body: &'static str| {
        let app = &app;
        async move {
            app.call_raw(Method::POST, path, "application/json", body, &[])
                .await
                .unwrap()
        }
    };
    for path in lists {
        raw(path, "{\"name\": ")
            .await
            .assert_problem(400, "malformed_json");
        raw(path, "").await.assert_problem(400, "malformed_json");
        raw(path, "[1,2]")
            .await
            .assert_problem(422, "invalid_field");
        let big = format!("{{\"name\":\"{}\"}}", "x".repeat(1024 * 1024 + 10));
        app.call_raw(Method::POST, path, "application/json", big, &[])
            .await
            .unwrap()
            .assert_problem(413, "payload_too_large");
        app.call_raw(Method::POST, path, "text/plain", "name=x", &[])
            .await
            .unwrap()
            .assert_problem(415, "unsupported_media_type");
        let reply = app
            .post(path, json!({ "name": "x", "no_such_field": 1 }))
            .await
            .unwrap();
        assert_eq!(reply.status.as_u16(), 422, "{path}: {}", reply.text);
        app.get(&format!("{path}?limit=abc"))
            .await
            .unwrap()
            .assert_problem(400, "invalid_query");
        app.get(&format!("{path}?no_such_filter=1"))
            .await
            .unwrap()
            .assert_problem(400, "invalid_query");
        app.get(&format!("{path}?cursor=not-a-cursor"))
            .await
            .unwrap()
            .assert_problem(400, "invalid_cursor");
        app.get(&format!("{path}?limit=0"))
            .await
            .unwrap()
            .assert_problem(400, "invalid_query");
        app.get(&format!("{path}?limit=201"))
            .await
            .unwrap()
            .assert_problem(400, "invalid_query");
        app.get(&format!("{path}/not-an-id"))
            .await
            .unwrap()
            .assert_problem(400, "invalid_id");
        app.get(&format!("{path}/0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162"))
            .await
            .unwrap()
            .assert_problem(404, "not_found");
        let put = app.call(Method::PUT, path, Some(json!({}))).await.unwrap();
        put.assert_problem(405, "method_not_allowed");
        assert!(
            put.header("allow").is_some_and(|a| a.contains("GET")),
            "{path}: 405 without Allow"
        );
    }

    // Customers: wrong types, missing and unknown fields, bad nested values.
    let cases = [
        (json!({ "email": "a@b.example" }), "missing_field", "name"),
        (json!({ "name": 42 }), "invalid_field", "name"),
        (
            json!({ "name": "X", "colour": "red" }),
            "unknown_field",
            "colour",
        ),
        (
            json!({ "name": "X", "credit_limit": { "amount": "ten", "currency": "EUR" } }),
            "invalid_field",
            "credit_limit",
        ),
        (
            json!({ "name": "X", "credit_limit": { "amount": "10", "currency": "XXY" } }),
            "invalid_field",
            "credit_limit",
        ),
        (
            json!({ "name": "X", "credit_limit": { "amount": "-5", "currency": "EUR" } }),
            "invalid_field",
            "credit_limit.amount",
        ),
        (
            json!({ "name": "X", "email": "not-an-email" }),
            "invalid_field",
            "email",
        ),
        (json!({ "name": "   " }), "invalid_field", "name"),
        (
            json!({ "name": "X", "customer_group_id": "nope" }),
            "invalid_field",
            "customer_group_id",
        ),
        (
            json!({ "name": "X", "billing_address": { "line1": "a", "city": "b", "country": "ZZ" } }),
            "invalid_field",
            "billing_address",
        ),
        (
            json!({ "name": "X", "territory_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162" }),
            "unknown_reference",
            "territory_id",
        ),
    ];
    for (body, code, field) in cases {
        let reply = app.post("/api/v1/customers", body.clone()).await.unwrap();
        assert!(reply.status.is_client_error(), "{body}: {}", reply.text);
        assert_eq!(reply.code(), code, "{body}: {}", reply.text);
        assert!(
            reply.body["field"]
                .as_str()
                .unwrap_or("")
                .starts_with(field),
            "{body}: field {:?}, expected {field}",
            reply.body["field"]
        );
    }
    // A duplicate external id and a duplicate SKU.
    app.post("/api/v1/customers", customer("Other", &crm))
        .await
        .unwrap()
        .assert_problem(409, "duplicate");
    app.post("/api/v1/products", product(&sku))
        .await
        .unwrap()
        .assert_problem(409, "duplicate");
    let mut bad_kind = product(&app.unique("SKU"));
    bad_kind["kind"] = json!("magic");
    app.post("/api/v1/products", bad_kind)
        .await
        .unwrap()
        .assert_problem(422, "invalid_field");
    // A bad patch changes nothing.
    app.patch(&existing_path, 1, json!({ "name": "" }))
        .await
        .unwrap()
        .assert_problem(422, "invalid_field");
    app.patch(&existing_path, 1, json!({ "name": null }))
        .await
        .unwrap()
        .assert_problem(422, "invalid_field");

    for (path, n) in lists.iter().zip(before) {
        assert_eq!(
            count(&app, path).await,
            n,
            "{path}: bad input wrote something"
        );
    }
    assert_eq!(app.get(&existing_path).await.unwrap().body["version"], 1);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_post_twice_with_one_idempotency_key_creates_one_record() {
    let app = app().await;
    let key = app.admin_key.clone();
    let name = app.unique("Once Only");
    let body = customer(&name, &app.unique("C"));
    let idem = app.unique("create");
    let headers = [("idempotency-key", idem.as_str())];
    let first = app
        .call_as(
            &key,
            Method::POST,
            "/api/v1/customers",
            Some(body.clone()),
            &headers,
        )
        .await
        .unwrap();
    let second = app
        .call_as(
            &key,
            Method::POST,
            "/api/v1/customers",
            Some(body.clone()),
            &headers,
        )
        .await
        .unwrap();
    first.assert_status(201);
    second.assert_status(201);
    assert_eq!(first.text, second.text);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(count(&app, &format!("/api/v1/customers?q={name}")).await, 1);

    let mut other = body.clone();
    other["name"] = json!(format!("{name} else"));
    app.call_as(
        &key,
        Method::POST,
        "/api/v1/customers",
        Some(other),
        &headers,
    )
    .await
    .unwrap()
    .assert_problem(422, "idempotency_key_reused");
    assert_eq!(count(&app, &format!("/api/v1/customers?q={name}")).await, 1);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_roles_and_revocation() {
    let app = app().await;
    app.call_as("", Method::GET, "/api/v1/customers", None, &[])
        .await
        .unwrap()
        .assert_problem(401, "unauthorized");
    app.call_as("sk_wrong", Method::GET, "/api/v1/customers", None, &[])
        .await
        .unwrap()
        .assert_problem(401, "unauthorized");

    let viewer_name = app.unique("dashboard screen");
    let viewer = app.create_key(&viewer_name, &["viewer"]).await.unwrap();
    let rep = app.create_key("Rita Rep", &["rep"]).await.unwrap();
    let new_customer = || customer(&app.unique("X"), &app.unique("C"));
    app.call_as(&viewer, Method::GET, "/api/v1/customers", None, &[])
        .await
        .unwrap()
        .assert_status(200);
    app.call_as(
        &viewer,
        Method::POST,
        "/api/v1/customers",
        Some(new_customer()),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");
    app.call_as(
        &rep,
        Method::POST,
        "/api/v1/customers",
        Some(new_customer()),
        &[],
    )
    .await
    .unwrap()
    .assert_status(201);
    app.call_as(&rep, Method::POST, "/api/v1/channels", Some(json!({})), &[])
        .await
        .unwrap()
        .assert_problem(403, "forbidden");
    app.call_as(&rep, Method::GET, "/api/v1/api-keys", None, &[])
        .await
        .unwrap()
        .assert_problem(403, "forbidden");
    let me = app
        .call_as(&rep, Method::GET, "/api/v1/me", None, &[])
        .await
        .unwrap();
    assert_eq!(me.assert_status(200)["roles"], json!(["rep"]));

    let keys = app
        .get("/api/v1/api-keys?limit=200&revoked=false")
        .await
        .unwrap();
    let keys = keys.assert_status(200).clone();
    assert!(
        !keys.to_string().contains(&viewer),
        "a key list must never show secrets"
    );
    let viewer_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == viewer_name.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.call(
        Method::POST,
        &format!("/api/v1/api-keys/{viewer_id}/revoke"),
        None,
    )
    .await
    .unwrap()
    .assert_status(200);
    app.call_as(&viewer, Method::GET, "/api/v1/customers", None, &[])
        .await
        .unwrap()
        .assert_problem(401, "unauthorized");
    app.post("/api/v1/api-keys", json!({ "name": "x", "roles": [] }))
        .await
        .unwrap()
        .assert_problem(422, "invalid_field");
    app.post(
        "/api/v1/api-keys",
        json!({ "name": "x", "roles": ["wizard"] }),
    )
    .await
    .unwrap()
    .assert_problem(422, "invalid_field");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn territory_tree_moves_refuse_cycles() {
    let app = app().await;
    let (eu_code, de_code) = (app.code("EUROPE"), app.code("DE"));
    let europe = app
        .create(
            "/api/v1/territories",
            json!({ "code": eu_code, "name": "Europe" }),
        )
        .await
        .unwrap();
    let eu_id = europe["id"].as_str().unwrap();
    let de = app
        .create(
            "/api/v1/territories",
            json!({ "code": de_code, "name": "Germany", "parent_id": eu_id }),
        )
        .await
        .unwrap();
    let de_id = de["id"].as_str().unwrap();
    assert_eq!(de["parent_id"], eu_id);

    app.patch(
        &format!("/api/v1/territories/{eu_id}"),
        1,
        json!({ "parent_id": de_id }),
    )
    .await
    .unwrap()
    .assert_problem(409, "tree_cycle");
    app.patch(
        &format!("/api/v1/territories/{eu_id}"),
        1,
        json!({ "parent_id": eu_id }),
    )
    .await
    .unwrap()
    .assert_problem(422, "invalid_field");
    app.post(
        "/api/v1/territories",
        json!({ "code": de_code, "name": "Dup" }),
    )
    .await
    .unwrap()
    .assert_problem(409, "duplicate");
    app.post("/api/v1/territories", json!({ "code": app.code("FR"), "name": "France", "parent_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162" }))
        .await.unwrap().assert_problem(422, "unknown_reference");
    assert_eq!(
        count(&app, &format!("/api/v1/territories?parent_id={eu_id}")).await,
        1
    );

    let moved = app
        .patch(
            &format!("/api/v1/territories/{de_id}"),
            1,
            json!({ "parent_id": null }),
        )
        .await
        .unwrap();
    assert_eq!(moved.assert_status(200)["parent_id"], Value::Null);
    assert_eq!(
        count(&app, &format!("/api/v1/territories?parent_id={eu_id}")).await,
        0
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_settings() {
    let app = app().await;
    let code = app.code("WEB");
    let b2c = app.create("/api/v1/channels", json!({
        "code": code, "name": "Web shop", "kind": "b2c", "mode": "online", "currency": "EUR",
        "tax_mode": "inclusive", "warehouses": ["MAIN"], "paid_on_order": true
    })).await.unwrap();
    assert_eq!(b2c["quotation_required"], false);
    assert_eq!(b2c["fulfil_on_order"], false);
    app.post(
        "/api/v1/channels",
        json!({ "code": code, "name": "Again", "kind": "b2c", "mode": "online",
                                         "currency": "EUR", "tax_mode": "inclusive" }),
    )
    .await
    .unwrap()
    .assert_problem(409, "duplicate");
    app.post(
        "/api/v1/channels",
        json!({ "code": app.code("X"), "name": "Bad currency", "kind": "b2c", "mode": "online",
                                         "currency": "EURO", "tax_mode": "inclusive" }),
    )
    .await
    .unwrap()
    .assert_problem(422, "invalid_field");

    let settings = app.get("/api/v1/settings").await.unwrap();
    let settings = settings.assert_status(200).clone();
    let v = settings["version"].as_i64().unwrap();

    app.patch(
        "/api/v1/settings",
        v,
        json!({ "default_channel": "NO-SUCH-CHANNEL" }),
    )
    .await
    .unwrap()
    .assert_problem(422, "unknown_reference");
    app.patch(
        "/api/v1/settings",
        v,
        json!({ "quotation_validity_days": 0 }),
    )
    .await
    .unwrap()
    .assert_problem(422, "invalid_field");
    app.patch(
        "/api/v1/settings",
        v,
        json!({ "credit_check": "sometimes" }),
    )
    .await
    .unwrap()
    .assert_problem(422, "invalid_field");
    let updated = app
        .patch(
            "/api/v1/settings",
            v,
            json!({
                "default_channel": code, "credit_check": "warn",
                "channel_defaults": { &code: { "quotation_validity_days": 7 } }
            }),
        )
        .await
        .unwrap();
    let updated = updated.assert_status(200);
    assert_eq!(updated["default_channel"], code.as_str());
    assert_eq!(updated["credit_check"], "warn");
    assert_eq!(
        updated["channel_defaults"][&code]["quotation_validity_days"],
        7
    );
    assert_eq!(updated["version"], v + 1);
    app.patch("/api/v1/settings", v, json!({ "credit_check": "off" }))
        .await
        .unwrap()
        .assert_problem(412, "version_conflict");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_installation_starts_with_the_documented_default_settings() {
    if std::env::var("SALES_BASE_URL").is_ok() {
        return; // a shared instance has its own settings
    }
    let app = app().await;
    let settings = app.get("/api/v1/settings").await.unwrap();
    let s = settings.assert_status(200);
    assert_eq!(s["quotation_validity_days"], 30);
    assert_eq!(s["credit_check"], "block");
    assert_eq!(s["rounding"], "half_up");
    assert_eq!(s["keep_quoted_rate"], true);
    assert_eq!(s["allow_order_from_expired_quotation"], false);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_imports_upsert_by_external_id_and_report_bad_rows() {
    let app = app().await;
    let group = app.code("WHOLESALE");
    app.create(
        "/api/v1/customer-groups",
        json!({ "code": group, "name": "Wholesale" }),
    )
    .await
    .unwrap();
    let crm = app.unique("crm");
    let ndjson = [
        format!(r#"{{"external_source":"{crm}","external_id":"A-1","name":"Alpha","customer_group_code":"{group}","credit_limit":"1000","currency":"EUR"}}"#),
        format!(r#"{{"external_source":"{crm}","external_id":"A-2","name":"Beta"}}"#),
        format!(r#"{{"external_source":"{crm}","external_id":"A-3","name":""}}"#),
        format!(r#"{{"external_source":"{crm}","external_id":"A-4","name":"Gamma","customer_group_code":"NO-SUCH-GROUP"}}"#),
        "not json".to_string(),
    ]
    .join("\n");
    let run = |body: String, key: String| {
        let app = &app;
        async move {
            app.call_raw(
                Method::POST,
                "/api/v1/imports/customers",
                "application/x-ndjson",
                body,
                &[("idempotency-key", &key)],
            )
            .await
            .unwrap()
        }
    };
    let key1 = app.unique("import");
    let report = run(ndjson.clone(), key1.clone()).await;
    let report = report.assert_status(200).clone();
    assert_eq!(report["rows"], 5);
    assert_eq!(report["created"], 2);
    assert_eq!(report["failed"], 3);
    let rows: Vec<i64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_i64().unwrap())
        .collect();
    assert_eq!(rows, vec![3, 4, 5]);
    assert_eq!(report["errors"][1]["field"], "customer_group_code");
    let by_source = format!("/api/v1/customers?external_source={crm}");
    assert_eq!(count(&app, &by_source).await, 2);

    // The same import again under the same key replays; under a new key it
    // finds nothing to change.
    let replay = run(ndjson.clone(), key1).await;
    assert_eq!(replay.body, report);
    let again = run(ndjson, app.unique("import")).await;
    let again = again.assert_status(200);
    assert_eq!(
        (again["created"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(2))
    );

    // An update by external id.
    let changed =
        format!(r#"{{"external_source":"{crm}","external_id":"A-2","name":"Beta Renamed"}}"#);
    let upd = run(changed, app.unique("import")).await;
    assert_eq!(upd.assert_status(200)["updated"], 1);
    let beta = app
        .get(&format!("{by_source}&external_id=A-2"))
        .await
        .unwrap();
    assert_eq!(beta.body["items"][0]["name"], "Beta Renamed");
    assert_eq!(count(&app, &by_source).await, 2);

    // Products by CSV.
    let sensors = app.code("SENSORS");
    app.create(
        "/api/v1/item-groups",
        json!({ "code": sensors, "name": "Sensors" }),
    )
    .await
    .unwrap();
    let erp = app.unique("erp");
    let sku = app.code("SEN");
    let csv = format!(
        "external_source,external_id,sku,name,item_group_code,uom,kind,standard_cost,currency,lead_time_days\n\
         {erp},P-1,{sku}-1,Sensor 1,{sensors},unit,stocked,12.50,EUR,3\n\
         {erp},P-2,{sku}-2,Sensor 2,{sensors},unit,wrong,12.50,EUR,3\n\
         {erp},P-3,{sku}-3,Sensor 3,{sensors},unit,stocked,abc,EUR,3\n"
    );
    let report = app
        .call_raw(
            Method::POST,
            "/api/v1/imports/products",
            "text/csv",
            csv,
            &[],
        )
        .await
        .unwrap();
    let report = report.assert_status(200);
    assert_eq!(
        (report["created"].as_i64(), report["failed"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(report["errors"][0]["field"], "kind");
    assert_eq!(report["errors"][1]["field"], "standard_cost");
    let product = app
        .get(&format!("/api/v1/products?sku={sku}-1"))
        .await
        .unwrap();
    assert_eq!(
        product.body["items"][0]["standard_cost"],
        json!({ "amount": "12.50", "currency": "EUR" })
    );
    assert_eq!(
        count(&app, &format!("/api/v1/products?external_source={erp}")).await,
        1
    );

    app.call_raw(
        Method::POST,
        "/api/v1/imports/products",
        "application/pdf",
        "x",
        &[],
    )
    .await
    .unwrap()
    .assert_problem(415, "unsupported_media_type");
    app.call_raw(
        Method::POST,
        "/api/v1/imports/products",
        "text/csv",
        "sku,name\n",
        &[],
    )
    .await
    .unwrap()
    .assert_problem(422, "invalid_field");
    assert_eq!(
        count(&app, &format!("/api/v1/products?external_source={erp}")).await,
        1
    );
    app.stop().await.unwrap();
}
