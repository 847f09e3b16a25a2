//! The rollups (migration 11), maintained by the jobs component from
//! `order.*` outbox events.
//!
//! [`refresh_order`] brings one order's contribution up to date: it reads
//! the order as it is now, computes its facts ([`OrderFacts`]: the order
//! and each line with its date, currency and dimensions), takes the old
//! contribution out of `analytics_daily` and `analytics_monthly` (the same
//! cube by calendar month, migration 13) and puts the new one in, and
//! replaces the order's rows in `analytics_orders` / `analytics_order_lines`.
//! Because the result depends only on the order's current state, a
//! replayed, duplicated or out-of-order event changes nothing; the order's
//! `version` is remembered in `analytics_order_versions`, so an event for a
//! version already applied is skipped without touching a table.
//!
//! Only booked orders (`sales_domain::analytics::is_booked`) have facts.
//! [`rebuild`] recomputes every order (a backfill after the migration, or
//! a repair); [`recompute_daily`] computes the daily cube from the raw
//! order tables without the rollups, which [`verify`] compares with the
//! stored daily cube, and its months ([`months_of`]) with the stored
//! monthly one.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use sales_domain::analytics::{is_booked, to_e4};
use sales_domain::ids::{CustomerId, OrderId};
use sales_domain::orders::OrderStatus;

use crate::db::{Db, DbError, Row, Value};
use crate::error::StoreError;

/// One key of the daily cube; a missing dimension is the empty string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DailyKey {
    pub day: String,
    pub currency: String,
    pub channel_id: String,
    pub territory_id: String,
    pub customer_group_id: String,
}

/// The measures of a cube cell or an order (amounts in ten-thousandths).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measures {
    pub orders: i64,
    pub quantity_milli: i64,
    pub net_e4: i64,
    pub margin_e4: i64,
}

impl Measures {
    fn add(&mut self, o: &Measures) {
        self.orders += o.orders;
        self.quantity_milli += o.quantity_milli;
        self.net_e4 += o.net_e4;
        self.margin_e4 += o.margin_e4;
    }
}

/// A booked line's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFacts {
    pub seq: i64,
    pub product_id: String,
    pub item_group_id: String,
    pub quantity_milli: i64,
    pub net_e4: i64,
    pub margin_e4: i64,
}

/// A booked order's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub key: DailyKey,
    pub customer_id: String,
    pub measures: Measures,
    pub lines: Vec<LineFacts>,
}

fn corrupt(id: &str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        entity: "order",
        id: id.to_owned(),
        message: message.into(),
    }
}

fn e4(id: &str, text: Option<&str>) -> Result<i64, StoreError> {
    match text {
        None | Some("") => Ok(0),
        Some(t) => {
            let d = Decimal::from_str(t).map_err(|e| corrupt(id, e.to_string()))?;
            to_e4(d).ok_or_else(|| corrupt(id, format!("amount {t} out of range")))
        }
    }
}

/// The order's version, and its facts when it is booked (`None` when it
/// does not exist or does not count).
pub fn facts(db: &impl Db, order: &str) -> Result<Option<(i64, Option<OrderFacts>)>, StoreError> {
    let rows = db.execute(
        &format!(
            "SELECT {ORDER_HEAD}
             FROM sales_orders o LEFT JOIN customers c ON c.id = o.customer_id
             WHERE o.id = ?"
        ),
        &[Value::from(order)],
    )?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    facts_of_row(db, order, r).map(Some)
}

/// What [`facts`] reads of the order and its customer (`o`, `c`).
const ORDER_HEAD: &str = "o.status, o.held_from, o.order_date, o.currency, o.customer_id,
    o.channel_id, o.version, c.customer_group_id, c.territory_id,
    (c.id IS NOT NULL AND c.billing_address IS NULL
     AND c.shipping_address IS NULL) AS no_address";

