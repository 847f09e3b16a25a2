//! Every availability error a client can see, as problem+json.
//!
//! One function per domain error enum, each an exhaustive `match` without a
//! `_` arm: a new variant does not compile until someone decides its status,
//! code and the field it blames. Fields are JSON paths of the request
//! (`lines[2].quantity`, `warehouses[1]`). Errors about the *context* (the
//! stock, work centres and roles the store loaded) are the store's data,
//! not the request's, so they are 500s: the edge checks everything a
//! client sends before the engine sees it.

use sales_domain::availability::{PromiseError, ReservationError};
use sales_kit::ApiError;

fn invalid(field: impl Into<String>, e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_field(field, e.to_string())
}

fn stored(e: &PromiseError) -> ApiError {
    ApiError::internal(format!("stored availability data is invalid: {e}"))
}

pub fn promise(e: PromiseError) -> ApiError {
    match &e {
        PromiseError::Stock(_)
        | PromiseError::WorkCenter { .. }
        | PromiseError::Routing { .. }
        | PromiseError::Role { .. }
        | PromiseError::Service { .. }
        | PromiseError::DuplicateWorkCenter(_)
        | PromiseError::DuplicateRouting(_)
        | PromiseError::UnknownWorkCenter { .. }
        | PromiseError::DuplicateRole(_)
        | PromiseError::DuplicateService(_)
        | PromiseError::UnknownRole { .. } => stored(&e),
        PromiseError::NoLines | PromiseError::TooManyLines => invalid("lines", &e),
        PromiseError::DuplicateLine { index, .. } => invalid(format!("lines[{index}].line_id"), &e),
        PromiseError::InvalidQuantity { field, .. }
        | PromiseError::RequestedDateInPast { field, .. } => invalid(field.clone(), &e),
        PromiseError::DuplicateWarehouse { index, .. } => {
            ApiError::invalid_field(format!("warehouses[{index}]"), e.to_string())
        }
    }
}

pub fn reservation(e: ReservationError) -> ApiError {
    match &e {
        ReservationError::HoldEndsInPast { .. } => invalid("valid_until", &e),
        ReservationError::OrderCannotShipComplete => {
            ApiError::conflict("cannot_ship_complete", e.to_string()).with_field("lines")
        }
    }
}
