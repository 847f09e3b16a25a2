//! The in-app inbox: one row per recipient and `dedupe_key`, so the same
//! event (or the same escalation) notifies each person once however often
//! it is processed. Outbound delivery (webhooks to subscribers) is not
//! here; it is its own outbox handler (issue #9).

use chrono::{DateTime, Utc};
use sales_domain::downstream::NotificationId;
use sales_domain::ids::PrincipalId;

use super::corrupt;
use crate::db::{Db, Row, Value};
use crate::page::{decode_cursor, finish, Page};
use crate::{time, StoreError};

const ENTITY: &str = "notification";
const LIST: &str = "notifications";
const COLUMNS: &str =
    "id, recipient, kind, subject_kind, subject_id, message, dedupe_key, read_at, created_at";

/// A notification to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub recipient: PrincipalId,
    /// `approval_requested`, `approval_escalated`, …
    pub kind: String,
    /// What it is about: `approval_request`, `order`, …
    pub subject_kind: String,
    pub subject_id: String,
    pub message: String,
    /// The same key for the same recipient is written once.
    pub dedupe_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub recipient: PrincipalId,
    pub kind: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub message: String,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn decode(row: Row<'_>) -> Result<Notification, StoreError> {
    let id = row.text("id")?;
    let bad = |e: sales_domain::ids::IdError| corrupt(ENTITY, id, e);
    Ok(Notification {
        id: NotificationId::parse(id).map_err(bad)?,
        recipient: PrincipalId::parse(row.text("recipient")?).map_err(bad)?,
        kind: row.text("kind")?.to_owned(),
        subject_kind: row.text("subject_kind")?.to_owned(),
        subject_id: row.text("subject_id")?.to_owned(),
        message: row.text("message")?.to_owned(),
        read_at: row.opt_text("read_at")?.map(time::from_sql).transpose()?,
        created_at: time::from_sql(row.text("created_at")?)?,
    })
}

/// Writes `n` unless its recipient already has one with its `dedupe_key`;
/// returns whether it was written.
pub fn notify(db: &impl Db, n: &NewNotification, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let rows = db.execute(
        &format!(
            "INSERT INTO notifications ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)
             ON CONFLICT (recipient, dedupe_key) DO NOTHING RETURNING id"
        ),
        &[
            Value::Text(NotificationId::new().to_string()),
            Value::Text(n.recipient.to_string()),
            Value::from(&n.kind),
            Value::from(&n.subject_kind),
            Value::from(&n.subject_id),
            Value::from(&n.message),
            Value::from(&n.dedupe_key),
            Value::Text(time::to_sql(now)),
        ],
    )?;
    Ok(!rows.is_empty())
}

/// A page of `recipient`'s notifications, oldest first.
pub fn list_for(
    db: &impl Db,
    recipient: PrincipalId,
    page: &Page,
) -> Result<(Vec<Notification>, Option<String>), StoreError> {
    let mut params = vec![Value::Text(recipient.to_string())];
    let mut after = String::new();
    if let Some(cursor) = &page.after {
        let id = decode_cursor(LIST, cursor, NotificationId::parse)?;
        after = "AND id > ?".into();
        params.push(Value::Text(id.to_string()));
    }
    let limit = page.effective_limit();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM notifications WHERE recipient = ? {after} ORDER BY id LIMIT ?"
        ),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |n| n.id.to_string()))
}
