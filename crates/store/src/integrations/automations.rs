//! `automations` (rules as data) and `automation_runs` (each action of a
//! rule once per event), plus the [`Facts`] an order or quotation event
//! is judged on.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sales_domain::ids::{
    AutomationId, CustomerId, EventId, ItemGroupId, OrderId, PrincipalId, ProductId, QuotationId,
    TerritoryId,
};
use sales_domain::integrations::automations::{Facts, Rule};
use sales_domain::CustomerGroupId;

use super::corrupt;
use crate::db::{Db, Row, Value};
use crate::page::{Page, Versioned};
use crate::repo::{delete_by_id, get_by_id, page_by_id, update_versioned, Where};
use crate::trees::{self, TreeId};
use crate::{time, StoreError};

const ENTITY: &str = "automation";
const TABLE: &str = "automations";
const LIST: &str = "automations";
const COLUMNS: &str = "id, name, event, rule, active, version, created_at, updated_at";

fn select() -> String {
    format!("SELECT {COLUMNS} FROM {TABLE}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Automation {
    pub id: AutomationId,
    pub rule: Rule,
    pub active: bool,
}

fn decode(row: Row<'_>) -> Result<Versioned<Automation>, StoreError> {
    let id = row.text("id")?;
    Ok(Versioned {
        record: Automation {
            id: AutomationId::parse(id).map_err(|e| corrupt(ENTITY, id, e))?,
            rule: serde_json::from_str(row.text("rule")?).map_err(|e| corrupt(ENTITY, id, e))?,
            active: row.bool("active")?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn rule_json(a: &Automation) -> Result<String, StoreError> {
    serde_json::to_string(&a.rule).map_err(|e| corrupt(ENTITY, &a.id.to_string(), e))
}

pub fn create(
    db: &impl Db,
    a: &Automation,
    now: DateTime<Utc>,
) -> Result<Versioned<Automation>, StoreError> {
    let ts = Value::Text(time::to_sql(now));
    db.execute(
        &format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?)"),
        &[
            Value::Text(a.id.to_string()),
            Value::from(&a.rule.name),
            Value::from(&a.rule.event),
            Value::Text(rule_json(a)?),
            Value::from(a.active),
            ts.clone(),
            ts,
        ],
    )?;
    get(db, a.id)
}

pub fn get(db: &impl Db, id: AutomationId) -> Result<Versioned<Automation>, StoreError> {
    get_by_id(db, &select(), ENTITY, &id.to_string(), decode)
}

pub fn update(
    db: &impl Db,
    a: &Automation,
    expected: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Automation>, StoreError> {
    update_versioned(
        db,
        TABLE,
        ENTITY,
        (&a.id.to_string(), expected),
        &format!(
            "UPDATE {TABLE} SET name = ?, event = ?, rule = ?, active = ?, version = version + 1,
             updated_at = ? WHERE id = ? AND version = ? RETURNING id"
        ),
        &[
            Value::from(&a.rule.name),
            Value::from(&a.rule.event),
            Value::Text(rule_json(a)?),
            Value::from(a.active),
            Value::Text(time::to_sql(now)),
            Value::Text(a.id.to_string()),
            Value::Integer(expected),
        ],
    )?;
    get(db, a.id)
}

/// Deletes the rule; its runs stay as history.
pub fn delete(db: &impl Db, id: AutomationId) -> Result<(), StoreError> {
    delete_by_id(db, TABLE, ENTITY, &id.to_string())
}

pub fn list(
    db: &impl Db,
    page: &Page,
) -> Result<(Vec<Versioned<Automation>>, Option<String>), StoreError> {
    page_by_id(
        db,
        (LIST, &select()),
        Where::default(),
        page,
        AutomationId::parse,
        decode,
        |a| a.record.id.to_string(),
    )
}

/// Every active rule, in id order (one read for a batch of events of any
/// topics: the jobs drain keeps those whose `rule.event` is the event's).
pub fn active(db: &impl Db) -> Result<Vec<Automation>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM {TABLE} WHERE active = 1 ORDER BY id"),
        &[],
    )?;
    rows.iter().map(|r| decode(r).map(|v| v.record)).collect()
}

/// The active rules on `topic`.
pub fn for_event(db: &impl Db, topic: &str) -> Result<Vec<Automation>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM {TABLE} WHERE event = ? AND active = 1 ORDER BY id"),
        &[Value::from(topic)],
    )?;
    rows.iter().map(|r| decode(r).map(|v| v.record)).collect()
}

/// Claims action `index` of `automation` for `event`: true the first time
/// only (the row is the proof it ran), so a replayed event does nothing.
pub fn claim_run(
    db: &impl Db,
    automation: AutomationId,
    event: EventId,
    index: usize,
    action: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let rows = db.execute(
        "INSERT INTO automation_runs (automation_id, event_id, action_index, action, outcome, ran_at)
         VALUES (?, ?, ?, ?, 'done', ?) ON CONFLICT DO NOTHING RETURNING action",
        &[
            Value::Text(automation.to_string()),
            Value::Text(event.to_string()),
            Value::Integer(i64::try_from(index).unwrap_or(i64::MAX)),
            Value::from(action),
            Value::Text(time::to_sql(now)),
        ],
    )?;
    Ok(!rows.is_empty())
}

/// Notes what a run did (`skipped: no territory manager`, …).
pub fn note_run(
    db: &impl Db,
    automation: AutomationId,
    event: EventId,
    index: usize,
    outcome: &str,
    detail: &str,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE automation_runs SET outcome = ?, detail = ?
         WHERE automation_id = ? AND event_id = ? AND action_index = ?",
        &[
            Value::from(outcome),
            Value::from(detail),
            Value::Text(automation.to_string()),
            Value::Text(event.to_string()),
            Value::Integer(i64::try_from(index).unwrap_or(i64::MAX)),
        ],
    )?;
    Ok(())
}

