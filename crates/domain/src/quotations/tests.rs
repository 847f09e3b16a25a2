use chrono::TimeZone;
use rust_decimal_macros::dec;

use super::*;
use crate::series::DocumentSeries;

pub(super) fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn eur(a: Decimal) -> Money {
    Money::new(a, Currency::from_code("EUR").unwrap()).unwrap()
}

fn line(kind: LineKind, q: Decimal, group: Option<&str>) -> NewLine {
    NewLine {
        product_id: ProductId::new(),
        quantity: q,
        uom: None,
        requested_date: None,
        kind,
        group: group.map(str::to_owned),
        selected: None,
    }
}

/// 10 × standard at 10, optional 1 × at 50, alternatives A (2 × at 100, 2 × at 80).
pub(super) fn quotation(valid_until: NaiveDate) -> Quotation {
    let mut q = Quotation::new(
        NewQuotation {
            id: QuotationId::new(),
            number: DocumentSeries::new("QTN", 2026)
                .unwrap()
                .number(42)
                .unwrap(),
            customer_id: CustomerId::new(),
            channel_id: ChannelId::new(),
            channel_code: "B2B".into(),
            currency: Currency::from_code("EUR").unwrap(),
            valid_until,
            notes: None,
            created_by: PrincipalId::new(),
            lines: vec![
                line(LineKind::Standard, dec!(10), None),
                line(LineKind::Optional, dec!(1), None),
                line(LineKind::Alternative, dec!(2), Some("A")),
                line(LineKind::Alternative, dec!(2), Some("A")),
            ],
        },
        today(),
    )
    .unwrap();
    let prices = [dec!(10), dec!(50), dec!(100), dec!(80)]
        .iter()
        .zip(q.lines().to_vec())
        .map(|(unit, l)| {
            let net = *unit * l.quantity();
            LinePrice {
                uom: "pcs".into(),
                list_price: eur(*unit),
                adjustments: vec![],
                net_unit_price: eur(*unit),
                net_total: eur(net),
                tax_total: eur(net / dec!(10)),
                gross_total: eur(net + net / dec!(10)),
                flags: vec![],
                margin: Some(eur(net / dec!(4))),
            }
        })
        .collect();
    q.apply_prices(prices).unwrap();
    q
}

pub(super) fn valid() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()
}

#[test]
fn optional_lines_and_unchosen_alternatives_stay_outside_the_total() {
    let q = quotation(valid());
    let t = q.totals().unwrap();
    // 10 × 10 + the first alternative 2 × 100.
    assert_eq!(t.net_total, eur(dec!(300)));
    assert_eq!(t.tax_total, eur(dec!(30)));
    assert_eq!(t.optional_net_total, eur(dec!(50)));
    assert!(q.lines()[2].selected() && !q.lines()[3].selected());
}

#[test]
fn choosing_the_other_alternative_and_taking_an_optional_line_changes_the_total() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    let choice = Choice {
        alternatives: BTreeMap::from([("A".to_owned(), q.lines()[3].id())]),
        optional_lines: vec![q.lines()[1].id()],
    };
    q.accept(&choice, AcceptedBy::CustomerLink, now(), today())
        .unwrap();
    assert_eq!(q.status(), QuotationStatus::Accepted);
    assert_eq!(q.totals().unwrap().net_total, eur(dec!(310)));
}

#[test]
fn an_alternative_group_needs_two_lines_and_one_selection() {
    let e = build_lines(
        vec![line(LineKind::Alternative, dec!(1), Some("A"))],
        today(),
    )
    .unwrap_err();
    assert_eq!(e.field, "lines[0].group");
    let mut a = line(LineKind::Alternative, dec!(1), Some("A"));
    a.selected = Some(true);
    let e = build_lines(vec![a.clone(), a], today()).unwrap_err();
    assert_eq!(e.field, "lines[0].selected");
    let e = build_lines(vec![line(LineKind::Alternative, dec!(1), None)], today()).unwrap_err();
    assert_eq!(e.field, "lines[0].group");
    let mut s = line(LineKind::Optional, dec!(1), None);
    s.selected = Some(true);
    assert_eq!(
        build_lines(vec![s], today()).unwrap_err().field,
        "lines[0].selected"
    );
}

#[test]
fn zero_negative_and_too_precise_quantities_are_refused_naming_the_line() {
    for q in [dec!(0), dec!(-1), dec!(0.0001), dec!(2000000000)] {
        let e = build_lines(
            vec![
                line(LineKind::Standard, dec!(1), None),
                line(LineKind::Standard, q, None),
            ],
            today(),
        )
        .unwrap_err();
        assert_eq!(e.field, "lines[1].quantity", "{q}");
    }
    assert_eq!(build_lines(vec![], today()).unwrap_err().field, "lines");
}

