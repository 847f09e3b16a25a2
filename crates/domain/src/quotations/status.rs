//! The quotation lifecycle.
//!
//! ```text
//! draft ──send──► sent ──accept──► accepted ──convert──► partially_ordered ──convert──► ordered
//!   │               │ ╲──convert────────────────────────────────┘   (or straight to ordered)
//!   │               ├──lose──► lost        (also from draft, approved, accepted)
//!   │               ├──expire► expired     (the periodic job; also from accepted)
//!   └──cancel───────┴──────► cancelled     (also from pending_approval, approved, accepted, expired)
//! revise: sent | accepted | expired | lost ──► draft (revision n+1)
//!
//! when the approval policies ask for approval before sending:
//! draft ──submit_for_approval──► pending_approval ──approve──► approved ──send──► sent
//!   ▲                                 │  └──reject──► draft (with the reason)
//!   └──────────── edit ───────────────┴── (also from approved: the edit is re-approved)
//! ```
//!
//! Every transition is a method of [`QuotationStatus`] returning the next
//! status or a [`TransitionError`] naming the status and the action, so an
//! illegal move (converting a lost quotation, sending a cancelled one) is a
//! typed error, never a silent no-op.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::string_enum;

string_enum! {
    /// Where a quotation stands.
    QuotationStatus {
        /// Being written. Lines change only in a draft (editing a quotation
        /// that waits for or has its approval brings it back here).
        Draft => "draft",
        /// Waits for the approvals its discounts, totals or terms need
        /// before it may be sent.
        PendingApproval => "pending_approval",
        /// Approved and ready to be sent; not yet offered to the customer.
        Approved => "approved",
        /// Offered to the customer (an accept link exists).
        Sent => "sent",
        /// The customer said yes (alternatives chosen, optional lines taken).
        Accepted => "accepted",
        /// The customer said no (with a reason and maybe the competitor).
        Lost => "lost",
        /// Its validity passed before it was accepted or ordered.
        Expired => "expired",
        /// Withdrawn by us.
        Cancelled => "cancelled",
        /// Some of it has become orders; the rest may still follow.
        PartiallyOrdered => "partially_ordered",
        /// Everything it offers (as chosen) has become orders.
        Ordered => "ordered",
    }
}

/// An action the status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("a {from} quotation cannot be {action}")]
pub struct TransitionError {
    pub from: QuotationStatus,
    /// The action as a past participle (`sent`, `converted`).
    pub action: &'static str,
}

impl QuotationStatus {
    fn refuse(self, action: &'static str) -> TransitionError {
        TransitionError { from: self, action }
    }

