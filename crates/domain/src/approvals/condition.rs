//! Conditions: when a policy (or one level of its chain) applies.
//!
//! A [`Condition`] is data — it arrives over the API as JSON such as
//! `{"type":"max_line_discount","over":"15"}` or
//! `{"type":"any","any":[…]}` — and becomes a [`CheckedCondition`] only
//! through validation: combinators are non-empty and at most
//! [`CheckedCondition::MAX_DEPTH`] deep, sets are non-empty, bands are not
//! empty (`up_to` above `over`), and the thresholds of one measure under
//! one `all` leave some value that satisfies them all.
//!
//! Every measure has a direction that is *worse for the company*: a higher
//! total, discount, use of the credit limit or payment term, a lower margin, more or
//! cheaper lines of a watched product or group, a different customer or
//! channel. Conditions trigger on the worse side of their threshold, so a
//! condition without an upper cap (`up_to`, `down_to`) is monotone: a
//! change that only makes a document better never makes it trigger.
//!
//! Evaluating a condition yields whether it triggered, the [`Reason`]s (the
//! leaves that made it trigger, with observed value and threshold), and an
//! [`Observation`] for *every* leaf, triggered or not. The observations of
//! a level form its [`Fingerprint`]: the values an approver approves, and
//! what smart re-approval compares (see [`super::reapproval`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::snapshot::{DocumentSnapshot, PricingFlagKind, SnapshotLine};
use crate::catalog::code;
use crate::ids::{CustomerGroupId, ItemGroupId, ProductId};
use crate::money::Currency;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConditionError {
    #[error("{path}: an `{kind}` needs at least one condition")]
    EmptyCombinator { path: String, kind: &'static str },
    #[error("{path}: conditions nest at most {max} levels deep")]
    TooDeep { path: String, max: usize },
    #[error("a condition has at most {max} parts")]
    TooLarge { max: usize },
    #[error("{path}: needs at least one {what}")]
    EmptySet { path: String, what: &'static str },
    #[error("{path}: contradictory thresholds: {detail}")]
    Contradictory { path: String, detail: String },
    #[error("{path}: {detail}")]
    OutOfRange { path: String, detail: String },
    #[error("{path}: invalid channel code {code:?}")]
    BadChannel { path: String, code: String },
}

/// An amount band in one currency: triggers above `over`, up to and
/// including `up_to` when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountBand {
    pub over: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<Decimal>,
}

/// A condition as data. See the module docs for the direction of each
/// measure and [`CheckedCondition`] for what validation guarantees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Every part must trigger.
    All { all: Vec<Condition> },
    /// At least one part must trigger.
    Any { any: Vec<Condition> },
    /// The document's net total, with a band per currency. A document in a
    /// currency without a band triggers: a policy cannot be dodged by
    /// quoting in another currency.
    TotalAmount {
        limits: BTreeMap<Currency, AmountBand>,
    },
    /// The highest discount of any line, in percent.
    MaxLineDiscount {
        over: Decimal,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        up_to: Option<Decimal>,
    },
    /// The discount on the list value of the whole document, in percent.
    AverageDiscount {
        over: Decimal,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        up_to: Option<Decimal>,
    },
    /// The document's margin in percent: triggers below `under` (and at or
    /// above `down_to` when given). A document without margin (zero net)
    /// triggers.
    Margin {
        under: Decimal,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        down_to: Option<Decimal>,
    },
    /// Some line carries one of the pricing flags (any flag when `kinds`
    /// is empty).
    PricingFlag {
        #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
        kinds: BTreeSet<PricingFlagKind>,
    },
    /// Open exposure plus this document exceeds the customer's credit limit
    /// by more than `tolerance_percent` of the limit.
    CreditOverLimit {
        #[serde(default)]
        tolerance_percent: Decimal,
    },
    /// Some line sells one of these products.
    Products { ids: BTreeSet<ProductId> },
    /// Some line's product is in one of these item groups or below them.
    ItemGroups { ids: BTreeSet<ItemGroupId> },
    /// The customer is in one of these groups or below them.
    CustomerGroups { ids: BTreeSet<CustomerGroupId> },
    /// The document comes through one of these channels (by code).
    Channels { codes: BTreeSet<String> },
    /// The payment terms exceed the channel's default by more than this
    /// many days.
    PaymentTermsOverDefault {
        #[serde(default)]
        by_more_than_days: u16,
    },
}

impl Condition {
    /// The wire name of the condition's type (`max_line_discount`).
    pub fn kind(&self) -> &'static str {
        match self {
            Condition::All { .. } => "all",
            Condition::Any { .. } => "any",
            Condition::TotalAmount { .. } => "total_amount",
            Condition::MaxLineDiscount { .. } => "max_line_discount",
            Condition::AverageDiscount { .. } => "average_discount",
            Condition::Margin { .. } => "margin",
            Condition::PricingFlag { .. } => "pricing_flag",
            Condition::CreditOverLimit { .. } => "credit_over_limit",
            Condition::Products { .. } => "products",
            Condition::ItemGroups { .. } => "item_groups",
            Condition::CustomerGroups { .. } => "customer_groups",
            Condition::Channels { .. } => "channels",
            Condition::PaymentTermsOverDefault { .. } => "payment_terms_over_default",
        }
    }
}

/// A validated [`Condition`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Condition", into = "Condition")]
pub struct CheckedCondition(Condition);

