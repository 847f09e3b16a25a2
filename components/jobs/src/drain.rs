//! Draining the outbox: claim a batch, run each event in its own
//! transaction together with marking it done, record failures.

use sales_domain::ids::EventId;
use sales_store::outbox::{self, EventStatus};
use sales_store::Db;

use crate::handlers;
use crate::Config;

/// Rows claimed per batch.
const BATCH: u32 = 16;
/// Batches per message, so one invocation stays well inside the request
/// deadline; whatever is left waits for the next message or tick.
const MAX_BATCHES: usize = 50;

#[derive(Debug, Default)]
pub(crate) struct Report {
    pub claimed: usize,
    pub done: usize,
    pub retried: usize,
    pub parked: usize,
}

pub(crate) fn drain(db: &impl Db, config: &Config) -> anyhow::Result<Report> {
    // A fresh owner per invocation: a claim held by an instance that died
    // is never mistaken for this one's.
    let owner = format!("jobs-{}", EventId::new());
    let mut report = Report::default();
    for _ in 0..MAX_BATCHES {
        let now = chrono::Utc::now();
        let batch = outbox::claim(db, &owner, now, config.lease, BATCH, &config.retry)?;
        if batch.is_empty() {
            break;
        }
        report.claimed += batch.len();
        for event in batch {
            // An outside system that must hear of the event is told first,
            // outside the transaction (connectors: idempotency key = event).
            if let Err(message) = crate::connectors::push(db, &event) {
                let now = chrono::Utc::now();
                eprintln!(
                    "jobs: {} {} attempt {} failed: {message}",
                    event.topic, event.id, event.attempts
                );
                match outbox::fail(db, event.id, &owner, &message, now, &config.retry) {
                    Ok(EventStatus::Parked) => report.parked += 1,
                    Ok(_) => report.retried += 1,
                    Err(e) => eprintln!("jobs: could not record the failure: {e}"),
                }
                continue;
            }
            let now = chrono::Utc::now();
            let result = db.transaction(|db| {
                handlers::handle(db, &event, now)?;
                crate::integrations::on_event(db, &event, now)?;
                crate::rollups::handle(db, &event)?;
                crate::commissions::handle(db, &event, now)?;
                outbox::complete(db, event.id, &owner, now)?;
                Ok::<(), handlers::HandlerError>(())
            });
            match result {
                Ok(()) => report.done += 1,
                Err(e) => {
                    let message = e.to_string();
                    eprintln!(
                        "jobs: {} {} attempt {} failed: {message}",
                        event.topic, event.id, event.attempts
                    );
                    match outbox::fail(db, event.id, &owner, &message, now, &config.retry) {
                        Ok(EventStatus::Parked) => report.parked += 1,
                        Ok(_) => report.retried += 1,
                        // The lease was taken over meanwhile: the other
                        // consumer owns the row now.
                        Err(e) => eprintln!("jobs: could not record the failure: {e}"),
                    }
                }
            }
        }
    }
    Ok(report)
}
