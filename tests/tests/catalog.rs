//! The catalog through the runner: CRUD, filters, pagination, versions,
//! idempotency, and bad input that must leave nothing behind.

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

async fn count(app: &TestApp, path: &str) -> usize {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
            None => format!("{path}{sep}limit=200"),
        };
        let reply = app.get(&url).await.unwrap();
        let body = reply.assert_status(200);
        n += body["items"].as_array().unwrap().len();
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return n,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_lifecycle_create_read_update_list_deactivate() {
    let app = app().await;

    let reply = app
        .post("/api/v1/customers", customer("Acme GmbH", "C-1"))
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
    assert_eq!(created["external_ids"]["crm"], "C-1");

    let read = app.get(&format!("/api/v1/customers/{id}")).await.unwrap();
    assert_eq!(read.assert_status(200)["name"], "Acme GmbH");

    let updated = app
        .patch(
            &format!("/api/v1/customers/{id}"),
            1,
            json!({ "name": "Acme AG", "email": null }),
        )
        .await
        .unwrap();
    let body = updated.assert_status(200);
    assert_eq!(body["name"], "Acme AG");
    assert_eq!(body["email"], Value::Null);
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

    assert_eq!(count(&app, "/api/v1/customers?active=false").await, 1);
    assert_eq!(count(&app, "/api/v1/customers?active=true").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_cursors_and_filter() {
    let app = app().await;
    let group = app
        .create(
            "/api/v1/customer-groups",
            json!({ "code": "WHOLESALE", "name": "Wholesale" }),
        )
        .await
        .unwrap();
    let gid = group["id"].as_str().unwrap();
    for i in 0..5 {
        let mut c = customer(&format!("Customer {i}"), &format!("C-{i}"));
        if i % 2 == 0 {
            c["customer_group_id"] = json!(gid);
        }
        app.create_customer(c).await.unwrap();
    }

    let first = app.get("/api/v1/customers?limit=2").await.unwrap();
    let first = first.assert_status(200).clone();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next cursor");
    let second = app
        .get(&format!("/api/v1/customers?limit=2&cursor={cursor}"))
        .await
        .unwrap();
    let second = second.assert_status(200).clone();
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert_eq!(count(&app, "/api/v1/customers").await, 5);

    assert_eq!(
        count(&app, &format!("/api/v1/customers?customer_group_id={gid}")).await,
        3
    );
    assert_eq!(count(&app, "/api/v1/customers?q=customer%203").await, 1);
    assert_eq!(
        count(
            &app,
            "/api/v1/customers?external_source=crm&external_id=C-4"
        )
        .await,
        1
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_or_missing_if_match_is_refused_and_changes_nothing() {
    let app = app().await;
    let c = app.create_customer(customer("Acme", "C-1")).await.unwrap();
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
    let existing = app
        .create_customer(customer("Existing", "C-1"))
        .await
        .unwrap();
    let existing_path = format!("/api/v1/customers/{}", existing["id"].as_str().unwrap());
    app.create_product(
        json!({ "sku": "SKU-1", "name": "Widget", "uom": "unit", "kind": "stocked",
                              "standard_cost": { "amount": "10.00", "currency": "EUR" } }),
    )
    .await
    .unwrap();

    let raw = |path: &'static str, body: &'static str| {
        let app = &app;
        async move {
            app.call_raw(Method::POST, path, "application/json", body, &[])
                .await
                .unwrap()
        }
    };
    for path in [
        "/api/v1/customers",
        "/api/v1/products",
        "/api/v1/channels",
        "/api/v1/territories",
        "/api/v1/customer-groups",
        "/api/v1/item-groups",
        "/api/v1/api-keys",
    ] {
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
        let list = app.get(&format!("{path}?limit=abc")).await.unwrap();
        list.assert_problem(400, "invalid_query");
        app.get(&format!("{path}?cursor=not-a-cursor"))
            .await
            .unwrap()
            .assert_problem(400, "invalid_cursor");
        app.get(&format!("{path}?limit=0"))
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
    app.post("/api/v1/customers", customer("Other", "C-1"))
        .await
        .unwrap()
        .assert_problem(409, "duplicate");
    app.post("/api/v1/products", json!({ "sku": "SKU-1", "name": "Again", "uom": "unit", "kind": "stocked",
                                         "standard_cost": { "amount": "1.00", "currency": "EUR" } }))
        .await.unwrap().assert_problem(409, "duplicate");
    app.post("/api/v1/products", json!({ "sku": "SKU-2", "name": "Bad kind", "uom": "unit", "kind": "magic",
                                         "standard_cost": { "amount": "1.00", "currency": "EUR" } }))
        .await.unwrap().assert_problem(422, "invalid_field");
    // A bad patch changes nothing.
    app.patch(&existing_path, 1, json!({ "name": "" }))
        .await
        .unwrap()
        .assert_problem(422, "invalid_field");
    app.patch(&existing_path, 1, json!({ "name": null }))
        .await
        .unwrap()
        .assert_problem(422, "invalid_field");

    assert_eq!(count(&app, "/api/v1/customers").await, 1);
    assert_eq!(count(&app, "/api/v1/products").await, 1);
    assert_eq!(count(&app, "/api/v1/channels").await, 0);
    assert_eq!(count(&app, "/api/v1/territories").await, 0);
    assert_eq!(count(&app, "/api/v1/api-keys").await, 0);
    assert_eq!(app.get(&existing_path).await.unwrap().body["version"], 1);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_post_twice_with_one_idempotency_key_creates_one_record() {
    let app = app().await;
    let key = app.admin_key.clone();
    let body = customer("Once Only", "C-9");
    let headers = [("idempotency-key", "create-once-only")];
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
    assert_eq!(count(&app, "/api/v1/customers").await, 1);

    let mut other = body.clone();
    other["name"] = json!("Something else");
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
    assert_eq!(count(&app, "/api/v1/customers").await, 1);
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

    let viewer = app
        .create_key("dashboard screen", &["viewer"])
        .await
        .unwrap();
    let rep = app.create_key("Rita Rep", &["rep"]).await.unwrap();
    app.call_as(&viewer, Method::GET, "/api/v1/customers", None, &[])
        .await
        .unwrap()
        .assert_status(200);
    app.call_as(
        &viewer,
        Method::POST,
        "/api/v1/customers",
        Some(customer("X", "C-1")),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");
    app.call_as(
        &rep,
        Method::POST,
        "/api/v1/customers",
        Some(customer("X", "C-1")),
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

    let keys = app.get("/api/v1/api-keys").await.unwrap();
    let keys = keys.assert_status(200).clone();
    assert!(
        !keys.to_string().contains(&viewer),
        "a key list must never show secrets"
    );
    let viewer_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "dashboard screen")
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
    let europe = app
        .create(
            "/api/v1/territories",
            json!({ "code": "EUROPE", "name": "Europe" }),
        )
        .await
        .unwrap();
    let eu_id = europe["id"].as_str().unwrap();
    let de = app
        .create(
            "/api/v1/territories",
            json!({ "code": "DE", "name": "Germany", "parent_id": eu_id }),
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
        json!({ "code": "DE", "name": "Dup" }),
    )
    .await
    .unwrap()
    .assert_problem(409, "duplicate");
    app.post("/api/v1/territories", json!({ "code": "FR", "name": "France", "parent_id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162" }))
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
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_settings() {
    let app = app().await;
    let b2c = app.create("/api/v1/channels", json!({
        "code": "WEB", "name": "Web shop", "kind": "b2c", "mode": "online", "currency": "EUR",
        "tax_mode": "inclusive", "warehouses": ["MAIN"], "paid_on_order": true
    })).await.unwrap();
    assert_eq!(b2c["quotation_required"], false);
    assert_eq!(b2c["fulfil_on_order"], false);
    app.post(
        "/api/v1/channels",
        json!({ "code": "WEB", "name": "Again", "kind": "b2c", "mode": "online",
                                         "currency": "EUR", "tax_mode": "inclusive" }),
    )
    .await
    .unwrap()
    .assert_problem(409, "duplicate");
    app.post(
        "/api/v1/channels",
        json!({ "code": "X", "name": "Bad currency", "kind": "b2c", "mode": "online",
                                         "currency": "EURO", "tax_mode": "inclusive" }),
    )
    .await
    .unwrap()
    .assert_problem(422, "invalid_field");

    let settings = app.get("/api/v1/settings").await.unwrap();
    let settings = settings.assert_status(200).clone();
    assert_eq!(settings["quotation_validity_days"], 30);
    assert_eq!(settings["credit_check"], "block");
    let v = settings["version"].as_i64().unwrap();

    app.patch("/api/v1/settings", v, json!({ "default_channel": "NOPE" }))
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
    let updated = app
        .patch(
            "/api/v1/settings",
            v,
            json!({
                "default_channel": "WEB", "credit_check": "warn",
                "channel_defaults": { "WEB": { "quotation_validity_days": 7 } }
            }),
        )
        .await
        .unwrap();
    let updated = updated.assert_status(200);
    assert_eq!(updated["default_channel"], "WEB");
    assert_eq!(
        updated["channel_defaults"]["WEB"]["quotation_validity_days"],
        7
    );
    assert_eq!(updated["version"], v + 1);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_imports_upsert_by_external_id_and_report_bad_rows() {
    let app = app().await;
    app.create(
        "/api/v1/customer-groups",
        json!({ "code": "WHOLESALE", "name": "Wholesale" }),
    )
    .await
    .unwrap();
    let ndjson = [
        r#"{"external_source":"crm","external_id":"A-1","name":"Alpha","customer_group_code":"WHOLESALE","credit_limit":"1000","currency":"EUR"}"#,
        r#"{"external_source":"crm","external_id":"A-2","name":"Beta"}"#,
        r#"{"external_source":"crm","external_id":"A-3","name":""}"#,
        r#"{"external_source":"crm","external_id":"A-4","name":"Gamma","customer_group_code":"NOPE"}"#,
        r#"not json"#,
    ]
    .join("\n");
    let run = |body: String, key: &'static str| {
        let app = &app;
        async move {
            app.call_raw(
                Method::POST,
                "/api/v1/imports/customers",
                "application/x-ndjson",
                body,
                &[("idempotency-key", key)],
            )
            .await
            .unwrap()
        }
    };
    let report = run(ndjson.clone(), "import-1").await;
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
    assert_eq!(count(&app, "/api/v1/customers").await, 2);

    // The same import again under the same key replays; under a new key it
    // finds nothing to change.
    let replay = run(ndjson.clone(), "import-1").await;
    assert_eq!(replay.body, report);
    let again = run(ndjson, "import-2").await;
    let again = again.assert_status(200);
    assert_eq!(
        (again["created"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(2))
    );

    // An update by external id.
    let changed =
        r#"{"external_source":"crm","external_id":"A-2","name":"Beta Renamed"}"#.to_string();
    let upd = run(changed, "import-3").await;
    assert_eq!(upd.assert_status(200)["updated"], 1);
    let beta = app
        .get("/api/v1/customers?external_source=crm&external_id=A-2")
        .await
        .unwrap();
    assert_eq!(beta.body["items"][0]["name"], "Beta Renamed");
    assert_eq!(count(&app, "/api/v1/customers").await, 2);

    // Products by CSV.
    app.create(
        "/api/v1/item-groups",
        json!({ "code": "SENSORS", "name": "Sensors" }),
    )
    .await
    .unwrap();
    let csv = "external_source,external_id,sku,name,item_group_code,uom,kind,standard_cost,currency,lead_time_days\n\
               erp,P-1,SEN-1,Sensor 1,SENSORS,unit,stocked,12.50,EUR,3\n\
               erp,P-2,SEN-2,Sensor 2,SENSORS,unit,wrong,12.50,EUR,3\n\
               erp,P-3,SEN-3,Sensor 3,SENSORS,unit,stocked,abc,EUR,3\n";
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
    assert_eq!(count(&app, "/api/v1/products").await, 1);

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
    app.stop().await.unwrap();
}
