//! Approval requests and decisions.
//!
//! An [`ApprovalRequest`] asks for the [`RequiredApprovals`] of one
//! document *version*. It holds one [`Step`] per required level; a step is
//! `waiting` until the earlier levels of its chain have approved, then
//! `pending` until its approvers have decided, then `approved` or
//! `rejected` — or `kept` when smart re-approval carried an earlier
//! approval over (see [`super::reapproval`]). Steps of different policies
//! are pending at the same time.
//!
//! The request's [`RequestStatus`] is a lifecycle: `pending → approved`
//! when every step is approved or kept, `pending → rejected` on the first
//! rejection (the document goes back to draft with the reason),
//! `pending | approved → superseded` when the document changes. Every
//! transition is a method that returns the next request or a typed
//! [`DecisionError`]; a request is never changed in place.
//!
//! Every decision appends an immutable [`DecisionRecord`]: who decided, on
//! whose behalf (delegation), when, on which document version, and the
//! values approved (the level's [`Fingerprint`] and its digest).
//!
//! Refused, each with its own error: deciding on a closed request,
//! deciding for another document version, deciding a step that is not
//! pending, deciding twice, deciding without being an approver or a
//! delegate of one, approving one's own document (unless the policy allows
//! it), rejecting without a reason.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::chain::{resolve_approvers, ChainError, Directory, Escalation, Mode};
use super::condition::{Fingerprint, Reason};
use super::delegation::Delegations;
use super::escalation::EscalationRecord;
use super::policy::RequiredApprovals;
use super::reapproval::{plan_reapproval, ReapprovalError, StepPlan};
use super::{DocumentRef, StepKey};
use crate::catalog::{optional_text, ValidationError, TEXT_MAX};
use crate::ids::{ApprovalRequestId, PrincipalId, TerritoryId};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecisionError {
    #[error("the document needs no approval")]
    NothingToApprove,
    #[error("{step}: {source}")]
    Approvers { step: StepKey, source: ChainError },
    #[error("{0}")]
    Prior(ReapprovalError),
    #[error("the approval request is {status}; no more decisions are taken")]
    RequestClosed { status: &'static str },
    #[error("the decision is for version {given} but the request is for version {current}")]
    StaleVersion { given: u32, current: u32 },
    #[error("version {given} is not newer than the request's version {current}")]
    NotNewer { given: u32, current: u32 },
    #[error("the earlier request is still {status}: supersede it before opening a new one")]
    PriorStillOpen { status: &'static str },
    #[error("the request has no step {0}")]
    UnknownStep(StepKey),
    #[error("{step} is {state}, not pending")]
    StepNotPending { step: StepKey, state: &'static str },
    #[error("{0} submitted the document and may not approve it")]
    SelfApproval(PrincipalId),
    #[error("{principal} is not an approver of {step} (nor acting for one today)")]
    NotAnApprover {
        principal: PrincipalId,
        step: StepKey,
    },
    #[error("{principal} has already decided {step}")]
    AlreadyDecided {
        principal: PrincipalId,
        step: StepKey,
    },
    #[error("a rejection needs a reason in the comment")]
    ReasonRequired,
    #[error("{0}")]
    BadComment(ValidationError),
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

/// An approval that counts for a step: when, of which document version,
/// and the values it approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub at: DateTime<Utc>,
    pub document: DocumentRef,
    pub values: Fingerprint,
}

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepState {
    /// An earlier level of the same chain has not approved yet.
    Waiting,
    /// Waiting for its approvers since `since`.
    Pending {
        since: DateTime<Utc>,
    },
    /// Approved on this request.
    Approved {
        approval: Approval,
    },
    /// Approved on an earlier version, and nothing it approved got worse.
    Kept {
        approval: Approval,
    },
    Rejected {
        at: DateTime<Utc>,
    },
}

impl StepState {
    pub fn name(&self) -> &'static str {
        match self {
            StepState::Waiting => "waiting",
            StepState::Pending { .. } => "pending",
            StepState::Approved { .. } => "approved",
            StepState::Kept { .. } => "kept",
            StepState::Rejected { .. } => "rejected",
        }
    }

    /// The approval that counts, for approved and kept steps.
    pub fn approval(&self) -> Option<&Approval> {
        match self {
            StepState::Approved { approval } | StepState::Kept { approval } => Some(approval),
            _ => None,
        }
    }
}

/// One approver's decision on a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    pub by: PrincipalId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<PrincipalId>,
    pub verdict: Verdict,
    pub at: DateTime<Utc>,
}

impl Vote {
    /// The approver the vote counts for.
    pub fn counts_for(&self) -> PrincipalId {
        self.on_behalf_of.unwrap_or(self.by)
    }
}

/// One required level inside a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub(super) key: StepKey,
    pub(super) policy_name: String,
    pub(super) policy_revision: u32,
    pub(super) level_name: String,
    pub(super) allow_self_approval: bool,
    pub(super) mode: Mode,
    /// Approvals the mode needs from the approvers resolved at opening.
    pub(super) needed: usize,
    /// Resolved at opening; escalation adds to it.
    pub(super) approvers: BTreeSet<PrincipalId>,
    pub(super) escalation: Option<Escalation>,
    /// Principals added by escalation. Each one's decision settles the step
    /// alone, whatever the mode: escalation hands the level's authority up.
    pub(super) escalated_to: BTreeSet<PrincipalId>,
    pub(super) escalations: Vec<EscalationRecord>,
    pub(super) reasons: Vec<Reason>,
    /// The values of this version that the level tests.
    pub(super) fingerprint: Fingerprint,
    pub(super) votes: Vec<Vote>,
    pub(super) state: StepState,
}

