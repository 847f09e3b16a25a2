//! Chains: who approves, in which order, and how many of them.
//!
//! A [`Chain`] is an ordered list of [`Level`]s. Level 2 starts only when
//! level 1 has approved (levels of *different* policies run in parallel).
//! A level names its approvers as [`Approver`] rules — a role, a named
//! principal, the submitter's manager, the territory manager — and a
//! [`Mode`]: any one of them, all of them, or N of them (a committee). A
//! level may carry its own condition (tiers: "over 25% also needs the
//! director") and an [`Escalation`] (pending longer than `after_hours` →
//! someone else is added).
//!
//! People are not looked up here: the caller fills a [`Directory`] (active
//! principals, role members, who manages whom, territory managers) and
//! [`resolve_approvers`] turns rules into principals. The submitter never
//! approves their own document unless the policy allows self-approval.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::condition::{CheckedCondition, Condition, ConditionError};
use crate::auth::Role;
use crate::catalog::{required_text, ValidationError, NAME_MAX};
use crate::ids::{PrincipalId, TerritoryId};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    #[error("a chain needs at least one level")]
    EmptyChain,
    #[error("a chain has at most {max} levels")]
    TooManyLevels { max: usize },
    #[error("levels[{level}].name: {source}")]
    BadName {
        level: usize,
        source: ValidationError,
    },
    #[error("levels[{level}]: a level needs at least one approver")]
    NoApprovers { level: usize },
    #[error("levels[{level}]: at most {max} approver rules")]
    TooManyApprovers { level: usize, max: usize },
    #[error("levels[{level}].mode: N of M needs N of at least 1")]
    ZeroOfM { level: usize },
    #[error("levels[{level}].mode: needs {n} approvals but names only {named} approvers")]
    MoreThanNamed { level: usize, n: u16, named: usize },
    #[error("levels[{level}].escalation: {detail}")]
    BadEscalation { level: usize, detail: String },
    #[error("levels[{level}].condition: {source}")]
    Condition {
        level: usize,
        source: ConditionError,
    },
    #[error("unknown approver {0}")]
    UnknownApprover(PrincipalId),
    #[error("{0} has no active manager")]
    NoManager(PrincipalId),
    #[error("the document has no territory, so there is no territory manager")]
    NoTerritory,
    #[error("territory {0} has no active manager")]
    NoTerritoryManager(TerritoryId),
    #[error("needs {needed} approvers but only {available} are eligible (the submitter cannot approve their own document)")]
    NotEnoughApprovers { needed: usize, available: usize },
}

/// Who may approve a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Approver {
    /// Every active principal with the role.
    Role { role: Role },
    /// One named principal.
    Principal { id: PrincipalId },
    /// The submitter's manager (the nearest active one up the hierarchy).
    SubmitterManager,
    /// The manager of the customer's territory.
    TerritoryManager,
}

/// How many of a level's approvers must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Mode {
    /// The first decision settles the level, approve or reject.
    AnyOne,
    /// Every approver must approve; one rejection rejects.
    All,
    /// A committee: `n` approvals settle it; it is rejected as soon as
    /// enough have rejected that `n` approvals can no longer be reached.
    NOf { n: u16 },
}

/// Where a level that waits too long goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EscalationTarget {
    /// The next manager up the submitter's management chain who is not yet
    /// an approver of the level; `fallback` when the chain runs out.
    NextManagerUp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<PrincipalId>,
    },
    /// A named principal.
    Principal { id: PrincipalId },
}

/// A time limit and where to escalate after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Hours a level may stay pending before (each further) escalation.
    pub after_hours: u32,
    pub to: EscalationTarget,
}

impl Escalation {
    /// A year: the longest time limit.
    pub const MAX_HOURS: u32 = 24 * 366;
}

/// The wire shape of a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    pub name: String,
    /// Only required when this also triggers (besides the policy's condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    pub approvers: Vec<Approver>,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
}

/// A validated level: a name, at least one approver rule (duplicates
/// removed), a mode that can be met by the named approvers, an escalation
/// with a time limit of 1 hour to a year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LevelSpec", into = "LevelSpec")]
pub struct Level {
    name: String,
    condition: Option<CheckedCondition>,
    approvers: Vec<Approver>,
    mode: Mode,
    escalation: Option<Escalation>,
}

impl Level {
    /// Most approver rules per level.
    pub const MAX_APPROVERS: usize = 100;

