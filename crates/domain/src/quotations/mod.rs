//! Quotations: the offer a customer accepts, loses or lets expire, its
//! revisions, and how much of it has become orders.
//!
//! The pieces:
//!
//! - [`Quotation`]: customer, channel, currency, `valid_until`, the lines,
//!   the revision number and the [`QuotationStatus`] (see [`status`] for
//!   the lifecycle). Built by [`Quotation::new`] from a [`NewQuotation`];
//!   every change is a method that checks the status first.
//! - [`QuotationLine`]: product, quantity (at most three decimals, kept in
//!   thousandths like the availability capability), unit, requested date,
//!   and its [`LineKind`]:
//!   - `standard` lines are always part of the offer;
//!   - `optional` lines are offered and priced but outside the total until
//!     the customer takes them (Odoo's optional products);
//!   - `alternative` lines come in named `group`s of at least two, of which
//!     exactly one is `selected` at any time (the first of the group unless
//!     another is marked); the total counts the selected one, and the
//!     customer may choose another at acceptance or conversion (ERPNext's
//!     alternative items).
//!
//!   A line is *counted* when it is standard, a taken optional line, or the
//!   selected alternative of its group; only counted lines are in the
//!   totals and can be ordered.
//! - Pricing is the pricing capability's: the caller prices every line
//!   (optional and alternative ones too, so the customer sees their price)
//!   and hands the results to [`Quotation::apply_prices`]; each line keeps
//!   its [`LinePrice`] (list price, the waterfall's steps, net unit price,
//!   totals, flags) and [`Quotation::totals`] sums the counted lines.
//! - Revisions ([`Quotation::revise`]): the same id and number with
//!   `revision + 1`, back in `draft`; the store keeps every earlier
//!   revision as a read-only snapshot.
//! - Approval before sending: [`Quotation::document_version`] is the
//!   version approval requests name; it grows with every change of content
//!   (an edit, a revision, a rejection), never with a status change, so an
//!   approval covers exactly the content it saw.
//!   [`Quotation::submit_for_approval`] (`draft → pending_approval`),
//!   [`Quotation::approval_granted`] / [`Quotation::approval_rejected`]
//!   (the request's outcome, for that version only); whether a quotation
//!   needs approval is the approvals engine's question, asked by the caller.
//! - Conversion ([`Quotation::plan_conversion`]): whole or partial, per
//!   line, never more than a line's remaining quantity; the expired check
//!   follows `allow_order_from_expired_quotation`; quoted rates are kept
//!   or left for re-pricing per `keep_quoted_rate`. The plan carries the
//!   quotation as it will be afterwards (`partially_ordered` / `ordered`).
//!
//! What it deliberately does not do: I/O, signing accept links (the
//! component's, with its secret) or calling pricing. `today` and `now` are
//! passed in.

pub mod status;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

pub use status::{QuotationStatus, TransitionError};

use crate::availability::{from_milli, to_milli, MAX_QUANTITY};
use crate::catalog::{optional_text, required_text, string_enum, Settings, ValidationError};
use crate::ids::{
    ApprovalRequestId, ChannelId, CustomerId, LineId, PrincipalId, ProductId, QuotationId,
};
use crate::money::{Currency, Money};
use crate::series::DocumentNumber;

/// The most lines one quotation carries.
pub const MAX_LINES: usize = 500;
/// The longest text of a lost reason, competitor, note.
pub const MAX_TEXT: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuotationError {
    /// Input that can never be valid; `field` is its JSON path.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Past its validity: no sending, no accepting, and no converting
    /// unless the settings allow orders from expired quotations.
    #[error("the quotation expired: it was valid until {valid_until}")]
    Expired { valid_until: NaiveDate },
    /// A line id that is not a line of this quotation (revision).
    #[error("{field}: line {line} is not a line of this quotation")]
    UnknownLine { field: String, line: LineId },
    /// A line that is not part of the offer as chosen (an optional line not
    /// taken, an alternative not selected).
    #[error("{field}: line {line} is not part of the offer as chosen (take the optional line or choose the alternative)")]
    NotChosen { field: String, line: LineId },
    /// More than a line's remaining (not yet ordered) quantity.
    #[error("{field}: {requested} requested of line {line}, {remaining} remain to be ordered")]
    ExceedsRemaining {
        field: String,
        line: LineId,
        requested: Decimal,
        remaining: Decimal,
    },
    /// Every counted line is fully ordered already.
    #[error("nothing remains to be ordered from this quotation")]
    NothingToConvert,
    /// The choice was made (accepted, or ordered from) and cannot change.
    #[error("{field}: the choice was already made ({why})")]
    ChoiceFixed { field: String, why: &'static str },
    /// An approval outcome for a version the quotation has moved past (it
    /// was edited or revised after the request was opened).
    #[error(
        "the approval is for version {decided} of the quotation, which is now at version {current}"
    )]
    StaleApproval { decided: u32, current: u32 },
}

