//! The bypass attempts of issue 6, one test each, and the story the
//! end-to-end test will tell over HTTP: a quotation over a discount limit
//! waits for the manager, is approved, is edited, and waits again only for
//! the affected level.

use rust_decimal_macros::dec;

use super::fixtures::*;
use super::*;
use crate::auth::Role;

fn none() -> Delegations {
    Delegations::default()
}

fn discount_step() -> StepKey {
    key(policy_discount(), 1)
}

/// Evaluates, opens (with `prior`) and returns the request.
fn submit(
    policies: &[Policy],
    s: &DocumentSnapshot,
    prior: Option<&ApprovalRequest>,
) -> ApprovalRequest {
    let required = evaluate(policies, s).unwrap();
    ApprovalRequest::open(request_1(), &required, prior, &directory(), at(0)).unwrap()
}

#[test]
fn issue_6_quotation_over_the_discount_limit_waits_again_only_for_the_affected_level() {
    let policies = [discount_policy(dec!(15)), total_policy(dec!(500))];
    // v1: 20% off, EUR 800 → the manager (discount) and finance (total).
    let v1 = snapshot(|_| {});
    let r1 = submit(&policies, &v1, None);
    assert_eq!(
        r1.assigned_to(manager(), &none(), at(1)),
        vec![discount_step()]
    );
    let r1 = r1
        .decide(approve(discount_step(), manager(), 1), &none(), at(1))
        .unwrap()
        .request;
    let r1 = r1
        .decide(approve(key(policy_total(), 1), bob(), 1), &none(), at(2))
        .unwrap()
        .request;
    let r1 = r1
        .decide(
            approve(key(policy_total(), 2), director(), 1),
            &none(),
            at(3),
        )
        .unwrap()
        .request;
    assert!(matches!(r1.status(), RequestStatus::Approved { .. }));

    // v2: the rep raises the discount to 22% and lowers the quantity so the
    // total drops to EUR 702: only the discount level must approve again.
    let v2 = snapshot(|i| {
        i.version = 2;
        i.lines[0].quantity = dec!(9);
        set_discount(i, dec!(22));
    });
    let old = r1.supersede(2, at(4)).unwrap();
    let r2 = submit(&policies, &v2, Some(&old));
    let states: Vec<(StepKey, &str)> = r2
        .steps()
        .iter()
        .map(|s| (s.key(), s.state().name()))
        .collect();
    assert_eq!(
        states,
        vec![
            (discount_step(), "pending"),
            (key(policy_total(), 1), "kept"),
            (key(policy_total(), 2), "kept"),
        ]
    );
    assert_eq!(
        r2.assigned_to(manager(), &none(), at(5)),
        vec![discount_step()]
    );
    assert!(r2.assigned_to(bob(), &none(), at(5)).is_empty());
    let done = r2
        .decide(approve(discount_step(), manager(), 2), &none(), at(5))
        .unwrap();
    assert_eq!(done.outcome, Outcome::Approved);
    done.request
        .authorizes(&evaluate(&policies, &v2).unwrap())
        .unwrap();
}

#[test]
fn bypass_edit_after_approval_is_caught_by_the_gate_and_by_reapproval() {
    let policies = [discount_policy(dec!(15))];
    let approved = submit(&policies, &snapshot(|_| {}), None)
        .decide(approve(discount_step(), manager(), 1), &none(), at(1))
        .unwrap()
        .request;
    let edited = snapshot(|i| {
        i.version = 2;
        set_discount(i, dec!(40));
    });
    let required = evaluate(&policies, &edited).unwrap();
    // Confirming the edited version on the old approval is refused…
    assert!(matches!(
        approved.authorizes(&required),
        Err(ReapprovalError::VersionMismatch { .. })
    ));
    // …re-submitting it next to the live approval is refused…
    assert_eq!(
        ApprovalRequest::open(request_2(), &required, Some(&approved), &directory(), at(2))
            .unwrap_err(),
        DecisionError::PriorStillOpen { status: "approved" }
    );
    // …and, once the old request is superseded, asks the manager again.
    let again = submit(
        &policies,
        &edited,
        Some(&approved.supersede(2, at(2)).unwrap()),
    );
    assert_eq!(
        again.step(discount_step()).unwrap().state().name(),
        "pending"
    );
}

