//! What approval policies look at: a [`DocumentSnapshot`] of one version of
//! a quotation or an order.
//!
//! The orders capability builds the snapshot from the priced document it
//! stores (never from client input), with the customer's credit position
//! and the trees as ancestor chains. Every amount is in the document's
//! currency: the caller converts the customer's credit limit and open
//! exposure first, so nothing here needs exchange rates.
//!
//! The constructor checks the facts agree with each other (a line's
//! discount matches its list and net price, currencies match, line numbers
//! are unique) and computes the aggregates policies test once, with checked
//! arithmetic, so evaluating a policy can neither fail nor overflow.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{DocumentId, DocumentRef};
use crate::catalog::{code, ValidationError};
use crate::ids::{CustomerGroupId, CustomerId, ItemGroupId, PrincipalId, ProductId, TerritoryId};
use crate::money::{Currency, Money};
use crate::pricing::LineFlag;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotError {
    #[error("version must be at least 1")]
    ZeroVersion,
    #[error("channel: {0}")]
    Channel(ValidationError),
    #[error("a document needs at least one line")]
    NoLines,
    #[error("at most {max} lines are supported")]
    TooManyLines { max: usize },
    #[error("line number {0} appears twice")]
    DuplicateLine(u32),
    #[error("{field}: amount in {found}, but the document is in {expected}")]
    CurrencyMismatch {
        field: String,
        expected: Currency,
        found: Currency,
    },
    #[error("{field}: must not be negative")]
    Negative { field: String },
    #[error("line {line_no}: quantity must be positive")]
    NonPositiveQuantity { line_no: u32 },
    #[error("line {line_no}: discount {given}% does not match list and net price ({computed}%)")]
    InconsistentDiscount {
        line_no: u32,
        given: Decimal,
        computed: Decimal,
    },
    #[error("line {line_no}: margin {0}% must be below 100%", .margin)]
    MarginTooHigh { line_no: u32, margin: Decimal },
    #[error("{field}: an ancestor chain must not repeat a group")]
    RepeatedAncestor { field: String },
    #[error("{field}: amount out of range")]
    OutOfRange { field: String },
}

/// The pricing flags approvals react to (see [`crate::pricing::LineFlag`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingFlagKind {
    /// The net unit price is below the product's floor price.
    BelowFloor,
    /// The line's margin is below the minimum margin.
    BelowMinimumMargin,
    /// A pricing rule would have taken the price below zero.
    ClampedAtZero,
}

impl PricingFlagKind {
    pub const ALL: [PricingFlagKind; 3] = [
        PricingFlagKind::BelowFloor,
        PricingFlagKind::BelowMinimumMargin,
        PricingFlagKind::ClampedAtZero,
    ];

    /// The approval-relevant kind of a pricing flag, if it has one.
    pub fn from_line_flag(flag: &LineFlag) -> Option<PricingFlagKind> {
        match flag {
            LineFlag::ClampedAtZero { .. } => Some(PricingFlagKind::ClampedAtZero),
            LineFlag::BelowFloorPrice { .. } => Some(PricingFlagKind::BelowFloor),
            LineFlag::BelowMinimumMargin { .. } => Some(PricingFlagKind::BelowMinimumMargin),
            LineFlag::CostUnknown => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PricingFlagKind::BelowFloor => "below_floor",
            PricingFlagKind::BelowMinimumMargin => "below_minimum_margin",
            PricingFlagKind::ClampedAtZero => "clamped_at_zero",
        }
    }
}

/// The customer as approvals see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerFacts {
    pub id: CustomerId,
    /// The customer's group and its ancestors, nearest first; empty when
    /// the customer is in no group.
    #[serde(default)]
    pub group_chain: Vec<CustomerGroupId>,
    #[serde(default)]
    pub territory: Option<TerritoryId>,
    /// `None`: no limit (credit conditions never trigger).
    #[serde(default)]
    pub credit_limit: Option<Money>,
    /// Open orders and unpaid invoices, excluding this document.
    pub open_exposure: Money,
}

/// One line as the caller describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotLineInput {
    pub line_no: u32,
    pub product: ProductId,
    /// The product's item group and its ancestors, nearest first.
    #[serde(default)]
    pub item_group_chain: Vec<ItemGroupId>,
    pub quantity: Decimal,
    /// Unit list price, before any discount.
    pub list_price: Money,
    /// Unit net price, after every discount, before tax.
    pub net_price: Money,
    /// `(list − net) ÷ list × 100`; must agree with the prices to within
    /// [`DocumentSnapshot::DISCOUNT_TOLERANCE`] percentage points.
    pub discount_percent: Decimal,
    /// Margin on the net price in percent; `None` when the net is zero.
    #[serde(default)]
    pub margin_percent: Option<Decimal>,
    #[serde(default)]
    pub flags: BTreeSet<PricingFlagKind>,
}

