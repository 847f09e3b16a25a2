//! The engine: [`price`] turns a [`PricingRequest`] and a
//! [`PricingCatalog`] into a [`PricedBasket`].
//!
//! Steps, for lines taken in line-number order (so the order of the
//! request's `lines` never matters):
//!
//! 1. Check the request: positive quantities, unique line numbers, costs in
//!    the basket's currency, every coupon known to some rule.
//! 2. List price: the first applicable list (see
//!    [`super::catalog`]) that prices the product in the line's unit.
//! 3. Rules: the line's matching rules, in [`PricingRule::precedence`]
//!    order, walked by their [`Stacking`]; price rules and free-item rules
//!    are walked separately, so a free-item rule never blocks a discount
//!    and vice versa. A rule that would change nothing (a schedule below its
//!    first tier, a free-item rule short of its quantity) is passed over as
//!    if it had not matched, so it cannot end an exclusive walk. Each
//!    adjustment's result is rounded to the line's unit-price precision
//!    (the currency's minor unit, or more when the list price has more
//!    decimals, up to [`super::MAX_UNIT_PRICE_DECIMALS`]); a price never
//!    goes below zero — a discount that would is clamped and flagged.
//! 4. Free lines: each free-item grant becomes a line at zero net, numbered
//!    after the highest requested line. A `mixed` free-item rule is granted
//!    at most once per basket, on the lowest-numbered line that earns it.
//! 5. Tax: the customer's override template (the request's, else the one
//!    the catalog assigns to the customer), else the channel's, else the
//!    default; none at all when the customer is exempt — by the request's
//!    `tax_exemption`, or because their assigned template has no lines (the
//!    template's name is then the exemption's reference). The mode is the
//!    request's (the channel's) when given, else the template's. Arithmetic
//!    in [`super::tax`].
//! 6. Guards, margins, totals, coupon outcomes.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::catalog::PricingCatalog;
use super::guards::margin_percent;
use super::price_list::Uom;
use super::rules::{BasketFacts, CouponCode, FreeProduct, PricingRule, RuleAction, Stacking};
use super::schedules::TierBasis;
use super::tax::{allocate, net_in_gross, tax_on_net, TaxMode, TaxRounding, TaxTemplate};
use super::waterfall::{
    Adjustment, AdjustmentKind, CouponOutcome, CouponStatus, DocumentTotals, LineFlag, LineKind,
    LineTax, Margin, PriceSource, PricedBasket, PricedLine, TaxBreakdown, TaxTemplateRef,
};
use super::{pct, round_dp, PricingRuleId, TaxTemplateId, MAX_UNIT_PRICE_DECIMALS};
use crate::ids::{ChannelId, CustomerGroupId, CustomerId, ItemGroupId, ProductId, TerritoryId};
use crate::money::{round, Currency, Money, MoneyError, RoundingMode};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PricingError {
    #[error("line {0} appears twice")]
    DuplicateLineNo(u32),
    #[error("line {line_no}: quantity must be positive (got {quantity})")]
    NonPositiveQuantity { line_no: u32, quantity: Decimal },
    #[error(
        "line {line_no}: quantity {quantity} is above the maximum of {}",
        MAX_QUANTITY
    )]
    QuantityTooLarge { line_no: u32, quantity: Decimal },
    #[error("line {line_no}: standard cost is in {found}, the basket in {expected}")]
    CurrencyMismatch {
        line_no: u32,
        expected: Currency,
        found: Currency,
    },
    #[error("line {line_no}: no applicable price list prices product {product} per {uom}")]
    UnknownProduct {
        line_no: u32,
        product: ProductId,
        uom: Uom,
    },
    #[error("coupon {0} does not exist")]
    UnknownCoupon(CouponCode),
    #[error("tax template {0} does not exist")]
    UnknownTaxTemplate(TaxTemplateId),
    #[error(
        "free item of rule {rule}: no applicable price list prices product {product} per {uom}"
    )]
    FreeItemNotPriced {
        rule: PricingRuleId,
        product: ProductId,
        uom: Uom,
    },
    #[error("line numbers run out after {0}")]
    LineNumberOverflow(u32),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The largest quantity a line may have.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Who is buying, with their trees flattened into ancestor chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerContext {
    pub id: CustomerId,
    /// The customer's group first, then its parent, up to the root.
    #[serde(default)]
    pub groups: Vec<CustomerGroupId>,
    /// The customer's territory first, then its parent, up to the root.
    #[serde(default)]
    pub territories: Vec<TerritoryId>,
    /// Set when the customer is exempt from tax: the tax id or certificate
    /// that exempts them. Recorded on the result.
    #[serde(default)]
    pub tax_exemption: Option<String>,
    /// A tax template that overrides the channel's for this customer; when
    /// `None`, the template the catalog assigns to the customer, if any.
    #[serde(default)]
    pub tax_template: Option<TaxTemplateId>,
}

