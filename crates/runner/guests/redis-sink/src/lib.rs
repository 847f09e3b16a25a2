//! Redis-triggered test guest: appends every message to the `messages`
//! table of SQLite `default`, tagged with the `tag` variable so a test can
//! tell which component received it. `loop` never returns (deadline test);
//! `fail` returns an error (logged, not retried).

use spin_sdk::redis_component;
use spin_sdk::sqlite::{Connection, Value};

#[redis_component]
fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(&message).to_string();
    if text == "loop" {
        #[allow(clippy::empty_loop)]
        loop {}
    }
    if text == "fail" {
        anyhow::bail!("asked to fail");
    }
    let tag = spin_sdk::variables::get("tag").unwrap_or_else(|_| "untagged".to_string());
    let db = Connection::open_default()?;
    db.execute(
        "CREATE TABLE IF NOT EXISTS messages (tag TEXT NOT NULL, payload TEXT NOT NULL)",
        &[],
    )?;
    db.execute(
        "INSERT INTO messages (tag, payload) VALUES (?, ?)",
        &[Value::Text(tag), Value::Text(text)],
    )?;
    Ok(())
}
