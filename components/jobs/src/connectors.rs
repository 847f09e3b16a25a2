//! The outside manufacturing, project and mail systems (issue #9 items 5
//! and 6): each outbox event that one of them must hear of is sent there
//! by [`push`], *before* the event's transaction and outside it, with the
//! event id as `Idempotency-Key` — the same key on every retry, so the
//! receiver does each effect once even when we send twice (a failure
//! after its 2xx, a lease taken over). A failed push fails the event: it is
//! retried with the outbox's backoff and parked after the last attempt
//! with the reason, visible at `/api/v1/outbox?status=parked`.
//!
//! - `work_order.planned|changed|cancelled` → manufacturing,
//!   `PUT {manufacturing_base_url}/work-orders/{id}` ([`WorkOrderDoc`]).
//! - `project.planned|changed|cancelled` → projects,
//!   `PUT {project_base_url}/projects/{id}` ([`ProjectDoc`], the project
//!   and its tasks as they are now, with the project's version).
//! - [`MAIL_TOPIC`] (written by an automation's `notify`, one per
//!   recipient) → mail, `POST {mail_base_url}/messages` ([`MailMessage`]).
//! - [`TASK_TOPIC`] (an automation's `create_task`) → projects,
//!   `POST {project_base_url}/tasks` ([`TaskDoc`]).
//!
//! - `quotation.sent|accepted|lost`, `order.confirmed|fulfilled|cancelled`
//!   of a document linked to a CRM deal (its external references, or for
//!   an order those of the quotation it was made from) → CRM,
//!   `PUT {crm_base_url}/deals/{deal}/sales-documents/{id}`
//!   ([`CrmStatusDoc`]).
//!
//! A connector whose base URL is empty is not used: the embedded records
//! (work orders, projects, the in-app inbox) are all there is. With one,
//! the embedded records stay — they are the plan the promise reads (a work
//! order's receipt and pegged units, a task's booked hours) — and the
//! outside system is where the work is carried out.

use sales_domain::downstream::{ProjectId, WorkOrderId};
use sales_domain::ids::{OrderId, QuotationId};
use sales_domain::integrations::connectors::{
    crm_status, CrmStatusDoc, Endpoint, MailMessage, ProjectDoc, ProjectTaskDoc, TaskDoc,
    WorkOrderDoc,
};
use sales_store::downstream::{projects, work_orders};
use sales_store::integrations::crm::CRM;
use sales_store::integrations::references::{self, ExternalRef};
use sales_store::outbox::Event;
use sales_store::{Db, StoreError};

/// The outbox topic of one e-mail to one recipient.
pub(crate) const MAIL_TOPIC: &str = "notification.email_requested";
/// The outbox topic of an automation's follow-up task.
pub(crate) const TASK_TOPIC: &str = "automation.task_requested";

/// A connector's endpoint from its Spin variables (`{name}_base_url`,
/// `{name}_api_key`, `{name}_timeout_ms`); `Ok(None)` when not configured.
pub(crate) fn endpoint(name: &str) -> Result<Option<Endpoint>, String> {
    let var = |suffix: &str| sales_kit::spin::variable(&format!("{name}_{suffix}"));
    Endpoint::from_settings(
        &format!("{name}_base_url"),
        &var("base_url").unwrap_or_default(),
        &var("api_key").unwrap_or_default(),
        &var("timeout_ms").unwrap_or_default(),
    )
    .map_err(|e| e.to_string())
}

