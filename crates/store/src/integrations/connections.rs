//! `shop_connections`: the shops (several per platform) whose webhooks
//! are taken, each with its own signing secret and sales channel
//! (migration 16). A connection is found by the shop as the platform's
//! header names it (`X-Shopify-Shop-Domain`, `X-WC-Webhook-Source`,
//! normalized by `Platform::normalize_shop`); `(platform, shop)` and
//! `code` are unique. The secret is write-only: the API never shows it.

use chrono::{DateTime, Utc};
use sales_domain::ids::ShopConnectionId;
use sales_domain::integrations::shop::{shop_system, Platform};

use super::corrupt;
use crate::db::{Db, Row, Value};
use crate::page::{Page, Versioned};
use crate::repo::{delete_by_id, get_by_id, page_by_id, update_versioned, Where};
use crate::{time, StoreError};

const ENTITY: &str = "shop connection";
const TABLE: &str = "shop_connections";
const LIST: &str = "shop_connections";
const COLUMNS: &str =
    "id, platform, shop, code, secret, channel_code, active, version, created_at, updated_at";

fn select() -> String {
    format!("SELECT {COLUMNS} FROM {TABLE}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopConnection {
    pub id: ShopConnectionId,
    pub platform: Platform,
    /// As `Platform::normalize_shop` spells it.
    pub shop: String,
    pub code: String,
    pub secret: String,
    /// The channel its orders arrive on (its warehouse, prices, paid on
    /// order or not).
    pub channel_code: String,
    pub active: bool,
}

impl ShopConnection {
    /// `shopify.eu-store`: the inbound log's source, the customers'
    /// `external_ids` key and the orders' external-reference system.
    pub fn system(&self) -> String {
        shop_system(self.platform, &self.code)
    }
}

fn decode(row: Row<'_>) -> Result<Versioned<ShopConnection>, StoreError> {
    let id = row.text("id")?;
    let platform = row.text("platform")?;
    Ok(Versioned {
        record: ShopConnection {
            id: ShopConnectionId::parse(id).map_err(|e| corrupt(ENTITY, id, e))?,
            platform: Platform::parse(platform)
                .ok_or_else(|| corrupt(ENTITY, id, format!("platform {platform:?}")))?,
            shop: row.text("shop")?.to_owned(),
            code: row.text("code")?.to_owned(),
            secret: row.text("secret")?.to_owned(),
            channel_code: row.text("channel_code")?.to_owned(),
            active: row.bool("active")?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

/// Stores a connection; a second one for the same shop is
/// [`StoreError::Duplicate`] on `shop`, the same code on `code`.
pub fn create(
    db: &impl Db,
    c: &ShopConnection,
    now: DateTime<Utc>,
) -> Result<Versioned<ShopConnection>, StoreError> {
    clash(db, c)?;
    let ts = Value::Text(time::to_sql(now));
    db.execute(
        &format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"),
        &[
            Value::Text(c.id.to_string()),
            Value::from(c.platform.source()),
            Value::from(&c.shop),
            Value::from(&c.code),
            Value::from(&c.secret),
            Value::from(&c.channel_code),
            Value::from(c.active),
            ts.clone(),
            ts,
        ],
    )?;
    get(db, c.id)
}

/// Another connection already holding `c`'s shop or code.
fn clash(db: &impl Db, c: &ShopConnection) -> Result<(), StoreError> {
    let rows = db.execute(
        &format!(
            "SELECT platform = ? AND shop = ? AS same_shop FROM {TABLE}
             WHERE id <> ? AND ((platform = ? AND shop = ?) OR code = ?) LIMIT 1"
        ),
        &[
            Value::from(c.platform.source()),
            Value::from(&c.shop),
            Value::Text(c.id.to_string()),
            Value::from(c.platform.source()),
            Value::from(&c.shop),
            Value::from(&c.code),
        ],
    )?;
    match rows.first() {
        None => Ok(()),
        Some(r) => {
            let (field, value) = if r.bool("same_shop")? {
                ("shop", &c.shop)
            } else {
                ("code", &c.code)
            };
            Err(StoreError::Duplicate {
                entity: ENTITY,
                field,
                value: value.clone(),
            })
        }
    }
}

pub fn get(db: &impl Db, id: ShopConnectionId) -> Result<Versioned<ShopConnection>, StoreError> {
    get_by_id(db, &select(), ENTITY, &id.to_string(), decode)
}

/// The active connection of `shop` (normalized) on `platform`, if any.
pub fn find(
    db: &impl Db,
    platform: Platform,
    shop: &str,
) -> Result<Option<ShopConnection>, StoreError> {
    let rows = db.execute(
        &format!(
            "{} WHERE platform = ? AND shop = ? AND active = 1",
            select()
        ),
        &[Value::from(platform.source()), Value::from(shop)],
    )?;
    Ok(rows.first().map(decode).transpose()?.map(|v| v.record))
}

/// Replaces the editable fields (everything but the id and platform; the
/// secret too when a new one is given) if the row is at `expected`.
pub fn update(
    db: &impl Db,
    c: &ShopConnection,
    expected: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<ShopConnection>, StoreError> {
    clash(db, c)?;
    update_versioned(
        db,
        TABLE,
        ENTITY,
        (&c.id.to_string(), expected),
        &format!(
            "UPDATE {TABLE} SET shop = ?, code = ?, secret = ?, channel_code = ?, active = ?,
             version = version + 1, updated_at = ? WHERE id = ? AND version = ? RETURNING id"
        ),
        &[
            Value::from(&c.shop),
            Value::from(&c.code),
            Value::from(&c.secret),
            Value::from(&c.channel_code),
            Value::from(c.active),
            Value::Text(time::to_sql(now)),
            Value::Text(c.id.to_string()),
            Value::Integer(expected),
        ],
    )?;
    get(db, c.id)
}

pub fn delete(db: &impl Db, id: ShopConnectionId) -> Result<(), StoreError> {
    delete_by_id(db, TABLE, ENTITY, &id.to_string())
}

pub fn list(
    db: &impl Db,
    page: &Page,
) -> Result<(Vec<Versioned<ShopConnection>>, Option<String>), StoreError> {
    page_by_id(
        db,
        (LIST, &select()),
        Where::default(),
        page,
        ShopConnectionId::parse,
        decode,
        |s| s.record.id.to_string(),
    )
}
