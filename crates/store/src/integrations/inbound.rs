//! `inbound_events`: every accepted inbound call, its outcome and payload.

use chrono::{DateTime, Utc};
use sales_domain::ids::InboundEventId;

use super::corrupt;
use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Page};
use crate::{time, StoreError};

const ENTITY: &str = "inbound event";
const LIST: &str = "inbound_events";
const COLUMNS: &str = "id, source, topic, external_id, outcome, reason, document_kind,
    document_id, duplicate_of, payload, received_at";

/// One logged inbound call. `outcome`: `created` (the document was made),
/// `held` (made on hold with `reason`), `duplicate` (the platform event
/// was seen before: `duplicate_of`), `ignored` (a topic we do not act on),
/// `refused` (signed correctly but unusable: `reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    pub id: InboundEventId,
    pub source: String,
    pub topic: String,
    pub external_id: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub document_kind: Option<String>,
    pub document_id: Option<String>,
    pub duplicate_of: Option<InboundEventId>,
    pub payload: String,
    pub received_at: DateTime<Utc>,
}

fn decode(row: Row<'_>) -> Result<InboundEvent, StoreError> {
    let id = row.text("id")?;
    let bad = |e: sales_domain::ids::IdError| corrupt(ENTITY, id, e);
    Ok(InboundEvent {
        id: InboundEventId::parse(id).map_err(bad)?,
        source: row.text("source")?.to_owned(),
        topic: row.text("topic")?.to_owned(),
        external_id: row.opt_text("external_id")?.map(str::to_owned),
        outcome: row.text("outcome")?.to_owned(),
        reason: row.opt_text("reason")?.map(str::to_owned),
        document_kind: row.opt_text("document_kind")?.map(str::to_owned),
        document_id: row.opt_text("document_id")?.map(str::to_owned),
        duplicate_of: row
            .opt_text("duplicate_of")?
            .map(InboundEventId::parse)
            .transpose()
            .map_err(bad)?,
        payload: row.text("payload")?.to_owned(),
        received_at: time::from_sql(row.text("received_at")?)?,
    })
}

/// The first receipt of `external_id` from `source`, if any.
pub fn first_receipt(
    db: &impl Db,
    source: &str,
    external_id: &str,
) -> Result<Option<InboundEvent>, StoreError> {
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM inbound_events
             WHERE source = ? AND external_id = ? AND duplicate_of IS NULL"
        ),
        &[Value::from(source), Value::from(external_id)],
    )?;
    rows.first().map(decode).transpose()
}

/// Logs a call. A second first receipt of the same platform event is
/// [`StoreError::Duplicate`] (field `external_id`).
pub fn record(db: &impl Db, e: &InboundEvent) -> Result<(), StoreError> {
    let result = db.execute(
        &format!("INSERT INTO inbound_events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        &[
            Value::Text(e.id.to_string()),
            Value::from(&e.source),
            Value::from(&e.topic),
            Value::from(e.external_id.clone()),
            Value::from(&e.outcome),
            Value::from(e.reason.clone()),
            Value::from(e.document_kind.clone()),
            Value::from(e.document_id.clone()),
            Value::from(e.duplicate_of.map(|d| d.to_string())),
            Value::from(&e.payload),
            Value::Text(time::to_sql(e.received_at)),
        ],
    );
    match result {
        Err(DbError::Unique(_)) => Err(StoreError::Duplicate {
            entity: ENTITY,
            field: "external_id",
            value: e.external_id.clone().unwrap_or_default(),
        }),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

pub fn get(db: &impl Db, id: InboundEventId) -> Result<InboundEvent, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM inbound_events WHERE id = ?"),
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

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundFilter {
    pub source: Option<String>,
    pub outcome: Option<String>,
}

/// Newest last (ids are UUID v7), keyset pages.
pub fn list(
    db: &impl Db,
    filter: &InboundFilter,
    page: &Page,
) -> Result<(Vec<InboundEvent>, Option<String>), StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM inbound_events WHERE 1 = 1");
    let mut params = Vec::new();
    if let Some(s) = &filter.source {
        sql.push_str(" AND source = ?");
        params.push(Value::from(s));
    }
    if let Some(o) = &filter.outcome {
        sql.push_str(" AND outcome = ?");
        params.push(Value::from(o));
    }
    if let Some(c) = &page.after {
        let after = decode_cursor(LIST, c, InboundEventId::parse)?;
        sql.push_str(" AND id > ?");
        params.push(Value::Text(after.to_string()));
    }
    let limit = page.effective_limit();
    sql.push_str(" ORDER BY id LIMIT ?");
    params.push(Value::Integer(i64::from(limit) + 1));
    let rows = db.execute(&sql, &params)?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |e| e.id.to_string()))
}
