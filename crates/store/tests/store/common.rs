use chrono::{DateTime, TimeZone, Utc};
use sales_store::migrate;
use sales_store::rusqlite_db::RusqliteDb;

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
