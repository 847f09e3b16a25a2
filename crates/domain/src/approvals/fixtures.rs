//! Shared test data: people, products, groups, snapshots and policies.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use uuid::Uuid;

use super::*;
use crate::auth::Role;
use crate::ids::*;
use crate::money::{Currency, Money};

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

macro_rules! ids {
    ($($name:ident: $ty:ident = $n:expr;)*) => {
        $(pub fn $name() -> $ty { $ty::from_uuid(uuid($n)).unwrap() })*
    };
}

ids! {
    p1: ProductId = 1;
    p2: ProductId = 2;
    p3: ProductId = 3;
    g_all: CustomerGroupId = 10;
    g_retail: CustomerGroupId = 11;
    g_wholesale: CustomerGroupId = 12;
    ig_hardware: ItemGroupId = 20;
    ig_laptops: ItemGroupId = 21;
    ig_services: ItemGroupId = 22;
    t_north: TerritoryId = 30;
    rep: PrincipalId = 40;
    manager: PrincipalId = 41;
    director: PrincipalId = 42;
    ceo: PrincipalId = 43;
    admin: PrincipalId = 44;
    territory_boss: PrincipalId = 45;
    bob: PrincipalId = 46;
    carol: PrincipalId = 47;
    dave: PrincipalId = 48;
    policy_discount: ApprovalPolicyId = 50;
    policy_total: ApprovalPolicyId = 51;
    policy_terms: ApprovalPolicyId = 52;
    quotation: QuotationId = 60;
    quotation_copy: QuotationId = 61;
    request_1: ApprovalRequestId = 70;
    request_2: ApprovalRequestId = 71;
    customer: CustomerId = 80;
}

pub fn pid(n: u128) -> PrincipalId {
    PrincipalId::from_uuid(uuid(1000 + n)).unwrap()
}

pub fn eur(amount: Decimal) -> Money {
    Money::new(amount, Currency::EUR).unwrap()
}

/// 2026-03-02 09:00 UTC plus `hours`.
pub fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + chrono::TimeDelta::hours(hours)
}

pub fn line(
    no: u32,
    product: ProductId,
    qty: Decimal,
    list: Decimal,
    net: Decimal,
) -> SnapshotLineInput {
    let discount = if list.is_zero() {
        Decimal::ZERO
    } else {
        ((list - net) / list * Decimal::ONE_HUNDRED).round_dp(4)
    };
    SnapshotLineInput {
        line_no: no,
        product,
        item_group_chain: vec![],
        quantity: qty,
        list_price: eur(list),
        net_price: eur(net),
        discount_percent: discount,
        margin_percent: Some(dec!(30)),
        flags: BTreeSet::new(),
    }
}

/// A quotation, version 1, by the rep: 10 × P1 at 100 list, 80 net
/// (20% off), EUR 800, 30 days terms (the default), no credit limit.
pub fn input(change: impl FnOnce(&mut DocumentSnapshotInput)) -> DocumentSnapshotInput {
    let mut i = DocumentSnapshotInput {
        document: DocumentId::Quotation(quotation()),
        version: 1,
        channel: "b2b".into(),
        customer: CustomerFacts {
            id: customer(),
            group_chain: vec![],
            territory: Some(t_north()),
            credit_limit: None,
            open_exposure: eur(dec!(0)),
        },
        submitted_by: rep(),
        payment_terms_days: 30,
        default_payment_terms_days: 30,
        currency: Currency::EUR,
        total: eur(dec!(800)),
        lines: vec![line(1, p1(), dec!(10), dec!(100), dec!(80))],
    };
    change(&mut i);
    i
}

pub fn snapshot(change: impl FnOnce(&mut DocumentSnapshotInput)) -> DocumentSnapshot {
    DocumentSnapshot::new(input(change)).unwrap()
}

