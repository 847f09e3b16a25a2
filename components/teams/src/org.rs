//! `/api/v1/sales-people`, `/api/v1/teams`, `/api/v1/sales-partners`.
//!
//! A person's manager must exist and must not close a loop (409
//! `hierarchy_cycle` on `manager_id`); a linked principal may be linked to
//! one person only (409 `duplicate` on `principal_id`). A team's members
//! must exist and their percentages total 100 (422 `split_total`).
//! Deactivating keeps the record (documents and the ledger name it).

use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::ids::{PrincipalId, SalesPersonId, TerritoryId};
use sales_domain::teams::{
    check_manager, Allocation, NewSalesPartner, NewSalesPerson, NewTeam, SalesPartner,
    SalesPartnerId, SalesPerson, Team, TeamId,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::teams::people::PersonFilter;
use sales_store::teams::sales_teams::TeamFilter;
use sales_store::teams::{partners, people, sales_teams};
use sales_store::Db;
use serde::Deserialize;

use crate::errors::{self, reference};
use crate::wire::{not_null, nullable, page, path_id, record, store_page};
use crate::Ctx;

fn territory_exists(db: &impl Db, t: Option<TerritoryId>) -> Result<(), ApiError> {
    if let Some(t) = t {
        reference(sales_store::trees::get(db, t), "territory_id")?;
    }
    Ok(())
}

// --- sales people --------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonPatch {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    principal_id: Option<Option<PrincipalId>>,
    #[serde(default, deserialize_with = "nullable")]
    manager_id: Option<Option<SalesPersonId>>,
    #[serde(default, deserialize_with = "nullable")]
    employee_code: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    manager_id: Option<SalesPersonId>,
    principal_id: Option<PrincipalId>,
}

/// The manager exists and keeps the hierarchy a tree.
fn check_person(db: &impl Db, p: &SalesPerson) -> Result<(), ApiError> {
    if let Some(m) = p.manager_id() {
        reference(people::get(db, m), "manager_id")?;
    }
    check_manager(p.id(), p.manager_id(), &people::managers(db)?).map_err(errors::teams)
}

pub fn list_people(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: PersonQuery = parse_query(&req.query)?;
    let filter = PersonFilter {
        active: q.active,
        manager_id: q.manager_id,
        principal_id: q.principal_id,
    };
    let (items, next) = people::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, next)
}

pub fn get_person(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, SalesPersonId::parse)?;
    record(200, &people::get(&ctx.db, id)?, None)
}

pub fn create_person(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let b: NewSalesPerson = parse_json(req)?;
    let person = SalesPerson::create(SalesPersonId::new(), b).map_err(errors::invalid)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check_person(db, &person)?;
            let stored = people::create(db, &person, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/sales-people/{}", person.id())),
            )
        },
    )
}

pub fn update_person(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, SalesPersonId::parse)?;
    let expected = if_match(req)?;
    let b: PersonPatch = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = people::get(db, id)?.record;
            let cur = current.to_new();
            let next = SalesPerson::from_parts(
                id,
                NewSalesPerson {
                    name: b.name.unwrap_or(cur.name),
                    email: b.email.unwrap_or(cur.email),
                    principal_id: b.principal_id.unwrap_or(cur.principal_id),
                    manager_id: b.manager_id.unwrap_or(cur.manager_id),
                    employee_code: b.employee_code.unwrap_or(cur.employee_code),
                },
                current.is_active(),
            )
            .map_err(errors::invalid)?;
            check_person(db, &next)?;
            record(200, &people::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

pub fn deactivate_person(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, SalesPersonId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = people::get(db, id)?;
            if !current.record.is_active() {
                return record(200, &current, None);
            }
            let next = current.record.with_active(false);
            record(
                200,
                &people::update(db, &next, current.version, ctx.now)?,
                None,
            )
        },
    )
}

// --- teams ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamPatch {
    #[serde(default, deserialize_with = "not_null")]
    code: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    territory_id: Option<Option<TerritoryId>>,
    #[serde(default, deserialize_with = "not_null")]
    members: Option<Vec<Allocation>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    territory_id: Option<TerritoryId>,
    member: Option<SalesPersonId>,
}