string_enum! {
    /// What a line is to the offer.
    LineKind {
        /// Always part of the offer.
        Standard => "standard",
        /// Offered, outside the total until the customer takes it.
        Optional => "optional",
        /// One of a group of which exactly one is chosen.
        Alternative => "alternative",
    }
}

/// A quantity in thousandths: above zero, at most [`MAX_QUANTITY`], at most
/// three decimals.
pub fn quantity_milli(field: &str, q: Decimal) -> Result<i64, ValidationError> {
    if q <= Decimal::ZERO {
        return Err(ValidationError::new(field, "must be greater than zero"));
    }
    if q > MAX_QUANTITY {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_QUANTITY}"),
        ));
    }
    to_milli(q).ok_or_else(|| ValidationError::new(field, "has more than three decimals"))
}

/// The default `valid_until` of a quotation made `today` in `channel_code`:
/// the channel's `quotation_validity_days` override, else the company's.
pub fn default_valid_until(today: NaiveDate, settings: &Settings, channel_code: &str) -> NaiveDate {
    let days = settings.quotation_validity_days_for(channel_code);
    today
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

/// One step of a line's price waterfall, as the pricing capability gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceStep {
    pub rule_id: String,
    pub rule_name: String,
    pub kind: String,
    pub amount_per_unit: Money,
    pub unit_price_after: Money,
}

/// A line's price as quoted: a snapshot of the pricing capability's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinePrice {
    /// The unit priced (the product's own unit when the line named none).
    pub uom: String,
    pub list_price: Money,
    #[serde(default)]
    pub adjustments: Vec<PriceStep>,
    pub net_unit_price: Money,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
    /// Guard flags (`below_floor_price`, ...).
    #[serde(default)]
    pub flags: Vec<String>,
    /// The line's margin (net total − cost), as pricing computed it; what
    /// margin approval policies test. `None` on lines quoted before it was
    /// kept (such a line has no margin, which is below any minimum).
    #[serde(default)]
    pub margin: Option<Money>,
}

/// What the counted lines add up to; `optional_net_total` is what the
/// optional lines not (yet) taken would add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotationTotals {
    pub list_total: Money,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
    pub optional_net_total: Money,
}

/// A line as a request describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub product_id: ProductId,
    pub quantity: Decimal,
    pub uom: Option<String>,
    pub requested_date: Option<NaiveDate>,
    pub kind: LineKind,
    /// The alternative group (alternative lines only).
    pub group: Option<String>,
    /// Marks the proposed line of an alternative group (alternative lines only).
    pub selected: Option<bool>,
}

/// The stored and serialized shape of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSpec {
    pub id: LineId,
    pub product_id: ProductId,
    pub quantity: Decimal,
    #[serde(default)]
    pub uom: Option<String>,
    #[serde(default)]
    pub requested_date: Option<NaiveDate>,
    pub kind: LineKind,
    #[serde(default)]
    pub group: Option<String>,
    pub selected: bool,
    #[serde(default)]
    pub ordered_quantity: Decimal,
    #[serde(default)]
    pub price: Option<LinePrice>,
}

/// A quotation line; see the module docs for kinds and counting.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "LineSpec")]
pub struct QuotationLine {
    id: LineId,
    product_id: ProductId,
    quantity_milli: i64,
    uom: Option<String>,
    requested_date: Option<NaiveDate>,
    kind: LineKind,
    group: Option<String>,
    selected: bool,
    ordered_milli: i64,
    price: Option<LinePrice>,
}

impl TryFrom<LineSpec> for QuotationLine {
    type Error = ValidationError;
    fn try_from(s: LineSpec) -> Result<QuotationLine, ValidationError> {
        let milli = quantity_milli("quantity", s.quantity)?;
        let ordered_milli = if s.ordered_quantity.is_zero() {
            0
        } else {
            quantity_milli("ordered_quantity", s.ordered_quantity)?
        };
        if ordered_milli > milli {
            return Err(ValidationError::new(
                "ordered_quantity",
                "is more than the line's quantity",
            ));
        }
        let group = match (s.kind, s.group) {
            (LineKind::Alternative, Some(g)) => Some(required_text("group", &g, 40)?),
            (LineKind::Alternative, None) => {
                return Err(ValidationError::new(
                    "group",
                    "an alternative line needs a group",
                ))
            }
            (_, Some(_)) => {
                return Err(ValidationError::new(
                    "group",
                    "only alternative lines belong to a group",
                ))
            }
            (_, None) => None,
        };
        if s.kind == LineKind::Standard && !s.selected {
            return Err(ValidationError::new(
                "selected",
                "a standard line is always part of the offer",
            ));
        }
        Ok(QuotationLine {
            id: s.id,
            product_id: s.product_id,
            quantity_milli: milli,
            uom: optional_text("uom", s.uom.as_deref(), 20)?,
            requested_date: s.requested_date,
            kind: s.kind,
            group,
            selected: s.selected,
            ordered_milli,
            price: s.price,
        })
    }
}

