//! The error every repository returns.

use thiserror::Error;

use crate::db::DbError;

#[derive(Debug, Error, PartialEq)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// No row with this id (or key).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// An update carried `expected` but the row is at `actual`.
    #[error("{entity} {id} is at version {actual}, not {expected}")]
    VersionConflict {
        entity: &'static str,
        id: String,
        expected: i64,
        actual: i64,
    },
    /// A value that must be unique is taken (`field` as the API names it).
    #[error("{entity} with {field} {value:?} already exists")]
    Duplicate {
        entity: &'static str,
        field: &'static str,
        value: String,
    },
    /// A referenced record (`field`, e.g. `customer_group_id`) does not exist.
    #[error("{field} {id} does not exist")]
    MissingReference { field: &'static str, id: String },
    /// Moving `id` under `parent` would make it its own ancestor.
    #[error("moving {entity} {id} under {parent} would create a cycle")]
    Cycle {
        entity: &'static str,
        id: String,
        parent: String,
    },
    /// A pagination cursor that this store did not issue (or for another list).
    #[error("invalid cursor: {0}")]
    BadCursor(String),
    /// A stored row no longer decodes into its domain type.
    #[error("stored {entity} {id} is invalid: {message}")]
    Corrupt {
        entity: &'static str,
        id: String,
        message: String,
    },
    /// A reservation asked for more than a position has free (on hand plus
    /// open receipts minus what is already reserved), or an adjustment
    /// would take on hand below zero. Quantities as decimal text.
    #[error("{field}: {requested} requested of product {product} in warehouse {warehouse}, {available} free")]
    InsufficientStock {
        field: String,
        product: String,
        warehouse: String,
        requested: String,
        available: String,
    },
    /// The record's state does not allow the change (a released
    /// reservation cannot be consumed).
    #[error("{entity} {id}: {message}")]
    InvalidState {
        entity: &'static str,
        id: String,
        message: String,
    },
    /// The database was migrated by a newer build.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
}
