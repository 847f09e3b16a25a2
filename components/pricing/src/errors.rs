//! Every pricing error a client can see, as problem+json.
//!
//! One function per domain error enum, each an exhaustive `match` without a
//! `_` arm: a new variant does not compile until someone decides its status,
//! code and the field it blames. Fields are JSON paths of the request that
//! caused them (`lines[2].quantity`, `conditions.min_qty`).

use sales_domain::pricing::{
    CatalogError, GuardError, PriceListError, PriceListItem, PricingError, RuleError,
    ScheduleError, TaxError,
};
use sales_kit::ApiError;

fn invalid(field: impl Into<String>, e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_field(field, e.to_string())
}

/// A price list that cannot be built; `items` locate an item's index.
pub fn price_list(e: PriceListError, items: &[PriceListItem]) -> ApiError {
    let at = |product, uom: &sales_domain::pricing::Uom, leaf: &str| {
        items
            .iter()
            .position(|i| i.product == product && &i.uom == uom)
            .map_or_else(|| "items".to_owned(), |n| format!("items[{n}].{leaf}"))
    };
    match &e {
        PriceListError::InvalidUom(_) => invalid("items", &e),
        PriceListError::EmptyName => invalid("name", &e),
        PriceListError::ValidityRange { .. } => invalid("valid_to", &e),
        PriceListError::NegativePrice { product, uom, .. }
        | PriceListError::PriceTooLarge { product, uom } => invalid(at(*product, uom, "rate"), &e),
        PriceListError::DuplicateItem { product, uom } => {
            // The second occurrence is the one at fault.
            let n = items
                .iter()
                .enumerate()
                .filter(|(_, i)| i.product == *product && &i.uom == uom)
                .nth(1)
                .map(|(n, _)| n);
            invalid(
                n.map_or_else(|| "items".to_owned(), |n| format!("items[{n}].product_id")),
                &e,
            )
        }
        PriceListError::AdjustmentBelowMinus100(_) => invalid("adjustment_percent", &e),
        PriceListError::DerivesFromItself => invalid("base_price_list_id", &e),
    }
}

pub fn rule(e: RuleError) -> ApiError {
    match &e {
        RuleError::EmptyName => invalid("name", &e),
        RuleError::InvalidCoupon(_) => invalid("conditions.coupon", &e),
        RuleError::QuantityRange { .. } => impossible_range("conditions.min_qty", &e),
        RuleError::AmountRange { .. } => impossible_range("conditions.min_amount", &e),
        RuleError::DateRange { .. } => impossible_range("conditions.valid_from", &e),
        RuleError::Negative { field, .. } => {
            let path = match *field {
                "min_qty" => "conditions.min_qty",
                "max_qty" => "conditions.max_qty",
                "min_amount" => "conditions.min_amount",
                "max_amount" => "conditions.max_amount",
                "discount amount" => "action.amount",
                "fixed rate" => "action.rate",
                _ => "action.percent",
            };
            invalid(path, &e)
        }
        RuleError::DiscountAbove100(_) => invalid("action.percent", &e),
        RuleError::FreeItemQuantity { .. } => invalid("action.buy", &e),
        RuleError::MixedCurrencies(..) => ApiError::new(
            422,
            "currency_mismatch",
            "Amounts are in different currencies",
            e.to_string(),
        )
        .with_field("action"),
    }
}

fn impossible_range(field: &str, e: &impl std::fmt::Display) -> ApiError {
    ApiError::new(
        422,
        "impossible_range",
        "A range can never be satisfied",
        e.to_string(),
    )
    .with_field(field)
}

pub fn schedule(e: ScheduleError) -> ApiError {
    match &e {
        ScheduleError::EmptyName => invalid("name", &e),
        ScheduleError::NoTiers => invalid("tiers", &e),
        ScheduleError::TierOrder { index, .. } => invalid(format!("tiers[{index}].from"), &e),
        ScheduleError::Percent { index, .. } => {
            invalid(format!("tiers[{index}].discount_percent"), &e)
        }
        ScheduleError::CurrencyRequired | ScheduleError::CurrencyNotAllowed => {
            invalid("currency", &e)
        }
        ScheduleError::DateRange { .. } => impossible_range("valid_from", &e),
    }
}

