//! The transactional outbox: events written in the same transaction as the
//! change they announce, and drained by the jobs component.
//!
//! A writer calls [`enqueue`] inside its own [`Db::transaction`] — the
//! event commits with the order, the approval decision or the quotation, or
//! not at all — and after the commit calls `sales_kit::spin::wake_jobs()`
//! (a Redis message on `sales-jobs`). The wake-up is only a hint: if it is
//! lost, the next `tick` finds the row.
//!
//! Lifecycle of a row: `pending` (due at `available_at`) → `running` (claimed
//! by `lease_owner` until `lease_until`) → `done`, or back to `pending` with
//! a later `available_at` after a failure (exponential backoff), or `parked`
//! after the last attempt (with `last_error`; an operator retries it by
//! hand). A `running` row whose lease ran out is claimable again: its
//! consumer died or hung.
//!
//! Topics are `<aggregate>.<past-tense verb>`: `order.confirmed`,
//! `approval.requested`, `quotation.expired`, …

use chrono::{DateTime, Utc};
use sales_domain::ids::EventId;

use crate::db::{Db, DbError, Row, Value};
use crate::{time, StoreError};

const ENTITY: &str = "outbox event";
const COLUMNS: &str = "id, topic, aggregate_kind, aggregate_id, payload, status, attempts,
    available_at, lease_owner, lease_until, last_error, created_at, processed_at";

/// An event to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `order.confirmed`, `approval.requested`, …
    pub topic: String,
    /// `order`, `quotation`, `approval_request`, …
    pub aggregate_kind: String,
    /// The id of the record the event is about.
    pub aggregate_id: String,
    pub payload: serde_json::Value,
}

/// Where a row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventStatus {
    Pending,
    Running,
    Done,
    Parked,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Running => "running",
            EventStatus::Done => "done",
            EventStatus::Parked => "parked",
        }
    }

    pub fn parse(text: &str) -> Option<EventStatus> {
        Some(match text {
            "pending" => EventStatus::Pending,
            "running" => EventStatus::Running,
            "done" => EventStatus::Done,
            "parked" => EventStatus::Parked,
            _ => return None,
        })
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub topic: String,
    pub aggregate_kind: String,
    pub aggregate_id: String,
    pub payload: serde_json::Value,
    pub status: EventStatus,
    /// Attempts started so far (a claim counts one).
    pub attempts: u32,
    /// When the row is due (again).
    pub available_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was done.
    pub processed_at: Option<DateTime<Utc>>,
}

fn decode(row: Row<'_>) -> Result<Event, StoreError> {
    let id = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: ENTITY,
        id: id.to_owned(),
        message,
    };
    let opt_time = |column: &str| -> Result<Option<DateTime<Utc>>, DbError> {
        row.opt_text(column)?.map(time::from_sql).transpose()
    };
    Ok(Event {
        id: EventId::parse(id).map_err(|e| corrupt(e.to_string()))?,
        topic: row.text("topic")?.to_owned(),
        aggregate_kind: row.text("aggregate_kind")?.to_owned(),
        aggregate_id: row.text("aggregate_id")?.to_owned(),
        payload: serde_json::from_str(row.text("payload")?)
            .map_err(|e| corrupt(format!("payload: {e}")))?,
        status: EventStatus::parse(row.text("status")?)
            .ok_or_else(|| corrupt("unknown status".into()))?,
        attempts: u32::try_from(row.int("attempts")?).unwrap_or(u32::MAX),
        available_at: time::from_sql(row.text("available_at")?)?,
        lease_owner: row.opt_text("lease_owner")?.map(str::to_owned),
        lease_until: opt_time("lease_until")?,
        last_error: row.opt_text("last_error")?.map(str::to_owned),
        created_at: time::from_sql(row.text("created_at")?)?,
        processed_at: opt_time("processed_at")?,
    })
}

/// Writes `event`, due now, and returns its id. Call it inside the
/// transaction that makes the change the event announces.
pub fn enqueue(db: &impl Db, event: &NewEvent, now: DateTime<Utc>) -> Result<EventId, StoreError> {
    let id = EventId::new();
    let ts = Value::Text(time::to_sql(now));
    let payload = serde_json::to_string(&event.payload)
        .map_err(|e| DbError::Decode(format!("payload: {e}")))?;
    db.execute(
        "INSERT INTO outbox (id, topic, aggregate_kind, aggregate_id, payload, status,
         attempts, available_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
        &[
            Value::Text(id.to_string()),
            Value::from(&event.topic),
            Value::from(&event.aggregate_kind),
            Value::from(&event.aggregate_id),
            Value::Text(payload),
            ts.clone(),
            ts,
        ],
    )?;
    Ok(id)
}

