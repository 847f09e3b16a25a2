//! Evaluation, approval requests and decisions:
//! `POST /api/v1/approvals/evaluate` (no side effects),
//! `POST /api/v1/approval-requests` (open a request for a document
//! snapshot; a newer version supersedes the previous request and smart
//! re-approval keeps the levels whose values did not get worse),
//! `GET /api/v1/approvals` (the inbox with `assignee=me&status=pending`),
//! `GET /api/v1/approvals/{id}`, `POST /api/v1/approvals/{id}/approve|reject`,
//! and `POST /api/v1/approvals/tick` (escalation, for the periodic job).
//! A decision is [`record_decision`], which the WIT `decide` runs too.
//!
//! Lists, reads and decisions respect the caller's record visibility
//! (`sales_store::visibility`): a request is seen when its document is, or
//! when the caller submitted it, decided on it or is asked for it; any
//! other id is a 404 like an unknown one.

use sales_domain::approvals::{
    evaluate as evaluate_policies, ApprovalRequest, DecisionBody, DecisionInput, DocumentId,
    DocumentSnapshot, DocumentSnapshotInput, RequiredApprovals, StepKey, StepState, Verdict,
};
use sales_domain::auth::{Action, Role};
use sales_domain::ids::{ApprovalRequestId, OrderId, PrincipalId, QuotationId};
use sales_kit::auth::{require, Principal};
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::approvals::{delegations, escalation, events, policies, requests};
use sales_store::{visibility, Db};
use serde::Deserialize;

use crate::wire::{page, path_id, record, store_page};
use crate::{directory, errors, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotBody {
    snapshot: DocumentSnapshotInput,
}

/// A tick has no options yet: `{}` (the clock is the server's).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TickBody {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    /// `me` or a principal id: requests with a pending step that principal
    /// may decide now (as an approver or a delegate).
    assignee: Option<String>,
    status: Option<String>,
    document_kind: Option<String>,
    document_id: Option<String>,
    submitted_by: Option<PrincipalId>,
}

pub(crate) fn snapshot(input: DocumentSnapshotInput) -> Result<DocumentSnapshot, ApiError> {
    DocumentSnapshot::new(input).map_err(|e| errors::snapshot(e, "snapshot"))
}

/// The levels `snapshot` needs under the active policies.
pub(crate) fn required(
    db: &impl Db,
    snapshot: &DocumentSnapshot,
) -> Result<RequiredApprovals, ApiError> {
    let policies = policies::all_active(db)?;
    evaluate_policies(&policies, snapshot).map_err(errors::policy)
}

/// The evaluation as the HTTP API answers it: the required levels plus
/// `approval_required`.
pub(crate) fn evaluation_json(required: &RequiredApprovals) -> Result<serde_json::Value, ApiError> {
    let mut value = serde_json::to_value(required)
        .map_err(|e| ApiError::internal(format!("failed to serialise the evaluation: {e}")))?;
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("approval_required".into(), (!required.is_empty()).into());
    }
    Ok(value)
}

/// The gate before an order is confirmed (the WIT `check-authorized`):
/// nothing needed, or the document's latest request authorizes exactly
/// what `snapshot` needs now.
pub(crate) fn check_authorized(db: &impl Db, snapshot: &DocumentSnapshot) -> Result<(), ApiError> {
    let required = required(db, snapshot)?;
    if required.is_empty() {
        return Ok(());
    }
    match requests::latest_for(db, snapshot.document())? {
        Some(latest) => latest
            .record
            .authorizes(&required)
            .map_err(errors::reapproval),
        None => Err(ApiError::conflict(
            "not_approved",
            format!(
                "{} needs approval and none was requested",
                snapshot.document_ref()
            ),
        )),
    }
}

pub fn evaluate(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let b: SnapshotBody = parse_json(req)?;
    let snapshot = snapshot(b.snapshot)?;
    let required = required(&ctx.db, &snapshot)?;
    ApiResponse::json(200, &evaluation_json(&required)?)
}