impl Step {
    pub fn key(&self) -> StepKey {
        self.key
    }
    pub fn policy_name(&self) -> &str {
        &self.policy_name
    }
    pub fn policy_revision(&self) -> u32 {
        self.policy_revision
    }
    pub fn level_name(&self) -> &str {
        &self.level_name
    }
    pub fn mode(&self) -> Mode {
        self.mode
    }
    pub fn needed(&self) -> usize {
        self.needed
    }
    pub fn approvers(&self) -> &BTreeSet<PrincipalId> {
        &self.approvers
    }
    pub fn escalated_to(&self) -> &BTreeSet<PrincipalId> {
        &self.escalated_to
    }
    pub fn escalations(&self) -> &[EscalationRecord] {
        &self.escalations
    }
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }
    pub fn votes(&self) -> &[Vote] {
        &self.votes
    }
    pub fn state(&self) -> &StepState {
        &self.state
    }
    pub fn is_done(&self) -> bool {
        matches!(
            self.state,
            StepState::Approved { .. } | StepState::Kept { .. }
        )
    }

    fn has_vote_for(&self, p: PrincipalId) -> bool {
        self.votes.iter().any(|v| v.counts_for() == p)
    }

    /// Settles the step from its votes, if they settle it.
    fn settled(&self) -> Option<Verdict> {
        let last = self.votes.last()?;
        if self.escalated_to.contains(&last.counts_for()) {
            return Some(last.verdict);
        }
        let original: BTreeSet<PrincipalId> = self
            .approvers
            .difference(&self.escalated_to)
            .copied()
            .collect();
        let count = |verdict: Verdict| {
            self.votes
                .iter()
                .filter(|v| v.verdict == verdict && original.contains(&v.counts_for()))
                .map(Vote::counts_for)
                .collect::<BTreeSet<_>>()
                .len()
        };
        let (approvals, rejections) = (count(Verdict::Approve), count(Verdict::Reject));
        match self.mode {
            Mode::AnyOne => Some(last.verdict),
            Mode::All if rejections > 0 => Some(Verdict::Reject),
            Mode::All | Mode::NOf { .. } if approvals >= self.needed => Some(Verdict::Approve),
            Mode::NOf { .. } if original.len().saturating_sub(rejections) < self.needed => {
                Some(Verdict::Reject)
            }
            _ => None,
        }
    }
}

/// Where the request as a whole stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum RequestStatus {
    Pending,
    Approved {
        at: DateTime<Utc>,
    },
    /// The document goes back to draft with `reason`.
    Rejected {
        at: DateTime<Utc>,
        by: PrincipalId,
        step: StepKey,
        reason: String,
    },
    /// The document changed; a request for `by_version` replaces this one.
    Superseded {
        at: DateTime<Utc>,
        by_version: u32,
    },
}

impl RequestStatus {
    pub fn name(&self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved { .. } => "approved",
            RequestStatus::Rejected { .. } => "rejected",
            RequestStatus::Superseded { .. } => "superseded",
        }
    }
}

/// A decision as an approver submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub step: StepKey,
    pub decided_by: PrincipalId,
    pub verdict: Verdict,
    #[serde(default)]
    pub comment: Option<String>,
    /// The document version the approver looked at.
    pub document_version: u32,
}