/// One line of the basket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasketLine {
    pub line_no: u32,
    pub product: ProductId,
    /// The product's item group first, then its parent, up to the root.
    #[serde(default)]
    pub item_groups: Vec<ItemGroupId>,
    pub uom: Uom,
    pub quantity: Decimal,
    /// Per unit, in the basket's currency.
    pub standard_cost: Money,
}

/// A basket to price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingRequest {
    pub customer: CustomerContext,
    pub channel: ChannelId,
    pub currency: Currency,
    /// The pricing date (validity of lists, rules and schedules).
    pub date: NaiveDate,
    #[serde(default)]
    pub coupon_codes: Vec<CouponCode>,
    /// The channel's tax mode (whether its prices include tax). When set it
    /// overrides the tax template's mode; when absent the template's mode
    /// applies (exclusive without a template).
    #[serde(default)]
    pub tax_mode: Option<TaxMode>,
    pub lines: Vec<BasketLine>,
}

fn out_of_range() -> PricingError {
    PricingError::Money(MoneyError::OutOfRange)
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_mul(b).ok_or_else(out_of_range)
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_add(b).ok_or_else(out_of_range)
}

/// A requested line after its list price is known.
struct Line<'a> {
    req: &'a BasketLine,
    source: PriceSource,
    list_price: Decimal,
    /// Quantity × list price, unrounded: the "amount" of conditions and
    /// amount-based schedules.
    list_amount: Decimal,
    /// Decimals of this line's unit prices.
    dp: u32,
}

/// A free-item grant waiting to become a line.
struct Grant {
    rule: u32,
    for_line: u32,
    product: ProductId,
    uom: Uom,
    quantity: Decimal,
    list_price: Decimal,
    source: PriceSource,
    dp: u32,
}

/// A line with its net unit price, before totals and tax.
struct Priced {
    line_no: u32,
    kind: LineKind,
    product: ProductId,
    item_groups: Vec<ItemGroupId>,
    uom: Uom,
    quantity: Decimal,
    source: PriceSource,
    list_price: Decimal,
    adjustments: Vec<(u32, AdjustmentKind, Decimal, Decimal)>,
    net_unit: Decimal,
    cost_unit: Decimal,
    flags: Vec<LineFlag>,
    guarded: bool,
}

/// Unit-price decimals for a list price: its own scale, at least the
/// currency's minor unit, at most [`MAX_UNIT_PRICE_DECIMALS`].
fn unit_dp(price: Decimal, currency: Currency) -> u32 {
    let minor = currency.minor_units();
    price
        .scale()
        .clamp(minor, MAX_UNIT_PRICE_DECIMALS.max(minor))
}