#[test]
fn a_quotation_cannot_be_valid_before_today_or_ask_for_a_past_date() {
    let mut n = line(LineKind::Standard, dec!(1), None);
    n.requested_date = NaiveDate::from_ymd_opt(2026, 3, 1);
    assert_eq!(
        build_lines(vec![n], today()).unwrap_err().field,
        "lines[0].requested_date"
    );
    let mut q = quotation(valid());
    let e = q
        .edit(
            QuotationPatch {
                valid_until: NaiveDate::from_ymd_opt(2026, 3, 1),
                ..Default::default()
            },
            today(),
        )
        .unwrap_err();
    assert!(matches!(e, QuotationError::Invalid(ref v) if v.field == "valid_until"));
}

#[test]
fn the_channel_override_sets_the_default_validity() {
    use crate::catalog::{ChannelDefaults, SettingsPatch};
    let s = Settings::default()
        .patched(SettingsPatch {
            channel_defaults: Some(BTreeMap::from([(
                "B2B".to_owned(),
                ChannelDefaults::new(Some(60), None).unwrap(),
            )])),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        default_valid_until(today(), &s, "B2B"),
        NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
    );
    assert_eq!(
        default_valid_until(today(), &s, "WEB"),
        NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()
    );
}

#[test]
fn an_expired_quotation_cannot_be_sent_or_accepted() {
    let mut q = quotation(today());
    let tomorrow = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
    assert!(matches!(
        q.send(tomorrow),
        Err(QuotationError::Expired { .. })
    ));
    q.send(today()).unwrap();
    assert!(matches!(
        q.accept(
            &Choice::default(),
            AcceptedBy::CustomerLink,
            now(),
            tomorrow
        ),
        Err(QuotationError::Expired { .. })
    ));
    q.expire(tomorrow).unwrap();
    assert_eq!(q.status(), QuotationStatus::Expired);
    assert!(q.send(tomorrow).is_err());
}

#[test]
fn a_quotation_still_valid_does_not_expire() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    assert!(q.expire(today()).is_err());
    assert_eq!(q.status(), QuotationStatus::Sent);
}

#[test]
fn converting_a_lost_quotation_is_refused() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    q.lose(LostReason::new("price", Some("Rival GmbH"), now()).unwrap())
        .unwrap();
    assert_eq!(q.lost().unwrap().competitor(), Some("Rival GmbH"));
    let e = q
        .plan_conversion(&ConversionRequest::default(), today(), true, true)
        .unwrap_err();
    assert!(matches!(e, QuotationError::Transition(_)), "{e}");
}

#[test]
fn a_lost_reason_is_required() {
    assert_eq!(
        LostReason::new("  ", None, now()).unwrap_err().field,
        "reason"
    );
}

#[test]
fn whole_conversion_orders_every_counted_line_with_the_quoted_rate() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    let plan = q
        .plan_conversion(&ConversionRequest::default(), today(), false, true)
        .unwrap();
    assert_eq!(plan.quotation.status(), QuotationStatus::Ordered);
    let ids: Vec<LineId> = plan.lines.iter().map(|l| l.line_id).collect();
    assert_eq!(ids, vec![q.lines()[0].id(), q.lines()[2].id()]);
    assert_eq!(plan.lines[0].kept_rate, Some(eur(dec!(10))));
    assert_eq!(plan.lines[0].quantity, dec!(10));
    let repriced = q
        .plan_conversion(&ConversionRequest::default(), today(), false, false)
        .unwrap();
    assert_eq!(repriced.lines[0].kept_rate, None);
}

#[test]
fn partial_conversion_tracks_the_remainder_and_the_second_orders_the_rest() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    let first = ConversionRequest {
        lines: Some(vec![(q.lines()[0].id(), Some(dec!(4)))]),
        ..Default::default()
    };
    let plan = q.plan_conversion(&first, today(), false, true).unwrap();
    let after = plan.quotation;
    assert_eq!(after.status(), QuotationStatus::PartiallyOrdered);
    assert_eq!(after.lines()[0].remaining_quantity(), dec!(6));
    // The same 10 again is more than remains.
    let too_much = ConversionRequest {
        lines: Some(vec![(q.lines()[0].id(), Some(dec!(10)))]),
        ..Default::default()
    };
    assert!(matches!(
        after.plan_conversion(&too_much, today(), false, true),
        Err(QuotationError::ExceedsRemaining { .. })
    ));
    let rest = after
        .plan_conversion(&ConversionRequest::default(), today(), false, true)
        .unwrap();
    assert_eq!(rest.quotation.status(), QuotationStatus::Ordered);
    assert_eq!(rest.lines[0].quantity, dec!(6));
    assert!(matches!(
        rest.quotation
            .plan_conversion(&ConversionRequest::default(), today(), false, true),
        Err(QuotationError::Transition(_))
    ));
}

