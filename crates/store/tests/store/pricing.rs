use std::collections::BTreeSet;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sales_domain::catalog::{Customer, NewCustomer, NewProduct, Product};
use sales_domain::ids::{
    CustomerGroupId, CustomerId, ItemGroupId, PriceListId, ProductId, TerritoryId,
};
use sales_domain::money::{Currency, Money};
use sales_domain::pricing::{
    price, BasketLine, CouponCode, CustomerContext, Derivation, DiscountSchedule,
    DiscountScheduleId, DiscountScheduleSpec, FreeItem, FreeProduct, GuardScope, PriceGuard,
    PriceGuardId, PriceGuardSpec, PriceList, PriceListItem, PriceListScope, PriceListSpec,
    PricingCatalog, PricingRequest, PricingRule, PricingRuleId, PricingRuleSpec, RuleAction,
    RuleConditions, Stacking, TaxMode, TaxRate, TaxTemplate, TaxTemplateId, TaxTemplateSpec, Tier,
    TierBasis, TierKind, Uom,
};
use sales_store::pricing::load::{basket_catalog, basket_facts, BasketKeys};
use sales_store::pricing::price_lists::{self, PriceListFilter};
use sales_store::pricing::rules::{self, RuleFilter};
use sales_store::pricing::snapshot::{self, Snapshot, SnapshotCache};
use sales_store::pricing::{guards, schedules, tax_templates};
use sales_store::rusqlite_db::{Counted, RusqliteDb};
use sales_store::{customers, products, trees, Db, Page, StoreError};

use crate::common::{at, db};
use crate::fixtures::{new_customer, new_product, node};

fn pcs() -> Uom {
    Uom::new("pcs").unwrap()
}

fn item(product: ProductId, rate: Decimal) -> PriceListItem {
    PriceListItem {
        product,
        uom: pcs(),
        rate,
    }
}

fn list_spec(name: &str, items: Vec<PriceListItem>) -> PriceListSpec {
    PriceListSpec {
        id: PriceListId::new(),
        name: name.into(),
        currency: Currency::EUR,
        scope: PriceListScope::default(),
        valid_from: None,
        valid_to: None,
        derivation: None,
        items,
    }
}

fn rule(name: &str, conditions: RuleConditions, action: RuleAction) -> PricingRule {
    PricingRule::new(PricingRuleSpec {
        id: PricingRuleId::new(),
        name: name.into(),
        priority: 0,
        stacking: Stacking::ApplyInOrder,
        conditions,
        action,
    })
    .unwrap()
}

fn percent_off(products: &[ProductId], percent: Decimal) -> PricingRule {
    rule(
        "percent off",
        RuleConditions {
            products: products.iter().copied().collect(),
            ..RuleConditions::default()
        },
        RuleAction::DiscountPercent { percent },
    )
}

fn stored_product(db: &RusqliteDb, sku: &str, group: Option<ItemGroupId>) -> Product {
    let p = Product::create(
        ProductId::new(),
        NewProduct {
            item_group_id: group,
            ..new_product(sku)
        },
    )
    .unwrap();
    products::create(db, &p, at(1)).unwrap();
    p
}

#[test]
fn a_price_list_round_trips_as_a_header_and_its_items_page_in_product_order() {
    let db = db();
    let ids: Vec<ProductId> = (0..5).map(|_| ProductId::new()).collect();
    let list = PriceList::new(list_spec(
        "Standard",
        ids.iter().map(|p| item(*p, dec!(10.50))).collect(),
    ))
    .unwrap();
    let stored = price_lists::create(&db, &list, at(1)).unwrap();
    assert_eq!(stored.version, 1);
    assert!(stored.record.active);
    assert_eq!(stored.record.value.name(), "Standard");
    assert!(
        stored.record.value.items().is_empty(),
        "headers carry no items"
    );

    let (first, next) = price_lists::items(&db, list.id(), None, &Page::first(3)).unwrap();
    assert_eq!(first.len(), 3);
    let (rest, last) =
        price_lists::items(&db, list.id(), None, &Page::after(3, next.unwrap())).unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(last, None);
    let mut all: Vec<ProductId> = first.iter().chain(&rest).map(|i| i.product).collect();
    let sorted = {
        let mut s = all.clone();
        s.sort();
        s
    };
    assert_eq!(all, sorted);
    all.dedup();
    assert_eq!(all.len(), 5);
}