/// Prices a basket. See the module documentation for the steps.
pub fn price(
    catalog: &PricingCatalog,
    request: &PricingRequest,
) -> Result<PricedBasket, PricingError> {
    let settings = catalog.settings();
    let mode = settings.rounding_mode;
    let currency = request.currency;

    // 1. The request.
    let mut reqs: Vec<&BasketLine> = request.lines.iter().collect();
    reqs.sort_by_key(|l| l.line_no);
    for pair in reqs.windows(2) {
        if pair[0].line_no == pair[1].line_no {
            return Err(PricingError::DuplicateLineNo(pair[0].line_no));
        }
    }
    for l in &reqs {
        if l.quantity <= Decimal::ZERO {
            return Err(PricingError::NonPositiveQuantity {
                line_no: l.line_no,
                quantity: l.quantity,
            });
        }
        if l.quantity > MAX_QUANTITY {
            return Err(PricingError::QuantityTooLarge {
                line_no: l.line_no,
                quantity: l.quantity,
            });
        }
        if l.standard_cost.currency() != currency {
            return Err(PricingError::CurrencyMismatch {
                line_no: l.line_no,
                expected: currency,
                found: l.standard_cost.currency(),
            });
        }
    }
    let coupons: BTreeSet<CouponCode> = request.coupon_codes.iter().cloned().collect();
    if let Some(unknown) = coupons.iter().find(|c| catalog.coupon_rules(c).is_none()) {
        return Err(PricingError::UnknownCoupon(unknown.clone()));
    }
    let customer = &request.customer;
    let override_template = match customer.tax_template {
        Some(id) => Some(
            catalog
                .tax_template(id)
                .ok_or(PricingError::UnknownTaxTemplate(id))?,
        ),
        None => catalog.customer_tax_template(customer.id),
    };

    // 2. List prices.
    let lists = catalog.applicable_lists(
        currency,
        request.date,
        customer.id,
        &customer.groups,
        request.channel,
    );
    let mut lines = Vec::with_capacity(reqs.len());
    for req in reqs {
        let found = catalog
            .list_price(&lists, req.product, &req.uom)
            .ok_or_else(|| PricingError::UnknownProduct {
                line_no: req.line_no,
                product: req.product,
                uom: req.uom.clone(),
            })?;
        lines.push(Line {
            req,
            list_price: found.price,
            list_amount: mul(found.price, req.quantity)?,
            dp: unit_dp(found.price, currency),
            source: PriceSource {
                price_list: found.list,
                price_list_name: found.list_name.to_owned(),
                derived_via: found.derived_via,
            },
        });
    }

    // 3. Rules, line by line.
    let facts = BasketFacts {
        customer: customer.id,
        customer_groups: &customer.groups,
        territories: &customer.territories,
        channel: request.channel,
        currency,
        date: request.date,
        coupons: &coupons,
    };
    let mut ctx = RuleContext {
        catalog,
        facts,
        lists: &lists,
        lines: &lines,
        basket_match: vec![None; catalog.rules().len()],
        aggregates: vec![None; catalog.rules().len()],
        mixed_granted: BTreeSet::new(),
        applied: BTreeSet::new(),
    };
    // Rules without item conditions depend only on the basket: check their
    // basket conditions once rather than on every line.
    let any_item: Vec<u32> = catalog
        .rules_for_any_item()
        .iter()
        .copied()
        .filter(|pos| ctx.matches_basket(*pos))
        .collect();
    let mut priced = Vec::with_capacity(lines.len());
    let mut grants = Vec::new();
    let mut candidates = Vec::new();
    let mut price_rules = Vec::new();
    let mut free_rules = Vec::new();
    for line in &lines {
        catalog.candidate_rules(
            line.req.product,
            &line.req.item_groups,
            &any_item,
            &mut candidates,
        );
        price_rules.clear();
        free_rules.clear();
        for &pos in &candidates {
            if let Some(measure) = ctx.matches(pos, line)? {
                if catalog.rule(pos).action().is_free_item() {
                    free_rules.push((pos, measure));
                } else {
                    price_rules.push((pos, measure));
                }
            }
        }
        let mut state = PriceState {
            price: line.list_price,
            adjustments: Vec::new(),
            flags: Vec::new(),
        };
        walk(
            &mut ctx,
            &mut state,
            &price_rules,
            |ctx, state, pos, measure| ctx.evaluate_price(pos, measure, line, state.price),
            |step| step.new_price,
            |ctx, state, pos, step| {
                ctx.applied.insert(pos);
                if step.clamped {
                    state.flags.push(LineFlag::ClampedAtZero {
                        rule: ctx.catalog.rule(pos).id(),
                    });
                }
                state.adjustments.push((
                    pos,
                    step.kind,
                    step.new_price - state.price,
                    step.new_price,
                ));
                state.price = step.new_price;
            },
        )?;
        walk(
            &mut ctx,
            &mut grants,
            &free_rules,
            |ctx, _, pos, measure| ctx.evaluate_free(pos, measure, line),
            |grant| {
                grant
                    .list_price
                    .checked_mul(grant.quantity)
                    .map_or(Decimal::MIN, |value| -value)
            },
            |ctx, grants, pos, grant| {
                ctx.applied.insert(pos);
                if ctx.catalog.rule(pos).conditions().mixed {
                    ctx.mixed_granted.insert(pos);
                }
                grants.push(grant);
            },
        )?;
        priced.push(Priced {
            line_no: line.req.line_no,
            kind: LineKind::Requested,
            product: line.req.product,
            item_groups: line.req.item_groups.clone(),
            uom: line.req.uom.clone(),
            quantity: line.req.quantity,
            source: line.source.clone(),
            list_price: line.list_price,
            adjustments: state.adjustments,
            net_unit: state.price,
            cost_unit: line.req.standard_cost.amount(),
            flags: state.flags,
            guarded: true,
        });
    }

    // 4. Free lines.
    let mut next_line_no = priced.last().map_or(0, |p| p.line_no);
    for grant in grants {
        next_line_no = next_line_no
            .checked_add(1)
            .ok_or(PricingError::LineNumberOverflow(next_line_no))?;
        let rule = catalog.rule(grant.rule);
        let cost = lines
            .iter()
            .find(|l| l.req.product == grant.product && l.req.uom == grant.uom)
            .map(|l| l.req.standard_cost.amount());
        let list_price = round_dp(grant.list_price, grant.dp, mode);
        priced.push(Priced {
            line_no: next_line_no,
            kind: LineKind::FreeItem {
                rule: rule.id(),
                rule_name: rule.name().to_owned(),
                for_line: grant.for_line,
            },
            product: grant.product,
            item_groups: Vec::new(),
            uom: grant.uom,
            quantity: grant.quantity,
            source: grant.source,
            list_price,
            adjustments: vec![(
                grant.rule,
                AdjustmentKind::FreeItem,
                -list_price,
                round_dp(Decimal::ZERO, grant.dp, mode),
            )],
            net_unit: round_dp(Decimal::ZERO, grant.dp, mode),
            cost_unit: cost.unwrap_or(Decimal::ZERO),
            flags: if cost.is_none() {
                vec![LineFlag::CostUnknown]
            } else {
                Vec::new()
            },
            guarded: false,
        });
    }

    // 5. Tax.
    let template = override_template
        .or_else(|| catalog.channel_tax_template(request.channel))
        .or_else(|| catalog.default_tax_template());
    let tax_mode = request
        .tax_mode
        .unwrap_or_else(|| template.map_or(TaxMode::Exclusive, TaxTemplate::mode));
    let exemption = customer
        .tax_exemption
        .as_ref()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .or_else(|| {
            override_template
                .filter(|t| t.lines().is_empty())
                .map(|t| t.name().to_owned())
        });
    let applied_template = if exemption.is_some() { None } else { template };
    let taxed = tax_lines(
        &priced,
        applied_template,
        tax_mode,
        settings.tax_rounding,
        currency,
        mode,
    )?;

    // 6. Guards, margins, totals.
    let money = |amount: Decimal| Money::new(amount, currency);
    let mut out_lines = Vec::with_capacity(priced.len());
    let mut totals = [Decimal::ZERO; 6];
    let mut breakdown: Vec<Decimal> =
        vec![Decimal::ZERO; applied_template.map_or(0, |t| t.lines().len())];
    for (line, tax) in priced.into_iter().zip(taxed) {
        let list_total = round(mul(line.list_price, line.quantity)?, currency, mode);
        let waterfall_net = round(mul(line.net_unit, line.quantity)?, currency, mode);
        let discount_total = list_total - waterfall_net;
        let cost_total = round(mul(line.cost_unit, line.quantity)?, currency, mode);
        let mut flags = line.flags;
        if line.guarded {
            for guard in catalog.guards_for(line.product, &line.item_groups) {
                guard.check(currency, line.net_unit, tax.net, cost_total, &mut flags);
            }
        }
        let margin = tax.net - cost_total;
        for (sum, value) in totals.iter_mut().zip([
            list_total,
            discount_total,
            tax.net,
            tax.total,
            tax.gross,
            cost_total,
        ]) {
            *sum = add(*sum, value)?;
        }
        let mut taxes = Vec::with_capacity(tax.amounts.len());
        if let Some(t) = applied_template {
            for ((rate, amount), sum) in t.lines().iter().zip(&tax.amounts).zip(&mut breakdown) {
                *sum = add(*sum, *amount)?;
                taxes.push(LineTax {
                    code: rate.code.clone(),
                    rate_percent: rate.rate_percent,
                    amount: money(*amount)?,
                });
            }
        }
        let mut adjustments = Vec::with_capacity(line.adjustments.len());
        for (pos, kind, delta, after) in line.adjustments {
            let rule = catalog.rule(pos);
            adjustments.push(Adjustment {
                rule: rule.id(),
                rule_name: rule.name().to_owned(),
                kind,
                amount_per_unit: money(delta)?,
                unit_price_after: money(after)?,
            });
        }
        out_lines.push(PricedLine {
            line_no: line.line_no,
            kind: line.kind,
            product: line.product,
            uom: line.uom,
            quantity: line.quantity,
            price_source: line.source,
            list_price: money(line.list_price)?,
            adjustments,
            net_unit_price: money(line.net_unit)?,
            gross_unit_price: tax.gross_unit.map(money).transpose()?,
            list_total: money(list_total)?,
            discount_total: money(discount_total)?,
            net_total: money(tax.net)?,
            taxes,
            tax_total: money(tax.total)?,
            gross_total: money(tax.gross)?,
            cost_total: money(cost_total)?,
            margin: Margin {
                amount: money(margin)?,
                percent: margin_percent(tax.net, cost_total).map(|m| m.round_dp(2)),
            },
            flags,
        });
    }
    let [list_total, discount_total, net_total, tax_total, gross_total, cost_total] = totals;
    let tax_breakdown = match applied_template {
        None => Vec::new(),
        Some(t) => t
            .lines()
            .iter()
            .zip(breakdown)
            .map(|(rate, amount)| {
                Ok(TaxBreakdown {
                    code: rate.code.clone(),
                    name: rate.name.clone(),
                    rate_percent: rate.rate_percent,
                    base: money(net_total)?,
                    amount: money(amount)?,
                })
            })
            .collect::<Result<_, PricingError>>()?,
    };
    let coupon_outcomes = coupons
        .iter()
        .map(|code| {
            let rules: Vec<PricingRuleId> = catalog
                .coupon_rules(code)
                .unwrap_or_default()
                .iter()
                .filter(|pos| ctx.applied.contains(pos))
                .map(|pos| catalog.rule(*pos).id())
                .collect();
            CouponOutcome {
                code: code.clone(),
                status: if rules.is_empty() {
                    CouponStatus::NotApplicable
                } else {
                    CouponStatus::Applied { rules }
                },
            }
        })
        .collect();
    let requires_approval = out_lines
        .iter()
        .flat_map(|l| &l.flags)
        .any(LineFlag::requires_approval);
    Ok(PricedBasket {
        currency,
        date: request.date,
        rounding_mode: mode,
        tax_mode,
        tax_rounding: settings.tax_rounding,
        tax_template: applied_template.map(|t| TaxTemplateRef {
            id: t.id(),
            name: t.name().to_owned(),
        }),
        tax_exemption: exemption,
        lines: out_lines,
        tax_breakdown,
        totals: DocumentTotals {
            list_total: money(list_total)?,
            discount_total: money(discount_total)?,
            net_total: money(net_total)?,
            tax_total: money(tax_total)?,
            gross_total: money(gross_total)?,
            cost_total: money(cost_total)?,
            margin: Margin {
                amount: money(net_total - cost_total)?,
                percent: margin_percent(net_total, cost_total).map(|m| m.round_dp(2)),
            },
        },
        coupons: coupon_outcomes,
        requires_approval,
    })
}

