//! The quotation wire format: request bodies (strict: unknown fields are
//! 422), their conversion into domain values, the response views, the
//! exhaustive mapping of [`QuotationError`] to problem+json, and the
//! signed accept link.
//!
//! Accept links: `send` answers a token `v1.<quotation id>.<revision>.<last
//! valid day>.<HMAC-SHA256 hex>`. The MAC covers everything before it, so
//! an edited token (another id, revision or day) fails verification; a
//! token of an earlier revision verifies but no longer matches the
//! quotation (409 `link_superseded`); a token past its day is 409
//! `quotation_expired`. The key is the Spin variable
//! `quotation_link_secret`; when it is unset, a key derived from
//! `admin_api_key` (SHA-256 of a fixed label and the key) is used, so a
//! deployment works without another secret — rotating either invalidates
//! every outstanding link.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use sales_domain::ids::{CustomerId, LineId, ProductId, QuotationId};
use sales_domain::quotations::{
    Choice, ConversionRequest, LineKind, NewLine, Quotation, QuotationError, QuotationPatch,
};
use sales_kit::etag::etag;
use sales_kit::{ApiError, ApiResponse, ApiResult};
use sales_store::page::Versioned;
use sales_store::quotations::Revision;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Parses an id from the path, naming what was expected.
pub fn path_id<T, E: std::fmt::Display>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::invalid_id("id", e.to_string()))
}

/// Absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Patch fields that may not be cleared: `null` is an error naming the field.
fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom("may not be null")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    pub product_id: ProductId,
    pub quantity: Decimal,
    #[serde(default)]
    pub uom: Option<String>,
    #[serde(default)]
    pub requested_date: Option<NaiveDate>,
    #[serde(default)]
    pub kind: Option<LineKind>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub selected: Option<bool>,
}

