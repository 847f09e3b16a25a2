//! Capable-to-promise for manufactured products: when could a work centre
//! finish making a quantity, and the work order that would do it.
//!
//! A [`WorkCenter`] offers `hours_per_day` on the working days of its
//! [`WorkingCalendar`], minus the load already planned on each day. A
//! [`Routing`] says which work centre makes a product, how many hours one
//! unit takes and how many calendar days the materials need to arrive
//! before production can start. [`plan_work_order`] places the hours on the
//! earliest free working days from `today + material lead time` and
//! proposes the work order; it never schedules a weekend or a holiday.
//!
//! Netting against free stock happens before this, in
//! [`super::promise`]: only the shortfall reaches a work centre.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::calendar::{
    schedule_hours, CalendarError, DayHours, WorkingCalendar, WorkingCalendarSpec,
};
use super::{add_days, check_quantity, QuantityIssue};
use crate::catalog::product::LEAD_TIME_MAX_DAYS;
use crate::ids::ProductId;

crate::define_id!(WorkCenterId, "work center");

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CtpError {
    #[error("work centre name must be 1 to 200 characters")]
    InvalidName,
    #[error("{field}: {issue} (got {value})")]
    InvalidQuantity {
        field: String,
        value: Decimal,
        issue: QuantityIssue,
    },
    #[error("material lead time of {0} days is above the maximum of {LEAD_TIME_MAX_DAYS}")]
    LeadTimeTooLong(u32),
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
    #[error("routing of product {product} names work centre {expected}, not {given}")]
    WrongWorkCenter {
        product: ProductId,
        expected: WorkCenterId,
        given: WorkCenterId,
    },
    #[error("{quantity} units at {hours_per_unit} hours each is too much work to plan")]
    TooMuchWork {
        quantity: Decimal,
        hours_per_unit: Decimal,
    },
}

fn positive(field: &str, value: Decimal, zero_allowed: bool) -> Result<Decimal, CtpError> {
    check_quantity(value, zero_allowed).map_err(|issue| CtpError::InvalidQuantity {
        field: field.to_owned(),
        value,
        issue,
    })
}

/// Hours already planned on a work centre on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedLoad {
    pub date: NaiveDate,
    pub hours: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkCenterSpec {
    pub id: WorkCenterId,
    pub name: String,
    pub hours_per_day: Decimal,
    pub calendar: WorkingCalendarSpec,
    #[serde(default)]
    pub planned_load: Vec<PlannedLoad>,
}

/// A work centre. Invariants: a name; `hours_per_day` greater than zero; a
/// calendar with working days; load that is not negative, summed per day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WorkCenterSpec", into = "WorkCenterSpec")]
pub struct WorkCenter {
    id: WorkCenterId,
    name: String,
    hours_per_day: Decimal,
    calendar: WorkingCalendar,
    load: BTreeMap<NaiveDate, Decimal>,
}

impl WorkCenter {
    pub fn new(spec: WorkCenterSpec) -> Result<WorkCenter, CtpError> {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(CtpError::InvalidName);
        }
        let hours_per_day = positive("hours_per_day", spec.hours_per_day, false)?;
        let calendar = WorkingCalendar::new(spec.calendar)?;
        let mut load: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
        for (i, l) in spec.planned_load.into_iter().enumerate() {
            let hours = positive(&format!("planned_load[{i}].hours"), l.hours, true)?;
            *load.entry(l.date).or_default() += hours;
        }
        load.retain(|_, h| !h.is_zero());
        Ok(WorkCenter {
            id: spec.id,
            name: name.to_owned(),
            hours_per_day,
            calendar,
            load,
        })
    }

    pub fn id(&self) -> WorkCenterId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn hours_per_day(&self) -> Decimal {
        self.hours_per_day
    }
    pub fn calendar(&self) -> &WorkingCalendar {
        &self.calendar
    }
    /// Hours already planned on `date`.
    pub fn load_on(&self, date: NaiveDate) -> Decimal {
        self.load.get(&date).copied().unwrap_or_default()
    }

    /// Hours still free on `date` after the planned load and `extra` load
    /// (zero on non-working days and overloaded days).
    pub fn free_on(&self, date: NaiveDate, extra: &BTreeMap<NaiveDate, Decimal>) -> Decimal {
        if !self.calendar.is_working_day(date) {
            return Decimal::ZERO;
        }
        let extra = extra.get(&date).copied().unwrap_or_default();
        (self.hours_per_day - self.load_on(date) - extra).max(Decimal::ZERO)
    }
}

impl TryFrom<WorkCenterSpec> for WorkCenter {
    type Error = CtpError;
    fn try_from(spec: WorkCenterSpec) -> Result<Self, Self::Error> {
        WorkCenter::new(spec)
    }
}