/// What the rule walk needs besides the line: the catalog, basket facts,
/// and per-basket memos.
struct RuleContext<'a> {
    catalog: &'a PricingCatalog,
    facts: BasketFacts<'a>,
    lists: &'a [u32],
    lines: &'a [Line<'a>],
    /// Per rule position: whether the basket-wide conditions hold.
    basket_match: Vec<Option<bool>>,
    /// Per rule position: (quantity, amount) over the basket's lines that
    /// match a mixed rule's item conditions.
    aggregates: Vec<Option<(Decimal, Decimal)>>,
    /// Mixed free-item rules already granted in this basket.
    mixed_granted: BTreeSet<u32>,
    /// Rules that changed a price or gave goods, for coupon outcomes.
    applied: BTreeSet<u32>,
}

/// The quantity and amount a rule measures on a line.
#[derive(Clone, Copy)]
struct Measure {
    quantity: Decimal,
    amount: Decimal,
}

struct PriceState {
    price: Decimal,
    adjustments: Vec<(u32, AdjustmentKind, Decimal, Decimal)>,
    flags: Vec<LineFlag>,
}

struct PriceStep {
    new_price: Decimal,
    kind: AdjustmentKind,
    clamped: bool,
}

impl<'a> RuleContext<'a> {
    /// Whether the rule's basket-wide conditions hold (memoized).
    fn matches_basket(&mut self, pos: u32) -> bool {
        let idx = pos as usize;
        match self.basket_match[idx] {
            Some(ok) => ok,
            None => {
                let ok = self.catalog.rule(pos).matches_basket(&self.facts);
                self.basket_match[idx] = Some(ok);
                ok
            }
        }
    }

