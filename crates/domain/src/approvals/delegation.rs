//! Delegation: an approver away from the office names someone to decide
//! in their place for a range of days.
//!
//! A [`Delegation`] runs from `starts` to `ends`, both inclusive, in UTC
//! days. [`Delegations`] is the validated set the caller loads: nobody
//! delegates to themselves, one approver has at most one delegation on any
//! day (overlaps are refused, so "who acts for Ann today" has one answer),
//! and no chain of delegations leads back to where it started on a day
//! they share (a cycle would leave nobody actually deciding).
//!
//! Delegation is transitive within a day: if Ann delegates to Bob and Bob,
//! away the same day, delegates to Carol, Carol may act for Ann. The
//! original approver keeps the right to decide. A decision by a delegate
//! records both people (see [`super::DecisionRecord`]).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::PrincipalId;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DelegationError {
    #[error("{0} cannot delegate to themselves")]
    SelfDelegation(PrincipalId),
    #[error("a delegation cannot end ({ends}) before it starts ({starts})")]
    EndsBeforeStart { starts: NaiveDate, ends: NaiveDate },
    #[error("{from} already delegates from {starts} to {ends}, which overlaps")]
    Overlap {
        from: PrincipalId,
        starts: NaiveDate,
        ends: NaiveDate,
    },
    #[error("delegations would form a cycle: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" → "))]
    Cycle(Vec<PrincipalId>),
}

/// The wire shape of a delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationInput {
    pub from: PrincipalId,
    pub to: PrincipalId,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

/// `from` lets `to` decide in their place from `starts` to `ends`
/// (inclusive). Invariants: `from != to`, `starts <= ends`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "DelegationInput", into = "DelegationInput")]
pub struct Delegation {
    // Field order is the sort order: by delegator, then start.
    from: PrincipalId,
    starts: NaiveDate,
    ends: NaiveDate,
    to: PrincipalId,
}

impl Delegation {
    pub fn new(
        from: PrincipalId,
        to: PrincipalId,
        starts: NaiveDate,
        ends: NaiveDate,
    ) -> Result<Delegation, DelegationError> {
        if from == to {
            return Err(DelegationError::SelfDelegation(from));
        }
        if ends < starts {
            return Err(DelegationError::EndsBeforeStart { starts, ends });
        }
        Ok(Delegation {
            from,
            starts,
            ends,
            to,
        })
    }

    pub fn from(&self) -> PrincipalId {
        self.from
    }
    pub fn to(&self) -> PrincipalId {
        self.to
    }
    pub fn starts(&self) -> NaiveDate {
        self.starts
    }
    pub fn ends(&self) -> NaiveDate {
        self.ends
    }
    pub fn is_active_on(&self, day: NaiveDate) -> bool {
        self.starts <= day && day <= self.ends
    }
    fn overlaps(&self, starts: NaiveDate, ends: NaiveDate) -> bool {
        self.starts <= ends && starts <= self.ends
    }
}

impl TryFrom<DelegationInput> for Delegation {
    type Error = DelegationError;
    fn try_from(i: DelegationInput) -> Result<Delegation, DelegationError> {
        Delegation::new(i.from, i.to, i.starts, i.ends)
    }
}

impl From<Delegation> for DelegationInput {
    fn from(d: Delegation) -> DelegationInput {
        DelegationInput {
            from: d.from,
            to: d.to,
            starts: d.starts,
            ends: d.ends,
        }
    }
}

/// A validated set of delegations, sorted by delegator and start day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Delegation>", into = "Vec<Delegation>")]
pub struct Delegations(Vec<Delegation>);

impl Delegations {
    /// Adds each delegation in turn with [`Delegations::with`].
    pub fn new(delegations: impl IntoIterator<Item = Delegation>) -> Result<Self, DelegationError> {
        delegations
            .into_iter()
            .try_fold(Delegations::default(), |set, d| set.with(d))
    }

    /// The set plus `d`, unless `d` overlaps another delegation of the same
    /// approver or closes a cycle on some day.
    pub fn with(&self, d: Delegation) -> Result<Delegations, DelegationError> {
        if let Some(o) = self
            .0
            .iter()
            .find(|o| o.from == d.from && o.overlaps(d.starts, d.ends))
        {
            return Err(DelegationError::Overlap {
                from: o.from,
                starts: o.starts,
                ends: o.ends,
            });
        }
        let mut path = vec![d.from, d.to];
        if self.leads_back(d.to, d.from, d.starts, d.ends, &mut path) {
            return Err(DelegationError::Cycle(path));
        }
        let mut list = self.0.clone();
        list.push(d);
        list.sort();
        Ok(Delegations(list))
    }

