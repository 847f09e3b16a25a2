//! `/api/v1/territory-managers` (one sales person per territory; a
//! territory without its own manager is managed by the nearest ancestor's)
//! and `/api/v1/territory-rules` (country, region, postcode range →
//! territory), with `POST /api/v1/territory-rules/resolve` (a customer
//! or an address): the territory (explicit wins, else by rule), where it
//! came from, and the default sales team of new documents there.

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

/// What to place: a customer, or an address.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    #[serde(default)]
    customer_id: Option<CustomerId>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    postcode: Option<String>,
}

#[derive(Serialize)]
struct Resolved {
    customer_id: Option<CustomerId>,
    territory_id: Option<TerritoryId>,
    source: territories::TerritorySource,
    rule_id: Option<TerritoryRuleId>,
    /// The team the default split comes from (none when it is the
    /// territory manager's alone, or when there is none).
    team_id: Option<sales_domain::teams::TeamId>,
    sales_team: sales_domain::teams::Split,
}

/// Places a customer (explicit territory, else by rule) or an address (by
/// rule) and answers the default sales team there. Reads only.
pub fn resolve(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let b: ResolveBody = parse_json(req)?;
    let (customer_id, territory_id, source, rule_id) = match (b.customer_id, b.country) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "country",
                "give a customer_id or an address, not both",
            ))
        }
        (Some(customer), None) => {
            let t = reference(
                territories::customer_territory(&ctx.db, customer),
                "customer_id",
            )?;
            (Some(customer), t.territory_id, t.source, t.rule_id)
        }
        (None, Some(country)) => {
            let candidates = rules::for_country(&ctx.db, &country)?;
            let rule = sales_domain::teams::resolve_territory(
                &candidates,
                &country,
                b.region.as_deref(),
                b.postcode.as_deref(),
            );
            let source = if rule.is_some() {
                territories::TerritorySource::Rule
            } else {
                territories::TerritorySource::None
            };
            (
                None,
                rule.map(|r| r.territory_id()),
                source,
                rule.map(|r| r.id()),
            )
        }
        (None, None) => return Err(ApiError::missing_field("customer_id")),
    };
    let split = territories::default_split(&ctx.db, territory_id)?;
    let (team_id, sales_team) = split.unwrap_or_default();
    ApiResponse::json(
        200,
        &Resolved {
            customer_id,
            territory_id,
            source,
            rule_id,
            team_id,
            sales_team,
        },
    )
}