    /// The measure the rule sees on `line` if every condition holds.
    fn matches(&mut self, pos: u32, line: &Line<'_>) -> Result<Option<Measure>, PricingError> {
        if !self.matches_basket(pos) {
            return Ok(None);
        }
        let rule = self.catalog.rule(pos);
        let idx = pos as usize;
        if !rule.matches_item(line.req.product, &line.req.item_groups) {
            return Ok(None);
        }
        let measure = if rule.conditions().mixed {
            let (quantity, amount) = match self.aggregates[idx] {
                Some(agg) => agg,
                None => {
                    let agg = self.aggregate(rule)?;
                    self.aggregates[idx] = Some(agg);
                    agg
                }
            };
            Measure { quantity, amount }
        } else {
            Measure {
                quantity: line.req.quantity,
                amount: line.list_amount,
            }
        };
        Ok(rule
            .matches_measure(measure.quantity, measure.amount)
            .then_some(measure))
    }

    fn aggregate(&self, rule: &PricingRule) -> Result<(Decimal, Decimal), PricingError> {
        let mut quantity = Decimal::ZERO;
        let mut amount = Decimal::ZERO;
        for l in self.lines {
            if rule.matches_item(l.req.product, &l.req.item_groups) {
                quantity = add(quantity, l.req.quantity)?;
                amount = add(amount, l.list_amount)?;
            }
        }
        Ok((quantity, amount))
    }

