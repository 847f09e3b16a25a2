//! Smart re-approval: when a document changes, which approvals still hold.
//!
//! Every approval remembers the values it approved — the level's
//! [`Fingerprint`]: one [`Observation`] per leaf of the policy's and the
//! level's conditions, triggered or not. When a new version is evaluated,
//! [`plan_reapproval`] compares each required level with the approval the
//! same level got on the previous request of the same document:
//!
//! - **keep** it when the policy revision is the same and every observation
//!   is the same as, or better for the company than, the approved one
//!   ([`Observation::no_worse_than`]: lower total, discount, credit use
//!   and terms; higher margin; watched lines fewer, smaller, dearer, less
//!   discounted; the same customer and channel). Every measure is computed
//!   from the new snapshot's prices, quantities, discounts and terms — the
//!   caller cannot declare a change harmless;
//! - **approve again** when any observation got worse, listing the
//!   [`Change`]s so the approver sees what moved;
//! - **new** when the level was not approved before (or not required).
//!
//! A kept approval keeps the values a person actually approved, so a run
//! of small edits cannot creep past them: each is compared with the
//! original approval, not with the previous version.
//!
//! A copy of a document is another document and starts with no approvals:
//! a prior request of another document is refused, as is one that is not
//! older than the new version. [`ApprovalRequest::authorizes`] is the gate
//! an order passes right before it is confirmed: the request must be
//! approved, for exactly the document version being confirmed, and cover
//! every level a fresh evaluation requires with no worse values — so an
//! edit that skipped re-approval is caught there.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::condition::{Fingerprint, Observation};
use super::decision::{Approval, ApprovalRequest, RequestStatus};
use super::policy::RequiredApprovals;
use super::{DocumentRef, StepKey};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReapprovalError {
    #[error("the earlier request is for {prior}, not {document}: a copy starts with no approvals")]
    OtherDocument {
        prior: DocumentRef,
        document: DocumentRef,
    },
    #[error(
        "the earlier request is for version {prior}, which is not older than version {version}"
    )]
    NotOlder { prior: u32, version: u32 },
    #[error("the approval request is {status}, not approved")]
    NotApproved { status: &'static str },
    #[error("the approvals are for {approved}, but the document is {document}")]
    VersionMismatch {
        approved: DocumentRef,
        document: DocumentRef,
    },
    #[error("{0} is required but not approved")]
    LevelNotApproved(StepKey),
    #[error("{step} was approved under policy revision {approved}, the policy is now revision {current}")]
    RevisionChanged {
        step: StepKey,
        approved: u32,
        current: u32,
    },
    #[error("{step}: values got worse since approval: {}", .paths.join(", "))]
    ValuesWorse { step: StepKey, paths: Vec<String> },
}

/// One value that got worse since it was approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub path: String,
    /// `None` when the approval did not observe this leaf.
    pub approved: Option<Observation>,
    pub now: Observation,
}

/// What happens to one required level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "plan", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepPlan {
    /// Not approved before: needs approval.
    New,
    /// Approved before and nothing it approved got worse.
    Keep { approval: Approval },
    /// Approved before, but these values got worse.
    ApproveAgain {
        approved_in: DocumentRef,
        changes: Vec<Change>,
    },
    /// Approved before under another revision of the policy.
    PolicyChanged { approved: u32, current: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedStep {
    pub step: StepKey,
    pub plan: StepPlan,
}

/// The plan for every required level, in the order of
/// [`RequiredApprovals::levels`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReapprovalPlan {
    pub document: DocumentRef,
    pub steps: Vec<PlannedStep>,
}

impl ReapprovalPlan {
    /// The levels that must approve (again).
    pub fn to_approve(&self) -> Vec<StepKey> {
        self.steps
            .iter()
            .filter(|s| !matches!(s.plan, StepPlan::Keep { .. }))
            .map(|s| s.step)
            .collect()
    }
}

/// The observations of `now` that are worse than in `approved`, by path.
pub fn worsened(now: &Fingerprint, approved: &Fingerprint) -> Vec<Change> {
    now.iter()
        .filter_map(|(path, obs)| match approved.get(path) {
            Some(a) if obs.no_worse_than(a) => None,
            a => Some(Change {
                path: path.to_owned(),
                approved: a.cloned(),
                now: obs.clone(),
            }),
        })
        .collect()
}

