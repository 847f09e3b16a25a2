//! Property tests standing in for a fuzzer (no nightly `cargo fuzz`) for
//! the NDJSON/CSV import parser that the catalog's imports and the stock
//! feed read their bodies with (`sales_kit::import::parse_import_bytes`):
//!
//! - any bytes, either format: rows numbered 1, 2, 3… each a value or a
//!   4xx row error, or the whole body a 4xx — never a panic;
//! - a valid file written by a CSV or JSON writer reads back as the rows it
//!   was written from (round trip);
//! - a valid file with one line damaged: the other rows read back as
//!   written, the damaged one is a value or an error naming its row;
//! - a bad value in one cell or key names that row and that field; a CSV
//!   header without a required column is a 422 naming the column.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use sales_kit::import::{lenient_u16, parse_import_bytes, Amount, NumberedRow, RowError};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A row shaped like the real ones: required text, optional text, an
/// amount and an optional whole number that CSV gives as text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    external_id: String,
    name: String,
    #[serde(default)]
    email: Option<String>,
    cost: Amount,
    #[serde(default, deserialize_with = "lenient_u16")]
    lead_time_days: Option<u16>,
}

const REQUIRED: &[&str] = &["external_id", "name", "cost"];
const COLUMNS: &[&str] = &["external_id", "name", "email", "cost", "lead_time_days"];
const LIMIT: usize = 1024 * 1024;
const CSV: Option<&str> = Some("text/csv");
const NDJSON: Option<&str> = Some("application/x-ndjson");

fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Vec<NumberedRow<Row>>, u16> {
    parse_import_bytes::<Row>(content_type, body, REQUIRED, LIMIT).map_err(|e| e.status())
}

/// Text as a CSV cell keeps it: trimmed (the reader trims cells) and not
/// empty (an empty cell is an absent field). Commas, quotes, line breaks
/// and any Unicode are fair game.
fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9][A-Za-z0-9 ,\"'\n\r;-]{0,12}[A-Za-z0-9]",
        "\\PC{1,10}",
    ]
    .prop_filter("trimmed, not empty", |s| {
        !s.is_empty() && s.trim() == s.as_str()
    })
}

