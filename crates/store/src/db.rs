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

impl DbError {
    /// Classifies a SQLite error message: "UNIQUE constraint failed: …"
    /// becomes [`DbError::Unique`], anything else [`DbError::Sqlite`]. Both
    /// `Db` implementations use it, so the same failure is the same variant
    /// on rusqlite and on Spin (which reports every error as a string).
    pub fn from_sqlite_message(message: impl Into<String>) -> DbError {
        let message = message.into();
        match message.find("UNIQUE constraint failed: ") {
            Some(at) => {
                DbError::Unique(message[at + "UNIQUE constraint failed: ".len()..].to_owned())
            }
            None => DbError::Sqlite(message),
        }
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Integer(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Integer(i64::from(v))
    }
}

impl From<u16> for Value {
    fn from(v: u16) -> Value {
        Value::Integer(i64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Integer(i64::from(v))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl Rows {
    /// Iterates the rows with access by column name.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }
}

/// One row of [`Rows`], read by column name with typed getters that report
/// a [`DbError::Decode`] naming the column when the shape is unexpected.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    pub fn value(&self, column: &str) -> Result<&'a Value, DbError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DbError::Decode(format!("no column {column:?}")))
    }

    pub fn text(&self, column: &str) -> Result<&'a str, DbError> {
        match self.value(column)? {
            Value::Text(s) => Ok(s),
            other => Err(DbError::Decode(format!(
                "column {column:?} is {other:?}, expected text"
            ))),
        }
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<&'a str>, DbError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            other => Err(DbError::Decode(format!(
                "column {column:?} is {other:?}, expected text or null"
            ))),
        }
    }

    pub fn int(&self, column: &str) -> Result<i64, DbError> {
        match self.value(column)? {
            Value::Integer(i) => Ok(*i),
            other => Err(DbError::Decode(format!(
                "column {column:?} is {other:?}, expected an integer"
            ))),
        }
    }

    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, DbError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Integer(i) => Ok(Some(*i)),
            other => Err(DbError::Decode(format!(
                "column {column:?} is {other:?}, expected an integer or null"
            ))),
        }
    }

    /// An integer column holding 0 or 1.
    pub fn bool(&self, column: &str) -> Result<bool, DbError> {
        match self.int(column)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DbError::Decode(format!(
                "column {column:?} is {other}, expected 0 or 1"
            ))),
        }
    }

    pub fn blob(&self, column: &str) -> Result<&'a [u8], DbError> {
        match self.value(column)? {
            Value::Blob(b) => Ok(b),
            Value::Text(s) => Ok(s.as_bytes()),
            other => Err(DbError::Decode(format!(
                "column {column:?} is {other:?}, expected a blob"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_are_classified() {
        assert_eq!(
            DbError::from_sqlite_message("UNIQUE constraint failed: products.sku"),
            DbError::Unique("products.sku".into())
        );
        assert_eq!(
            DbError::from_sqlite_message("no such table: x"),
            DbError::Sqlite("no such table: x".into())
        );
    }

    #[test]
    fn rows_are_read_by_column_name() {
        let rows = Rows {
            columns: vec!["a".into(), "b".into(), "c".into()],
            rows: vec![vec![
                Value::Integer(1),
                Value::Text("x".into()),
                Value::Null,
            ]],
        };
        let row = rows.first().unwrap();
        assert_eq!(row.int("a").unwrap(), 1);
        assert!(row.bool("a").unwrap());
        assert_eq!(row.text("b").unwrap(), "x");
        assert_eq!(row.opt_text("c").unwrap(), None);
        assert!(matches!(row.text("a"), Err(DbError::Decode(_))));
        assert!(matches!(row.int("zz"), Err(DbError::Decode(_))));
    }
}
