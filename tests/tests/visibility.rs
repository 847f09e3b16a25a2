//! Record visibility end to end (issue #8 item 5, #6 "reps limited to
//! their territory's approval requests", #10 "every answer respects the
//! caller's visibility"), through the runner with real keys:
//!
//! Territories World › {North, South} and East (a root of its own).
//! Ann (rep, key territory North) and Bob (rep, key territory South)
//! report to Bea (manager, no territory on her key); Cal (rep) sells in
//! East. Teams: North credits Ann, South Bob, East Cal; Bea manages the
//! territories North and South (so approvals go to her). Customers: N in
//! North, S in South, R placed in South by a territory rule (no explicit
//! territory), E in East. Booked orders: one each for N, S, R and E;
//! orders over 1,000 wait for Bea's approval (one each for N and S).
//! Quotations: one each for N, S and E.
//!
//! Then East moves under North: its customer and documents become Ann's
//! (and Bea's), the customer itself unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use sales_e2e::{json, TestApp};
use serde_json::Value;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

struct Key {
    secret: String,
    principal: String,
}

async fn key(app: &TestApp, roles: &[&str], territory: Option<&str>) -> Key {
    let created = app
        .create(
            "/api/v1/api-keys",
            json!({ "name": app.unique("key"), "roles": roles, "territory_id": territory }),
        )
        .await
        .unwrap();
    let secret = created["key"].as_str().unwrap().to_string();
    let me = app
        .call_as(&secret, Method::GET, "/api/v1/me", None, &[])
        .await
        .unwrap();
    Key {
        principal: id(me.assert_status(200)),
        secret,
    }
}

async fn tree(app: &TestApp, name: &str, parent: Option<&str>) -> String {
    id(&app
        .create(
            "/api/v1/territories",
            json!({ "code": app.code(name), "name": name, "parent_id": parent }),
        )
        .await
        .unwrap())
}

async fn person(app: &TestApp, name: &str, principal: &str, manager: Option<&str>) -> String {
    id(&app
        .create(
            "/api/v1/sales-people",
            json!({ "name": name, "principal_id": principal, "manager_id": manager }),
        )
        .await
        .unwrap())
}

async fn get_as(app: &TestApp, k: &Key, path: &str) -> sales_e2e::Reply {
    app.call_as(&k.secret, Method::GET, path, None, &[])
        .await
        .unwrap()
}

/// Every id a list answers over all its pages (pages of 2, so paging
/// within the scope is exercised too).
async fn ids_as(app: &TestApp, k: &Key, path: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=2&cursor={c}"),
            None => format!("{path}{sep}limit=2"),
        };
        let r = get_as(app, k, &url).await;
        let body = r.assert_status(200);
        let items = body["items"].as_array().unwrap();
        assert!(
            !items.is_empty() || out.is_empty(),
            "an empty page in the middle of {path}"
        );
        out.extend(items.iter().map(id));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

struct World {
    north: String,
    east: String,
    ann: Key,
    bob: Key,
    bea: Key,
    /// Ann's sales person.
    ann_person: String,
    customers: [String; 4],
    /// Booked orders of N, S, R, E.
    booked: [String; 4],
    /// Orders of N and S waiting for approval.
    waiting: [String; 2],
    /// Quotations of N, S, E.
    quotations: [String; 3],
    channel: String,
    /// Made to order at the Carpentry work centre (a shortfall is a work
    /// order) and sold in hours by Installers (a project), both 100.00.
    cabinet: String,
    install: String,
}

