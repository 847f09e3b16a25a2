//! The outbox: events commit or roll back with the caller's transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use sales_store::db::{Db, DbError, Value};
use sales_store::outbox::{
    self, DrainCheck, DrainPlan, Event, EventFilter, EventStatus, NewEvent, RetryPolicy, Session,
};
use sales_store::rusqlite_db::RusqliteDb;
use sales_store::{Page, StoreError};
use serde_json::json;

use crate::common::{at, db, on_threads, planned_where};

fn event(topic: &str) -> NewEvent {
    NewEvent {
        topic: topic.into(),
        aggregate_kind: "order".into(),
        aggregate_id: "0190f000-0000-7000-8000-000000000001".into(),
        payload: json!({"n": 1}),
    }
}

#[test]
fn an_event_is_written_pending_and_due_now_inside_the_callers_transaction() {
    let db = db();
    let id = db
        .transaction(|db| outbox::enqueue(db, &event("order.confirmed"), at(2)))
        .unwrap();
    let e = outbox::get(&db, id).unwrap();
    assert_eq!(e.topic, "order.confirmed");
    assert_eq!(e.status, EventStatus::Pending);
    assert_eq!((e.attempts, e.available_at), (0, at(2)));
    assert_eq!(e.payload, json!({"n": 1}));

    // A transaction that fails leaves no event behind.
    let failed: Result<(), StoreError> = db.transaction(|db| {
        outbox::enqueue(db, &event("order.cancelled"), at(2))?;
        Err(StoreError::BadCursor("boom".into()))
    });
    assert!(failed.is_err());
    let n = db.execute("SELECT count(*) AS n FROM outbox", &[]).unwrap();
    assert_eq!(n.first().unwrap().int("n").unwrap(), 1);
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base: Duration::seconds(10),
        cap: Duration::seconds(25),
    }
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let p = policy();
    assert_eq!(p.backoff(1), Duration::seconds(10));
    assert_eq!(p.backoff(2), Duration::seconds(20));
    assert_eq!(p.backoff(3), Duration::seconds(25));
    assert_eq!(p.backoff(40), Duration::seconds(25));
}

#[test]
fn a_claim_takes_due_rows_once_and_a_lease_that_runs_out_frees_them() {
    let db = db();
    let a = outbox::enqueue(&db, &event("order.confirmed"), at(2)).unwrap();
    let soon = at(2) + Duration::seconds(10);
    let b = outbox::enqueue(&db, &event("order.amended"), soon).unwrap();
    let lease = Duration::seconds(30);
    // Only what is due.
    let got = outbox::claim(&db, "one", at(2), lease, 10, &policy()).unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a]);
    assert_eq!(got[0].status, EventStatus::Running);
    assert_eq!(got[0].attempts, 1);
    assert_eq!(got[0].lease_owner.as_deref(), Some("one"));
    // Claimed rows are not claimed again while the lease holds.
    let got = outbox::claim(&db, "two", soon, lease, 10, &policy()).unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]);
    assert!(outbox::claim(&db, "two", soon, lease, 10, &policy())
        .unwrap()
        .is_empty());
    // `one` stopped: a day later its lease is long over and `two` takes `a`.
    let got = outbox::claim(&db, "two", at(4), lease, 10, &policy()).unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(got[0].attempts, 2);
    // `one` can no longer complete or fail it.
    assert!(matches!(
        outbox::complete(&db, a, "one", at(4)),
        Err(StoreError::InvalidState { .. })
    ));
    assert!(outbox::fail(&db, a, "one", "x", at(4), &policy()).is_err());
    outbox::complete(&db, a, "two", at(4)).unwrap();
    let done = outbox::get(&db, a).unwrap();
    assert_eq!(done.status, EventStatus::Done);
    assert_eq!(done.processed_at, Some(at(4)));
    assert_eq!(done.lease_owner, None);
}