/// The audit record of one decision. Never changed once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    pub request: ApprovalRequestId,
    /// 1, 2, 3 … within the request.
    pub seq: u32,
    pub document: DocumentRef,
    pub step: StepKey,
    pub policy_revision: u32,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub decided_by: PrincipalId,
    /// The approver a delegate decided for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<PrincipalId>,
    pub at: DateTime<Utc>,
    /// The values decided on.
    pub values: Fingerprint,
    /// [`Fingerprint::digest`] of `values`.
    pub values_digest: String,
}

/// What a decision did to the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// More approvals are needed.
    StillPending,
    /// Every step is approved or kept: the document may proceed.
    Approved,
    /// Rejected: the document returns to draft with this reason.
    BackToDraft { reason: String },
}

/// The result of [`ApprovalRequest::decide`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub request: ApprovalRequest,
    pub record: DecisionRecord,
    pub outcome: Outcome,
    /// Steps that became pending because an earlier level approved.
    pub activated: Vec<StepKey>,
    /// Who to tell: approvers of activated steps.
    pub notify: BTreeSet<PrincipalId>,
}

/// A request for the approvals one document version needs. Rebuilt from
/// storage by deserializing what [`Serialize`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    pub(super) id: ApprovalRequestId,
    pub(super) document: DocumentRef,
    pub(super) submitted_by: PrincipalId,
    pub(super) territory: Option<TerritoryId>,
    pub(super) opened_at: DateTime<Utc>,
    /// Sorted by step key: by policy, then level.
    pub(super) steps: Vec<Step>,
    /// In decision order; `seq` is the 1-based position.
    pub(super) decisions: Vec<DecisionRecord>,
    pub(super) status: RequestStatus,
}

impl ApprovalRequest {
    /// Opens a request for `required`. With `prior` — the latest earlier
    /// request of the *same* document — approvals whose values did not get
    /// worse are kept; everything else starts over. The prior must be closed
    /// (rejected, or superseded by this version). A copy of a document is
    /// another document: it has no prior, and passing one is refused.
    ///
    /// Approvers are resolved now through `directory`; a level nobody
    /// eligible can approve is an error, not a request stuck forever.
    pub fn open(
        id: ApprovalRequestId,
        required: &RequiredApprovals,
        prior: Option<&ApprovalRequest>,
        directory: &Directory,
        now: DateTime<Utc>,
    ) -> Result<ApprovalRequest, DecisionError> {
        if required.is_empty() {
            return Err(DecisionError::NothingToApprove);
        }
        let plan = plan_reapproval(prior, required).map_err(DecisionError::Prior)?;
        if let Some(p) = prior {
            // One live request per document: the old one must be closed, so
            // nobody can still approve the old version next to the new one.
            if matches!(
                p.status,
                RequestStatus::Pending | RequestStatus::Approved { .. }
            ) {
                return Err(DecisionError::PriorStillOpen {
                    status: p.status.name(),
                });
            }
        }
        let mut steps = Vec::with_capacity(required.levels.len());
        for (level, planned) in required.levels.iter().zip(&plan.steps) {
            let kept = match &planned.plan {
                StepPlan::Keep { approval } => Some(approval.clone()),
                _ => None,
            };
            let (approvers, needed) = if kept.is_some() {
                (BTreeSet::new(), 0)
            } else {
                let r = resolve_approvers(
                    &level.approvers,
                    level.mode,
                    required.submitted_by,
                    required.territory,
                    level.allow_self_approval,
                    directory,
                )
                .map_err(|source| DecisionError::Approvers {
                    step: level.step,
                    source,
                })?;
                (r.approvers, r.needed)
            };
            steps.push(Step {
                key: level.step,
                policy_name: level.policy_name.clone(),
                policy_revision: level.policy_revision,
                level_name: level.level_name.clone(),
                allow_self_approval: level.allow_self_approval,
                mode: level.mode,
                needed,
                approvers,
                escalation: level.escalation,
                escalated_to: BTreeSet::new(),
                escalations: Vec::new(),
                reasons: level.reasons.clone(),
                fingerprint: level.fingerprint.clone(),
                votes: Vec::new(),
                state: match kept {
                    Some(approval) => StepState::Kept { approval },
                    None => StepState::Waiting,
                },
            });
        }
        steps.sort_by_key(|s| s.key);
        let mut request = ApprovalRequest {
            id,
            document: required.document,
            submitted_by: required.submitted_by,
            territory: required.territory,
            opened_at: now,
            steps,
            decisions: Vec::new(),
            status: RequestStatus::Pending,
        };
        request.activate_ready(now);
        if request.steps.iter().all(Step::is_done) {
            request.status = RequestStatus::Approved { at: now };
        }
        Ok(request)
    }

