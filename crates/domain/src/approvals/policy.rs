//! Policies: data that says when a document needs approval and by whom,
//! and [`evaluate`], which applies them to a [`DocumentSnapshot`].
//!
//! A [`Policy`] is a condition, a chain of levels, the document kinds it
//! applies to, and whether the submitter may approve their own document.
//! Policies carry a `revision` (bumped by the store on every update): an
//! approval given under one revision is never carried over to another.
//!
//! [`evaluate`] is pure and deterministic: the result does not depend on
//! the order of the policies or of the document's lines. Levels come out
//! sorted by policy id, then level number.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::chain::{Approver, Chain, ChainError, ChainSpec, Escalation, Mode};
use super::condition::{CheckedCondition, Condition, ConditionError, Fingerprint, Reason};
use super::snapshot::DocumentSnapshot;
use super::{DocumentKind, DocumentRef, StepKey};
use crate::catalog::{required_text, ValidationError, NAME_MAX};
use crate::ids::{ApprovalPolicyId, PrincipalId, TerritoryId};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("name: {0}")]
    BadName(ValidationError),
    #[error("revision must be at least 1")]
    ZeroRevision,
    #[error("applies_to: a policy must apply to quotations, orders or both")]
    NoDocumentKinds,
    #[error("condition: {0}")]
    Condition(ConditionError),
    #[error("chain: {0}")]
    Chain(ChainError),
    #[error("policy {0} is given twice")]
    DuplicatePolicy(ApprovalPolicyId),
}

fn yes() -> bool {
    true
}

/// The wire shape of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub id: ApprovalPolicyId,
    pub name: String,
    /// 1 on creation, +1 on every update.
    pub revision: u32,
    #[serde(default = "yes")]
    pub active: bool,
    pub applies_to: BTreeSet<DocumentKind>,
    pub condition: Condition,
    pub chain: ChainSpec,
    /// Whether the submitter may approve their own document. Off unless
    /// said otherwise.
    #[serde(default)]
    pub allow_self_approval: bool,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicySpec", into = "PolicySpec")]
pub struct Policy {
    id: ApprovalPolicyId,
    name: String,
    revision: u32,
    active: bool,
    applies_to: BTreeSet<DocumentKind>,
    condition: CheckedCondition,
    chain: Chain,
    allow_self_approval: bool,
}

impl Policy {
    pub fn new(spec: PolicySpec) -> Result<Policy, PolicyError> {
        let name = required_text("name", &spec.name, NAME_MAX).map_err(PolicyError::BadName)?;
        if spec.revision == 0 {
            return Err(PolicyError::ZeroRevision);
        }
        if spec.applies_to.is_empty() {
            return Err(PolicyError::NoDocumentKinds);
        }
        let condition = CheckedCondition::new(spec.condition).map_err(PolicyError::Condition)?;
        let chain = Chain::new(spec.chain).map_err(PolicyError::Chain)?;
        Ok(Policy {
            id: spec.id,
            name,
            revision: spec.revision,
            active: spec.active,
            applies_to: spec.applies_to,
            condition,
            chain,
            allow_self_approval: spec.allow_self_approval,
        })
    }

    pub fn id(&self) -> ApprovalPolicyId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn revision(&self) -> u32 {
        self.revision
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
    pub fn applies_to(&self) -> &BTreeSet<DocumentKind> {
        &self.applies_to
    }
    pub fn condition(&self) -> &CheckedCondition {
        &self.condition
    }
    pub fn chain(&self) -> &Chain {
        &self.chain
    }
    pub fn allows_self_approval(&self) -> bool {
        self.allow_self_approval
    }

    pub fn to_spec(&self) -> PolicySpec {
        PolicySpec {
            id: self.id,
            name: self.name.clone(),
            revision: self.revision,
            active: self.active,
            applies_to: self.applies_to.clone(),
            condition: self.condition.clone().into(),
            chain: self.chain.to_spec(),
            allow_self_approval: self.allow_self_approval,
        }
    }
}

impl TryFrom<PolicySpec> for Policy {
    type Error = PolicyError;
    fn try_from(spec: PolicySpec) -> Result<Policy, PolicyError> {
        Policy::new(spec)
    }
}

impl From<Policy> for PolicySpec {
    fn from(p: Policy) -> PolicySpec {
        p.to_spec()
    }
}

/// One level that must approve, with everything needed to open a request
/// for it without reading the policy again (a later policy edit does not
/// change a request in flight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredLevel {
    pub step: StepKey,
    pub policy_name: String,
    pub policy_revision: u32,
    pub level_name: String,
    pub allow_self_approval: bool,
    pub approvers: Vec<Approver>,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// The leaves that triggered, in condition order: the policy's first,
    /// then the level's own.
    pub reasons: Vec<Reason>,
    /// Every leaf's observation: the values an approval of this level
    /// approves. Paths start with `condition` (the policy's) or
    /// `level.condition` (the level's own).
    pub fingerprint: Fingerprint,
}

