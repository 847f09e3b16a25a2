//! `webhook_subscriptions`: where outbound events go.

use chrono::{DateTime, Utc};
use sales_domain::ids::WebhookSubscriptionId;
use sales_domain::integrations::subscriptions::matches;

use super::corrupt;
use crate::db::{Db, Row, Value};
use crate::page::{Page, Versioned};
use crate::repo::{delete_by_id, get_by_id, page_by_id, update_versioned, Where};
use crate::{time, StoreError};

const ENTITY: &str = "webhook subscription";
const TABLE: &str = "webhook_subscriptions";
const LIST: &str = "webhook_subscriptions";
const COLUMNS: &str =
    "id, url, event_types, secret, description, active, version, created_at, updated_at";

fn select() -> String {
    format!("SELECT {COLUMNS} FROM {TABLE}")
}

/// A subscription. `secret` (`whsec_…`) signs every delivery; it is shown
/// once, when the subscription is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: WebhookSubscriptionId,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: String,
    pub description: Option<String>,
    pub active: bool,
}

impl Subscription {
    /// Whether an event of `topic` goes to this subscription.
    pub fn wants(&self, topic: &str) -> bool {
        self.active && self.event_types.iter().any(|p| matches(p, topic))
    }
}

fn decode(row: Row<'_>) -> Result<Versioned<Subscription>, StoreError> {
    let id = row.text("id")?;
    Ok(Versioned {
        record: Subscription {
            id: WebhookSubscriptionId::parse(id).map_err(|e| corrupt(ENTITY, id, e))?,
            url: row.text("url")?.to_owned(),
            event_types: serde_json::from_str(row.text("event_types")?)
                .map_err(|e| corrupt(ENTITY, id, e))?,
            secret: row.text("secret")?.to_owned(),
            description: row.opt_text("description")?.map(str::to_owned),
            active: row.bool("active")?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn types_json(s: &Subscription) -> Result<String, StoreError> {
    serde_json::to_string(&s.event_types).map_err(|e| corrupt(ENTITY, &s.id.to_string(), e))
}

pub fn create(
    db: &impl Db,
    s: &Subscription,
    now: DateTime<Utc>,
) -> Result<Versioned<Subscription>, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    db.execute(
        &format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)"),
        &[
            Value::Text(s.id.to_string()),
            Value::from(&s.url),
            Value::Text(types_json(s)?),
            Value::from(&s.secret),
            Value::from(s.description.clone()),
            Value::from(s.active),
            ts.clone(),
            ts,
        ],
    )?;
    get(db, s.id)
}

pub fn get(db: &impl Db, id: WebhookSubscriptionId) -> Result<Versioned<Subscription>, StoreError> {
    get_by_id(db, &select(), ENTITY, &id.to_string(), decode)
}

/// Replaces the editable fields (`url`, `event_types`, `description`,
/// `active`; never the secret) if the row is at `expected`.
pub fn update(
    db: &impl Db,
    s: &Subscription,
    expected: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Subscription>, StoreError> {
    update_versioned(
        db,
        TABLE,
        ENTITY,
        (&s.id.to_string(), expected),
        &format!(
            "UPDATE {TABLE} SET url = ?, event_types = ?, description = ?, active = ?,
             version = version + 1, updated_at = ? WHERE id = ? AND version = ? RETURNING id"
        ),
        &[
            Value::from(&s.url),
            Value::Text(types_json(s)?),
            Value::from(s.description.clone()),
            Value::from(s.active),
            Value::Text(time::to_sql(now)),
            Value::Text(s.id.to_string()),
            Value::Integer(expected),
        ],
    )?;
    get(db, s.id)
}

/// Deletes the subscription; its deliveries stay in the log (pending ones
/// are parked when next claimed).
pub fn delete(db: &impl Db, id: WebhookSubscriptionId) -> Result<(), StoreError> {
    delete_by_id(db, TABLE, ENTITY, &id.to_string())
}

pub fn list(
    db: &impl Db,
    page: &Page,
) -> Result<(Vec<Versioned<Subscription>>, Option<String>), StoreError> {
    page_by_id(
        db,
        (LIST, &select()),
        Where::default(),
        page,
        WebhookSubscriptionId::parse,
        decode,
        |s| s.record.id.to_string(),
    )
}

/// The active subscriptions that want `topic`.
pub fn matching(db: &impl Db, topic: &str) -> Result<Vec<Subscription>, StoreError> {
    Ok(active(db)?.into_iter().filter(|s| s.wants(topic)).collect())
}

/// Every active subscription, in id order (one read for a batch of events
/// of any topics: the jobs drain filters with [`Subscription::wants`]).
pub fn active(db: &impl Db) -> Result<Vec<Subscription>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM {TABLE} WHERE active = 1 ORDER BY id"),
        &[],
    )?;
    Ok(rows
        .iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|v| v.record)
        .collect())
}
