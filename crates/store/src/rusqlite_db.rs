//! [`Db`] on rusqlite, for native tests, benches and tools (feature `rusqlite`).
//!
//! One connection per value, like a Spin component instance. File databases
//! run in WAL mode (readers never block the writer) with a busy timeout, so
//! several connections — threads or processes — can share one file and
//! writers queue instead of failing with `SQLITE_BUSY`.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::db::{Db, DbError, Rows, Value};

/// How long a writer waits for another connection's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RusqliteDb {
    conn: Connection,
}

fn map_err(e: rusqlite::Error) -> DbError {
    DbError::from_sqlite_message(e.to_string())
}

impl RusqliteDb {
    /// Opens (creating if needed) a database file in WAL mode.
    pub fn open(path: impl AsRef<Path>) -> Result<RusqliteDb, DbError> {
        let conn = Connection::open(path).map_err(map_err)?;
        let db = RusqliteDb::configure(conn)?;
        db.enable_wal()?;
        Ok(db)
    }

    /// Switches the file to WAL (a persistent property of the file). SQLite
    /// does not call the busy handler while another connection is switching
    /// the same new file, so "database is locked" is retried here until
    /// [`BUSY_TIMEOUT`].
    fn enable_wal(&self) -> Result<(), DbError> {
        let started = Instant::now();
        loop {
            match self.execute("PRAGMA journal_mode = WAL", &[]) {
                Ok(_) => return Ok(()),
                Err(DbError::Sqlite(m))
                    if m.contains("locked") && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A private in-memory database (each call is a new, empty one).
    pub fn open_in_memory() -> Result<RusqliteDb, DbError> {
        RusqliteDb::configure(Connection::open_in_memory().map_err(map_err)?)
    }

    fn configure(conn: Connection) -> Result<RusqliteDb, DbError> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
        conn.set_prepared_statement_cache_capacity(128);
        let db = RusqliteDb { conn };
        db.execute("PRAGMA synchronous = NORMAL", &[])?;
        Ok(db)
    }

    /// The underlying connection, for tests that need SQLite directly.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Db for RusqliteDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let expected = stmt.parameter_count();
        if expected != params.len() {
            return Err(DbError::Sqlite(format!(
                "statement takes {expected} parameters, {} given",
                params.len()
            )));
        }
        for (i, p) in params.iter().enumerate() {
            let index = i + 1;
            let bound = match p {
                Value::Null => stmt.raw_bind_parameter(index, rusqlite::types::Null),
                Value::Integer(v) => stmt.raw_bind_parameter(index, v),
                Value::Real(v) => stmt.raw_bind_parameter(index, v),
                Value::Text(v) => stmt.raw_bind_parameter(index, v),
                Value::Blob(v) => stmt.raw_bind_parameter(index, v),
            };
            bound.map_err(map_err)?;
        }
        let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let width = columns.len();
        let mut out = Rows {
            columns,
            rows: Vec::new(),
        };
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(map_err)? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                let v = match row.get_ref(i).map_err(map_err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Integer(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                };
                values.push(v);
            }
            out.rows.push(values);
        }
        Ok(out)
    }
}

/// A [`Db`] that runs every statement on a [`RusqliteDb`] and counts them:
/// the load-independent cost measure of the store's tests (in a component
/// every statement is a round trip through the host).
pub struct Counted<'a> {
    db: &'a RusqliteDb,
    statements: std::cell::Cell<usize>,
}

impl<'a> Counted<'a> {
    pub fn new(db: &'a RusqliteDb) -> Counted<'a> {
        Counted {
            db,
            statements: std::cell::Cell::new(0),
        }
    }

    /// The statements run since the start or the last [`Counted::take`].
    pub fn statements(&self) -> usize {
        self.statements.get()
    }

    /// The statements run so far; counting starts again from 0.
    pub fn take(&self) -> usize {
        self.statements.replace(0)
    }

    /// What `f` answers and the statements it ran.
    pub fn count<T>(&self, f: impl FnOnce(&Self) -> T) -> (T, usize) {
        let before = self.statements.get();
        let out = f(self);
        (out, self.statements.get() - before)
    }
}

impl Db for Counted<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.statements.set(self.statements.get() + 1);
        self.db.execute(sql, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_return_rows_and_bind_parameters() {
        let db = RusqliteDb::open_in_memory().unwrap();
        db.execute("CREATE TABLE t (a INTEGER, b TEXT, c BLOB, d REAL)", &[])
            .unwrap();
        db.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            &[
                Value::Integer(1),
                Value::Text("x".into()),
                Value::Blob(vec![1, 2]),
                Value::Null,
            ],
        )
        .unwrap();
        let rows = db.execute("SELECT a, b, c, d FROM t", &[]).unwrap();
        assert_eq!(rows.columns, ["a", "b", "c", "d"]);
        assert_eq!(
            rows.rows,
            vec![vec![
                Value::Integer(1),
                Value::Text("x".into()),
                Value::Blob(vec![1, 2]),
                Value::Null
            ]]
        );
    }

    #[test]
    fn unique_violation_is_a_typed_error() {
        let db = RusqliteDb::open_in_memory().unwrap();
        db.execute("CREATE TABLE t (a TEXT UNIQUE)", &[]).unwrap();
        db.execute("INSERT INTO t VALUES ('x')", &[]).unwrap();
        assert_eq!(
            db.execute("INSERT INTO t VALUES ('x')", &[]),
            Err(DbError::Unique("t.a".into()))
        );
    }

    #[test]
    fn wrong_parameter_count_is_an_error_not_a_panic() {
        let db = RusqliteDb::open_in_memory().unwrap();
        assert!(matches!(
            db.execute("SELECT ?", &[]),
            Err(DbError::Sqlite(_))
        ));
    }

    #[test]
    fn counted_counts_each_statement_it_runs() {
        let db = RusqliteDb::open_in_memory().unwrap();
        let counted = Counted::new(&db);
        counted.execute("CREATE TABLE t (a INTEGER)", &[]).unwrap();
        let (rows, n) = counted.count(|c| {
            c.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
            c.execute("SELECT a FROM t", &[]).unwrap()
        });
        assert_eq!((rows.rows.len(), n), (1, 2));
        assert_eq!(counted.take(), 3);
        assert_eq!(counted.statements(), 0);
    }

    #[test]
    fn a_failed_transaction_rolls_back() {
        let db = RusqliteDb::open_in_memory().unwrap();
        db.execute("CREATE TABLE t (a INTEGER)", &[]).unwrap();
        let r: Result<(), DbError> = db.transaction(|db| {
            db.execute("INSERT INTO t VALUES (1)", &[])?;
            Err(DbError::Sqlite("boom".into()))
        });
        assert!(r.is_err());
        let rows = db.execute("SELECT count(*) AS n FROM t", &[]).unwrap();
        assert_eq!(rows.first().unwrap().int("n").unwrap(), 0);
    }
}
