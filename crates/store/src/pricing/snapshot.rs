//! The pricing data every basket reads from, as one compact, versioned
//! blob for the key-value cache (DESIGN §2: key-value `default` holds
//! caches; SQLite stays the system of record).
//!
//! A [`Snapshot`] holds every active rule, discount schedule, price-list
//! header (without items), tax template and guard, and the settings the
//! engine takes (rounding, tax rounding and its per-channel overrides).
//! Price-list items are not in it: a basket reads the items of its
//! products by index (50 of 100,000), which is cheaper than carrying them.
//!
//! **Versioning.** `pricing_data_version` (migration 17) is one counter
//! that triggers on every table the snapshot is built from bump in the
//! same transaction as the write — whoever writes, through whichever
//! replica. The cache holds one entry, `(version, blob)`; a reader takes
//! the version from the database in its first statement and uses the
//! entry only when the versions are equal, so a stale entry is never
//! read, with any number of replicas on one database and one cache or a
//! cache each. A snapshot built from the database is stored only when the
//! version read after building equals the one read before (no write
//! committed in between, so every statement saw that version's data).
//!
//! **Encoding.** The container is postcard (a crates.io codec, compact and
//! positional). Each rule inside is the JSON of the validated record with
//! its empty conditions left out (the record's conditions default to
//! empty, so the JSON reads back to the same rule), ~110 bytes instead of
//! ~380. Rules are indexed by target (their products, else their item
//! groups — the store's own split), by coupon, and "any item without a
//! coupon", so a basket decodes only the rules the SQL loader would have
//! read, in the same (id) order, and prices byte for byte the same.

use std::collections::{BTreeMap, BTreeSet};

use sales_domain::money::{Currency, RoundingMode};
use sales_domain::pricing::{
    CouponCode, DiscountSchedule, PriceGuard, PriceList, PricingRule, RuleAction, TaxRounding,
    TaxTemplate,
};
use serde::{Deserialize, Serialize};

use super::{guards, price_lists, records, rules, tax_templates};
use crate::db::Db;
use crate::repo::Where;
use crate::{settings, StoreError};

/// The key of the one cache entry; the suffix names the layout, so a build
/// with another layout never reads this one's blob.
pub const CACHE_KEY: &str = "pricing:snapshot:1";

/// Where the snapshot is cached: the key-value store in a component, a map
/// in tests. A cache that fails behaves as a miss; pricing never fails
/// because of it.
pub trait SnapshotCache {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn set(&self, key: &str, value: &[u8]);
}

/// No cache: every basket builds the snapshot from the database.
impl SnapshotCache for () {
    fn get(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    fn set(&self, _key: &str, _value: &[u8]) {}
}

/// The current pricing data version (bumped by every pricing write).
pub fn data_version(db: &impl Db) -> Result<i64, StoreError> {
    let rows = db.execute("SELECT version FROM pricing_data_version WHERE id = 1", &[])?;
    Ok(rows
        .first()
        .ok_or(StoreError::NotFound {
            entity: "pricing data version",
            id: "1".into(),
        })?
        .int("version")?)
}

/// The pricing data of one version; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    version: i64,
    /// Compact JSON of every active rule, in id order.
    rules: Vec<String>,
    /// Rule indexes by target id (product or item group), each list ascending.
    by_target: BTreeMap<String, Vec<u32>>,
    /// Rules for any item that need no coupon.
    any_item: Vec<u32>,
    /// Rules by the coupon they need.
    by_coupon: BTreeMap<String, Vec<u32>>,
    /// JSON of each active schedule, by id.
    schedules: BTreeMap<String, String>,
    /// JSON of every active list header, in id order, with its currency.
    headers: Vec<(String, String)>,
    /// JSON of every active tax template, in id order.
    tax_templates: Vec<String>,
    /// JSON of each active guard, in id order, with its target id.
    guards: Vec<(String, String)>,
    rounding: RoundingMode,
    tax_rounding: TaxRounding,
    /// Channels whose settings override the tax rounding.
    channel_tax_rounding: BTreeMap<String, TaxRounding>,
}

/// What a basket reads from a snapshot, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSlice {
    pub rules: Vec<PricingRule>,
    pub schedules: Vec<DiscountSchedule>,
    pub headers: Vec<PriceList>,
    pub tax_templates: Vec<TaxTemplate>,
    pub guards: Vec<PriceGuard>,
    pub rounding: RoundingMode,
    pub tax_rounding: TaxRounding,
}

fn corrupt(message: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        entity: "pricing snapshot",
        id: CACHE_KEY.into(),
        message: message.to_string(),
    }
}

fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(corrupt)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

/// A rule's JSON without the conditions that are empty, `null` or `false`
/// (their defaults), so it reads back to the same rule.
fn compact_rule(rule: &PricingRule) -> Result<String, StoreError> {
    let mut value = serde_json::to_value(rule).map_err(corrupt)?;
    if let Some(conditions) = value
        .get_mut("conditions")
        .and_then(serde_json::Value::as_object_mut)
    {
        conditions.retain(|_, v| match v {
            serde_json::Value::Null | serde_json::Value::Bool(false) => false,
            serde_json::Value::Array(a) => !a.is_empty(),
            _ => true,
        });
    }
    serde_json::to_string(&value).map_err(corrupt)
}