/// The wire shape of a snapshot; [`DocumentSnapshot::new`] validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSnapshotInput {
    pub document: DocumentId,
    pub version: u32,
    /// The sales channel's code (`b2b`, `web`).
    pub channel: String,
    pub customer: CustomerFacts,
    /// Who submitted the document for approval.
    pub submitted_by: PrincipalId,
    pub payment_terms_days: u16,
    /// The channel's default terms (0 when the channel has none).
    pub default_payment_terms_days: u16,
    pub currency: Currency,
    /// The document's net total (before tax), as priced.
    pub total: Money,
    pub lines: Vec<SnapshotLineInput>,
}

/// A validated line, with its amounts computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SnapshotLineInput", into = "SnapshotLineInput")]
pub struct SnapshotLine {
    input: SnapshotLineInput,
    list_amount: Decimal,
    net_amount: Decimal,
}

impl SnapshotLine {
    pub fn line_no(&self) -> u32 {
        self.input.line_no
    }
    pub fn product(&self) -> ProductId {
        self.input.product
    }
    pub fn item_group_chain(&self) -> &[ItemGroupId] {
        &self.input.item_group_chain
    }
    pub fn quantity(&self) -> Decimal {
        self.input.quantity
    }
    pub fn list_price(&self) -> Money {
        self.input.list_price
    }
    pub fn net_price(&self) -> Money {
        self.input.net_price
    }
    pub fn discount_percent(&self) -> Decimal {
        self.input.discount_percent
    }
    pub fn margin_percent(&self) -> Option<Decimal> {
        self.input.margin_percent
    }
    pub fn flags(&self) -> &BTreeSet<PricingFlagKind> {
        &self.input.flags
    }
    /// `quantity × list price`, unrounded.
    pub fn list_amount(&self) -> Decimal {
        self.list_amount
    }
    /// `quantity × net price`, unrounded.
    pub fn net_amount(&self) -> Decimal {
        self.net_amount
    }
}

impl TryFrom<SnapshotLineInput> for SnapshotLine {
    type Error = SnapshotError;
    fn try_from(input: SnapshotLineInput) -> Result<SnapshotLine, SnapshotError> {
        let currency = input.list_price.currency();
        SnapshotLine::new(input, currency)
    }
}

impl From<SnapshotLine> for SnapshotLineInput {
    fn from(line: SnapshotLine) -> SnapshotLineInput {
        line.input
    }
}

fn same_currency(field: &str, expected: Currency, money: &Money) -> Result<(), SnapshotError> {
    if money.currency() == expected {
        Ok(())
    } else {
        Err(SnapshotError::CurrencyMismatch {
            field: field.to_owned(),
            expected,
            found: money.currency(),
        })
    }
}

fn non_negative(field: &str, money: &Money) -> Result<(), SnapshotError> {
    if money.is_negative() {
        Err(SnapshotError::Negative {
            field: field.to_owned(),
        })
    } else {
        Ok(())
    }
}

fn no_repeats<T: Ord + Copy>(field: &str, chain: &[T]) -> Result<(), SnapshotError> {
    let distinct: BTreeSet<T> = chain.iter().copied().collect();
    if distinct.len() == chain.len() {
        Ok(())
    } else {
        Err(SnapshotError::RepeatedAncestor {
            field: field.to_owned(),
        })
    }
}

impl SnapshotLine {
    fn new(input: SnapshotLineInput, currency: Currency) -> Result<SnapshotLine, SnapshotError> {
        let n = input.line_no;
        let field = |name: &str| format!("lines[{n}].{name}");
        same_currency(&field("list_price"), currency, &input.list_price)?;
        same_currency(&field("net_price"), currency, &input.net_price)?;
        non_negative(&field("list_price"), &input.list_price)?;
        non_negative(&field("net_price"), &input.net_price)?;
        if input.quantity <= Decimal::ZERO {
            return Err(SnapshotError::NonPositiveQuantity { line_no: n });
        }
        no_repeats(&field("item_group_chain"), &input.item_group_chain)?;
        let list = input.list_price.amount();
        let net = input.net_price.amount();
        let computed = if list.is_zero() {
            Decimal::ZERO
        } else {
            ((list - net) / list * Decimal::ONE_HUNDRED).round_dp(4)
        };
        if (computed - input.discount_percent).abs() > DocumentSnapshot::DISCOUNT_TOLERANCE {
            return Err(SnapshotError::InconsistentDiscount {
                line_no: n,
                given: input.discount_percent,
                computed,
            });
        }
        if let Some(m) = input.margin_percent {
            if m >= Decimal::ONE_HUNDRED {
                return Err(SnapshotError::MarginTooHigh {
                    line_no: n,
                    margin: m,
                });
            }
        }
        let out_of_range = |name: &str| SnapshotError::OutOfRange { field: field(name) };
        let list_amount = input
            .quantity
            .checked_mul(list)
            .filter(|a| *a <= Money::MAX_AMOUNT)
            .ok_or_else(|| out_of_range("quantity"))?;
        let net_amount = input
            .quantity
            .checked_mul(net)
            .filter(|a| *a <= Money::MAX_AMOUNT)
            .ok_or_else(|| out_of_range("quantity"))?;
        Ok(SnapshotLine {
            input,
            list_amount,
            net_amount,
        })
    }
}

