//! Connectors to outside systems: where they are ([`Endpoint`]) and the
//! JSON each one exchanges — our documented contract, which an adapter in
//! front of a real inventory, manufacturing, project or mail system
//! implements (ARCHITECTURE.md, "Integrations", has the prose version).
//!
//! - **Inventory** — `POST {base}/stock/query` with [`StockQuery`] (SKUs ×
//!   warehouse codes) answers [`StockReply`]: per SKU and warehouse what is
//!   on hand and what is available (on hand less what the outside system
//!   has committed itself). [`StockReply::levels`] validates it.
//! - **Manufacturing** — `PUT {base}/work-orders/{id}` with [`WorkOrderDoc`]:
//!   an upsert by our work order id, the `version` ordering the writes
//!   (an older one is ignored by the receiver), `status` saying planned or
//!   cancelled.
//! - **Projects** — `PUT {base}/projects/{id}` with [`ProjectDoc`] (the
//!   project and its tasks, upserted by version like work orders), and
//!   `POST {base}/tasks` with [`TaskDoc`] for a follow-up task an
//!   automation creates on the order's project.
//! - **Mail** — `POST {base}/messages` with [`MailMessage`].
//! - **CRM** — `PUT {base}/deals/{deal_id}/sales-documents/{document_id}`
//!   with [`CrmStatusDoc`]: the status of a quotation or order that came
//!   from the deal (sent, accepted, lost; confirmed, fulfilled,
//!   cancelled), upserted per document.
//!
//! Every call carries `Authorization: Bearer <key>` when a key is set, and
//! every call with an effect carries an `Idempotency-Key` (the outbox event
//! it comes from), the same on every retry: a receiver that has seen the
//! key answers as before and does nothing twice.
//!
//! No I/O here: the components send, with the timeout the endpoint names.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::IntegrationError;

/// Timeout when a connector names none.
pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;
/// The longest timeout accepted (a request waits on the inventory one).
pub const MAX_TIMEOUT_MS: u64 = 20_000;

/// Where a connector is: a base URL (`http://` or `https://`, no query,
/// no trailing slash kept), an optional API key, and how long a call may
/// take (connect, first byte, between bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base_url: String,
    api_key: Option<String>,
    timeout: Duration,
}

impl Endpoint {
    /// The endpoint a connector's settings describe; `None` when the base
    /// URL is empty (the embedded default is used). `field` names the
    /// setting in errors (`inventory_base_url`).
    pub fn from_settings(
        field: &str,
        base_url: &str,
        api_key: &str,
        timeout_ms: &str,
    ) -> Result<Option<Endpoint>, IntegrationError> {
        let base = base_url.trim();
        if base.is_empty() {
            return Ok(None);
        }
        let base = super::subscriptions::check_url(field, base)?;
        if base.contains(['?', '#']) {
            return Err(IntegrationError::new(
                field,
                "a base URL has no query or fragment",
            ));
        }
        let timeout_ms = match timeout_ms.trim() {
            "" => DEFAULT_TIMEOUT_MS,
            t => t
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
                .ok_or_else(|| {
                    IntegrationError::new(
                        field.replace("base_url", "timeout_ms"),
                        format!("milliseconds between 1 and {MAX_TIMEOUT_MS}, not {t:?}"),
                    )
                })?,
        };
        let key = api_key.trim();
        Ok(Some(Endpoint {
            base_url: base.trim_end_matches('/').to_owned(),
            api_key: (!key.is_empty()).then(|| key.to_owned()),
            timeout: Duration::from_millis(timeout_ms),
        }))
    }

    /// `{base}{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The headers every call carries (JSON, the key as a bearer token).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
            (
                "user-agent".to_owned(),
                "sales-orchestration-connector/1".to_owned(),
            ),
        ];
        if let Some(key) = &self.api_key {
            h.push(("authorization".to_owned(), format!("Bearer {key}")));
        }
        h
    }
}

/// `POST /stock/query`: the positions a check needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockQuery {
    pub skus: Vec<String>,
    pub warehouses: Vec<String>,
}

/// One position in a [`StockReply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub sku: String,
    pub warehouse: String,
    pub on_hand: Decimal,
    pub available: Decimal,
}

/// The answer to a [`StockQuery`]. Unknown fields are allowed (an outside
/// system may say more); positions not asked for are ignored; a position
/// not answered means nothing is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReply {
    pub positions: Vec<StockLevel>,
}