    /// Moves each waiting step whose earlier levels are all done to
    /// pending; returns the steps it moved.
    fn activate_ready(&mut self, now: DateTime<Utc>) -> Vec<StepKey> {
        let mut activated = Vec::new();
        let mut blocked: BTreeSet<_> = BTreeSet::new();
        for step in &mut self.steps {
            let policy = step.key.policy;
            if blocked.contains(&policy) {
                continue;
            }
            match step.state {
                StepState::Waiting => {
                    step.state = StepState::Pending { since: now };
                    activated.push(step.key);
                    blocked.insert(policy);
                }
                StepState::Approved { .. } | StepState::Kept { .. } => {}
                StepState::Pending { .. } | StepState::Rejected { .. } => {
                    blocked.insert(policy);
                }
            }
        }
        activated
    }

    pub fn id(&self) -> ApprovalRequestId {
        self.id
    }
    pub fn document(&self) -> DocumentRef {
        self.document
    }
    pub fn submitted_by(&self) -> PrincipalId {
        self.submitted_by
    }
    pub fn territory(&self) -> Option<TerritoryId> {
        self.territory
    }
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    pub fn step(&self, key: StepKey) -> Option<&Step> {
        self.steps.iter().find(|s| s.key == key)
    }
    pub fn decisions(&self) -> &[DecisionRecord] {
        &self.decisions
    }
    pub fn status(&self) -> &RequestStatus {
        &self.status
    }

    /// The approver's inbox: pending steps `principal` may decide on `now`'s
    /// day, themselves or for someone who delegated to them, and has not
    /// decided yet.
    pub fn assigned_to(
        &self,
        principal: PrincipalId,
        delegations: &Delegations,
        now: DateTime<Utc>,
    ) -> Vec<StepKey> {
        if self.status != RequestStatus::Pending {
            return Vec::new();
        }
        self.steps
            .iter()
            .filter(|s| matches!(s.state, StepState::Pending { .. }))
            .filter(|s| self.acting_for(s, principal, delegations, now).is_ok())
            .map(|s| s.key)
            .collect()
    }

    /// Whom `principal` would decide for on `step`: themselves (`None`) or
    /// the first approver, by id, who delegated to them and has no vote yet.
    fn acting_for(
        &self,
        step: &Step,
        principal: PrincipalId,
        delegations: &Delegations,
        now: DateTime<Utc>,
    ) -> Result<Option<PrincipalId>, DecisionError> {
        if principal == self.submitted_by && !step.allow_self_approval {
            return Err(DecisionError::SelfApproval(principal));
        }
        if step.votes.iter().any(|v| v.by == principal) {
            return Err(DecisionError::AlreadyDecided {
                principal,
                step: step.key,
            });
        }
        let day = now.date_naive();
        let mut represented_any = false;
        if step.approvers.contains(&principal) {
            if !step.has_vote_for(principal) {
                return Ok(None);
            }
            represented_any = true;
        }
        for &a in &step.approvers {
            if a != principal && delegations.acts_for(principal, a, day) {
                if !step.has_vote_for(a) {
                    return Ok(Some(a));
                }
                represented_any = true;
            }
        }
        if represented_any {
            Err(DecisionError::AlreadyDecided {
                principal,
                step: step.key,
            })
        } else {
            Err(DecisionError::NotAnApprover {
                principal,
                step: step.key,
            })
        }
    }

