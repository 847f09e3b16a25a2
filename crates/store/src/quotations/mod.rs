//! Quotations (migration 9): the current revision in `quotations` and
//! `quotation_lines`, earlier revisions as snapshots in
//! `quotation_revisions`.
//!
//! - The header row holds what lists filter on (status, customer, channel,
//!   valid until, number) as columns and the rest of the domain
//!   [`Quotation`] as JSON (`body`, without the lines).
//! - Each line is a row with its quantities in INTEGER thousandths
//!   (`quantity_milli`, `ordered_milli`), its kind, group and `selected`
//!   flag as columns and the rest (unit, requested date, the quoted price
//!   and waterfall) as JSON. The schema checks `0 <= ordered_milli <=
//!   quantity_milli`, so no bug can order more than was quoted; the
//!   `ordered_milli` column is what [`decode`] trusts.
//! - [`save`] (every change after creation) updates the header only if it
//!   is still at the version the caller read — two conversions of the same
//!   remainder cannot both pass — and rewrites the lines, in one SAVEPOINT.
//! - [`revise`] snapshots the superseded revision into `quotation_revisions`
//!   (never updated afterwards) and saves the next one in the same
//!   SAVEPOINT.
//! - [`expire_due`] is the periodic job's: every `sent` or `accepted`
//!   quotation past its `valid_until` becomes `expired`, with a
//!   `quotation.expired` outbox event, inside the caller's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sales_domain::ids::{ChannelId, CustomerId, LineId, QuotationId};
use sales_domain::quotations::{Quotation, QuotationStatus};
use serde_json::Value as Json;

use crate::db::{Db, DbError, Row, Value};
use crate::outbox::{self, NewEvent};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{atomically, require_exists, stale_or_missing, Where};
use crate::teams::allocations::DocumentKind;
use crate::visibility::Visibility;
use crate::{time, StoreError};

const TABLE: &str = "quotations";
const ENTITY: &str = "quotation";
const SELECT: &str = "SELECT id, body, status, revision, version, created_at, updated_at
    FROM quotations";

fn corrupt(id: &str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        entity: ENTITY,
        id: id.to_owned(),
        message: message.to_string(),
    }
}

fn json_text(column: &str, v: &impl serde::Serialize) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Decode(format!("{column}: {e}")))
}

/// Filters for [`list`]; `valid_from` / `valid_to` bound `valid_until`
/// (both inclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotationFilter {
    pub status: Option<QuotationStatus>,
    pub customer_id: Option<CustomerId>,
    pub channel_id: Option<ChannelId>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

/// A superseded revision, as it was when the next one replaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub quotation: Quotation,
    pub superseded_at: DateTime<Utc>,
}

/// Ordered and quoted thousandths of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderedQuantity {
    pub line_id: LineId,
    pub quantity_milli: i64,
    pub ordered_milli: i64,
}

/// The header body: the domain spec without its lines.
fn header_body(q: &Quotation) -> Result<String, DbError> {
    let mut v =
        serde_json::to_value(q.spec()).map_err(|e| DbError::Decode(format!("body: {e}")))?;
    if let Json::Object(map) = &mut v {
        map.remove("lines");
    }
    json_text("body", &v)
}

fn write_lines(db: &impl Db, q: &Quotation) -> Result<(), StoreError> {
    let id = q.id().to_string();
    db.execute(
        "DELETE FROM quotation_lines WHERE quotation_id = ?",
        &[Value::from(&id)],
    )?;
    for (seq, line) in q.lines().iter().enumerate() {
        db.execute(
            "INSERT INTO quotation_lines (quotation_id, seq, line_id, product_id, kind,
               alternative_group, selected, quantity_milli, ordered_milli, body)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                Value::from(&id),
                Value::Integer(i64::try_from(seq).unwrap_or(i64::MAX)),
                Value::Text(line.id().to_string()),
                Value::Text(line.product_id().to_string()),
                Value::from(line.kind().as_str()),
                Value::from(line.group()),
                Value::from(line.selected()),
                Value::Integer(line.quantity_milli()),
                Value::Integer(line.ordered_milli()),
                Value::Text(json_text("body", &line.to_spec())?),
            ],
        )?;
    }
    Ok(())
}

