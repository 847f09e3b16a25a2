//! Working calendars (which weekdays are worked, which dates are holidays)
//! and the one forward-scheduling rule that work centres and project roles
//! share: place a number of hours on the earliest working days that still
//! have free capacity.
//!
//! Holidays are a set: listing a date twice is harmless. A calendar must
//! work on at least one weekday; one whose holidays block every working day
//! within [`HORIZON_DAYS`] makes searches fail with a typed error instead of
//! looping.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::HORIZON_DAYS;

crate::define_id!(
    /// A stored working calendar (work centres and project roles name one).
    CalendarId,
    "calendar"
);

/// A day of the week, spelled in lower case on the wire (`"monday"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// Monday to Friday.
    pub const WEEKDAYS: [Weekday; 5] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ];

    pub fn of(date: NaiveDate) -> Weekday {
        Weekday::ALL[date.weekday().num_days_from_monday() as usize]
    }

    /// 0 for Monday … 6 for Sunday.
    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error("a working calendar needs at least one working day")]
    NoWorkingDays,
    #[error("no working day within {days} days from {from}")]
    NoWorkingDayWithin { from: NaiveDate, days: u32 },
    #[error("only {hours_placed} of {hours} hours fit within {days} days from {from}")]
    OutOfCapacity {
        from: NaiveDate,
        days: u32,
        hours: Decimal,
        hours_placed: Decimal,
    },
    #[error("hours to schedule must be greater than zero, got {0}")]
    NothingToSchedule(Decimal),
    #[error("date is out of range")]
    DateOutOfRange,
}

/// What a working calendar is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingCalendarSpec {
    pub working_days: Vec<Weekday>,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

impl WorkingCalendarSpec {
    /// Monday to Friday with the given holidays.
    pub fn monday_to_friday(holidays: Vec<NaiveDate>) -> WorkingCalendarSpec {
        WorkingCalendarSpec {
            working_days: Weekday::WEEKDAYS.to_vec(),
            holidays,
        }
    }
}

/// A working calendar. Invariant: at least one weekday is worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WorkingCalendarSpec", into = "WorkingCalendarSpec")]
pub struct WorkingCalendar {
    working: [bool; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl WorkingCalendar {
    pub fn new(spec: WorkingCalendarSpec) -> Result<WorkingCalendar, CalendarError> {
        let mut working = [false; 7];
        for day in spec.working_days {
            working[day.index()] = true;
        }
        if !working.contains(&true) {
            return Err(CalendarError::NoWorkingDays);
        }
        Ok(WorkingCalendar {
            working,
            holidays: spec.holidays.into_iter().collect(),
        })
    }

    /// Whether `date` is worked: a working weekday and not a holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.working[Weekday::of(date).index()] && !self.holidays.contains(&date)
    }

    /// The worked weekdays, Monday first.
    pub fn working_days(&self) -> Vec<Weekday> {
        Weekday::ALL
            .into_iter()
            .filter(|d| self.working[d.index()])
            .collect()
    }

    pub fn is_working_weekday(&self, day: Weekday) -> bool {
        self.working[day.index()]
    }

    /// The holidays in date order.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    /// The first working day on or after `from`, looking at most
    /// [`HORIZON_DAYS`] ahead.
    pub fn next_working_day(&self, from: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = from;
        for _ in 0..HORIZON_DAYS {
            if self.is_working_day(day) {
                return Ok(day);
            }
            day = day.succ_opt().ok_or(CalendarError::DateOutOfRange)?;
        }
        Err(CalendarError::NoWorkingDayWithin {
            from,
            days: HORIZON_DAYS,
        })
    }

    /// The working days from `from` to `to`, both included, in order.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(*d))
            .collect()
    }
}

impl TryFrom<WorkingCalendarSpec> for WorkingCalendar {
    type Error = CalendarError;
    fn try_from(spec: WorkingCalendarSpec) -> Result<Self, Self::Error> {
        WorkingCalendar::new(spec)
    }
}

impl From<WorkingCalendar> for WorkingCalendarSpec {
    fn from(calendar: WorkingCalendar) -> Self {
        WorkingCalendarSpec {
            working_days: calendar.working_days(),
            holidays: calendar.holidays.into_iter().collect(),
        }
    }
}

/// Hours placed on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    pub date: NaiveDate,
    pub hours: Decimal,
}

/// Where [`schedule_hours`] placed the work. `days` is in date order, every
/// day in it is a working day with hours greater than zero, and the hours
/// add up to what was asked; `start` is its first day and `finish` its last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledHours {
    pub start: NaiveDate,
    pub finish: NaiveDate,
    pub days: Vec<DayHours>,
}

