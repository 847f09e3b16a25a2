//! Sales teams end to end (issue #8), through the runner and the real
//! `teams.wasm`, `orders` and `jobs` components: the organisation's
//! surface (people, teams, partners, territory managers and rules,
//! plans, targets) with If-Match and Idempotency-Key; bad input that is a
//! clear 4xx and writes nothing; commission accrued from a real submitted
//! order by the jobs component, recalculated after an amendment and
//! clawed back on cancellation; who sees which commissions.

// Test helpers panic on purpose: a failed call is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use sales_e2e::{json, Reply, TestApp};
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

async fn territory(app: &TestApp, parent: Option<&str>) -> String {
    let mut body = json!({ "code": app.code("T"), "name": "Territory" });
    if let Some(p) = parent {
        body["parent_id"] = json!(p);
    }
    id(&app.create("/api/v1/territories", body).await.unwrap())
}

async fn person(
    app: &TestApp,
    name: &str,
    principal: Option<&str>,
    manager: Option<&str>,
) -> Value {
    app.create(
        "/api/v1/sales-people",
        json!({ "name": name, "principal_id": principal, "manager_id": manager }),
    )
    .await
    .unwrap()
}

async fn count(app: &TestApp, path: &str) -> usize {
    app.count(path).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organisation_is_created_read_updated_and_listed() {
    let app = app().await;
    let south = territory(&app, None).await;
    let boss = person(&app, "Bea Boss", None, None).await;
    let rep = person(&app, "Rick Rep", None, Some(&id(&boss))).await;
    assert_eq!(rep["manager_id"], boss["id"]);
    assert_eq!(rep["version"], 1);

    // A retried POST with the same Idempotency-Key is the same person.
    let body = json!({ "name": "Ida Idem" });
    let first = app
        .call_as(
            &app.admin_key,
            Method::POST,
            "/api/v1/sales-people",
            Some(body.clone()),
            &[("idempotency-key", "teams-e2e-1")],
        )
        .await
        .unwrap();
    let again = app
        .call_as(
            &app.admin_key,
            Method::POST,
            "/api/v1/sales-people",
            Some(body),
            &[("idempotency-key", "teams-e2e-1")],
        )
        .await
        .unwrap();
    assert_eq!(
        first.assert_status(201)["id"],
        again.assert_status(201)["id"]
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));

    // PATCH needs the current version.
    let path = format!("/api/v1/sales-people/{}", id(&rep));
    app.call(Method::PATCH, &path, Some(json!({ "name": "Rick" })))
        .await
        .unwrap()
        .assert_problem(428, "precondition_required");
    let renamed = app
        .patch(&path, 1, json!({ "name": "Rick" }))
        .await
        .unwrap();
    assert_eq!(renamed.assert_status(200)["name"], "Rick");
    app.patch(&path, 1, json!({ "name": "Stale" }))
        .await
        .unwrap()
        .assert_problem(412, "version_conflict");
    let reports = app
        .get(&format!("/api/v1/sales-people?manager_id={}", id(&boss)))
        .await
        .unwrap();
    assert_eq!(
        reports.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let team = app
        .create(
            "/api/v1/teams",
            json!({ "code": app.code("TEAM"), "name": "South", "territory_id": south,
                    "members": [ { "sales_person_id": id(&rep), "percentage": "60" },
                                 { "sales_person_id": id(&boss), "percentage": "40" } ] }),
        )
        .await
        .unwrap();
    assert_eq!(team["members"][1]["percentage"], "40");
    let mine = app
        .get(&format!("/api/v1/teams?member={}", id(&rep)))
        .await
        .unwrap();
    assert_eq!(mine.assert_status(200)["items"][0]["id"], team["id"]);

    let partner = app
        .create(
            "/api/v1/sales-partners",
            json!({ "code": app.code("P"), "name": "Reseller", "commission_rate": "7.5" }),
        )
        .await
        .unwrap();
    let partner_path = format!("/api/v1/sales-partners/{}", id(&partner));
    let cheaper = app
        .patch(&partner_path, 1, json!({ "commission_rate": "6" }))
        .await
        .unwrap();
    assert_eq!(cheaper.assert_status(200)["commission_rate"], "6");

    let manager = app
        .create(
            "/api/v1/territory-managers",
            json!({ "territory_id": south, "sales_person_id": id(&boss) }),
        )
        .await
        .unwrap();
    // One manager per territory.
    app.post(
        "/api/v1/territory-managers",
        json!({ "territory_id": south, "sales_person_id": id(&rep) }),
    )
    .await
    .unwrap()
    .assert_problem(409, "duplicate");
    let moved = app
        .patch(
            &format!("/api/v1/territory-managers/{}", id(&manager)),
            1,
            json!({ "sales_person_id": id(&rep) }),
        )
        .await
        .unwrap();
    assert_eq!(moved.assert_status(200)["sales_person_id"], rep["id"]);

    app.create(
        "/api/v1/territory-rules",
        json!({ "territory_id": south, "country": "de",
                "postcode_from": "80000", "postcode_to": "81999" }),
    )
    .await
    .unwrap();
    // A customer placed by its address gets the territory's team.
    let customer = app
        .create_customer(json!({ "name": app.unique("Munich GmbH"),
            "shipping_address": { "line1": "Marienplatz 1", "city": "München",
                                  "postcode": "80331", "country": "DE" } }))
        .await
        .unwrap();
    let placed = app
        .post(
            "/api/v1/territory-rules/resolve",
            json!({ "customer_id": customer["id"] }),
        )
        .await
        .unwrap();
    let placed = placed.assert_status(200);
    assert_eq!(placed["territory_id"], json!(south));
    assert_eq!(placed["source"], "rule");
    assert_eq!(placed["team_id"], team["id"]);
    assert_eq!(placed["sales_team"][0]["percentage"], "60");

    let plan = app
        .create(
            "/api/v1/commission-plans",
            json!({ "name": "Rick 2026", "beneficiary": { "kind": "sales_person", "id": id(&rep) },
                    "currency": "EUR", "effective_from": "2026-01-01", "default_rate": "5",
                    "tiers": [{ "from_attainment": "100", "multiplier": "1.5" }], "cap": "5000" }),
        )
        .await
        .unwrap();
    assert_eq!(plan["accrue_on"], "confirmation");
    let target = app
        .create(
            "/api/v1/targets",
            json!({ "subject": { "kind": "sales_person", "id": id(&rep) }, "period": "month",
                    "period_start": "2026-03-01", "amount": "10000", "currency": "EUR" }),
        )
        .await
        .unwrap();
    assert_eq!(target["attainment"], "0");
    let listed = app
        .get(&format!("/api/v1/targets?sales_person_id={}", id(&rep)))
        .await
        .unwrap();
    assert_eq!(
        listed.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    let app = app().await;
    let boss = person(&app, "Bea Boss", None, None).await;
    let rep = person(&app, "Rick Rep", None, Some(&id(&boss))).await;
    let people = count(&app, "/api/v1/sales-people").await;

    // A cycle in the hierarchy: the boss may not report to her own rep.
    let cycle = app
        .patch(
            &format!("/api/v1/sales-people/{}", id(&boss)),
            1,
            json!({ "manager_id": id(&rep) }),
        )
        .await
        .unwrap();
    cycle.assert_problem(409, "hierarchy_cycle");
    assert_eq!(cycle.body["field"], "manager_id");
    let unchanged = app
        .get(&format!("/api/v1/sales-people/{}", id(&boss)))
        .await
        .unwrap();
    assert_eq!(unchanged.body["version"], 1);
    assert_eq!(unchanged.body["manager_id"], Value::Null);

    // Unknown people.
    let unknown = "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162";
    let r = app
        .post(
            "/api/v1/sales-people",
            json!({ "name": "X", "manager_id": unknown }),
        )
        .await
        .unwrap();
    r.assert_problem(422, "unknown_reference");
    assert_eq!(r.body["field"], "manager_id");
    let r = app
        .post(
            "/api/v1/teams",
            json!({ "code": app.code("T"), "name": "Ghosts",
                    "members": [{ "sales_person_id": unknown, "percentage": "100" }] }),
        )
        .await
        .unwrap();
    r.assert_problem(422, "unknown_reference");
    assert_eq!(r.body["field"], "members[0].sales_person_id");
    assert_eq!(count(&app, "/api/v1/sales-people").await, people);

    // A split that does not total 100.
    let r = app
        .post(
            "/api/v1/teams",
            json!({ "code": app.code("T"), "name": "Short",
                    "members": [ { "sales_person_id": id(&rep), "percentage": "60" },
                                 { "sales_person_id": id(&boss), "percentage": "30" } ] }),
        )
        .await
        .unwrap();
    r.assert_problem(422, "split_total");
    assert_eq!(r.body["field"], "members");
    assert_eq!(count(&app, "/api/v1/teams").await, 0);

    // Negative rates.
    let r = app
        .post(
            "/api/v1/sales-partners",
            json!({ "code": app.code("P"), "name": "Bad", "commission_rate": "-2" }),
        )
        .await
        .unwrap();
    r.assert_problem(422, "invalid_field");
    assert_eq!(r.body["field"], "commission_rate");
    assert_eq!(count(&app, "/api/v1/sales-partners").await, 0);
    let plan = |from: &str, rate: &str| {
        json!({ "name": "Plan", "beneficiary": { "kind": "sales_person", "id": id(&rep) },
                "currency": "EUR", "effective_from": from, "effective_to": "2026-12-31",
                "default_rate": rate })
    };
    let r = app
        .post("/api/v1/commission-plans", plan("2026-01-01", "-1"))
        .await
        .unwrap();
    r.assert_problem(422, "invalid_field");
    assert_eq!(r.body["field"], "default_rate");

    // Overlapping plan dates for the same person.
    app.create("/api/v1/commission-plans", plan("2026-01-01", "5"))
        .await
        .unwrap();
    let r = app
        .post("/api/v1/commission-plans", plan("2026-06-01", "6"))
        .await
        .unwrap();
    r.assert_problem(409, "plan_overlap");
    assert_eq!(r.body["field"], "effective_from");
    assert_eq!(count(&app, "/api/v1/commission-plans").await, 1);

    // Reps read the organisation but do not write it; plans are admins'.
    let (rep_key, _) = app.person("rep").await.unwrap();
    let r = app
        .call_as(
            &rep_key,
            Method::POST,
            "/api/v1/sales-people",
            Some(json!({ "name": "Me" })),
            &[],
        )
        .await
        .unwrap();
    r.assert_problem(403, "forbidden");
    let (manager_key, _) = app.person("manager").await.unwrap();
    let r = app
        .call_as(
            &manager_key,
            Method::POST,
            "/api/v1/commission-plans",
            Some(plan("2027-01-01", "5")),
            &[],
        )
        .await
        .unwrap();
    r.assert_problem(403, "forbidden");
    assert_eq!(count(&app, "/api/v1/sales-people").await, people);
}

/// A warehouse MAIN with drills at 100.00 EUR (19 % VAT on top), a
/// customer in `territory`, a channel selling from MAIN.
async fn shop(app: &TestApp, territory: &str) -> (String, String, String) {
    let warehouse = id(&app
        .create(
            "/api/v1/warehouses",
            json!({ "code": app.code("W"), "name": "Main warehouse" }),
        )
        .await
        .unwrap());
    let drill = sales_e2e::shop::drills(app, &warehouse, "100").await;
    let wh = app
        .get(&format!("/api/v1/warehouses/{warehouse}"))
        .await
        .unwrap();
    let code = wh.body["code"].as_str().unwrap().to_string();
    let channel = id(&app
        .create(
            "/api/v1/channels",
            json!({ "code": app.code("CH"), "name": "Field", "kind": "b2b", "mode": "offline",
                    "currency": "EUR", "tax_mode": "exclusive", "warehouses": [code] }),
        )
        .await
        .unwrap());
    let customer = id(&app
        .create_customer(json!({ "name": app.unique("Drill & Co"), "territory_id": territory }))
        .await
        .unwrap());
    (drill, channel, customer)
}

/// The ledger rows of `order` as (kind, amount), once the jobs component
/// has booked `n` of them.
async fn rows(app: &TestApp, order: &str, n: usize) -> Vec<(String, String)> {
    for _ in 0..150 {
        let reply = app
            .get(&format!("/api/v1/commissions?order_id={order}"))
            .await
            .unwrap();
        let items = reply.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .clone();
        if items.len() >= n {
            return items
                .iter()
                .map(|e| {
                    (
                        e["kind"].as_str().unwrap().to_string(),
                        e["amount"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the ledger of order {order} never reached {n} rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commission_accrues_from_a_submitted_order_follows_the_amendment_and_is_clawed_back() {
    let app = app().await;
    let south = territory(&app, None).await;
    let (boss_key, boss_principal) = app.person("manager").await.unwrap();
    let (rep_key, rep_principal) = app.person("rep").await.unwrap();
    let (other_key, other_principal) = app.person("rep").await.unwrap();
    let boss = person(&app, "Bea Boss", Some(&boss_principal), None).await;
    let rep = person(&app, "Rick Rep", Some(&rep_principal), Some(&id(&boss))).await;
    person(&app, "Olga Other", Some(&other_principal), None).await;
    app.create(
        "/api/v1/teams",
        json!({ "code": app.code("TEAM"), "name": "South", "territory_id": south,
                "members": [{ "sales_person_id": id(&rep), "percentage": "100" }] }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/commission-plans",
        json!({ "name": "Rick", "beneficiary": { "kind": "sales_person", "id": id(&rep) },
                "currency": "EUR", "effective_from": "2026-01-01", "default_rate": "5" }),
    )
    .await
    .unwrap();
    let (drill, channel, customer) = shop(&app, &south).await;

    // Six drills at 100.00 net: 600.00 at 5 % once confirmed.
    let order = app
        .create(
            "/api/v1/orders",
            json!({ "customer_id": customer, "channel_id": channel,
                    "lines": [{ "product_id": drill, "quantity": "6" }] }),
        )
        .await
        .unwrap();
    let order_id = id(&order);
    let confirmed = app
        .post(&format!("/api/v1/orders/{order_id}/submit"), json!({}))
        .await
        .unwrap();
    let confirmed = confirmed.assert_status(200).clone();
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(
        rows(&app, &order_id, 1).await,
        vec![("accrual".to_string(), "30.00".to_string())]
    );

    // Amended down to two drills: a reversal of 20.00, nothing lost.
    let line = confirmed["lines"][0]["id"].clone();
    let amended = app
        .patch(
            &format!("/api/v1/orders/{order_id}"),
            confirmed["version"].as_i64().unwrap(),
            json!({ "lines": [{ "id": line, "product_id": drill, "quantity": "2" }] }),
        )
        .await
        .unwrap();
    assert_eq!(amended.assert_status(200)["status"], "confirmed");
    let after = rows(&app, &order_id, 2).await;
    assert_eq!(after[1], ("reversal".to_string(), "-20.00".to_string()));

    // Cancelled: the rest is clawed back.
    app.post(
        &format!("/api/v1/orders/{order_id}/cancel"),
        json!({ "reason": "withdrawn" }),
    )
    .await
    .unwrap()
    .assert_status(200);
    let all = rows(&app, &order_id, 3).await;
    assert_eq!(all[2], ("reversal".to_string(), "-10.00".to_string()));

    // Recalculating again books nothing.
    let again = app
        .post(
            "/api/v1/commissions/recalculate",
            json!({ "order_id": order_id }),
        )
        .await
        .unwrap();
    assert_eq!(again.assert_status(200)["booked"], json!([]));

    // The rep's statement for this month: 30 accrued, 30 reversed.
    let statement = app
        .get_as(
            &rep_key,
            &format!("/api/v1/sales-people/{}/statement", id(&rep)),
        )
        .await
        .unwrap();
    let totals = &statement.assert_status(200)["totals"][0];
    assert_eq!(totals["accrued"], "30.00");
    assert_eq!(totals["reversed"], "-30.00");
    assert_eq!(totals["closing"], "0.00");

    // Who sees what: the rep and their manager see the rows; another rep
    // sees none of them, and the rep's statement is not found for them.
    let path = format!("/api/v1/commissions?order_id={order_id}");
    let seen = |r: Reply| r.assert_status(200)["items"].as_array().unwrap().len();
    assert_eq!(seen(app.get_as(&rep_key, &path).await.unwrap()), 3);
    assert_eq!(seen(app.get_as(&boss_key, &path).await.unwrap()), 3);
    assert_eq!(seen(app.get_as(&other_key, &path).await.unwrap()), 0);
    let entry = app.get(&path).await.unwrap().body["items"][0]["id"].clone();
    app.get_as(
        &other_key,
        &format!("/api/v1/commissions/{}", entry.as_str().unwrap()),
    )
    .await
    .unwrap()
    .assert_problem(404, "not_found");
    app.get_as(
        &other_key,
        &format!("/api/v1/sales-people/{}/statement", id(&rep)),
    )
    .await
    .unwrap()
    .assert_problem(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_ask_the_submitters_manager_and_the_territory_manager_from_the_hierarchy() {
    let app = app().await;
    let (rep_key, rep_principal) = app.person("rep").await.unwrap();
    let (boss_key, boss_principal) = app.person("manager").await.unwrap();
    let (area_key, area_principal) = app.person("manager").await.unwrap();
    let boss = person(&app, "Bea Boss", Some(&boss_principal), None).await;
    person(&app, "Rick Rep", Some(&rep_principal), Some(&id(&boss))).await;
    let area = person(&app, "Ana Area", Some(&area_principal), None).await;
    // The area manager runs SOUTH; MUNICH below it has no manager of its own.
    let south = territory(&app, None).await;
    let munich = territory(&app, Some(&south)).await;
    app.create(
        "/api/v1/territory-managers",
        json!({ "territory_id": south, "sales_person_id": id(&area) }),
    )
    .await
    .unwrap();
    let channel = app.code("AP");
    let level = |name: &str, approver: &str| json!({ "name": name, "approvers": [{ "type": approver }], "mode": { "type": "any_one" } });
    app.create(
        "/api/v1/approval-policies",
        json!({ "name": "Large quotes", "applies_to": ["quotation"],
                "condition": { "type": "all", "all": [
                    { "type": "channels", "codes": [channel] },
                    { "type": "total_amount", "limits": { "EUR": { "over": "1000" } } } ] },
                "chain": { "levels": [ level("Manager", "submitter_manager"),
                                       level("Territory", "territory_manager") ] } }),
    )
    .await
    .unwrap();
    let snapshot = json!({
        "document": { "kind": "quotation", "id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405170" },
        "version": 1, "channel": channel,
        "customer": { "id": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405162", "territory": munich,
                      "open_exposure": eur("0") },
        "submitted_by": rep_principal, "payment_terms_days": 30,
        "default_payment_terms_days": 30, "currency": "EUR", "total": eur("5000"),
        "lines": [{ "line_no": 1, "product": "0190f5c2-7b3a-7c3e-9a1f-1d2e3f405163",
                    "quantity": "50", "list_price": eur("100"), "net_price": eur("100"),
                    "discount_percent": "0" }]
    });
    let opened = app
        .call_as(
            &rep_key,
            Method::POST,
            "/api/v1/approval-requests",
            Some(json!({ "snapshot": snapshot })),
            &[],
        )
        .await
        .unwrap();
    let request = opened.assert_status(201).clone();
    let text = request.to_string();
    // No approval-managers line exists: both come from the teams.
    assert!(text.contains(&boss_principal), "{text}");
    assert!(text.contains(&area_principal), "{text}");
    let inbox = "/api/v1/approvals?assignee=me&status=pending";
    let waiting = |r: Reply| {
        r.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == request["id"])
    };
    assert!(waiting(app.get_as(&boss_key, inbox).await.unwrap()));
    // The rep's own inbox does not hold it (no self-approval).
    assert!(!waiting(app.get_as(&rep_key, inbox).await.unwrap()));
    // Once the manager approves, the territory level waits for the area
    // manager (MUNICH's nearest manager up the tree).
    let approved = app
        .call_as(
            &boss_key,
            Method::POST,
            &format!("/api/v1/approvals/{}/approve", id(&request)),
            Some(json!({ "document_version": 1 })),
            &[],
        )
        .await
        .unwrap();
    approved.assert_status(200);
    assert!(waiting(app.get_as(&area_key, inbox).await.unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_sales_team_defaults_from_the_customer_and_a_new_split_moves_the_commission() {
    let app = app().await;
    let south = territory(&app, None).await;
    let rick = person(&app, "Rick Rep", None, None).await;
    let olga = person(&app, "Olga Other", None, None).await;
    app.create(
        "/api/v1/teams",
        json!({ "code": app.code("TEAM"), "name": "South", "territory_id": south,
                "members": [{ "sales_person_id": id(&rick), "percentage": "100" }] }),
    )
    .await
    .unwrap();
    for p in [&rick, &olga] {
        app.create(
            "/api/v1/commission-plans",
            json!({ "name": "5 %", "beneficiary": { "kind": "sales_person", "id": id(p) },
                    "currency": "EUR", "effective_from": "2026-01-01", "default_rate": "5" }),
        )
        .await
        .unwrap();
    }
    let (drill, channel, customer) = shop(&app, &south).await;
    let order = app
        .create(
            "/api/v1/orders",
            json!({ "customer_id": customer, "channel_id": channel,
                    "lines": [{ "product_id": drill, "quantity": "6" }] }),
        )
        .await
        .unwrap();
    let order_id = id(&order);
    let team_path = format!("/api/v1/sales-teams/orders/{order_id}");
    let default = app.get(&team_path).await.unwrap();
    let default = default.assert_status(200);
    assert_eq!(default["source"], "default");
    assert_eq!(default["sales_team"][0]["sales_person_id"], rick["id"]);

    app.post(&format!("/api/v1/orders/{order_id}/submit"), json!({}))
        .await
        .unwrap()
        .assert_status(200);
    assert_eq!(rows(&app, &order_id, 1).await[0].1, "30.00");
    assert_eq!(app.get(&team_path).await.unwrap().body["source"], "stored");

    // A split of 110 is refused and changes nothing.
    let split = |a: &str, b: &str| {
        json!({ "sales_team": [ { "sales_person_id": id(&rick), "percentage": a },
                                { "sales_person_id": id(&olga), "percentage": b } ] })
    };
    let refused = app
        .call(Method::PUT, &team_path, Some(split("60", "50")))
        .await
        .unwrap();
    refused.assert_problem(422, "split_total");
    assert_eq!(refused.body["field"], "sales_team");
    assert_eq!(
        app.get(&team_path).await.unwrap().body["sales_team"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Half to Olga: Rick gives back 15.00, Olga earns 15.00, at once.
    let shared = app
        .call(Method::PUT, &team_path, Some(split("50", "50")))
        .await
        .unwrap();
    assert_eq!(
        shared.assert_status(200)["sales_team"][1]["percentage"],
        "50"
    );
    let ledger = app
        .get(&format!("/api/v1/commissions?order_id={order_id}"))
        .await
        .unwrap();
    let moved: Vec<(Value, Value, Value)> = ledger.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["beneficiary"]["id"].clone(),
                e["kind"].clone(),
                e["amount"].clone(),
            )
        })
        .collect();
    assert!(moved.contains(&(rick["id"].clone(), json!("reversal"), json!("-15.00"))));
    assert!(moved.contains(&(olga["id"].clone(), json!("accrual"), json!("15.00"))));
    assert_eq!(moved.len(), 3);
}

/// A customer placed in a territory only by a territory rule (no explicit
/// territory) still gets that territory's manager as the approver of a
/// `territory_manager` level: approvals see the same placement as
/// visibility and the sales team default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_placed_customers_order_asks_the_territory_manager() {
    let app = app().await;
    let (_, area_principal) = app.person("manager").await.unwrap();
    let area = person(&app, "Ana Area", Some(&area_principal), None).await;
    let south = territory(&app, None).await;
    app.create(
        "/api/v1/territory-managers",
        json!({ "territory_id": south, "sales_person_id": id(&area) }),
    )
    .await
    .unwrap();
    app.create(
        "/api/v1/territory-rules",
        json!({ "territory_id": south, "country": "de",
                "postcode_from": "80000", "postcode_to": "81999" }),
    )
    .await
    .unwrap();
    let (drill, channel, _) = shop(&app, &south).await;
    let code = app
        .get(&format!("/api/v1/channels/{channel}"))
        .await
        .unwrap()
        .body["code"]
        .as_str()
        .unwrap()
        .to_string();
    let territory_manager = json!([{ "type": "territory_manager" }]);
    sales_e2e::shop::order_policy(&app, &code, "500", territory_manager).await;
    let customer = id(&app
        .create_customer(json!({ "name": app.unique("Munich GmbH"),
            "shipping_address": { "line1": "Marienplatz 1", "city": "München",
                                  "postcode": "80331", "country": "DE" } }))
        .await
        .unwrap());
    let order = id(&app
        .create(
            "/api/v1/orders",
            json!({ "customer_id": customer, "channel_id": channel,
                    "lines": [{ "product_id": drill, "quantity": "6" }] }),
        )
        .await
        .unwrap());
    let submitted = app
        .post(&format!("/api/v1/orders/{order}/submit"), json!({}))
        .await
        .unwrap();
    let waiting = submitted.assert_status(200);
    assert_eq!(waiting["status"], "pending_approval", "{waiting}");
    let request = waiting["approval_request_id"].as_str().unwrap();
    let approval = app
        .get(&format!("/api/v1/approvals/{request}"))
        .await
        .unwrap();
    let text = approval.assert_status(200).to_string();
    assert!(text.contains(&area_principal), "{text}");
    assert!(text.contains(&south), "{text}");
}
