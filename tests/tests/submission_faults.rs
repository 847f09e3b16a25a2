//! Atomicity of order submission (issue 7, "fault injection in each step of
//! submission leaves no order, reservation or event behind").
//!
//! Each test starts its own runner with the Spin variable `fault_points`
//! naming one point of `POST /api/v1/orders/{id}/submit`
//! (`sales_kit::fault`): the request must fail there with a 500
//! `fault_injected`, and afterwards the order is still the same draft, no
//! stock is reserved, no approval request is open and no outbox event was
//! written — checked over the API and, as the strongest form, by comparing
//! every row of every table of the SQLite file before and after. A control
//! test submits the same order without a fault and sees each of those
//! writes happen, so the comparison would catch them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use reqwest::Method;
use sales_e2e::{json, TestApp};
use serde_json::Value;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

/// A customer with a credit limit, a B2B channel that checks credit and
/// sells from warehouse MAIN, two stocked products with prices and stock,
/// and a policy that sends every order over 100 EUR to a manager.
struct Shop {
    customer: String,
    channel: String,
    products: Vec<String>,
}

async fn shop(app: &TestApp) -> Shop {
    let manager_key = app.create_key("manager", &["manager"]).await.unwrap();
    let manager = app
        .call_as(&manager_key, Method::GET, "/api/v1/me", None, &[])
        .await
        .unwrap();
    let manager = manager.assert_status(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let customer = app
        .create_customer(json!({ "name": "Atomic GmbH", "credit_limit": eur("100000.00") }))
        .await
        .unwrap();
    let channel = app
        .create(
            "/api/v1/channels",
            json!({ "code": "B2B", "name": "B2B", "kind": "b2b", "mode": "offline",
                    "currency": "EUR", "tax_mode": "exclusive", "warehouses": ["MAIN"],
                    "quotation_required": false, "credit_check": "block",
                    "payment_terms": { "name": "Net 30", "days": 30 } }),
        )
        .await
        .unwrap();
    let warehouse = app
        .create(
            "/api/v1/warehouses",
            json!({ "code": "MAIN", "name": "Main" }),
        )
        .await
        .unwrap();
    let mut products = Vec::new();
    let mut items = Vec::new();
    for sku in ["BOLT", "NUT"] {
        let p = app
            .create_product(
                json!({ "sku": sku, "name": sku, "uom": "pcs", "kind": "stocked",
                                    "standard_cost": eur("10.00") }),
            )
            .await
            .unwrap();
        app.post(
            "/api/v1/stock/adjustments",
            json!({ "product_id": id(&p), "warehouse_id": id(&warehouse), "on_hand": "100",
                    "reason": "count" }),
        )
        .await
        .unwrap()
        .assert_status(201);
        items.push(json!({ "product_id": id(&p), "uom": "pcs", "rate": "25.00" }));
        products.push(id(&p));
    }
    app.create(
        "/api/v1/price-lists",
        json!({ "name": "Standard", "currency": "EUR", "items": items }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/approval-policies",
        json!({ "name": "Orders over 100", "applies_to": ["order"],
                "condition": { "type": "total_amount", "limits": { "EUR": { "over": "100" } } },
                "chain": { "levels": [{ "name": "Manager",
                                        "approvers": [{ "type": "principal", "id": manager }],
                                        "mode": { "type": "any_one" } }] } }),
    )
    .await
    .unwrap();
    Shop {
        customer: id(&customer),
        channel: id(&channel),
        products,
    }
}

/// A draft order: 4 BOLT and 6 NUT (250 EUR net: needs approval).
async fn draft(app: &TestApp, shop: &Shop) -> Value {
    app.create(
        "/api/v1/orders",
        json!({ "customer_id": shop.customer, "channel_id": shop.channel, "lines": [
            { "product_id": shop.products[0], "quantity": "4" },
            { "product_id": shop.products[1], "quantity": "6" },
        ]}),
    )
    .await
    .unwrap()
}

/// Every row of every table, as text, sorted per table.
fn dump(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let path = app.database_path().expect("a database this test started");
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get_ref(i).map(|v| format!("{v:?}")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.insert(table, rows);
    }
    out
}

/// [`dump`] once the database is still: a request's wake-up lets the jobs
/// component drain the outbox in the background, and the comparison must
/// not mistake its work for the submission's.
async fn settled_dump(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let mut last = dump(app);
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let now = dump(app);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the database kept changing for 10 s");
}

/// The tables whose rows differ between two dumps.
fn changed(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(t, rows)| before.get(*t) != Some(rows))
        .map(|(t, _)| t.clone())
        .collect()
}

async fn reservations(app: &TestApp, number: &str) -> usize {
    let reply = app
        .get(&format!("/api/v1/reservations?document={number}"))
        .await
        .unwrap();
    reply.assert_status(200)["items"].as_array().unwrap().len()
}

async fn approval_requests(app: &TestApp, order: &str) -> usize {
    let reply = app
        .get(&format!(
            "/api/v1/approvals?document_kind=order&document_id={order}"
        ))
        .await
        .unwrap();
    reply.assert_status(200)["items"].as_array().unwrap().len()
}

async fn submit(app: &TestApp, order: &str) -> sales_e2e::Reply {
    app.call_as(
        &app.admin_key.clone(),
        Method::POST,
        &format!("/api/v1/orders/{order}/submit"),
        None,
        &[("idempotency-key", &format!("submit-{order}"))],
    )
    .await
    .unwrap()
}

/// Submits with `point` failing and proves nothing was left behind.
async fn fault_leaves_nothing(point: &str) {
    let app = TestApp::spawn_with(&[("fault_points", point)])
        .await
        .unwrap();
    let shop = shop(&app).await;
    let order = draft(&app, &shop).await;
    let (order_id, number) = (id(&order), order["number"].as_str().unwrap().to_owned());
    let before = settled_dump(&app).await;

    let reply = submit(&app, &order_id).await;
    reply.assert_problem(500, "fault_injected");
    assert!(
        reply.body["detail"].as_str().unwrap().contains(point),
        "the fault fired elsewhere: {}",
        reply.text
    );

    let after = app
        .get(&format!("/api/v1/orders/{order_id}"))
        .await
        .unwrap();
    let after = after.assert_status(200);
    assert_eq!(after["status"], "draft", "{after}");
    assert_eq!(after["version"], order["version"], "{after}");
    assert_eq!(reservations(&app, &number).await, 0);
    assert_eq!(approval_requests(&app, &order_id).await, 0);
    let diff = changed(&before, &settled_dump(&app).await);
    assert!(
        diff.is_empty(),
        "a failed submission at {point} changed {diff:?}"
    );
}

macro_rules! fault_tests {
    ($($name:ident => $point:literal,)*) => {$(
        #[tokio::test]
        async fn $name() {
            fault_leaves_nothing($point).await;
        }
    )*};
}

fault_tests! {
    a_fault_after_pricing_leaves_nothing => "submit.after_price",
    a_fault_after_the_credit_check_leaves_nothing => "submit.after_credit",
    a_fault_after_the_promise_leaves_nothing => "submit.after_promise",
    a_fault_after_evaluating_approvals_leaves_nothing => "submit.after_approvals",
    a_fault_after_writing_the_order_leaves_nothing => "submit.after_order_written",
    a_fault_after_reserving_leaves_nothing => "submit.after_reservations",
    a_fault_after_opening_the_approval_request_leaves_nothing => "submit.after_approval_request",
    a_fault_just_before_commit_leaves_nothing => "submit.before_commit",
}

/// The control: the same submission without a fault writes the order's
/// new status, its reservation, its approval request and outbox events —
/// so the comparisons above would have seen any of them.
#[tokio::test]
async fn without_a_fault_the_same_submission_writes_everything() {
    let app = TestApp::spawn_with(&[("fault_points", "")]).await.unwrap();
    let shop = shop(&app).await;
    let order = draft(&app, &shop).await;
    let (order_id, number) = (id(&order), order["number"].as_str().unwrap().to_owned());
    let before = settled_dump(&app).await;

    let reply = submit(&app, &order_id).await;
    let body = reply.assert_status(200);
    assert_eq!(body["status"], "pending_approval", "{body}");

    assert_eq!(reservations(&app, &number).await, 1);
    assert_eq!(approval_requests(&app, &order_id).await, 1);
    let diff = changed(&before, &dump(&app));
    for table in [
        "sales_orders",
        "reservations",
        "approval_requests",
        "outbox",
        "idempotency_keys",
    ] {
        assert!(
            diff.contains(&table.to_owned()),
            "{table} unchanged: {diff:?}"
        );
    }
}
