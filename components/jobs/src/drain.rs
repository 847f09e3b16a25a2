//! Draining the outbox: claim a batch, run the claimed events' handlers
//! together with marking each done in one transaction, record failures.
//!
//! One consumer drains at a time (`outbox::drain_session`, issue 7): every
//! submission wakes the component, and a wake-up that finds another
//! invocation draining leaves the queue to it (one read) instead of
//! splitting the queue into small batches beside it; the holder lets go of
//! the drain only in the statement that sees nothing due, so no event's
//! wake-up is lost in between.
//!
//! One transaction per claimed batch rather than per event (issue 7: the
//! single SQLite writer is what bounds the app, and each transaction costs
//! a `BEGIN IMMEDIATE` wait and a `COMMIT`): every event still runs the
//! same handlers in the same order, and is marked done in the
//! transaction holding its effects (the batch's events all at once, by
//! `outbox::complete_all`). If anything
//! in the batch fails — a handler, or `complete` because a lease was taken
//! over — the whole transaction rolls back and each event of the batch is
//! run again in a transaction of its own, so a failing event is retried
//! or parked alone and the others are done, exactly as before. Within a
//! batch's transaction an order's rollups and commission are refreshed
//! once, at its last event of the batch ([`refreshed_later`]).

use chrono::{DateTime, Utc};
use sales_domain::ids::EventId;
use sales_store::outbox::{self, DrainCheck, DrainPlan, Event, EventStatus, Session};
use sales_store::{Db, StoreError};

use crate::handlers::{self, HandlerError};
use crate::integrations::Fanout;
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
    /// How the drain session ended (`None` before it ran).
    pub session: Option<Session>,
}

/// Everything one event does inside a transaction, but marking it done.
/// `refresh_order` false leaves out the order's rollup refresh and
/// commission recalculation: a later event of the same order in the same
/// transaction runs them (see [`refreshed_later`]).
fn effects(
    db: &impl Db,
    event: &Event,
    now: DateTime<Utc>,
    refresh_order: bool,
    fanout: &mut Fanout,
) -> Result<(), HandlerError> {
    handlers::handle(db, event, now)?;
    crate::integrations::on_event(db, event, now, fanout)?;
    if refresh_order {
        crate::rollups::handle(db, event)?;
        crate::commissions::handle(db, event, now)?;
    }
    Ok(())
}

/// A batch's events' effects in order, then all of them marked done in one
/// statement (`outbox::complete_all`), inside the caller's transaction.
fn batch_effects(
    db: &impl Db,
    batch: &[Event],
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    let later = refreshed_later(batch);
    // Subscriptions and rules read once for the whole transaction.
    let mut fanout = Fanout::default();
    for (event, later) in batch.iter().zip(later) {
        effects(db, event, now, !later, &mut fanout)?;
    }
    let ids: Vec<EventId> = batch.iter().map(|e| e.id).collect();
    outbox::complete_all(db, &ids, owner, now)?;
    Ok(())
}

/// Whether an `order.*` event refreshes its order's rollups and commission.
fn refreshes_order(event: &Event) -> bool {
    event.topic.starts_with("order.") && event.aggregate_kind == "order"
}

/// For each event of a batch run in one transaction: whether a later event
/// of the batch refreshes the same order. Both refreshes read the order as
/// it is when they run and bring what is derived from it up to date (a
/// version already applied, a commission already booked, change nothing),
/// so within one transaction only the order's last event needs to run them
/// — a submission's `order.submitted` and `order.confirmed` arrive
/// together, and the order is read, its team worked out and its lines
/// decoded once instead of twice (issue 7: the single writer's time per
/// order).
fn refreshed_later(batch: &[Event]) -> Vec<bool> {
    batch
        .iter()
        .enumerate()
        .map(|(i, event)| {
            refreshes_order(event)
                && batch[i + 1..]
                    .iter()
                    .any(|later| refreshes_order(later) && later.aggregate_id == event.aggregate_id)
        })
        .collect()
}

/// Records a failed attempt (back to pending after the backoff, or parked).
fn failed(
    db: &impl Db,
    event: &Event,
    owner: &str,
    message: &str,
    config: &Config,
    report: &mut Report,
) {
    eprintln!(
        "jobs: {} {} attempt {} failed: {message}",
        event.topic, event.id, event.attempts
    );
    let now = chrono::Utc::now();
    match outbox::fail(db, event.id, owner, message, now, &config.retry) {
        Ok(EventStatus::Parked) => report.parked += 1,
        Ok(_) => report.retried += 1,
        // The lease was taken over meanwhile: the other consumer owns the
        // row now.
        Err(e) => eprintln!("jobs: could not record the failure: {e}"),
    }
}

/// One invocation's drain: a [`outbox::drain_session`] — nothing when
/// another consumer is draining (it sees what this wake-up was for) or
/// nothing is due; else this consumer takes the drain lease and runs
/// batches until a claim finds nothing and it lets go. Stopped at
/// [`MAX_BATCHES`] with work left, it wakes the next consumer.
/// `check`: the caller's [`outbox::drain_check`] if it made one.
pub(crate) fn drain(
    db: &impl Db,
    config: &Config,
    check: Option<DrainCheck>,
) -> anyhow::Result<Report> {
    // A fresh owner per invocation: a claim held by an instance that died
    // is never mistaken for this one's.
    let owner = format!("jobs-{}", EventId::new());
    let mut report = Report::default();
    let plan = DrainPlan {
        owner: &owner,
        lease: config.lease,
        batch: BATCH,
        max_batches: MAX_BATCHES,
        policy: config.retry,
    };
    let check = match check {
        Some(c) => c,
        None => outbox::drain_check(db, chrono::Utc::now())?,
    };
    let session = outbox::drain_session_after(db, &plan, check, chrono::Utc::now, |batch| {
        run_batch(db, batch, &owner, config, &mut report);
        Ok::<(), StoreError>(())
    })?;
    if let Session::Stopped { .. } = session {
        // The rest is for the next invocation (the deadline).
        sales_kit::spin::wake_jobs();
    }
    report.session = Some(session);
    Ok(report)
}

/// A claimed batch: the connectors' pushes, then the events' effects in one
/// transaction, or one by one when that fails.
fn run_batch(db: &impl Db, batch: Vec<Event>, owner: &str, config: &Config, report: &mut Report) {
    report.claimed += batch.len();
    let mut ready = Vec::with_capacity(batch.len());
    for event in batch {
        // An outside system that must hear of the event is told first,
        // outside the transaction (connectors: idempotency key = event).
        match crate::connectors::push(db, &event) {
            Ok(()) => ready.push(event),
            Err(message) => failed(db, &event, owner, &message, config, report),
        }
    }
    if ready.len() > 1 {
        let now = chrono::Utc::now();
        let together = db.transaction(|db| batch_effects(db, &ready, owner, now));
        match together {
            Ok(()) => {
                report.done += ready.len();
                return;
            }
            // Rolled back whole: each event again on its own, below.
            Err(e) => eprintln!(
                "jobs: a batch of {} events failed together ({e}); running them one by one",
                ready.len()
            ),
        }
    }
    for event in ready {
        let now = chrono::Utc::now();
        match db.transaction(|db| {
            effects(db, &event, now, true, &mut Fanout::default())?;
            outbox::complete(db, event.id, owner, now).map_err(HandlerError::from)
        }) {
            Ok(()) => report.done += 1,
            Err(e) => failed(db, &event, owner, &e.to_string(), config, report),
        }
    }
}