fn check_team(db: &impl Db, t: &Team) -> Result<(), ApiError> {
    territory_exists(db, t.territory_id())?;
    for (i, a) in t.members().allocations().iter().enumerate() {
        if let Err(e) = people::get(db, a.sales_person_id) {
            return Err(match e {
                sales_store::StoreError::NotFound { id, .. } => ApiError::new(
                    422,
                    "unknown_reference",
                    "A referenced record does not exist",
                    format!("sales person {id} does not exist"),
                )
                .with_field(format!("members[{i}].sales_person_id")),
                e => e.into(),
            });
        }
    }
    Ok(())
}

pub fn list_teams(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: TeamQuery = parse_query(&req.query)?;
    let filter = TeamFilter {
        active: q.active,
        territory_id: q.territory_id,
        member: q.member,
    };
    let (items, next) = sales_teams::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, next)
}

pub fn get_team(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, TeamId::parse)?;
    record(200, &sales_teams::get(&ctx.db, id)?, None)
}

pub fn create_team(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let b: NewTeam = parse_json(req)?;
    let team = Team::from_parts(TeamId::new(), b, true).map_err(errors::teams)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check_team(db, &team)?;
            let stored = sales_teams::create(db, &team, ctx.now)?;
            record(201, &stored, Some(format!("/api/v1/teams/{}", team.id())))
        },
    )
}

pub fn update_team(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, TeamId::parse)?;
    let expected = if_match(req)?;
    let b: TeamPatch = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = sales_teams::get(db, id)?.record;
            let cur = current.to_new();
            let next = Team::from_parts(
                id,
                NewTeam {
                    code: b.code.unwrap_or(cur.code),
                    name: b.name.unwrap_or(cur.name),
                    territory_id: b.territory_id.unwrap_or(cur.territory_id),
                    members: b.members.unwrap_or(cur.members),
                },
                current.is_active(),
            )
            .map_err(errors::teams)?;
            check_team(db, &next)?;
            record(
                200,
                &sales_teams::update(db, &next, expected, ctx.now)?,
                None,
            )
        },
    )
}

pub fn deactivate_team(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, TeamId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = sales_teams::get(db, id)?;
            if !current.record.is_active() {
                return record(200, &current, None);
            }
            let next = current.record.with_active(false);
            record(
                200,
                &sales_teams::update(db, &next, current.version, ctx.now)?,
                None,
            )
        },
    )
}

// --- sales partners --------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerPatch {
    #[serde(default, deserialize_with = "not_null")]
    code: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    commission_rate: Option<Decimal>,
    #[serde(default, deserialize_with = "nullable")]
    territory_id: Option<Option<TerritoryId>>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
}

pub fn list_partners(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: PartnerQuery = parse_query(&req.query)?;
    let (items, next) = partners::list(&ctx.db, q.active, &store_page(q.limit, q.cursor)?)?;
    page(&items, next)
}

pub fn get_partner(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, SalesPartnerId::parse)?;
    record(200, &partners::get(&ctx.db, id)?, None)
}

pub fn create_partner(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let b: NewSalesPartner = parse_json(req)?;
    let partner =
        SalesPartner::from_parts(SalesPartnerId::new(), b, true).map_err(errors::invalid)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            territory_exists(db, partner.to_new().territory_id)?;
            let stored = partners::create(db, &partner, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/sales-partners/{}", partner.id())),
            )
        },
    )
}

pub fn update_partner(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, SalesPartnerId::parse)?;
    let expected = if_match(req)?;
    let b: PartnerPatch = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = partners::get(db, id)?.record;
            let cur = current.to_new();
            let next = SalesPartner::from_parts(
                id,
                NewSalesPartner {
                    code: b.code.unwrap_or(cur.code),
                    name: b.name.unwrap_or(cur.name),
                    commission_rate: b.commission_rate.unwrap_or(cur.commission_rate),
                    territory_id: b.territory_id.unwrap_or(cur.territory_id),
                    email: b.email.unwrap_or(cur.email),
                },
                current.is_active(),
            )
            .map_err(errors::invalid)?;
            territory_exists(db, next.to_new().territory_id)?;
            record(200, &partners::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

pub fn deactivate_partner(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, SalesPartnerId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = partners::get(db, id)?;
            if !current.record.is_active() {
                return record(200, &current, None);
            }
            let next = current.record.with_active(false);
            record(
                200,
                &partners::update(db, &next, current.version, ctx.now)?,
                None,
            )
        },
    )
}
