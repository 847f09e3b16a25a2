//! Human document numbers: `PREFIX-YYYY-NNNNN` (`QTN-2026-00042`, `SO-2026-00017`).
//!
//! A [`DocumentSeries`] is a prefix and a year; its numbers count from 1 and
//! are zero-padded to five digits, growing wider past 99999
//! (`SO-2026-100000`). This module only formats and parses; allocating the
//! next number gap-free is the store's job (`sales_store::series`), inside
//! the transaction that inserts the document.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SeriesError {
    #[error("invalid series prefix {0:?}: expected 1 to 10 upper-case letters A-Z")]
    Prefix(String),
    #[error("invalid series year {0}: expected 1000 to 9999")]
    Year(i32),
    #[error("document sequence numbers start at 1")]
    Sequence,
    #[error("invalid document number {0:?}: expected PREFIX-YYYY-NNNNN such as QTN-2026-00042")]
    Malformed(String),
}

/// The digits a sequence is zero-padded to.
pub const SEQUENCE_WIDTH: usize = 5;

/// Prefix of quotation numbers.
pub const QUOTATION_PREFIX: &str = "QTN";
/// Prefix of sales order numbers.
pub const SALES_ORDER_PREFIX: &str = "SO";

fn validate_prefix(prefix: &str) -> Result<(), SeriesError> {
    let ok = (1..=10).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_uppercase());
    if ok {
        Ok(())
    } else {
        Err(SeriesError::Prefix(prefix.to_owned()))
    }
}

fn validate_year(year: i32) -> Result<(), SeriesError> {
    if (1000..=9999).contains(&year) {
        Ok(())
    } else {
        Err(SeriesError::Year(year))
    }
}

/// A named, yearly numbering series such as quotations of 2026.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentSeries {
    prefix: String,
    year: i32,
}

impl DocumentSeries {
    pub fn new(prefix: &str, year: i32) -> Result<DocumentSeries, SeriesError> {
        validate_prefix(prefix)?;
        validate_year(year)?;
        Ok(DocumentSeries {
            prefix: prefix.to_owned(),
            year,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    /// The `sequence`-th number of this series (the first is 1).
    pub fn number(&self, sequence: u64) -> Result<DocumentNumber, SeriesError> {
        if sequence == 0 {
            return Err(SeriesError::Sequence);
        }
        Ok(DocumentNumber {
            series: self.clone(),
            sequence,
        })
    }
}

/// One human document number. Its text form is canonical: parsing only
/// accepts what [`fmt::Display`] prints, so `QTN-2026-042` and
/// `QTN-2026-000042` are rejected rather than aliasing `QTN-2026-00042`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentNumber {
    series: DocumentSeries,
    sequence: u64,
}

impl DocumentNumber {
    pub fn series(&self) -> &DocumentSeries {
        &self.series
    }

    pub fn prefix(&self) -> &str {
        &self.series.prefix
    }

    pub fn year(&self) -> i32 {
        self.series.year
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn parse(input: &str) -> Result<DocumentNumber, SeriesError> {
        let malformed = || SeriesError::Malformed(input.to_owned());
        let mut parts = input.split('-');
        let (Some(prefix), Some(year), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year) || year.len() != 4 || !digits(seq) || seq.len() < SEQUENCE_WIDTH {
            return Err(malformed());
        }
        // Wider than the padding only when the number needs it.
        if seq.len() > SEQUENCE_WIDTH && seq.starts_with('0') {
            return Err(malformed());
        }
        let year: i32 = year.parse().map_err(|_| malformed())?;
        let sequence: u64 = seq.parse().map_err(|_| malformed())?;
        let series = DocumentSeries::new(prefix, year).map_err(|_| malformed())?;
        series.number(sequence).map_err(|_| malformed())
    }
}

impl fmt::Display for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{:04}-{:0width$}",
            self.series.prefix,
            self.series.year,
            self.sequence,
            width = SEQUENCE_WIDTH
        )
    }
}

impl FromStr for DocumentNumber {
    type Err = SeriesError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentNumber::parse(s)
    }
}

impl Serialize for DocumentNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DocumentNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DocumentNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_are_zero_padded_to_five_digits() {
        let s = DocumentSeries::new(QUOTATION_PREFIX, 2026).unwrap();
        assert_eq!(s.number(42).unwrap().to_string(), "QTN-2026-00042");
        let so = DocumentSeries::new(SALES_ORDER_PREFIX, 2026).unwrap();
        assert_eq!(so.number(17).unwrap().to_string(), "SO-2026-00017");
    }

    #[test]
    fn numbers_grow_past_99999() {
        let s = DocumentSeries::new("SO", 2026).unwrap();
        assert_eq!(s.number(99_999).unwrap().to_string(), "SO-2026-99999");
        assert_eq!(s.number(100_000).unwrap().to_string(), "SO-2026-100000");
        assert_eq!(
            DocumentNumber::parse("SO-2026-100000").unwrap().sequence(),
            100_000
        );
    }

    #[test]
    fn sequence_zero_is_not_a_number() {
        let s = DocumentSeries::new("SO", 2026).unwrap();
        assert_eq!(s.number(0), Err(SeriesError::Sequence));
        assert!(DocumentNumber::parse("SO-2026-00000").is_err());
    }

    #[test]
    fn bad_prefixes_and_years_are_rejected() {
        assert!(DocumentSeries::new("", 2026).is_err());
        assert!(DocumentSeries::new("qtn", 2026).is_err());
        assert!(DocumentSeries::new("Q-T", 2026).is_err());
        assert!(DocumentSeries::new("ABCDEFGHIJK", 2026).is_err());
        assert_eq!(DocumentSeries::new("SO", 999), Err(SeriesError::Year(999)));
    }

    #[test]
    fn non_canonical_spellings_are_rejected() {
        for bad in [
            "QTN-2026-042",
            "QTN-2026-000042",
            "QTN-26-00042",
            "qtn-2026-00042",
            "QTN-2026-00042-1",
            "QTN2026-00042",
            "QTN-2026-+0042",
            "QTN-2026- 0042",
            "",
        ] {
            assert!(DocumentNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        let n = DocumentNumber::parse("QTN-2026-00042").unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"QTN-2026-00042\"");
        assert_eq!(serde_json::from_str::<DocumentNumber>(&json).unwrap(), n);
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(
            prefix in "[A-Z]{1,10}",
            year in 1000i32..=9999,
            seq in 1u64..=u64::MAX,
        ) {
            let n = DocumentSeries::new(&prefix, year).unwrap().number(seq).unwrap();
            prop_assert_eq!(DocumentNumber::parse(&n.to_string()).unwrap(), n);
        }
    }
}