    /// Whether the quotation is finished: nothing may happen to it any more
    /// except being read (and, for lost or expired ones, revised).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            QuotationStatus::Lost
                | QuotationStatus::Expired
                | QuotationStatus::Cancelled
                | QuotationStatus::Ordered
        )
    }

    /// `draft | pending_approval | approved → draft`: lines and terms change
    /// only before the quotation is offered; an edit of one that waits for
    /// or has its approval makes it a draft again, to be approved again.
    pub fn edit(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft
            | QuotationStatus::PendingApproval
            | QuotationStatus::Approved => Ok(QuotationStatus::Draft),
            other => Err(other.refuse("edited")),
        }
    }

    /// Whether the lines carry prices that may be replaced (a draft only).
    pub fn reprice(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft => Ok(self),
            other => Err(other.refuse("re-priced")),
        }
    }

    /// `draft | approved → pending_approval`: the policies ask for approval
    /// first (for an approved one: again, as a policy changed since).
    pub fn submit_for_approval(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft | QuotationStatus::Approved => {
                Ok(QuotationStatus::PendingApproval)
            }
            other => Err(other.refuse("submitted for approval")),
        }
    }

    /// `pending_approval → approved` (the approval request was approved).
    pub fn approve(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::PendingApproval => Ok(QuotationStatus::Approved),
            other => Err(other.refuse("approved")),
        }
    }

    /// `pending_approval → draft` (the approval request was rejected).
    pub fn reject(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::PendingApproval => Ok(QuotationStatus::Draft),
            other => Err(other.refuse("rejected")),
        }
    }

    /// `draft | approved → sent`; sending a sent quotation again (a new
    /// link for the same revision) keeps it `sent`. Whether a draft needs
    /// approval first is the approval policies' question, asked by the
    /// caller before it sends.
    pub fn send(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft | QuotationStatus::Approved | QuotationStatus::Sent => {
                Ok(QuotationStatus::Sent)
            }
            other => Err(other.refuse("sent")),
        }
    }

    /// `sent → accepted`. Accepting twice is refused (the choices were made).
    pub fn accept(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Sent => Ok(QuotationStatus::Accepted),
            other => Err(other.refuse("accepted")),
        }
    }

    /// `draft | approved | sent | accepted → lost`. One waiting for its
    /// approval is cancelled (or edited) instead.
    pub fn lose(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft
            | QuotationStatus::Approved
            | QuotationStatus::Sent
            | QuotationStatus::Accepted => Ok(QuotationStatus::Lost),
            other => Err(other.refuse("marked lost")),
        }
    }

    /// `sent | accepted → expired` (the periodic job). Drafts were never
    /// offered and do not expire; partially ordered quotations are business
    /// already done and stay (their remainder follows the
    /// `allow_order_from_expired_quotation` setting by date).
    pub fn expire(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Sent | QuotationStatus::Accepted => Ok(QuotationStatus::Expired),
            other => Err(other.refuse("expired")),
        }
    }

    /// `draft | pending_approval | approved | sent | accepted | expired →
    /// cancelled`. Once any of it is ordered, the orders are cancelled
    /// instead.
    pub fn cancel(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft
            | QuotationStatus::PendingApproval
            | QuotationStatus::Approved
            | QuotationStatus::Sent
            | QuotationStatus::Accepted
            | QuotationStatus::Expired => Ok(QuotationStatus::Cancelled),
            other => Err(other.refuse("cancelled")),
        }
    }

    /// `sent | accepted | expired | lost → draft` of the next revision. A
    /// draft is edited instead; what is ordered or cancelled stays as it is.
    pub fn revise(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Sent
            | QuotationStatus::Accepted
            | QuotationStatus::Expired
            | QuotationStatus::Lost => Ok(QuotationStatus::Draft),
            other => Err(other.refuse("revised")),
        }
    }

    /// `sent | accepted | partially_ordered | expired → partially_ordered |
    /// ordered`, by whether everything is ordered afterwards. Whether an
    /// expired one may be converted is the setting's question, asked by
    /// [`super::Quotation::plan_conversion`].
    pub fn convert(self, fully_ordered: bool) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Sent
            | QuotationStatus::Accepted
            | QuotationStatus::PartiallyOrdered
            | QuotationStatus::Expired => Ok(if fully_ordered {
                QuotationStatus::Ordered
            } else {
                QuotationStatus::PartiallyOrdered
            }),
            other => Err(other.refuse("converted")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::QuotationStatus::*;
    use super::*;

    #[test]
    fn a_lost_quotation_cannot_be_converted_sent_or_accepted() {
        assert_eq!(
            Lost.convert(true).unwrap_err().to_string(),
            "a lost quotation cannot be converted"
        );
        assert!(Lost.send().is_err());
        assert!(Lost.accept().is_err());
        assert_eq!(Lost.revise(), Ok(Draft));
    }

    #[test]
    fn only_what_was_not_offered_is_edited_and_only_sent_quotations_accepted() {
        for s in QuotationStatus::ALL {
            let before_offer = matches!(s, Draft | PendingApproval | Approved);
            assert_eq!(s.edit().ok(), before_offer.then_some(Draft), "{s}");
            assert_eq!(s.reprice().is_ok(), *s == Draft, "{s}");
            assert_eq!(s.accept().is_ok(), *s == Sent, "{s}");
        }
    }

    #[test]
    fn a_quotation_waiting_for_approval_cannot_be_sent_accepted_lost_or_converted() {
        assert!(PendingApproval.send().is_err());
        assert!(PendingApproval.accept().is_err());
        assert!(PendingApproval.lose().is_err());
        assert!(PendingApproval.convert(true).is_err());
        assert!(PendingApproval.expire().is_err());
        assert_eq!(PendingApproval.cancel(), Ok(Cancelled));
    }

    #[test]
    fn approval_moves_pending_to_approved_and_rejection_back_to_draft() {
        assert_eq!(Draft.submit_for_approval(), Ok(PendingApproval));
        assert_eq!(PendingApproval.approve(), Ok(Approved));
        assert_eq!(PendingApproval.reject(), Ok(Draft));
        assert_eq!(Approved.send(), Ok(Sent));
        for s in QuotationStatus::ALL {
            assert_eq!(
                s.submit_for_approval().is_ok(),
                matches!(s, Draft | Approved),
                "{s}"
            );
            assert_eq!(s.approve().is_ok(), *s == PendingApproval, "{s}");
            assert_eq!(s.reject().is_ok(), *s == PendingApproval, "{s}");
        }
        // An approved quotation was never offered: it neither expires nor
        // is revised or converted; it is sent, edited, lost or cancelled.
        assert!(Approved.expire().is_err());
        assert!(Approved.revise().is_err());
        assert!(Approved.convert(true).is_err());
    }

    #[test]
    fn conversion_ends_in_partially_ordered_or_ordered() {
        assert_eq!(Sent.convert(false), Ok(PartiallyOrdered));
        assert_eq!(PartiallyOrdered.convert(true), Ok(Ordered));
        assert_eq!(Accepted.convert(true), Ok(Ordered));
        for s in [Draft, Lost, Cancelled, Ordered] {
            assert!(s.convert(true).is_err(), "{s}");
        }
    }

    #[test]
    fn expiry_touches_only_offers_still_open() {
        assert_eq!(Sent.expire(), Ok(Expired));
        assert_eq!(Accepted.expire(), Ok(Expired));
        for s in [Draft, Lost, Expired, Cancelled, PartiallyOrdered, Ordered] {
            assert!(s.expire().is_err(), "{s}");
        }
    }

    #[test]
    fn ordered_work_is_never_cancelled_or_revised_here() {
        for s in [PartiallyOrdered, Ordered, Cancelled] {
            assert!(s.cancel().is_err(), "{s}");
            assert!(s.revise().is_err(), "{s}");
        }
        assert!(Ordered.is_closed() && Lost.is_closed() && !Sent.is_closed());
    }
}
