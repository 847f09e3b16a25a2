//! The report queries. Sales figures read the rollups: the daily cube
//! (`analytics_daily`, one row per day × currency × channel × territory ×
//! customer group) when the filter and the dimension allow it, the line
//! facts (`analytics_order_lines`) when an item group or product is
//! involved; the sales-person split reads `analytics_orders` with the
//! order's team split. The funnel, cycle times and pending lines are read
//! from the documents themselves (their tables are indexed for it and
//! their questions are about single documents, not sums).
//!
//! Every query takes a [`Scope`]; its `territories` (a territory subtree,
//! already narrowed to what the caller may see) is how visibility reaches
//! SQL.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use sales_domain::analytics::{from_e4, to_e4, DateRange, Dimension, Granularity};
use sales_domain::quotations::QuotationStatus;

use crate::db::{Db, Value};
use crate::error::StoreError;

use super::rollup::Measures;

/// What a sales report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub currency: String,
    pub range: DateRange,
    pub channel_id: Option<String>,
    /// Only these territories (a subtree); `None` is every territory and
    /// customers without one.
    pub territories: Option<Vec<String>>,
    pub customer_group_id: Option<String>,
    pub item_group_id: Option<String>,
    pub product_id: Option<String>,
}

impl Scope {
    /// Whether the filter needs the line facts (item group or product).
    fn needs_lines(&self) -> bool {
        self.item_group_id.is_some() || self.product_id.is_some()
    }

    fn with_range(&self, range: DateRange) -> Scope {
        Scope {
            range,
            ..self.clone()
        }
    }

    /// The WHERE clause over a table with the dimension columns, whose date
    /// column is `date`.
    fn clause(&self, date: &str, lines: bool) -> (String, Vec<Value>) {
        let mut sql = format!("currency = ? AND {date} >= ? AND {date} <= ?");
        let mut params = vec![
            Value::from(&self.currency),
            Value::Text(self.range.from().to_string()),
            Value::Text(self.range.to().to_string()),
        ];
        if let Some(c) = &self.channel_id {
            sql.push_str(" AND channel_id = ?");
            params.push(Value::from(c));
        }
        if let Some(ts) = &self.territories {
            in_list(&mut sql, &mut params, "territory_id", ts);
        }
        if let Some(g) = &self.customer_group_id {
            sql.push_str(" AND customer_group_id = ?");
            params.push(Value::from(g));
        }
        if lines {
            if let Some(g) = &self.item_group_id {
                sql.push_str(" AND item_group_id = ?");
                params.push(Value::from(g));
            }
            if let Some(p) = &self.product_id {
                sql.push_str(" AND product_id = ?");
                params.push(Value::from(p));
            }
        }
        (sql, params)
    }
}

fn in_list(sql: &mut String, params: &mut Vec<Value>, column: &str, ids: &[String]) {
    if ids.is_empty() {
        sql.push_str(" AND 0 = 1");
        return;
    }
    sql.push_str(&format!(
        " AND {column} IN ({})",
        vec!["?"; ids.len()].join(", ")
    ));
    params.extend(ids.iter().map(Value::from));
}

/// Narrows a customers row aliased `alias` to `territories`: its explicit
/// territory is one of them, or it is one of `placed` (customers without
/// one that a territory rule places there, [`placed`]) — the territory the
/// rollups give a customer's orders, so these reports count the same
/// customers as the revenue reports.
fn customer_in(
    sql: &mut String,
    params: &mut Vec<Value>,
    alias: &str,
    territories: &[String],
    placed: &[String],
) {
    let column = format!("{alias}.territory_id");
    if placed.is_empty() {
        in_list(sql, params, &column, territories);
        return;
    }
    sql.push_str(&format!(
        " AND ({column} IN ({}) OR {alias}.id IN (SELECT value FROM json_each(?)))",
        vec!["?"; territories.len()].join(", ")
    ));
    params.extend(territories.iter().map(Value::from));
    params.push(json_list(placed));
}

fn json_list(ids: &[String]) -> Value {
    Value::Text(serde_json::Value::from(ids.to_vec()).to_string())
}

/// The customers a territory rule places in `territories` (none for no
/// filter): see `visibility::placed_in`.
fn placed(db: &impl Db, territories: Option<&[String]>) -> Result<Vec<String>, StoreError> {
    match territories {
        Some(ts) if !ts.is_empty() => crate::visibility::placed_in(db, ts),
        _ => Ok(Vec::new()),
    }
}

/// One read of a cube: its table, its date column and the dates it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CubePart {
    table: &'static str,
    date: &'static str,
    range: DateRange,
}