impl StockReply {
    /// What may be promised per (SKU, warehouse code): the available
    /// quantity, never more than on hand. Refuses negative quantities and
    /// a position answered twice, naming it.
    pub fn levels(
        &self,
        query: &StockQuery,
    ) -> Result<BTreeMap<(String, String), Decimal>, IntegrationError> {
        let mut out = BTreeMap::new();
        for (i, p) in self.positions.iter().enumerate() {
            let field = format!("positions[{i}]");
            if p.on_hand < Decimal::ZERO || p.available < Decimal::ZERO {
                return Err(IntegrationError::new(
                    field,
                    format!(
                        "{} in {}: quantities are not negative (on_hand {}, available {})",
                        p.sku, p.warehouse, p.on_hand, p.available
                    ),
                ));
            }
            if !query.skus.contains(&p.sku) || !query.warehouses.contains(&p.warehouse) {
                continue;
            }
            let key = (p.sku.clone(), p.warehouse.clone());
            if out.insert(key, p.available.min(p.on_hand)).is_some() {
                return Err(IntegrationError::new(
                    field,
                    format!("{} in {} is answered twice", p.sku, p.warehouse),
                ));
            }
        }
        Ok(out)
    }
}

/// `PUT /work-orders/{id}`: a work order as we planned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderDoc {
    pub id: String,
    pub number: String,
    pub order_id: String,
    pub order_number: String,
    pub line_id: String,
    pub sku: String,
    pub quantity: Decimal,
    pub finish: NaiveDate,
    /// `planned` or `cancelled`.
    pub status: String,
    /// Higher wins; the receiver ignores a version it has passed.
    pub version: i64,
}

/// One task of a [`ProjectDoc`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectTaskDoc {
    pub id: String,
    pub line_id: String,
    pub sku: String,
    pub role: String,
    pub hours: Decimal,
    pub start: NaiveDate,
    pub finish: NaiveDate,
    pub status: String,
}

/// `PUT /projects/{id}`: a project and its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectDoc {
    pub id: String,
    pub number: String,
    pub order_id: String,
    pub order_number: String,
    pub customer_id: String,
    /// `planned` or `cancelled`.
    pub status: String,
    pub version: i64,
    pub tasks: Vec<ProjectTaskDoc>,
}

/// `POST /tasks`: a follow-up task an automation's `create_task` asks for,
/// on the order's project (the receiver creates the project for the order
/// when it has none). `id` is ours; the receiver creates it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDoc {
    pub id: String,
    pub order_id: String,
    pub order_number: String,
    /// Our project of the order, when it has one (service lines).
    pub project_id: Option<String>,
    pub project_number: Option<String>,
    pub title: String,
    pub hours: Option<Decimal>,
}

/// `POST /messages`: one e-mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    /// The sender (`mail_from`); absent: the mail service's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Which of our events a CRM hears of, and the status each one reports.
pub const CRM_STATUS_EVENTS: &[(&str, &str)] = &[
    ("quotation.sent", "sent"),
    ("quotation.accepted", "accepted"),
    ("quotation.lost", "lost"),
    ("order.confirmed", "confirmed"),
    ("order.fulfilled", "fulfilled"),
    ("order.cancelled", "cancelled"),
];

/// The status a CRM is told for `topic`, if it is told at all.
pub fn crm_status(topic: &str) -> Option<&'static str> {
    CRM_STATUS_EVENTS
        .iter()
        .find(|(t, _)| *t == topic)
        .map(|(_, s)| *s)
}

