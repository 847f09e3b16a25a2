//! The teams component: sales people in a manager hierarchy, teams with
//! their default splits, sales partners, territory managers and territory
//! rules, commission plans, targets with attainment, and the commission
//! ledger with statements, under `/api/v1/...`.
//!
//! This crate is the edge only, in the other components' style: it
//! routes on `(method, segments)`, converts wire records to domain values
//! (`sales_domain::teams`), checks roles (`ReadCatalog` to read the
//! organisation, `WriteTeams` to write it, `ManageCommissions` for plans,
//! adjustments and recalculation) and writes through `sales_store::teams`
//! in one transaction per request with `Idempotency-Key`.
//!
//! Record visibility ([`Scope`]): commissions and the targets of people
//! are seen by admins in full, by a manager for their own sales person
//! and everyone below them in the hierarchy, by anyone else for their own
//! sales person only (none when their key is linked to none). A record
//! outside the caller's scope is a 404, as if it did not exist.

use std::collections::BTreeSet;

use sales_domain::auth::Role;
use sales_domain::ids::SalesPersonId;
use sales_kit::auth::Principal;
use sales_kit::{methods, ApiError, ApiRequest, ApiResult};
use sales_store::Db;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

mod commissions;
mod documents;
mod errors;
mod org;
mod plans;
mod targets;
mod territories;
mod wire;

pub(crate) use sales_kit::spin::Ctx;

#[http_component]
fn handle(req: Request) -> Response {
    sales_kit::spin::serve(req, route)
}

fn route(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let segments = req.segments();
    let m = &req.method;
    match segments.as_slice() {
        ["api", "v1", "sales-people"] => methods!(m, {
            Get => org::list_people(ctx, req),
            Post => org::create_person(ctx, req),
        }),
        ["api", "v1", "sales-people", id] => methods!(m, {
            Get => org::get_person(ctx, id),
            Patch => org::update_person(ctx, req, id),
        }),
        ["api", "v1", "sales-people", id, "statement"] => methods!(m, {
            Get => commissions::person_statement(ctx, req, id),
        }),
        ["api", "v1", "sales-people", id, "deactivate"] => methods!(m, {
            Post => org::deactivate_person(ctx, req, id),
        }),

        ["api", "v1", "teams"] => methods!(m, {
            Get => org::list_teams(ctx, req),
            Post => org::create_team(ctx, req),
        }),
        ["api", "v1", "teams", id] => methods!(m, {
            Get => org::get_team(ctx, id),
            Patch => org::update_team(ctx, req, id),
        }),
        ["api", "v1", "teams", id, "deactivate"] => methods!(m, {
            Post => org::deactivate_team(ctx, req, id),
        }),

        ["api", "v1", "sales-partners"] => methods!(m, {
            Get => org::list_partners(ctx, req),
            Post => org::create_partner(ctx, req),
        }),
        ["api", "v1", "sales-partners", id] => methods!(m, {
            Get => org::get_partner(ctx, id),
            Patch => org::update_partner(ctx, req, id),
        }),
        ["api", "v1", "sales-partners", id, "statement"] => methods!(m, {
            Get => commissions::partner_statement(ctx, req, id),
        }),
        ["api", "v1", "sales-partners", id, "deactivate"] => methods!(m, {
            Post => org::deactivate_partner(ctx, req, id),
        }),

        ["api", "v1", "territory-managers"] => methods!(m, {
            Get => territories::list_managers(ctx, req),
            Post => territories::create_manager(ctx, req),
        }),
        ["api", "v1", "territory-managers", id] => methods!(m, {
            Get => territories::get_manager(ctx, id),
            Patch => territories::update_manager(ctx, req, id),
        }),

        ["api", "v1", "territory-rules"] => methods!(m, {
            Get => territories::list_rules(ctx, req),
            Post => territories::create_rule(ctx, req),
        }),
        ["api", "v1", "territory-rules", "resolve"] => methods!(m, {
            Post => territories::resolve(ctx, req),
        }),
        ["api", "v1", "territory-rules", id] => methods!(m, {
            Get => territories::get_rule(ctx, id),
            Patch => territories::update_rule(ctx, req, id),
        }),
        ["api", "v1", "territory-rules", id, "deactivate"] => methods!(m, {
            Post => territories::deactivate_rule(ctx, req, id),
        }),

        ["api", "v1", "commission-plans"] => methods!(m, {
            Get => plans::list(ctx, req),
            Post => plans::create(ctx, req),
        }),
        ["api", "v1", "commission-plans", id] => methods!(m, {
            Get => plans::get(ctx, id),
            Patch => plans::update(ctx, req, id),
        }),
        ["api", "v1", "commission-plans", id, "deactivate"] => methods!(m, {
            Post => plans::deactivate(ctx, req, id),
        }),

        ["api", "v1", "targets"] => methods!(m, {
            Get => targets::list(ctx, req),
            Post => targets::create(ctx, req),
        }),
        ["api", "v1", "targets", id] => methods!(m, {
            Get => targets::get(ctx, id),
            Patch => targets::update(ctx, req, id),
        }),

        ["api", "v1", "commissions"] => methods!(m, {
            Get => commissions::list(ctx, req),
        }),
        ["api", "v1", "commissions", "adjustments"] => methods!(m, {
            Post => commissions::adjust(ctx, req),
        }),
        ["api", "v1", "commissions", "recalculate"] => methods!(m, {
            Post => commissions::recalculate(ctx, req),
        }),
        ["api", "v1", "commissions", id] => methods!(m, {
            Get => commissions::get(ctx, id),
        }),

        ["api", "v1", "sales-teams", kind @ ("orders" | "quotations"), id] => {
            let kind = if *kind == "orders" {
                sales_store::teams::allocations::DocumentKind::Order
            } else {
                sales_store::teams::allocations::DocumentKind::Quotation
            };
            methods!(m, {
                Get => documents::get(ctx, kind, id),
                Put => documents::put(ctx, req, kind, id),
            })
        }

        _ => Err(ApiError::not_found(format!("no resource at {}", req.path))),
    }
}

/// Whose commissions and personal targets a caller may see.
pub(crate) enum Scope {
    All,
    People(BTreeSet<SalesPersonId>),
}

impl Scope {
    pub(crate) fn sees(&self, p: SalesPersonId) -> bool {
        match self {
            Scope::All => true,
            Scope::People(set) => set.contains(&p),
        }
    }
}

/// The caller's [`Scope`]: admins everything; otherwise their sales
/// person (the person linked to their principal, else the key's
/// `sales_person_id`) and, for managers, everyone below them.
pub(crate) fn scope(db: &impl Db, principal: &Principal) -> Result<Scope, ApiError> {
    if principal.has_role(Role::Admin) {
        return Ok(Scope::All);
    }
    let me = match sales_store::teams::people::by_principal(db, principal.id())? {
        Some(p) => Some(p.id()),
        None => principal.sales_person_id(),
    };
    let Some(me) = me else {
        return Ok(Scope::People(BTreeSet::new()));
    };
    if principal.has_role(Role::Manager) {
        let managers = sales_store::teams::people::managers(db)?;
        return Ok(Scope::People(sales_domain::teams::subtree(me, &managers)));
    }
    Ok(Scope::People(BTreeSet::from([me])))
}
