//! `/api/v1/calendars`, `/api/v1/work-centers`, `/api/v1/project-roles`:
//! the capacity capable-to-promise and project timelines plan on.
//!
//! A work centre names its calendar and lists the products it makes
//! (`routings`: hours per unit, material lead days); a project role names
//! its calendar and lists the service products it delivers (`services`:
//! hours per unit). A product has one maker and one deliverer at most
//! (409 `duplicate` otherwise). Every record is validated by the engine's
//! own constructors before it is stored, so a check never meets a record
//! it cannot plan with. Updates are PATCH with `If-Match` (present fields
//! replace).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sales_domain::auth::Action;
use sales_domain::availability::{
    BookingSpec, CalendarId, PlannedLoad, ProjectRole as DomainRole, ProjectRoleId,
    ProjectRoleSpec, Routing, RoutingSpec, Service, ServiceSpec, Weekday,
    WorkCenter as DomainCenter, WorkCenterId, WorkCenterSpec, WorkingCalendar, WorkingCalendarSpec,
};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::availability::capacity::{
    self, Calendar, CapacityRecord, ProjectRole, RoutingEntry, ServiceEntry, WorkCenter,
};
use sales_store::{Db, StoreError};
use serde::Deserialize;

use crate::check::product;
use crate::errors;
use crate::wire::{not_null, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

fn same<T: Clone>(t: &T) -> T {
    t.clone()
}

fn name(value: &str) -> Result<String, ApiError> {
    sales_domain::catalog::required_text("name", value, sales_domain::catalog::NAME_MAX)
        .map_err(crate::warehouses::invalid)
}

/// The stored calendar a record names, as the engine's spec.
fn calendar_spec(db: &impl Db, id: CalendarId) -> Result<WorkingCalendarSpec, ApiError> {
    match capacity::get::<Calendar>(db, &id.to_string()) {
        Ok(c) => Ok(WorkingCalendarSpec {
            working_days: c.record.working_days,
            holidays: c.record.holidays,
        }),
        Err(StoreError::NotFound { .. }) => Err(StoreError::MissingReference {
            field: "calendar_id",
            id: id.to_string(),
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

fn list_of<T: CapacityRecord + Clone + serde::Serialize, I: std::fmt::Display, E>(
    ctx: &Ctx,
    req: &ApiRequest,
    parse: impl FnOnce(&str) -> Result<I, E>,
) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ListQuery = parse_query(&req.query)?;
    let (items, next) = capacity::list::<T, I, E>(&ctx.db, &store_page(q.limit, q.cursor)?, parse)?;
    page(&items, same, next)
}

fn get_one<T: CapacityRecord + Clone + serde::Serialize>(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    record(200, &capacity::get::<T>(&ctx.db, id)?, same, None)
}

fn store_new<T: CapacityRecord + Clone + serde::Serialize>(
    ctx: &Ctx,
    req: &ApiRequest,
    path: &str,
    build: impl FnOnce(&sales_kit::spin::SpinDb) -> Result<T, ApiError>,
) -> ApiResult {
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let r = build(db)?;
            let stored = capacity::create(db, &r, ctx.now)?;
            record(201, &stored, same, Some(format!("{path}/{}", r.id_text())))
        },
    )
}

fn store_patch<T: CapacityRecord + Clone + serde::Serialize>(
    ctx: &Ctx,
    req: &ApiRequest,
    id: &str,
    build: impl FnOnce(&sales_kit::spin::SpinDb, T) -> Result<T, ApiError>,
) -> ApiResult {
    let expected = if_match(req)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = capacity::get::<T>(db, id)?.record;
            let next = build(db, current)?;
            record(
                200,
                &capacity::update(db, &next, expected, ctx.now)?,
                same,
                None,
            )
        },
    )
}

// ---- calendars ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarBody {
    name: String,
    working_days: Vec<Weekday>,
    #[serde(default)]
    holidays: Vec<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarPatch {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    working_days: Option<Vec<Weekday>>,
    #[serde(default, deserialize_with = "not_null")]
    holidays: Option<Vec<NaiveDate>>,
}