    /// What a price rule would do to `price` on `line`, or `None` when it
    /// would change nothing.
    fn evaluate_price(
        &self,
        pos: u32,
        measure: Measure,
        line: &Line<'_>,
        price: Decimal,
    ) -> Result<Option<PriceStep>, PricingError> {
        let mode = self.catalog.settings().rounding_mode;
        let r = |v: Decimal| round_dp(v, line.dp, mode);
        let step = |new_price, kind| {
            Some(PriceStep {
                new_price,
                kind,
                clamped: false,
            })
        };
        Ok(match self.catalog.rule(pos).action() {
            RuleAction::DiscountPercent { percent } => step(
                r(mul(price, Decimal::ONE - pct(*percent))?),
                AdjustmentKind::DiscountPercent { percent: *percent },
            ),
            RuleAction::DiscountAmount { amount } => {
                let raw = price - amount.amount();
                let clamped = raw < Decimal::ZERO;
                Some(PriceStep {
                    new_price: r(raw.max(Decimal::ZERO)),
                    kind: AdjustmentKind::DiscountAmount,
                    clamped,
                })
            }
            RuleAction::FixedRate { rate } => step(r(rate.amount()), AdjustmentKind::FixedRate),
            RuleAction::MarkupOnCost { percent } => step(
                r(mul(
                    line.req.standard_cost.amount(),
                    Decimal::ONE + pct(*percent),
                )?),
                AdjustmentKind::MarkupOnCost { percent: *percent },
            ),
            RuleAction::Schedule { schedule } => {
                let Some(s) = self.catalog.schedule(schedule) else {
                    return Ok(None);
                };
                if !s.applies(self.facts.currency, self.facts.date) {
                    return Ok(None);
                }
                let at = match s.basis() {
                    TierBasis::Quantity => measure.quantity,
                    TierBasis::Amount => measure.amount,
                };
                let percent = s.discount_percent(at);
                if percent.is_zero() {
                    return Ok(None);
                }
                step(
                    r(mul(price, Decimal::ONE - pct(percent))?),
                    AdjustmentKind::Schedule {
                        schedule: s.id(),
                        tier_kind: s.kind(),
                        basis: s.basis(),
                        measure: at,
                        percent: percent.round_dp(4).normalize(),
                    },
                )
            }
            RuleAction::FreeItem(_) => None,
        })
    }

