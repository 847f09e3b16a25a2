//! Quotations end to end (issue #7, items 1 and 2): priced quotations with
//! optional and alternative lines, sending and the customer's accept
//! through the signed link (good, altered and superseded links), losing
//! with a reason and a competitor, revisions kept as history, whole and
//! partial conversion into draft orders (remaining quantity per line, a
//! second conversion of the same remainder refused), expiry through the
//! periodic route, the jobs component's tick (real Redis) and the
//! `allow_order_from_expired_quotation` setting, and bad input that is a
//! clear 4xx and writes nothing. Approval before sending (issue #6's
//! end-to-end must-show, real Redis for the jobs that apply outcomes): a
//! quotation over a discount limit waits, is approved, is edited and waits
//! again only for the affected level; the bypass attempts — sending or
//! converting while waiting, self-approval, approving a superseded request
//! or an old version, a revision of an approved offer — and rejection.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use sales_e2e::{json, Reply, TestApp};
use serde_json::Value;

const QUOTATIONS: &str = "/api/v1/quotations";
const ACCEPT: &str = "/api/v1/quotation-links/accept";

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

/// A customer, a B2B channel and three products priced 10, 50 and 100
/// (drill, case, drill XL), net, no tax template.
struct World {
    customer: String,
    channel: String,
    drill: String,
    case: String,
    drill_xl: String,
}

async fn world(app: &TestApp) -> World {
    let customer = app
        .create_customer(json!({ "name": app.unique("Quote GmbH") }))
        .await
        .unwrap();
    let channel = app.code("Q");
    app.create(
        "/api/v1/channels",
        json!({ "code": channel, "name": "Field sales", "kind": "b2b", "mode": "offline",
                "currency": "EUR", "tax_mode": "exclusive" }),
    )
    .await
    .unwrap();
    let product = |sku: String| {
        json!({ "sku": sku, "name": "Thing", "uom": "pcs", "kind": "stocked",
                "standard_cost": eur("1.00") })
    };
    let drill = app
        .create_product(product(app.unique("DRILL")))
        .await
        .unwrap();
    let case = app
        .create_product(product(app.unique("CASE")))
        .await
        .unwrap();
    let drill_xl = app.create_product(product(app.unique("XL"))).await.unwrap();
    app.create(
        "/api/v1/price-lists",
        json!({ "name": app.unique("Quote list"), "currency": "EUR", "items": [
            { "product_id": id(&drill), "uom": "pcs", "rate": "10.00" },
            { "product_id": id(&case), "uom": "pcs", "rate": "50.00" },
            { "product_id": id(&drill_xl), "uom": "pcs", "rate": "100.00" }
        ]}),
    )
    .await
    .unwrap();
    World {
        customer: id(&customer),
        channel,
        drill: id(&drill),
        case: id(&case),
        drill_xl: id(&drill_xl),
    }
}

/// 10 drills, an optional case, and alternative group "size": 2 drills or
/// 2 drills XL (the first proposed).
fn quotation_body(w: &World) -> Value {
    json!({
        "customer_id": w.customer, "channel_code": w.channel,
        "lines": [
            { "product_id": w.drill, "quantity": "10" },
            { "product_id": w.case, "quantity": "1", "kind": "optional" },
            { "product_id": w.drill, "quantity": "2", "kind": "alternative", "group": "size" },
            { "product_id": w.drill_xl, "quantity": "2", "kind": "alternative", "group": "size" }
        ]
    })
}

async fn create_quotation(app: &TestApp, w: &World) -> Value {
    app.create(QUOTATIONS, quotation_body(w)).await.unwrap()
}

async fn action(app: &TestApp, q: &Value, verb: &str, body: Value) -> Reply {
    app.post(&format!("{QUOTATIONS}/{}/{verb}", id(q)), body)
        .await
        .unwrap()
}

/// Sends and returns (the quotation, its accept token).
async fn send(app: &TestApp, q: &Value) -> (Value, String) {
    let reply = action(app, q, "send", json!({})).await;
    let body = reply.assert_status(200).clone();
    let token = body["accept_link"]["token"].as_str().unwrap().to_string();
    (body, token)
}

/// The customer's accept: no API key at all.
async fn accept_by_link(app: &TestApp, body: Value) -> Reply {
    app.call_as("", Method::POST, ACCEPT, Some(body), &[])
        .await
        .unwrap()
}

fn line_id(q: &Value, n: usize) -> String {
    q["lines"][n]["id"].as_str().unwrap().to_string()
}

async fn get(app: &TestApp, q: &Value) -> Value {
    let reply = app.get(&format!("{QUOTATIONS}/{}", id(q))).await.unwrap();
    reply.assert_status(200).clone()
}

