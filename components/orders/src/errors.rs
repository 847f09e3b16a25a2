//! Every order error a client can see, as problem+json.
//!
//! Exhaustive matches without a `_` arm: a new variant does not compile
//! until someone decides its status, code and field. Fields are JSON paths
//! of the request (`lines[2].quantity`).

use sales_domain::orders::{OrderError, PricingError};
use sales_kit::ApiError;
use sales_store::orders::FlowError;

pub fn order(e: OrderError) -> ApiError {
    match e {
        OrderError::Invalid(v) => ApiError::invalid_field(v.field, v.message),
        OrderError::UnknownProduct { ref field, .. } => {
            let field = field.clone();
            ApiError::new(
                422,
                "unknown_reference",
                "A referenced record does not exist",
                e.to_string(),
            )
            .with_field(field)
        }
        OrderError::InactiveProduct { ref field, .. } => {
            let field = field.clone();
            ApiError::new(
                422,
                "inactive_product",
                "The product cannot be ordered",
                e.to_string(),
            )
            .with_field(field)
        }
        OrderError::Transition(t) => ApiError::conflict("invalid_transition", t.to_string()),
        OrderError::OverShipped { ref field, .. } => {
            let field = field.clone();
            ApiError::new(422, "over_shipped", "More than was ordered", e.to_string())
                .with_field(field)
        }
        OrderError::QuotationRequired { .. } => ApiError::new(
            422,
            "quotation_required",
            "The channel sells from quotations",
            e.to_string(),
        )
        .with_field("quotation_id"),
    }
}

pub fn flow(e: FlowError) -> ApiError {
    match e {
        FlowError::Order(e) => order(e),
        FlowError::Store(e) => e.into(),
    }
}

pub fn pricing(e: PricingError) -> ApiError {
    match e {
        PricingError::LineCount { .. }
        | PricingError::Currency { .. }
        | PricingError::Invalid(_) => ApiError::new(
            500,
            "capability_contract",
            "A capability broke its interface",
            format!("the pricing answer does not fit the order: {e}"),
        ),
        PricingError::Money(m) => ApiError::new(
            422,
            "out_of_range",
            "An amount is out of range",
            m.to_string(),
        ),
    }
}
