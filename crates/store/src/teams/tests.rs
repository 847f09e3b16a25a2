//! Store tests of the teams tables on real SQLite: the directory from the
//! hierarchy, customers' territories by rule and through tree moves,
//! commission recalculation booked in the ledger (accrual, amendment,
//! cancellation, tiers across orders, idempotence), attainment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sales_domain::approvals::Directory;
use sales_domain::catalog::{
    AddressInput, Channel, ChannelKind, ChannelMode, Customer, NewChannel, NewCustomer, NewProduct,
    NewTreeNode, Product, ProductKind, TaxMode, Territory, TreeNode, TreeNodePatch,
};
use sales_domain::ids::{
    ChannelId, CustomerId, LineId, OrderId, PrincipalId, ProductId, SalesPersonId, TerritoryId,
};
use sales_domain::money::{Currency, Money};
use sales_domain::orders::{LinePricing, NewOrder, NewOrderLine, Order, OrderStatus};
use sales_domain::teams::{
    AccrueOn, Allocation, Beneficiary, CommissionPlan, CommissionPlanId, CommissionPlanInput,
    EntryKind, NewSalesPerson, NewTeam, PeriodKind, SalesPerson, Target, TargetId, TargetInput,
    TargetSubject, Team, TeamId, TerritoryManager, TerritoryManagerId, TerritoryRule,
    TerritoryRuleId, TerritoryRuleInput, Tier,
};

use super::commissions::{self, ledger, plans, LedgerFilter};
use super::{allocations, directory, people, sales_teams, targets, territories};
use crate::orders::{self, OrderRecord};
use crate::rusqlite_db::{Counted, RusqliteDb};
use crate::{migrate, Db, StoreError};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

fn db() -> RusqliteDb {
    let db = RusqliteDb::open_in_memory().unwrap();
    migrate(&db).unwrap();
    db
}

fn territory(db: &impl Db, code: &str, parent: Option<TerritoryId>) -> TerritoryId {
    let t: Territory = TreeNode::create(
        TerritoryId::new(),
        NewTreeNode {
            code: code.into(),
            name: code.into(),
            parent_id: parent,
        },
    )
    .unwrap();
    crate::trees::create(db, &t, at(1)).unwrap().record.id()
}

fn person(
    db: &impl Db,
    name: &str,
    principal: Option<PrincipalId>,
    manager: Option<SalesPersonId>,
) -> SalesPersonId {
    let p = SalesPerson::create(
        SalesPersonId::new(),
        NewSalesPerson {
            name: name.into(),
            email: None,
            principal_id: principal,
            manager_id: manager,
            employee_code: None,
        },
    )
    .unwrap();
    people::create(db, &p, at(1)).unwrap().record.id()
}

fn customer(db: &impl Db, territory: Option<TerritoryId>, postcode: &str) -> CustomerId {
    let c = Customer::create(
        CustomerId::new(),
        NewCustomer {
            name: "Acme".into(),
            territory_id: territory,
            shipping_address: Some(
                sales_domain::catalog::Address::new(AddressInput {
                    line1: "Main St 1".into(),
                    city: "Munich".into(),
                    postcode: Some(postcode.into()),
                    country: "DE".into(),
                    ..AddressInput::default()
                })
                .unwrap(),
            ),
            ..NewCustomer::default()
        },
    )
    .unwrap();
    crate::customers::create(db, &c, at(1)).unwrap().record.id()
}

struct World {
    channel: ChannelId,
    product: ProductId,
}

fn world(db: &impl Db) -> World {
    let ch = Channel::create(
        ChannelId::new(),
        NewChannel {
            code: "B2B".into(),
            name: "B2B".into(),
            kind: ChannelKind::B2b,
            mode: ChannelMode::Offline,
            currency: Currency::EUR,
            default_price_list_id: None,
            tax_mode: TaxMode::Exclusive,
            warehouses: vec![],
            quotation_required: false,
            approval_policy_id: None,
            payment_terms: None,
            credit_check: None,
            paid_on_order: false,
            fulfil_on_order: false,
        },
    )
    .unwrap();
    let channel = crate::channels::create(db, &ch, at(1)).unwrap().record.id();
    let p = Product::create(
        ProductId::new(),
        NewProduct {
            sku: "W-1".into(),
            name: "Widget".into(),
            description: None,
            item_group_id: None,
            uom: "pcs".into(),
            kind: ProductKind::Stocked,
            standard_cost: Money::new(dec!(1), Currency::EUR).unwrap(),
            lead_time_days: 1,
            external_ids: Default::default(),
        },
    )
    .unwrap();
    let product = crate::products::create(db, &p, at(1)).unwrap().record.id();
    World { channel, product }
}

fn money(a: Decimal, c: Currency) -> Money {
    Money::new(a, c).unwrap()
}

