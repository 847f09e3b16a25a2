//! Property tests of the approval rules: evaluation ignores line order,
//! conditions are monotone in the values they observe, and smart
//! re-approval keeps exactly the levels whose tested values did not get
//! worse.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::fixtures::*;
use super::*;
use crate::ids::{CustomerGroupId, ItemGroupId, ProductId};
use crate::money::Currency;

fn policy_id(n: u128) -> crate::ids::ApprovalPolicyId {
    crate::ids::ApprovalPolicyId::from_uuid(pid(100 + n).as_uuid()).unwrap()
}

fn products() -> [ProductId; 3] {
    [p1(), p2(), p3()]
}

/// Each product sits in one item group chain.
fn item_chain(product: usize) -> Vec<ItemGroupId> {
    match product {
        0 => vec![ig_laptops(), ig_hardware()],
        1 => vec![ig_hardware()],
        _ => vec![ig_services()],
    }
}

fn customer_chains() -> [Vec<CustomerGroupId>; 3] {
    [
        vec![],
        vec![g_retail(), g_all()],
        vec![g_wholesale(), g_all()],
    ]
}

prop_compose! {
    fn arb_line()(
        product in 0usize..3,
        qty in 1u32..50,
        list in 1u32..1000,
        discount in 0u32..=60,
        margin in proptest::option::of(-10i64..60),
        flags in proptest::sample::subsequence(PricingFlagKind::ALL.to_vec(), 0..=2),
    ) -> (usize, SnapshotLineInput) {
        let list = Decimal::from(list);
        let net = list * Decimal::from(100 - discount) / Decimal::ONE_HUNDRED;
        let mut l = line(0, products()[product], Decimal::from(qty), list, net);
        l.item_group_chain = item_chain(product);
        l.margin_percent = margin.map(Decimal::from);
        l.flags = flags.into_iter().collect();
        (product, l)
    }
}

prop_compose! {
    fn arb_input()(
        lines in proptest::collection::vec(arb_line(), 1..5),
        terms in 0u16..90,
        limit in proptest::option::of(0u32..40_000),
        exposure in 0u32..40_000,
        chain in 0usize..3,
        web in any::<bool>(),
    ) -> DocumentSnapshotInput {
        input(|i| {
            i.lines = lines
                .into_iter()
                .enumerate()
                .map(|(n, (_, mut l))| {
                    l.line_no = u32::try_from(n + 1).unwrap();
                    l
                })
                .collect();
            let total: Decimal = i.lines.iter().map(|l| l.quantity * l.net_price.amount()).sum();
            i.total = eur(total);
            i.payment_terms_days = terms;
            i.customer.credit_limit = limit.map(|l| eur(Decimal::from(l)));
            i.customer.open_exposure = eur(Decimal::from(exposure));
            i.customer.group_chain = customer_chains()[chain].clone();
            i.channel = if web { "web".into() } else { "b2b".into() };
        })
    }
}

/// Leaves without upper caps: each triggers on the worse side only.
fn arb_leaf() -> impl Strategy<Value = Condition> {
    prop_oneof![
        (0u32..60_000).prop_map(|over| Condition::TotalAmount {
            limits: BTreeMap::from([(
                Currency::EUR,
                AmountBand {
                    over: Decimal::from(over),
                    up_to: None
                }
            )]),
        }),
        (0u32..60).prop_map(|o| Condition::MaxLineDiscount {
            over: Decimal::from(o),
            up_to: None
        }),
        (0u32..60).prop_map(|o| Condition::AverageDiscount {
            over: Decimal::from(o),
            up_to: None
        }),
        (0u32..60).prop_map(|u| Condition::Margin {
            under: Decimal::from(u),
            down_to: None
        }),
        proptest::sample::subsequence(PricingFlagKind::ALL.to_vec(), 0..=1).prop_map(|k| {
            Condition::PricingFlag {
                kinds: k.into_iter().collect(),
            }
        }),
        (0u32..30).prop_map(|t| Condition::CreditOverLimit {
            tolerance_percent: Decimal::from(t)
        }),
        (0usize..3).prop_map(|p| Condition::Products {
            ids: BTreeSet::from([products()[p]])
        }),
        proptest::sample::select(vec![ig_hardware(), ig_laptops(), ig_services()]).prop_map(|g| {
            Condition::ItemGroups {
                ids: BTreeSet::from([g]),
            }
        }),
        proptest::sample::select(vec![g_all(), g_retail(), g_wholesale()]).prop_map(|g| {
            Condition::CustomerGroups {
                ids: BTreeSet::from([g]),
            }
        }),
        proptest::sample::select(vec!["web", "b2b"]).prop_map(|c| Condition::Channels {
            codes: BTreeSet::from([c.to_owned()])
        }),
        (0u16..60).prop_map(|d| Condition::PaymentTermsOverDefault {
            by_more_than_days: d
        }),
    ]
}

