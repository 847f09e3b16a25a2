//! Commission plans and the arithmetic of the commission ledger.
//!
//! A plan pays one beneficiary (a sales person or a sales partner) on the
//! orders credited to them, in the plan's currency, between its effective
//! dates (the order date decides). Per order line, the rate is the most
//! specific [`RateRule`] — the nearest item group of the line's product
//! (a rule for a group covers its sub-groups), a rule naming the order's
//! channel before one that does not — else the plan's `default_rate`.
//!
//! **Tiers (slab accelerators)**: with a target for the beneficiary in the
//! plan's `tier_period`, each credited amount is cut into the slabs of
//! attainment it falls into, in order date (then number) sequence within
//! the period: the part of sales from `from_attainment`% of the target up
//! to the next tier's start earns the line rates times that tier's
//! `multiplier`. Below the first tier the multiplier is 1. Without a
//! target no tier applies.
//!
//! **Cap**: the commission of one tier period never exceeds `cap`; an
//! order past the cap earns what is left (possibly nothing).
//!
//! **Accrual**: `accrue_on` is a setting of the plan (decided: per plan,
//! since partners are often paid when goods ship while employees are paid
//! on booking): `confirmation` counts the net amount of confirmed orders,
//! `fulfilment` only what has shipped ([`line_basis`]).
//!
//! **The ledger** is append-only. The store computes what is due per order
//! ([`period_commissions`]), subtracts what is booked, and [`booking`]
//! says which row brings the two together: an accrual when more is due, a
//! reversal when less (a cancellation reverses everything). Running it
//! again books nothing.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::targets::PeriodKind;
use super::{percentage, CommissionPlanId, SalesPartnerId, TeamsError};
use crate::catalog::{required_text, string_enum, ValidationError, NAME_MAX};
use crate::ids::{ChannelId, ItemGroupId, OrderId, SalesPersonId};
use crate::money::{round, Currency, Money, RoundingMode};
use crate::orders::OrderStatus;

string_enum! {
    /// When commission is earned.
    AccrueOn {
        Confirmation => "confirmation",
        Fulfilment => "fulfilment",
    }
}

string_enum! {
    /// What a ledger row is.
    EntryKind {
        Accrual => "accrual",
        Reversal => "reversal",
        Adjustment => "adjustment",
    }
}

/// Who a plan pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Beneficiary {
    SalesPerson(SalesPersonId),
    SalesPartner(SalesPartnerId),
}

impl Beneficiary {
    pub fn kind(&self) -> &'static str {
        match self {
            Beneficiary::SalesPerson(_) => "sales_person",
            Beneficiary::SalesPartner(_) => "sales_partner",
        }
    }
    pub fn id_text(&self) -> String {
        match self {
            Beneficiary::SalesPerson(i) => i.to_string(),
            Beneficiary::SalesPartner(i) => i.to_string(),
        }
    }
}

/// A rate for lines of an item group and/or a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRule {
    #[serde(default)]
    pub item_group_id: Option<ItemGroupId>,
    #[serde(default)]
    pub channel_id: Option<ChannelId>,
    /// Percent of the credited net amount.
    pub rate: Decimal,
}

/// A slab: from `from_attainment` percent of target on, rates are
/// multiplied by `multiplier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub from_attainment: Decimal,
    pub multiplier: Decimal,
}

/// What creating (or restating) a plan takes; its wire shape too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommissionPlanInput {
    pub name: String,
    pub beneficiary: Beneficiary,
    pub currency: Currency,
    pub effective_from: NaiveDate,
    /// Inclusive; open-ended when absent.
    #[serde(default)]
    pub effective_to: Option<NaiveDate>,
    #[serde(default = "default_accrue_on")]
    pub accrue_on: AccrueOn,
    pub default_rate: Decimal,
    #[serde(default)]
    pub rates: Vec<RateRule>,
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// The period tiers and the cap count in.
    #[serde(default = "default_tier_period")]
    pub tier_period: PeriodKind,
    /// The most one tier period pays, in the plan's currency.
    #[serde(default)]
    pub cap: Option<Decimal>,
}

