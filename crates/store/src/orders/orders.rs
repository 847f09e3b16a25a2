//! The `sales_orders` and `sales_order_lines` tables.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{from_milli, to_milli};
use sales_domain::catalog::{PaymentTerms, ProductKind};
use sales_domain::ids::{
    ApprovalRequestId, ChannelId, CustomerId, LineId, OrderId, PrincipalId, ProductId, QuotationId,
    ReservationId,
};
use sales_domain::money::{Currency, Money};
use sales_domain::orders::{
    LinePricing, NewOrder, Order, OrderLine, OrderParts, OrderStatus, OrderTotals,
};
use sales_domain::series::{DocumentNumber, DocumentSeries};

use super::FlowError;
use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{atomically, from_json, opt_to_json, stale_or_missing, Where};
use crate::series::next_document_number;
use crate::teams::allocations::DocumentKind;
use crate::visibility::Visibility;
use crate::{time, StoreError};

const ENTITY: &str = "order";
const TABLE: &str = "sales_orders";
const LIST: &str = "orders";
/// The document series of orders (`SO-2026-00017`).
pub const SERIES_PREFIX: &str = "SO";

const COLUMNS: &str = "id, number, customer_id, channel_id, currency, status, held_from,
    quotation_id, requested_date, customer_reference, payment_terms, order_date, grand_total,
    totals, waterfall, credit, promise, approval_request_id, submitted_by, submitted_at,
    status_reason, paid_amount, revision, version, created_at, updated_at";

const LINE_COLUMNS: &str = "order_id, seq, id, product_id, product_kind, quantity_milli, uom,
    requested_date, kept_rate, quotation_line_id, list_price, net_unit_price, net_total,
    tax_total, gross_total, margin, flags, promised_date, promise_source, reserved_milli,
    reservation_id, shipped_milli";

/// A stored order with what the order flow keeps beside the document.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub order: Order,
    /// Grows with every content change; the version approval requests name.
    pub revision: i64,
    /// The (UTC) day the order was created; lists filter on it.
    pub order_date: NaiveDate,
    /// The pricing capability's whole answer (the price waterfall), as the
    /// JSON text it gave.
    pub waterfall: Option<super::RawJson>,
    /// The availability capability's promise the reservations and the
    /// downstream demand come from.
    pub promise: Option<super::StoredPromise>,
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Filters for [`list`]; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<CustomerId>,
    pub channel_id: Option<ChannelId>,
    pub quotation_id: Option<QuotationId>,
    /// Order date on or after.
    pub from: Option<NaiveDate>,
    /// Order date on or before.
    pub to: Option<NaiveDate>,
}

fn corrupt(id: &str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        entity: ENTITY,
        id: id.to_owned(),
        message: message.into(),
    }
}

fn milli(field: &str, q: Decimal) -> Result<i64, StoreError> {
    to_milli(q).ok_or_else(|| {
        StoreError::Db(DbError::Decode(format!(
            "{field}: {q} has more than three decimals"
        )))
    })
}

fn date(text: &str) -> Result<NaiveDate, DbError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| DbError::Decode(format!("bad date {text:?}: {e}")))
}

fn opt_date(row: &Row<'_>, column: &str) -> Result<Option<NaiveDate>, DbError> {
    row.opt_text(column)?.map(date).transpose()
}

fn amount(m: &Money) -> Value {
    Value::Text(m.amount().to_string())
}

fn opt_amount(m: Option<&Money>) -> Value {
    m.map_or(Value::Null, amount)
}

fn money(id: &str, text: &str, currency: Currency) -> Result<Money, StoreError> {
    let d = Decimal::from_str(text).map_err(|e| corrupt(id, format!("amount {text:?}: {e}")))?;
    Money::new(d, currency).map_err(|e| corrupt(id, e.to_string()))
}

fn opt_money(
    id: &str,
    row: &Row<'_>,
    column: &str,
    currency: Currency,
) -> Result<Option<Money>, StoreError> {
    row.opt_text(column)?
        .map(|t| money(id, t, currency))
        .transpose()
}

