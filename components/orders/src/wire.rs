//! The order wire format: request bodies (`deny_unknown_fields`, so a typo
//! is a 422 naming the field) and the order as the API answers it, plus
//! the shared helpers (ids from paths, pages, the record envelope).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::catalog::PaymentTerms;
use sales_domain::ids::{
    ApprovalRequestId, ChannelId, CustomerId, LineId, OrderId, PrincipalId, ProductId, QuotationId,
    ReservationId,
};
use sales_domain::money::{Currency, Money};
use sales_domain::orders::{
    CreditOutcome, LineKind, LinePricing, NewOrderLine, OrderStatus, OrderTotals,
};
use sales_kit::etag::etag;
use sales_kit::query::{Page, PageRequest};
use sales_kit::{ApiError, ApiResponse, ApiResult};
use sales_store::orders::{OrderRecord, RawJson};
use sales_store::page::{Page as StorePage, Versioned};
use sales_store::teams::allocations::DocumentKind;
use sales_store::teams::listed::PageDocument;
use serde::{Deserialize, Deserializer, Serialize};

/// Parses an id from the path, naming what was expected.
pub fn path_id<T, E: std::fmt::Display>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::invalid_id("id", e.to_string()))
}

/// For patch fields: absent → `None`, `null` → `Some(None)`, a value →
/// `Some(Some(v))`. Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// For patch fields that may not be cleared: `null` is an error.
pub fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom("may not be null")),
    }
}

/// The kit's validated page request as the store's.
pub fn store_page(limit: Option<u32>, cursor: Option<String>) -> Result<StorePage, ApiError> {
    let p = PageRequest::new(limit, cursor)?;
    Ok(match p.cursor() {
        Some(c) => StorePage::after(p.limit(), c),
        None => StorePage::first(p.limit()),
    })
}

/// One order line as a client sends it. Kept quoted rates and quotation
/// links come only from a quotation's conversion, never from a client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// Keeps a line's identity across edits; a new line gets one.
    #[serde(default)]
    pub id: Option<LineId>,
    pub product_id: ProductId,
    pub quantity: Decimal,
    #[serde(default)]
    pub uom: Option<String>,
    #[serde(default)]
    pub requested_date: Option<NaiveDate>,
}

impl LineBody {
    pub fn into_line(self) -> NewOrderLine {
        NewOrderLine {
            id: self.id.unwrap_or_else(LineId::new),
            product_id: self.product_id,
            quantity: self.quantity,
            uom: self.uom,
            requested_date: self.requested_date,
            kept_rate: None,
            quotation_line_id: None,
        }
    }
}

/// `POST /orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrderBody {
    pub customer_id: CustomerId,
    pub channel_id: ChannelId,
    /// The channel's currency when absent.
    #[serde(default)]
    pub currency: Option<Currency>,
    #[serde(default)]
    pub payment_terms: Option<PaymentTerms>,
    #[serde(default)]
    pub requested_date: Option<NaiveDate>,
    #[serde(default)]
    pub customer_reference: Option<String>,
    pub lines: Vec<LineBody>,
    /// The sales team split (percentages totalling 100); the customer's
    /// default when absent, as `PUT /sales-teams/...` would set it.
    #[serde(default)]
    pub sales_team: Option<Vec<sales_domain::teams::Allocation>>,
    #[serde(default)]
    pub sales_partner_id: Option<sales_domain::teams::SalesPartnerId>,
}

/// `PATCH /orders/{id}`: fields present replace, `null` clears.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "nullable")]
    pub payment_terms: Option<Option<PaymentTerms>>,
    #[serde(default, deserialize_with = "nullable")]
    pub requested_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    pub customer_reference: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub lines: Option<Vec<LineBody>>,
}

/// One line of an order as the API answers it.
#[derive(Debug, Serialize)]
pub struct LineView {
    pub id: LineId,
    pub product_id: ProductId,
    pub kind: LineKind,
    pub quantity: Decimal,
    pub uom: String,
    pub requested_date: Option<NaiveDate>,
    pub kept_rate: Option<Money>,
    pub quotation_line_id: Option<LineId>,
    pub pricing: Option<LinePricing>,
    pub promised_date: Option<NaiveDate>,
    pub promise_source: Option<String>,
    pub reserved_quantity: Decimal,
    pub reservation_id: Option<ReservationId>,
    pub shipped_quantity: Decimal,
}

