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
//! **Encoding.** postcard (a crates.io codec, compact and positional)
//! throughout. Each rule is its own postcard record ([`RuleRecord`]: the
//! validated rule's fields flat, decimals as strings, ~100 bytes instead of
//! the ~380 of its stored JSON), so a basket decodes only the rules it can
//! touch; the blob is read in place (its strings and rule records borrow
//! from the bytes the cache returned). Rules are indexed by target (their
//! products, else their item groups — the store's own split), by coupon,
//! and "any item without a coupon", so a basket decodes exactly the rules
//! the SQL loader read before the cache, in the same (id) order, and
//! prices byte for byte the same. Ids in the records and the indexes are
//! the uuid's 16 bytes, not 36-character strings to parse, and each index
//! list is borrowed as little-endian `u32`s, so reading the blob allocates
//! one vector per section, not one per target. Schedules, list headers,
//! tax templates and guards (few) stay the JSON of their record.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::ids::{
    ChannelId, CustomerGroupId, CustomerId, ItemGroupId, ProductId, TerritoryId,
};
use sales_domain::money::{Currency, Money, RoundingMode};
use sales_domain::pricing::{
    CouponCode, DiscountSchedule, DiscountScheduleId, FreeItem, FreeProduct, PriceGuard, PriceList,
    PricingRule, PricingRuleId, PricingRuleSpec, RuleAction, RuleConditions, Stacking, TaxRounding,
    TaxTemplate,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{guards, price_lists, records, rules, tax_templates};
use crate::db::Db;
use crate::repo::Where;
use crate::{settings, StoreError};

/// The key of the one cache entry; the suffix names the layout, so a build
/// with another layout never reads this one's blob.
pub const CACHE_KEY: &str = "pricing:snapshot:4";

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

/// The layout of the blob, over owned (`String`, `Vec<u8>`) values when
/// built and borrowed ones (`&str`, `&[u8]`) when read: postcard writes
/// both the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Layout<S, B> {
    version: i64,
    /// Each active rule as a postcard [`RuleRecord`], in id order.
    rules: Vec<B>,
    /// Rule indexes by target id (product or item group, the uuid's 16
    /// bytes), sorted by target, each list ascending as little-endian `u32`s.
    by_target: Vec<(B, B)>,
    /// Rules for any item that need no coupon.
    any_item: Vec<u32>,
    /// Rules by the coupon they need, sorted by coupon.
    by_coupon: Vec<(S, Vec<u32>)>,
    /// JSON of each active schedule with its id, in id order.
    schedules: Vec<(B, S)>,
    /// JSON of every active list header with its currency, in id order.
    headers: Vec<(S, S)>,
    /// JSON of every active tax template, in id order.
    tax_templates: Vec<S>,
    /// JSON of each active guard with its target id, in id order.
    guards: Vec<(B, S)>,
    rounding: RoundingMode,
    tax_rounding: TaxRounding,
    /// Channels whose settings override the tax rounding, sorted by code.
    channel_tax_rounding: Vec<(S, TaxRounding)>,
}

/// An id as the 16 bytes of its uuid in the blob (a string would be
/// parsed again on every read).
trait Id16: Sized {
    fn to_bytes(&self) -> [u8; 16];
    fn from_bytes(bytes: [u8; 16]) -> Result<Self, String>;
}

macro_rules! id16 {
    ($($id:ty),+) => {$(
        impl Id16 for $id {
            fn to_bytes(&self) -> [u8; 16] {
                *self.as_uuid().as_bytes()
            }
            fn from_bytes(bytes: [u8; 16]) -> Result<Self, String> {
                <$id>::from_uuid(Uuid::from_bytes(bytes)).map_err(|e| e.to_string())
            }
        }
    )+};
}

id16!(
    PricingRuleId,
    DiscountScheduleId,
    ProductId,
    ItemGroupId,
    CustomerId,
    CustomerGroupId,
    TerritoryId,
    ChannelId
);

/// An id from the 16 bytes of a byte string in the blob.
fn id_from<T: Id16>(bytes: &[u8]) -> Result<T, String> {
    let bytes: [u8; 16] = bytes
        .try_into()
        .map_err(|_| format!("an id of {} bytes", bytes.len()))?;
    T::from_bytes(bytes)
}

/// `#[serde(with = "id16")]`: one id as a byte string of its 16 bytes
/// (read in place, not byte by byte).
mod id16 {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Id16;

    pub fn serialize<T: Id16, S: Serializer>(id: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&id.to_bytes())
    }

    pub fn deserialize<'de, T: Id16, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        super::id_from(<&'de [u8]>::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// `#[serde(with = "id16_set")]`: a set of ids as a sequence of 16 bytes