/// Where the cube figures of `range` are read: with `monthly`, the whole
/// calendar months in it from `analytics_monthly` (a row per month, dated
/// its first day) and the days before the first and after the last whole
/// month from `analytics_daily`; without, every day from the daily cube
/// (for series by day or week, which a month cannot be split into).
fn cube_parts(range: &DateRange, monthly: bool) -> Vec<CubePart> {
    let daily = |r: DateRange| CubePart {
        table: "analytics_daily",
        date: "day",
        range: r,
    };
    let whole = vec![daily(*range)];
    if !monthly {
        return whole;
    }
    let (from, to) = (range.from(), range.to());
    let month_start = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    let first_whole = if from.day() == 1 {
        Some(from)
    } else {
        month_start(from).checked_add_months(Months::new(1))
    };
    let last_whole_end = if to.succ_opt().is_none_or(|n| n.day() == 1) {
        Some(to)
    } else {
        month_start(to).pred_opt()
    };
    let (Some(first), Some(last_end)) = (first_whole, last_whole_end) else {
        return whole;
    };
    if first > last_end {
        return whole;
    }
    let mut parts = Vec::with_capacity(3);
    if from < first {
        match first.pred_opt().map(|p| DateRange::new(from, p)) {
            Some(Ok(r)) => parts.push(daily(r)),
            _ => return whole,
        }
    }
    match DateRange::new(first, month_start(last_end)) {
        Ok(r) => parts.push(CubePart {
            table: "analytics_monthly",
            date: "month",
            range: r,
        }),
        Err(_) => return whole,
    }
    if last_end < to {
        match last_end.succ_opt().map(|n| DateRange::new(n, to)) {
            Some(Ok(r)) => parts.push(daily(r)),
            _ => return whole,
        }
    }
    parts
}

/// The SQL expression of a date column's bucket when SQL can compute it
/// (a month's or year's first day), else the column itself (bucketed by
/// [`Granularity::bucket_start`] afterwards).
fn bucket_sql(column: &str, granularity: Granularity) -> String {
    match granularity {
        Granularity::Month => format!("substr({column}, 1, 7) || '-01'"),
        Granularity::Year => format!("substr({column}, 1, 4) || '-01-01'"),
        _ => column.to_owned(),
    }
}

/// Whether a series by `granularity` may read the monthly cube.
fn monthly(granularity: Granularity) -> bool {
    matches!(
        granularity,
        Granularity::Month | Granularity::Quarter | Granularity::Year
    )
}

/// `territory` and every territory below it.
pub fn territory_subtree(db: &impl Db, territory: &str) -> Result<Vec<String>, StoreError> {
    let rows = db.execute(
        "WITH RECURSIVE sub(id) AS (
            SELECT id FROM territories WHERE id = ?
            UNION SELECT t.id FROM territories t JOIN sub ON t.parent_id = sub.id)
         SELECT id FROM sub ORDER BY id",
        &[Value::from(territory)],
    )?;
    rows.iter().map(|r| Ok(r.text("id")?.to_owned())).collect()
}

/// The currency most booked orders in `range` were in (EUR when none).
pub fn default_currency(db: &impl Db, range: &DateRange) -> Result<String, StoreError> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for part in cube_parts(range, true) {
        let rows = db.execute(
            &format!(
                "SELECT currency, SUM(orders) AS n FROM {} WHERE {d} >= ? AND {d} <= ?
                 GROUP BY currency",
                part.table,
                d = part.date
            ),
            &[
                Value::Text(part.range.from().to_string()),
                Value::Text(part.range.to().to_string()),
            ],
        )?;
        for r in rows.iter() {
            *counts.entry(r.text("currency")?.to_owned()).or_default() +=
                r.opt_int("n")?.unwrap_or(0);
        }
    }
    // Most orders first; the alphabetically first currency on a tie.
    Ok(counts
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map_or_else(|| "EUR".to_owned(), |(c, _)| c))
}

fn measures(r: &crate::db::Row<'_>) -> Result<Measures, StoreError> {
    Ok(Measures {
        orders: r.opt_int("orders")?.unwrap_or(0),
        quantity_milli: r.opt_int("quantity_milli")?.unwrap_or(0),
        net_e4: r.opt_int("net_e4")?.unwrap_or(0),
        margin_e4: r.opt_int("margin_e4")?.unwrap_or(0),
    })
}

/// The figures per order date in `scope` — per month's first day for the
/// whole months read from the monthly cube when `monthly` allows it.
fn per_day(
    db: &impl Db,
    scope: &Scope,
    monthly: bool,
) -> Result<Vec<(String, Measures)>, StoreError> {
    let mut queries = Vec::new();
    if scope.needs_lines() {
        let (w, p) = scope.clause("order_date", true);
        queries.push((
            format!(
                "SELECT order_date AS day, COUNT(DISTINCT order_id) AS orders,
                        SUM(quantity_milli) AS quantity_milli, SUM(net_e4) AS net_e4,
                        SUM(margin_e4) AS margin_e4
                 FROM analytics_order_lines WHERE {w} GROUP BY order_date ORDER BY order_date"
            ),
            p,
        ));
    } else {
        for part in cube_parts(&scope.range, monthly) {
            let (w, p) = scope.with_range(part.range).clause(part.date, false);
            queries.push((
                format!(
                    "SELECT {d} AS day, SUM(orders) AS orders, SUM(quantity_milli) AS quantity_milli,
                            SUM(net_e4) AS net_e4, SUM(margin_e4) AS margin_e4
                     FROM {t} WHERE {w} GROUP BY {d} ORDER BY {d}",
                    d = part.date,
                    t = part.table
                ),
                p,
            ));
        }
    }
    let mut out = Vec::new();
    for (sql, params) in queries {
        let rows = db.execute(&sql, &params)?;
        for r in rows.iter() {
            out.push((r.text("day")?.to_owned(), measures(&r)?));
        }
    }
    Ok(out)
}