/// Sets the order's one line to `net` and its status, as the order flow
/// would after pricing and confirming it.
fn set_order(db: &impl Db, id: OrderId, net: Decimal, status: OrderStatus) {
    let cur = orders::get(db, id).unwrap();
    let c = cur.record.order.currency();
    let mut parts = cur.record.order.parts().clone();
    parts.status = status;
    parts.lines[0].pricing = Some(LinePricing {
        list_price: money(net, c),
        net_unit_price: money(net, c),
        net_total: money(net, c),
        tax_total: money(dec!(0), c),
        gross_total: money(net, c),
        margin: money(dec!(0), c),
        flags: vec![],
    });
    let rec = OrderRecord {
        order: Order::from_parts(parts).unwrap(),
        ..cur.record.clone()
    };
    orders::save(db, &rec, cur.version, at(3)).unwrap();
}

fn order(db: &impl Db, w: &World, customer: CustomerId, net: Decimal) -> OrderId {
    order_in(db, w, customer, net, Currency::EUR)
}

fn order_in(
    db: &impl Db,
    w: &World,
    customer: CustomerId,
    net: Decimal,
    currency: Currency,
) -> OrderId {
    let id = OrderId::new();
    orders::create_draft(
        db,
        id,
        NewOrder {
            customer_id: customer,
            channel_id: w.channel,
            currency,
            payment_terms: None,
            requested_date: None,
            customer_reference: None,
            quotation_id: None,
            lines: vec![NewOrderLine {
                id: LineId::new(),
                product_id: w.product,
                quantity: dec!(1),
                uom: None,
                requested_date: None,
                kept_rate: None,
                quotation_line_id: None,
            }],
        },
        today(),
        at(2),
    )
    .unwrap();
    set_order(db, id, net, OrderStatus::Confirmed);
    id
}

fn team(db: &impl Db, code: &str, territory: TerritoryId, members: &[(SalesPersonId, Decimal)]) {
    let t = Team::from_parts(
        TeamId::new(),
        NewTeam {
            code: code.into(),
            name: code.into(),
            territory_id: Some(territory),
            members: allocations_of(members),
        },
        true,
    )
    .unwrap();
    sales_teams::create(db, &t, at(1)).unwrap();
}

fn allocations_of(members: &[(SalesPersonId, Decimal)]) -> Vec<Allocation> {
    members
        .iter()
        .map(|(p, pct)| Allocation {
            sales_person_id: *p,
            percentage: *pct,
        })
        .collect()
}

/// A document's own sales-team split (no partner): `(person, percentage)`
/// each, checked as the API checks it.
fn split(members: &[(SalesPersonId, Decimal)]) -> allocations::DocumentTeam {
    allocations::DocumentTeam {
        sales_team: sales_domain::teams::Split::new("sales_team", allocations_of(members)).unwrap(),
        sales_partner_id: None,
    }
}

fn plan(db: &impl Db, p: SalesPersonId, tiers: Vec<Tier>) -> CommissionPlanId {
    plan_in(db, p, tiers, Currency::EUR)
}

fn plan_in(
    db: &impl Db,
    p: SalesPersonId,
    tiers: Vec<Tier>,
    currency: Currency,
) -> CommissionPlanId {
    let plan = CommissionPlan::from_parts(
        CommissionPlanId::new(),
        CommissionPlanInput {
            name: "2026".into(),
            beneficiary: Beneficiary::SalesPerson(p),
            currency,
            effective_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            effective_to: None,
            accrue_on: AccrueOn::Confirmation,
            default_rate: dec!(5),
            rates: vec![],
            tiers,
            tier_period: PeriodKind::Month,
            cap: None,
        },
        true,
    )
    .unwrap();
    plans::create(db, &plan, at(1)).unwrap().record.id()
}

fn booked(db: &impl Db, p: SalesPersonId, o: OrderId) -> Decimal {
    ledger::booked(db, Beneficiary::SalesPerson(p), o).unwrap()
}

#[test]
fn the_directory_takes_managers_and_territory_managers_from_the_hierarchy() {
    let db = db();
    let (boss_p, rep_p) = (PrincipalId::new(), PrincipalId::new());
    let boss = person(&db, "Boss", Some(boss_p), None);
    person(&db, "Rep", Some(rep_p), Some(boss));
    let eu = territory(&db, "EU", None);
    let de = territory(&db, "DE", Some(eu));
    territories::managers::create(
        &db,
        &TerritoryManager {
            id: TerritoryManagerId::new(),
            territory_id: eu,
            sales_person_id: boss,
        },
        at(1),
    )
    .unwrap();
    let mut dir = Directory::default();
    directory::fill(&db, &mut dir).unwrap();
    assert_eq!(dir.managers.get(&rep_p), Some(&boss_p));
    // DE has no manager of its own: EU's manages it.
    assert_eq!(dir.territory_managers.get(&de), Some(&boss_p));
    assert_eq!(dir.territory_managers.get(&eu), Some(&boss_p));
    // One person per principal.
    let again = SalesPerson::create(
        SalesPersonId::new(),
        NewSalesPerson {
            name: "Twin".into(),
            email: None,
            principal_id: Some(rep_p),
            manager_id: None,
            employee_code: None,
        },
    )
    .unwrap();
    assert!(matches!(
        people::create(&db, &again, at(1)),
        Err(StoreError::Duplicate {
            field: "principal_id",
            ..
        })
    ));
}