#[test]
fn replacing_and_upserting_items_bump_the_version_and_replace_needs_the_current_one() {
    let db = db();
    let a = ProductId::new();
    let b = ProductId::new();
    let list = PriceList::new(list_spec("L", vec![item(a, dec!(1))])).unwrap();
    price_lists::create(&db, &list, at(1)).unwrap();

    let v2 =
        price_lists::upsert_items(&db, list.id(), &[item(a, dec!(2)), item(b, dec!(3))], at(2))
            .unwrap();
    assert_eq!(v2.version, 2);
    let (items, _) = price_lists::items(&db, list.id(), Some(a), &Page::first(10)).unwrap();
    assert_eq!(items, vec![item(a, dec!(2))]);

    assert!(matches!(
        price_lists::replace_items(&db, list.id(), &[item(b, dec!(9))], 1, at(3)),
        Err(StoreError::VersionConflict { actual: 2, .. })
    ));
    let v3 = price_lists::replace_items(&db, list.id(), &[item(b, dec!(9))], 2, at(3)).unwrap();
    assert_eq!(v3.version, 3);
    let (items, _) = price_lists::items(&db, list.id(), None, &Page::first(10)).unwrap();
    assert_eq!(items, vec![item(b, dec!(9))]);
}

#[test]
fn price_lists_filter_by_currency_and_activity_and_deactivation_is_idempotent() {
    let db = db();
    let eur = PriceList::new(list_spec("Euro", vec![])).unwrap();
    let usd = PriceList::new(PriceListSpec {
        currency: Currency::USD,
        ..list_spec("Dollar", vec![])
    })
    .unwrap();
    price_lists::create(&db, &eur, at(1)).unwrap();
    price_lists::create(&db, &usd, at(1)).unwrap();
    let filter = PriceListFilter {
        currency: Some(Currency::USD),
        ..PriceListFilter::default()
    };
    let (found, _) = price_lists::list(&db, &filter, &Page::first(10)).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].record.value.id(), usd.id());

    let d = price_lists::deactivate(&db, eur.id(), at(2)).unwrap();
    assert!(!d.record.active);
    assert_eq!(
        price_lists::deactivate(&db, eur.id(), at(3))
            .unwrap()
            .version,
        d.version
    );
    let active = PriceListFilter {
        active: Some(true),
        ..PriceListFilter::default()
    };
    let (found, _) = price_lists::list(&db, &active, &Page::first(10)).unwrap();
    assert_eq!(found.len(), 1);
}

#[test]
fn a_derived_list_keeps_its_base_and_the_base_knows_it_is_in_use() {
    let db = db();
    let base = PriceList::new(list_spec("Base", vec![])).unwrap();
    price_lists::create(&db, &base, at(1)).unwrap();
    let derived = PriceList::new(PriceListSpec {
        derivation: Some(Derivation {
            base: base.id(),
            adjustment_percent: dec!(-10),
        }),
        ..list_spec("Derived", vec![])
    })
    .unwrap();
    price_lists::create(&db, &derived, at(1)).unwrap();
    let back = price_lists::get(&db, derived.id()).unwrap().record.value;
    assert_eq!(back.derivation(), derived.derivation());
    assert!(price_lists::has_active_derivations(&db, base.id()).unwrap());
    assert!(!price_lists::has_active_derivations(&db, derived.id()).unwrap());
}