/// each, in the set's order.
mod id16_set {
    use std::collections::BTreeSet;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Error as _, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    use super::Id16;

    pub fn serialize<T: Id16, S: Serializer>(set: &BTreeSet<T>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(set.iter().map(|id| Bytes(id.to_bytes())))
    }

    pub fn deserialize<'de, T: Id16 + Ord, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeSet<T>, D::Error> {
        d.deserialize_seq(SetVisitor(PhantomData))
    }

    /// Builds the set as it reads, without an intermediate vector.
    struct SetVisitor<T>(PhantomData<T>);

    impl<'de, T: Id16 + Ord> Visitor<'de> for SetVisitor<T> {
        type Value = BTreeSet<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence of 16-byte ids")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BTreeSet<T>, A::Error> {
            let mut set = BTreeSet::new();
            while let Some(bytes) = seq.next_element::<&'de [u8]>()? {
                set.insert(super::id_from(bytes).map_err(A::Error::custom)?);
            }
            Ok(set)
        }
    }

    /// 16 bytes written as one byte string.
    struct Bytes([u8; 16]);

    impl serde::Serialize for Bytes {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
}

/// A target id (product or item group) as the index keys it: the uuid's
/// bytes. Targets are written as uuid text in the database.
fn target_key(text: &str) -> Result<[u8; 16], StoreError> {
    Uuid::parse_str(text)
        .map(|u| *u.as_bytes())
        .map_err(|e| corrupt(format!("target id {text:?}: {e}")))
}

/// A pricing rule as one flat postcard record: every field of the
/// validated rule, decimals as strings (the domain's decimals read JSON
/// numbers too, which postcard cannot describe). Read back through
/// `PricingRule::new`, so a record is a rule only if it is a valid one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RuleRecord {
    #[serde(with = "id16")]
    id: PricingRuleId,
    name: String,
    priority: u32,
    stacking: Stacking,
    #[serde(with = "id16_set")]
    products: BTreeSet<ProductId>,
    #[serde(with = "id16_set")]
    item_groups: BTreeSet<ItemGroupId>,
    #[serde(with = "id16_set")]
    customers: BTreeSet<CustomerId>,
    #[serde(with = "id16_set")]
    customer_groups: BTreeSet<CustomerGroupId>,
    #[serde(with = "id16_set")]
    territories: BTreeSet<TerritoryId>,
    #[serde(with = "id16_set")]
    channels: BTreeSet<ChannelId>,
    coupon: Option<CouponCode>,
    #[serde(with = "rust_decimal::serde::str_option")]
    min_qty: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    max_qty: Option<Decimal>,
    min_amount: Option<Money>,
    max_amount: Option<Money>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    mixed: bool,
    action: ActionRecord,
}