/// Writes `events` in order, due now, in one statement (each costs the
/// caller's write transaction one statement otherwise), and returns their
/// ids. Call it inside the transaction that makes the changes they
/// announce.
pub fn enqueue_all(
    db: &impl Db,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> Result<Vec<EventId>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ts = time::to_sql(now);
    let mut ids = Vec::with_capacity(events.len());
    let mut params = Vec::with_capacity(events.len() * 7);
    for event in events {
        // Made in order, so the ids keep the events' order (claims go by
        // `available_at`, then id).
        let id = EventId::new();
        let payload = serde_json::to_string(&event.payload)
            .map_err(|e| DbError::Decode(format!("payload: {e}")))?;
        params.extend([
            Value::Text(id.to_string()),
            Value::from(&event.topic),
            Value::from(&event.aggregate_kind),
            Value::from(&event.aggregate_id),
            Value::Text(payload),
            Value::Text(ts.clone()),
            Value::Text(ts.clone()),
        ]);
        ids.push(id);
    }
    db.execute(
        &format!(
            "INSERT INTO outbox (id, topic, aggregate_kind, aggregate_id, payload, status,
             attempts, available_at, created_at) VALUES {}",
            vec!["(?, ?, ?, ?, ?, 'pending', 0, ?, ?)"; events.len()].join(", ")
        ),
        &params,
    )?;
    Ok(ids)
}

pub fn get(db: &impl Db, id: EventId) -> Result<Event, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM outbox WHERE id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity: ENTITY,
            id: id.to_string(),
        }),
    }
}

/// How failed events are retried: `max_attempts` in all, the n-th retry
/// after `base * 2^(n-1)`, never longer than `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: chrono::Duration,
    pub cap: chrono::Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 5 s, 10 s, 20 s, … at most 10 minutes apart.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: chrono::Duration::seconds(5),
            cap: chrono::Duration::minutes(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `attempts` failed ones (≥ 1).
    pub fn backoff(&self, attempts: u32) -> chrono::Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        let factor = 1i32 << exponent;
        self.base
            .checked_mul(factor)
            .map_or(self.cap, |d| d.min(self.cap))
    }
}

fn rows_to_events(rows: &crate::db::Rows) -> Result<Vec<Event>, StoreError> {
    let mut events = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    events.sort_by_key(|e| e.id.to_string());
    Ok(events)
}

/// Claims up to `limit` due events for `owner` until `now + lease`, oldest
/// first: pending rows whose `available_at` has come, and running rows
/// whose lease ran out (their consumer stopped). Each claim counts an
/// attempt. One `UPDATE … WHERE id IN (SELECT …) RETURNING` statement, so
/// two consumers claiming at once never get the same row: SQLite runs the
/// two statements one after the other and the second no longer sees the
/// first one's rows as claimable.
///
/// A running row whose lease ran out after its last attempt is parked
/// instead (a poison event that kills its consumer is not retried forever).
pub fn claim(
    db: &impl Db,
    owner: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u32,
    policy: &RetryPolicy,
) -> Result<Vec<Event>, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    // A read first: an idle queue (most wake-ups under load find the rows
    // already taken) costs no write lock, so consumers do not queue behind
    // the writers they were woken by.
    // Which kinds are due, in one read: the parking write below runs only
    // when a lease ran out (rarely: a consumer stopped), not on every claim.
    let due = db.execute(
        "SELECT EXISTS (SELECT 1 FROM outbox
                        WHERE status = 'pending' AND available_at <= ?) AS pending,
                EXISTS (SELECT 1 FROM outbox
                        WHERE status = 'running' AND lease_until <= ?) AS lapsed",
        &[ts.clone(), ts.clone()],
    )?;
    let (pending, lapsed) = match due.first() {
        Some(r) => (r.int("pending")? != 0, r.int("lapsed")? != 0),
        None => (false, false),
    };
    if !pending && !lapsed {
        return Ok(Vec::new());
    }
    if lapsed {
        db.execute(
            "UPDATE outbox SET status = 'parked', lease_owner = NULL, lease_until = NULL,
             last_error = 'the lease ran out on the last attempt (the consumer stopped)'
             WHERE status = 'running' AND lease_until <= ? AND attempts >= ?",
            &[ts.clone(), Value::from(policy.max_attempts)],
        )?;
    }
    let until = now + lease;
    let rows = db.execute(
        &format!(
            "UPDATE outbox SET status = 'running', lease_owner = ?, lease_until = ?,
             attempts = attempts + 1
             WHERE id IN (
                SELECT id FROM outbox WHERE status = 'pending' AND available_at <= ?
                UNION
                SELECT id FROM outbox WHERE status = 'running' AND lease_until <= ?
                ORDER BY id LIMIT ?)
             RETURNING {COLUMNS}"
        ),
        &[
            Value::from(owner),
            Value::Text(time::to_sql(until)),
            ts.clone(),
            ts,
            Value::from(limit.max(1)),
        ],
    )?;
    rows_to_events(&rows)
}