/// [`facts`] from the order's row of [`ORDER_HEAD`] (the lines, and a
/// customer placed by address, are read here).
fn facts_of_row(
    db: &impl Db,
    order: &str,
    r: Row<'_>,
) -> Result<(i64, Option<OrderFacts>), StoreError> {
    let version = r.int("version")?;
    let status_text = r.text("status")?;
    let status = OrderStatus::parse(status_text)
        .ok_or_else(|| corrupt(order, format!("unknown status {status_text}")))?;
    let held_from = r.opt_text("held_from")?.and_then(OrderStatus::parse);
    if !is_booked(status, held_from) {
        return Ok((version, None));
    }
    let customer_text = r.text("customer_id")?;
    let customer = CustomerId::parse(customer_text).map_err(|e| corrupt(order, e.to_string()))?;
    // The territory as the teams' rules resolve it (explicit, else by
    // address): the explicit one and "no address, so none" are in the row
    // read already; only a customer placed by address is read again.
    let territory = match (r.opt_text("territory_id")?, r.opt_int("no_address")?) {
        (Some(t), _) => t.to_owned(),
        (None, Some(1)) => String::new(),
        _ => crate::teams::territories::customer_territory(db, customer)?
            .territory_id
            .map(|t| t.to_string())
            .unwrap_or_default(),
    };
    let key = DailyKey {
        day: r.text("order_date")?.to_owned(),
        currency: r.text("currency")?.to_owned(),
        channel_id: r.text("channel_id")?.to_owned(),
        territory_id: territory,
        customer_group_id: r.opt_text("customer_group_id")?.unwrap_or("").to_owned(),
    };
    let line_rows = db.execute(
        "SELECT l.seq, l.product_id, l.quantity_milli, l.net_total, l.margin, p.item_group_id
         FROM sales_order_lines l LEFT JOIN products p ON p.id = l.product_id
         WHERE l.order_id = ? ORDER BY l.seq",
        &[Value::from(order)],
    )?;
    let mut measures = Measures {
        orders: 1,
        ..Measures::default()
    };
    let mut lines = Vec::with_capacity(line_rows.len());
    for l in line_rows.iter() {
        let line = LineFacts {
            seq: l.int("seq")?,
            product_id: l.text("product_id")?.to_owned(),
            item_group_id: l.opt_text("item_group_id")?.unwrap_or("").to_owned(),
            quantity_milli: l.int("quantity_milli")?,
            net_e4: e4(order, l.opt_text("net_total")?)?,
            margin_e4: e4(order, l.opt_text("margin")?)?,
        };
        measures.quantity_milli += line.quantity_milli;
        measures.net_e4 += line.net_e4;
        measures.margin_e4 += line.margin_e4;
        lines.push(line);
    }
    Ok((
        version,
        Some(OrderFacts {
            key,
            customer_id: customer_text.to_owned(),
            measures,
            lines,
        }),
    ))
}

/// What [`refresh_order`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// The order's contribution changed (or was checked at a new version).
    Applied,
    /// This version was applied before: nothing touched.
    AlreadyCurrent,
    /// No such order.
    Missing,
}

/// The order's stored contribution (`analytics_orders` joined as `a`,
/// its columns prefixed `a_`), when it has one.
const STORED: &str = "a.order_id AS a_order_id, a.order_date AS a_order_date,
    a.currency AS a_currency, a.channel_id AS a_channel_id, a.territory_id AS a_territory_id,
    a.customer_group_id AS a_customer_group_id, a.quantity_milli AS a_quantity_milli,
    a.net_e4 AS a_net_e4, a.margin_e4 AS a_margin_e4";

fn stored(r: Row<'_>) -> Result<Option<(DailyKey, Measures)>, StoreError> {
    if r.opt_text("a_order_id")?.is_none() {
        return Ok(None);
    }
    Ok(Some((
        DailyKey {
            day: r.text("a_order_date")?.to_owned(),
            currency: r.text("a_currency")?.to_owned(),
            channel_id: r.text("a_channel_id")?.to_owned(),
            territory_id: r.text("a_territory_id")?.to_owned(),
            customer_group_id: r.text("a_customer_group_id")?.to_owned(),
        },
        Measures {
            orders: 1,
            quantity_milli: r.int("a_quantity_milli")?,
            net_e4: r.int("a_net_e4")?,
            margin_e4: r.int("a_margin_e4")?,
        },
    )))
}