fn arb_row() -> impl Strategy<Value = Row> {
    (
        arb_text(),
        arb_text(),
        proptest::option::of(arb_text()),
        (any::<i64>(), 0u32..=6),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(|(external_id, name, email, (mantissa, scale), lead)| Row {
            external_id,
            name,
            email,
            cost: Amount(Decimal::new(mantissa, scale)),
            lead_time_days: lead,
        })
}

fn cells(row: &Row) -> Vec<String> {
    vec![
        row.external_id.clone(),
        row.name.clone(),
        row.email.clone().unwrap_or_default(),
        row.cost.0.to_string(),
        row.lead_time_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
    ]
}

fn to_csv(rows: &[Row]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).unwrap();
    for row in rows {
        w.write_record(cells(row)).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// One JSON object a row; the amount as a string or a number, the lead
/// time as a number or as text, as senders do.
fn to_json(row: &Row, numbers: bool) -> Value {
    let mut o = Map::new();
    o.insert("external_id".into(), json!(row.external_id));
    o.insert("name".into(), json!(row.name));
    if let Some(e) = &row.email {
        o.insert("email".into(), json!(e));
    }
    o.insert("cost".into(), json!(row.cost.0.to_string()));
    if let Some(d) = row.lead_time_days {
        let v = if numbers {
            json!(d)
        } else {
            json!(d.to_string())
        };
        o.insert("lead_time_days".into(), v);
    }
    Value::Object(o)
}

fn to_ndjson(rows: &[Row], numbers: bool) -> String {
    rows.iter()
        .map(|r| to_json(r, numbers).to_string() + "\n")
        .collect()
}

/// Rows numbered 1..=n in order, every error a row error of its own row.
fn assert_well_numbered(rows: &[NumberedRow<Row>]) -> Result<(), TestCaseError> {
    for (i, (n, row)) in rows.iter().enumerate() {
        prop_assert_eq!(*n, i + 1);
        if let Err(e) = row {
            prop_assert_eq!(e.row, *n);
            prop_assert!(
                [
                    "malformed_row",
                    "invalid_field",
                    "missing_field",
                    "unknown_field"
                ]
                .contains(&e.code.as_str()),
                "unexpected code {:?}",
                e
            );
            prop_assert!(!e.message.is_empty());
        }
    }
    Ok(())
}

fn values(rows: Vec<NumberedRow<Row>>) -> Vec<Result<Row, RowError>> {
    rows.into_iter().map(|(_, r)| r).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_are_rows_or_a_4xx_never_a_panic(
        body in prop::collection::vec(any::<u8>(), 0..400),
        csv in any::<bool>(),
    ) {
        match parse(if csv { CSV } else { NDJSON }, &body) {
            Ok(rows) => assert_well_numbered(&rows)?,
            Err(status) => prop_assert!((400..500).contains(&status), "{}", status),
        }
    }

    #[test]
    fn any_text_after_a_valid_header_is_rows_or_a_4xx(
        text in "[a-z0-9,\"\n\r ;{}:.\\[\\]-]{0,300}",
    ) {
        let body = format!("{}\n{text}", COLUMNS.join(","));
        match parse(CSV, body.as_bytes()) {
            Ok(rows) => assert_well_numbered(&rows)?,
            Err(status) => prop_assert!((400..500).contains(&status), "{}", status),
        }
    }

    #[test]
    fn any_json_lines_are_rows_never_a_panic(
        lines in prop::collection::vec(
            prop_oneof![
                "\\PC{0,30}",
                "\\{\"[a-z_]{1,14}\":(\"[^\"\n]{0,8}\"|[0-9.e-]{1,8}|null|true|\\[\\]|\\{\\})\\}",
            ],
            0..12,
        ),
    ) {
        let body = lines.join("\n");
        let rows = parse(NDJSON, body.as_bytes()).expect("NDJSON text is always rows");
        assert_well_numbered(&rows)?;
        prop_assert_eq!(rows.len(), lines.iter().filter(|l| !l.trim().is_empty()).count());
    }

    #[test]
    fn a_csv_file_reads_back_as_written(rows in prop::collection::vec(arb_row(), 0..20)) {
        let parsed = parse(CSV, to_csv(&rows).as_bytes()).expect("a valid CSV file");
        prop_assert_eq!(values(parsed), rows.into_iter().map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn an_ndjson_file_reads_back_as_written(
        rows in prop::collection::vec(arb_row(), 0..20),
        numbers in any::<bool>(),
    ) {
        let parsed = parse(NDJSON, to_ndjson(&rows, numbers).as_bytes()).expect("valid NDJSON");
        prop_assert_eq!(values(parsed), rows.into_iter().map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn a_damaged_ndjson_line_spoils_only_its_own_row(
        rows in prop::collection::vec(arb_row(), 1..12),
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        junk in "[^\n]{0,6}",
    ) {
        let mut lines: Vec<String> = rows.iter().map(|r| to_json(r, false).to_string()).collect();
        let i = pick.index(lines.len());
        let line = &lines[i];
        // Cut the line at a character boundary and put junk there.
        let at = line
            .char_indices()
            .map(|(b, _)| b)
            .nth(cut.index(line.chars().count()))
            .unwrap_or(line.len());
        let damaged = format!("{}{junk}", &line[..at]);
        prop_assume!(!damaged.trim().is_empty());
        lines[i] = damaged;
        let parsed = parse(NDJSON, lines.join("\n").as_bytes()).expect("NDJSON text is rows");
        assert_well_numbered(&parsed)?;
        prop_assert_eq!(parsed.len(), rows.len());
        for (k, (n, row)) in parsed.into_iter().enumerate() {
            if k == i {
                if let Err(e) = row {
                    prop_assert_eq!(e.row, n);
                }
            } else {
                prop_assert_eq!(row, Ok(rows[k].clone()));
            }
        }
    }

    #[test]
    fn a_damaged_csv_file_is_rows_or_a_4xx(
        rows in prop::collection::vec(arb_row(), 1..12),
        at in any::<prop::sample::Index>(),
        len in 0usize..8,
        junk in prop::collection::vec(any::<u8>(), 0..6),
    ) {
        let mut bytes = to_csv(&rows).into_bytes();
        let from = at.index(bytes.len());
        let to = (from + len).min(bytes.len());
        bytes.splice(from..to, junk);
        match parse(CSV, &bytes) {
            Ok(parsed) => assert_well_numbered(&parsed)?,
            Err(status) => prop_assert!((400..500).contains(&status), "{}", status),
        }
    }

    #[test]
    fn a_bad_cell_names_its_row_and_field(
        rows in prop::collection::vec(arb_row(), 1..10),
        pick in any::<prop::sample::Index>(),
        bad in prop_oneof![
            Just(("cost", "twelve")),
            Just(("cost", "1.2.3")),
            Just(("lead_time_days", "-1")),
            Just(("lead_time_days", "65536")),
            Just(("lead_time_days", "3 days")),
        ],
        csv in any::<bool>(),
    ) {
        let i = pick.index(rows.len());
        let (field, value) = bad;
        let body = if csv {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(COLUMNS).unwrap();
            for (k, row) in rows.iter().enumerate() {
                let mut c = cells(row);
                if k == i {
                    let col = COLUMNS.iter().position(|c| *c == field).unwrap();
                    c[col] = value.to_string();
                }
                w.write_record(c).unwrap();
            }
            String::from_utf8(w.into_inner().unwrap()).unwrap()
        } else {
            rows.iter()
                .enumerate()
                .map(|(k, row)| {
                    let mut v = to_json(row, false);
                    if k == i {
                        v[field] = json!(value);
                    }
                    v.to_string() + "\n"
                })
                .collect()
        };
        let parsed = parse(if csv { CSV } else { NDJSON }, body.as_bytes()).expect("rows");
        for (k, (n, row)) in parsed.into_iter().enumerate() {
            if k == i {
                let e = row.expect_err("the bad row is an error");
                prop_assert_eq!(
                    (e.row, e.field.as_deref(), e.code.as_str()),
                    (i + 1, Some(field), "invalid_field")
                );
            } else {
                prop_assert_eq!(n, k + 1);
                prop_assert_eq!(row, Ok(rows[k].clone()));
            }
        }
    }

    #[test]
    fn a_csv_header_without_a_required_column_is_a_422_naming_it(
        rows in prop::collection::vec(arb_row(), 0..5),
        drop in prop::sample::select(REQUIRED.to_vec()),
    ) {
        let col = COLUMNS.iter().position(|c| *c == drop).unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        let header: Vec<&str> = COLUMNS.iter().copied().filter(|c| *c != drop).collect();
        w.write_record(&header).unwrap();
        for row in &rows {
            let mut c = cells(row);
            c.remove(col);
            w.write_record(c).unwrap();
        }
        let body = w.into_inner().unwrap();
        let e = parse_import_bytes::<Row>(CSV, &body, REQUIRED, LIMIT).unwrap_err();
        prop_assert_eq!((e.status(), e.code(), e.field()), (422, "invalid_field", Some(drop)));
    }
}

#[test]
fn a_missing_or_unknown_key_is_named_on_its_row() {
    let body = "{\"external_id\":\"a\",\"name\":\"A\",\"cost\":\"1\"}\n\
                {\"external_id\":\"b\",\"cost\":\"1\"}\n\
                \n\
                {\"external_id\":\"c\",\"name\":\"C\",\"cost\":\"1\",\"colour\":\"red\"}\n\
                [1,2]\n\
                not json\n";
    let rows = parse(NDJSON, body.as_bytes()).unwrap();
    let got: Vec<(usize, Option<String>, String)> = rows
        .into_iter()
        .filter_map(|(n, r)| r.err().map(|e| (n, e.field, e.code)))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, Some("name".into()), "missing_field".into()),
            (3, Some("colour".into()), "unknown_field".into()),
            (4, Some("[0]".into()), "invalid_field".into()),
            (5, None, "malformed_row".into()),
        ]
    );
}

#[test]
fn a_csv_record_of_the_wrong_length_is_a_malformed_row() {
    let body = "external_id,name,cost\na,A,1\nb,B\nc,C,3\n";
    let rows = parse(CSV, body.as_bytes()).unwrap();
    assert_eq!(rows.len(), 3);
    let e = rows[1].1.clone().unwrap_err();
    assert_eq!((e.row, e.code.as_str()), (2, "malformed_row"));
    assert!(rows[0].1.is_ok() && rows[2].1.is_ok());
}

#[test]
fn the_whole_body_is_refused_before_any_row_when_it_cannot_be_read() {
    let status = |ct: Option<&str>, body: &[u8], limit: usize| {
        parse_import_bytes::<Row>(ct, body, REQUIRED, limit)
            .unwrap_err()
            .status()
    };
    assert_eq!(status(CSV, b"external_id,name,cost\n", 4), 413);
    assert_eq!(status(Some("application/pdf"), b"x", LIMIT), 415);
    assert_eq!(status(None, b"x", LIMIT), 415);
    assert_eq!(status(CSV, b"external_id,name,cost\n\xff\n", LIMIT), 422);
    assert_eq!(status(NDJSON, b"\xfe{}", LIMIT), 422);
    // A charset parameter and letter case do not matter.
    assert!(parse_import_bytes::<Row>(
        Some("Text/CSV; charset=utf-8"),
        b"external_id,name,cost\n",
        REQUIRED,
        LIMIT
    )
    .unwrap()
    .is_empty());
}
