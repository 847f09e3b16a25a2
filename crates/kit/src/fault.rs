//! Fault injection, for proving that a multi-step write is atomic.
//!
//! A request that writes several things in one transaction (order
//! submission: the order, its reservations, approval requests, outbox
//! events) calls [`point`] between its steps. In every real deployment the
//! Spin variable `fault_points` is empty and a point does nothing. A test
//! starts the app with `fault_points=<name>[,<name>...]`; the named point
//! then fails the request with a 500 problem `fault_injected`, the error
//! unwinds through `?` like any other failure, and the surrounding
//! transaction rolls back — the test checks that nothing was left behind.
//!
//! The points of order submission (`components/orders/src/submit.rs`), in
//! the order they are passed:
//!
//! - `submit.after_price` — the basket is priced,
//! - `submit.after_credit` — the credit check has run,
//! - `submit.after_promise` — availability has promised the lines,
//! - `submit.after_approvals` — the approval policies are evaluated,
//! - `submit.after_order_written` — the order's new status and lines are written,
//! - `submit.after_reservations` — its stock is reserved,
//! - `submit.after_approval_request` — its approval request is opened,
//! - `submit.before_commit` — the outbox events are written, just before `COMMIT`.
//!
//! The variable is read once per request at most: the list is cached in
//! the component instance, and Spin (and the sales runner) instantiate a
//! component afresh for every request.

use crate::problem::ApiError;

/// Whether `name` is one of the comma-separated names in `list`
/// (whitespace around names is ignored; an empty list names nothing).
pub fn listed(list: &str, name: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|p| !p.is_empty() && p == name)
}

/// The problem a listed point fails with.
pub fn injected(name: &str) -> ApiError {
    ApiError::new(
        500,
        "fault_injected",
        "A fault was injected",
        format!("fault point `{name}` is listed in the `fault_points` variable"),
    )
}

/// `Err(500 fault_injected)` when the Spin variable `fault_points` lists
/// `name`, else `Ok(())`. Pass it with `?` between the steps of a
/// transaction.
#[cfg(feature = "spin")]
pub fn point(name: &str) -> Result<(), ApiError> {
    use std::sync::OnceLock;
    static POINTS: OnceLock<String> = OnceLock::new();
    let points = POINTS.get_or_init(|| crate::spin::variable("fault_points").unwrap_or_default());
    if listed(points, name) {
        return Err(injected(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_fires_only_when_listed_by_its_exact_name() {
        assert!(listed("submit.after_price", "submit.after_price"));
        assert!(listed(
            "submit.after_credit, submit.before_commit",
            "submit.before_commit"
        ));
        assert!(!listed("submit.after_price", "submit.after_promise"));
        assert!(!listed("submit.after_price_x", "submit.after_price"));
        assert!(!listed("", "submit.after_price"));
        assert!(!listed(" , ", ""));
    }

    #[test]
    fn an_injected_fault_is_a_500_problem() {
        let e = injected("submit.before_commit");
        assert_eq!(e.status(), 500);
        assert_eq!(e.code(), "fault_injected");
        assert!(e.detail().contains("submit.before_commit"));
    }
}