/// One recorded action run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub event_id: String,
    pub action_index: i64,
    pub action: String,
    pub outcome: String,
    pub detail: Option<String>,
    pub ran_at: DateTime<Utc>,
}

/// The runs of an automation, newest events first (at most 200).
pub fn runs(db: &impl Db, automation: AutomationId) -> Result<Vec<Run>, StoreError> {
    let rows = db.execute(
        "SELECT event_id, action_index, action, outcome, detail, ran_at FROM automation_runs
         WHERE automation_id = ? ORDER BY event_id DESC, action_index LIMIT 200",
        &[Value::Text(automation.to_string())],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Run {
                event_id: r.text("event_id")?.to_owned(),
                action_index: r.int("action_index")?,
                action: r.text("action")?.to_owned(),
                outcome: r.text("outcome")?.to_owned(),
                detail: r.opt_text("detail")?.map(str::to_owned),
                ran_at: time::from_sql(r.text("ran_at")?)?,
            })
        })
        .collect()
}

fn codes<I: TreeId + Copy>(db: &impl Db, id: Option<I>) -> Result<BTreeSet<String>, StoreError> {
    let mut out = BTreeSet::new();
    if let Some(id) = id {
        let mut chain = vec![id];
        chain.extend(trees::ancestors(db, id)?);
        for i in chain {
            out.insert(trees::get(db, i)?.record.code().to_owned());
        }
    }
    Ok(out)
}

/// Who the document is for, and its channel, amount and products.
pub struct Subject {
    pub customer_id: CustomerId,
    pub channel_code: Option<String>,
    pub amount: Option<Decimal>,
    pub products: Vec<ProductId>,
}

/// The facts of a customer's document: its groups and territories with
/// their ancestors' codes, and its products' item groups.
pub fn facts(db: &impl Db, subject: &Subject) -> Result<Facts, StoreError> {
    let customer = crate::customers::get(db, subject.customer_id)?.record;
    let mut product_groups = BTreeSet::new();
    for p in &subject.products {
        let product = crate::products::get(db, *p)?.record;
        product_groups.extend(codes::<ItemGroupId>(db, product.item_group_id())?);
    }
    Ok(Facts {
        channel: subject.channel_code.clone(),
        amount: subject.amount,
        customer_groups: codes::<CustomerGroupId>(db, customer.customer_group_id())?,
        territories: codes::<TerritoryId>(db, customer.territory_id())?,
        product_groups,
    })
}

/// The subject of an order event.
pub fn order_subject(db: &impl Db, id: OrderId) -> Result<Subject, StoreError> {
    let order = crate::orders::get(db, id)?.record.order;
    let channel = crate::channels::get(db, order.channel_id())?.record;
    Ok(Subject {
        customer_id: order.customer_id(),
        channel_code: Some(channel.code().to_owned()),
        amount: order.totals().map(|t| t.grand_total.amount()),
        products: order.lines().iter().map(|l| l.product_id).collect(),
    })
}

/// The subject of a quotation event.
pub fn quotation_subject(db: &impl Db, id: QuotationId) -> Result<Subject, StoreError> {
    let q = crate::quotations::get(db, id)?.record;
    let channel = crate::channels::get(db, q.channel_id())?.record;
    Ok(Subject {
        customer_id: q.customer_id(),
        channel_code: Some(channel.code().to_owned()),
        amount: q.totals().map(|t| t.gross_total.amount()),
        products: q.lines().iter().map(|l| l.product_id()).collect(),
    })
}

/// The principal of the sales person managing the customer's territory
/// (or the nearest ancestor territory with a manager), from teams.
pub fn territory_manager(
    db: &impl Db,
    customer: CustomerId,
) -> Result<Option<PrincipalId>, StoreError> {
    let customer = crate::customers::get(db, customer)?.record;
    let Some(territory) = customer.territory_id() else {
        return Ok(None);
    };
    let Some(person) = crate::teams::territories::managers::nearest(db, territory)? else {
        return Ok(None);
    };
    Ok(crate::teams::people::get(db, person)?.record.principal_id())
}