#[test]
fn failures_back_off_and_the_last_attempt_parks_the_event_until_retried_by_hand() {
    let db = db();
    let id = outbox::enqueue(&db, &event("order.confirmed"), at(2)).unwrap();
    let p = policy();
    let lease = Duration::seconds(30);
    let t0 = at(2);
    outbox::claim(&db, "c", t0, lease, 1, &p).unwrap();
    assert_eq!(
        outbox::fail(&db, id, "c", "boom 1", t0, &p).unwrap(),
        EventStatus::Pending
    );
    let e = outbox::get(&db, id).unwrap();
    assert_eq!(e.available_at, t0 + Duration::seconds(10));
    assert_eq!(e.last_error.as_deref(), Some("boom 1"));
    // Not due before the backoff has passed.
    assert!(
        outbox::claim(&db, "c", t0 + Duration::seconds(9), lease, 1, &p)
            .unwrap()
            .is_empty()
    );
    let t1 = t0 + Duration::seconds(10);
    assert_eq!(outbox::claim(&db, "c", t1, lease, 1, &p).unwrap().len(), 1);
    outbox::fail(&db, id, "c", "boom 2", t1, &p).unwrap();
    assert_eq!(
        outbox::get(&db, id).unwrap().available_at,
        t1 + Duration::seconds(20)
    );
    let t2 = t1 + Duration::seconds(20);
    assert_eq!(outbox::claim(&db, "c", t2, lease, 1, &p).unwrap().len(), 1);
    assert_eq!(
        outbox::fail(&db, id, "c", "boom 3", t2, &p).unwrap(),
        EventStatus::Parked
    );
    let parked = outbox::get(&db, id).unwrap();
    assert_eq!(parked.status, EventStatus::Parked);
    assert_eq!(parked.attempts, 3);
    assert!(outbox::claim(&db, "c", at(20), lease, 1, &p)
        .unwrap()
        .is_empty());
    let listed = outbox::list(
        &db,
        &EventFilter {
            status: Some(EventStatus::Parked),
            ..Default::default()
        },
        &Page::first(10),
    )
    .unwrap()
    .0;
    assert_eq!(listed.len(), 1);

    // By hand: pending again, due now, a fresh set of attempts.
    let retried = outbox::retry_parked(&db, id, at(21)).unwrap();
    assert_eq!(retried.status, EventStatus::Pending);
    assert_eq!((retried.attempts, retried.available_at), (0, at(21)));
    assert!(matches!(
        outbox::retry_parked(&db, id, at(21)),
        Err(StoreError::InvalidState { .. })
    ));
    assert_eq!(
        outbox::claim(&db, "c", at(21), lease, 1, &p).unwrap().len(),
        1
    );
}

#[test]
fn a_consumer_that_dies_on_the_last_attempt_gets_the_event_parked() {
    let db = db();
    let id = outbox::enqueue(&db, &event("order.confirmed"), at(2)).unwrap();
    let p = RetryPolicy {
        max_attempts: 1,
        ..policy()
    };
    outbox::claim(&db, "dies", at(2), Duration::seconds(30), 1, &p).unwrap();
    assert!(
        outbox::claim(&db, "next", at(3), Duration::seconds(30), 1, &p)
            .unwrap()
            .is_empty()
    );
    let e = outbox::get(&db, id).unwrap();
    assert_eq!(e.status, EventStatus::Parked);
    assert!(e.last_error.unwrap().contains("lease"));
}

#[test]
fn lists_filter_by_status_topic_and_aggregate_in_pages() {
    let db = db();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut e = event(if i % 2 == 0 {
            "order.confirmed"
        } else {
            "approval.requested"
        });
        e.aggregate_id = format!("agg-{}", i % 2);
        ids.push(outbox::enqueue(&db, &e, at(2)).unwrap());
    }
    let f = EventFilter {
        topic: Some("order.confirmed".into()),
        ..Default::default()
    };
    let (page1, next) = outbox::list(&db, &f, &Page::first(2)).unwrap();
    assert_eq!(
        page1.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[0], ids[2]]
    );
    let (page2, next) = outbox::list(&db, &f, &Page::after(2, next.unwrap())).unwrap();
    assert_eq!(page2.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[4]]);
    assert!(next.is_none());
    let f = EventFilter {
        aggregate_kind: Some("order".into()),
        aggregate_id: Some("agg-1".into()),
        status: Some(EventStatus::Pending),
        ..Default::default()
    };
    assert_eq!(outbox::list(&db, &f, &Page::first(10)).unwrap().0.len(), 2);
    assert!(matches!(
        outbox::list(&db, &EventFilter::default(), &Page::after(2, "zz")),
        Err(StoreError::BadCursor(_))
    ));
}

