//! The order lifecycle.
//!
//! ```text
//! draft ──submit──► pending_approval ──approve──► confirmed ──ship──► partially_fulfilled ──ship──► fulfilled
//!   │  └──submit (nothing to approve)──────────────►│                        │
//!   │            ◄──return_to_draft (rejected)──┘   │◄──amend (re-approval)──┘ (back to pending_approval)
//!   └── cancel ◄── pending_approval, confirmed, on_hold (not after a shipment)
//! hold: pending_approval | confirmed | partially_fulfilled → on_hold; resume: back where it was.
//! close: confirmed | partially_fulfilled | fulfilled | on_hold → closed (nothing more ships).
//! ```
//!
//! Decisions (as ERPNext and Odoo users expect): an order with shipments
//! cannot be cancelled — it is closed instead, which stops what has not
//! shipped; a held order resumes to the status it was held from, so the
//! hold never loses the approval state; only a draft is edited freely,
//! while confirmed (and pending or partially fulfilled) orders are
//! *amended*, which re-prices and may re-approve.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::string_enum;

string_enum! {
    /// Where an order is in its life.
    OrderStatus {
        Draft => "draft",
        PendingApproval => "pending_approval",
        Confirmed => "confirmed",
        PartiallyFulfilled => "partially_fulfilled",
        Fulfilled => "fulfilled",
        OnHold => "on_hold",
        Cancelled => "cancelled",
        Closed => "closed",
    }
}

/// An action the current status does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("cannot {action} an order that is {from}: {reason}")]
pub struct TransitionError {
    pub action: String,
    pub from: OrderStatus,
    pub reason: String,
}

fn refuse(action: &str, from: OrderStatus, reason: &str) -> TransitionError {
    TransitionError {
        action: action.to_owned(),
        from,
        reason: reason.to_owned(),
    }
}

