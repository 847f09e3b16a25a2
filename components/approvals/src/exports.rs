//! The WIT export `sales:orchestration/approvals@0.1.0` (world
//! `approvals-provider` in `wit/approvals.wit`), for the order orchestrator
//! to plug in at build time. `evaluate` answers exactly like
//! `POST /api/v1/approvals/evaluate`; `check-authorized` is the gate an
//! order passes before it is confirmed. Both are read-only and run without
//! authentication: the caller is a component of the same application that
//! has authenticated its own request. WIT records become the wire snapshot
//! here and nowhere else, through the same JSON deserializer as the HTTP
//! body, so a bad value names its field the same way.

use sales_domain::approvals::{DocumentSnapshotInput, RequiredApprovals};
use sales_kit::json::parse_json_bytes;
use sales_kit::ApiError;
use serde_json::{json, Value};

use crate::requests::{check_authorized, evaluation_json, required, snapshot};

spin_sdk::wit_bindgen::generate!({
    world: "approvals-provider",
    path: "../../wit",
    runtime_path: "spin_sdk::wit_bindgen::rt",
});

use exports::sales::orchestration::approvals as wit;
use sales::orchestration::types::{DocumentKind, Money as WitMoney};

struct Approvals;

export!(Approvals);

impl wit::Guest for Approvals {
    fn evaluate(s: wit::DocumentSnapshot) -> Result<wit::Evaluation, wit::ApprovalsError> {
        let snapshot = snapshot(to_input(s).map_err(problem)?).map_err(problem)?;
        let db = sales_kit::spin::open_db().map_err(problem)?;
        let required = required(&db, &snapshot).map_err(problem)?;
        to_wit(&required).map_err(problem)
    }

    fn check_authorized(s: wit::DocumentSnapshot) -> Result<(), wit::ApprovalsError> {
        let snapshot = snapshot(to_input(s).map_err(problem)?).map_err(problem)?;
        let db = sales_kit::spin::open_db().map_err(problem)?;
        check_authorized(&db, &snapshot).map_err(problem)
    }
}

fn problem(e: ApiError) -> wit::ApprovalsError {
    let p = wit::Problem {
        code: e.code().to_owned(),
        field: e.field().map(str::to_owned),
        detail: e.detail().to_owned(),
    };
    if e.status() < 500 {
        wit::ApprovalsError::Invalid(p)
    } else {
        wit::ApprovalsError::Failed(p)
    }
}

fn money(m: &WitMoney) -> Value {
    json!({ "amount": m.amount, "currency": m.currency })
}

/// The WIT snapshot as the HTTP body's `snapshot`, parsed by the same
/// deserializer (errors name `snapshot.lines[0].quantity` and so on).
fn to_input(s: wit::DocumentSnapshot) -> Result<DocumentSnapshotInput, ApiError> {
    let kind = match s.document.kind {
        DocumentKind::Quotation => "quotation",
        DocumentKind::SalesOrder => "order",
    };
    let lines: Vec<Value> = s
        .lines
        .iter()
        .map(|l| {
            json!({
                "line_no": l.line_no,
                "product": l.product_id,
                "item_group_chain": l.item_group_chain,
                "quantity": l.quantity,
                "list_price": money(&l.list_price),
                "net_price": money(&l.net_price),
                "discount_percent": l.discount_percent,
                "margin_percent": l.margin_percent,
                "flags": l.flags,
            })
        })
        .collect();
    let c = &s.customer;
    let body = json!({ "snapshot": {
        "document": { "kind": kind, "id": s.document.id },
        "version": s.document.version,
        "channel": s.channel_code,
        "customer": {
            "id": c.id,
            "group_chain": c.group_chain,
            "territory": c.territory_id,
            "credit_limit": c.credit_limit.as_ref().map(money),
            "open_exposure": money(&c.open_exposure),
        },
        "submitted_by": s.submitted_by,
        "payment_terms_days": s.payment_terms_days,
        "default_payment_terms_days": s.default_payment_terms_days,
        "currency": s.currency,
        "total": money(&s.total),
        "lines": lines,
    }});
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        snapshot: DocumentSnapshotInput,
    }
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| ApiError::internal(format!("failed to encode the snapshot: {e}")))?;
    parse_json_bytes::<Body>(&bytes, usize::MAX).map(|b| b.snapshot)
}

fn to_wit(required: &RequiredApprovals) -> Result<wit::Evaluation, ApiError> {
    let levels = required
        .levels
        .iter()
        .map(|l| wit::RequiredLevel {
            step: wit::StepKey {
                policy_id: l.step.policy.to_string(),
                level: l.step.level,
            },
            policy_name: l.policy_name.clone(),
            policy_revision: l.policy_revision,
            level_name: l.level_name.clone(),
            reasons: l
                .reasons
                .iter()
                .map(|r| wit::Reason {
                    path: r.path.clone(),
                    condition: r.condition.clone(),
                    observed: r.observed.clone(),
                    threshold: r.threshold.clone(),
                })
                .collect(),
        })
        .collect();
    let json = serde_json::to_string(&evaluation_json(required)?)
        .map_err(|e| ApiError::internal(format!("failed to serialise the evaluation: {e}")))?;
    Ok(wit::Evaluation {
        approval_required: !required.is_empty(),
        levels,
        evaluation_json: json,
    })
}