impl QuotationLine {
    pub fn id(&self) -> LineId {
        self.id
    }
    pub fn product_id(&self) -> ProductId {
        self.product_id
    }
    pub fn quantity(&self) -> Decimal {
        from_milli(self.quantity_milli)
    }
    pub fn quantity_milli(&self) -> i64 {
        self.quantity_milli
    }
    pub fn uom(&self) -> Option<&str> {
        self.uom.as_deref()
    }
    pub fn requested_date(&self) -> Option<NaiveDate> {
        self.requested_date
    }
    pub fn kind(&self) -> LineKind {
        self.kind
    }
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }
    /// Taken (optional) or chosen (alternative); always true for standard lines.
    pub fn selected(&self) -> bool {
        self.selected
    }
    pub fn ordered_milli(&self) -> i64 {
        self.ordered_milli
    }
    pub fn ordered_quantity(&self) -> Decimal {
        from_milli(self.ordered_milli)
    }
    pub fn remaining_milli(&self) -> i64 {
        self.quantity_milli - self.ordered_milli
    }
    pub fn remaining_quantity(&self) -> Decimal {
        from_milli(self.remaining_milli())
    }
    pub fn price(&self) -> Option<&LinePrice> {
        self.price.as_ref()
    }
    /// Part of the offer as chosen: in the totals, and orderable.
    pub fn counted(&self) -> bool {
        self.selected
    }

    pub fn to_spec(&self) -> LineSpec {
        LineSpec {
            id: self.id,
            product_id: self.product_id,
            quantity: self.quantity(),
            uom: self.uom.clone(),
            requested_date: self.requested_date,
            kind: self.kind,
            group: self.group.clone(),
            selected: self.selected,
            ordered_quantity: self.ordered_quantity(),
            price: self.price.clone(),
        }
    }
}

/// The serialized line: its spec plus what is derived from it.
impl Serialize for QuotationLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View {
            #[serde(flatten)]
            spec: LineSpec,
            remaining_quantity: Decimal,
            in_total: bool,
        }
        View {
            spec: self.to_spec(),
            remaining_quantity: self.remaining_quantity(),
            in_total: self.counted(),
        }
        .serialize(s)
    }
}

/// Checks a set of lines: count, and every alternative group has at least
/// two lines with exactly one selected. Field paths are `lines[i]...`.
fn check_lines(lines: &[QuotationLine]) -> Result<(), ValidationError> {
    if lines.is_empty() {
        return Err(ValidationError::new("lines", "a quotation needs a line"));
    }
    if lines.len() > MAX_LINES {
        return Err(ValidationError::new(
            "lines",
            format!("a quotation has at most {MAX_LINES} lines"),
        ));
    }
    let mut groups: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        if !ids.insert(l.id) {
            return Err(ValidationError::new(
                format!("lines[{i}].id"),
                "a line id appears twice",
            ));
        }
        if let Some(g) = l.group() {
            let e = groups.entry(g).or_insert((i, 0, 0));
            e.1 += 1;
            if l.selected {
                e.2 += 1;
            }
        }
    }
    for (g, (first, n, selected)) in groups {
        if n < 2 {
            return Err(ValidationError::new(
                format!("lines[{first}].group"),
                format!("alternative group {g:?} needs at least two lines"),
            ));
        }
        if selected != 1 {
            return Err(ValidationError::new(
                format!("lines[{first}].selected"),
                format!("exactly one line of alternative group {g:?} is selected, not {selected}"),
            ));
        }
    }
    Ok(())
}

/// Builds validated lines from a request; requested dates may not be
/// before `today`. An alternative group without a line marked `selected`
/// proposes its first line.
pub fn build_lines(
    new: Vec<NewLine>,
    today: NaiveDate,
) -> Result<Vec<QuotationLine>, ValidationError> {
    if new.len() > MAX_LINES {
        return Err(ValidationError::new(
            "lines",
            format!("a quotation has at most {MAX_LINES} lines"),
        ));
    }
    let marked: BTreeSet<String> = new
        .iter()
        .filter(|l| l.selected == Some(true))
        .filter_map(|l| l.group.clone())
        .collect();
    let mut seen_groups = BTreeSet::new();
    let mut lines = Vec::with_capacity(new.len());
    for (i, l) in new.into_iter().enumerate() {
        let at = |e: ValidationError| e.within(&format!("lines[{i}]"));
        if let Some(d) = l.requested_date {
            if d < today {
                return Err(ValidationError::new(
                    format!("lines[{i}].requested_date"),
                    format!("must not be before today ({today})"),
                ));
            }
        }
        let selected = match l.kind {
            LineKind::Standard | LineKind::Optional => {
                if l.selected.is_some() {
                    return Err(ValidationError::new(
                        format!("lines[{i}].selected"),
                        "only alternative lines are marked selected; optional lines are taken at acceptance",
                    ));
                }
                l.kind == LineKind::Standard
            }
            LineKind::Alternative => match (&l.group, l.selected) {
                (Some(g), None) => !marked.contains(g) && seen_groups.insert(g.clone()),
                (Some(g), Some(true)) => {
                    seen_groups.insert(g.clone());
                    true
                }
                (_, Some(false)) | (None, None) => false,
                (None, Some(true)) => true,
            },
        };
        let line = QuotationLine::try_from(LineSpec {
            id: LineId::new(),
            product_id: l.product_id,
            quantity: l.quantity,
            uom: l.uom,
            requested_date: l.requested_date,
            kind: l.kind,
            group: l.group,
            selected,
            ordered_quantity: Decimal::ZERO,
            price: None,
        })
        .map_err(at)?;
        lines.push(line);
    }
    check_lines(&lines)?;
    Ok(lines)
}

