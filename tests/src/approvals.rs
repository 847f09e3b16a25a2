//! Approval policies and requests as the approval tests write and read
//! them (`tests/approvals.rs`, `tests/approvals_from_document.rs`).

// A fixture: a malformed request fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

use crate::json;

/// `condition`, for documents sold in `channel` only (so a test's policy
/// leaves other tests' documents alone on a shared instance).
pub fn in_channel(channel: &str, condition: Value) -> Value {
    json!({ "type": "all", "all": [{ "type": "channels", "codes": [channel] }, condition] })
}

/// A policy body for `kinds` (`["quotation"]`) whose one level, named as
/// the policy, any one of `approvers` may decide.
pub fn one_level(name: &str, kinds: Value, condition: Value, approvers: Value) -> Value {
    json!({ "name": name, "applies_to": kinds, "condition": condition,
            "chain": { "levels": [{ "name": name, "approvers": approvers,
                                    "mode": { "type": "any_one" } }] } })
}

/// The state (`pending`, `approved`, …) of the step of `policy` in an
/// approval request; panics if the request has no such step.
pub fn step_state<'a>(request: &'a Value, policy: &str) -> &'a str {
    request["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"]["policy"] == policy)
        .unwrap_or_else(|| panic!("no step of policy {policy} in {request}"))["state"]["state"]
        .as_str()
        .unwrap()
}