async fn world(app: &TestApp) -> World {
    let root = tree(app, "World", None).await;
    let north = tree(app, "North", Some(&root)).await;
    let south = tree(app, "South", Some(&root)).await;
    let east = tree(app, "East", None).await;

    let ann = key(app, &["rep"], Some(&north)).await;
    let bob = key(app, &["rep"], Some(&south)).await;
    let bea = key(app, &["manager"], None).await;
    let cal = key(app, &["rep"], None).await;
    let bea_p = person(app, "Bea Boss", &bea.principal, None).await;
    let ann_p = person(app, "Ann North", &ann.principal, Some(&bea_p)).await;
    let bob_p = person(app, "Bob South", &bob.principal, Some(&bea_p)).await;
    let cal_p = person(app, "Cal East", &cal.principal, None).await;
    for (territory, who) in [(&north, &ann_p), (&south, &bob_p), (&east, &cal_p)] {
        app.create(
            "/api/v1/teams",
            json!({ "code": app.code("TEAM"), "name": app.unique("Team"),
                    "territory_id": territory,
                    "members": [{ "sales_person_id": who, "percentage": "100" }] }),
        )
        .await
        .unwrap();
    }
    for territory in [&north, &south] {
        app.create(
            "/api/v1/territory-managers",
            json!({ "territory_id": territory, "sales_person_id": bea_p }),
        )
        .await
        .unwrap();
    }
    app.create(
        "/api/v1/territory-rules",
        json!({ "territory_id": south, "country": "de",
                "postcode_from": "80000", "postcode_to": "81999" }),
    )
    .await
    .unwrap();

    let drill = sales_e2e::shop::drill(app).await;
    let cabinet = id(&app
        .create_product(json!({
            "sku": app.unique("CABINET"), "name": "Cabinet", "uom": "pcs",
            "kind": "manufactured", "standard_cost": { "amount": "40.00", "currency": "EUR" }
        }))
        .await
        .unwrap());
    let install = id(&app
        .create_product(json!({
            "sku": app.unique("INSTALL"), "name": "Installation", "uom": "h",
            "kind": "service", "standard_cost": { "amount": "40.00", "currency": "EUR" }
        }))
        .await
        .unwrap());
    let plant = sales_e2e::shop::plant(
        app,
        "MAIN",
        json!([{ "product_id": cabinet, "hours_per_unit": "2" }]),
        json!([{ "product_id": install }]),
    )
    .await;
    sales_e2e::shop::count(app, &drill, &plant.warehouse, "1000").await;
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR",
                "items": [{ "product_id": drill, "uom": "pcs", "rate": "100.00" },
                          { "product_id": cabinet, "uom": "pcs", "rate": "100.00" },
                          { "product_id": install, "uom": "h", "rate": "100.00" }] }),
    )
    .await
    .unwrap();
    let code = app.code("B2B");
    let channel = id(&app
        .create(
            "/api/v1/channels",
            json!({ "code": code, "name": "B2B", "kind": "b2b", "mode": "offline",
                    "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"] }),
        )
        .await
        .unwrap());
    let territory_manager = json!([{ "type": "territory_manager" }]);
    sales_e2e::shop::order_policy(app, &code, "1000", territory_manager).await;

    let customer = |name: &str, body: Value| {
        let mut body = body;
        body["name"] = json!(app.unique(name));
        async move { id(&app.create_customer(body).await.unwrap()) }
    };
    let n = customer("N", json!({ "territory_id": north })).await;
    let s = customer("S", json!({ "territory_id": south })).await;
    let r = customer(
        "R",
        json!({ "shipping_address": { "line1": "Marienplatz 1", "city": "München",
                                      "postcode": "80331", "country": "DE" } }),
    )
    .await;
    let e = customer("E", json!({ "territory_id": east })).await;

    let order = |customer: &String, quantity: &str, status: &'static str| {
        let body = json!({ "customer_id": customer, "channel_id": channel,
                           "lines": [{ "product_id": drill, "quantity": quantity }] });
        async move {
            let o = app.create("/api/v1/orders", body).await.unwrap();
            let done = app
                .post(&format!("/api/v1/orders/{}/submit", id(&o)), json!({}))
                .await
                .unwrap();
            assert_eq!(done.assert_status(200)["status"], status, "{}", done.body);
            id(&o)
        }
    };
    let booked = [
        order(&n, "1", "confirmed").await,
        order(&s, "2", "confirmed").await,
        order(&r, "3", "confirmed").await,
        order(&e, "4", "confirmed").await,
    ];
    let waiting = [
        order(&n, "20", "pending_approval").await,
        order(&s, "30", "pending_approval").await,
    ];
    let mut quotations = Vec::new();
    for c in [&n, &s, &e] {
        let q = app
            .create(
                "/api/v1/quotations",
                json!({ "customer_id": c, "channel_code": code,
                        "lines": [{ "product_id": drill, "quantity": "1" }] }),
            )
            .await
            .unwrap();
        quotations.push(id(&q));
    }
    World {
        north,
        east,
        ann,
        bob,
        bea,
        ann_person: ann_p,
        customers: [n, s, r, e],
        booked,
        waiting,
        quotations: quotations.try_into().unwrap(),
        channel,
        cabinet,
        install,
    }
}

