//! Allocation across warehouses: which warehouse gives how many units of a
//! line, available on which date.
//!
//! The channel lists its warehouses, first preferred. Its
//! [`AllocationStrategy`] decides the order they are drawn from on a date:
//! that list order, or the most ATP first (ties keep list order) so a line
//! is split over as few warehouses as possible. The order's [`ShipPolicy`]
//! decides how a line may be spread over time:
//!
//! - **ship complete**: the line ships once, on the earliest date when the
//!   listed warehouses together can promise all of it (split across
//!   warehouses if no single one can);
//! - **ship as available**: whatever is free on the needed date is taken
//!   now, the rest as receipts make it promisable, possibly in several
//!   pieces from several warehouses.
//!
//! Lines of one check share a [`StockView`]: what an earlier line took is a
//! demand the later lines see, so two lines never get the same unit. Every
//! piece is at most what its warehouse could promise on its date, and the
//! pieces add up to `allocated`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::atp::{AtpProfile, StockPicture};
use crate::ids::{ProductId, WarehouseId};

/// How a channel draws on its warehouses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationStrategy {
    /// In the channel's order, first listed first.
    Priority,
    /// The warehouse that can promise the most first.
    MostStockFirst,
}

/// Whether an order ships in one go or line by line as stock allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipPolicy {
    ShipComplete,
    ShipAsAvailable,
}

/// Units of a line from one warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseAllocation {
    pub warehouse: WarehouseId,
    pub quantity: Decimal,
    /// The date the units can be promised for (the needed date, or the
    /// date a receipt makes them promisable).
    pub available_on: NaiveDate,
}

/// How one line's quantity is served from stock. `allocated` is the sum of
/// the pieces; `allocated + shortfall` is what was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationPlan {
    /// In the order they were taken: by date, then in strategy order.
    pub allocations: Vec<WarehouseAllocation>,
    pub allocated: Decimal,
    pub shortfall: Decimal,
}

impl AllocationPlan {
    /// When the last piece is available (`None` when nothing is).
    pub fn ready_on(&self) -> Option<NaiveDate> {
        self.allocations.iter().map(|a| a.available_on).max()
    }

