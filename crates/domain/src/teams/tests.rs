use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::ids::{ChannelId, ItemGroupId, OrderId, SalesPersonId, TerritoryId};
use crate::money::Currency;
use crate::orders::OrderStatus;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

fn plan_input(person: SalesPersonId) -> CommissionPlanInput {
    CommissionPlanInput {
        name: "Field sales 2026".into(),
        beneficiary: Beneficiary::SalesPerson(person),
        currency: eur(),
        effective_from: day("2026-01-01"),
        effective_to: Some(day("2026-12-31")),
        accrue_on: AccrueOn::Confirmation,
        default_rate: dec!(5),
        rates: vec![],
        tiers: vec![],
        tier_period: PeriodKind::Month,
        cap: None,
    }
}

fn line(net: Decimal) -> LineFacts {
    LineFacts {
        group_chain: vec![],
        net_total: net,
        quantity: dec!(1),
        shipped: dec!(0),
    }
}

fn order(date: &str, number: &str, channel: ChannelId, lines: Vec<LineFacts>) -> CreditedOrder {
    CreditedOrder {
        order_id: OrderId::new(),
        order_date: day(date),
        number: number.into(),
        channel_id: channel,
        share: dec!(100),
        lines,
    }
}

#[test]
fn a_manager_who_reports_to_the_person_is_a_cycle_naming_manager_id() {
    let (a, b, c) = (
        SalesPersonId::new(),
        SalesPersonId::new(),
        SalesPersonId::new(),
    );
    // c reports to b, b reports to a.
    let managers = BTreeMap::from([(a, None), (b, Some(a)), (c, Some(b))]);
    let e = check_manager(a, Some(c), &managers).unwrap_err();
    assert!(matches!(e, TeamsError::Cycle { .. }));
    assert_eq!(e.field(), "manager_id");
    assert!(check_manager(c, Some(a), &managers).is_ok());
    assert_eq!(subtree(a, &managers), [a, b, c].into_iter().collect());
    assert_eq!(subtree(b, &managers), [b, c].into_iter().collect());
}

#[test]
fn a_person_cannot_manage_themselves() {
    let id = SalesPersonId::new();
    let e = SalesPerson::create(
        id,
        NewSalesPerson {
            name: "Ann".into(),
            email: None,
            principal_id: None,
            manager_id: Some(id),
            employee_code: None,
        },
    )
    .unwrap_err();
    assert_eq!(e.field, "manager_id");
}

#[test]
fn splits_that_do_not_total_100_are_refused() {
    let (a, b) = (SalesPersonId::new(), SalesPersonId::new());
    let alloc = |p, pct| Allocation {
        sales_person_id: p,
        percentage: pct,
    };
    let e = Split::new("sales_team", vec![alloc(a, dec!(60)), alloc(b, dec!(30))]).unwrap_err();
    assert_eq!(
        e,
        TeamsError::SplitTotal {
            field: "sales_team".into(),
            total: dec!(90)
        }
    );
    let e = Split::new("sales_team", vec![alloc(a, dec!(60)), alloc(b, dec!(50))]).unwrap_err();
    assert_eq!(e.field(), "sales_team");
    let e = Split::new("sales_team", vec![alloc(a, dec!(-10)), alloc(b, dec!(110))]).unwrap_err();
    assert_eq!(e.field(), "sales_team[0].percentage");
    let e = Split::new("sales_team", vec![alloc(a, dec!(50)), alloc(a, dec!(50))]).unwrap_err();
    assert_eq!(e.field(), "sales_team[1].sales_person_id");
    let ok = Split::new(
        "sales_team",
        vec![alloc(a, dec!(33.34)), alloc(b, dec!(66.66))],
    )
    .unwrap();
    assert_eq!(ok.share_of(b), dec!(66.66));
    // A stored split decodes through the same check.
    let json = serde_json::to_string(&ok).unwrap();
    assert_eq!(serde_json::from_str::<Split>(&json).unwrap(), ok);
    assert!(serde_json::from_str::<Split>(&format!(
        r#"[{{"sales_person_id":"{a}","percentage":"40"}}]"#
    ))
    .is_err());
}

#[test]
fn negative_partner_rates_are_refused() {
    let e = SalesPartner::from_parts(
        SalesPartnerId::new(),
        NewSalesPartner {
            code: "RESELL".into(),
            name: "Reseller".into(),
            commission_rate: dec!(-1),
            territory_id: None,
            email: None,
        },
        true,
    )
    .unwrap_err();
    assert_eq!(e.field, "commission_rate");
}