    /// What a free-item rule would grant on `line`, or `None` for nothing.
    fn evaluate_free(
        &self,
        pos: u32,
        measure: Measure,
        line: &Line<'_>,
    ) -> Result<Option<Grant>, PricingError> {
        let rule = self.catalog.rule(pos);
        let RuleAction::FreeItem(free) = rule.action() else {
            return Ok(None);
        };
        if rule.conditions().mixed && self.mixed_granted.contains(&pos) {
            return Ok(None);
        }
        let quantity = free.free_quantity(measure.quantity);
        if quantity.is_zero() {
            return Ok(None);
        }
        let (product, uom) = match &free.product {
            FreeProduct::Same => (line.req.product, line.req.uom.clone()),
            FreeProduct::Other { product, uom } => (*product, uom.clone()),
        };
        let found = self
            .catalog
            .list_price(self.lists, product, &uom)
            .ok_or_else(|| PricingError::FreeItemNotPriced {
                rule: rule.id(),
                product,
                uom: uom.clone(),
            })?;
        Ok(Some(Grant {
            rule: pos,
            for_line: line.req.line_no,
            product,
            uom,
            quantity,
            dp: unit_dp(found.price, self.facts.currency),
            list_price: found.price,
            source: PriceSource {
                price_list: found.list,
                price_list_name: found.list_name.to_owned(),
                derived_via: found.derived_via,
            },
        }))
    }
}