/// Places `hours` on the working days of `calendar` from `earliest` on,
/// filling each day up to `free_on(day)` (the capacity left after existing
/// load; zero or less means the day is full) before moving to the next.
/// Gives up after [`HORIZON_DAYS`] days.
pub fn schedule_hours(
    calendar: &WorkingCalendar,
    earliest: NaiveDate,
    hours: Decimal,
    free_on: impl Fn(NaiveDate) -> Decimal,
) -> Result<ScheduledHours, CalendarError> {
    if hours <= Decimal::ZERO {
        return Err(CalendarError::NothingToSchedule(hours));
    }
    let mut left = hours;
    let mut days = Vec::new();
    let mut day = earliest;
    for _ in 0..HORIZON_DAYS {
        if calendar.is_working_day(day) {
            let free = free_on(day);
            if free > Decimal::ZERO {
                let used = free.min(left);
                days.push(DayHours {
                    date: day,
                    hours: used,
                });
                left -= used;
                if left.is_zero() {
                    let start = days.first().map_or(day, |d| d.date);
                    return Ok(ScheduledHours {
                        start,
                        finish: day,
                        days,
                    });
                }
            }
        }
        day = day.succ_opt().ok_or(CalendarError::DateOutOfRange)?;
    }
    Err(CalendarError::OutOfCapacity {
        from: earliest,
        days: HORIZON_DAYS,
        hours,
        hours_placed: hours - left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn weekdays(holidays: &[&str]) -> WorkingCalendar {
        WorkingCalendar::new(WorkingCalendarSpec::monday_to_friday(
            holidays.iter().map(|h| d(h)).collect(),
        ))
        .unwrap()
    }

    #[test]
    fn a_calendar_without_working_days_is_refused() {
        let spec = WorkingCalendarSpec {
            working_days: vec![],
            holidays: vec![d("2026-03-02")],
        };
        assert_eq!(
            WorkingCalendar::new(spec),
            Err(CalendarError::NoWorkingDays)
        );
        assert!(serde_json::from_str::<WorkingCalendar>(r#"{"working_days":[]}"#).is_err());
    }

    #[test]
    fn weekends_and_holidays_are_not_working_days() {
        // 2026-03-06 is a Friday.
        let cal = weekdays(&["2026-03-09"]);
        assert!(cal.is_working_day(d("2026-03-06")));
        assert!(!cal.is_working_day(d("2026-03-07")));
        assert!(!cal.is_working_day(d("2026-03-08")));
        assert!(!cal.is_working_day(d("2026-03-09")));
        assert_eq!(
            cal.next_working_day(d("2026-03-07")).unwrap(),
            d("2026-03-10")
        );
        assert_eq!(
            cal.working_days_between(d("2026-03-06"), d("2026-03-10")),
            vec![d("2026-03-06"), d("2026-03-10")]
        );
    }

    #[test]
    fn holidays_covering_every_working_day_end_the_search_with_an_error() {
        let cal = WorkingCalendar::new(WorkingCalendarSpec {
            working_days: vec![Weekday::Sunday],
            holidays: d("2026-01-01")
                .iter_days()
                .take(HORIZON_DAYS as usize + 10)
                .filter(|x| Weekday::of(*x) == Weekday::Sunday)
                .collect(),
        })
        .unwrap();
        assert_eq!(
            cal.next_working_day(d("2026-01-01")),
            Err(CalendarError::NoWorkingDayWithin {
                from: d("2026-01-01"),
                days: HORIZON_DAYS
            })
        );
    }

    #[test]
    fn the_calendar_round_trips_through_json_with_lower_case_days() {
        let json = r#"{"working_days":["friday","monday","monday"],"holidays":["2026-12-25","2026-01-01","2026-01-01"]}"#;
        let cal: WorkingCalendar = serde_json::from_str(json).unwrap();
        assert_eq!(cal.working_days(), vec![Weekday::Monday, Weekday::Friday]);
        assert_eq!(
            serde_json::to_string(&cal).unwrap(),
            r#"{"working_days":["monday","friday"],"holidays":["2026-01-01","2026-12-25"]}"#
        );
        assert!(serde_json::from_str::<WorkingCalendar>(r#"{"working_days":["Mon"]}"#).is_err());
        assert!(serde_json::from_str::<WorkingCalendar>(
            r#"{"working_days":["monday"],"holidayz":[]}"#
        )
        .is_err());
    }

    #[test]
    fn scheduling_fills_free_hours_and_skips_weekends_and_holidays() {
        // Thursday 2026-03-05 .. ; Monday 2026-03-09 is a holiday.
        let cal = weekdays(&["2026-03-09"]);
        let load = |day: NaiveDate| {
            if day == d("2026-03-05") {
                dec!(6)
            } else {
                dec!(0)
            }
        };
        let s = schedule_hours(&cal, d("2026-03-05"), dec!(20), |day| dec!(8) - load(day)).unwrap();
        assert_eq!(s.start, d("2026-03-05"));
        assert_eq!(s.finish, d("2026-03-11"));
        let placed: Vec<_> = s.days.iter().map(|x| (x.date, x.hours)).collect();
        assert_eq!(
            placed,
            vec![
                (d("2026-03-05"), dec!(2)),
                (d("2026-03-06"), dec!(8)),
                (d("2026-03-10"), dec!(8)),
                (d("2026-03-11"), dec!(2)),
            ]
        );
    }

    #[test]
    fn a_fully_loaded_first_day_moves_the_start() {
        let cal = weekdays(&[]);
        let s = schedule_hours(&cal, d("2026-03-02"), dec!(1), |day| {
            if day == d("2026-03-02") {
                dec!(-2)
            } else {
                dec!(8)
            }
        })
        .unwrap();
        assert_eq!((s.start, s.finish), (d("2026-03-03"), d("2026-03-03")));
    }

    #[test]
    fn work_that_never_fits_is_an_error_not_a_loop() {
        let cal = weekdays(&[]);
        let err = schedule_hours(&cal, d("2026-03-02"), dec!(1), |_| dec!(0)).unwrap_err();
        assert!(
            matches!(err, CalendarError::OutOfCapacity { hours_placed, .. } if hours_placed.is_zero())
        );
        assert_eq!(
            schedule_hours(&cal, d("2026-03-02"), dec!(0), |_| dec!(8)),
            Err(CalendarError::NothingToSchedule(dec!(0)))
        );
    }
}
