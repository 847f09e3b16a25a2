//! Capacity for capable-to-promise and project timelines: working
//! calendars, work centres (hours per day, planned load, and the routings
//! of the products they make) and project roles (hours per week,
//! bookings, and the service products they deliver).
//!
//! Each is stored as the JSON of its record; `capacity_products` maps a
//! product to the one work centre that makes it or the one role that
//! delivers it, so a product has one owner ([`StoreError::Duplicate`] on
//! `routings` / `services` otherwise) and the loader finds it by index.
//! The component validates records with the engine's constructors before
//! they reach the store.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{
    BookingSpec, CalendarId, PlannedLoad, ProjectRoleId, Weekday, WorkCenterId,
};
use sales_domain::ids::ProductId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{atomically, from_json, stale_or_missing, to_json};
use crate::{time, StoreError};

/// A working calendar: the weekdays worked and the holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    pub id: CalendarId,
    pub name: String,
    pub working_days: Vec<Weekday>,
    pub holidays: Vec<NaiveDate>,
}

/// How a work centre makes one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingEntry {
    pub product_id: ProductId,
    pub hours_per_unit: Decimal,
    #[serde(default)]
    pub material_lead_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkCenter {
    pub id: WorkCenterId,
    pub name: String,
    pub calendar_id: CalendarId,
    pub hours_per_day: Decimal,
    pub planned_load: Vec<PlannedLoad>,
    pub routings: Vec<RoutingEntry>,
}

/// A service product a role delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub product_id: ProductId,
    /// Hours one unit stands for (1 when sold by the hour).
    pub hours_per_unit: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRole {
    pub id: ProjectRoleId,
    pub name: String,
    pub calendar_id: CalendarId,
    pub hours_per_week: Decimal,
    pub bookings: Vec<BookingSpec>,
    pub services: Vec<ServiceEntry>,
}

/// What the shared repository needs to know about a record kind.
pub trait CapacityRecord: Serialize + DeserializeOwned {
    const TABLE: &'static str;
    const ENTITY: &'static str;
    /// `routing` / `service`: the owner kind in `capacity_products`.
    const OWNS: Option<&'static str>;
    fn id_text(&self) -> String;
    fn name(&self) -> &str;
    fn calendar(&self) -> Option<CalendarId>;
    fn products(&self) -> Vec<ProductId>;
}

