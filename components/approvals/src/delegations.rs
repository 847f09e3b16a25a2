//! `/api/v1/delegations`: an approver lets another person decide in their
//! place from one day to another (inclusive). Anyone who may decide
//! approvals delegates their own; admins may record one for anybody.
//! Overlapping delegations of one approver and cycles are refused by the
//! domain's `Delegations` set. Decisions taken under a delegation record
//! both people, and deleting the delegation does not change them.

use chrono::NaiveDate;
use sales_domain::approvals::Delegation;
use sales_domain::auth::{Action, Role};
use sales_domain::ids::{DelegationId, PrincipalId};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::{parse_query, Page};
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::approvals::delegations::{self, DelegationFilter, StoredDelegation};
use serde::{Deserialize, Serialize};

use crate::wire::{path_id, store_page};
use crate::{directory, errors, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    /// The approver; the caller when left out.
    #[serde(default)]
    from: Option<PrincipalId>,
    to: PrincipalId,
    starts: NaiveDate,
    ends: NaiveDate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    /// `me` or a principal id: delegations from or to them.
    principal: Option<String>,
}

#[derive(Serialize)]
struct View {
    id: DelegationId,
    from: PrincipalId,
    to: PrincipalId,
    starts: NaiveDate,
    ends: NaiveDate,
    created_by: PrincipalId,
    created_at: String,
}

fn view(d: &StoredDelegation) -> View {
    View {
        id: d.id,
        from: d.delegation.from(),
        to: d.delegation.to(),
        starts: d.delegation.starts(),
        ends: d.delegation.ends(),
        created_by: d.created_by,
        created_at: sales_store::time::to_sql(d.created_at),
    }
}

fn visible(ctx: &Ctx, d: &StoredDelegation) -> bool {
    let me = ctx.principal.id();
    ctx.principal.has_role(Role::Admin) || d.delegation.from() == me || d.delegation.to() == me
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let principal = match q.principal.as_deref() {
        None => None,
        Some("me") => Some(ctx.principal.id()),
        Some(id) => Some(
            PrincipalId::parse(id)
                .map_err(|e| ApiError::invalid_query("principal", e.to_string()))?,
        ),
    };
    let filter = DelegationFilter { principal };
    let (items, next_cursor) =
        delegations::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    let items: Vec<View> = items.iter().filter(|d| visible(ctx, d)).map(view).collect();
    ApiResponse::json(200, &Page { items, next_cursor })
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, DelegationId::parse)?;
    let d = delegations::get(&ctx.db, id)?;
    if !visible(ctx, &d) {
        return Err(ApiError::not_found(format!(
            "delegation {id} does not exist"
        )));
    }
    ApiResponse::json(200, &view(&d))
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::DecideApprovals)?;
    let b: NewBody = parse_json(req)?;
    let me = ctx.principal.id();
    let from = b.from.unwrap_or(me);
    if from != me && !ctx.principal.has_role(Role::Admin) {
        return Err(
            ApiError::forbidden("only an admin may delegate someone else's approvals")
                .with_field("from"),
        );
    }
    let delegation = Delegation::new(from, b.to, b.starts, b.ends).map_err(errors::delegation)?;
    write(&ctx.db, &me.to_string(), req, ctx.now, |db| {
        let dir = directory(db, &ctx.principal)?;
        for (field, p) in [("from", from), ("to", b.to)] {
            if !dir.is_active(p) {
                return Err(errors::unknown_approver(
                    field,
                    format!("unknown principal {p}: no active principal has that id"),
                ));
            }
        }
        delegations::all(db)?
            .with(delegation)
            .map_err(errors::delegation)?;
        let stored = delegations::create(
            db,
            &StoredDelegation {
                id: DelegationId::new(),
                delegation,
                created_by: me,
                created_at: ctx.now,
            },
        )?;
        Ok(ApiResponse::json(201, &view(&stored))?
            .with_header("location", format!("/api/v1/delegations/{}", stored.id)))
    })
}

pub fn delete(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::DecideApprovals)?;
    let id = path_id(id, DelegationId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let d = delegations::get(db, id)?;
            if !visible(ctx, &d) {
                return Err(ApiError::not_found(format!(
                    "delegation {id} does not exist"
                )));
            }
            if d.delegation.from() != ctx.principal.id() && !ctx.principal.has_role(Role::Admin) {
                return Err(ApiError::forbidden(
                    "only the delegating approver or an admin may delete a delegation",
                ));
            }
            delegations::delete(db, id)?;
            Ok(ApiResponse::no_content())
        },
    )
}