#[test]
fn two_connections_claiming_at_once_never_both_get_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.db");
    let setup = RusqliteDb::open(&path).unwrap();
    sales_store::migrate(&setup).unwrap();
    let total = 200;
    for _ in 0..total {
        outbox::enqueue(&setup, &event("order.confirmed"), at(2)).unwrap();
    }
    let claimed = on_threads(&path, 4, |t, db| {
        let owner = format!("consumer-{t}");
        let mut mine = Vec::new();
        loop {
            let got =
                outbox::claim(&db, &owner, at(2), Duration::minutes(5), 7, &policy()).unwrap();
            if got.is_empty() {
                break;
            }
            for e in got {
                assert_eq!(e.lease_owner.as_deref(), Some(owner.as_str()));
                mine.push(e.id);
            }
        }
        mine
    });
    let mut seen = BTreeSet::new();
    let mut count = 0;
    for mine in claimed {
        for id in mine {
            count += 1;
            assert!(seen.insert(id), "{id} claimed twice");
        }
    }
    assert_eq!((count, seen.len()), (total, total));
}

/// `enqueue_all` writes several events in one statement, in order, as
/// `enqueue` would one by one; `complete_all` marks a claimed batch done in
/// one statement, and none of it when one event's lease was taken over.
#[test]
fn events_are_enqueued_and_completed_together_or_not_at_all() {
    let db = db();
    let topics = ["order.submitted", "order.confirmed", "order.fulfilled"];
    let events: Vec<NewEvent> = topics.iter().map(|t| event(t)).collect();
    let ids = db
        .transaction(|db| outbox::enqueue_all(db, &events, at(2)))
        .unwrap();
    assert_eq!(ids.len(), 3);
    let lease = Duration::seconds(30);
    let got = outbox::claim(&db, "one", at(2), lease, 10, &policy()).unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    assert_eq!(
        got.iter().map(|e| e.topic.as_str()).collect::<Vec<_>>(),
        topics
    );
    for e in &got {
        assert_eq!(e.payload, json!({"n": 1}));
        assert_eq!(
            (e.aggregate_kind.as_str(), e.available_at),
            ("order", at(2))
        );
    }
    assert!(outbox::enqueue_all(&db, &[], at(2)).unwrap().is_empty());

    // `two` takes the last one over once the lease ran out: `one` cannot
    // complete the batch, and its transaction leaves all three as they were.
    let later = at(2) + Duration::seconds(60);
    outbox::fail(&db, ids[2], "one", "x", at(2), &policy()).unwrap();
    let taken = outbox::claim(&db, "two", later, lease, 10, &policy()).unwrap();
    assert_eq!(
        taken.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[0], ids[1], ids[2]]
    );
    let refused = db.transaction(|db| outbox::complete_all(db, &ids, "one", later));
    assert!(
        matches!(refused, Err(StoreError::InvalidState { .. })),
        "{refused:?}"
    );
    for id in &ids {
        assert_eq!(outbox::get(&db, *id).unwrap().status, EventStatus::Running);
    }
    db.transaction(|db| outbox::complete_all(db, &ids, "two", later))
        .unwrap();
    for id in &ids {
        let done = outbox::get(&db, *id).unwrap();
        assert_eq!(
            (done.status, done.processed_at),
            (EventStatus::Done, Some(later))
        );
    }
}

// ---- one drain at a time (issue 7): `drain_session` -------------------------

/// A file database and a second connection to it (a consumer's and a
/// writer's), migrated, with a table the tests' "effects" go to.
fn two_connections() -> (tempfile::TempDir, RusqliteDb, RusqliteDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.db");
    let one = RusqliteDb::open(&path).unwrap();
    sales_store::migrate(&one).unwrap();
    one.execute("CREATE TABLE effects (event_id TEXT NOT NULL)", &[])
        .unwrap();
    let two = RusqliteDb::open(&path).unwrap();
    (dir, one, two)
}