/// Sends `event` to the outside system that must hear of it, if any.
pub(crate) fn push(db: &impl Db, event: &Event) -> Result<(), String> {
    let family = event.topic.split('.').next().unwrap_or("");
    match (family, event.topic.as_str()) {
        ("work_order", _) => {
            let Some(endpoint) = endpoint("manufacturing")? else {
                return Ok(());
            };
            let doc = work_order(db, event).map_err(|e| e.to_string())?;
            send(
                &endpoint,
                "PUT",
                &format!("/work-orders/{}", doc.id),
                event,
                &doc,
            )
        }
        ("project", _) => {
            let Some(endpoint) = endpoint("project")? else {
                return Ok(());
            };
            let doc = project(db, event).map_err(|e| e.to_string())?;
            send(
                &endpoint,
                "PUT",
                &format!("/projects/{}", doc.id),
                event,
                &doc,
            )
        }
        (_, TASK_TOPIC) => {
            let Some(endpoint) = endpoint("project")? else {
                eprintln!(
                    "jobs: {} {}: project_base_url is empty now; not sent",
                    event.topic, event.id
                );
                return Ok(());
            };
            let task: TaskDoc = serde_json::from_value(event.payload.clone())
                .map_err(|e| format!("payload of {}: {e}", event.topic))?;
            send(&endpoint, "POST", "/tasks", event, &task)
        }
        (_, MAIL_TOPIC) => {
            let Some(endpoint) = endpoint("mail")? else {
                eprintln!(
                    "jobs: {} {}: mail_base_url is empty now; not sent",
                    event.topic, event.id
                );
                return Ok(());
            };
            let message: MailMessage = serde_json::from_value(event.payload.clone())
                .map_err(|e| format!("payload of {}: {e}", event.topic))?;
            send(&endpoint, "POST", "/messages", event, &message)
        }
        _ => match crm_status(&event.topic) {
            Some(status) => crm(db, event, status),
            None => Ok(()),
        },
    }
}

/// Tells the CRM where a quotation or order of one of its deals stands
/// (`crm_base_url` set; the document — or, for an order, the quotation it
/// was made from — carries a `crm` deal reference). One upsert per event,
/// `Idempotency-Key` = the event id; a failure fails the event (outbox
/// retries with backoff, then parks it with the reason).
fn crm(db: &impl Db, event: &Event, status: &str) -> Result<(), String> {
    let Some(endpoint) = endpoint("crm")? else {
        return Ok(());
    };
    let Some(doc) = crm_doc(db, event, status).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    send(
        &endpoint,
        "PUT",
        &format!(
            "/deals/{}/sales-documents/{}",
            url_segment(&doc.deal_id),
            doc.document_id
        ),
        event,
        &doc,
    )
}

/// `s` as one URL path segment (a CRM's deal id is its own).
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The status document for `event`, or `None` when the document is not
/// linked to a CRM deal.
fn crm_doc(db: &impl Db, event: &Event, status: &str) -> Result<Option<CrmStatusDoc>, StoreError> {
    let deal_of = |refs: &[ExternalRef]| {
        let find = |kind: &str| {
            refs.iter()
                .find(|r| r.system == CRM && r.kind == kind)
                .map(|r| r.id.clone())
        };
        find("deal").map(|d| (d, find("account")))
    };
    let kind = event.aggregate_kind.as_str();
    let id = event.aggregate_id.as_str();
    let mut link = deal_of(&references::of(db, kind, id)?);
    let p = &event.payload;
    let text = |k: &str| {
        p.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let (number, total, currency, quotation_id, reason) = match kind {
        "order" => {
            let oid = OrderId::parse(id).map_err(|e| bad(event, e))?;
            let o = sales_store::orders::get(db, oid)?.record.order;
            let quotation_id = o.quotation_id().map(|q| q.to_string());
            if link.is_none() {
                if let Some(q) = &quotation_id {
                    link = deal_of(&references::of(db, "quotation", q)?);
                }
            }
            (
                o.number().to_owned(),
                o.totals().map(|t| t.grand_total.amount()),
                o.currency().code().to_owned(),
                quotation_id,
                text("reason").or_else(|| {
                    p.pointer("/detail/reason")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                }),
            )
        }
        "quotation" => {
            if link.is_none() {
                return Ok(None);
            }
            let qid = QuotationId::parse(id).map_err(|e| bad(event, e))?;
            let q = sales_store::quotations::get(db, qid)?.record;
            (
                q.number().to_string(),
                q.totals().map(|t| t.gross_total.amount()),
                q.currency().code().to_owned(),
                None,
                text("reason"),
            )
        }
        _ => return Ok(None),
    };
    let Some((deal_id, account_id)) = link else {
        return Ok(None);
    };
    Ok(Some(CrmStatusDoc {
        deal_id,
        account_id,
        document_kind: kind.to_owned(),
        document_id: id.to_owned(),
        number,
        status: status.to_owned(),
        event: event.topic.clone(),
        event_id: event.id.to_string(),
        occurred_at: event
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        grand_total: total,
        currency,
        quotation_id,
        reason,
    }))
}

fn send<T: serde::Serialize>(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    event: &Event,
    body: &T,
) -> Result<(), String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let mut headers = endpoint.headers();
    headers.push(("idempotency-key".to_owned(), event.id.to_string()));
    let url = endpoint.url(path);
    let reply = sales_kit::outbound::call(method, &url, &headers, Some(&body), endpoint.timeout())
        .map_err(|e| e.to_string())?;
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&reply.body);
    let snippet: String = text.chars().take(200).collect();
    Err(format!(
        "{method} {url} answered {}: {snippet}",
        reply.status
    ))
}