/// The default snapshot with line 1 at `discount`% off (total adjusted).
pub fn snapshot_with_discount(discount: Decimal) -> DocumentSnapshot {
    snapshot(|i| set_discount(i, discount))
}

pub fn set_discount(i: &mut DocumentSnapshotInput, discount: Decimal) {
    let net = dec!(100) - discount;
    let qty = i.lines[0].quantity;
    i.lines[0] = line(1, p1(), qty, dec!(100), net);
    i.total = eur(net * qty);
}

pub fn usd_snapshot() -> DocumentSnapshot {
    let usd = |a| Money::new(a, Currency::USD).unwrap();
    snapshot(|i| {
        i.currency = Currency::USD;
        i.total = usd(dec!(800));
        i.customer.open_exposure = usd(dec!(0));
        i.lines[0].list_price = usd(dec!(100));
        i.lines[0].net_price = usd(dec!(80));
    })
}

/// rep → manager → director → ceo; admin; territory_boss runs the north;
/// managers: manager and director. bob, carol, dave are active too.
pub fn directory() -> Directory {
    let all = [
        rep(),
        manager(),
        director(),
        ceo(),
        admin(),
        territory_boss(),
        bob(),
        carol(),
        dave(),
    ];
    Directory {
        principals: all.into_iter().collect(),
        roles: BTreeMap::from([
            (Role::Manager, BTreeSet::from([manager(), director()])),
            (Role::Admin, BTreeSet::from([admin()])),
            (Role::Rep, BTreeSet::from([rep()])),
        ]),
        managers: BTreeMap::from([
            (rep(), manager()),
            (manager(), director()),
            (director(), ceo()),
        ]),
        territory_managers: BTreeMap::from([(t_north(), territory_boss())]),
    }
}

pub fn level(name: &str, approvers: Vec<Approver>, mode: Mode) -> LevelSpec {
    LevelSpec {
        name: name.into(),
        condition: None,
        approvers,
        mode,
        escalation: None,
    }
}

pub fn policy(id: ApprovalPolicyId, condition: Condition, levels: Vec<LevelSpec>) -> Policy {
    Policy::new(PolicySpec {
        id,
        name: "Policy".into(),
        revision: 1,
        active: true,
        applies_to: BTreeSet::from([DocumentKind::Quotation, DocumentKind::Order]),
        condition,
        chain: ChainSpec { levels },
        allow_self_approval: false,
    })
    .unwrap()
}

/// Highest line discount over `over`% → the submitter's manager.
pub fn discount_policy(over: Decimal) -> Policy {
    policy(
        policy_discount(),
        Condition::MaxLineDiscount { over, up_to: None },
        vec![level(
            "Sales manager",
            vec![Approver::SubmitterManager],
            Mode::AnyOne,
        )],
    )
}

/// Total over `over` EUR → finance (bob), then the director.
pub fn total_policy(over: Decimal) -> Policy {
    policy(
        policy_total(),
        Condition::TotalAmount {
            limits: BTreeMap::from([(Currency::EUR, AmountBand { over, up_to: None })]),
        },
        vec![
            level(
                "Finance",
                vec![Approver::Principal { id: bob() }],
                Mode::AnyOne,
            ),
            level(
                "Director",
                vec![Approver::Principal { id: director() }],
                Mode::AnyOne,
            ),
        ],
    )
}

pub fn approve(step: StepKey, by: PrincipalId, version: u32) -> DecisionInput {
    DecisionInput {
        step,
        decided_by: by,
        verdict: Verdict::Approve,
        comment: None,
        document_version: version,
    }
}

pub fn reject(step: StepKey, by: PrincipalId, version: u32, why: &str) -> DecisionInput {
    DecisionInput {
        step,
        decided_by: by,
        verdict: Verdict::Reject,
        comment: Some(why.into()),
        document_version: version,
    }
}

pub fn key(policy: ApprovalPolicyId, level: u16) -> StepKey {
    StepKey { policy, level }
}