// ---- one drain at a time ---------------------------------------------------
//
// Every writer wakes the jobs component after its commit, so under load
// most wake-ups arrive while another invocation is already draining, and
// consumers running side by side split the queue into small batches
// (issue 7: each invocation and each transaction costs CPU and the write
// lock). The drain lease (`outbox_drain`, one row, migration 18) lets one
// consumer drain at a time: a wake-up that finds it held and fresh does
// nothing, and the holder lets go only in the statement that sees nothing
// due ([`let_go_if_idle`]). That is what keeps an event from being
// stranded: the writer commits its event, then wakes; the woken consumer
// reads after that commit. If it saw the lease held, the holder had not
// let go yet, and its letting go — a write, so after the event's commit —
// sees the event due and does not let go. If it saw the lease free, it
// drains itself.
//
// The lease is only about who drains: each event is still claimed with its
// own lease and completed by its owner, so two drains at once (a lease that
// ran out under a slow consumer) stay exactly-once. A consumer that dies
// holding the drain leaves it until the lease runs out; the next wake-up or
// tick after that takes it over, with the dead consumer's events.

/// What a woken consumer finds, in one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainCheck {
    /// Another consumer holds the drain lease and it has not run out.
    pub busy: bool,
    /// A pending event is due, or a running one's lease ran out.
    pub due: bool,
}

/// Whether a drain is running (the lease held and fresh) and whether
/// anything is due, in one read: a wake-up that finds the drain busy, or
/// nothing due, costs no write.
pub fn drain_check(db: &impl Db, now: DateTime<Utc>) -> Result<DrainCheck, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    let rows = db.execute(
        "SELECT EXISTS (SELECT 1 FROM outbox_drain
                        WHERE owner IS NOT NULL AND lease_until > ?) AS busy,
                EXISTS (SELECT 1 FROM outbox
                        WHERE status = 'pending' AND (available_at <= ? OR attempts = 0))
                OR EXISTS (SELECT 1 FROM outbox
                        WHERE status = 'running' AND lease_until <= ?) AS due",
        &[ts.clone(), ts.clone(), ts],
    )?;
    Ok(match rows.first() {
        Some(r) => DrainCheck {
            busy: r.int("busy")? != 0,
            due: r.int("due")? != 0,
        },
        None => DrainCheck {
            busy: false,
            due: false,
        },
    })
}

/// Takes the drain lease for `owner` until `now + lease` if nobody holds
/// it or its holder's lease ran out; `false` when another consumer holds it.
pub fn take_drain(
    db: &impl Db,
    owner: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<bool, StoreError> {
    let rows = db.execute(
        "UPDATE outbox_drain SET owner = ?, lease_until = ?
         WHERE id = 1 AND (owner IS NULL OR lease_until <= ?) RETURNING id",
        &[
            Value::from(owner),
            Value::Text(time::to_sql(now + lease)),
            Value::Text(time::to_sql(now)),
        ],
    )?;
    Ok(!rows.is_empty())
}

/// Lets go of `owner`'s drain lease only if nothing is due — in the same
/// statement, so under the write lock: no event can commit between the
/// check and the letting go. `false` when something is due (the caller
/// claims it and tries again) or `owner` no longer holds the lease.
///
/// A new event (no attempt yet) counts as due whatever its `available_at`:
/// its writer read the clock before committing, possibly after `now` was
/// read here, and the holder must not let go past it. Only a retry's
/// backoff puts a row in the future.
pub fn let_go_if_idle(db: &impl Db, owner: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    let rows = db.execute(
        "UPDATE outbox_drain SET owner = NULL, lease_until = NULL
         WHERE id = 1 AND owner = ?
           AND NOT EXISTS (SELECT 1 FROM outbox
                           WHERE status = 'pending' AND (available_at <= ? OR attempts = 0))
           AND NOT EXISTS (SELECT 1 FROM outbox
                           WHERE status = 'running' AND lease_until <= ?)
         RETURNING id",
        &[Value::from(owner), ts.clone(), ts],
    )?;
    Ok(!rows.is_empty())
}

/// Lets go of `owner`'s drain lease whatever is due (a consumer that stops
/// early: it wakes the next one itself, or failed).
pub fn let_go(db: &impl Db, owner: &str) -> Result<(), StoreError> {
    db.execute(
        "UPDATE outbox_drain SET owner = NULL, lease_until = NULL WHERE id = 1 AND owner = ?",
        &[Value::from(owner)],
    )?;
    Ok(())
}

/// How a [`drain_session`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Another consumer is draining: it will see what this wake-up was for.
    Busy,
    /// Nothing was due.
    Idle,
    /// Drained `batches` claimed batches and let go with nothing due.
    Drained { batches: usize },
    /// Stopped at the batch limit with work left and let go: the caller
    /// wakes the next consumer.
    Stopped { batches: usize },
}