fn arb_condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        arb_leaf(),
        proptest::collection::vec(arb_leaf(), 1..4).prop_map(|any| Condition::Any { any }),
        proptest::collection::vec(arb_leaf(), 1..4).prop_map(|all| Condition::All { all }),
    ]
}

fn policy_with(condition: Condition) -> Option<Policy> {
    // An `all` of random leaves may contradict itself; such policies are
    // refused at construction and simply not tested here.
    Policy::new(PolicySpec {
        id: policy_discount(),
        name: "P".into(),
        revision: 1,
        active: true,
        applies_to: BTreeSet::from([DocumentKind::Quotation]),
        condition,
        chain: ChainSpec {
            levels: vec![level(
                "L",
                vec![Approver::Principal { id: bob() }],
                Mode::AnyOne,
            )],
        },
        allow_self_approval: false,
    })
    .ok()
}

/// The levels' steps and fingerprints: what must not depend on line order.
fn shape(r: &RequiredApprovals) -> Vec<(StepKey, Fingerprint)> {
    r.levels
        .iter()
        .map(|l| (l.step, l.fingerprint.clone()))
        .collect()
}

fn policy_fingerprint(p: &Policy, s: &DocumentSnapshot) -> (bool, Fingerprint) {
    let mut fp = Fingerprint::default();
    let (t, _) = p.condition().evaluate(s, "condition", &mut fp);
    (t, fp)
}