/// Why the customer said no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostReason {
    reason: String,
    #[serde(default)]
    competitor: Option<String>,
    at: DateTime<Utc>,
}

impl LostReason {
    /// A reason is required; the competitor who won is optional.
    pub fn new(
        reason: &str,
        competitor: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<LostReason, ValidationError> {
        Ok(LostReason {
            reason: required_text("reason", reason, MAX_TEXT)?,
            competitor: optional_text("competitor", competitor, 200)?,
            at,
        })
    }
    pub fn reason(&self) -> &str {
        &self.reason
    }
    pub fn competitor(&self) -> Option<&str> {
        self.competitor.as_deref()
    }
}

/// Who accepted: the customer through the signed link, or someone of ours
/// on the customer's behalf (a phone call, a signed PDF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AcceptedBy {
    CustomerLink,
    Principal { id: PrincipalId },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub by: AcceptedBy,
    pub at: DateTime<Utc>,
}

/// The customer's choices: the selected line per alternative group, and
/// optional lines taken. Choices only add optional lines, never drop one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    pub alternatives: BTreeMap<String, LineId>,
    pub optional_lines: Vec<LineId>,
}

impl Choice {
    pub fn is_empty(&self) -> bool {
        self.alternatives.is_empty() && self.optional_lines.is_empty()
    }
}

/// What a request gives to make a quotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuotation {
    pub id: QuotationId,
    pub number: DocumentNumber,
    pub customer_id: CustomerId,
    pub channel_id: ChannelId,
    pub channel_code: String,
    pub currency: Currency,
    pub valid_until: NaiveDate,
    pub notes: Option<String>,
    pub created_by: PrincipalId,
    pub lines: Vec<NewLine>,
}

/// A partial update of a draft; `None` leaves a field alone, `notes:
/// Some(None)` clears it, `lines` replaces all lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotationPatch {
    pub valid_until: Option<NaiveDate>,
    pub notes: Option<Option<String>>,
    pub lines: Option<Vec<NewLine>>,
}

/// Why the approvers sent a quotation back to draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRejection {
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The version that was rejected.
    pub version: u32,
}

fn first_version() -> u32 {
    1
}

/// The stored and serialized shape of a quotation (one revision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotationSpec {
    pub id: QuotationId,
    pub number: DocumentNumber,
    pub revision: u32,
    pub status: QuotationStatus,
    pub customer_id: CustomerId,
    pub channel_id: ChannelId,
    pub channel_code: String,
    pub currency: Currency,
    pub valid_until: NaiveDate,
    #[serde(default)]
    pub notes: Option<String>,
    pub created_by: PrincipalId,
    pub lines: Vec<QuotationLine>,
    #[serde(default)]
    pub lost: Option<LostReason>,
    #[serde(default)]
    pub acceptance: Option<Acceptance>,
    /// The version approval requests name: 1 at creation, +1 with every
    /// change of content (edit, revision, rejection). Status changes leave
    /// it alone, so an approval stays valid for the content it saw.
    #[serde(default = "first_version")]
    pub document_version: u32,
    /// The latest approval request opened for this quotation.
    #[serde(default)]
    pub approval_request_id: Option<ApprovalRequestId>,
    /// The last rejection, until the quotation is submitted or sent again.
    #[serde(default)]
    pub approval_rejection: Option<ApprovalRejection>,
}

/// A quotation (one revision of it); see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "QuotationSpec")]
pub struct Quotation {
    spec: QuotationSpec,
}

impl TryFrom<QuotationSpec> for Quotation {
    type Error = ValidationError;
    fn try_from(spec: QuotationSpec) -> Result<Quotation, ValidationError> {
        Quotation::from_spec(spec)
    }
}

impl Serialize for Quotation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.spec.serialize(s)
    }
}

