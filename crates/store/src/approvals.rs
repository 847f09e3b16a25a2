//! The approvals capability's tables: policies, requests with their
//! decision records, and delegations.
//!
//! A policy is stored as the JSON of the domain [`Policy`] (its `revision`
//! and `active` live in the body; the `active` column mirrors the body so
//! lists filter in SQL). A request is the whole domain [`ApprovalRequest`]
//! as JSON beside the columns lists filter on (document kind, id and
//! version, status, submitter); one request per document version.
//!
//! Two derived tables are written with every request save, in the same
//! SAVEPOINT:
//! - `approval_request_assignees`: the principals each *pending* step of a
//!   *pending* request waits for (approvers and escalation targets), so the
//!   inbox is an indexed lookup. The component still asks the domain
//!   ([`ApprovalRequest::assigned_to`]) before showing a row: the index only
//!   narrows the candidates.
//! - `approval_decisions`: every [`DecisionRecord`], append-only — a save
//!   inserts the records whose `seq` is new and never updates or deletes
//!   one, so the audit trail outlives any later change of the request body.
//!
//! Delegations are rows (`from`, `to`, an inclusive day range); the domain
//! [`Delegations`] set, which refuses overlaps and cycles, is rebuilt from
//! all of them by [`delegations::all`].
//!
//! [`managers`] (migration 6) says who manages whom — one manager per
//! principal — for principals the teams hierarchy (`crate::teams`) does
//! not cover; where a principal's sales person has a manager, the
//! hierarchy wins ([`escalation::directory`]).

use chrono::{DateTime, NaiveDate, Utc};
use sales_domain::approvals::{
    ApprovalRequest, DecisionRecord, Delegation, Delegations, DocumentId, Policy, StepState,
};
use sales_domain::ids::{ApprovalPolicyId, ApprovalRequestId, DelegationId, PrincipalId};

use crate::db::{Db, Row, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::{
    atomically, delete_by_id, from_json, get_by_id, page_by_id, to_json, update_versioned, Where,
};
use crate::{time, StoreError};

fn corrupt(entity: &'static str, id: &str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        entity,
        id: id.to_owned(),
        message: message.to_string(),
    }
}

fn document_columns(d: DocumentId) -> (&'static str, String) {
    match d {
        DocumentId::Quotation(id) => ("quotation", id.to_string()),
        DocumentId::Order(id) => ("order", id.to_string()),
    }
}

/// Approval policies.
pub mod policies {
    use super::*;

    const TABLE: &str = "approval_policies";
    const ENTITY: &str = "approval policy";
    const SELECT: &str = "SELECT id, body, version, created_at, updated_at FROM approval_policies";

    /// Filters for [`list`].
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct PolicyFilter {
        pub active: Option<bool>,
    }

    fn decode(row: Row<'_>) -> Result<Versioned<Policy>, StoreError> {
        let id = row.text("id")?;
        let record: Policy =
            from_json("body", row.text("body")?).map_err(|e| corrupt(ENTITY, id, e))?;
        Ok(Versioned {
            record,
            version: row.int("version")?,
            created_at: time::from_sql(row.text("created_at")?)?,
            updated_at: time::from_sql(row.text("updated_at")?)?,
        })
    }