#[test]
fn records_round_trip_through_their_stored_json() {
    let p = SalesPerson::create(
        SalesPersonId::new(),
        NewSalesPerson {
            name: "Ann".into(),
            email: Some("ann@example.com".into()),
            principal_id: None,
            manager_id: None,
            employee_code: None,
        },
    )
    .unwrap();
    let back: SalesPerson = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let plan =
        CommissionPlan::from_parts(CommissionPlanId::new(), plan_input(p.id()), true).unwrap();
    let back: CommissionPlan =
        serde_json::from_value(serde_json::to_value(&plan).unwrap()).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn the_most_specific_territory_rule_wins() {
    let (de, bavaria, munich) = (TerritoryId::new(), TerritoryId::new(), TerritoryId::new());
    let rule = |t, region: Option<&str>, from: Option<&str>, to: Option<&str>| {
        TerritoryRule::from_parts(
            TerritoryRuleId::new(),
            TerritoryRuleInput {
                territory_id: t,
                country: "de".into(),
                region: region.map(Into::into),
                postcode_from: from.map(Into::into),
                postcode_to: to.map(Into::into),
                priority: 0,
            },
            true,
        )
        .unwrap()
    };
    let rules = vec![
        rule(de, None, None, None),
        rule(bavaria, Some("Bayern"), None, None),
        rule(munich, None, Some("80000"), Some("81999")),
    ];
    let t = |region, pc| resolve_territory(&rules, "DE", region, pc).map(|r| r.territory_id());
    assert_eq!(t(Some("bayern"), Some("80331")), Some(munich));
    assert_eq!(t(Some("Bayern"), Some("90402")), Some(bavaria));
    assert_eq!(t(None, Some("10115")), Some(de));
    assert_eq!(resolve_territory(&rules, "FR", None, None), None);
    // Numeric postcodes compare as numbers.
    assert!(rules[2].matches("DE", None, Some("81 000")));
    assert!(!rules[2].matches("DE", None, Some("9000")));
}

#[test]
fn a_postcode_range_must_not_run_backwards() {
    let e = TerritoryRule::from_parts(
        TerritoryRuleId::new(),
        TerritoryRuleInput {
            territory_id: TerritoryId::new(),
            country: "DE".into(),
            region: None,
            postcode_from: Some("90000".into()),
            postcode_to: Some("80000".into()),
            priority: 0,
        },
        true,
    )
    .unwrap_err();
    assert_eq!(e.field, "postcode_to");
}

#[test]
fn overlapping_plans_for_the_same_person_are_refused() {
    let person = SalesPersonId::new();
    let a = CommissionPlan::from_parts(CommissionPlanId::new(), plan_input(person), true).unwrap();
    let mut later = plan_input(person);
    later.effective_from = day("2026-12-01");
    later.effective_to = None;
    let b = CommissionPlan::from_parts(CommissionPlanId::new(), later.clone(), true).unwrap();
    assert!(matches!(
        b.check_overlap(std::slice::from_ref(&a)),
        Err(TeamsError::PlanOverlap { other, .. }) if other == a.id()
    ));
    later.effective_from = day("2027-01-01");
    let c = CommissionPlan::from_parts(CommissionPlanId::new(), later, true).unwrap();
    assert!(c.check_overlap(std::slice::from_ref(&a)).is_ok());
    // Another person's plan never overlaps.
    let d = CommissionPlan::from_parts(
        CommissionPlanId::new(),
        plan_input(SalesPersonId::new()),
        true,
    )
    .unwrap();
    assert!(d.check_overlap(&[a]).is_ok());
}

#[test]
fn bad_plan_fields_name_the_field() {
    let person = SalesPersonId::new();
    let mut i = plan_input(person);
    i.default_rate = dec!(-2);
    let e = CommissionPlan::from_parts(CommissionPlanId::new(), i, true).unwrap_err();
    assert_eq!(e.field(), "default_rate");
    let mut i = plan_input(person);
    i.effective_to = Some(day("2025-12-31"));
    let e = CommissionPlan::from_parts(CommissionPlanId::new(), i, true).unwrap_err();
    assert_eq!(e.field(), "effective_to");
    let mut i = plan_input(person);
    i.tiers = vec![
        Tier {
            from_attainment: dec!(100),
            multiplier: dec!(1.5),
        },
        Tier {
            from_attainment: dec!(80),
            multiplier: dec!(2),
        },
    ];
    let e = CommissionPlan::from_parts(CommissionPlanId::new(), i, true).unwrap_err();
    assert_eq!(e.field(), "tiers[1].from_attainment");
    // Bounded, so the slab arithmetic cannot overflow.
    let mut i = plan_input(person);
    i.tiers = vec![Tier {
        from_attainment: dec!(1e20),
        multiplier: dec!(2),
    }];
    let e = CommissionPlan::from_parts(CommissionPlanId::new(), i, true).unwrap_err();
    assert_eq!(e.field(), "tiers[0].from_attainment");
}

#[test]
fn rates_follow_the_nearest_item_group_and_the_channel() {
    let person = SalesPersonId::new();
    let (root, child) = (ItemGroupId::new(), ItemGroupId::new());
    let (web, field) = (ChannelId::new(), ChannelId::new());
    let mut i = plan_input(person);
    i.rates = vec![
        RateRule {
            item_group_id: Some(root),
            channel_id: None,
            rate: dec!(4),
        },
        RateRule {
            item_group_id: Some(child),
            channel_id: None,
            rate: dec!(8),
        },
        RateRule {
            item_group_id: Some(child),
            channel_id: Some(web),
            rate: dec!(2),
        },
        RateRule {
            item_group_id: None,
            channel_id: Some(web),
            rate: dec!(1),
        },
    ];
    let plan = CommissionPlan::from_parts(CommissionPlanId::new(), i, true).unwrap();
    assert_eq!(plan.rate_for(&[child, root], field), dec!(8));
    assert_eq!(plan.rate_for(&[child, root], web), dec!(2));
    assert_eq!(plan.rate_for(&[root], field), dec!(4));
    assert_eq!(plan.rate_for(&[], web), dec!(1));
    assert_eq!(plan.rate_for(&[], field), dec!(5));
}

#[test]
fn tiered_commission_across_the_tier_boundary_pays_the_accelerator_on_the_part_above() {
    let person = SalesPersonId::new();
    let channel = ChannelId::new();
    let mut i = plan_input(person);
    i.tiers = vec![Tier {
        from_attainment: dec!(100),
        multiplier: dec!(2),
    }];
    let plan = CommissionPlan::from_parts(CommissionPlanId::new(), i, true).unwrap();
    // Target 10 000: the first order (8 000) stays below, the second
    // (4 000) crosses it — 2 000 at 5 %, 2 000 at 10 %.
    let first = order("2026-03-02", "SO-1", channel, vec![line(dec!(8000))]);
    let second = order("2026-03-09", "SO-2", channel, vec![line(dec!(4000))]);
    let due = period_commissions(&plan, Some(dec!(10000)), &[second.clone(), first.clone()]);
    assert_eq!(
        due,
        vec![
            (first.order_id, dec!(400.00)),
            (second.order_id, dec!(300.00))
        ]
    );
    // Without a target there are no tiers.
    let due = period_commissions(&plan, None, &[first.clone(), second.clone()]);
    assert_eq!(due[1], (second.order_id, dec!(200.00)));
}

#[test]
fn the_cap_limits_a_period_and_later_orders_earn_what_is_left() {
    let person = SalesPersonId::new();
    let channel = ChannelId::new();
    let mut i = plan_input(person);
    i.cap = Some(dec!(500));
    let plan = CommissionPlan::from_parts(CommissionPlanId::new(), i, true).unwrap();
    let a = order("2026-03-02", "SO-1", channel, vec![line(dec!(8000))]);
    let b = order("2026-03-03", "SO-2", channel, vec![line(dec!(8000))]);
    let c = order("2026-03-04", "SO-3", channel, vec![line(dec!(8000))]);
    let due = period_commissions(&plan, None, &[a.clone(), b.clone(), c.clone()]);
    assert_eq!(
        due,
        vec![
            (a.order_id, dec!(400.00)),
            (b.order_id, dec!(100.00)),
            (c.order_id, dec!(0.00))
        ]
    );
}

#[test]
fn a_cancellation_claws_back_what_was_accrued() {
    let l = LineFacts {
        group_chain: vec![],
        net_total: dec!(1000),
        quantity: dec!(10),
        shipped: dec!(0),
    };
    let confirmed = line_basis(OrderStatus::Confirmed, None, AccrueOn::Confirmation, &l);
    assert_eq!(confirmed, dec!(1000));
    let cancelled = line_basis(OrderStatus::Cancelled, None, AccrueOn::Confirmation, &l);
    assert_eq!(cancelled, dec!(0));
    // 50.00 was accrued on confirmation; after the cancellation 0 is due.
    assert_eq!(
        booking(dec!(0), dec!(50.00)),
        Some((EntryKind::Reversal, dec!(-50.00)))
    );
    // A second run books nothing.
    assert_eq!(booking(dec!(0), dec!(0)), None);
}

#[test]
fn recalculation_after_an_amendment_books_only_the_difference() {
    let person = SalesPersonId::new();
    let channel = ChannelId::new();
    let plan =
        CommissionPlan::from_parts(CommissionPlanId::new(), plan_input(person), true).unwrap();
    let mut o = order("2026-03-02", "SO-1", channel, vec![line(dec!(1000))]);
    let before = period_commissions(&plan, None, std::slice::from_ref(&o))[0].1;
    assert_eq!(
        booking(before, dec!(0)),
        Some((EntryKind::Accrual, dec!(50.00)))
    );
    // Amended down to 600: 30.00 is due, 50.00 booked → a reversal of 20.00.
    o.lines = vec![line(dec!(600))];
    let after = period_commissions(&plan, None, std::slice::from_ref(&o))[0].1;
    assert_eq!(
        booking(after, before),
        Some((EntryKind::Reversal, dec!(-20.00)))
    );
    // Amended up to 1 200: 60.00 is due, 30.00 booked → an accrual of 30.00.
    o.lines = vec![line(dec!(1200))];
    let again = period_commissions(&plan, None, std::slice::from_ref(&o))[0].1;
    assert_eq!(
        booking(again, after),
        Some((EntryKind::Accrual, dec!(30.00)))
    );
}

#[test]
fn fulfilment_plans_earn_on_what_shipped_and_a_split_shares_it() {
    let l = LineFacts {
        group_chain: vec![],
        net_total: dec!(1000),
        quantity: dec!(10),
        shipped: dec!(4),
    };
    assert_eq!(
        line_basis(
            OrderStatus::PartiallyFulfilled,
            None,
            AccrueOn::Fulfilment,
            &l
        ),
        dec!(400)
    );
    assert_eq!(
        line_basis(
            OrderStatus::OnHold,
            Some(OrderStatus::Confirmed),
            AccrueOn::Confirmation,
            &l
        ),
        dec!(1000)
    );
    assert_eq!(
        line_basis(OrderStatus::Closed, None, AccrueOn::Confirmation, &l),
        dec!(400)
    );
    let person = SalesPersonId::new();
    let plan =
        CommissionPlan::from_parts(CommissionPlanId::new(), plan_input(person), true).unwrap();
    let mut o = order(
        "2026-03-02",
        "SO-1",
        ChannelId::new(),
        vec![line(dec!(1000))],
    );
    o.share = dec!(40);
    assert_eq!(period_commissions(&plan, None, &[o])[0].1, dec!(20.00));
}

#[test]
fn periods_start_on_their_first_day_and_contain_their_days() {
    let q = Period::containing(PeriodKind::Quarter, day("2026-05-17"));
    assert_eq!((q.start, q.end()), (day("2026-04-01"), day("2026-06-30")));
    assert_eq!(
        Period::containing(PeriodKind::Year, day("2026-05-17")).end(),
        day("2026-12-31")
    );
    assert!(Period::starting("period_start", PeriodKind::Month, day("2026-02-02")).is_err());
    let t = Target::new(
        TargetId::new(),
        TargetInput {
            subject: TargetSubject::SalesPerson(SalesPersonId::new()),
            period: PeriodKind::Month,
            period_start: day("2026-02-01"),
            item_group_id: None,
            amount: dec!(10000),
            currency: eur(),
        },
    )
    .unwrap();
    assert_eq!(t.attainment(dec!(2500)), dec!(25));
    let mut input = t.to_input();
    input.amount = dec!(10.001);
    assert_eq!(
        Target::new(TargetId::new(), input).unwrap_err().field,
        "amount"
    );
    assert!(Period::containing(PeriodKind::Month, day("2026-02-28")) == t.period());
}
