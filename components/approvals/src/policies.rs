//! `/api/v1/approval-policies`: policies are data. A policy's `revision`
//! starts at 1 and grows with every update (approvals remember the
//! revision they were given under; a changed policy asks again). Every
//! named approver and escalation target must be an active principal.

use std::collections::BTreeSet;

use sales_domain::approvals::{
    Approver, ChainSpec, Condition, Directory, DocumentKind, EscalationTarget, Policy, PolicySpec,
};
use sales_domain::auth::Action;
use sales_domain::ids::{ApprovalPolicyId, PrincipalId};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::approvals::policies::{self, PolicyFilter};
use serde::Deserialize;

use crate::wire::{not_null, page, path_id, record, store_page};
use crate::{directory, errors, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    name: String,
    applies_to: BTreeSet<DocumentKind>,
    condition: Condition,
    chain: ChainSpec,
    #[serde(default)]
    allow_self_approval: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    applies_to: Option<BTreeSet<DocumentKind>>,
    #[serde(default, deserialize_with = "not_null")]
    condition: Option<Condition>,
    #[serde(default, deserialize_with = "not_null")]
    chain: Option<ChainSpec>,
    #[serde(default, deserialize_with = "not_null")]
    allow_self_approval: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
}

fn build(spec: PolicySpec) -> Result<Policy, ApiError> {
    Policy::new(spec).map_err(errors::policy)
}

/// Every principal the chain names must be active: a typo in an id would
/// otherwise make a level nobody can approve.
fn check_people(policy: &Policy, dir: &Directory) -> Result<(), ApiError> {
    let known = |id: PrincipalId, field: String| {
        if dir.is_active(id) {
            Ok(())
        } else {
            Err(errors::unknown_approver(
                field,
                format!("unknown approver {id}: no active principal has that id"),
            ))
        }
    };
    for (n, level) in policy.chain().levels().iter().enumerate() {
        for (a, approver) in level.approvers().iter().enumerate() {
            if let Approver::Principal { id } = approver {
                known(*id, format!("chain.levels[{n}].approvers[{a}].id"))?;
            }
        }
        if let Some(esc) = level.escalation() {
            match esc.to {
                EscalationTarget::Principal { id } => {
                    known(id, format!("chain.levels[{n}].escalation.to.id"))?
                }
                EscalationTarget::NextManagerUp { fallback: Some(id) } => {
                    known(id, format!("chain.levels[{n}].escalation.to.fallback"))?
                }
                EscalationTarget::NextManagerUp { fallback: None } => {}
            }
        }
    }
    Ok(())
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = PolicyFilter { active: q.active };
    let (items, next) = policies::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, ApprovalPolicyId::parse)?;
    record(200, &policies::get(&ctx.db, id)?, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteApprovalPolicies)?;
    let b: NewBody = parse_json(req)?;
    let policy = build(PolicySpec {
        id: ApprovalPolicyId::new(),
        name: b.name,
        revision: 1,
        active: true,
        applies_to: b.applies_to,
        condition: b.condition,
        chain: b.chain,
        allow_self_approval: b.allow_self_approval,
    })?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check_people(&policy, &directory(db, &ctx.principal)?)?;
            let stored = policies::create(db, &policy, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/approval-policies/{}", policy.id())),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteApprovalPolicies)?;
    let id = path_id(id, ApprovalPolicyId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = policies::get(db, id)?.record.to_spec();
            let next = build(PolicySpec {
                id,
                name: b.name.unwrap_or(current.name),
                revision: current.revision.saturating_add(1),
                active: current.active,
                applies_to: b.applies_to.unwrap_or(current.applies_to),
                condition: b.condition.unwrap_or(current.condition),
                chain: b.chain.unwrap_or(current.chain),
                allow_self_approval: b.allow_self_approval.unwrap_or(current.allow_self_approval),
            })?;
            check_people(&next, &directory(db, &ctx.principal)?)?;
            record(200, &policies::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

/// Stops a policy from applying to new evaluations; requests already open
/// under it keep their steps. Deactivating an inactive policy changes nothing.
pub fn deactivate(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteApprovalPolicies)?;
    let id = path_id(id, ApprovalPolicyId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = policies::get(db, id)?;
            if !current.record.is_active() {
                return record(200, &current, None);
            }
            let mut spec = current.record.to_spec();
            spec.active = false;
            let next = build(spec)?;
            record(
                200,
                &policies::update(db, &next, current.version, ctx.now)?,
                None,
            )
        },
    )
}
