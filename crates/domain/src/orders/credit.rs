//! The credit check: would this order take the customer over their limit?
//!
//! Exposure is this order's total plus the customer's open orders (pending
//! approval, confirmed, partially fulfilled, on hold) plus what they owe
//! for orders already delivered (unpaid exposure), all in the order's
//! currency. Compared with the customer's credit limit under the mode the
//! channel (else the settings) sets: `block` refuses the order, `warn` lets
//! it through with a warning the order keeps (and approvals can test),
//! `off` skips the check. A customer without a limit has no credit check,
//! as in ERPNext (a zero limit there means "no limit"; here an explicit
//! `0` limit means "nothing on credit").
//!
//! Amounts in another currency than the order's are not converted (there
//! are no exchange rates yet): the caller sums only the order's currency,
//! and a limit in another currency cannot be compared — `block` then
//! refuses and `warn` warns, saying why.

use serde::{Deserialize, Serialize};

use crate::catalog::CreditCheck;
use crate::money::{Money, MoneyError};

/// The amounts the check adds up, in the order's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditExposure {
    pub this_order: Money,
    pub open_orders: Money,
    pub unpaid: Money,
}

impl CreditExposure {
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.this_order
            .checked_add(&self.open_orders)?
            .checked_add(&self.unpaid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditDecision {
    /// The check is off (a paid channel, or `off` in the settings).
    Skipped,
    /// The customer has no credit limit.
    NoLimit,
    WithinLimit,
    /// Over the limit in `warn` mode: the order goes on, flagged.
    Warned,
    /// Over the limit in `block` mode: the order is refused.
    Blocked,
}

/// What the check found; kept on the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditOutcome {
    pub mode: CreditCheck,
    pub decision: CreditDecision,
    pub limit: Option<Money>,
    pub exposure: Option<CreditExposure>,
    /// Exposure total, when it was worked out.
    pub total_exposure: Option<Money>,
    pub message: Option<String>,
}

impl CreditOutcome {
    pub fn blocked(&self) -> bool {
        self.decision == CreditDecision::Blocked
    }

    pub fn warned(&self) -> bool {
        self.decision == CreditDecision::Warned
    }
}

/// Runs the check.
pub fn check_credit(
    mode: CreditCheck,
    limit: Option<&Money>,
    exposure: &CreditExposure,
) -> Result<CreditOutcome, MoneyError> {
    let base = CreditOutcome {
        mode,
        decision: CreditDecision::Skipped,
        limit: limit.copied(),
        exposure: None,
        total_exposure: None,
        message: None,
    };
    if mode == CreditCheck::Off {
        return Ok(base);
    }
    let Some(limit) = limit else {
        return Ok(CreditOutcome {
            decision: CreditDecision::NoLimit,
            ..base
        });
    };
    let total = exposure.total()?;
    let over = |message: String| CreditOutcome {
        decision: if mode == CreditCheck::Block {
            CreditDecision::Blocked
        } else {
            CreditDecision::Warned
        },
        exposure: Some(exposure.clone()),
        total_exposure: Some(total),
        message: Some(message),
        ..base.clone()
    };
    if limit.currency() != total.currency() {
        return Ok(over(format!(
            "the credit limit is in {}, the order in {}: they cannot be compared",
            limit.currency().code(),
            total.currency().code()
        )));
    }
    if total.amount() > limit.amount() {
        return Ok(over(format!(
            "exposure {} {} (this order {}, open orders {}, unpaid {}) is over the credit limit {}",
            total.amount(),
            total.currency().code(),
            exposure.this_order.amount(),
            exposure.open_orders.amount(),
            exposure.unpaid.amount(),
            limit.amount()
        )));
    }
    Ok(CreditOutcome {
        decision: CreditDecision::WithinLimit,
        exposure: Some(exposure.clone()),
        total_exposure: Some(total),
        ..base
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::pricing::tests::m;

    fn exposure(this: &str, open: &str, unpaid: &str) -> CreditExposure {
        CreditExposure {
            this_order: m(this),
            open_orders: m(open),
            unpaid: m(unpaid),
        }
    }

    #[test]
    fn exposure_over_the_limit_blocks_or_warns_per_mode() {
        let e = exposure("400", "500", "200");
        let limit = m("1000");
        let blocked = check_credit(CreditCheck::Block, Some(&limit), &e).unwrap();
        assert!(blocked.blocked());
        assert_eq!(blocked.total_exposure, Some(m("1100")));
        assert!(blocked
            .message
            .unwrap()
            .contains("over the credit limit 1000"));
        let warned = check_credit(CreditCheck::Warn, Some(&limit), &e).unwrap();
        assert_eq!(warned.decision, CreditDecision::Warned);
        let off = check_credit(CreditCheck::Off, Some(&limit), &e).unwrap();
        assert_eq!(off.decision, CreditDecision::Skipped);
    }

    #[test]
    fn exposure_at_the_limit_passes_and_no_limit_means_no_check() {
        let e = exposure("400", "500", "100");
        let ok = check_credit(CreditCheck::Block, Some(&m("1000")), &e).unwrap();
        assert_eq!(ok.decision, CreditDecision::WithinLimit);
        let none = check_credit(CreditCheck::Block, None, &e).unwrap();
        assert_eq!(none.decision, CreditDecision::NoLimit);
        let zero = check_credit(CreditCheck::Block, Some(&m("0")), &e).unwrap();
        assert!(zero.blocked());
    }

    #[test]
    fn a_limit_in_another_currency_cannot_be_compared() {
        let usd = Money::parse("1000000", "USD").unwrap();
        let e = exposure("1", "0", "0");
        assert!(check_credit(CreditCheck::Block, Some(&usd), &e)
            .unwrap()
            .blocked());
        assert!(check_credit(CreditCheck::Warn, Some(&usd), &e)
            .unwrap()
            .warned());
    }
}