fn plan(owner: &str) -> DrainPlan<'_> {
    DrainPlan {
        owner,
        lease: Duration::seconds(30),
        batch: 4,
        max_batches: 50,
        policy: policy(),
    }
}

/// A batch's effect (one row per event) and its completion, in one
/// transaction, as the jobs component does.
fn perform(
    db: &impl Db,
    batch: &[Event],
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.transaction(|db| {
        for e in batch {
            db.execute(
                "INSERT INTO effects (event_id) VALUES (?)",
                &[Value::Text(e.id.to_string())],
            )?;
        }
        let ids: Vec<_> = batch.iter().map(|e| e.id).collect();
        outbox::complete_all(db, &ids, owner, now)
    })
}

/// Effects per event: (events with an effect, effects in all).
fn effects(db: &impl Db) -> (i64, i64) {
    let rows = db
        .execute(
            "SELECT count(DISTINCT event_id) AS events, count(*) AS n FROM effects",
            &[],
        )
        .unwrap();
    let r = rows.first().unwrap();
    (r.int("events").unwrap(), r.int("n").unwrap())
}

fn open_events(db: &impl Db) -> i64 {
    let rows = db
        .execute(
            "SELECT count(*) AS n FROM outbox WHERE status <> 'done'",
            &[],
        )
        .unwrap();
    rows.first().unwrap().int("n").unwrap()
}

/// The consumer's connection, with a hook that runs just before its first
/// attempt to let go of the drain lease: the moment after its last empty
/// claim, where a writer's event and its wake-up can slip in.
struct LastMoment<'a, F: Fn()> {
    db: &'a RusqliteDb,
    hook: F,
    fired: std::cell::Cell<bool>,
}

impl<F: Fn()> Db for LastMoment<'_, F> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<sales_store::Rows, DbError> {
        if sql.contains("UPDATE outbox_drain SET owner = NULL") && !self.fired.replace(true) {
            (self.hook)();
        }
        self.db.execute(sql, params)
    }
}

/// The race a single drain must not lose: the holder's last claim finds
/// nothing, then a writer commits an event and wakes a consumer, which
/// finds the drain held and leaves — and only then does the holder try to
/// let go. It must see the event and drain it: the event runs once and
/// nothing is left. (Letting go unconditionally strands the event.)
#[test]
fn an_event_that_arrives_as_the_drain_lets_go_is_run_by_it_once() {
    let (_dir, consumer, writer) = two_connections();
    let first = outbox::enqueue(&writer, &event("order.submitted"), at(2)).unwrap();
    let woken = std::cell::Cell::new(None);
    let late = std::cell::Cell::new(None);
    let hooked = LastMoment {
        db: &consumer,
        hook: || {
            let id = writer
                .transaction(|db| outbox::enqueue(db, &event("order.confirmed"), at(2)))
                .unwrap();
            late.set(Some(id));
            // Its wake-up: another consumer, on the writer's connection.
            let session = outbox::drain_session(
                &writer,
                &plan("waker"),
                || at(2),
                |_| {
                    panic!("the waker must leave the drain to its holder");
                    #[allow(unreachable_code)]
                    Ok::<(), StoreError>(())
                },
            )
            .unwrap();
            woken.set(Some(session));
        },
        fired: std::cell::Cell::new(false),
    };
    let mut batches = Vec::new();
    let session = outbox::drain_session(
        &hooked,
        &plan("holder"),
        || at(2),
        |batch| {
            batches.push(batch.iter().map(|e| e.id).collect::<Vec<_>>());
            perform(&consumer, &batch, "holder", at(2))
        },
    )
    .unwrap();
    assert_eq!(woken.get(), Some(Session::Busy));
    let late = late.get().unwrap();
    assert_eq!(batches, vec![vec![first], vec![late]]);
    assert_eq!(session, Session::Drained { batches: 2 });
    assert_eq!(effects(&consumer), (2, 2));
    assert_eq!(open_events(&consumer), 0);
    // Let go: the next wake-up finds nothing to do and nobody draining.
    assert_eq!(
        outbox::drain_check(&writer, at(2)).unwrap(),
        DrainCheck {
            busy: false,
            due: false
        }
    );
}

