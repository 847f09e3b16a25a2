//! The read side of the jobs component and the operator's retry:
//!
//! - `GET /api/v1/outbox` (`status`, `topic`, `aggregate_kind`,
//!   `aggregate_id`), `GET /api/v1/outbox/{id}`,
//!   `POST /api/v1/outbox/{id}/retry` (a parked event back in the queue;
//!   admin);
//! - `GET /api/v1/work-orders[/{id}]` (`status`, `order_id`, `product_id`);
//! - `GET /api/v1/projects[/{id}]` with their tasks (`status`, `order_id`,
//!   `customer_id`);
//! - `GET /api/v1/notifications`: the caller's inbox.
//!
//! Work orders and projects (with their tasks) belong to an order, so they
//! are seen exactly as their order is (`sales_store::visibility`, issue #8
//! item 5): lists filter in SQL, a read of one whose order the caller may
//! not see is the 404 of an unknown id. Notifications are the caller's
//! own; the outbox is for integrations and admins (`ReadOutbox`).

use sales_domain::auth::Action;
use sales_domain::downstream::{ProjectId, WorkOrderId, WorkStatus};
use sales_domain::ids::{CustomerId, EventId, OrderId, ProductId};
use sales_kit::auth::require;
use sales_kit::etag::etag;
use sales_kit::idempotency::write;
use sales_kit::query::{parse_query, Page, PageRequest};
use sales_kit::spin::Ctx;
use sales_kit::{not_allowed, ApiError, ApiRequest, ApiResponse, ApiResult, Method};
use sales_store::downstream::notifications::{self, Notification};
use sales_store::downstream::projects::{self, Project, ProjectFilter};
use sales_store::downstream::work_orders::{self, WorkOrder, WorkOrderFilter};
use sales_store::outbox::{self, Event, EventFilter, EventStatus};
use sales_store::page::{Page as StorePage, Versioned};
use sales_store::time::to_sql;
use sales_store::visibility::{self, Visibility};
use sales_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn route(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let segments = req.segments();
    let m = &req.method;
    match segments.as_slice() {
        ["api", "v1", "outbox"] => match m {
            Method::Get => list_events(ctx, req),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "outbox", id] => match m {
            Method::Get => get_event(ctx, id),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "outbox", id, "retry"] => match m {
            Method::Post => retry_event(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },
        ["api", "v1", "work-orders"] => match m {
            Method::Get => list_work_orders(ctx, req),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "work-orders", id] => match m {
            Method::Get => get_work_order(ctx, id),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "projects"] => match m {
            Method::Get => list_projects(ctx, req),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "projects", id] => match m {
            Method::Get => get_project(ctx, id),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "notifications"] => match m {
            Method::Get => list_notifications(ctx, req),
            _ => not_allowed(m, "GET"),
        },
        _ => Err(ApiError::not_found(format!("no resource at {}", req.path))),
    }
}

fn path_id<T, E: std::fmt::Display>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::invalid_id("id", e.to_string()))
}

fn store_page(limit: Option<u32>, cursor: Option<String>) -> Result<StorePage, ApiError> {
    let p = PageRequest::new(limit, cursor)?;
    Ok(match p.cursor() {
        Some(c) => StorePage::after(p.limit(), c),
        None => StorePage::first(p.limit()),
    })
}

fn status_query(raw: Option<&str>) -> Result<Option<WorkStatus>, ApiError> {
    raw.map(|s| {
        WorkStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_query(
                "status",
                format!("unknown status {s:?} (expected planned or cancelled)"),
            )
        })
    })
    .transpose()
}

fn versioned(mut value: Value, version: i64, created: String, updated: String) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert("version".into(), version.into());
        map.insert("created_at".into(), created.into());
        map.insert("updated_at".into(), updated.into());
    }
    value
}

// ---- outbox --------------------------------------------------------------

fn event_json(e: &Event) -> Value {
    json!({
        "id": e.id,
        "topic": e.topic,
        "aggregate_kind": e.aggregate_kind,
        "aggregate_id": e.aggregate_id,
        "payload": e.payload,
        "status": e.status.as_str(),
        "attempts": e.attempts,
        "available_at": to_sql(e.available_at),
        "lease_owner": e.lease_owner,
        "lease_until": e.lease_until.map(to_sql),
        "last_error": e.last_error,
        "created_at": to_sql(e.created_at),
        "processed_at": e.processed_at.map(to_sql),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
    topic: Option<String>,
    aggregate_kind: Option<String>,
    aggregate_id: Option<String>,
}

fn list_events(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadOutbox)?;
    let q: EventQuery = parse_query(&req.query)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            EventStatus::parse(s).ok_or_else(|| {
                ApiError::invalid_query(
                    "status",
                    format!("unknown status {s:?} (expected pending, running, done or parked)"),
                )
            })
        })
        .transpose()?;
    for (field, value) in [
        ("topic", &q.topic),
        ("aggregate_kind", &q.aggregate_kind),
        ("aggregate_id", &q.aggregate_id),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
            return Err(ApiError::invalid_query(
                field,
                "must be at most 200 characters",
            ));
        }
    }
    let filter = EventFilter {
        status,
        topic: q.topic,
        aggregate_kind: q.aggregate_kind,
        aggregate_id: q.aggregate_id,
    };
    let (items, next_cursor) = outbox::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    ApiResponse::json(
        200,
        &Page {
            items: items.iter().map(event_json).collect::<Vec<_>>(),
            next_cursor,
        },
    )
}

fn get_event(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadOutbox)?;
    let id = path_id(id, EventId::parse)?;
    ApiResponse::json(200, &event_json(&outbox::get(&ctx.db, id)?))
}