    pub fn create(
        db: &impl Db,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Policy>, StoreError> {
        let ts = time::to_sql(now);
        db.execute(
            "INSERT INTO approval_policies (id, name, body, active, version, created_at, updated_at)
             VALUES (?, ?, ?, ?, 1, ?, ?)",
            &[
                Value::Text(policy.id().to_string()),
                Value::from(policy.name()),
                to_json("body", policy)?,
                Value::from(policy.is_active()),
                Value::from(&ts),
                Value::Text(ts),
            ],
        )?;
        get(db, policy.id())
    }

    pub fn get(db: &impl Db, id: ApprovalPolicyId) -> Result<Versioned<Policy>, StoreError> {
        get_by_id(db, SELECT, ENTITY, &id.to_string(), decode)
    }

    pub fn list(
        db: &impl Db,
        filter: &PolicyFilter,
        page: &Page,
    ) -> Result<Listed<Policy>, StoreError> {
        let mut w = Where::default();
        if let Some(active) = filter.active {
            w.and("active = ?", [Value::from(active)]);
        }
        page_by_id(
            db,
            (TABLE, SELECT),
            w,
            page,
            ApprovalPolicyId::parse,
            decode,
            |p| p.record.id().to_string(),
        )
    }

    /// Stores `policy` (the caller bumps its revision) if the row is still
    /// at `expected_version`.
    pub fn update(
        db: &impl Db,
        policy: &Policy,
        expected_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Policy>, StoreError> {
        let id = policy.id().to_string();
        update_versioned(
            db,
            TABLE,
            ENTITY,
            (&id, expected_version),
            "UPDATE approval_policies
             SET name = ?, body = ?, active = ?, version = version + 1, updated_at = ?
             WHERE id = ? AND version = ? RETURNING id",
            &[
                Value::from(policy.name()),
                to_json("body", policy)?,
                Value::from(policy.is_active()),
                Value::Text(time::to_sql(now)),
                Value::from(&id),
                Value::Integer(expected_version),
            ],
        )?;
        get(db, policy.id())
    }

    /// Every active policy, in id order (the set `evaluate` reads).
    pub fn all_active(db: &impl Db) -> Result<Vec<Policy>, StoreError> {
        let rows = db.execute(&format!("{SELECT} WHERE active = 1 ORDER BY id"), &[])?;
        rows.iter().map(|r| decode(r).map(|v| v.record)).collect()
    }
}

/// Approval requests and their decision records.
pub mod requests {
    use super::*;
    use crate::visibility::Visibility;

    const TABLE: &str = "approval_requests";
    const ENTITY: &str = "approval request";
    const SELECT: &str = "SELECT id, body, version, created_at, updated_at FROM approval_requests";

    /// Filters for [`list`]; all given ones must hold.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct RequestFilter {
        /// `pending`, `approved`, `rejected` or `superseded`.
        pub status: Option<String>,
        /// Requests a pending step of which waits for one of these.
        pub assignees: Option<Vec<PrincipalId>>,
        pub document: Option<DocumentId>,
        pub submitted_by: Option<PrincipalId>,
    }

    fn decode(row: Row<'_>) -> Result<Versioned<ApprovalRequest>, StoreError> {
        let id = row.text("id")?;
        let record: ApprovalRequest =
            from_json("body", row.text("body")?).map_err(|e| corrupt(ENTITY, id, e))?;
        Ok(Versioned {
            record,
            version: row.int("version")?,
            created_at: time::from_sql(row.text("created_at")?)?,
            updated_at: time::from_sql(row.text("updated_at")?)?,
        })
    }

    /// Rewrites the inbox index and appends the decisions not stored yet.
    fn write_derived(db: &impl Db, request: &ApprovalRequest) -> Result<(), StoreError> {
        let id = request.id().to_string();
        db.execute(
            "DELETE FROM approval_request_assignees WHERE request_id = ?",
            &[Value::from(&id)],
        )?;
        if request.status().name() == "pending" {
            let mut waiting_for = std::collections::BTreeSet::new();
            for step in request.steps() {
                if matches!(step.state(), StepState::Pending { .. }) {
                    waiting_for.extend(step.approvers().iter().copied());
                    waiting_for.extend(step.escalated_to().iter().copied());
                }
            }
            for p in waiting_for {
                db.execute(
                    "INSERT INTO approval_request_assignees (principal_id, request_id) VALUES (?, ?)",
                    &[Value::Text(p.to_string()), Value::from(&id)],
                )?;
            }
        }
        let rows = db.execute(
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM approval_decisions WHERE request_id = ?",
            &[Value::from(&id)],
        )?;
        let stored = rows.first().map(|r| r.int("seq")).transpose()?.unwrap_or(0);
        for record in request
            .decisions()
            .iter()
            .filter(|d| i64::from(d.seq) > stored)
        {
            db.execute(
                "INSERT INTO approval_decisions
                   (request_id, seq, decided_by, on_behalf_of, at, body)
                 VALUES (?, ?, ?, ?, ?, ?)",
                &[
                    Value::from(&id),
                    Value::from(record.seq),
                    Value::Text(record.decided_by.to_string()),
                    Value::from(record.on_behalf_of.map(|p| p.to_string())),
                    Value::Text(time::to_sql(record.at)),
                    to_json("body", record)?,
                ],
            )?;
        }
        Ok(())
    }

    /// Stores a new request. A second request for the same document
    /// version is [`StoreError::Duplicate`] (field `document`).
    pub fn create(
        db: &impl Db,
        request: &ApprovalRequest,
        now: DateTime<Utc>,
    ) -> Result<Versioned<ApprovalRequest>, StoreError> {
        atomically(db, || {
            let doc = request.document();
            let (kind, doc_id) = document_columns(doc.document);
            let taken = db.execute(
                "SELECT 1 AS one FROM approval_requests
                 WHERE document_kind = ? AND document_id = ? AND document_version = ?",
                &[
                    Value::from(kind),
                    Value::from(&doc_id),
                    Value::from(doc.version),
                ],
            )?;
            if !taken.is_empty() {
                return Err(StoreError::Duplicate {
                    entity: ENTITY,
                    field: "document",
                    value: format!("{doc}"),
                });
            }
            let ts = time::to_sql(now);
            db.execute(
                "INSERT INTO approval_requests
                   (id, document_kind, document_id, document_version, status, submitted_by,
                    body, version, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                &[
                    Value::Text(request.id().to_string()),
                    Value::from(kind),
                    Value::Text(doc_id),
                    Value::from(doc.version),
                    Value::from(request.status().name()),
                    Value::Text(request.submitted_by().to_string()),
                    to_json("body", request)?,
                    Value::from(&ts),
                    Value::Text(ts),
                ],
            )?;
            write_derived(db, request)?;
            get(db, request.id())
        })
    }

    /// Stores the next state of a request if the row is still at
    /// `expected_version`.
    pub fn save(
        db: &impl Db,
        request: &ApprovalRequest,
        expected_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Versioned<ApprovalRequest>, StoreError> {
        atomically(db, || {
            let id = request.id().to_string();
            update_versioned(
                db,
                TABLE,
                ENTITY,
                (&id, expected_version),
                "UPDATE approval_requests
                 SET status = ?, body = ?, version = version + 1, updated_at = ?
                 WHERE id = ? AND version = ? RETURNING id",
                &[
                    Value::from(request.status().name()),
                    to_json("body", request)?,
                    Value::Text(time::to_sql(now)),
                    Value::from(&id),
                    Value::Integer(expected_version),
                ],
            )?;
            write_derived(db, request)?;
            get(db, request.id())
        })
    }

    pub fn get(
        db: &impl Db,
        id: ApprovalRequestId,
    ) -> Result<Versioned<ApprovalRequest>, StoreError> {
        get_visible(db, id, &Visibility::All)
    }

    /// [`get`], or [`StoreError::NotFound`] when the caller may not see
    /// the request's document — the same answer as for an unknown id.
    pub fn get_visible(
        db: &impl Db,
        id: ApprovalRequestId,
        visible: &Visibility,
    ) -> Result<Versioned<ApprovalRequest>, StoreError> {
        let mut params = vec![Value::Text(id.to_string())];
        let extra = match crate::visibility::approval_request(visible) {
            Some((clause, p)) => {
                params.extend(p);
                format!(" AND {clause}")
            }
            None => String::new(),
        };
        let rows = db.execute(&format!("{SELECT} WHERE id = ?{extra}"), &params)?;
        match rows.first() {
            Some(row) => decode(row),
            None => Err(StoreError::NotFound {
                entity: ENTITY,
                id: id.to_string(),
            }),
        }
    }

    /// The request for the newest version of `document`, if any.
    pub fn latest_for(
        db: &impl Db,
        document: DocumentId,
    ) -> Result<Option<Versioned<ApprovalRequest>>, StoreError> {
        let (kind, id) = document_columns(document);
        let rows = db.execute(
            &format!(
                "{SELECT} WHERE document_kind = ? AND document_id = ?
                 ORDER BY document_version DESC LIMIT 1"
            ),
            &[Value::from(kind), Value::Text(id)],
        )?;
        rows.first().map(decode).transpose()
    }

    pub fn list(
        db: &impl Db,
        filter: &RequestFilter,
        page: &Page,
    ) -> Result<Listed<ApprovalRequest>, StoreError> {
        list_visible(db, filter, page, &Visibility::All)
    }

    /// [`list`] within what `visible` lets the caller see: requests whose
    /// document the caller sees.
    pub fn list_visible(
        db: &impl Db,
        filter: &RequestFilter,
        page: &Page,
        visible: &Visibility,
    ) -> Result<Listed<ApprovalRequest>, StoreError> {
        let mut w = Where::default();
        if let Some((clause, params)) = crate::visibility::approval_request(visible) {
            w.and(&clause, params);
        }
        if let Some(status) = &filter.status {
            w.and("status = ?", [Value::from(status.as_str())]);
        }
        if let Some(assignees) = &filter.assignees {
            let marks = vec!["?"; assignees.len().max(1)].join(", ");
            let mut params: Vec<Value> = assignees
                .iter()
                .map(|p| Value::Text(p.to_string()))
                .collect();
            if params.is_empty() {
                params.push(Value::Null);
            }
            w.and(
                &format!(
                    "id IN (SELECT request_id FROM approval_request_assignees
                            WHERE principal_id IN ({marks}))"
                ),
                params,
            );
        }
        if let Some(document) = filter.document {
            let (kind, id) = document_columns(document);
            w.and(
                "document_kind = ? AND document_id = ?",
                [Value::from(kind), Value::Text(id)],
            );
        }
        if let Some(p) = filter.submitted_by {
            w.and("submitted_by = ?", [Value::Text(p.to_string())]);
        }
        page_by_id(
            db,
            (TABLE, SELECT),
            w,
            page,
            ApprovalRequestId::parse,
            decode,
            |r| r.record.id().to_string(),
        )
    }

    /// The stored decision records of a request, in order: the audit trail.
    pub fn decisions(
        db: &impl Db,
        id: ApprovalRequestId,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        let rows = db.execute(
            "SELECT seq, body FROM approval_decisions WHERE request_id = ? ORDER BY seq",
            &[Value::Text(id.to_string())],
        )?;
        rows.iter()
            .map(|r| {
                from_json("body", r.text("body")?)
                    .map_err(|e| corrupt("approval decision", &id.to_string(), e))
            })
            .collect()
    }
}

/// Delegations: `from` lets `to` decide in their place on a range of days.
pub mod delegations {
    use super::*;

    const TABLE: &str = "approval_delegations";
    const ENTITY: &str = "delegation";
    const SELECT: &str =
        "SELECT id, from_principal, to_principal, starts, ends, created_by, created_at
         FROM approval_delegations";

    /// A stored delegation: the domain value plus its id and who made it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StoredDelegation {
        pub id: DelegationId,
        pub delegation: Delegation,
        pub created_by: PrincipalId,
        pub created_at: DateTime<Utc>,
    }

    /// Filters for [`list`].
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct DelegationFilter {
        /// Delegations from or to this principal.
        pub principal: Option<PrincipalId>,
    }

    fn decode(row: Row<'_>) -> Result<StoredDelegation, StoreError> {
        let id_text = row.text("id")?;
        let bad = |e: &dyn std::fmt::Display| corrupt(ENTITY, id_text, e);
        let principal = |column: &str| -> Result<PrincipalId, StoreError> {
            PrincipalId::parse(row.text(column)?).map_err(|e| bad(&e))
        };
        let day = |column: &str| -> Result<NaiveDate, StoreError> {
            NaiveDate::parse_from_str(row.text(column)?, "%Y-%m-%d").map_err(|e| bad(&e))
        };
        let delegation = Delegation::new(
            principal("from_principal")?,
            principal("to_principal")?,
            day("starts")?,
            day("ends")?,
        )
        .map_err(|e| bad(&e))?;
        Ok(StoredDelegation {
            id: DelegationId::parse(id_text).map_err(|e| bad(&e))?,
            delegation,
            created_by: principal("created_by")?,
            created_at: time::from_sql(row.text("created_at")?)?,
        })
    }

    /// Stores a delegation. The caller checks it against [`all`] first
    /// (overlaps and cycles are whole-set rules of the domain).
    pub fn create(db: &impl Db, d: &StoredDelegation) -> Result<StoredDelegation, StoreError> {
        db.execute(
            "INSERT INTO approval_delegations
               (id, from_principal, to_principal, starts, ends, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[
                Value::Text(d.id.to_string()),
                Value::Text(d.delegation.from().to_string()),
                Value::Text(d.delegation.to().to_string()),
                Value::Text(d.delegation.starts().to_string()),
                Value::Text(d.delegation.ends().to_string()),
                Value::Text(d.created_by.to_string()),
                Value::Text(time::to_sql(d.created_at)),
            ],
        )?;
        get(db, d.id)
    }

    pub fn get(db: &impl Db, id: DelegationId) -> Result<StoredDelegation, StoreError> {
        get_by_id(db, SELECT, ENTITY, &id.to_string(), decode)
    }

    pub fn list(
        db: &impl Db,
        filter: &DelegationFilter,
        page: &Page,
    ) -> Result<(Vec<StoredDelegation>, Option<String>), StoreError> {
        let mut w = Where::default();
        if let Some(p) = filter.principal {
            let p = p.to_string();
            w.and(
                "(from_principal = ? OR to_principal = ?)",
                [Value::from(&p), Value::Text(p.clone())],
            );
        }
        page_by_id(
            db,
            (TABLE, SELECT),
            w,
            page,
            DelegationId::parse,
            decode,
            |d| d.id.to_string(),
        )
    }

    /// Removes a delegation; decisions already taken under it keep naming it.
    pub fn delete(db: &impl Db, id: DelegationId) -> Result<(), StoreError> {
        delete_by_id(db, TABLE, ENTITY, &id.to_string())
    }

    /// Every delegation as the domain's validated set.
    pub fn all(db: &impl Db) -> Result<Delegations, StoreError> {
        let rows = db.execute(&format!("{SELECT} ORDER BY id"), &[])?;
        let list = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Delegations::new(list.into_iter().map(|d| d.delegation))
            .map_err(|e| corrupt(ENTITY, "(all)", e))
    }
}

/// Who manages whom, for approval chains: one manager per principal.
pub mod managers {
    use std::collections::BTreeMap;

    use sales_domain::ids::ApprovalManagerId;

    use super::*;

    const TABLE: &str = "approval_managers";
    const ENTITY: &str = "approval manager";
    const SELECT: &str = "SELECT id, principal_id, manager_id, created_at FROM approval_managers";

    /// `manager` manages `principal`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ManagerLine {
        pub id: ApprovalManagerId,
        pub principal: PrincipalId,
        pub manager: PrincipalId,
        pub created_at: DateTime<Utc>,
    }

    /// Filters for [`list`].
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ManagerFilter {
        /// Lines of this principal or of whom they manage.
        pub principal: Option<PrincipalId>,
    }

    fn decode(row: Row<'_>) -> Result<ManagerLine, StoreError> {
        let id_text = row.text("id")?;
        let principal = |column: &str| -> Result<PrincipalId, StoreError> {
            PrincipalId::parse(row.text(column)?).map_err(|e| corrupt(ENTITY, id_text, e))
        };
        Ok(ManagerLine {
            id: ApprovalManagerId::parse(id_text).map_err(|e| corrupt(ENTITY, id_text, e))?,
            principal: principal("principal_id")?,
            manager: principal("manager_id")?,
            created_at: time::from_sql(row.text("created_at")?)?,
        })
    }

    /// Stores a line; a principal who already has a manager is
    /// [`StoreError::Duplicate`] (field `principal_id`).
    pub fn create(db: &impl Db, line: &ManagerLine) -> Result<ManagerLine, StoreError> {
        let taken = db.execute(
            "SELECT 1 AS one FROM approval_managers WHERE principal_id = ?",
            &[Value::Text(line.principal.to_string())],
        )?;
        if !taken.is_empty() {
            return Err(StoreError::Duplicate {
                entity: ENTITY,
                field: "principal_id",
                value: line.principal.to_string(),
            });
        }
        db.execute(
            "INSERT INTO approval_managers (id, principal_id, manager_id, created_at)
             VALUES (?, ?, ?, ?)",
            &[
                Value::Text(line.id.to_string()),
                Value::Text(line.principal.to_string()),
                Value::Text(line.manager.to_string()),
                Value::Text(time::to_sql(line.created_at)),
            ],
        )?;
        get(db, line.id)
    }

    pub fn get(db: &impl Db, id: ApprovalManagerId) -> Result<ManagerLine, StoreError> {
        get_by_id(db, SELECT, ENTITY, &id.to_string(), decode)
    }

    pub fn list(
        db: &impl Db,
        filter: &ManagerFilter,
        page: &Page,
    ) -> Result<(Vec<ManagerLine>, Option<String>), StoreError> {
        let mut w = Where::default();
        if let Some(p) = filter.principal {
            let p = p.to_string();
            w.and(
                "(principal_id = ? OR manager_id = ?)",
                [Value::from(&p), Value::Text(p.clone())],
            );
        }
        page_by_id(
            db,
            (TABLE, SELECT),
            w,
            page,
            ApprovalManagerId::parse,
            decode,
            |l| l.id.to_string(),
        )
    }

    pub fn delete(db: &impl Db, id: ApprovalManagerId) -> Result<(), StoreError> {
        delete_by_id(db, TABLE, ENTITY, &id.to_string())
    }

    /// Every line as the directory's `managers` map (principal → manager).
    pub fn all(db: &impl Db) -> Result<BTreeMap<PrincipalId, PrincipalId>, StoreError> {
        let rows = db.execute(&format!("{SELECT} ORDER BY id"), &[])?;
        rows.iter()
            .map(|r| decode(r).map(|l| (l.principal, l.manager)))
            .collect()
    }
}

/// The approvals directory and the escalation tick, shared by the
/// approvals component (`POST /api/v1/approvals/tick`) and the jobs
/// component's periodic `tick`.
pub mod escalation {
    use sales_domain::approvals::{Directory, EscalationAction};
    use sales_domain::auth::Principal;

