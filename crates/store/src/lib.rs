//! `sales-store`: the SQL schema, migrations and queries of the sales system.
//!
//! Everything is written against the small [`db::Db`] trait — one SQL
//! statement with positional parameters, plus `transaction` — so the same SQL
//! runs on rusqlite ([`rusqlite_db::RusqliteDb`], feature `rusqlite`, for
//! native tests and benches) and on Spin's SQLite (the kit crate implements
//! `Db` for it). Repositories take `&impl Db` and speak domain types
//! (`sales_domain`) in and out; they never see JSON-over-HTTP.
//!
//! Main pieces: [`migrate::migrate`] (versioned, idempotent, safe when two
//! processes start at once), [`series::next_document_number`] (gap-free
//! numbers inside the caller's transaction), [`idempotency`] records,
//! [`api_keys`], [`settings`] and the catalog repositories.
//!
//! What it deliberately does not do: open connections on its own (the caller
//! passes a `Db`), read the clock (callers pass `now`), or decide business
//! rules beyond what the schema guarantees (uniqueness, optimistic versions,
//! references that must exist, trees without cycles).
//!
//! Transactions: repository functions do not begin transactions themselves
//! unless their docs say so; the caller wraps a request's writes — effect,
//! idempotency record, document number — in one [`db::Db::transaction`].

pub mod api_keys;
pub mod db;
pub mod error;
pub mod idempotency;
pub mod migrate;
pub mod page;
pub(crate) mod repo;
#[cfg(feature = "rusqlite")]
pub mod rusqlite_db;
pub mod series;
pub mod settings;
pub mod time;

pub use db::{Db, DbError, Row, Rows, Value};
pub use error::StoreError;
pub use migrate::migrate;
pub use page::{Page, Versioned};