/// Compares `required` (a new version) with the approvals of `prior` (the
/// latest earlier request of the same document, in any status: a rejected
/// request's approved levels count as well). Without a prior every level
/// is new.
pub fn plan_reapproval(
    prior: Option<&ApprovalRequest>,
    required: &RequiredApprovals,
) -> Result<ReapprovalPlan, ReapprovalError> {
    if let Some(p) = prior {
        if p.document.document != required.document.document {
            return Err(ReapprovalError::OtherDocument {
                prior: p.document,
                document: required.document,
            });
        }
        if p.document.version >= required.document.version {
            return Err(ReapprovalError::NotOlder {
                prior: p.document.version,
                version: required.document.version,
            });
        }
    }
    let steps = required
        .levels
        .iter()
        .map(|level| {
            let before = prior
                .and_then(|p| p.step(level.step))
                .and_then(|s| s.state().approval().map(|a| (s, a)));
            let plan = match before {
                None => StepPlan::New,
                Some((s, _)) if s.policy_revision() != level.policy_revision => {
                    StepPlan::PolicyChanged {
                        approved: s.policy_revision(),
                        current: level.policy_revision,
                    }
                }
                Some((_, approval)) => {
                    let changes = worsened(&level.fingerprint, &approval.values);
                    if changes.is_empty() {
                        StepPlan::Keep {
                            approval: approval.clone(),
                        }
                    } else {
                        StepPlan::ApproveAgain {
                            approved_in: approval.document,
                            changes,
                        }
                    }
                }
            };
            PlannedStep {
                step: level.step,
                plan,
            }
        })
        .collect();
    Ok(ReapprovalPlan {
        document: required.document,
        steps,
    })
}