    /// The distinct warehouses used.
    pub fn warehouse_count(&self) -> usize {
        self.allocations
            .iter()
            .map(|a| a.warehouse)
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// The stock picture as seen by one check: the picture plus what earlier
/// lines of the same check have taken.
#[derive(Debug, Clone)]
pub struct StockView<'a> {
    picture: &'a StockPicture,
    today: NaiveDate,
    taken: BTreeMap<(ProductId, WarehouseId), Vec<(NaiveDate, Decimal)>>,
}

impl<'a> StockView<'a> {
    pub fn new(picture: &'a StockPicture, today: NaiveDate) -> StockView<'a> {
        StockView {
            picture,
            today,
            taken: BTreeMap::new(),
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// The ATP profile after what this check has taken so far.
    pub fn profile(&self, product: ProductId, warehouse: WarehouseId) -> AtpProfile {
        let extra = self
            .taken
            .get(&(product, warehouse))
            .map_or(&[][..], Vec::as_slice);
        self.picture.atp_with(product, warehouse, self.today, extra)
    }

    fn take(&mut self, product: ProductId, plan: &AllocationPlan) {
        for a in &plan.allocations {
            self.taken
                .entry((product, a.warehouse))
                .or_default()
                .push((a.available_on, a.quantity));
        }
    }
}

/// One warehouse's profile and what the current line took from it.
struct Source {
    warehouse: WarehouseId,
    profile: AtpProfile,
    taken: Decimal,
}

impl Source {
    /// What is still free on `date`: a piece taken earlier lowers ATP on
    /// every later date by its quantity.
    fn free_on(&self, date: NaiveDate) -> Decimal {
        (self.profile.available_on(date) - self.taken).max(Decimal::ZERO)
    }
}

fn sources(view: &StockView<'_>, product: ProductId, warehouses: &[WarehouseId]) -> Vec<Source> {
    let mut seen = BTreeSet::new();
    warehouses
        .iter()
        .filter(|w| seen.insert(**w))
        .map(|w| Source {
            warehouse: *w,
            profile: view.profile(product, *w),
            taken: Decimal::ZERO,
        })
        .collect()
}

/// Takes up to `wanted` on `date`, in strategy order; returns what it took.
fn take_on(
    sources: &mut [Source],
    date: NaiveDate,
    wanted: Decimal,
    strategy: AllocationStrategy,
    out: &mut Vec<WarehouseAllocation>,
) -> Decimal {
    let mut order: Vec<usize> = (0..sources.len()).collect();
    if strategy == AllocationStrategy::MostStockFirst {
        // A stable sort keeps list order among equals.
        order.sort_by(|a, b| sources[*b].free_on(date).cmp(&sources[*a].free_on(date)));
    }
    let mut left = wanted;
    for i in order {
        if left.is_zero() {
            break;
        }
        let source = &mut sources[i];
        let q = source.free_on(date).min(left);
        if q > Decimal::ZERO {
            source.taken += q;
            left -= q;
            out.push(WarehouseAllocation {
                warehouse: source.warehouse,
                quantity: q,
                available_on: date,
            });
        }
    }
    wanted - left
}

/// Every date on or after `need` when some source's ATP changes.
fn candidate_dates(sources: &[Source], need: NaiveDate) -> Vec<NaiveDate> {
    let mut dates: BTreeSet<NaiveDate> = BTreeSet::new();
    dates.insert(need);
    for s in sources {
        dates.extend(
            s.profile
                .points()
                .iter()
                .map(|p| p.date)
                .filter(|d| *d > need),
        );
    }
    dates.into_iter().collect()
}

fn finish(
    view: &mut StockView<'_>,
    product: ProductId,
    quantity: Decimal,
    allocations: Vec<WarehouseAllocation>,
) -> AllocationPlan {
    let allocated: Decimal = allocations.iter().map(|a| a.quantity).sum();
    let plan = AllocationPlan {
        allocations,
        allocated,
        shortfall: quantity - allocated,
    };
    view.take(product, &plan);
    plan
}

/// Allocates `quantity` of `product` needed on `need` from `warehouses`
/// (first preferred; a repeated one counts once) and records it in `view`.
pub fn allocate(
    view: &mut StockView<'_>,
    product: ProductId,
    quantity: Decimal,
    need: NaiveDate,
    warehouses: &[WarehouseId],
    strategy: AllocationStrategy,
    policy: ShipPolicy,
) -> AllocationPlan {
    let need = need.max(view.today());
    let mut sources = sources(view, product, warehouses);
    let dates = candidate_dates(&sources, need);
    let mut allocations = Vec::new();
    match policy {
        ShipPolicy::ShipComplete => {
            let total_on = |d: NaiveDate| -> Decimal { sources.iter().map(|s| s.free_on(d)).sum() };
            // ATP never decreases with the date, so the last date offers
            // the most when no date offers enough.
            let date = dates
                .iter()
                .copied()
                .find(|d| total_on(*d) >= quantity)
                .or_else(|| dates.last().copied())
                .unwrap_or(need);
            take_on(&mut sources, date, quantity, strategy, &mut allocations);
        }
        ShipPolicy::ShipAsAvailable => {
            let mut left = quantity;
            for date in dates {
                left -= take_on(&mut sources, date, left, strategy, &mut allocations);
                if left.is_zero() {
                    break;
                }
            }
        }
    }
    finish(view, product, quantity, allocations)
}

/// Takes what is free on `date` only, up to `quantity` — the netting step
/// before production is planned — and records it in `view`.
pub fn allocate_on(
    view: &mut StockView<'_>,
    product: ProductId,
    quantity: Decimal,
    date: NaiveDate,
    warehouses: &[WarehouseId],
    strategy: AllocationStrategy,
) -> AllocationPlan {
    let date = date.max(view.today());
    let mut sources = sources(view, product, warehouses);
    let mut allocations = Vec::new();
    take_on(&mut sources, date, quantity, strategy, &mut allocations);
    finish(view, product, quantity, allocations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::atp::tests::d;
    use crate::availability::atp::{ReceiptSpec, StockPictureSpec, StockPositionSpec};
    use rust_decimal_macros::dec;

    const TODAY: &str = "2026-03-02";

    struct World {
        product: ProductId,
        a: WarehouseId,
        b: WarehouseId,
        picture: StockPicture,
    }

    /// Warehouse A: 4 on hand, 6 due on the 10th. Warehouse B: 7 on hand.
    fn world() -> World {
        let product = ProductId::new();
        let a = WarehouseId::new();
        let b = WarehouseId::new();
        let picture = StockPicture::new(StockPictureSpec {
            positions: vec![
                StockPositionSpec {
                    product,
                    warehouse: a,
                    on_hand: dec!(4),
                    reservations: vec![],
                    receipts: vec![ReceiptSpec {
                        quantity: dec!(6),
                        due_on: d("2026-03-10"),
                    }],
                },
                StockPositionSpec {
                    product,
                    warehouse: b,
                    on_hand: dec!(7),
                    reservations: vec![],
                    receipts: vec![],
                },
            ],
        })
        .unwrap();
        World {
            product,
            a,
            b,
            picture,
        }
    }

    fn pieces(plan: &AllocationPlan) -> Vec<(WarehouseId, Decimal, NaiveDate)> {
        plan.allocations
            .iter()
            .map(|x| (x.warehouse, x.quantity, x.available_on))
            .collect()
    }

    #[test]
    fn priority_order_takes_the_first_warehouse_first_and_splits_when_needed() {
        let w = world();
        let mut view = StockView::new(&w.picture, d(TODAY));
        let plan = allocate(
            &mut view,
            w.product,
            dec!(6),
            d(TODAY),
            &[w.a, w.b],
            AllocationStrategy::Priority,
            ShipPolicy::ShipComplete,
        );
        assert_eq!(
            pieces(&plan),
            vec![(w.a, dec!(4), d(TODAY)), (w.b, dec!(2), d(TODAY))]
        );
        assert_eq!((plan.allocated, plan.shortfall), (dec!(6), dec!(0)));
        assert_eq!(plan.warehouse_count(), 2);
    }

    #[test]
    fn most_stock_first_avoids_a_split() {
        let w = world();
        let mut view = StockView::new(&w.picture, d(TODAY));
        let plan = allocate(
            &mut view,
            w.product,
            dec!(6),
            d(TODAY),
            &[w.a, w.b],
            AllocationStrategy::MostStockFirst,
            ShipPolicy::ShipComplete,
        );
        assert_eq!(pieces(&plan), vec![(w.b, dec!(6), d(TODAY))]);
    }

    #[test]
    fn ship_complete_waits_for_the_receipt_that_completes_the_line() {
        let w = world();
        let mut view = StockView::new(&w.picture, d(TODAY));
        let plan = allocate(
            &mut view,
            w.product,
            dec!(15),
            d(TODAY),
            &[w.a, w.b],
            AllocationStrategy::Priority,
            ShipPolicy::ShipComplete,
        );
        assert_eq!(
            pieces(&plan),
            vec![
                (w.a, dec!(10), d("2026-03-10")),
                (w.b, dec!(5), d("2026-03-10"))
            ]
        );
        assert_eq!(plan.ready_on(), Some(d("2026-03-10")));
    }

    #[test]
    fn ship_as_available_takes_stock_now_and_the_rest_when_it_arrives() {
        let w = world();
        let mut view = StockView::new(&w.picture, d(TODAY));
        let plan = allocate(
            &mut view,
            w.product,
            dec!(15),
            d(TODAY),
            &[w.a, w.b],
            AllocationStrategy::Priority,
            ShipPolicy::ShipAsAvailable,
        );
        assert_eq!(
            pieces(&plan),
            vec![
                (w.a, dec!(4), d(TODAY)),
                (w.b, dec!(7), d(TODAY)),
                (w.a, dec!(4), d("2026-03-10"))
            ]
        );
    }

    #[test]
    fn what_cannot_be_served_is_a_shortfall() {
        let w = world();
        let mut view = StockView::new(&w.picture, d(TODAY));
        for policy in [ShipPolicy::ShipComplete, ShipPolicy::ShipAsAvailable] {
            let mut view2 = view.clone();
            let plan = allocate(
                &mut view2,
                w.product,
                dec!(20),
                d(TODAY),
                &[w.a, w.b],
                AllocationStrategy::Priority,
                policy,
            );
            assert_eq!((plan.allocated, plan.shortfall), (dec!(17), dec!(3)));
        }
        let only_b = allocate(
            &mut view,
            w.product,
            dec!(8),
            d(TODAY),
            &[w.b],
            AllocationStrategy::Priority,
            ShipPolicy::ShipComplete,
        );
        assert_eq!((only_b.allocated, only_b.shortfall), (dec!(7), dec!(1)));
    }

    #[test]
    fn a_later_line_does_not_get_units_an_earlier_line_took() {
        let w = world();
        let mut view = StockView::new(&w.picture, d(TODAY));
        let whs = [w.a, w.b];
        let first = allocate(
            &mut view,
            w.product,
            dec!(10),
            d(TODAY),
            &whs,
            AllocationStrategy::Priority,
            ShipPolicy::ShipAsAvailable,
        );
        assert_eq!(first.allocated, dec!(10));
        let second = allocate(
            &mut view,
            w.product,
            dec!(10),
            d(TODAY),
            &whs,
            AllocationStrategy::Priority,
            ShipPolicy::ShipAsAvailable,
        );
        assert_eq!((second.allocated, second.shortfall), (dec!(7), dec!(3)));
        assert_eq!(
            pieces(&second),
            vec![(w.b, dec!(1), d(TODAY)), (w.a, dec!(6), d("2026-03-10"))]
        );
    }

    #[test]
    fn a_later_need_date_can_use_receipts_due_by_then() {
        let w = world();
        let mut view = StockView::new(&w.picture, d(TODAY));
        let plan = allocate_on(
            &mut view,
            w.product,
            dec!(12),
            d("2026-03-11"),
            &[w.a],
            AllocationStrategy::Priority,
        );
        assert_eq!(pieces(&plan), vec![(w.a, dec!(10), d("2026-03-11"))]);
        assert_eq!(plan.shortfall, dec!(2));
    }

    #[test]
    fn a_warehouse_listed_twice_counts_once() {
        let w = world();
        let mut view = StockView::new(&w.picture, d(TODAY));
        let plan = allocate(
            &mut view,
            w.product,
            dec!(10),
            d(TODAY),
            &[w.b, w.b],
            AllocationStrategy::Priority,
            ShipPolicy::ShipAsAvailable,
        );
        assert_eq!(plan.allocated, dec!(7));
    }
}