/// Waits until the jobs component has rolled up every booked order.
async fn rolled_up(app: &TestApp, orders: i64) {
    for _ in 0..150 {
        let s = app
            .get("/api/v1/analytics/sales?currency=EUR")
            .await
            .unwrap();
        let pending = app.count("/api/v1/outbox?status=pending").await.unwrap();
        if s.body["totals"]["orders"] == orders && pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the rollups never reached {orders} orders");
}

async fn revenue(app: &TestApp, k: &Key) -> Value {
    get_as(app, k, "/api/v1/analytics/sales?currency=EUR")
        .await
        .assert_status(200)["totals"]["revenue"]["amount"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reps_and_their_manager_see_exactly_their_territories_and_subtree() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let [n, s, r, e] = &w.customers;
    let [on, os, or, oe] = &w.booked;
    let [wn, ws] = &w.waiting;
    let [qn, qs, qe] = &w.quotations;

    // Customers.
    assert_eq!(ids_as(&app, &w.ann, "/api/v1/customers").await, set(&[n]));
    assert_eq!(
        ids_as(&app, &w.bob, "/api/v1/customers").await,
        set(&[s, r]),
        "R is Bob's through the territory rule"
    );
    assert_eq!(
        ids_as(&app, &w.bea, "/api/v1/customers").await,
        set(&[n, s, r])
    );
    // Orders and quotations.
    assert_eq!(ids_as(&app, &w.ann, "/api/v1/orders").await, set(&[on, wn]));
    assert_eq!(
        ids_as(&app, &w.bob, "/api/v1/orders").await,
        set(&[os, or, ws])
    );
    assert_eq!(
        ids_as(&app, &w.bea, "/api/v1/orders").await,
        set(&[on, os, or, wn, ws])
    );
    assert_eq!(ids_as(&app, &w.ann, "/api/v1/quotations").await, set(&[qn]));
    assert_eq!(ids_as(&app, &w.bob, "/api/v1/quotations").await, set(&[qs]));
    assert_eq!(
        ids_as(&app, &w.bea, "/api/v1/quotations").await,
        set(&[qn, qs])
    );
    // The admin sees everything.
    assert!(app.count("/api/v1/orders").await.unwrap() >= 6);

    // Another territory's documents by id are a 404, as an unknown id —
    // reads, the sales team resource and actions alike.
    for path in [
        format!("/api/v1/orders/{os}"),
        format!("/api/v1/quotations/{qs}"),
        format!("/api/v1/customers/{s}"),
        format!("/api/v1/sales-teams/orders/{os}"),
        format!("/api/v1/orders/{}", uuid::Uuid::now_v7()),
    ] {
        get_as(&app, &w.ann, &path)
            .await
            .assert_problem(404, "not_found");
    }
    app.call_as(
        &w.ann.secret,
        Method::POST,
        &format!("/api/v1/quotations/{qs}/send"),
        Some(json!({})),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(404, "not_found");
    // Ordering for a customer one may not see is an unknown customer.
    let refused = app
        .call_as(
            &w.ann.secret,
            Method::POST,
            "/api/v1/orders",
            Some(
                json!({ "customer_id": s, "channel_id": uuid::Uuid::now_v7().to_string(),
                         "lines": [] }),
            ),
            &[],
        )
        .await
        .unwrap();
    refused.assert_problem(422, "unknown_reference");
    assert_eq!(refused.body["field"], "customer_id");
    // One's own territory reads fine, with its sales team in the body.
    let mine = get_as(&app, &w.ann, &format!("/api/v1/orders/{on}")).await;
    let mine = mine.assert_status(200);
    assert_eq!(mine["sales_team"].as_array().unwrap().len(), 1);
    assert_eq!(mine["sales_team"][0]["percentage"], "100");
    get_as(&app, &w.ann, &format!("/api/v1/quotations/{qn}"))
        .await
        .assert_status(200);

    // Approvals: each rep lists only their territory's requests; Bea's
    // inbox holds both; Ann cannot read Bob's request by id.
    let approvals = |k: &Key, q: &'static str| {
        let app = &app;
        let secret = k.secret.clone();
        async move {
            let r = app
                .call_as(
                    &secret,
                    Method::GET,
                    &format!("/api/v1/approvals{q}"),
                    None,
                    &[],
                )
                .await
                .unwrap();
            let items = r.assert_status(200)["items"].as_array().unwrap().clone();
            items
                .iter()
                .map(|i| {
                    i["document"]["document"]["id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect::<BTreeSet<String>>()
        }
    };
    assert_eq!(approvals(&w.ann, "").await, set(&[wn]));
    assert_eq!(approvals(&w.bob, "").await, set(&[ws]));
    assert_eq!(
        approvals(&w.bea, "?assignee=me&status=pending").await,
        set(&[wn, ws])
    );
    let bobs = app
        .get(&format!(
            "/api/v1/approvals?document_kind=order&document_id={ws}"
        ))
        .await
        .unwrap();
    let bobs = id(&bobs.assert_status(200)["items"][0]);
    get_as(&app, &w.ann, &format!("/api/v1/approvals/{bobs}"))
        .await
        .assert_problem(404, "not_found");
    get_as(&app, &w.bob, &format!("/api/v1/approvals/{bobs}"))
        .await
        .assert_status(200);

    // Reports count only what each may see (net 100.00 a drill).
    rolled_up(&app, 4).await;
    assert_eq!(revenue(&app, &w.ann).await, "100.00");
    assert_eq!(revenue(&app, &w.bob).await, "500.00");
    assert_eq!(revenue(&app, &w.bea).await, "600.00");

    // East moves under North: E keeps its territory, and Ann and Bea now
    // see it and its documents; Bob still does not.
    let east = app
        .get(&format!("/api/v1/territories/{}", w.east))
        .await
        .unwrap();
    let version: i64 = east.assert_status(200)["version"].as_i64().unwrap();
    app.patch(
        &format!("/api/v1/territories/{}", w.east),
        version,
        json!({ "parent_id": w.north }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let e_now = app.get(&format!("/api/v1/customers/{e}")).await.unwrap();
    assert_eq!(e_now.assert_status(200)["territory_id"], json!(w.east));
    assert_eq!(
        ids_as(&app, &w.ann, "/api/v1/customers").await,
        set(&[n, e])
    );
    assert_eq!(
        ids_as(&app, &w.ann, "/api/v1/orders").await,
        set(&[on, wn, oe])
    );
    assert_eq!(
        ids_as(&app, &w.ann, "/api/v1/quotations").await,
        set(&[qn, qe])
    );
    assert_eq!(
        ids_as(&app, &w.bea, "/api/v1/customers").await,
        set(&[n, s, r, e])
    );
    get_as(&app, &w.ann, &format!("/api/v1/orders/{oe}"))
        .await
        .assert_status(200);
    get_as(&app, &w.bob, &format!("/api/v1/orders/{oe}"))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(revenue(&app, &w.ann).await, "500.00");
    assert_eq!(revenue(&app, &w.bea).await, "1000.00");
    assert_eq!(revenue(&app, &w.bob).await, "500.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converted_order_keeps_its_quotations_split_without_duplicate_rows() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let [_, qs, _] = &w.quotations;
    // The quotation starts with its customer's default (South's team).
    let q = app.get(&format!("/api/v1/quotations/{qs}")).await.unwrap();
    let q = q.assert_status(200);
    assert_eq!(q["sales_team_source"], "default");
    let bob_p = q["sales_team"][0]["sales_person_id"].clone();
    // Someone stores a 50/50 split with Ann.
    let ann_p = json!(w.ann_person);
    let split = json!([{ "sales_person_id": bob_p, "percentage": "50" },
                       { "sales_person_id": ann_p, "percentage": "50" }]);
    app.call(
        Method::PUT,
        &format!("/api/v1/sales-teams/quotations/{qs}"),
        Some(json!({ "sales_team": split })),
    )
    .await
    .unwrap()
    .assert_status(200);
    // The body carries what the sales team resource answers.
    let split = app
        .get(&format!("/api/v1/sales-teams/quotations/{qs}"))
        .await
        .unwrap()
        .assert_status(200)["sales_team"]
        .clone();
    assert_eq!(split.as_array().unwrap().len(), 2);
    let q = app.get(&format!("/api/v1/quotations/{qs}")).await.unwrap();
    assert_eq!(q.assert_status(200)["sales_team_source"], "stored");
    assert_eq!(q.body["sales_team"], split);
    // Ann now sees the South quotation through the split.
    get_as(&app, &w.ann, &format!("/api/v1/quotations/{qs}"))
        .await
        .assert_status(200);

    app.post(&format!("/api/v1/quotations/{qs}/send"), json!({}))
        .await
        .unwrap()
        .assert_status(200);
    let converted = app
        .post(&format!("/api/v1/quotations/{qs}/convert"), json!({}))
        .await
        .unwrap();
    let order = id(&converted.assert_status(201)["order"]);
    let before = app.get(&format!("/api/v1/orders/{order}")).await.unwrap();
    assert_eq!(before.assert_status(200)["sales_team"], split);
    app.post(&format!("/api/v1/orders/{order}/submit"), json!({}))
        .await
        .unwrap()
        .assert_status(200);
    // After the order's events the split is the order's own, stored once.
    let mut stored = Value::Null;
    for _ in 0..100 {
        let r = app.get(&format!("/api/v1/orders/{order}")).await.unwrap();
        if r.body["sales_team_source"] == "stored" {
            stored = r.body.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored["sales_team"], split, "{stored}");
    let db = sales_store::rusqlite_db::RusqliteDb::open(app.database_path().unwrap()).unwrap();
    let rows = sales_store::Db::execute(
        &db,
        "SELECT COUNT(*) AS n FROM document_sales_teams WHERE document_id = ?",
        &[sales_store::Value::Text(order.clone())],
    )
    .unwrap();
    assert_eq!(rows.first().unwrap().int("n").unwrap(), 2);
}

/// The one number `sql` answers (as `n`), straight from the database.
fn count(app: &TestApp, sql: &str) -> i64 {
    let db = sales_store::rusqlite_db::RusqliteDb::open(app.database_path().unwrap()).unwrap();
    sales_store::Db::execute(&db, sql, &[])
        .unwrap()
        .first()
        .unwrap()
        .int("n")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bodies_take_a_split_checked_as_the_sales_team_resource_checks_it() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let [_, qs, _] = &w.quotations;
    let q = app.get(&format!("/api/v1/quotations/{qs}")).await.unwrap();
    let q = q.assert_status(200).clone();
    let bob_p = q["sales_team"][0]["sales_person_id"].clone();
    let ann_p = json!(w.ann_person);
    let (customer, code) = (q["customer_id"].clone(), q["channel_code"].clone());
    let product = q["lines"][0]["product_id"].clone();
    let channel = q["channel_id"].clone();
    let lines = json!([{ "product_id": product, "quantity": "1" }]);
    let split = |a: &str, b: &str| {
        json!([{ "sales_person_id": bob_p, "percentage": a },
               { "sales_person_id": ann_p, "percentage": b }])
    };
    let quotation = |team: Value| {
        json!({ "customer_id": customer, "channel_code": code, "lines": lines,
                "sales_team": team })
    };
    let order = |team: Value| {
        json!({ "customer_id": customer, "channel_id": channel, "lines": lines,
                "sales_team": team })
    };
    let documents =
        "SELECT (SELECT COUNT(*) FROM quotations) + (SELECT COUNT(*) FROM sales_orders) \
                     + (SELECT COUNT(*) FROM document_sales_teams) AS n";

    // A 60/40 split given at creation is the document's, stored.
    let sixty = split("60", "40");
    let created = app
        .create("/api/v1/quotations", quotation(sixty.clone()))
        .await
        .unwrap();
    let quote = id(&created);
    let read = app
        .get(&format!("/api/v1/quotations/{quote}"))
        .await
        .unwrap();
    assert_eq!(read.assert_status(200)["sales_team_source"], "stored");
    assert_eq!(read.body["sales_team"], sixty, "{}", read.body);
    // Ann sees the South quotation through the split, as after a PUT.
    get_as(&app, &w.ann, &format!("/api/v1/quotations/{quote}"))
        .await
        .assert_status(200);
    let placed = id(&app
        .create("/api/v1/orders", order(sixty.clone()))
        .await
        .unwrap());
    let read = app.get(&format!("/api/v1/orders/{placed}")).await.unwrap();
    assert_eq!(read.assert_status(200)["sales_team_source"], "stored");
    assert_eq!(read.body["sales_team"], sixty, "{}", read.body);

    // A split totalling 90, an unknown person, an unknown partner: 422
    // naming the field, and nothing written.
    let before = count(&app, documents);
    for (path, body) in [
        ("/api/v1/quotations", quotation(split("50", "40"))),
        ("/api/v1/orders", order(split("50", "40"))),
    ] {
        let r = app.call(Method::POST, path, Some(body)).await.unwrap();
        r.assert_problem(422, "split_total");
        assert_eq!(r.body["field"], "sales_team", "{}", r.body);
    }
    let ghost = "0190a1b2-c3d4-7e5f-8a9b-0123456789ab";
    let unknown = json!([{ "sales_person_id": bob_p, "percentage": "60" },
                         { "sales_person_id": ghost, "percentage": "40" }]);
    for (path, body) in [
        ("/api/v1/quotations", quotation(unknown.clone())),
        ("/api/v1/orders", order(unknown.clone())),
    ] {
        let r = app.call(Method::POST, path, Some(body)).await.unwrap();
        r.assert_problem(422, "unknown_reference");
        assert_eq!(
            r.body["field"], "sales_team[1].sales_person_id",
            "{}",
            r.body
        );
    }
    let mut with_partner = order(sixty.clone());
    with_partner["sales_partner_id"] = json!(ghost);
    let r = app
        .call(Method::POST, "/api/v1/orders", Some(with_partner))
        .await
        .unwrap();
    r.assert_problem(422, "unknown_reference");
    assert_eq!(r.body["field"], "sales_partner_id", "{}", r.body);
    assert_eq!(count(&app, documents), before);

    // Converting keeps the split given at creation, stored once.
    app.post(&format!("/api/v1/quotations/{quote}/send"), json!({}))
        .await
        .unwrap()
        .assert_status(200);
    let converted = app
        .post(&format!("/api/v1/quotations/{quote}/convert"), json!({}))
        .await
        .unwrap();
    let converted = id(&converted.assert_status(201)["order"]);
    let read = app
        .get(&format!("/api/v1/orders/{converted}"))
        .await
        .unwrap();
    assert_eq!(
        read.assert_status(200)["sales_team"],
        sixty,
        "{}",
        read.body
    );
    app.post(&format!("/api/v1/orders/{converted}/submit"), json!({}))
        .await
        .unwrap()
        .assert_status(200);
    let mut stored = Value::Null;
    for _ in 0..100 {
        let r = app
            .get(&format!("/api/v1/orders/{converted}"))
            .await
            .unwrap();
        if r.body["sales_team_source"] == "stored" {
            stored = r.body.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored["sales_team"], sixty, "{stored}");
    let rows = count(
        &app,
        &format!(
            "SELECT COUNT(*) AS n FROM document_sales_teams WHERE document_id = '{converted}'"
        ),
    );
    assert_eq!(rows, 2);
}

/// The pending order ids of a pending-lines answer.
fn pending_orders(body: &Value) -> BTreeSet<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["order_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_reports_count_the_rule_placed_customers_of_a_scope() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let [_, _, r, _] = &w.customers;
    let [on, os, or, _] = &w.booked;
    let [_, qs, _] = &w.quotations;
    // A quotation for R (placed in South by the rule), sent, converted and
    // booked: R's documents are Bob's.
    let q = app.get(&format!("/api/v1/quotations/{qs}")).await.unwrap();
    let q = q.assert_status(200).clone();
    let qr = id(&app
        .create(
            "/api/v1/quotations",
            json!({ "customer_id": r, "channel_code": q["channel_code"],
                    "lines": [{ "product_id": q["lines"][0]["product_id"], "quantity": "1" }] }),
        )
        .await
        .unwrap());
    app.post(&format!("/api/v1/quotations/{qr}/send"), json!({}))
        .await
        .unwrap()
        .assert_status(200);
    let converted = app
        .post(&format!("/api/v1/quotations/{qr}/convert"), json!({}))
        .await
        .unwrap();
    let or2 = id(&converted.assert_status(201)["order"]);
    let submitted = app
        .post(&format!("/api/v1/orders/{or2}/submit"), json!({}))
        .await
        .unwrap();
    assert_eq!(submitted.assert_status(200)["status"], "confirmed");

    let report = |k: &Key, path: &'static str| {
        let (app, secret) = (&app, k.secret.clone());
        async move {
            app.call_as(&secret, Method::GET, path, None, &[])
                .await
                .unwrap()
                .assert_status(200)
                .clone()
        }
    };
    // Bob: S's and R's quotations, R's conversion, S's and R's open lines.
    let f = report(&w.bob, "/api/v1/analytics/funnel").await;
    assert_eq!(f["created"], 2, "S's and R's quotations: {f}");
    assert_eq!(f["ordered"], 1, "R's, converted: {f}");
    let c = report(&w.bob, "/api/v1/analytics/cycle-times").await;
    assert_eq!(c["quotation_to_order"]["count"], 1, "{c}");
    let p = report(&w.bob, "/api/v1/analytics/pending-lines").await;
    assert_eq!(pending_orders(&p), set(&[os, or, &or2]));
    // Ann: North only, none of R's.
    let f = report(&w.ann, "/api/v1/analytics/funnel").await;
    assert_eq!((&f["created"], &f["ordered"]), (&json!(1), &json!(0)));
    let c = report(&w.ann, "/api/v1/analytics/cycle-times").await;
    assert_eq!(c["quotation_to_order"]["count"], 0);
    let p = report(&w.ann, "/api/v1/analytics/pending-lines").await;
    assert_eq!(pending_orders(&p), set(&[on]));
    // Bea: both, R's included; so does an admin filtering by South.
    let p = report(&w.bea, "/api/v1/analytics/pending-lines").await;
    assert_eq!(pending_orders(&p), set(&[on, os, or, &or2]));
    let south = app
        .get(&format!("/api/v1/customers/{}", w.customers[1]))
        .await
        .unwrap();
    let south = south.assert_status(200)["territory_id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_south = app
        .get(&format!("/api/v1/analytics/funnel?territory_id={south}"))
        .await
        .unwrap();
    assert_eq!(
        by_south.assert_status(200)["created"],
        2,
        "{}",
        by_south.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_rep_may_not_write_a_customer_outside_their_territories() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let [n, s, _, _] = &w.customers;
    let south = app.get(&format!("/api/v1/customers/{s}")).await.unwrap();
    let south = south.assert_status(200)["territory_id"]
        .as_str()
        .unwrap()
        .to_string();
    let munich = json!({ "line1": "Marienplatz 2", "city": "München",
                         "postcode": "80331", "country": "DE" });
    let post_as = |k: &Key, body: Value| {
        let (app, secret) = (&app, k.secret.clone());
        async move {
            app.call_as(&secret, Method::POST, "/api/v1/customers", Some(body), &[])
                .await
                .unwrap()
        }
    };
    let named = |name: &str| {
        count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM customers WHERE name = '{name}'"),
        )
    };
    // Ann (North) naming South, or giving no territory with an address a
    // rule places in South: refused, naming the field, nothing written.
    for body in [
        json!({ "name": "Ann South", "territory_id": south }),
        json!({ "name": "Ann Munich", "shipping_address": munich }),
        json!({ "name": "Ann Nowhere" }),
    ] {
        let name = body["name"].as_str().unwrap().to_string();
        let refused = post_as(&w.ann, body).await;
        refused.assert_problem(403, "outside_territory");
        assert_eq!(refused.body["field"], "territory_id", "{}", refused.body);
        assert_eq!(named(&name), 0, "{name} was written");
    }
    // Her own territory is fine; Bob's Munich customer is placed in his.
    post_as(
        &w.ann,
        json!({ "name": "Ann North", "territory_id": w.north }),
    )
    .await
    .assert_status(201);
    post_as(
        &w.bob,
        json!({ "name": "Bob Munich", "shipping_address": munich }),
    )
    .await
    .assert_status(201);
    // Moving her own customer out of her territories is refused too.
    let before = app.get(&format!("/api/v1/customers/{n}")).await.unwrap();
    let version = before.assert_status(200)["version"].as_i64().unwrap();
    let etag = format!("\"{version}\"");
    let moved = app
        .call_as(
            &w.ann.secret,
            Method::PATCH,
            &format!("/api/v1/customers/{n}"),
            Some(json!({ "territory_id": south })),
            &[("if-match", &etag)],
        )
        .await
        .unwrap();
    moved.assert_problem(403, "outside_territory");
    let after = app.get(&format!("/api/v1/customers/{n}")).await.unwrap();
    assert_eq!(after.assert_status(200)["territory_id"], json!(w.north));
    assert_eq!(after.body["version"], json!(version));
}

/// Polls the admin's view of `path` until its list has `n` items.
async fn items_eventually(app: &TestApp, path: &str, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let r = app.get(path).await.unwrap();
        let items = r.assert_status(200)["items"].as_array().unwrap().clone();
        if items.len() == n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never listed {n} items");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_orders_and_projects_are_seen_as_their_orders_are() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let [n, s, _, _] = &w.customers;
    // One order each for N (Ann's) and S (Bob's): a cabinet to make and
    // two installation hours, 300.00 — under the approval limit.
    let mut made = Vec::new();
    for c in [n, s] {
        let o = app
            .create(
                "/api/v1/orders",
                json!({ "customer_id": c, "channel_id": w.channel,
                        "lines": [{ "product_id": w.cabinet, "quantity": "1" },
                                  { "product_id": w.install, "quantity": "2" }] }),
            )
            .await
            .unwrap();
        let done = app
            .post(&format!("/api/v1/orders/{}/submit", id(&o)), json!({}))
            .await
            .unwrap();
        assert_eq!(
            done.assert_status(200)["status"],
            "confirmed",
            "{}",
            done.body
        );
        made.push(id(&o));
    }
    let (on, os) = (&made[0], &made[1]);
    let wo = |o: &String| {
        let app = &app;
        let path = format!("/api/v1/work-orders?order_id={o}");
        async move { id(&items_eventually(app, &path, 1).await[0]) }
    };
    let project = |o: &String| {
        let app = &app;
        let path = format!("/api/v1/projects?order_id={o}");
        async move { id(&items_eventually(app, &path, 1).await[0]) }
    };
    let (wo_n, wo_s) = (wo(on).await, wo(os).await);
    let (p_n, p_s) = (project(on).await, project(os).await);

    // Each rep lists their own orders' work orders and projects only (in
    // pages of 2), the manager both, and the admin everything.
    assert_eq!(
        ids_as(&app, &w.ann, "/api/v1/work-orders").await,
        set(&[&wo_n])
    );
    assert_eq!(
        ids_as(&app, &w.bob, "/api/v1/work-orders").await,
        set(&[&wo_s])
    );
    assert_eq!(
        ids_as(&app, &w.bea, "/api/v1/work-orders").await,
        set(&[&wo_n, &wo_s])
    );
    assert_eq!(ids_as(&app, &w.ann, "/api/v1/projects").await, set(&[&p_n]));
    assert_eq!(ids_as(&app, &w.bob, "/api/v1/projects").await, set(&[&p_s]));
    assert_eq!(
        ids_as(&app, &w.bea, "/api/v1/projects").await,
        set(&[&p_n, &p_s])
    );
    assert_eq!(app.count("/api/v1/work-orders").await.unwrap(), 2);
    // Filtering by another territory's order finds nothing.
    assert!(
        ids_as(&app, &w.ann, &format!("/api/v1/work-orders?order_id={os}"))
            .await
            .is_empty()
    );
    assert!(
        ids_as(&app, &w.ann, &format!("/api/v1/projects?order_id={os}"))
            .await
            .is_empty()
    );
    // Another territory's work order or project by id is a 404, as an
    // unknown id; one's own reads fine.
    for path in [
        format!("/api/v1/work-orders/{wo_s}"),
        format!("/api/v1/projects/{p_s}"),
    ] {
        get_as(&app, &w.ann, &path)
            .await
            .assert_problem(404, "not_found");
    }
    get_as(&app, &w.ann, &format!("/api/v1/work-orders/{wo_n}"))
        .await
        .assert_status(200);
    let mine = get_as(&app, &w.ann, &format!("/api/v1/projects/{p_n}")).await;
    assert_eq!(
        mine.assert_status(200)["tasks"].as_array().unwrap().len(),
        1
    );
    get_as(&app, &w.bea, &format!("/api/v1/work-orders/{wo_s}"))
        .await
        .assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_items_carry_the_sales_team_a_single_read_shows() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let [qn, _, _] = &w.quotations;
    // North's quotation gets a stored 60/40 split with Bob; the others
    // keep their customer's default.
    let ann = w.ann_person.clone();
    let bob = get_as(&app, &w.bob, "/api/v1/me").await.assert_status(200)["id"].clone();
    let bob = app
        .get(&format!(
            "/api/v1/sales-people?principal_id={}",
            bob.as_str().unwrap()
        ))
        .await
        .unwrap();
    let bob = id(&bob.assert_status(200)["items"][0]);
    let split = json!([{ "sales_person_id": ann, "percentage": "60" },
                       { "sales_person_id": bob, "percentage": "40" }]);
    app.call(
        Method::PUT,
        &format!("/api/v1/sales-teams/quotations/{qn}"),
        Some(json!({ "sales_team": split })),
    )
    .await
    .unwrap()
    .assert_status(200);
    // Every order's first event has fixed its split by now.
    rolled_up(&app, 4).await;

    for (path, kind) in [
        ("/api/v1/quotations", "quotations"),
        ("/api/v1/orders", "orders"),
    ] {
        let listed = app.get(&format!("{path}?limit=100")).await.unwrap();
        let items = listed.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .clone();
        assert!(items.len() >= 3, "{kind}: {items:?}");
        for item in &items {
            let one = app.get(&format!("{path}/{}", id(item))).await.unwrap();
            let one = one.assert_status(200);
            for field in ["sales_team", "sales_partner_id", "sales_team_source"] {
                assert!(
                    item.get(field).is_some(),
                    "{kind} item without {field}: {item}"
                );
                assert_eq!(item[field], one[field], "{kind} {}: {field}", id(item));
            }
        }
    }
    // The cases are there: the stored split, a default, a stored order's.
    let quotations = get_as(&app, &w.ann, "/api/v1/quotations").await;
    let mine = &quotations.assert_status(200)["items"];
    let stored = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|q| id(q) == *qn)
        .unwrap();
    assert_eq!(stored["sales_team_source"], "stored");
    assert_eq!(stored["sales_team"], split);
    let [on, ..] = &w.booked;
    let orders = get_as(&app, &w.ann, "/api/v1/orders").await;
    let order = orders.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| id(o) == *on)
        .unwrap()
        .clone();
    assert_eq!(order["sales_team"][0]["sales_person_id"], json!(ann));
    assert_eq!(order["sales_team"][0]["percentage"], "100");
    let [_, _, qe] = &w.quotations;
    let east = app.get("/api/v1/quotations?limit=100").await.unwrap();
    let east = east.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| id(q) == *qe)
        .unwrap()
        .clone();
    assert_eq!(east["sales_team_source"], "default");
    assert_eq!(east["sales_team"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_managers_import_outside_their_territories_is_refused_whole() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let code = |t: &String| {
        let app = &app;
        let path = format!("/api/v1/territories/{t}");
        async move {
            app.get(&path).await.unwrap().assert_status(200)["code"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (north, east) = (code(&w.north).await, code(&w.east).await);
    let crm = app.unique("crm");
    let import = |rows: Vec<String>| {
        let (app, secret, key) = (&app, w.bea.secret.clone(), app.unique("import"));
        async move {
            app.call_raw_as(
                &secret,
                Method::POST,
                "/api/v1/imports/customers",
                "application/x-ndjson",
                rows.join("\n"),
                &[("idempotency-key", &key)],
            )
            .await
            .unwrap()
        }
    };
    let row = |ext: &str, name: &str, territory: &str| {
        format!(
            r#"{{"external_source":"{crm}","external_id":"{ext}","name":"{name}","territory_code":"{territory}"}}"#
        )
    };
    let munich = format!(
        r#"{{"external_source":"{crm}","external_id":"M","name":"Munich","address_line1":"Marienplatz 3","city":"München","postcode":"80331","country":"DE"}}"#
    );
    let imported = || {
        count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM customer_external_ids WHERE source = '{crm}'"),
        )
    };
    // Bea (North and South) imports a North customer, a Munich one the
    // rule places in South, and one in East: the East row is refused,
    // naming its row, and nothing of the import is written.
    let refused = import(vec![
        row("N1", "North one", &north),
        munich.clone(),
        row("E1", "East one", &east),
    ])
    .await;
    refused.assert_problem(403, "outside_territory");
    assert_eq!(
        refused.body["field"], "rows[3].territory_code",
        "{}",
        refused.body
    );
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("row 3:"),
        "{}",
        refused.body
    );
    assert_eq!(imported(), 0, "a refused import wrote customers");
    // A row with no territory at all is outside too.
    let nowhere = format!(r#"{{"external_source":"{crm}","external_id":"X","name":"Nowhere"}}"#);
    let refused = import(vec![nowhere]).await;
    refused.assert_problem(403, "outside_territory");
    assert_eq!(refused.body["field"], "rows[1].territory_code");
    assert_eq!(imported(), 0);
    // Within her territories the import goes through as before.
    let report = import(vec![row("N1", "North one", &north), munich]).await;
    assert_eq!(report.assert_status(200)["created"], 2, "{}", report.body);
    assert_eq!(imported(), 2);
}
