use std::cell::RefCell;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal_macros::dec;
use sales_domain::ids::{CustomerId, LineId, OrderId};
use sales_domain::orders::{NewOrder, NewOrderLine};
use sales_store::db::{Db, DbError, Rows};
use sales_store::migrate;
use sales_store::orders::{self, record_submission, Submission};
use sales_store::rusqlite_db::RusqliteDb;
use sales_store::Value;

use crate::fixtures;

/// A fresh, migrated in-memory database.
pub fn db() -> RusqliteDb {
    let db = RusqliteDb::open_in_memory().unwrap();
    migrate(&db).unwrap();
    db
}

/// A fixed instant on 2026-03-`day`.
pub fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
}

/// A confirmed order of `customer` with `lines` lines of two units, each of
/// its own new product (`{channel}-P-{i}`), in a new channel `channel`.
pub fn confirmed_order(
    db: &RusqliteDb,
    customer: CustomerId,
    channel: &str,
    lines: usize,
) -> OrderId {
    let channel_id = sales_store::channels::create(db, &fixtures::channel(channel), at(1))
        .unwrap()
        .record
        .id();
    let lines = (0..lines)
        .map(|i| {
            let sku = format!("{channel}-P-{i}");
            let p = sales_store::products::create(db, &fixtures::product(&sku), at(1)).unwrap();
            NewOrderLine {
                id: LineId::new(),
                product_id: p.record.id(),
                quantity: dec!(2),
                uom: None,
                requested_date: None,
                kept_rate: None,
                quotation_line_id: None,
            }
        })
        .collect();
    let new = NewOrder {
        customer_id: customer,
        channel_id,
        currency: sales_domain::money::Currency::EUR,
        payment_terms: None,
        requested_date: None,
        customer_reference: None,
        quotation_id: None,
        lines,
    };
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let draft = orders::create_draft(db, OrderId::new(), new, day, at(2)).unwrap();
    let status = draft.record.order.status().submit(false).unwrap();
    record_submission(
        db,
        Submission {
            order: draft.record.order.with_status(status, None),
            expected_version: draft.version,
            new_revision: false,
            waterfall: None,
            promise: None,
            hold: None,
            release_first: false,
        },
        at(3),
    )
    .unwrap()
    .record
    .order
    .id()
}

/// Runs every statement on the real database and, for each one `which`
/// picks, first records SQLite's query plan for it with the same
/// parameters, beside the statement (its whitespace folded to single
/// spaces).
pub struct Planned<'a> {
    db: &'a RusqliteDb,
    which: fn(&str) -> bool,
    plans: RefCell<Vec<(String, String)>>,
}

impl Db for Planned<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        if (self.which)(sql) {
            let plan = self
                .db
                .execute(&format!("EXPLAIN QUERY PLAN {sql}"), params)?;
            let detail: Vec<String> = plan
                .iter()
                .map(|r| r.text("detail").unwrap().to_owned())
                .collect();
            self.plans.borrow_mut().push((
                sql.split_whitespace().collect::<Vec<_>>().join(" "),
                detail.join("\n"),
            ));
        }
        self.db.execute(sql, params)
    }
}

impl Planned<'_> {
    /// Each recorded statement with its plan, in the order they ran.
    pub fn into_plans(self) -> Vec<(String, String)> {
        self.plans.into_inner()
    }
}

/// A [`Planned`] recording the plan of every `SELECT` (and `WITH`).
pub fn planned(db: &RusqliteDb) -> Planned<'_> {
    planned_where(db, |sql| {
        let head = sql.trim_start().to_ascii_uppercase();
        head.starts_with("SELECT") || head.starts_with("WITH")
    })
}

/// A [`Planned`] recording the plan of every statement `which` picks.
pub fn planned_where(db: &RusqliteDb, which: fn(&str) -> bool) -> Planned<'_> {
    Planned {
        db,
        which,
        plans: RefCell::new(Vec::new()),
    }
}

/// The plans of the statements that read `table`.
pub fn plans_on(p: &Planned<'_>, table: &str) -> Vec<String> {
    p.plans
        .borrow()
        .iter()
        .filter(|(sql, _)| sql.contains(table))
        .map(|(_, plan)| plan.clone())
        .collect()
}

/// Runs `work(t, db)` on `threads` threads at once — each with its own
/// connection to the database file at `path`, all let go together by a
/// barrier — and returns what each thread returned, in thread order.
pub fn on_threads<T: Send + 'static>(
    path: &Path,
    threads: usize,
    work: impl Fn(usize, RusqliteDb) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(threads));
    let work = Arc::new(work);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let path = path.to_path_buf();
            let barrier = barrier.clone();
            let work = work.clone();
            thread::spawn(move || {
                let db = RusqliteDb::open(&path).unwrap();
                barrier.wait();
                work(t, db)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}
