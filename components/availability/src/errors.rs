//! Every availability error a client can see, as problem+json.
//!
//! One function per domain error enum, each an exhaustive `match` without a
//! `_` arm: a new variant does not compile until someone decides its status,
//! code and the field it blames. Fields are JSON paths of the request
//! (`lines[2].quantity`, `warehouses[1]`). Errors about the *context* (the
//! stock, work centres and roles the store loaded) are the store's data,
//! not the request's, so they are 500s: the edge checks everything a
//! client sends before the engine sees it.

use sales_domain::availability::{
    CalendarError, CtpError, ProjectError, PromiseError, ReservationError,
};
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

/// A calendar the engine refused; `prefix` locates it in the request.
pub fn calendar(e: CalendarError) -> ApiError {
    match &e {
        CalendarError::NoWorkingDays => invalid("working_days", &e),
        CalendarError::NoWorkingDayWithin { .. }
        | CalendarError::OutOfCapacity { .. }
        | CalendarError::NothingToSchedule(_)
        | CalendarError::DateOutOfRange => invalid("holidays", &e),
    }
}

/// A work centre or one of its routings (`routings[index]`) refused.
pub fn work_center(e: CtpError, routing: Option<usize>) -> ApiError {
    let at = |leaf: &str| match routing {
        Some(i) => format!("routings[{i}].{leaf}"),
        None => leaf.to_owned(),
    };
    match e {
        CtpError::InvalidName => invalid("name", &e),
        CtpError::InvalidQuantity { ref field, .. } => {
            // The engine names `hours_per_day`, `planned_load[i].hours`, `hours_per_unit`.
            invalid(at(field), &e)
        }
        CtpError::LeadTimeTooLong(_) => invalid(at("material_lead_days"), &e),
        CtpError::Calendar(c) => calendar(c).with_field("calendar_id"),
        CtpError::WrongWorkCenter { .. } | CtpError::TooMuchWork { .. } => {
            ApiError::internal(e.to_string())
        }
    }
}

/// A project role or one of its services (`services[index]`) refused.
pub fn project_role(e: ProjectError, service: Option<usize>) -> ApiError {
    let at = |leaf: &str| match service {
        Some(i) => format!("services[{i}].{leaf}"),
        None => leaf.to_owned(),
    };
    match e {
        ProjectError::InvalidName => invalid("name", &e),
        ProjectError::InvalidQuantity { ref field, .. } => invalid(at(field), &e),
        ProjectError::BookingEndsBeforeStart { index, .. } => {
            invalid(format!("bookings[{index}].to"), &e)
        }
        ProjectError::BookingTooLong { index }
        | ProjectError::BookingOnNoWorkingDay { index, .. } => {
            invalid(format!("bookings[{index}]"), &e)
        }
        ProjectError::Calendar(c) => calendar(c).with_field("calendar_id"),
        ProjectError::TooMuchWork { .. } => ApiError::internal(e.to_string()),
    }
}
