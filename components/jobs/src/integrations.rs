//! The integration hub's share of the outbox (issue #9).
//!
//! - [`on_event`], inside each event's transaction (so it happens exactly
//!   once with the event): one webhook delivery row per subscription that
//!   wants the topic (`sub:<subscription>:<event>`), and every active
//!   automation on the topic whose conditions hold runs its actions — each
//!   action claimed in `automation_runs` first, so a replayed event runs
//!   nothing twice.
//! - [`deliver_due`], after the drain and outside any transaction: claims
//!   due deliveries with a lease, POSTs each signed per Standard Webhooks
//!   (`webhook-id` = the delivery id, the same on every attempt and
//!   redelivery; `webhook-timestamp`; `webhook-signature: v1,…`), and
//!   records the attempt: delivered on a 2xx, else retried after the
//!   backoff, parked after the last attempt (Spin variables
//!   `webhook_max_attempts`, `webhook_retry_base_ms`, `webhook_retry_cap_ms`).

use chrono::{DateTime, Utc};
use sales_domain::ids::{OrderId, QuotationId};
use sales_domain::integrations::automations::{Action, Recipient};
use sales_domain::integrations::connectors::{MailMessage, TaskDoc};
use sales_domain::integrations::signature::standard_sign;
use sales_store::downstream::notifications::{self, NewNotification};
use sales_store::integrations::automations::{self, Automation, Subject};
use sales_store::integrations::deliveries::{self, Attempt, NewDelivery};
use sales_store::integrations::subscriptions::{self, Subscription};
use sales_store::orders::{self, FlowError, StatusAction};
use sales_store::outbox::{self, Event, NewEvent, RetryPolicy};
use sales_store::{Db, StoreError};

use crate::handlers::HandlerError;

/// The body every delivery of `event` carries (fixed when written).
fn body(event: &Event) -> String {
    serde_json::json!({
        "type": event.topic,
        "timestamp": event.created_at.to_rfc3339(),
        "data": event.payload,
    })
    .to_string()
}