fn net_total(q: &Quotation) -> Value {
    q.totals().map_or(Value::Null, |t| {
        Value::Text(t.net_total.amount().to_string())
    })
}

/// Builds the domain quotation from a header row and its line rows.
fn assemble(row: Row<'_>, lines: Vec<Json>) -> Result<Versioned<Quotation>, StoreError> {
    let id = row.text("id")?;
    let mut body: Json = serde_json::from_str(row.text("body")?).map_err(|e| corrupt(id, e))?;
    if let Json::Object(map) = &mut body {
        map.insert("lines".into(), Json::Array(lines));
    }
    let record: Quotation = serde_json::from_value(body).map_err(|e| corrupt(id, e))?;
    Ok(Versioned {
        record,
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

/// The line JSON of a row, with the ordered quantity from its column.
fn line_json(row: Row<'_>) -> Result<Json, StoreError> {
    let qid = row.text("quotation_id")?;
    let mut body: Json = serde_json::from_str(row.text("body")?).map_err(|e| corrupt(qid, e))?;
    let ordered = sales_domain::availability::from_milli(row.int("ordered_milli")?);
    if let Json::Object(map) = &mut body {
        map.insert("ordered_quantity".into(), Json::String(ordered.to_string()));
    }
    Ok(body)
}

/// Line rows of the given quotations, grouped by quotation id, in order.
fn lines_of(
    db: &impl Db,
    ids: &[String],
) -> Result<std::collections::BTreeMap<String, Vec<Json>>, StoreError> {
    let mut out: std::collections::BTreeMap<String, Vec<Json>> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let params: Vec<Value> = ids.iter().map(Value::from).collect();
    let rows = db.execute(
        &format!(
            "SELECT quotation_id, ordered_milli, body FROM quotation_lines
             WHERE quotation_id IN ({marks}) ORDER BY quotation_id, seq"
        ),
        &params,
    )?;
    for row in rows.iter() {
        let qid = row.text("quotation_id")?.to_owned();
        out.entry(qid).or_default().push(line_json(row)?);
    }
    Ok(out)
}

/// Stores a new quotation (revision 1). The customer and channel must exist.
pub fn create(
    db: &impl Db,
    q: &Quotation,
    now: DateTime<Utc>,
) -> Result<Versioned<Quotation>, StoreError> {
    require_exists(
        db,
        "customers",
        "customer_id",
        Some(q.customer_id().to_string()),
    )?;
    require_exists(
        db,
        "channels",
        "channel_id",
        Some(q.channel_id().to_string()),
    )?;
    atomically(db, || {
        let ts = Value::Text(time::to_sql(now));
        let inserted = db.execute(
            "INSERT INTO quotations (id, number, revision, status, customer_id, channel_id,
               currency, valid_until, net_total_amount, body, version, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            &[
                Value::Text(q.id().to_string()),
                Value::Text(q.number().to_string()),
                Value::from(q.revision()),
                Value::from(q.status().as_str()),
                Value::Text(q.customer_id().to_string()),
                Value::Text(q.channel_id().to_string()),
                Value::from(q.currency().code()),
                Value::Text(q.valid_until().to_string()),
                net_total(q),
                Value::Text(header_body(q)?),
                ts.clone(),
                ts,
            ],
        );
        match inserted {
            Ok(_) => {}
            Err(DbError::Unique(_)) => {
                return Err(StoreError::Duplicate {
                    entity: ENTITY,
                    field: "number",
                    value: q.number().to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        }
        write_lines(db, q)?;
        get(db, q.id())
    })
}

/// Stores the next state of a quotation if the row is still at
/// `expected_version` (else [`StoreError::VersionConflict`]).
pub fn save(
    db: &impl Db,
    q: &Quotation,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Quotation>, StoreError> {
    atomically(db, || {
        let id = q.id().to_string();
        let rows = db.execute(
            "UPDATE quotations SET revision = ?, status = ?, valid_until = ?,
               net_total_amount = ?, body = ?, version = version + 1, updated_at = ?
             WHERE id = ? AND version = ? RETURNING id",
            &[
                Value::from(q.revision()),
                Value::from(q.status().as_str()),
                Value::Text(q.valid_until().to_string()),
                net_total(q),
                Value::Text(header_body(q)?),
                Value::Text(time::to_sql(now)),
                Value::from(&id),
                Value::Integer(expected_version),
            ],
        )?;
        if rows.is_empty() {
            return Err(stale_or_missing(db, TABLE, ENTITY, &id, expected_version));
        }
        write_lines(db, q)?;
        get(db, q.id())
    })
}

/// Keeps `previous` (the stored current revision) as history and stores
/// `next` (its revision + 1) in its place, if the row is still at
/// `previous.version`.
pub fn revise(
    db: &impl Db,
    previous: &Versioned<Quotation>,
    next: &Quotation,
    now: DateTime<Utc>,
) -> Result<Versioned<Quotation>, StoreError> {
    let prev = &previous.record;
    if next.id() != prev.id() || next.revision() != prev.revision() + 1 {
        return Err(StoreError::InvalidState {
            entity: ENTITY,
            id: prev.id().to_string(),
            message: format!(
                "revision {} does not follow revision {}",
                next.revision(),
                prev.revision()
            ),
        });
    }
    atomically(db, || {
        db.execute(
            "INSERT INTO quotation_revisions (quotation_id, revision, status, body, superseded_at)
             VALUES (?, ?, ?, ?, ?)",
            &[
                Value::Text(prev.id().to_string()),
                Value::from(prev.revision()),
                Value::from(prev.status().as_str()),
                Value::Text(json_text("body", prev)?),
                Value::Text(time::to_sql(now)),
            ],
        )?;
        save(db, next, previous.version, now)
    })
}

pub fn get(db: &impl Db, id: QuotationId) -> Result<Versioned<Quotation>, StoreError> {
    let id_text = id.to_string();
    let rows = db.execute(&format!("{SELECT} WHERE id = ?"), &[Value::from(&id_text)])?;
    let row = rows.first().ok_or_else(|| StoreError::NotFound {
        entity: ENTITY,
        id: id_text.clone(),
    })?;
    let mut lines = lines_of(db, std::slice::from_ref(&id_text))?;
    assemble(row, lines.remove(&id_text).unwrap_or_default())
}

/// Every superseded revision of a quotation, oldest first.
pub fn revisions(db: &impl Db, id: QuotationId) -> Result<Vec<Revision>, StoreError> {
    let id_text = id.to_string();
    let rows = db.execute(
        "SELECT revision, body, superseded_at FROM quotation_revisions
         WHERE quotation_id = ? ORDER BY revision",
        &[Value::from(&id_text)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Revision {
                quotation: serde_json::from_str(r.text("body")?)
                    .map_err(|e| corrupt(&id_text, e))?,
                superseded_at: time::from_sql(r.text("superseded_at")?)?,
            })
        })
        .collect()
}

/// One superseded revision.
pub fn revision(db: &impl Db, id: QuotationId, revision: u32) -> Result<Revision, StoreError> {
    revisions(db, id)?
        .into_iter()
        .find(|r| r.quotation.revision() == revision)
        .ok_or_else(|| StoreError::NotFound {
            entity: "quotation revision",
            id: format!("{id}/{revision}"),
        })
}

pub fn list(
    db: &impl Db,
    filter: &QuotationFilter,
    page: &Page,
) -> Result<Listed<Quotation>, StoreError> {
    list_visible(db, filter, page, &Visibility::All)
}

/// [`list`] within what `visible` lets the caller see.
pub fn list_visible(
    db: &impl Db,
    filter: &QuotationFilter,
    page: &Page,
    visible: &Visibility,
) -> Result<Listed<Quotation>, StoreError> {
    let mut w = Where::default();
    if let Some((clause, params)) = visible.document(
        DocumentKind::Quotation,
        "quotations.id",
        "quotations.customer_id",
    ) {
        w.and(&clause, params);
    }
    if let Some(s) = filter.status {
        w.and("status = ?", [Value::from(s.as_str())]);
    }
    if let Some(c) = filter.customer_id {
        w.and("customer_id = ?", [Value::Text(c.to_string())]);
    }
    if let Some(c) = filter.channel_id {
        w.and("channel_id = ?", [Value::Text(c.to_string())]);
    }
    if let Some(d) = filter.valid_from {
        w.and("valid_until >= ?", [Value::Text(d.to_string())]);
    }
    if let Some(d) = filter.valid_to {
        w.and("valid_until <= ?", [Value::Text(d.to_string())]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(TABLE, cursor, |s| QuotationId::parse(s).map_err(|_| ()))?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!("{SELECT} {} ORDER BY id LIMIT ?", w.sql()),
        &params,
    )?;
    let ids = rows
        .iter()
        .map(|r| r.text("id").map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    let mut lines = lines_of(db, &ids)?;
    let items = rows
        .iter()
        .zip(&ids)
        .map(|(r, id)| assemble(r, lines.remove(id).unwrap_or_default()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(finish(TABLE, items, limit, |q| q.record.id().to_string()))
}

/// Quoted and ordered thousandths of each line of the current revision.
pub fn ordered_quantity(db: &impl Db, id: QuotationId) -> Result<Vec<OrderedQuantity>, StoreError> {
    let id_text = id.to_string();
    let rows = db.execute(
        "SELECT line_id, quantity_milli, ordered_milli FROM quotation_lines
         WHERE quotation_id = ? ORDER BY seq",
        &[Value::from(&id_text)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(OrderedQuantity {
                line_id: LineId::parse(r.text("line_id")?).map_err(|e| corrupt(&id_text, e))?,
                quantity_milli: r.int("quantity_milli")?,
                ordered_milli: r.int("ordered_milli")?,
            })
        })
        .collect()
}

/// Writes a `quotation.<verb>` outbox event about `q` (inside the caller's
/// transaction). The payload names the quotation, its number, revision,
/// status, customer and channel, plus `extra`'s fields.
pub fn enqueue_event(
    db: &impl Db,
    verb: &str,
    q: &Quotation,
    extra: Json,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut payload = serde_json::json!({
        "quotation_id": q.id().to_string(),
        "number": q.number().to_string(),
        "revision": q.revision(),
        "status": q.status().as_str(),
        "customer_id": q.customer_id().to_string(),
        "channel_code": q.channel_code(),
        "valid_until": q.valid_until().to_string(),
    });
    if let (Json::Object(p), Json::Object(e)) = (&mut payload, extra) {
        p.extend(e);
    }
    outbox::enqueue(
        db,
        &NewEvent {
            topic: format!("quotation.{verb}"),
            aggregate_kind: "quotation".into(),
            aggregate_id: q.id().to_string(),
            payload,
        },
        now,
    )?;
    Ok(())
}

/// The periodic expiry: every `sent` or `accepted` quotation whose
/// `valid_until` is before `today` becomes `expired`, each with a
/// `quotation.expired` event. Call it inside a transaction; running it
/// twice expires nothing the second time. Returns the expired ids.
pub fn expire_due(
    db: &impl Db,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<QuotationId>, StoreError> {
    let rows = db.execute(
        "SELECT id FROM quotations WHERE status IN ('sent', 'accepted') AND valid_until < ?
         ORDER BY id",
        &[Value::Text(today.to_string())],
    )?;
    let mut expired = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let text = row.text("id")?;
        let id = QuotationId::parse(text).map_err(|e| corrupt(text, e))?;
        let current = get(db, id)?;
        let mut q = current.record;
        q.expire(today).map_err(|e| StoreError::InvalidState {
            entity: ENTITY,
            id: id.to_string(),
            message: e.to_string(),
        })?;
        save(db, &q, current.version, now)?;
        enqueue_event(db, "expired", &q, Json::Object(Default::default()), now)?;
        expired.push(id);
    }
    Ok(expired)
}

#[cfg(all(test, feature = "rusqlite"))]
mod tests;
