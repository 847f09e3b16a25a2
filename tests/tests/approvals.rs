//! Approval workflows end to end (issue 6): policies as data, a rep's
//! quotation waiting for the manager, the inbox, decisions and their
//! refusals, smart re-approval of an edited quotation, rejection with a
//! reason, delegation, and bad input that writes nothing.
//!
//! Every test makes its own keys (principals) and policies; each policy
//! applies only to its own channel code, so the suite runs beside other
//! tests on a shared instance. Escalation itself (who is added when, a
//! replayed tick escalating once) is covered by the domain's tests
//! (`crates/domain/src/approvals/escalation.rs`): its shortest time limit
//! is an hour, so here the tick is shown to touch nothing that is not due.
//! Deciding through the WIT export (from the quotation or the order, in the
//! composed orders component) is `approvals_from_document.rs`.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use sales_e2e::approvals::{in_channel, one_level, step_state};
use sales_e2e::{json, Reply, TestApp};
use serde_json::Value;

/// `POST /api/v1/approval-requests` with `snapshot`, as the holder of `key`.
async fn request_approval(app: &TestApp, key: &str, snapshot: Value) -> Reply {
    app.post_as(
        key,
        "/api/v1/approval-requests",
        json!({ "snapshot": snapshot }),
    )
    .await
    .unwrap()
}

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

/// A quotation snapshot: `qty` × P at 100 EUR list, `net` net.
fn snapshot(doc: &str, version: u32, by: &str, channel: &str, qty: u32, net: u32) -> Value {
    let discount = 100 - net;
    json!({
        "document": { "kind": "quotation", "id": doc },
        "version": version, "channel": channel,
        "customer": { "id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162", "open_exposure": eur("0") },
        "submitted_by": by, "payment_terms_days": 30, "default_payment_terms_days": 30,
        "currency": "EUR", "total": eur(&(qty * net).to_string()),
        "lines": [{ "line_no": 1, "product": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405163",
                    "quantity": qty.to_string(), "list_price": eur("100"),
                    "net_price": eur(&net.to_string()), "discount_percent": discount.to_string() }]
    })
}

/// A quotation policy whose one level `approver` decides.
fn policy(name: &str, condition: Value, approver: &str) -> Value {
    one_level(
        name,
        json!(["quotation"]),
        condition,
        json!([{ "type": "principal", "id": approver }]),
    )
}

/// Two policies for `channel`: more than 10% off a line → `manager`;
/// a total over 5,000 EUR → `finance`. Returns their ids.
async fn policies(app: &TestApp, channel: &str, manager: &str, finance: &str) -> (String, String) {
    let discount = app
        .create(
            "/api/v1/approval-policies",
            policy(
                "Discount over 10%",
                in_channel(
                    channel,
                    json!({ "type": "max_line_discount", "over": "10" }),
                ),
                manager,
            ),
        )
        .await
        .unwrap();
    let total = app
        .create(
            "/api/v1/approval-policies",
            policy(
                "Large order",
                in_channel(
                    channel,
                    json!({ "type": "total_amount", "limits": { "EUR": { "over": "5000" } } }),
                ),
                finance,
            ),
        )
        .await
        .unwrap();
    (
        discount["id"].as_str().unwrap().to_string(),
        total["id"].as_str().unwrap().to_string(),
    )
}