/// One version of a quotation or order, as approval policies see it.
///
/// Invariants: at least one line, unique line numbers, every amount in the
/// document's currency, non-negative prices and totals, positive
/// quantities, discounts that agree with the prices, ancestor chains
/// without repeats. The aggregates below are computed once here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DocumentSnapshotInput", into = "DocumentSnapshotInput")]
pub struct DocumentSnapshot {
    document: DocumentId,
    version: u32,
    channel: String,
    customer: CustomerFacts,
    submitted_by: PrincipalId,
    payment_terms_days: u16,
    default_payment_terms_days: u16,
    currency: Currency,
    total: Money,
    /// Sorted by line number, whatever order the caller gave.
    lines: Vec<SnapshotLine>,
    max_line_discount: Decimal,
    average_discount: Decimal,
    margin_percent: Option<Decimal>,
    exposure_after: Money,
}

impl DocumentSnapshot {
    /// How far (in percentage points) a line's stated discount may be from
    /// the one its prices give: room for the rounding of unit prices.
    pub const DISCOUNT_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
    /// Most lines a snapshot may have.
    pub const MAX_LINES: usize = 2000;

    pub fn new(input: DocumentSnapshotInput) -> Result<DocumentSnapshot, SnapshotError> {
        if input.version == 0 {
            return Err(SnapshotError::ZeroVersion);
        }
        let channel = code("channel", &input.channel).map_err(SnapshotError::Channel)?;
        if input.lines.is_empty() {
            return Err(SnapshotError::NoLines);
        }
        if input.lines.len() > Self::MAX_LINES {
            return Err(SnapshotError::TooManyLines {
                max: Self::MAX_LINES,
            });
        }
        let currency = input.currency;
        same_currency("total", currency, &input.total)?;
        non_negative("total", &input.total)?;
        let customer = input.customer;
        same_currency("customer.open_exposure", currency, &customer.open_exposure)?;
        if let Some(limit) = &customer.credit_limit {
            same_currency("customer.credit_limit", currency, limit)?;
            non_negative("customer.credit_limit", limit)?;
        }
        no_repeats("customer.group_chain", &customer.group_chain)?;

        let mut lines = Vec::with_capacity(input.lines.len());
        let mut seen = BTreeSet::new();
        for line in input.lines {
            if !seen.insert(line.line_no) {
                return Err(SnapshotError::DuplicateLine(line.line_no));
            }
            lines.push(SnapshotLine::new(line, currency)?);
        }
        lines.sort_by_key(SnapshotLine::line_no);

        let overflow = |field: &str| SnapshotError::OutOfRange {
            field: field.to_owned(),
        };
        let mut max_line_discount = Decimal::MIN;
        let mut list_sum = Decimal::ZERO;
        let mut discount_weighted = Decimal::ZERO;
        let mut net_sum = Decimal::ZERO;
        let mut margin_weighted = Decimal::ZERO;
        for l in &lines {
            max_line_discount = max_line_discount.max(l.discount_percent());
            list_sum = list_sum
                .checked_add(l.list_amount)
                .ok_or_else(|| overflow("lines"))?;
            discount_weighted = discount_weighted
                .checked_add(l.list_amount - l.net_amount)
                .ok_or_else(|| overflow("lines"))?;
            if let Some(m) = l.margin_percent() {
                net_sum = net_sum
                    .checked_add(l.net_amount)
                    .ok_or_else(|| overflow("lines"))?;
                margin_weighted = margin_weighted
                    .checked_add(
                        l.net_amount
                            .checked_mul(m)
                            .ok_or_else(|| overflow("lines"))?,
                    )
                    .ok_or_else(|| overflow("lines"))?;
            }
        }
        // The weighted average discount is what the customer saves on the
        // list value of the whole document.
        let average_discount = if list_sum.is_zero() {
            Decimal::ZERO
        } else {
            (discount_weighted / list_sum * Decimal::ONE_HUNDRED).round_dp(4)
        };
        // The document margin weights each line's margin by its net amount;
        // lines without a margin (zero net) weigh nothing. No net at all
        // means no margin, which is below any minimum.
        let margin_percent = if net_sum.is_zero() {
            None
        } else {
            Some((margin_weighted / net_sum).round_dp(4))
        };
        let exposure_after = customer
            .open_exposure
            .checked_add(&input.total)
            .map_err(|_| overflow("customer.open_exposure"))?;

        Ok(DocumentSnapshot {
            document: input.document,
            version: input.version,
            channel,
            customer,
            submitted_by: input.submitted_by,
            payment_terms_days: input.payment_terms_days,
            default_payment_terms_days: input.default_payment_terms_days,
            currency,
            total: input.total,
            lines,
            max_line_discount,
            average_discount,
            margin_percent,
            exposure_after,
        })
    }

