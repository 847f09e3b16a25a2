//! Projects for the service lines of an order: one project per order, one
//! task per service line with its hours, the role that delivers it and the
//! planned start and finish. Written by [`super::reconcile`] only.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{DayHours, ProjectRoleId};
use sales_domain::downstream::{ProjectId, ProjectTaskId, WorkStatus};
use sales_domain::ids::{CustomerId, LineId, OrderId, ProductId};

use super::{corrupt, decimal, schedule};
use crate::availability::date;
use crate::db::{Db, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{to_json, Where};
use crate::visibility::Visibility;
use crate::{time, StoreError};

const ENTITY: &str = "project";
const LIST: &str = "projects";
const COLUMNS: &str =
    "id, number, order_id, order_number, customer_id, status, version, created_at, updated_at";
const TASK_COLUMNS: &str = "id, project_id, line_id, product_id, role_id, hours, start_on,
    finish_on, due_on, schedule, status, booked, version, created_at, updated_at";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    /// `PRJ-2026-00001`.
    pub number: String,
    pub order_id: OrderId,
    pub order_number: String,
    pub customer_id: CustomerId,
    /// Planned while any task is; cancelled when the order no longer
    /// wants any service.
    pub status: WorkStatus,
    pub tasks: Vec<Versioned<ProjectTask>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTask {
    pub id: ProjectTaskId,
    pub project_id: ProjectId,
    pub line_id: LineId,
    pub product_id: ProductId,
    pub role_id: ProjectRoleId,
    pub hours: Decimal,
    pub start: NaiveDate,
    pub finish: NaiveDate,
    pub due_on: Option<NaiveDate>,
    pub schedule: Vec<DayHours>,
    pub status: WorkStatus,
    /// Whether its hours are booked on the role's capacity.
    pub booked: bool,
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFilter {
    pub status: Option<WorkStatus>,
    pub order_id: Option<OrderId>,
    pub customer_id: Option<CustomerId>,
}

fn decode_task(row: Row<'_>) -> Result<Versioned<ProjectTask>, StoreError> {
    let id = row.text("id")?;
    let bad = |e: sales_domain::ids::IdError| corrupt("project task", id, e);
    Ok(Versioned {
        record: ProjectTask {
            id: ProjectTaskId::parse(id).map_err(bad)?,
            project_id: ProjectId::parse(row.text("project_id")?).map_err(bad)?,
            line_id: LineId::parse(row.text("line_id")?).map_err(bad)?,
            product_id: ProductId::parse(row.text("product_id")?).map_err(bad)?,
            role_id: ProjectRoleId::parse(row.text("role_id")?).map_err(bad)?,
            hours: decimal(row.text("hours")?)?,
            start: date(row.text("start_on")?)?,
            finish: date(row.text("finish_on")?)?,
            due_on: row.opt_text("due_on")?.map(date).transpose()?,
            schedule: schedule(row.text("schedule")?)?,
            status: WorkStatus::parse(row.text("status")?)
                .ok_or_else(|| corrupt("project task", id, "unknown status"))?,
            booked: row.bool("booked")?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn tasks(db: &impl Db, project: &str) -> Result<Vec<Versioned<ProjectTask>>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {TASK_COLUMNS} FROM project_tasks WHERE project_id = ? ORDER BY id"),
        &[Value::from(project)],
    )?;
    rows.iter().map(decode_task).collect()
}

fn decode(db: &impl Db, row: Row<'_>) -> Result<Versioned<Project>, StoreError> {
    let id = row.text("id")?;
    let bad = |e: sales_domain::ids::IdError| corrupt(ENTITY, id, e);
    Ok(Versioned {
        record: Project {
            id: ProjectId::parse(id).map_err(bad)?,
            number: row.text("number")?.to_owned(),
            order_id: OrderId::parse(row.text("order_id")?).map_err(bad)?,
            order_number: row.text("order_number")?.to_owned(),
            customer_id: CustomerId::parse(row.text("customer_id")?).map_err(bad)?,
            status: WorkStatus::parse(row.text("status")?)
                .ok_or_else(|| corrupt(ENTITY, id, "unknown status"))?,
            tasks: tasks(db, id)?,
        },
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

pub fn get(db: &impl Db, id: ProjectId) -> Result<Versioned<Project>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM projects WHERE id = ?"),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(db, row),
        None => Err(StoreError::NotFound {
            entity: ENTITY,
            id: id.to_string(),
        }),
    }
}

/// The order's project, if it ever had one.
pub fn for_order(db: &impl Db, order: OrderId) -> Result<Option<Versioned<Project>>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM projects WHERE order_id = ?"),
        &[Value::Text(order.to_string())],
    )?;
    rows.first().map(|r| decode(db, r)).transpose()
}

pub fn list(
    db: &impl Db,
    filter: &ProjectFilter,
    page: &Page,
) -> Result<Listed<Project>, StoreError> {
    list_visible(db, filter, page, &Visibility::All)
}

/// [`list`] within what `visible` lets the caller see: the rows of the
/// orders it sees (`Visibility::of_order`), filtered in SQL so pages stay
/// full.
pub fn list_visible(
    db: &impl Db,
    filter: &ProjectFilter,
    page: &Page,
    visible: &Visibility,
) -> Result<Listed<Project>, StoreError> {
    let mut w = Where::default();
    if let Some((clause, params)) = visible.of_order("projects.order_id") {
        w.and(&clause, params);
    }
    if let Some(s) = filter.status {
        w.and("status = ?", [Value::from(s.as_str())]);
    }
    if let Some(o) = filter.order_id {
        w.and("order_id = ?", [Value::Text(o.to_string())]);
    }
    if let Some(c) = filter.customer_id {
        w.and("customer_id = ?", [Value::Text(c.to_string())]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(LIST, cursor, ProjectId::parse)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM projects {} ORDER BY id LIMIT ?",
            w.sql()
        ),
        &params,
    )?;
    let items = rows
        .iter()
        .map(|r| decode(db, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(finish(LIST, items, limit, |v| v.record.id.to_string()))
}

/// Inserts or rewrites the project row (its tasks are saved one by one).
pub(crate) fn save(db: &impl Db, p: &Project, now: DateTime<Utc>) -> Result<(), StoreError> {
    let ts = Value::Text(time::to_sql(now));
    db.execute(
        &format!(
            "INSERT INTO projects ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status,
               version = projects.version + 1, updated_at = excluded.updated_at"
        ),
        &[
            Value::Text(p.id.to_string()),
            Value::from(&p.number),
            Value::Text(p.order_id.to_string()),
            Value::from(&p.order_number),
            Value::Text(p.customer_id.to_string()),
            Value::from(p.status.as_str()),
            ts.clone(),
            ts,
        ],
    )?;
    Ok(())
}

pub(crate) fn save_task(
    db: &impl Db,
    t: &ProjectTask,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let ts = Value::Text(time::to_sql(now));
    db.execute(
        &format!(
            "INSERT INTO project_tasks ({TASK_COLUMNS})
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
             ON CONFLICT (id) DO UPDATE SET role_id = excluded.role_id,
               hours = excluded.hours, start_on = excluded.start_on,
               finish_on = excluded.finish_on, due_on = excluded.due_on,
               schedule = excluded.schedule, status = excluded.status,
               booked = excluded.booked, version = project_tasks.version + 1,
               updated_at = excluded.updated_at"
        ),
        &[
            Value::Text(t.id.to_string()),
            Value::Text(t.project_id.to_string()),
            Value::Text(t.line_id.to_string()),
            Value::Text(t.product_id.to_string()),
            Value::Text(t.role_id.to_string()),
            Value::Text(t.hours.normalize().to_string()),
            Value::Text(t.start.to_string()),
            Value::Text(t.finish.to_string()),
            Value::from(t.due_on.map(|d| d.to_string())),
            to_json("schedule", &t.schedule)?,
            Value::from(t.status.as_str()),
            Value::from(t.booked),
            ts.clone(),
            ts,
        ],
    )?;
    Ok(())
}
