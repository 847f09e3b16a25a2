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
use sales_kit::{not_allowed, ApiError, ApiRequest, ApiResult, Method};
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
        ["api", "v1", "sales-people"] => match m {
            Method::Get => org::list_people(ctx, req),
            Method::Post => org::create_person(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "sales-people", id] => match m {
            Method::Get => org::get_person(ctx, id),
            Method::Patch => org::update_person(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },
        ["api", "v1", "sales-people", id, "statement"] => match m {
            Method::Get => commissions::person_statement(ctx, req, id),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "sales-people", id, "deactivate"] => match m {
            Method::Post => org::deactivate_person(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

        ["api", "v1", "teams"] => match m {
            Method::Get => org::list_teams(ctx, req),
            Method::Post => org::create_team(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "teams", id] => match m {
            Method::Get => org::get_team(ctx, id),
            Method::Patch => org::update_team(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },
        ["api", "v1", "teams", id, "deactivate"] => match m {
            Method::Post => org::deactivate_team(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

        ["api", "v1", "sales-partners"] => match m {
            Method::Get => org::list_partners(ctx, req),
            Method::Post => org::create_partner(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "sales-partners", id] => match m {
            Method::Get => org::get_partner(ctx, id),
            Method::Patch => org::update_partner(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },
        ["api", "v1", "sales-partners", id, "statement"] => match m {
            Method::Get => commissions::partner_statement(ctx, req, id),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "sales-partners", id, "deactivate"] => match m {
            Method::Post => org::deactivate_partner(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

        ["api", "v1", "territory-managers"] => match m {
            Method::Get => territories::list_managers(ctx, req),
            Method::Post => territories::create_manager(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "territory-managers", id] => match m {
            Method::Get => territories::get_manager(ctx, id),
            Method::Patch => territories::update_manager(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },

        ["api", "v1", "territory-rules"] => match m {
            Method::Get => territories::list_rules(ctx, req),
            Method::Post => territories::create_rule(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "territory-rules", "resolve"] => match m {
            Method::Post => territories::resolve(ctx, req),
            _ => not_allowed(m, "POST"),
        },
        ["api", "v1", "territory-rules", id] => match m {
            Method::Get => territories::get_rule(ctx, id),
            Method::Patch => territories::update_rule(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },
        ["api", "v1", "territory-rules", id, "deactivate"] => match m {
            Method::Post => territories::deactivate_rule(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

        ["api", "v1", "commission-plans"] => match m {
            Method::Get => plans::list(ctx, req),
            Method::Post => plans::create(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "commission-plans", id] => match m {
            Method::Get => plans::get(ctx, id),
            Method::Patch => plans::update(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },
        ["api", "v1", "commission-plans", id, "deactivate"] => match m {
            Method::Post => plans::deactivate(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

        ["api", "v1", "targets"] => match m {
            Method::Get => targets::list(ctx, req),
            Method::Post => targets::create(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "targets", id] => match m {
            Method::Get => targets::get(ctx, id),
            Method::Patch => targets::update(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },

        ["api", "v1", "commissions"] => match m {
            Method::Get => commissions::list(ctx, req),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "commissions", "adjustments"] => match m {
            Method::Post => commissions::adjust(ctx, req),
            _ => not_allowed(m, "POST"),
        },
        ["api", "v1", "commissions", "recalculate"] => match m {
            Method::Post => commissions::recalculate(ctx, req),
            _ => not_allowed(m, "POST"),
        },
        ["api", "v1", "commissions", id] => match m {
            Method::Get => commissions::get(ctx, id),
            _ => not_allowed(m, "GET"),
        },

        ["api", "v1", "sales-teams", kind @ ("orders" | "quotations"), id] => {
            let kind = if *kind == "orders" {
                sales_store::teams::allocations::DocumentKind::Order
            } else {
                sales_store::teams::allocations::DocumentKind::Quotation
            };
            match m {
                Method::Get => documents::get(ctx, kind, id),
                Method::Put => documents::put(ctx, req, kind, id),
                _ => not_allowed(m, "GET, PUT"),
            }
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