async fn count_orders_of(app: &TestApp, q: &Value) -> usize {
    app.count(&format!("/api/v1/orders?quotation_id={}", id(q)))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quotation_is_priced_per_line_with_only_the_chosen_lines_in_the_total() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;

    assert_eq!(q["status"], "draft");
    assert_eq!(q["revision"], 1);
    assert!(q["number"].as_str().unwrap().starts_with("QTN-"), "{q}");
    let lines = q["lines"].as_array().unwrap();
    let net: Vec<&str> = lines
        .iter()
        .map(|l| l["price"]["net_total"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(net, ["100.00", "50.00", "20.00", "200.00"]);
    let in_total: Vec<bool> = lines
        .iter()
        .map(|l| l["in_total"].as_bool().unwrap())
        .collect();
    assert_eq!(in_total, [true, false, true, false]);
    // 10 × 10 + the proposed alternative 2 × 10; the optional case is offered beside.
    assert_eq!(q["totals"]["net_total"], eur("120.00"));
    assert_eq!(q["totals"]["optional_net_total"], eur("50.00"));
    // Valid for the company's 30 days by default.
    let today = chrono_today();
    assert_eq!(
        q["valid_until"].as_str().unwrap(),
        (today + chrono::Days::new(30)).to_string()
    );
    // Read back, with an empty history.
    let read = get(&app, &q).await;
    assert_eq!(read["totals"], q["totals"]);
    assert_eq!(read["revisions"], json!([]));
    // Listed under its customer and status.
    let n = app
        .count(&format!(
            "{QUOTATIONS}?customer_id={}&status=draft",
            w.customer
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
}

fn chrono_today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_accepts_through_the_signed_link_choosing_an_alternative() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;
    let (sent, token) = send(&app, &q).await;
    assert_eq!(sent["status"], "sent");

    // An altered token (another revision number, the same MAC) is refused.
    let forged = token.replacen(".1.", ".2.", 1);
    accept_by_link(&app, json!({ "token": forged }))
        .await
        .assert_problem(403, "invalid_token");
    accept_by_link(&app, json!({ "token": "v1.garbage" }))
        .await
        .assert_problem(403, "invalid_token");
    // The link does nothing but accept: other fields are refused.
    accept_by_link(&app, json!({ "token": token, "status": "ordered" }))
        .await
        .assert_problem(422, "unknown_field");
    assert_eq!(get(&app, &q).await["status"], "sent");

    let reply = accept_by_link(
        &app,
        json!({ "token": token,
                "alternatives": { "size": line_id(&q, 3) },
                "optional_lines": [line_id(&q, 1)] }),
    )
    .await;
    let public = reply.assert_status(200);
    assert_eq!(public["status"], "accepted");
    // 10 × 10 + the case 50 + 2 drills XL 200.
    assert_eq!(public["totals"]["net_total"], eur("350.00"));
    assert!(
        public.get("created_by").is_none(),
        "internals leak: {public}"
    );
    let read = get(&app, &q).await;
    assert_eq!(read["acceptance"]["by"]["type"], "customer_link");
    // Accepting twice is refused.
    accept_by_link(&app, json!({ "token": token }))
        .await
        .assert_problem(409, "invalid_transition");
    // Each change is announced once in the outbox, refusals not at all.
    for topic in ["quotation.created", "quotation.sent", "quotation.accepted"] {
        let n = app
            .count(&format!(
                "/api/v1/outbox?topic={topic}&aggregate_id={}",
                id(&q)
            ))
            .await
            .unwrap();
        assert_eq!(n, 1, "{topic}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revising_keeps_the_history_and_the_old_revisions_link_is_refused() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;
    let (_, old_token) = send(&app, &q).await;

    let revised = action(&app, &q, "revise", json!({})).await;
    let revised = revised.assert_status(200).clone();
    assert_eq!(
        (revised["revision"].as_u64(), revised["status"].as_str()),
        (Some(2), Some("draft"))
    );
    assert_eq!(revised["number"], q["number"]);
    assert_eq!(revised["revisions"][0]["revision"], 1);
    assert_eq!(revised["revisions"][0]["status"], "sent");

    // Edit the draft revision: 20 drills instead of 10, re-priced.
    let mut lines = quotation_body(&w)["lines"].clone();
    lines[0]["quantity"] = json!("20");
    let patched = app
        .patch(
            &format!("{QUOTATIONS}/{}", id(&q)),
            revised["version"].as_i64().unwrap(),
            json!({ "lines": lines, "notes": "twenty now" }),
        )
        .await
        .unwrap();
    let patched = patched.assert_status(200).clone();
    assert_eq!(patched["totals"]["net_total"], eur("220.00"));
    // A stale If-Match is 412.
    app.patch(
        &format!("{QUOTATIONS}/{}", id(&q)),
        revised["version"].as_i64().unwrap(),
        json!({ "notes": "stale" }),
    )
    .await
    .unwrap()
    .assert_problem(412, "version_conflict");

    let (_, new_token) = send(&app, &patched).await;
    accept_by_link(&app, json!({ "token": old_token }))
        .await
        .assert_problem(409, "link_superseded");
    accept_by_link(&app, json!({ "token": new_token }))
        .await
        .assert_status(200);

    // Revision 1 stays readable as it was sent.
    let old = app
        .get(&format!("{QUOTATIONS}/{}/revisions/1", id(&q)))
        .await
        .unwrap();
    let old = old.assert_status(200);
    assert_eq!(old["status"], "sent");
    assert_eq!(old["totals"]["net_total"], eur("120.00"));
    app.get(&format!("{QUOTATIONS}/{}/revisions/2", id(&q)))
        .await
        .unwrap()
        .assert_problem(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_quotation_keeps_reason_and_competitor_and_converting_it_writes_nothing() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;
    send(&app, &q).await;

    action(&app, &q, "lose", json!({}))
        .await
        .assert_problem(422, "missing_field");
    action(&app, &q, "lose", json!({ "reason": " " }))
        .await
        .assert_problem(422, "invalid_field");
    let lost = action(
        &app,
        &q,
        "lose",
        json!({ "reason": "price", "competitor": "Rival GmbH" }),
    )
    .await;
    let lost = lost.assert_status(200).clone();
    assert_eq!(lost["status"], "lost");
    assert_eq!(lost["lost"]["reason"], "price");
    assert_eq!(lost["lost"]["competitor"], "Rival GmbH");

    let reply = action(&app, &q, "convert", json!({})).await;
    reply.assert_problem(409, "invalid_transition");
    assert_eq!(count_orders_of(&app, &q).await, 0);
    assert_eq!(get(&app, &q).await["version"], lost["version"]);
    // Nor may it be sent again or accepted; it may be revised.
    action(&app, &q, "send", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    action(&app, &q, "revise", json!({}))
        .await
        .assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_and_partial_conversion_track_the_remaining_quantity_per_line() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;
    send(&app, &q).await;

    // Part of the first line first.
    let first = action(
        &app,
        &q,
        "convert",
        json!({ "lines": [{ "line_id": line_id(&q, 0), "quantity": "4" }] }),
    )
    .await;
    let first = first.assert_status(201).clone();
    assert!(first["order"]["number"]
        .as_str()
        .unwrap()
        .starts_with("SO-"));
    assert_eq!(first["quotation"]["status"], "partially_ordered");
    assert_eq!(first["quotation"]["lines"][0]["remaining_quantity"], "6");
    let order = app
        .get(&format!(
            "/api/v1/orders/{}",
            first["order"]["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let order = order.assert_status(200);
    assert_eq!(order["status"], "draft");
    assert_eq!(order["quotation_id"], q["id"]);

    // More than remains is refused and writes nothing.
    action(
        &app,
        &q,
        "convert",
        json!({ "lines": [{ "line_id": line_id(&q, 0), "quantity": "10" }] }),
    )
    .await
    .assert_problem(409, "exceeds_remaining");
    // An optional line not taken is not part of the offer.
    action(
        &app,
        &q,
        "convert",
        json!({ "lines": [{ "line_id": line_id(&q, 1) }] }),
    )
    .await
    .assert_problem(422, "line_not_chosen");
    assert_eq!(count_orders_of(&app, &q).await, 1);

    // The rest: 6 drills and the proposed alternative.
    let rest = action(&app, &q, "convert", json!({})).await;
    let rest = rest.assert_status(201).clone();
    assert_eq!(rest["quotation"]["status"], "ordered");
    let quantities: Vec<&str> = rest["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["quantity"].as_str().unwrap())
        .collect();
    assert_eq!(quantities, ["6", "2"]);
    // Kept rates by default (keep_quoted_rate).
    assert_eq!(rest["lines"][0]["kept_rate"], eur("10.00"));

    // Nothing remains: a second conversion of the same remainder is refused.
    action(&app, &q, "convert", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    assert_eq!(count_orders_of(&app, &q).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_conversion_with_the_same_key_makes_one_order() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;
    send(&app, &q).await;
    let key = app.admin_key.clone();
    let path = format!("{QUOTATIONS}/{}/convert", id(&q));
    let first = app
        .call_as(
            &key,
            Method::POST,
            &path,
            Some(json!({})),
            &[("idempotency-key", "conv-1")],
        )
        .await
        .unwrap();
    let again = app
        .call_as(
            &key,
            Method::POST,
            &path,
            Some(json!({})),
            &[("idempotency-key", "conv-1")],
        )
        .await
        .unwrap();
    assert_eq!(
        first.assert_status(201)["order"],
        again.assert_status(201)["order"]
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(count_orders_of(&app, &q).await, 1);
}

/// Moves a quotation's last valid day into the past, as the passage of time
/// would (the API refuses a past `valid_until`, rightly).
fn backdate(app: &TestApp, q: &Value) {
    let db = rusqlite::Connection::open(app.database_path().expect("a local app")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let n = db
        .execute(
            "UPDATE quotations SET valid_until = '2020-01-31',
               body = json_set(body, '$.valid_until', '2020-01-31') WHERE id = ?1",
            [id(q)],
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_quotation_is_refused_or_converted_per_the_setting() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;
    let (_, token) = send(&app, &q).await;
    let fresh = create_quotation(&app, &w).await;
    send(&app, &fresh).await;
    backdate(&app, &q);

    // Past its validity the customer can no longer accept.
    accept_by_link(&app, json!({ "token": token }))
        .await
        .assert_problem(409, "quotation_expired");

    // Only machines run the periodic expiry.
    let viewer = app
        .create_key(&app.unique("viewer"), &["viewer"])
        .await
        .unwrap();
    app.call_as(
        &viewer,
        Method::POST,
        &format!("{QUOTATIONS}/expire"),
        Some(json!({})),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");
    let run = app
        .post(&format!("{QUOTATIONS}/expire"), json!({}))
        .await
        .unwrap();
    assert_eq!(run.assert_status(200)["expired"], json!([id(&q)]));
    assert_eq!(get(&app, &q).await["status"], "expired");
    assert_eq!(get(&app, &fresh).await["status"], "sent");
    // Running it again expires nothing more.
    let again = app
        .post(&format!("{QUOTATIONS}/expire"), json!({}))
        .await
        .unwrap();
    assert_eq!(again.assert_status(200)["expired"], json!([]));

    // Refused by default (allow_order_from_expired_quotation = false) ...
    action(&app, &q, "convert", json!({}))
        .await
        .assert_problem(409, "quotation_expired");
    assert_eq!(count_orders_of(&app, &q).await, 0);
    // ... allowed once the setting says so.
    let settings = app.get("/api/v1/settings").await.unwrap();
    let version = settings.body["version"].as_i64().unwrap();
    app.patch(
        "/api/v1/settings",
        version,
        json!({ "allow_order_from_expired_quotation": true, "keep_quoted_rate": false }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let converted = action(&app, &q, "convert", json!({})).await;
    let converted = converted.assert_status(201);
    assert_eq!(converted["quotation"]["status"], "ordered");
    // Re-priced at submission instead of the quoted rate.
    assert_eq!(converted["lines"][0]["kept_rate"], Value::Null);
    assert_eq!(count_orders_of(&app, &q).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let inactive = app
        .create_product(
            json!({ "sku": app.unique("OLD"), "name": "Old", "uom": "pcs",
                                "kind": "stocked", "standard_cost": eur("1.00") }),
        )
        .await
        .unwrap();
    app.post(
        &format!("/api/v1/products/{}/deactivate", id(&inactive)),
        json!({}),
    )
    .await
    .unwrap()
    .assert_status(200);

    let with_line = |line: Value| {
        json!({ "customer_id": w.customer, "channel_code": w.channel,
                "lines": [{ "product_id": w.drill, "quantity": "1" }, line] })
    };
    let cases = [
        (
            with_line(json!({ "product_id": w.drill, "quantity": "0" })),
            422,
            "lines[1].quantity",
        ),
        (
            with_line(json!({ "product_id": w.drill, "quantity": "-3" })),
            422,
            "lines[1].quantity",
        ),
        (
            with_line(json!({ "product_id": w.drill, "quantity": "0.0001" })),
            422,
            "lines[1].quantity",
        ),
        (
            with_line(json!({ "product_id": id(&inactive), "quantity": "1" })),
            422,
            "lines[1].product_id",
        ),
        (
            with_line(json!({ "product_id": w.drill, "quantity": "1", "colour": "red" })),
            422,
            "lines[1].colour",
        ),
        (
            with_line(
                json!({ "product_id": w.drill, "quantity": "1", "kind": "alternative", "group": "solo" }),
            ),
            422,
            "lines[1].group",
        ),
        (
            with_line(
                json!({ "product_id": w.drill, "quantity": "1", "requested_date": "2020-01-01" }),
            ),
            422,
            "lines[1].requested_date",
        ),
        (
            json!({ "customer_id": w.customer, "channel_code": w.channel, "lines": [] }),
            422,
            "lines",
        ),
        (
            json!({ "customer_id": w.customer, "channel_code": "NOPE", "lines": [{ "product_id": w.drill, "quantity": "1" }] }),
            422,
            "channel_code",
        ),
        (
            json!({ "customer_id": w.customer, "channel_code": w.channel, "valid_until": "2020-01-01",
                 "lines": [{ "product_id": w.drill, "quantity": "1" }] }),
            422,
            "valid_until",
        ),
    ];
    for (body, status, field) in cases {
        let reply = app.post(QUOTATIONS, body.clone()).await.unwrap();
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text);
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.text);
    }
    assert_eq!(
        app.count(&format!("{QUOTATIONS}?customer_id={}", w.customer))
            .await
            .unwrap(),
        0
    );

    // A viewer reads but does not write.
    let viewer = app
        .create_key(&app.unique("viewer"), &["viewer"])
        .await
        .unwrap();
    let reply = app
        .call_as(
            &viewer,
            Method::POST,
            QUOTATIONS,
            Some(quotation_body(&w)),
            &[],
        )
        .await
        .unwrap();
    reply.assert_problem(403, "forbidden");
    let q = create_quotation(&app, &w).await;
    app.call_as(
        &viewer,
        Method::GET,
        &format!("{QUOTATIONS}/{}", id(&q)),
        None,
        &[],
    )
    .await
    .unwrap()
    .assert_status(200);
    // A rep may quote.
    let rep = app.create_key(&app.unique("rep"), &["rep"]).await.unwrap();
    app.call_as(
        &rep,
        Method::POST,
        QUOTATIONS,
        Some(quotation_body(&w)),
        &[],
    )
    .await
    .unwrap()
    .assert_status(201);
    // Converting a draft (never offered) is refused; nothing is ordered.
    action(&app, &q, "convert", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    assert_eq!(count_orders_of(&app, &q).await, 0);
    // Unknown list filters and statuses are 400.
    app.get(&format!("{QUOTATIONS}?state=sent"))
        .await
        .unwrap()
        .assert_problem(400, "invalid_query");
    app.get(&format!("{QUOTATIONS}?status=maybe"))
        .await
        .unwrap()
        .assert_problem(400, "invalid_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_tick_expires_a_quotation_past_its_validity() {
    let redis = sales_e2e::RedisServer::start().unwrap();
    let url = redis.url();
    let app = TestApp::spawn_with(&[("redis_address", url.as_str())])
        .await
        .unwrap();
    let w = world(&app).await;
    let due = create_quotation(&app, &w).await;
    send(&app, &due).await;
    let valid = create_quotation(&app, &w).await;
    send(&app, &valid).await;
    backdate(&app, &due);

    redis.publish("sales-jobs", "tick").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if get(&app, &due).await["status"] == "expired" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tick did not expire the quotation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(get(&app, &valid).await["status"], "sent");
    // The expiry is announced once in the outbox.
    let events = app
        .count(&format!(
            "/api/v1/outbox?topic=quotation.expired&aggregate_id={}",
            id(&due)
        ))
        .await
        .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_conversions_of_the_same_remainder_at_once_make_one_order() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;
    send(&app, &q).await;
    let (a, b) = tokio::join!(
        action(&app, &q, "convert", json!({})),
        action(&app, &q, "convert", json!({}))
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} / {}", a.text, b.text);
    assert_eq!(count_orders_of(&app, &q).await, 1);
    let read = get(&app, &q).await;
    assert_eq!(read["status"], "ordered");
    assert_eq!(read["lines"][0]["ordered_quantity"], "10");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_accepts_for_the_customer_and_the_choice_then_holds_through_conversion() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let rep = app.create_key(&app.unique("rep"), &["rep"]).await.unwrap();
    let q = app
        .call_as(
            &rep,
            Method::POST,
            QUOTATIONS,
            Some(quotation_body(&w)),
            &[],
        )
        .await
        .unwrap()
        .assert_status(201)
        .clone();
    let path = |verb: &str| format!("{QUOTATIONS}/{}/{verb}", id(&q));
    app.call_as(&rep, Method::POST, &path("send"), Some(json!({})), &[])
        .await
        .unwrap()
        .assert_status(200);
    // A choice naming a line of another group is refused, nothing changes.
    app.call_as(
        &rep,
        Method::POST,
        &path("accept"),
        Some(json!({ "alternatives": { "size": line_id(&q, 0) } })),
        &[],
    )
    .await
    .unwrap()
    .assert_problem(422, "unknown_line");
    let accepted = app
        .call_as(
            &rep,
            Method::POST,
            &path("accept"),
            Some(json!({ "alternatives": { "size": line_id(&q, 3) } })),
            &[],
        )
        .await
        .unwrap();
    let accepted = accepted.assert_status(200).clone();
    assert_eq!(accepted["acceptance"]["by"]["type"], "principal");
    assert_eq!(accepted["totals"]["net_total"], eur("300.00"));

    // The accepted choice holds: switching back at conversion is refused.
    action(
        &app,
        &q,
        "convert",
        json!({ "alternatives": { "size": line_id(&q, 2) } }),
    )
    .await
    .assert_problem(409, "choice_fixed");
    let converted = action(&app, &q, "convert", json!({})).await;
    let converted = converted.assert_status(201).clone();
    let lines: Vec<&str> = converted["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line_id"].as_str().unwrap())
        .collect();
    assert_eq!(lines, [line_id(&q, 0), line_id(&q, 3)]);
    // The draft order carries the quoted rates and points back at the lines.
    let order = app
        .get(&format!(
            "/api/v1/orders/{}",
            converted["order"]["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let order = order.assert_status(200);
    assert_eq!(order["lines"][1]["kept_rate"], eur("100.00"), "{order}");
    assert_eq!(
        order["lines"][1]["quotation_line_id"],
        line_id(&q, 3).as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_deactivated_since_quoting_is_refused_at_conversion_and_nothing_is_written() {
    let app = TestApp::spawn().await.unwrap();
    let w = world(&app).await;
    let q = create_quotation(&app, &w).await;
    send(&app, &q).await;
    app.post(
        &format!("/api/v1/products/{}/deactivate", w.drill),
        json!({}),
    )
    .await
    .unwrap()
    .assert_status(200);
    action(&app, &q, "convert", json!({}))
        .await
        .assert_problem(422, "inactive_product");
    assert_eq!(count_orders_of(&app, &q).await, 0);
    let read = get(&app, &q).await;
    assert_eq!(read["status"], "sent");
    assert_eq!(read["lines"][0]["ordered_quantity"], "0");
}

// --- approval before sending (issue #6's end-to-end must-show) ------------

/// A key with `role`: (secret, principal id).
async fn person(app: &TestApp, role: &str) -> (String, String) {
    let key = app.create_key(&app.unique(role), &[role]).await.unwrap();
    let me = app
        .call_as(&key, Method::GET, "/api/v1/me", None, &[])
        .await
        .unwrap();
    (key, me.body["id"].as_str().unwrap().to_string())
}

async fn as_key(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    app.call_as(key, method, path, body, &[]).await.unwrap()
}

/// A quotation policy for `channel` with one level approved by `approver`.
async fn quotation_policy(
    app: &TestApp,
    channel: &str,
    name: &str,
    test: Value,
    approver: &str,
) -> String {
    id(&app
        .create(
            "/api/v1/approval-policies",
            json!({ "name": name, "applies_to": ["quotation"],
                    "condition": { "type": "all", "all": [
                        { "type": "channels", "codes": [channel] }, test ] },
                    "chain": { "levels": [{ "name": name,
                        "approvers": [{ "type": "principal", "id": approver }],
                        "mode": { "type": "any_one" } }] } }),
        )
        .await
        .unwrap())
}

fn step<'a>(request: &'a Value, policy: &str) -> &'a Value {
    request["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["policy_id"] == policy)
        .unwrap_or_else(|| panic!("no step of policy {policy} in {request}"))
}

/// Polls the quotation (as the admin) until its status is `status`: the
/// jobs component applies approval outcomes from the outbox.
async fn status_becomes(app: &TestApp, q: &Value, status: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = get(app, q).await;
        if now["status"] == status {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the quotation never became {status}: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A discount rule of 15 % on the drill, a policy "discount over 10 %" for
/// the manager and "net over 500 EUR" for finance, on the world's channel.
/// Returns (rep, manager, finance keys; discount and total policy ids).
struct Approvers {
    rep: String,
    manager: String,
    finance: String,
    discount: String,
    total: String,
}

async fn approval_world(app: &TestApp, w: &World) -> Approvers {
    app.create(
        "/api/v1/pricing-rules",
        json!({ "name": "Drill deal", "stacking": "exclusive",
                "conditions": { "products": [w.drill] },
                "action": { "type": "discount_percent", "percent": "15" } }),
    )
    .await
    .unwrap();
    let (rep, _) = person(app, "rep").await;
    let (manager, manager_id) = person(app, "manager").await;
    let (finance, finance_id) = person(app, "manager").await;
    let discount = quotation_policy(
        app,
        &w.channel,
        "Discount over 10%",
        json!({ "type": "max_line_discount", "over": "10" }),
        &manager_id,
    )
    .await;
    let total = quotation_policy(
        app,
        &w.channel,
        "Over 500 EUR",
        json!({ "type": "total_amount", "limits": { "EUR": { "over": "500" } } }),
        &finance_id,
    )
    .await;
    Approvers {
        rep,
        manager,
        finance,
        discount,
        total,
    }
}

fn drills(w: &World, quantity: &str) -> Value {
    json!([{ "product_id": w.drill, "quantity": quantity }])
}

async fn approve(app: &TestApp, key: &str, request: &Value) -> Reply {
    as_key(
        app,
        key,
        Method::POST,
        &format!(
            "/api/v1/approvals/{}/approve",
            request["id"].as_str().unwrap()
        ),
        Some(json!({ "document_version": request["document_version"] })),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quotation_over_the_discount_limit_waits_is_approved_edited_and_waits_only_for_the_affected_level(
) {
    let redis = sales_e2e::RedisServer::start().unwrap();
    let url = redis.url();
    let app = TestApp::spawn_with(&[("redis_address", url.as_str())])
        .await
        .unwrap();
    let w = world(&app).await;
    let a = approval_world(&app, &w).await;

    // The rep quotes 60 drills at 15 % off: 510 EUR net.
    let created = as_key(
        &app,
        &a.rep,
        Method::POST,
        QUOTATIONS,
        Some(
            json!({ "customer_id": w.customer, "channel_code": w.channel,
                     "lines": drills(&w, "60") }),
        ),
    )
    .await;
    let q = created.assert_status(201).clone();
    assert_eq!(q["totals"]["net_total"]["amount"], "510.00", "{q}");

    // Sending waits for approval: 202, no accept link, both levels asked.
    let sent = as_key(
        &app,
        &a.rep,
        Method::POST,
        &format!("{QUOTATIONS}/{}/send", id(&q)),
        Some(json!({})),
    )
    .await;
    let waiting = sent.assert_status(202).clone();
    assert_eq!(waiting["status"], "pending_approval");
    assert!(waiting.get("accept_link").is_none(), "{waiting}");
    let first = waiting["approval_request"].clone();
    assert_eq!(first["document_version"], 1);
    assert_eq!(step(&first, &a.discount)["state"], "pending");
    assert_eq!(step(&first, &a.total)["state"], "pending");
    // Waiting, it can be neither sent, accepted nor converted.
    action(&app, &q, "send", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    action(&app, &q, "convert", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    // The rep cannot approve their own discount.
    approve(&app, &a.rep, &first)
        .await
        .assert_problem(403, "self_approval");

    // The manager and finance approve; the jobs component makes it approved.
    approve(&app, &a.manager, &first).await.assert_status(200);
    approve(&app, &a.finance, &first).await.assert_status(200);
    let approved = status_becomes(&app, &q, "approved").await;
    assert_eq!(approved["document_version"], 1);

    // Edited after approval: 80 drills, the same 15 % but 680 EUR. It is a
    // draft again, and sending asks only the level whose value got worse.
    let edited = app
        .patch(
            &format!("{QUOTATIONS}/{}", id(&q)),
            approved["version"].as_i64().unwrap(),
            json!({ "lines": drills(&w, "80") }),
        )
        .await
        .unwrap();
    let edited = edited.assert_status(200).clone();
    assert_eq!(
        (
            edited["status"].as_str(),
            edited["document_version"].as_i64()
        ),
        (Some("draft"), Some(2))
    );
    let again = action(&app, &q, "send", json!({})).await;
    let again = again.assert_status(202).clone();
    let second = again["approval_request"].clone();
    assert_eq!(second["document_version"], 2);
    assert_eq!(step(&second, &a.discount)["state"], "kept");
    assert_eq!(step(&second, &a.total)["state"], "pending");
    // The manager has nothing to do; the old request can no longer be decided.
    let inbox = as_key(
        &app,
        &a.manager,
        Method::GET,
        "/api/v1/approvals?assignee=me&status=pending",
        None,
    )
    .await;
    assert!(
        inbox.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{}",
        inbox.text
    );
    approve(&app, &a.finance, &first)
        .await
        .assert_problem(409, "approval_closed");
    // Nor can finance approve a version it did not see.
    as_key(
        &app,
        &a.finance,
        Method::POST,
        &format!(
            "/api/v1/approvals/{}/approve",
            second["id"].as_str().unwrap()
        ),
        Some(json!({ "document_version": 1 })),
    )
    .await
    .assert_problem(409, "stale_document_version");

    approve(&app, &a.finance, &second).await.assert_status(200);
    status_becomes(&app, &q, "approved").await;
    let (offered, token) = send(&app, &q).await;
    assert_eq!(offered["status"], "sent");
    assert!(!token.is_empty());

    // A revision of the approved offer without changes keeps every level
    // and is sent at once; one with more drills waits for finance again.
    let revised = action(&app, &q, "revise", json!({})).await;
    assert_eq!(revised.assert_status(200)["document_version"], 3);
    let resent = action(&app, &q, "send", json!({})).await;
    let resent = resent.assert_status(200).clone();
    assert_eq!(
        step(&resent["approval_request"], &a.discount)["state"],
        "kept"
    );
    assert_eq!(step(&resent["approval_request"], &a.total)["state"], "kept");
    let revised = action(&app, &q, "revise", json!({})).await;
    let revised = revised.assert_status(200).clone();
    app.patch(
        &format!("{QUOTATIONS}/{}", id(&q)),
        revised["version"].as_i64().unwrap(),
        json!({ "lines": drills(&w, "90") }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let third = action(&app, &q, "send", json!({})).await;
    let third = third.assert_status(202).clone();
    assert_eq!(third["status"], "pending_approval");
    assert_eq!(
        step(&third["approval_request"], &a.total)["state"],
        "pending"
    );
    assert_eq!(
        step(&third["approval_request"], &a.discount)["state"],
        "kept"
    );

    // Every event the flow wrote was handled.
    let parked = app.count("/api/v1/outbox?status=parked").await.unwrap();
    assert_eq!(parked, 0);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_quotation_returns_to_draft_with_the_reason_and_an_edit_while_waiting_closes_the_request(
) {
    let redis = sales_e2e::RedisServer::start().unwrap();
    let url = redis.url();
    let app = TestApp::spawn_with(&[("redis_address", url.as_str())])
        .await
        .unwrap();
    let w = world(&app).await;
    let a = approval_world(&app, &w).await;
    let q = as_key(
        &app,
        &a.rep,
        Method::POST,
        QUOTATIONS,
        Some(
            json!({ "customer_id": w.customer, "channel_code": w.channel,
                     "lines": drills(&w, "20") }),
        ),
    )
    .await
    .assert_status(201)
    .clone();

    // Asked explicitly: only the discount level (170 EUR is under 500).
    let submitted = action(&app, &q, "submit-for-approval", json!({})).await;
    let submitted = submitted.assert_status(200).clone();
    assert_eq!(submitted["status"], "pending_approval");
    let request = submitted["approval_request"].clone();
    assert_eq!(request["steps"].as_array().unwrap().len(), 1);
    assert_eq!(step(&request, &a.discount)["state"], "pending");

    // Edited while waiting: the request is superseded in the same write,
    // and approving it afterwards is refused; the quotation stays a draft.
    let edited = app
        .patch(
            &format!("{QUOTATIONS}/{}", id(&q)),
            submitted["version"].as_i64().unwrap(),
            json!({ "notes": "delivery in May" }),
        )
        .await
        .unwrap();
    assert_eq!(edited.assert_status(200)["status"], "draft");
    let closed = app
        .get(&format!(
            "/api/v1/approvals/{}",
            request["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(closed.body["status"]["status"], "superseded");
    approve(&app, &a.manager, &request)
        .await
        .assert_problem(409, "approval_closed");
    assert_eq!(get(&app, &q).await["status"], "draft");

    // Submitted again and rejected: back to draft with the reason.
    let submitted = action(&app, &q, "submit-for-approval", json!({})).await;
    let request = submitted.assert_status(200)["approval_request"].clone();
    as_key(
        &app,
        &a.manager,
        Method::POST,
        &format!(
            "/api/v1/approvals/{}/reject",
            request["id"].as_str().unwrap()
        ),
        Some(json!({ "document_version": request["document_version"],
                     "comment": "15 % needs a two-year contract" })),
    )
    .await
    .assert_status(200);
    let back = status_becomes(&app, &q, "draft").await;
    assert_eq!(
        back["approval_rejection"]["reason"],
        "15 % needs a two-year contract"
    );
    assert_eq!(
        back["document_version"],
        request["document_version"].as_i64().unwrap() + 1
    );
    // The rejected version cannot be sent without asking again.
    let resent = action(&app, &q, "send", json!({})).await;
    assert_eq!(resent.assert_status(202)["status"], "pending_approval");

    // A quotation no policy cares about needs nothing: 422, and it is sent.
    let small = app
        .create(
            QUOTATIONS,
            json!({ "customer_id": w.customer, "channel_code": w.channel,
                    "lines": [{ "product_id": w.case, "quantity": "2" }] }),
        )
        .await
        .unwrap();
    action(&app, &small, "submit-for-approval", json!({}))
        .await
        .assert_problem(422, "nothing_to_approve");
    assert_eq!(get(&app, &small).await["status"], "draft");
    send(&app, &small).await;
    app.stop().await.unwrap();
}

/// A request opened over the approvals API for a quotation id nothing
/// stores: its outcome is handled (nothing to move), not retried and parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_for_a_quotation_nothing_stores_is_done_not_parked() {
    let redis = sales_e2e::RedisServer::start().unwrap();
    let url = redis.url();
    let app = TestApp::spawn_with(&[("redis_address", url.as_str())])
        .await
        .unwrap();
    let (rep, rep_id) = person(&app, "rep").await;
    let (manager, manager_id) = person(&app, "manager").await;
    let channel = app.code("Q");
    quotation_policy(
        &app,
        &channel,
        "Discount over 10%",
        json!({ "type": "max_line_discount", "over": "10" }),
        &manager_id,
    )
    .await;
    let snapshot = json!({
        "document": { "kind": "quotation", "id": uuid::Uuid::now_v7().to_string() },
        "version": 1, "channel": channel,
        "customer": { "id": uuid::Uuid::now_v7().to_string(), "open_exposure": eur("0") },
        "submitted_by": rep_id, "payment_terms_days": 30, "default_payment_terms_days": 30,
        "currency": "EUR", "total": eur("80"),
        "lines": [{ "line_no": 1, "product": uuid::Uuid::now_v7().to_string(),
                    "quantity": "1", "list_price": eur("100"), "net_price": eur("80"),
                    "discount_percent": "20" }]
    });
    let opened = as_key(
        &app,
        &rep,
        Method::POST,
        "/api/v1/approval-requests",
        Some(json!({ "snapshot": snapshot })),
    )
    .await;
    let request = opened.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    as_key(
        &app,
        &manager,
        Method::POST,
        &format!("/api/v1/approvals/{request}/approve"),
        Some(json!({ "document_version": 1 })),
    )
    .await
    .assert_status(200);
    let done = "/api/v1/outbox?topic=approval.approved&status=done";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.count(done).await.unwrap() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the approval.approved event was not handled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.count("/api/v1/outbox?status=parked").await.unwrap(), 0);
    app.stop().await.unwrap();
}