pub fn tax(e: TaxError, lines: &[sales_domain::pricing::TaxRate]) -> ApiError {
    let at = |code: &str, leaf: &str| {
        lines
            .iter()
            .position(|l| l.code == code)
            .map_or_else(|| "lines".to_owned(), |n| format!("lines[{n}].{leaf}"))
    };
    match &e {
        TaxError::EmptyName => invalid("name", &e),
        TaxError::InvalidCode(code) | TaxError::DuplicateCode(code) => {
            invalid(at(code, "code"), &e)
        }
        TaxError::Rate { code, .. } => invalid(at(code, "rate_percent"), &e),
    }
}

pub fn guard(e: GuardError) -> ApiError {
    match &e {
        GuardError::NothingGuarded => invalid("floor_price", &e),
        GuardError::NegativeFloor(_) => invalid("floor_price", &e),
        GuardError::MarginNotBelow100(_) => invalid("min_margin_percent", &e),
    }
}

/// The whole-set checks (`PricingCatalog::new`) a write or a basket failed.
pub fn catalog(e: CatalogError) -> ApiError {
    let conflict = |code, field| ApiError::conflict(code, e.to_string()).with_field(field);
    match &e {
        CatalogError::DuplicatePriceList(_)
        | CatalogError::DuplicateRule(_)
        | CatalogError::DuplicateSchedule(_)
        | CatalogError::DuplicateTaxTemplate(_)
        | CatalogError::DuplicateGuard(_) => ApiError::duplicate("id", e.to_string()),
        CatalogError::UnknownBaseList { .. } => ApiError::new(
            422,
            "unknown_reference",
            "A referenced record does not exist",
            format!("{e} (or it is inactive)"),
        )
        .with_field("base_price_list_id"),
        CatalogError::BaseCurrencyMismatch { .. } => ApiError::new(
            422,
            "currency_mismatch",
            "Amounts are in different currencies",
            e.to_string(),
        )
        .with_field("base_price_list_id"),
        CatalogError::DerivationCycle(_) => conflict("derivation_cycle", "base_price_list_id"),
        CatalogError::UnknownSchedule { .. } => ApiError::new(
            422,
            "unknown_reference",
            "A referenced record does not exist",
            format!("{e} (or it is inactive)"),
        )
        .with_field("action.schedule"),
        CatalogError::SeveralDefaultTaxTemplates(..) => {
            conflict("default_tax_template_taken", "is_default")
        }
        CatalogError::SeveralChannelTaxTemplates { .. } => {
            conflict("channel_tax_template_taken", "channels")
        }
        CatalogError::SeveralCustomerTaxTemplates { .. } => {
            conflict("customer_tax_template_taken", "customers")
        }
    }
}

/// A basket the engine refused. Line `n` is `lines[n - 1]` of the request
/// (the component numbers lines by position); `coupons` are the request's
/// codes, to point at the unknown one.
pub fn pricing(e: PricingError, coupons: &[String]) -> ApiError {
    let line = |n: u32, leaf: &str| format!("lines[{}].{leaf}", n.saturating_sub(1));
    match &e {
        PricingError::DuplicateLineNo(n) => invalid(line(*n, "product_id"), &e),
        PricingError::NonPositiveQuantity { line_no, .. }
        | PricingError::QuantityTooLarge { line_no, .. } => invalid(line(*line_no, "quantity"), &e),
        PricingError::CurrencyMismatch { .. } => ApiError::new(
            422,
            "currency_mismatch",
            "Amounts are in different currencies",
            format!("{e}: price the basket in the products' cost currency"),
        )
        .with_field("currency"),
        PricingError::UnknownProduct { line_no, .. } => ApiError::new(
            422,
            "no_price",
            "No price list prices this product",
            e.to_string(),
        )
        .with_field(line(*line_no, "product_id")),
        PricingError::UnknownCoupon(code) => {
            let n = coupons
                .iter()
                .position(|c| c.trim().eq_ignore_ascii_case(code.as_str()));
            ApiError::new(
                422,
                "unknown_coupon",
                "The coupon does not exist",
                e.to_string(),
            )
            .with_field(n.map_or_else(
                || "coupon_codes".to_owned(),
                |n| format!("coupon_codes[{n}]"),
            ))
        }
        // The component never sends a customer tax template override.
        PricingError::UnknownTaxTemplate(_) => ApiError::internal(e.to_string()),
        PricingError::FreeItemNotPriced { .. } => ApiError::new(
            422,
            "no_price",
            "No price list prices this product",
            e.to_string(),
        )
        .with_field("lines"),
        PricingError::LineNumberOverflow(_) => invalid("lines", &e),
        PricingError::Money(_) => ApiError::new(
            422,
            "out_of_range",
            "An amount is out of range",
            e.to_string(),
        )
        .with_field("lines"),
    }
}
