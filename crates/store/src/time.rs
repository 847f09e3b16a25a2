//! Timestamps as stored: RFC 3339 UTC with microseconds and a `Z`, fixed
//! width (`2026-03-01T09:30:00.000000Z`) so text order is time order.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::db::DbError;

/// The stored text of `t`.
pub fn to_sql(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a stored timestamp (any RFC 3339 form, for rows SQLite wrote).
pub fn from_sql(s: &str) -> Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DbError::Decode(format!("bad timestamp {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_round_trip_at_fixed_width() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
        assert_eq!(to_sql(t), "2026-03-01T09:30:00.000000Z");
        assert_eq!(from_sql(&to_sql(t)).unwrap(), t);
        assert_eq!(
            from_sql("2026-03-01T09:30:00.123Z")
                .unwrap()
                .timestamp_millis()
                % 1000,
            123
        );
        assert!(from_sql("yesterday").is_err());
    }
}