impl From<CheckedCondition> for Condition {
    fn from(c: CheckedCondition) -> Condition {
        c.0
    }
}

impl TryFrom<Condition> for CheckedCondition {
    type Error = ConditionError;
    fn try_from(c: Condition) -> Result<CheckedCondition, ConditionError> {
        CheckedCondition::new(c)
    }
}

/// Lower (exclusive) and upper (inclusive) bounds of an `over`/`up_to` band.
fn check_band(
    path: &str,
    over: Decimal,
    up_to: Option<Decimal>,
    max: Option<Decimal>,
) -> Result<(), ConditionError> {
    if let Some(max) = max {
        if over >= max {
            return Err(ConditionError::OutOfRange {
                path: path.to_owned(),
                detail: format!("`over` must be below {max} (got {over})"),
            });
        }
    }
    if let Some(up_to) = up_to {
        if up_to <= over {
            return Err(ConditionError::Contradictory {
                path: path.to_owned(),
                detail: format!("`up_to` {up_to} must be above `over` {over}"),
            });
        }
    }
    Ok(())
}

/// The interval a set of thresholds on one measure leaves open, for the
/// contradiction check of an `all`: values `v` with `low < v ≤ high` for
/// higher-is-worse measures (the margin's `down_to ≤ v < under` is mapped
/// onto the same shape by negation).
#[derive(Default)]
struct Interval {
    low: Option<Decimal>,
    high: Option<Decimal>,
}

impl Interval {
    fn narrow(&mut self, low: Decimal, high: Option<Decimal>) {
        self.low = Some(self.low.map_or(low, |l| l.max(low)));
        if let Some(h) = high {
            self.high = Some(self.high.map_or(h, |x| x.min(h)));
        }
    }
    fn is_empty(&self) -> bool {
        matches!((self.low, self.high), (Some(l), Some(h)) if h <= l)
    }
}

impl CheckedCondition {
    /// Deepest nesting of `all` / `any`.
    pub const MAX_DEPTH: usize = 8;
    /// Most parts (combinators and leaves) in one condition.
    pub const MAX_NODES: usize = 256;

    pub fn new(condition: Condition) -> Result<CheckedCondition, ConditionError> {
        let mut nodes = 0;
        check(&condition, "condition", 0, &mut nodes)?;
        Ok(CheckedCondition(condition))
    }

    /// Validates with `path` as the root's name in errors (`levels[1].condition`).
    pub(crate) fn new_at(
        condition: Condition,
        path: &str,
    ) -> Result<CheckedCondition, ConditionError> {
        let mut nodes = 0;
        check(&condition, path, 0, &mut nodes)?;
        Ok(CheckedCondition(condition))
    }

    pub fn condition(&self) -> &Condition {
        &self.0
    }

    /// Evaluates against `snapshot`: whether it triggered, and why. Every
    /// leaf's observation goes into `fingerprint` under `prefix` + its path.
    pub fn evaluate(
        &self,
        snapshot: &DocumentSnapshot,
        prefix: &str,
        fingerprint: &mut Fingerprint,
    ) -> (bool, Vec<Reason>) {
        eval(&self.0, snapshot, prefix, fingerprint)
    }
}

fn check(c: &Condition, path: &str, depth: usize, nodes: &mut usize) -> Result<(), ConditionError> {
    *nodes += 1;
    if *nodes > CheckedCondition::MAX_NODES {
        return Err(ConditionError::TooLarge {
            max: CheckedCondition::MAX_NODES,
        });
    }
    let hundred = Decimal::ONE_HUNDRED;
    match c {
        Condition::All { all: parts } | Condition::Any { any: parts } => {
            if depth >= CheckedCondition::MAX_DEPTH {
                return Err(ConditionError::TooDeep {
                    path: path.to_owned(),
                    max: CheckedCondition::MAX_DEPTH,
                });
            }
            if parts.is_empty() {
                return Err(ConditionError::EmptyCombinator {
                    path: path.to_owned(),
                    kind: c.kind(),
                });
            }
            for (i, part) in parts.iter().enumerate() {
                check(part, &format!("{path}.{}[{i}]", c.kind()), depth + 1, nodes)?;
            }
            if let Condition::All { all } = c {
                check_all_satisfiable(all, path)?;
            }
        }
        Condition::TotalAmount { limits } => {
            if limits.is_empty() {
                return Err(ConditionError::EmptySet {
                    path: path.to_owned(),
                    what: "currency limit",
                });
            }
            for (currency, band) in limits {
                let p = format!("{path}.limits.{currency}");
                if band.over.is_sign_negative() && !band.over.is_zero() {
                    return Err(ConditionError::OutOfRange {
                        path: p,
                        detail: format!("`over` must not be negative (got {})", band.over),
                    });
                }
                check_band(&p, band.over, band.up_to, None)?;
            }
        }
        Condition::MaxLineDiscount { over, up_to } | Condition::AverageDiscount { over, up_to } => {
            check_band(path, *over, *up_to, Some(hundred))?;
            if *over < -hundred {
                return Err(ConditionError::OutOfRange {
                    path: path.to_owned(),
                    detail: format!("`over` must be at least -100 (got {over})"),
                });
            }
        }
        Condition::Margin { under, down_to } => {
            if *under > hundred {
                return Err(ConditionError::OutOfRange {
                    path: path.to_owned(),
                    detail: format!("`under` must be at most 100 (got {under})"),
                });
            }
            if let Some(d) = down_to {
                if d >= under {
                    return Err(ConditionError::Contradictory {
                        path: path.to_owned(),
                        detail: format!("`down_to` {d} must be below `under` {under}"),
                    });
                }
            }
        }
        Condition::PricingFlag { .. } => {}
        Condition::CreditOverLimit { tolerance_percent } => {
            if tolerance_percent.is_sign_negative() && !tolerance_percent.is_zero() {
                return Err(ConditionError::OutOfRange {
                    path: path.to_owned(),
                    detail: format!(
                        "`tolerance_percent` must not be negative (got {tolerance_percent})"
                    ),
                });
            }
        }
        Condition::Products { ids } => non_empty(path, ids, "product")?,
        Condition::ItemGroups { ids } => non_empty(path, ids, "item group")?,
        Condition::CustomerGroups { ids } => non_empty(path, ids, "customer group")?,
        Condition::Channels { codes } => {
            non_empty(path, codes, "channel code")?;
            for c in codes {
                if code("channel", c).is_err() {
                    return Err(ConditionError::BadChannel {
                        path: path.to_owned(),
                        code: c.clone(),
                    });
                }
            }
        }
        Condition::PaymentTermsOverDefault { .. } => {}
    }
    Ok(())
}

