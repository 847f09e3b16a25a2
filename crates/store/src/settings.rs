//! The one settings row.
//!
//! The row exists from migration 1 on with the defaults of
//! `Settings::default()`. Updating is read → `Settings::patched` → [`save`]
//! with the version the client saw.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sales_domain::catalog::{ChannelDefaults, CreditCheck, Settings, SettingsPatch};
use sales_domain::money::RoundingMode;
use sales_domain::pricing::TaxRounding;

use crate::db::{Db, Row, Value};
use crate::page::Versioned;
use crate::repo::{from_json, stale_or_missing, to_json};
use crate::{time, StoreError};

const ENTITY: &str = "settings";
const COLUMNS: &str =
    "default_channel, quotation_validity_days, rounding, tax_rounding, credit_check,
    allow_order_from_expired_quotation, keep_quoted_rate, channel_defaults, version, updated_at";

fn decode(row: Row<'_>) -> Result<Versioned<Settings>, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: "1".into(),
        message,
    };
    let rounding_text = row.text("rounding")?;
    let rounding = RoundingMode::parse(rounding_text)
        .ok_or_else(|| corrupt(format!("rounding {rounding_text:?}")))?;
    let tax_rounding = match row.text("tax_rounding")? {
        "per_line" => TaxRounding::PerLine,
        "per_document" => TaxRounding::PerDocument,
        other => return Err(corrupt(format!("tax_rounding {other:?}"))),
    };
    let credit = row.text("credit_check")?;
    let credit_check =
        CreditCheck::parse(credit).ok_or_else(|| corrupt(format!("credit_check {credit:?}")))?;
    let days = u16::try_from(row.int("quotation_validity_days")?)
        .map_err(|_| corrupt("quotation_validity_days".into()))?;
    let channel_defaults: BTreeMap<String, ChannelDefaults> =
        from_json("channel_defaults", row.text("channel_defaults")?)?;
    let settings = Settings::default()
        .patched(SettingsPatch {
            default_channel: Some(row.opt_text("default_channel")?.map(str::to_owned)),
            quotation_validity_days: Some(days),
            rounding: Some(rounding),
            tax_rounding: Some(tax_rounding),
            credit_check: Some(credit_check),
            allow_order_from_expired_quotation: Some(
                row.bool("allow_order_from_expired_quotation")?,
            ),
            keep_quoted_rate: Some(row.bool("keep_quoted_rate")?),
            channel_defaults: Some(channel_defaults),
        })
        .map_err(|e| corrupt(e.to_string()))?;
    let updated_at = time::from_sql(row.text("updated_at")?)?;
    Ok(Versioned {
        record: settings,
        version: row.int("version")?,
        created_at: updated_at,
        updated_at,
    })
}

/// The current settings. `created_at` equals `updated_at` (the row is as
/// old as the schema).
pub fn get(db: &impl Db) -> Result<Versioned<Settings>, StoreError> {
    let rows = db.execute(&format!("SELECT {COLUMNS} FROM settings WHERE id = 1"), &[])?;
    let row = rows.first().ok_or(StoreError::NotFound {
        entity: ENTITY,
        id: "1".into(),
    })?;
    decode(row)
}

/// Stores `settings` if the row is still at `expected_version`.
/// `default_channel` must name an existing channel code.
pub fn save(
    db: &impl Db,
    settings: &Settings,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Settings>, StoreError> {
    if let Some(code) = settings.default_channel() {
        let rows = db.execute(
            "SELECT 1 AS one FROM channels WHERE code = ?",
            &[Value::from(code)],
        )?;
        if rows.is_empty() {
            return Err(StoreError::MissingReference {
                field: "default_channel",
                id: code.to_owned(),
            });
        }
    }
    let rows = db.execute(
        &format!(
            "UPDATE settings SET default_channel = ?, quotation_validity_days = ?, rounding = ?,
                tax_rounding = ?, credit_check = ?, allow_order_from_expired_quotation = ?, keep_quoted_rate = ?,
                channel_defaults = ?, version = version + 1, updated_at = ?
             WHERE id = 1 AND version = ?
             RETURNING {COLUMNS}"
        ),
        &[
            Value::from(settings.default_channel()),
            Value::from(settings.quotation_validity_days()),
            Value::from(settings.rounding().as_str()),
            Value::from(match settings.tax_rounding() {
                TaxRounding::PerLine => "per_line",
                TaxRounding::PerDocument => "per_document",
            }),
            Value::from(settings.credit_check().as_str()),
            Value::from(settings.allow_order_from_expired_quotation()),
            Value::from(settings.keep_quoted_rate()),
            to_json("channel_defaults", settings.channel_defaults())?,
            Value::Text(time::to_sql(now)),
            Value::Integer(expected_version),
        ],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(stale_or_missing(
            db,
            "settings",
            ENTITY,
            "1",
            expected_version,
        )),
    }
}