/// How a drain claims: who, for how long, how many per batch, how many
/// batches at most.
#[derive(Debug, Clone)]
pub struct DrainPlan<'a> {
    pub owner: &'a str,
    pub lease: chrono::Duration,
    pub batch: u32,
    pub max_batches: usize,
    pub policy: RetryPolicy,
}

/// One consumer's drain, one at a time (see the section's comment): checks
/// whether another consumer is draining or nothing is due (one read), takes
/// the drain lease, claims batches and hands each to `run` until a claim is
/// empty and [`let_go_if_idle`] lets go — or `max_batches` were run, when it
/// lets go anyway and answers [`Session::Stopped`]. `run` performs and
/// completes (or fails) the batch's events; an error from it or from the
/// store lets go of the lease and is returned. `clock` is read before each
/// claim.
pub fn drain_session<E: From<StoreError>>(
    db: &impl Db,
    plan: &DrainPlan<'_>,
    clock: impl Fn() -> DateTime<Utc>,
    run: impl FnMut(Vec<Event>) -> Result<(), E>,
) -> Result<Session, E> {
    let check = drain_check(db, clock())?;
    drain_session_after(db, plan, check, clock, run)
}

/// [`drain_session`] after its [`drain_check`], made by the caller (the
/// jobs component checks before anything else: a wake-up that finds the
/// drain busy costs that one read).
pub fn drain_session_after<E: From<StoreError>>(
    db: &impl Db,
    plan: &DrainPlan<'_>,
    check: DrainCheck,
    clock: impl Fn() -> DateTime<Utc>,
    mut run: impl FnMut(Vec<Event>) -> Result<(), E>,
) -> Result<Session, E> {
    let now = clock();
    if check.busy {
        return Ok(Session::Busy);
    }
    if !check.due {
        return Ok(Session::Idle);
    }
    if !take_drain(db, plan.owner, now, plan.lease)? {
        return Ok(Session::Busy);
    }
    let mut batches = 0;
    let result = (|| {
        // Empty claims count too, so a claim that keeps losing its rows to
        // another consumer cannot loop for ever.
        let mut rounds = 0;
        while rounds < plan.max_batches {
            rounds += 1;
            let now = clock();
            let batch = claim(db, plan.owner, now, plan.lease, plan.batch, &plan.policy)?;
            if batch.is_empty() {
                if let_go_if_idle(db, plan.owner, now)? {
                    return Ok(true);
                }
                continue;
            }
            batches += 1;
            run(batch)?;
        }
        Ok(false)
    })();
    match result {
        Ok(true) => Ok(Session::Drained { batches }),
        Ok(false) => {
            let_go(db, plan.owner)?;
            Ok(Session::Stopped { batches })
        }
        Err(e) => {
            let _ = let_go(db, plan.owner);
            Err(e)
        }
    }
}

fn lost_lease(id: EventId) -> StoreError {
    StoreError::InvalidState {
        entity: ENTITY,
        id: id.to_string(),
        message: "the event is no longer claimed by this consumer (its lease was taken over)"
            .into(),
    }
}

/// Marks a claimed event done. Call it in the transaction that performed
/// the event's effects: when `owner` no longer holds the claim (the lease
/// ran out and another consumer took the row) it fails with
/// [`StoreError::InvalidState`], the transaction rolls back and the effects
/// happen once, by the other consumer.
pub fn complete(
    db: &impl Db,
    id: EventId,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = db.execute(
        "UPDATE outbox SET status = 'done', processed_at = ?, lease_owner = NULL,
         lease_until = NULL
         WHERE id = ? AND status = 'running' AND lease_owner = ? RETURNING id",
        &[
            Value::Text(time::to_sql(now)),
            Value::Text(id.to_string()),
            Value::from(owner),
        ],
    )?;
    if rows.is_empty() {
        return Err(lost_lease(id));
    }
    Ok(())
}