fn non_empty<T>(path: &str, set: &BTreeSet<T>, what: &'static str) -> Result<(), ConditionError> {
    if set.is_empty() {
        Err(ConditionError::EmptySet {
            path: path.to_owned(),
            what,
        })
    } else {
        Ok(())
    }
}

/// Refuses an `all` whose thresholds on one measure exclude each other
/// (`max_line_discount over 30` and `max_line_discount over 10 up_to 20`):
/// such a condition could never trigger and is surely a mistake.
fn check_all_satisfiable(parts: &[Condition], path: &str) -> Result<(), ConditionError> {
    let mut max_line = Interval::default();
    let mut average = Interval::default();
    let mut margin = Interval::default();
    let mut totals: BTreeMap<Currency, Interval> = BTreeMap::new();
    for part in parts {
        match part {
            Condition::MaxLineDiscount { over, up_to } => max_line.narrow(*over, *up_to),
            Condition::AverageDiscount { over, up_to } => average.narrow(*over, *up_to),
            // down_to ≤ v < under  ⇔  −under < −v ≤ −down_to
            Condition::Margin { under, down_to } => margin.narrow(-*under, down_to.map(|d| -d)),
            Condition::TotalAmount { limits } if limits.len() == 1 => {
                for (c, band) in limits {
                    totals.entry(*c).or_default().narrow(band.over, band.up_to);
                }
            }
            _ => {}
        }
    }
    let contradictory = |what: &str| ConditionError::Contradictory {
        path: path.to_owned(),
        detail: format!("no {what} satisfies every part of this `all`"),
    };
    if max_line.is_empty() {
        return Err(contradictory("highest line discount"));
    }
    if average.is_empty() {
        return Err(contradictory("average discount"));
    }
    if margin.is_empty() {
        return Err(contradictory("margin"));
    }
    if let Some((c, _)) = totals.iter().find(|(_, i)| i.is_empty()) {
        return Err(contradictory(&format!("{c} total")));
    }
    Ok(())
}

/// Why a level is required: one leaf condition that triggered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Where the leaf sits (`condition.any[1]`, `level.condition`).
    pub path: String,
    /// The leaf's type (`max_line_discount`).
    pub condition: String,
    /// What the document has (`18.5%`, `EUR 12500.00`, `lines 1, 3`).
    pub observed: String,
    /// What the policy allows (`over 15%`).
    pub threshold: String,
}

/// What one line of a watched product or group looks like, per product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineFacts {
    /// Summed over the product's matching lines.
    pub quantity: Decimal,
    /// The lowest net unit price among them.
    pub min_net_price: Decimal,
    /// The highest discount among them, in percent.
    pub max_discount: Decimal,
}

/// The value a leaf condition tested, with the direction that is worse for
/// the company built in (see [`Observation::no_worse_than`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Observation {
    /// The net total: higher is worse; another currency is worse.
    Amount { currency: Currency, value: Decimal },
    /// A discount in percent: higher is worse.
    Percent { value: Decimal },
    /// A margin in percent: lower is worse; no margin at all is worst.
    Margin { value: Option<Decimal> },
    /// Exposure after the document as a percentage of the credit limit:
    /// higher is worse; no limit at all is best. (A percentage, not an
    /// amount over the limit, because the condition's tolerance is a
    /// percentage: the same excess on a smaller limit is worse.)
    CreditUse { percent: Option<Decimal> },
    /// Payment days over the channel default: more is worse.
    Days { value: i32 },
    /// The lines a line condition matched, per product: a new product, more
    /// quantity, a lower net price or a higher discount is worse.
    Lines {
        lines: BTreeMap<ProductId, LineFacts>,
    },
    /// Who or where (customer and its groups, channel): any change is worse.
    Identity { value: String },
}

