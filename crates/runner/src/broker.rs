//! Which Redis serves which channel, and the embedded in-process broker.
//!
//! A `[[trigger.redis]]` whose address (its own, else the application
//! default) is absent or resolves to an empty string is served by the
//! embedded broker: the app's own `fermyon:spin/redis` `publish` calls on
//! that channel (whatever address they opened) and `--tick` messages are
//! delivered in-process to every component on the channel. Channels with an
//! address are served by a real Redis through SUBSCRIBE.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::app::AppState;

/// A value stored by the embedded broker for Redis commands other than
/// `publish` when the app has no Redis at all.
#[derive(Debug, Clone)]
pub enum EmbeddedValue {
    /// A string value.
    Bytes(Vec<u8>),
    /// A set.
    Set(BTreeSet<String>),
}

/// The channel table.
#[derive(Debug, Default)]
pub struct Broker {
    /// channel → component ids served in-process.
    pub embedded: BTreeMap<String, Vec<String>>,
    /// address → channel → component ids served by a real Redis.
    pub real: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Broker {
    /// Adds a trigger; `address` is the resolved address (empty = embedded).
    pub fn add(&mut self, address: &str, channel: &str, component: &str) {
        if address.is_empty() {
            self.embedded
                .entry(channel.to_string())
                .or_default()
                .push(component.to_string());
        } else {
            self.real
                .entry(address.to_string())
                .or_default()
                .entry(channel.to_string())
                .or_default()
                .push(component.to_string());
        }
    }

    /// Whether `channel` is served by the embedded broker.
    pub fn is_embedded(&self, channel: &str) -> bool {
        self.embedded.contains_key(channel)
    }

    /// The real Redis addresses that serve `channel`.
    pub fn real_addresses(&self, channel: &str) -> Vec<String> {
        self.real
            .iter()
            .filter(|(_, chans)| chans.contains_key(channel))
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Whether any channel needs a real Redis.
    pub fn has_real(&self) -> bool {
        !self.real.is_empty()
    }
}

/// Delivers `payload` to every component on an embedded `channel`, each in
/// a fresh instance on its own task. Returns how many were started.
pub fn publish_embedded(app: &Arc<AppState>, channel: &str, payload: &[u8]) -> usize {
    let Some(ids) = app.broker.embedded.get(channel) else {
        return 0;
    };
    let mut started = 0;
    for id in ids {
        if let Some(component) = app.components.get(id) {
            tokio::spawn(crate::app::invoke_redis(
                app.clone(),
                component.clone(),
                channel.to_string(),
                payload.to_vec(),
            ));
            started += 1;
        }
    }
    started
}

/// Delivers `payload` to every component on a channel served by a real
/// Redis at `address` (used for messages received through SUBSCRIBE).
pub fn deliver_real(app: &Arc<AppState>, address: &str, channel: &str, payload: &[u8]) {
    let Some(ids) = app.broker.real.get(address).and_then(|c| c.get(channel)) else {
        return;
    };
    for id in ids {
        if let Some(component) = app.components.get(id) {
            tokio::spawn(crate::app::invoke_redis(
                app.clone(),
                component.clone(),
                channel.to_string(),
                payload.to_vec(),
            ));
        }
    }
}
