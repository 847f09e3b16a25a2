//! The jobs component, triggered by Redis: every message on `sales-jobs`
//! wakes it to drain the outbox ([`drain`]: claim rows with a lease, run
//! each event's handler and mark the row done in one transaction, retry
//! with backoff, park poison rows); a `tick` message first runs the
//! periodic work ([`periodic`]). Correctness never depends on a message
//! being seen once: Redis pub/sub reaches every replica, and the claim is
//! what makes each effect happen once.
//!
//! It also serves the read side over HTTP ([`http`]): the outbox (and the
//! operator's retry of a parked event), work orders, projects, and the
//! caller's notifications.
//!
//! Outside manufacturing, project and mail systems hear of their events
//! through [`connectors`] when their base URLs are set.
//!
//! Tuning (Spin variables, milliseconds): `jobs_max_attempts`,
//! `jobs_retry_base_ms`, `jobs_retry_cap_ms`, `jobs_lease_ms`.

mod commissions;
mod connectors;
mod drain;
mod handlers;
mod http;
mod integrations;
mod periodic;
mod rollups;

use sales_store::outbox::RetryPolicy;
use spin_sdk::http::{Request, Response};
use spin_sdk::{http_component, redis_component};

/// The HTTP routes (outbox, work orders, projects, notifications); the
/// same component also exports the Redis handler — each trigger uses its
/// own export.
#[http_component]
fn handle(req: Request) -> Response {
    sales_kit::spin::serve(req, http::route)
}

#[redis_component]
fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let db =
        sales_kit::spin::SpinDb::open_default().map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
    let now = chrono::Utc::now();
    let tick = message.as_ref() == b"tick";
    // Under load most wake-ups find another invocation draining: they cost
    // this one read, not the schema check too (issue 7). A database not yet
    // migrated (no drain table) fails the read: checked below.
    let check = if tick {
        None
    } else {
        sales_store::outbox::drain_check(&db, now).ok()
    };
    if check.is_some_and(|c| c.busy) {
        return Ok(());
    }
    sales_store::migrate(&db)
        .map_err(|e| anyhow::anyhow!("failed to prepare the database: {e}"))?;
    if tick {
        // Periodic work failing must not stop the drain.
        if let Err(e) = periodic::run(&db, now) {
            eprintln!("jobs: periodic work failed: {e}");
        }
    }
    let config = Config::from_variables();
    let report = drain::drain(&db, &config, check)?;
    if report.claimed > 0 {
        eprintln!(
            "jobs: {} claimed, {} done, {} retried later, {} parked",
            report.claimed, report.done, report.retried, report.parked
        );
    }
    // Webhook deliveries the drain (or an earlier failure) left due: the
    // HTTP calls happen here, outside every transaction. Not while another
    // consumer drains: it delivers after its drain.
    if report.session == Some(sales_store::outbox::Session::Busy) {
        return Ok(());
    }
    if let Err(e) = integrations::deliver_due(&db, config.lease) {
        eprintln!("jobs: webhook delivery failed: {e}");
    }
    Ok(())
}

/// How the drain claims and retries.
pub(crate) struct Config {
    pub retry: RetryPolicy,
    pub lease: chrono::Duration,
}

fn millis(name: &str) -> Option<i64> {
    sales_kit::spin::variable(name).and_then(|v| v.trim().parse::<i64>().ok())
}

impl Config {
    fn from_variables() -> Config {
        let default = RetryPolicy::default();
        Config {
            retry: RetryPolicy {
                max_attempts: millis("jobs_max_attempts")
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n > 0)
                    .unwrap_or(default.max_attempts),
                base: millis("jobs_retry_base_ms")
                    .map(chrono::Duration::milliseconds)
                    .unwrap_or(default.base),
                cap: millis("jobs_retry_cap_ms")
                    .map(chrono::Duration::milliseconds)
                    .unwrap_or(default.cap),
            },
            lease: millis("jobs_lease_ms")
                .map(chrono::Duration::milliseconds)
                .unwrap_or(chrono::Duration::seconds(60)),
        }
    }
}
