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
//!   ([`Observation::no_worse_than`]: lower total, discount, credit excess
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
