//! The transactional outbox: events written in the same transaction as the
//! change they announce, and drained by the jobs component.
//!
//! A writer calls [`enqueue`] inside its own [`Db::transaction`] — the
//! event commits with the order, the approval decision or the quotation, or
//! not at all — and after the commit calls `sales_kit::spin::wake_jobs()`
//! (a Redis message on `sales-jobs`). The wake-up is only a hint: if it is
//! lost, the next `tick` finds the row.
//!
//! Lifecycle of a row: `pending` (due at `available_at`) → `running` (claimed
//! by `lease_owner` until `lease_until`) → `done`, or back to `pending` with
//! a later `available_at` after a failure (exponential backoff), or `parked`
//! after the last attempt (with `last_error`; an operator retries it by
//! hand). A `running` row whose lease ran out is claimable again: its
//! consumer died or hung.
//!
//! Topics are `<aggregate>.<past-tense verb>`: `order.confirmed`,
//! `approval.requested`, `quotation.expired`, …

use chrono::{DateTime, Utc};
use sales_domain::ids::EventId;

use crate::db::{Db, DbError, Row, Value};
use crate::{time, StoreError};

const ENTITY: &str = "outbox event";
const COLUMNS: &str = "id, topic, aggregate_kind, aggregate_id, payload, status, attempts,
    available_at, lease_owner, lease_until, last_error, created_at, processed_at";

/// An event to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `order.confirmed`, `approval.requested`, …
    pub topic: String,
    /// `order`, `quotation`, `approval_request`, …
    pub aggregate_kind: String,
    /// The id of the record the event is about.
    pub aggregate_id: String,
    pub payload: serde_json::Value,
}

/// Where a row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventStatus {
    Pending,
    Running,
    Done,
    Parked,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Running => "running",
            EventStatus::Done => "done",
            EventStatus::Parked => "parked",
        }
    }

    pub fn parse(text: &str) -> Option<EventStatus> {
        Some(match text {
            "pending" => EventStatus::Pending,
            "running" => EventStatus::Running,
            "done" => EventStatus::Done,
            "parked" => EventStatus::Parked,
            _ => return None,
        })
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub topic: String,
    pub aggregate_kind: String,
    pub aggregate_id: String,
    pub payload: serde_json::Value,
    pub status: EventStatus,
    /// Attempts started so far (a claim counts one).
    pub attempts: u32,
    /// When the row is due (again).
    pub available_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was done.
    pub processed_at: Option<DateTime<Utc>>,
}

fn decode(row: Row<'_>) -> Result<Event, StoreError> {
    let id = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id.to_owned(),
        message,
    };
    let opt_time = |column: &str| -> Result<Option<DateTime<Utc>>, DbError> {
        row.opt_text(column)?.map(time::from_sql).transpose()
    };
    Ok(Event {
        id: EventId::parse(id).map_err(|e| corrupt(e.to_string()))?,
        topic: row.text("topic")?.to_owned(),
        aggregate_kind: row.text("aggregate_kind")?.to_owned(),
        aggregate_id: row.text("aggregate_id")?.to_owned(),
        payload: serde_json::from_str(row.text("payload")?)
            .map_err(|e| corrupt(format!("payload: {e}")))?,
        status: EventStatus::parse(row.text("status")?)
            .ok_or_else(|| corrupt("unknown status".into()))?,
        attempts: u32::try_from(row.int("attempts")?).unwrap_or(u32::MAX),
        available_at: time::from_sql(row.text("available_at")?)?,
        lease_owner: row.opt_text("lease_owner")?.map(str::to_owned),
        lease_until: opt_time("lease_until")?,
        last_error: row.opt_text("last_error")?.map(str::to_owned),
        created_at: time::from_sql(row.text("created_at")?)?,
        processed_at: opt_time("processed_at")?,
    })
}

/// Writes `event`, due now, and returns its id. Call it inside the
/// transaction that makes the change the event announces.
pub fn enqueue(db: &impl Db, event: &NewEvent, now: DateTime<Utc>) -> Result<EventId, StoreError> {
    let id = EventId::new();
    let ts = Value::Text(time::to_sql(now));
    let payload = serde_json::to_string(&event.payload)
        .map_err(|e| DbError::Decode(format!("payload: {e}")))?;
    db.execute(
        "INSERT INTO outbox (id, topic, aggregate_kind, aggregate_id, payload, status,
         attempts, available_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
        &[
            Value::Text(id.to_string()),
            Value::from(&event.topic),
            Value::from(&event.aggregate_kind),
            Value::from(&event.aggregate_id),
            Value::Text(payload),
            ts.clone(),
            ts,
        ],
    )?;
    Ok(id)
}

pub fn get(db: &impl Db, id: EventId) -> Result<Event, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM outbox WHERE id = ?"),
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
