//! How store failures look to a client. Exhaustive on purpose: a new
//! `StoreError` or `DbError` variant does not compile until someone decides
//! its status and code.

use sales_store::{DbError, StoreError};

use crate::problem::ApiError;

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        match e {
            DbError::Unique(what) => {
                ApiError::duplicate("body", format!("a unique value is already taken ({what})"))
            }
            DbError::Sqlite(msg) if msg.contains("locked") || msg.contains("busy") => {
                ApiError::unavailable("the database is busy; retry the request")
            }
            DbError::Sqlite(msg) => ApiError::internal(format!("database error: {msg}")),
            DbError::Decode(msg) => ApiError::internal(format!("stored data is invalid: {msg}")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Db(e) => e.into(),
            StoreError::NotFound { entity, id } => ApiError::not_found(format!("{entity} {id} does not exist")),
            StoreError::VersionConflict { actual, .. } => ApiError::version_conflict(actual),
            StoreError::Duplicate { entity, field, value } => {
                ApiError::duplicate(field, format!("a {entity} with {field} {value:?} already exists"))
            }
            StoreError::MissingReference { field, id } => ApiError::new(
                422,
                "unknown_reference",
                "A referenced record does not exist",
                format!("{field} {id} does not exist"),
            )
            .with_field(field),
            StoreError::Cycle { entity, id, parent } => ApiError::conflict(
                "tree_cycle",
                format!("{entity} {id} cannot move under {parent}: it would become its own ancestor"),
            )
            .with_field("parent_id"),
            StoreError::BadCursor(_) => ApiError::invalid_cursor(),
            StoreError::Corrupt { entity, id, message } => {
                ApiError::internal(format!("stored {entity} {id} is invalid: {message}"))
            }
            StoreError::InsufficientStock { ref field, .. } => {
                let field = field.clone();
                ApiError::conflict("insufficient_stock", e.to_string()).with_field(field)
            }
            StoreError::InvalidState { .. } => ApiError::conflict("invalid_state", e.to_string()),
            StoreError::SchemaTooNew { found, supported } => ApiError::unavailable(format!(
                "the database was migrated by a newer build (schema {found}, this build supports {supported})"
            )),
        }
    }
}
