//! Territory rules: which territory a customer belongs to by its address.
//!
//! A rule names a country (ISO 3166-1 alpha-2), optionally a region and
//! optionally an inclusive postcode range. A customer assigned to a
//! territory explicitly keeps it; otherwise its shipping address (else its
//! billing address) is matched by [`resolve_territory`]: the most specific
//! matching active rule wins (postcode range > region > country only),
//! then the higher `priority`, then the narrower range, then the older
//! rule — so the answer never depends on storage order.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::TerritoryRuleId;
use crate::catalog::{optional_text, ValidationError, NAME_MAX};
use crate::ids::TerritoryId;

/// What creating (or restating) a rule takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerritoryRuleInput {
    pub territory_id: TerritoryId,
    pub country: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postcode_from: Option<String>,
    /// Inclusive; defaults to `postcode_from` (one postcode).
    #[serde(default)]
    pub postcode_to: Option<String>,
    /// Breaks ties between equally specific rules (higher wins), 0..=1000.
    #[serde(default)]
    pub priority: u16,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredRule")]
pub struct TerritoryRule {
    id: TerritoryRuleId,
    territory_id: TerritoryId,
    country: String,
    region: Option<String>,
    postcode_from: Option<String>,
    postcode_to: Option<String>,
    priority: u16,
    active: bool,
}

#[derive(Deserialize)]
struct StoredRule {
    id: TerritoryRuleId,
    #[serde(flatten)]
    input: TerritoryRuleInput,
    active: bool,
}

impl TryFrom<StoredRule> for TerritoryRule {
    type Error = ValidationError;
    fn try_from(s: StoredRule) -> Result<Self, Self::Error> {
        TerritoryRule::from_parts(s.id, s.input, s.active)
    }
}

/// Upper case without spaces or hyphens (`"sw1a 1aa"` → `"SW1A1AA"`).
fn normalise_postcode(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// Numeric when both are all digits (so `"9000" < "10000"`), else text.
fn postcode_cmp(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y))
            if a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()) =>
        {
            x.cmp(&y)
        }
        _ => a.cmp(b),
    }
}

impl TerritoryRule {
    pub fn from_parts(
        id: TerritoryRuleId,
        input: TerritoryRuleInput,
        active: bool,
    ) -> Result<TerritoryRule, ValidationError> {
        let country = input.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ValidationError::new(
                "country",
                "must be an ISO 3166-1 alpha-2 code such as DE",
            ));
        }
        if input.priority > 1000 {
            return Err(ValidationError::new("priority", "must be 0 to 1000"));
        }
        let region = optional_text("region", input.region.as_deref(), NAME_MAX)?;
        let from = optional_text("postcode_from", input.postcode_from.as_deref(), 20)?
            .map(|p| normalise_postcode(&p))
            .filter(|p| !p.is_empty());
        let to = optional_text("postcode_to", input.postcode_to.as_deref(), 20)?
            .map(|p| normalise_postcode(&p))
            .filter(|p| !p.is_empty());
        let (from, to) = match (from, to) {
            (None, None) => (None, None),
            (None, Some(_)) => {
                return Err(ValidationError::new(
                    "postcode_from",
                    "a range needs its first postcode",
                ))
            }
            (Some(f), None) => (Some(f.clone()), Some(f)),
            (Some(f), Some(t)) => {
                if postcode_cmp(&f, &t) == Ordering::Greater {
                    return Err(ValidationError::new(
                        "postcode_to",
                        "must not come before postcode_from",
                    ));
                }
                (Some(f), Some(t))
            }
        };
        Ok(TerritoryRule {
            id,
            territory_id: input.territory_id,
            country,
            region,
            postcode_from: from,
            postcode_to: to,
            priority: input.priority,
            active,
        })
    }

    pub fn to_input(&self) -> TerritoryRuleInput {
        TerritoryRuleInput {
            territory_id: self.territory_id,
            country: self.country.clone(),
            region: self.region.clone(),
            postcode_from: self.postcode_from.clone(),
            postcode_to: self.postcode_to.clone(),
            priority: self.priority,
        }
    }

    pub fn with_active(&self, active: bool) -> TerritoryRule {
        TerritoryRule {
            active,
            ..self.clone()
        }
    }

    pub fn id(&self) -> TerritoryRuleId {
        self.id
    }
    pub fn territory_id(&self) -> TerritoryId {
        self.territory_id
    }
    pub fn country(&self) -> &str {
        &self.country
    }
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Whether an address in `country` / `region` / `postcode` falls under
    /// this rule (country and region compare without case).
    pub fn matches(&self, country: &str, region: Option<&str>, postcode: Option<&str>) -> bool {
        if !self.country.eq_ignore_ascii_case(country.trim()) {
            return false;
        }
        if let Some(r) = &self.region {
            match region {
                Some(given) if given.trim().eq_ignore_ascii_case(r) => {}
                _ => return false,
            }
        }
        if let (Some(from), Some(to)) = (&self.postcode_from, &self.postcode_to) {
            let Some(pc) = postcode.map(normalise_postcode) else {
                return false;
            };
            if postcode_cmp(&pc, from) == Ordering::Less
                || postcode_cmp(&pc, to) == Ordering::Greater
            {
                return false;
            }
        }
        true
    }

    /// 2 with a postcode range, 1 with a region, 0 for a whole country.
    fn specificity(&self) -> u8 {
        if self.postcode_from.is_some() {
            2
        } else if self.region.is_some() {
            1
        } else {
            0
        }
    }

    /// A rough width of the postcode range, for the tie-break (narrower wins).
    fn width(&self) -> u64 {
        match (&self.postcode_from, &self.postcode_to) {
            (Some(f), Some(t)) => match (f.parse::<u64>(), t.parse::<u64>()) {
                (Ok(a), Ok(b)) => b.saturating_sub(a),
                _ => u64::from(f != t),
            },
            _ => u64::MAX,
        }
    }
}

/// The rule that places an address, if any (see the module docs for the
/// order of preference).
pub fn resolve_territory<'a>(
    rules: &'a [TerritoryRule],
    country: &str,
    region: Option<&str>,
    postcode: Option<&str>,
) -> Option<&'a TerritoryRule> {
    rules
        .iter()
        .filter(|r| r.active && r.matches(country, region, postcode))
        .min_by(|a, b| {
            b.specificity()
                .cmp(&a.specificity())
                .then(b.priority.cmp(&a.priority))
                .then(a.width().cmp(&b.width()))
                .then(a.id.cmp(&b.id))
        })
}
