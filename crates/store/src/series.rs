//! Gap-free document numbers (`QTN-2026-00042`) per series and year.

use sales_domain::series::{DocumentNumber, DocumentSeries};

use crate::db::{Db, Value};
use crate::StoreError;

/// Allocates the next number of `series` (the first is 1).
///
/// One `INSERT … ON CONFLICT DO UPDATE … RETURNING` statement bumps the
/// series' counter. It takes SQLite's write lock, so concurrent callers are
/// serialised and never receive the same number.
///
/// **Call it inside the same [`Db::transaction`] that inserts the document.**
/// The counter is then committed together with the document or rolled back
/// with it, so a failed request gives its number back and the series has no
/// gaps. Called outside a transaction it still never repeats a number, but a
/// document insert that fails afterwards would leave a gap.
pub fn next_document_number(
    db: &impl Db,
    series: &DocumentSeries,
) -> Result<DocumentNumber, StoreError> {
    let rows = db.execute(
        "INSERT INTO document_series (prefix, year, last_value) VALUES (?, ?, 1)
         ON CONFLICT (prefix, year) DO UPDATE SET last_value = last_value + 1
         RETURNING last_value",
        &[
            Value::from(series.prefix()),
            Value::Integer(i64::from(series.year())),
        ],
    )?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: "document series",
        id: format!("{}-{}", series.prefix(), series.year()),
        message,
    };
    let value = rows
        .first()
        .ok_or_else(|| corrupt("no value returned".into()))?
        .int("last_value")?;
    let sequence = u64::try_from(value).map_err(|_| corrupt(format!("counter {value}")))?;
    series.number(sequence).map_err(|e| corrupt(e.to_string()))
}

/// The last number handed out in `series`, if any (for reports and tests).
pub fn last_document_number(
    db: &impl Db,
    series: &DocumentSeries,
) -> Result<Option<u64>, StoreError> {
    let rows = db.execute(
        "SELECT last_value FROM document_series WHERE prefix = ? AND year = ?",
        &[
            Value::from(series.prefix()),
            Value::Integer(i64::from(series.year())),
        ],
    )?;
    match rows.first() {
        None => Ok(None),
        Some(row) => {
            let v = row.int("last_value")?;
            Ok(u64::try_from(v).ok())
        }
    }
}
