//! The one seam between SQL and the two SQLite hosts we run on: rusqlite in
//! native tests and benches, Spin's `fermyon:spin/sqlite` inside components.

use thiserror::Error;

/// A SQLite value, the same set Spin's `sqlite` interface carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The result of one statement: column names and rows of values in column order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Debug, Error, PartialEq)]
pub enum DbError {
    /// Any SQLite failure, with SQLite's message (Spin reports them all as `io`).
    #[error("database error: {0}")]
    Sqlite(String),
    /// A UNIQUE constraint failed; the message names the index or columns.
    #[error("unique constraint failed: {0}")]
    Unique(String),
    /// A row did not have the shape the query expected.
    #[error("unexpected row shape: {0}")]
    Decode(String),
}

/// Executes one SQL statement with positional (`?`) parameters.
///
/// Both implementations hold one connection, so `BEGIN IMMEDIATE` … `COMMIT`
/// issued through `execute` is a real transaction; use [`Db::transaction`].
pub trait Db {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError>;

    /// Runs `f` inside `BEGIN IMMEDIATE` … `COMMIT`, rolling back on error.
    /// IMMEDIATE takes the write lock up front so two writers queue on the
    /// busy timeout instead of failing with SQLITE_BUSY at their first write.
    fn transaction<T, E>(&self, f: impl FnOnce(&Self) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
        Self: Sized,
    {
        self.execute("BEGIN IMMEDIATE", &[])?;
        match f(self) {
            Ok(v) => {
                if let Err(e) = self.execute("COMMIT", &[]) {
                    let _ = self.execute("ROLLBACK", &[]);
                    return Err(e.into());
                }
                Ok(v)
            }
            Err(e) => {
                let _ = self.execute("ROLLBACK", &[]);
                Err(e)
            }
        }
    }
}
