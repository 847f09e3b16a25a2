//! Approval policies, requests (with the inbox index and the append-only
//! decision records) and delegations.

use chrono::NaiveDate;
use sales_domain::approvals::{
    evaluate, ApprovalRequest, DecisionInput, Delegation, Delegations, Directory, DocumentId,
    DocumentSnapshot, Policy, PolicySpec, StepKey, Verdict,
};
use sales_domain::auth::Role;
use sales_domain::ids::{
    ApprovalPolicyId, ApprovalRequestId, DelegationId, PrincipalId, QuotationId,
};
use sales_store::approvals::delegations::{self, DelegationFilter, StoredDelegation};
use sales_store::approvals::policies::{self, PolicyFilter};
use sales_store::approvals::requests::{self, RequestFilter};
use sales_store::{Page, StoreError};
use serde_json::json;

use crate::common::{at, db};

fn discount_policy(id: ApprovalPolicyId, over: &str, approver: PrincipalId) -> Policy {
    let spec: PolicySpec = serde_json::from_value(json!({
        "id": id,
        "name": "Discount over limit",
        "revision": 1,
        "applies_to": ["quotation", "order"],
        "condition": {"type": "max_line_discount", "over": over},
        "chain": {"levels": [{
            "name": "Manager",
            "approvers": [{"type": "principal", "id": approver}],
            "mode": {"type": "any_one"}
        }]}
    }))
    .unwrap();
    Policy::new(spec).unwrap()
}

fn snapshot(doc: QuotationId, version: u32, rep: PrincipalId, net: &str) -> DocumentSnapshot {
    let list = rust_decimal::Decimal::from(100);
    let net_d: rust_decimal::Decimal = net.parse().unwrap();
    let discount = (list - net_d) / list * rust_decimal::Decimal::ONE_HUNDRED;
    serde_json::from_value(json!({
        "document": {"kind": "quotation", "id": doc},
        "version": version,
        "channel": "b2b",
        "customer": {
            "id": sales_domain::ids::CustomerId::new(),
            "open_exposure": {"amount": "0", "currency": "EUR"}
        },
        "submitted_by": rep,
        "payment_terms_days": 30,
        "default_payment_terms_days": 30,
        "currency": "EUR",
        "total": {"amount": (net_d * rust_decimal::Decimal::TEN).to_string(), "currency": "EUR"},
        "lines": [{
            "line_no": 1,
            "product": sales_domain::ids::ProductId::new(),
            "quantity": "10",
            "list_price": {"amount": "100", "currency": "EUR"},
            "net_price": {"amount": net, "currency": "EUR"},
            "discount_percent": discount.to_string()
        }]
    }))
    .unwrap()
}

fn directory(people: &[PrincipalId]) -> Directory {
    Directory {
        principals: people.iter().copied().collect(),
        roles: [(Role::Manager, people.iter().copied().collect())].into(),
        ..Directory::default()
    }
}

#[test]
fn a_policy_round_trips_and_updates_need_the_current_version() {
    let db = db();
    let manager = PrincipalId::new();
    let policy = discount_policy(ApprovalPolicyId::new(), "10", manager);
    let stored = policies::create(&db, &policy, at(1)).unwrap();
    assert_eq!(stored.record, policy);
    assert_eq!(stored.version, 1);

    let mut spec = policy.to_spec();
    spec.revision = 2;
    spec.active = false;
    let next = Policy::new(spec).unwrap();
    let updated = policies::update(&db, &next, 1, at(2)).unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.record.revision(), 2);
    assert!(matches!(
        policies::update(&db, &next, 1, at(3)),
        Err(StoreError::VersionConflict { actual: 2, .. })
    ));

    assert!(policies::all_active(&db).unwrap().is_empty());
    let (inactive, _) = policies::list(
        &db,
        &PolicyFilter {
            active: Some(false),
        },
        &Page::first(10),
    )
    .unwrap();
    assert_eq!(inactive.len(), 1);
}