#[test]
fn rules_place_customers_explicit_assignment_wins_and_a_tree_move_carries_them() {
    let db = db();
    let w = world(&db);
    let (south, north, other) = (
        territory(&db, "SOUTH", None),
        territory(&db, "NORTH", None),
        territory(&db, "OTHER", None),
    );
    let munich_area = territory(&db, "MUC", Some(south));
    let rule = TerritoryRule::from_parts(
        TerritoryRuleId::new(),
        TerritoryRuleInput {
            territory_id: munich_area,
            country: "DE".into(),
            region: None,
            postcode_from: Some("80000".into()),
            postcode_to: Some("81999".into()),
            priority: 0,
        },
        true,
    )
    .unwrap();
    territories::rules::create(&db, &rule, at(1)).unwrap();
    let by_rule = customer(&db, None, "80331");
    let explicit = customer(&db, Some(other), "80331");
    let t = territories::customer_territory(&db, by_rule).unwrap();
    assert_eq!(
        (t.territory_id, t.source),
        (Some(munich_area), territories::TerritorySource::Rule)
    );
    let t = territories::customer_territory(&db, explicit).unwrap();
    assert_eq!(
        (t.territory_id, t.source),
        (Some(other), territories::TerritorySource::Explicit)
    );

    // A territory target of SOUTH counts the rule-placed customer's order …
    order(&db, &w, by_rule, dec!(1000));
    let target = |t: TerritoryId| {
        Target::new(
            TargetId::new(),
            TargetInput {
                subject: TargetSubject::Territory(t),
                period: PeriodKind::Month,
                period_start: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
                item_group_id: None,
                amount: dec!(4000),
                currency: Currency::EUR,
            },
        )
        .unwrap()
    };
    assert_eq!(
        targets::attainment(&db, &target(south)).unwrap().achieved,
        dec!(1000.00)
    );
    assert_eq!(
        targets::attainment(&db, &target(south)).unwrap().attainment,
        dec!(25)
    );
    // … until MUC moves under NORTH: the customer stays in MUC, and MUC's
    // orders now count for NORTH.
    let muc = crate::trees::get(&db, munich_area).unwrap();
    let moved = muc
        .record
        .patched(TreeNodePatch {
            parent_id: Some(Some(north)),
            ..TreeNodePatch::default()
        })
        .unwrap();
    crate::trees::update(&db, &moved, muc.version, at(4)).unwrap();
    assert_eq!(
        territories::customer_territory(&db, by_rule)
            .unwrap()
            .territory_id,
        Some(munich_area)
    );
    assert_eq!(
        targets::attainment(&db, &target(south)).unwrap().achieved,
        dec!(0.00)
    );
    assert_eq!(
        targets::attainment(&db, &target(north)).unwrap().achieved,
        dec!(1000.00)
    );
}

#[test]
fn commission_accrues_on_confirmation_follows_an_amendment_and_is_clawed_back_on_cancel() {
    let db = db();
    let w = world(&db);
    let t = territory(&db, "SOUTH", None);
    let (ann, bob) = (
        person(&db, "Ann", None, None),
        person(&db, "Bob", None, None),
    );
    team(&db, "S", t, &[(ann, dec!(60)), (bob, dec!(40))]);
    plan(&db, ann, vec![]);
    let c = customer(&db, Some(t), "80331");
    let o = order(&db, &w, c, dec!(1000));

    let rows = commissions::recalculate_order(&db, o, at(5)).unwrap();
    // Ann: 60 % of 1 000 at 5 %; Bob has no plan and earns nothing.
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].kind, rows[0].amount),
        (EntryKind::Accrual, dec!(30.00))
    );
    // The split was fixed on the order.
    let team = allocations::get(&db, allocations::DocumentKind::Order, &o.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(team.sales_team.share_of(bob), dec!(40));
    // Twice: nothing new.
    assert!(commissions::recalculate_order(&db, o, at(5))
        .unwrap()
        .is_empty());

    // Amended down to 600: 18.00 due, a reversal of 12.00.
    set_order(&db, o, dec!(600), OrderStatus::Confirmed);
    let rows = commissions::recalculate_order(&db, o, at(6)).unwrap();
    assert_eq!(
        (rows[0].kind, rows[0].amount),
        (EntryKind::Reversal, dec!(-12.00))
    );
    assert_eq!(booked(&db, ann, o), dec!(18.00));

    // Cancelled: everything clawed back, each step still in the ledger.
    orders::change_status(&db, o, orders::StatusAction::Cancel, None, None, at(7)).unwrap();
    let rows = commissions::recalculate_order(&db, o, at(7)).unwrap();
    assert_eq!(
        (rows[0].kind, rows[0].amount),
        (EntryKind::Reversal, dec!(-18.00))
    );
    assert_eq!(booked(&db, ann, o), dec!(0));
    let all = ledger::all(
        &db,
        &LedgerFilter {
            order_id: Some(o),
            ..LedgerFilter::default()
        },
    )
    .unwrap();
    assert_eq!(all.len(), 3);
    // The ledger is append-only.
    assert!(db.execute("DELETE FROM commission_ledger", &[]).is_err());
    assert!(db
        .execute("UPDATE commission_ledger SET amount = '0'", &[])
        .is_err());
    let st = commissions::statement(
        &db,
        Beneficiary::SalesPerson(ann),
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
    )
    .unwrap();
    assert_eq!(st.totals[0].accrued, dec!(30.00));
    assert_eq!(st.totals[0].reversed, dec!(-30.00));
    assert_eq!(st.totals[0].closing, dec!(0.00));
}