/// [`complete`] of several claimed events in one statement (a drain's
/// batch in one transaction): all are marked done, or none when any of
/// them is no longer running under `owner`'s lease (the lost lease of the
/// first such is the error, and the caller's transaction rolls back).
pub fn complete_all(
    db: &impl Db,
    ids: &[EventId],
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut params = vec![Value::Text(time::to_sql(now)), Value::from(owner)];
    params.extend(ids.iter().map(|id| Value::Text(id.to_string())));
    let rows = db.execute(
        &format!(
            "UPDATE outbox SET status = 'done', processed_at = ?, lease_owner = NULL,
             lease_until = NULL
             WHERE status = 'running' AND lease_owner = ? AND id IN ({}) RETURNING id",
            vec!["?"; ids.len()].join(", ")
        ),
        &params,
    )?;
    if rows.len() != ids.len() {
        let done: Vec<&str> = rows.iter().filter_map(|r| r.text("id").ok()).collect();
        let lost = ids
            .iter()
            .find(|id| !done.contains(&id.to_string().as_str()))
            .copied()
            .unwrap_or(ids[0]);
        return Err(lost_lease(lost));
    }
    Ok(())
}

/// Records a failed attempt of a claimed event: back to `pending` after
/// the policy's backoff, or `parked` when that was the last attempt.
/// Returns the new status.
pub fn fail(
    db: &impl Db,
    id: EventId,
    owner: &str,
    error: &str,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
) -> Result<EventStatus, StoreError> {
    let current = get(db, id)?;
    if current.status != EventStatus::Running || current.lease_owner.as_deref() != Some(owner) {
        return Err(lost_lease(id));
    }
    let (status, available_at) = if current.attempts >= policy.max_attempts {
        (EventStatus::Parked, current.available_at)
    } else {
        (EventStatus::Pending, now + policy.backoff(current.attempts))
    };
    // Errors are kept short: a message, not a dump.
    let error: String = error.chars().take(2000).collect();
    let rows = db.execute(
        "UPDATE outbox SET status = ?, available_at = ?, last_error = ?, lease_owner = NULL,
         lease_until = NULL
         WHERE id = ? AND status = 'running' AND lease_owner = ? RETURNING id",
        &[
            Value::from(status.as_str()),
            Value::Text(time::to_sql(available_at)),
            Value::Text(error),
            Value::Text(id.to_string()),
            Value::from(owner),
        ],
    )?;
    if rows.is_empty() {
        return Err(lost_lease(id));
    }
    Ok(status)
}

/// Puts a parked event back in the queue, due now, with a fresh set of
/// attempts (its last error stays for reference until it succeeds).
/// [`StoreError::InvalidState`] unless it is parked.
pub fn retry_parked(db: &impl Db, id: EventId, now: DateTime<Utc>) -> Result<Event, StoreError> {
    let rows = db.execute(
        &format!(
            "UPDATE outbox SET status = 'pending', attempts = 0, available_at = ?
             WHERE id = ? AND status = 'parked' RETURNING {COLUMNS}"
        ),
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => {
            let current = get(db, id)?;
            Err(StoreError::InvalidState {
                entity: ENTITY,
                id: id.to_string(),
                message: format!(
                    "only a parked event can be retried; this one is {}",
                    current.status.as_str()
                ),
            })
        }
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub status: Option<EventStatus>,
    pub topic: Option<String>,
    pub aggregate_kind: Option<String>,
    pub aggregate_id: Option<String>,
}

const LIST: &str = "outbox";

/// A page of events in id (creation) order.
pub fn list(
    db: &impl Db,
    filter: &EventFilter,
    page: &crate::Page,
) -> Result<(Vec<Event>, Option<String>), StoreError> {
    let mut w = crate::repo::Where::default();
    if let Some(s) = filter.status {
        w.and("status = ?", [Value::from(s.as_str())]);
    }
    if let Some(t) = &filter.topic {
        w.and("topic = ?", [Value::from(t)]);
    }
    if let Some(k) = &filter.aggregate_kind {
        w.and("aggregate_kind = ?", [Value::from(k)]);
    }
    if let Some(a) = &filter.aggregate_id {
        w.and("aggregate_id = ?", [Value::from(a)]);
    }
    if let Some(cursor) = &page.after {
        let after = crate::page::decode_cursor(LIST, cursor, EventId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM outbox {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(crate::page::finish(LIST, items, limit, |e| {
        e.id.to_string()
    }))
}
