//! The pricing catalog: every price list, rule, discount schedule, tax
//! template and guard the engine may use, validated together and indexed
//! for fast quoting.
//!
//! Built once from what the caller loaded ([`PricingCatalog::new`]) and then
//! shared read-only by any number of [`super::price`] calls. Construction
//! checks what single records cannot: unique ids, derived lists whose base
//! exists, shares their currency and forms no cycle, rules whose schedule
//! exists, at most one default tax template and one template per channel.
//!
//! Indexes: item prices by (list, product, unit) in a hash map, so a lookup
//! costs the same with 100 or 100,000 items; rules by product, by item group
//! and "any item", so a line only looks at rules that could match it.
//! Hash maps are only ever probed, never iterated into a result.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::guards::{GuardScope, PriceGuard};
use super::price_list::{PriceList, PriceListHeader, Uom};
use super::rules::{CouponCode, PricingRule, RuleAction};
use super::schedules::DiscountSchedule;
use super::tax::{TaxRounding, TaxTemplate};
use super::{
    pct, round_dp, DiscountScheduleId, PriceGuardId, PricingRuleId, TaxTemplateId,
    MAX_UNIT_PRICE_DECIMALS,
};
use crate::ids::{ChannelId, CustomerGroupId, CustomerId, ItemGroupId, PriceListId, ProductId};
use crate::money::{Currency, RoundingMode};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CatalogError {
    #[error("price list {0} appears twice")]
    DuplicatePriceList(PriceListId),
    #[error("price list {list} derives from unknown price list {base}")]
    UnknownBaseList {
        list: PriceListId,
        base: PriceListId,
    },
    #[error("price list {list} derives from {base}, which is in {base_currency}, not {currency}")]
    BaseCurrencyMismatch {
        list: PriceListId,
        base: PriceListId,
        currency: Currency,
        base_currency: Currency,
    },
    #[error("price list derivation forms a cycle through {0}")]
    DerivationCycle(PriceListId),
    #[error("pricing rule {0} appears twice")]
    DuplicateRule(PricingRuleId),
    #[error("pricing rule {rule} uses unknown discount schedule {schedule}")]
    UnknownSchedule {
        rule: PricingRuleId,
        schedule: DiscountScheduleId,
    },
    #[error("discount schedule {0} appears twice")]
    DuplicateSchedule(DiscountScheduleId),
    #[error("tax template {0} appears twice")]
    DuplicateTaxTemplate(TaxTemplateId),
    #[error("tax templates {0} and {1} are both the default")]
    SeveralDefaultTaxTemplates(TaxTemplateId, TaxTemplateId),
    #[error("tax templates {first} and {second} both claim channel {channel}")]
    SeveralChannelTaxTemplates {
        channel: ChannelId,
        first: TaxTemplateId,
        second: TaxTemplateId,
    },
    #[error("tax templates {first} and {second} both claim customer {customer}")]
    SeveralCustomerTaxTemplates {
        customer: CustomerId,
        first: TaxTemplateId,
        second: TaxTemplateId,
    },
    #[error("price guard {0} appears twice")]
    DuplicateGuard(PriceGuardId),
}

/// Document-wide settings of the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingSettings {
    /// How every amount is rounded (unit prices, totals, taxes).
    pub rounding_mode: RoundingMode,
    pub tax_rounding: TaxRounding,
}

/// Everything a catalog is built from, as loaded or received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingCatalogSpec {
    pub settings: PricingSettings,
    pub price_lists: Vec<PriceList>,
    pub rules: Vec<PricingRule>,
    pub schedules: Vec<DiscountSchedule>,
    pub tax_templates: Vec<TaxTemplate>,
    pub guards: Vec<PriceGuard>,
}

