//! Every approvals error a client can see, as problem+json.
//!
//! One function per domain error enum, each an exhaustive `match` without a
//! `_` arm: a new variant does not compile until someone decides its status,
//! code and the field it blames. Fields are JSON paths of the request
//! (`chain.levels[0].mode`, `snapshot.lines`, `comment`).
//!
//! Statuses: input that can never be valid is 422; a request that was
//! valid but meets the current state (a closed approval, an old version, a
//! second decision, an overlapping delegation) is 409; a principal who may
//! not decide a step (self-approval, not an approver) is 403.

use sales_domain::approvals::{
    ChainError, ConditionError, DecisionError, DelegationError, PolicyError, ReapprovalError,
    SnapshotError,
};
use sales_kit::ApiError;

fn invalid(field: impl Into<String>, e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_field(field, e.to_string())
}

fn conflict(code: &'static str, e: impl std::fmt::Display) -> ApiError {
    ApiError::conflict(code, e.to_string())
}

/// A condition refused; `at` is where the condition sits in the request
/// (the domain's paths start at `condition`).
pub fn condition(e: ConditionError, at: &str) -> ApiError {
    let path = |p: &str| match p.strip_prefix("condition") {
        Some(rest) => format!("{at}{rest}"),
        None => format!("{at}.{p}"),
    };
    match &e {
        ConditionError::Contradictory { path: p, .. } => ApiError::new(
            422,
            "contradictory_thresholds",
            "The condition's thresholds contradict each other",
            e.to_string(),
        )
        .with_field(path(p)),
        ConditionError::EmptyCombinator { path: p, .. }
        | ConditionError::TooDeep { path: p, .. }
        | ConditionError::EmptySet { path: p, .. }
        | ConditionError::OutOfRange { path: p, .. }
        | ConditionError::BadChannel { path: p, .. } => invalid(path(p), &e),
        ConditionError::TooLarge { .. } => invalid(at, &e),
    }
}

/// A chain refused; its level errors name `levels[n]`.
pub fn chain(e: ChainError) -> ApiError {
    let level = |n: &usize, leaf: &str| format!("chain.levels[{n}].{leaf}");
    match &e {
        ChainError::EmptyChain => ApiError::new(
            422,
            "empty_chain",
            "An approval chain needs at least one level",
            e.to_string(),
        )
        .with_field("chain.levels"),
        ChainError::TooManyLevels { .. } => invalid("chain.levels", &e),
        ChainError::BadName { level: n, .. } => invalid(level(n, "name"), &e),
        ChainError::NoApprovers { level: n } | ChainError::TooManyApprovers { level: n, .. } => {
            invalid(level(n, "approvers"), &e)
        }
        ChainError::ZeroOfM { level: n } | ChainError::MoreThanNamed { level: n, .. } => {
            invalid(level(n, "mode"), &e)
        }
        ChainError::BadEscalation { level: n, .. } => invalid(level(n, "escalation"), &e),
        ChainError::Condition { level: n, source } => {
            condition(source.clone(), &level(n, "condition"))
        }
        ChainError::UnknownApprover(_) => unknown_approver("chain", &e),
        ChainError::NoManager(_)
        | ChainError::NoTerritory
        | ChainError::NoTerritoryManager(_)
        | ChainError::NotEnoughApprovers { .. } => ApiError::new(
            422,
            "approvers_unavailable",
            "A level has nobody who may approve it",
            e.to_string(),
        )
        .with_field("chain"),
    }
}

/// An approver (or delegate) who is not an active principal.
pub fn unknown_approver(field: impl Into<String>, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        422,
        "unknown_approver",
        "The approver is not an active principal",
        e.to_string(),
    )
    .with_field(field)
}

pub fn policy(e: PolicyError) -> ApiError {
    match e {
        PolicyError::BadName(ref v) => invalid("name", v),
        PolicyError::ZeroRevision => invalid("revision", &e),
        PolicyError::NoDocumentKinds => invalid("applies_to", &e),
        PolicyError::Condition(c) => condition(c, "condition"),
        PolicyError::Chain(c) => chain(c),
        PolicyError::DuplicatePolicy(_) => ApiError::internal(e.to_string()),
    }
}