fn parse_id<T, E: std::fmt::Display>(
    id: &str,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    parse(text).map_err(|e| corrupt(id, e.to_string()))
}

fn opt_id<T, E: std::fmt::Display>(
    id: &str,
    text: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    text.map(|t| parse_id(id, t, parse)).transpose()
}

fn status(id: &str, text: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::parse(text).ok_or_else(|| corrupt(id, format!("status {text:?}")))
}

fn load_lines(db: &impl Db, id: &str, currency: Currency) -> Result<Vec<OrderLine>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {LINE_COLUMNS} FROM sales_order_lines WHERE order_id = ? ORDER BY seq"),
        &[Value::from(id)],
    )?;
    rows.iter()
        .map(|r| {
            let kind = r.text("product_kind")?;
            let pricing = match opt_money(id, &r, "net_unit_price", currency)? {
                None => None,
                Some(net_unit_price) => {
                    let need = |c: &str| -> Result<Money, StoreError> {
                        opt_money(id, &r, c, currency)?
                            .ok_or_else(|| corrupt(id, format!("{c} missing")))
                    };
                    Some(LinePricing {
                        list_price: need("list_price")?,
                        net_unit_price,
                        net_total: need("net_total")?,
                        tax_total: need("tax_total")?,
                        gross_total: need("gross_total")?,
                        margin: need("margin")?,
                        flags: match r.opt_text("flags")? {
                            Some(f) => from_json("flags", f)?,
                            None => vec![],
                        },
                    })
                }
            };
            Ok(OrderLine {
                id: parse_id(id, r.text("id")?, LineId::parse)?,
                product_id: parse_id(id, r.text("product_id")?, ProductId::parse)?,
                product_kind: ProductKind::parse(kind)
                    .ok_or_else(|| corrupt(id, format!("product kind {kind:?}")))?,
                quantity: from_milli(r.int("quantity_milli")?),
                uom: r.text("uom")?.to_owned(),
                requested_date: opt_date(&r, "requested_date")?,
                kept_rate: opt_money(id, &r, "kept_rate", currency)?,
                quotation_line_id: opt_id(id, r.opt_text("quotation_line_id")?, LineId::parse)?,
                pricing,
                promised_date: opt_date(&r, "promised_date")?,
                promise_source: r.opt_text("promise_source")?.map(str::to_owned),
                reserved_quantity: from_milli(r.int("reserved_milli")?),
                reservation_id: opt_id(id, r.opt_text("reservation_id")?, ReservationId::parse)?,
                shipped_quantity: from_milli(r.int("shipped_milli")?),
            })
        })
        .collect()
}