fn default_accrue_on() -> AccrueOn {
    AccrueOn::Confirmation
}

fn default_tier_period() -> PeriodKind {
    PeriodKind::Month
}

/// A validated plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredPlan")]
pub struct CommissionPlan {
    id: CommissionPlanId,
    #[serde(flatten)]
    input: CommissionPlanInput,
    active: bool,
}

#[derive(Deserialize)]
struct StoredPlan {
    id: CommissionPlanId,
    #[serde(flatten)]
    input: CommissionPlanInput,
    active: bool,
}

impl TryFrom<StoredPlan> for CommissionPlan {
    type Error = TeamsError;
    fn try_from(s: StoredPlan) -> Result<Self, Self::Error> {
        CommissionPlan::from_parts(s.id, s.input, s.active)
    }
}

impl CommissionPlan {
    pub fn from_parts(
        id: CommissionPlanId,
        input: CommissionPlanInput,
        active: bool,
    ) -> Result<CommissionPlan, TeamsError> {
        let mut input = input;
        input.name = required_text("name", &input.name, NAME_MAX)?;
        if let Some(to) = input.effective_to {
            if to < input.effective_from {
                return Err(ValidationError::new(
                    "effective_to",
                    "must not come before effective_from",
                )
                .into());
            }
        }
        input.default_rate = percentage("default_rate", input.default_rate)?;
        for (i, r) in input.rates.iter_mut().enumerate() {
            r.rate = percentage(&format!("rates[{i}].rate"), r.rate)?;
            if r.item_group_id.is_none() && r.channel_id.is_none() {
                return Err(ValidationError::new(
                    format!("rates[{i}]"),
                    "names an item group, a channel or both (the plan's default_rate covers the rest)",
                )
                .into());
            }
        }
        for (i, r) in input.rates.iter().enumerate() {
            if input.rates[..i]
                .iter()
                .any(|o| o.item_group_id == r.item_group_id && o.channel_id == r.channel_id)
            {
                return Err(ValidationError::new(
                    format!("rates[{i}]"),
                    "the same item group and channel appear twice",
                )
                .into());
            }
        }
        let mut last: Option<Decimal> = None;
        for (i, t) in input.tiers.iter().enumerate() {
            if t.from_attainment.is_sign_negative() && !t.from_attainment.is_zero() {
                return Err(ValidationError::new(
                    format!("tiers[{i}].from_attainment"),
                    "must not be negative",
                )
                .into());
            }
            if t.from_attainment > Decimal::from(10_000) {
                return Err(ValidationError::new(
                    format!("tiers[{i}].from_attainment"),
                    "must be at most 10000 (percent of target)",
                )
                .into());
            }
            if last.is_some_and(|l| t.from_attainment <= l) {
                return Err(ValidationError::new(
                    format!("tiers[{i}].from_attainment"),
                    "tiers must be in increasing order of attainment",
                )
                .into());
            }
            if t.multiplier.is_sign_negative() && !t.multiplier.is_zero()
                || t.multiplier > Decimal::TEN
            {
                return Err(ValidationError::new(
                    format!("tiers[{i}].multiplier"),
                    "must be 0 to 10",
                )
                .into());
            }
            last = Some(t.from_attainment);
        }
        if let Some(cap) = input.cap {
            if cap <= Decimal::ZERO {
                return Err(ValidationError::new("cap", "must be above 0").into());
            }
            Money::new(cap, input.currency)
                .map_err(|e| ValidationError::new("cap", e.to_string()))?;
        }
        Ok(CommissionPlan { id, input, active })
    }

    pub fn input(&self) -> &CommissionPlanInput {
        &self.input
    }

    pub fn with_active(&self, active: bool) -> CommissionPlan {
        CommissionPlan {
            active,
            ..self.clone()
        }
    }