    use super::*;
    use crate::api_keys::{self, ApiKeyFilter};
    use crate::page::MAX_LIMIT;

    /// The people approvals know: the holders of usable API keys (and
    /// `caller`, who may be the bootstrap admin, which has no key row);
    /// who manages whom from the sales hierarchy (`teams::directory::fill`:
    /// people linked to principals), else from `approval_managers` (the
    /// fallback for principals the hierarchy does not cover); and each
    /// territory's manager from the teams' territory managers.
    pub fn directory(db: &impl Db, caller: Option<&Principal>) -> Result<Directory, StoreError> {
        let mut dir = Directory::default();
        let mut add = |p: &Principal| {
            dir.principals.insert(p.id());
            for role in p.roles() {
                dir.roles.entry(*role).or_default().insert(p.id());
            }
        };
        if let Some(caller) = caller {
            add(caller);
        }
        let filter = ApiKeyFilter {
            revoked: Some(false),
        };
        let mut page = Page::first(MAX_LIMIT);
        loop {
            let (keys, next) = api_keys::list(db, &filter, &page)?;
            for key in &keys {
                add(key.principal());
            }
            match next {
                Some(cursor) => page = Page::after(MAX_LIMIT, cursor),
                None => break,
            }
        }
        dir.managers = managers::all(db)?;
        crate::teams::directory::fill(db, &mut dir)?;
        Ok(dir)
    }