fn check_validity(valid_until: NaiveDate, today: NaiveDate) -> Result<NaiveDate, ValidationError> {
    let latest = today
        .checked_add_days(Days::new(u64::from(
            crate::catalog::settings::VALIDITY_MAX_DAYS,
        )))
        .unwrap_or(NaiveDate::MAX);
    if valid_until < today {
        Err(ValidationError::new(
            "valid_until",
            format!("must not be before today ({today})"),
        ))
    } else if valid_until > latest {
        Err(ValidationError::new(
            "valid_until",
            format!(
                "must be at most {} days ahead",
                crate::catalog::settings::VALIDITY_MAX_DAYS
            ),
        ))
    } else {
        Ok(valid_until)
    }
}

impl Quotation {
    /// A draft, revision 1. `valid_until` may not be before `today`.
    pub fn new(n: NewQuotation, today: NaiveDate) -> Result<Quotation, QuotationError> {
        let lines = build_lines(n.lines, today)?;
        Ok(Quotation::from_spec(QuotationSpec {
            id: n.id,
            number: n.number,
            revision: 1,
            status: QuotationStatus::Draft,
            customer_id: n.customer_id,
            channel_id: n.channel_id,
            channel_code: n.channel_code,
            currency: n.currency,
            valid_until: check_validity(n.valid_until, today)?,
            notes: optional_text("notes", n.notes.as_deref(), MAX_TEXT)?,
            created_by: n.created_by,
            lines,
            lost: None,
            acceptance: None,
            document_version: 1,
            approval_request_id: None,
            approval_rejection: None,
        })?)
    }

    /// A quotation from its stored shape, checked again (lines, groups).
    pub fn from_spec(spec: QuotationSpec) -> Result<Quotation, ValidationError> {
        if spec.revision == 0 {
            return Err(ValidationError::new("revision", "revisions start at 1"));
        }
        check_lines(&spec.lines)?;
        for (i, l) in spec.lines.iter().enumerate() {
            if let Some(p) = &l.price {
                if p.net_total.currency() != spec.currency {
                    return Err(ValidationError::new(
                        format!("lines[{i}].price"),
                        "priced in another currency than the quotation",
                    ));
                }
            }
        }
        Ok(Quotation { spec })
    }

    pub fn spec(&self) -> &QuotationSpec {
        &self.spec
    }
    pub fn id(&self) -> QuotationId {
        self.spec.id
    }
    pub fn number(&self) -> &DocumentNumber {
        &self.spec.number
    }
    pub fn revision(&self) -> u32 {
        self.spec.revision
    }
    pub fn status(&self) -> QuotationStatus {
        self.spec.status
    }
    pub fn customer_id(&self) -> CustomerId {
        self.spec.customer_id
    }
    pub fn channel_id(&self) -> ChannelId {
        self.spec.channel_id
    }
    pub fn channel_code(&self) -> &str {
        &self.spec.channel_code
    }
    pub fn currency(&self) -> Currency {
        self.spec.currency
    }
    pub fn valid_until(&self) -> NaiveDate {
        self.spec.valid_until
    }
    pub fn notes(&self) -> Option<&str> {
        self.spec.notes.as_deref()
    }
    pub fn created_by(&self) -> PrincipalId {
        self.spec.created_by
    }
    pub fn lines(&self) -> &[QuotationLine] {
        &self.spec.lines
    }
    pub fn lost(&self) -> Option<&LostReason> {
        self.spec.lost.as_ref()
    }
    pub fn acceptance(&self) -> Option<&Acceptance> {
        self.spec.acceptance.as_ref()
    }
    /// The version approval requests name (see [`QuotationSpec::document_version`]).
    pub fn document_version(&self) -> u32 {
        self.spec.document_version
    }
    pub fn approval_request_id(&self) -> Option<ApprovalRequestId> {
        self.spec.approval_request_id
    }
    pub fn approval_rejection(&self) -> Option<&ApprovalRejection> {
        self.spec.approval_rejection.as_ref()
    }

    fn next_version(&mut self) -> Result<(), ValidationError> {
        self.spec.document_version = self
            .spec
            .document_version
            .checked_add(1)
            .ok_or_else(|| ValidationError::new("document_version", "too many changes"))?;
        Ok(())
    }

    /// Past its last valid day.
    pub fn is_past_validity(&self, today: NaiveDate) -> bool {
        today > self.spec.valid_until
    }

    fn not_expired(&self, today: NaiveDate) -> Result<(), QuotationError> {
        if self.spec.status == QuotationStatus::Expired || self.is_past_validity(today) {
            Err(QuotationError::Expired {
                valid_until: self.spec.valid_until,
            })
        } else {
            Ok(())
        }
    }

    /// Whether every line carries a price.
    pub fn is_priced(&self) -> bool {
        self.spec.lines.iter().all(|l| l.price.is_some())
    }