fn decode(db: &impl Db, row: Row<'_>) -> Result<Versioned<OrderRecord>, StoreError> {
    let id = row.text("id")?;
    let currency =
        Currency::from_code(row.text("currency")?).map_err(|e| corrupt(id, e.to_string()))?;
    let payment_terms: Option<PaymentTerms> = row
        .opt_text("payment_terms")?
        .map(|t| from_json("payment_terms", t))
        .transpose()?;
    let totals: Option<OrderTotals> = row
        .opt_text("totals")?
        .map(|t| from_json("totals", t))
        .transpose()?;
    let parts = OrderParts {
        id: parse_id(id, id, OrderId::parse)?,
        number: row.text("number")?.to_owned(),
        customer_id: parse_id(id, row.text("customer_id")?, CustomerId::parse)?,
        channel_id: parse_id(id, row.text("channel_id")?, ChannelId::parse)?,
        currency,
        payment_terms,
        requested_date: opt_date(&row, "requested_date")?,
        customer_reference: row.opt_text("customer_reference")?.map(str::to_owned),
        quotation_id: opt_id(id, row.opt_text("quotation_id")?, QuotationId::parse)?,
        status: status(id, row.text("status")?)?,
        held_from: row
            .opt_text("held_from")?
            .map(|s| status(id, s))
            .transpose()?,
        lines: load_lines(db, id, currency)?,
        totals,
        credit: row
            .opt_text("credit")?
            .map(|t| from_json("credit", t))
            .transpose()?,
        approval_request_id: opt_id(
            id,
            row.opt_text("approval_request_id")?,
            ApprovalRequestId::parse,
        )?,
        submitted_by: opt_id(id, row.opt_text("submitted_by")?, PrincipalId::parse)?,
        status_reason: row.opt_text("status_reason")?.map(str::to_owned),
        paid_amount: Decimal::from_str(row.text("paid_amount")?)
            .map_err(|e| corrupt(id, format!("paid_amount: {e}")))?,
    };
    let order = Order::from_parts(parts).map_err(|e| corrupt(id, e.to_string()))?;
    Ok(Versioned {
        record: OrderRecord {
            order,
            revision: row.int("revision")?,
            order_date: date(row.text("order_date")?)?,
            waterfall: row
                .opt_text("waterfall")?
                .map(|t| {
                    super::RawJson::from_string(t.to_owned())
                        .map_err(|e| DbError::Decode(format!("waterfall: {e}")))
                })
                .transpose()?,
            promise: row
                .opt_text("promise")?
                .map(|t| from_json("promise", t))
                .transpose()?,
            submitted_at: row
                .opt_text("submitted_at")?
                .map(time::from_sql)
                .transpose()?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

/// Lines per INSERT statement: 22 parameters each stays under SQLite's
/// oldest default limit of 999 parameters per statement.
const LINES_PER_INSERT: usize = 40;

fn write_lines(db: &impl Db, order: &Order) -> Result<(), StoreError> {
    let id = order.id().to_string();
    db.execute(
        "DELETE FROM sales_order_lines WHERE order_id = ?",
        &[Value::from(&id)],
    )?;
    let lines: Vec<(usize, &OrderLine)> = order.lines().iter().enumerate().collect();
    for chunk in lines.chunks(LINES_PER_INSERT) {
        let mut params = Vec::with_capacity(chunk.len() * 22);
        for (seq, l) in chunk {
            let p = l.pricing.as_ref();
            params.extend([
                Value::from(&id),
                Value::Integer(i64::try_from(*seq).unwrap_or(i64::MAX)),
                Value::Text(l.id.to_string()),
                Value::Text(l.product_id.to_string()),
                Value::from(l.product_kind.as_str()),
                Value::Integer(milli("quantity", l.quantity)?),
                Value::from(&l.uom),
                Value::from(l.requested_date.map(|d| d.to_string())),
                opt_amount(l.kept_rate.as_ref()),
                Value::from(l.quotation_line_id.map(|i| i.to_string())),
                opt_amount(p.map(|p| &p.list_price)),
                opt_amount(p.map(|p| &p.net_unit_price)),
                opt_amount(p.map(|p| &p.net_total)),
                opt_amount(p.map(|p| &p.tax_total)),
                opt_amount(p.map(|p| &p.gross_total)),
                opt_amount(p.map(|p| &p.margin)),
                opt_to_json("flags", p.map(|p| &p.flags))?,
                Value::from(l.promised_date.map(|d| d.to_string())),
                Value::from(l.promise_source.clone()),
                Value::Integer(milli("reserved_quantity", l.reserved_quantity)?),
                Value::from(l.reservation_id.map(|i| i.to_string())),
                Value::Integer(milli("shipped_quantity", l.shipped_quantity)?),
            ]);
        }
        let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let values = vec![one; chunk.len()].join(", ");
        let inserted = db.execute(
            &format!("INSERT INTO sales_order_lines ({LINE_COLUMNS}) VALUES {values}"),
            &params,
        );
        if let Err(DbError::Unique(_)) = inserted {
            // Line ids are unique across orders; name the first taken one.
            let taken = chunk
                .iter()
                .find(|(_, l)| {
                    db.execute(
                        "SELECT 1 AS one FROM sales_order_lines WHERE id = ?",
                        &[Value::Text(l.id.to_string())],
                    )
                    .is_ok_and(|r| !r.is_empty())
                })
                .map_or_else(String::new, |(_, l)| l.id.to_string());
            return Err(StoreError::Duplicate {
                entity: "order line",
                field: "id",
                value: taken,
            });
        }
        inserted?;
    }
    Ok(())
}

/// Whether `after`'s lines are `before`'s with only what a line's life
/// changes changed (pricing, the promise, reservations, shipments): the
/// same lines in the same order, each the same product, quantity, unit,
/// date, kept rate and quotation line.
fn same_lines(before: &Order, after: &Order) -> bool {
    before.lines().len() == after.lines().len()
        && before.lines().iter().zip(after.lines()).all(|(b, a)| {
            b.id == a.id
                && b.product_id == a.product_id
                && b.product_kind == a.product_kind
                && b.quantity == a.quantity
                && b.uom == a.uom
                && b.requested_date == a.requested_date
                && b.kept_rate == a.kept_rate
                && b.quotation_line_id == a.quotation_line_id
        })
}

/// Lines per UPDATE statement (13 parameters each).
const LINES_PER_UPDATE: usize = 40;

/// Rewrites the changed lines' state columns in place (see
/// [`same_lines`]), one statement per 40 changed lines: no secondary index
/// holds these columns, so the line table's three indexes are not touched
/// (`DELETE` + `INSERT` rewrote every line in all four b-trees). `before`
/// is what is stored: the caller read it at the version it saves on.
fn update_lines(db: &impl Db, before: &Order, after: &Order) -> Result<(), StoreError> {
    let id = after.id().to_string();
    let changed: Vec<(usize, &OrderLine)> = after
        .lines()
        .iter()
        .enumerate()
        .zip(before.lines())
        .filter(|((_, a), b)| a != b)
        .map(|(line, _)| line)
        .collect();
    for chunk in changed.chunks(LINES_PER_UPDATE) {
        let mut params = Vec::with_capacity(chunk.len() * 13 + 1);
        for (seq, l) in chunk {
            let p = l.pricing.as_ref();
            params.extend([
                Value::Integer(i64::try_from(*seq).unwrap_or(i64::MAX)),
                opt_amount(p.map(|p| &p.list_price)),
                opt_amount(p.map(|p| &p.net_unit_price)),
                opt_amount(p.map(|p| &p.net_total)),
                opt_amount(p.map(|p| &p.tax_total)),
                opt_amount(p.map(|p| &p.gross_total)),
                opt_amount(p.map(|p| &p.margin)),
                opt_to_json("flags", p.map(|p| &p.flags))?,
                Value::from(l.promised_date.map(|d| d.to_string())),
                Value::from(l.promise_source.clone()),
                Value::Integer(milli("reserved_quantity", l.reserved_quantity)?),
                Value::from(l.reservation_id.map(|i| i.to_string())),
                Value::Integer(milli("shipped_quantity", l.shipped_quantity)?),
            ]);
        }
        params.push(Value::from(&id));
        let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let values = vec![one; chunk.len()].join(", ");
        let updated = db.execute(
            &format!(
                "UPDATE sales_order_lines SET list_price = v.column2, net_unit_price = v.column3,
                   net_total = v.column4, tax_total = v.column5, gross_total = v.column6,
                   margin = v.column7, flags = v.column8, promised_date = v.column9,
                   promise_source = v.column10, reserved_milli = v.column11,
                   reservation_id = v.column12, shipped_milli = v.column13
                 FROM (VALUES {values}) AS v
                 WHERE sales_order_lines.order_id = ? AND sales_order_lines.seq = v.column1
                 RETURNING seq"
            ),
            &params,
        )?;
        if updated.len() != chunk.len() {
            return Err(corrupt(
                &id,
                format!(
                    "{} of {} changed lines found to update",
                    updated.len(),
                    chunk.len()
                ),
            ));
        }
    }
    Ok(())
}

/// The header values after `id, number, customer_id, channel_id, currency,
/// order_date` — i.e. the columns an update rewrites, in [`COLUMNS`] order
/// from `status` to `revision` minus `order_date`.
/// The position of `quotation_id` in [`header_values`].
const QUOTATION_PARAM: usize = 2;

fn header_values(rec: &OrderRecord) -> Result<Vec<Value>, StoreError> {
    let o = rec.order.parts();
    Ok(vec![
        Value::from(o.status.as_str()),
        Value::from(o.held_from.map(|s| s.as_str())),
        Value::from(o.quotation_id.map(|q| q.to_string())),
        Value::from(o.requested_date.map(|d| d.to_string())),
        Value::from(o.customer_reference.clone()),
        opt_to_json("payment_terms", o.payment_terms.as_ref())?,
        opt_amount(o.totals.as_ref().map(|t| &t.grand_total)),
        opt_to_json("totals", o.totals.as_ref())?,
        Value::from(rec.waterfall.as_ref().map(|w| w.get())),
        opt_to_json("credit", o.credit.as_ref())?,
        opt_to_json("promise", rec.promise.as_ref())?,
        Value::from(o.approval_request_id.map(|i| i.to_string())),
        Value::from(o.submitted_by.map(|i| i.to_string())),
        Value::from(rec.submitted_at.map(time::to_sql)),
        Value::from(o.status_reason.clone()),
        Value::Text(o.paid_amount.to_string()),
        Value::Integer(rec.revision),
    ])
}

/// The next order number of `today`'s year. Call it inside the
/// transaction that inserts the order (gap-free series).
pub fn next_number(db: &impl Db, today: NaiveDate) -> Result<DocumentNumber, StoreError> {
    let series = DocumentSeries::new(SERIES_PREFIX, today.year())
        .map_err(|e| StoreError::Db(DbError::Decode(format!("order series: {e}"))))?;
    next_document_number(db, &series)
}

/// Stores a new order (version 1, revision 1) with its lines.
pub fn create(
    db: &impl Db,
    rec: &OrderRecord,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, StoreError> {
    atomically(db, || {
        let o = rec.order.parts();
        let ts = Value::Text(time::to_sql(now));
        let mut params = vec![
            Value::Text(o.id.to_string()),
            Value::from(&o.number),
            Value::Text(o.customer_id.to_string()),
            Value::Text(o.channel_id.to_string()),
            Value::from(o.currency.code()),
        ];
        let header = header_values(rec)?;
        // `order_date` sits between `payment_terms` and `grand_total`.
        params.extend(header[..6].iter().cloned());
        params.push(Value::Text(rec.order_date.to_string()));
        params.extend(header[6..].iter().cloned());
        params.extend([Value::Integer(1), ts.clone(), ts]);
        let inserted = db.execute(
            &format!(
                "INSERT INTO sales_orders ({COLUMNS}) VALUES
                 (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            &params,
        );
        if let Err(DbError::Unique(what)) = &inserted {
            let field = if what.contains("number") {
                "number"
            } else {
                "id"
            };
            return Err(StoreError::Duplicate {
                entity: ENTITY,
                field,
                value: if field == "number" {
                    o.number.clone()
                } else {
                    o.id.to_string()
                },
            });
        }
        inserted?;
        write_lines(db, &rec.order)?;
        get(db, o.id)
    })
}

/// Creates a draft order from `new` — what `POST /orders` and a
/// quotation's conversion both call, inside their transaction. Loads the
/// lines' products (unknown and inactive ones are refused naming the line),
/// allocates the next `SO-<year>-<n>` number and stores the draft. `today`
/// is the order date (and the number's year).
pub fn create_draft(
    db: &impl Db,
    id: OrderId,
    new: NewOrder,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, FlowError> {
    let products = load_products(db, new.lines.iter().map(|l| l.product_id))?;
    // Validate before taking a number, so a refused draft uses none.
    Order::draft(id, String::new(), new.clone(), &products)?;
    let number = next_number(db, today)?;
    let order = Order::draft(id, number.to_string(), new, &products)?;
    Ok(create(
        db,
        &OrderRecord {
            order,
            revision: 1,
            order_date: today,
            waterfall: None,
            promise: None,
            submitted_at: None,
        },
        now,
    )?)
}

/// The products of `ids` that exist (active or not).
pub fn load_products(
    db: &impl Db,
    ids: impl IntoIterator<Item = ProductId>,
) -> Result<BTreeMap<ProductId, sales_domain::catalog::Product>, StoreError> {
    let mut ids: Vec<ProductId> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    Ok(crate::products::get_many(db, &ids)?
        .into_iter()
        .map(|(id, p)| (id, p.record))
        .collect())
}

pub fn get(db: &impl Db, id: OrderId) -> Result<Versioned<OrderRecord>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM sales_orders WHERE id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(db, row),
        None => Err(StoreError::NotFound {
            entity: ENTITY,
            id: id.to_string(),
        }),
    }
}

pub fn get_by_number(db: &impl Db, number: &str) -> Result<Versioned<OrderRecord>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM sales_orders WHERE number = ?"),
        &[Value::from(number)],
    )?;
    match rows.first() {
        Some(row) => decode(db, row),
        None => Err(StoreError::NotFound {
            entity: ENTITY,
            id: number.to_owned(),
        }),
    }
}

/// Orders in creation order, a page at a time.
pub fn list(
    db: &impl Db,
    filter: &OrderFilter,
    page: &Page,
) -> Result<Listed<OrderRecord>, StoreError> {
    list_visible(db, filter, page, &Visibility::All)
}

/// [`list`] within what `visible` lets the caller see.
pub fn list_visible(
    db: &impl Db,
    filter: &OrderFilter,
    page: &Page,
    visible: &Visibility,
) -> Result<Listed<OrderRecord>, StoreError> {
    let mut w = Where::default();
    if let Some((clause, params)) = visible.document(
        DocumentKind::Order,
        "sales_orders.id",
        "sales_orders.customer_id",
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
    if let Some(q) = filter.quotation_id {
        w.and("quotation_id = ?", [Value::Text(q.to_string())]);
    }
    if let Some(d) = filter.from {
        w.and("order_date >= ?", [Value::Text(d.to_string())]);
    }
    if let Some(d) = filter.to {
        w.and("order_date <= ?", [Value::Text(d.to_string())]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, OrderId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM sales_orders {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows
        .iter()
        .map(|r| decode(db, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |v| {
        v.record.order.id().to_string()
    }))
}

/// Writes the next state of an order (header and lines) if the row is
/// still at `expected_version`; a stale one is
/// [`StoreError::VersionConflict`].
pub fn save(
    db: &impl Db,
    rec: &OrderRecord,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, StoreError> {
    save_lines(db, rec, None, expected_version, now)
}

/// [`save`] of an order read as `before` at `expected_version`: when its
/// lines are the same lines (a submission prices, promises and reserves
/// them), only the changed lines' state columns are rewritten in place
/// instead of deleting and inserting every line (issue 7: the write
/// transaction's time). Otherwise the same as [`save`], but without a
/// SAVEPOINT of its own: call it inside a transaction that rolls back
/// whole on any error it returns (the submission's), which makes the
/// header and the lines one write — two statements fewer while the write
/// lock is held. A stale `expected_version` is found by the first
/// statement, before anything is written.
pub fn save_over(
    db: &impl Db,
    rec: OrderRecord,
    before: &Order,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, StoreError> {
    // Takes the record: what was written is what is answered, without a
    // copy of it (its waterfall and promise are the largest values).
    Ok(write_order(db, &rec, Some(before), expected_version, now)?.with(rec))
}

fn save_lines(
    db: &impl Db,
    rec: &OrderRecord,
    before: Option<&Order>,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<OrderRecord>, StoreError> {
    atomically(db, || {
        Ok(write_order(db, rec, before, expected_version, now)?.with(rec.clone()))
    })
}

/// What the database set when an order was written.
struct Written {
    version: i64,
    order_date: NaiveDate,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Written {
    /// What was written is what a read would decode: no second read.
    fn with(self, record: OrderRecord) -> Versioned<OrderRecord> {
        Versioned {
            record: OrderRecord {
                order_date: self.order_date,
                ..record
            },
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn write_order(
    db: &impl Db,
    rec: &OrderRecord,
    before: Option<&Order>,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Written, StoreError> {
    let id = rec.order.id().to_string();
    let mut params = header_values(rec)?;
    // An indexed column named in the SET list has its index entry deleted
    // and inserted again even when the value is the same (SQLite does not
    // compare): a submission, which never changes the quotation, would
    // rewrite a leaf of `sales_orders_quotation` for nothing (issue 7: one
    // WAL page and ~3 page reads per submission). Unchanged, it is left out.
    let keep_quotation = before.is_some_and(|b| b.quotation_id() == rec.order.quotation_id());
    let quotation = if keep_quotation {
        params.remove(QUOTATION_PARAM);
        ""
    } else {
        "quotation_id = ?,"
    };
    let sql = format!(
        "UPDATE sales_orders SET status = ?, held_from = ?, {quotation}
           requested_date = ?, customer_reference = ?, payment_terms = ?, grand_total = ?,
           totals = ?, waterfall = ?, credit = ?, promise = ?, approval_request_id = ?,
           submitted_by = ?, submitted_at = ?, status_reason = ?, paid_amount = ?,
           revision = ?, version = version + 1, updated_at = ?
         WHERE id = ? AND version = ?
         RETURNING version, order_date, created_at, updated_at"
    );
    params.extend([
        Value::Text(time::to_sql(now)),
        Value::from(&id),
        Value::Integer(expected_version),
    ]);
    let rows = db.execute(&sql, &params)?;
    let Some(row) = rows.first() else {
        return Err(stale_or_missing(db, TABLE, ENTITY, &id, expected_version));
    };
    match before {
        Some(before) if same_lines(before, &rec.order) => {
            update_lines(db, before, &rec.order)?;
        }
        _ => write_lines(db, &rec.order)?,
    }
    Ok(Written {
        version: row.int("version")?,
        order_date: date(row.text("order_date")?)?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

/// A customer's exposure in `currency` besides one order: the grand
/// totals of their open orders (pending approval, confirmed, partially
/// fulfilled, on hold) and what is unpaid of their fulfilled and closed
/// ones, each minus what was paid. Orders in other currencies are not
/// counted (no exchange rates yet).
pub fn customer_exposure(
    db: &impl Db,
    customer: CustomerId,
    currency: Currency,
    except: OrderId,
) -> Result<(Money, Money), StoreError> {
    let rows = db.execute(
        "SELECT status, grand_total, paid_amount FROM sales_orders
         WHERE customer_id = ? AND currency = ? AND id <> ? AND grand_total IS NOT NULL
           AND status NOT IN ('draft', 'cancelled')",
        &[
            Value::Text(customer.to_string()),
            Value::from(currency.code()),
            Value::Text(except.to_string()),
        ],
    )?;
    let mut open = Decimal::ZERO;
    let mut unpaid = Decimal::ZERO;
    for r in rows.iter() {
        let id = "exposure";
        let total =
            Decimal::from_str(r.text("grand_total")?).map_err(|e| corrupt(id, e.to_string()))?;
        let paid =
            Decimal::from_str(r.text("paid_amount")?).map_err(|e| corrupt(id, e.to_string()))?;
        let owed = (total - paid).max(Decimal::ZERO);
        if status(id, r.text("status")?)?.is_open() {
            open += owed;
        } else {
            unpaid += owed;
        }
    }
    let m = |d: Decimal| Money::new(d, currency).map_err(|e| corrupt("exposure", e.to_string()));
    Ok((m(open)?, m(unpaid)?))
}

/// How many orders there are (for tests and reports).
pub fn count(db: &impl Db) -> Result<i64, StoreError> {
    let rows = db.execute("SELECT COUNT(*) AS n FROM sales_orders", &[])?;
    Ok(rows.first().map(|r| r.int("n")).transpose()?.unwrap_or(0))
}