    /// `approval.escalated` with the action as its payload: the jobs
    /// component notifies the people it names.
    fn announce(
        db: &impl Db,
        action: &EscalationAction,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let payload = serde_json::to_value(action)
            .map_err(|e| crate::DbError::Decode(format!("escalation: {e}")))?;
        crate::outbox::enqueue(
            db,
            &crate::outbox::NewEvent {
                topic: "approval.escalated".into(),
                aggregate_kind: "approval_request".into(),
                aggregate_id: action.request.to_string(),
                payload,
            },
            now,
        )?;
        Ok(())
    }

    /// Escalates every pending step past its time limit at `now` (the
    /// domain's `ApprovalRequest::tick`, which restarts the step's clock,
    /// so a replayed tick escalates once), saving each request it changes
    /// and writing an `approval.escalated` outbox event per action (the
    /// jobs component notifies); returns the actions (who was added, who
    /// is to be notified). Run it inside the caller's transaction.
    pub fn escalate_due(
        db: &impl Db,
        dir: &Directory,
        now: DateTime<Utc>,
    ) -> Result<Vec<EscalationAction>, StoreError> {
        let filter = requests::RequestFilter {
            status: Some("pending".into()),
            ..requests::RequestFilter::default()
        };
        let mut page = Page::first(MAX_LIMIT);
        let mut escalations = Vec::new();
        loop {
            let (items, next) = requests::list(db, &filter, &page)?;
            for r in items {
                let (ticked, actions) = r.record.tick(dir, now);
                if !actions.is_empty() {
                    requests::save(db, &ticked, r.version, now)?;
                    for action in &actions {
                        announce(db, action, now)?;
                    }
                    escalations.extend(actions);
                }
            }
            match next {
                Some(cursor) => page = Page::after(MAX_LIMIT, cursor),
                None => break,
            }
        }
        Ok(escalations)
    }
}

/// The outbox events of approval requests: `approval.requested` when a
/// request is opened (its approvers are notified), `approval.approved` /
/// `approval.rejected` when a decision makes it final (the jobs component
/// confirms the order or sends it back to draft). Written in the
/// transaction that stores the request.
pub mod events {
    use sales_domain::approvals::{ApprovalRequest, RequestStatus};

