//! Sales channels, with unique codes.

use chrono::{DateTime, Utc};
use sales_domain::catalog::{
    Channel, ChannelKind, ChannelMode, CreditCheck, NewChannel, PaymentTerms, TaxMode,
};
use sales_domain::ids::ChannelId;
use sales_domain::money::Currency;

use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{from_json, stale_or_missing, to_json, Where};
use crate::{time, StoreError};

const ENTITY: &str = "channel";
const LIST: &str = "channels";
const COLUMNS: &str = "id, code, name, kind, mode, currency, default_price_list_id, tax_mode,
    warehouses, quotation_required, approval_policy_id, payment_terms_name, payment_terms_days,
    credit_check, paid_on_order, fulfil_on_order, active, version, created_at, updated_at";

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelFilter {
    pub code: Option<String>,
    pub active: Option<bool>,
}

fn decode(row: Row<'_>) -> Result<Versioned<Channel>, StoreError> {
    let id_text = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id_text.to_owned(),
        message,
    };
    let id = ChannelId::parse(id_text).map_err(|e| corrupt(e.to_string()))?;
    let text = |c: &str| row.text(c);
    let kind = ChannelKind::parse(text("kind")?).ok_or_else(|| corrupt("kind".into()))?;
    let mode = ChannelMode::parse(text("mode")?).ok_or_else(|| corrupt("mode".into()))?;
    let tax_mode = TaxMode::parse(text("tax_mode")?).ok_or_else(|| corrupt("tax_mode".into()))?;
    let currency = Currency::from_code(text("currency")?).map_err(|e| corrupt(e.to_string()))?;
    let credit_check = row
        .opt_text("credit_check")?
        .map(|c| CreditCheck::parse(c).ok_or_else(|| corrupt("credit_check".into())))
        .transpose()?;
    let payment_terms = match (
        row.opt_text("payment_terms_name")?,
        row.opt_int("payment_terms_days")?,
    ) {
        (Some(name), Some(days)) => {
            let days = u16::try_from(days).map_err(|_| corrupt("payment_terms.days".into()))?;
            Some(PaymentTerms::new(name, days).map_err(|e| corrupt(e.to_string()))?)
        }
        _ => None,
    };
    let new = NewChannel {
        code: text("code")?.to_owned(),
        name: text("name")?.to_owned(),
        kind,
        mode,
        currency,
        default_price_list_id: row.opt_text("default_price_list_id")?.map(str::to_owned),
        tax_mode,
        warehouses: from_json("warehouses", text("warehouses")?)?,
        quotation_required: row.bool("quotation_required")?,
        approval_policy_id: row.opt_text("approval_policy_id")?.map(str::to_owned),
        payment_terms,
        credit_check,
        paid_on_order: row.bool("paid_on_order")?,
        fulfil_on_order: row.bool("fulfil_on_order")?,
    };
    let channel =
        Channel::from_parts(id, new, row.bool("active")?).map_err(|e| corrupt(e.to_string()))?;
    Ok(Versioned {
        record: channel,
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn data_values(c: &Channel) -> Result<Vec<Value>, StoreError> {
    Ok(vec![
        Value::from(c.code()),
        Value::from(c.name()),
        Value::from(c.kind().as_str()),
        Value::from(c.mode().as_str()),
        Value::from(c.currency().code()),
        Value::from(c.default_price_list_id()),
        Value::from(c.tax_mode().as_str()),
        to_json("warehouses", &c.warehouses())?,
        Value::from(c.quotation_required()),
        Value::from(c.approval_policy_id()),
        Value::from(c.payment_terms().map(|t| t.name())),
        Value::from(c.payment_terms().map(|t| t.days())),
        Value::from(c.credit_check().map(|c| c.as_str())),
        Value::from(c.paid_on_order()),
        Value::from(c.fulfil_on_order()),
        Value::from(c.is_active()),
    ])
}

fn code_taken(e: DbError, code: &str) -> StoreError {
    match e {
        DbError::Unique(_) => StoreError::Duplicate {
            entity: ENTITY,
            field: "code",
            value: code.to_owned(),
        },
        e => e.into(),
    }
}

fn one(rows: crate::db::Rows) -> Result<Versioned<Channel>, StoreError> {
    decode(
        rows.first()
            .ok_or_else(|| DbError::Decode("no row returned".into()))?,
    )
}

/// Stores a new channel (version 1); a taken code is [`StoreError::Duplicate`].
pub fn create(
    db: &impl Db,
    channel: &Channel,
    now: DateTime<Utc>,
) -> Result<Versioned<Channel>, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    let mut params = vec![Value::Text(channel.id().to_string())];
    params.extend(data_values(channel)?);
    params.extend([Value::Integer(1), ts.clone(), ts]);
    let rows = db
        .execute(
            &format!(
                "INSERT INTO channels ({COLUMNS})
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 RETURNING {COLUMNS}"
            ),
            &params,
        )
        .map_err(|e| code_taken(e, channel.code()))?;
    one(rows)
}

pub fn get(db: &impl Db, id: ChannelId) -> Result<Versioned<Channel>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM channels WHERE id = ?"),
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

/// The channel with this code, if any.
pub fn find_by_code(db: &impl Db, code: &str) -> Result<Option<Versioned<Channel>>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM channels WHERE code = ?"),
        &[Value::from(code)],
    )?;
    rows.first().map(decode).transpose()
}

/// Channels in creation order, a page at a time.
pub fn list(
    db: &impl Db,
    filter: &ChannelFilter,
    page: &Page,
) -> Result<Listed<Channel>, StoreError> {
    let mut w = Where::default();
    if let Some(code) = &filter.code {
        w.and("code = ?", [Value::from(code)]);
    }
    if let Some(active) = filter.active {
        w.and("active = ?", [Value::from(active)]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, ChannelId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM channels {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |c| c.record.id().to_string()))
}

/// Stores `channel` (built with `Channel::patched`) if the row is still at
/// `expected_version`.
pub fn update(
    db: &impl Db,
    channel: &Channel,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Channel>, StoreError> {
    let id = channel.id().to_string();
    let mut params = data_values(channel)?;
    params.extend([
        Value::Text(time::to_sql(now)),
        Value::from(&id),
        Value::Integer(expected_version),
    ]);
    let rows = db
        .execute(
            &format!(
                "UPDATE channels SET code = ?, name = ?, kind = ?, mode = ?, currency = ?,
                     default_price_list_id = ?, tax_mode = ?, warehouses = ?,
                     quotation_required = ?, approval_policy_id = ?, payment_terms_name = ?,
                     payment_terms_days = ?, credit_check = ?, paid_on_order = ?,
                     fulfil_on_order = ?, active = ?, version = version + 1, updated_at = ?
                 WHERE id = ? AND version = ?
                 RETURNING {COLUMNS}"
            ),
            &params,
        )
        .map_err(|e| code_taken(e, channel.code()))?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(stale_or_missing(
            db,
            "channels",
            ENTITY,
            &id,
            expected_version,
        )),
    }
}

/// Marks a channel inactive. Deactivating an inactive channel changes
/// nothing and keeps its version.
pub fn deactivate(
    db: &impl Db,
    id: ChannelId,
    now: DateTime<Utc>,
) -> Result<Versioned<Channel>, StoreError> {
    db.execute(
        "UPDATE channels SET active = 0, version = version + 1, updated_at = ?
         WHERE id = ? AND active = 1",
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    get(db, id)
}