impl Snapshot {
    /// Reads the pricing data of `version` from the database (six
    /// statements). The caller has read `version`; see [`fill`].
    pub fn build(db: &impl Db, version: i64) -> Result<Snapshot, StoreError> {
        let all_rules: Vec<PricingRule> = records::all_active(db, Where::default())?;
        let mut by_target: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut any_item = Vec::new();
        let mut by_coupon: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut rule_json = Vec::with_capacity(all_rules.len());
        for (rule, n) in all_rules.iter().zip(0u32..) {
            let targets = rules::targets(rule);
            for t in &targets {
                by_target.entry(t.clone()).or_default().push(n);
            }
            match &rule.conditions().coupon {
                Some(c) => by_coupon.entry(c.as_str().to_owned()).or_default().push(n),
                None if targets.is_empty() => any_item.push(n),
                None => {}
            }
            rule_json.push(compact_rule(rule)?);
        }
        let schedules = records::all_active::<DiscountSchedule>(db, Where::default())?
            .iter()
            .map(|s| Ok((s.id().to_string(), json(s)?)))
            .collect::<Result<_, StoreError>>()?;
        let headers = price_lists::active_headers(db)?
            .iter()
            .map(|h| Ok((h.currency().code().to_owned(), json(h)?)))
            .collect::<Result<_, StoreError>>()?;
        let tax_templates = tax_templates::all_active(db)?
            .iter()
            .map(json)
            .collect::<Result<_, StoreError>>()?;
        let guards = guards::all_active_with_targets(db)?
            .into_iter()
            .map(|(target, g)| Ok((target, json(&g)?)))
            .collect::<Result<_, StoreError>>()?;
        let settings = settings::get(db)?.record;
        let channel_tax_rounding = settings
            .channel_defaults()
            .iter()
            .filter_map(|(code, d)| d.tax_rounding().map(|t| (code.clone(), t)))
            .collect();
        Ok(Snapshot {
            version,
            rules: rule_json,
            by_target,
            any_item,
            by_coupon,
            schedules,
            headers,
            tax_templates,
            guards,
            rounding: settings.rounding(),
            tax_rounding: settings.tax_rounding(),
            channel_tax_rounding,
        })
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn encode(&self) -> Result<Vec<u8>, StoreError> {
        postcard::to_allocvec(self).map_err(corrupt)
    }

    pub fn decode(bytes: &[u8]) -> Result<Snapshot, StoreError> {
        postcard::from_bytes(bytes).map_err(corrupt)
    }

    /// The part a basket can touch, decoded: the rules targeting one of
    /// `targets` (product and item-group ids), for any item without a
    /// coupon, or needing one of `coupons` (so a coupon's existence is known
    /// even when its rules target other products), in id order; the
    /// schedules those rules apply; the list headers in `currency`; every
    /// tax template; the guards on `targets`; the settings for
    /// `channel_code`. The same set, in the same order, as the SQL loader
    /// read before the cache.
    pub fn slice(
        &self,
        targets: &[String],
        coupons: &[CouponCode],
        currency: Currency,
        channel_code: &str,
    ) -> Result<SnapshotSlice, StoreError> {
        let mut picked: BTreeSet<u32> = self.any_item.iter().copied().collect();
        for t in targets {
            if let Some(ns) = self.by_target.get(t) {
                picked.extend(ns.iter().copied());
            }
        }
        for c in coupons {
            if let Some(ns) = self.by_coupon.get(c.as_str()) {
                picked.extend(ns.iter().copied());
            }
        }
        let rules = picked
            .into_iter()
            .map(|n| {
                let text = self
                    .rules
                    .get(n as usize)
                    .ok_or_else(|| corrupt(format!("rule index {n} out of range")))?;
                from_json::<PricingRule>(text)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let used: BTreeSet<String> = rules
            .iter()
            .filter_map(|r| match r.action() {
                RuleAction::Schedule { schedule } => Some(schedule.to_string()),
                _ => None,
            })
            .collect();
        let schedules = self
            .schedules
            .iter()
            .filter(|(id, _)| used.contains(*id))
            .map(|(_, text)| from_json(text))
            .collect::<Result<Vec<DiscountSchedule>, _>>()?;
        let headers = self
            .headers
            .iter()
            .filter(|(code, _)| code == currency.code())
            .map(|(_, text)| from_json(text))
            .collect::<Result<Vec<PriceList>, _>>()?;
        let tax_templates = self
            .tax_templates
            .iter()
            .map(|text| from_json(text))
            .collect::<Result<Vec<TaxTemplate>, _>>()?;
        let wanted: BTreeSet<&str> = targets.iter().map(String::as_str).collect();
        let guards = self
            .guards
            .iter()
            .filter(|(target, _)| wanted.contains(target.as_str()))
            .map(|(_, text)| from_json(text))
            .collect::<Result<Vec<PriceGuard>, _>>()?;
        Ok(SnapshotSlice {
            rules,
            schedules,
            headers,
            tax_templates,
            guards,
            rounding: self.rounding,
            tax_rounding: self
                .channel_tax_rounding
                .get(channel_code)
                .copied()
                .unwrap_or(self.tax_rounding),
        })
    }
}

/// The snapshot of `version` (read by the caller in its first statement):
/// from `cache` when it holds that version, else built from the database
/// and cached if no pricing write committed meanwhile.
pub fn fill(
    db: &impl Db,
    cache: &impl SnapshotCache,
    version: i64,
) -> Result<Snapshot, StoreError> {
    if let Some(bytes) = cache.get(CACHE_KEY) {
        // A blob that does not decode (another build's layout) is a miss.
        if let Ok(snapshot) = Snapshot::decode(&bytes) {
            if snapshot.version == version {
                return Ok(snapshot);
            }
        }
    }
    let snapshot = Snapshot::build(db, version)?;
    if data_version(db)? == version {
        cache.set(CACHE_KEY, &snapshot.encode()?);
    }
    Ok(snapshot)
}