/// The validated, indexed catalog. See the module documentation.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "PricingCatalogSpec")]
pub struct PricingCatalog {
    settings: PricingSettings,
    /// Headers sorted by id; positions are the list numbers used in `prices`.
    lists: Vec<PriceListHeader>,
    list_pos: HashMap<PriceListId, u32>,
    /// Base list position of each list, if it derives.
    bases: Vec<Option<u32>>,
    uoms: HashMap<Uom, u32>,
    prices: HashMap<(u32, ProductId, u32), Decimal>,
    /// Sorted by [`PricingRule::precedence`]; positions index the maps below.
    rules: Vec<PricingRule>,
    rules_by_product: HashMap<ProductId, Vec<u32>>,
    rules_by_item_group: HashMap<ItemGroupId, Vec<u32>>,
    rules_for_any_item: Vec<u32>,
    coupons: BTreeMap<CouponCode, Vec<u32>>,
    schedules: HashMap<DiscountScheduleId, DiscountSchedule>,
    /// Sorted by id.
    tax_templates: Vec<TaxTemplate>,
    default_tax: Option<u32>,
    channel_tax: HashMap<ChannelId, u32>,
    customer_tax: HashMap<CustomerId, u32>,
    guards_by_product: HashMap<ProductId, Vec<PriceGuard>>,
    guards_by_item_group: HashMap<ItemGroupId, Vec<PriceGuard>>,
    price_count: usize,
}

impl PricingCatalog {
    pub fn new(spec: PricingCatalogSpec) -> Result<PricingCatalog, CatalogError> {
        let PricingCatalogSpec {
            settings,
            mut price_lists,
            mut rules,
            schedules,
            mut tax_templates,
            guards,
        } = spec;

        // Price lists, their index and derivations.
        price_lists.sort_by_key(PriceList::id);
        if let Some(w) = price_lists.windows(2).find(|w| w[0].id() == w[1].id()) {
            return Err(CatalogError::DuplicatePriceList(w[0].id()));
        }
        let list_pos: HashMap<PriceListId, u32> = price_lists
            .iter()
            .zip(0u32..)
            .map(|(l, i)| (l.id(), i))
            .collect();
        let mut uoms: HashMap<Uom, u32> = HashMap::new();
        let item_count = price_lists.iter().map(|l| l.items().len()).sum();
        let mut prices = HashMap::with_capacity(item_count);
        let mut lists = Vec::with_capacity(price_lists.len());
        for (list, pos) in price_lists.into_iter().zip(0u32..) {
            let (header, items) = list.into_parts();
            for item in items {
                let next = u32::try_from(uoms.len()).unwrap_or(u32::MAX);
                let unit = *uoms.entry(item.uom).or_insert(next);
                prices.insert((pos, item.product, unit), item.rate);
            }
            lists.push(header);
        }
        let mut bases = Vec::with_capacity(lists.len());
        for header in &lists {
            let base = match &header.derivation {
                None => None,
                Some(d) => {
                    let pos = *list_pos.get(&d.base).ok_or(CatalogError::UnknownBaseList {
                        list: header.id,
                        base: d.base,
                    })?;
                    let base_currency = lists[pos as usize].currency;
                    if base_currency != header.currency {
                        return Err(CatalogError::BaseCurrencyMismatch {
                            list: header.id,
                            base: d.base,
                            currency: header.currency,
                            base_currency,
                        });
                    }
                    Some(pos)
                }
            };
            bases.push(base);
        }
        for (start, header) in lists.iter().enumerate() {
            let mut seen = HashSet::new();
            let mut at = start;
            while let Some(base) = bases[at] {
                if !seen.insert(at) {
                    return Err(CatalogError::DerivationCycle(header.id));
                }
                at = base as usize;
            }
        }

        // Schedules, then rules (which may name a schedule).
        let mut schedule_map = HashMap::with_capacity(schedules.len());
        for s in schedules {
            let id = s.id();
            if schedule_map.insert(id, s).is_some() {
                return Err(CatalogError::DuplicateSchedule(id));
            }
        }
        rules.sort_by_key(PricingRule::precedence);
        if let Some(w) = rules.windows(2).find(|w| w[0].id() == w[1].id()) {
            return Err(CatalogError::DuplicateRule(w[0].id()));
        }
        let mut rules_by_product: HashMap<ProductId, Vec<u32>> = HashMap::new();
        let mut rules_by_item_group: HashMap<ItemGroupId, Vec<u32>> = HashMap::new();
        let mut rules_for_any_item = Vec::new();
        let mut coupons: BTreeMap<CouponCode, Vec<u32>> = BTreeMap::new();
        for (rule, pos) in rules.iter().zip(0u32..) {
            if let RuleAction::Schedule { schedule } = rule.action() {
                if !schedule_map.contains_key(schedule) {
                    return Err(CatalogError::UnknownSchedule {
                        rule: rule.id(),
                        schedule: *schedule,
                    });
                }
            }
            let c = rule.conditions();
            if !c.products.is_empty() {
                for p in &c.products {
                    rules_by_product.entry(*p).or_default().push(pos);
                }
            } else if !c.item_groups.is_empty() {
                for g in &c.item_groups {
                    rules_by_item_group.entry(*g).or_default().push(pos);
                }
            } else {
                rules_for_any_item.push(pos);
            }
            if let Some(code) = &c.coupon {
                coupons.entry(code.clone()).or_default().push(pos);
            }
        }

        // Tax templates.
        tax_templates.sort_by_key(TaxTemplate::id);
        if let Some(w) = tax_templates.windows(2).find(|w| w[0].id() == w[1].id()) {
            return Err(CatalogError::DuplicateTaxTemplate(w[0].id()));
        }
        let mut default_tax: Option<u32> = None;
        let mut channel_tax: HashMap<ChannelId, u32> = HashMap::new();
        let mut customer_tax: HashMap<CustomerId, u32> = HashMap::new();
        for (t, pos) in tax_templates.iter().zip(0u32..) {
            if t.is_default() {
                if let Some(first) = default_tax {
                    return Err(CatalogError::SeveralDefaultTaxTemplates(
                        tax_templates[first as usize].id(),
                        t.id(),
                    ));
                }
                default_tax = Some(pos);
            }
            for channel in t.channels() {
                if let Some(first) = channel_tax.insert(*channel, pos) {
                    return Err(CatalogError::SeveralChannelTaxTemplates {
                        channel: *channel,
                        first: tax_templates[first as usize].id(),
                        second: t.id(),
                    });
                }
            }
            for customer in t.customers() {
                if let Some(first) = customer_tax.insert(*customer, pos) {
                    return Err(CatalogError::SeveralCustomerTaxTemplates {
                        customer: *customer,
                        first: tax_templates[first as usize].id(),
                        second: t.id(),
                    });
                }
            }
        }

        // Guards.
        let mut guard_ids = HashSet::new();
        let mut guards_by_product: HashMap<ProductId, Vec<PriceGuard>> = HashMap::new();
        let mut guards_by_item_group: HashMap<ItemGroupId, Vec<PriceGuard>> = HashMap::new();
        for g in guards {
            if !guard_ids.insert(g.id()) {
                return Err(CatalogError::DuplicateGuard(g.id()));
            }
            match *g.scope() {
                GuardScope::Product(p) => guards_by_product.entry(p).or_default().push(g),
                GuardScope::ItemGroup(ig) => guards_by_item_group.entry(ig).or_default().push(g),
            }
        }

        Ok(PricingCatalog {
            settings,
            lists,
            list_pos,
            bases,
            uoms,
            price_count: prices.len(),
            prices,
            rules,
            rules_by_product,
            rules_by_item_group,
            rules_for_any_item,
            coupons,
            schedules: schedule_map,
            tax_templates,
            default_tax,
            channel_tax,
            customer_tax,
            guards_by_product,
            guards_by_item_group,
        })
    }

