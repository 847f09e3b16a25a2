//! Keyset pagination shared by every list.
//!
//! Lists are ordered by id (UUID v7, so roughly by creation time) and a page
//! continues after the last id of the previous one: stable under concurrent
//! inserts, and as cheap for page 1000 as for page 1. The cursor handed to
//! clients is opaque — hex of `<list>:<last id>` — and is validated on the
//! way back in: a cursor that is not hex, belongs to another list, or holds
//! no valid id is [`StoreError::BadCursor`].

use chrono::{DateTime, Utc};

use crate::StoreError;

/// The most rows one page returns, whatever the caller asks for.
pub const MAX_LIMIT: u32 = 1000;

/// A page request: at most `limit` rows (clamped to 1..=[`MAX_LIMIT`]),
/// after the row the `after` cursor points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub after: Option<String>,
}

impl Page {
    pub fn first(limit: u32) -> Page {
        Page { limit, after: None }
    }

    pub fn after(limit: u32, cursor: impl Into<String>) -> Page {
        Page {
            limit,
            after: Some(cursor.into()),
        }
    }

    pub(crate) fn effective_limit(&self) -> u32 {
        self.limit.clamp(1, MAX_LIMIT)
    }
}

/// A record with the bookkeeping the store keeps around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub record: T,
    /// Starts at 1, +1 on every change; updates must name the version they saw.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One page of a list: the records and, unless this is the last page, the
/// cursor of the next one.
pub type Listed<T> = (Vec<Versioned<T>>, Option<String>);

/// The cursor for rows after `key` in `list`.
pub fn encode_cursor(list: &str, key: &str) -> String {
    hex::encode(format!("{list}:{key}"))
}

/// The key a cursor of `list` points after; `parse` validates it as an id.
pub fn decode_cursor<T, E>(
    list: &str,
    cursor: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    let bad = |why: &str| StoreError::BadCursor(why.to_owned());
    let bytes = hex::decode(cursor).map_err(|_| bad("not a cursor from this list"))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not a cursor from this list"))?;
    let key = text
        .strip_prefix(list)
        .and_then(|rest| rest.strip_prefix(':'))
        .ok_or_else(|| bad("the cursor belongs to another list"))?;
    parse(key).map_err(|_| bad("the cursor does not point at a record"))
}

/// Splits `limit + 1` fetched rows into a page and the next cursor.
pub(crate) fn finish<T>(
    list: &str,
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|r| encode_cursor(list, &key(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sales_domain::ids::CustomerId;

    #[test]
    fn a_cursor_round_trips_within_its_list() {
        let id = CustomerId::new();
        let c = encode_cursor("customers", &id.to_string());
        assert_eq!(
            decode_cursor("customers", &c, CustomerId::parse).unwrap(),
            id
        );
    }

    #[test]
    fn foreign_or_garbled_cursors_are_rejected() {
        let id = CustomerId::new();
        let c = encode_cursor("products", &id.to_string());
        for bad in [
            c.as_str(),
            "zz",
            "",
            "6375",
            &encode_cursor("customers", "x"),
        ] {
            assert!(
                matches!(
                    decode_cursor("customers", bad, CustomerId::parse),
                    Err(StoreError::BadCursor(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn finish_cuts_the_extra_row_into_a_cursor() {
        let (rows, next) = finish("n", vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(rows, [1, 2]);
        assert_eq!(next, Some(encode_cursor("n", "2")));
        let (rows, next) = finish("n", vec![1, 2], 2, |n| n.to_string());
        assert_eq!((rows.len(), next), (2, None));
    }
}