#[test]
fn an_unchosen_line_cannot_be_converted_and_a_group_ordered_from_keeps_its_choice() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    let optional = ConversionRequest {
        lines: Some(vec![(q.lines()[1].id(), None)]),
        ..Default::default()
    };
    assert!(matches!(
        q.plan_conversion(&optional, today(), false, true),
        Err(QuotationError::NotChosen { .. })
    ));
    let alt = ConversionRequest {
        lines: Some(vec![(q.lines()[2].id(), Some(dec!(1)))]),
        ..Default::default()
    };
    let after = q
        .plan_conversion(&alt, today(), false, true)
        .unwrap()
        .quotation;
    let switch = ConversionRequest {
        choice: Choice {
            alternatives: BTreeMap::from([("A".to_owned(), q.lines()[3].id())]),
            optional_lines: vec![],
        },
        lines: None,
    };
    assert!(matches!(
        after.plan_conversion(&switch, today(), false, true),
        Err(QuotationError::ChoiceFixed { .. })
    ));
}

#[test]
fn the_chosen_alternative_is_what_gets_ordered() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    let req = ConversionRequest {
        choice: Choice {
            alternatives: BTreeMap::from([("A".to_owned(), q.lines()[3].id())]),
            optional_lines: vec![q.lines()[1].id()],
        },
        lines: None,
    };
    let plan = q.plan_conversion(&req, today(), false, true).unwrap();
    let ids: Vec<LineId> = plan.lines.iter().map(|l| l.line_id).collect();
    assert_eq!(
        ids,
        vec![q.lines()[0].id(), q.lines()[1].id(), q.lines()[3].id()]
    );
}

#[test]
fn an_expired_quotation_converts_only_when_the_setting_allows() {
    let mut q = quotation(today());
    q.send(today()).unwrap();
    let later = NaiveDate::from_ymd_opt(2026, 4, 10).unwrap();
    q.expire(later).unwrap();
    assert!(matches!(
        q.plan_conversion(&ConversionRequest::default(), later, false, true),
        Err(QuotationError::Expired { .. })
    ));
    let plan = q
        .plan_conversion(&ConversionRequest::default(), later, true, true)
        .unwrap();
    assert_eq!(plan.quotation.status(), QuotationStatus::Ordered);
}

#[test]
fn revising_starts_the_next_revision_as_a_draft() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    q.lose(LostReason::new("too dear", None, now()).unwrap())
        .unwrap();
    let r = q.revise(today(), valid()).unwrap();
    assert_eq!((r.revision(), r.status()), (2, QuotationStatus::Draft));
    assert_eq!((r.id(), r.number()), (q.id(), q.number()));
    assert!(r.lost().is_none());
    let mut draft = r.clone();
    assert!(draft.revise(today(), valid()).is_err());
    draft
        .edit(
            QuotationPatch {
                notes: Some(Some("cheaper".into())),
                ..Default::default()
            },
            today(),
        )
        .unwrap();
}

#[test]
fn a_quotation_round_trips_through_its_json() {
    let mut q = quotation(valid());
    q.send(today()).unwrap();
    let text = serde_json::to_string(&q).unwrap();
    assert!(text.contains("\"remaining_quantity\":\"10\""), "{text}");
    let back: Quotation = serde_json::from_str(&text).unwrap();
    assert_eq!(back, q);
}

fn notes(text: &str) -> QuotationPatch {
    QuotationPatch {
        notes: Some(Some(text.into())),
        ..Default::default()
    }
}

#[test]
fn an_approved_quotation_is_sent_and_its_version_is_the_approved_one() {
    let mut q = quotation(valid());
    assert_eq!(q.document_version(), 1);
    let request = ApprovalRequestId::new();
    q.submit_for_approval(request, today()).unwrap();
    assert_eq!(q.status(), QuotationStatus::PendingApproval);
    assert_eq!(q.approval_request_id(), Some(request));
    // Waiting for approval: not sent, accepted or converted.
    assert!(q.clone().send(today()).is_err());
    assert!(q
        .plan_conversion(&ConversionRequest::default(), today(), false, false)
        .is_err());
    q.approval_granted(1).unwrap();
    assert_eq!(q.status(), QuotationStatus::Approved);
    assert_eq!(q.document_version(), 1);
    q.send(today()).unwrap();
    assert_eq!(q.status(), QuotationStatus::Sent);
}