#[test]
fn bypass_copy_of_an_approved_document_starts_with_no_approvals() {
    let policies = [discount_policy(dec!(15))];
    let approved = submit(&policies, &snapshot(|_| {}), None)
        .decide(approve(discount_step(), manager(), 1), &none(), at(1))
        .unwrap()
        .request;
    let copy = snapshot(|i| i.document = DocumentId::Quotation(quotation_copy()));
    let required = evaluate(&policies, &copy).unwrap();
    assert!(matches!(
        ApprovalRequest::open(request_2(), &required, Some(&approved), &directory(), at(2)),
        Err(DecisionError::Prior(ReapprovalError::OtherDocument { .. }))
    ));
    assert!(matches!(
        approved.authorizes(&required),
        Err(ReapprovalError::VersionMismatch { .. })
    ));
    let fresh = submit(&policies, &copy, None);
    assert_eq!(fresh.status(), &RequestStatus::Pending);
}

#[test]
fn bypass_self_approval_is_refused() {
    // The level is "any manager"; a manager submits their own quotation.
    let mut spec = discount_policy(dec!(15)).to_spec();
    spec.chain.levels[0].approvers = vec![Approver::Role {
        role: Role::Manager,
    }];
    let policies = [Policy::new(spec).unwrap()];
    let req = submit(&policies, &snapshot(|i| i.submitted_by = manager()), None);
    assert_eq!(
        req.decide(approve(discount_step(), manager(), 1), &none(), at(1))
            .unwrap_err(),
        DecisionError::SelfApproval(manager())
    );
    assert!(req.assigned_to(manager(), &none(), at(1)).is_empty());
}

#[test]
fn bypass_a_rep_approving_their_own_discount_is_refused_even_as_a_delegate() {
    let policies = [discount_policy(dec!(15))];
    let req = submit(&policies, &snapshot(|_| {}), None);
    assert_eq!(
        req.decide(approve(discount_step(), rep(), 1), &none(), at(1))
            .unwrap_err(),
        DecisionError::SelfApproval(rep())
    );
    // The manager delegates to the rep who submitted: still refused.
    let day = at(1).date_naive();
    let to_rep = Delegations::new([Delegation::new(manager(), rep(), day, day).unwrap()]).unwrap();
    assert_eq!(
        req.decide(approve(discount_step(), rep(), 1), &to_rep, at(1))
            .unwrap_err(),
        DecisionError::SelfApproval(rep())
    );
}

#[test]
fn bypass_approving_an_old_version_is_refused() {
    let policies = [discount_policy(dec!(15))];
    let r1 = submit(&policies, &snapshot(|_| {}), None);
    let superseded = r1.supersede(2, at(1)).unwrap();
    assert_eq!(
        superseded
            .decide(approve(discount_step(), manager(), 1), &none(), at(2))
            .unwrap_err(),
        DecisionError::RequestClosed {
            status: "superseded"
        }
    );
    let v2 = snapshot(|i| i.version = 2);
    let r2 = submit(&policies, &v2, Some(&superseded));
    assert_eq!(
        r2.decide(approve(discount_step(), manager(), 1), &none(), at(2))
            .unwrap_err(),
        DecisionError::StaleVersion {
            given: 1,
            current: 2
        }
    );
}

#[test]
fn bypass_approving_twice_is_refused() {
    let policies = [discount_policy(dec!(15))];
    let approved = submit(&policies, &snapshot(|_| {}), None)
        .decide(approve(discount_step(), manager(), 1), &none(), at(1))
        .unwrap()
        .request;
    assert_eq!(
        approved
            .decide(approve(discount_step(), manager(), 1), &none(), at(2))
            .unwrap_err(),
        DecisionError::RequestClosed { status: "approved" }
    );
}

#[test]
fn bypass_quoting_in_another_currency_does_not_dodge_an_amount_limit() {
    let policies = [total_policy(dec!(1_000_000))];
    let required = evaluate(&policies, &usd_snapshot()).unwrap();
    assert_eq!(required.levels.len(), 2);
}
