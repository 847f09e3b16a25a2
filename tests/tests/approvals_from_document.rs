//! Approving and rejecting from the document (issue 6, "record a decision"
//! over the WIT interface): `POST /api/v1/quotations/{id}/approve|reject`
//! and `POST /api/v1/orders/{id}/approve|reject` are served by the composed
//! orders component, which calls the approvals capability's `decide`
//! through its WIT import. The outcome reaches the document the one way
//! it always does — the jobs component applies the outbox event (real
//! Redis) — and every bypass attempt is refused with the same status, code
//! and field as over `POST /api/v1/approvals/{id}/approve|reject`, and
//! writes nothing (the request's version, its decision records and its
//! outbox events are unchanged). A delegate decides from the order and the
//! decision record names both people.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use sales_e2e::approvals::{in_channel, one_level, step_state};
use sales_e2e::{json, shop, RedisServer, TestApp};
use serde_json::Value;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

/// A fresh app with a real Redis behind the jobs component.
async fn app_with_redis() -> (RedisServer, TestApp) {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    let app = TestApp::spawn_with(&[("redis_address", url.as_str())])
        .await
        .unwrap();
    (redis, app)
}

/// What a refused decision must leave as it was: the request's version,
/// its decision records and the outbox events about it.
async fn written(app: &TestApp, request: &str) -> (i64, usize, usize) {
    let r = app
        .get(&format!("/api/v1/approvals/{request}"))
        .await
        .unwrap();
    let r = r.assert_status(200);
    let events = app
        .count(&format!(
            "/api/v1/outbox?aggregate_kind=approval_request&aggregate_id={request}"
        ))
        .await
        .unwrap();
    (
        r["version"].as_i64().unwrap(),
        r["decisions"].as_array().unwrap().len(),
        events,
    )
}

/// `verb` (`approve` / `reject`) with `body` by `key` on the document at
/// `document` (`/api/v1/quotations/{id}`) is refused with `status` and
/// `code`, exactly as the same decision over the approvals route on the
/// document's request; neither writes anything.
#[allow(clippy::too_many_arguments)]
async fn refused_both_ways(
    app: &TestApp,
    key: &str,
    document: &str,
    request: &str,
    verb: &str,
    body: Value,
    status: u16,
    code: &str,
) {
    let before = written(app, request).await;
    let from_document = app
        .post_as(key, &format!("{document}/{verb}"), body.clone())
        .await
        .unwrap();
    from_document.assert_problem(status, code);
    let over_http = app
        .post_as(key, &format!("/api/v1/approvals/{request}/{verb}"), body)
        .await
        .unwrap();
    over_http.assert_problem(status, code);
    assert_eq!(
        from_document.body["field"], over_http.body["field"],
        "{code}: the field differs"
    );
    assert_eq!(
        from_document.body["detail"], over_http.body["detail"],
        "{code}: the detail differs"
    );
    assert_eq!(
        written(app, request).await,
        before,
        "{code} wrote something"
    );
}

