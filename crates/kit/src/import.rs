//! Bulk import bodies: NDJSON (one JSON object a line) or CSV (a header row,
//! then one record a row), read into numbered rows of a row type.
//!
//! The catalog's imports (`/api/v1/imports/{customers|products}`) and the
//! availability feed (`/api/v1/stock/import`) read their bodies here, so
//! both answer alike and the parser is tested natively
//! (`crates/kit/tests/import_fuzz.rs`).
//!
//! The whole body is refused — nothing is written — when it is over the
//! limit (413), of a media type other than NDJSON or CSV (415), not UTF-8,
//! or a CSV whose header cannot be read or lacks a required column (422
//! naming the column). Otherwise every row stands on its own: a row that
//! cannot be read, or has a bad field, becomes a [`RowError`] with its
//! 1-based number and the field's path, and the other rows go on.
//!
//! A CSV row is turned into a JSON object of its non-empty cells (cells
//! trimmed), so both formats are read by the one JSON deserializer
//! ([`crate::json::parse_json_bytes`]) and report the codes a JSON body
//! does — `invalid_field`, `missing_field`, `unknown_field` — plus
//! `malformed_row` for a line that is not JSON or a CSV record that cannot
//! be read. Cells are text: a row type reads numbers from CSV with
//! [`Amount`] and [`lenient_u16`].
//!
//! What it does not do: look anything up or write anything; the component
//! turns each parsed row into domain values and reports what happened.

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::http::ApiRequest;
use crate::json::parse_json_bytes;
use crate::problem::ApiError;

/// The largest import body (10 MiB, about 50,000 rows).
pub const MAX_IMPORT_BODY: usize = 10 * 1024 * 1024;

/// A row that could not be imported, as the import report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based data row (the CSV header is not counted, nor blank NDJSON
    /// lines).
    pub row: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub code: String,
    pub message: String,
}

impl RowError {
    pub fn new(
        row: usize,
        field: Option<&str>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> RowError {
        RowError {
            row,
            field: field.map(str::to_owned),
            code: code.into(),
            message: message.into(),
        }
    }

    /// The row's share of an API error: its code, field and detail. A
    /// malformed JSON body is a `malformed_row` here, and the whole-body
    /// field `body` names no field of the row.
    pub fn from_api(row: usize, e: &ApiError) -> RowError {
        let code = match e.code() {
            "malformed_json" => "malformed_row",
            other => other,
        };
        RowError {
            row,
            field: e.field().filter(|f| *f != "body").map(str::to_owned),
            code: code.to_owned(),
            message: e.detail().to_owned(),
        }
    }
}

/// A 1-based row number with the parsed row or why it cannot be used.
pub type NumberedRow<T> = (usize, Result<T, RowError>);

/// The two formats an import body comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    /// The format a `Content-Type` names (parameters such as `charset`
    /// ignored); anything else is 415.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Format, ApiError> {
        let essence = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson" | "application/jsonl" | "application/ndjson" => {
                Ok(Format::Ndjson)
            }
            "text/csv" => Ok(Format::Csv),
            other => Err(ApiError::unsupported_media_type(format!(
                "expected application/x-ndjson or text/csv, got {other:?}"
            ))),
        }
    }
}

/// The request's body as numbered rows of `T`; see the module docs.
pub fn parse_import<T: DeserializeOwned>(
    req: &ApiRequest,
    required: &[&str],
) -> Result<Vec<NumberedRow<T>>, ApiError> {
    parse_import_bytes(
        req.header("content-type"),
        &req.body,
        required,
        MAX_IMPORT_BODY,
    )
}

/// [`parse_import`] on a content type and body, with a size limit.
pub fn parse_import_bytes<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
    required: &[&str],
    limit: usize,
) -> Result<Vec<NumberedRow<T>>, ApiError> {
    if body.len() > limit {
        return Err(ApiError::payload_too_large(limit));
    }
    let format = Format::from_content_type(content_type)?;
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid_field("body", "the body is not UTF-8 text"))?;
    match format {
        Format::Ndjson => Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| (i + 1, json_row(i + 1, line.as_bytes())))
            .collect()),
        Format::Csv => csv_rows(text, required),
    }
}

fn json_row<T: DeserializeOwned>(n: usize, json: &[u8]) -> Result<T, RowError> {
    parse_json_bytes(json, usize::MAX).map_err(|e| RowError::from_api(n, &e))
}

fn csv_rows<T: DeserializeOwned>(
    text: &str,
    required: &[&str],
) -> Result<Vec<NumberedRow<T>>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            ApiError::invalid_field("body", format!("the CSV header cannot be read: {e}"))
        })?
        .clone();
    for column in required {
        if !headers.iter().any(|h| h == *column) {
            return Err(ApiError::invalid_field(
                *column,
                format!("the CSV header has no `{column}` column"),
            ));
        }
    }
    Ok(reader
        .records()
        .enumerate()
        .map(|(i, record)| {
            let n = i + 1;
            let row = match record {
                Err(e) => Err(RowError::new(n, None, "malformed_row", e.to_string())),
                Ok(rec) => {
                    let object: serde_json::Map<String, serde_json::Value> = headers
                        .iter()
                        .zip(rec.iter())
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(h, v)| (h.to_owned(), serde_json::Value::from(v)))
                        .collect();
                    json_row(n, serde_json::Value::Object(object).to_string().as_bytes())
                }
            };
            (n, row)
        })
        .collect())
}

/// A decimal amount written as text (`"1200.50"`, as every CSV cell is) or
/// as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(pub Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => f.to_string(),
        };
        text.trim()
            .parse::<Decimal>()
            .map(Amount)
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a decimal amount")))
    }
}

/// An optional whole number from 0 to 65535 written as a JSON number or as
/// text (`"30"`, as in CSV); for `#[serde(default, deserialize_with = ..)]`.
pub fn lenient_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u16),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Int(n)) => Ok(Some(n)),
        Some(Raw::Text(t)) => t.trim().parse::<u16>().map(Some).map_err(|_| {
            serde::de::Error::custom(format!("{t:?} is not a whole number from 0 to 65535"))
        }),
    }
}
