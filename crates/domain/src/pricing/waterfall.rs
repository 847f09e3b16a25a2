//! The price waterfall: the result of [`super::price`], in which every line
//! explains itself and the document carries totals and a tax breakdown.
//!
//! These are plain records (public fields) produced only by the engine;
//! they carry no invariants of their own beyond what the engine
//! guarantees and the property tests check:
//!
//! - a line's `list_price`, followed by its `adjustments` in order, ends at
//!   its `net_unit_price` (each adjustment's `unit_price_after` is the next
//!   one's starting point);
//! - `net_total + tax_total = gross_total` on every line and on the
//!   document; every document total is the sum of the lines' totals, and
//!   the tax breakdown adds up to the document's tax;
//! - no net price is negative.
//!
//! Field order is declaration order and every collection is a `Vec` in a
//! defined order, so serializing the same result twice gives the same bytes.
//! Amounts on flags are in the document's currency.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::price_list::Uom;
use super::rules::CouponCode;
use super::schedules::{TierBasis, TierKind};
use super::tax::{TaxMode, TaxRounding};
use super::{DiscountScheduleId, PriceGuardId, PricingRuleId, TaxTemplateId};
use crate::ids::{PriceListId, ProductId};
use crate::money::{Currency, Money, RoundingMode};

/// A priced basket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricedBasket {
    pub currency: Currency,
    pub date: NaiveDate,
    pub rounding_mode: RoundingMode,
    pub tax_mode: TaxMode,
    pub tax_rounding: TaxRounding,
    /// The template applied, if any (none when the customer is exempt or no
    /// template covers the basket).
    pub tax_template: Option<TaxTemplateRef>,
    /// The customer's exemption reference (a tax id or certificate) when
    /// they are exempt.
    pub tax_exemption: Option<String>,
    /// Requested lines by line number, then free lines.
    pub lines: Vec<PricedLine>,
    /// One entry per tax line of the template, in template order.
    pub tax_breakdown: Vec<TaxBreakdown>,
    pub totals: DocumentTotals,
    /// One entry per distinct coupon on the request, by code.
    pub coupons: Vec<CouponOutcome>,
    /// Whether any line carries a flag that needs approval.
    pub requires_approval: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxTemplateRef {
    pub id: TaxTemplateId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricedLine {
    pub line_no: u32,
    pub kind: LineKind,
    pub product: ProductId,
    pub uom: Uom,
    pub quantity: Decimal,
    pub price_source: PriceSource,
    /// The unit price from the list, before any rule.
    pub list_price: Money,
    /// Rule adjustments in the order they were applied.
    pub adjustments: Vec<Adjustment>,
    /// The unit price after every adjustment, net of tax.
    pub net_unit_price: Money,
    /// Inclusive mode only: the unit price with tax, as the customer sees
    /// it; the line's gross is this times the quantity.
    pub gross_unit_price: Option<Money>,
    /// `list_price × quantity`, rounded.
    pub list_total: Money,
    /// What the rules took off: `list_total` minus `net_unit_price ×
    /// quantity` rounded (negative when rules raised the price). In
    /// exclusive mode that is exactly `list_total − net_total`; in inclusive
    /// mode `net_total` is extracted from the gross and may differ from it
    /// by the tax rounding.
    pub discount_total: Money,
    pub net_total: Money,
    /// One entry per tax line of the template, in template order.
    pub taxes: Vec<LineTax>,
    pub tax_total: Money,
    pub gross_total: Money,
    /// Standard cost × quantity, rounded.
    pub cost_total: Money,
    pub margin: Margin,
    pub flags: Vec<LineFlag>,
}

/// Why a line is on the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LineKind {
    /// A line of the request.
    Requested,
    /// Free goods earned by `for_line` through a free-item rule.
    FreeItem {
        rule: PricingRuleId,
        rule_name: String,
        for_line: u32,
    },
}

/// Where the list price came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSource {
    pub price_list: PriceListId,
    pub price_list_name: String,
    /// The base lists walked to find the price when `price_list` derives it
    /// (nearest first; the last one holds the item). Empty when the list
    /// holds the item itself.
    pub derived_via: Vec<PriceListId>,
}

/// One step of the waterfall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub rule: PricingRuleId,
    pub rule_name: String,
    pub kind: AdjustmentKind,
    /// Change of the unit price: negative for a discount, positive for a
    /// markup or a fixed rate above the running price.
    pub amount_per_unit: Money,
    pub unit_price_after: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdjustmentKind {
    DiscountPercent {
        percent: Decimal,
    },
    DiscountAmount,
    FixedRate,
    MarkupOnCost {
        percent: Decimal,
    },
    Schedule {
        schedule: DiscountScheduleId,
        tier_kind: TierKind,
        basis: TierBasis,
        /// The quantity or amount the tiers were read at (the basket's
        /// aggregate for a mixed rule).
        measure: Decimal,
        /// The percentage taken off (an average for slab schedules),
        /// rounded to 4 decimals for display.
        percent: Decimal,
    },
    /// The whole list price, on a free line.
    FreeItem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineTax {
    pub code: String,
    pub rate_percent: Decimal,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Margin {
    /// Net total minus cost total.
    pub amount: Money,
    /// Margin on the net price in percent, rounded to 2 decimals; `None`
    /// when the net total is zero.
    pub percent: Option<Decimal>,
}

/// Something about a line that a person may need to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LineFlag {
    /// A rule would have taken the price below zero; it stopped at zero.
    ClampedAtZero { rule: PricingRuleId },
    BelowFloorPrice {
        guard: PriceGuardId,
        floor_price: Decimal,
        net_unit_price: Decimal,
    },
    BelowMinimumMargin {
        guard: PriceGuardId,
        min_margin_percent: Decimal,
        margin_percent: Option<Decimal>,
    },
    /// A free line whose product is on no requested line: its cost is
    /// unknown and counted as zero.
    CostUnknown,
}

impl LineFlag {
    /// Whether the flag makes the document need an approval.
    pub fn requires_approval(&self) -> bool {
        match self {
            LineFlag::ClampedAtZero { .. }
            | LineFlag::BelowFloorPrice { .. }
            | LineFlag::BelowMinimumMargin { .. } => true,
            LineFlag::CostUnknown => false,
        }
    }
}

/// The document's totals; each is the sum of the lines' field of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentTotals {
    pub list_total: Money,
    pub discount_total: Money,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
    pub cost_total: Money,
    pub margin: Margin,
}

/// One tax of the template across the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxBreakdown {
    pub code: String,
    pub name: String,
    pub rate_percent: Decimal,
    /// The net the tax is on (the document's net total).
    pub base: Money,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponOutcome {
    pub code: CouponCode,
    pub status: CouponStatus,
}

/// A coupon that does not exist at all is an error
/// ([`super::PricingError::UnknownCoupon`]); one that exists shows here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CouponStatus {
    /// The coupon's rules that changed a price or gave free goods.
    Applied { rules: Vec<PricingRuleId> },
    /// The coupon exists but none of its rules applied to this basket
    /// (wrong products, too small an order, expired, or out-ranked).
    NotApplicable,
}