#[test]
fn tiers_across_orders_are_settled_together_when_one_order_changes() {
    let db = db();
    let w = world(&db);
    let t = territory(&db, "SOUTH", None);
    let ann = person(&db, "Ann", None, None);
    team(&db, "S", t, &[(ann, dec!(100))]);
    plan(
        &db,
        ann,
        vec![Tier {
            from_attainment: dec!(100),
            multiplier: dec!(2),
        }],
    );
    let target = Target::new(
        TargetId::new(),
        TargetInput {
            subject: TargetSubject::SalesPerson(ann),
            period: PeriodKind::Month,
            period_start: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            item_group_id: None,
            amount: dec!(1000),
            currency: Currency::EUR,
        },
    )
    .unwrap();
    targets::create(&db, &target, at(1)).unwrap();
    let c = customer(&db, Some(t), "80331");
    let first = order(&db, &w, c, dec!(800));
    commissions::recalculate_order(&db, first, at(5)).unwrap();
    let second = order(&db, &w, c, dec!(400));
    commissions::recalculate_order(&db, second, at(5)).unwrap();
    // 800 at 5 % = 40; then 200 to the target at 5 % and 200 past it at 10 %.
    assert_eq!(booked(&db, ann, first), dec!(40.00));
    assert_eq!(booked(&db, ann, second), dec!(30.00));
    assert_eq!(
        targets::attainment(&db, &target).unwrap().attainment,
        dec!(120)
    );
    // Cancelling the first takes the second back below the boundary.
    orders::change_status(&db, first, orders::StatusAction::Cancel, None, None, at(6)).unwrap();
    commissions::recalculate_order(&db, first, at(6)).unwrap();
    assert_eq!(booked(&db, ann, first), dec!(0));
    assert_eq!(booked(&db, ann, second), dec!(20.00));
    assert!(commissions::recalculate_order(&db, second, at(7))
        .unwrap()
        .is_empty());
}

/// A person paid in two currencies has two plans; settling the month of a
/// USD order must not take her EUR orders (booked the same month, still
/// credited) for uncredited ones — before the fix it reversed them, in USD.
#[test]
fn a_settlement_in_one_currency_leaves_the_orders_of_another_alone() {
    let db = db();
    let w = world(&db);
    let t = territory(&db, "NA", None);
    let amy = person(&db, "Amy", None, None);
    team(&db, "NA", t, &[(amy, dec!(100))]);
    plan_in(&db, amy, vec![], Currency::EUR);
    plan_in(&db, amy, vec![], Currency::USD);
    let c = customer(&db, Some(t), "10001");
    let in_eur = order(&db, &w, c, dec!(1000));
    commissions::recalculate_order(&db, in_eur, at(5)).unwrap();
    let in_usd = order_in(&db, &w, c, dec!(400), Currency::USD);
    let rows = commissions::recalculate_order(&db, in_usd, at(6)).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.order_id, r.amount, r.currency))
            .collect::<Vec<_>>(),
        vec![(Some(in_usd), dec!(20.00), Currency::USD)]
    );
    assert_eq!(booked(&db, amy, in_eur), dec!(50.00));
    assert!(commissions::recalculate_order(&db, in_eur, at(7))
        .unwrap()
        .is_empty());
}