    /// Validates `spec` as the level at index `index` (for error paths).
    pub fn new(index: usize, spec: LevelSpec) -> Result<Level, ChainError> {
        let name =
            required_text("name", &spec.name, NAME_MAX).map_err(|source| ChainError::BadName {
                level: index,
                source,
            })?;
        if spec.approvers.is_empty() {
            return Err(ChainError::NoApprovers { level: index });
        }
        if spec.approvers.len() > Self::MAX_APPROVERS {
            return Err(ChainError::TooManyApprovers {
                level: index,
                max: Self::MAX_APPROVERS,
            });
        }
        let mut approvers = Vec::with_capacity(spec.approvers.len());
        for a in spec.approvers {
            if !approvers.contains(&a) {
                approvers.push(a);
            }
        }
        check_mode(index, spec.mode, &approvers)?;
        if let Some(e) = &spec.escalation {
            if e.after_hours == 0 || e.after_hours > Escalation::MAX_HOURS {
                return Err(ChainError::BadEscalation {
                    level: index,
                    detail: format!(
                        "after_hours must be between 1 and {} (got {})",
                        Escalation::MAX_HOURS,
                        e.after_hours
                    ),
                });
            }
        }
        let condition = spec
            .condition
            .map(|c| CheckedCondition::new_at(c, &format!("levels[{index}].condition")))
            .transpose()
            .map_err(|source| ChainError::Condition {
                level: index,
                source,
            })?;
        Ok(Level {
            name,
            condition,
            approvers,
            mode: spec.mode,
            escalation: spec.escalation,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn condition(&self) -> Option<&CheckedCondition> {
        self.condition.as_ref()
    }
    pub fn approvers(&self) -> &[Approver] {
        &self.approvers
    }
    pub fn mode(&self) -> Mode {
        self.mode
    }
    pub fn escalation(&self) -> Option<Escalation> {
        self.escalation
    }

    pub fn to_spec(&self) -> LevelSpec {
        LevelSpec {
            name: self.name.clone(),
            condition: self.condition.clone().map(Condition::from),
            approvers: self.approvers.clone(),
            mode: self.mode,
            escalation: self.escalation,
        }
    }
}

fn check_mode(index: usize, mode: Mode, approvers: &[Approver]) -> Result<(), ChainError> {
    if let Mode::NOf { n } = mode {
        if n == 0 {
            return Err(ChainError::ZeroOfM { level: index });
        }
        // When every approver is named, the size of the committee is known
        // now: "3 of these 2 people" can never be met.
        let all_named = approvers
            .iter()
            .all(|a| matches!(a, Approver::Principal { .. }));
        if all_named && usize::from(n) > approvers.len() {
            return Err(ChainError::MoreThanNamed {
                level: index,
                n,
                named: approvers.len(),
            });
        }
    }
    Ok(())
}

impl TryFrom<LevelSpec> for Level {
    type Error = ChainError;
    fn try_from(spec: LevelSpec) -> Result<Level, ChainError> {
        Level::new(0, spec)
    }
}

impl From<Level> for LevelSpec {
    fn from(level: Level) -> LevelSpec {
        level.to_spec()
    }
}

/// The wire shape of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    pub levels: Vec<LevelSpec>,
}

/// A validated, non-empty chain of at most [`Chain::MAX_LEVELS`] levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ChainSpec", into = "ChainSpec")]
pub struct Chain {
    levels: Vec<Level>,
}

impl Chain {
    pub const MAX_LEVELS: usize = 20;

    pub fn new(spec: ChainSpec) -> Result<Chain, ChainError> {
        if spec.levels.is_empty() {
            return Err(ChainError::EmptyChain);
        }
        if spec.levels.len() > Self::MAX_LEVELS {
            return Err(ChainError::TooManyLevels {
                max: Self::MAX_LEVELS,
            });
        }
        let levels = spec
            .levels
            .into_iter()
            .enumerate()
            .map(|(i, l)| Level::new(i, l))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Chain { levels })
    }

    /// The levels in order; level number `k` is `levels()[k - 1]`.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    pub fn to_spec(&self) -> ChainSpec {
        ChainSpec {
            levels: self.levels.iter().map(Level::to_spec).collect(),
        }
    }
}

impl TryFrom<ChainSpec> for Chain {
    type Error = ChainError;
    fn try_from(spec: ChainSpec) -> Result<Chain, ChainError> {
        Chain::new(spec)
    }
}

impl From<Chain> for ChainSpec {
    fn from(chain: Chain) -> ChainSpec {
        chain.to_spec()
    }
}

/// The people approvals need to know about, filled by the caller from the
/// catalog (API keys and roles) and the team hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Every active principal. Anyone else is never an approver.
    #[serde(default)]
    pub principals: BTreeSet<PrincipalId>,
    /// Members of each role.
    #[serde(default)]
    pub roles: BTreeMap<Role, BTreeSet<PrincipalId>>,
    /// Each principal's manager.
    #[serde(default)]
    pub managers: BTreeMap<PrincipalId, PrincipalId>,
    /// Each territory's manager.
    #[serde(default)]
    pub territory_managers: BTreeMap<TerritoryId, PrincipalId>,
}

