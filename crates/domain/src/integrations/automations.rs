//! Automation rules, kept as data: **on** an event topic, **when** every
//! given condition holds (channel, amount range, customer group,
//! territory, product group — each a list of codes, any one of which
//! matches), **do** actions in order: notify people, call a webhook
//! subscription, put the document on hold, create a project task.
//!
//! What an event is about is summarised by the caller as [`Facts`] (the
//! store reads the document); [`Rule::matches`] is pure.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{IntegrationError, TOPICS};
use crate::ids::{PrincipalId, WebhookSubscriptionId};

/// At most this many actions per rule.
pub const MAX_ACTIONS: usize = 10;

/// When a rule applies. Empty lists and absent amounts are "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Channel codes (`B2B`, `WEB`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// The document's grand total is at least this (inclusive)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<Decimal>,
    /// …and at most this (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<Decimal>,
    /// Customer group codes; the customer's group or any ancestor matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_groups: Vec<String>,
    /// Territory codes; the customer's territory or any ancestor matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub territories: Vec<String>,
    /// Item group codes; any line's product group (or ancestor) matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_groups: Vec<String>,
}

/// Who a `notify` action reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipient {
    /// A named person (principal).
    Principal { id: PrincipalId },
    /// The manager of the customer's territory (teams), if one is set.
    TerritoryManager,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// An in-app notification to each recipient.
    Notify {
        recipients: Vec<Recipient>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Deliver the event to this subscription's URL (signed, retried).
    Webhook {
        subscription_id: WebhookSubscriptionId,
    },
    /// Put the order on hold with this reason.
    Hold { reason: String },
    /// A task on the order's project (created for the order if needed).
    CreateTask {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hours: Option<Decimal>,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Notify { .. } => "notify",
            Action::Webhook { .. } => "webhook",
            Action::Hold { .. } => "hold",
            Action::CreateTask { .. } => "create_task",
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub event: String,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

fn text(field: &str, s: &str, max: usize) -> Result<String, IntegrationError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(IntegrationError::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(IntegrationError::new(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(s.to_owned())
}

impl Rule {
    /// Validates a rule: a known event topic, a sane amount range, 1 to
    /// [`MAX_ACTIONS`] actions each well-formed. `hold` and `create_task`
    /// only make sense for orders.
    pub fn new(
        name: &str,
        event: &str,
        conditions: Conditions,
        actions: Vec<Action>,
    ) -> Result<Rule, IntegrationError> {
        let name = text("name", name, 200)?;
        let event = event.trim();
        if !TOPICS.contains(&event) {
            return Err(IntegrationError::new(
                "event",
                format!(
                    "{event:?} is not an event: use one of {}",
                    TOPICS.join(", ")
                ),
            ));
        }
        if let (Some(lo), Some(hi)) = (conditions.min_amount, conditions.max_amount) {
            if lo > hi {
                return Err(IntegrationError::new(
                    "conditions.max_amount",
                    "must not be below min_amount",
                ));
            }
        }
        for (f, list) in [
            ("conditions.channels", &conditions.channels),
            ("conditions.customer_groups", &conditions.customer_groups),
            ("conditions.territories", &conditions.territories),
            ("conditions.product_groups", &conditions.product_groups),
        ] {
            for (i, c) in list.iter().enumerate() {
                text(&format!("{f}[{i}]"), c, 100)?;
            }
        }
        if actions.is_empty() {
            return Err(IntegrationError::new("actions", "at least one action"));
        }
        if actions.len() > MAX_ACTIONS {
            return Err(IntegrationError::new(
                "actions",
                format!("at most {MAX_ACTIONS} actions"),
            ));
        }
        let order_event = event.starts_with("order.");
        for (i, a) in actions.iter().enumerate() {
            let f = format!("actions[{i}]");
            match a {
                Action::Notify {
                    recipients,
                    message,
                } => {
                    if recipients.is_empty() {
                        return Err(IntegrationError::new(
                            format!("{f}.recipients"),
                            "at least one recipient",
                        ));
                    }
                    if let Some(m) = message {
                        text(&format!("{f}.message"), m, 500)?;
                    }
                }
                Action::Webhook { .. } => {}
                Action::Hold { reason } => {
                    text(&format!("{f}.reason"), reason, 500)?;
                }
                Action::CreateTask { title, hours } => {
                    text(&format!("{f}.title"), title, 200)?;
                    if hours.is_some_and(|h| h <= Decimal::ZERO || h > Decimal::from(10_000)) {
                        return Err(IntegrationError::new(
                            format!("{f}.hours"),
                            "between 0 (exclusive) and 10000",
                        ));
                    }
                }
            }
            if matches!(a, Action::Hold { .. } | Action::CreateTask { .. }) && !order_event {
                return Err(IntegrationError::new(
                    format!("{f}.type"),
                    format!("{} only applies to order events", a.name()),
                ));
            }
        }
        Ok(Rule {
            name,
            event: event.to_owned(),
            conditions,
            actions,
        })
    }

    /// Whether the rule applies to an event with these facts. A condition
    /// on something the event does not have (an amount for an approval
    /// without one) does not hold.
    pub fn matches(&self, topic: &str, facts: &Facts) -> bool {
        if topic != self.event {
            return false;
        }
        let c = &self.conditions;
        let any_of = |wanted: &[String], have: &BTreeSet<String>| {
            wanted.is_empty() || wanted.iter().any(|w| have.contains(w))
        };
        let channel_ok = c.channels.is_empty()
            || facts
                .channel
                .as_ref()
                .is_some_and(|ch| c.channels.iter().any(|w| w == ch));
        let amount_ok = match (c.min_amount, c.max_amount, facts.amount) {
            (None, None, _) => true,
            (_, _, None) => false,
            (lo, hi, Some(a)) => lo.is_none_or(|lo| a >= lo) && hi.is_none_or(|hi| a <= hi),
        };
        channel_ok
            && amount_ok
            && any_of(&c.customer_groups, &facts.customer_groups)
            && any_of(&c.territories, &facts.territories)
            && any_of(&c.product_groups, &facts.product_groups)
    }
}

/// What an event is about, as far as conditions look. Groups and
/// territories include their ancestors' codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub channel: Option<String>,
    pub amount: Option<Decimal>,
    pub customer_groups: BTreeSet<String>,
    pub territories: BTreeSet<String>,
    pub product_groups: BTreeSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn big_b2b() -> Rule {
        Rule::new(
            "big b2b",
            "order.confirmed",
            Conditions {
                channels: vec!["B2B".into()],
                min_amount: Some(dec!(10000.01)),
                ..Conditions::default()
            },
            vec![Action::Notify {
                recipients: vec![Recipient::TerritoryManager],
                message: None,
            }],
        )
        .unwrap()
    }

    #[test]
    fn a_rule_matches_only_its_event_and_conditions() {
        let rule = big_b2b();
        let facts = Facts {
            channel: Some("B2B".into()),
            amount: Some(dec!(12000)),
            ..Facts::default()
        };
        assert!(rule.matches("order.confirmed", &facts));
        assert!(!rule.matches("order.submitted", &facts));
        let small = Facts {
            amount: Some(dec!(10000)),
            ..facts.clone()
        };
        assert!(!rule.matches("order.confirmed", &small));
        let web = Facts {
            channel: Some("WEB".into()),
            ..facts.clone()
        };
        assert!(!rule.matches("order.confirmed", &web));
        let no_amount = Facts {
            amount: None,
            ..facts
        };
        assert!(!rule.matches("order.confirmed", &no_amount));
    }

    #[test]
    fn unknown_events_and_order_actions_on_other_events_are_refused() {
        let e = Rule::new("x", "order.shipped_twice", Conditions::default(), vec![]).unwrap_err();
        assert_eq!(e.field, "event");
        let e = Rule::new(
            "x",
            "quotation.sent",
            Conditions::default(),
            vec![Action::Hold { reason: "r".into() }],
        )
        .unwrap_err();
        assert_eq!(e.field, "actions[0].type");
        let e = Rule::new("x", "order.confirmed", Conditions::default(), vec![]).unwrap_err();
        assert_eq!(e.field, "actions");
    }
}