    /// Attaches the pricing capability's answer, one price per line in
    /// line order. Only a draft is (re-)priced.
    pub fn apply_prices(&mut self, prices: Vec<LinePrice>) -> Result<(), QuotationError> {
        self.spec.status.reprice()?;
        if prices.len() != self.spec.lines.len() {
            return Err(ValidationError::new(
                "lines",
                format!(
                    "{} prices for {} lines",
                    prices.len(),
                    self.spec.lines.len()
                ),
            )
            .into());
        }
        for (i, (line, price)) in self.spec.lines.iter_mut().zip(prices).enumerate() {
            if price.net_total.currency() != self.spec.currency {
                return Err(ValidationError::new(
                    format!("lines[{i}].price"),
                    "priced in another currency than the quotation",
                )
                .into());
            }
            line.price = Some(price);
        }
        Ok(())
    }

    /// The counted lines' totals (`None` until every line is priced).
    pub fn totals(&self) -> Option<QuotationTotals> {
        let zero = Money::zero(self.spec.currency);
        let mut t = QuotationTotals {
            list_total: zero,
            net_total: zero,
            tax_total: zero,
            gross_total: zero,
            optional_net_total: zero,
        };
        for l in &self.spec.lines {
            let p = l.price.as_ref()?;
            if l.counted() {
                let list = p.list_price.checked_mul(l.quantity()).ok()?;
                t.list_total = t.list_total.checked_add(&list).ok()?;
                t.net_total = t.net_total.checked_add(&p.net_total).ok()?;
                t.tax_total = t.tax_total.checked_add(&p.tax_total).ok()?;
                t.gross_total = t.gross_total.checked_add(&p.gross_total).ok()?;
            } else if l.kind == LineKind::Optional {
                t.optional_net_total = t.optional_net_total.checked_add(&p.net_total).ok()?;
            }
        }
        Some(t)
    }

    /// The most the customer may order from this offer: every standard
    /// line, every optional line (taken or not) and the dearest line of
    /// each alternative group, net of tax (`None` until every line is
    /// priced). Approval policies test this total, so no choice the
    /// customer makes at acceptance can take the offer past what was
    /// approved.
    pub fn offer_ceiling(&self) -> Option<Money> {
        let mut total = Money::zero(self.spec.currency);
        let mut groups: BTreeMap<&str, Money> = BTreeMap::new();
        for l in &self.spec.lines {
            let net = l.price.as_ref()?.net_total;
            match l.group() {
                Some(g) => {
                    let best = groups.entry(g).or_insert(net);
                    if net.amount() > best.amount() {
                        *best = net;
                    }
                }
                None => total = total.checked_add(&net).ok()?,
            }
        }
        for net in groups.values() {
            total = total.checked_add(net).ok()?;
        }
        Some(total)
    }

    /// Changes a quotation not yet offered: a draft, or one waiting for or
    /// holding its approval, which becomes a draft again at the next
    /// [`Quotation::document_version`] (the caller closes a pending
    /// approval request; sending asks the policies again, and smart
    /// re-approval keeps the levels the edit did not affect). New lines
    /// drop every price: the caller prices again.
    pub fn edit(&mut self, patch: QuotationPatch, today: NaiveDate) -> Result<(), QuotationError> {
        let next = self.spec.status.edit()?;
        self.spec.status = next;
        self.next_version()?;
        if let Some(v) = patch.valid_until {
            self.spec.valid_until = check_validity(v, today)?;
        }
        if let Some(notes) = patch.notes {
            self.spec.notes = optional_text("notes", notes.as_deref(), MAX_TEXT)?;
        }
        if let Some(lines) = patch.lines {
            self.spec.lines = build_lines(lines, today)?;
        }
        Ok(())
    }

    /// `draft | approved | sent → sent`; refused past its validity and
    /// before it is priced. The caller has asked the approval policies
    /// first (a draft that needs approval is submitted instead).
    pub fn send(&mut self, today: NaiveDate) -> Result<(), QuotationError> {
        let next = self.spec.status.send()?;
        self.not_expired(today)?;
        if !self.is_priced() {
            return Err(ValidationError::new("lines", "the quotation is not priced").into());
        }
        self.spec.status = next;
        self.spec.approval_rejection = None;
        Ok(())
    }

    /// `draft → pending_approval`, waiting for `request` (opened by the
    /// caller for this [`Quotation::document_version`]); refused past its
    /// validity and before it is priced, like sending.
    pub fn submit_for_approval(
        &mut self,
        request: ApprovalRequestId,
        today: NaiveDate,
    ) -> Result<(), QuotationError> {
        let next = self.spec.status.submit_for_approval()?;
        self.not_expired(today)?;
        if !self.is_priced() {
            return Err(ValidationError::new("lines", "the quotation is not priced").into());
        }
        self.spec.status = next;
        self.spec.approval_request_id = Some(request);
        self.spec.approval_rejection = None;
        Ok(())
    }

    fn same_version(&self, decided: u32) -> Result<(), QuotationError> {
        if decided == self.spec.document_version {
            Ok(())
        } else {
            Err(QuotationError::StaleApproval {
                decided,
                current: self.spec.document_version,
            })
        }
    }

