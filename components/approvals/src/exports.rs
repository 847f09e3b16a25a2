//! The WIT export `sales:orchestration/approvals@0.1.0` (world
//! `approvals-provider` in `wit/approvals.wit`), for the order orchestrator
//! to plug in at build time. `evaluate` answers exactly like
//! `POST /api/v1/approvals/evaluate`; `check-authorized` is the gate an
//! order passes before it is confirmed. Both are read-only. `decide` is a
//! write: it runs `requests::record_decision`, the implementation of
//! `POST /api/v1/approvals/{id}/approve|reject`, in its own transaction
//! (the kit's `write`, with the caller's `Idempotency-Key`), then wakes the
//! jobs component, exactly as the HTTP route does.
//!
//! None of them authenticates: the caller is a component of the same
//! application that has authenticated its own request, and `decide` is
//! given the principal it authenticated. WIT records become the domain's
//! snapshot input here and nowhere else: value by value with the parsers
//! the HTTP body's deserializer uses, and, when a value does not parse,
//! through that deserializer itself, so a bad value names its field the
//! same way (`to_input`).

use std::str::FromStr;

use rust_decimal::Decimal;
use sales_domain::approvals::{
    CustomerFacts, DocumentId, DocumentSnapshotInput, PricingFlagKind, RequiredApprovals,
    SnapshotLineInput, StepKey, Verdict,
};
use sales_domain::auth::{Principal, Role};
use sales_domain::ids::{
    ApprovalPolicyId, ApprovalRequestId, CustomerGroupId, CustomerId, ItemGroupId, OrderId,
    PrincipalId, ProductId, QuotationId, SalesPersonId, TerritoryId,
};
use sales_domain::money::{Currency, Money};
use sales_kit::idempotency::{write, REPLAYED};
use sales_kit::json::parse_json_bytes;
use sales_kit::{ApiError, ApiRequest, Method};
use serde::Serialize;

use crate::requests::{
    check_authorized, evaluation_json, record_decision, required, snapshot, Decision, Subject,
};

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
        // Called only from the component it is composed into, which opened
        // and migrated the same database for this request (issue 7).
        let db = sales_kit::spin::SpinDb::open_default().map_err(problem)?;
        let required = required(&db, &snapshot).map_err(problem)?;
        to_wit(&required).map_err(problem)
    }

    fn check_authorized(s: wit::DocumentSnapshot) -> Result<(), wit::ApprovalsError> {
        let snapshot = snapshot(to_input(s).map_err(problem)?).map_err(problem)?;
        let db = sales_kit::spin::open_db().map_err(problem)?;
        check_authorized(&db, &snapshot).map_err(problem)
    }

    fn decide(
        by: wit::Principal,
        decision: wit::Decision,
        idempotency: Option<wit::Idempotency>,
    ) -> Result<wit::Decided, wit::DecisionError> {
        let by = principal(by).map_err(refusal)?;
        let decision = to_decision(decision).map_err(refusal)?;
        // Without a key nothing is stored; with one, the kit's `write`
        // replays or refuses exactly as for the HTTP route.
        let req = match idempotency {
            Some(i) => ApiRequest::new(Method::parse(&i.method), &i.target)
                .with_header("idempotency-key", &i.key)
                .with_body(i.body),
            None => ApiRequest::new(Method::Post, ""),
        };
        let db = sales_kit::spin::open_db().map_err(refusal)?;
        let now = chrono::Utc::now();
        let answer = write(&db, &by.id().to_string(), &req, now, |db| {
            record_decision(db, &by, &decision, now)
        })
        .map_err(refusal)?;
        // The outcome's event (if any) is the jobs component's to apply.
        sales_kit::spin::wake_jobs();
        Ok(wit::Decided {
            replayed: answer.header(REPLAYED).is_some(),
            request_json: String::from_utf8(answer.body).map_err(|e| {
                refusal(ApiError::internal(format!(
                    "the decision's answer is not UTF-8: {e}"
                )))
            })?,
        })
    }
}

/// A refused decision by the status the HTTP route gives it.
fn refusal(e: ApiError) -> wit::DecisionError {
    let p = wit::Problem {
        code: e.code().to_owned(),
        field: e.field().map(str::to_owned),
        detail: e.detail().to_owned(),
    };
    match e.status() {
        403 => wit::DecisionError::Forbidden(p),
        404 => wit::DecisionError::NotFound(p),
        409 | 412 => wit::DecisionError::Conflict(p),
        s if s < 500 => wit::DecisionError::Invalid(p),
        _ => wit::DecisionError::Failed(p),
    }
}

