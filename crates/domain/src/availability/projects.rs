//! Project timelines for service lines: when could a role deliver the hours
//! sold, given its weekly capacity and what it is already booked for.
//!
//! A [`ProjectRole`] (a consultant, an installer team) has `hours_per_week`
//! spread evenly over the working weekdays of its calendar: 40 hours over
//! Monday to Friday is 8 a day. A holiday removes that day's share, so a
//! week with a holiday offers less. The split is exact: each working
//! weekday gets the same share rounded down to 4 decimals and the last one
//! gets the remainder, so a full week always adds up to `hours_per_week`.
//! An existing [`Booking`] of `hours` between two dates is spread the same
//! way over the working days in between.
//!
//! [`plan_booking`] places the sold hours on the earliest days with free
//! capacity from a start date and proposes the booking (earliest start and
//! finish). A [`Service`] says which role delivers a service product and
//! how many hours one unit is.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::calendar::{
    schedule_hours, CalendarError, DayHours, Weekday, WorkingCalendar, WorkingCalendarSpec,
};
use super::{check_quantity, QuantityIssue, HORIZON_DAYS};
use crate::ids::ProductId;

crate::define_id!(ProjectRoleId, "project role");

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProjectError {
    #[error("project role name must be 1 to 200 characters")]
    InvalidName,
    #[error("{field}: {issue} (got {value})")]
    InvalidQuantity {
        field: String,
        value: Decimal,
        issue: QuantityIssue,
    },
    #[error("bookings[{index}]: ends on {to}, before it starts on {from}")]
    BookingEndsBeforeStart {
        index: usize,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("bookings[{index}]: spans more than {HORIZON_DAYS} days")]
    BookingTooLong { index: usize },
    #[error("bookings[{index}]: no working day between {from} and {to}")]
    BookingOnNoWorkingDay {
        index: usize,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
    #[error("{quantity} units at {hours_per_unit} hours each is too much work to plan")]
    TooMuchWork {
        quantity: Decimal,
        hours_per_unit: Decimal,
    },
}

fn hours(field: &str, value: Decimal, zero_allowed: bool) -> Result<Decimal, ProjectError> {
    check_quantity(value, zero_allowed).map_err(|issue| ProjectError::InvalidQuantity {
        field: field.to_owned(),
        value,
        issue,
    })
}

/// Splits `total` over `parts` shares that add up to exactly `total`: equal
/// shares rounded down to 4 decimals, the remainder on the last one.
fn split_evenly(total: Decimal, parts: usize) -> Vec<Decimal> {
    if parts == 0 {
        return Vec::new();
    }
    let n = Decimal::from(parts);
    let share = (total / n).round_dp_with_strategy(4, RoundingStrategy::ToZero);
    let mut shares = vec![share; parts];
    if let Some(last) = shares.last_mut() {
        *last = total - share * Decimal::from(parts - 1);
    }
    shares
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingSpec {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub hours: Decimal,
}

/// Hours a role is already committed to between two dates (both included).
/// Invariants: `from ≤ to`, positive hours, at least one working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    from: NaiveDate,
    to: NaiveDate,
    hours: Decimal,
}

impl Booking {
    pub fn from(&self) -> NaiveDate {
        self.from
    }
    pub fn to(&self) -> NaiveDate {
        self.to
    }
    pub fn hours(&self) -> Decimal {
        self.hours
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRoleSpec {
    pub id: ProjectRoleId,
    pub name: String,
    pub hours_per_week: Decimal,
    pub calendar: WorkingCalendarSpec,
    #[serde(default)]
    pub bookings: Vec<BookingSpec>,
}

/// A role with weekly capacity. Invariants: a name, `hours_per_week`
/// greater than zero, a calendar with working days, valid bookings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProjectRoleSpec", into = "ProjectRoleSpec")]
pub struct ProjectRole {
    id: ProjectRoleId,
    name: String,
    hours_per_week: Decimal,
    calendar: WorkingCalendar,
    bookings: Vec<Booking>,
    /// Capacity per weekday (Monday first); zero on non-working weekdays.
    daily: [Decimal; 7],
    /// Booked hours per day, from the bookings.
    booked: BTreeMap<NaiveDate, Decimal>,
}

impl ProjectRole {
    pub fn new(spec: ProjectRoleSpec) -> Result<ProjectRole, ProjectError> {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ProjectError::InvalidName);
        }
        let hours_per_week = hours("hours_per_week", spec.hours_per_week, false)?;
        let calendar = WorkingCalendar::new(spec.calendar)?;
        let working = calendar.working_days();
        let mut daily = [Decimal::ZERO; 7];
        for (day, share) in working
            .iter()
            .zip(split_evenly(hours_per_week, working.len()))
        {
            daily[day.index()] = share;
        }
        let mut bookings = Vec::with_capacity(spec.bookings.len());
        let mut booked: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
        for (index, b) in spec.bookings.into_iter().enumerate() {
            let h = hours(&format!("bookings[{index}].hours"), b.hours, false)?;
            if b.to < b.from {
                return Err(ProjectError::BookingEndsBeforeStart {
                    index,
                    from: b.from,
                    to: b.to,
                });
            }
            if (b.to - b.from).num_days() >= i64::from(HORIZON_DAYS) {
                return Err(ProjectError::BookingTooLong { index });
            }
            let days = calendar.working_days_between(b.from, b.to);
            if days.is_empty() {
                return Err(ProjectError::BookingOnNoWorkingDay {
                    index,
                    from: b.from,
                    to: b.to,
                });
            }
            for (day, share) in days.iter().zip(split_evenly(h, days.len())) {
                *booked.entry(*day).or_default() += share;
            }
            bookings.push(Booking {
                from: b.from,
                to: b.to,
                hours: h,
            });
        }
        bookings.sort_by_key(|b| (b.from, b.to));
        Ok(ProjectRole {
            id: spec.id,
            name: name.to_owned(),
            hours_per_week,
            calendar,
            bookings,
            daily,
            booked,
        })
    }

    pub fn id(&self) -> ProjectRoleId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn hours_per_week(&self) -> Decimal {
        self.hours_per_week
    }
    pub fn calendar(&self) -> &WorkingCalendar {
        &self.calendar
    }
    pub fn bookings(&self) -> &[Booking] {
        &self.bookings
    }

    /// The role's capacity on `date` before bookings (zero on non-working days).
    pub fn capacity_on(&self, date: NaiveDate) -> Decimal {
        if self.calendar.is_working_day(date) {
            self.daily[Weekday::of(date).index()]
        } else {
            Decimal::ZERO
        }
    }

    /// Hours already booked on `date`.
    pub fn booked_on(&self, date: NaiveDate) -> Decimal {
        self.booked.get(&date).copied().unwrap_or_default()
    }

    /// Hours still free on `date` after bookings and `extra` (hours
    /// proposed earlier in the same check).
    pub fn free_on(&self, date: NaiveDate, extra: &BTreeMap<NaiveDate, Decimal>) -> Decimal {
        let extra = extra.get(&date).copied().unwrap_or_default();
        (self.capacity_on(date) - self.booked_on(date) - extra).max(Decimal::ZERO)
    }
}

impl TryFrom<ProjectRoleSpec> for ProjectRole {
    type Error = ProjectError;
    fn try_from(spec: ProjectRoleSpec) -> Result<Self, Self::Error> {
        ProjectRole::new(spec)
    }
}

impl From<ProjectRole> for ProjectRoleSpec {
    fn from(r: ProjectRole) -> Self {
        ProjectRoleSpec {
            id: r.id,
            name: r.name,
            hours_per_week: r.hours_per_week,
            calendar: r.calendar.into(),
            bookings: r
                .bookings
                .into_iter()
                .map(|b| BookingSpec {
                    from: b.from,
                    to: b.to,
                    hours: b.hours,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub product: ProductId,
    pub role: ProjectRoleId,
    /// Hours one unit of the product stands for (1 when sold by the hour).
    pub hours_per_unit: Decimal,
}

/// Which role delivers a service product. Invariant: `hours_per_unit`
/// greater than zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ServiceSpec")]
pub struct Service {
    product: ProductId,
    role: ProjectRoleId,
    hours_per_unit: Decimal,
}

impl Service {
    pub fn new(spec: ServiceSpec) -> Result<Service, ProjectError> {
        Ok(Service {
            product: spec.product,
            role: spec.role,
            hours_per_unit: hours("hours_per_unit", spec.hours_per_unit, false)?,
        })
    }
    pub fn product(&self) -> ProductId {
        self.product
    }
    pub fn role(&self) -> ProjectRoleId {
        self.role
    }
    pub fn hours_per_unit(&self) -> Decimal {
        self.hours_per_unit
    }

    /// The hours `quantity` units stand for.
    pub fn hours_for(&self, quantity: Decimal) -> Result<Decimal, ProjectError> {
        quantity
            .checked_mul(self.hours_per_unit)
            .map(|h| h.normalize())
            .ok_or(ProjectError::TooMuchWork {
                quantity,
                hours_per_unit: self.hours_per_unit,
            })
    }
}

impl TryFrom<ServiceSpec> for Service {
    type Error = ProjectError;
    fn try_from(spec: ServiceSpec) -> Result<Self, Self::Error> {
        Service::new(spec)
    }
}

/// A booking the system would make for the hours sold: placed day by day
/// in `schedule` (working days only), from `start` to `finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposedBooking {
    pub role: ProjectRoleId,
    pub role_name: String,
    pub hours: Decimal,
    pub start: NaiveDate,
    pub finish: NaiveDate,
    pub schedule: Vec<DayHours>,
}

/// Books `hours` on `role` from `earliest` on, after its bookings and
/// `extra` (hours proposed earlier in the same check).
pub fn plan_booking(
    role: &ProjectRole,
    hours_sold: Decimal,
    earliest: NaiveDate,
    extra: &BTreeMap<NaiveDate, Decimal>,
) -> Result<ProposedBooking, ProjectError> {
    let hours_sold = hours("hours", hours_sold, false)?;
    let scheduled = schedule_hours(&role.calendar, earliest, hours_sold, |d| {
        role.free_on(d, extra)
    })?;
    Ok(ProposedBooking {
        role: role.id,
        role_name: role.name.clone(),
        hours: hours_sold,
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

    pub(crate) fn consultant(
        hours_per_week: Decimal,
        holidays: &[&str],
        bookings: &[(&str, &str, Decimal)],
    ) -> ProjectRole {
        ProjectRole::new(ProjectRoleSpec {
            id: ProjectRoleId::new(),
            name: "Consultant".into(),
            hours_per_week,
            calendar: WorkingCalendarSpec::monday_to_friday(
                holidays.iter().map(|h| d(h)).collect(),
            ),
            bookings: bookings
                .iter()
                .map(|(from, to, h)| BookingSpec {
                    from: d(from),
                    to: d(to),
                    hours: *h,
                })
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn weekly_capacity_is_split_exactly_over_the_working_weekdays() {
        assert_eq!(
            split_evenly(dec!(40), 3),
            vec![dec!(13.3333), dec!(13.3333), dec!(13.3334)]
        );
        let role = consultant(dec!(40), &[], &[]);
        assert_eq!(role.capacity_on(d("2026-03-02")), dec!(8));
        assert_eq!(role.capacity_on(d("2026-03-07")), dec!(0));
        let week: Decimal = d("2026-03-02")
            .iter_days()
            .take(7)
            .map(|x| role.capacity_on(x))
            .sum();
        assert_eq!(week, dec!(40));
    }

    #[test]
    fn bookings_fill_the_week_and_the_sold_hours_go_after_them() {
        // Booked 30 of 40 hours in the week of 2026-03-02; a holiday on
        // Monday the 9th. 24 hours sold, earliest start Monday the 2nd.
        let role = consultant(
            dec!(40),
            &["2026-03-09"],
            &[("2026-03-02", "2026-03-06", dec!(30))],
        );
        assert_eq!(role.booked_on(d("2026-03-04")), dec!(6));
        let b = plan_booking(&role, dec!(24), d("2026-03-02"), &BTreeMap::new()).unwrap();
        assert_eq!(b.start, d("2026-03-02"));
        // 10 free in week one (2 a day), Tue 10th and Wed 11th give 16 → 26 ≥ 24.
        assert_eq!(b.finish, d("2026-03-11"));
        let total: Decimal = b.schedule.iter().map(|x| x.hours).sum();
        assert_eq!(total, dec!(24));
        assert!(b.schedule.iter().all(|x| x.date != d("2026-03-09")));
    }

    #[test]
    fn a_fully_booked_role_starts_the_next_free_week() {
        let role = consultant(dec!(20), &[], &[("2026-03-02", "2026-03-08", dec!(20))]);
        let b = plan_booking(&role, dec!(8), d("2026-03-02"), &BTreeMap::new()).unwrap();
        assert_eq!((b.start, b.finish), (d("2026-03-09"), d("2026-03-10")));
    }

    #[test]
    fn bad_roles_and_bookings_are_refused() {
        let spec = ProjectRoleSpec {
            id: ProjectRoleId::new(),
            name: "Installer".into(),
            hours_per_week: dec!(0),
            calendar: WorkingCalendarSpec::monday_to_friday(vec![]),
            bookings: vec![],
        };
        assert!(matches!(
            ProjectRole::new(spec.clone()),
            Err(ProjectError::InvalidQuantity {
                issue: QuantityIssue::Zero,
                ..
            })
        ));
        let spec = ProjectRoleSpec {
            hours_per_week: dec!(40),
            ..spec
        };
        let with = |b: BookingSpec| {
            ProjectRole::new(ProjectRoleSpec {
                bookings: vec![b],
                ..spec.clone()
            })
        };
        assert!(matches!(
            with(BookingSpec {
                from: d("2026-03-05"),
                to: d("2026-03-04"),
                hours: dec!(1)
            }),
            Err(ProjectError::BookingEndsBeforeStart { index: 0, .. })
        ));
        assert!(matches!(
            with(BookingSpec {
                from: d("2026-03-07"),
                to: d("2026-03-08"),
                hours: dec!(1)
            }),
            Err(ProjectError::BookingOnNoWorkingDay { .. })
        ));
        assert!(matches!(
            with(BookingSpec { from: d("2026-03-02"), to: d("2026-03-02"), hours: dec!(-1) }),
            Err(ProjectError::InvalidQuantity { field, .. }) if field == "bookings[0].hours"
        ));
        assert!(matches!(
            with(BookingSpec {
                from: d("2026-03-02"),
                to: d("2040-03-02"),
                hours: dec!(1)
            }),
            Err(ProjectError::BookingTooLong { index: 0 })
        ));
        assert!(Service::new(ServiceSpec {
            product: ProductId::new(),
            role: ProjectRoleId::new(),
            hours_per_unit: dec!(0),
        })
        .is_err());
    }

    #[test]
    fn the_role_round_trips_through_json() {
        let role = consultant(
            dec!(37.5),
            &["2026-12-25"],
            &[("2026-03-02", "2026-03-03", dec!(4))],
        );
        let json = serde_json::to_string(&role).unwrap();
        assert_eq!(serde_json::from_str::<ProjectRole>(&json).unwrap(), role);
    }
}
