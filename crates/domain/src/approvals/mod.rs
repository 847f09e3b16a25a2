//! The approvals engine: when a quotation or order needs someone's approval,
//! whose, in which order, and what happens when they decide, delegate, sit
//! on it too long, or when the document changes after they approved.
//!
//! The pieces, in the order a document meets them:
//!
//! 1. [`snapshot`]: a [`DocumentSnapshot`] — the facts of one version of a
//!    quotation or order that policies test (totals, discounts, margins,
//!    pricing flags, credit position, terms, customer and item trees).
//! 2. [`condition`]: [`Condition`]s as data (thresholds, flags, trees,
//!    channels, `all` / `any`), validated into a [`CheckedCondition`];
//!    every leaf yields an [`Observation`] of the value it tested, and the
//!    observations of a level form its [`Fingerprint`] — "the values approved".
//! 3. [`policy`]: a [`Policy`] is a condition plus a [`Chain`];
//!    [`evaluate`] turns policies and a snapshot into [`RequiredApprovals`]:
//!    the levels that must approve, with reasons (condition, observed value,
//!    threshold), in a deterministic order.
//! 4. [`chain`]: ordered [`Level`]s, each with approvers (a role, named
//!    principals, the submitter's manager, the territory manager) resolved
//!    through a [`Directory`], and a [`Mode`] (any one, all, N of M).
//! 5. [`decision`]: an [`ApprovalRequest`] for one document version; its
//!    steps move `waiting → pending → approved | rejected`, each decision an
//!    immutable [`DecisionRecord`]. Self-approval, deciding twice, deciding
//!    a closed request or an old version are typed errors.
//! 6. [`delegation`]: [`Delegations`] — who acts for whom on which days.
//! 7. [`escalation`]: [`ApprovalRequest::tick`] — pending steps past their
//!    time limit escalate up the management chain or to a fallback.
//! 8. [`reapproval`]: smart re-approval — when a document changes, only the
//!    levels whose tested values got worse for the company approve again,
//!    and [`ApprovalRequest::authorizes`] is the gate an order passes
//!    before it is confirmed.
//!
//! What it deliberately does not do: I/O, clocks, randomness. Callers pass
//! `now`, request ids, the directory of people and the delegations; they
//! store the requests and records this module returns. Outputs never depend
//! on hash-map iteration order: every collection in them is a `Vec` in a
//! documented order or a `BTreeMap`/`BTreeSet`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{ApprovalPolicyId, OrderId, QuotationId};

pub mod chain;
pub mod condition;
pub mod decision;
pub mod delegation;
pub mod escalation;
pub mod policy;
pub mod reapproval;
pub mod snapshot;

pub use chain::{
    resolve_approvers, Approver, Chain, ChainError, ChainSpec, Directory, Escalation,
    EscalationTarget, Level, LevelSpec, Mode, Resolved,
};
pub use condition::{
    AmountBand, CheckedCondition, Condition, ConditionError, Fingerprint, LineFacts, Observation,
    Reason,
};
pub use decision::{
    Approval, ApprovalRequest, Decided, DecisionError, DecisionInput, DecisionRecord, Outcome,
    RequestStatus, Step, StepState, Verdict, Vote,
};
pub use delegation::{Delegation, DelegationError, DelegationInput, Delegations};
pub use escalation::{EscalationAction, EscalationRecord};
pub use policy::{evaluate, Policy, PolicyError, PolicySpec, RequiredApprovals, RequiredLevel};
pub use reapproval::{
    plan_reapproval, worsened, Change, PlannedStep, ReapprovalError, ReapprovalPlan, StepPlan,
};
pub use snapshot::{
    CustomerFacts, DocumentSnapshot, DocumentSnapshotInput, PricingFlagKind, SnapshotError,
    SnapshotLine, SnapshotLineInput,
};

/// Whether a document is a quotation or a sales order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Quotation,
    Order,
}

/// Which document: its kind and id in one value, so a quotation id can
/// never be mistaken for an order id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum DocumentId {
    Quotation(QuotationId),
    Order(OrderId),
}

impl DocumentId {
    pub fn kind(&self) -> DocumentKind {
        match self {
            DocumentId::Quotation(_) => DocumentKind::Quotation,
            DocumentId::Order(_) => DocumentKind::Order,
        }
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentId::Quotation(id) => write!(f, "quotation {id}"),
            DocumentId::Order(id) => write!(f, "order {id}"),
        }
    }
}

/// One version of one document. Versions start at 1 and grow with every
/// change of the document (the store's optimistic-concurrency `version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRef {
    pub document: DocumentId,
    pub version: u32,
}

impl fmt::Display for DocumentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{}", self.document, self.version)
    }
}

/// Names one level of one policy's chain: the unit that approves. Levels
/// are numbered from 1 in chain order. Steps sort by policy id, then level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepKey {
    pub policy: ApprovalPolicyId,
    pub level: u16,
}

impl fmt::Display for StepKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy {} level {}", self.policy, self.level)
    }
}

/// The body of a decision, `POST /api/v1/approvals/{id}/approve|reject`
/// and the same from the document (`POST /api/v1/orders/{id}/approve|reject`,
/// `/quotations/...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The document version the approver looked at; a decision on another
    /// version is refused.
    pub document_version: u32,
    /// Which step; may be left out when the caller has exactly one pending
    /// step on the request.
    #[serde(default)]
    pub step: Option<StepKey>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod scenario_tests;