/// A consumer that dies holding the drain (and a claimed batch): wake-ups
/// leave the queue alone until the drain lease runs out, then the next one
/// takes the drain over with the dead consumer's events, and each event's
/// effect happens once (the dead consumer's late completion fails).
#[test]
fn a_consumer_that_dies_draining_is_taken_over_after_the_lease() {
    let (_dir, consumer, writer) = two_connections();
    for _ in 0..3 {
        outbox::enqueue(&writer, &event("order.confirmed"), at(2)).unwrap();
    }
    let lease = plan("dead").lease;
    assert!(outbox::take_drain(&consumer, "dead", at(2), lease).unwrap());
    let claimed = outbox::claim(&consumer, "dead", at(2), lease, 4, &policy()).unwrap();
    assert_eq!(claimed.len(), 3);
    // … and it dies here. A new event and its wake-up within the lease:
    outbox::enqueue(&writer, &event("order.cancelled"), at(2)).unwrap();
    let never = |_: Vec<Event>| -> Result<(), StoreError> { panic!("the drain is held") };
    let within = at(2) + lease - Duration::seconds(1);
    assert_eq!(
        outbox::drain_session(&writer, &plan("early"), || within, never).unwrap(),
        Session::Busy
    );
    assert_eq!(effects(&writer), (0, 0));
    // After the lease: taken over, everything runs once.
    let after = at(2) + lease + Duration::seconds(1);
    let mut attempts = Vec::new();
    let session = outbox::drain_session(
        &writer,
        &plan("next"),
        || after,
        |batch| {
            attempts.extend(batch.iter().map(|e| e.attempts));
            perform(&writer, &batch, "next", after)
        },
    )
    .unwrap();
    assert!(matches!(session, Session::Drained { .. }));
    attempts.sort_unstable();
    assert_eq!(attempts, vec![1, 2, 2, 2]);
    assert_eq!(effects(&writer), (4, 4));
    assert_eq!(open_events(&writer), 0);
    // The dead consumer's completion, arriving late, changes nothing.
    assert!(perform(&consumer, &claimed, "dead", after).is_err());
    assert_eq!(effects(&writer), (4, 4));
}

/// A consumer stopped at its batch limit lets go with work left (its
/// caller wakes the next one, which takes over); one whose batch fails lets
/// go too, so the next wake-up is not kept waiting for the lease.
#[test]
fn a_drain_stopped_early_or_failing_lets_go() {
    let (_dir, consumer, writer) = two_connections();
    for _ in 0..10 {
        outbox::enqueue(&writer, &event("order.confirmed"), at(2)).unwrap();
    }
    let short = DrainPlan {
        max_batches: 2,
        ..plan("short")
    };
    let session = outbox::drain_session(
        &consumer,
        &short,
        || at(2),
        |batch| perform(&consumer, &batch, "short", at(2)),
    )
    .unwrap();
    assert_eq!(session, Session::Stopped { batches: 2 });
    assert_eq!(effects(&consumer), (8, 8));
    let check = outbox::drain_check(&writer, at(2)).unwrap();
    assert_eq!((check.busy, check.due), (false, true));

    let failing: Result<Session, StoreError> = outbox::drain_session(
        &consumer,
        &plan("failing"),
        || at(2),
        |_| Err(StoreError::BadCursor("boom".into())),
    );
    assert!(failing.is_err());
    assert!(!outbox::drain_check(&writer, at(2)).unwrap().busy);
    // The failed consumer's claimed rows wait for their lease; the rest and
    // then those are drained by the next consumers.
    let later = at(2) + Duration::seconds(31);
    let session = outbox::drain_session(
        &writer,
        &plan("next"),
        || later,
        |batch| perform(&writer, &batch, "next", later),
    )
    .unwrap();
    assert!(matches!(session, Session::Drained { .. }));
    assert_eq!(effects(&writer), (10, 10));
    assert_eq!(open_events(&writer), 0);
}