pub fn open(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::RequestApproval)?;
    let b: SnapshotBody = parse_json(req)?;
    let snapshot = snapshot(b.snapshot)?;
    // Only the order flow (an integration) and admins submit on someone
    // else's behalf: a rep naming another submitter could approve their own
    // document.
    let me = &ctx.principal;
    if snapshot.submitted_by() != me.id()
        && !me.has_role(Role::Admin)
        && !me.has_role(Role::Integration)
    {
        return Err(ApiError::new(
            403,
            "submitter_mismatch",
            "Approval is requested by the submitter",
            format!(
                "snapshot.submitted_by is {} but the caller is {}",
                snapshot.submitted_by(),
                me.id()
            ),
        )
        .with_field("snapshot.submitted_by"));
    }
    let answer = write(&ctx.db, &me.id().to_string(), req, ctx.now, |db| {
        let required = required(db, &snapshot)?;
        if required.is_empty() {
            return Err(errors::decision(
                sales_domain::approvals::DecisionError::NothingToApprove,
            ));
        }
        let prior = match requests::latest_for(db, snapshot.document())? {
            Some(latest) => match latest.record.status().name() {
                "pending" | "approved" => {
                    let superseded = latest
                        .record
                        .supersede(snapshot.version(), ctx.now)
                        .map_err(errors::decision)?;
                    requests::save(db, &superseded, latest.version, ctx.now)?;
                    Some(superseded)
                }
                _ => Some(latest.record),
            },
            None => None,
        };
        let request = ApprovalRequest::open(
            ApprovalRequestId::new(),
            &required,
            prior.as_ref(),
            &directory(db, &ctx.principal)?,
            ctx.now,
        )
        .map_err(errors::decision)?;
        let stored = requests::create(db, &request, ctx.now)?;
        events::emit(db, &request, ctx.now)?;
        record(
            201,
            &stored,
            Some(format!("/api/v1/approvals/{}", request.id())),
        )
    })?;
    // The approvers' notifications are the jobs component's to write.
    sales_kit::spin::wake_jobs();
    Ok(answer)
}

fn document_filter(q: &ListQuery) -> Result<Option<DocumentId>, ApiError> {
    let bad = |e: &dyn std::fmt::Display| ApiError::invalid_query("document_id", e.to_string());
    match (q.document_kind.as_deref(), q.document_id.as_deref()) {
        (None, None) => Ok(None),
        (Some("quotation"), Some(id)) => QuotationId::parse(id)
            .map(|id| Some(DocumentId::Quotation(id)))
            .map_err(|e| bad(&e)),
        (Some("order"), Some(id)) => OrderId::parse(id)
            .map(|id| Some(DocumentId::Order(id)))
            .map_err(|e| bad(&e)),
        (Some("quotation" | "order"), None) => Err(ApiError::invalid_query(
            "document_id",
            "document_kind needs document_id",
        )),
        (Some(other), _) => Err(ApiError::invalid_query(
            "document_kind",
            format!("unknown document kind {other:?} (expected quotation or order)"),
        )),
        (None, Some(_)) => Err(ApiError::invalid_query(
            "document_kind",
            "document_id needs document_kind",
        )),
    }
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    if let Some(s) = q.status.as_deref() {
        if !matches!(s, "pending" | "approved" | "rejected" | "superseded") {
            return Err(ApiError::invalid_query(
                "status",
                format!(
                    "unknown status {s:?} (expected pending, approved, rejected or superseded)"
                ),
            ));
        }
    }
    let assignee = match q.assignee.as_deref() {
        None => None,
        Some("me") => Some(ctx.principal.id()),
        Some(id) => Some(
            PrincipalId::parse(id)
                .map_err(|e| ApiError::invalid_query("assignee", e.to_string()))?,
        ),
    };
    let document = document_filter(&q)?;
    let dels = delegations::all(&ctx.db)?;
    let today = ctx.now.date_naive();
    let filter = requests::RequestFilter {
        status: q.status.clone(),
        // The assignee and everyone they act for today.
        assignees: assignee.map(|a| {
            let mut who = vec![a];
            who.extend(
                dels.iter()
                    .filter(|d| d.to() == a && d.is_active_on(today))
                    .map(|d| d.from()),
            );
            who
        }),
        document,
        submitted_by: q.submitted_by,
    };
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    let page_asked = store_page(q.limit, q.cursor.clone())?;
    let (mut items, next) = requests::list_visible(&ctx.db, &filter, &page_asked, &seen)?;
    if let Some(a) = assignee {
        // The index narrows; the engine decides (self-approval, a vote
        // already cast, a step not yet pending).
        items.retain(|r| !r.record.assigned_to(a, &dels, ctx.now).is_empty());
    }
    page(&items, next)
}

/// `POST /api/v1/approvals/tick`: escalates every pending step past its
/// time limit (the domain's `ApprovalRequest::tick`, which restarts the
/// step's clock, so a replayed tick escalates once) and answers the
/// actions — who was added, who is to be notified. The jobs component's
/// periodic `tick` runs the same store function; either way each action is
/// an `approval.escalated` outbox event the jobs component notifies from.
pub fn tick(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::RunPeriodicWork)?;
    let TickBody {} = parse_json(req)?;
    let answer = write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let dir = directory(db, &ctx.principal)?;
            let escalations = escalation::escalate_due(db, &dir, ctx.now)?;
            ApiResponse::json(200, &serde_json::json!({ "escalations": escalations }))
        },
    )?;
    // Each escalation is an `approval.escalated` event: the jobs component
    // notifies.
    sales_kit::spin::wake_jobs();
    Ok(answer)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, ApprovalRequestId::parse)?;
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    record(200, &requests::get_visible(&ctx.db, id, &seen)?, None)
}