impl Observation {
    /// Whether `self` (the value now) is the same as or better for the
    /// company than `approved`. Observations of different kinds are never
    /// comparable, so they count as worse.
    pub fn no_worse_than(&self, approved: &Observation) -> bool {
        use Observation as O;
        match (self, approved) {
            (
                O::Amount { currency, value },
                O::Amount {
                    currency: c0,
                    value: v0,
                },
            ) => currency == c0 && value <= v0,
            (O::Percent { value }, O::Percent { value: v0 }) => value <= v0,
            (O::Margin { value }, O::Margin { value: v0 }) => match (value, v0) {
                (None, None) | (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(v), Some(v0)) => v >= v0,
            },
            (O::CreditUse { percent: value }, O::CreditUse { percent: v0 }) => match (value, v0) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(v), Some(v0)) => v <= v0,
            },
            (O::Days { value }, O::Days { value: v0 }) => value <= v0,
            (O::Lines { lines }, O::Lines { lines: l0 }) => lines.iter().all(|(p, f)| {
                l0.get(p).is_some_and(|o| {
                    f.quantity <= o.quantity
                        && f.min_net_price >= o.min_net_price
                        && f.max_discount <= o.max_discount
                })
            }),
            (O::Identity { value }, O::Identity { value: v0 }) => value == v0,
            _ => false,
        }
    }
}

impl fmt::Display for Observation {
    /// A canonical, human-readable form; numbers are normalized
    /// (`12.50` → `12.5`) so equal values print equally.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |d: &Decimal| d.normalize();
        match self {
            Observation::Amount { currency, value } => write!(f, "{currency} {}", n(value)),
            Observation::Percent { value } => write!(f, "{}%", n(value)),
            Observation::Margin { value: Some(v) } => write!(f, "margin {}%", n(v)),
            Observation::Margin { value: None } => f.write_str("no margin"),
            Observation::CreditUse { percent: Some(v) } => {
                write!(f, "{}% of the credit limit", n(v))
            }
            Observation::CreditUse { percent: None } => f.write_str("no credit limit"),
            Observation::Days { value } => write!(f, "{value} days over the default"),
            Observation::Lines { lines } if lines.is_empty() => f.write_str("no lines"),
            Observation::Lines { lines } => {
                let parts: Vec<String> = lines
                    .iter()
                    .map(|(p, l)| {
                        format!(
                            "{p} qty {} min net {} max discount {}%",
                            n(&l.quantity),
                            n(&l.min_net_price),
                            n(&l.max_discount)
                        )
                    })
                    .collect();
                f.write_str(&parts.join("; "))
            }
            Observation::Identity { value } => f.write_str(value),
        }
    }
}

/// The observations of every leaf of a level's conditions, by path: the
/// values an approver approves. Sorted by path, so it serializes and
/// digests the same way every time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(BTreeMap<String, Observation>);

impl Fingerprint {
    pub fn get(&self, path: &str) -> Option<&Observation> {
        self.0.get(path)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Observation)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn insert(&mut self, path: String, observation: Observation) {
        self.0.insert(path, observation);
    }
    /// Adds every observation of `other` (paths are disjoint by construction).
    pub(crate) fn extend(&mut self, other: Fingerprint) {
        self.0.extend(other.0);
    }

    /// SHA-256 (hex) of the canonical text `path=observation\n…`: a short
    /// name for exactly these values, for audit records.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for (path, obs) in &self.0 {
            hasher.update(path.as_bytes());
            hasher.update(b"=");
            hasher.update(obs.to_string().as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }
}

fn pct(d: Decimal) -> String {
    format!("{}%", d.normalize())
}

fn band_text(over: Decimal, up_to: Option<Decimal>, unit: &str) -> String {
    match up_to {
        Some(u) => format!(
            "over {}{unit} up to {}{unit}",
            over.normalize(),
            u.normalize()
        ),
        None => format!("over {}{unit}", over.normalize()),
    }
}

fn in_band(v: Decimal, over: Decimal, up_to: Option<Decimal>) -> bool {
    v > over && up_to.is_none_or(|u| v <= u)
}

fn lines_matching(
    snapshot: &DocumentSnapshot,
    matches: impl Fn(&SnapshotLine) -> bool,
) -> (BTreeMap<ProductId, LineFacts>, Vec<u32>) {
    let mut facts: BTreeMap<ProductId, LineFacts> = BTreeMap::new();
    let mut numbers = Vec::new();
    for line in snapshot.lines().iter().filter(|l| matches(l)) {
        numbers.push(line.line_no());
        facts
            .entry(line.product())
            .and_modify(|f| {
                // Quantities are bounded by the snapshot (each line amount
                // fits Money), so a saturating add never saturates in practice.
                f.quantity = f.quantity.saturating_add(line.quantity());
                f.min_net_price = f.min_net_price.min(line.net_price().amount());
                f.max_discount = f.max_discount.max(line.discount_percent());
            })
            .or_insert(LineFacts {
                quantity: line.quantity(),
                min_net_price: line.net_price().amount(),
                max_discount: line.discount_percent(),
            });
    }
    (facts, numbers)
}

fn line_numbers(numbers: &[u32]) -> String {
    let n: Vec<String> = numbers.iter().map(u32::to_string).collect();
    format!("lines {}", n.join(", "))
}