fn bad(field: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_field(field, e.to_string())
}

/// The caller's principal as the domain's, each bad value naming its field.
fn principal(p: wit::Principal) -> Result<Principal, ApiError> {
    let id = PrincipalId::parse(&p.id).map_err(|e| bad("by.id", e))?;
    let roles = p
        .roles
        .iter()
        .enumerate()
        .map(|(i, r)| Role::parse(r).map_err(|e| bad(&format!("by.roles[{i}]"), e)))
        .collect::<Result<Vec<_>, _>>()?;
    let sales_person = p
        .sales_person_id
        .as_deref()
        .map(SalesPersonId::parse)
        .transpose()
        .map_err(|e| bad("by.sales_person_id", e))?;
    let territory = p
        .territory_id
        .as_deref()
        .map(TerritoryId::parse)
        .transpose()
        .map_err(|e| bad("by.territory_id", e))?;
    Ok(Principal::new(id, &p.name, roles)
        .map_err(|e| bad("by", e))?
        .with_sales_person(sales_person)
        .with_territory(territory))
}

fn to_decision(d: wit::Decision) -> Result<Decision, ApiError> {
    let subject = match d.subject {
        wit::DecisionSubject::Request(id) => Subject::Request(
            ApprovalRequestId::parse(&id).map_err(|e| ApiError::invalid_id("id", e.to_string()))?,
        ),
        wit::DecisionSubject::Document(doc) => Subject::Document(match doc.kind {
            DocumentKind::Quotation => DocumentId::Quotation(
                QuotationId::parse(&doc.id).map_err(|e| bad("document.id", e))?,
            ),
            DocumentKind::SalesOrder => {
                DocumentId::Order(OrderId::parse(&doc.id).map_err(|e| bad("document.id", e))?)
            }
        }),
    };
    let step = d
        .step
        .map(|s| {
            Ok::<_, ApiError>(StepKey {
                policy: ApprovalPolicyId::parse(&s.policy_id).map_err(|e| bad("step.policy", e))?,
                level: s.level,
            })
        })
        .transpose()?;
    Ok(Decision {
        subject,
        step,
        verdict: match d.verdict {
            wit::Verdict::Approve => Verdict::Approve,
            wit::Verdict::Reject => Verdict::Reject,
        },
        comment: d.comment,
        document_version: d.document_version,
    })
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

/// The HTTP body's money object, borrowed from the WIT record.
#[derive(Serialize)]
struct MoneyBody<'a> {
    amount: &'a str,
    currency: &'a str,
}

fn money(m: &WitMoney) -> MoneyBody<'_> {
    MoneyBody {
        amount: &m.amount,
        currency: &m.currency,
    }
}

// The HTTP body's `snapshot`, borrowed from the WIT record and written
// straight to JSON (no `serde_json::Value` tree built first, issue 7).
// Fields are in alphabetical order, the order the tree had, so a bad
// value is found and named as before when there are several.

#[derive(Serialize)]
struct LineOut<'a> {
    discount_percent: &'a str,
    flags: &'a [String],
    item_group_chain: &'a [String],
    line_no: u32,
    list_price: MoneyBody<'a>,
    margin_percent: Option<&'a str>,
    net_price: MoneyBody<'a>,
    product: &'a str,
    quantity: &'a str,
}

#[derive(Serialize)]
struct CustomerOut<'a> {
    credit_limit: Option<MoneyBody<'a>>,
    group_chain: &'a [String],
    id: &'a str,
    open_exposure: MoneyBody<'a>,
    territory: Option<&'a str>,
}

#[derive(Serialize)]
struct DocumentOut<'a> {
    id: &'a str,
    kind: &'a str,
}

#[derive(Serialize)]
struct SnapshotOut<'a> {
    channel: &'a str,
    currency: &'a str,
    customer: CustomerOut<'a>,
    default_payment_terms_days: u16,
    document: DocumentOut<'a>,
    lines: Vec<LineOut<'a>>,
    payment_terms_days: u16,
    submitted_by: &'a str,
    total: MoneyBody<'a>,
    version: u32,
}

#[derive(Serialize)]
struct BodyOut<'a> {
    snapshot: SnapshotOut<'a>,
}