impl ApprovalRequest {
    /// The gate before a document proceeds: `required` is a fresh
    /// evaluation of the version about to be confirmed; this request must
    /// be approved, for exactly that version, and hold an approval with no
    /// worse values for every level `required` lists.
    pub fn authorizes(&self, required: &RequiredApprovals) -> Result<(), ReapprovalError> {
        if self.document != required.document {
            return Err(ReapprovalError::VersionMismatch {
                approved: self.document,
                document: required.document,
            });
        }
        if !matches!(self.status, RequestStatus::Approved { .. }) {
            return Err(ReapprovalError::NotApproved {
                status: self.status.name(),
            });
        }
        for level in &required.levels {
            let step = self
                .step(level.step)
                .ok_or(ReapprovalError::LevelNotApproved(level.step))?;
            let approval = step
                .state()
                .approval()
                .ok_or(ReapprovalError::LevelNotApproved(level.step))?;
            if step.policy_revision() != level.policy_revision {
                return Err(ReapprovalError::RevisionChanged {
                    step: level.step,
                    approved: step.policy_revision(),
                    current: level.policy_revision,
                });
            }
            let changes = worsened(&level.fingerprint, &approval.values);
            if !changes.is_empty() {
                return Err(ReapprovalError::ValuesWorse {
                    step: level.step,
                    paths: changes.into_iter().map(|c| c.path).collect(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::approvals::fixtures::*;
    use crate::approvals::{
        evaluate, Condition, Delegations, DocumentId, DocumentSnapshot, Policy, StepState,
    };

    /// Opens a request for `s` and approves every step, level by level.
    fn approved(
        policies: &[Policy],
        s: &DocumentSnapshot,
        prior: Option<&ApprovalRequest>,
    ) -> ApprovalRequest {
        let required = evaluate(policies, s).unwrap();
        let mut req =
            ApprovalRequest::open(request_1(), &required, prior, &directory(), at(0)).unwrap();
        while req.status() == &RequestStatus::Pending {
            let step = req
                .steps()
                .iter()
                .find(|st| matches!(st.state(), StepState::Pending { .. }))
                .unwrap();
            let by = *step.approvers().iter().next().unwrap();
            req = req
                .decide(
                    approve(step.key(), by, s.version()),
                    &Delegations::default(),
                    at(1),
                )
                .unwrap()
                .request;
        }
        req
    }

    fn v2(change: impl FnOnce(&mut crate::approvals::DocumentSnapshotInput)) -> DocumentSnapshot {
        snapshot(|i| {
            i.version = 2;
            change(i);
        })
    }

    fn plan(policies: &[Policy], prior: &ApprovalRequest, s: &DocumentSnapshot) -> ReapprovalPlan {
        plan_reapproval(Some(prior), &evaluate(policies, s).unwrap()).unwrap()
    }

    fn both() -> Vec<Policy> {
        vec![discount_policy(dec!(15)), total_policy(dec!(500))]
    }

    #[test]
    fn an_unchanged_document_keeps_every_approval() {
        let v1 = approved(&both(), &snapshot(|_| {}), None);
        let p = plan(&both(), &v1, &v2(|_| {}));
        assert!(p.to_approve().is_empty());
        assert_eq!(p.steps.len(), 3);
    }

    #[test]
    fn a_bigger_discount_must_be_approved_again_and_says_what_changed() {
        let v1 = approved(&both(), &snapshot(|_| {}), None);
        // 25% off, 4 units: the total drops to 300, the discount rises.
        let p = plan(
            &both(),
            &v1,
            &v2(|i| {
                i.lines[0].quantity = dec!(4);
                set_discount(i, dec!(25));
            }),
        );
        assert_eq!(p.to_approve(), vec![key(policy_discount(), 1)]);
        let StepPlan::ApproveAgain {
            changes,
            approved_in,
        } = &p.steps[0].plan
        else {
            panic!("{:?}", p.steps[0]);
        };
        assert_eq!(approved_in.version, 1);
        assert_eq!(changes[0].path, "condition");
        assert_eq!(
            changes[0].approved,
            Some(Observation::Percent { value: dec!(20) })
        );
        assert_eq!(changes[0].now, Observation::Percent { value: dec!(25) });
        assert!(
            evaluate(
                &both(),
                &v2(|i| {
                    i.lines[0].quantity = dec!(4);
                    set_discount(i, dec!(25));
                })
            )
            .unwrap()
            .levels
            .len()
                == 1,
            "the total policy no longer applies at all"
        );
    }

    #[test]
    fn a_smaller_discount_keeps_the_approval() {
        let v1 = approved(&both(), &snapshot(|_| {}), None);
        // 18% off on 10 units: total 820 (worse), discount 18 (better).
        let p = plan(&both(), &v1, &v2(|i| set_discount(i, dec!(18))));
        assert_eq!(
            p.to_approve(),
            vec![key(policy_total(), 1), key(policy_total(), 2)]
        );
        assert!(matches!(p.steps[0].plan, StepPlan::Keep { .. }));
    }

    #[test]
    fn a_level_that_becomes_required_starts_as_new() {
        let v1 = approved(&both(), &snapshot(|_| {}), None);
        let with_terms = |days| {
            policy(
                policy_terms(),
                Condition::PaymentTermsOverDefault {
                    by_more_than_days: days,
                },
                vec![level(
                    "Finance",
                    vec![crate::approvals::Approver::Principal { id: bob() }],
                    crate::approvals::Mode::AnyOne,
                )],
            )
        };
        let mut policies = both();
        policies.push(with_terms(0));
        let p = plan(&policies, &v1, &v2(|i| i.payment_terms_days = 60));
        assert_eq!(p.to_approve(), vec![key(policy_terms(), 1)]);
        assert!(matches!(p.steps.last().unwrap().plan, StepPlan::New));
    }

    #[test]
    fn a_new_policy_revision_needs_approval_again() {
        let v1 = approved(&both(), &snapshot(|_| {}), None);
        let mut spec = discount_policy(dec!(15)).to_spec();
        spec.revision = 2;
        let p = plan(&[Policy::new(spec).unwrap()], &v1, &v2(|_| {}));
        assert_eq!(
            p.steps[0].plan,
            StepPlan::PolicyChanged {
                approved: 1,
                current: 2
            }
        );
    }

    #[test]
    fn approved_levels_of_a_rejected_request_are_kept_on_resubmission() {
        let policies = [total_policy(dec!(500))];
        let required = evaluate(&policies, &snapshot(|_| {})).unwrap();
        let req = ApprovalRequest::open(request_1(), &required, None, &directory(), at(0)).unwrap();
        let none = Delegations::default();
        let req = req
            .decide(approve(key(policy_total(), 1), bob(), 1), &none, at(1))
            .unwrap()
            .request;
        let rejected = req
            .decide(
                reject(key(policy_total(), 2), director(), 1, "bring it under 700"),
                &none,
                at(2),
            )
            .unwrap()
            .request;
        let smaller = v2(|i| {
            i.lines[0].quantity = dec!(8);
            i.total = eur(dec!(640));
        });
        let required = evaluate(&policies, &smaller).unwrap();
        let again =
            ApprovalRequest::open(request_2(), &required, Some(&rejected), &directory(), at(3))
                .unwrap();
        assert!(matches!(
            again.step(key(policy_total(), 1)).unwrap().state(),
            StepState::Kept { .. }
        ));
        assert_eq!(
            again.step(key(policy_total(), 2)).unwrap().state(),
            &StepState::Pending { since: at(3) }
        );
    }

    #[test]
    fn kept_approvals_are_compared_with_the_values_a_person_approved() {
        let policies = [discount_policy(dec!(15))];
        let v1 = approved(&policies, &snapshot_with_discount(dec!(20)), None);
        // v2 at 18%: kept, still with the values approved at 20%.
        let s2 = snapshot(|i| {
            i.version = 2;
            set_discount(i, dec!(18));
        });
        let r2 = ApprovalRequest::open(
            request_2(),
            &evaluate(&policies, &s2).unwrap(),
            Some(&v1.supersede(2, at(2)).unwrap()),
            &directory(),
            at(2),
        )
        .unwrap();
        assert!(matches!(r2.status(), RequestStatus::Approved { .. }));
        // v3 back at 20%: still within what was approved.
        let s3 = snapshot(|i| {
            i.version = 3;
            set_discount(i, dec!(20));
        });
        let p3 = plan(&policies, &r2, &s3);
        assert!(p3.to_approve().is_empty());
        // v3 at 21%: beyond it.
        let s3 = snapshot(|i| {
            i.version = 3;
            set_discount(i, dec!(21));
        });
        assert_eq!(
            plan(&policies, &r2, &s3).to_approve(),
            vec![key(policy_discount(), 1)]
        );
    }

    #[test]
    fn a_copy_is_another_document_and_cannot_bring_approvals_along() {
        let v1 = approved(&both(), &snapshot(|_| {}), None);
        let copy = snapshot(|i| i.document = DocumentId::Quotation(quotation_copy()));
        let required = evaluate(&both(), &copy).unwrap();
        assert!(matches!(
            plan_reapproval(Some(&v1), &required),
            Err(ReapprovalError::OtherDocument { .. })
        ));
        let fresh = plan_reapproval(None, &required).unwrap();
        assert_eq!(fresh.to_approve().len(), 3);
    }

    #[test]
    fn a_prior_that_is_not_older_is_refused() {
        let v1 = approved(&both(), &snapshot(|_| {}), None);
        let required = evaluate(&both(), &snapshot(|_| {})).unwrap();
        assert_eq!(
            plan_reapproval(Some(&v1), &required),
            Err(ReapprovalError::NotOlder {
                prior: 1,
                version: 1
            })
        );
    }

    #[test]
    fn the_gate_passes_only_the_approved_version_with_no_worse_values() {
        let s1 = snapshot(|_| {});
        let v1 = approved(&both(), &s1, None);
        v1.authorizes(&evaluate(&both(), &s1).unwrap()).unwrap();
        let edited = evaluate(&both(), &v2(|i| set_discount(i, dec!(30)))).unwrap();
        assert!(matches!(
            v1.authorizes(&edited),
            Err(ReapprovalError::VersionMismatch { .. })
        ));
        let pending = ApprovalRequest::open(
            request_1(),
            &evaluate(&both(), &s1).unwrap(),
            None,
            &directory(),
            at(0),
        )
        .unwrap();
        assert_eq!(
            pending.authorizes(&evaluate(&both(), &s1).unwrap()),
            Err(ReapprovalError::NotApproved { status: "pending" })
        );
    }

    #[test]
    fn the_gate_catches_values_that_differ_from_what_was_approved() {
        // A snapshot of the same version whose values differ (data changed
        // without a version bump) is not covered.
        let v1 = approved(&both(), &snapshot(|_| {}), None);
        let tampered = evaluate(&both(), &snapshot_with_discount(dec!(35))).unwrap();
        assert!(matches!(
            v1.authorizes(&tampered),
            Err(ReapprovalError::ValuesWorse { .. })
        ));
    }
}