    use super::*;
    use crate::outbox::{self, NewEvent};

    /// The topic a request in its current status announces, if any.
    pub fn topic(request: &ApprovalRequest) -> Option<&'static str> {
        match request.status() {
            RequestStatus::Pending => Some("approval.requested"),
            RequestStatus::Approved { .. } => Some("approval.approved"),
            RequestStatus::Rejected { .. } => Some("approval.rejected"),
            _ => None,
        }
    }

    /// Writes the event for `request`'s current status (see [`topic`]);
    /// returns whether one was written. Payload: `request_id`,
    /// `document_kind` (`order` / `quotation`), `document_id`,
    /// `document_version`, `status`, and for a rejection `reason`.
    pub fn emit(
        db: &impl Db,
        request: &ApprovalRequest,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(topic) = topic(request) else {
            return Ok(false);
        };
        let document = request.document();
        let (kind, id) = document_columns(document.document);
        let reason = match request.status() {
            RequestStatus::Rejected { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        outbox::enqueue(
            db,
            &NewEvent {
                topic: topic.to_owned(),
                aggregate_kind: "approval_request".into(),
                aggregate_id: request.id().to_string(),
                payload: serde_json::json!({
                    "request_id": request.id(),
                    "document_kind": kind,
                    "document_id": id,
                    "document_version": document.version,
                    "status": request.status().name(),
                    "reason": reason,
                }),
            },
            now,
        )?;
        Ok(true)
    }
}