/// The first day of `day`'s month (`YYYY-MM-01`), the key of the monthly cube.
pub fn month_of(day: &str) -> String {
    format!("{}-01", day.get(..7).unwrap_or(day))
}

/// Adds (`sign` 1) or takes out (−1) `m` at `k` in one cube (`analytics_daily`
/// keyed by `day`, `analytics_monthly` by `month`); a cell left with no
/// orders is deleted.
fn add_cell(
    db: &impl Db,
    table: &str,
    date_column: &str,
    date: &str,
    k: &DailyKey,
    m: &Measures,
    sign: i64,
) -> Result<(), DbError> {
    db.execute(
        &format!(
            "INSERT INTO {table}
                ({date_column}, currency, channel_id, territory_id, customer_group_id,
                 orders, quantity_milli, net_e4, margin_e4)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT ({date_column}, currency, channel_id, territory_id, customer_group_id)
             DO UPDATE SET
                orders = orders + excluded.orders,
                quantity_milli = quantity_milli + excluded.quantity_milli,
                net_e4 = net_e4 + excluded.net_e4,
                margin_e4 = margin_e4 + excluded.margin_e4"
        ),
        &[
            Value::from(date),
            Value::from(&k.currency),
            Value::from(&k.channel_id),
            Value::from(&k.territory_id),
            Value::from(&k.customer_group_id),
            Value::Integer(sign * m.orders),
            Value::Integer(sign * m.quantity_milli),
            Value::Integer(sign * m.net_e4),
            Value::Integer(sign * m.margin_e4),
        ],
    )?;
    if sign < 0 {
        db.execute(
            &format!(
                "DELETE FROM {table} WHERE {date_column} = ? AND currency = ? AND channel_id = ?
                   AND territory_id = ? AND customer_group_id = ? AND orders = 0"
            ),
            &[
                Value::from(date),
                Value::from(&k.currency),
                Value::from(&k.channel_id),
                Value::from(&k.territory_id),
                Value::from(&k.customer_group_id),
            ],
        )?;
    }
    Ok(())
}

/// Adds or takes out an order's measures in both cubes, daily and monthly.
fn add_daily(db: &impl Db, k: &DailyKey, m: &Measures, sign: i64) -> Result<(), DbError> {
    add_cell(db, "analytics_daily", "day", &k.day, k, m, sign)?;
    add_cell(
        db,
        "analytics_monthly",
        "month",
        &month_of(&k.day),
        k,
        m,
        sign,
    )
}

/// Line rows per `INSERT` into `analytics_order_lines` (13 values each,
/// well under SQLite's limit on parameters).
const LINES_PER_INSERT: usize = 100;

/// Writes an order's line rows, [`LINES_PER_INSERT`] to a statement rather
/// than one statement per line.
fn insert_lines(db: &impl Db, id: &str, f: &OrderFacts) -> Result<(), DbError> {
    for chunk in f.lines.chunks(LINES_PER_INSERT) {
        let mut params = Vec::with_capacity(chunk.len() * 13);
        for l in chunk {
            params.extend([
                Value::from(id),
                Value::Integer(l.seq),
                Value::from(&f.key.day),
                Value::from(&f.key.currency),
                Value::from(&f.key.channel_id),
                Value::from(&f.key.territory_id),
                Value::from(&f.key.customer_group_id),
                Value::from(&f.customer_id),
                Value::from(&l.product_id),
                Value::from(&l.item_group_id),
                Value::Integer(l.quantity_milli),
                Value::Integer(l.net_e4),
                Value::Integer(l.margin_e4),
            ]);
        }
        db.execute(
            &format!(
                "INSERT INTO analytics_order_lines
                    (order_id, seq, order_date, currency, channel_id, territory_id,
                     customer_group_id, customer_id, product_id, item_group_id,
                     quantity_milli, net_e4, margin_e4)
                 VALUES {}",
                vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
            ),
            &params,
        )?;
    }
    Ok(())
}