fn eval(
    c: &Condition,
    s: &DocumentSnapshot,
    path: &str,
    fp: &mut Fingerprint,
) -> (bool, Vec<Reason>) {
    let reason = |observed: String, threshold: String| Reason {
        path: path.to_owned(),
        condition: c.kind().to_owned(),
        observed,
        threshold,
    };
    let (triggered, observation, why) = match c {
        Condition::All { all } => {
            let mut reasons = Vec::new();
            let mut every = true;
            for (i, part) in all.iter().enumerate() {
                let (t, r) = eval(part, s, &format!("{path}.all[{i}]"), fp);
                every &= t;
                reasons.extend(r);
            }
            return if every {
                (true, reasons)
            } else {
                (false, Vec::new())
            };
        }
        Condition::Any { any } => {
            let mut reasons = Vec::new();
            let mut some = false;
            for (i, part) in any.iter().enumerate() {
                let (t, r) = eval(part, s, &format!("{path}.any[{i}]"), fp);
                if t {
                    some = true;
                    reasons.extend(r);
                }
            }
            return (some, reasons);
        }
        Condition::TotalAmount { limits } => {
            let total = s.total();
            let obs = Observation::Amount {
                currency: total.currency(),
                value: total.amount(),
            };
            let observed = format!("{} {}", total.currency(), total.amount());
            match limits.get(&total.currency()) {
                Some(b) => (
                    in_band(total.amount(), b.over, b.up_to),
                    obs,
                    reason(
                        observed,
                        format!("{} {}", total.currency(), band_text(b.over, b.up_to, "")),
                    ),
                ),
                None => (
                    true,
                    obs,
                    reason(observed, format!("no limit set for {}", total.currency())),
                ),
            }
        }
        Condition::MaxLineDiscount { over, up_to } => {
            let v = s.max_line_discount();
            (
                in_band(v, *over, *up_to),
                Observation::Percent { value: v },
                reason(pct(v), band_text(*over, *up_to, "%")),
            )
        }
        Condition::AverageDiscount { over, up_to } => {
            let v = s.average_discount();
            (
                in_band(v, *over, *up_to),
                Observation::Percent { value: v },
                reason(pct(v), band_text(*over, *up_to, "%")),
            )
        }
        Condition::Margin { under, down_to } => {
            let v = s.margin_percent();
            let triggered = match v {
                None => true,
                Some(m) => m < *under && down_to.is_none_or(|d| m >= d),
            };
            let threshold = match down_to {
                Some(d) => format!("under {} down to {}", pct(*under), pct(*d)),
                None => format!("under {}", pct(*under)),
            };
            (
                triggered,
                Observation::Margin { value: v },
                reason(v.map_or_else(|| "no margin".to_owned(), pct), threshold),
            )
        }
        Condition::PricingFlag { kinds } => {
            let wanted = |k: &PricingFlagKind| kinds.is_empty() || kinds.contains(k);
            let (lines, numbers) = lines_matching(s, |l| l.flags().iter().any(wanted));
            let names: Vec<&str> = if kinds.is_empty() {
                PricingFlagKind::ALL.iter().map(|k| k.as_str()).collect()
            } else {
                kinds.iter().map(|k| k.as_str()).collect()
            };
            (
                !numbers.is_empty(),
                Observation::Lines { lines },
                reason(
                    line_numbers(&numbers),
                    format!("any line flagged {}", names.join(" or ")),
                ),
            )
        }
        Condition::CreditOverLimit { tolerance_percent } => {
            // Triggered and observed through the same number, so a document
            // whose use of its limit did not grow cannot start triggering.
            let used = s.credit_use_percent();
            let triggered = used.is_some_and(|u| u > Decimal::ONE_HUNDRED + *tolerance_percent);
            let threshold = match s.customer().credit_limit {
                Some(limit) => format!(
                    "exposure over the limit of {} {} by more than {}",
                    limit.currency(),
                    limit.amount(),
                    pct(*tolerance_percent)
                ),
                None => "no credit limit".to_owned(),
            };
            (
                triggered,
                Observation::CreditUse { percent: used },
                reason(
                    format!(
                        "exposure {} {} ({})",
                        s.currency(),
                        s.exposure_after().amount(),
                        used.map_or_else(
                            || "no limit".to_owned(),
                            |u| format!("{}% of the limit", u.normalize())
                        )
                    ),
                    threshold,
                ),
            )
        }
        Condition::Products { ids } => {
            let (lines, numbers) = lines_matching(s, |l| ids.contains(&l.product()));
            (
                !numbers.is_empty(),
                Observation::Lines { lines },
                reason(
                    line_numbers(&numbers),
                    format!("any of {} products", ids.len()),
                ),
            )
        }
        Condition::ItemGroups { ids } => {
            let (lines, numbers) =
                lines_matching(s, |l| l.item_group_chain().iter().any(|g| ids.contains(g)));
            (
                !numbers.is_empty(),
                Observation::Lines { lines },
                reason(
                    line_numbers(&numbers),
                    format!("any of {} item groups", ids.len()),
                ),
            )
        }
        Condition::CustomerGroups { ids } => {
            let customer = s.customer();
            let chain: Vec<String> = customer.group_chain.iter().map(|g| g.to_string()).collect();
            let matched = customer.group_chain.iter().find(|g| ids.contains(g));
            (
                matched.is_some(),
                Observation::Identity {
                    value: format!("customer {} groups [{}]", customer.id, chain.join(", ")),
                },
                reason(
                    matched.map_or_else(|| "in none".to_owned(), |g| format!("in group {g}")),
                    format!("in any of {} customer groups", ids.len()),
                ),
            )
        }
        Condition::Channels { codes } => {
            let ch = s.channel();
            let list: Vec<&str> = codes.iter().map(String::as_str).collect();
            (
                codes.contains(ch),
                Observation::Identity {
                    value: format!("channel {ch}"),
                },
                reason(
                    format!("channel {ch}"),
                    format!("channel {}", list.join(" or ")),
                ),
            )
        }
        Condition::PaymentTermsOverDefault { by_more_than_days } => {
            let excess = s.payment_terms_excess_days();
            (
                excess > i32::from(*by_more_than_days),
                Observation::Days { value: excess },
                reason(
                    format!(
                        "{} days (default {})",
                        s.payment_terms_days(),
                        s.default_payment_terms_days()
                    ),
                    format!("more than {by_more_than_days} days over the default"),
                ),
            )
        }
    };
    fp.insert(path.to_owned(), observation);
    if triggered {
        (true, vec![why])
    } else {
        (false, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::approvals::fixtures::*;

    fn run(c: Condition, s: &DocumentSnapshot) -> (bool, Vec<Reason>, Fingerprint) {
        let checked = CheckedCondition::new(c).unwrap();
        let mut fp = Fingerprint::default();
        let (t, r) = checked.evaluate(s, "condition", &mut fp);
        (t, r, fp)
    }

    fn triggers(c: Condition, s: &DocumentSnapshot) -> bool {
        run(c, s).0
    }

    #[test]
    fn total_amount_triggers_over_the_band_of_the_documents_currency() {
        // The default fixture: 10 × 100 list, 80 net → EUR 800.
        let s = snapshot(|_| {});
        let limit = |over| Condition::TotalAmount {
            limits: BTreeMap::from([(Currency::EUR, AmountBand { over, up_to: None })]),
        };
        assert!(triggers(limit(dec!(500)), &s));
        assert!(!triggers(limit(dec!(800)), &s), "over is exclusive");
        let (_, reasons, _) = run(limit(dec!(500)), &s);
        assert_eq!(reasons[0].observed, "EUR 800.00");
        assert_eq!(reasons[0].threshold, "EUR over 500");
    }

    #[test]
    fn a_document_in_a_currency_without_a_limit_triggers_the_total_condition() {
        let s = usd_snapshot();
        let c = Condition::TotalAmount {
            limits: BTreeMap::from([(
                Currency::EUR,
                AmountBand {
                    over: dec!(1_000_000),
                    up_to: None,
                },
            )]),
        };
        let (t, reasons, _) = run(c, &s);
        assert!(t);
        assert_eq!(reasons[0].threshold, "no limit set for USD");
    }

    #[test]
    fn highest_line_discount_looks_at_the_worst_line() {
        let s = snapshot(|i| {
            i.lines = vec![
                line(1, p1(), dec!(1), dec!(100), dec!(95)),
                line(2, p2(), dec!(1), dec!(100), dec!(70)),
            ];
            i.total = eur(dec!(165));
        });
        assert!(triggers(
            Condition::MaxLineDiscount {
                over: dec!(25),
                up_to: None
            },
            &s
        ));
        assert!(!triggers(
            Condition::MaxLineDiscount {
                over: dec!(30),
                up_to: None
            },
            &s
        ));
        assert!(!triggers(
            Condition::MaxLineDiscount {
                over: dec!(10),
                up_to: Some(dec!(20))
            },
            &s
        ));
    }

    #[test]
    fn average_discount_is_weighted_by_list_value() {
        // 5% on 900 list, 50% on 100 list → 95 / 1000 = 9.5%.
        let s = snapshot(|i| {
            i.lines = vec![
                line(1, p1(), dec!(9), dec!(100), dec!(95)),
                line(2, p2(), dec!(1), dec!(100), dec!(50)),
            ];
            i.total = eur(dec!(905));
        });
        assert_eq!(s.average_discount(), dec!(9.5));
        assert!(triggers(
            Condition::AverageDiscount {
                over: dec!(9),
                up_to: None
            },
            &s
        ));
        assert!(!triggers(
            Condition::AverageDiscount {
                over: dec!(10),
                up_to: None
            },
            &s
        ));
    }

    #[test]
    fn margin_triggers_below_the_minimum_and_when_there_is_no_margin() {
        let s = snapshot(|i| i.lines[0].margin_percent = Some(dec!(12)));
        assert!(triggers(
            Condition::Margin {
                under: dec!(15),
                down_to: None
            },
            &s
        ));
        assert!(!triggers(
            Condition::Margin {
                under: dec!(12),
                down_to: None
            },
            &s
        ));
        let free = snapshot(|i| {
            i.lines[0] = line(1, p1(), dec!(1), dec!(100), dec!(0));
            i.lines[0].margin_percent = None;
            i.total = eur(dec!(0));
        });
        let (t, reasons, _) = run(
            Condition::Margin {
                under: dec!(5),
                down_to: None,
            },
            &free,
        );
        assert!(t);
        assert_eq!(reasons[0].observed, "no margin");
    }

    #[test]
    fn pricing_flag_triggers_on_flagged_lines_of_the_wanted_kinds() {
        let s = snapshot(|i| {
            i.lines.push(line(2, p2(), dec!(1), dec!(10), dec!(10)));
            i.lines[1].flags = BTreeSet::from([PricingFlagKind::BelowFloor]);
            i.total = eur(dec!(810));
        });
        let (t, reasons, _) = run(
            Condition::PricingFlag {
                kinds: BTreeSet::new(),
            },
            &s,
        );
        assert!(t);
        assert_eq!(reasons[0].observed, "lines 2");
        assert!(!triggers(
            Condition::PricingFlag {
                kinds: BTreeSet::from([PricingFlagKind::BelowMinimumMargin])
            },
            &s
        ));
        assert!(!triggers(
            Condition::PricingFlag {
                kinds: BTreeSet::new()
            },
            &snapshot(|_| {})
        ));
    }

    #[test]
    fn credit_over_limit_counts_open_exposure_and_the_tolerance() {
        // Total 800; open 300; limit 1000 → exposure 1100, 10% over.
        let s = snapshot(|i| {
            i.customer.credit_limit = Some(eur(dec!(1000)));
            i.customer.open_exposure = eur(dec!(300));
        });
        assert!(triggers(
            Condition::CreditOverLimit {
                tolerance_percent: dec!(0)
            },
            &s
        ));
        assert!(triggers(
            Condition::CreditOverLimit {
                tolerance_percent: dec!(9)
            },
            &s
        ));
        assert!(!triggers(
            Condition::CreditOverLimit {
                tolerance_percent: dec!(10)
            },
            &s
        ));
        let unlimited = snapshot(|i| i.customer.credit_limit = None);
        assert!(!triggers(
            Condition::CreditOverLimit {
                tolerance_percent: dec!(0)
            },
            &unlimited
        ));
    }

    #[test]
    fn products_and_item_groups_match_through_the_tree() {
        let s = snapshot(|i| i.lines[0].item_group_chain = vec![ig_laptops(), ig_hardware()]);
        assert!(triggers(
            Condition::Products {
                ids: BTreeSet::from([p1()])
            },
            &s
        ));
        assert!(!triggers(
            Condition::Products {
                ids: BTreeSet::from([p2()])
            },
            &s
        ));
        assert!(
            triggers(
                Condition::ItemGroups {
                    ids: BTreeSet::from([ig_hardware()])
                },
                &s
            ),
            "parent group matches children"
        );
        assert!(!triggers(
            Condition::ItemGroups {
                ids: BTreeSet::from([ig_services()])
            },
            &s
        ));
    }

    #[test]
    fn customer_groups_match_through_the_tree() {
        let s = snapshot(|i| i.customer.group_chain = vec![g_retail(), g_all()]);
        assert!(triggers(
            Condition::CustomerGroups {
                ids: BTreeSet::from([g_all()])
            },
            &s
        ));
        assert!(!triggers(
            Condition::CustomerGroups {
                ids: BTreeSet::from([g_wholesale()])
            },
            &s
        ));
    }

    #[test]
    fn channel_and_payment_terms_conditions() {
        let s = snapshot(|i| {
            i.channel = "phone".into();
            i.payment_terms_days = 60;
            i.default_payment_terms_days = 30;
        });
        assert!(triggers(
            Condition::Channels {
                codes: BTreeSet::from(["phone".to_owned()])
            },
            &s
        ));
        assert!(!triggers(
            Condition::Channels {
                codes: BTreeSet::from(["web".to_owned()])
            },
            &s
        ));
        assert!(triggers(
            Condition::PaymentTermsOverDefault {
                by_more_than_days: 0
            },
            &s
        ));
        assert!(triggers(
            Condition::PaymentTermsOverDefault {
                by_more_than_days: 29
            },
            &s
        ));
        assert!(!triggers(
            Condition::PaymentTermsOverDefault {
                by_more_than_days: 30
            },
            &s
        ));
    }

    #[test]
    fn all_and_any_combine_and_only_triggered_leaves_are_reasons() {
        let s = snapshot(|_| {}); // 20% discount, EUR 800
        let big = Condition::TotalAmount {
            limits: BTreeMap::from([(
                Currency::EUR,
                AmountBand {
                    over: dec!(5000),
                    up_to: None,
                },
            )]),
        };
        let disc = Condition::MaxLineDiscount {
            over: dec!(15),
            up_to: None,
        };
        let (t, reasons, fp) = run(
            Condition::Any {
                any: vec![big.clone(), disc.clone()],
            },
            &s,
        );
        assert!(t);
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].path, "condition.any[1]");
        assert_eq!(fp.len(), 2, "every leaf is observed, triggered or not");
        assert!(!triggers(
            Condition::All {
                all: vec![big, disc.clone()]
            },
            &s
        ));
        let (t, reasons, _) = run(
            Condition::All {
                all: vec![disc.clone(), disc],
            },
            &s,
        );
        assert!(t);
        assert_eq!(reasons.len(), 2);
    }

    #[test]
    fn bad_conditions_are_refused_with_the_path() {
        let bad: Vec<(Condition, &str)> = vec![
            (Condition::Any { any: vec![] }, "EmptyCombinator"),
            (
                Condition::Products {
                    ids: BTreeSet::new(),
                },
                "EmptySet",
            ),
            (
                Condition::MaxLineDiscount {
                    over: dec!(20),
                    up_to: Some(dec!(10)),
                },
                "Contradictory",
            ),
            (
                Condition::MaxLineDiscount {
                    over: dec!(100),
                    up_to: None,
                },
                "OutOfRange",
            ),
            (
                Condition::Margin {
                    under: dec!(10),
                    down_to: Some(dec!(10)),
                },
                "Contradictory",
            ),
            (
                Condition::TotalAmount {
                    limits: BTreeMap::new(),
                },
                "EmptySet",
            ),
            (
                Condition::TotalAmount {
                    limits: BTreeMap::from([(
                        Currency::EUR,
                        AmountBand {
                            over: dec!(5),
                            up_to: Some(dec!(1)),
                        },
                    )]),
                },
                "Contradictory",
            ),
            (
                Condition::CreditOverLimit {
                    tolerance_percent: dec!(-1),
                },
                "OutOfRange",
            ),
            (
                Condition::Channels {
                    codes: BTreeSet::from(["no spaces".to_owned()]),
                },
                "BadChannel",
            ),
            (
                Condition::All {
                    all: vec![
                        Condition::AverageDiscount {
                            over: dec!(30),
                            up_to: None,
                        },
                        Condition::AverageDiscount {
                            over: dec!(5),
                            up_to: Some(dec!(20)),
                        },
                    ],
                },
                "Contradictory",
            ),
            (
                Condition::All {
                    all: vec![
                        Condition::Margin {
                            under: dec!(10),
                            down_to: None,
                        },
                        Condition::Margin {
                            under: dec!(30),
                            down_to: Some(dec!(15)),
                        },
                    ],
                },
                "Contradictory",
            ),
        ];
        for (c, expected) in bad {
            let err = CheckedCondition::new(c.clone()).unwrap_err();
            assert!(format!("{err:?}").starts_with(expected), "{c:?}: {err:?}");
        }
        let nested = Condition::Any {
            any: vec![Condition::All { all: vec![] }],
        };
        assert_eq!(
            CheckedCondition::new(nested).unwrap_err(),
            ConditionError::EmptyCombinator {
                path: "condition.any[0]".into(),
                kind: "all"
            }
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut c = Condition::PricingFlag {
            kinds: BTreeSet::new(),
        };
        for _ in 0..=CheckedCondition::MAX_DEPTH {
            c = Condition::Any { any: vec![c] };
        }
        assert!(matches!(
            CheckedCondition::new(c),
            Err(ConditionError::TooDeep { .. })
        ));
    }

    #[test]
    fn conditions_read_from_json_and_refuse_unknown_fields() {
        let c: CheckedCondition = serde_json::from_str(
            r#"{"type":"any","any":[{"type":"max_line_discount","over":"15"},
                {"type":"total_amount","limits":{"EUR":{"over":"10000"}}}]}"#,
        )
        .unwrap();
        assert_eq!(c.condition().kind(), "any");
        assert!(serde_json::from_str::<CheckedCondition>(
            r#"{"type":"max_line_discount","over":"15","typo":1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<CheckedCondition>(
            r#"{"type":"max_line_discount","over":"30","up_to":"20"}"#
        )
        .is_err());
    }

    #[test]
    fn observations_know_which_direction_is_worse() {
        let p = |v| Observation::Percent { value: v };
        assert!(p(dec!(10)).no_worse_than(&p(dec!(10))));
        assert!(p(dec!(9)).no_worse_than(&p(dec!(10))));
        assert!(!p(dec!(11)).no_worse_than(&p(dec!(10))));
        let m = |v| Observation::Margin { value: v };
        assert!(m(Some(dec!(20))).no_worse_than(&m(Some(dec!(10)))));
        assert!(!m(None).no_worse_than(&m(Some(dec!(10)))));
        let a = |c, v| Observation::Amount {
            currency: c,
            value: v,
        };
        assert!(!a(Currency::USD, dec!(1)).no_worse_than(&a(Currency::EUR, dec!(100))));
        let facts = |q, price, d| LineFacts {
            quantity: q,
            min_net_price: price,
            max_discount: d,
        };
        let lines = |l: Vec<(ProductId, LineFacts)>| Observation::Lines {
            lines: l.into_iter().collect(),
        };
        let approved = lines(vec![(p1(), facts(dec!(10), dec!(80), dec!(20)))]);
        assert!(lines(vec![]).no_worse_than(&approved));
        assert!(lines(vec![(p1(), facts(dec!(5), dec!(85), dec!(15)))]).no_worse_than(&approved));
        assert!(!lines(vec![(p1(), facts(dec!(11), dec!(80), dec!(20)))]).no_worse_than(&approved));
        assert!(!lines(vec![(p1(), facts(dec!(10), dec!(79), dec!(20)))]).no_worse_than(&approved));
        assert!(!lines(vec![(p2(), facts(dec!(1), dec!(80), dec!(0)))]).no_worse_than(&approved));
        assert!(!p(dec!(1)).no_worse_than(&m(Some(dec!(1)))));
    }

    #[test]
    fn fingerprint_digest_ignores_trailing_zeros_but_not_values() {
        let mut a = Fingerprint::default();
        a.insert(
            "condition".into(),
            Observation::Percent { value: dec!(12.50) },
        );
        let mut b = Fingerprint::default();
        b.insert(
            "condition".into(),
            Observation::Percent { value: dec!(12.5) },
        );
        assert_eq!(a.digest(), b.digest());
        let mut c = Fingerprint::default();
        c.insert(
            "condition".into(),
            Observation::Percent { value: dec!(12.6) },
        );
        assert_ne!(a.digest(), c.digest());
        assert_eq!(a.digest().len(), 64);
    }
}