#[test]
fn an_approval_for_an_older_version_changes_nothing() {
    let mut q = quotation(valid());
    q.submit_for_approval(ApprovalRequestId::new(), today())
        .unwrap();
    // Edited while waiting: a draft at version 2, to be submitted again.
    q.edit(notes("longer delivery"), today()).unwrap();
    assert_eq!(
        (q.status(), q.document_version()),
        (QuotationStatus::Draft, 2)
    );
    q.submit_for_approval(ApprovalRequestId::new(), today())
        .unwrap();
    let before = q.clone();
    assert_eq!(
        q.approval_granted(1).unwrap_err(),
        QuotationError::StaleApproval {
            decided: 1,
            current: 2
        }
    );
    assert!(q.approval_rejected(1, "no", now()).is_err());
    assert_eq!(q, before);
    q.approval_granted(2).unwrap();
}

#[test]
fn a_rejection_returns_the_quotation_to_draft_with_the_reason_at_a_new_version() {
    let mut q = quotation(valid());
    q.submit_for_approval(ApprovalRequestId::new(), today())
        .unwrap();
    q.approval_rejected(1, "15 % is too much for this customer", now())
        .unwrap();
    assert_eq!(q.status(), QuotationStatus::Draft);
    assert_eq!(q.document_version(), 2);
    let r = q.approval_rejection().unwrap();
    assert_eq!(
        (r.reason.as_str(), r.version),
        ("15 % is too much for this customer", 1)
    );
    // Submitting again clears it.
    q.submit_for_approval(ApprovalRequestId::new(), today())
        .unwrap();
    assert!(q.approval_rejection().is_none());
}

#[test]
fn editing_an_approved_quotation_makes_it_a_draft_at_the_next_version() {
    let mut q = quotation(valid());
    q.submit_for_approval(ApprovalRequestId::new(), today())
        .unwrap();
    q.approval_granted(1).unwrap();
    q.edit(notes("changed after approval"), today()).unwrap();
    assert_eq!(
        (q.status(), q.document_version()),
        (QuotationStatus::Draft, 2)
    );
}

#[test]
fn a_revision_is_a_new_version_without_the_earlier_request() {
    let mut q = quotation(valid());
    q.submit_for_approval(ApprovalRequestId::new(), today())
        .unwrap();
    q.approval_granted(1).unwrap();
    q.send(today()).unwrap();
    let r = q.revise(today(), valid()).unwrap();
    assert_eq!((r.revision(), r.document_version()), (2, 2));
    assert_eq!(r.approval_request_id(), None);
}

#[test]
fn a_sent_quotation_is_not_edited_and_an_approved_one_does_not_expire() {
    let mut q = quotation(valid());
    q.submit_for_approval(ApprovalRequestId::new(), today())
        .unwrap();
    q.approval_granted(1).unwrap();
    let later = NaiveDate::from_ymd_opt(2026, 4, 30).unwrap();
    assert!(q.clone().expire(later).is_err());
    // Past its validity it cannot be sent any more.
    assert!(matches!(
        q.clone().send(later),
        Err(QuotationError::Expired { .. })
    ));
    q.send(today()).unwrap();
    assert!(q.edit(notes("too late"), today()).is_err());
}

#[test]
fn a_stored_quotation_without_a_document_version_reads_as_version_one() {
    let q = quotation(valid());
    let mut v = serde_json::to_value(&q).unwrap();
    let map = v.as_object_mut().unwrap();
    map.remove("document_version");
    map.remove("approval_request_id");
    map.remove("approval_rejection");
    let back: Quotation = serde_json::from_value(v).unwrap();
    assert_eq!(back, q);
}

#[test]
fn the_offer_ceiling_counts_every_optional_line_and_the_dearest_alternative() {
    let q = quotation(valid());
    // 10 × 10 + optional 50 + the dearer alternative 2 × 100 (not 2 × 80).
    assert_eq!(q.offer_ceiling(), Some(eur(dec!(350))));
    let mut other = q.clone();
    // Choosing the cheaper alternative does not change the ceiling.
    other.send(today()).unwrap();
    other
        .accept(
            &Choice {
                alternatives: BTreeMap::from([("A".to_owned(), q.lines()[3].id())]),
                optional_lines: vec![],
            },
            AcceptedBy::CustomerLink,
            now(),
            today(),
        )
        .unwrap();
    assert_eq!(other.offer_ceiling(), Some(eur(dec!(350))));
}

#[test]
fn any_rejection_comment_the_approvals_engine_accepts_fits_the_quotation() {
    let mut q = quotation(valid());
    q.submit_for_approval(ApprovalRequestId::new(), today())
        .unwrap();
    let longest = "x".repeat(crate::catalog::TEXT_MAX);
    q.approval_rejected(1, &longest, now()).unwrap();
    assert_eq!(
        q.approval_rejection().unwrap().reason.len(),
        crate::catalog::TEXT_MAX
    );
}
