//! `/api/v1/approval-managers`: who manages whom, for `submitter_manager`
//! approvers and escalation to the next manager up, until the teams
//! capability owns the hierarchy. Admins write it (`WriteApprovalPolicies`:
//! the hierarchy decides who approves); anyone who reads may list it. Both
//! people must be active principals; a principal has one manager.

use sales_domain::auth::Action;
use sales_domain::ids::{ApprovalManagerId, PrincipalId};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::{parse_query, Page};
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::approvals::managers::{self, ManagerFilter, ManagerLine};
use serde::{Deserialize, Serialize};

use crate::wire::{path_id, store_page};
use crate::{directory, errors, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    principal_id: PrincipalId,
    manager_id: PrincipalId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    /// Lines of this principal or of the people they manage.
    principal_id: Option<PrincipalId>,
}

#[derive(Serialize)]
struct View {
    id: ApprovalManagerId,
    principal_id: PrincipalId,
    manager_id: PrincipalId,
    created_at: String,
}

fn view(l: &ManagerLine) -> View {
    View {
        id: l.id,
        principal_id: l.principal,
        manager_id: l.manager,
        created_at: sales_store::time::to_sql(l.created_at),
    }
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let filter = ManagerFilter {
        principal: q.principal_id,
    };
    let (items, next_cursor) = managers::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    let items: Vec<View> = items.iter().map(view).collect();
    ApiResponse::json(200, &Page { items, next_cursor })
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, ApprovalManagerId::parse)?;
    ApiResponse::json(200, &view(&managers::get(&ctx.db, id)?))
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteApprovalPolicies)?;
    let b: NewBody = parse_json(req)?;
    if b.principal_id == b.manager_id {
        return Err(ApiError::invalid_field(
            "manager_id",
            "a principal cannot be their own manager",
        ));
    }
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let dir = directory(db, &ctx.principal)?;
            for (field, p) in [
                ("principal_id", b.principal_id),
                ("manager_id", b.manager_id),
            ] {
                if !dir.is_active(p) {
                    return Err(errors::unknown_approver(
                        field,
                        format!("unknown principal {p}: no active principal has that id"),
                    ));
                }
            }
            let line = managers::create(
                db,
                &ManagerLine {
                    id: ApprovalManagerId::new(),
                    principal: b.principal_id,
                    manager: b.manager_id,
                    created_at: ctx.now,
                },
            )?;
            Ok(ApiResponse::json(201, &view(&line))?
                .with_header("location", format!("/api/v1/approval-managers/{}", line.id)))
        },
    )
}

/// Removes a line; requests already open keep the approvers they resolved.
pub fn delete(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteApprovalPolicies)?;
    let id = path_id(id, ApprovalManagerId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            managers::delete(db, id)?;
            Ok(ApiResponse::no_content())
        },
    )
}