/// **CRM** — `PUT {base}/deals/{deal_id}/sales-documents/{document_id}`:
/// an upsert of where a quotation or order that came from (or is linked
/// to) the deal stands. The receiver keeps, per document, the update with
/// the latest `occurred_at` (an older one arriving late is ignored), and
/// does each `event_id` (also the `Idempotency-Key`) once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmStatusDoc {
    pub deal_id: String,
    /// The CRM's account id of the customer, when known.
    pub account_id: Option<String>,
    /// `quotation` or `order`.
    pub document_kind: String,
    pub document_id: String,
    pub number: String,
    /// `sent`, `accepted`, `lost` (quotation); `confirmed`, `fulfilled`,
    /// `cancelled` (order).
    pub status: String,
    /// The event it reports (`order.confirmed`).
    pub event: String,
    pub event_id: String,
    /// RFC 3339, when the event happened here.
    pub occurred_at: String,
    /// The document's grand total, tax included, when priced.
    pub grand_total: Option<Decimal>,
    pub currency: String,
    /// For an order made from a quotation: that quotation.
    pub quotation_id: Option<String>,
    /// A lost quotation's reason, an order's hold/cancel reason.
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crm_hears_of_sent_accepted_lost_confirmed_fulfilled_and_cancelled_only() {
        assert_eq!(crm_status("quotation.sent"), Some("sent"));
        assert_eq!(crm_status("quotation.accepted"), Some("accepted"));
        assert_eq!(crm_status("quotation.lost"), Some("lost"));
        assert_eq!(crm_status("order.confirmed"), Some("confirmed"));
        assert_eq!(crm_status("order.fulfilled"), Some("fulfilled"));
        assert_eq!(crm_status("order.cancelled"), Some("cancelled"));
        for quiet in [
            "quotation.created",
            "quotation.revised",
            "order.held",
            "order.shipped",
        ] {
            assert_eq!(crm_status(quiet), None, "{quiet}");
        }
        // Every status event is a topic the system writes.
        for (topic, _) in CRM_STATUS_EVENTS {
            assert!(super::super::TOPICS.contains(topic), "{topic}");
        }
    }

    fn query() -> StockQuery {
        StockQuery {
            skus: vec!["A".into(), "B".into()],
            warehouses: vec!["MAIN".into()],
        }
    }

    fn level(sku: &str, wh: &str, on_hand: i64, available: i64) -> StockLevel {
        StockLevel {
            sku: sku.into(),
            warehouse: wh.into(),
            on_hand: on_hand.into(),
            available: available.into(),
        }
    }

    #[test]
    fn an_empty_base_url_means_the_embedded_default() {
        assert_eq!(
            Endpoint::from_settings("inventory_base_url", "  ", "k", "").unwrap(),
            None
        );
    }

    #[test]
    fn an_endpoint_keeps_its_base_without_the_trailing_slash_and_sends_the_key() {
        let e = Endpoint::from_settings("inventory_base_url", "http://127.0.0.1:9/inv/", "s3", "")
            .unwrap()
            .unwrap();
        assert_eq!(e.url("/stock/query"), "http://127.0.0.1:9/inv/stock/query");
        assert_eq!(e.timeout(), Duration::from_millis(DEFAULT_TIMEOUT_MS));
        assert!(e
            .headers()
            .contains(&("authorization".into(), "Bearer s3".into())));
    }

    #[test]
    fn a_bad_base_url_or_timeout_names_the_setting() {
        let e = Endpoint::from_settings("inventory_base_url", "ftp://x", "", "").unwrap_err();
        assert_eq!(e.field, "inventory_base_url");
        let e = Endpoint::from_settings("inventory_base_url", "http://x", "", "0").unwrap_err();
        assert_eq!(e.field, "inventory_timeout_ms");
        let e =
            Endpoint::from_settings("inventory_base_url", "http://x", "", "999999").unwrap_err();
        assert_eq!(e.field, "inventory_timeout_ms");
    }

    #[test]
    fn stock_levels_are_what_is_available_never_more_than_on_hand() {
        let reply = StockReply {
            positions: vec![
                level("A", "MAIN", 10, 7),
                level("B", "MAIN", 3, 5),
                level("C", "MAIN", 9, 9),
                level("A", "OTHER", 9, 9),
            ],
        };
        let levels = reply.levels(&query()).unwrap();
        assert_eq!(levels.len(), 2, "positions not asked for are ignored");
        assert_eq!(levels[&("A".into(), "MAIN".into())], Decimal::from(7));
        assert_eq!(levels[&("B".into(), "MAIN".into())], Decimal::from(3));
    }

    #[test]
    fn negative_or_repeated_positions_are_refused() {
        let negative = StockReply {
            positions: vec![level("A", "MAIN", -1, 0)],
        };
        assert_eq!(negative.levels(&query()).unwrap_err().field, "positions[0]");
        let twice = StockReply {
            positions: vec![level("A", "MAIN", 1, 1), level("A", "MAIN", 2, 2)],
        };
        assert_eq!(twice.levels(&query()).unwrap_err().field, "positions[1]");
    }
}