    /// Records a decision. See the module docs for what is refused.
    pub fn decide(
        &self,
        input: DecisionInput,
        delegations: &Delegations,
        now: DateTime<Utc>,
    ) -> Result<Decided, DecisionError> {
        if self.status != RequestStatus::Pending {
            return Err(DecisionError::RequestClosed {
                status: self.status.name(),
            });
        }
        if input.document_version != self.document.version {
            return Err(DecisionError::StaleVersion {
                given: input.document_version,
                current: self.document.version,
            });
        }
        let index = self
            .steps
            .iter()
            .position(|s| s.key == input.step)
            .ok_or(DecisionError::UnknownStep(input.step))?;
        let step = &self.steps[index];
        if !matches!(step.state, StepState::Pending { .. }) {
            return Err(DecisionError::StepNotPending {
                step: step.key,
                state: step.state.name(),
            });
        }
        let on_behalf_of = self.acting_for(step, input.decided_by, delegations, now)?;
        let comment = optional_text("comment", input.comment.as_deref(), TEXT_MAX)
            .map_err(DecisionError::BadComment)?;
        if input.verdict == Verdict::Reject && comment.is_none() {
            return Err(DecisionError::ReasonRequired);
        }

        let mut next = self.clone();
        let seq = u32::try_from(next.decisions.len() + 1).unwrap_or(u32::MAX);
        let step = &mut next.steps[index];
        step.votes.push(Vote {
            by: input.decided_by,
            on_behalf_of,
            verdict: input.verdict,
            at: now,
        });
        let record = DecisionRecord {
            request: self.id,
            seq,
            document: self.document,
            step: step.key,
            policy_revision: step.policy_revision,
            verdict: input.verdict,
            comment: comment.clone(),
            decided_by: input.decided_by,
            on_behalf_of,
            at: now,
            values: step.fingerprint.clone(),
            values_digest: step.fingerprint.digest(),
        };
        let mut activated = Vec::new();
        let mut notify = BTreeSet::new();
        let outcome = match step.settled() {
            None => Outcome::StillPending,
            Some(Verdict::Reject) => {
                step.state = StepState::Rejected { at: now };
                let reason = comment.unwrap_or_default();
                next.status = RequestStatus::Rejected {
                    at: now,
                    by: input.decided_by,
                    step: input.step,
                    reason: reason.clone(),
                };
                Outcome::BackToDraft { reason }
            }
            Some(Verdict::Approve) => {
                step.state = StepState::Approved {
                    approval: Approval {
                        at: now,
                        document: self.document,
                        values: step.fingerprint.clone(),
                    },
                };
                activated = next.activate_ready(now);
                let by_key: BTreeMap<StepKey, &Step> =
                    next.steps.iter().map(|s| (s.key, s)).collect();
                for key in &activated {
                    if let Some(s) = by_key.get(key) {
                        notify.extend(s.approvers.iter().copied());
                    }
                }
                if next.steps.iter().all(Step::is_done) {
                    next.status = RequestStatus::Approved { at: now };
                    Outcome::Approved
                } else {
                    Outcome::StillPending
                }
            }
        };
        next.decisions.push(record.clone());
        Ok(Decided {
            request: next,
            record,
            outcome,
            activated,
            notify,
        })
    }

