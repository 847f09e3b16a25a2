//! `/api/v1/automations`: rules as data (see
//! `sales_domain::integrations::automations`). A `webhook` action must
//! name an existing subscription; a `notify` recipient principal must hold
//! a key (checked when the rule is written).

use sales_domain::auth::Action;
use sales_domain::ids::AutomationId;
use sales_domain::integrations::automations::{Action as RuleAction, Conditions, Recipient, Rule};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::integrations::automations::{self as store, Automation};
use sales_store::integrations::subscriptions;
use sales_store::{Db, StoreError};
use serde::Deserialize;

use crate::wire::{envelope, invalid, not_null, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    name: String,
    event: String,
    #[serde(default)]
    conditions: Conditions,
    actions: Vec<RuleAction>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    event: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    conditions: Option<Conditions>,
    #[serde(default, deserialize_with = "not_null")]
    actions: Option<Vec<RuleAction>>,
    #[serde(default, deserialize_with = "not_null")]
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

fn view(a: &Automation) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "name": a.rule.name,
        "event": a.rule.event,
        "conditions": a.rule.conditions,
        "actions": a.rule.actions,
        "active": a.active,
    })
}

/// References a rule makes must exist.
fn check_references(db: &impl Db, rule: &Rule) -> Result<(), ApiError> {
    for (i, a) in rule.actions.iter().enumerate() {
        match a {
            RuleAction::Webhook { subscription_id } => {
                match subscriptions::get(db, *subscription_id) {
                    Ok(_) => {}
                    Err(StoreError::NotFound { .. }) => {
                        return Err(ApiError::new(
                            422,
                            "unknown_reference",
                            "A referenced record does not exist",
                            format!("webhook subscription {subscription_id} does not exist"),
                        )
                        .with_field(format!("actions[{i}].subscription_id")))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            RuleAction::Notify { recipients, .. } => {
                for (r, who) in recipients.iter().enumerate() {
                    if let Recipient::Principal { id } = who {
                        let rows = db.execute(
                            "SELECT 1 AS one FROM api_keys WHERE principal_id = ? LIMIT 1",
                            &[sales_store::db::Value::Text(id.to_string())],
                        )?;
                        let bootstrap = id.to_string() == sales_kit::auth::BOOTSTRAP_ADMIN_ID;
                        if rows.is_empty() && !bootstrap {
                            return Err(ApiError::new(
                                422,
                                "unknown_reference",
                                "A referenced record does not exist",
                                format!("no API key belongs to principal {id}"),
                            )
                            .with_field(format!("actions[{i}].recipients[{r}].id")));
                        }
                    }
                }
            }
            // create_task goes to the project connector; without one the
            // run is recorded as skipped with why.
            RuleAction::Hold { .. } | RuleAction::CreateTask { .. } => {}
        }
    }
    Ok(())
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let q: ListQuery = parse_query(&req.query)?;
    let (items, next) = store::list(&ctx.db, &store_page(q.limit, q.cursor)?)?;
    page(items.iter().map(|a| envelope(a, view)).collect(), next)
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, AutomationId::parse)?;
    let a = store::get(&ctx.db, id)?;
    let mut body = envelope(&a, view);
    let runs = store::runs(&ctx.db, id)?;
    if let serde_json::Value::Object(m) = &mut body {
        m.insert(
            "runs".into(),
            runs.iter()
                .map(|r| {
                    serde_json::json!({
                        "event_id": r.event_id,
                        "action_index": r.action_index,
                        "action": r.action,
                        "outcome": r.outcome,
                        "detail": r.detail,
                        "ran_at": sales_store::time::to_sql(r.ran_at),
                    })
                })
                .collect(),
        );
    }
    record(200, &body, a.version, None)
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let b: NewBody = parse_json(req)?;
    let rule = Rule::new(&b.name, &b.event, b.conditions, b.actions).map_err(invalid)?;
    let a = Automation {
        id: AutomationId::new(),
        rule,
        active: b.active,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            check_references(db, &a.rule)?;
            let stored = store::create(db, &a, ctx.now)?;
            record(
                201,
                &envelope(&stored, view),
                stored.version,
                Some(format!("/api/v1/automations/{}", a.id)),
            )
        },
    )
}

pub fn update(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, AutomationId::parse)?;
    let expected = if_match(req)?;
    let b: PatchBody = parse_json(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = store::get(db, id)?.record;
            let rule = Rule::new(
                b.name.as_deref().unwrap_or(&current.rule.name),
                b.event.as_deref().unwrap_or(&current.rule.event),
                b.conditions
                    .clone()
                    .unwrap_or(current.rule.conditions.clone()),
                b.actions.clone().unwrap_or(current.rule.actions.clone()),
            )
            .map_err(invalid)?;
            check_references(db, &rule)?;
            let next = Automation {
                id,
                rule,
                active: b.active.unwrap_or(current.active),
            };
            let stored = store::update(db, &next, expected, ctx.now)?;
            record(200, &envelope(&stored, view), stored.version, None)
        },
    )
}

pub fn delete(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let id = path_id(id, AutomationId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            store::delete(db, id)?;
            Ok(ApiResponse::no_content())
        },
    )
}
