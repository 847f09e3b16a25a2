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
//! [`api_keys`], [`settings`] and the catalog repositories [`customers`],
//! [`products`], [`channels`] and [`trees`] (customer groups, item groups,
//! territories), and the pricing capability's tables in [`pricing`] (price
//! lists and items, rules, schedules, tax templates, guards, and the loader
//! of one basket's slice of them), and the availability capability's in
//! [`availability`] (warehouses, stock positions and adjustments, receipts,
//! reservation holds with race-free conditional reserves, and the loader of
//! one check's stock picture).
//!
//! Record visibility (a rep sees their territory and team, a manager their
//! subtree) is [`visibility`]: a principal's scope as SQL conditions the
//! customer, quotation, order and approval lists and reads apply.
//!
//! Repository conventions: `create(db, &record, now)`, `get(db, id)`,
//! `list(db, &filter, &Page) -> (items, next_cursor)` (keyset pages in id
//! order, opaque cursors, [`StoreError::BadCursor`] for a foreign one),
//! `update(db, &record, expected_version, now)` ([`StoreError::VersionConflict`]
//! when stale), `deactivate(db, id, now)`. Records come back as
//! [`Versioned`] (record + version + timestamps). Unique values that are
//! taken are [`StoreError::Duplicate`] naming the field; references to rows
//! that do not exist are [`StoreError::MissingReference`].
//!
//! What it deliberately does not do: open connections on its own (the caller
//! passes a `Db`), read the clock (callers pass `now`), or decide business
//! rules beyond what the schema guarantees (uniqueness, optimistic versions,
//! references that must exist, trees without cycles).
//!
//! Transactions: repositories never `BEGIN`; the caller wraps a request's
//! writes — effect, idempotency record, document number — in one
//! [`db::Db::transaction`]. Writes of several statements (a customer and its
//! external ids) run in a SAVEPOINT, so they are all-or-nothing on their own
//! too.

pub mod analytics;
pub mod api_keys;
pub mod approvals;
pub mod availability;
pub mod channels;
pub mod customers;
pub mod db;
pub mod downstream;
pub mod error;
pub mod idempotency;
pub mod integrations;
pub mod migrate;
pub mod orders;
pub mod outbox;
pub mod page;
pub mod pricing;
pub mod products;
pub mod quotations;
mod repo;
#[cfg(feature = "rusqlite")]
pub mod rusqlite_db;
pub mod series;
pub mod settings;
pub mod teams;
pub mod time;
pub mod trees;
pub mod visibility;

pub use db::{Db, DbError, Row, Rows, Value};
pub use error::StoreError;
pub use migrate::migrate;
pub use page::{Listed, Page, Versioned};
pub use repo::Upserted;
