//! How record visibility's SQL pages a large order list (issue #8 item 5):
//! 200,000 orders of 1,000 customers in 50 territories, each order
//! credited to its territory's rep; pages of 50 in id order, as
//! `orders::list_visible` reads them, for an unscoped caller, a rep who
//! sees 1 territory (2 % of the orders) and a manager who sees 25 (50 %).
//! The condition is `Visibility::document`'s, the query the list's shape.
//!
//! `cargo run --release -p sales-store --features rusqlite --example visibility_pages`

use std::collections::BTreeSet;
use std::time::Instant;

use sales_domain::ids::{CustomerId, OrderId, PrincipalId, SalesPersonId, TerritoryId};
use sales_store::rusqlite_db::RusqliteDb;
use sales_store::teams::allocations::DocumentKind;
use sales_store::visibility::{Scope, Visibility};
use sales_store::{migrate, Db, Value};

const ORDERS: usize = 200_000;
const CUSTOMERS: usize = 1_000;
const TERRITORIES: usize = 50;
const PAGES: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("visibility-pages-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = RusqliteDb::open(dir.join("bench.db"))?;
    migrate(&db)?;
    // Only the list's reads are measured: the rows are written bare (no
    // sales people, channels or lines behind them).
    db.execute("PRAGMA foreign_keys = OFF", &[])?;
    let territories: Vec<TerritoryId> = (0..TERRITORIES).map(|_| TerritoryId::new()).collect();
    let people: Vec<SalesPersonId> = (0..TERRITORIES).map(|_| SalesPersonId::new()).collect();
    let customers: Vec<CustomerId> = (0..CUSTOMERS).map(|_| CustomerId::new()).collect();
    let now = "2026-01-01T00:00:00Z";
    db.execute("BEGIN", &[])?;
    for (i, t) in territories.iter().enumerate() {
        db.execute(
            "INSERT INTO territories (id, code, name, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?)",
            &[
                Value::Text(t.to_string()),
                Value::Text(format!("T{i}")),
                Value::Text(format!("T{i}")),
                Value::from(now),
                Value::from(now),
            ],
        )?;
    }
    for (i, c) in customers.iter().enumerate() {
        db.execute(
            "INSERT INTO customers (id, name, territory_id, created_at, updated_at)
             VALUES (?, 'c', ?, ?, ?)",
            &[
                Value::Text(c.to_string()),
                Value::Text(territories[i % TERRITORIES].to_string()),
                Value::from(now),
                Value::from(now),
            ],
        )?;
    }
    // A fixed pseudo-random customer per order (no RNG dependency).
    let mut x: u64 = 7;
    for n in 0..ORDERS {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let c = usize::try_from(x >> 33).unwrap_or(0) % CUSTOMERS;
        let id = OrderId::new().to_string();
        db.execute(
            "INSERT INTO sales_orders (id, number, customer_id, channel_id, currency, status,
                                       order_date, created_at, updated_at)
             VALUES (?, ?, ?, 'ch', 'EUR', 'confirmed', '2026-01-01', ?, ?)",
            &[
                Value::Text(id.clone()),
                Value::Text(format!("SO-2026-{n:06}")),
                Value::Text(customers[c].to_string()),
                Value::from(now),
                Value::from(now),
            ],
        )?;
        db.execute(
            "INSERT INTO document_sales_teams
               (document_kind, document_id, sales_person_id, percentage, seq)
             VALUES ('order', ?, ?, '100', 0)",
            &[
                Value::Text(id),
                Value::Text(people[c % TERRITORIES].to_string()),
            ],
        )?;
    }
    db.execute("COMMIT", &[])?;
    db.execute("ANALYZE", &[])?;

    let scoped = |n: usize| {
        Visibility::Scoped(Scope {
            territories: territories[..n].iter().copied().collect(),
            people: people[..n].iter().copied().collect(),
            placed: BTreeSet::new(),
            principal: PrincipalId::new(),
        })
    };
    for (label, v) in [
        ("unscoped", Visibility::All),
        ("rep, 1 of 50 territories", scoped(1)),
        ("manager, 25 of 50 territories", scoped(25)),
    ] {
        let mut times = Vec::new();
        let mut after: Option<String> = None;
        let mut rows_seen = 0;
        for _ in 0..PAGES {
            let mut clauses = Vec::new();
            let mut params = Vec::new();
            if let Some((c, p)) = v.document(
                DocumentKind::Order,
                "sales_orders.id",
                "sales_orders.customer_id",
            ) {
                clauses.push(c);
                params.extend(p);
            }
            if let Some(a) = &after {
                clauses.push("sales_orders.id > ?".to_owned());
                params.push(Value::Text(a.clone()));
            }
            let filter = if clauses.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", clauses.join(" AND "))
            };
            params.push(Value::Integer(51));
            let started = Instant::now();
            let rows = db.execute(
                &format!("SELECT id FROM sales_orders {filter} ORDER BY id LIMIT ?"),
                &params,
            )?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            rows_seen += rows.len().min(50);
            after = match rows.iter().nth(49) {
                Some(r) if rows.len() > 50 => Some(r.text("id")?.to_owned()),
                _ => None,
            };
            if after.is_none() {
                break;
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{label}: {} pages ({rows_seen} orders), median {:.2} ms, max {:.2} ms",
            times.len(),
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