pub fn snapshot(e: SnapshotError, at: &str) -> ApiError {
    let field = |leaf: &str| format!("{at}.{leaf}");
    match &e {
        SnapshotError::ZeroVersion => invalid(field("version"), &e),
        SnapshotError::Channel(_) => invalid(field("channel"), &e),
        SnapshotError::NoLines | SnapshotError::TooManyLines { .. } => invalid(field("lines"), &e),
        SnapshotError::DuplicateLine(_) => invalid(field("lines"), &e),
        SnapshotError::CurrencyMismatch { field: f, .. } => ApiError::new(
            422,
            "currency_mismatch",
            "Amounts are in different currencies",
            e.to_string(),
        )
        .with_field(field(f)),
        SnapshotError::Negative { field: f }
        | SnapshotError::RepeatedAncestor { field: f }
        | SnapshotError::OutOfRange { field: f } => invalid(field(f), &e),
        SnapshotError::NonPositiveQuantity { .. } => invalid(field("lines"), &e),
        SnapshotError::InconsistentDiscount { .. } | SnapshotError::MarginTooHigh { .. } => {
            invalid(field("lines"), &e)
        }
    }
}

pub fn reapproval(e: ReapprovalError) -> ApiError {
    match &e {
        ReapprovalError::OtherDocument { .. } | ReapprovalError::NotOlder { .. } => {
            conflict("not_a_newer_version", &e)
        }
        ReapprovalError::NotApproved { .. }
        | ReapprovalError::VersionMismatch { .. }
        | ReapprovalError::LevelNotApproved(_)
        | ReapprovalError::RevisionChanged { .. }
        | ReapprovalError::ValuesWorse { .. } => conflict("not_approved", &e),
    }
}

pub fn decision(e: DecisionError) -> ApiError {
    match e {
        DecisionError::NothingToApprove => ApiError::new(
            422,
            "nothing_to_approve",
            "The document needs no approval",
            e.to_string(),
        )
        .with_field("snapshot"),
        DecisionError::Approvers { ref source, .. } => {
            let err = chain(source.clone());
            ApiError::new(
                err.status(),
                err.code(),
                "A level cannot be approved",
                e.to_string(),
            )
            .with_field("snapshot")
        }
        DecisionError::Prior(r) => reapproval(r),
        DecisionError::RequestClosed { .. } => conflict("approval_closed", &e),
        DecisionError::StaleVersion { .. } => {
            conflict("stale_document_version", &e).with_field("document_version")
        }
        DecisionError::NotNewer { .. } | DecisionError::PriorStillOpen { .. } => {
            conflict("not_a_newer_version", &e).with_field("snapshot.version")
        }
        DecisionError::UnknownStep(_) => invalid("step", &e),
        DecisionError::StepNotPending { .. } => conflict("step_not_pending", &e).with_field("step"),
        DecisionError::SelfApproval(_) => ApiError::new(
            403,
            "self_approval",
            "The submitter may not approve their own document",
            e.to_string(),
        ),
        DecisionError::NotAnApprover { .. } => ApiError::new(
            403,
            "not_an_approver",
            "Not an approver of this step",
            e.to_string(),
        ),
        DecisionError::AlreadyDecided { .. } => conflict("already_decided", &e),
        DecisionError::ReasonRequired => ApiError::new(
            422,
            "reason_required",
            "A rejection needs a reason",
            e.to_string(),
        )
        .with_field("comment"),
        DecisionError::BadComment(ref v) => invalid("comment", v),
    }
}

pub fn delegation(e: DelegationError) -> ApiError {
    match &e {
        DelegationError::SelfDelegation(_) => invalid("to", &e),
        DelegationError::EndsBeforeStart { .. } => invalid("ends", &e),
        DelegationError::Overlap { .. } => conflict("delegation_overlap", &e).with_field("starts"),
        DelegationError::Cycle(_) => conflict("delegation_cycle", &e).with_field("to"),
    }
}
