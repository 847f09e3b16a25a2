//! Property tests standing in for a fuzzer (no nightly `cargo fuzz`) for the
//! JSON body parser every component uses (`parse_json_bytes`, which
//! `parse_json` calls after the content-type check): on any bytes it
//! returns a value or a 4xx problem — never a panic, never a 5xx — and a
//! data error names a field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use sales_kit::json::{parse_json_bytes, MAX_JSON_BODY};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Line {
    product_id: String,
    quantity: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Order {
    customer_id: String,
    #[serde(default)]
    note: Option<String>,
    lines: Vec<Line>,
}

/// Any JSON document, nested a few levels.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("customer_id".to_string()),
                    Just("lines".to_string()),
                    Just("product_id".to_string()),
                    Just("quantity".to_string()),
                    Just("note".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON document, then damaged: truncated, a byte replaced, bytes spliced.
fn arb_damaged() -> impl Strategy<Value = Vec<u8>> {
    (arb_json(), any::<usize>(), any::<u8>(), 0u8..4).prop_map(|(v, at, byte, how)| {
        let mut bytes = serde_json::to_vec(&v).unwrap();
        if bytes.is_empty() {
            return bytes;
        }
        let i = at % bytes.len();
        match how {
            0 => bytes.truncate(i),
            1 => bytes[i] = byte,
            2 => bytes.insert(i, byte),
            _ => {}
        }
        bytes
    })
}

fn check<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<(), TestCaseError> {
    match parse_json_bytes::<T>(body, MAX_JSON_BODY) {
        Ok(_) => Ok(()),
        Err(e) => {
            prop_assert!(
                (400..500).contains(&e.status()),
                "{} for {:?}",
                e.status(),
                String::from_utf8_lossy(body)
            );
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_are_a_value_or_a_4xx(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check::<Value>(&body)?;
        check::<Order>(&body)?;
    }

    #[test]
    fn damaged_documents_are_a_value_or_a_4xx(body in arb_damaged()) {
        check::<Value>(&body)?;
        check::<Order>(&body)?;
    }

    #[test]
    fn a_well_formed_document_of_the_wrong_shape_names_a_field(v in arb_json()) {
        let body = serde_json::to_vec(&v).unwrap();
        // Any JSON parses as a Value.
        prop_assert!(parse_json_bytes::<Value>(&body, MAX_JSON_BODY).is_ok());
        if let Err(e) = parse_json_bytes::<Order>(&body, MAX_JSON_BODY) {
            prop_assert!((400..500).contains(&e.status()));
            // Syntax is fine, so it is a 422 about a field (or the body).
            prop_assert_eq!(e.status(), 422, "{:?}", e);
        }
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    for open in ["[", "{\"a\":"] {
        let body = open.repeat(100_000);
        let e = parse_json_bytes::<Value>(body.as_bytes(), MAX_JSON_BODY).unwrap_err();
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn a_body_over_the_limit_is_413_before_parsing() {
    let body = vec![b' '; MAX_JSON_BODY + 1];
    let e = parse_json_bytes::<Value>(&body, MAX_JSON_BODY).unwrap_err();
    assert_eq!(e.status(), 413);
}

/// Found by the proptest above in CI: serde reads a struct from an array and
/// reports the array's extra elements as "trailing characters", a syntax
/// error, although the document is valid JSON. It is a 422 about the body.
#[test]
fn an_array_longer_than_the_object_is_a_422_not_malformed_json() {
    let e = parse_json_bytes::<Order>(br#"["",null,[],null]"#, MAX_JSON_BODY).unwrap_err();
    assert_eq!(e.status(), 422, "{e:?}");
    let e = parse_json_bytes::<Order>(br#"["",null,[],null"#, MAX_JSON_BODY).unwrap_err();
    assert_eq!(e.status(), 400, "{e:?}");
}