/// The WIT snapshot as the domain's input: converted field by field when
/// every value parses (what the order flow sends), else through the HTTP
/// body's deserializer, which refuses it naming the field
/// (`snapshot.lines[0].quantity`) exactly as `POST /approvals/evaluate`
/// would. The direct conversion parses each value with the function the
/// deserializer uses, so what it accepts decodes to the same input; it
/// only skips writing and parsing a JSON body (issue 7).
fn to_input(s: wit::DocumentSnapshot) -> Result<DocumentSnapshotInput, ApiError> {
    match to_input_direct(&s) {
        Some(input) => Ok(input),
        None => to_input_json(s),
    }
}

fn to_input_direct(s: &wit::DocumentSnapshot) -> Option<DocumentSnapshotInput> {
    let money = |m: &WitMoney| Money::parse(&m.amount, &m.currency).ok();
    let decimal = |t: &str| Decimal::from_str(t).ok();
    let lines = s
        .lines
        .iter()
        .map(|l| {
            Some(SnapshotLineInput {
                line_no: l.line_no,
                product: ProductId::parse(&l.product_id).ok()?,
                item_group_chain: l
                    .item_group_chain
                    .iter()
                    .map(|g| ItemGroupId::parse(g).ok())
                    .collect::<Option<_>>()?,
                quantity: decimal(&l.quantity)?,
                list_price: money(&l.list_price)?,
                net_price: money(&l.net_price)?,
                discount_percent: decimal(&l.discount_percent)?,
                margin_percent: match &l.margin_percent {
                    Some(m) => Some(decimal(m)?),
                    None => None,
                },
                flags: l
                    .flags
                    .iter()
                    .map(|f| PricingFlagKind::ALL.into_iter().find(|k| k.as_str() == f))
                    .collect::<Option<_>>()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let c = &s.customer;
    Some(DocumentSnapshotInput {
        document: match s.document.kind {
            DocumentKind::Quotation => {
                DocumentId::Quotation(QuotationId::parse(&s.document.id).ok()?)
            }
            DocumentKind::SalesOrder => DocumentId::Order(OrderId::parse(&s.document.id).ok()?),
        },
        version: s.document.version,
        channel: s.channel_code.clone(),
        customer: CustomerFacts {
            id: CustomerId::parse(&c.id).ok()?,
            group_chain: c
                .group_chain
                .iter()
                .map(|g| CustomerGroupId::parse(g).ok())
                .collect::<Option<_>>()?,
            territory: match &c.territory_id {
                Some(t) => Some(TerritoryId::parse(t).ok()?),
                None => None,
            },
            credit_limit: match &c.credit_limit {
                Some(m) => Some(money(m)?),
                None => None,
            },
            open_exposure: money(&c.open_exposure)?,
        },
        submitted_by: PrincipalId::parse(&s.submitted_by).ok()?,
        payment_terms_days: s.payment_terms_days,
        default_payment_terms_days: s.default_payment_terms_days,
        currency: Currency::from_code(&s.currency).ok()?,
        total: money(&s.total)?,
        lines,
    })
}

/// [`to_input`] through the HTTP body's deserializer.
fn to_input_json(s: wit::DocumentSnapshot) -> Result<DocumentSnapshotInput, ApiError> {
    let kind = match s.document.kind {
        DocumentKind::Quotation => "quotation",
        DocumentKind::SalesOrder => "order",
    };
    let c = &s.customer;
    let body = BodyOut {
        snapshot: SnapshotOut {
            channel: &s.channel_code,
            currency: &s.currency,
            customer: CustomerOut {
                credit_limit: c.credit_limit.as_ref().map(money),
                group_chain: &c.group_chain,
                id: &c.id,
                open_exposure: money(&c.open_exposure),
                territory: c.territory_id.as_deref(),
            },
            default_payment_terms_days: s.default_payment_terms_days,
            document: DocumentOut {
                id: &s.document.id,
                kind,
            },
            lines: s
                .lines
                .iter()
                .map(|l| LineOut {
                    discount_percent: &l.discount_percent,
                    flags: &l.flags,
                    item_group_chain: &l.item_group_chain,
                    line_no: l.line_no,
                    list_price: money(&l.list_price),
                    margin_percent: l.margin_percent.as_deref(),
                    net_price: money(&l.net_price),
                    product: &l.product_id,
                    quantity: &l.quantity,
                })
                .collect(),
            payment_terms_days: s.payment_terms_days,
            submitted_by: &s.submitted_by,
            total: money(&s.total),
            version: s.document.version,
        },
    };
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