    pub fn settings(&self) -> PricingSettings {
        self.settings
    }

    /// Number of item prices held across all lists.
    pub fn price_count(&self) -> usize {
        self.price_count
    }

    /// Rules in precedence order.
    pub fn rules(&self) -> &[PricingRule] {
        &self.rules
    }

    pub fn tax_templates(&self) -> &[TaxTemplate] {
        &self.tax_templates
    }

    pub(crate) fn rule(&self, pos: u32) -> &PricingRule {
        &self.rules[pos as usize]
    }

    pub(crate) fn schedule(&self, id: &DiscountScheduleId) -> Option<&DiscountSchedule> {
        self.schedules.get(id)
    }

    pub(crate) fn coupon_rules(&self, code: &CouponCode) -> Option<&[u32]> {
        self.coupons.get(code).map(Vec::as_slice)
    }

    pub(crate) fn tax_template(&self, id: TaxTemplateId) -> Option<&TaxTemplate> {
        self.tax_templates
            .binary_search_by_key(&id, TaxTemplate::id)
            .ok()
            .map(|i| &self.tax_templates[i])
    }

    pub(crate) fn channel_tax_template(&self, channel: ChannelId) -> Option<&TaxTemplate> {
        self.channel_tax
            .get(&channel)
            .map(|i| &self.tax_templates[*i as usize])
    }