impl OrderStatus {
    /// Statuses whose order still commits stock and counts as open
    /// exposure (the credit check's "open orders").
    pub fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::PendingApproval
                | OrderStatus::Confirmed
                | OrderStatus::PartiallyFulfilled
                | OrderStatus::OnHold
        )
    }

    /// Statuses from which nothing changes any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Fulfilled | OrderStatus::Cancelled | OrderStatus::Closed
        )
    }

    /// Submitting a draft: it waits for approval when it needs one, else
    /// it is confirmed.
    pub fn submit(self, needs_approval: bool) -> Result<OrderStatus, TransitionError> {
        match self {
            OrderStatus::Draft if needs_approval => Ok(OrderStatus::PendingApproval),
            OrderStatus::Draft => Ok(OrderStatus::Confirmed),
            from => Err(refuse(
                "submit",
                from,
                "it has already been submitted; only a draft is submitted",
            )),
        }
    }

    /// The approval the order waited for was granted.
    pub fn approve(self) -> Result<OrderStatus, TransitionError> {
        match self {
            OrderStatus::PendingApproval => Ok(OrderStatus::Confirmed),
            from => Err(refuse("confirm", from, "it is not waiting for approval")),
        }
    }

    /// The approval was refused (or withdrawn): the order goes back to
    /// draft to be changed and submitted again.
    pub fn return_to_draft(self) -> Result<OrderStatus, TransitionError> {
        match self {
            OrderStatus::PendingApproval => Ok(OrderStatus::Draft),
            from => Err(refuse(
                "return to draft",
                from,
                "only an order waiting for approval goes back to draft",
            )),
        }
    }

    /// Whether the order may be changed by an amendment (re-priced,
    /// re-checked, maybe re-approved) rather than a plain draft edit.
    pub fn amend(self) -> Result<(), TransitionError> {
        match self {
            OrderStatus::PendingApproval
            | OrderStatus::Confirmed
            | OrderStatus::PartiallyFulfilled => Ok(()),
            OrderStatus::Draft => Err(refuse("amend", self, "a draft is edited, not amended")),
            OrderStatus::OnHold => Err(refuse("amend", self, "resume it first")),
            from => Err(refuse("amend", from, "it is finished")),
        }
    }

    /// After an amendment: the status it lands in. An amendment that needs
    /// approval puts a confirmed order back to pending approval (a
    /// partially fulfilled one stays where it is: its shipments happened).
    pub fn after_amendment(self, needs_approval: bool) -> Result<OrderStatus, TransitionError> {
        self.amend()?;
        Ok(match self {
            OrderStatus::Confirmed | OrderStatus::PendingApproval if needs_approval => {
                OrderStatus::PendingApproval
            }
            OrderStatus::PendingApproval => OrderStatus::Confirmed,
            other => other,
        })
    }

    /// Whether a draft edit is allowed.
    pub fn edit(self) -> Result<(), TransitionError> {
        match self {
            OrderStatus::Draft => Ok(()),
            from => Err(refuse(
                "edit",
                from,
                "only a draft is edited; a submitted order is amended with If-Match",
            )),
        }
    }

    /// Putting the order on hold: nothing ships and nobody approves until
    /// it resumes.
    pub fn hold(self) -> Result<OrderStatus, TransitionError> {
        match self {
            OrderStatus::PendingApproval
            | OrderStatus::Confirmed
            | OrderStatus::PartiallyFulfilled => Ok(OrderStatus::OnHold),
            OrderStatus::OnHold => Err(refuse("hold", self, "it is already on hold")),
            OrderStatus::Draft => Err(refuse("hold", self, "a draft has nothing to hold")),
            from => Err(refuse("hold", from, "it is finished")),
        }
    }

    /// Resuming a held order, back to `held_from`.
    pub fn resume(self, held_from: Option<OrderStatus>) -> Result<OrderStatus, TransitionError> {
        match (self, held_from) {
            (OrderStatus::OnHold, Some(from)) if from.hold().is_ok() => Ok(from),
            (OrderStatus::OnHold, _) => Err(refuse(
                "resume",
                self,
                "the status it was held from is unknown",
            )),
            (from, _) => Err(refuse("resume", from, "it is not on hold")),
        }
    }

    /// Cancelling: releases what the order holds. An order with shipments
    /// (`held_from` partially fulfilled for a held one) is closed instead.
    pub fn cancel(self, held_from: Option<OrderStatus>) -> Result<OrderStatus, TransitionError> {
        match self {
            OrderStatus::Draft | OrderStatus::PendingApproval | OrderStatus::Confirmed => {
                Ok(OrderStatus::Cancelled)
            }
            OrderStatus::OnHold if held_from != Some(OrderStatus::PartiallyFulfilled) => {
                Ok(OrderStatus::Cancelled)
            }
            OrderStatus::OnHold | OrderStatus::PartiallyFulfilled => Err(refuse(
                "cancel",
                self,
                "part of it has shipped; close it to stop the rest",
            )),
            OrderStatus::Fulfilled => Err(refuse("cancel", self, "everything has shipped")),
            OrderStatus::Cancelled => Err(refuse("cancel", self, "it is already cancelled")),
            OrderStatus::Closed => Err(refuse("cancel", self, "it is closed")),
        }
    }

    /// Closing: nothing more ships; what is still held is released.
    pub fn close(self) -> Result<OrderStatus, TransitionError> {
        match self {
            OrderStatus::Confirmed
            | OrderStatus::PartiallyFulfilled
            | OrderStatus::Fulfilled
            | OrderStatus::OnHold => Ok(OrderStatus::Closed),
            OrderStatus::Draft | OrderStatus::PendingApproval => Err(refuse(
                "close",
                self,
                "it was never confirmed; cancel it instead",
            )),
            OrderStatus::Closed => Err(refuse("close", self, "it is already closed")),
            OrderStatus::Cancelled => Err(refuse("close", self, "it is cancelled")),
        }
    }

    /// Recording a shipment: partially fulfilled until every line shipped
    /// in full.
    pub fn ship(self, everything_shipped: bool) -> Result<OrderStatus, TransitionError> {
        match self {
            OrderStatus::Confirmed | OrderStatus::PartiallyFulfilled => Ok(if everything_shipped {
                OrderStatus::Fulfilled
            } else {
                OrderStatus::PartiallyFulfilled
            }),
            OrderStatus::Fulfilled => Err(refuse("fulfil", self, "everything has shipped")),
            OrderStatus::OnHold => Err(refuse("fulfil", self, "it is on hold")),
            from => Err(refuse("fulfil", from, "only a confirmed order ships")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn a_draft_is_confirmed_or_waits_for_approval_on_submit() {
        assert_eq!(Draft.submit(false), Ok(Confirmed));
        assert_eq!(Draft.submit(true), Ok(PendingApproval));
        assert_eq!(PendingApproval.approve(), Ok(Confirmed));
        assert_eq!(PendingApproval.return_to_draft(), Ok(Draft));
    }

    #[test]
    fn submitting_twice_is_refused() {
        for s in [PendingApproval, Confirmed, Fulfilled, Cancelled] {
            let e = s.submit(false).unwrap_err();
            assert_eq!(e.from, s);
            assert!(e.to_string().contains("already been submitted"), "{e}");
        }
    }

    #[test]
    fn a_fulfilled_order_cannot_be_cancelled() {
        let e = Fulfilled.cancel(None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot cancel an order that is fulfilled: everything has shipped"
        );
        assert!(PartiallyFulfilled.cancel(None).is_err());
        assert!(OnHold.cancel(Some(PartiallyFulfilled)).is_err());
        assert_eq!(OnHold.cancel(Some(Confirmed)), Ok(Cancelled));
        assert!(Cancelled.cancel(None).is_err());
    }

    #[test]
    fn only_a_held_order_resumes_and_it_resumes_where_it_was() {
        assert_eq!(Confirmed.hold(), Ok(OnHold));
        assert_eq!(OnHold.resume(Some(Confirmed)), Ok(Confirmed));
        assert_eq!(OnHold.resume(Some(PendingApproval)), Ok(PendingApproval));
        assert!(Confirmed.resume(Some(Confirmed)).is_err());
        assert!(OnHold.resume(None).is_err());
        assert!(OnHold.resume(Some(Fulfilled)).is_err());
        assert!(OnHold.hold().is_err());
        assert!(Draft.hold().is_err());
    }

    #[test]
    fn shipments_move_to_partially_fulfilled_then_fulfilled() {
        assert_eq!(Confirmed.ship(false), Ok(PartiallyFulfilled));
        assert_eq!(PartiallyFulfilled.ship(true), Ok(Fulfilled));
        assert!(Draft.ship(true).is_err());
        assert!(PendingApproval.ship(true).is_err());
        assert!(OnHold.ship(true).is_err());
        assert!(Fulfilled.ship(true).is_err());
    }

    #[test]
    fn close_stops_confirmed_orders_and_refuses_drafts() {
        assert_eq!(PartiallyFulfilled.close(), Ok(Closed));
        assert_eq!(Fulfilled.close(), Ok(Closed));
        assert!(Draft.close().is_err());
        assert!(Closed.close().is_err());
    }

    #[test]
    fn amendments_may_send_a_confirmed_order_back_to_approval() {
        assert_eq!(Confirmed.after_amendment(true), Ok(PendingApproval));
        assert_eq!(Confirmed.after_amendment(false), Ok(Confirmed));
        assert_eq!(PendingApproval.after_amendment(false), Ok(Confirmed));
        assert_eq!(
            PartiallyFulfilled.after_amendment(true),
            Ok(PartiallyFulfilled)
        );
        assert!(Draft.amend().is_err());
        assert!(Fulfilled.amend().is_err());
        assert!(Draft.edit().is_ok());
        assert!(Confirmed.edit().is_err());
    }

    #[test]
    fn open_statuses_are_the_ones_that_commit_stock() {
        let open: Vec<_> = OrderStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(
            open,
            [&PendingApproval, &Confirmed, &PartiallyFulfilled, &OnHold]
        );
    }
}