#[test]
fn rules_round_trip_update_with_versions_and_filter_by_coupon() {
    let db = db();
    let p = ProductId::new();
    let r = rule(
        "Spring",
        RuleConditions {
            products: [p].into(),
            coupon: Some(CouponCode::new("spring-10").unwrap()),
            ..RuleConditions::default()
        },
        RuleAction::DiscountPercent { percent: dec!(10) },
    );
    let stored = rules::create(&db, &r, at(1)).unwrap();
    assert_eq!(stored.record.value, r);
    let filter = RuleFilter {
        coupon: Some(CouponCode::new("SPRING-10").unwrap()),
        ..RuleFilter::default()
    };
    assert_eq!(
        rules::list(&db, &filter, &Page::first(10)).unwrap().0.len(),
        1
    );
    assert!(matches!(
        rules::update(&db, &r, 7, at(2)),
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(rules::update(&db, &r, 1, at(2)).unwrap().version, 2);
    assert!(matches!(
        rules::get(&db, PricingRuleId::new()),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn schedules_taxes_and_guards_round_trip() {
    let db = db();
    let s = schedule();
    assert_eq!(schedules::create(&db, &s, at(1)).unwrap().record.value, s);
    assert!(schedules::is_active(&db, s.id()).unwrap());
    let using = rule(
        "tiers",
        RuleConditions::default(),
        RuleAction::Schedule { schedule: s.id() },
    );
    rules::create(&db, &using, at(1)).unwrap();
    assert!(rules::schedule_in_use(&db, s.id()).unwrap());

    let t = TaxTemplate::new(TaxTemplateSpec {
        is_default: true,
        ..template_spec("VAT")
    })
    .unwrap();
    assert_eq!(
        tax_templates::create(&db, &t, at(1)).unwrap().record.value,
        t
    );
    assert_eq!(tax_templates::all_active(&db).unwrap(), vec![t.clone()]);
    tax_templates::deactivate(&db, t.id(), at(2)).unwrap();
    assert!(tax_templates::all_active(&db).unwrap().is_empty());

    let g = PriceGuard::new(PriceGuardSpec {
        id: PriceGuardId::new(),
        scope: GuardScope::Product(ProductId::new()),
        floor_price: Some(Money::new(dec!(5), Currency::EUR).unwrap()),
        min_margin_percent: None,
    })
    .unwrap();
    assert_eq!(guards::create(&db, &g, at(1)).unwrap().record.value, g);
}

#[test]
fn basket_facts_resolve_ancestry_chains_nearest_first() {
    let db = db();
    let root = node(CustomerGroupId::new(), "ALL", None);
    let child = node(CustomerGroupId::new(), "RETAIL", Some(root.id()));
    trees::create(&db, &root, at(1)).unwrap();
    trees::create(&db, &child, at(1)).unwrap();
    let world = node(TerritoryId::new(), "WORLD", None);
    let de = node(TerritoryId::new(), "DE", Some(world.id()));
    trees::create(&db, &world, at(1)).unwrap();
    trees::create(&db, &de, at(1)).unwrap();
    let tools = node(ItemGroupId::new(), "TOOLS", None);
    let drills = node(ItemGroupId::new(), "DRILLS", Some(tools.id()));
    trees::create(&db, &tools, at(1)).unwrap();
    trees::create(&db, &drills, at(1)).unwrap();
    let c = Customer::create(
        CustomerId::new(),
        NewCustomer {
            customer_group_id: Some(child.id()),
            territory_id: Some(de.id()),
            ..new_customer("Chain Ltd")
        },
    )
    .unwrap();
    customers::create(&db, &c, at(1)).unwrap();
    let drill = stored_product(&db, "DRILL", Some(drills.id()));
    let loose = stored_product(&db, "LOOSE", None);
    let missing = ProductId::new();

    let facts = basket_facts(&db, c.id(), "NOPE", &[drill.id(), loose.id(), missing]).unwrap();
    assert!(facts.customer_active);
    assert_eq!(facts.pricing_version, snapshot::data_version(&db).unwrap());
    assert_eq!(facts.customer_groups, vec![child.id(), root.id()]);
    assert_eq!(facts.territories, vec![de.id(), world.id()]);
    assert!(facts.channel.is_none());
    assert_eq!(
        facts.products[&drill.id()].item_groups,
        vec![drills.id(), tools.id()]
    );
    assert!(facts.products[&loose.id()].item_groups.is_empty());
    assert_eq!(facts.products[&loose.id()].uom, "pcs");
    assert!(!facts.products.contains_key(&missing));
    assert!(matches!(
        basket_facts(&db, CustomerId::new(), "X", &[]),
        Err(StoreError::NotFound { .. })
    ));
}

/// Inserts `n` items for fresh products into `list`, in one transaction.
fn bulk_items(db: &RusqliteDb, list: PriceListId, n: usize) {
    let items: Vec<PriceListItem> = (0..n).map(|_| item(ProductId::new(), dec!(3))).collect();
    db.transaction(|db| price_lists::upsert_items(db, list, &items, at(1)).map(|_| ()))
        .unwrap();
}

#[test]
fn the_basket_catalog_holds_only_what_the_basket_can_touch_and_prices_like_the_full_one() {
    let db = db();
    let group = node(ItemGroupId::new(), "G", None);
    trees::create(&db, &group, at(1)).unwrap();
    let bought = stored_product(&db, "BOUGHT", Some(group.id()));
    let gift = ProductId::new();
    let other = ProductId::new();

    let general = PriceList::new(list_spec(
        "General",
        vec![
            item(bought.id(), dec!(100)),
            item(gift, dec!(7)),
            item(other, dec!(1)),
        ],
    ))
    .unwrap();
    price_lists::create(&db, &general, at(1)).unwrap();
    bulk_items(&db, general.id(), 20_000);
    let dollars = PriceList::new(PriceListSpec {
        currency: Currency::USD,
        ..list_spec("Dollars", vec![item(bought.id(), dec!(120))])
    })
    .unwrap();
    price_lists::create(&db, &dollars, at(1)).unwrap();

    let on_product = percent_off(&[bought.id()], dec!(10));
    let on_group = rule(
        "group",
        RuleConditions {
            item_groups: [group.id()].into(),
            ..RuleConditions::default()
        },
        RuleAction::DiscountAmount {
            amount: Money::new(dec!(1), Currency::EUR).unwrap(),
        },
    );
    let free = rule(
        "gift",
        RuleConditions {
            products: [bought.id()].into(),
            ..RuleConditions::default()
        },
        RuleAction::FreeItem(FreeItem {
            product: FreeProduct::Other {
                product: gift,
                uom: pcs(),
            },
            buy: dec!(2),
            get: dec!(1),
            recursive: false,
        }),
    );
    let elsewhere = percent_off(&[other], dec!(50));
    let coupon = rule(
        "coupon elsewhere",
        RuleConditions {
            products: [other].into(),
            coupon: Some(CouponCode::new("WELCOME").unwrap()),
            ..RuleConditions::default()
        },
        RuleAction::DiscountPercent { percent: dec!(5) },
    );
    // For any item, for other customers: loaded, does not apply.
    let basket_wide = rule(
        "other customers",
        RuleConditions {
            customers: [CustomerId::new()].into(),
            ..RuleConditions::default()
        },
        RuleAction::DiscountPercent { percent: dec!(1) },
    );
    let other_coupon = rule(
        "autumn coupon, any item",
        RuleConditions {
            coupon: Some(CouponCode::new("AUTUMN").unwrap()),
            ..RuleConditions::default()
        },
        RuleAction::DiscountPercent { percent: dec!(5) },
    );
    for r in [
        &on_product,
        &on_group,
        &free,
        &elsewhere,
        &coupon,
        &basket_wide,
        &other_coupon,
    ] {
        rules::create(&db, r, at(1)).unwrap();
    }
    let retired = percent_off(&[bought.id()], dec!(90));
    rules::create(&db, &retired, at(1)).unwrap();
    rules::deactivate(&db, retired.id(), at(2)).unwrap();

    let coupons = [CouponCode::new("welcome").unwrap()];
    let keys = BasketKeys {
        currency: Currency::EUR,
        channel_code: "WEB",
        products: &[bought.id()],
        item_groups: &[group.id()],
        coupons: &coupons,
        pricing_version: snapshot::data_version(&db).unwrap(),
    };
    let spec = basket_catalog(&db, &(), &keys).unwrap();
    // The cached snapshot gives the same slice, on the miss that fills the
    // cache and on the hit after it.
    let cache = MapCache::default();
    assert_eq!(basket_catalog(&db, &cache, &keys).unwrap(), spec);
    assert_eq!(cache.sets.get(), 1);
    assert_eq!(basket_catalog(&db, &cache, &keys).unwrap(), spec);
    assert_eq!(cache.sets.get(), 1, "a hit writes nothing");
    assert_eq!(
        spec.price_lists.len(),
        1,
        "only lists in the basket's currency"
    );
    let mut loaded: Vec<ProductId> = spec.price_lists[0]
        .items()
        .iter()
        .map(|i| i.product)
        .collect();
    loaded.sort();
    let mut expected = vec![bought.id(), gift];
    expected.sort();
    assert_eq!(
        loaded, expected,
        "the basket's product and the free item only"
    );
    let mut rule_ids: Vec<PricingRuleId> = spec.rules.iter().map(PricingRule::id).collect();
    rule_ids.sort();
    // Not the rule on another product, nor the any-item rule of a coupon
    // the basket does not carry.
    let mut expected = vec![
        on_product.id(),
        on_group.id(),
        free.id(),
        coupon.id(),
        basket_wide.id(),
    ];
    expected.sort();
    assert_eq!(rule_ids, expected);

    let catalog = PricingCatalog::new(spec).unwrap();
    let request = PricingRequest {
        customer: CustomerContext {
            id: CustomerId::new(),
            groups: vec![],
            territories: vec![],
            tax_exemption: None,
            tax_template: None,
        },
        channel: sales_domain::ids::ChannelId::new(),
        currency: Currency::EUR,
        date: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        coupon_codes: coupons.to_vec(),
        tax_mode: None,
        lines: vec![BasketLine {
            line_no: 1,
            product: bought.id(),
            item_groups: vec![group.id()],
            uom: pcs(),
            quantity: dec!(2),
            standard_cost: Money::new(dec!(50), Currency::EUR).unwrap(),
        }],
    };
    let priced = price(&catalog, &request).unwrap();
    assert_eq!(priced.lines.len(), 2, "the paid line and the free one");
    // 100 − 10 % = 90, − 1.00 = 89.
    assert_eq!(priced.lines[0].net_unit_price.amount(), dec!(89.00));
}

#[test]
fn a_basket_finds_its_items_by_the_product_index() {
    let db = db();
    let rows = db
        .execute(
            "EXPLAIN QUERY PLAN SELECT price_list_id, product_id, uom, rate FROM price_list_items
             WHERE product_id IN (?, ?) AND price_list_id IN (?)",
            &[
                ProductId::new().to_string().into(),
                ProductId::new().to_string().into(),
                PriceListId::new().to_string().into(),
            ],
        )
        .unwrap();
    let plan: Vec<String> = rows
        .iter()
        .map(|r| r.text("detail").unwrap().to_owned())
        .collect();
    assert!(
        plan.iter()
            .any(|d| d.contains("USING") && !d.starts_with("SCAN")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|d| d.starts_with("SCAN price_list_items")),
        "{plan:?}"
    );
}

/// An in-memory cache that counts its writes.
#[derive(Default)]
struct MapCache {
    entries: std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>>,
    sets: std::cell::Cell<usize>,
}

impl SnapshotCache for MapCache {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.borrow().get(key).cloned()
    }
    fn set(&self, key: &str, value: &[u8]) {
        self.sets.set(self.sets.get() + 1);
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), value.to_vec());
    }
}

fn schedule() -> DiscountSchedule {
    DiscountSchedule::new(DiscountScheduleSpec {
        id: DiscountScheduleId::new(),
        name: "Volume".into(),
        kind: TierKind::Volume,
        basis: TierBasis::Quantity,
        currency: None,
        tiers: vec![Tier {
            from: dec!(10),
            discount_percent: dec!(5),
        }],
        valid_from: None,
        valid_to: None,
    })
    .unwrap()
}

fn template_spec(name: &str) -> TaxTemplateSpec {
    TaxTemplateSpec {
        id: TaxTemplateId::new(),
        name: name.into(),
        mode: TaxMode::Exclusive,
        lines: vec![TaxRate {
            code: "VAT".into(),
            name: "VAT 19".into(),
            rate_percent: dec!(19),
        }],
        channels: BTreeSet::new(),
        customers: Default::default(),
        is_default: false,
    }
}

fn template(name: &str) -> TaxTemplate {
    TaxTemplate::new(template_spec(name)).unwrap()
}

fn guard(min_margin: Decimal) -> PriceGuard {
    PriceGuard::new(PriceGuardSpec {
        id: PriceGuardId::new(),
        scope: GuardScope::Product(ProductId::new()),
        floor_price: None,
        min_margin_percent: Some(min_margin),
    })
    .unwrap()
}

/// Issue 4 (pricing speed): the cached snapshot is keyed by the pricing data
/// version, so every write to the data it holds must move the version, in
/// the write's own transaction.
#[test]
fn every_pricing_write_bumps_the_pricing_data_version() {
    let db = db();
    let mut seen = snapshot::data_version(&db).unwrap();
    let mut bumped = |what: &str| {
        let now = snapshot::data_version(&db).unwrap();
        assert!(now > seen, "{what} did not bump the pricing data version");
        seen = now;
    };

    let list = PriceList::new(list_spec("General", vec![])).unwrap();
    price_lists::create(&db, &list, at(1)).unwrap();
    bumped("creating a price list");
    let renamed = PriceList::new(PriceListSpec {
        id: list.id(),
        ..list_spec("Renamed", vec![])
    })
    .unwrap();
    price_lists::update(&db, &renamed, 1, at(2)).unwrap();
    bumped("updating a price list");
    price_lists::deactivate(&db, list.id(), at(3)).unwrap();
    bumped("deactivating a price list");

    let r = percent_off(&[ProductId::new()], dec!(5));
    rules::create(&db, &r, at(1)).unwrap();
    bumped("creating a rule");
    rules::update(&db, &percent_off(&[ProductId::new()], dec!(6)), 1, at(2)).unwrap_err();
    let changed = PricingRule::new(PricingRuleSpec {
        id: r.id(),
        name: "changed".into(),
        priority: 1,
        stacking: Stacking::Exclusive,
        conditions: r.conditions().clone(),
        action: r.action().clone(),
    })
    .unwrap();
    rules::update(&db, &changed, 1, at(2)).unwrap();
    bumped("updating a rule");
    rules::deactivate(&db, r.id(), at(3)).unwrap();
    bumped("deactivating a rule");

    let s = schedule();
    schedules::create(&db, &s, at(1)).unwrap();
    bumped("creating a schedule");
    schedules::update(&db, &s, 1, at(2)).unwrap();
    bumped("updating a schedule");
    schedules::deactivate(&db, s.id(), at(3)).unwrap();
    bumped("deactivating a schedule");

    let t = template("VAT");
    tax_templates::create(&db, &t, at(1)).unwrap();
    bumped("creating a tax template");
    tax_templates::update(&db, &t, 1, at(2)).unwrap();
    bumped("updating a tax template");
    tax_templates::deactivate(&db, t.id(), at(3)).unwrap();
    bumped("deactivating a tax template");

    let g = guard(dec!(10));
    guards::create(&db, &g, at(1)).unwrap();
    bumped("creating a guard");
    guards::update(&db, &g, 1, at(2)).unwrap();
    bumped("updating a guard");
    guards::deactivate(&db, g.id(), at(3)).unwrap();
    bumped("deactivating a guard");

    let current = sales_store::settings::get(&db).unwrap();
    let patched = current
        .record
        .patched(sales_domain::catalog::SettingsPatch {
            tax_rounding: Some(sales_domain::pricing::TaxRounding::PerDocument),
            ..Default::default()
        })
        .unwrap();
    sales_store::settings::save(&db, &patched, current.version, at(4)).unwrap();
    bumped("saving the settings");

    // A write that fails writes nothing, the version included.
    let before = snapshot::data_version(&db).unwrap();
    assert!(rules::update(&db, &changed, 1, at(5)).is_err());
    assert_eq!(snapshot::data_version(&db).unwrap(), before);
}

/// A cached snapshot is used only while the version it was built at is
/// current; a write makes the next basket rebuild it and see the write.
#[test]
fn a_cached_snapshot_is_read_only_at_its_own_version() {
    let db = db();
    let product = ProductId::new();
    let cache = MapCache::default();
    let keys = |version| BasketKeys {
        currency: Currency::EUR,
        channel_code: "WEB",
        products: std::slice::from_ref(&product),
        item_groups: &[],
        coupons: &[],
        pricing_version: version,
    };
    let first = percent_off(&[product], dec!(5));
    rules::create(&db, &first, at(1)).unwrap();
    let v1 = snapshot::data_version(&db).unwrap();
    let spec = basket_catalog(&db, &cache, &keys(v1)).unwrap();
    assert_eq!(spec.rules, vec![first.clone()]);

    let second = percent_off(&[product], dec!(7));
    rules::create(&db, &second, at(2)).unwrap();
    let v2 = snapshot::data_version(&db).unwrap();
    let spec = basket_catalog(&db, &cache, &keys(v2)).unwrap();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort_by_key(PricingRule::id);
    assert_eq!(spec.rules, expected, "the write is seen, not the cached v1");
    assert_eq!(cache.sets.get(), 2);

    // A basket that read v1 before the write (a request racing it) builds
    // from the database but does not cache what it read as v1.
    basket_catalog(&db, &cache, &keys(v1)).unwrap();
    assert_eq!(cache.sets.get(), 2);
    let cached = Snapshot::from_bytes(cache.get(snapshot::CACHE_KEY).unwrap());
    assert_eq!(cached.view().unwrap().version(), v2);
}

/// Every action kind and condition survives the compact encoding: the
/// snapshot decodes to the very rules, schedules, lists, templates and
/// guards stored.
#[test]
fn the_snapshot_decodes_to_the_stored_records() {
    let db = db();
    let group = ItemGroupId::new();
    let product = ProductId::new();
    let s = schedule();
    schedules::create(&db, &s, at(1)).unwrap();
    let eur = |a| Money::new(a, Currency::EUR).unwrap();
    let full = RuleConditions {
        products: [product].into(),
        item_groups: [group].into(),
        customers: [CustomerId::new()].into(),
        customer_groups: [CustomerGroupId::new()].into(),
        territories: [TerritoryId::new()].into(),
        channels: [sales_domain::ids::ChannelId::new()].into(),
        coupon: Some(CouponCode::new("SPRING").unwrap()),
        min_qty: Some(dec!(1.5)),
        max_qty: Some(dec!(10)),
        min_amount: Some(eur(dec!(1))),
        max_amount: Some(eur(dec!(1000))),
        valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
        valid_to: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
        mixed: true,
    };
    let on_group = RuleConditions {
        item_groups: [group].into(),
        ..RuleConditions::default()
    };
    let actions = [
        RuleAction::DiscountPercent {
            percent: dec!(12.5),
        },
        RuleAction::DiscountAmount {
            amount: eur(dec!(2)),
        },
        RuleAction::FixedRate {
            rate: eur(dec!(9.99)),
        },
        RuleAction::MarkupOnCost { percent: dec!(30) },
        RuleAction::Schedule { schedule: s.id() },
        RuleAction::FreeItem(FreeItem {
            product: FreeProduct::Same,
            buy: dec!(10),
            get: dec!(1),
            recursive: true,
        }),
        RuleAction::FreeItem(FreeItem {
            product: FreeProduct::Other {
                product: ProductId::new(),
                uom: pcs(),
            },
            buy: dec!(3),
            get: dec!(2),
            recursive: false,
        }),
    ];
    let mut stored = Vec::new();
    for (n, action) in actions.into_iter().enumerate() {
        let conditions = match n % 3 {
            0 => full.clone(),
            1 => on_group.clone(),
            _ => RuleConditions::default(),
        };
        let r = rule(&format!("rule {n}"), conditions, action);
        rules::create(&db, &r, at(1)).unwrap();
        stored.push(r);
    }
    stored.sort_by_key(PricingRule::id);
    let c = Customer::create(CustomerId::new(), new_customer("Scoped Ltd")).unwrap();
    customers::create(&db, &c, at(1)).unwrap();
    let list = PriceList::new(PriceListSpec {
        scope: PriceListScope {
            customer: Some(c.id()),
            customer_group: None,
            channel: None,
        },
        valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
        ..list_spec("Scoped", vec![])
    })
    .unwrap();
    price_lists::create(&db, &list, at(1)).unwrap();
    let t = template("VAT");
    tax_templates::create(&db, &t, at(1)).unwrap();
    let g = guard(dec!(15));
    guards::create(&db, &g, at(1)).unwrap();
    let GuardScope::Product(guarded) = g.scope().clone() else {
        unreachable!()
    };

    let version = snapshot::data_version(&db).unwrap();
    let bytes = Snapshot::build(&db, version).unwrap().as_bytes().to_vec();
    let snapshot = Snapshot::from_bytes(bytes);
    let snap = snapshot.view().unwrap();
    let targets = vec![product.as_uuid(), group.as_uuid(), guarded.as_uuid()];
    let coupons = [CouponCode::new("spring").unwrap()];
    let slice = snap
        .slice(&targets, &coupons, Currency::EUR, "WEB")
        .unwrap();
    assert_eq!(slice.rules, stored);
    assert_eq!(slice.schedules, vec![s]);
    assert_eq!(slice.headers, vec![list]);
    assert_eq!(slice.tax_templates, vec![t]);
    assert_eq!(slice.guards, vec![g]);
    assert!(snap
        .slice(&targets, &coupons, Currency::USD, "WEB")
        .unwrap()
        .headers
        .is_empty());
}

/// What a priced basket costs in statements once the snapshot is cached:
/// the customer with its chains, the channel and the pricing data version
/// in one; the products with their group chains; the items. (Before the
/// cache: 12 — the customer, two chains, the channel, the products, rules,
/// schedules, list headers, items, settings, tax templates, guards.)
#[test]
fn a_cached_basket_costs_three_statements() {
    let db = db();
    let group = node(ItemGroupId::new(), "G", None);
    trees::create(&db, &group, at(1)).unwrap();
    let bought = stored_product(&db, "BOUGHT", Some(group.id()));
    let c = Customer::create(CustomerId::new(), new_customer("Counted Ltd")).unwrap();
    customers::create(&db, &c, at(1)).unwrap();
    let general = PriceList::new(list_spec("General", vec![item(bought.id(), dec!(10))])).unwrap();
    price_lists::create(&db, &general, at(1)).unwrap();
    rules::create(&db, &percent_off(&[bought.id()], dec!(5)), at(1)).unwrap();

    let cache = MapCache::default();
    let counted = Counted::new(&db);
    let run = || {
        let ((), n) = counted.count(|db| {
            let facts = basket_facts(db, c.id(), "WEB", &[bought.id()]).unwrap();
            let keys = BasketKeys {
                currency: Currency::EUR,
                channel_code: "WEB",
                products: &[bought.id()],
                item_groups: &facts.products[&bought.id()].item_groups,
                coupons: &[],
                pricing_version: facts.pricing_version,
            };
            let spec = basket_catalog(db, &cache, &keys).unwrap();
            assert_eq!(spec.rules.len(), 1);
            assert_eq!(spec.price_lists[0].items().len(), 1);
        });
        n
    };
    // The miss reads the whole snapshot (rules, schedules, headers,
    // templates, guards, settings) and the version again before caching.
    assert_eq!(run(), 3 + 7);
    assert_eq!(run(), 3);
}