    /// `pending_approval → approved`: the request for `version` was
    /// approved. An outcome for another version changes nothing.
    pub fn approval_granted(&mut self, version: u32) -> Result<(), QuotationError> {
        let next = self.spec.status.approve()?;
        self.same_version(version)?;
        self.spec.status = next;
        Ok(())
    }

    /// `pending_approval → draft` with the approvers' reason: the request
    /// for `version` was rejected. The draft is a new version, so
    /// submitting it again opens a new request.
    pub fn approval_rejected(
        &mut self,
        version: u32,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), QuotationError> {
        let next = self.spec.status.reject()?;
        self.same_version(version)?;
        self.spec.status = next;
        self.next_version()?;
        self.spec.approval_rejection = Some(ApprovalRejection {
            // The approvers' comment, as long as the approvals engine lets
            // it be (a longer limit here would strand the quotation).
            reason: required_text("reason", reason, crate::catalog::TEXT_MAX)?,
            at,
            version,
        });
        Ok(())
    }

    /// Applies a customer's choices. `fixed` says why they may no longer
    /// change (accepted, or ordered from), checked per group / line.
    fn choose(&mut self, choice: &Choice, accepted: bool) -> Result<(), QuotationError> {
        for (group, chosen) in &choice.alternatives {
            let field = format!("alternatives.{group}");
            let members: Vec<usize> = (0..self.spec.lines.len())
                .filter(|&i| self.spec.lines[i].group() == Some(group.as_str()))
                .collect();
            if members.is_empty() {
                return Err(ValidationError::new(
                    field,
                    format!("no alternative group {group:?} in this quotation"),
                )
                .into());
            }
            let Some(&pick) = members.iter().find(|&&i| self.spec.lines[i].id == *chosen) else {
                return Err(QuotationError::UnknownLine {
                    field,
                    line: *chosen,
                });
            };
            if self.spec.lines[pick].selected {
                continue;
            }
            if accepted {
                return Err(QuotationError::ChoiceFixed {
                    field,
                    why: "the quotation was accepted",
                });
            }
            if members
                .iter()
                .any(|&i| self.spec.lines[i].ordered_milli > 0)
            {
                return Err(QuotationError::ChoiceFixed {
                    field,
                    why: "the group has been ordered from",
                });
            }
            for &i in &members {
                self.spec.lines[i].selected = i == pick;
            }
        }
        for (n, id) in choice.optional_lines.iter().enumerate() {
            let field = format!("optional_lines[{n}]");
            let Some(line) = self.spec.lines.iter_mut().find(|l| l.id == *id) else {
                return Err(QuotationError::UnknownLine { field, line: *id });
            };
            if line.kind != LineKind::Optional {
                return Err(ValidationError::new(field, "is not an optional line").into());
            }
            if line.selected {
                continue;
            }
            if accepted {
                return Err(QuotationError::ChoiceFixed {
                    field,
                    why: "the quotation was accepted",
                });
            }
            line.selected = true;
        }
        Ok(())
    }

    /// `sent → accepted` with the customer's choices; refused past validity.
    pub fn accept(
        &mut self,
        choice: &Choice,
        by: AcceptedBy,
        now: DateTime<Utc>,
        today: NaiveDate,
    ) -> Result<(), QuotationError> {
        let next = self.spec.status.accept()?;
        self.not_expired(today)?;
        self.choose(choice, false)?;
        self.spec.status = next;
        self.spec.acceptance = Some(Acceptance { by, at: now });
        Ok(())
    }

    /// `→ lost` with the reason (and the competitor).
    pub fn lose(&mut self, reason: LostReason) -> Result<(), QuotationError> {
        self.spec.status = self.spec.status.lose()?;
        self.spec.lost = Some(reason);
        Ok(())
    }

    /// `→ expired` once its validity has passed (the periodic job).
    pub fn expire(&mut self, today: NaiveDate) -> Result<(), QuotationError> {
        let next = self.spec.status.expire()?;
        if !self.is_past_validity(today) {
            return Err(ValidationError::new(
                "valid_until",
                format!("still valid until {}", self.spec.valid_until),
            )
            .into());
        }
        self.spec.status = next;
        Ok(())
    }

    /// `→ cancelled`. Cancelling one that waits for approval is a new
    /// version, so its approval request is superseded and leaves the
    /// approvers' inboxes (the caller does that in the same transaction).
    pub fn cancel(&mut self) -> Result<(), QuotationError> {
        let was = self.spec.status;
        self.spec.status = was.cancel()?;
        if was == QuotationStatus::PendingApproval {
            self.next_version()?;
        }
        Ok(())
    }