    pub(crate) fn customer_tax_template(&self, customer: CustomerId) -> Option<&TaxTemplate> {
        self.customer_tax
            .get(&customer)
            .map(|i| &self.tax_templates[*i as usize])
    }

    pub(crate) fn default_tax_template(&self) -> Option<&TaxTemplate> {
        self.default_tax.map(|i| &self.tax_templates[i as usize])
    }

    /// Positions of the lists that apply to a basket, best first (see
    /// `PriceListHeader::precedence`): valid on `date`, in `currency`, and
    /// scoped to this customer, one of their groups, this channel, or all.
    pub(crate) fn applicable_lists(
        &self,
        currency: Currency,
        date: NaiveDate,
        customer: CustomerId,
        groups: &[CustomerGroupId],
        channel: ChannelId,
    ) -> Vec<u32> {
        let mut keyed: Vec<_> = self
            .lists
            .iter()
            .zip(0u32..)
            .filter(|(h, _)| h.currency == currency && h.is_valid_on(date))
            .filter_map(|(h, pos)| Some((h.precedence(customer, groups, channel)?, pos)))
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, pos)| pos).collect()
    }

    /// The unit price of `product` per `uom` from the first of `lists` that
    /// has one (directly or by derivation), with where it came from. A
    /// derived price too large to compute counts as no price in that list.
    pub(crate) fn list_price(
        &self,
        lists: &[u32],
        product: ProductId,
        uom: &Uom,
    ) -> Option<FoundPrice<'_>> {
        let unit = *self.uoms.get(uom)?;
        lists
            .iter()
            .find_map(|pos| self.resolve(*pos, product, unit))
    }

    fn resolve(&self, list: u32, product: ProductId, unit: u32) -> Option<FoundPrice<'_>> {
        let header = &self.lists[list as usize];
        let mut factor = Decimal::ONE;
        let mut via = Vec::new();
        let mut at = list;
        // Derivation chains are acyclic (checked in `new`), so this ends.
        loop {
            if let Some(rate) = self.prices.get(&(at, product, unit)) {
                let minor = header.currency.minor_units();
                let dp = rate
                    .scale()
                    .clamp(minor, MAX_UNIT_PRICE_DECIMALS.max(minor));
                let price = if via.is_empty() {
                    *rate
                } else {
                    round_dp(rate.checked_mul(factor)?, dp, self.settings.rounding_mode)
                };
                return Some(FoundPrice {
                    list: header.id,
                    list_name: &header.name,
                    derived_via: via,
                    price,
                });
            }
            let base = self.bases[at as usize]?;
            let derivation = self.lists[at as usize].derivation.as_ref()?;
            factor = factor.checked_mul(Decimal::ONE + pct(derivation.adjustment_percent))?;
            via.push(self.lists[base as usize].id);
            at = base;
        }
    }

    /// Whether `id` names a list of this catalog.
    pub fn has_price_list(&self, id: PriceListId) -> bool {
        self.list_pos.contains_key(&id)
    }

    /// Positions of the rules with neither a product nor an item-group
    /// condition, in precedence order.
    pub(crate) fn rules_for_any_item(&self) -> &[u32] {
        &self.rules_for_any_item
    }

    /// Positions of the rules that could match a line of `product` in
    /// `item_groups`, in precedence order, into `out` (cleared first):
    /// those indexed by the product or one of the groups, plus `any_item`
    /// (the basket's share of [`Self::rules_for_any_item`], filtered once
    /// per basket by the caller).
    pub(crate) fn candidate_rules(
        &self,
        product: ProductId,
        item_groups: &[ItemGroupId],
        any_item: &[u32],
        out: &mut Vec<u32>,
    ) {
        out.clear();
        if let Some(r) = self.rules_by_product.get(&product) {
            out.extend_from_slice(r);
        }
        for g in item_groups {
            if let Some(r) = self.rules_by_item_group.get(g) {
                out.extend_from_slice(r);
            }
        }
        out.extend_from_slice(any_item);
        out.sort_unstable();
        out.dedup();
    }

    /// The guards covering a product in `item_groups`, by guard id.
    pub(crate) fn guards_for(
        &self,
        product: ProductId,
        item_groups: &[ItemGroupId],
    ) -> Vec<&PriceGuard> {
        let mut found: Vec<&PriceGuard> = self
            .guards_by_product
            .get(&product)
            .into_iter()
            .flatten()
            .chain(
                item_groups
                    .iter()
                    .filter_map(|g| self.guards_by_item_group.get(g))
                    .flatten(),
            )
            .collect();
        found.sort_by_key(|g| g.id());
        found.dedup_by_key(|g| g.id());
        found
    }
}