/// The totals of `scope`.
pub fn totals(db: &impl Db, scope: &Scope) -> Result<Measures, StoreError> {
    let mut total = Measures::default();
    for (_, m) in per_day(db, scope, true)? {
        add(&mut total, &m);
    }
    Ok(total)
}

/// The totals of the period before `scope`'s (same length).
pub fn previous_totals(db: &impl Db, scope: &Scope) -> Result<Measures, StoreError> {
    totals(db, &scope.with_range(scope.range.previous()))
}

fn add(t: &mut Measures, m: &Measures) {
    t.orders += m.orders;
    t.quantity_milli += m.quantity_milli;
    t.net_e4 += m.net_e4;
    t.margin_e4 += m.margin_e4;
}

/// One point per bucket of `granularity` over the range (zero where
/// nothing was booked).
pub fn series(
    db: &impl Db,
    scope: &Scope,
    granularity: Granularity,
) -> Result<Vec<(NaiveDate, Measures)>, StoreError> {
    let mut points: BTreeMap<NaiveDate, Measures> = granularity
        .buckets(&scope.range)
        .into_iter()
        .map(|b| (b, Measures::default()))
        .collect();
    for (day, m) in per_day(db, scope, monthly(granularity))? {
        let d = NaiveDate::from_str(&day).map_err(|e| StoreError::Corrupt {
            entity: "analytics_daily",
            id: day.clone(),
            message: e.to_string(),
        })?;
        add(points.entry(granularity.bucket_start(d)).or_default(), &m);
    }
    Ok(points.into_iter().collect())
}

/// One row of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// The dimension's id ("" for none: customers without a territory, …).
    pub key: String,
    pub label: Option<String>,
    /// The parent in the territory tree or the manager hierarchy.
    pub parent: Option<String>,
    /// This key's own figures.
    pub own: Measures,
    /// Own plus everything below it (territory and sales person only).
    pub rolled_up: Option<Measures>,
}

/// The figures of `scope` by `dimension`, largest revenue first (by the
/// rolled-up figure where there is one), at most `limit` rows.
pub fn breakdown(
    db: &impl Db,
    scope: &Scope,
    dimension: Dimension,
    limit: usize,
) -> Result<Vec<Slice>, StoreError> {
    let mut slices = match dimension {
        Dimension::SalesPerson => return sales_people(db, scope, limit),
        Dimension::Channel | Dimension::Territory | Dimension::CustomerGroup
            if !scope.needs_lines() =>
        {
            let col = column(dimension);
            let mut sums: BTreeMap<String, Measures> = BTreeMap::new();
            for part in cube_parts(&scope.range, true) {
                let (w, p) = scope.with_range(part.range).clause(part.date, false);
                let rows = grouped(
                    db,
                    &format!(
                        "SELECT {col} AS k, SUM(orders) AS orders,
                                SUM(quantity_milli) AS quantity_milli,
                                SUM(net_e4) AS net_e4, SUM(margin_e4) AS margin_e4
                         FROM {t} WHERE {w} GROUP BY {col}",
                        t = part.table
                    ),
                    &p,
                )?;
                for s in rows {
                    add(sums.entry(s.key).or_default(), &s.own);
                }
            }
            sums.into_iter()
                .map(|(key, own)| Slice {
                    key,
                    label: None,
                    parent: None,
                    own,
                    rolled_up: None,
                })
                .collect()
        }
        _ => {
            let col = column(dimension);
            let (w, p) = scope.clause("order_date", true);
            grouped(
                db,
                &format!(
                    "SELECT {col} AS k, COUNT(DISTINCT order_id) AS orders,
                            SUM(quantity_milli) AS quantity_milli,
                            SUM(net_e4) AS net_e4, SUM(margin_e4) AS margin_e4
                     FROM analytics_order_lines WHERE {w} GROUP BY {col}"
                ),
                &p,
            )?
        }
    };
    if dimension == Dimension::Territory {
        slices = roll_up(db, slices, "territories", scope.territories.as_deref())?;
    }
    label(db, &mut slices, dimension)?;
    sort_and_cut(&mut slices, limit);
    Ok(slices)
}