    /// The document changed to `by_version`: this request no longer counts.
    /// Open a new one for the new version with this one as `prior`.
    pub fn supersede(
        &self,
        by_version: u32,
        now: DateTime<Utc>,
    ) -> Result<ApprovalRequest, DecisionError> {
        match self.status {
            RequestStatus::Pending | RequestStatus::Approved { .. } => {}
            RequestStatus::Rejected { .. } | RequestStatus::Superseded { .. } => {
                return Err(DecisionError::RequestClosed {
                    status: self.status.name(),
                })
            }
        }
        if by_version <= self.document.version {
            return Err(DecisionError::NotNewer {
                given: by_version,
                current: self.document.version,
            });
        }
        let mut next = self.clone();
        next.status = RequestStatus::Superseded {
            at: now,
            by_version,
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::approvals::fixtures::*;
    use crate::approvals::{evaluate, Approver, Condition, Delegation, DocumentSnapshot, Policy};

    fn open_for(policies: &[Policy], s: &DocumentSnapshot) -> ApprovalRequest {
        let required = evaluate(policies, s).unwrap();
        ApprovalRequest::open(request_1(), &required, None, &directory(), at(0)).unwrap()
    }

    fn none() -> Delegations {
        Delegations::default()
    }

    fn committee(mode: Mode) -> Policy {
        policy(
            policy_discount(),
            Condition::MaxLineDiscount {
                over: dec!(10),
                up_to: None,
            },
            vec![level(
                "Deal desk",
                vec![
                    Approver::Principal { id: bob() },
                    Approver::Principal { id: carol() },
                    Approver::Principal { id: dave() },
                ],
                mode,
            )],
        )
    }

    fn discount_step() -> StepKey {
        key(policy_discount(), 1)
    }

    #[test]
    fn any_one_level_is_approved_by_the_first_approver() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        assert_eq!(req.status(), &RequestStatus::Pending);
        assert_eq!(req.steps()[0].approvers(), &BTreeSet::from([manager()]));
        let d = req
            .decide(approve(discount_step(), manager(), 1), &none(), at(1))
            .unwrap();
        assert_eq!(d.outcome, Outcome::Approved);
        assert_eq!(d.request.status(), &RequestStatus::Approved { at: at(1) });
    }

    #[test]
    fn approving_a_level_activates_the_next_one_and_notifies_its_approvers() {
        let req = open_for(&[total_policy(dec!(500))], &snapshot(|_| {}));
        let finance = key(policy_total(), 1);
        let director_step = key(policy_total(), 2);
        assert_eq!(
            req.step(director_step).unwrap().state(),
            &StepState::Waiting
        );
        let d = req
            .decide(approve(finance, bob(), 1), &none(), at(1))
            .unwrap();
        assert_eq!(d.outcome, Outcome::StillPending);
        assert_eq!(d.activated, vec![director_step]);
        assert_eq!(d.notify, BTreeSet::from([director()]));
        assert_eq!(
            d.request.step(director_step).unwrap().state(),
            &StepState::Pending { since: at(1) }
        );
        let done = d
            .request
            .decide(approve(director_step, director(), 1), &none(), at(2))
            .unwrap();
        assert_eq!(done.outcome, Outcome::Approved);
    }

    #[test]
    fn levels_of_different_policies_are_pending_together() {
        let req = open_for(
            &[discount_policy(dec!(15)), total_policy(dec!(500))],
            &snapshot(|_| {}),
        );
        let pending: Vec<StepKey> = req
            .steps()
            .iter()
            .filter(|s| matches!(s.state(), StepState::Pending { .. }))
            .map(Step::key)
            .collect();
        assert_eq!(pending, vec![discount_step(), key(policy_total(), 1)]);
    }

    #[test]
    fn all_mode_needs_every_approver() {
        let req = open_for(&[committee(Mode::All)], &snapshot(|_| {}));
        let d1 = req
            .decide(approve(discount_step(), bob(), 1), &none(), at(1))
            .unwrap();
        let d2 = d1
            .request
            .decide(approve(discount_step(), carol(), 1), &none(), at(2))
            .unwrap();
        assert_eq!(d2.outcome, Outcome::StillPending);
        let d3 = d2
            .request
            .decide(approve(discount_step(), dave(), 1), &none(), at(3))
            .unwrap();
        assert_eq!(d3.outcome, Outcome::Approved);
    }

    #[test]
    fn all_mode_is_rejected_by_one_rejection() {
        let req = open_for(&[committee(Mode::All)], &snapshot(|_| {}));
        let d1 = req
            .decide(approve(discount_step(), bob(), 1), &none(), at(1))
            .unwrap();
        let d2 = d1
            .request
            .decide(
                reject(discount_step(), carol(), 1, "too cheap"),
                &none(),
                at(2),
            )
            .unwrap();
        assert_eq!(
            d2.outcome,
            Outcome::BackToDraft {
                reason: "too cheap".into()
            }
        );
    }

    #[test]
    fn a_committee_approves_at_n_approvals() {
        let req = open_for(&[committee(Mode::NOf { n: 2 })], &snapshot(|_| {}));
        let d1 = req
            .decide(reject(discount_step(), bob(), 1, "no"), &none(), at(1))
            .unwrap();
        assert_eq!(
            d1.outcome,
            Outcome::StillPending,
            "two approvals are still possible"
        );
        let d2 = d1
            .request
            .decide(approve(discount_step(), carol(), 1), &none(), at(2))
            .unwrap();
        assert_eq!(d2.outcome, Outcome::StillPending);
        let d3 = d2
            .request
            .decide(approve(discount_step(), dave(), 1), &none(), at(3))
            .unwrap();
        assert_eq!(d3.outcome, Outcome::Approved);
    }

    #[test]
    fn a_committee_is_rejected_once_n_approvals_are_out_of_reach() {
        let req = open_for(&[committee(Mode::NOf { n: 2 })], &snapshot(|_| {}));
        let d1 = req
            .decide(reject(discount_step(), bob(), 1, "no"), &none(), at(1))
            .unwrap();
        let d2 = d1
            .request
            .decide(
                reject(discount_step(), carol(), 1, "no way"),
                &none(),
                at(2),
            )
            .unwrap();
        assert_eq!(
            d2.outcome,
            Outcome::BackToDraft {
                reason: "no way".into()
            }
        );
    }

    #[test]
    fn a_rejection_sends_the_document_back_to_draft_with_the_reason() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        let d = req
            .decide(
                reject(discount_step(), manager(), 1, "Max 15% for this customer"),
                &none(),
                at(1),
            )
            .unwrap();
        assert_eq!(
            d.outcome,
            Outcome::BackToDraft {
                reason: "Max 15% for this customer".into()
            }
        );
        assert!(
            matches!(d.request.status(), RequestStatus::Rejected { by, .. } if *by == manager())
        );
        assert_eq!(d.record.verdict, Verdict::Reject);
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        let mut input = reject(discount_step(), manager(), 1, "   ");
        assert_eq!(
            req.decide(input.clone(), &none(), at(1)).unwrap_err(),
            DecisionError::ReasonRequired
        );
        input.comment = None;
        assert_eq!(
            req.decide(input, &none(), at(1)).unwrap_err(),
            DecisionError::ReasonRequired
        );
    }

