//! API keys: who may call the API, stored as SHA-256 hashes.
//!
//! The secret itself is never stored: the component generates it
//! (`sales_domain::auth::generate_api_key`), shows it once, and hands this
//! module its hash (`hash_api_key`) and display prefix. Each key carries its
//! principal (id, name, roles, optional sales person and territory).

use chrono::{DateTime, Utc};
use sales_domain::auth::{Principal, Role};
use sales_domain::ids::{ApiKeyId, PrincipalId, SalesPersonId, TerritoryId};

use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Page};
use crate::repo::Where;
use crate::{time, StoreError};

const ENTITY: &str = "api key";
const LIST: &str = "api_keys";
const COLUMNS: &str = "id, name, key_hash, prefix, roles, principal_id, principal_name,
    sales_person_id, territory_id, created_at, revoked_at";

/// A stored key (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    id: ApiKeyId,
    name: String,
    prefix: String,
    principal: Principal,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn id(&self) -> ApiKeyId {
        self.id
    }
    /// What the key is for ("CRM sync"); the principal's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The first characters of the secret, to recognise the key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.revoked_at
    }
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// What creating a key takes. `principal.name()` becomes the key's name.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub id: ApiKeyId,
    /// `hash_api_key(secret)`.
    pub key_hash: &'a str,
    /// `api_key_display_prefix(secret)`.
    pub prefix: &'a str,
    pub principal: &'a Principal,
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeyFilter {
    /// `Some(true)`: only revoked keys; `Some(false)`: only usable ones.
    pub revoked: Option<bool>,
}

fn decode(row: Row<'_>) -> Result<ApiKey, StoreError> {
    let id_text = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id_text.to_owned(),
        message,
    };
    let id = ApiKeyId::parse(id_text).map_err(|e| corrupt(e.to_string()))?;
    let roles = row
        .text("roles")?
        .split(',')
        .map(Role::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(e.to_string()))?;
    let principal_id =
        PrincipalId::parse(row.text("principal_id")?).map_err(|e| corrupt(e.to_string()))?;
    let sales_person = row
        .opt_text("sales_person_id")?
        .map(SalesPersonId::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let territory = row
        .opt_text("territory_id")?
        .map(TerritoryId::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let principal = Principal::new(principal_id, row.text("principal_name")?, roles)
        .map_err(|e| corrupt(e.to_string()))?
        .with_sales_person(sales_person)
        .with_territory(territory);
    Ok(ApiKey {
        id,
        name: row.text("name")?.to_owned(),
        prefix: row.text("prefix")?.to_owned(),
        principal,
        created_at: time::from_sql(row.text("created_at")?)?,
        revoked_at: row
            .opt_text("revoked_at")?
            .map(time::from_sql)
            .transpose()?,
    })
}

/// Stores a new key. A hash that is already stored is
/// [`StoreError::Duplicate`] (field `key`).
pub fn create(db: &impl Db, new: &NewApiKey<'_>, now: DateTime<Utc>) -> Result<ApiKey, StoreError> {
    let roles: Vec<&str> = new.principal.roles().iter().map(|r| r.as_str()).collect();
    let result = db.execute(
        &format!(
            "INSERT INTO api_keys ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
             RETURNING {COLUMNS}"
        ),
        &[
            Value::Text(new.id.to_string()),
            Value::from(new.principal.name()),
            Value::from(new.key_hash),
            Value::from(new.prefix),
            Value::Text(roles.join(",")),
            Value::Text(new.principal.id().to_string()),
            Value::from(new.principal.name()),
            Value::from(new.principal.sales_person_id().map(|i| i.to_string())),
            Value::from(new.principal.territory_id().map(|i| i.to_string())),
            Value::Text(time::to_sql(now)),
        ],
    );
    match result {
        Ok(rows) => decode(
            rows.first()
                .ok_or_else(|| DbError::Decode("no row returned".into()))?,
        ),
        Err(DbError::Unique(what)) if what.contains("key_hash") => Err(StoreError::Duplicate {
            entity: ENTITY,
            field: "key",
            value: new.prefix.to_owned(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The unrevoked key with this hash, if any — what authentication asks.
pub fn find_active_by_hash(db: &impl Db, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"),
        &[Value::from(key_hash)],
    )?;
    rows.first().map(decode).transpose()
}

pub fn get(db: &impl Db, id: ApiKeyId) -> Result<ApiKey, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity: ENTITY,
            id: id.to_string(),
        }),
    }
}

/// Keys in creation order, a page at a time.
pub fn list(
    db: &impl Db,
    filter: &ApiKeyFilter,
    page: &Page,
) -> Result<(Vec<ApiKey>, Option<String>), StoreError> {
    let mut w = Where::default();
    match filter.revoked {
        Some(true) => w.and("revoked_at IS NOT NULL", []),
        Some(false) => w.and("revoked_at IS NULL", []),
        None => {}
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, ApiKeyId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM api_keys {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let keys = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, keys, limit, |k| k.id.to_string()))
}

/// Revokes a key; it stops authenticating at once. Revoking a revoked key
/// keeps its first `revoked_at`.
pub fn revoke(db: &impl Db, id: ApiKeyId, now: DateTime<Utc>) -> Result<ApiKey, StoreError> {
    db.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    get(db, id)
}