impl From<WorkCenter> for WorkCenterSpec {
    fn from(w: WorkCenter) -> Self {
        WorkCenterSpec {
            id: w.id,
            name: w.name,
            hours_per_day: w.hours_per_day,
            calendar: w.calendar.into(),
            planned_load: w
                .load
                .into_iter()
                .map(|(date, hours)| PlannedLoad { date, hours })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSpec {
    pub product: ProductId,
    pub work_center: WorkCenterId,
    pub hours_per_unit: Decimal,
    /// Calendar days from today until materials are there.
    #[serde(default)]
    pub material_lead_days: u32,
}

/// How a product is made. Invariants: `hours_per_unit` greater than zero;
/// a material lead time of at most [`LEAD_TIME_MAX_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RoutingSpec")]
pub struct Routing {
    product: ProductId,
    work_center: WorkCenterId,
    hours_per_unit: Decimal,
    material_lead_days: u32,
}

impl Routing {
    pub fn new(spec: RoutingSpec) -> Result<Routing, CtpError> {
        if spec.material_lead_days > u32::from(LEAD_TIME_MAX_DAYS) {
            return Err(CtpError::LeadTimeTooLong(spec.material_lead_days));
        }
        Ok(Routing {
            product: spec.product,
            work_center: spec.work_center,
            hours_per_unit: positive("hours_per_unit", spec.hours_per_unit, false)?,
            material_lead_days: spec.material_lead_days,
        })
    }
    pub fn product(&self) -> ProductId {
        self.product
    }
    pub fn work_center(&self) -> WorkCenterId {
        self.work_center
    }
    pub fn hours_per_unit(&self) -> Decimal {
        self.hours_per_unit
    }
    pub fn material_lead_days(&self) -> u32 {
        self.material_lead_days
    }
}

impl TryFrom<RoutingSpec> for Routing {
    type Error = CtpError;
    fn try_from(spec: RoutingSpec) -> Result<Self, Self::Error> {
        Routing::new(spec)
    }
}

/// A work order the system would create for the shortfall: `hours` placed
/// day by day in `schedule` (working days only), from `start` to `finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposedWorkOrder {
    pub product: ProductId,
    pub work_center: WorkCenterId,
    pub work_center_name: String,
    pub quantity: Decimal,
    pub hours: Decimal,
    /// The first day materials are there.
    pub materials_ready_on: NaiveDate,
    pub start: NaiveDate,
    pub finish: NaiveDate,
    pub schedule: Vec<DayHours>,
}

/// Plans `quantity` of the routing's product on `center` as early as
/// materials and free capacity allow, after the centre's planned load and
/// `extra_load` (work proposed earlier in the same check).
pub fn plan_work_order(
    center: &WorkCenter,
    routing: &Routing,
    quantity: Decimal,
    today: NaiveDate,
    extra_load: &BTreeMap<NaiveDate, Decimal>,
) -> Result<ProposedWorkOrder, CtpError> {
    if routing.work_center != center.id {
        return Err(CtpError::WrongWorkCenter {
            product: routing.product,
            expected: routing.work_center,
            given: center.id,
        });
    }
    let quantity = positive("quantity", quantity, false)?;
    let hours = quantity
        .checked_mul(routing.hours_per_unit)
        .ok_or(CtpError::TooMuchWork {
            quantity,
            hours_per_unit: routing.hours_per_unit,
        })?
        .normalize();
    let materials_ready_on =
        add_days(today, routing.material_lead_days).ok_or(CalendarError::DateOutOfRange)?;
    let scheduled = schedule_hours(&center.calendar, materials_ready_on, hours, |d| {
        center.free_on(d, extra_load)
    })?;
    Ok(ProposedWorkOrder {
        product: routing.product,
        work_center: center.id,
        work_center_name: center.name.clone(),
        quantity,
        hours,
        materials_ready_on,
        start: scheduled.start,
        finish: scheduled.finish,
        schedule: scheduled.days,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::availability::atp::tests::d;
    use rust_decimal_macros::dec;

    pub(crate) fn assembly(holidays: &[&str], load: &[(&str, Decimal)]) -> WorkCenter {
        WorkCenter::new(WorkCenterSpec {
            id: WorkCenterId::new(),
            name: "Assembly".into(),
            hours_per_day: dec!(8),
            calendar: WorkingCalendarSpec::monday_to_friday(
                holidays.iter().map(|h| d(h)).collect(),
            ),
            planned_load: load
                .iter()
                .map(|(date, hours)| PlannedLoad {
                    date: d(date),
                    hours: *hours,
                })
                .collect(),
        })
        .unwrap()
    }

    pub(crate) fn routing(center: &WorkCenter, hours_per_unit: Decimal, lead: u32) -> Routing {
        Routing::new(RoutingSpec {
            product: ProductId::new(),
            work_center: center.id(),
            hours_per_unit,
            material_lead_days: lead,
        })
        .unwrap()
    }

    #[test]
    fn production_starts_after_material_lead_time_and_skips_holidays() {
        // Today Monday 2026-03-02; materials on Thursday the 5th; Friday the
        // 6th is a holiday; 2 hours already planned on the 5th.
        let center = assembly(&["2026-03-06"], &[("2026-03-05", dec!(2))]);
        let r = routing(&center, dec!(1.5), 3);
        let wo = plan_work_order(&center, &r, dec!(10), d("2026-03-02"), &BTreeMap::new()).unwrap();
        assert_eq!(wo.hours, dec!(15));
        assert_eq!(wo.materials_ready_on, d("2026-03-05"));
        assert_eq!((wo.start, wo.finish), (d("2026-03-05"), d("2026-03-10")));
        let days: Vec<_> = wo.schedule.iter().map(|x| (x.date, x.hours)).collect();
        assert_eq!(
            days,
            vec![
                (d("2026-03-05"), dec!(6)),
                (d("2026-03-09"), dec!(8)),
                (d("2026-03-10"), dec!(1))
            ]
        );
        assert_eq!(wo.work_center_name, "Assembly");
    }

    #[test]
    fn extra_load_from_earlier_lines_pushes_later_work_back() {
        let center = assembly(&[], &[]);
        let r = routing(&center, dec!(4), 0);
        let extra = BTreeMap::from([(d("2026-03-02"), dec!(8))]);
        let wo = plan_work_order(&center, &r, dec!(1), d("2026-03-02"), &extra).unwrap();
        assert_eq!((wo.start, wo.finish), (d("2026-03-03"), d("2026-03-03")));
    }

    #[test]
    fn bad_work_centres_and_routings_are_refused() {
        let spec = WorkCenterSpec {
            id: WorkCenterId::new(),
            name: "Paint".into(),
            hours_per_day: dec!(0),
            calendar: WorkingCalendarSpec::monday_to_friday(vec![]),
            planned_load: vec![],
        };
        assert!(matches!(
            WorkCenter::new(spec.clone()),
            Err(CtpError::InvalidQuantity {
                issue: QuantityIssue::Zero,
                ..
            })
        ));
        let no_days = WorkCenterSpec {
            hours_per_day: dec!(8),
            calendar: WorkingCalendarSpec {
                working_days: vec![],
                holidays: vec![],
            },
            ..spec.clone()
        };
        assert_eq!(
            WorkCenter::new(no_days),
            Err(CtpError::Calendar(CalendarError::NoWorkingDays))
        );
        let negative_load = WorkCenterSpec {
            hours_per_day: dec!(8),
            planned_load: vec![PlannedLoad {
                date: d("2026-03-02"),
                hours: dec!(-1),
            }],
            ..spec.clone()
        };
        assert!(matches!(
            WorkCenter::new(negative_load),
            Err(CtpError::InvalidQuantity { field, .. }) if field == "planned_load[0].hours"
        ));
        assert_eq!(
            WorkCenter::new(WorkCenterSpec {
                name: "  ".into(),
                hours_per_day: dec!(8),
                ..spec
            }),
            Err(CtpError::InvalidName)
        );
        let r = RoutingSpec {
            product: ProductId::new(),
            work_center: WorkCenterId::new(),
            hours_per_unit: dec!(-0.5),
            material_lead_days: 0,
        };
        assert!(matches!(
            Routing::new(r.clone()),
            Err(CtpError::InvalidQuantity {
                issue: QuantityIssue::Negative,
                ..
            })
        ));
        assert_eq!(
            Routing::new(RoutingSpec {
                hours_per_unit: dec!(1),
                material_lead_days: 4000,
                ..r
            }),
            Err(CtpError::LeadTimeTooLong(4000))
        );
    }

    #[test]
    fn a_routing_for_another_work_centre_is_refused() {
        let a = assembly(&[], &[]);
        let b = assembly(&[], &[]);
        let r = routing(&a, dec!(1), 0);
        assert!(matches!(
            plan_work_order(&b, &r, dec!(1), d("2026-03-02"), &BTreeMap::new()),
            Err(CtpError::WrongWorkCenter { .. })
        ));
    }

    #[test]
    fn load_on_one_day_is_summed_and_the_centre_round_trips_through_json() {
        let center = assembly(&[], &[("2026-03-02", dec!(3)), ("2026-03-02", dec!(2))]);
        assert_eq!(center.load_on(d("2026-03-02")), dec!(5));
        assert_eq!(center.free_on(d("2026-03-02"), &BTreeMap::new()), dec!(3));
        assert_eq!(center.free_on(d("2026-03-07"), &BTreeMap::new()), dec!(0));
        let json = serde_json::to_string(&center).unwrap();
        assert_eq!(serde_json::from_str::<WorkCenter>(&json).unwrap(), center);
    }
}
