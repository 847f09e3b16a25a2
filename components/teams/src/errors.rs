//! Every teams error a client can see, as problem+json. Exhaustive
//! matches without `_` arms: a new variant does not compile until someone
//! decides its status, code and field.
//!
//! Statuses: malformed input is 422 (`invalid_field`, `split_total`);
//! input that is well-formed but clashes with stored data — a manager who
//! would close a loop in the hierarchy, a plan overlapping another — is
//! 409 (`hierarchy_cycle`, `plan_overlap`); a reference to a record that
//! does not exist is 422 `unknown_reference` (the kit's mapping of
//! `StoreError::MissingReference`).

use sales_domain::catalog::ValidationError;
use sales_domain::teams::TeamsError;
use sales_kit::ApiError;
use sales_store::StoreError;

pub fn invalid(e: ValidationError) -> ApiError {
    ApiError::invalid_field(e.field, e.message)
}

/// A domain refusal, naming the field the domain blames.
pub fn teams(e: TeamsError) -> ApiError {
    let detail = e.to_string();
    match e {
        TeamsError::Invalid(v) => invalid(v),
        TeamsError::Cycle { field, .. } => {
            ApiError::conflict("hierarchy_cycle", detail).with_field(field)
        }
        TeamsError::SplitTotal { field, .. } => ApiError::new(
            422,
            "split_total",
            "The percentages of a sales team must total 100",
            detail,
        )
        .with_field(if field.is_empty() {
            "members".into()
        } else {
            field
        }),
        TeamsError::PlanOverlap { field, .. } => {
            ApiError::conflict("plan_overlap", detail).with_field(field)
        }
    }
}

/// A referenced record looked up by id: missing is 422 naming `field`.
pub fn reference<T>(r: Result<T, StoreError>, field: &'static str) -> Result<T, ApiError> {
    match r {
        Err(StoreError::NotFound { id, .. }) => {
            Err(StoreError::MissingReference { field, id }.into())
        }
        other => other.map_err(ApiError::from),
    }
}