/// The step a decision is for: the one named, else the caller's only
/// assigned step, else a step the caller already voted on (the engine
/// says it is decided), else the first pending step (the engine names why
/// the caller may not decide it), else the first step (a closed request
/// says so).
fn pick_step(
    request: &ApprovalRequest,
    me: PrincipalId,
    dels: &sales_domain::approvals::Delegations,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<StepKey, ApiError> {
    let assigned = request.assigned_to(me, dels, now);
    if let [only] = assigned.as_slice() {
        return Ok(*only);
    }
    if assigned.len() > 1 {
        return Err(ApiError::invalid_field(
            "step",
            format!(
                "you may decide {} steps of this request; name one",
                assigned.len()
            ),
        ));
    }
    let steps = request.steps();
    steps
        .iter()
        .find(|s| s.votes().iter().any(|v| v.by == me))
        .or_else(|| {
            steps
                .iter()
                .find(|s| matches!(s.state(), StepState::Pending { .. }))
        })
        .or_else(|| steps.first())
        .map(|s| s.key())
        .ok_or_else(|| ApiError::internal("an approval request without steps"))
}

pub fn decide(ctx: &Ctx, req: &ApiRequest, id: &str, verdict: &str) -> ApiResult {
    require(&ctx.principal, Action::DecideApprovals)?;
    let id = path_id(id, ApprovalRequestId::parse)?;
    let verdict = match verdict {
        "reject" => Verdict::Reject,
        _ => Verdict::Approve,
    };
    let b: DecisionBody = parse_json(req)?;
    let decision = Decision {
        subject: Subject::Request(id),
        step: b.step,
        verdict,
        comment: b.comment,
        document_version: b.document_version,
    };
    let me = &ctx.principal;
    let answer = write(&ctx.db, &me.id().to_string(), req, ctx.now, |db| {
        record_decision(db, me, &decision, ctx.now)
    })?;
    sales_kit::spin::wake_jobs();
    Ok(answer)
}

/// Which request a decision is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// By id: `POST /api/v1/approvals/{id}/approve|reject`.
    Request(ApprovalRequestId),
    /// The newest request of a document: the WIT `decide` from a
    /// quotation or an order.
    Document(DocumentId),
}

/// One decision as the HTTP body and the WIT `decision` both give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub subject: Subject,
    /// Which step; `None` picks the caller's one step ([`pick_step`]).
    pub step: Option<StepKey>,
    pub verdict: Verdict,
    pub comment: Option<String>,
    /// The document version the approver looked at.
    pub document_version: u32,
}

/// Records `decision` by `by`: the one implementation behind
/// `POST /api/v1/approvals/{id}/approve|reject` and the WIT `decide`.
/// Run it inside a write transaction (the kit's `write`, which stores the
/// `Idempotency-Key` in the same transaction). The engine's
/// `ApprovalRequest::decide` refuses closed requests, other document
/// versions, steps not pending, second decisions, self-approval and
/// non-approvers, and names the delegator when a delegate decides; the
/// request and its new decision record are saved, and a decision that
/// makes the request final writes `approval.approved` /
/// `approval.rejected` for the jobs component, which moves the document.
/// Answers 200 with the request.
pub(crate) fn record_decision(
    db: &impl Db,
    by: &Principal,
    decision: &Decision,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult {
    require(by, Action::DecideApprovals)?;
    let me = by.id();
    // A request the caller may not see is a 404, as an unknown id.
    let seen = visibility::for_principal(db, by)?;
    let id = match decision.subject {
        Subject::Request(id) => id,
        Subject::Document(document) => match requests::latest_for(db, document)? {
            Some(latest) => latest.record.id(),
            None => {
                return Err(ApiError::conflict(
                    "no_approval_request",
                    format!("{document} has never been submitted for approval"),
                ))
            }
        },
    };
    let current = requests::get_visible(db, id, &seen)?;
    let dels = delegations::all(db)?;
    let step = match decision.step {
        Some(step) => step,
        None => pick_step(&current.record, me, &dels, now)?,
    };
    let decided = current
        .record
        .decide(
            DecisionInput {
                step,
                decided_by: me,
                verdict: decision.verdict,
                comment: decision.comment.clone(),
                document_version: decision.document_version,
            },
            &dels,
            now,
        )
        .map_err(errors::decision)?;
    let saved = requests::save(db, &decided.request, current.version, now)?;
    // A decision that makes the request final tells the jobs component
    // to confirm the document or send it back to draft.
    if current.record.status().name() == "pending" && decided.request.status().name() != "pending" {
        events::emit(db, &decided.request, now)?;
    }
    record(200, &saved, None)
}
