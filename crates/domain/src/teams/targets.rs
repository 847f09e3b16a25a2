//! Sales targets: an amount to sell per person, team or territory in a
//! calendar period (month, quarter, year), optionally only of one item
//! group (and its sub-groups). Attainment is what the store sums from
//! orders, divided by the amount.

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{TargetId, TeamId};
use crate::catalog::{string_enum, ValidationError};
use crate::ids::{ItemGroupId, SalesPersonId, TerritoryId};
use crate::money::{Currency, Money};

string_enum! {
    /// The length of a target or tier period.
    PeriodKind {
        Month => "month",
        Quarter => "quarter",
        Year => "year",
    }
}

/// A calendar period: its kind and first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub kind: PeriodKind,
    pub start: NaiveDate,
}

impl Period {
    /// The period of `kind` that contains `day`.
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> Period {
        let month = match kind {
            PeriodKind::Month => day.month(),
            PeriodKind::Quarter => (day.month() - 1) / 3 * 3 + 1,
            PeriodKind::Year => 1,
        };
        let start = NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day);
        Period { kind, start }
    }

    /// A period starting on `start`, which must be the first day of one.
    pub fn starting(
        field: &str,
        kind: PeriodKind,
        start: NaiveDate,
    ) -> Result<Period, ValidationError> {
        let p = Period::containing(kind, start);
        if p.start != start {
            return Err(ValidationError::new(
                field,
                format!(
                    "a {kind} starts on the first day of a {kind} ({} contains {start})",
                    p.start
                ),
            ));
        }
        Ok(p)
    }

    /// The last day of the period.
    pub fn end(&self) -> NaiveDate {
        let months = match self.kind {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
            PeriodKind::Year => 12,
        };
        self.start
            .checked_add_months(Months::new(months))
            .and_then(|d| d.pred_opt())
            .unwrap_or(self.start)
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end()
    }
}

/// Whose target it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum TargetSubject {
    SalesPerson(SalesPersonId),
    Team(TeamId),
    Territory(TerritoryId),
}

impl TargetSubject {
    pub fn kind(&self) -> &'static str {
        match self {
            TargetSubject::SalesPerson(_) => "sales_person",
            TargetSubject::Team(_) => "team",
            TargetSubject::Territory(_) => "territory",
        }
    }
    pub fn id_text(&self) -> String {
        match self {
            TargetSubject::SalesPerson(i) => i.to_string(),
            TargetSubject::Team(i) => i.to_string(),
            TargetSubject::Territory(i) => i.to_string(),
        }
    }
}

/// What creating a target takes (its wire shape too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    pub subject: TargetSubject,
    pub period: PeriodKind,
    pub period_start: NaiveDate,
    #[serde(default)]
    pub item_group_id: Option<ItemGroupId>,
    pub amount: Decimal,
    pub currency: Currency,
}

/// A validated target; at most one per subject, period and item group
/// (the store's unique index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredTarget")]
pub struct Target {
    id: TargetId,
    subject: TargetSubject,
    period: PeriodKind,
    period_start: NaiveDate,
    item_group_id: Option<ItemGroupId>,
    amount: Decimal,
    currency: Currency,
}

#[derive(Deserialize)]
struct StoredTarget {
    id: TargetId,
    #[serde(flatten)]
    input: TargetInput,
}

impl TryFrom<StoredTarget> for Target {
    type Error = ValidationError;
    fn try_from(s: StoredTarget) -> Result<Self, Self::Error> {
        Target::new(s.id, s.input)
    }
}

impl Target {
    pub fn new(id: TargetId, input: TargetInput) -> Result<Target, ValidationError> {
        Period::starting("period_start", input.period, input.period_start)?;
        if input.amount <= Decimal::ZERO {
            return Err(ValidationError::new("amount", "must be above 0"));
        }
        if input.amount.scale() > input.currency.minor_units() {
            return Err(ValidationError::new(
                "amount",
                format!(
                    "at most {} decimals in {}",
                    input.currency.minor_units(),
                    input.currency.code()
                ),
            ));
        }
        Money::new(input.amount, input.currency)
            .map_err(|e| ValidationError::new("amount", e.to_string()))?;
        Ok(Target {
            id,
            subject: input.subject,
            period: input.period,
            period_start: input.period_start,
            item_group_id: input.item_group_id,
            amount: input.amount,
            currency: input.currency,
        })
    }

    pub fn to_input(&self) -> TargetInput {
        TargetInput {
            subject: self.subject,
            period: self.period,
            period_start: self.period_start,
            item_group_id: self.item_group_id,
            amount: self.amount,
            currency: self.currency,
        }
    }

    pub fn id(&self) -> TargetId {
        self.id
    }
    pub fn subject(&self) -> TargetSubject {
        self.subject
    }
    pub fn period(&self) -> Period {
        Period {
            kind: self.period,
            start: self.period_start,
        }
    }
    pub fn item_group_id(&self) -> Option<ItemGroupId> {
        self.item_group_id
    }
    pub fn amount(&self) -> Decimal {
        self.amount
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// `achieved` as a percentage of the amount, two decimals.
    pub fn attainment(&self, achieved: Decimal) -> Decimal {
        (achieved * Decimal::ONE_HUNDRED / self.amount).round_dp(2)
    }
}