proptest! {
    #[test]
    fn evaluation_does_not_depend_on_the_order_of_lines_or_policies(
        doc in arb_input(),
        conditions in proptest::collection::vec(arb_condition(), 1..4),
        seed in any::<u64>(),
    ) {
        let policies: Vec<Policy> = conditions
            .into_iter()
            .enumerate()
            .filter_map(|(n, c)| {
                let mut spec = policy_with(c)?.to_spec();
                spec.id = [policy_discount(), policy_total(), policy_terms()][n % 3];
                Policy::new(spec).ok()
            })
            .collect::<Vec<_>>();
        let mut ids = BTreeSet::new();
        let policies: Vec<Policy> = policies.into_iter().filter(|p| ids.insert(p.id())).collect();
        let s = DocumentSnapshot::new(doc.clone()).unwrap();
        let base = evaluate(&policies, &s).unwrap();

        // Same lines in another order (and the policies reversed): equal.
        let mut shuffled = doc.clone();
        let n = shuffled.lines.len();
        shuffled.lines.rotate_left(usize::try_from(seed % n as u64).unwrap());
        let mut reversed = policies.clone();
        reversed.reverse();
        let again = evaluate(&reversed, &DocumentSnapshot::new(shuffled).unwrap()).unwrap();
        prop_assert_eq!(&again, &base);

        // Lines renumbered in reverse: the same levels for the same values
        // (reasons may name other line numbers).
        let mut renumbered = doc;
        for (k, l) in renumbered.lines.iter_mut().enumerate() {
            l.line_no = u32::try_from(n - k).unwrap();
        }
        let renum = evaluate(&policies, &DocumentSnapshot::new(renumbered).unwrap()).unwrap();
        prop_assert_eq!(shape(&renum), shape(&base));
    }

    #[test]
    fn a_document_that_needs_no_approval_needs_none_after_a_change_that_only_makes_it_better(
        a in arb_input(),
        b in arb_input(),
        condition in arb_condition(),
    ) {
        let Some(p) = policy_with(condition) else { return Ok(()) };
        let (sa, sb) = (DocumentSnapshot::new(a).unwrap(), DocumentSnapshot::new(b).unwrap());
        let (triggered_a, fp_a) = policy_fingerprint(&p, &sa);
        let (triggered_b, fp_b) = policy_fingerprint(&p, &sb);
        let better = reapproval::worsened(&fp_b, &fp_a).is_empty();
        if better && !triggered_a {
            prop_assert!(!triggered_b, "{:?} → {:?}", fp_a, fp_b);
        }
        // The same, seen through the public API.
        if better && evaluate(std::slice::from_ref(&p), &sa).unwrap().is_empty() {
            prop_assert!(evaluate(&[p], &sb).unwrap().is_empty());
        }
    }

    #[test]
    fn reapproval_keeps_a_level_exactly_when_none_of_its_measures_got_worse(
        a in arb_input(),
        b in arb_input(),
        total in 0u32..20_000,
        discount in 0u32..40,
        average in 0u32..40,
        margin in 10u32..60,
        terms in 0u16..30,
    ) {
        let one = |id, condition| {
            let mut spec = policy_with(condition).unwrap().to_spec();
            spec.id = id;
            Policy::new(spec).unwrap()
        };
        let d = Decimal::from;
        let policies = [
            one(policy_id(1), Condition::TotalAmount {
                limits: BTreeMap::from([(Currency::EUR, AmountBand { over: d(total), up_to: None })]),
            }),
            one(policy_id(2), Condition::MaxLineDiscount { over: d(discount), up_to: None }),
            one(policy_id(3), Condition::AverageDiscount { over: d(average), up_to: None }),
            one(policy_id(4), Condition::Margin { under: d(margin), down_to: None }),
            one(policy_id(5), Condition::PaymentTermsOverDefault { by_more_than_days: terms }),
        ];
        let sa = DocumentSnapshot::new(a).unwrap();
        let mut b = b;
        b.version = 2;
        let sb = DocumentSnapshot::new(b).unwrap();

        // Approve everything version 1 needs.
        let required = evaluate(&policies, &sa).unwrap();
        if required.is_empty() {
            return Ok(());
        }
        let mut req = ApprovalRequest::open(request_1(), &required, None, &directory(), at(0)).unwrap();
        for level in &required.levels {
            req = req
                .decide(approve(level.step, bob(), 1), &Delegations::default(), at(1))
                .unwrap()
                .request;
        }
        let approved = matches!(req.status(), RequestStatus::Approved { .. });
        prop_assert!(approved);

        let plan = plan_reapproval(Some(&req), &evaluate(&policies, &sb).unwrap()).unwrap();
        for planned in &plan.steps {
            // Measured straight from the snapshots, not through fingerprints.
            let no_worse = match planned.step.policy {
                p if p == policies[0].id() => sb.total().amount() <= sa.total().amount(),
                p if p == policies[1].id() => sb.max_line_discount() <= sa.max_line_discount(),
                p if p == policies[2].id() => sb.average_discount() <= sa.average_discount(),
                p if p == policies[3].id() => match (sb.margin_percent(), sa.margin_percent()) {
                    (Some(x), Some(y)) => x >= y,
                    (_, None) => true,
                    (None, Some(_)) => false,
                },
                _ => sb.payment_terms_excess_days() <= sa.payment_terms_excess_days(),
            };
            let was_approved = required.level(planned.step).is_some();
            match &planned.plan {
                reapproval::StepPlan::Keep { .. } => prop_assert!(was_approved && no_worse),
                reapproval::StepPlan::ApproveAgain { changes, .. } => {
                    prop_assert!(was_approved && !no_worse && !changes.is_empty());
                }
                reapproval::StepPlan::New => prop_assert!(!was_approved),
                reapproval::StepPlan::PolicyChanged { .. } => prop_assert!(false, "same revision"),
            }
        }
    }
}
