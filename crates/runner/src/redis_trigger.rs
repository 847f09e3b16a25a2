//! The Redis trigger on real Redis servers (SUBSCRIBE), and `--tick`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use tokio::sync::watch;

use crate::app::AppState;

/// Connects to `address` and subscribes to its channels. Fails when the
/// first connection cannot be made, so a wrong address stops the start.
pub async fn subscribe(
    app: Arc<AppState>,
    address: String,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let channels: Vec<String> = app
        .broker
        .real
        .get(&address)
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let client = redis::Client::open(address.as_str())
        .with_context(|| format!("invalid redis address {address:?}"))?;
    let pubsub = connect(&client, &channels)
        .await
        .with_context(|| format!("failed to subscribe to redis at {address}"))?;
    tracing::info!(%address, ?channels, "subscribed to redis");
    Ok(tokio::spawn(run(
        app, client, address, channels, pubsub, shutdown,
    )))
}

async fn connect(
    client: &redis::Client,
    channels: &[String],
) -> anyhow::Result<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    for c in channels {
        pubsub.subscribe(c).await?;
    }
    Ok(pubsub)
}

async fn run(
    app: Arc<AppState>,
    client: redis::Client,
    address: String,
    channels: Vec<String>,
    first: redis::aio::PubSub,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut pubsub = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(mut ps) = pubsub.take() else {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            match connect(&client, &channels).await {
                Ok(ps) => {
                    tracing::info!(%address, "re-subscribed to redis");
                    backoff = Duration::from_millis(100);
                    pubsub = Some(ps);
                }
                Err(e) => {
                    tracing::warn!(%address, "redis reconnect failed: {e:#}");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            continue;
        };
        {
            let mut messages = ps.on_message();
            loop {
                tokio::select! {
                    msg = messages.next() => match msg {
                        Some(msg) => {
                            let channel = msg.get_channel_name().to_string();
                            let payload = msg.get_payload_bytes().to_vec();
                            crate::broker::deliver_real(&app, &address, &channel, &payload);
                        }
                        None => break,
                    },
                    _ = shutdown.changed() => return,
                }
            }
        }
        tracing::warn!(%address, "redis subscription lost; reconnecting");
    }
}

/// Publishes `tick` on `channel` every `interval` through whichever broker
/// serves the channel.
pub fn tick(
    app: Arc<AppState>,
    interval: Duration,
    channel: String,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(interval);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer.tick().await; // the first tick fires immediately; skip it
        loop {
            tokio::select! {
                _ = timer.tick() => {}
                _ = shutdown.changed() => return,
            }
            if app.broker.is_embedded(&channel) {
                crate::broker::publish_embedded(&app, &channel, b"tick");
            }
            for address in app.broker.real_addresses(&channel) {
                let result = async {
                    let client = redis::Client::open(address.as_str())?;
                    let mut conn = client.get_multiplexed_async_connection().await?;
                    redis::cmd("PUBLISH")
                        .arg(&channel)
                        .arg("tick")
                        .query_async::<i64>(&mut conn)
                        .await
                }
                .await;
                if let Err(e) = result {
                    tracing::warn!(%address, %channel, "failed to publish tick: {e}");
                }
            }
        }
    })
}

/// Parses `5s`, `500ms`, `2m`, `1h` (a bare number means seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (use e.g. 5s, 500ms, 2m)"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?} (use ms, s, m or h)"
            ))
        }
    };
    if d.is_zero() {
        return Err(format!("duration {text:?} must be positive"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