fn calendar(
    id: CalendarId,
    name_: &str,
    days: Vec<Weekday>,
    holidays: Vec<NaiveDate>,
) -> Result<Calendar, ApiError> {
    let checked = WorkingCalendar::new(WorkingCalendarSpec {
        working_days: days,
        holidays,
    })
    .map_err(errors::calendar)?;
    let spec: WorkingCalendarSpec = checked.into();
    Ok(Calendar {
        id,
        name: name(name_)?,
        working_days: spec.working_days,
        holidays: spec.holidays,
    })
}

pub fn list_calendars(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    list_of::<Calendar, _, _>(ctx, req, CalendarId::parse)
}

pub fn get_calendar(ctx: &Ctx, id: &str) -> ApiResult {
    let id = path_id(id, CalendarId::parse)?;
    get_one::<Calendar>(ctx, &id.to_string())
}

pub fn create_calendar(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let b: CalendarBody = parse_json(req)?;
    let c = calendar(CalendarId::new(), &b.name, b.working_days, b.holidays)?;
    store_new(ctx, req, "/api/v1/calendars", |_| Ok(c))
}

pub fn update_calendar(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let id = path_id(id, CalendarId::parse)?;
    let b: CalendarPatch = parse_json(req)?;
    store_patch::<Calendar>(ctx, req, &id.to_string(), |_, c| {
        calendar(
            id,
            b.name.as_deref().unwrap_or(&c.name),
            b.working_days.unwrap_or(c.working_days),
            b.holidays.unwrap_or(c.holidays),
        )
    })
}

// ---- work centres ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingBody {
    product_id: sales_domain::ids::ProductId,
    hours_per_unit: Decimal,
    #[serde(default)]
    material_lead_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkCenterBody {
    name: String,
    calendar_id: CalendarId,
    hours_per_day: Decimal,
    #[serde(default)]
    planned_load: Vec<PlannedLoad>,
    #[serde(default)]
    routings: Vec<RoutingBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkCenterPatch {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    calendar_id: Option<CalendarId>,
    #[serde(default, deserialize_with = "not_null")]
    hours_per_day: Option<Decimal>,
    #[serde(default, deserialize_with = "not_null")]
    planned_load: Option<Vec<PlannedLoad>>,
    #[serde(default, deserialize_with = "not_null")]
    routings: Option<Vec<RoutingBody>>,
}

/// Checks a work centre with the engine and its products in the catalog.
fn work_center(db: &impl Db, w: WorkCenter) -> Result<WorkCenter, ApiError> {
    let w = WorkCenter {
        name: name(&w.name)?,
        ..w
    };
    DomainCenter::new(WorkCenterSpec {
        id: w.id,
        name: w.name.clone(),
        hours_per_day: w.hours_per_day,
        calendar: calendar_spec(db, w.calendar_id)?,
        planned_load: w.planned_load.clone(),
    })
    .map_err(|e| errors::work_center(e, None))?;
    for (i, r) in w.routings.iter().enumerate() {
        Routing::new(RoutingSpec {
            product: r.product_id,
            work_center: w.id,
            hours_per_unit: r.hours_per_unit,
            material_lead_days: r.material_lead_days,
        })
        .map_err(|e| errors::work_center(e, Some(i)))?;
        product(db, &format!("routings[{i}].product_id"), r.product_id)?;
    }
    Ok(w)
}

fn routings(b: Vec<RoutingBody>) -> Vec<RoutingEntry> {
    b.into_iter()
        .map(|r| RoutingEntry {
            product_id: r.product_id,
            hours_per_unit: r.hours_per_unit,
            material_lead_days: r.material_lead_days,
        })
        .collect()
}

pub fn list_work_centers(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    list_of::<WorkCenter, _, _>(ctx, req, WorkCenterId::parse)
}

pub fn get_work_center(ctx: &Ctx, id: &str) -> ApiResult {
    let id = path_id(id, WorkCenterId::parse)?;
    get_one::<WorkCenter>(ctx, &id.to_string())
}

pub fn create_work_center(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let b: WorkCenterBody = parse_json(req)?;
    let w = WorkCenter {
        id: WorkCenterId::new(),
        name: b.name,
        calendar_id: b.calendar_id,
        hours_per_day: b.hours_per_day,
        planned_load: b.planned_load,
        routings: routings(b.routings),
    };
    store_new(ctx, req, "/api/v1/work-centers", |db| work_center(db, w))
}

pub fn update_work_center(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let id = path_id(id, WorkCenterId::parse)?;
    let b: WorkCenterPatch = parse_json(req)?;
    store_patch::<WorkCenter>(ctx, req, &id.to_string(), |db, c| {
        work_center(
            db,
            WorkCenter {
                id,
                name: b.name.unwrap_or(c.name),
                calendar_id: b.calendar_id.unwrap_or(c.calendar_id),
                hours_per_day: b.hours_per_day.unwrap_or(c.hours_per_day),
                planned_load: b.planned_load.unwrap_or(c.planned_load),
                routings: b.routings.map(routings).unwrap_or(c.routings),
            },
        )
    })
}

// ---- project roles ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceBody {
    product_id: sales_domain::ids::ProductId,
    #[serde(default = "one")]
    hours_per_unit: Decimal,
}