fn retry_event(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    require(&ctx.principal, Action::RetryOutbox)?;
    let id = path_id(id, EventId::parse)?;
    let answer = write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let event = outbox::retry_parked(db, id, ctx.now)?;
            ApiResponse::json(200, &event_json(&event))
        },
    )?;
    sales_kit::spin::wake_jobs();
    Ok(answer)
}

/// The 404 of an unknown `entity` when the caller may not see `order`,
/// the order the record was made for.
fn require_order(
    ctx: &Ctx,
    order: OrderId,
    entity: &'static str,
    id: &str,
) -> Result<(), ApiError> {
    let seen: Visibility = visibility::for_principal(&ctx.db, &ctx.principal)?;
    if seen.is_all() {
        // Not even the order's existence is asked: an unscoped caller sees
        // every work order, as before.
        return Ok(());
    }
    match visibility::require_order(&ctx.db, &seen, order) {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound { .. }) => Err(StoreError::NotFound {
            entity,
            id: id.to_owned(),
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

// ---- work orders -----------------------------------------------------------

fn work_order_json(v: &Versioned<WorkOrder>) -> Value {
    let w = &v.record;
    versioned(
        json!({
            "id": w.id,
            "number": w.number,
            "order_id": w.order_id,
            "order_number": w.order_number,
            "line_id": w.line_id,
            "product_id": w.product_id,
            "warehouse_id": w.warehouse_id,
            "work_center_id": w.work_center_id,
            "quantity": w.quantity.normalize().to_string(),
            "hours": w.hours.normalize().to_string(),
            "start": w.start,
            "finish": w.finish,
            "due_on": w.due_on,
            "schedule": w.schedule,
            "status": w.status.as_str(),
            "receipt_id": w.receipt_id,
            "reservation_id": w.reservation_id,
        }),
        v.version,
        to_sql(v.created_at),
        to_sql(v.updated_at),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkOrderQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
    order_id: Option<OrderId>,
    product_id: Option<ProductId>,
}

fn list_work_orders(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: WorkOrderQuery = parse_query(&req.query)?;
    let filter = WorkOrderFilter {
        status: status_query(q.status.as_deref())?,
        order_id: q.order_id,
        product_id: q.product_id,
    };
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    let (items, next_cursor) =
        work_orders::list_visible(&ctx.db, &filter, &store_page(q.limit, q.cursor)?, &seen)?;
    ApiResponse::json(
        200,
        &Page {
            items: items.iter().map(work_order_json).collect::<Vec<_>>(),
            next_cursor,
        },
    )
}

fn get_work_order(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, WorkOrderId::parse)?;
    let v = work_orders::get(&ctx.db, id)?;
    require_order(ctx, v.record.order_id, "work order", &id.to_string())?;
    Ok(ApiResponse::json(200, &work_order_json(&v))?.with_header("etag", etag(v.version)))
}

// ---- projects --------------------------------------------------------------

fn project_json(v: &Versioned<Project>) -> Value {
    let p = &v.record;
    let tasks: Vec<Value> = p
        .tasks
        .iter()
        .map(|t| {
            let r = &t.record;
            versioned(
                json!({
                    "id": r.id,
                    "line_id": r.line_id,
                    "product_id": r.product_id,
                    "role_id": r.role_id,
                    "hours": r.hours.normalize().to_string(),
                    "start": r.start,
                    "finish": r.finish,
                    "due_on": r.due_on,
                    "schedule": r.schedule,
                    "status": r.status.as_str(),
                    "booked": r.booked,
                }),
                t.version,
                to_sql(t.created_at),
                to_sql(t.updated_at),
            )
        })
        .collect();
    versioned(
        json!({
            "id": p.id,
            "number": p.number,
            "order_id": p.order_id,
            "order_number": p.order_number,
            "customer_id": p.customer_id,
            "status": p.status.as_str(),
            "tasks": tasks,
        }),
        v.version,
        to_sql(v.created_at),
        to_sql(v.updated_at),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
    order_id: Option<OrderId>,
    customer_id: Option<CustomerId>,
}

fn list_projects(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: ProjectQuery = parse_query(&req.query)?;
    let filter = ProjectFilter {
        status: status_query(q.status.as_deref())?,
        order_id: q.order_id,
        customer_id: q.customer_id,
    };
    let seen = visibility::for_principal(&ctx.db, &ctx.principal)?;
    let (items, next_cursor) =
        projects::list_visible(&ctx.db, &filter, &store_page(q.limit, q.cursor)?, &seen)?;
    ApiResponse::json(
        200,
        &Page {
            items: items.iter().map(project_json).collect::<Vec<_>>(),
            next_cursor,
        },
    )
}

fn get_project(ctx: &Ctx, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let id = path_id(id, ProjectId::parse)?;
    let v = projects::get(&ctx.db, id)?;
    require_order(ctx, v.record.order_id, "project", &id.to_string())?;
    Ok(ApiResponse::json(200, &project_json(&v))?.with_header("etag", etag(v.version)))
}

// ---- notifications ---------------------------------------------------------

fn notification_json(n: &Notification) -> Value {
    json!({
        "id": n.id,
        "recipient": n.recipient,
        "kind": n.kind,
        "subject_kind": n.subject_kind,
        "subject_id": n.subject_id,
        "message": n.message,
        "read_at": n.read_at.map(to_sql),
        "created_at": to_sql(n.created_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

fn list_notifications(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    let q: NotificationQuery = parse_query(&req.query)?;
    let (items, next_cursor) =
        notifications::list_for(&ctx.db, ctx.principal.id(), &store_page(q.limit, q.cursor)?)?;
    ApiResponse::json(
        200,
        &Page {
            items: items.iter().map(notification_json).collect::<Vec<_>>(),
            next_cursor,
        },
    )
}
