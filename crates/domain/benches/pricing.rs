//! Pricing engine benchmark: a 50-line basket against 1,000 active rules and
//! 100,000 price-list items, in process.
//!
//! Run: `cargo bench -p sales-domain --bench pricing`. The catalog is built
//! once outside the measured loop (building it is measured separately);
//! everything is generated from a fixed seed, so every run prices the same
//! basket.

// A benchmark is a test-like binary: a broken fixture should stop it loudly.
#![allow(clippy::expect_used)]

use std::collections::BTreeSet;
use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use rust_decimal::Decimal;
use sales_domain::ids::{
    ChannelId, CustomerGroupId, CustomerId, ItemGroupId, PriceListId, ProductId, TerritoryId,
};
use sales_domain::pricing::{
    price, BasketLine, CouponCode, CustomerContext, DiscountSchedule, DiscountScheduleId,
    DiscountScheduleSpec, FreeItem, FreeProduct, GuardScope, PriceGuard, PriceGuardId,
    PriceGuardSpec, PriceList, PriceListItem, PriceListScope, PriceListSpec, PricingCatalog,
    PricingCatalogSpec, PricingRequest, PricingRule, PricingRuleId, PricingRuleSpec,
    PricingSettings, RuleAction, RuleConditions, Stacking, TaxMode, TaxRate, TaxTemplate,
    TaxTemplateId, TaxTemplateSpec, Tier, TierBasis, TierKind, Uom,
};
use sales_domain::{Currency, Money};
use uuid::{Builder, Uuid};

const PRODUCTS: u64 = 80_000;
const GROUP_LIST_ITEMS: u64 = 15_000;
const CUSTOMER_LIST_ITEMS: u64 = 5_000;
const RULES: u64 = 1_000;
const LINES: u32 = 50;

/// A small deterministic generator (no `rand` dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn v7(kind: u8, n: u64) -> Uuid {
    let mut rand = [0u8; 10];
    rand[0] = kind;
    rand[2..10].copy_from_slice(&n.to_be_bytes());
    Builder::from_unix_timestamp_millis(1_700_000_000_000 + n, &rand).into_uuid()
}

macro_rules! id {
    ($t:ty, $kind:expr, $n:expr) => {
        <$t>::from_uuid(v7($kind, $n)).expect("v7")
    };
}

fn product(n: u64) -> ProductId {
    id!(ProductId, 1, n)
}
fn item_group(n: u64) -> ItemGroupId {
    id!(ItemGroupId, 3, n)
}
fn customer_group(n: u64) -> CustomerGroupId {
    id!(CustomerGroupId, 2, n)
}

/// 200 leaf groups under 20 middle groups under 4 roots.
fn group_chain(p: u64) -> Vec<ItemGroupId> {
    let leaf = p % 200;
    let middle = leaf % 20;
    let root = middle % 4;
    vec![
        item_group(leaf),
        item_group(200 + middle),
        item_group(220 + root),
    ]
}

fn eur(minor: u64) -> Money {
    Money::from_minor(i64::try_from(minor).expect("small"), Currency::EUR).expect("in range")
}

fn pcs() -> Uom {
    Uom::new("pcs").expect("uom")
}

