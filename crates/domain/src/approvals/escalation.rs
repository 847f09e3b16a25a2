//! Escalation: a step pending longer than its level's time limit gets
//! another approver and a round of notifications.
//!
//! [`ApprovalRequest::escalations_due`] is a pure function of the request,
//! the directory and `now`: it lists the [`EscalationAction`]s to perform
//! and changes nothing. [`ApprovalRequest::tick`] returns the request with
//! those escalations recorded, plus the same actions. Because a recorded
//! escalation restarts the step's clock at `now`, ticking the updated
//! request again with the same `now` yields nothing: a replayed or
//! duplicated `tick` message escalates once.
//!
//! Rules, per pending step with an [`Escalation`]:
//! - the step is due when `now ≥ last escalation (or since) + after_hours`;
//!   at most one escalation per step per tick, so a tick that comes late
//!   climbs one rung, and the next rung follows `after_hours` later;
//! - the target is the next active manager up the *submitter's* management
//!   chain who is not already an approver of the step (then the fallback),
//!   or the named principal; never the submitter unless the policy allows
//!   self-approval;
//! - when there is nobody left to add, the action still reminds the
//!   current approvers (`escalate_to` is `None`);
//! - the target is notified along with every current approver who has not
//!   decided.
//!
//! An escalation target's approval or rejection settles the step alone
//! (see [`super::Step`]).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::chain::{Directory, EscalationTarget};
use super::decision::{ApprovalRequest, RequestStatus, Step, StepState};
use super::{DocumentRef, StepKey};
use crate::ids::{ApprovalRequestId, PrincipalId};

/// One escalation that happened, kept on the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationRecord {
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<PrincipalId>,
    pub notified: BTreeSet<PrincipalId>,
}

/// Something the periodic job must do: add an approver (if any) and
/// notify people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationAction {
    pub request: ApprovalRequestId,
    pub document: DocumentRef,
    pub step: StepKey,
    /// When the time limit ran out.
    pub due_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<PrincipalId>,
    pub notify: BTreeSet<PrincipalId>,
}

impl ApprovalRequest {
    /// The escalations due at `now`, in step order. Pure: same request,
    /// directory and `now` give the same actions.
    pub fn escalations_due(
        &self,
        directory: &Directory,
        now: DateTime<Utc>,
    ) -> Vec<EscalationAction> {
        if self.status != RequestStatus::Pending {
            return Vec::new();
        }
        self.steps
            .iter()
            .filter_map(|step| self.due(step, directory, now))
            .collect()
    }

    fn due(
        &self,
        step: &Step,
        directory: &Directory,
        now: DateTime<Utc>,
    ) -> Option<EscalationAction> {
        let StepState::Pending { since } = step.state else {
            return None;
        };
        let escalation = step.escalation?;
        let clock = step.escalations.last().map_or(since, |e| e.at);
        let due_at =
            clock.checked_add_signed(TimeDelta::hours(i64::from(escalation.after_hours)))?;
        if now < due_at {
            return None;
        }
        let eligible = |p: &PrincipalId| {
            directory.is_active(*p)
                && !step.approvers.contains(p)
                && (*p != self.submitted_by || step.allow_self_approval)
        };
        let escalate_to = match escalation.to {
            EscalationTarget::NextManagerUp { fallback } => directory
                .manager_chain(self.submitted_by)
                .into_iter()
                .find(|m| eligible(m))
                .or(fallback.filter(|f| eligible(f))),
            EscalationTarget::Principal { id } => Some(id).filter(|p| eligible(p)),
        };
        let decided: BTreeSet<PrincipalId> = step.votes.iter().map(|v| v.counts_for()).collect();
        let mut notify: BTreeSet<PrincipalId> =
            step.approvers.difference(&decided).copied().collect();
        notify.extend(escalate_to);
        Some(EscalationAction {
            request: self.id,
            document: self.document,
            step: step.key,
            due_at,
            escalate_to,
            notify,
        })
    }

    /// Performs the escalations due at `now`: returns the request with them
    /// recorded (new approvers added, clocks restarted at `now`) and the
    /// actions for the job to carry out (notifications).
    pub fn tick(
        &self,
        directory: &Directory,
        now: DateTime<Utc>,
    ) -> (ApprovalRequest, Vec<EscalationAction>) {
        let actions = self.escalations_due(directory, now);
        let mut next = self.clone();
        for action in &actions {
            if let Some(step) = next.steps.iter_mut().find(|s| s.key == action.step) {
                if let Some(to) = action.escalate_to {
                    step.approvers.insert(to);
                    step.escalated_to.insert(to);
                }
                step.escalations.push(EscalationRecord {
                    at: now,
                    to: action.escalate_to,
                    notified: action.notify.clone(),
                });
            }
        }
        (next, actions)
    }
}