/// [`RuleAction`], externally tagged (postcard cannot read the internally
/// tagged wire form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum ActionRecord {
    DiscountPercent(#[serde(with = "rust_decimal::serde::str")] Decimal),
    DiscountAmount(Money),
    FixedRate(Money),
    MarkupOnCost(#[serde(with = "rust_decimal::serde::str")] Decimal),
    Schedule(#[serde(with = "id16")] DiscountScheduleId),
    FreeItem {
        product: FreeProduct,
        #[serde(with = "rust_decimal::serde::str")]
        buy: Decimal,
        #[serde(with = "rust_decimal::serde::str")]
        get: Decimal,
        recursive: bool,
    },
}

impl From<&PricingRule> for RuleRecord {
    fn from(rule: &PricingRule) -> RuleRecord {
        let c = rule.conditions().clone();
        RuleRecord {
            id: rule.id(),
            name: rule.name().to_owned(),
            priority: rule.priority(),
            stacking: rule.stacking(),
            products: c.products,
            item_groups: c.item_groups,
            customers: c.customers,
            customer_groups: c.customer_groups,
            territories: c.territories,
            channels: c.channels,
            coupon: c.coupon,
            min_qty: c.min_qty,
            max_qty: c.max_qty,
            min_amount: c.min_amount,
            max_amount: c.max_amount,
            valid_from: c.valid_from,
            valid_to: c.valid_to,
            mixed: c.mixed,
            action: match rule.action().clone() {
                RuleAction::DiscountPercent { percent } => ActionRecord::DiscountPercent(percent),
                RuleAction::DiscountAmount { amount } => ActionRecord::DiscountAmount(amount),
                RuleAction::FixedRate { rate } => ActionRecord::FixedRate(rate),
                RuleAction::MarkupOnCost { percent } => ActionRecord::MarkupOnCost(percent),
                RuleAction::Schedule { schedule } => ActionRecord::Schedule(schedule),
                RuleAction::FreeItem(f) => ActionRecord::FreeItem {
                    product: f.product,
                    buy: f.buy,
                    get: f.get,
                    recursive: f.recursive,
                },
            },
        }
    }
}

impl RuleRecord {
    fn into_rule(self) -> Result<PricingRule, StoreError> {
        let id = self.id;
        PricingRule::new(PricingRuleSpec {
            id,
            name: self.name,
            priority: self.priority,
            stacking: self.stacking,
            conditions: RuleConditions {
                products: self.products,
                item_groups: self.item_groups,
                customers: self.customers,
                customer_groups: self.customer_groups,
                territories: self.territories,
                channels: self.channels,
                coupon: self.coupon,
                min_qty: self.min_qty,
                max_qty: self.max_qty,
                min_amount: self.min_amount,
                max_amount: self.max_amount,
                valid_from: self.valid_from,
                valid_to: self.valid_to,
                mixed: self.mixed,
            },
            action: match self.action {
                ActionRecord::DiscountPercent(percent) => RuleAction::DiscountPercent { percent },
                ActionRecord::DiscountAmount(amount) => RuleAction::DiscountAmount { amount },
                ActionRecord::FixedRate(rate) => RuleAction::FixedRate { rate },
                ActionRecord::MarkupOnCost(percent) => RuleAction::MarkupOnCost { percent },
                ActionRecord::Schedule(schedule) => RuleAction::Schedule { schedule },
                ActionRecord::FreeItem {
                    product,
                    buy,
                    get,
                    recursive,
                } => RuleAction::FreeItem(FreeItem {
                    product,
                    buy,
                    get,
                    recursive,
                }),
            },
        })
        .map_err(|e| StoreError::Corrupt {
            entity: "pricing rule",
            id: id.to_string(),
            message: e.to_string(),
        })
    }
}

/// The encoded pricing data of one version, as the cache holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    bytes: Vec<u8>,
}

/// A [`Snapshot`] read in place.
#[derive(Debug)]
pub struct SnapshotView<'a> {
    layout: Layout<&'a str, &'a [u8]>,
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

impl Snapshot {
    /// Reads the pricing data of `version` from the database (six
    /// statements). The caller has read `version`; see [`fill`].
    pub fn build(db: &impl Db, version: i64) -> Result<Snapshot, StoreError> {
        let all_rules: Vec<PricingRule> = records::all_active(db, Where::default())?;
        let mut by_target: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut any_item = Vec::new();
        let mut by_coupon: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut encoded = Vec::with_capacity(all_rules.len());
        for (rule, n) in all_rules.iter().zip(0u32..) {
            let targets = rules::targets(rule);
            for t in &targets {
                by_target
                    .entry(target_key(t)?.to_vec())
                    .or_default()
                    .extend_from_slice(&n.to_le_bytes());
            }
            match &rule.conditions().coupon {
                Some(c) => by_coupon.entry(c.as_str().to_owned()).or_default().push(n),
                None if targets.is_empty() => any_item.push(n),
                None => {}
            }
            encoded.push(postcard::to_allocvec(&RuleRecord::from(rule)).map_err(corrupt)?);
        }
        let schedules = records::all_active::<DiscountSchedule>(db, Where::default())?
            .iter()
            .map(|s| Ok((s.id().to_bytes().to_vec(), json(s)?)))
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
            .map(|(target, g)| Ok((target_key(&target)?.to_vec(), json(&g)?)))
            .collect::<Result<_, StoreError>>()?;
        let settings = settings::get(db)?.record;
        let channel_tax_rounding = settings
            .channel_defaults()
            .iter()
            .filter_map(|(code, d)| d.tax_rounding().map(|t| (code.clone(), t)))
            .collect();
        let layout: Layout<String, Vec<u8>> = Layout {
            version,
            rules: encoded,
            by_target: by_target.into_iter().collect(),
            any_item,
            by_coupon: by_coupon.into_iter().collect(),
            schedules,
            headers,
            tax_templates,
            guards,
            rounding: settings.rounding(),
            tax_rounding: settings.tax_rounding(),
            channel_tax_rounding,
        };
        Ok(Snapshot {
            bytes: postcard::to_allocvec(&layout).map_err(corrupt)?,
        })
    }

    /// The encoded form, as cached.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes the cache returned; [`Snapshot::view`] tells whether they
    /// read as a snapshot.
    pub fn from_bytes(bytes: Vec<u8>) -> Snapshot {
        Snapshot { bytes }
    }

    /// Reads the snapshot in place (no copy of its strings or rules).
    pub fn view(&self) -> Result<SnapshotView<'_>, StoreError> {
        Ok(SnapshotView {
            layout: postcard::from_bytes(&self.bytes).map_err(corrupt)?,
        })
    }
}