/// What [`evaluate`] returns: the levels a document version needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredApprovals {
    pub document: DocumentRef,
    pub submitted_by: PrincipalId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub territory: Option<TerritoryId>,
    /// Sorted by policy id, then level number.
    pub levels: Vec<RequiredLevel>,
}

impl RequiredApprovals {
    /// Whether the document may go ahead without anyone's approval.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub fn level(&self, step: StepKey) -> Option<&RequiredLevel> {
        self.levels.iter().find(|l| l.step == step)
    }
}

/// The levels `snapshot` needs under `policies`: for each active policy
/// that applies to the document's kind and whose condition triggers, each
/// level of its chain whose own condition (if any) triggers too.
///
/// Inactive policies and policies for the other document kind are skipped.
/// The same policy id given twice is an error, not a silent choice.
pub fn evaluate(
    policies: &[Policy],
    snapshot: &DocumentSnapshot,
) -> Result<RequiredApprovals, PolicyError> {
    let mut sorted: Vec<&Policy> = policies.iter().collect();
    sorted.sort_by_key(|p| p.id);
    if let Some(w) = sorted.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(PolicyError::DuplicatePolicy(w[0].id));
    }
    let kind = snapshot.document().kind();
    let mut levels = Vec::new();
    for policy in sorted {
        if !policy.active || !policy.applies_to.contains(&kind) {
            continue;
        }
        let mut policy_fp = Fingerprint::default();
        let (triggered, policy_reasons) =
            policy
                .condition
                .evaluate(snapshot, "condition", &mut policy_fp);
        if !triggered {
            continue;
        }
        for (index, level) in policy.chain.levels().iter().enumerate() {
            let mut fingerprint = policy_fp.clone();
            let mut reasons = policy_reasons.clone();
            if let Some(c) = level.condition() {
                let mut level_fp = Fingerprint::default();
                let (t, r) = c.evaluate(snapshot, "level.condition", &mut level_fp);
                if !t {
                    continue;
                }
                fingerprint.extend(level_fp);
                reasons.extend(r);
            }
            // Chains have at most Chain::MAX_LEVELS levels, far below u16::MAX.
            let number = u16::try_from(index + 1).unwrap_or(u16::MAX);
            levels.push(RequiredLevel {
                step: StepKey {
                    policy: policy.id,
                    level: number,
                },
                policy_name: policy.name.clone(),
                policy_revision: policy.revision,
                level_name: level.name().to_owned(),
                allow_self_approval: policy.allow_self_approval,
                approvers: level.approvers().to_vec(),
                mode: level.mode(),
                escalation: level.escalation(),
                reasons,
                fingerprint,
            });
        }
    }
    Ok(RequiredApprovals {
        document: snapshot.document_ref(),
        submitted_by: snapshot.submitted_by(),
        territory: snapshot.customer().territory,
        levels,
    })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::approvals::fixtures::*;
    use crate::approvals::LevelSpec;

    #[test]
    fn a_policy_that_does_not_trigger_requires_nothing() {
        let s = snapshot(|_| {}); // 20% discount
        let r = evaluate(&[discount_policy(dec!(25))], &s).unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn a_triggered_policy_requires_its_levels_with_reasons() {
        let s = snapshot(|_| {});
        let r = evaluate(&[discount_policy(dec!(15))], &s).unwrap();
        assert_eq!(r.levels.len(), 1);
        let level = &r.levels[0];
        assert_eq!(
            level.step,
            StepKey {
                policy: policy_discount(),
                level: 1
            }
        );
        assert_eq!(level.reasons.len(), 1);
        assert_eq!(level.reasons[0].condition, "max_line_discount");
        assert_eq!(level.reasons[0].observed, "20%");
        assert_eq!(level.reasons[0].threshold, "over 15%");
        assert_eq!(r.document, s.document_ref());
    }

    #[test]
    fn tiered_levels_are_required_only_when_their_own_condition_triggers() {
        let mut spec = discount_policy(dec!(10)).to_spec();
        spec.chain.levels.push(LevelSpec {
            name: "Director".into(),
            condition: Some(Condition::MaxLineDiscount {
                over: dec!(25),
                up_to: None,
            }),
            approvers: vec![Approver::Principal { id: director() }],
            mode: Mode::AnyOne,
            escalation: None,
        });
        let policy = Policy::new(spec).unwrap();
        let at_20 = evaluate(std::slice::from_ref(&policy), &snapshot(|_| {})).unwrap();
        assert_eq!(at_20.levels.len(), 1);
        let at_30 = evaluate(&[policy], &snapshot_with_discount(dec!(30))).unwrap();
        let numbers: Vec<u16> = at_30.levels.iter().map(|l| l.step.level).collect();
        assert_eq!(numbers, vec![1, 2]);
        assert_eq!(at_30.levels[1].reasons.len(), 2);
        assert!(at_30.levels[1].fingerprint.get("level.condition").is_some());
    }

    #[test]
    fn inactive_policies_and_other_document_kinds_are_skipped() {
        let s = snapshot(|_| {});
        let mut inactive = discount_policy(dec!(5)).to_spec();
        inactive.active = false;
        let mut orders_only = discount_policy(dec!(5)).to_spec();
        orders_only.id = policy_total();
        orders_only.applies_to = BTreeSet::from([DocumentKind::Order]);
        let r = evaluate(
            &[
                Policy::new(inactive).unwrap(),
                Policy::new(orders_only).unwrap(),
            ],
            &s,
        )
        .unwrap();
        assert!(r.is_empty(), "the fixture is a quotation");
    }

    #[test]
    fn levels_are_ordered_by_policy_whatever_the_input_order() {
        let s = snapshot(|_| {});
        let a = discount_policy(dec!(5));
        let b = total_policy(dec!(100));
        let ab = evaluate(&[a.clone(), b.clone()], &s).unwrap();
        let ba = evaluate(&[b, a], &s).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(ab.levels.len(), 3, "one discount level, two total levels");
        assert!(ab.levels.windows(2).all(|w| w[0].step < w[1].step));
    }

    #[test]
    fn the_same_policy_twice_is_refused() {
        let p = discount_policy(dec!(5));
        assert_eq!(
            evaluate(&[p.clone(), p], &snapshot(|_| {})),
            Err(PolicyError::DuplicatePolicy(policy_discount()))
        );
    }

    #[test]
    fn bad_policies_are_refused() {
        let mut s = discount_policy(dec!(5)).to_spec();
        s.applies_to.clear();
        assert_eq!(Policy::new(s), Err(PolicyError::NoDocumentKinds));
        let mut s = discount_policy(dec!(5)).to_spec();
        s.chain.levels.clear();
        assert_eq!(
            Policy::new(s),
            Err(PolicyError::Chain(ChainError::EmptyChain))
        );
        let mut s = discount_policy(dec!(5)).to_spec();
        s.condition = Condition::MaxLineDiscount {
            over: dec!(30),
            up_to: Some(dec!(20)),
        };
        assert!(matches!(
            Policy::new(s),
            Err(PolicyError::Condition(ConditionError::Contradictory { .. }))
        ));
        let mut s = discount_policy(dec!(5)).to_spec();
        s.revision = 0;
        assert_eq!(Policy::new(s), Err(PolicyError::ZeroRevision));
    }

    #[test]
    fn a_policy_round_trips_through_json() {
        let p = discount_policy(dec!(15));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), p);
        let r = evaluate(&[p], &snapshot(|_| {})).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RequiredApprovals>(&json).unwrap(), r);
    }
}