/// Writers on four threads, each committing events and waking a consumer
/// on its own connection after every commit, as the app does: at the end
/// every event has run exactly once and nothing is left — without any
/// tick to pick up a stranded event.
#[test]
fn writers_waking_consumers_at_once_leave_nothing_behind_and_nothing_twice() {
    let (dir, setup, _) = two_connections();
    let path = dir.path().join("sales.db");
    let threads = 4;
    let per_thread = 60;
    let drains: usize = on_threads(&path, threads, move |t, db| {
        let mut drained = 0;
        for i in 0..per_thread {
            db.transaction(|db| outbox::enqueue(db, &event("order.confirmed"), Utc::now()))
                .unwrap();
            let owner = format!("consumer-{t}-{i}");
            let session = outbox::drain_session(&db, &plan(&owner), Utc::now, |batch| {
                perform(&db, &batch, &owner, Utc::now())
            })
            .unwrap();
            if matches!(session, Session::Drained { .. }) {
                drained += 1;
            }
        }
        drained
    })
    .into_iter()
    .sum();
    let total = i64::try_from(threads * per_thread).unwrap();
    assert_eq!(effects(&setup), (total, total));
    assert_eq!(open_events(&setup), 0);
    assert!(drains >= 1);
    assert!(!outbox::drain_check(&setup, Utc::now()).unwrap().busy);
}

/// Issue 7: the queue is one index (migration 21: `outbox_queue` replaced
/// `outbox_due` and `outbox_lease`, which every event wrote on its insert,
/// claim and completion). Every read of what is due — the claim's, the
/// drain check's every wake-up makes, the drain's letting go — is answered
/// from that index alone, never from the table's rows (their 3.5 KB
/// payloads); the claim, the park and the status filter of the list
/// search it; nothing scans the table.
#[test]
fn the_queue_is_read_from_one_index_alone() {
    let db = db();
    let indexes = db.execute("PRAGMA index_list('outbox')", &[]).unwrap();
    let names: BTreeSet<&str> = indexes.iter().map(|r| r.text("name").unwrap()).collect();
    assert!(names.contains("outbox_queue"), "{names:?}");
    assert!(
        !names.contains("outbox_due") && !names.contains("outbox_lease"),
        "{names:?}"
    );
    // Every statement that reads or writes the `outbox` table (not
    // `outbox_drain` alone).
    let q = planned_where(&db, |sql| {
        sql.contains("FROM outbox\n")
            || sql.contains("FROM outbox ")
            || sql.contains("UPDATE outbox ")
    });
    let lease = Duration::seconds(30);
    let a = outbox::enqueue(&q, &event("order.confirmed"), at(2)).unwrap();
    let b = outbox::enqueue(&q, &event("order.submitted"), at(2)).unwrap();
    assert!(outbox::drain_check(&q, at(2)).unwrap().due);
    assert!(outbox::take_drain(&q, "one", at(2), lease).unwrap());
    let got = outbox::claim(&q, "one", at(2), lease, 10, &policy()).unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a, b]);
    outbox::complete(&q, a, "one", at(2)).unwrap();
    // `one` stops with `b`: a day later its lease ran out, the park runs
    // (nothing at its last attempt yet) and `two` claims it again.
    assert!(!outbox::let_go_if_idle(&q, "one", at(4)).unwrap());
    let got = outbox::claim(&q, "two", at(4), lease, 10, &policy()).unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]);
    outbox::fail(&q, b, "two", "boom", at(4), &policy()).unwrap();
    let f = EventFilter {
        status: Some(EventStatus::Pending),
        ..Default::default()
    };
    assert_eq!(outbox::list(&q, &f, &Page::first(10)).unwrap().0.len(), 1);
    assert!(outbox::let_go_if_idle(&q, "one", at(4)).unwrap());

    let plans = q.into_plans();
    let kinds = |needle: &str| plans.iter().filter(|(s, _)| s.contains(needle)).count();
    assert!(
        kinds("SELECT EXISTS (SELECT 1 FROM outbox_drain") >= 1,
        "drain check"
    );
    assert!(
        kinds("SELECT EXISTS (SELECT 1 FROM outbox WHERE") >= 2,
        "claims' reads"
    );
    assert!(kinds("SET status = 'parked'") >= 1, "park");
    assert!(kinds("SET status = 'running'") >= 2, "claims");
    assert!(
        kinds("UPDATE outbox_drain SET owner = NULL") >= 1,
        "letting go"
    );
    for (sql, plan) in &plans {
        assert!(
            !plan
                .lines()
                .any(|l| l.trim_start_matches(|c| "|`- ".contains(c)) == "SCAN outbox"),
            "{sql}\n{plan}"
        );
        let reads_due = sql.starts_with("SELECT EXISTS") || sql.contains("NOT EXISTS");
        let claims = sql.contains("SET status = 'running'");
        if reads_due || claims {
            // Every subquery over the queue is answered from the index alone.
            for line in plan.lines().filter(|l| l.contains("SEARCH outbox USING")) {
                let by_id = claims && line.contains("sqlite_autoindex_outbox_1 (id=?)");
                assert!(
                    by_id || line.contains("USING COVERING INDEX outbox_queue (status=?"),
                    "{sql}\n{plan}"
                );
            }
        }
        if sql.contains("SET status = 'parked'") || sql.contains("WHERE status = ?") {
            assert!(
                plan.contains("INDEX outbox_queue (status=?"),
                "{sql}\n{plan}"
            );
        }
    }
}

