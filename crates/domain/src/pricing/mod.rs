//! The pricing engine: from a basket to priced lines with an explainable
//! price waterfall, taxes and approval flags.
//!
//! What it does, in the order [`price`] runs it:
//!
//! 1. **Price lists** ([`price_list`]): finds each line's list price in the
//!    lists that apply to the customer, most specific first (the customer's
//!    own list, then the nearest customer group's, then the channel's, then
//!    general lists). A list may derive from another with a markup or
//!    markdown; lookups go through a hash index built once per catalog.
//! 2. **Pricing rules** ([`rules`]): conditions on product, item group,
//!    customer, customer group, territory, channel, coupon, quantity, amount
//!    and dates; actions that discount, set or mark up the price, apply a
//!    **discount schedule** ([`schedules`]) or give free items. Stacking is
//!    explicit per rule and ties are broken by a fixed order (see
//!    [`rules::PricingRule::precedence`]).
//! 3. **Taxes** ([`tax`]): one tax template per document, inclusive or
//!    exclusive, rounded per line or per document.
//! 4. **Guards** ([`guards`]): floor prices and minimum margins; a line
//!    below them is priced and flagged, never refused.
//! 5. **Waterfall** ([`waterfall`]): the result, in which every line explains
//!    itself and the document carries totals and a tax breakdown.
//!
//! What it deliberately does not do: any I/O. The caller loads the
//! [`PricingCatalog`] (lists, rules, schedules, taxes, guards) and passes the
//! date; group and territory trees arrive as ancestor chains on the request,
//! so "matches child groups" needs no lookup. The same catalog and request
//! always give the same result, byte for byte once serialized: nothing here
//! iterates a hash map into the output. Unit conversion, per-product tax
//! classes, compound taxes and fixed per-unit levies are not modelled.

pub mod catalog;
pub mod engine;
pub mod guards;
pub mod price_list;
pub mod rules;
pub mod schedules;
pub mod tax;
pub mod waterfall;
mod waterfall_json;

pub use catalog::{CatalogError, PricingCatalog, PricingCatalogSpec, PricingSettings};
pub use engine::{price, BasketLine, CustomerContext, PricingError, PricingRequest};
pub use guards::{GuardError, GuardScope, PriceGuard, PriceGuardSpec};
pub use price_list::{
    Derivation, PriceList, PriceListError, PriceListItem, PriceListScope, PriceListSpec, Uom,
};
pub use rules::{
    CouponCode, FreeItem, FreeProduct, PricingRule, PricingRuleSpec, RuleAction, RuleConditions,
    RuleError, Stacking,
};
pub use schedules::{
    DiscountSchedule, DiscountScheduleSpec, ScheduleError, Tier, TierBasis, TierKind,
};
pub use tax::{TaxError, TaxMode, TaxRate, TaxRounding, TaxTemplate, TaxTemplateSpec};
pub use waterfall::{
    Adjustment, AdjustmentKind, CouponOutcome, CouponStatus, DocumentTotals, LineFlag, LineKind,
    LineTax, Margin, PriceSource, PricedBasket, PricedLine, TaxBreakdown, TaxTemplateRef,
};

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::RoundingMode;

crate::define_id!(PricingRuleId, "pricing rule");
crate::define_id!(DiscountScheduleId, "discount schedule");
crate::define_id!(TaxTemplateId, "tax template");
crate::define_id!(PriceGuardId, "price guard");

/// The most decimals a unit price carries (list prices such as `0.0125`
/// keep theirs up to this).
pub const MAX_UNIT_PRICE_DECIMALS: u32 = 6;

/// Rounds to `dp` decimals with `mode` — the same strategies as
/// [`crate::money::round`], for unit prices that carry more decimals than
/// the currency's minor unit.
pub(crate) fn round_dp(value: Decimal, dp: u32, mode: RoundingMode) -> Decimal {
    let strategy = match mode {
        RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
        RoundingMode::Down => RoundingStrategy::ToZero,
        RoundingMode::Up => RoundingStrategy::AwayFromZero,
    };
    let mut rounded = value.round_dp_with_strategy(dp, strategy);
    if rounded.scale() < dp {
        rounded.rescale(dp);
    }
    rounded
}

/// `percent` as a factor: `15` → `0.15`.
pub(crate) fn pct(percent: Decimal) -> Decimal {
    percent / Decimal::ONE_HUNDRED
}

#[cfg(test)]
pub(crate) mod fixtures;