fn catalog_spec() -> PricingCatalogSpec {
    let mut rng = Lcg(42);
    let list = |n: u64, scope: PriceListScope, items: Vec<PriceListItem>| {
        PriceList::new(PriceListSpec {
            id: id!(PriceListId, 7, n),
            name: format!("list {n}"),
            currency: Currency::EUR,
            scope,
            valid_from: None,
            valid_to: None,
            derivation: None,
            items,
        })
        .expect("list")
    };
    let items = |range: std::ops::RangeInclusive<u64>, rng: &mut Lcg| -> Vec<PriceListItem> {
        range
            .map(|p| PriceListItem {
                product: product(p),
                uom: pcs(),
                rate: Decimal::new(i64::try_from(100 + rng.below(100_000)).expect("small"), 2),
            })
            .collect()
    };
    let general = items(1..=PRODUCTS, &mut rng);
    let group = items(1..=GROUP_LIST_ITEMS, &mut rng);
    let own = items(1..=CUSTOMER_LIST_ITEMS, &mut rng);
    let price_lists = vec![
        list(1, PriceListScope::default(), general),
        list(
            2,
            PriceListScope {
                customer_group: Some(customer_group(2)),
                ..Default::default()
            },
            group,
        ),
        list(
            3,
            PriceListScope {
                customer: Some(id!(CustomerId, 4, 1)),
                ..Default::default()
            },
            own,
        ),
    ];

    let schedules: Vec<DiscountSchedule> = (0..5)
        .map(|s| {
            DiscountSchedule::new(DiscountScheduleSpec {
                id: id!(DiscountScheduleId, 9, s),
                name: format!("schedule {s}"),
                kind: if s % 2 == 0 {
                    TierKind::Volume
                } else {
                    TierKind::Slab
                },
                basis: TierBasis::Quantity,
                currency: None,
                tiers: (0..4)
                    .map(|t| Tier {
                        from: Decimal::from(t * 10),
                        discount_percent: Decimal::from(t * 3),
                    })
                    .collect(),
                valid_from: None,
                valid_to: None,
            })
            .expect("schedule")
        })
        .collect();

    let stackings = [
        Stacking::ApplyInOrder,
        Stacking::BestForCustomer,
        Stacking::Exclusive,
    ];
    let mut rules = Vec::new();
    for n in 0..RULES {
        let mut conditions = RuleConditions::default();
        let action = match n % 20 {
            // 50 % product rules.
            0..=9 => {
                conditions.products = [product(1 + rng.below(PRODUCTS))].into();
                if n % 3 == 0 {
                    conditions.min_qty = Some(Decimal::from(rng.below(20)));
                }
                if n % 2 == 0 {
                    RuleAction::DiscountPercent {
                        percent: Decimal::from(1 + rng.below(30)),
                    }
                } else {
                    RuleAction::DiscountAmount {
                        amount: eur(10 + rng.below(500)),
                    }
                }
            }
            // 30 % item-group rules, some mixed, some for a customer group.
            10..=15 => {
                conditions.item_groups = [item_group(rng.below(220))].into();
                conditions.mixed = n % 4 == 0;
                if n % 5 == 0 {
                    conditions.customer_groups = [customer_group(rng.below(4))].into();
                }
                if n % 7 == 0 {
                    RuleAction::Schedule {
                        schedule: id!(DiscountScheduleId, 9, rng.below(5)),
                    }
                } else {
                    RuleAction::DiscountPercent {
                        percent: Decimal::from(1 + rng.below(15)),
                    }
                }
            }
            // 10 % basket-wide rules on customer group, territory, channel.
            16 | 17 => {
                match n % 3 {
                    0 => conditions.customer_groups = [customer_group(rng.below(4))].into(),
                    1 => conditions.territories = [id!(TerritoryId, 5, rng.below(4))].into(),
                    _ => conditions.channels = [id!(ChannelId, 6, rng.below(3))].into(),
                }
                conditions.min_amount = Some(eur(rng.below(50_000)));
                RuleAction::DiscountPercent {
                    percent: Decimal::from(1 + rng.below(5)),
                }
            }
            // 5 % free items.
            18 => {
                conditions.products = [product(1 + rng.below(PRODUCTS))].into();
                RuleAction::FreeItem(FreeItem {
                    product: FreeProduct::Same,
                    buy: Decimal::from(5 + rng.below(10)),
                    get: Decimal::ONE,
                    recursive: true,
                })
            }
            // 5 % coupon rules, five for each of ten coupons (n % 20 is 19
            // here, so the coupon cycles on n / 20).
            _ => {
                conditions.coupon =
                    Some(CouponCode::new(&format!("C{}", (n / 20) % 10)).expect("code"));
                RuleAction::DiscountPercent {
                    percent: Decimal::from(5 + rng.below(10)),
                }
            }
        };
        conditions.valid_from = NaiveDate::from_ymd_opt(2026, 1, 1);
        conditions.valid_to = NaiveDate::from_ymd_opt(2026, 12, 31);
        rules.push(
            PricingRule::new(PricingRuleSpec {
                id: id!(PricingRuleId, 8, n),
                name: format!("rule {n}"),
                priority: u32::try_from(rng.below(5)).expect("small"),
                stacking: stackings[usize::try_from(rng.below(3)).expect("small")],
                conditions,
                action,
            })
            .expect("rule"),
        );
    }

    let tax_templates = vec![TaxTemplate::new(TaxTemplateSpec {
        id: id!(TaxTemplateId, 10, 1),
        name: "VAT".into(),
        mode: TaxMode::Exclusive,
        lines: vec![
            TaxRate {
                code: "VAT".into(),
                name: "VAT 20%".into(),
                rate_percent: Decimal::from(20),
            },
            TaxRate {
                code: "ECO".into(),
                name: "Eco levy".into(),
                rate_percent: Decimal::new(5, 1),
            },
        ],
        channels: BTreeSet::new(),
        customers: BTreeSet::new(),
        is_default: true,
    })
    .expect("tax")];

    let guards = (0..100)
        .map(|g| {
            PriceGuard::new(PriceGuardSpec {
                id: id!(PriceGuardId, 11, g),
                scope: GuardScope::ItemGroup(item_group(g * 2)),
                floor_price: Some(eur(100)),
                min_margin_percent: Some(Decimal::from(10)),
            })
            .expect("guard")
        })
        .collect();

    PricingCatalogSpec {
        settings: PricingSettings::default(),
        price_lists,
        rules,
        schedules,
        tax_templates,
        guards,
    }
}