impl CapacityRecord for Calendar {
    const TABLE: &'static str = "calendars";
    const ENTITY: &'static str = "calendar";
    const OWNS: Option<&'static str> = None;
    fn id_text(&self) -> String {
        self.id.to_string()
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn calendar(&self) -> Option<CalendarId> {
        None
    }
    fn products(&self) -> Vec<ProductId> {
        Vec::new()
    }
}

impl CapacityRecord for WorkCenter {
    const TABLE: &'static str = "work_centers";
    const ENTITY: &'static str = "work center";
    const OWNS: Option<&'static str> = Some("routings");
    fn id_text(&self) -> String {
        self.id.to_string()
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn calendar(&self) -> Option<CalendarId> {
        Some(self.calendar_id)
    }
    fn products(&self) -> Vec<ProductId> {
        self.routings.iter().map(|r| r.product_id).collect()
    }
}

impl CapacityRecord for ProjectRole {
    const TABLE: &'static str = "project_roles";
    const ENTITY: &'static str = "project role";
    const OWNS: Option<&'static str> = Some("services");
    fn id_text(&self) -> String {
        self.id.to_string()
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn calendar(&self) -> Option<CalendarId> {
        Some(self.calendar_id)
    }
    fn products(&self) -> Vec<ProductId> {
        self.services.iter().map(|s| s.product_id).collect()
    }
}

fn decode<T: CapacityRecord>(row: Row<'_>) -> Result<Versioned<T>, StoreError> {
    let id = row.text("id")?;
    let record: T = from_json("body", row.text("body")?).map_err(|e| StoreError::Corrupt {
        entity: T::ENTITY,
        id: id.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Versioned {
        record,
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn select<T: CapacityRecord>() -> String {
    format!(
        "SELECT id, body, version, created_at, updated_at FROM {}",
        T::TABLE
    )
}

/// The calendar must exist, and every product must be owned by nobody else.
fn references<T: CapacityRecord>(db: &impl Db, r: &T) -> Result<(), StoreError> {
    if let Some(c) = r.calendar() {
        get::<Calendar>(db, &c.to_string()).map_err(|e| match e {
            StoreError::NotFound { id, .. } => StoreError::MissingReference {
                field: "calendar_id",
                id,
            },
            e => e,
        })?;
    }
    let Some(kind) = T::OWNS else {
        return Ok(());
    };
    let owner = r.id_text();
    db.execute(
        "DELETE FROM capacity_products WHERE owner_id = ?",
        &[Value::from(&owner)],
    )?;
    for p in r.products() {
        match db.execute(
            "INSERT INTO capacity_products (product_id, kind, owner_id) VALUES (?, ?, ?)",
            &[
                Value::Text(p.to_string()),
                Value::from(kind),
                Value::from(&owner),
            ],
        ) {
            Ok(_) => {}
            Err(DbError::Unique(_)) => {
                return Err(StoreError::Duplicate {
                    entity: T::ENTITY,
                    field: kind,
                    value: format!("product {p} is already made or delivered elsewhere"),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub fn create<T: CapacityRecord>(
    db: &impl Db,
    r: &T,
    now: DateTime<Utc>,
) -> Result<Versioned<T>, StoreError> {
    atomically(db, || {
        references(db, r)?;
        let ts = Value::Text(time::to_sql(now));
        let (cols, calendar) = match r.calendar() {
            Some(c) => (", calendar_id", vec![Value::Text(c.to_string())]),
            None => ("", Vec::new()),
        };
        let mut params = vec![
            Value::Text(r.id_text()),
            Value::from(r.name()),
            to_json("body", r)?,
        ];
        params.extend(calendar.clone());
        params.extend([ts.clone(), ts]);
        let marks = if calendar.is_empty() { "" } else { ", ?" };
        db.execute(
            &format!(
                "INSERT INTO {} (id, name, body{cols}, version, created_at, updated_at)
                 VALUES (?, ?, ?{marks}, 1, ?, ?)",
                T::TABLE
            ),
            &params,
        )?;
        get(db, &r.id_text())
    })
}

pub fn get<T: CapacityRecord>(db: &impl Db, id: &str) -> Result<Versioned<T>, StoreError> {
    let rows = db.execute(
        &format!("{} WHERE id = ?", select::<T>()),
        &[Value::from(id)],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity: T::ENTITY,
            id: id.to_owned(),
        }),
    }
}

/// A page in id order. `parse` validates a cursor's id.
pub fn list<T: CapacityRecord, I, E>(
    db: &impl Db,
    page: &Page,
    parse: impl FnOnce(&str) -> Result<I, E>,
) -> Result<Listed<T>, StoreError>
where
    I: std::fmt::Display,
{
    let mut params = Vec::new();
    let mut filter = String::new();
    if let Some(cursor) = &page.after {
        let after = decode_cursor(T::TABLE, cursor, parse)?;
        filter = "WHERE id > ?".into();
        params.push(Value::Text(after.to_string()));
    }
    let limit = page.effective_limit();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!("{} {filter} ORDER BY id LIMIT ?", select::<T>()),
        &params,
    )?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(T::TABLE, items, limit, |v: &Versioned<T>| {
        v.record.id_text()
    }))
}

/// Replaces the record if it is still at `expected_version`.
pub fn update<T: CapacityRecord>(
    db: &impl Db,
    r: &T,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<T>, StoreError> {
    atomically(db, || {
        let id = r.id_text();
        let (set, calendar) = match r.calendar() {
            Some(c) => (", calendar_id = ?", vec![Value::Text(c.to_string())]),
            None => ("", Vec::new()),
        };
        let mut params = vec![Value::from(r.name()), to_json("body", r)?];
        params.extend(calendar);
        params.extend([
            Value::Text(time::to_sql(now)),
            Value::from(&id),
            Value::Integer(expected_version),
        ]);
        let changed = db.execute(
            &format!(
                "UPDATE {} SET name = ?, body = ?{set}, version = version + 1, updated_at = ?
                 WHERE id = ? AND version = ? RETURNING id",
                T::TABLE
            ),
            &params,
        )?;
        if changed.is_empty() {
            return Err(stale_or_missing(
                db,
                T::TABLE,
                T::ENTITY,
                &id,
                expected_version,
            ));
        }
        references(db, r)?;
        get(db, &id)
    })
}

/// The work centres that make any of `products` and the roles that deliver
/// any of them, with their calendars (by id).
pub type CapacitySlice = (
    Vec<WorkCenter>,
    Vec<ProjectRole>,
    std::collections::BTreeMap<CalendarId, Calendar>,
);

pub fn for_products(db: &impl Db, products: &[ProductId]) -> Result<CapacitySlice, StoreError> {
    let mut centers = Vec::new();
    let mut roles = Vec::new();
    let mut calendars = std::collections::BTreeMap::new();
    if products.is_empty() {
        return Ok((centers, roles, calendars));
    }
    let marks = vec!["?"; products.len()].join(", ");
    let params: Vec<Value> = products
        .iter()
        .map(|p| Value::Text(p.to_string()))
        .collect();
    // One statement: the work centres and roles that own a routing or a
    // service for any of the products, and their calendars (`calendar_id`
    // from their bodies) — rather than one read for the owners, one per
    // owner and one per calendar, each a round trip through the host.
    let rows = db.execute(
        &format!(
            "WITH owners AS (
                 SELECT DISTINCT kind, owner_id FROM capacity_products
                 WHERE product_id IN ({marks})),
             centers AS (
                 SELECT id, body, version, created_at, updated_at FROM work_centers
                 WHERE id IN (SELECT owner_id FROM owners WHERE kind = 'routings')),
             roles AS (
                 SELECT id, body, version, created_at, updated_at FROM project_roles
                 WHERE id IN (SELECT owner_id FROM owners WHERE kind <> 'routings'))
             SELECT 'a' AS part, id, body, version, created_at, updated_at FROM centers
             UNION ALL
             SELECT 'b', id, body, version, created_at, updated_at FROM roles
             UNION ALL
             SELECT 'c', id, body, version, created_at, updated_at FROM calendars
             WHERE id IN (SELECT json_extract(body, '$.calendar_id') FROM centers
                          UNION SELECT json_extract(body, '$.calendar_id') FROM roles)
             ORDER BY part, id"
        ),
        &params,
    )?;
    for row in rows.iter() {
        match row.text("part")? {
            "a" => centers.push(decode::<WorkCenter>(row)?.record),
            "b" => roles.push(decode::<ProjectRole>(row)?.record),
            _ => {
                let c = decode::<Calendar>(row)?.record;
                calendars.insert(c.id, c);
            }
        }
    }
    Ok((centers, roles, calendars))
}
