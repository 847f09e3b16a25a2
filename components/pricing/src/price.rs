//! `POST /api/v1/pricing/price`: a basket in, the priced basket with its
//! full waterfall out. Read-only: nothing is written, so no transaction and
//! no `Idempotency-Key` are needed (the same basket always prices the same).
//!
//! The component resolves what the engine takes as input — the customer's
//! group and territory chains, the channel and its tax mode, each product's
//! unit, standard cost and item-group chain — and loads only the slice of
//! the pricing data the basket can touch (`sales_store::pricing::load`),
//! from the key-value cache of the current pricing data version when it
//! holds it (`sales_store::pricing::snapshot`).
//! [`price_basket`] is shared with the WIT export.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::catalog::TaxMode as ChannelTaxMode;
use sales_domain::ids::{CustomerId, ItemGroupId, ProductId};
use sales_domain::money::Currency;
use sales_domain::pricing::{
    price, BasketLine, CouponCode, CustomerContext, PricedBasket, PricingCatalog, PricingRequest,
    TaxMode, Uom,
};
use sales_kit::auth::require;
use sales_kit::json::parse_json;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::pricing::load::{basket_catalog, basket_facts, BasketKeys};
use sales_store::pricing::snapshot::SnapshotCache;
use sales_store::{Db, StoreError};
use serde::Deserialize;

use crate::errors;
use crate::Ctx;

/// The most lines one basket may have.
pub const MAX_LINES: usize = 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasketBody {
    pub customer_id: CustomerId,
    pub channel_code: String,
    pub currency: Currency,
    /// The pricing date; today (UTC) when absent.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    #[serde(default)]
    pub coupon_codes: Vec<String>,
    pub lines: Vec<LineBody>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    pub product_id: ProductId,
    pub quantity: Decimal,
    /// The product's own unit when absent.
    #[serde(default)]
    pub uom: Option<String>,
}

fn problem(status: u16, code: &'static str, title: &'static str, detail: String) -> ApiError {
    ApiError::new(status, code, title, detail)
}

/// Prices `basket` against the stored catalog and pricing data, taking the
/// pricing data from `cache` when it holds the current version.
pub fn price_basket(
    db: &impl Db,
    cache: &impl SnapshotCache,
    basket: &BasketBody,
    today: NaiveDate,
) -> Result<PricedBasket, ApiError> {
    if basket.lines.is_empty() {
        return Err(ApiError::invalid_field(
            "lines",
            "a basket needs at least one line",
        ));
    }
    if basket.lines.len() > MAX_LINES {
        return Err(ApiError::invalid_field(
            "lines",
            format!("a basket has at most {MAX_LINES} lines"),
        ));
    }
    let coupons = basket
        .coupon_codes
        .iter()
        .enumerate()
        .map(|(n, c)| {
            CouponCode::new(c)
                .map_err(|e| ApiError::invalid_field(format!("coupon_codes[{n}]"), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut product_ids: Vec<ProductId> = basket.lines.iter().map(|l| l.product_id).collect();
    product_ids.sort();
    product_ids.dedup();
    let facts = match basket_facts(db, basket.customer_id, &basket.channel_code, &product_ids) {
        Ok(f) => f,
        Err(StoreError::NotFound { id, .. }) => {
            return Err(problem(
                422,
                "unknown_customer",
                "The customer does not exist",
                format!("customer {id} does not exist"),
            )
            .with_field("customer_id"))
        }
        Err(e) => return Err(e.into()),
    };
    if !facts.customer_active {
        return Err(problem(
            422,
            "unknown_customer",
            "The customer does not exist",
            format!("customer {} is inactive", basket.customer_id),
        )
        .with_field("customer_id"));
    }
    let channel = facts.channel.as_ref().filter(|c| c.active).ok_or_else(|| {
        problem(
            422,
            "unknown_channel",
            "The channel does not exist",
            format!("no active channel has code {:?}", basket.channel_code),
        )
        .with_field("channel_code")
    })?;

    let mut lines = Vec::with_capacity(basket.lines.len());
    let mut groups: Vec<ItemGroupId> = Vec::new();
    for ((n, line), line_no) in basket.lines.iter().enumerate().zip(1u32..) {
        let product = facts
            .products
            .get(&line.product_id)
            .filter(|p| p.active)
            .ok_or_else(|| {
                problem(
                    422,
                    "unknown_product",
                    "The product does not exist",
                    format!("product {} does not exist or is inactive", line.product_id),
                )
                .with_field(format!("lines[{n}].product_id"))
            })?;
        let uom = Uom::new(line.uom.as_deref().unwrap_or(&product.uom))
            .map_err(|e| ApiError::invalid_field(format!("lines[{n}].uom"), e.to_string()))?;
        groups.extend(product.item_groups.iter().copied());
        lines.push(BasketLine {
            line_no,
            product: product.id,
            item_groups: product.item_groups.clone(),
            uom,
            quantity: line.quantity,
            standard_cost: product.standard_cost,
        });
    }
    groups.sort();
    groups.dedup();

    let spec = basket_catalog(
        db,
        cache,
        &BasketKeys {
            currency: basket.currency,
            channel_code: &channel.code,
            products: &product_ids,
            item_groups: &groups,
            coupons: &coupons,
            pricing_version: facts.pricing_version,
        },
    )?;
    let catalog = PricingCatalog::new(spec).map_err(errors::catalog)?;
    let request = PricingRequest {
        customer: CustomerContext {
            id: basket.customer_id,
            groups: facts.customer_groups,
            territories: facts.territories,
            tax_exemption: None,
            tax_template: None,
        },
        channel: channel.id,
        currency: basket.currency,
        date: basket.date.unwrap_or(today),
        coupon_codes: coupons,
        tax_mode: Some(match channel.tax_mode {
            ChannelTaxMode::Inclusive => TaxMode::Inclusive,
            ChannelTaxMode::Exclusive => TaxMode::Exclusive,
        }),
        lines,
    };
    price(&catalog, &request).map_err(|e| errors::pricing(e, &basket.coupon_codes))
}

pub fn handle(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let basket: BasketBody = parse_json(req)?;
    let priced = price_basket(
        &ctx.db,
        &sales_kit::spin::KvCache::open_default(),
        &basket,
        ctx.now.date_naive(),
    )?;
    Ok(ApiResponse::json_bytes(200, answer_bytes(&priced)?))
}

/// The priced basket's JSON through its direct writer: the bytes
/// `serde_json` writes, without its cost (`PricedBasket::to_json_bytes`).
pub fn answer_bytes(priced: &PricedBasket) -> Result<Vec<u8>, ApiError> {
    priced
        .to_json_bytes()
        .map_err(|e| ApiError::internal(format!("failed to serialise the priced basket: {e}")))
}
