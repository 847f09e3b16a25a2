//! Sales teams (issue #8): sales people in a manager hierarchy, teams and
//! their default splits, sales partners, territory managers and territory
//! rules, commission plans with tiers and caps, the commission ledger's
//! arithmetic, and sales targets with their periods.
//!
//! - [`people`] — [`SalesPerson`] (optionally linked to an API-key
//!   principal), the hierarchy check [`check_manager`] (a cycle is a typed
//!   error naming `manager_id`) and [`subtree`]; [`Team`] with its default
//!   [`Split`] (percentages that must total 100); [`SalesPartner`] (an
//!   outside reseller with a commission rate); [`TerritoryManager`].
//! - [`territory`] — [`TerritoryRule`] (country, region, postcode range →
//!   territory) and [`resolve_territory`] (the most specific active rule).
//! - [`commission`] — [`CommissionPlan`] (rates by item group and channel,
//!   slab accelerator tiers by attainment of target, effective dates, a
//!   cap per period, accrual on confirmation or fulfilment), what an order
//!   line contributes ([`line_basis`]), a period's per-order commissions
//!   ([`period_commissions`]) and the ledger booking that brings what was
//!   booked to what is due ([`booking`]).
//! - [`targets`] — [`Target`] per person, team or territory and
//!   [`Period`] (month, quarter, year).
//!
//! No I/O: the store gathers orders, splits and plans and calls these.

use rust_decimal::Decimal;
use thiserror::Error;

use crate::catalog::ValidationError;
use crate::define_id;

pub mod commission;
pub mod people;
pub mod targets;
pub mod territory;

#[cfg(test)]
mod tests;

pub use commission::{
    booking, line_basis, period_commissions, AccrueOn, Beneficiary, CommissionPlan,
    CommissionPlanInput, CreditedOrder, EntryKind, LineFacts, RateRule, Tier,
};
pub use people::{
    check_manager, subtree, Allocation, NewSalesPartner, NewSalesPerson, NewTeam, SalesPartner,
    SalesPerson, Split, Team, TerritoryManager,
};
pub use targets::{Period, PeriodKind, Target, TargetInput, TargetSubject};
pub use territory::{resolve_territory, TerritoryRule, TerritoryRuleInput};

define_id!(TeamId, "team");
define_id!(SalesPartnerId, "sales partner");
define_id!(TerritoryManagerId, "territory manager");
define_id!(TerritoryRuleId, "territory rule");
define_id!(CommissionPlanId, "commission plan");
define_id!(TargetId, "target");
define_id!(LedgerEntryId, "commission ledger entry");

/// Everything the teams rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TeamsError {
    /// A field is malformed (422 `invalid_field`).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Making `manager_id` the manager would close a loop in the hierarchy
    /// (409 `hierarchy_cycle`).
    #[error("{field}: {message}")]
    Cycle { field: String, message: String },
    /// The percentages of a split do not total 100 (422 `split_total`).
    #[error("{field}: the percentages total {total}, not 100")]
    SplitTotal { field: String, total: Decimal },
    /// Another active plan of the same beneficiary and currency covers
    /// some of the same days (409 `plan_overlap`).
    #[error("{field}: overlaps commission plan {other} of the same beneficiary")]
    PlanOverlap {
        field: String,
        other: CommissionPlanId,
    },
}

impl TeamsError {
    /// The request field at fault.
    pub fn field(&self) -> &str {
        match self {
            TeamsError::Invalid(v) => &v.field,
            TeamsError::Cycle { field, .. }
            | TeamsError::SplitTotal { field, .. }
            | TeamsError::PlanOverlap { field, .. } => field,
        }
    }
}

/// A percentage (rates, shares): `0 ≤ p ≤ 100`, at most 4 decimals.
pub fn percentage(field: &str, p: Decimal) -> Result<Decimal, ValidationError> {
    if p.is_sign_negative() && !p.is_zero() {
        return Err(ValidationError::new(field, "must not be negative"));
    }
    if p > Decimal::ONE_HUNDRED {
        return Err(ValidationError::new(field, "must be at most 100 (percent)"));
    }
    if p.scale() > 4 {
        return Err(ValidationError::new(field, "at most 4 decimals"));
    }
    Ok(p.normalize())
}
