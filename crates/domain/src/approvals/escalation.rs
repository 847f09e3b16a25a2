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
//! Rules, per pending step with an [`super::Escalation`]:
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

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::approvals::fixtures::*;
    use crate::approvals::{
        evaluate, Approver, Condition, Delegations, Escalation, Mode, Outcome, Policy,
    };

    fn escalating(to: EscalationTarget, approvers: Vec<Approver>, mode: Mode) -> Policy {
        let mut l = level("Sales manager", approvers, mode);
        l.escalation = Some(Escalation {
            after_hours: 24,
            to,
        });
        policy(
            policy_discount(),
            Condition::MaxLineDiscount {
                over: dec!(15),
                up_to: None,
            },
            vec![l],
        )
    }

    fn up(fallback: Option<PrincipalId>) -> EscalationTarget {
        EscalationTarget::NextManagerUp { fallback }
    }

    fn open(p: Policy) -> ApprovalRequest {
        let required = evaluate(&[p], &snapshot(|_| {})).unwrap();
        ApprovalRequest::open(request_1(), &required, None, &directory(), at(0)).unwrap()
    }

    fn step() -> StepKey {
        key(policy_discount(), 1)
    }

    #[test]
    fn nothing_escalates_before_the_time_limit() {
        let req = open(escalating(
            up(None),
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        ));
        assert!(req.escalations_due(&directory(), at(23)).is_empty());
    }

    #[test]
    fn a_pending_level_escalates_to_the_next_manager_up_after_its_time_limit() {
        let req = open(escalating(
            up(None),
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        ));
        let (next, actions) = req.tick(&directory(), at(24));
        assert_eq!(
            actions,
            vec![EscalationAction {
                request: request_1(),
                document: req.document(),
                step: step(),
                due_at: at(24),
                escalate_to: Some(director()),
                notify: BTreeSet::from([manager(), director()]),
            }]
        );
        let s = next.step(step()).unwrap();
        assert_eq!(s.approvers(), &BTreeSet::from([manager(), director()]));
        assert_eq!(s.escalations().len(), 1);
    }

    #[test]
    fn tick_is_idempotent_for_the_same_now() {
        let req = open(escalating(
            up(None),
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        ));
        let d = directory();
        assert_eq!(
            req.escalations_due(&d, at(30)),
            req.escalations_due(&d, at(30))
        );
        let (once, actions) = req.tick(&d, at(30));
        assert_eq!(actions.len(), 1);
        let (twice, again) = once.tick(&d, at(30));
        assert!(again.is_empty());
        assert_eq!(twice, once);
    }

    #[test]
    fn each_further_time_limit_climbs_one_more_rung_then_the_fallback_then_reminders() {
        let req = open(escalating(
            up(Some(admin())),
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        ));
        let d = directory();
        let (r1, a1) = req.tick(&d, at(24));
        assert_eq!(a1[0].escalate_to, Some(director()));
        assert!(
            r1.escalations_due(&d, at(47)).is_empty(),
            "the clock restarted at the escalation"
        );
        let (r2, a2) = r1.tick(&d, at(48));
        assert_eq!(a2[0].escalate_to, Some(ceo()));
        let (r3, a3) = r2.tick(&d, at(72));
        assert_eq!(
            a3[0].escalate_to,
            Some(admin()),
            "the chain ran out: the fallback"
        );
        let (_, a4) = r3.tick(&d, at(96));
        assert_eq!(a4[0].escalate_to, None, "nobody left to add: a reminder");
        assert_eq!(
            a4[0].notify,
            BTreeSet::from([manager(), director(), ceo(), admin()])
        );
    }

    #[test]
    fn a_late_tick_escalates_one_rung_at_a_time() {
        let req = open(escalating(
            up(None),
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        ));
        let (next, actions) = req.tick(&directory(), at(24 * 5));
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].due_at, at(24));
        assert_eq!(
            next.step(step()).unwrap().escalated_to(),
            &BTreeSet::from([director()])
        );
    }

    #[test]
    fn escalation_to_a_named_fallback_principal() {
        let req = open(escalating(
            EscalationTarget::Principal {
                id: territory_boss(),
            },
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        ));
        let (_, actions) = req.tick(&directory(), at(24));
        assert_eq!(actions[0].escalate_to, Some(territory_boss()));
    }

    #[test]
    fn the_submitter_is_never_the_escalation_target() {
        let req = open(escalating(
            EscalationTarget::Principal { id: rep() },
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        ));
        let (_, actions) = req.tick(&directory(), at(24));
        assert_eq!(actions[0].escalate_to, None);
    }

    #[test]
    fn the_escalation_target_settles_a_level_that_needs_everyone() {
        let committee = vec![
            Approver::Principal { id: bob() },
            Approver::Principal { id: carol() },
        ];
        let req = open(escalating(up(None), committee, Mode::All));
        let (escalated, actions) = req.tick(&directory(), at(24));
        assert_eq!(actions[0].escalate_to, Some(manager()));
        assert_eq!(
            actions[0].notify,
            BTreeSet::from([bob(), carol(), manager()])
        );
        let d = escalated
            .decide(
                approve(step(), manager(), 1),
                &Delegations::default(),
                at(25),
            )
            .unwrap();
        assert_eq!(d.outcome, Outcome::Approved);
    }

    #[test]
    fn decided_and_unescalated_steps_do_not_escalate() {
        let d = directory();
        let plain = open(discount_policy(dec!(15)));
        assert!(
            plain.escalations_due(&d, at(1000)).is_empty(),
            "no escalation configured"
        );
        let req = open(escalating(
            up(None),
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        ));
        let approved = req
            .decide(
                approve(step(), manager(), 1),
                &Delegations::default(),
                at(1),
            )
            .unwrap()
            .request;
        assert!(approved.escalations_due(&d, at(1000)).is_empty());
    }
}
