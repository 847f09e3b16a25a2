//! Sales orders (migration 7): the order header and lines, the order
//! flow's stored results, shipments, and the transitions other components
//! need.
//!
//! - [`orders`]: `create_draft` (also what a quotation's conversion
//!   calls), `get`, `get_by_number`, `list` (status, customer, channel,
//!   order-date range; keyset pages), `save` (optimistic version), and
//!   `next_number` (`SO-2026-00017`).
//! - [`flow`]: what happens to a stored order — `update_draft`, the status
//!   transitions (`hold`, `resume`, `cancel`, `close`), `record_submission`
//!   (the priced, promised, reserved order in the submitting transaction),
//!   `confirm_approved` and `return_to_draft` (the jobs component's
//!   calls after an approval decision), `record_shipment` (shipments, once
//!   per outside id, consuming reservations) and `demand` (the downstream
//!   snapshot every `order.*` event that changes downstream work carries).
//!
//! Every write takes the caller's transaction (`Db::transaction`) and runs
//! in a SAVEPOINT, so a failure leaves nothing. Quantities are INTEGER
//! thousandths, money decimal TEXT in the order's currency.
//!
//! Versions: `version` grows with every change (the `ETag`, and the demand
//! snapshot's version, so the jobs component can ignore older ones);
//! `revision` grows only when the content changes (create, edit,
//! amendment) and is what an approval request names as the document
//! version, so holding and resuming an order never invalidates its
//! approval.

pub mod flow;
#[allow(clippy::module_inception)]
pub mod orders;

use serde_json::value::RawValue;
use thiserror::Error;

use sales_domain::availability::OrderPromise;
use sales_domain::orders::OrderError;

use crate::StoreError;

pub use flow::*;
pub use orders::*;

/// A JSON document kept as the text it came in (the pricing capability's
/// waterfall): checked to be JSON once, then stored, read back and
/// answered as it is, never decoded into a `serde_json::Value` tree and
/// written out again (issue 7: that round trip of a 20-line waterfall was
/// the largest JSON cost of a submission). Two are equal when their texts
/// are; serialising one writes the text verbatim.
#[derive(Debug, Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// `text` if it is one JSON value (surrounding whitespace allowed).
    pub fn from_string(text: String) -> Result<RawJson, serde_json::Error> {
        RawValue::from_string(text).map(RawJson)
    }

    /// `value` written as JSON.
    pub fn to_raw<T: serde::Serialize + ?Sized>(value: &T) -> Result<RawJson, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(RawJson)
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The document as a tree, for callers that look inside.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(self.get())
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.get() == other.get()
    }
}

impl serde::Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// An availability promise with its JSON text (issue 7): the text the
/// availability capability answered, or the promise written once, is what
/// the order and its hold store — serialising a 20-line promise (~9 KB)
/// for each of them was ~1 % of a submission's CPU apiece. It derefs to
/// the promise and cannot be changed, so the text always says what the
/// promise does; serialising one writes the text verbatim, deserialising
/// one keeps the text it read. Two are equal when their promises are.
#[derive(Debug, Clone)]
pub struct StoredPromise {
    promise: OrderPromise,
    json: RawJson,
}

impl StoredPromise {
    /// `promise`, written as JSON once.
    pub fn new(promise: OrderPromise) -> Result<StoredPromise, serde_json::Error> {
        let json = RawJson::to_raw(&promise)?;
        Ok(StoredPromise { promise, json })
    }

    /// The promise `text` holds, with the text kept as it is.
    pub fn from_json(text: String) -> Result<StoredPromise, serde_json::Error> {
        let promise = serde_json::from_str(&text)?;
        Ok(StoredPromise {
            promise,
            json: RawJson::from_string(text)?,
        })
    }

    /// The JSON text.
    pub fn json(&self) -> &RawJson {
        &self.json
    }
}

impl std::ops::Deref for StoredPromise {
    type Target = OrderPromise;
    fn deref(&self) -> &OrderPromise {
        &self.promise
    }
}

impl PartialEq for StoredPromise {
    fn eq(&self, other: &StoredPromise) -> bool {
        self.promise == other.promise
    }
}

impl Eq for StoredPromise {}

impl serde::Serialize for StoredPromise {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for StoredPromise {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StoredPromise, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let promise = serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(StoredPromise {
            promise,
            json: RawJson(raw),
        })
    }
}

/// A refused order change: the rules said no, or the store did.
#[derive(Debug, Error, PartialEq)]
pub enum FlowError {
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sales_domain::orders::TransitionError> for FlowError {
    fn from(e: sales_domain::orders::TransitionError) -> FlowError {
        FlowError::Order(e.into())
    }
}

impl From<crate::DbError> for FlowError {
    fn from(e: crate::DbError) -> FlowError {
        FlowError::Store(e.into())
    }
}