    /// The next revision: same id, number and lines (prices kept until the
    /// draft is edited), `draft`, valid for the channel's validity from
    /// `today`, without acceptance or lost reason. The caller keeps `self`
    /// as history.
    pub fn revise(
        &self,
        today: NaiveDate,
        valid_until: NaiveDate,
    ) -> Result<Quotation, QuotationError> {
        let status = self.spec.status.revise()?;
        let mut spec = self.spec.clone();
        spec.revision = spec
            .revision
            .checked_add(1)
            .ok_or_else(|| ValidationError::new("revision", "too many revisions"))?;
        spec.status = status;
        spec.valid_until = check_validity(valid_until, today)?;
        spec.lost = None;
        spec.acceptance = None;
        spec.approval_request_id = None;
        spec.approval_rejection = None;
        let mut next = Quotation::from_spec(spec)?;
        // A new version for approvals: sending the revision asks the
        // policies again, whatever the earlier revision was approved for.
        next.next_version()?;
        Ok(next)
    }

    /// Plans turning (part of) the quotation into an order; see
    /// [`ConversionRequest`]. Checks, in order: the status, the validity
    /// (unless `allow_expired`), the choices, then each line.
    pub fn plan_conversion(
        &self,
        req: &ConversionRequest,
        today: NaiveDate,
        allow_expired: bool,
        keep_quoted_rate: bool,
    ) -> Result<ConversionPlan, QuotationError> {
        self.spec.status.convert(false)?;
        if !allow_expired {
            self.not_expired(today)?;
        }
        let mut after = self.clone();
        let accepted = self.spec.acceptance.is_some();
        after.choose(&req.choice, accepted)?;
        let mut picks: Vec<(usize, i64)> = Vec::new();
        match &req.lines {
            None => {
                for (i, l) in after.spec.lines.iter().enumerate() {
                    if l.counted() && l.remaining_milli() > 0 {
                        picks.push((i, l.remaining_milli()));
                    }
                }
            }
            Some(lines) => {
                let mut seen = BTreeSet::new();
                for (n, (id, q)) in lines.iter().enumerate() {
                    let field = format!("lines[{n}]");
                    let Some(i) = after.spec.lines.iter().position(|l| l.id == *id) else {
                        return Err(QuotationError::UnknownLine {
                            field: format!("{field}.line_id"),
                            line: *id,
                        });
                    };
                    if !seen.insert(*id) {
                        return Err(ValidationError::new(
                            format!("{field}.line_id"),
                            "the line is listed twice",
                        )
                        .into());
                    }
                    let line = &after.spec.lines[i];
                    if !line.counted() {
                        return Err(QuotationError::NotChosen {
                            field: format!("{field}.line_id"),
                            line: *id,
                        });
                    }
                    let milli = match q {
                        Some(q) => quantity_milli(&format!("{field}.quantity"), *q)?,
                        None => line.remaining_milli(),
                    };
                    if milli > line.remaining_milli() || line.remaining_milli() == 0 {
                        return Err(QuotationError::ExceedsRemaining {
                            field: format!("{field}.quantity"),
                            line: *id,
                            requested: from_milli(milli),
                            remaining: line.remaining_quantity(),
                        });
                    }
                    picks.push((i, milli));
                }
            }
        }
        if picks.is_empty() {
            return Err(QuotationError::NothingToConvert);
        }
        let mut lines = Vec::with_capacity(picks.len());
        for (i, milli) in picks {
            let line = &mut after.spec.lines[i];
            line.ordered_milli += milli;
            lines.push(ConvertedLine {
                line_id: line.id,
                product_id: line.product_id,
                quantity: from_milli(milli),
                quantity_milli: milli,
                uom: line
                    .price
                    .as_ref()
                    .map(|p| p.uom.clone())
                    .or_else(|| line.uom.clone()),
                requested_date: line.requested_date,
                kept_rate: if keep_quoted_rate {
                    line.price.as_ref().map(|p| p.net_unit_price)
                } else {
                    None
                },
            });
        }
        let fully = after
            .spec
            .lines
            .iter()
            .filter(|l| l.counted())
            .all(|l| l.remaining_milli() == 0);
        after.spec.status = self.spec.status.convert(fully)?;
        Ok(ConversionPlan {
            quotation: after,
            lines,
        })
    }
}

/// What to convert: choices first, then `lines` as (line id, quantity —
/// `None` for all that remains); `lines: None` converts everything that
/// remains of the counted lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversionRequest {
    pub choice: Choice,
    pub lines: Option<Vec<(LineId, Option<Decimal>)>>,
}

/// One order line to create from a quotation line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertedLine {
    pub line_id: LineId,
    pub product_id: ProductId,
    pub quantity: Decimal,
    pub quantity_milli: i64,
    pub uom: Option<String>,
    pub requested_date: Option<NaiveDate>,
    /// The quoted net unit price when `keep_quoted_rate` holds; `None`
    /// leaves the order to be priced afresh.
    pub kept_rate: Option<Money>,
}

/// The result of [`Quotation::plan_conversion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionPlan {
    /// The quotation afterwards: choices applied, ordered quantities
    /// raised, status `partially_ordered` or `ordered`.
    pub quotation: Quotation,
    pub lines: Vec<ConvertedLine>,
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