    pub fn document(&self) -> DocumentId {
        self.document
    }
    pub fn version(&self) -> u32 {
        self.version
    }
    pub fn document_ref(&self) -> DocumentRef {
        DocumentRef {
            document: self.document,
            version: self.version,
        }
    }
    pub fn channel(&self) -> &str {
        &self.channel
    }
    pub fn customer(&self) -> &CustomerFacts {
        &self.customer
    }
    pub fn submitted_by(&self) -> PrincipalId {
        self.submitted_by
    }
    pub fn payment_terms_days(&self) -> u16 {
        self.payment_terms_days
    }
    pub fn default_payment_terms_days(&self) -> u16 {
        self.default_payment_terms_days
    }
    /// Days the terms exceed the channel default (negative when shorter).
    pub fn payment_terms_excess_days(&self) -> i32 {
        i32::from(self.payment_terms_days) - i32::from(self.default_payment_terms_days)
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }
    pub fn total(&self) -> Money {
        self.total
    }
    /// Sorted by line number.
    pub fn lines(&self) -> &[SnapshotLine] {
        &self.lines
    }
    /// The highest discount of any line, in percent.
    pub fn max_line_discount(&self) -> Decimal {
        self.max_line_discount
    }
    /// The discount on the list value of the whole document, in percent:
    /// `Σ (list − net) × qty ÷ Σ list × qty × 100`.
    pub fn average_discount(&self) -> Decimal {
        self.average_discount
    }
    /// The document's margin in percent, weighted by net amount; `None`
    /// when no line has a net amount.
    pub fn margin_percent(&self) -> Option<Decimal> {
        self.margin_percent
    }
    /// Open exposure plus this document's total.
    pub fn exposure_after(&self) -> Money {
        self.exposure_after
    }
    /// How far the exposure after this document is over the credit limit
    /// (negative when under); `None` when the customer has no limit.
    pub fn credit_excess(&self) -> Option<Decimal> {
        self.customer
            .credit_limit
            .map(|limit| self.exposure_after.amount() - limit.amount())
    }

    /// Exposure after this document as a percentage of the credit limit
    /// (4 decimals); `None` when the customer has no limit. A zero limit
    /// with any positive exposure counts as [`Money::MAX_AMOUNT`] percent:
    /// over any tolerance.
    pub fn credit_use_percent(&self) -> Option<Decimal> {
        let limit = self.customer.credit_limit?.amount();
        let exposure = self.exposure_after.amount();
        Some(if limit.is_zero() {
            if exposure > Decimal::ZERO {
                Money::MAX_AMOUNT
            } else {
                Decimal::ZERO
            }
        } else {
            (exposure / limit * Decimal::ONE_HUNDRED).round_dp(4)
        })
    }

    /// The input this snapshot was built from (lines sorted by number).
    pub fn to_input(&self) -> DocumentSnapshotInput {
        DocumentSnapshotInput {
            document: self.document,
            version: self.version,
            channel: self.channel.clone(),
            customer: self.customer.clone(),
            submitted_by: self.submitted_by,
            payment_terms_days: self.payment_terms_days,
            default_payment_terms_days: self.default_payment_terms_days,
            currency: self.currency,
            total: self.total,
            lines: self.lines.iter().map(|l| l.input.clone()).collect(),
        }
    }
}

impl TryFrom<DocumentSnapshotInput> for DocumentSnapshot {
    type Error = SnapshotError;
    fn try_from(input: DocumentSnapshotInput) -> Result<DocumentSnapshot, SnapshotError> {
        DocumentSnapshot::new(input)
    }
}