/// 50 lines; half the products are ones that product rules target.
fn basket(spec: &PricingCatalogSpec) -> PricingRequest {
    let mut rng = Lcg(7);
    let targeted: Vec<ProductId> = spec
        .rules
        .iter()
        .flat_map(|r| r.conditions().products.iter().copied())
        .collect();
    let lines = (1..=LINES)
        .map(|no| {
            let p = if no % 2 == 0 {
                targeted[usize::try_from(rng.below(targeted.len() as u64)).expect("small")]
            } else {
                product(1 + rng.below(PRODUCTS))
            };
            // Recover the product number for its group chain from the id.
            let n = u64::from_be_bytes(p.as_uuid().as_bytes()[8..16].try_into().expect("8"));
            BasketLine {
                line_no: no,
                product: p,
                item_groups: group_chain(n),
                uom: pcs(),
                quantity: Decimal::from(1 + rng.below(40)),
                standard_cost: eur(50 + rng.below(40_000)),
            }
        })
        .collect();
    PricingRequest {
        customer: CustomerContext {
            id: id!(CustomerId, 4, 1),
            groups: vec![customer_group(2), customer_group(0)],
            territories: vec![id!(TerritoryId, 5, 3), id!(TerritoryId, 5, 1)],
            tax_exemption: None,
            tax_template: None,
        },
        channel: id!(ChannelId, 6, 1),
        currency: Currency::EUR,
        date: NaiveDate::from_ymd_opt(2026, 6, 15).expect("date"),
        coupon_codes: vec![CouponCode::new("C9").expect("code")],
        tax_mode: None,
        lines,
    }
}

fn bench_pricing(c: &mut Criterion) {
    let spec = catalog_spec();
    let request = basket(&spec);
    let catalog = PricingCatalog::new(spec.clone()).expect("catalog");
    assert_eq!(catalog.price_count(), 100_000);
    assert_eq!(catalog.rules().len(), 1_000);
    let priced = price(&catalog, &request).expect("priced");
    let adjusted = priced
        .lines
        .iter()
        .filter(|l| !l.adjustments.is_empty())
        .count();
    eprintln!(
        "basket: {} lines priced ({} with rule adjustments), gross {}",
        priced.lines.len(),
        adjusted,
        priced.totals.gross_total
    );
    // `PRICING_ANSWER_OUT=file` writes the answer's JSON, to compare two
    // builds byte for byte (the ids are generated from the seed too).
    if let Ok(path) = std::env::var("PRICING_ANSWER_OUT") {
        std::fs::write(&path, serde_json::to_vec(&priced).expect("json")).expect("write");
        eprintln!("answer written to {path}");
    }

    c.bench_function("price 50-line basket, 1000 rules, 100k items", |b| {
        b.iter(|| price(black_box(&catalog), black_box(&request)))
    });
    c.bench_function("price 50-line basket and serialize to JSON", |b| {
        b.iter(|| {
            let result = price(black_box(&catalog), black_box(&request)).expect("priced");
            serde_json::to_vec(&result).expect("json")
        })
    });
    // What the component answers with: the same bytes (checked here too).
    assert_eq!(
        priced.to_json_bytes().expect("json"),
        serde_json::to_vec(&priced).expect("json")
    );
    c.bench_function("price 50-line basket and write its JSON directly", |b| {
        b.iter(|| {
            let result = price(black_box(&catalog), black_box(&request)).expect("priced");
            result.to_json_bytes().expect("json")
        })
    });
    let mut group = c.benchmark_group("catalog");
    group.sample_size(10);
    group.bench_function("build catalog, 1000 rules, 100k items", |b| {
        b.iter(|| PricingCatalog::new(black_box(spec.clone())))
    });
    group.finish();
}

criterion_group!(benches, bench_pricing);
criterion_main!(benches);