/// Migration 21 replaces the queue's two indexes on a database with events
/// in every state: pending, running under a lease, done, parked. Each is
/// claimed, listed, kept or taken over as before.
#[test]
fn migration_21_keeps_the_queue_written_before_it() {
    let db = RusqliteDb::open_in_memory().unwrap();
    sales_store::migrate::migrate_to(&db, &sales_store::migrate::MIGRATIONS[..20]).unwrap();
    let lease = Duration::seconds(30);
    let one_try = RetryPolicy {
        max_attempts: 1,
        ..policy()
    };
    let done = outbox::enqueue(&db, &event("order.confirmed"), at(2)).unwrap();
    let parked = outbox::enqueue(&db, &event("order.cancelled"), at(2)).unwrap();
    let running = outbox::enqueue(&db, &event("order.amended"), at(2)).unwrap();
    let got = outbox::claim(&db, "one", at(2), lease, 10, &policy()).unwrap();
    assert_eq!(got.len(), 3);
    outbox::complete(&db, done, "one", at(2)).unwrap();
    outbox::fail(&db, parked, "one", "boom", at(2), &one_try).unwrap();
    let pending = outbox::enqueue(&db, &event("order.submitted"), at(2)).unwrap();
    let soon = at(2) + Duration::seconds(5);
    sales_store::migrate::migrate(&db).unwrap();
    assert_eq!(
        sales_store::migrate::schema_version(&db).unwrap(),
        sales_store::migrate::latest_version()
    );

    let status = |id| outbox::get(&db, id).unwrap().status;
    assert_eq!(status(done), EventStatus::Done);
    assert_eq!(status(parked), EventStatus::Parked);
    let by_status = |s| {
        let f = EventFilter {
            status: Some(s),
            ..Default::default()
        };
        let (items, _) = outbox::list(&db, &f, &Page::first(10)).unwrap();
        items.iter().map(|e| e.id).collect::<Vec<_>>()
    };
    assert_eq!(by_status(EventStatus::Parked), vec![parked]);
    assert_eq!(by_status(EventStatus::Running), vec![running]);
    // The pending event is due; the running one is not while its lease holds.
    assert_eq!(
        outbox::drain_check(&db, soon).unwrap(),
        DrainCheck {
            busy: false,
            due: true
        }
    );
    let got = outbox::claim(&db, "two", soon, lease, 10, &policy()).unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![pending]);
    outbox::complete(&db, pending, "two", soon).unwrap();
    // A day later `one`'s lease ran out: `two` takes the running event over.
    let got = outbox::claim(&db, "two", at(4), lease, 10, &policy()).unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![running]);
    assert_eq!(got[0].attempts, 2);
    outbox::complete(&db, running, "two", at(4)).unwrap();
    assert!(!outbox::drain_check(&db, at(4)).unwrap().due);
    outbox::retry_parked(&db, parked, at(4)).unwrap();
    assert_eq!(by_status(EventStatus::Pending), vec![parked]);
}