fn inbox_ids(reply: &Reply) -> Vec<String> {
    reply.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

const INBOX: &str = "/api/v1/approvals?assignee=me&status=pending";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discount_over_the_limit_waits_for_the_manager_and_an_edit_asks_only_the_affected_level()
{
    let app = TestApp::spawn().await.unwrap();
    let (rep_key, rep) = app.person("rep").await.unwrap();
    let (manager_key, manager) = app.person("manager").await.unwrap();
    let (finance_key, finance) = app.person("manager").await.unwrap();
    let channel = app.code("AP");
    let (discount, total) = policies(&app, &channel, &manager, &finance).await;
    let doc = uuid::Uuid::now_v7().to_string();

    // Evaluation names the levels and why, and writes nothing.
    let v1 = snapshot(&doc, 1, &rep, &channel, 100, 80);
    let eval = app
        .post_as(
            &rep_key,
            "/api/v1/approvals/evaluate",
            json!({ "snapshot": v1 }),
        )
        .await
        .unwrap();
    let eval = eval.assert_status(200);
    assert_eq!(eval["approval_required"], true);
    assert_eq!(eval["levels"].as_array().unwrap().len(), 2);
    let by_doc = format!("/api/v1/approvals?document_kind=quotation&document_id={doc}");
    assert_eq!(app.count(&by_doc).await.unwrap(), 0);

    // The rep asks; both levels wait.
    let opened = request_approval(&app, &rep_key, v1).await;
    let first = opened.assert_status(201).clone();
    let first_id = first["id"].as_str().unwrap().to_string();
    assert_eq!(first["status"]["status"], "pending");
    assert_eq!(step_state(&first, &discount), "pending");
    assert_eq!(step_state(&first, &total), "pending");

    // The manager's inbox shows it; the rep's does not.
    let inbox = app.get_as(&manager_key, INBOX).await.unwrap();
    assert_eq!(inbox_ids(&inbox), vec![first_id.clone()]);
    assert!(inbox_ids(&app.get_as(&rep_key, INBOX).await.unwrap()).is_empty());

    // The rep cannot approve their own discount.
    let approve = format!("/api/v1/approvals/{first_id}/approve");
    app.post_as(&rep_key, &approve, json!({ "document_version": 1 }))
        .await
        .unwrap()
        .assert_problem(403, "self_approval");
    // Nor can the manager approve a version they did not see.
    app.post_as(&manager_key, &approve, json!({ "document_version": 2 }))
        .await
        .unwrap()
        .assert_problem(409, "stale_document_version");

    // The manager approves, once.
    let after = app
        .post_as(
            &manager_key,
            &approve,
            json!({ "document_version": 1, "comment": "ok" }),
        )
        .await
        .unwrap();
    let after = after.assert_status(200).clone();
    assert_eq!(step_state(&after, &discount), "approved");
    assert_eq!(after["status"]["status"], "pending");
    let record = &after["decisions"][0];
    assert_eq!(record["decided_by"], manager.as_str());
    assert_eq!(record["verdict"], "approve");
    assert_eq!(record["document"]["version"], 1);
    app.post_as(&manager_key, &approve, json!({ "document_version": 1 }))
        .await
        .unwrap()
        .assert_problem(409, "step_not_pending");
    assert!(inbox_ids(&app.get_as(&manager_key, INBOX).await.unwrap()).is_empty());

    // Finance approves the total; the quotation is approved.
    let done = app
        .post_as(&finance_key, &approve, json!({ "document_version": 1 }))
        .await
        .unwrap();
    assert_eq!(done.assert_status(200)["status"]["status"], "approved");

    // An edit: a deeper discount on a smaller total. Only the discount
    // level asks again; the total's approval is kept.
    let v2 = snapshot(&doc, 2, &rep, &channel, 90, 75);
    let second = request_approval(&app, &rep_key, v2.clone()).await;
    let second = second.assert_status(201).clone();
    let second_id = second["id"].as_str().unwrap().to_string();
    assert_eq!(step_state(&second, &discount), "pending");
    assert_eq!(step_state(&second, &total), "kept");
    assert_eq!(
        inbox_ids(&app.get_as(&manager_key, INBOX).await.unwrap()),
        vec![second_id.clone()]
    );
    assert!(inbox_ids(&app.get_as(&finance_key, INBOX).await.unwrap()).is_empty());

    // The first request is superseded: deciding on it is refused.
    let old = app
        .get(&format!("/api/v1/approvals/{first_id}"))
        .await
        .unwrap();
    assert_eq!(old.body["status"]["status"], "superseded");
    app.post_as(&finance_key, &approve, json!({ "document_version": 1 }))
        .await
        .unwrap()
        .assert_problem(409, "approval_closed");
    // The same version cannot be requested twice.
    request_approval(&app, &rep_key, v2)
        .await
        .assert_problem(409, "not_a_newer_version");

    let approve2 = format!("/api/v1/approvals/{second_id}/approve");
    let done = app
        .post_as(&manager_key, &approve2, json!({ "document_version": 2 }))
        .await
        .unwrap();
    assert_eq!(done.assert_status(200)["status"]["status"], "approved");
    assert_eq!(app.count(&by_doc).await.unwrap(), 2);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_sends_the_quotation_back_with_the_reason() {
    let app = TestApp::spawn().await.unwrap();
    let (rep_key, rep) = app.person("rep").await.unwrap();
    let (manager_key, manager) = app.person("manager").await.unwrap();
    let (_, finance) = app.person("manager").await.unwrap();
    let channel = app.code("AP");
    policies(&app, &channel, &manager, &finance).await;
    let doc = uuid::Uuid::now_v7().to_string();

    let opened = request_approval(&app, &rep_key, snapshot(&doc, 1, &rep, &channel, 10, 70)).await;
    let id = opened.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reject = format!("/api/v1/approvals/{id}/reject");

    // A rejection needs a reason, and nothing is written without one.
    app.post_as(&manager_key, &reject, json!({ "document_version": 1 }))
        .await
        .unwrap()
        .assert_problem(422, "reason_required");
    let unchanged = app.get(&format!("/api/v1/approvals/{id}")).await.unwrap();
    assert_eq!(unchanged.body["version"], 1);

    let rejected = app
        .post_as(
            &manager_key,
            &reject,
            json!({ "document_version": 1, "comment": "30% is too deep for this customer" }),
        )
        .await
        .unwrap();
    let rejected = rejected.assert_status(200);
    assert_eq!(rejected["status"]["status"], "rejected");
    assert_eq!(
        rejected["status"]["reason"],
        "30% is too deep for this customer"
    );
    assert_eq!(rejected["decisions"][0]["verdict"], "reject");

    // Deciding on a closed approval is refused and writes nothing.
    let approve = format!("/api/v1/approvals/{id}/approve");
    app.post_as(&manager_key, &approve, json!({ "document_version": 1 }))
        .await
        .unwrap()
        .assert_problem(409, "approval_closed");
    let after = app.get(&format!("/api/v1/approvals/{id}")).await.unwrap();
    assert_eq!(after.body["version"], 2);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegate_decides_for_the_manager_and_the_record_names_both() {
    let app = TestApp::spawn().await.unwrap();
    let (rep_key, rep) = app.person("rep").await.unwrap();
    let (manager_key, manager) = app.person("manager").await.unwrap();
    let (deputy_key, deputy) = app.person("manager").await.unwrap();
    let (_, finance) = app.person("manager").await.unwrap();
    let channel = app.code("AP");
    policies(&app, &channel, &manager, &finance).await;

    // Only the manager delegates their own approvals.
    let window = json!({ "to": deputy, "starts": "2000-01-01", "ends": "2999-12-31" });
    app.post_as(&rep_key, "/api/v1/delegations", json!({ "from": manager, "to": deputy,
                                                           "starts": "2000-01-01", "ends": "2999-12-31" }))
        .await
.unwrap()
        .assert_problem(403, "forbidden");
    let delegation = app
        .post_as(&manager_key, "/api/v1/delegations", window.clone())
        .await
        .unwrap();
    let delegation = delegation.assert_status(201).clone();
    assert_eq!(delegation["from"], manager.as_str());
    // A second, overlapping delegation of the same approver is refused.
    let (_, other) = app.person("manager").await.unwrap();
    app.post_as(
        &manager_key,
        "/api/v1/delegations",
        json!({ "to": other, "starts": "2026-01-01", "ends": "2026-01-02" }),
    )
    .await
    .unwrap()
    .assert_problem(409, "delegation_overlap");
    let mine = app
        .get_as(&deputy_key, "/api/v1/delegations?principal=me")
        .await
        .unwrap();
    assert_eq!(
        mine.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    let doc = uuid::Uuid::now_v7().to_string();
    let opened = request_approval(&app, &rep_key, snapshot(&doc, 1, &rep, &channel, 10, 85)).await;
    let id = opened.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The deputy sees it in their inbox and approves for the manager.
    assert_eq!(
        inbox_ids(&app.get_as(&deputy_key, INBOX).await.unwrap()),
        vec![id.clone()]
    );
    let approved = app
        .post_as(
            &deputy_key,
            &format!("/api/v1/approvals/{id}/approve"),
            json!({ "document_version": 1, "comment": "for the manager, who is away" }),
        )
        .await
        .unwrap();
    let approved = approved.assert_status(200);
    assert_eq!(approved["status"]["status"], "approved");
    let record = &approved["decisions"][0];
    assert_eq!(record["decided_by"], deputy.as_str());
    assert_eq!(record["on_behalf_of"], manager.as_str());

    // Deleting the delegation keeps the record.
    let path = format!("/api/v1/delegations/{}", delegation["id"].as_str().unwrap());
    let deleted = app
        .call_as(&manager_key, Method::DELETE, &path, None, &[])
        .await
        .unwrap();
    assert_eq!(deleted.status.as_u16(), 204);
    let kept = app.get(&format!("/api/v1/approvals/{id}")).await.unwrap();
    assert_eq!(kept.body["decisions"][0]["on_behalf_of"], manager.as_str());
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_policies_and_requests_are_refused_and_write_nothing() {
    let app = TestApp::spawn().await.unwrap();
    let (rep_key, rep) = app.person("rep").await.unwrap();
    let (manager_key, manager) = app.person("manager").await.unwrap();
    let channel = app.code("AP");
    let discount = json!({ "type": "max_line_discount", "over": "10" });
    let before = app.count("/api/v1/approval-policies").await.unwrap();

    // An approver nobody holds a key for.
    let ghost = uuid::Uuid::now_v7().to_string();
    app.post(
        "/api/v1/approval-policies",
        policy("Ghost", in_channel(&channel, discount.clone()), &ghost),
    )
    .await
    .unwrap()
    .assert_problem(422, "unknown_approver");
    // An empty chain.
    let mut empty = policy("Empty", in_channel(&channel, discount.clone()), &manager);
    empty["chain"]["levels"] = json!([]);
    let reply = app.post("/api/v1/approval-policies", empty).await.unwrap();
    reply.assert_problem(422, "empty_chain");
    assert_eq!(reply.body["field"], "chain.levels");
    // Thresholds that contradict each other.
    let contradictory = policy(
        "Contradictory",
        in_channel(
            &channel,
            json!({ "type": "max_line_discount", "over": "20", "up_to": "10" }),
        ),
        &manager,
    );
    app.post("/api/v1/approval-policies", contradictory)
        .await
        .unwrap()
        .assert_problem(422, "contradictory_thresholds");
    // Only admins write policies.
    app.post_as(
        &manager_key,
        "/api/v1/approval-policies",
        policy("Mine", in_channel(&channel, discount.clone()), &manager),
    )
    .await
    .unwrap()
    .assert_problem(403, "forbidden");
    assert_eq!(
        app.count("/api/v1/approval-policies").await.unwrap(),
        before
    );

    // A snapshot that needs nothing, one in someone else's name, a
    // submitter-manager level nobody can meet yet: refused, nothing written.
    app.create(
        "/api/v1/approval-policies",
        json!({ "name": "Manager of the rep", "applies_to": ["quotation"],
                "condition": in_channel(&channel, json!({ "type": "max_line_discount", "over": "40" })),
                "chain": { "levels": [{ "name": "Line manager",
                                        "approvers": [{ "type": "submitter_manager" }],
                                        "mode": { "type": "any_one" } }] } }),
    )
    .await
    .unwrap();
    let doc = uuid::Uuid::now_v7().to_string();
    let by_doc = format!("/api/v1/approvals?document_kind=quotation&document_id={doc}");
    request_approval(&app, &rep_key, snapshot(&doc, 1, &rep, &channel, 10, 95))
        .await
        .assert_problem(422, "nothing_to_approve");
    request_approval(
        &app,
        &rep_key,
        snapshot(&doc, 1, &manager, &channel, 10, 50),
    )
    .await
    .assert_problem(403, "submitter_mismatch");
    request_approval(&app, &rep_key, snapshot(&doc, 1, &rep, &channel, 10, 50))
        .await
        .assert_problem(422, "approvers_unavailable");
    // A discount that does not match the prices names the field.
    let mut wrong = snapshot(&doc, 1, &rep, &channel, 10, 50);
    wrong["lines"][0]["discount_percent"] = json!("5");
    let reply = request_approval(&app, &rep_key, wrong).await;
    reply.assert_problem(422, "invalid_field");
    assert_eq!(reply.body["field"], "snapshot.lines");
    assert_eq!(app.count(&by_doc).await.unwrap(), 0);

    // A viewer may not ask for approval nor decide.
    let (viewer_key, viewer) = app.person("viewer").await.unwrap();
    request_approval(
        &app,
        &viewer_key,
        snapshot(&doc, 1, &viewer, &channel, 10, 50),
    )
    .await
    .assert_problem(403, "forbidden");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submitters_manager_approves_once_an_admin_records_who_manages_whom() {
    let app = TestApp::spawn().await.unwrap();
    let (rep_key, rep) = app.person("rep").await.unwrap();
    let (manager_key, manager) = app.person("manager").await.unwrap();
    let channel = app.code("AP");
    app.create(
        "/api/v1/approval-policies",
        json!({ "name": "Line manager over 10%", "applies_to": ["quotation"],
                "condition": in_channel(&channel, json!({ "type": "max_line_discount", "over": "10" })),
                "chain": { "levels": [{ "name": "Line manager",
                                        "approvers": [{ "type": "submitter_manager" }],
                                        "mode": { "type": "any_one" } }] } }),
    )
    .await
    .unwrap();
    let doc = uuid::Uuid::now_v7().to_string();
    let ask = |version: u32| json!({ "snapshot": snapshot(&doc, version, &rep, &channel, 10, 80) });

    // Without a recorded manager nobody can approve: refused, nothing written.
    app.post_as(&rep_key, "/api/v1/approval-requests", ask(1))
        .await
        .unwrap()
        .assert_problem(422, "approvers_unavailable");

    // Only admins record the hierarchy; both people must exist; one manager each.
    let line = json!({ "principal_id": rep, "manager_id": manager });
    app.post_as(&manager_key, "/api/v1/approval-managers", line.clone())
        .await
        .unwrap()
        .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/approval-managers",
        json!({ "principal_id": rep, "manager_id": uuid::Uuid::now_v7().to_string() }),
    )
    .await
    .unwrap()
    .assert_problem(422, "unknown_approver");
    let created = app
        .create("/api/v1/approval-managers", line.clone())
        .await
        .unwrap();
    assert_eq!(created["manager_id"], manager.as_str());
    app.post("/api/v1/approval-managers", line)
        .await
        .unwrap()
        .assert_problem(409, "duplicate");

    // Now the rep's manager is the approver.
    let opened = app
        .post_as(&rep_key, "/api/v1/approval-requests", ask(1))
        .await
        .unwrap();
    let id = opened.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(opened.body["steps"][0]["approvers"], json!([manager]));
    assert_eq!(
        inbox_ids(&app.get_as(&manager_key, INBOX).await.unwrap()),
        vec![id.clone()]
    );
    let approved = app
        .post_as(
            &manager_key,
            &format!("/api/v1/approvals/{id}/approve"),
            json!({ "document_version": 1 }),
        )
        .await
        .unwrap();
    assert_eq!(approved.assert_status(200)["status"]["status"], "approved");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_tick_escalates_only_what_is_due_and_only_machines_run_it() {
    let app = TestApp::spawn().await.unwrap();
    let (rep_key, rep) = app.person("rep").await.unwrap();
    let (_, manager) = app.person("manager").await.unwrap();
    let (_, director) = app.person("manager").await.unwrap();
    let (jobs_key, _) = app.person("integration").await.unwrap();
    let channel = app.code("AP");
    let mut escalating = policy(
        "Discount, escalating",
        in_channel(
            &channel,
            json!({ "type": "max_line_discount", "over": "10" }),
        ),
        &manager,
    );
    // An escalation target nobody holds a key for is refused.
    escalating["chain"]["levels"][0]["escalation"] = json!({ "after_hours": 24, "to": { "type": "principal", "id": uuid::Uuid::now_v7().to_string() } });
    let reply = app
        .post("/api/v1/approval-policies", escalating.clone())
        .await
        .unwrap();
    reply.assert_problem(422, "unknown_approver");
    assert_eq!(reply.body["field"], "chain.levels[0].escalation.to.id");
    escalating["chain"]["levels"][0]["escalation"] =
        json!({ "after_hours": 24, "to": { "type": "principal", "id": director } });
    app.create("/api/v1/approval-policies", escalating)
        .await
        .unwrap();

    let doc = uuid::Uuid::now_v7().to_string();
    let opened = request_approval(&app, &rep_key, snapshot(&doc, 1, &rep, &channel, 10, 80)).await;
    let id = opened.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Reps do not run periodic work; the jobs key does. Nothing is due yet
    // (24 hours), so the request is untouched.
    app.post_as(&rep_key, "/api/v1/approvals/tick", json!({}))
        .await
        .unwrap()
        .assert_problem(403, "forbidden");
    let ticked = app
        .post_as(&jobs_key, "/api/v1/approvals/tick", json!({}))
        .await
        .unwrap();
    let escalations = ticked.assert_status(200)["escalations"].as_array().unwrap();
    assert!(escalations.iter().all(|e| e["request"] != id.as_str()));
    let request = app.get(&format!("/api/v1/approvals/{id}")).await.unwrap();
    assert_eq!(request.body["version"], 1);
    assert_eq!(request.body["steps"][0]["escalated_to"], json!([]));
    app.stop().await.unwrap();
}