    pub fn id(&self) -> CommissionPlanId {
        self.id
    }
    pub fn beneficiary(&self) -> Beneficiary {
        self.input.beneficiary
    }
    pub fn currency(&self) -> Currency {
        self.input.currency
    }
    pub fn accrue_on(&self) -> AccrueOn {
        self.input.accrue_on
    }
    pub fn tier_period(&self) -> PeriodKind {
        self.input.tier_period
    }
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Whether the plan is in force on `day`.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.active
            && self.input.effective_from <= day
            && self.input.effective_to.is_none_or(|to| day <= to)
    }

    /// Refuses the plan when an active one in `others` pays the same
    /// beneficiary in the same currency on some of the same days.
    pub fn check_overlap(&self, others: &[CommissionPlan]) -> Result<(), TeamsError> {
        if !self.active {
            return Ok(());
        }
        let (a0, a1) = (self.input.effective_from, self.input.effective_to);
        for o in others {
            if o.id == self.id
                || !o.active
                || o.input.beneficiary != self.input.beneficiary
                || o.input.currency != self.input.currency
            {
                continue;
            }
            let (b0, b1) = (o.input.effective_from, o.input.effective_to);
            let starts_before_other_ends = b1.is_none_or(|b1| a0 <= b1);
            let other_starts_before_end = a1.is_none_or(|a1| b0 <= a1);
            if starts_before_other_ends && other_starts_before_end {
                return Err(TeamsError::PlanOverlap {
                    field: "effective_from".into(),
                    other: o.id,
                });
            }
        }
        Ok(())
    }

    /// The rate (percent) of a line whose product sits in `group_chain`
    /// (its item group first, then the ancestors) sold through `channel`.
    pub fn rate_for(&self, group_chain: &[ItemGroupId], channel: ChannelId) -> Decimal {
        self.input
            .rates
            .iter()
            .filter_map(|r| {
                let depth = match r.item_group_id {
                    Some(g) => group_chain.iter().position(|c| *c == g)?,
                    None => usize::MAX,
                };
                match r.channel_id {
                    Some(c) if c != channel => None,
                    Some(_) => Some(((depth, 0u8), r.rate)),
                    None => Some(((depth, 1u8), r.rate)),
                }
            })
            .min_by_key(|(key, _)| *key)
            .map_or(self.input.default_rate, |(_, rate)| rate)
    }

    /// The commission of a sale of `amount` that takes the beneficiary's
    /// period sales from `before` to `before + amount`, at `rate` percent,
    /// through the tiers of a period `target` (none: no tiers).
    fn tiered(
        &self,
        before: Decimal,
        amount: Decimal,
        rate: Decimal,
        target: Option<Decimal>,
    ) -> Decimal {
        let base = amount * rate / Decimal::ONE_HUNDRED;
        let Some(target) = target.filter(|t| *t > Decimal::ZERO) else {
            return base;
        };
        if self.input.tiers.is_empty() || amount.is_zero() {
            return base;
        }
        // Slab boundaries in sales amounts: [0, t0) at 1, [t0, t1) at m0, …
        let mut bounds: Vec<(Decimal, Decimal)> = vec![(Decimal::ZERO, Decimal::ONE)];
        for t in &self.input.tiers {
            let at = target * t.from_attainment / Decimal::ONE_HUNDRED;
            if at.is_zero() {
                bounds[0].1 = t.multiplier;
            } else {
                bounds.push((at, t.multiplier));
            }
        }
        let after = before + amount;
        let mut total = Decimal::ZERO;
        for (i, (lo, mult)) in bounds.iter().enumerate() {
            let hi = bounds.get(i + 1).map(|b| b.0);
            let from = before.max(*lo);
            let to = hi.map_or(after, |h| after.min(h));
            if to > from {
                total += (to - from) * *mult;
            }
        }
        total * rate / Decimal::ONE_HUNDRED
    }
}