async fn wait_for<F: Fn(&Value) -> bool>(app: &TestApp, path: &str, what: &str, done: F) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = app.get(path).await.unwrap();
        let now = now.assert_status(200).clone();
        if done(&now) {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never became {what}: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn status_becomes(app: &TestApp, path: &str, status: &str) -> Value {
    wait_for(app, path, status, |v| v["status"] == status).await
}

/// A one-level policy on `channel` for `kinds`, approved by `approvers`.
async fn policy(
    app: &TestApp,
    kinds: Value,
    channel: &str,
    name: &str,
    test: Value,
    approvers: Value,
) -> String {
    id(&app
        .create(
            "/api/v1/approval-policies",
            one_level(name, kinds, in_channel(channel, test), approvers),
        )
        .await
        .unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quotation_is_approved_from_the_document_through_the_capability_and_bypasses_are_refused_alike(
) {
    let (_redis, app) = app_with_redis().await;
    // A channel, a drill at 10 EUR with a 15 % rule, and two policies:
    // more than 10 % off → the manager; over 500 EUR → finance.
    let customer = id(&app
        .create_customer(json!({ "name": app.unique("Quote GmbH") }))
        .await
        .unwrap());
    let channel = app.code("QD");
    app.create(
        "/api/v1/channels",
        json!({ "code": channel, "name": "Field sales", "kind": "b2b", "mode": "offline",
                "currency": "EUR", "tax_mode": "exclusive" }),
    )
    .await
    .unwrap();
    let drill = id(&app
        .create_product(
            json!({ "sku": app.unique("DRILL"), "name": "Drill", "uom": "pcs",
                                "kind": "stocked", "standard_cost": eur("1.00") }),
        )
        .await
        .unwrap());
    app.create(
        "/api/v1/price-lists",
        json!({ "name": app.unique("Quote list"), "currency": "EUR",
                "items": [{ "product_id": drill, "uom": "pcs", "rate": "10.00" }] }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/pricing-rules",
        json!({ "name": "Drill deal", "stacking": "exclusive",
                "conditions": { "products": [drill] },
                "action": { "type": "discount_percent", "percent": "15" } }),
    )
    .await
    .unwrap();
    let (rep, _) = app.person("rep").await.unwrap();
    let (manager, manager_id) = app.person("manager").await.unwrap();
    let (finance, finance_id) = app.person("manager").await.unwrap();
    let (outsider, _) = app.person("manager").await.unwrap();
    let (viewer, _) = app.person("viewer").await.unwrap();
    let quotation = json!(["quotation"]);
    let discount = policy(
        &app,
        quotation.clone(),
        &channel,
        "Discount over 10%",
        json!({ "type": "max_line_discount", "over": "10" }),
        json!([{ "type": "principal", "id": manager_id }]),
    )
    .await;
    let total = policy(
        &app,
        quotation,
        &channel,
        "Over 500 EUR",
        json!({ "type": "total_amount", "limits": { "EUR": { "over": "500" } } }),
        json!([{ "type": "principal", "id": finance_id }]),
    )
    .await;

    // The rep quotes 60 drills at 15 % off (510 EUR) and sends: it waits.
    let q = app
        .post_as(
            &rep,
            "/api/v1/quotations",
            json!({ "customer_id": customer, "channel_code": channel,
                "lines": [{ "product_id": drill, "quantity": "60" }] }),
        )
        .await
        .unwrap();
    let q = q.assert_status(201).clone();
    let doc = format!("/api/v1/quotations/{}", id(&q));
    let sent = app
        .post_as(&rep, &format!("{doc}/send"), json!({}))
        .await
        .unwrap();
    let request = sent.assert_status(202)["approval_request"].clone();
    let request_id = id(&request);
    let v1 = json!({ "document_version": 1 });

    // Every bypass is refused from the document as over the approvals
    // route, and writes nothing: the rep approving their own discount, a
    // manager who is no approver, a viewer, a version nobody saw, a
    // rejection without a reason.
    let refusals = [
        (&rep, "approve", v1.clone(), 403, "self_approval"),
        (&outsider, "approve", v1.clone(), 403, "not_an_approver"),
        (&viewer, "approve", v1.clone(), 403, "forbidden"),
        (
            &manager,
            "approve",
            json!({ "document_version": 2 }),
            409,
            "stale_document_version",
        ),
        (&manager, "reject", v1.clone(), 422, "reason_required"),
    ];
    for (key, verb, body, status, code) in refusals {
        refused_both_ways(&app, key, &doc, &request_id, verb, body, status, code).await;
    }
    // A document nobody stores is a 404.
    app.post_as(
        &manager,
        &format!("/api/v1/quotations/{}/approve", uuid::Uuid::now_v7()),
        v1.clone(),
    )
    .await
    .unwrap()
    .assert_problem(404, "not_found");

    // The manager approves from the quotation, with an Idempotency-Key.
    let approve = format!("{doc}/approve");
    let keyed = |body: Value| {
        let app = &app;
        let manager = &manager;
        let approve = &approve;
        async move {
            app.call_as(
                manager,
                Method::POST,
                approve,
                Some(body),
                &[("idempotency-key", "approve-from-the-quotation")],
            )
            .await
            .unwrap()
        }
    };
    let first = keyed(json!({ "document_version": 1, "comment": "ok for this customer" })).await;
    let first = first.assert_status(200).clone();
    assert_eq!(first["id"], request_id.as_str());
    assert_eq!(step_state(&first, &discount), "approved");
    assert_eq!(step_state(&first, &total), "pending");
    let record = &first["decisions"][0];
    assert_eq!(record["decided_by"], manager_id.as_str());
    assert_eq!(record["verdict"], "approve");
    assert_eq!(record["comment"], "ok for this customer");
    assert_eq!(record["document"]["version"], 1);
    // The retry replays the first answer and decides nothing.
    let retry = keyed(json!({ "document_version": 1, "comment": "ok for this customer" })).await;
    assert_eq!(retry.assert_status(200), &first);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    keyed(json!({ "document_version": 1 }))
        .await
        .assert_problem(422, "idempotency_key_reused");
    assert_eq!(written(&app, &request_id).await.1, 1);
    // Approving twice is refused alike.
    refused_both_ways(
        &app,
        &manager,
        &doc,
        &request_id,
        "approve",
        v1.clone(),
        409,
        "step_not_pending",
    )
    .await;
    // The quotation is still waiting for finance.
    assert_eq!(
        app.get(&doc).await.unwrap().body["status"],
        "pending_approval"
    );

    // Finance approves from the quotation: the jobs component makes it
    // approved, and it can be sent.
    let done = app.post_as(&finance, &approve, v1.clone()).await.unwrap();
    assert_eq!(done.assert_status(200)["status"]["status"], "approved");
    let approved = status_becomes(&app, &doc, "approved").await;
    assert_eq!(approved["document_version"], 1);
    let outcome = app
        .count(&format!(
            "/api/v1/outbox?topic=approval.approved&aggregate_id={request_id}"
        ))
        .await
        .unwrap();
    assert_eq!(outcome, 1);
    // A closed approval takes no more decisions.
    refused_both_ways(
        &app,
        &finance,
        &doc,
        &request_id,
        "approve",
        v1.clone(),
        409,
        "approval_closed",
    )
    .await;
    let offered = app
        .post_as(&rep, &format!("{doc}/send"), json!({}))
        .await
        .unwrap();
    assert_eq!(offered.assert_status(200)["status"], "sent");

    // Rejected from the document: back to draft with the reason. A
    // revision with more drills waits for finance again.
    let revised = app
        .post_as(&rep, &format!("{doc}/revise"), json!({}))
        .await
        .unwrap();
    let revised = revised.assert_status(200).clone();
    app.call_as(
        &rep,
        Method::PATCH,
        &doc,
        Some(json!({ "lines": [{ "product_id": drill, "quantity": "90" }] })),
        &[("if-match", &format!("\"{}\"", revised["version"]))],
    )
    .await
    .unwrap()
    .assert_status(200);
    let again = app
        .post_as(&rep, &format!("{doc}/send"), json!({}))
        .await
        .unwrap();
    let again = again.assert_status(202)["approval_request"].clone();
    let version = again["document_version"].as_i64().unwrap();
    // The version before the edit is an old version now.
    refused_both_ways(
        &app,
        &finance,
        &doc,
        &id(&again),
        "reject",
        json!({ "document_version": version - 1, "comment": "too much" }),
        409,
        "stale_document_version",
    )
    .await;
    let rejected = app
        .post_as(
            &finance,
            &format!("{doc}/reject"),
            json!({ "document_version": version, "comment": "900 EUR needs a contract" }),
        )
        .await
        .unwrap();
    assert_eq!(rejected.assert_status(200)["status"]["status"], "rejected");
    let back = status_becomes(&app, &doc, "draft").await;
    assert_eq!(
        back["approval_rejection"]["reason"],
        "900 EUR needs a contract"
    );
    assert_eq!(app.count("/api/v1/outbox?status=parked").await.unwrap(), 0);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_approved_and_rejected_from_the_document_by_a_delegate_and_its_submitter_may_not_approve_it(
) {
    let (_redis, app) = app_with_redis().await;
    // Drills at 100 EUR, 10 in MAIN; orders over 500 EUR on this channel
    // need a manager — any manager but the one who submitted.
    let warehouse_code = app.code("W");
    let warehouse = id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": warehouse_code, "name": "Main" }),
        )
        .await
        .unwrap());
    let drill = shop::drill(&app).await;
    shop::count(&app, &drill, &warehouse, "10").await;
    app.create(
        "/api/v1/price-lists",
        json!({ "name": app.unique("Standard"), "currency": "EUR",
                "items": [{ "product_id": drill, "uom": "pcs", "rate": "100.00" }] }),
    )
    .await
    .unwrap();
    let customer = id(&app
        .create_customer(json!({ "name": app.unique("Drill & Co") }))
        .await
        .unwrap());
    let code = app.code("OD");
    let channel = id(&app
        .create(
            "/api/v1/channels",
            json!({ "code": code, "name": "Channel", "kind": "b2b", "mode": "offline",
                    "currency": "EUR", "tax_mode": "exclusive",
                    "warehouses": [warehouse_code] }),
        )
        .await
        .unwrap());
    policy(
        &app,
        json!(["order"]),
        &code,
        "Large order",
        json!({ "type": "total_amount", "limits": { "EUR": { "over": "500" } } }),
        json!([{ "type": "role", "role": "manager" }]),
    )
    .await;
    let (seller, _) = app.person("manager").await.unwrap();
    let (boss, boss_id) = app.person("manager").await.unwrap();
    let (rep, rep_id) = app.person("rep").await.unwrap();

    // A draft nobody asked approval for has no request to decide on.
    let order = app
        .post_as(
            &seller,
            "/api/v1/orders",
            json!({ "customer_id": customer, "channel_id": channel,
                "lines": [{ "product_id": drill, "quantity": "6" }] }),
        )
        .await
        .unwrap();
    let order = order.assert_status(201).clone();
    let doc = format!("/api/v1/orders/{}", id(&order));
    app.post_as(
        &boss,
        &format!("{doc}/approve"),
        json!({ "document_version": 1 }),
    )
    .await
    .unwrap()
    .assert_problem(409, "no_approval_request");

    // The seller (a manager) submits 600 EUR: it waits for a manager.
    let waiting = app
        .post_as(&seller, &format!("{doc}/submit"), json!({}))
        .await
        .unwrap();
    let waiting = waiting.assert_status(200).clone();
    assert_eq!(waiting["status"], "pending_approval");
    let request = waiting["approval_request_id"].as_str().unwrap().to_string();
    let revision = waiting["revision"].as_i64().unwrap();
    let body = json!({ "document_version": revision });
    // Self-approval and a rep who is no approver are refused alike.
    refused_both_ways(
        &app,
        &seller,
        &doc,
        &request,
        "approve",
        body.clone(),
        403,
        "self_approval",
    )
    .await;
    refused_both_ways(
        &app,
        &rep,
        &doc,
        &request,
        "approve",
        body.clone(),
        403,
        "not_an_approver",
    )
    .await;

    // The other manager approves from the order: the jobs component
    // confirms it.
    let approved = app
        .post_as(&boss, &format!("{doc}/approve"), body.clone())
        .await
        .unwrap();
    let approved = approved.assert_status(200).clone();
    assert_eq!(approved["status"]["status"], "approved");
    assert_eq!(approved["decisions"][0]["decided_by"], boss_id.as_str());
    let confirmed = status_becomes(&app, &doc, "confirmed").await;
    refused_both_ways(
        &app,
        &boss,
        &doc,
        &request,
        "approve",
        body.clone(),
        409,
        "approval_closed",
    )
    .await;

    // Amended to 7 drills it waits again; the approved revision is an old
    // version now. The boss is away: the rep decides for them, and the
    // rejection, recorded with both people, sends the order back to draft
    // with the reason.
    let delegated = app
        .post_as(
            &boss,
            "/api/v1/delegations",
            json!({ "to": rep_id, "starts": "2000-01-01", "ends": "2999-12-31" }),
        )
        .await
        .unwrap();
    delegated.assert_status(201);
    let line = confirmed["lines"][0]["id"].clone();
    let amended = app
        .call_as(
            &seller,
            Method::PATCH,
            &doc,
            Some(json!({ "lines": [{ "id": line, "product_id": drill, "quantity": "7" }] })),
            &[("if-match", &format!("\"{}\"", confirmed["version"]))],
        )
        .await
        .unwrap();
    let amended = amended.assert_status(200).clone();
    assert_eq!(amended["status"], "pending_approval");
    let second = amended["approval_request_id"].as_str().unwrap().to_string();
    let old = json!({ "document_version": revision, "comment": "no" });
    refused_both_ways(
        &app,
        &rep,
        &doc,
        &second,
        "reject",
        old,
        409,
        "stale_document_version",
    )
    .await;
    let rejected = app
        .post_as(
            &rep,
            &format!("{doc}/reject"),
            json!({ "document_version": amended["revision"], "comment": "7 is too many" }),
        )
        .await
        .unwrap();
    let rejected = rejected.assert_status(200).clone();
    assert_eq!(rejected["id"], second.as_str());
    assert_eq!(rejected["status"]["reason"], "7 is too many");
    let record = &rejected["decisions"][0];
    assert_eq!(record["decided_by"], rep_id.as_str());
    assert_eq!(record["on_behalf_of"], boss_id.as_str());
    assert_eq!(record["verdict"], "reject");
    assert_eq!(record["document"]["version"], amended["revision"]);
    let draft = status_becomes(&app, &doc, "draft").await;
    assert_eq!(draft["status_reason"], "7 is too many");
    assert_eq!(draft["lines"][0]["reserved_quantity"], "0");
    assert_eq!(app.count("/api/v1/outbox?status=parked").await.unwrap(), 0);
    app.stop().await.unwrap();
}
