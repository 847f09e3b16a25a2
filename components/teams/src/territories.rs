//! `/api/v1/territory-managers` (one sales person per territory; a
//! territory without its own manager is managed by the nearest ancestor's)
//! and `/api/v1/territory-rules` (country, region, postcode range →
//! territory), with `GET /api/v1/territory-rules/resolve?customer_id=`:
//! the customer's territory (explicit wins, else by rule), where it came
//! from, and the default sales team of its new documents.

use sales_domain::auth::Action;
use sales_domain::ids::{CustomerId, SalesPersonId, TerritoryId};
use sales_domain::teams::{
    TerritoryManager, TerritoryManagerId, TerritoryRule, TerritoryRuleId, TerritoryRuleInput,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::teams::territories::{self, managers, rules};
use sales_store::Db;
use serde::{Deserialize, Serialize};

use crate::errors::{self, reference};
use crate::wire::{not_null, nullable, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewManager {
    territory_id: TerritoryId,
    sales_person_id: SalesPersonId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManagerPatch {
    #[serde(default, deserialize_with = "not_null")]
    sales_person_id: Option<SalesPersonId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManagerQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    territory_id: Option<TerritoryId>,
    sales_person_id: Option<SalesPersonId>,
}

fn check_manager(db: &impl Db, m: &TerritoryManager) -> Result<(), ApiError> {
    reference(sales_store::trees::get(db, m.territory_id), "territory_id")?;
    let p = reference(
        sales_store::teams::people::get(db, m.sales_person_id),
        "sales_person_id",
    )?;
    if !p.record.is_active() {
        return Err(ApiError::invalid_field(
            "sales_person_id",
            format!("sales person {} is inactive", m.sales_person_id),
        ));
    }
    Ok(())
}

pub fn list_managers(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ManagerQuery = parse_query(&req.query)?;
    let (items, next) = managers::list(
        &ctx.db,
        q.territory_id,
        q.sales_person_id,
        &store_page(q.limit, q.cursor)?,
    )?;
    page(&items, next)
}

pub fn get_manager(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, TerritoryManagerId::parse)?;
    record(200, &managers::get(&ctx.db, id)?, None)
}

pub fn create_manager(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let b: NewManager = parse_json(req)?;
    let m = TerritoryManager {
        id: TerritoryManagerId::new(),
        territory_id: b.territory_id,
        sales_person_id: b.sales_person_id,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check_manager(db, &m)?;
            let stored = managers::create(db, &m, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/territory-managers/{}", m.id)),
            )
        },
    )
}

pub fn update_manager(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, TerritoryManagerId::parse)?;
    let expected = if_match(req)?;
    let b: ManagerPatch = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = managers::get(db, id)?.record;
            let next = TerritoryManager {
                sales_person_id: b.sales_person_id.unwrap_or(current.sales_person_id),
                ..current
            };
            check_manager(db, &next)?;
            record(200, &managers::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulePatch {
    #[serde(default, deserialize_with = "not_null")]
    territory_id: Option<TerritoryId>,
    #[serde(default, deserialize_with = "not_null")]
    country: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    region: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    postcode_from: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    postcode_to: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    priority: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    territory_id: Option<TerritoryId>,
    country: Option<String>,
    active: Option<bool>,
}

pub fn list_rules(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: RuleQuery = parse_query(&req.query)?;
    let (items, next) = rules::list(
        &ctx.db,
        q.territory_id,
        q.country.as_deref(),
        q.active,
        &store_page(q.limit, q.cursor)?,
    )?;
    page(&items, next)
}

pub fn get_rule(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, TerritoryRuleId::parse)?;
    record(200, &rules::get(&ctx.db, id)?, None)
}

pub fn create_rule(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let b: TerritoryRuleInput = parse_json(req)?;
    let rule =
        TerritoryRule::from_parts(TerritoryRuleId::new(), b, true).map_err(errors::invalid)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            reference(
                sales_store::trees::get(db, rule.territory_id()),
                "territory_id",
            )?;
            let stored = rules::create(db, &rule, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/territory-rules/{}", rule.id())),
            )
        },
    )
}

pub fn update_rule(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, TerritoryRuleId::parse)?;
    let expected = if_match(req)?;
    let b: RulePatch = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = rules::get(db, id)?.record;
            let cur = current.to_input();
            let next = TerritoryRule::from_parts(
                id,
                TerritoryRuleInput {
                    territory_id: b.territory_id.unwrap_or(cur.territory_id),
                    country: b.country.unwrap_or(cur.country),
                    region: b.region.unwrap_or(cur.region),
                    postcode_from: b.postcode_from.unwrap_or(cur.postcode_from),
                    postcode_to: b.postcode_to.unwrap_or(cur.postcode_to),
                    priority: b.priority.unwrap_or(cur.priority),
                },
                current.is_active(),
            )
            .map_err(errors::invalid)?;
            reference(
                sales_store::trees::get(db, next.territory_id()),
                "territory_id",
            )?;
            record(200, &rules::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

pub fn deactivate_rule(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteTeams)?;
    let id = path_id(id, TerritoryRuleId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = rules::get(db, id)?;
            if !current.record.is_active() {
                return record(200, &current, None);
            }
            let next = current.record.with_active(false);
            record(
                200,
                &rules::update(db, &next, current.version, ctx.now)?,
                None,
            )
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveQuery {
    customer_id: Option<CustomerId>,
}

#[derive(Serialize)]
struct Resolved {
    #[serde(flatten)]
    territory: territories::CustomerTerritory,
    /// The team the default split comes from (none when it is the
    /// territory manager's alone, or when there is none).
    team_id: Option<sales_domain::teams::TeamId>,
    sales_team: sales_domain::teams::Split,
}

pub fn resolve(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ResolveQuery = parse_query(&req.query)?;
    let customer = q
        .customer_id
        .ok_or_else(|| ApiError::invalid_query("customer_id", "name the customer to resolve"))?;
    let territory = match territories::customer_territory(&ctx.db, customer) {
        Err(sales_store::StoreError::NotFound { id, .. }) => {
            return Err(ApiError::invalid_query(
                "customer_id",
                format!("customer {id} does not exist"),
            ))
        }
        other => other?,
    };
    let split = territories::default_split(&ctx.db, territory.territory_id)?;
    let (team_id, sales_team) = split.unwrap_or_default();
    ApiResponse::json(
        200,
        &Resolved {
            territory,
            team_id,
            sales_team,
        },
    )
}