fn one() -> Decimal {
    Decimal::ONE
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    name: String,
    calendar_id: CalendarId,
    hours_per_week: Decimal,
    #[serde(default)]
    bookings: Vec<BookingSpec>,
    #[serde(default)]
    services: Vec<ServiceBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolePatch {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    calendar_id: Option<CalendarId>,
    #[serde(default, deserialize_with = "not_null")]
    hours_per_week: Option<Decimal>,
    #[serde(default, deserialize_with = "not_null")]
    bookings: Option<Vec<BookingSpec>>,
    #[serde(default, deserialize_with = "not_null")]
    services: Option<Vec<ServiceBody>>,
}

fn role(db: &impl Db, r: ProjectRole) -> Result<ProjectRole, ApiError> {
    let r = ProjectRole {
        name: name(&r.name)?,
        ..r
    };
    DomainRole::new(ProjectRoleSpec {
        id: r.id,
        name: r.name.clone(),
        hours_per_week: r.hours_per_week,
        calendar: calendar_spec(db, r.calendar_id)?,
        bookings: r.bookings.clone(),
    })
    .map_err(|e| errors::project_role(e, None))?;
    for (i, s) in r.services.iter().enumerate() {
        Service::new(ServiceSpec {
            product: s.product_id,
            role: r.id,
            hours_per_unit: s.hours_per_unit,
        })
        .map_err(|e| errors::project_role(e, Some(i)))?;
        product(db, &format!("services[{i}].product_id"), s.product_id)?;
    }
    Ok(r)
}

fn services(b: Vec<ServiceBody>) -> Vec<ServiceEntry> {
    b.into_iter()
        .map(|s| ServiceEntry {
            product_id: s.product_id,
            hours_per_unit: s.hours_per_unit,
        })
        .collect()
}

pub fn list_roles(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    list_of::<ProjectRole, _, _>(ctx, req, ProjectRoleId::parse)
}

pub fn get_role(ctx: &Ctx, id: &str) -> ApiResult {
    let id = path_id(id, ProjectRoleId::parse)?;
    get_one::<ProjectRole>(ctx, &id.to_string())
}

pub fn create_role(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let b: RoleBody = parse_json(req)?;
    let r = ProjectRole {
        id: ProjectRoleId::new(),
        name: b.name,
        calendar_id: b.calendar_id,
        hours_per_week: b.hours_per_week,
        bookings: b.bookings,
        services: services(b.services),
    };
    store_new(ctx, req, "/api/v1/project-roles", |db| role(db, r))
}

pub fn update_role(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteStock)?;
    let id = path_id(id, ProjectRoleId::parse)?;
    let b: RolePatch = parse_json(req)?;
    store_patch::<ProjectRole>(ctx, req, &id.to_string(), |db, c| {
        role(
            db,
            ProjectRole {
                id,
                name: b.name.unwrap_or(c.name),
                calendar_id: b.calendar_id.unwrap_or(c.calendar_id),
                hours_per_week: b.hours_per_week.unwrap_or(c.hours_per_week),
                bookings: b.bookings.unwrap_or(c.bookings),
                services: b.services.map(services).unwrap_or(c.services),
            },
        )
    })
}