/// An order as the API answers it.
#[derive(Debug, Serialize)]
pub struct OrderView<'a> {
    pub id: OrderId,
    pub number: String,
    pub customer_id: CustomerId,
    pub channel_id: ChannelId,
    pub currency: Currency,
    pub status: OrderStatus,
    pub held_from: Option<OrderStatus>,
    pub quotation_id: Option<QuotationId>,
    pub order_date: NaiveDate,
    pub requested_date: Option<NaiveDate>,
    pub customer_reference: Option<String>,
    pub payment_terms: Option<PaymentTerms>,
    pub lines: Vec<LineView>,
    pub totals: Option<OrderTotals>,
    pub credit: Option<CreditOutcome>,
    pub approval_request_id: Option<ApprovalRequestId>,
    pub submitted_by: Option<PrincipalId>,
    pub submitted_at: Option<String>,
    pub status_reason: Option<String>,
    pub paid_amount: Decimal,
    /// Grows with every content change: the version approvals name.
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The stored text, written as it is.
    pub waterfall: Option<&'a RawJson>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// The view of a stored order; `full` adds the price waterfall.
pub fn order_view(v: &Versioned<OrderRecord>, full: bool) -> OrderView<'_> {
    let r = &v.record;
    let o = r.order.parts();
    OrderView {
        id: o.id,
        number: o.number.clone(),
        customer_id: o.customer_id,
        channel_id: o.channel_id,
        currency: o.currency,
        status: o.status,
        held_from: o.held_from,
        quotation_id: o.quotation_id,
        order_date: r.order_date,
        requested_date: o.requested_date,
        customer_reference: o.customer_reference.clone(),
        payment_terms: o.payment_terms.clone(),
        lines: o
            .lines
            .iter()
            .map(|l| LineView {
                id: l.id,
                product_id: l.product_id,
                kind: l.kind(),
                quantity: l.quantity.normalize(),
                uom: l.uom.clone(),
                requested_date: l.requested_date,
                kept_rate: l.kept_rate,
                quotation_line_id: l.quotation_line_id,
                pricing: l.pricing.clone(),
                promised_date: l.promised_date,
                promise_source: l.promise_source.clone(),
                reserved_quantity: l.reserved_quantity.normalize(),
                reservation_id: l.reservation_id,
                shipped_quantity: l.shipped_quantity.normalize(),
            })
            .collect(),
        totals: o.totals.clone(),
        credit: o.credit.clone(),
        approval_request_id: o.approval_request_id,
        submitted_by: o.submitted_by,
        submitted_at: r.submitted_at.map(sales_store::time::to_sql),
        status_reason: o.status_reason.clone(),
        paid_amount: o.paid_amount.normalize(),
        revision: r.revision,
        waterfall: if full { r.waterfall.as_ref() } else { None },
        version: v.version,
        created_at: sales_store::time::to_sql(v.created_at),
        updated_at: sales_store::time::to_sql(v.updated_at),
    }
}

/// 200 (or 201 with `Location`) with the order and its `ETag`.
pub fn order_response(status: u16, v: &Versioned<OrderRecord>, created: bool) -> ApiResult {
    let mut resp =
        ApiResponse::json(status, &order_view(v, true))?.with_header("etag", etag(v.version));
    if created {
        resp = resp.with_header(
            "location",
            format!("/api/v1/orders/{}", v.record.order.id()),
        );
    }
    Ok(resp)
}

/// A page of orders (without their waterfalls), each with its sales team
/// as `GET /orders/{id}` shows it, read for the whole page at once.
pub fn order_page(
    db: &impl sales_store::Db,
    items: &[Versioned<OrderRecord>],
    next_cursor: Option<String>,
) -> ApiResult {
    let mut json = items
        .iter()
        .map(|v| serde_json::to_value(order_view(v, false)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal(format!("failed to write an order: {e}")))?;
    let docs: Vec<PageDocument> = items
        .iter()
        .map(|v| {
            let o = &v.record.order;
            PageDocument {
                kind: DocumentKind::Order,
                id: o.id().to_string(),
                quotation_id: o.quotation_id().map(|q| q.to_string()),
                customer_id: o.customer_id(),
            }
        })
        .collect();
    crate::visible::with_teams(db, &docs, &mut json)?;
    ApiResponse::json(
        200,
        &Page {
            items: json,
            next_cursor,
        },
    )
}