/// Brings `order`'s contribution to the rollups up to date (see the module
/// docs). Runs in the caller's transaction.
pub fn refresh_order(db: &impl Db, order: OrderId) -> Result<Refreshed, StoreError> {
    let id = order.to_string();
    // One statement for the version applied (compared first: an order's
    // second event of the same version, a submission writes two, costs
    // only this), the order's facts and what it contributes now.
    let seen = db.execute(
        &format!(
            "SELECT {ORDER_HEAD}, v.version AS applied, {STORED}
             FROM sales_orders o LEFT JOIN customers c ON c.id = o.customer_id
             LEFT JOIN analytics_order_versions v ON v.order_id = o.id
             LEFT JOIN analytics_orders a ON a.order_id = o.id
             WHERE o.id = ?"
        ),
        &[Value::from(&id)],
    )?;
    let Some(r) = seen.first() else {
        return Ok(Refreshed::Missing);
    };
    if let Some(applied) = r.opt_int("applied")? {
        if applied >= r.int("version")? {
            return Ok(Refreshed::AlreadyCurrent);
        }
    }
    let (version, facts) = facts_of_row(db, &id, r)?;
    if let Some((old_key, old)) = stored(r)? {
        add_daily(db, &old_key, &old, -1)?;
        db.execute(
            "DELETE FROM analytics_order_lines WHERE order_id = ?",
            &[Value::from(&id)],
        )?;
        db.execute(
            "DELETE FROM analytics_orders WHERE order_id = ?",
            &[Value::from(&id)],
        )?;
    }
    if let Some(f) = facts {
        add_daily(db, &f.key, &f.measures, 1)?;
        db.execute(
            "INSERT INTO analytics_orders
                (order_id, order_date, currency, channel_id, territory_id, customer_group_id,
                 customer_id, quantity_milli, net_e4, margin_e4)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                Value::from(&id),
                Value::from(&f.key.day),
                Value::from(&f.key.currency),
                Value::from(&f.key.channel_id),
                Value::from(&f.key.territory_id),
                Value::from(&f.key.customer_group_id),
                Value::from(&f.customer_id),
                Value::Integer(f.measures.quantity_milli),
                Value::Integer(f.measures.net_e4),
                Value::Integer(f.measures.margin_e4),
            ],
        )?;
        insert_lines(db, &id, &f)?;
    }
    db.execute(
        "INSERT INTO analytics_order_versions (order_id, version) VALUES (?, ?)
         ON CONFLICT (order_id) DO UPDATE SET version = excluded.version",
        &[Value::from(&id), Value::Integer(version)],
    )?;
    Ok(Refreshed::Applied)
}

fn all_order_ids(db: &impl Db) -> Result<Vec<String>, StoreError> {
    let rows = db.execute("SELECT id FROM sales_orders ORDER BY id", &[])?;
    rows.iter().map(|r| Ok(r.text("id")?.to_owned())).collect()
}

/// Empties the rollups and recomputes every order; returns how many orders
/// were read. Runs in the caller's transaction.
pub fn rebuild(db: &impl Db) -> Result<usize, StoreError> {
    for table in [
        "analytics_daily",
        "analytics_monthly",
        "analytics_order_lines",
        "analytics_orders",
        "analytics_order_versions",
    ] {
        db.execute(&format!("DELETE FROM {table}"), &[])?;
    }
    let ids = all_order_ids(db)?;
    for id in &ids {
        let order = OrderId::parse(id).map_err(|e| corrupt(id, e.to_string()))?;
        refresh_order(db, order)?;
    }
    Ok(ids.len())
}

