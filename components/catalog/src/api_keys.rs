//! `/api/v1/api-keys` and `/api/v1/me`: who may call the API.

use sales_domain::auth::{
    api_key_display_prefix, generate_api_key, hash_api_key, Action, Principal, Role,
    API_KEY_RANDOM_LEN,
};
use sales_domain::ids::{ApiKeyId, PrincipalId, SalesPersonId, TerritoryId};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::{parse_query, Page};
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::api_keys::{self, ApiKey, ApiKeyFilter, NewApiKey};
use serde::{Deserialize, Serialize};

use crate::wire::{field_id, path_id, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyBody {
    name: String,
    roles: Vec<Role>,
    #[serde(default)]
    sales_person_id: Option<String>,
    #[serde(default)]
    territory_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    revoked: Option<bool>,
}

#[derive(Serialize)]
struct KeyView<'a> {
    id: String,
    name: &'a str,
    roles: Vec<Role>,
    prefix: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sales_person_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    territory_id: Option<String>,
    created_at: String,
    revoked_at: Option<String>,
    /// The secret, only in the answer to the create call.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

fn view(k: &ApiKey, secret: Option<String>) -> KeyView<'_> {
    let p = k.principal();
    KeyView {
        id: k.id().to_string(),
        name: k.name(),
        roles: p.roles().iter().copied().collect(),
        prefix: k.prefix(),
        sales_person_id: p.sales_person_id().map(|i| i.to_string()),
        territory_id: p.territory_id().map(|i| i.to_string()),
        created_at: sales_store::time::to_sql(k.created_at()),
        revoked_at: k.revoked_at().map(sales_store::time::to_sql),
        key: secret,
    }
}

pub fn me(ctx: &Ctx) -> ApiResult {
    ApiResponse::json(200, &ctx.principal)
}

pub fn list(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageApiKeys)?;
    let q: ListQuery = parse_query(&req.query)?;
    let page = store_page(q.limit, q.cursor)?;
    let (keys, next_cursor) = api_keys::list(&ctx.db, &ApiKeyFilter { revoked: q.revoked }, &page)?;
    let items: Vec<KeyView<'_>> = keys.iter().map(|k| view(k, None)).collect();
    ApiResponse::json(200, &Page { items, next_cursor })
}

pub fn get(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageApiKeys)?;
    let id = path_id(id, ApiKeyId::parse)?;
    let key = api_keys::get(&ctx.db, id)?;
    ApiResponse::json(200, &view(&key, None))
}

pub fn create(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageApiKeys)?;
    let body: NewKeyBody = parse_json(req)?;
    let sales_person = body
        .sales_person_id
        .as_deref()
        .map(|s| field_id("sales_person_id", s, SalesPersonId::parse))
        .transpose()?;
    let territory = body
        .territory_id
        .as_deref()
        .map(|s| field_id("territory_id", s, TerritoryId::parse))
        .transpose()?;
    let principal = Principal::new(PrincipalId::new(), &body.name, body.roles.iter().copied())
        .map_err(|e| match e {
            sales_domain::auth::AuthError::NoRoles => {
                ApiError::invalid_field("roles", e.to_string())
            }
            _ => ApiError::invalid_field("name", e.to_string()),
        })?
        .with_sales_person(sales_person)
        .with_territory(territory);
    let mut random = [0u8; API_KEY_RANDOM_LEN];
    getrandom::fill(&mut random).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let secret = generate_api_key(&random);
    let hash = hash_api_key(&secret);
    let prefix = api_key_display_prefix(&secret);
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            if let Some(t) = territory {
                require_row(db, "territories", "territory_id", &t.to_string())?;
            }
            let key = api_keys::create(
                db,
                &NewApiKey {
                    id: ApiKeyId::new(),
                    key_hash: &hash,
                    prefix: &prefix,
                    principal: &principal,
                },
                ctx.now,
            )?;
            ApiResponse::json(201, &view(&key, Some(secret.clone())))
                .map(|r| r.with_header("location", format!("/api/v1/api-keys/{}", key.id())))
        },
    )
}

pub fn revoke(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ManageApiKeys)?;
    let id = path_id(id, ApiKeyId::parse)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let key = api_keys::revoke(db, id, ctx.now)?;
            ApiResponse::json(200, &view(&key, None))
        },
    )
}

/// A referenced row must exist: 422 `unknown_reference` otherwise.
fn require_row(
    db: &impl sales_store::Db,
    table: &str,
    field: &'static str,
    id: &str,
) -> Result<(), ApiError> {
    let rows = db.execute(
        &format!("SELECT 1 AS one FROM {table} WHERE id = ?"),
        &[sales_store::Value::from(id)],
    )?;
    if rows.is_empty() {
        return Err(sales_store::StoreError::MissingReference {
            field,
            id: id.to_string(),
        }
        .into());
    }
    Ok(())
}
