//! Several connections to one database file at once, as several component
//! instances (or replicas on a shared file) would hold.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::thread;

use sales_domain::series::DocumentSeries;
use sales_store::db::Db;
use sales_store::migrate::{latest_version, migrate, schema_version};
use sales_store::rusqlite_db::RusqliteDb;
use sales_store::series::{last_document_number, next_document_number};
use sales_store::{DbError, StoreError};

use crate::common::on_threads;

#[test]
fn connections_migrating_at_once_migrate_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.db");
    // No one has opened the file yet: every thread creates and migrates it.
    let threads = 6;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let path = path.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                let db = RusqliteDb::open(&path).map_err(|e| format!("open: {e}"))?;
                migrate(&db).map_err(|e| format!("migrate: {e}"))
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }

    let db = RusqliteDb::open(&path).unwrap();
    assert_eq!(schema_version(&db).unwrap(), latest_version());
    let rows = db
        .execute("SELECT count(*) AS n FROM settings", &[])
        .unwrap();
    assert_eq!(rows.first().unwrap().int("n").unwrap(), 1);
}

#[test]
fn concurrent_numbering_has_no_duplicates_and_no_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.db");
    migrate(&RusqliteDb::open(&path).unwrap()).unwrap();

    let threads = 4;
    let per_thread = 50;
    let all: Vec<u64> = on_threads(&path, threads, move |t, db| {
        let series = DocumentSeries::new("SO", 2026).unwrap();
        let mut got = Vec::new();
        for i in 0..per_thread {
            // Every fifth document of one thread fails after taking
            // its number: the rollback must give the number back.
            let fail = t == 0 && i % 5 == 0;
            let r: Result<u64, StoreError> = db.transaction(|db| {
                let n = next_document_number(db, &series)?;
                if fail {
                    return Err(StoreError::Db(DbError::Sqlite("insert failed".into())));
                }
                Ok(n.sequence())
            });
            if let Ok(n) = r {
                got.push(n);
            }
        }
        got
    })
    .into_iter()
    .flatten()
    .collect();
    let unique: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a number was handed out twice");
    let expected_count = threads * per_thread - per_thread / 5;
    let expected: BTreeSet<u64> = (1..=expected_count as u64).collect();
    assert_eq!(unique, expected, "numbers have gaps");

    let db = RusqliteDb::open(&path).unwrap();
    let series = DocumentSeries::new("SO", 2026).unwrap();
    assert_eq!(
        last_document_number(&db, &series).unwrap(),
        Some(expected_count as u64)
    );
}
