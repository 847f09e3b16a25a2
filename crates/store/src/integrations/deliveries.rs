//! `webhook_deliveries`: one row per event and target, each with its own
//! attempts (`webhook_delivery_attempts`).
//!
//! A delivery is `pending` (due at `next_attempt_at`) → `sending` (claimed
//! by `lease_owner` until `lease_until`; the HTTP call happens outside any
//! transaction) → `delivered`, or back to `pending` after a failure with
//! backoff, or `parked` after the last attempt. `redeliver` puts a parked
//! or delivered one back, due now, with a fresh set of attempts. The
//! body is fixed when the row is written, so every attempt (and a
//! redelivery) sends the same bytes under the same `webhook-id` — the
//! receiver can deduplicate on it.

use chrono::{DateTime, Duration, Utc};
use sales_domain::ids::{EventId, WebhookDeliveryId, WebhookSubscriptionId};

use super::corrupt;
use crate::db::{Db, Row, Value};
use crate::outbox::RetryPolicy;
use crate::page::{decode_cursor, finish, Page};
use crate::{time, StoreError};

const ENTITY: &str = "webhook delivery";
const LIST: &str = "webhook_deliveries";
const COLUMNS: &str = "id, subscription_id, event_id, topic, origin, dedupe_key, body, status,
    attempts, next_attempt_at, lease_owner, lease_until, last_status, last_error, delivered_at,
    created_at, updated_at";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub subscription_id: WebhookSubscriptionId,
    pub event_id: EventId,
    pub topic: String,
    /// `subscription` or `automation:<id>`.
    pub origin: String,
    pub body: String,
    /// `pending`, `sending`, `delivered`, `parked`.
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One HTTP attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

fn decode(row: Row<'_>) -> Result<Delivery, StoreError> {
    let id = row.text("id")?;
    let bad = |e: sales_domain::ids::IdError| corrupt(ENTITY, id, e);
    Ok(Delivery {
        id: WebhookDeliveryId::parse(id).map_err(bad)?,
        subscription_id: WebhookSubscriptionId::parse(row.text("subscription_id")?).map_err(bad)?,
        event_id: EventId::parse(row.text("event_id")?).map_err(bad)?,
        topic: row.text("topic")?.to_owned(),
        origin: row.text("origin")?.to_owned(),
        body: row.text("body")?.to_owned(),
        status: row.text("status")?.to_owned(),
        attempts: u32::try_from(row.int("attempts")?).unwrap_or(0),
        next_attempt_at: time::from_sql(row.text("next_attempt_at")?)?,
        last_status: row.opt_int("last_status")?,
        last_error: row.opt_text("last_error")?.map(str::to_owned),
        delivered_at: row
            .opt_text("delivered_at")?
            .map(time::from_sql)
            .transpose()?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

/// What to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub subscription_id: WebhookSubscriptionId,
    pub event_id: EventId,
    pub topic: String,
    pub origin: String,
    /// The same key is written once (`sub:<subscription>:<event>`).
    pub dedupe_key: String,
    pub body: String,
}

/// Writes a delivery due now unless one with its `dedupe_key` exists;
/// returns whether it was written.
pub fn enqueue(db: &impl Db, d: &NewDelivery, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    let rows = db.execute(
        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, topic, origin,
             dedupe_key, body, status, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        &[
            Value::Text(WebhookDeliveryId::new().to_string()),
            Value::Text(d.subscription_id.to_string()),
            Value::Text(d.event_id.to_string()),
            Value::from(&d.topic),
            Value::from(&d.origin),
            Value::from(&d.dedupe_key),
            Value::from(&d.body),
            ts.clone(),
            ts.clone(),
            ts,
        ],
    )?;
    Ok(!rows.is_empty())
}

/// Claims up to `limit` due deliveries (pending and due, or sending with
/// an expired lease) for `owner`, counting an attempt each.
///
/// A read first says whether any is due, and the claiming `UPDATE` runs
/// only then: the jobs component looks after every wake-up, nearly always
/// finding nothing, and an `UPDATE` that changes no row still takes the
/// database's write lock (issue 7: it queued behind the submissions' write
/// transactions for nothing).
pub fn claim(
    db: &impl Db,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let now_s = Value::Text(time::to_sql(now));
    let due = db.execute(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries
                        WHERE (status = 'pending' AND next_attempt_at <= ?)
                           OR (status = 'sending' AND lease_until <= ?)) AS due",
        &[now_s.clone(), now_s.clone()],
    )?;
    if due.first().map(|r| r.int("due")).transpose()? != Some(1) {
        return Ok(Vec::new());
    }
    let rows = db.execute(
        &format!(
            "UPDATE webhook_deliveries SET status = 'sending', lease_owner = ?, lease_until = ?,
                 attempts = attempts + 1, updated_at = ?
             WHERE id IN (
                 SELECT id FROM webhook_deliveries
                 WHERE (status = 'pending' AND next_attempt_at <= ?)
                    OR (status = 'sending' AND lease_until <= ?)
                 ORDER BY next_attempt_at, id LIMIT ?)
             RETURNING {COLUMNS}"
        ),
        &[
            Value::from(owner),
            Value::Text(time::to_sql(now + lease)),
            now_s.clone(),
            now_s.clone(),
            now_s,
            Value::Integer(i64::from(limit)),
        ],
    )?;
    rows.iter().map(decode).collect()
}

/// Records the attempt a claim made and moves the delivery on:
/// `delivered` on success, else `pending` after the policy's backoff, or
/// `parked` when it was the last attempt. Returns the new status, or
/// `None` when the lease was lost meanwhile (another consumer owns it).
pub fn finish_attempt(
    db: &impl Db,
    d: &Delivery,
    owner: &str,
    outcome: &Attempt,
    success: bool,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    db.transaction(|db| {
        let status = if success {
            "delivered"
        } else if d.attempts >= policy.max_attempts {
            "parked"
        } else {
            "pending"
        };
        let next = now + policy.backoff(d.attempts);
        let rows = db.execute(
            "UPDATE webhook_deliveries SET status = ?, lease_owner = NULL, lease_until = NULL,
                 next_attempt_at = ?, last_status = ?, last_error = ?,
                 delivered_at = CASE WHEN ? THEN ? ELSE delivered_at END, updated_at = ?
             WHERE id = ? AND lease_owner = ? AND status = 'sending' RETURNING id",
            &[
                Value::from(status),
                Value::Text(time::to_sql(next)),
                Value::from(outcome.status_code),
                Value::from(outcome.error.clone()),
                Value::from(success),
                Value::Text(time::to_sql(now)),
                Value::Text(time::to_sql(now)),
                Value::Text(d.id.to_string()),
                Value::from(owner),
            ],
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        db.execute(
            "INSERT OR REPLACE INTO webhook_delivery_attempts
                 (delivery_id, attempt, at, status_code, error, duration_ms)
             VALUES (?, (SELECT count(*) + 1 FROM webhook_delivery_attempts WHERE delivery_id = ?),
                     ?, ?, ?, ?)",
            &[
                Value::Text(d.id.to_string()),
                Value::Text(d.id.to_string()),
                Value::Text(time::to_sql(outcome.at)),
                Value::from(outcome.status_code),
                Value::from(outcome.error.clone()),
                Value::Integer(outcome.duration_ms),
            ],
        )?;
        Ok(Some(status.to_owned()))
    })
}

/// Puts a parked or delivered delivery back, due now, with a fresh set of
/// attempts (the earlier attempts stay in the log). A pending or sending
/// one is [`StoreError::Conflict`]-like: `Ok(None)`.
pub fn redeliver(
    db: &impl Db,
    id: WebhookDeliveryId,
    now: DateTime<Utc>,
) -> Result<Option<Delivery>, StoreError> {
    let current = get(db, id)?;
    if current.status != "parked" && current.status != "delivered" {
        return Ok(None);
    }
    let ts = Value::Text(time::to_sql(now));
    db.execute(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?,
             updated_at = ? WHERE id = ?",
        &[ts.clone(), ts, Value::Text(id.to_string())],
    )?;
    Ok(Some(get(db, id)?))
}

pub fn get(db: &impl Db, id: WebhookDeliveryId) -> Result<Delivery, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    rows.first()
        .map(decode)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            entity: ENTITY,
            id: id.to_string(),
        })
}