fn subject(db: &impl Db, event: &Event) -> Result<Option<Subject>, StoreError> {
    let id = &event.aggregate_id;
    match event.aggregate_kind.as_str() {
        "order" => match OrderId::parse(id) {
            Ok(id) => automations::order_subject(db, id).map(Some),
            Err(_) => Ok(None),
        },
        "quotation" => match QuotationId::parse(id) {
            Ok(id) => automations::quotation_subject(db, id).map(Some),
            Err(_) => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The active subscriptions and automation rules, read once per
/// transaction of the drain instead of twice per event (issue 7: with none
/// configured, a submission's two events read both tables twice each).
/// Nothing an event's effects do creates or changes either, and the
/// transaction holds the write lock, so what the first event read is what
/// every later event of the transaction would read. Make a fresh one per
/// transaction.
#[derive(Default)]
pub(crate) struct Fanout {
    read: Option<(Vec<Subscription>, Vec<Automation>)>,
}

impl Fanout {
    /// The subscriptions that want `topic` and the rules on it.
    fn for_topic(
        &mut self,
        db: &impl Db,
        topic: &str,
    ) -> Result<(Vec<Subscription>, Vec<Automation>), StoreError> {
        if self.read.is_none() {
            self.read = Some((subscriptions::active(db)?, automations::active(db)?));
        }
        let (subs, rules) = self
            .read
            .as_ref()
            .map_or((&[][..], &[][..]), |(s, r)| (s.as_slice(), r.as_slice()));
        Ok((
            subs.iter().filter(|s| s.wants(topic)).cloned().collect(),
            rules
                .iter()
                .filter(|r| r.rule.event == topic)
                .cloned()
                .collect(),
        ))
    }
}

pub(crate) fn on_event(
    db: &impl Db,
    event: &Event,
    now: DateTime<Utc>,
    fanout: &mut Fanout,
) -> Result<(), HandlerError> {
    let (subs, rules) = fanout.for_topic(db, &event.topic)?;
    if subs.is_empty() && rules.is_empty() {
        return Ok(());
    }
    let body = body(event);
    for s in subs {
        deliveries::enqueue(
            db,
            &NewDelivery {
                subscription_id: s.id,
                event_id: event.id,
                topic: event.topic.clone(),
                origin: "subscription".into(),
                dedupe_key: format!("sub:{}:{}", s.id, event.id),
                body: body.clone(),
            },
            now,
        )?;
    }
    if rules.is_empty() {
        return Ok(());
    }
    let Some(subject) = subject(db, event)? else {
        return Ok(());
    };
    let facts = automations::facts(db, &subject)?;
    for rule in rules {
        if !rule.rule.matches(&event.topic, &facts) {
            continue;
        }
        for (i, action) in rule.rule.actions.iter().enumerate() {
            if !automations::claim_run(db, rule.id, event.id, i, action.name(), now)? {
                continue;
            }
            let note = run_action(
                db,
                event,
                &subject,
                &rule.rule.name,
                rule.id,
                i,
                action,
                &body,
                now,
            )?;
            if let Some((outcome, detail)) = note {
                automations::note_run(db, rule.id, event.id, i, outcome, &detail)?;
            }
        }
    }
    Ok(())
}

/// Runs one action; answers a note when it did something other than
/// plainly succeed (skipped, with why).
#[allow(clippy::too_many_arguments)]
fn run_action(
    db: &impl Db,
    event: &Event,
    subject: &Subject,
    rule_name: &str,
    rule: sales_domain::ids::AutomationId,
    index: usize,
    action: &Action,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Option<(&'static str, String)>, HandlerError> {
    match action {
        Action::Notify {
            recipients,
            message,
        } => {
            let mut people = Vec::new();
            let mut missing = Vec::new();
            for r in recipients {
                match r {
                    Recipient::Principal { id } => people.push(*id),
                    Recipient::TerritoryManager => {
                        match automations::territory_manager(db, subject.customer_id)? {
                            Some(p) => people.push(p),
                            None => missing.push(
                                "no territory manager with a key for the customer's territory",
                            ),
                        }
                    }
                }
            }
            let text = message
                .clone()
                .unwrap_or_else(|| format!("{rule_name}: {} {}", event.topic, event.aggregate_id));
            // E-mail too, once per recipient, when the mail connector is
            // configured: one outbox event each, sent by the connectors.
            let mail = crate::connectors::endpoint("mail").ok().flatten().is_some();
            for who in people.iter().filter(|_| mail) {
                let address = sales_store::teams::people::by_principal(db, *who)?
                    .and_then(|p| p.to_new().email);
                let Some(to) = address else {
                    missing.push("a recipient has no e-mail address (teams person)");
                    continue;
                };
                outbox::enqueue(
                    db,
                    &NewEvent {
                        topic: crate::connectors::MAIL_TOPIC.into(),
                        aggregate_kind: "principal".into(),
                        aggregate_id: who.to_string(),
                        payload: serde_json::to_value(MailMessage {
                            from: sales_kit::spin::variable("mail_from"),
                            to,
                            subject: rule_name.to_owned(),
                            text: text.clone(),
                        })
                        .map_err(|e| HandlerError::Payload {
                            topic: event.topic.clone(),
                            message: e.to_string(),
                        })?,
                    },
                    now,
                )?;
            }
            for who in &people {
                notifications::notify(
                    db,
                    &NewNotification {
                        recipient: *who,
                        kind: "automation".into(),
                        subject_kind: event.aggregate_kind.clone(),
                        subject_id: event.aggregate_id.clone(),
                        message: text.clone(),
                        dedupe_key: format!("automation:{rule}:{}:{index}", event.id),
                    },
                    now,
                )?;
            }
            Ok((!missing.is_empty()).then(|| {
                (
                    if people.is_empty() {
                        "skipped"
                    } else {
                        "partial"
                    },
                    missing.join("; "),
                )
            }))
        }
        Action::Webhook { subscription_id } => {
            match subscriptions::get(db, *subscription_id) {
                Err(StoreError::NotFound { .. }) => {
                    return Ok(Some((
                        "skipped",
                        format!("subscription {subscription_id} was deleted"),
                    )))
                }
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            deliveries::enqueue(
                db,
                &NewDelivery {
                    subscription_id: *subscription_id,
                    event_id: event.id,
                    topic: event.topic.clone(),
                    origin: format!("automation:{rule}"),
                    dedupe_key: format!("auto:{rule}:{index}:{}", event.id),
                    body: body.to_owned(),
                },
                now,
            )?;
            Ok(None)
        }
        Action::Hold { reason } => {
            let Ok(order) = OrderId::parse(&event.aggregate_id) else {
                return Ok(Some(("skipped", "not an order".into())));
            };
            match orders::change_status(
                db,
                order,
                StatusAction::Hold,
                None,
                Some(reason.clone()),
                now,
            ) {
                Ok(_) => Ok(None),
                Err(FlowError::Order(e)) => Ok(Some(("skipped", e.to_string()))),
                Err(e) => Err(e.into()),
            }
        }
        Action::CreateTask { title, hours } => {
            // Embedded projects hold the tasks planned from service lines
            // (role, slot, booking); a follow-up task goes to the project
            // system, once (this action is claimed once per event).
            if crate::connectors::endpoint("project")
                .ok()
                .flatten()
                .is_none()
            {
                return Ok(Some((
                    "skipped",
                    "no project connector (project_base_url is empty)".into(),
                )));
            }
            let Ok(order_id) = OrderId::parse(&event.aggregate_id) else {
                return Ok(Some(("skipped", "not an order".into())));
            };
            let order = orders::get(db, order_id)?.record.order;
            let project = sales_store::downstream::projects::for_order(db, order_id)?;
            let task = TaskDoc {
                id: sales_domain::ids::EventId::new().to_string(),
                order_id: order_id.to_string(),
                order_number: order.number().to_owned(),
                project_id: project.as_ref().map(|p| p.record.id.to_string()),
                project_number: project.map(|p| p.record.number),
                title: title.clone(),
                hours: *hours,
            };
            outbox::enqueue(
                db,
                &NewEvent {
                    topic: crate::connectors::TASK_TOPIC.into(),
                    aggregate_kind: "order".into(),
                    aggregate_id: order_id.to_string(),
                    payload: serde_json::to_value(task).map_err(|e| HandlerError::Payload {
                        topic: event.topic.clone(),
                        message: e.to_string(),
                    })?,
                },
                now,
            )?;
            Ok(None)
        }
    }
}

/// How deliveries retry.
pub(crate) fn policy() -> RetryPolicy {
    let var = |n: &str| sales_kit::spin::variable(n).and_then(|v| v.trim().parse::<i64>().ok());
    let default = RetryPolicy::default();
    RetryPolicy {
        max_attempts: var("webhook_max_attempts")
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(default.max_attempts),
        base: var("webhook_retry_base_ms")
            .map(chrono::Duration::milliseconds)
            .unwrap_or(default.base),
        cap: var("webhook_retry_cap_ms")
            .map(chrono::Duration::milliseconds)
            .unwrap_or(default.cap),
    }
}

/// Deliveries per invocation, so a message stays inside the deadline.
const MAX_DELIVERIES: usize = 64;

/// Sends what is due (see the module docs); answers how many were tried.
pub(crate) fn deliver_due(db: &impl Db, lease: chrono::Duration) -> Result<usize, StoreError> {
    let owner = format!("webhooks-{}", sales_domain::ids::EventId::new());
    let policy = policy();
    let mut tried = 0;
    while tried < MAX_DELIVERIES {
        let batch = deliveries::claim(db, &owner, Utc::now(), lease, 8)?;
        if batch.is_empty() {
            break;
        }
        for d in batch {
            tried += 1;
            let started = Utc::now();
            let (success, code, error, policy_now) = match subscriptions::get(db, d.subscription_id)
            {
                Err(StoreError::NotFound { .. }) => (
                    false,
                    None,
                    Some("the subscription was deleted".to_owned()),
                    RetryPolicy {
                        max_attempts: 0,
                        ..policy
                    },
                ),
                Err(e) => return Err(e),
                Ok(sub) => {
                    let sub = sub.record;
                    let ts = started.timestamp();
                    let id = d.id.to_string();
                    match standard_sign(&sub.secret, &id, ts, d.body.as_bytes()) {
                        Err(e) => (false, None, Some(e.to_string()), policy),
                        Ok(sig) => {
                            let headers = vec![
                                ("content-type".to_owned(), "application/json".to_owned()),
                                ("webhook-id".to_owned(), id),
                                ("webhook-timestamp".to_owned(), ts.to_string()),
                                ("webhook-signature".to_owned(), sig),
                                (
                                    "user-agent".to_owned(),
                                    "sales-orchestration-webhooks/1".to_owned(),
                                ),
                            ];
                            match sales_kit::spin::post(
                                &sub.url,
                                &headers,
                                d.body.clone().into_bytes(),
                            ) {
                                Ok(code) if (200..300).contains(&code) => {
                                    (true, Some(i64::from(code)), None, policy)
                                }
                                Ok(code) => (
                                    false,
                                    Some(i64::from(code)),
                                    Some(format!("the receiver answered {code}")),
                                    policy,
                                ),
                                Err(e) => (false, None, Some(e), policy),
                            }
                        }
                    }
                }
            };
            let finished = Utc::now();
            let attempt = Attempt {
                attempt: d.attempts,
                at: started,
                status_code: code,
                error,
                duration_ms: (finished - started).num_milliseconds(),
            };
            let status = deliveries::finish_attempt(
                db,
                &d,
                &owner,
                &attempt,
                success,
                &policy_now,
                finished,
            )?;
            eprintln!(
                "jobs: webhook {} ({}) attempt {}: {}",
                d.id,
                d.topic,
                d.attempts,
                status.as_deref().unwrap_or("lease lost")
            );
        }
    }
    Ok(tried)
}
