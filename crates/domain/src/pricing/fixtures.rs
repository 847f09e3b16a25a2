//! Test helpers shared by the pricing tests: deterministic ids, dates and
//! small builders. Compiled only for tests.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::{Builder, Uuid};

use super::*;
use crate::ids::{
    ChannelId, CustomerGroupId, CustomerId, ItemGroupId, PriceListId, ProductId, TerritoryId,
};
use crate::money::{Currency, Money};

/// A deterministic UUID v7: `kind` and `n` make distinct, stable ids.
pub fn v7(kind: u8, n: u64) -> Uuid {
    let mut rand = [0u8; 10];
    rand[0] = kind;
    rand[2..10].copy_from_slice(&n.to_be_bytes());
    Builder::from_unix_timestamp_millis(1_700_000_000_000 + n, &rand).into_uuid()
}

pub fn product_id(n: u64) -> ProductId {
    ProductId::from_uuid(v7(1, n)).unwrap()
}
pub fn group_id(n: u64) -> CustomerGroupId {
    CustomerGroupId::from_uuid(v7(2, n)).unwrap()
}
pub fn item_group_id(n: u64) -> ItemGroupId {
    ItemGroupId::from_uuid(v7(3, n)).unwrap()
}
pub fn customer_id(n: u64) -> CustomerId {
    CustomerId::from_uuid(v7(4, n)).unwrap()
}
pub fn territory_id(n: u64) -> TerritoryId {
    TerritoryId::from_uuid(v7(5, n)).unwrap()
}
pub fn channel_id(n: u64) -> ChannelId {
    ChannelId::from_uuid(v7(6, n)).unwrap()
}
pub fn list_id(n: u64) -> PriceListId {
    PriceListId::from_uuid(v7(7, n)).unwrap()
}
pub fn rule_id(n: u64) -> PricingRuleId {
    PricingRuleId::from_uuid(v7(8, n)).unwrap()
}
pub fn schedule_id(n: u64) -> DiscountScheduleId {
    DiscountScheduleId::from_uuid(v7(9, n)).unwrap()
}
pub fn tax_id(n: u64) -> TaxTemplateId {
    TaxTemplateId::from_uuid(v7(10, n)).unwrap()
}
pub fn guard_id(n: u64) -> PriceGuardId {
    PriceGuardId::from_uuid(v7(11, n)).unwrap()
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn uom(code: &str) -> Uom {
    Uom::new(code).unwrap()
}

pub fn eur(amount: Decimal) -> Money {
    Money::new(amount, Currency::EUR).unwrap()
}

pub fn item(product: u64, unit: &str, rate: Decimal) -> PriceListItem {
    PriceListItem {
        product: product_id(product),
        uom: uom(unit),
        rate,
    }
}

pub fn coupon(code: &str) -> CouponCode {
    CouponCode::new(code).unwrap()
}

/// A rule spec with no conditions, `ApplyInOrder`, priority 0.
pub fn rule_spec(n: u64, action: RuleAction) -> PricingRuleSpec {
    PricingRuleSpec {
        id: rule_id(n),
        name: format!("rule {n}"),
        priority: 0,
        stacking: Stacking::ApplyInOrder,
        conditions: RuleConditions::default(),
        action,
    }
}

pub fn percent_off(p: Decimal) -> RuleAction {
    RuleAction::DiscountPercent { percent: p }
}