impl From<LineBody> for NewLine {
    fn from(b: LineBody) -> NewLine {
        NewLine {
            product_id: b.product_id,
            quantity: b.quantity,
            uom: b.uom,
            requested_date: b.requested_date,
            kind: b.kind.unwrap_or(LineKind::Standard),
            group: b.group,
            selected: b.selected,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    pub customer_id: CustomerId,
    /// The channel's code; the settings' `default_channel` when absent.
    #[serde(default)]
    pub channel_code: Option<String>,
    /// ISO 4217; the channel's currency when absent.
    #[serde(default)]
    pub currency: Option<String>,
    /// The last valid day; today + the channel's validity when absent.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    #[serde(default)]
    pub notes: Option<String>,
    pub lines: Vec<LineBody>,
    /// The sales team split (percentages totalling 100); the customer's
    /// default when absent, as `PUT /sales-teams/...` would set it.
    #[serde(default)]
    pub sales_team: Option<Vec<sales_domain::teams::Allocation>>,
    #[serde(default)]
    pub sales_partner_id: Option<sales_domain::teams::SalesPartnerId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    pub valid_until: Option<NaiveDate>,
    #[serde(default, deserialize_with = "nullable")]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub lines: Option<Vec<LineBody>>,
}

impl From<PatchBody> for QuotationPatch {
    fn from(b: PatchBody) -> QuotationPatch {
        QuotationPatch {
            valid_until: b.valid_until,
            notes: b.notes,
            lines: b
                .lines
                .map(|lines| lines.into_iter().map(NewLine::from).collect()),
        }
    }
}

/// The customer's choices at acceptance or conversion.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceBody {
    /// Alternative group → the line chosen in it.
    #[serde(default)]
    pub alternatives: BTreeMap<String, LineId>,
    /// Optional lines taken.
    #[serde(default)]
    pub optional_lines: Vec<LineId>,
}

impl From<ChoiceBody> for Choice {
    fn from(b: ChoiceBody) -> Choice {
        Choice {
            alternatives: b.alternatives,
            optional_lines: b.optional_lines,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAcceptBody {
    pub token: String,
    #[serde(default)]
    pub alternatives: BTreeMap<String, LineId>,
    #[serde(default)]
    pub optional_lines: Vec<LineId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoseBody {
    pub reason: String,
    #[serde(default)]
    pub competitor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertLineBody {
    pub line_id: LineId,
    /// All that remains of the line when absent.
    #[serde(default)]
    pub quantity: Option<Decimal>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertBody {
    #[serde(default)]
    pub alternatives: BTreeMap<String, LineId>,
    #[serde(default)]
    pub optional_lines: Vec<LineId>,
    /// Everything that remains of the counted lines when absent.
    #[serde(default)]
    pub lines: Option<Vec<ConvertLineBody>>,
    /// The customer's purchase order number, kept on the order.
    #[serde(default)]
    pub customer_reference: Option<String>,
}

impl ConvertBody {
    pub fn request(&self) -> ConversionRequest {
        ConversionRequest {
            choice: Choice {
                alternatives: self.alternatives.clone(),
                optional_lines: self.optional_lines.clone(),
            },
            lines: self
                .lines
                .as_ref()
                .map(|ls| ls.iter().map(|l| (l.line_id, l.quantity)).collect()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub channel_id: Option<String>,
    /// `valid_until` on or after this day.
    pub valid_from: Option<NaiveDate>,
    /// `valid_until` on or before this day.
    pub valid_to: Option<NaiveDate>,
}

/// The JSON of a quotation: its fields, `totals` (counted lines; `null`
/// until priced), and the store's bookkeeping.
pub fn quotation_json(v: &Versioned<Quotation>) -> Result<Value, ApiError> {
    let mut value = serde_json::to_value(&v.record)
        .map_err(|e| ApiError::internal(format!("failed to serialise a quotation: {e}")))?;
    if let Value::Object(map) = &mut value {
        map.insert("totals".into(), json!(v.record.totals()));
        map.insert("version".into(), v.version.into());
        map.insert(
            "created_at".into(),
            sales_store::time::to_sql(v.created_at).into(),
        );
        map.insert(
            "updated_at".into(),
            sales_store::time::to_sql(v.updated_at).into(),
        );
    }
    Ok(value)
}

/// The items of a page of quotations: [`quotation_json`] with the sales
/// team fields `GET /quotations/{id}` carries, read for the whole page
/// at once (`visible::with_teams`).
pub fn quotation_page_items(
    db: &impl sales_store::Db,
    items: &[Versioned<Quotation>],
) -> Result<Vec<Value>, ApiError> {
    let mut json = items
        .iter()
        .map(quotation_json)
        .collect::<Result<Vec<_>, _>>()?;
    let docs: Vec<sales_store::teams::listed::PageDocument> = items
        .iter()
        .map(|v| sales_store::teams::listed::PageDocument {
            kind: sales_store::teams::allocations::DocumentKind::Quotation,
            id: v.record.id().to_string(),
            quotation_id: None,
            customer_id: v.record.customer_id(),
        })
        .collect();
    crate::visible::with_teams(db, &docs, &mut json)?;
    Ok(json)
}

/// The revision list a quotation's GET carries.
pub fn history_json(revisions: &[Revision]) -> Value {
    Value::Array(
        revisions
            .iter()
            .map(|r| {
                json!({
                    "revision": r.quotation.revision(),
                    "status": r.quotation.status(),
                    "valid_until": r.quotation.valid_until(),
                    "net_total": r.quotation.totals().map(|t| t.net_total),
                    "superseded_at": sales_store::time::to_sql(r.superseded_at),
                })
            })
            .collect(),
    )
}

/// A response with the quotation (plus `extra` fields) and its `ETag`.
pub fn respond(
    status: u16,
    v: &Versioned<Quotation>,
    extra: Vec<(&str, Value)>,
    location: bool,
) -> ApiResult {
    let mut body = quotation_json(v)?;
    if let Value::Object(map) = &mut body {
        for (k, val) in extra {
            map.insert(k.to_owned(), val);
        }
    }
    let mut resp = ApiResponse::json(status, &body)?.with_header("etag", etag(v.version));
    if location {
        resp = resp.with_header("location", format!("/api/v1/quotations/{}", v.record.id()));
    }
    Ok(resp)
}

/// What the customer sees through the link: the offer, without our
/// internals (who wrote it, guard flags, the waterfall's rules).
pub fn public_json(q: &Quotation) -> Value {
    let lines: Vec<Value> = q
        .lines()
        .iter()
        .map(|l| {
            json!({
                "id": l.id(),
                "product_id": l.product_id(),
                "quantity": l.quantity(),
                "uom": l.price().map(|p| p.uom.clone()).or_else(|| l.uom().map(str::to_owned)),
                "requested_date": l.requested_date(),
                "kind": l.kind(),
                "group": l.group(),
                "selected": l.selected(),
                "in_total": l.counted(),
                "net_unit_price": l.price().map(|p| p.net_unit_price),
                "net_total": l.price().map(|p| p.net_total),
                "gross_total": l.price().map(|p| p.gross_total),
            })
        })
        .collect();
    json!({
        "id": q.id(),
        "number": q.number(),
        "revision": q.revision(),
        "status": q.status(),
        "currency": q.currency(),
        "valid_until": q.valid_until(),
        "lines": lines,
        "totals": q.totals(),
    })
}

/// Every quotation error a client can see. Exhaustive: a new variant does
/// not compile until someone decides its status and code.
pub fn error(e: QuotationError) -> ApiError {
    match &e {
        QuotationError::Invalid(v) => ApiError::invalid_field(v.field.clone(), v.message.clone()),
        QuotationError::Transition(_) => {
            ApiError::conflict("invalid_transition", e.to_string()).with_field("status")
        }
        QuotationError::Expired { .. } => {
            ApiError::conflict("quotation_expired", e.to_string()).with_field("valid_until")
        }
        QuotationError::UnknownLine { field, .. } => ApiError::new(
            422,
            "unknown_line",
            "The line is not a line of this quotation",
            e.to_string(),
        )
        .with_field(field.clone()),
        QuotationError::NotChosen { field, .. } => ApiError::new(
            422,
            "line_not_chosen",
            "The line is not part of the offer as chosen",
            e.to_string(),
        )
        .with_field(field.clone()),
        QuotationError::ExceedsRemaining { field, .. } => {
            ApiError::conflict("exceeds_remaining", e.to_string()).with_field(field.clone())
        }
        QuotationError::NothingToConvert => {
            ApiError::conflict("nothing_to_convert", e.to_string()).with_field("lines")
        }
        QuotationError::ChoiceFixed { field, .. } => {
            ApiError::conflict("choice_fixed", e.to_string()).with_field(field.clone())
        }
        QuotationError::StaleApproval { .. } => {
            ApiError::conflict("stale_approval", e.to_string()).with_field("document_version")
        }
    }
}

// --- accept links ------------------------------------------------------------

const TOKEN_VERSION: &str = "v1";

/// The key accept links are signed with; see the module docs.
pub fn link_key(secret: Option<String>, admin_key: Option<String>) -> Result<Vec<u8>, ApiError> {
    match (secret, admin_key) {
        (Some(s), _) => Ok(s.into_bytes()),
        (None, Some(admin)) => {
            let mut h = Sha256::new();
            h.update(b"sales-orchestration quotation accept links\0");
            h.update(admin.as_bytes());
            Ok(h.finalize().to_vec())
        }
        (None, None) => Err(ApiError::unavailable(
            "accept links are not configured: set the quotation_link_secret variable",
        )),
    }
}

fn mac(key: &[u8], message: &str) -> Result<Hmac<Sha256>, ApiError> {
    let mut m = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|e| ApiError::internal(format!("failed to key the link MAC: {e}")))?;
    m.update(message.as_bytes());
    Ok(m)
}

/// The accept token of `q`'s current revision, valid through `valid_until`.
pub fn sign(key: &[u8], q: &Quotation) -> Result<String, ApiError> {
    let message = format!(
        "{TOKEN_VERSION}.{}.{}.{}",
        q.id(),
        q.revision(),
        q.valid_until()
    );
    let tag = hex::encode(mac(key, &message)?.finalize().into_bytes());
    Ok(format!("{message}.{tag}"))
}

/// What a verified token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub quotation: QuotationId,
    pub revision: u32,
    pub valid_until: NaiveDate,
}

fn bad_token() -> ApiError {
    ApiError::new(
        403,
        "invalid_token",
        "The accept link is not valid",
        "the token was not issued by this service or has been altered",
    )
    .with_field("token")
}

/// Verifies a token's MAC (constant time) and reads its claims. Any
/// malformed or altered token is the same 403, saying nothing of why.
pub fn verify(key: &[u8], token: &str) -> Result<LinkClaims, ApiError> {
    let (message, tag) = token.rsplit_once('.').ok_or_else(bad_token)?;
    let tag = hex::decode(tag).map_err(|_| bad_token())?;
    mac(key, message)?
        .verify_slice(&tag)
        .map_err(|_| bad_token())?;
    let mut parts = message.split('.');
    let (Some(TOKEN_VERSION), Some(id), Some(rev), Some(day), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad_token());
    };
    Ok(LinkClaims {
        quotation: QuotationId::parse(id).map_err(|_| bad_token())?,
        revision: rev.parse().map_err(|_| bad_token())?,
        valid_until: day.parse().map_err(|_| bad_token())?,
    })
}