/// The demo's seeding (`seed-demo --database`) dates its orders back after
/// their commission was booked, so the ledger's `earned_on` (the day of
/// booking) and the order's date part. Settling the current month must not
/// take such an order for one no longer credited: it still is, in its own
/// month. Before the fix the second order's recalculation reversed the
/// first in full ("0 due at order version 2").
#[test]
fn an_order_dated_into_another_month_is_not_reversed_when_this_month_is_settled() {
    let db = db();
    let w = world(&db);
    let t = territory(&db, "NA", None);
    let amy = person(&db, "Amy", None, None);
    team(&db, "NA", t, &[(amy, dec!(100))]);
    plan(&db, amy, vec![]);
    let c = customer(&db, Some(t), "10001");
    let first = order(&db, &w, c, dec!(1000));
    commissions::recalculate_order(&db, first, at(5)).unwrap();
    assert_eq!(booked(&db, amy, first), dec!(50.00));
    // As seed-demo's backdating does: the order moves to January, the
    // ledger (append-only) keeps the day it was booked.
    db.execute(
        "UPDATE sales_orders SET order_date = '2026-01-15' WHERE id = ?",
        &[crate::db::Value::Text(first.to_string())],
    )
    .unwrap();

    let second = order(&db, &w, c, dec!(400));
    let rows = commissions::recalculate_order(&db, second, at(6)).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.order_id, r.kind, r.amount))
            .collect::<Vec<_>>(),
        vec![(Some(second), EntryKind::Accrual, dec!(20.00))]
    );
    assert_eq!(booked(&db, amy, first), dec!(50.00));
    // Its own month holds it as booked: nothing to do there either.
    assert!(commissions::recalculate_order(&db, first, at(7))
        .unwrap()
        .is_empty());
    assert!(commissions::recalculate_order(&db, second, at(7))
        .unwrap()
        .is_empty());
    // Moved to someone else, it is reversed, in the month of its date.
    let bob = person(&db, "Bob", None, None);
    let split = split(&[(bob, dec!(100))]);
    allocations::set(
        &db,
        allocations::DocumentKind::Order,
        &first.to_string(),
        &split,
    )
    .unwrap();
    let rows = commissions::recalculate_order(&db, first, at(8)).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.order_id, r.amount, r.earned_on.to_string()))
            .collect::<Vec<_>>(),
        vec![(Some(first), dec!(-50.00), "2026-01-15".to_string())]
    );
    assert_eq!(booked(&db, amy, second), dec!(20.00));
}

#[test]
fn the_approvals_directory_prefers_the_hierarchy_and_keeps_the_old_list_as_fallback() {
    use crate::approvals::managers::{self as old, ManagerLine};
    let db = db();
    let (rep_p, boss_p, listed_p, other_p) = (
        PrincipalId::new(),
        PrincipalId::new(),
        PrincipalId::new(),
        PrincipalId::new(),
    );
    let boss = person(&db, "Boss", Some(boss_p), None);
    person(&db, "Rep", Some(rep_p), Some(boss));
    for (principal, manager) in [(rep_p, listed_p), (other_p, listed_p)] {
        old::create(
            &db,
            &ManagerLine {
                id: sales_domain::ids::ApprovalManagerId::new(),
                principal,
                manager,
                created_at: at(1),
            },
        )
        .unwrap();
    }
    let t = territory(&db, "SOUTH", None);
    territories::managers::create(
        &db,
        &TerritoryManager {
            id: TerritoryManagerId::new(),
            territory_id: t,
            sales_person_id: boss,
        },
        at(1),
    )
    .unwrap();
    let dir = crate::approvals::escalation::directory(&db, None).unwrap();
    assert_eq!(dir.managers.get(&rep_p), Some(&boss_p));
    assert_eq!(dir.managers.get(&other_p), Some(&listed_p));
    assert_eq!(dir.territory_managers.get(&t), Some(&boss_p));
}