/// Walks `matched` rules (in precedence order) by their stacking mode; see
/// [`Stacking`]. `evaluate` tries a rule on the current state (`None`: it
/// would change nothing, so it is passed over); `score` ranks the outcomes
/// of a best-for-customer group, lowest best, the earliest winning a tie;
/// `apply` commits an outcome.
fn walk<'a, S, O>(
    ctx: &mut RuleContext<'a>,
    state: &mut S,
    matched: &[(u32, Measure)],
    evaluate: impl Fn(&RuleContext<'a>, &S, u32, Measure) -> Result<Option<O>, PricingError>,
    score: impl Fn(&O) -> Decimal,
    apply: impl Fn(&mut RuleContext<'a>, &mut S, u32, O),
) -> Result<(), PricingError> {
    let mut done = vec![false; matched.len()];
    for i in 0..matched.len() {
        if done[i] {
            continue;
        }
        let (pos, measure) = matched[i];
        let rule = ctx.catalog.rule(pos);
        match rule.stacking() {
            Stacking::ApplyInOrder => {
                done[i] = true;
                if let Some(outcome) = evaluate(ctx, state, pos, measure)? {
                    apply(ctx, state, pos, outcome);
                }
            }
            Stacking::Exclusive => {
                done[i] = true;
                if let Some(outcome) = evaluate(ctx, state, pos, measure)? {
                    apply(ctx, state, pos, outcome);
                    return Ok(());
                }
            }
            Stacking::BestForCustomer => {
                let priority = rule.priority();
                let mut best: Option<(Decimal, u32, O)> = None;
                for j in i..matched.len() {
                    let (other, other_measure) = matched[j];
                    let candidate = ctx.catalog.rule(other);
                    if done[j]
                        || candidate.priority() != priority
                        || candidate.stacking() != Stacking::BestForCustomer
                    {
                        continue;
                    }
                    done[j] = true;
                    if let Some(outcome) = evaluate(ctx, state, other, other_measure)? {
                        let s = score(&outcome);
                        if best.as_ref().is_none_or(|(b, _, _)| s < *b) {
                            best = Some((s, other, outcome));
                        }
                    }
                }
                if let Some((_, winner, outcome)) = best {
                    apply(ctx, state, winner, outcome);
                }
            }
        }
    }
    Ok(())
}

/// A line's tax result.
struct LineTaxes {
    net: Decimal,
    total: Decimal,
    gross: Decimal,
    gross_unit: Option<Decimal>,
    /// One per template tax line.
    amounts: Vec<Decimal>,
}

/// Net, tax and gross of every line; see [`super::tax`] for the arithmetic.
fn tax_lines(
    lines: &[Priced],
    template: Option<&TaxTemplate>,
    tax_mode: TaxMode,
    rounding: TaxRounding,
    currency: Currency,
    mode: RoundingMode,
) -> Result<Vec<LineTaxes>, PricingError> {
    let rate = template.map_or(Decimal::ZERO, TaxTemplate::total_rate);
    let weights = template.map(TaxTemplate::weights).unwrap_or_default();
    // The amount each line's tax is computed from: its net (exclusive) or
    // its gross (inclusive), both rounded.
    let mut bases = Vec::with_capacity(lines.len());
    let mut gross_units = Vec::with_capacity(lines.len());
    for l in lines {
        match tax_mode {
            TaxMode::Exclusive => {
                bases.push(round(mul(l.net_unit, l.quantity)?, currency, mode));
                gross_units.push(None);
            }
            TaxMode::Inclusive => {
                let unit = round(mul(l.net_unit, Decimal::ONE + rate)?, currency, mode);
                bases.push(round(mul(unit, l.quantity)?, currency, mode));
                gross_units.push(Some(unit));
            }
        }
    }
    let line_tax: Vec<Decimal> = match rounding {
        TaxRounding::PerLine => bases
            .iter()
            .map(|b| match tax_mode {
                TaxMode::Exclusive => tax_on_net(*b, rate, currency, mode),
                TaxMode::Inclusive => *b - net_in_gross(*b, rate, currency, mode),
            })
            .collect(),
        TaxRounding::PerDocument => {
            let mut sum = Decimal::ZERO;
            for b in &bases {
                sum = add(sum, *b)?;
            }
            let total = match tax_mode {
                TaxMode::Exclusive => tax_on_net(sum, rate, currency, mode),
                TaxMode::Inclusive => sum - net_in_gross(sum, rate, currency, mode),
            };
            allocate(total, &bases, currency)
        }
    };
    Ok(bases
        .into_iter()
        .zip(line_tax)
        .zip(gross_units)
        .map(|((base, tax), gross_unit)| {
            let (net, gross) = match tax_mode {
                TaxMode::Exclusive => (base, base + tax),
                TaxMode::Inclusive => (base - tax, base),
            };
            LineTaxes {
                net,
                total: tax,
                gross,
                gross_unit,
                amounts: allocate(tax, &weights, currency),
            }
        })
        .collect())
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