/// The daily cube computed from the raw order tables, without reading a
/// rollup table.
pub fn recompute_daily(db: &impl Db) -> Result<BTreeMap<DailyKey, Measures>, StoreError> {
    let mut cube: BTreeMap<DailyKey, Measures> = BTreeMap::new();
    for id in all_order_ids(db)? {
        if let Some((_, Some(f))) = facts(db, &id)? {
            cube.entry(f.key).or_default().add(&f.measures);
        }
    }
    Ok(cube)
}

/// The stored daily cube.
pub fn stored_daily(db: &impl Db) -> Result<BTreeMap<DailyKey, Measures>, StoreError> {
    stored_cube(db, "analytics_daily", "day")
}

/// The stored monthly cube (`day` of each key is the month's first day).
pub fn stored_monthly(db: &impl Db) -> Result<BTreeMap<DailyKey, Measures>, StoreError> {
    stored_cube(db, "analytics_monthly", "month")
}

fn stored_cube(
    db: &impl Db,
    table: &str,
    date_column: &str,
) -> Result<BTreeMap<DailyKey, Measures>, StoreError> {
    let rows = db.execute(
        &format!(
            "SELECT {date_column} AS day, currency, channel_id, territory_id, customer_group_id,
                    orders, quantity_milli, net_e4, margin_e4 FROM {table}"
        ),
        &[],
    )?;
    let mut cube = BTreeMap::new();
    for r in rows.iter() {
        cube.insert(
            DailyKey {
                day: r.text("day")?.to_owned(),
                currency: r.text("currency")?.to_owned(),
                channel_id: r.text("channel_id")?.to_owned(),
                territory_id: r.text("territory_id")?.to_owned(),
                customer_group_id: r.text("customer_group_id")?.to_owned(),
            },
            Measures {
                orders: r.int("orders")?,
                quantity_milli: r.int("quantity_milli")?,
                net_e4: r.int("net_e4")?,
                margin_e4: r.int("margin_e4")?,
            },
        );
    }
    Ok(cube)
}

/// The monthly cube computed from a daily one (each day's cell added to
/// its month's).
pub fn months_of(daily: &BTreeMap<DailyKey, Measures>) -> BTreeMap<DailyKey, Measures> {
    let mut cube: BTreeMap<DailyKey, Measures> = BTreeMap::new();
    for (k, m) in daily {
        let key = DailyKey {
            day: month_of(&k.day),
            ..k.clone()
        };
        cube.entry(key).or_default().add(m);
    }
    cube
}

/// A cell of a stored cube that differs from the one recomputed from the
/// raw order tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `analytics_daily` or `analytics_monthly`.
    pub table: &'static str,
    pub key: DailyKey,
    pub stored: Measures,
    pub recomputed: Measures,
}

fn compare(
    table: &'static str,
    stored: &BTreeMap<DailyKey, Measures>,
    fresh: &BTreeMap<DailyKey, Measures>,
    out: &mut Vec<Mismatch>,
) {
    let mut keys: Vec<&DailyKey> = fresh.keys().chain(stored.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let s = stored.get(k).copied().unwrap_or_default();
        let f = fresh.get(k).copied().unwrap_or_default();
        if s != f {
            out.push(Mismatch {
                table,
                key: k.clone(),
                stored: s,
                recomputed: f,
            });
        }
    }
}

/// Cells where the stored cubes (daily, then monthly) differ from the ones
/// recomputed from scratch out of the raw order tables ([`recompute_daily`],
/// and [`months_of`] it); empty when they agree.
pub fn verify(db: &impl Db) -> Result<Vec<Mismatch>, StoreError> {
    let fresh = recompute_daily(db)?;
    let mut out = Vec::new();
    compare("analytics_daily", &stored_daily(db)?, &fresh, &mut out);
    compare(
        "analytics_monthly",
        &stored_monthly(db)?,
        &months_of(&fresh),
        &mut out,
    );
    Ok(out)
}