/// Every attempt of a delivery, oldest first.
pub fn attempts(db: &impl Db, id: WebhookDeliveryId) -> Result<Vec<Attempt>, StoreError> {
    let rows = db.execute(
        "SELECT attempt, at, status_code, error, duration_ms FROM webhook_delivery_attempts
         WHERE delivery_id = ? ORDER BY attempt",
        &[Value::Text(id.to_string())],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Attempt {
                attempt: u32::try_from(r.int("attempt")?).unwrap_or(0),
                at: time::from_sql(r.text("at")?)?,
                status_code: r.opt_int("status_code")?,
                error: r.opt_text("error")?.map(str::to_owned),
                duration_ms: r.int("duration_ms")?,
            })
        })
        .collect()
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub subscription_id: Option<WebhookSubscriptionId>,
    pub event_id: Option<EventId>,
    pub topic: Option<String>,
}

pub fn list(
    db: &impl Db,
    filter: &DeliveryFilter,
    page: &Page,
) -> Result<(Vec<Delivery>, Option<String>), StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE 1 = 1");
    let mut params = Vec::new();
    if let Some(s) = &filter.status {
        sql.push_str(" AND status = ?");
        params.push(Value::from(s));
    }
    if let Some(s) = filter.subscription_id {
        sql.push_str(" AND subscription_id = ?");
        params.push(Value::Text(s.to_string()));
    }
    if let Some(e) = filter.event_id {
        sql.push_str(" AND event_id = ?");
        params.push(Value::Text(e.to_string()));
    }
    if let Some(t) = &filter.topic {
        sql.push_str(" AND topic = ?");
        params.push(Value::from(t));
    }
    if let Some(c) = &page.after {
        let after = decode_cursor(LIST, c, WebhookDeliveryId::parse)?;
        sql.push_str(" AND id > ?");
        params.push(Value::Text(after.to_string()));
    }
    let limit = page.effective_limit();
    sql.push_str(" ORDER BY id LIMIT ?");
    params.push(Value::Integer(i64::from(limit) + 1));
    let rows = db.execute(&sql, &params)?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |d| d.id.to_string()))
}
