//! An order's downstream demand, and its `order.*` event written straight
//! into an app's SQLite file as the order flow's transaction would (the
//! tests stand in for the writer): for the tests of the jobs component and
//! of the outside systems it feeds (`tests/jobs.rs`, `tests/connectors.rs`).

// A fixture: a failed write fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::availability::{DayHours, ProjectRoleId, WorkCenterId};
use sales_domain::downstream::{
    DemandState, LineDemand, ManufactureDemand, OrderDemand, ServiceDemand,
};
use sales_domain::ids::{CustomerId, EventId, LineId, OrderId, ProductId, WarehouseId};
use sales_store::db::Db;
use sales_store::outbox::{self, NewEvent};
use sales_store::rusqlite_db::RusqliteDb;

use crate::json;

/// 2030-03-`d`, a day well ahead of the tests' today.
pub fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2030, 3, d).unwrap()
}

/// What differs between the demands of the tests.
#[derive(Debug, Clone)]
pub struct Spec {
    pub order: OrderId,
    pub version: i64,
    pub state: DemandState,
    /// Made on `center` into `warehouse`: `units` units in as many hours
    /// on day 11, due on day 20.
    pub product: ProductId,
    pub warehouse: WarehouseId,
    pub center: WorkCenterId,
    pub units: Decimal,
    /// A service line: (product, role, hours) on day 12.
    pub service: Option<(ProductId, ProjectRoleId, Decimal)>,
}

/// The demand [`Spec`] describes.
pub fn demand(s: &Spec) -> OrderDemand {
    // Fixed line ids per order, so versions of one order name the same lines.
    let line = |n: u128| {
        LineId::from_uuid(uuid::Uuid::from_u128(
            s.order.as_uuid().as_u128() ^ (n << 8),
        ))
        .unwrap_or_else(|_| LineId::new())
    };
    let mut lines = vec![LineDemand {
        line_id: line(1),
        product_id: s.product,
        due_date: Some(day(20)),
        manufacture: Some(ManufactureDemand {
            quantity: s.units,
            warehouse_id: s.warehouse,
            work_center_id: s.center,
            hours: s.units,
            start: day(11),
            finish: day(11),
            schedule: vec![DayHours {
                date: day(11),
                hours: s.units,
            }],
        }),
        service: None,
    }];
    if let Some((product, role, hours)) = s.service {
        lines.push(LineDemand {
            line_id: line(2),
            product_id: product,
            due_date: Some(day(20)),
            manufacture: None,
            service: Some(ServiceDemand {
                hours,
                role_id: role,
                start: day(12),
                finish: day(12),
                schedule: vec![],
            }),
        });
    }
    OrderDemand {
        order_id: s.order,
        order_number: format!("SO-T-{}", &s.order.to_string()[24..]),
        version: s.version,
        customer_id: CustomerId::new(),
        state: s.state,
        lines,
    }
}

/// Writes an `order.<verb>` event carrying `d`, as the order flow would
/// inside its transaction.
pub fn enqueue(db_file: &Path, topic: &str, d: &OrderDemand) -> EventId {
    let db = RusqliteDb::open(db_file).unwrap();
    db.transaction(|db| {
        outbox::enqueue(
            db,
            &NewEvent {
                topic: topic.into(),
                aggregate_kind: "order".into(),
                aggregate_id: d.order_id.to_string(),
                payload: json!({ "order_id": d.order_id, "number": d.order_number,
                                 "version": d.version, "demand": d }),
            },
            Utc::now(),
        )
    })
    .unwrap()
}
