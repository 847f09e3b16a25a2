//! Availability engine benchmark: a 20-line check over 10 warehouses,
//! 10,000 products and a 365-day capacity calendar, in process.
//!
//! Run: `cargo bench -p sales-domain --bench availability`. The context
//! (stock picture, work centres, routings, roles) is built once outside
//! the measured loop (building it is measured separately); everything is
//! generated from a fixed seed, so every run checks the same order.

// A benchmark is a test-like binary: a broken fixture should stop it loudly.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use chrono::{Days, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion};
use rust_decimal::Decimal;
use sales_domain::availability::{
    plan_reservations, promise, AllocationStrategy, BookingSpec, PlannedLoad, ProjectRoleId,
    ProjectRoleSpec, PromiseContext, PromiseContextSpec, PromiseLine, PromiseRequest,
    PromiseRequestSpec, ReceiptSpec, ReservationSpec, RoutingSpec, ServiceSpec, ShipPolicy,
    StockPictureSpec, StockPositionSpec, WorkCenterId, WorkCenterSpec, WorkingCalendarSpec,
};
use sales_domain::catalog::ProductKind;
use sales_domain::ids::{LineId, OrderId, ProductId, WarehouseId};
use uuid::{Builder, Uuid};

const PRODUCTS: u64 = 10_000;
const WAREHOUSES: u64 = 10;
const WORK_CENTERS: u64 = 5;
const ROLES: u64 = 3;
const CALENDAR_DAYS: u64 = 365;
/// Products `p % 10 == 7` are manufactured, `p % 10 == 9` are services.
const LINES: u64 = 20;

/// A small deterministic generator (no `rand` dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn v7(kind: u8, n: u64) -> Uuid {
    let mut rand = [0u8; 10];
    rand[0] = kind;
    rand[2..10].copy_from_slice(&n.to_be_bytes());
    Builder::from_unix_timestamp_millis(1_700_000_000_000 + n, &rand).into_uuid()
}

macro_rules! id {
    ($t:ty, $kind:expr, $n:expr) => {
        <$t>::from_uuid(v7($kind, $n)).expect("v7")
    };
}

fn product(n: u64) -> ProductId {
    id!(ProductId, 1, n)
}
fn warehouse(n: u64) -> WarehouseId {
    id!(WarehouseId, 2, n)
}
fn work_center(n: u64) -> WorkCenterId {
    id!(WorkCenterId, 3, n)
}
fn role(n: u64) -> ProjectRoleId {
    id!(ProjectRoleId, 4, n)
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).expect("date")
}

fn day(offset: u64) -> NaiveDate {
    today() + Days::new(offset)
}

/// Monday to Friday with ten holidays spread over the year.
fn calendar() -> WorkingCalendarSpec {
    WorkingCalendarSpec::monday_to_friday((0..10).map(|i| day(17 + i * 35)).collect())
}

fn context_spec() -> PromiseContextSpec {
    let mut rng = Lcg(42);
    let mut positions = Vec::new();
    for p in 0..PRODUCTS {
        if p % 10 == 9 {
            continue; // services hold no stock
        }
        for w in 0..WAREHOUSES {
            let reservations = (0..rng.below(3))
                .map(|_| ReservationSpec {
                    quantity: Decimal::from(1 + rng.below(5)),
                    needed_on: day(rng.below(30)),
                    valid_until: if rng.below(2) == 0 {
                        None
                    } else {
                        Some(day(rng.below(7)))
                    },
                })
                .collect();
            let receipts = (0..rng.below(3))
                .map(|_| ReceiptSpec {
                    quantity: Decimal::from(5 + rng.below(20)),
                    due_on: day(1 + rng.below(60)),
                })
                .collect();
            positions.push(StockPositionSpec {
                product: product(p),
                warehouse: warehouse(w),
                on_hand: Decimal::from(rng.below(15)),
                reservations,
                receipts,
            });
        }
    }
    let work_centers = (0..WORK_CENTERS)
        .map(|c| WorkCenterSpec {
            id: work_center(c),
            name: format!("Line {c}"),
            hours_per_day: Decimal::from(16),
            calendar: calendar(),
            // Every day of the year carries 10 to 15 hours of planned work.
            planned_load: (0..CALENDAR_DAYS)
                .map(|d| PlannedLoad {
                    date: day(d),
                    hours: Decimal::from(10 + rng.below(6)),
                })
                .collect(),
        })
        .collect();
    let routings = (0..PRODUCTS)
        .filter(|p| p % 10 == 7)
        .map(|p| RoutingSpec {
            product: product(p),
            work_center: work_center(p % WORK_CENTERS),
            hours_per_unit: Decimal::new(5 + (p % 20) as i64, 1),
            material_lead_days: (p % 7) as u32,
        })
        .collect();
    let roles = (0..ROLES)
        .map(|r| ProjectRoleSpec {
            id: role(r),
            name: format!("Role {r}"),
            hours_per_week: Decimal::from(120),
            calendar: calendar(),
            // Weekly bookings over the whole year, 60 to 110 hours each.
            bookings: (0..52)
                .map(|wk| BookingSpec {
                    from: day(wk * 7),
                    to: day(wk * 7 + 4),
                    hours: Decimal::from(60 + rng.below(50)),
                })
                .collect(),
        })
        .collect();
    let services = (0..PRODUCTS)
        .filter(|p| p % 10 == 9)
        .map(|p| ServiceSpec {
            product: product(p),
            role: role(p % ROLES),
            hours_per_unit: Decimal::ONE,
        })
        .collect();
    PromiseContextSpec {
        stock: StockPictureSpec { positions },
        work_centers,
        routings,
        roles,
        services,
    }
}