/// One order line as the commission rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFacts {
    /// The product's item group, then its ancestors.
    pub group_chain: Vec<ItemGroupId>,
    /// The line's net amount (excluding tax), in the order's currency.
    pub net_total: Decimal,
    pub quantity: Decimal,
    pub shipped: Decimal,
}

/// What a line of an order in `status` contributes: nothing while it is a
/// draft, waiting for (re-)approval or cancelled; its net amount once
/// confirmed (on confirmation) or the shipped part of it (on fulfilment);
/// a closed order counts only what shipped (the rest never will). A held
/// order counts as the status it was held from.
pub fn line_basis(
    status: OrderStatus,
    held_from: Option<OrderStatus>,
    accrue_on: AccrueOn,
    line: &LineFacts,
) -> Decimal {
    let status = match status {
        OrderStatus::OnHold => held_from.unwrap_or(OrderStatus::OnHold),
        s => s,
    };
    let shipped_part = || {
        if line.quantity.is_zero() {
            Decimal::ZERO
        } else {
            line.net_total * line.shipped.min(line.quantity) / line.quantity
        }
    };
    match status {
        OrderStatus::Confirmed | OrderStatus::PartiallyFulfilled | OrderStatus::Fulfilled => {
            match accrue_on {
                AccrueOn::Confirmation => line.net_total,
                AccrueOn::Fulfilment => shipped_part(),
            }
        }
        OrderStatus::Closed => shipped_part(),
        OrderStatus::Draft
        | OrderStatus::PendingApproval
        | OrderStatus::OnHold
        | OrderStatus::Cancelled => Decimal::ZERO,
    }
}

/// An order credited to a plan's beneficiary, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditedOrder {
    pub order_id: OrderId,
    pub order_date: NaiveDate,
    pub number: String,
    pub channel_id: ChannelId,
    /// The beneficiary's share of the order, percent.
    pub share: Decimal,
    /// The order's lines, already at their [`line_basis`] in `net_total`.
    pub lines: Vec<LineFacts>,
}

/// What each order of one tier period is due under `plan`, rounded to the
/// currency's minor unit (half up): orders in date, then number order,
/// each taking the period's sales through the tiers and the period's
/// commission towards the cap. `target` is the beneficiary's target
/// amount for the period, if any.
pub fn period_commissions(
    plan: &CommissionPlan,
    target: Option<Decimal>,
    orders: &[CreditedOrder],
) -> Vec<(OrderId, Decimal)> {
    let mut sorted: Vec<&CreditedOrder> = orders.iter().collect();
    sorted.sort_by(|a, b| (a.order_date, &a.number).cmp(&(b.order_date, &b.number)));
    let mut sales = Decimal::ZERO;
    let mut paid = Decimal::ZERO;
    let mut out = Vec::with_capacity(sorted.len());
    for o in sorted {
        let mut due = Decimal::ZERO;
        for line in &o.lines {
            let amount = line.net_total * o.share / Decimal::ONE_HUNDRED;
            let rate = plan.rate_for(&line.group_chain, o.channel_id);
            due += plan.tiered(sales, amount, rate, target);
            sales += amount;
        }
        let mut due = round(due, plan.currency(), RoundingMode::HalfUp);
        if let Some(cap) = plan.input.cap {
            due = due.min((cap - paid).max(Decimal::ZERO));
        }
        paid += due;
        out.push((o.order_id, due));
    }
    out
}

/// The ledger row that brings `booked` to `due`: an accrual of the
/// difference when more is due, a reversal (negative) when less, nothing
/// when they agree.
pub fn booking(due: Decimal, booked: Decimal) -> Option<(EntryKind, Decimal)> {
    let diff = due - booked;
    if diff.is_zero() {
        None
    } else if diff > Decimal::ZERO {
        Some((EntryKind::Accrual, diff))
    } else {
        Some((EntryKind::Reversal, diff))
    }
}