impl From<DocumentSnapshot> for DocumentSnapshotInput {
    fn from(s: DocumentSnapshot) -> DocumentSnapshotInput {
        s.to_input()
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::approvals::fixtures::*;

    #[test]
    fn aggregates_are_weighted_by_list_and_net_amounts() {
        let s = snapshot(|i| {
            i.lines = vec![
                line(1, p1(), dec!(2), dec!(100), dec!(90)),
                line(2, p2(), dec!(1), dec!(200), dec!(100)),
            ];
            i.lines[0].margin_percent = Some(dec!(30));
            i.lines[1].margin_percent = Some(dec!(10));
            i.total = eur(dec!(280));
        });
        assert_eq!(s.max_line_discount(), dec!(50));
        // (20 + 100) / 400
        assert_eq!(s.average_discount(), dec!(30));
        // (180 × 30 + 100 × 10) / 280
        assert_eq!(s.margin_percent(), Some(dec!(22.8571)));
    }

    #[test]
    fn lines_are_kept_in_line_number_order() {
        let s = snapshot(|i| {
            i.lines = vec![
                line(2, p2(), dec!(1), dec!(10), dec!(10)),
                line(1, p1(), dec!(1), dec!(10), dec!(10)),
            ];
        });
        let numbers: Vec<u32> = s.lines().iter().map(SnapshotLine::line_no).collect();
        assert_eq!(numbers, vec![1, 2]);
    }

    #[test]
    fn a_discount_that_disagrees_with_the_prices_is_refused() {
        let err = DocumentSnapshot::new(input(|i| {
            i.lines[0].discount_percent = dec!(5);
        }))
        .unwrap_err();
        assert!(
            matches!(err, SnapshotError::InconsistentDiscount { line_no: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn bad_snapshots_get_typed_errors() {
        type Case = (fn(&mut DocumentSnapshotInput), SnapshotError);
        let cases: Vec<Case> = vec![
            (|i| i.version = 0, SnapshotError::ZeroVersion),
            (|i| i.lines.clear(), SnapshotError::NoLines),
            (
                |i| {
                    let l = i.lines[0].clone();
                    i.lines.push(l);
                },
                SnapshotError::DuplicateLine(1),
            ),
            (
                |i| i.lines[0].quantity = dec!(0),
                SnapshotError::NonPositiveQuantity { line_no: 1 },
            ),
            (
                |i| i.total = Money::new(dec!(1), Currency::USD).unwrap(),
                SnapshotError::CurrencyMismatch {
                    field: "total".into(),
                    expected: Currency::EUR,
                    found: Currency::USD,
                },
            ),
            (
                |i| i.customer.group_chain = vec![g_retail(), g_retail()],
                SnapshotError::RepeatedAncestor {
                    field: "customer.group_chain".into(),
                },
            ),
            (
                |i| i.lines[0].margin_percent = Some(dec!(100)),
                SnapshotError::MarginTooHigh {
                    line_no: 1,
                    margin: dec!(100),
                },
            ),
        ];
        for (change, expected) in cases {
            let mut i = input(|_| {});
            change(&mut i);
            assert_eq!(DocumentSnapshot::new(i).unwrap_err(), expected);
        }
    }

    #[test]
    fn a_snapshot_round_trips_through_json() {
        let s = snapshot(|_| {});
        let json = serde_json::to_string(&s).unwrap();
        let back: DocumentSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["lines"][0]["discount_percent"] = "40".into();
        assert!(serde_json::from_value::<DocumentSnapshot>(value).is_err());
    }

    #[test]
    fn credit_excess_is_exposure_after_the_document_minus_the_limit() {
        let s = snapshot(|i| {
            i.customer.credit_limit = Some(eur(dec!(1000)));
            i.customer.open_exposure = eur(dec!(950));
        });
        assert_eq!(s.credit_excess(), Some(s.total().amount() - dec!(50)));
        assert_eq!(s.credit_use_percent(), Some(dec!(175)));
        let unlimited = snapshot(|i| i.customer.credit_limit = None);
        assert_eq!(unlimited.credit_excess(), None);
        assert_eq!(unlimited.credit_use_percent(), None);
        let zero = snapshot(|i| i.customer.credit_limit = Some(eur(dec!(0))));
        assert_eq!(zero.credit_use_percent(), Some(Money::MAX_AMOUNT));
    }

    #[test]
    fn pricing_flags_map_to_approval_flags() {
        assert_eq!(
            PricingFlagKind::from_line_flag(&LineFlag::CostUnknown),
            None
        );
    }
}