impl TryFrom<PricingCatalogSpec> for PricingCatalog {
    type Error = CatalogError;
    fn try_from(spec: PricingCatalogSpec) -> Result<Self, Self::Error> {
        PricingCatalog::new(spec)
    }
}

/// A list price and its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundPrice<'a> {
    pub(crate) list: PriceListId,
    pub(crate) list_name: &'a str,
    pub(crate) derived_via: Vec<PriceListId>,
    pub(crate) price: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::*;
    use crate::pricing::price_list::{Derivation, PriceListScope, PriceListSpec};
    use crate::pricing::rules::{PricingRuleSpec, RuleConditions, Stacking};
    use crate::pricing::tax::{TaxMode, TaxTemplateSpec};
    use crate::pricing::DiscountScheduleId;
    use rust_decimal_macros::dec;

    fn list(n: u64, derivation: Option<(u64, Decimal)>, items: Vec<PriceListItem>) -> PriceList {
        PriceList::new(PriceListSpec {
            id: list_id(n),
            name: format!("list {n}"),
            currency: Currency::EUR,
            scope: PriceListScope::default(),
            valid_from: None,
            valid_to: None,
            derivation: derivation.map(|(base, adjustment_percent)| Derivation {
                base: list_id(base),
                adjustment_percent,
            }),
            items,
        })
        .unwrap()
    }

    use crate::pricing::price_list::PriceListItem;

    fn catalog(lists: Vec<PriceList>) -> Result<PricingCatalog, CatalogError> {
        PricingCatalog::new(PricingCatalogSpec {
            price_lists: lists,
            ..Default::default()
        })
    }

    #[test]
    fn derived_lists_chain_markups_and_their_own_items_win() {
        let c = catalog(vec![
            list(
                1,
                None,
                vec![item(1, "pcs", dec!(10.00)), item(2, "pcs", dec!(20.00))],
            ),
            list(2, Some((1, dec!(10))), vec![item(2, "pcs", dec!(19.00))]),
            list(3, Some((2, dec!(-50))), vec![]),
        ])
        .unwrap();
        let pos3 = c.list_pos[&list_id(3)];
        let found = c.list_price(&[pos3], product_id(1), &uom("pcs")).unwrap();
        // 10.00 × 1.10 × 0.50
        assert_eq!(found.price, dec!(5.50));
        assert_eq!(found.list, list_id(3));
        assert_eq!(found.derived_via, vec![list_id(2), list_id(1)]);
        let found = c.list_price(&[pos3], product_id(2), &uom("pcs")).unwrap();
        assert_eq!(found.price, dec!(9.50));
        assert_eq!(found.derived_via, vec![list_id(2)]);
        assert!(c.list_price(&[pos3], product_id(3), &uom("pcs")).is_none());
        assert!(c.list_price(&[pos3], product_id(1), &uom("kg")).is_none());
    }

    #[test]
    fn a_derived_price_too_large_to_compute_is_no_price_not_a_panic() {
        let mut lists = vec![list(
            1,
            None,
            vec![item(1, "pcs", crate::money::Money::MAX_AMOUNT)],
        )];
        for n in 2..=12 {
            lists.push(list(n, Some((n - 1, dec!(1_000_000_000))), vec![]));
        }
        let c = catalog(lists).unwrap();
        let pos = c.list_pos[&list_id(12)];
        assert!(c.list_price(&[pos], product_id(1), &uom("pcs")).is_none());
    }

    #[test]
    fn derivation_cycles_unknown_bases_and_duplicates_are_rejected() {
        let err = catalog(vec![
            list(1, Some((2, dec!(1))), vec![]),
            list(2, Some((3, dec!(1))), vec![]),
            list(3, Some((1, dec!(1))), vec![]),
        ])
        .unwrap_err();
        assert!(matches!(err, CatalogError::DerivationCycle(_)));
        assert!(matches!(
            catalog(vec![list(1, Some((9, dec!(1))), vec![])]),
            Err(CatalogError::UnknownBaseList { .. })
        ));
        assert!(matches!(
            catalog(vec![list(1, None, vec![]), list(1, None, vec![])]),
            Err(CatalogError::DuplicatePriceList(_))
        ));
    }

    #[test]
    fn a_derived_list_in_another_currency_than_its_base_is_rejected() {
        let usd = PriceList::new(PriceListSpec {
            id: list_id(2),
            name: "usd".into(),
            currency: Currency::USD,
            scope: PriceListScope::default(),
            valid_from: None,
            valid_to: None,
            derivation: Some(Derivation {
                base: list_id(1),
                adjustment_percent: dec!(0),
            }),
            items: vec![],
        })
        .unwrap();
        assert!(matches!(
            catalog(vec![list(1, None, vec![]), usd]),
            Err(CatalogError::BaseCurrencyMismatch { .. })
        ));
    }

    #[test]
    fn a_rule_naming_an_unknown_schedule_is_rejected() {
        let rule = PricingRule::new(PricingRuleSpec {
            id: rule_id(1),
            name: "tiers".into(),
            priority: 0,
            stacking: Stacking::ApplyInOrder,
            conditions: RuleConditions::default(),
            action: RuleAction::Schedule {
                schedule: DiscountScheduleId::from_uuid(v7(9, 99)).unwrap(),
            },
        })
        .unwrap();
        let err = PricingCatalog::new(PricingCatalogSpec {
            rules: vec![rule],
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, CatalogError::UnknownSchedule { .. }));
    }

    #[test]
    fn two_default_tax_templates_or_two_for_one_channel_are_rejected() {
        let t = |n, default, channels: Vec<ChannelId>| {
            TaxTemplate::new(TaxTemplateSpec {
                id: tax_id(n),
                name: "t".into(),
                mode: TaxMode::Exclusive,
                lines: vec![],
                channels: channels.into_iter().collect(),
                customers: Default::default(),
                is_default: default,
            })
            .unwrap()
        };
        let err = PricingCatalog::new(PricingCatalogSpec {
            tax_templates: vec![t(1, true, vec![]), t(2, true, vec![])],
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, CatalogError::SeveralDefaultTaxTemplates(..)));
        let err = PricingCatalog::new(PricingCatalogSpec {
            tax_templates: vec![
                t(1, false, vec![channel_id(1)]),
                t(2, false, vec![channel_id(1)]),
            ],
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(
            err,
            CatalogError::SeveralChannelTaxTemplates { .. }
        ));
    }

    #[test]
    fn candidate_rules_come_from_product_group_and_any_item_indexes_in_precedence_order() {
        let mk = |n, priority, conditions| {
            let mut s = rule_spec(n, percent_off(dec!(1)));
            s.priority = priority;
            s.conditions = conditions;
            PricingRule::new(s).unwrap()
        };
        let c = PricingCatalog::new(PricingCatalogSpec {
            rules: vec![
                mk(1, 0, RuleConditions::default()),
                mk(
                    2,
                    9,
                    RuleConditions {
                        item_groups: [item_group_id(1)].into(),
                        ..Default::default()
                    },
                ),
                mk(
                    3,
                    0,
                    RuleConditions {
                        products: [product_id(1)].into(),
                        ..Default::default()
                    },
                ),
                mk(
                    4,
                    0,
                    RuleConditions {
                        products: [product_id(2)].into(),
                        ..Default::default()
                    },
                ),
            ],
            ..Default::default()
        })
        .unwrap();
        let mut out = vec![];
        c.candidate_rules(
            product_id(1),
            &[item_group_id(5), item_group_id(1)],
            c.rules_for_any_item(),
            &mut out,
        );
        let ids: Vec<_> = out.iter().map(|p| c.rule(*p).id()).collect();
        assert_eq!(ids, vec![rule_id(2), rule_id(3), rule_id(1)]);
    }
}