/// The figures of `scope` by `dimension` *and* bucket of `granularity`
/// (revenue by month × territory): per key, one point per bucket. The
/// territory's points are rolled up the tree like [`breakdown`]'s totals.
/// Not for the sales-person split (it has no per-day rows).
pub fn breakdown_series(
    db: &impl Db,
    scope: &Scope,
    dimension: Dimension,
    granularity: Granularity,
) -> Result<BTreeMap<String, Vec<(NaiveDate, Measures)>>, StoreError> {
    let col = column(dimension);
    let cube = matches!(
        dimension,
        Dimension::Channel | Dimension::Territory | Dimension::CustomerGroup
    ) && !scope.needs_lines();
    let mut queries = Vec::new();
    if cube {
        for part in cube_parts(&scope.range, monthly(granularity)) {
            let (w, p) = scope.with_range(part.range).clause(part.date, false);
            let bucket = bucket_sql(part.date, granularity);
            queries.push((
                format!(
                    "SELECT {bucket} AS day, {col} AS k, SUM(orders) AS orders,
                            SUM(quantity_milli) AS quantity_milli,
                            SUM(net_e4) AS net_e4, SUM(margin_e4) AS margin_e4
                     FROM {t} WHERE {w} GROUP BY 1, {col}",
                    t = part.table
                ),
                p,
            ));
        }
    } else {
        // Orders are counted per day and key (an order has one date), so
        // the lines are grouped by day before they are bucketed.
        let (w, p) = scope.clause("order_date", true);
        queries.push((
            format!(
                "SELECT order_date AS day, {col} AS k, COUNT(DISTINCT order_id) AS orders,
                        SUM(quantity_milli) AS quantity_milli,
                        SUM(net_e4) AS net_e4, SUM(margin_e4) AS margin_e4
                 FROM analytics_order_lines WHERE {w} GROUP BY order_date, {col}"
            ),
            p,
        ));
    }
    let buckets = granularity.buckets(&scope.range);
    let empty: BTreeMap<NaiveDate, Measures> =
        buckets.iter().map(|b| (*b, Measures::default())).collect();
    let mut own: BTreeMap<String, BTreeMap<NaiveDate, Measures>> = BTreeMap::new();
    for (sql, params) in &queries {
        for r in db.execute(sql, params)?.iter() {
            let day = r.text("day")?;
            let d = NaiveDate::from_str(day).map_err(|e| StoreError::Corrupt {
                entity: "analytics_daily",
                id: day.to_owned(),
                message: e.to_string(),
            })?;
            let points = own
                .entry(r.text("k")?.to_owned())
                .or_insert_with(|| empty.clone());
            add(
                points.entry(granularity.bucket_start(d)).or_default(),
                &measures(&r)?,
            );
        }
    }
    if dimension == Dimension::Territory {
        let parents: BTreeMap<String, Option<String>> = db
            .execute("SELECT id, parent_id FROM territories", &[])?
            .iter()
            .map(|r| {
                Ok((
                    r.text("id")?.to_owned(),
                    r.opt_text("parent_id")?.map(str::to_owned),
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let mut rolled: BTreeMap<String, BTreeMap<NaiveDate, Measures>> = BTreeMap::new();
        for (key, points) in &own {
            let mut seen = BTreeSet::new();
            let mut node = Some(key.clone());
            while let Some(n) = node {
                if !seen.insert(n.clone()) {
                    break;
                }
                let target = rolled.entry(n.clone()).or_insert_with(|| empty.clone());
                for (b, m) in points {
                    add(target.entry(*b).or_default(), m);
                }
                node = parents.get(&n).cloned().flatten();
            }
        }
        own = rolled;
    }
    Ok(own
        .into_iter()
        .map(|(k, points)| (k, points.into_iter().collect()))
        .collect())
}

fn column(d: Dimension) -> &'static str {
    match d {
        Dimension::Channel => "channel_id",
        Dimension::Territory => "territory_id",
        Dimension::CustomerGroup => "customer_group_id",
        Dimension::ItemGroup => "item_group_id",
        Dimension::Product => "product_id",
        Dimension::Customer | Dimension::SalesPerson => "customer_id",
    }
}

fn grouped(db: &impl Db, sql: &str, params: &[Value]) -> Result<Vec<Slice>, StoreError> {
    let rows = db.execute(sql, params)?;
    rows.iter()
        .map(|r| {
            Ok(Slice {
                key: r.text("k")?.to_owned(),
                label: None,
                parent: None,
                own: measures(&r)?,
                rolled_up: None,
            })
        })
        .collect()
}

fn sort_and_cut(slices: &mut Vec<Slice>, limit: usize) {
    slices.sort_by(|a, b| {
        let net = |s: &Slice| s.rolled_up.unwrap_or(s.own).net_e4;
        net(b).cmp(&net(a)).then_with(|| a.key.cmp(&b.key))
    });
    slices.truncate(limit);
}

/// Adds every ancestor (in `table`, a `parent_id` tree) of the keys with
/// figures, and gives each node its subtree's total. With `visible`, only
/// those nodes are reported (a rep sees no totals above their territory).
fn roll_up(
    db: &impl Db,
    slices: Vec<Slice>,
    table: &str,
    visible: Option<&[String]>,
) -> Result<Vec<Slice>, StoreError> {
    let parents: BTreeMap<String, Option<String>> = db
        .execute(&format!("SELECT id, parent_id FROM {table}"), &[])?
        .iter()
        .map(|r| {
            Ok((
                r.text("id")?.to_owned(),
                r.opt_text("parent_id")?.map(str::to_owned),
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    let mut own: BTreeMap<String, Measures> = BTreeMap::new();
    for s in slices {
        own.insert(s.key, s.own);
    }
    let mut rolled: BTreeMap<String, Measures> = BTreeMap::new();
    for (key, m) in &own {
        let mut node = Some(key.clone());
        let mut guard = 0;
        while let Some(n) = node {
            add(rolled.entry(n.clone()).or_default(), m);
            node = parents.get(&n).cloned().flatten();
            guard += 1;
            if guard > 64 || n.is_empty() {
                break;
            }
        }
    }
    Ok(rolled
        .into_iter()
        .filter(|(k, _)| visible.is_none_or(|v| k.is_empty() || v.contains(k)))
        .map(|(key, r)| Slice {
            own: own.get(&key).copied().unwrap_or_default(),
            parent: parents.get(&key).cloned().flatten(),
            label: None,
            rolled_up: Some(r),
            key,
        })
        .collect())
}

/// Net, margin and quantity credited to each sales person by the orders'
/// team split (`percentage` of each), rolled up the manager hierarchy.
fn sales_people(db: &impl Db, scope: &Scope, limit: usize) -> Result<Vec<Slice>, StoreError> {
    let (w, p) = scope.clause("o.order_date", false);
    // The clause's column names are unqualified; they exist only in `o`.
    let w = w
        .replace("currency =", "o.currency =")
        .replace("channel_id", "o.channel_id")
        .replace("territory_id", "o.territory_id")
        .replace("customer_group_id", "o.customer_group_id");
    let sql = if scope.needs_lines() {
        let (lw, lp) = scope.clause("order_date", true);
        let sql = format!(
            "SELECT d.sales_person_id AS k, d.percentage, o.order_id,
                    SUM(l.quantity_milli) AS quantity_milli, SUM(l.net_e4) AS net_e4,
                    SUM(l.margin_e4) AS margin_e4
             FROM analytics_order_lines l JOIN analytics_orders o ON o.order_id = l.order_id
             JOIN document_sales_teams d ON d.document_kind = 'order' AND d.document_id = o.order_id
             WHERE l.order_id IN (SELECT order_id FROM analytics_order_lines WHERE {lw})
               AND {w}
             GROUP BY d.sales_person_id, o.order_id"
        );
        let mut params = lp;
        params.extend(p);
        (sql, params)
    } else {
        (
            format!(
                "SELECT d.sales_person_id AS k, d.percentage, o.order_id,
                        o.quantity_milli, o.net_e4, o.margin_e4
                 FROM analytics_orders o
                 JOIN document_sales_teams d ON d.document_kind = 'order' AND d.document_id = o.order_id
                 WHERE {w}"
            ),
            p,
        )
    };
    let rows = db.execute(&sql.0, &sql.1)?;
    let mut own: BTreeMap<String, Measures> = BTreeMap::new();
    for r in rows.iter() {
        let pct = Decimal::from_str(r.text("percentage")?).map_err(|e| StoreError::Corrupt {
            entity: "document_sales_teams",
            id: r.text("order_id").unwrap_or("").to_owned(),
            message: e.to_string(),
        })?;
        let share = |v: i64| -> i64 {
            let x = Decimal::from(v) * pct / Decimal::ONE_HUNDRED;
            let x = x.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            to_e4(x / Decimal::from(10_000)).unwrap_or(0)
        };
        let m = own.entry(r.text("k")?.to_owned()).or_default();
        m.orders += 1;
        m.quantity_milli += share(r.opt_int("quantity_milli")?.unwrap_or(0));
        m.net_e4 += share(r.opt_int("net_e4")?.unwrap_or(0));
        m.margin_e4 += share(r.opt_int("margin_e4")?.unwrap_or(0));
    }
    let slices = own
        .into_iter()
        .map(|(key, m)| Slice {
            key,
            label: None,
            parent: None,
            own: m,
            rolled_up: None,
        })
        .collect();
    // The manager hierarchy is a parent tree like the territories'.
    let mut slices = roll_up_people(db, slices)?;
    label(db, &mut slices, Dimension::SalesPerson)?;
    sort_and_cut(&mut slices, limit);
    Ok(slices)
}

fn roll_up_people(db: &impl Db, slices: Vec<Slice>) -> Result<Vec<Slice>, StoreError> {
    let parents: BTreeMap<String, Option<String>> = db
        .execute("SELECT id, manager_id FROM sales_people", &[])?
        .iter()
        .map(|r| {
            Ok((
                r.text("id")?.to_owned(),
                r.opt_text("manager_id")?.map(str::to_owned),
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    let mut own: BTreeMap<String, Measures> = BTreeMap::new();
    for s in slices {
        own.insert(s.key, s.own);
    }
    let mut rolled: BTreeMap<String, Measures> = BTreeMap::new();
    for (key, m) in &own {
        let mut seen = BTreeSet::new();
        let mut node = Some(key.clone());
        while let Some(n) = node {
            if !seen.insert(n.clone()) {
                break;
            }
            add(rolled.entry(n.clone()).or_default(), m);
            node = parents.get(&n).cloned().flatten();
        }
    }
    Ok(rolled
        .into_iter()
        .map(|(key, r)| Slice {
            own: own.get(&key).copied().unwrap_or_default(),
            parent: parents.get(&key).cloned().flatten(),
            label: None,
            rolled_up: Some(r),
            key,
        })
        .collect())
}

fn label(db: &impl Db, slices: &mut [Slice], dimension: Dimension) -> Result<(), StoreError> {
    let (table, name) = match dimension {
        Dimension::Channel => ("channels", "name"),
        Dimension::Territory => ("territories", "name"),
        Dimension::CustomerGroup => ("customer_groups", "name"),
        Dimension::ItemGroup => ("item_groups", "name"),
        Dimension::Product => ("products", "name"),
        Dimension::Customer => ("customers", "name"),
        Dimension::SalesPerson => ("sales_people", "name"),
    };
    let keys: Vec<String> = slices
        .iter()
        .map(|s| s.key.clone())
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let mut sql = format!("SELECT id, {name} AS label FROM {table} WHERE 1 = 1");
    let mut params = Vec::new();
    in_list(&mut sql, &mut params, "id", &keys);
    let names: BTreeMap<String, String> = db
        .execute(&sql, &params)?
        .iter()
        .map(|r| Ok((r.text("id")?.to_owned(), r.text("label")?.to_owned())))
        .collect::<Result<_, StoreError>>()?;
    for s in slices.iter_mut() {
        s.label = names.get(&s.key).cloned();
    }
    Ok(())
}

/// The quotation funnel of the quotations created in a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Funnel {
    pub created: i64,
    /// Sent to the customer (every status past draft but a draft's cancel).
    pub sent: i64,
    /// Accepted, including those ordered since.
    pub accepted: i64,
    /// Ordered in part or in full.
    pub ordered: i64,
    pub lost: i64,
    pub expired: i64,
    pub cancelled: i64,
    /// Still open: draft or sent.
    pub open: i64,
    /// Lost reasons with their counts, most frequent first.
    pub lost_reasons: Vec<(String, i64)>,
}

/// The funnel over quotations created in `range`, in `channel` and the
/// `territories` (by the customer's territory: explicit, else by territory
/// rule).
///
/// `created_at` is compared as a timestamp range (RFC 3339 text of fixed
/// width sorts as time), so both queries are index range reads. The counts
/// read the covering `quotations_funnel_status (status, created_at, ...)`
/// with every [`QuotationStatus`] listed: one range per status, counted in
/// index order, so the year's quotations are never sorted. The lost reasons
/// read the generated column `lost_reason` from the covering partial
/// `quotations_lost_reason` (lost quotations only; no JSON is parsed). The
/// customers are joined only for a territory filter: their explicit
/// territory by `customers_territory`, and the rule-placed ones as a list
/// (`UNION`), so the quotations' plans stay the same.
pub fn funnel(
    db: &impl Db,
    range: &DateRange,
    channel: Option<&str>,
    territories: Option<&[String]>,
) -> Result<Funnel, StoreError> {
    let ((counts_sql, counts_params), (reasons_sql, reasons_params)) =
        funnel_sql(range, channel, territories, &placed(db, territories)?);
    let rows = db.execute(&counts_sql, &counts_params)?;
    let mut f = Funnel::default();
    for r in rows.iter() {
        let n = r.int("n")?;
        f.created += n;
        match r.text("status")? {
            // Not offered yet: waiting for or holding its approval.
            "draft" | "pending_approval" | "approved" => f.open += n,
            "sent" => {
                f.sent += n;
                f.open += n;
            }
            "accepted" => {
                f.sent += n;
                f.accepted += n;
            }
            "partially_ordered" | "ordered" => {
                f.sent += n;
                f.accepted += n;
                f.ordered += n;
            }
            "lost" => {
                f.sent += n;
                f.lost += n;
            }
            "expired" => {
                f.sent += n;
                f.expired += n;
            }
            _ => f.cancelled += n,
        }
    }
    let reasons = db.execute(&reasons_sql, &reasons_params)?;
    for r in reasons.iter() {
        f.lost_reasons
            .push((r.opt_text("reason")?.unwrap_or("").to_owned(), r.int("n")?));
    }
    Ok(f)
}

/// The funnel's two queries (counts by status, lost reasons), each with
/// its parameters.
fn funnel_sql(
    range: &DateRange,
    channel: Option<&str>,
    territories: Option<&[String]>,
    placed: &[String],
) -> ((String, Vec<Value>), (String, Vec<Value>)) {
    let mut w = String::from("q.created_at >= ? AND q.created_at < ?");
    let end = range
        .to()
        .succ_opt()
        .map_or_else(|| "9999-12-31T99".to_owned(), |d| d.to_string());
    let mut params = vec![Value::Text(range.from().to_string()), Value::Text(end)];
    if let Some(c) = channel {
        w.push_str(" AND q.channel_id = ?");
        params.push(Value::from(c));
    }
    if let Some(ts) = territories {
        w.push_str(" AND q.customer_id IN (SELECT c.id FROM customers c WHERE 1 = 1");
        in_list(&mut w, &mut params, "c.territory_id", ts);
        if !placed.is_empty() {
            w.push_str(" UNION SELECT value FROM json_each(?)");
            params.push(json_list(placed));
        }
        w.push(')');
    }
    // Every status the column can hold (it is written from
    // `QuotationStatus::as_str` only), so the counts are complete; listing
    // them lets SQLite read one `(status, created_at)` range per status.
    let mut statuses = String::from("q.status IN (");
    let mut count_params = Vec::with_capacity(QuotationStatus::ALL.len() + params.len());
    for (i, s) in QuotationStatus::ALL.iter().enumerate() {
        statuses.push_str(if i == 0 { "?" } else { ", ?" });
        count_params.push(Value::from(s.as_str()));
    }
    statuses.push(')');
    count_params.extend(params.iter().cloned());
    let counts = (
        // INDEXED BY: without statistics the planner would rather
        // take `quotations_status (status, valid_until)` or
        // `quotations_channel`; SQLite fails the statement if the named
        // index cannot serve it, so a schema change cannot silently turn
        // this into a scan.
        format!(
            "SELECT q.status, COUNT(*) AS n
             FROM quotations q INDEXED BY quotations_funnel_status
             WHERE {statuses} AND {w} GROUP BY q.status"
        ),
        count_params,
    );
    let reasons = (
        format!(
            "SELECT q.lost_reason AS reason, COUNT(*) AS n
                 FROM quotations q INDEXED BY quotations_lost_reason
                 WHERE q.status = 'lost' AND {w}
                 GROUP BY reason ORDER BY n DESC, reason"
        ),
        params,
    );
    (counts, reasons)
}

/// Durations in days: how many, the mean (two decimals), the median.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durations {
    pub count: usize,
    pub mean_days: Option<Decimal>,
    pub median_days: Option<Decimal>,
}

fn durations(mut days: Vec<i64>) -> Durations {
    if days.is_empty() {
        return Durations::default();
    }
    days.sort_unstable();
    let n = days.len();
    let sum: i64 = days.iter().sum();
    let mut mean = (Decimal::from(sum) / Decimal::from(n as i64))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    mean.rescale(2);
    let median = if n % 2 == 1 {
        Decimal::from(days[n / 2])
    } else {
        (Decimal::from(days[n / 2 - 1] + days[n / 2]) / Decimal::TWO).normalize()
    };
    Durations {
        count: n,
        mean_days: Some(mean),
        median_days: Some(median),
    }
}

fn day_of(ts: &str) -> Option<NaiveDate> {
    ts.get(..10).and_then(|d| NaiveDate::from_str(d).ok())
}

/// Cycle times of orders dated in `range`: quotation created → order
/// submitted (orders converted from a quotation), and order submitted →
/// fulfilled (its last shipment).
pub fn cycle_times(
    db: &impl Db,
    range: &DateRange,
    territories: Option<&[String]>,
) -> Result<(Durations, Durations), StoreError> {
    let mut w =
        String::from("o.order_date >= ? AND o.order_date <= ? AND o.submitted_at IS NOT NULL");
    let mut params = vec![
        Value::Text(range.from().to_string()),
        Value::Text(range.to().to_string()),
    ];
    if let Some(ts) = territories {
        customer_in(&mut w, &mut params, "c", ts, &placed(db, territories)?);
    }
    let rows = db.execute(
        &format!(
            "SELECT o.submitted_at, o.status, q.created_at AS quoted_at,
                    (SELECT MAX(s.created_at) FROM sales_order_shipments s
                      WHERE s.order_id = o.id) AS last_shipment
             FROM sales_orders o JOIN customers c ON c.id = o.customer_id
             LEFT JOIN quotations q ON q.id = o.quotation_id
             WHERE {w}"
        ),
        &params,
    )?;
    let mut quote_to_order = Vec::new();
    let mut order_to_fulfilled = Vec::new();
    for r in rows.iter() {
        let Some(submitted) = r.opt_text("submitted_at")?.and_then(day_of) else {
            continue;
        };
        if let Some(q) = r.opt_text("quoted_at")?.and_then(day_of) {
            quote_to_order.push((submitted - q).num_days().max(0));
        }
        if r.text("status")? == "fulfilled" {
            if let Some(s) = r.opt_text("last_shipment")?.and_then(day_of) {
                order_to_fulfilled.push((s - submitted).num_days().max(0));
            }
        }
    }
    Ok((durations(quote_to_order), durations(order_to_fulfilled)))
}

/// A line still to ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLine {
    pub order_id: String,
    pub order_number: String,
    pub status: String,
    pub customer_id: String,
    pub customer_name: String,
    pub line_id: String,
    pub product_id: String,
    pub product_name: String,
    pub quantity_milli: i64,
    pub shipped_milli: i64,
    pub promised_date: Option<NaiveDate>,
    /// Days past the promised date (0 when not late or not promised).
    pub days_late: i64,
}

/// Lines of booked, open orders with something left to ship, latest
/// promise first missed first.
pub fn pending_lines(
    db: &impl Db,
    today: NaiveDate,
    territories: Option<&[String]>,
    limit: usize,
) -> Result<Vec<PendingLine>, StoreError> {
    let mut w = String::from(
        "(o.status IN ('confirmed', 'partially_fulfilled')
          OR (o.status = 'on_hold' AND o.held_from IN ('confirmed', 'partially_fulfilled')))
         AND l.shipped_milli < l.quantity_milli",
    );
    let mut params = Vec::new();
    if let Some(ts) = territories {
        customer_in(&mut w, &mut params, "c", ts, &placed(db, territories)?);
    }
    params.push(Value::Integer(i64::try_from(limit).unwrap_or(200)));
    let rows = db.execute(
        &format!(
            "SELECT o.id AS order_id, o.number, o.status, o.customer_id, c.name AS customer_name,
                    l.id AS line_id, l.product_id, p.name AS product_name, l.quantity_milli,
                    l.shipped_milli, l.promised_date
             FROM sales_orders o JOIN sales_order_lines l ON l.order_id = o.id
             JOIN customers c ON c.id = o.customer_id
             LEFT JOIN products p ON p.id = l.product_id
             WHERE {w}
             ORDER BY COALESCE(l.promised_date, '9999-12-31'), o.number, l.seq LIMIT ?"
        ),
        &params,
    )?;
    rows.iter()
        .map(|r| {
            let promised = r
                .opt_text("promised_date")?
                .and_then(|d| NaiveDate::from_str(d).ok());
            Ok(PendingLine {
                order_id: r.text("order_id")?.to_owned(),
                order_number: r.text("number")?.to_owned(),
                status: r.text("status")?.to_owned(),
                customer_id: r.text("customer_id")?.to_owned(),
                customer_name: r.text("customer_name")?.to_owned(),
                line_id: r.text("line_id")?.to_owned(),
                product_id: r.text("product_id")?.to_owned(),
                product_name: r.opt_text("product_name")?.unwrap_or("").to_owned(),
                quantity_milli: r.int("quantity_milli")?,
                shipped_milli: r.int("shipped_milli")?,
                days_late: promised.map_or(0, |p| (today - p).num_days().max(0)),
                promised_date: promised,
            })
        })
        .collect()
}

/// Commission booked per beneficiary and currency, earned in `range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionRow {
    pub beneficiary_kind: String,
    pub beneficiary_id: String,
    pub name: Option<String>,
    pub currency: String,
    pub amount: Decimal,
    pub entries: i64,
}

pub fn commissions(db: &impl Db, range: &DateRange) -> Result<Vec<CommissionRow>, StoreError> {
    let rows = db.execute(
        "SELECT l.beneficiary_kind, l.beneficiary_id, l.currency, l.amount,
                COALESCE(sp.name, pa.code) AS name
         FROM commission_ledger l
         LEFT JOIN sales_people sp ON l.beneficiary_kind = 'sales_person' AND sp.id = l.beneficiary_id
         LEFT JOIN sales_partners pa ON l.beneficiary_kind = 'sales_partner' AND pa.id = l.beneficiary_id
         WHERE l.earned_on >= ? AND l.earned_on <= ?",
        &[
            Value::Text(range.from().to_string()),
            Value::Text(range.to().to_string()),
        ],
    )?;
    let mut sums: BTreeMap<(String, String, String), CommissionRow> = BTreeMap::new();
    for r in rows.iter() {
        let kind = r.text("beneficiary_kind")?.to_owned();
        let id = r.text("beneficiary_id")?.to_owned();
        let currency = r.text("currency")?.to_owned();
        let amount = Decimal::from_str(r.text("amount")?).map_err(|e| StoreError::Corrupt {
            entity: "commission_ledger",
            id: id.clone(),
            message: e.to_string(),
        })?;
        let row = sums
            .entry((kind.clone(), id.clone(), currency.clone()))
            .or_insert_with(|| CommissionRow {
                beneficiary_kind: kind,
                beneficiary_id: id,
                name: None,
                currency,
                amount: Decimal::ZERO,
                entries: 0,
            });
        row.amount += amount;
        row.entries += 1;
        if row.name.is_none() {
            row.name = r.opt_text("name")?.map(str::to_owned);
        }
    }
    let mut out: Vec<CommissionRow> = sums.into_values().collect();
    out.sort_by(|a, b| {
        b.amount
            .cmp(&a.amount)
            .then_with(|| a.beneficiary_id.cmp(&b.beneficiary_id))
    });
    Ok(out)
}

/// Targets whose period starts in `range`, with what was sold against them.
pub fn targets(
    db: &impl Db,
    range: &DateRange,
) -> Result<
    Vec<(
        sales_domain::teams::targets::Target,
        crate::teams::targets::Attainment,
    )>,
    StoreError,
> {
    let rows = db.execute(
        "SELECT id FROM sales_targets WHERE active = 1 AND period_start >= ? AND period_start <= ?
         ORDER BY period_start, id",
        &[
            Value::Text(range.from().to_string()),
            Value::Text(range.to().to_string()),
        ],
    )?;
    let mut out = Vec::new();
    for r in rows.iter() {
        let raw = r.text("id")?;
        let id = sales_domain::teams::TargetId::parse(raw).map_err(|e| StoreError::Corrupt {
            entity: "sales_target",
            id: raw.to_owned(),
            message: e.to_string(),
        })?;
        let t = crate::teams::targets::get(db, id)?.record;
        let a = crate::teams::targets::attainment(db, &t)?;
        out.push((t, a));
    }
    Ok(out)
}

/// An amount of ten-thousandths as a decimal.
pub fn amount(e4: i64) -> Decimal {
    from_e4(e4)
}