/// The rule indexes listed under `key` in a list sorted by key.
fn indexes<'s>(list: &'s [(&str, Vec<u32>)], key: &str) -> &'s [u32] {
    list.binary_search_by(|(k, _)| (*k).cmp(key))
        .map_or(&[], |at| list[at].1.as_slice())
}

/// The rule indexes under `key` in the target index (little-endian
/// `u32`s).
fn target_indexes<'s>(
    list: &[(&[u8], &'s [u8])],
    key: &[u8; 16],
) -> impl Iterator<Item = u32> + 's {
    let bytes: &'s [u8] = list
        .binary_search_by(|(k, _)| (*k).cmp(key.as_slice()))
        .map_or(&[], |at| list[at].1);
    bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl SnapshotView<'_> {
    pub fn version(&self) -> i64 {
        self.layout.version
    }

    /// The part a basket can touch, decoded: the rules targeting one of
    /// `targets` (product and item-group uuids), for any item without a
    /// coupon, or needing one of `coupons` (so a coupon's existence is known
    /// even when its rules target other products), in id order; the
    /// schedules those rules apply; the list headers in `currency`; every
    /// tax template; the guards on `targets`; the settings for
    /// `channel_code`. The same set, in the same order, as the SQL loader
    /// read before the cache.
    pub fn slice(
        &self,
        targets: &[Uuid],
        coupons: &[CouponCode],
        currency: Currency,
        channel_code: &str,
    ) -> Result<SnapshotSlice, StoreError> {
        let l = &self.layout;
        let mut picked: BTreeSet<u32> = l.any_item.iter().copied().collect();
        for t in targets {
            picked.extend(target_indexes(&l.by_target, t.as_bytes()));
        }
        for c in coupons {
            picked.extend(indexes(&l.by_coupon, c.as_str()));
        }
        let mut rules = Vec::with_capacity(picked.len());
        for n in picked {
            let bytes = l
                .rules
                .get(n as usize)
                .ok_or_else(|| corrupt(format!("rule index {n} out of range")))?;
            rules.push(
                postcard::from_bytes::<RuleRecord>(bytes)
                    .map_err(corrupt)?
                    .into_rule()?,
            );
        }
        let used: BTreeSet<[u8; 16]> = rules
            .iter()
            .filter_map(|r| match r.action() {
                RuleAction::Schedule { schedule } => Some(schedule.to_bytes()),
                _ => None,
            })
            .collect();
        let schedules = l
            .schedules
            .iter()
            .filter(|(id, _)| <[u8; 16]>::try_from(*id).is_ok_and(|id| used.contains(&id)))
            .map(|(_, text)| from_json(text))
            .collect::<Result<Vec<DiscountSchedule>, _>>()?;
        let headers = l
            .headers
            .iter()
            .filter(|(code, _)| *code == currency.code())
            .map(|(_, text)| from_json(text))
            .collect::<Result<Vec<PriceList>, _>>()?;
        let tax_templates = l
            .tax_templates
            .iter()
            .map(|text| from_json(text))
            .collect::<Result<Vec<TaxTemplate>, _>>()?;
        let wanted: BTreeSet<&[u8]> = targets.iter().map(|t| t.as_bytes().as_slice()).collect();
        let guards = l
            .guards
            .iter()
            .filter(|(target, _)| wanted.contains(target))
            .map(|(_, text)| from_json(text))
            .collect::<Result<Vec<PriceGuard>, _>>()?;
        let tax_rounding = l
            .channel_tax_rounding
            .binary_search_by(|(code, _)| (*code).cmp(channel_code))
            .map_or(l.tax_rounding, |at| l.channel_tax_rounding[at].1);
        Ok(SnapshotSlice {
            rules,
            schedules,
            headers,
            tax_templates,
            guards,
            rounding: l.rounding,
            tax_rounding,
        })
    }
}

/// Reads the snapshot of `version` (read by the caller in its first
/// statement) with `read`: from `cache` when it holds that version, else
/// built from the database and cached if no pricing write committed
/// meanwhile. The cached blob is decoded once.
pub fn with_view<R>(
    db: &impl Db,
    cache: &impl SnapshotCache,
    version: i64,
    read: impl Fn(&SnapshotView<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    if let Some(bytes) = cache.get(CACHE_KEY) {
        let cached = Snapshot::from_bytes(bytes);
        // A blob that does not read as a snapshot is a miss.
        if let Ok(view) = cached.view() {
            if view.version() == version {
                return read(&view);
            }
        }
    }
    let built = Snapshot::build(db, version)?;
    if data_version(db)? == version {
        cache.set(CACHE_KEY, built.as_bytes());
    }
    read(&built.view()?)
}