    #[test]
    fn deciding_twice_is_refused() {
        let req = open_for(&[committee(Mode::All)], &snapshot(|_| {}));
        let d = req
            .decide(approve(discount_step(), bob(), 1), &none(), at(1))
            .unwrap();
        assert_eq!(
            d.request
                .decide(approve(discount_step(), bob(), 1), &none(), at(2))
                .unwrap_err(),
            DecisionError::AlreadyDecided {
                principal: bob(),
                step: discount_step()
            }
        );
    }

    #[test]
    fn deciding_a_closed_request_is_refused() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        let approved = req
            .decide(approve(discount_step(), manager(), 1), &none(), at(1))
            .unwrap()
            .request;
        assert_eq!(
            approved
                .decide(
                    reject(discount_step(), manager(), 1, "changed my mind"),
                    &none(),
                    at(2)
                )
                .unwrap_err(),
            DecisionError::RequestClosed { status: "approved" }
        );
        let superseded = req.supersede(2, at(1)).unwrap();
        assert_eq!(
            superseded
                .decide(approve(discount_step(), manager(), 1), &none(), at(2))
                .unwrap_err(),
            DecisionError::RequestClosed {
                status: "superseded"
            }
        );
    }

    #[test]
    fn deciding_for_another_document_version_is_refused() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        assert_eq!(
            req.decide(approve(discount_step(), manager(), 2), &none(), at(1))
                .unwrap_err(),
            DecisionError::StaleVersion {
                given: 2,
                current: 1
            }
        );
    }

    #[test]
    fn self_approval_is_refused_unless_the_policy_allows_it() {
        // The manager submits; the level is "any manager".
        let by_manager = snapshot(|i| i.submitted_by = manager());
        let managers = |allow: bool| {
            let mut spec = committee(Mode::AnyOne).to_spec();
            spec.chain.levels[0].approvers = vec![Approver::Role {
                role: crate::auth::Role::Manager,
            }];
            spec.allow_self_approval = allow;
            Policy::new(spec).unwrap()
        };
        let req = open_for(&[managers(false)], &by_manager);
        assert_eq!(
            req.decide(approve(discount_step(), manager(), 1), &none(), at(1))
                .unwrap_err(),
            DecisionError::SelfApproval(manager())
        );
        req.decide(approve(discount_step(), director(), 1), &none(), at(1))
            .unwrap();
        let allowed = open_for(&[managers(true)], &by_manager);
        let d = allowed
            .decide(approve(discount_step(), manager(), 1), &none(), at(1))
            .unwrap();
        assert_eq!(d.outcome, Outcome::Approved);
    }

    #[test]
    fn someone_who_is_no_approver_is_refused() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        assert_eq!(
            req.decide(approve(discount_step(), bob(), 1), &none(), at(1))
                .unwrap_err(),
            DecisionError::NotAnApprover {
                principal: bob(),
                step: discount_step()
            }
        );
    }

    #[test]
    fn a_waiting_level_cannot_be_decided_yet() {
        let req = open_for(&[total_policy(dec!(500))], &snapshot(|_| {}));
        assert_eq!(
            req.decide(
                approve(key(policy_total(), 2), director(), 1),
                &none(),
                at(1)
            )
            .unwrap_err(),
            DecisionError::StepNotPending {
                step: key(policy_total(), 2),
                state: "waiting"
            }
        );
        assert_eq!(
            req.decide(
                approve(key(policy_total(), 9), director(), 1),
                &none(),
                at(1)
            )
            .unwrap_err(),
            DecisionError::UnknownStep(key(policy_total(), 9))
        );
    }

    fn march(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn a_delegate_decides_for_the_approver_and_the_record_shows_both() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        let away =
            Delegations::new([Delegation::new(manager(), carol(), march(1), march(6)).unwrap()])
                .unwrap();
        assert_eq!(
            req.assigned_to(carol(), &away, at(1)),
            vec![discount_step()]
        );
        let d = req
            .decide(approve(discount_step(), carol(), 1), &away, at(1))
            .unwrap();
        assert_eq!(d.record.decided_by, carol());
        assert_eq!(d.record.on_behalf_of, Some(manager()));
        assert_eq!(d.outcome, Outcome::Approved);
    }

    #[test]
    fn a_delegate_outside_the_dates_is_refused() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        let later =
            Delegations::new([Delegation::new(manager(), carol(), march(10), march(12)).unwrap()])
                .unwrap();
        assert!(req.assigned_to(carol(), &later, at(1)).is_empty());
        assert_eq!(
            req.decide(approve(discount_step(), carol(), 1), &later, at(1))
                .unwrap_err(),
            DecisionError::NotAnApprover {
                principal: carol(),
                step: discount_step()
            }
        );
    }

    #[test]
    fn a_delegate_cannot_cast_a_second_vote_for_someone_who_already_decided() {
        let req = open_for(&[committee(Mode::All)], &snapshot(|_| {}));
        let away =
            Delegations::new([Delegation::new(bob(), manager(), march(1), march(6)).unwrap()])
                .unwrap();
        let d = req
            .decide(approve(discount_step(), bob(), 1), &away, at(1))
            .unwrap();
        assert_eq!(
            d.request
                .decide(approve(discount_step(), manager(), 1), &away, at(2))
                .unwrap_err(),
            DecisionError::AlreadyDecided {
                principal: manager(),
                step: discount_step()
            }
        );
    }

    #[test]
    fn records_carry_the_version_the_values_and_their_digest() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        let mut input = approve(discount_step(), manager(), 1);
        input.comment = Some("  ok for this quarter ".into());
        let d = req.decide(input, &none(), at(3)).unwrap();
        let r = &d.record;
        assert_eq!((r.seq, r.at, r.document.version), (1, at(3), 1));
        assert_eq!(r.comment.as_deref(), Some("ok for this quarter"));
        assert_eq!(r.values, *req.steps()[0].fingerprint());
        assert_eq!(r.values_digest, r.values.digest());
        assert_eq!(d.request.decisions(), std::slice::from_ref(r));
        assert_eq!(
            d.request.steps()[0]
                .state()
                .approval()
                .unwrap()
                .values
                .get("condition"),
            Some(&crate::approvals::Observation::Percent { value: dec!(20) })
        );
    }

    #[test]
    fn opening_without_anything_to_approve_or_anyone_eligible_is_refused() {
        let nothing = evaluate(&[discount_policy(dec!(50))], &snapshot(|_| {})).unwrap();
        assert_eq!(
            ApprovalRequest::open(request_1(), &nothing, None, &directory(), at(0)).unwrap_err(),
            DecisionError::NothingToApprove
        );
        // The CEO has no manager.
        let required = evaluate(
            &[discount_policy(dec!(15))],
            &snapshot(|i| i.submitted_by = ceo()),
        )
        .unwrap();
        assert!(matches!(
            ApprovalRequest::open(request_1(), &required, None, &directory(), at(0)).unwrap_err(),
            DecisionError::Approvers {
                source: ChainError::NoManager(_),
                ..
            }
        ));
    }

    #[test]
    fn superseding_needs_a_newer_version_and_an_open_request() {
        let req = open_for(&[discount_policy(dec!(15))], &snapshot(|_| {}));
        assert_eq!(
            req.supersede(1, at(1)).unwrap_err(),
            DecisionError::NotNewer {
                given: 1,
                current: 1
            }
        );
        let rejected = req
            .decide(reject(discount_step(), manager(), 1, "no"), &none(), at(1))
            .unwrap()
            .request;
        assert_eq!(
            rejected.supersede(2, at(2)).unwrap_err(),
            DecisionError::RequestClosed { status: "rejected" }
        );
    }

    #[test]
    fn a_request_round_trips_through_json() {
        let req = open_for(
            &[discount_policy(dec!(15)), total_policy(dec!(500))],
            &snapshot(|_| {}),
        );
        let d = req
            .decide(approve(discount_step(), manager(), 1), &none(), at(1))
            .unwrap();
        let json = serde_json::to_string(&d.request).unwrap();
        assert_eq!(
            serde_json::from_str::<ApprovalRequest>(&json).unwrap(),
            d.request
        );
    }
}