#[test]
fn a_converted_order_keeps_its_quotations_split_once() {
    let db = db();
    let w = world(&db);
    let t = territory(&db, "SOUTH", None);
    let (ann, bob) = (
        person(&db, "Ann", None, None),
        person(&db, "Bob", None, None),
    );
    team(&db, "S", t, &[(ann, dec!(100))]);
    let c = customer(&db, Some(t), "80331");
    // The quotation was split 70/30, unlike the territory's default.
    let quotation = sales_domain::ids::QuotationId::new();
    let split = split(&[(ann, dec!(70)), (bob, dec!(30))]);
    allocations::set(
        &db,
        allocations::DocumentKind::Quotation,
        &quotation.to_string(),
        &split,
    )
    .unwrap();
    let o = order(&db, &w, c, dec!(1000));
    let cur = orders::get(&db, o).unwrap();
    let mut parts = cur.record.order.parts().clone();
    parts.quotation_id = Some(quotation);
    let rec = OrderRecord {
        order: Order::from_parts(parts).unwrap(),
        ..cur.record.clone()
    };
    orders::save(&db, &rec, cur.version, at(3)).unwrap();
    commissions::recalculate_order(&db, o, at(4)).unwrap();
    commissions::recalculate_order(&db, o, at(5)).unwrap();
    let kept = allocations::get(&db, allocations::DocumentKind::Order, &o.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(kept, split);
    let rows = db
        .execute(
            "SELECT COUNT(*) AS n FROM document_sales_teams WHERE document_id = ?",
            &[crate::Value::Text(o.to_string())],
        )
        .unwrap();
    assert_eq!(rows.first().unwrap().int("n").unwrap(), 2);
}

#[test]
fn a_page_of_documents_gets_the_teams_single_reads_give_in_a_fixed_number_of_statements() {
    use super::listed::{for_page, PageDocument};
    use allocations::DocumentKind;
    let db = db();
    let w = world(&db);
    let world_t = territory(&db, "WORLD", None);
    let north = territory(&db, "NORTH", Some(world_t));
    let east = territory(&db, "EAST", None);
    let (ann, bob, cal) = (
        person(&db, "Ann", None, None),
        person(&db, "Bob", None, None),
        person(&db, "Cal", None, None),
    );
    // North has no team: its customers take the parent's (World's).
    team(&db, "W", world_t, &[(ann, dec!(100))]);
    // East has no team, only a manager.
    territories::managers::create(
        &db,
        &TerritoryManager {
            id: TerritoryManagerId::new(),
            territory_id: east,
            sales_person_id: bob,
        },
        at(1),
    )
    .unwrap();
    let rule = TerritoryRule::from_parts(
        TerritoryRuleId::new(),
        TerritoryRuleInput {
            territory_id: north,
            country: "DE".into(),
            region: None,
            postcode_from: Some("80000".into()),
            postcode_to: Some("81999".into()),
            priority: 0,
        },
        true,
    )
    .unwrap();
    territories::rules::create(&db, &rule, at(1)).unwrap();
    let explicit = customer(&db, Some(north), "10115");
    let by_rule = customer(&db, None, "80331");
    let managed = customer(&db, Some(east), "10115");
    let nowhere = customer(&db, None, "10115");
    let split_70_30 = split(&[(cal, dec!(70)), (ann, dec!(30))]);
    // A quotation with its own split, one without; an order converted
    // from the first (no split of its own yet), one with its own.
    let (q_stored, q_default) = (
        sales_domain::ids::QuotationId::new(),
        sales_domain::ids::QuotationId::new(),
    );
    allocations::set(
        &db,
        DocumentKind::Quotation,
        &q_stored.to_string(),
        &split_70_30,
    )
    .unwrap();
    let orders_made: Vec<OrderId> = [explicit, by_rule, managed, nowhere, explicit]
        .iter()
        .map(|c| order(&db, &w, *c, dec!(100)))
        .collect();
    let converted = orders_made[4];
    let cur = orders::get(&db, converted).unwrap();
    let mut parts = cur.record.order.parts().clone();
    parts.quotation_id = Some(q_stored);
    let rec = OrderRecord {
        order: Order::from_parts(parts).unwrap(),
        ..cur.record.clone()
    };
    orders::save(&db, &rec, cur.version, at(3)).unwrap();
    allocations::set(
        &db,
        DocumentKind::Order,
        &orders_made[2].to_string(),
        &split_70_30,
    )
    .unwrap();

    let mut docs = vec![
        PageDocument {
            kind: DocumentKind::Quotation,
            id: q_stored.to_string(),
            quotation_id: None,
            customer_id: by_rule,
        },
        PageDocument {
            kind: DocumentKind::Quotation,
            id: q_default.to_string(),
            quotation_id: None,
            customer_id: managed,
        },
    ];
    let mut single = vec![
        (
            true,
            allocations::for_quotation(&db, q_stored, by_rule).unwrap(),
        ),
        (
            false,
            allocations::for_quotation(&db, q_default, managed).unwrap(),
        ),
    ];
    for o in &orders_made {
        let rec = orders::get(&db, *o).unwrap().record;
        docs.push(PageDocument {
            kind: DocumentKind::Order,
            id: o.to_string(),
            quotation_id: rec.order.quotation_id().map(|q| q.to_string()),
            customer_id: rec.order.customer_id(),
        });
        let own = allocations::get(&db, DocumentKind::Order, &o.to_string()).unwrap();
        single.push((
            own.is_some(),
            allocations::for_order(&db, &rec, false).unwrap(),
        ));
    }
    let counted = Counted::new(&db);
    let page = for_page(&counted, &docs).unwrap();
    assert_eq!(page, single);
    // The cases are all there: World's team through the tree, by rule,
    // East's manager, nobody, the quotation's split, a stored one.
    let whole = |p| sales_domain::teams::Split::whole(p);
    assert_eq!(page[1].1.sales_team, whole(bob));
    assert_eq!(page[2].1.sales_team, whole(ann));
    assert_eq!(page[3].1.sales_team, whole(ann));
    assert!(page[5].1.sales_team.is_empty());
    assert_eq!(page[6], (false, split_70_30.clone()));
    assert_eq!(page[4], (true, split_70_30.clone()));
    // One statement for the stored splits, five for the defaults
    // (customers, rules, chains, teams, managers) — not per row.
    assert_eq!(counted.take(), 6);
    // A page whose rows all have their own split costs one statement.
    let stored_only = [docs[0].clone(), docs[4].clone()];
    let page = for_page(&counted, &stored_only).unwrap();
    assert_eq!(page, vec![(true, split_70_30.clone()), (true, split_70_30)]);
    assert_eq!(counted.statements(), 1);
}

mod visibility {
    //! The record-visibility scope (`crate::visibility`) as SQL filters:
    //! a rep by key territory and managed territory, a rep by team, a
    //! manager down the hierarchy, rule-placed customers, documents seen
    //! through the split, and a tree move changing who sees what.
    use super::*;
    use crate::customers::{self, CustomerFilter};
    use crate::orders::OrderFilter;
    use crate::page::Page;
    use crate::visibility::{self, Visibility};
    use sales_domain::auth::{Principal, Role};

    fn key(roles: &[Role], territory: Option<TerritoryId>) -> Principal {
        Principal::new(PrincipalId::new(), "someone", roles.iter().copied())
            .unwrap()
            .with_territory(territory)
    }

    fn customers_seen(db: &impl Db, v: &Visibility) -> Vec<CustomerId> {
        let (items, _) =
            customers::list_visible(db, &CustomerFilter::default(), &Page::first(100), v).unwrap();
        let mut ids: Vec<CustomerId> = items.iter().map(|c| c.record.id()).collect();
        ids.sort();
        ids
    }

    fn orders_seen(db: &impl Db, v: &Visibility) -> Vec<OrderId> {
        let (items, _) =
            orders::list_visible(db, &OrderFilter::default(), &Page::first(100), v).unwrap();
        let mut ids: Vec<OrderId> = items.iter().map(|o| o.record.order.id()).collect();
        ids.sort();
        ids
    }

    fn sorted<T: Ord + Copy>(ids: &[T]) -> Vec<T> {
        let mut v = ids.to_vec();
        v.sort();
        v
    }

    #[test]
    fn reps_see_their_territories_and_credited_documents_managers_their_subtree() {
        let db = db();
        let w = world(&db);
        let eu = territory(&db, "EU", None);
        let north = territory(&db, "NORTH", Some(eu));
        let south = territory(&db, "SOUTH", Some(eu));
        let muc = territory(&db, "MUC", Some(south));
        let other = territory(&db, "OTHER", None);
        let rule = TerritoryRule::from_parts(
            TerritoryRuleId::new(),
            TerritoryRuleInput {
                territory_id: muc,
                country: "DE".into(),
                region: None,
                postcode_from: Some("80000".into()),
                postcode_to: Some("81999".into()),
                priority: 0,
            },
            true,
        )
        .unwrap();
        territories::rules::create(&db, &rule, at(1)).unwrap();

        let (boss_key, ann_key, bob_key) = (
            key(&[Role::Manager], None),
            key(&[Role::Rep], Some(north)),
            key(&[Role::Rep], None),
        );
        let boss = person(&db, "Boss", Some(boss_key.id()), None);
        let ann = person(&db, "Ann", Some(ann_key.id()), Some(boss));
        let bob = person(&db, "Bob", Some(bob_key.id()), Some(boss));
        // Bob sells in the south through his team; Ann runs the north.
        team(&db, "SOUTH-TEAM", south, &[(bob, dec!(100))]);
        territories::managers::create(
            &db,
            &TerritoryManager {
                id: TerritoryManagerId::new(),
                territory_id: north,
                sales_person_id: ann,
            },
            at(1),
        )
        .unwrap();

        let c_north = customer(&db, Some(north), "10115");
        let c_south = customer(&db, Some(south), "70173");
        let c_rule = customer(&db, None, "80331"); // placed in MUC by the rule
        let c_other = customer(&db, Some(other), "80331"); // explicit wins over the rule
        let (o_north, o_south, o_rule, o_other) = (
            order(&db, &w, c_north, dec!(1)),
            order(&db, &w, c_south, dec!(1)),
            order(&db, &w, c_rule, dec!(1)),
            order(&db, &w, c_other, dec!(1)),
        );
        // Ann is credited on an order of a customer outside her territory.
        allocations::set(
            &db,
            allocations::DocumentKind::Order,
            &o_other.to_string(),
            &allocations::DocumentTeam {
                sales_team: sales_domain::teams::Split::whole(ann),
                sales_partner_id: None,
            },
        )
        .unwrap();

        let v_ann = visibility::for_principal(&db, &ann_key).unwrap();
        let v_bob = visibility::for_principal(&db, &bob_key).unwrap();
        let v_boss = visibility::for_principal(&db, &boss_key).unwrap();
        assert_eq!(customers_seen(&db, &v_ann), vec![c_north]);
        assert_eq!(customers_seen(&db, &v_bob), sorted(&[c_south, c_rule]));
        assert_eq!(
            customers_seen(&db, &v_boss),
            sorted(&[c_north, c_south, c_rule])
        );
        assert_eq!(orders_seen(&db, &v_ann), sorted(&[o_north, o_other]));
        assert_eq!(orders_seen(&db, &v_bob), sorted(&[o_south, o_rule]));
        assert_eq!(
            orders_seen(&db, &v_boss),
            sorted(&[o_north, o_south, o_rule, o_other])
        );
        // A read outside the scope is the same NotFound as an unknown id.
        assert!(matches!(
            visibility::require_order(&db, &v_bob, o_north),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            visibility::require_order(&db, &v_bob, OrderId::new()),
            Err(StoreError::NotFound { .. })
        ));
        visibility::require_order(&db, &v_ann, o_other).unwrap();
        assert!(matches!(
            visibility::require_customer(&db, &v_ann, c_other),
            Err(StoreError::NotFound { .. })
        ));
        // Lists page within the scope: one per page, no empty pages.
        let (page1, next) =
            orders::list_visible(&db, &OrderFilter::default(), &Page::first(1), &v_bob).unwrap();
        assert_eq!(page1.len(), 1);
        let (page2, last) = orders::list_visible(
            &db,
            &OrderFilter::default(),
            &Page::after(1, next.unwrap()),
            &v_bob,
        )
        .unwrap();
        assert_eq!(page2.len(), 1);
        assert!(last.is_none());

        // Admins, integrations and keys with no scope configured see all.
        for p in [
            key(&[Role::Admin], Some(north)),
            key(&[Role::Integration], None),
            key(&[Role::Rep], None),
        ] {
            assert_eq!(visibility::for_principal(&db, &p).unwrap(), Visibility::All);
        }
        assert_eq!(orders_seen(&db, &Visibility::All).len(), 4);

        // MUC moves under NORTH: its rule-placed customer stays in MUC and
        // is now Ann's, no longer Bob's.
        let node = crate::trees::get(&db, muc).unwrap();
        let moved = node
            .record
            .patched(TreeNodePatch {
                parent_id: Some(Some(north)),
                ..TreeNodePatch::default()
            })
            .unwrap();
        crate::trees::update(&db, &moved, node.version, at(4)).unwrap();
        let v_ann = visibility::for_principal(&db, &ann_key).unwrap();
        let v_bob = visibility::for_principal(&db, &bob_key).unwrap();
        assert_eq!(customers_seen(&db, &v_ann), sorted(&[c_north, c_rule]));
        assert_eq!(customers_seen(&db, &v_bob), vec![c_south]);
        assert_eq!(
            orders_seen(&db, &v_ann),
            sorted(&[o_north, o_rule, o_other])
        );
    }

    #[test]
    fn a_scoped_key_with_nothing_in_reach_sees_nothing() {
        let db = db();
        let w = world(&db);
        let t = territory(&db, "T", None);
        let empty = territory(&db, "EMPTY", None);
        let c = customer(&db, Some(t), "1");
        order(&db, &w, c, dec!(1));
        let v = visibility::for_principal(&db, &key(&[Role::Viewer], Some(empty))).unwrap();
        assert!(customers_seen(&db, &v).is_empty());
        assert!(orders_seen(&db, &v).is_empty());
    }

    #[test]
    fn the_territories_alone_are_found_without_placing_customers_by_rule() {
        let db = db();
        let south = territory(&db, "SOUTH", None);
        let muc = territory(&db, "MUC", Some(south));
        let rule = TerritoryRule::from_parts(
            TerritoryRuleId::new(),
            TerritoryRuleInput {
                territory_id: muc,
                country: "DE".into(),
                region: None,
                postcode_from: Some("80000".into()),
                postcode_to: Some("81999".into()),
                priority: 0,
            },
            true,
        )
        .unwrap();
        territories::rules::create(&db, &rule, at(1)).unwrap();
        customer(&db, None, "80331");
        let rep = key(&[Role::Rep], Some(south));
        let counted = Counted::new(&db);
        let Visibility::Scoped(full) = visibility::for_principal(&counted, &rep).unwrap() else {
            panic!("a rep with a territory is scoped");
        };
        let with_placement = counted.take();
        let territories = visibility::territories_for(&counted, &rep).unwrap();
        assert_eq!(territories.as_ref(), Some(&full.territories));
        assert_eq!(full.placed.len(), 1);
        // The rule probe, the scan of customers without a territory and
        // the country's rules are the placement's, and only the full scope's.
        assert_eq!(with_placement - counted.statements(), 3);
        let admin = key(&[Role::Admin], None);
        assert_eq!(visibility::territories_for(&db, &admin).unwrap(), None);
    }
}
