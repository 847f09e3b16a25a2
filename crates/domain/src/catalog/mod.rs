//! Master data: customers, products, the three trees (customer groups, item
//! groups, territories), sales channels and the sales settings.
//!
//! Every record is built by a validating constructor from a `New…` input
//! (create) and changed by applying a `…Patch` (update), both plain structs
//! with public fields that the edge fills from its wire types. A failed check
//! is a [`ValidationError`] naming the field as a JSON path
//! (`credit_limit.amount`, `billing_address.country`), so the edge can tell
//! the client exactly which field is wrong.
//!
//! Text is trimmed; a blank optional text becomes `None`. Records carry their
//! id and `active` flag; the store adds `version` and timestamps around them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub mod channel;
pub mod customer;
pub mod product;
pub mod settings;
pub mod tree;

pub use channel::{Channel, ChannelKind, ChannelMode, ChannelPatch, NewChannel, TaxMode};
pub use customer::{Customer, CustomerPatch, NewCustomer};
pub use product::{NewProduct, Product, ProductKind, ProductPatch};
pub use settings::{ChannelDefaults, CreditCheck, Settings, SettingsPatch};
pub use tree::{
    check_move, CustomerGroup, ItemGroup, NewTreeNode, Territory, TreeNode, TreeNodePatch,
};

/// A field that failed validation. `field` is a JSON path relative to the
/// record (`name`, `billing_address.country`, `warehouses[2]`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ValidationError {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Prefixes the field with its parent (`country` → `billing_address.country`).
    pub fn within(self, parent: &str) -> ValidationError {
        let field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        ValidationError { field, ..self }
    }
}

/// Longest names (customer, product, channel, node names).
pub const NAME_MAX: usize = 200;
/// Longest free texts (descriptions).
pub const TEXT_MAX: usize = 4000;

fn check_chars(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A required text: trimmed, 1 to `max` characters, no control characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    check_chars(field, v, max)?;
    Ok(v.to_owned())
}

/// An optional text: trimmed; blank becomes `None`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            check_chars(field, v, max)?;
            Ok(Some(v.to_owned()))
        }
    }
}

/// A code (`EU-WEST`, `b2b.web`): 1 to 40 of `A-Z a-z 0-9 _ . -`.
pub fn code(field: &str, value: &str) -> Result<String, ValidationError> {
    let ok = (1..=40).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ValidationError::new(
            field,
            "must be 1 to 40 letters, digits, '_', '.' or '-'",
        ))
    }
}

/// An e-mail address, checked for shape only (one `@`, a dotted domain, no
/// spaces, at most 254 characters); blank becomes `None`.
pub fn email(field: &str, value: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || ValidationError::new(field, "must be an e-mail address such as name@example.com");
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok {
        return Err(bad());
    }
    Ok(Some(v.to_owned()))
}

/// A postal address. `country` is an ISO 3166-1 alpha-2 code (`DE`, `US`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AddressInput")]
pub struct Address {
    line1: String,
    line2: Option<String>,
    city: String,
    postcode: Option<String>,
    region: Option<String>,
    country: String,
}

/// The unvalidated parts of an [`Address`]; also its wire shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub postcode: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub country: String,
}

impl Address {
    pub fn new(input: AddressInput) -> Result<Address, ValidationError> {
        let country = input.country.trim();
        let country_ok = country.len() == 2
            && country.bytes().all(|b| b.is_ascii_uppercase())
            && country.parse::<iso_country::Country>().is_ok();
        if !country_ok {
            return Err(ValidationError::new(
                "country",
                "must be an ISO 3166-1 alpha-2 code such as \"DE\"",
            ));
        }
        Ok(Address {
            line1: required_text("line1", &input.line1, NAME_MAX)?,
            line2: optional_text("line2", input.line2.as_deref(), NAME_MAX)?,
            city: required_text("city", &input.city, NAME_MAX)?,
            postcode: optional_text("postcode", input.postcode.as_deref(), 20)?,
            region: optional_text("region", input.region.as_deref(), NAME_MAX)?,
            country: country.to_owned(),
        })
    }