impl Directory {
    pub fn is_active(&self, p: PrincipalId) -> bool {
        self.principals.contains(&p)
    }

    /// `of`'s active managers, nearest first. Inactive managers are
    /// skipped (their manager takes over); a loop in the data ends the walk.
    pub fn manager_chain(&self, of: PrincipalId) -> Vec<PrincipalId> {
        let mut seen = BTreeSet::from([of]);
        let mut chain = Vec::new();
        let mut current = of;
        while let Some(&m) = self.managers.get(&current) {
            if !seen.insert(m) {
                break;
            }
            if self.is_active(m) {
                chain.push(m);
            }
            current = m;
        }
        chain
    }
}

/// The principals of a level and how many approvals it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub approvers: BTreeSet<PrincipalId>,
    pub needed: usize,
}

/// Turns approver rules into principals. The submitter is left out unless
/// `allow_self_approval`; if that leaves fewer than the mode needs, the
/// level cannot be met and the error says so (rather than creating a
/// request nobody may decide).
pub fn resolve_approvers(
    rules: &[Approver],
    mode: Mode,
    submitter: PrincipalId,
    territory: Option<TerritoryId>,
    allow_self_approval: bool,
    directory: &Directory,
) -> Result<Resolved, ChainError> {
    let mut approvers = BTreeSet::new();
    for rule in rules {
        match rule {
            Approver::Role { role } => {
                if let Some(members) = directory.roles.get(role) {
                    approvers.extend(members.iter().filter(|p| directory.is_active(**p)));
                }
            }
            Approver::Principal { id } => {
                if !directory.is_active(*id) {
                    return Err(ChainError::UnknownApprover(*id));
                }
                approvers.insert(*id);
            }
            Approver::SubmitterManager => {
                let m = directory
                    .manager_chain(submitter)
                    .first()
                    .copied()
                    .ok_or(ChainError::NoManager(submitter))?;
                approvers.insert(m);
            }
            Approver::TerritoryManager => {
                let t = territory.ok_or(ChainError::NoTerritory)?;
                let m = directory
                    .territory_managers
                    .get(&t)
                    .copied()
                    .filter(|m| directory.is_active(*m))
                    .ok_or(ChainError::NoTerritoryManager(t))?;
                approvers.insert(m);
            }
        }
    }
    if !allow_self_approval {
        approvers.remove(&submitter);
    }
    let needed = match mode {
        Mode::AnyOne => 1,
        Mode::All => approvers.len().max(1),
        Mode::NOf { n } => usize::from(n).max(1),
    };
    if approvers.len() < needed {
        return Err(ChainError::NotEnoughApprovers {
            needed,
            available: approvers.len(),
        });
    }
    Ok(Resolved { approvers, needed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::fixtures::*;

    fn level(approvers: Vec<Approver>, mode: Mode) -> LevelSpec {
        LevelSpec {
            name: "Manager".into(),
            condition: None,
            approvers,
            mode,
            escalation: None,
        }
    }

    #[test]
    fn an_empty_chain_is_refused() {
        assert_eq!(
            Chain::new(ChainSpec { levels: vec![] }),
            Err(ChainError::EmptyChain)
        );
    }

    #[test]
    fn a_level_without_approvers_is_refused() {
        let spec = ChainSpec {
            levels: vec![level(vec![], Mode::AnyOne)],
        };
        assert_eq!(Chain::new(spec), Err(ChainError::NoApprovers { level: 0 }));
    }

    #[test]
    fn three_of_two_named_approvers_is_refused() {
        let named = vec![
            Approver::Principal { id: bob() },
            Approver::Principal { id: carol() },
        ];
        let spec = ChainSpec {
            levels: vec![level(named, Mode::NOf { n: 3 })],
        };
        assert_eq!(
            Chain::new(spec),
            Err(ChainError::MoreThanNamed {
                level: 0,
                n: 3,
                named: 2
            })
        );
    }

    #[test]
    fn zero_of_m_is_refused() {
        let spec = ChainSpec {
            levels: vec![level(vec![Approver::SubmitterManager], Mode::NOf { n: 0 })],
        };
        assert_eq!(Chain::new(spec), Err(ChainError::ZeroOfM { level: 0 }));
    }

    #[test]
    fn a_zero_hour_escalation_is_refused() {
        let mut l = level(vec![Approver::SubmitterManager], Mode::AnyOne);
        l.escalation = Some(Escalation {
            after_hours: 0,
            to: EscalationTarget::NextManagerUp { fallback: None },
        });
        assert!(matches!(
            Chain::new(ChainSpec { levels: vec![l] }),
            Err(ChainError::BadEscalation { level: 0, .. })
        ));
    }

    #[test]
    fn a_blank_level_name_is_refused() {
        let mut l = level(vec![Approver::SubmitterManager], Mode::AnyOne);
        l.name = "  ".into();
        assert!(matches!(
            Chain::new(ChainSpec { levels: vec![l] }),
            Err(ChainError::BadName { level: 0, .. })
        ));
    }

    #[test]
    fn roles_named_people_and_managers_resolve_through_the_directory() {
        let d = directory();
        let r = resolve_approvers(
            &[
                Approver::Role { role: Role::Admin },
                Approver::SubmitterManager,
                Approver::TerritoryManager,
            ],
            Mode::All,
            rep(),
            Some(t_north()),
            false,
            &d,
        )
        .unwrap();
        assert_eq!(
            r.approvers,
            BTreeSet::from([manager(), admin(), territory_boss()])
        );
        assert_eq!(r.needed, 3);
    }

    #[test]
    fn an_unknown_named_approver_is_refused() {
        let stranger = pid(99);
        assert_eq!(
            resolve_approvers(
                &[Approver::Principal { id: stranger }],
                Mode::AnyOne,
                rep(),
                None,
                false,
                &directory()
            ),
            Err(ChainError::UnknownApprover(stranger))
        );
    }

    #[test]
    fn a_missing_territory_or_manager_is_a_typed_error() {
        let d = directory();
        assert_eq!(
            resolve_approvers(
                &[Approver::TerritoryManager],
                Mode::AnyOne,
                rep(),
                None,
                false,
                &d
            ),
            Err(ChainError::NoTerritory)
        );
        assert_eq!(
            resolve_approvers(
                &[Approver::SubmitterManager],
                Mode::AnyOne,
                ceo(),
                None,
                false,
                &d
            ),
            Err(ChainError::NoManager(ceo()))
        );
    }

    #[test]
    fn the_submitter_is_not_an_approver_of_their_own_document() {
        let d = directory();
        // manager() is in the manager role; submitting themselves, the other
        // member (director()) remains.
        let r = resolve_approvers(
            &[Approver::Role {
                role: Role::Manager,
            }],
            Mode::AnyOne,
            manager(),
            None,
            false,
            &d,
        )
        .unwrap();
        assert_eq!(r.approvers, BTreeSet::from([director()]));
        let r = resolve_approvers(
            &[Approver::Role {
                role: Role::Manager,
            }],
            Mode::AnyOne,
            manager(),
            None,
            true,
            &d,
        )
        .unwrap();
        assert_eq!(r.approvers, BTreeSet::from([manager(), director()]));
        assert_eq!(
            resolve_approvers(
                &[Approver::Role {
                    role: Role::Manager
                }],
                Mode::All,
                manager(),
                None,
                false,
                &d
            )
            .unwrap()
            .needed,
            1
        );
        assert_eq!(
            resolve_approvers(
                &[Approver::Principal { id: rep() }],
                Mode::AnyOne,
                rep(),
                None,
                false,
                &d
            ),
            Err(ChainError::NotEnoughApprovers {
                needed: 1,
                available: 0
            })
        );
    }

    #[test]
    fn a_committee_larger_than_the_role_cannot_be_met() {
        assert_eq!(
            resolve_approvers(
                &[Approver::Role {
                    role: Role::Manager
                }],
                Mode::NOf { n: 3 },
                rep(),
                None,
                false,
                &directory()
            ),
            Err(ChainError::NotEnoughApprovers {
                needed: 3,
                available: 2
            })
        );
    }

    #[test]
    fn inactive_managers_are_skipped_and_loops_end_the_walk() {
        let mut d = directory();
        d.principals.remove(&manager());
        assert_eq!(d.manager_chain(rep()), vec![director(), ceo()]);
        d.managers.insert(ceo(), rep());
        assert_eq!(d.manager_chain(rep()), vec![director(), ceo()]);
    }

    #[test]
    fn levels_read_from_json() {
        let l: Level = serde_json::from_str(
            r#"{"name":"Committee","approvers":[{"type":"role","role":"manager"},{"type":"submitter_manager"}],
                "mode":{"type":"n_of","n":2},
                "escalation":{"after_hours":24,"to":{"type":"next_manager_up"}}}"#,
        )
        .unwrap();
        assert_eq!(l.mode(), Mode::NOf { n: 2 });
        assert!(serde_json::from_str::<Level>(
            r#"{"name":"x","approvers":[],"mode":{"type":"any_one"}}"#
        )
        .is_err());
    }
}
