//! The quotation lifecycle.
//!
//! ```text
//! draft ──send──► sent ──accept──► accepted ──convert──► partially_ordered ──convert──► ordered
//!   │               │ ╲──convert────────────────────────────────┘   (or straight to ordered)
//!   │               ├──lose──► lost        (also from draft, accepted)
//!   │               ├──expire► expired     (the periodic job; also from accepted)
//!   └──cancel───────┴──────► cancelled     (also from accepted, expired)
//! revise: sent | accepted | expired | lost ──► draft (revision n+1)
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
        /// Being written; the only status in which lines may change.
        Draft => "draft",
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

    /// Draft lines and terms may change only in `draft`.
    pub fn edit(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft => Ok(self),
            other => Err(other.refuse("edited")),
        }
    }

    /// `draft → sent`; sending a sent quotation again (a new link for the
    /// same revision) keeps it `sent`.
    pub fn send(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft | QuotationStatus::Sent => Ok(QuotationStatus::Sent),
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

    /// `draft | sent | accepted → lost`.
    pub fn lose(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft | QuotationStatus::Sent | QuotationStatus::Accepted => {
                Ok(QuotationStatus::Lost)
            }
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

    /// `draft | sent | accepted | expired → cancelled`. Once any of it is
    /// ordered, the orders are cancelled instead.
    pub fn cancel(self) -> Result<QuotationStatus, TransitionError> {
        match self {
            QuotationStatus::Draft
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
    fn only_drafts_are_edited_and_only_sent_quotations_accepted() {
        for s in QuotationStatus::ALL {
            assert_eq!(s.edit().is_ok(), *s == Draft, "{s}");
            assert_eq!(s.accept().is_ok(), *s == Sent, "{s}");
        }
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