    pub fn line1(&self) -> &str {
        &self.line1
    }
    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }
    pub fn city(&self) -> &str {
        &self.city
    }
    pub fn postcode(&self) -> Option<&str> {
        self.postcode.as_deref()
    }
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
    pub fn country(&self) -> &str {
        &self.country
    }
}

impl TryFrom<AddressInput> for Address {
    type Error = ValidationError;
    fn try_from(input: AddressInput) -> Result<Address, ValidationError> {
        Address::new(input)
    }
}

/// Payment terms such as "Net 30": a name and the days until payment is due.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PaymentTermsInput")]
pub struct PaymentTerms {
    name: String,
    days: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentTermsInput {
    pub name: String,
    pub days: u16,
}

impl PaymentTerms {
    /// At most this many days.
    pub const MAX_DAYS: u16 = 365;

    pub fn new(name: &str, days: u16) -> Result<PaymentTerms, ValidationError> {
        let name = required_text("name", name, 100)?;
        if days > Self::MAX_DAYS {
            return Err(ValidationError::new(
                "days",
                format!("must be between 0 and {}", Self::MAX_DAYS),
            ));
        }
        Ok(PaymentTerms { name, days })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn days(&self) -> u16 {
        self.days
    }
}

impl TryFrom<PaymentTermsInput> for PaymentTerms {
    type Error = ValidationError;
    fn try_from(i: PaymentTermsInput) -> Result<PaymentTerms, ValidationError> {
        PaymentTerms::new(&i.name, i.days)
    }
}

/// A record's ids in outside systems, by source: `{"crm": "0031x…", "shop": "8812"}`.
/// A source is 1 to 40 of `a-z 0-9 _ . -`; an id is 1 to 200 characters
/// without control characters. Each (source, id) pair names at most one
/// record; the store enforces that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>")]
pub struct ExternalIds(BTreeMap<String, String>);

impl ExternalIds {
    pub fn new(map: BTreeMap<String, String>) -> Result<ExternalIds, ValidationError> {
        let mut out = BTreeMap::new();
        for (source, id) in map {
            out.insert(Self::check_source(&source)?, Self::check_id(&source, &id)?);
        }
        Ok(ExternalIds(out))
    }

    fn check_source(source: &str) -> Result<String, ValidationError> {
        let ok = (1..=40).contains(&source.len())
            && source.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        if ok {
            Ok(source.to_owned())
        } else {
            Err(ValidationError::new(
                source,
                "source must be 1 to 40 of a-z, 0-9, '_', '.' or '-'",
            ))
        }
    }

    fn check_id(source: &str, id: &str) -> Result<String, ValidationError> {
        required_text(source, id, NAME_MAX)
    }