fn bad(event: &Event, why: impl std::fmt::Display) -> StoreError {
    StoreError::Db(sales_store::DbError::Decode(format!(
        "event {} ({}): {why}",
        event.id, event.topic
    )))
}

/// The work order as the event announced it (its version and status),
/// with the product's SKU.
fn work_order(db: &impl Db, event: &Event) -> Result<WorkOrderDoc, StoreError> {
    let id = WorkOrderId::parse(&event.aggregate_id).map_err(|e| bad(event, e))?;
    let current = work_orders::get(db, id)?;
    let wo = current.record;
    let p = &event.payload;
    let sku = sales_store::products::get(db, wo.product_id)?
        .record
        .sku()
        .to_owned();
    Ok(WorkOrderDoc {
        id: wo.id.to_string(),
        number: wo.number,
        order_id: wo.order_id.to_string(),
        order_number: wo.order_number,
        line_id: wo.line_id.to_string(),
        sku,
        quantity: p
            .get("quantity")
            .and_then(|q| serde_json::from_value(q.clone()).ok())
            .unwrap_or(wo.quantity),
        finish: p
            .get("finish")
            .and_then(|q| serde_json::from_value(q.clone()).ok())
            .unwrap_or(wo.finish),
        status: p
            .get("status")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(wo.status.as_str())
            .to_owned(),
        version: p
            .get("version")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(current.version),
    })
}

/// The project and its tasks as they are now (a later event sends a later
/// version; the receiver keeps the highest).
fn project(db: &impl Db, event: &Event) -> Result<ProjectDoc, StoreError> {
    let id = ProjectId::parse(&event.aggregate_id).map_err(|e| bad(event, e))?;
    let current = projects::get(db, id)?;
    let p = current.record;
    let mut tasks = Vec::with_capacity(p.tasks.len());
    for t in &p.tasks {
        let t = &t.record;
        let sku = sales_store::products::get(db, t.product_id)?
            .record
            .sku()
            .to_owned();
        tasks.push(ProjectTaskDoc {
            id: t.id.to_string(),
            line_id: t.line_id.to_string(),
            sku,
            role: t.role_id.to_string(),
            hours: t.hours,
            start: t.start,
            finish: t.finish,
            status: t.status.as_str().to_owned(),
        });
    }
    Ok(ProjectDoc {
        id: p.id.to_string(),
        number: p.number,
        order_id: p.order_id.to_string(),
        order_number: p.order_number,
        customer_id: p.customer_id.to_string(),
        status: p.status.as_str().to_owned(),
        version: current.version,
        tasks,
    })
}