#[test]
fn a_request_is_indexed_for_its_approvers_and_its_decisions_are_appended() {
    let db = db();
    let (rep, manager) = (PrincipalId::new(), PrincipalId::new());
    let policy = discount_policy(ApprovalPolicyId::new(), "10", manager);
    let doc = QuotationId::new();
    let required = evaluate(std::slice::from_ref(&policy), &snapshot(doc, 1, rep, "80")).unwrap();
    let request = ApprovalRequest::open(
        ApprovalRequestId::new(),
        &required,
        None,
        &directory(&[rep, manager]),
        at(1),
    )
    .unwrap();
    let stored = requests::create(&db, &request, at(1)).unwrap();
    assert_eq!(stored.record, request);

    let inbox = RequestFilter {
        status: Some("pending".into()),
        assignees: Some(vec![manager]),
        ..RequestFilter::default()
    };
    let (items, _) = requests::list(&db, &inbox, &Page::first(10)).unwrap();
    assert_eq!(items.len(), 1);
    let rep_inbox = RequestFilter {
        assignees: Some(vec![rep]),
        ..RequestFilter::default()
    };
    assert!(requests::list(&db, &rep_inbox, &Page::first(10))
        .unwrap()
        .0
        .is_empty());

    // A second request for the same version is refused.
    let again = ApprovalRequest::open(
        ApprovalRequestId::new(),
        &required,
        None,
        &directory(&[rep, manager]),
        at(1),
    )
    .unwrap();
    assert!(matches!(
        requests::create(&db, &again, at(1)),
        Err(StoreError::Duplicate {
            field: "document",
            ..
        })
    ));

    let decided = request
        .decide(
            DecisionInput {
                step: StepKey {
                    policy: policy.id(),
                    level: 1,
                },
                decided_by: manager,
                verdict: Verdict::Approve,
                comment: Some("fine".into()),
                document_version: 1,
            },
            &Delegations::default(),
            at(2),
        )
        .unwrap();
    let saved = requests::save(&db, &decided.request, 1, at(2)).unwrap();
    assert_eq!(saved.version, 2);
    assert_eq!(saved.record.status().name(), "approved");
    assert_eq!(
        requests::decisions(&db, request.id()).unwrap(),
        vec![decided.record]
    );
    // Closed requests leave the inbox.
    assert!(requests::list(&db, &inbox, &Page::first(10))
        .unwrap()
        .0
        .is_empty());
    assert_eq!(
        requests::latest_for(&db, DocumentId::Quotation(doc))
            .unwrap()
            .map(|r| r.record.id()),
        Some(request.id())
    );
    assert!(matches!(
        requests::save(&db, &decided.request, 1, at(3)),
        Err(StoreError::VersionConflict { .. })
    ));
}

#[test]
fn delegations_are_listed_by_either_side_and_deleted() {
    let db = db();
    let (a, b, c) = (PrincipalId::new(), PrincipalId::new(), PrincipalId::new());
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let d = StoredDelegation {
        id: DelegationId::new(),
        delegation: Delegation::new(a, b, day(1), day(10)).unwrap(),
        created_by: a,
        created_at: at(1),
    };
    assert_eq!(delegations::create(&db, &d).unwrap(), d);
    let of = |p| DelegationFilter { principal: Some(p) };
    assert_eq!(
        delegations::list(&db, &of(b), &Page::first(10)).unwrap().0,
        vec![d.clone()]
    );
    assert!(delegations::list(&db, &of(c), &Page::first(10))
        .unwrap()
        .0
        .is_empty());
    assert!(delegations::all(&db).unwrap().acts_for(b, a, day(5)));

    delegations::delete(&db, d.id).unwrap();
    assert!(matches!(
        delegations::delete(&db, d.id),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(delegations::all(&db).unwrap(), Delegations::default());
}

#[test]
fn a_principal_has_one_manager_and_the_map_feeds_the_directory() {
    use sales_domain::ids::ApprovalManagerId;
    use sales_store::approvals::managers::{self, ManagerFilter, ManagerLine};

    let db = db();
    let (rep, manager, other) = (PrincipalId::new(), PrincipalId::new(), PrincipalId::new());
    let line = ManagerLine {
        id: ApprovalManagerId::new(),
        principal: rep,
        manager,
        created_at: at(1),
    };
    assert_eq!(managers::create(&db, &line).unwrap(), line);
    let second = ManagerLine {
        id: ApprovalManagerId::new(),
        manager: other,
        ..line.clone()
    };
    assert!(matches!(
        managers::create(&db, &second),
        Err(StoreError::Duplicate {
            field: "principal_id",
            ..
        })
    ));
    assert_eq!(managers::all(&db).unwrap(), [(rep, manager)].into());
    let of = |p| ManagerFilter { principal: Some(p) };
    assert_eq!(
        managers::list(&db, &of(manager), &Page::first(10))
            .unwrap()
            .0,
        vec![line.clone()]
    );
    assert!(managers::list(&db, &of(other), &Page::first(10))
        .unwrap()
        .0
        .is_empty());
    managers::delete(&db, line.id).unwrap();
    assert!(managers::all(&db).unwrap().is_empty());
}