    /// Whether delegations starting at `at` and all sharing a day within
    /// `starts..=ends` reach `target`; `path` ends with the cycle found.
    fn leads_back(
        &self,
        at: PrincipalId,
        target: PrincipalId,
        starts: NaiveDate,
        ends: NaiveDate,
        path: &mut Vec<PrincipalId>,
    ) -> bool {
        for next in self
            .0
            .iter()
            .filter(|n| n.from == at && n.overlaps(starts, ends))
        {
            // Intervals that pairwise share days share a common day, so the
            // running intersection is exactly "a day the whole chain shares".
            let (s, e) = (starts.max(next.starts), ends.min(next.ends));
            path.push(next.to);
            if next.to == target {
                return true;
            }
            // The path cannot revisit anyone but `target` without first
            // passing a cycle that the earlier insertions already refused.
            if !path[..path.len() - 1].contains(&next.to)
                && self.leads_back(next.to, target, s, e, path)
            {
                return true;
            }
            path.pop();
        }
        false
    }

    pub fn iter(&self) -> impl Iterator<Item = &Delegation> {
        self.0.iter()
    }

    /// Who may act for `approver` on `day`, nearest first: their delegate,
    /// that delegate's delegate, and so on.
    pub fn delegates_of(&self, approver: PrincipalId, day: NaiveDate) -> Vec<PrincipalId> {
        let mut seen = BTreeSet::from([approver]);
        let mut chain = Vec::new();
        let mut current = approver;
        while let Some(d) = self
            .0
            .iter()
            .find(|d| d.from == current && d.is_active_on(day))
        {
            if !seen.insert(d.to) {
                break;
            }
            chain.push(d.to);
            current = d.to;
        }
        chain
    }

    /// Whether `delegate` may act for `approver` on `day`.
    pub fn acts_for(&self, delegate: PrincipalId, approver: PrincipalId, day: NaiveDate) -> bool {
        self.delegates_of(approver, day).contains(&delegate)
    }
}

impl TryFrom<Vec<Delegation>> for Delegations {
    type Error = DelegationError;
    fn try_from(list: Vec<Delegation>) -> Result<Delegations, DelegationError> {
        Delegations::new(list)
    }
}

impl From<Delegations> for Vec<Delegation> {
    fn from(d: Delegations) -> Vec<Delegation> {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::fixtures::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn deleg(from: PrincipalId, to: PrincipalId, s: u32, e: u32) -> Delegation {
        Delegation::new(from, to, day(s), day(e)).unwrap()
    }

    #[test]
    fn delegating_to_yourself_is_refused() {
        assert_eq!(
            Delegation::new(manager(), manager(), day(1), day(2)),
            Err(DelegationError::SelfDelegation(manager()))
        );
    }

    #[test]
    fn a_delegation_ending_before_it_starts_is_refused() {
        assert!(matches!(
            Delegation::new(manager(), bob(), day(5), day(4)),
            Err(DelegationError::EndsBeforeStart { .. })
        ));
    }

    #[test]
    fn overlapping_delegations_of_one_approver_are_refused() {
        let set = Delegations::new([deleg(manager(), bob(), 1, 10)]).unwrap();
        assert_eq!(
            set.with(deleg(manager(), carol(), 10, 12)),
            Err(DelegationError::Overlap {
                from: manager(),
                starts: day(1),
                ends: day(10)
            })
        );
        // Back to back is fine; so is someone else delegating the same days.
        let set = set.with(deleg(manager(), carol(), 11, 12)).unwrap();
        set.with(deleg(director(), carol(), 1, 12)).unwrap();
    }

    #[test]
    fn a_cycle_on_a_shared_day_is_refused() {
        let set = Delegations::new([deleg(manager(), bob(), 1, 10), deleg(bob(), carol(), 5, 15)])
            .unwrap();
        assert_eq!(
            set.with(deleg(carol(), manager(), 8, 20)),
            Err(DelegationError::Cycle(vec![
                carol(),
                manager(),
                bob(),
                carol()
            ]))
        );
        assert!(matches!(
            set.with(deleg(bob(), manager(), 1, 1)),
            Err(DelegationError::Overlap { .. }) | Err(DelegationError::Cycle(_))
        ));
        // The same people on days the chain does not share is no cycle:
        // days 1..10 and 5..15 share 5..10; 11..20 is outside it.
        set.with(deleg(carol(), manager(), 11, 20)).unwrap();
    }

    #[test]
    fn delegates_act_only_within_their_days_and_transitively() {
        let set = Delegations::new([deleg(manager(), bob(), 1, 10), deleg(bob(), carol(), 5, 15)])
            .unwrap();
        assert_eq!(set.delegates_of(manager(), day(3)), vec![bob()]);
        assert_eq!(set.delegates_of(manager(), day(7)), vec![bob(), carol()]);
        assert!(set.acts_for(carol(), manager(), day(7)));
        assert!(!set.acts_for(carol(), manager(), day(3)));
        assert!(!set.acts_for(bob(), manager(), day(11)));
    }

    #[test]
    fn delegations_read_from_json_with_validation() {
        let ok = format!(
            r#"[{{"from":"{}","to":"{}","starts":"2026-03-01","ends":"2026-03-05"}}]"#,
            manager(),
            bob()
        );
        let set: Delegations = serde_json::from_str(&ok).unwrap();
        assert_eq!(set.iter().count(), 1);
        let selfish = format!(
            r#"[{{"from":"{}","to":"{}","starts":"2026-03-01","ends":"2026-03-05"}}]"#,
            bob(),
            bob()
        );
        assert!(serde_json::from_str::<Delegations>(&selfish).is_err());
    }
}