    pub fn get(&self, source: &str) -> Option<&str> {
        self.0.get(source).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(s, i)| (s.as_str(), i.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Sets (or replaces) the id for `source`.
    pub fn with(mut self, source: &str, id: &str) -> Result<ExternalIds, ValidationError> {
        let source = Self::check_source(source)?;
        let id = Self::check_id(&source, id)?;
        self.0.insert(source, id);
        Ok(self)
    }

    /// Adds the ids of `other`, replacing ids for the same sources.
    pub fn merged(mut self, other: &ExternalIds) -> ExternalIds {
        for (s, i) in &other.0 {
            self.0.insert(s.clone(), i.clone());
        }
        self
    }
}

impl TryFrom<BTreeMap<String, String>> for ExternalIds {
    type Error = ValidationError;
    fn try_from(map: BTreeMap<String, String>) -> Result<ExternalIds, ValidationError> {
        ExternalIds::new(map)
    }
}

/// Defines a closed set of lower-case string values with `as_str`,
/// `parse`, `Display` and string serde.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value for `s`, or `None` when `s` is none of them.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The accepted spellings, for error messages (`"b2b, b2c"`).
            pub fn expected() -> String {
                let all: &[&str] = &[$($text),+];
                all.join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(country: &str) -> AddressInput {
        AddressInput {
            line1: " Main St 1 ".into(),
            city: "Berlin".into(),
            country: country.into(),
            ..AddressInput::default()
        }
    }

    #[test]
    fn texts_are_trimmed_and_blank_optionals_vanish() {
        assert_eq!(required_text("name", "  Acme ", 10).unwrap(), "Acme");
        assert_eq!(
            required_text("name", "   ", 10),
            Err(ValidationError::new("name", "must not be empty"))
        );
        assert_eq!(optional_text("x", Some("  "), 10).unwrap(), None);
        assert!(required_text("name", "a\u{0}b", 10).is_err());
        assert!(required_text("name", "abcdefghijk", 10).is_err());
    }

    #[test]
    fn an_address_needs_a_real_country_code() {
        let a = Address::new(addr("DE")).unwrap();
        assert_eq!(a.line1(), "Main St 1");
        assert_eq!(a.country(), "DE");
        for bad in ["de", "XX", "DEU", ""] {
            assert_eq!(
                Address::new(addr(bad)).unwrap_err().field,
                "country",
                "{bad}"
            );
        }
    }

    #[test]
    fn nested_errors_name_the_full_path() {
        let e = Address::new(addr("XX"))
            .unwrap_err()
            .within("billing_address");
        assert_eq!(e.field, "billing_address.country");
        assert_eq!(
            ValidationError::new("[2]", "bad")
                .within("warehouses")
                .field,
            "warehouses[2]"
        );
    }

    #[test]
    fn address_deserializes_with_validation() {
        let ok: Address =
            serde_json::from_str(r#"{"line1":"a","city":"b","country":"FR"}"#).unwrap();
        assert_eq!(ok.country(), "FR");
        assert!(
            serde_json::from_str::<Address>(r#"{"line1":"a","city":"b","country":"ZZ"}"#).is_err()
        );
        assert!(serde_json::from_str::<Address>(
            r#"{"line1":"a","city":"b","country":"FR","zip":"1"}"#
        )
        .is_err());
    }

    #[test]
    fn payment_terms_are_bounded() {
        assert_eq!(PaymentTerms::new("Net 30", 30).unwrap().days(), 30);
        assert_eq!(PaymentTerms::new("Net 400", 400).unwrap_err().field, "days");
        assert_eq!(PaymentTerms::new("", 3).unwrap_err().field, "name");
    }

    #[test]
    fn external_ids_check_sources_and_ids() {
        let ids = ExternalIds::default().with("crm", "0031").unwrap();
        assert_eq!(ids.get("crm"), Some("0031"));
        assert_eq!(
            ExternalIds::default().with("CRM", "1").unwrap_err().field,
            "CRM"
        );
        assert_eq!(
            ExternalIds::default().with("crm", " ").unwrap_err().field,
            "crm"
        );
        let parsed: ExternalIds = serde_json::from_str(r#"{"shop":"8812"}"#).unwrap();
        assert_eq!(parsed.get("shop"), Some("8812"));
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert_eq!(
            email("email", Some(" a@b.co ")).unwrap(),
            Some("a@b.co".into())
        );
        assert_eq!(email("email", Some("")).unwrap(), None);
        for bad in [
            "a", "a@b", "@b.co", "a b@c.de", "a@.de", "a@b..de", "a@b@c.de",
        ] {
            assert!(email("email", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn codes_allow_a_small_alphabet() {
        assert!(code("code", "EU-West_1.a").is_ok());
        assert!(code("code", "").is_err());
        assert!(code("code", "a b").is_err());
        assert!(code("code", &"x".repeat(41)).is_err());
    }
}