/// 20 lines: 14 stocked, 4 manufactured, 2 services, all 10 warehouses.
fn request(strategy: AllocationStrategy, ship_policy: ShipPolicy) -> PromiseRequest {
    let mut rng = Lcg(7);
    let lines = (0..LINES)
        .map(|i| {
            let base = rng.below(PRODUCTS / 10) * 10;
            let (p, kind, quantity) = match i {
                0..=13 => (base + (i % 7), ProductKind::Stocked, 20 + rng.below(60)),
                14..=17 => (base + 7, ProductKind::Manufactured, 100 + rng.below(100)),
                _ => (base + 9, ProductKind::Service, 40 + rng.below(40)),
            };
            PromiseLine {
                line_id: id!(LineId, 5, i),
                product: product(p),
                kind,
                quantity: Decimal::from(quantity),
                requested_date: if i % 4 == 0 { Some(day(14)) } else { None },
            }
        })
        .collect();
    PromiseRequest::new(PromiseRequestSpec {
        today: today(),
        warehouses: (0..WAREHOUSES).map(warehouse).collect(),
        strategy,
        ship_policy,
        lines,
    })
    .expect("valid request")
}

fn bench_availability(c: &mut Criterion) {
    let spec = context_spec();
    let ctx = PromiseContext::new(spec.clone()).expect("valid context");
    let as_available = request(AllocationStrategy::Priority, ShipPolicy::ShipAsAvailable);
    let complete = request(AllocationStrategy::MostStockFirst, ShipPolicy::ShipComplete);

    // Show what is measured once, so a broken fixture is visible.
    let sample = promise(&ctx, &as_available);
    let work_orders = sample
        .lines
        .iter()
        .flat_map(|l| &l.sources)
        .filter(|s| matches!(s, sales_domain::availability::PromiseSource::WorkOrder(_)))
        .count();
    eprintln!(
        "check: {} lines, {} full, {} work orders, complete by {:?}",
        sample.lines.len(),
        sample
            .lines
            .iter()
            .filter(|l| l.shortfall.is_zero())
            .count(),
        work_orders,
        sample.complete_by
    );

    c.bench_function(
        "promise 20 lines, 10 warehouses, 10k products, ship as available",
        |b| b.iter(|| promise(black_box(&ctx), black_box(&as_available))),
    );
    c.bench_function(
        "promise 20 lines, 10 warehouses, 10k products, ship complete, most stock first",
        |b| b.iter(|| promise(black_box(&ctx), black_box(&complete))),
    );
    c.bench_function("promise + reservation plan + serde_json::to_vec", |b| {
        b.iter(|| {
            let p = promise(black_box(&ctx), black_box(&as_available));
            let plan = plan_reservations(id!(OrderId, 6, 1), &p, Some(day(3))).expect("plan");
            (
                serde_json::to_vec(&p).expect("json"),
                serde_json::to_vec(&plan).expect("json"),
            )
        })
    });
    let mut group = c.benchmark_group("context");
    group.sample_size(10);
    group.bench_function("build context, 100k positions, 5 centres x 365 days", |b| {
        b.iter(|| PromiseContext::new(black_box(spec.clone())).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench_availability);
criterion_main!(benches);
