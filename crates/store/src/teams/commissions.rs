//! Commission plans, the append-only commission ledger, the recalculation
//! that keeps the ledger equal to what orders earn, and statements.
//!
//! [`recalculate_order`] is the one path every order change takes (the
//! jobs component runs it for `order.*` events; running it twice books
//! nothing the second time): it fixes the order's split (see
//! [`super::allocations`]), and for every beneficiary of the order — the
//! split's people, its partner, and anyone the ledger already credits for
//! it — recomputes the whole tier period of that beneficiary's plan
//! (tiers and the cap make one order's commission depend on the others
//! before it) and books, per order of the period, the difference between
//! what is due and what the ledger holds. A beneficiary without a plan
//! is due nothing, so a plan deactivated later reverses nothing already
//! booked only if the orders are recalculated — which is exactly what an
//! order event triggers; a partner without a plan earns its own
//! `commission_rate` on confirmation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sales_domain::ids::{ChannelId, CustomerId, ItemGroupId, OrderId, PrincipalId, ProductId};
use sales_domain::money::Currency;
use sales_domain::orders::OrderStatus;
use sales_domain::teams::{
    booking, line_basis, period_commissions, AccrueOn, Beneficiary, CommissionPlan,
    CommissionPlanId, CommissionPlanInput, CreditedOrder, EntryKind, LedgerEntryId, LineFacts,
    Period, PeriodKind, TargetSubject,
};
use serde::Serialize;

use super::allocations;
use super::records::{self, Record};
use crate::db::{Db, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::Where;
use crate::{time, StoreError};

impl Record for CommissionPlan {
    const TABLE: &'static str = "commission_plans";
    const ENTITY: &'static str = "commission plan";
    const UNIQUE_FIELD: &'static str = "id";
    fn id_text(&self) -> String {
        self.id().to_string()
    }
    fn is_active(&self) -> bool {
        CommissionPlan::is_active(self)
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        let i = self.input();
        vec![
            ("beneficiary_kind", Value::from(i.beneficiary.kind())),
            ("beneficiary_id", Value::Text(i.beneficiary.id_text())),
            ("currency", Value::from(i.currency.code())),
            ("effective_from", Value::Text(i.effective_from.to_string())),
            (
                "effective_to",
                Value::from(i.effective_to.map(|d| d.to_string())),
            ),
        ]
    }
    fn unique_value(&self) -> String {
        self.id().to_string()
    }
}

/// Commission plans.
pub mod plans {
    use super::*;

    pub fn create(
        db: &impl Db,
        p: &CommissionPlan,
        now: DateTime<Utc>,
    ) -> Result<Versioned<CommissionPlan>, StoreError> {
        records::create(db, p, now)
    }

    pub fn get(
        db: &impl Db,
        id: CommissionPlanId,
    ) -> Result<Versioned<CommissionPlan>, StoreError> {
        records::get(db, &id.to_string())
    }

    pub fn update(
        db: &impl Db,
        p: &CommissionPlan,
        expected_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Versioned<CommissionPlan>, StoreError> {
        records::update(db, p, expected_version, now)
    }

    pub fn list(
        db: &impl Db,
        beneficiary: Option<Beneficiary>,
        active: Option<bool>,
        page: &Page,
    ) -> Result<Listed<CommissionPlan>, StoreError> {
        let mut w = Where::default();
        if let Some(b) = beneficiary {
            w.and(
                "beneficiary_kind = ? AND beneficiary_id = ?",
                [Value::from(b.kind()), Value::Text(b.id_text())],
            );
        }
        if let Some(a) = active {
            w.and("active = ?", [Value::from(a)]);
        }
        records::list(db, w, page, CommissionPlanId::parse)
    }

    /// Every plan of a beneficiary (for the overlap check).
    pub fn of(db: &impl Db, b: Beneficiary) -> Result<Vec<CommissionPlan>, StoreError> {
        let mut w = Where::default();
        w.and(
            "beneficiary_kind = ? AND beneficiary_id = ?",
            [Value::from(b.kind()), Value::Text(b.id_text())],
        );
        records::all(db, w)
    }

    /// The active plan paying `b` on `day` in `currency` (overlaps are
    /// refused on write, so there is at most one).
    pub fn in_force(
        db: &impl Db,
        b: Beneficiary,
        currency: Currency,
        day: NaiveDate,
    ) -> Result<Option<CommissionPlan>, StoreError> {
        Ok(of(db, b)?
            .into_iter()
            .find(|p| p.currency() == currency && p.covers(day)))
    }
}

/// One row of the commission ledger. Rows are only ever inserted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub id: LedgerEntryId,
    pub beneficiary: Beneficiary,
    pub kind: EntryKind,
    /// Signed: accruals positive, reversals negative, adjustments either.
    pub amount: Decimal,
    pub currency: Currency,
    pub order_id: Option<OrderId>,
    pub order_number: Option<String>,
    /// The order version the row was computed from.
    pub order_version: Option<i64>,
    /// The day the commission counts for (the order date; an adjustment's
    /// own date) — what statements and periods go by.
    pub earned_on: NaiveDate,
    pub plan_id: Option<CommissionPlanId>,
    pub reason: Option<String>,
    pub created_by: Option<PrincipalId>,
    pub created_at: DateTime<Utc>,
}

/// Filters for [`ledger::list`]; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerFilter {
    /// Rows of any of these beneficiaries (visibility: a rep's own, a
    /// manager's subtree); `None` is everyone.
    pub beneficiaries: Option<Vec<Beneficiary>>,
    pub order_id: Option<OrderId>,
    pub kind: Option<EntryKind>,
    /// Earned on or after.
    pub from: Option<NaiveDate>,
    /// Earned on or before.
    pub to: Option<NaiveDate>,
}

/// The ledger's rows.
pub mod ledger {
    use super::*;

    const TABLE: &str = "commission_ledger";
    const COLUMNS: &str = "id, beneficiary_kind, beneficiary_id, kind, amount, currency, order_id,
        order_number, order_version, earned_on, plan_id, reason, created_by, created_at";

    fn corrupt(id: &str, m: impl ToString) -> StoreError {
        StoreError::Corrupt {
            entity: "commission ledger entry",
            id: id.to_owned(),
            message: m.to_string(),
        }
    }

    fn decode(row: Row<'_>) -> Result<LedgerEntry, StoreError> {
        let id = row.text("id")?;
        let bad = |m: String| corrupt(id, m);
        let bid = row.text("beneficiary_id")?;
        let beneficiary = match row.text("beneficiary_kind")? {
            "sales_person" => Beneficiary::SalesPerson(
                sales_domain::ids::SalesPersonId::parse(bid).map_err(|e| bad(e.to_string()))?,
            ),
            "sales_partner" => Beneficiary::SalesPartner(
                sales_domain::teams::SalesPartnerId::parse(bid).map_err(|e| bad(e.to_string()))?,
            ),
            other => return Err(bad(format!("beneficiary kind {other}"))),
        };
        Ok(LedgerEntry {
            id: LedgerEntryId::parse(id).map_err(|e| bad(e.to_string()))?,
            beneficiary,
            kind: EntryKind::parse(row.text("kind")?).ok_or_else(|| bad("kind".into()))?,
            amount: row
                .text("amount")?
                .parse()
                .map_err(|e: rust_decimal::Error| bad(e.to_string()))?,
            currency: Currency::from_code(row.text("currency")?).map_err(|e| bad(e.to_string()))?,
            order_id: row
                .opt_text("order_id")?
                .map(OrderId::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            order_number: row.opt_text("order_number")?.map(str::to_owned),
            order_version: row.opt_int("order_version")?,
            earned_on: NaiveDate::parse_from_str(row.text("earned_on")?, "%Y-%m-%d")
                .map_err(|e| bad(e.to_string()))?,
            plan_id: row
                .opt_text("plan_id")?
                .map(CommissionPlanId::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            reason: row.opt_text("reason")?.map(str::to_owned),
            created_by: row
                .opt_text("created_by")?
                .map(PrincipalId::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            created_at: time::from_sql(row.text("created_at")?)?,
        })
    }

    /// Appends a row.
    pub fn append(db: &impl Db, e: &LedgerEntry) -> Result<(), StoreError> {
        db.execute(
            &format!("INSERT INTO commission_ledger ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            &[
                Value::Text(e.id.to_string()),
                Value::from(e.beneficiary.kind()),
                Value::Text(e.beneficiary.id_text()),
                Value::from(e.kind.as_str()),
                Value::Text(e.amount.to_string()),
                Value::from(e.currency.code()),
                Value::from(e.order_id.map(|o| o.to_string())),
                Value::from(e.order_number.clone()),
                e.order_version.map_or(Value::Null, Value::Integer),
                Value::Text(e.earned_on.to_string()),
                Value::from(e.plan_id.map(|p| p.to_string())),
                Value::from(e.reason.clone()),
                Value::from(e.created_by.map(|p| p.to_string())),
                Value::Text(time::to_sql(e.created_at)),
            ],
        )?;
        Ok(())
    }

    pub fn get(db: &impl Db, id: LedgerEntryId) -> Result<LedgerEntry, StoreError> {
        let rows = db.execute(
            &format!("SELECT {COLUMNS} FROM commission_ledger WHERE id = ?"),
            &[Value::Text(id.to_string())],
        )?;
        match rows.first() {
            Some(r) => decode(r),
            None => Err(StoreError::NotFound {
                entity: "commission ledger entry",
                id: id.to_string(),
            }),
        }
    }

    fn filtered(filter: &LedgerFilter) -> Where {
        let mut w = Where::default();
        if let Some(bs) = &filter.beneficiaries {
            if bs.is_empty() {
                w.and("0 = 1", []);
            } else {
                let clause =
                    vec!["(beneficiary_kind = ? AND beneficiary_id = ?)"; bs.len()].join(" OR ");
                let params: Vec<Value> = bs
                    .iter()
                    .flat_map(|b| [Value::from(b.kind()), Value::Text(b.id_text())])
                    .collect();
                w.and(&format!("({clause})"), params);
            }
        }
        if let Some(o) = filter.order_id {
            w.and("order_id = ?", [Value::Text(o.to_string())]);
        }
        if let Some(k) = filter.kind {
            w.and("kind = ?", [Value::from(k.as_str())]);
        }
        if let Some(d) = filter.from {
            w.and("earned_on >= ?", [Value::Text(d.to_string())]);
        }
        if let Some(d) = filter.to {
            w.and("earned_on <= ?", [Value::Text(d.to_string())]);
        }
        w
    }

    /// A page of rows in id (booking) order.
    pub fn list(
        db: &impl Db,
        filter: &LedgerFilter,
        page: &Page,
    ) -> Result<(Vec<LedgerEntry>, Option<String>), StoreError> {
        let mut w = filtered(filter);
        if let Some(cursor) = &page.after {
            let after = decode_cursor(TABLE, cursor, LedgerEntryId::parse)?;
            w.and("id > ?", [Value::Text(after.to_string())]);
        }
        let limit = page.effective_limit();
        let mut params = w.params.clone();
        params.push(Value::from(limit + 1));
        let rows = db.execute(
            &format!(
                "SELECT {COLUMNS} FROM commission_ledger {} ORDER BY id LIMIT ?",
                w.sql()
            ),
            &params,
        )?;
        let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok(finish(TABLE, items, limit, |e| e.id.to_string()))
    }

    /// Every row matching `filter`, in booking order.
    pub fn all(db: &impl Db, filter: &LedgerFilter) -> Result<Vec<LedgerEntry>, StoreError> {
        let w = filtered(filter);
        let rows = db.execute(
            &format!(
                "SELECT {COLUMNS} FROM commission_ledger {} ORDER BY id",
                w.sql()
            ),
            &w.params,
        )?;
        rows.iter().map(decode).collect()
    }

    /// What the ledger holds for `b` on `order`, excluding manual
    /// adjustments (those stand on their own and recalculation never
    /// undoes them).
    pub fn booked(db: &impl Db, b: Beneficiary, order: OrderId) -> Result<Decimal, StoreError> {
        let rows = all(
            db,
            &LedgerFilter {
                beneficiaries: Some(vec![b]),
                order_id: Some(order),
                ..LedgerFilter::default()
            },
        )?;
        Ok(rows
            .iter()
            .filter(|e| e.kind != EntryKind::Adjustment)
            .map(|e| e.amount)
            .sum())
    }

    /// Everyone the ledger credits (or debits) for `order`.
    pub fn beneficiaries_of(
        db: &impl Db,
        order: OrderId,
    ) -> Result<BTreeSet<Beneficiary>, StoreError> {
        Ok(all(
            db,
            &LedgerFilter {
                order_id: Some(order),
                ..LedgerFilter::default()
            },
        )?
        .into_iter()
        .map(|e| e.beneficiary)
        .collect())
    }
}

/// An order as commission and attainment see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFacts {
    pub order_id: OrderId,
    pub number: String,
    pub version: i64,
    pub order_date: NaiveDate,
    pub status: OrderStatus,
    pub held_from: Option<OrderStatus>,
    pub channel_id: ChannelId,
    pub customer_id: CustomerId,
    pub currency: Currency,
    /// Net amounts as priced (not yet at a basis).
    pub lines: Vec<LineFacts>,
}

impl OrderFacts {
    /// The lines at their [`line_basis`] for `accrue_on`.
    pub fn at_basis(&self, accrue_on: AccrueOn) -> Vec<LineFacts> {
        self.lines
            .iter()
            .map(|l| LineFacts {
                net_total: line_basis(self.status, self.held_from, accrue_on, l),
                ..l.clone()
            })
            .collect()
    }
}

/// Item-group chains of products, read once per recalculation.
#[derive(Default)]
pub struct GroupChains {
    products: BTreeMap<ProductId, Vec<ItemGroupId>>,
    groups: BTreeMap<ItemGroupId, Vec<ItemGroupId>>,
}

impl GroupChains {
    /// Reads the chains of the products not read yet: the products in one
    /// statement (`products::get_many`), then one ancestor walk per item
    /// group not seen yet — not one product read per line.
    pub fn load(&mut self, db: &impl Db, ids: &[ProductId]) -> Result<(), StoreError> {
        let missing: Vec<ProductId> = ids
            .iter()
            .copied()
            .filter(|p| !self.products.contains_key(p))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let found = crate::products::get_many(db, &missing)?;
        for p in missing {
            // A line whose product is gone earns the plan's default rate.
            let chain = match found.get(&p).and_then(|v| v.record.item_group_id()) {
                Some(g) => match self.groups.get(&g) {
                    Some(c) => c.clone(),
                    None => {
                        let mut c = vec![g];
                        c.extend(crate::trees::ancestors(db, g)?);
                        self.groups.insert(g, c.clone());
                        c
                    }
                },
                None => vec![],
            };
            self.products.insert(p, chain);
        }
        Ok(())
    }

    pub fn of(&mut self, db: &impl Db, p: ProductId) -> Result<Vec<ItemGroupId>, StoreError> {
        self.load(db, &[p])?;
        Ok(self.products.get(&p).cloned().unwrap_or_default())
    }
}

/// Reads an order (through the order store) as [`OrderFacts`].
pub fn order_facts(
    db: &impl Db,
    id: OrderId,
    chains: &mut GroupChains,
) -> Result<OrderFacts, StoreError> {
    facts_of(db, &crate::orders::get(db, id)?, chains)
}

/// An order already read as [`OrderFacts`] (its lines' products read
/// together).
fn facts_of(
    db: &impl Db,
    v: &Versioned<crate::orders::OrderRecord>,
    chains: &mut GroupChains,
) -> Result<OrderFacts, StoreError> {
    let rec = &v.record;
    let o = &rec.order;
    let products: Vec<ProductId> = o.lines().iter().map(|l| l.product_id).collect();
    chains.load(db, &products)?;
    let lines = o
        .lines()
        .iter()
        .map(|l| {
            Ok(LineFacts {
                group_chain: chains.of(db, l.product_id)?,
                net_total: l
                    .pricing
                    .as_ref()
                    .map_or(Decimal::ZERO, |p| p.net_total.amount()),
                quantity: l.quantity,
                shipped: l.shipped_quantity,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(OrderFacts {
        order_id: o.id(),
        number: o.number().to_owned(),
        version: v.version,
        order_date: rec.order_date,
        status: o.status(),
        held_from: o.held_from(),
        channel_id: o.channel_id(),
        customer_id: o.customer_id(),
        currency: o.currency(),
        lines,
    })
}

/// The orders of `period` in `currency` among `ids` (with their share).
fn in_period(
    db: &impl Db,
    ids: &[(OrderId, Decimal)],
    period: Period,
    currency: Currency,
    chains: &mut GroupChains,
) -> Result<Vec<(OrderFacts, Decimal)>, StoreError> {
    let mut out = Vec::new();
    for (id, share) in ids {
        let f = order_facts(db, *id, chains)?;
        if f.currency == currency && period.contains(f.order_date) {
            out.push((f, *share));
        }
    }
    Ok(out)
}

/// The target amount of a sales person for a period (whole target, no
/// item group), in `currency`.
fn person_target(
    db: &impl Db,
    b: Beneficiary,
    period: Period,
    currency: Currency,
) -> Result<Option<Decimal>, StoreError> {
    let Beneficiary::SalesPerson(p) = b else {
        return Ok(None);
    };
    Ok(
        super::targets::find(db, TargetSubject::SalesPerson(p), period, None)?
            .filter(|t| t.currency() == currency)
            .map(|t| t.amount()),
    )
}

/// The plan a beneficiary is paid under on `day`: its own, or for a
/// partner without one, its `commission_rate` on confirmation.
fn plan_for(
    db: &impl Db,
    b: Beneficiary,
    currency: Currency,
    day: NaiveDate,
) -> Result<Option<CommissionPlan>, StoreError> {
    if let Some(p) = plans::in_force(db, b, currency, day)? {
        return Ok(Some(p));
    }
    let Beneficiary::SalesPartner(id) = b else {
        return Ok(None);
    };
    let partner = super::partners::get(db, id)?.record;
    if !partner.is_active() {
        return Ok(None);
    }
    // A synthetic plan, never stored: its id is derived from the partner's
    // so ledger rows name where the rate came from.
    let input = CommissionPlanInput {
        name: format!("partner rate {}", partner.code()),
        beneficiary: b,
        currency,
        effective_from: day,
        effective_to: Some(day),
        accrue_on: AccrueOn::Confirmation,
        default_rate: partner.commission_rate(),
        rates: vec![],
        tiers: vec![],
        tier_period: PeriodKind::Month,
        cap: None,
    };
    CommissionPlan::from_parts(
        CommissionPlanId::from_uuid(id.as_uuid()).map_err(|e| StoreError::Corrupt {
            entity: "sales partner",
            id: id.to_string(),
            message: e.to_string(),
        })?,
        input,
        true,
    )
    .map(Some)
    .map_err(|e| StoreError::Corrupt {
        entity: "sales partner",
        id: id.to_string(),
        message: e.to_string(),
    })
}

/// Brings the ledger of `b` for the orders of one period to what they are
/// due; returns the rows booked.
fn settle_period(
    db: &impl Db,
    b: Beneficiary,
    trigger: &OrderFacts,
    now: DateTime<Utc>,
    chains: &mut GroupChains,
) -> Result<Vec<LedgerEntry>, StoreError> {
    let plan = plan_for(db, b, trigger.currency, trigger.order_date)?;
    // Which orders are settled together: the tier period of the plan, or
    // just this order when no plan pays (everything due is then 0).
    // `ids`: every order credited to `b`, whatever its date.
    let mut ids: Vec<(OrderId, Decimal)> = vec![];
    let (credited, period): (Vec<(OrderFacts, Decimal)>, Option<Period>) = match &plan {
        Some(plan) => {
            let period = Period::containing(plan.tier_period(), trigger.order_date);
            ids = match b {
                Beneficiary::SalesPerson(p) => allocations::orders_of_person(db, p)?,
                Beneficiary::SalesPartner(p) => allocations::orders_of_partner(db, p)?
                    .into_iter()
                    .map(|o| (o, Decimal::ONE_HUNDRED))
                    .collect(),
            };
            (
                in_period(db, &ids, period, plan.currency(), chains)?,
                Some(period),
            )
        }
        None => (vec![], None),
    };
    let mut due: BTreeMap<OrderId, Decimal> = BTreeMap::new();
    let mut facts: BTreeMap<OrderId, OrderFacts> = BTreeMap::new();
    if let (Some(plan), Some(period)) = (&plan, period) {
        let target = person_target(db, b, period, plan.currency())?;
        let orders: Vec<CreditedOrder> = credited
            .iter()
            .map(|(f, share)| CreditedOrder {
                order_id: f.order_id,
                order_date: f.order_date,
                number: f.number.clone(),
                channel_id: f.channel_id,
                share: *share,
                lines: f.at_basis(plan.accrue_on()),
            })
            .collect();
        due.extend(period_commissions(plan, target, &orders));
    }
    for (f, _) in credited {
        facts.insert(f.order_id, f);
    }
    // Orders the ledger holds for `b` in the same period that are no
    // longer credited (and the trigger itself) are due nothing. One still
    // credited but now dated in another period or in another currency
    // (`earned_on` is the order date when it was booked; seed-demo dates
    // its orders back after booking) belongs to that period's or
    // currency's settlement, not this one: leave it.
    let mut others = ledger::all(
        db,
        &LedgerFilter {
            beneficiaries: Some(vec![b]),
            from: period.map(|p| p.start),
            to: period.map(|p| p.end()),
            ..LedgerFilter::default()
        },
    )?
    .into_iter()
    .filter_map(|e| e.order_id)
    .collect::<BTreeSet<_>>();
    if period.is_none() {
        others = BTreeSet::from([trigger.order_id]);
    }
    others.insert(trigger.order_id);
    let still_credited: BTreeSet<OrderId> = ids.iter().map(|(o, _)| *o).collect();
    others.retain(|o| due.contains_key(o) || *o == trigger.order_id || !still_credited.contains(o));
    for o in others {
        due.entry(o).or_insert(Decimal::ZERO);
        if let std::collections::btree_map::Entry::Vacant(v) = facts.entry(o) {
            v.insert(order_facts(db, o, chains)?);
        }
    }
    let currency = plan.as_ref().map_or(trigger.currency, |p| p.currency());
    let mut booked_rows = Vec::new();
    for (order, amount) in due {
        let booked = ledger::booked(db, b, order)?;
        let Some((kind, diff)) = booking(amount, booked) else {
            continue;
        };
        let Some(f) = facts.get(&order) else {
            continue;
        };
        let entry = LedgerEntry {
            id: LedgerEntryId::new(),
            beneficiary: b,
            kind,
            amount: diff,
            currency,
            order_id: Some(order),
            order_number: Some(f.number.clone()),
            order_version: Some(f.version),
            earned_on: f.order_date,
            plan_id: plan.as_ref().map(|p| p.id()),
            reason: Some(format!(
                "{} due at order version {} ({}), {} booked before",
                amount,
                f.version,
                f.status.as_str(),
                booked
            )),
            created_by: None,
            created_at: now,
        };
        ledger::append(db, &entry)?;
        booked_rows.push(entry);
    }
    Ok(booked_rows)
}

/// Recalculates the commission of `order` (and of the other orders in the
/// same tier periods) and books the differences; see the module docs.
/// Idempotent. Run it inside the caller's transaction.
/// An order's quotation and customer, or `NotFound` (entity `order`, as
/// `orders::get` answers).
fn order_head(
    db: &impl Db,
    order: OrderId,
) -> Result<(Option<sales_domain::ids::QuotationId>, CustomerId), StoreError> {
    let id = order.to_string();
    let rows = db.execute(
        "SELECT quotation_id, customer_id FROM sales_orders WHERE id = ?",
        &[Value::Text(id.clone())],
    )?;
    let Some(r) = rows.first() else {
        return Err(StoreError::NotFound {
            entity: "order",
            id,
        });
    };
    let corrupt = |m: String| StoreError::Corrupt {
        entity: "order",
        id: id.clone(),
        message: m,
    };
    let quotation = r
        .opt_text("quotation_id")?
        .map(sales_domain::ids::QuotationId::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let customer = CustomerId::parse(r.text("customer_id")?).map_err(|e| corrupt(e.to_string()))?;
    Ok((quotation, customer))
}

pub fn recalculate_order(
    db: &impl Db,
    order: OrderId,
    now: DateTime<Utc>,
) -> Result<Vec<LedgerEntry>, StoreError> {
    // What the team needs of the order, first: an order nobody earns on
    // (most of them) is never read whole — its lines and their JSON
    // columns (issue 7: the jobs drain's CPU per order).
    let (quotation, customer) = order_head(db, order)?;
    let team = allocations::for_order_of(db, order, quotation, customer, true)?;
    let mut beneficiaries: BTreeSet<Beneficiary> = team
        .sales_team
        .allocations()
        .iter()
        .map(|a| Beneficiary::SalesPerson(a.sales_person_id))
        .collect();
    beneficiaries.extend(team.sales_partner_id.map(Beneficiary::SalesPartner));
    beneficiaries.extend(ledger::beneficiaries_of(db, order)?);
    // Nobody to pay or to claw back from: the lines need not be read.
    if beneficiaries.is_empty() {
        return Ok(Vec::new());
    }
    let mut chains = GroupChains::default();
    let rec = crate::orders::get(db, order)?;
    let facts = facts_of(db, &rec, &mut chains)?;
    let mut rows = Vec::new();
    for b in beneficiaries {
        rows.extend(settle_period(db, b, &facts, now, &mut chains)?);
    }
    Ok(rows)
}

/// A manual adjustment (a bonus, a correction): booked as given, never
/// undone by recalculation.
pub fn adjust(db: &impl Db, entry: &LedgerEntry) -> Result<(), StoreError> {
    ledger::append(db, entry)
}

/// Totals of one currency in a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementTotals {
    pub currency: Currency,
    /// Everything earned before the period.
    pub opening: Decimal,
    pub accrued: Decimal,
    pub reversed: Decimal,
    pub adjusted: Decimal,
    /// `opening + accrued + reversed + adjusted`.
    pub closing: Decimal,
}

/// A beneficiary's statement for `[from, to]` (by `earned_on`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub beneficiary: Beneficiary,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: Vec<StatementTotals>,
    pub entries: Vec<LedgerEntry>,
}

pub fn statement(
    db: &impl Db,
    b: Beneficiary,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Statement, StoreError> {
    let before = ledger::all(
        db,
        &LedgerFilter {
            beneficiaries: Some(vec![b]),
            to: from.pred_opt(),
            ..LedgerFilter::default()
        },
    )?;
    let entries = ledger::all(
        db,
        &LedgerFilter {
            beneficiaries: Some(vec![b]),
            from: Some(from),
            to: Some(to),
            ..LedgerFilter::default()
        },
    )?;
    let mut totals: BTreeMap<&'static str, StatementTotals> = BTreeMap::new();
    let slot = |totals: &mut BTreeMap<&'static str, StatementTotals>, c: Currency| {
        totals.entry(c.code()).or_insert(StatementTotals {
            currency: c,
            opening: Decimal::ZERO,
            accrued: Decimal::ZERO,
            reversed: Decimal::ZERO,
            adjusted: Decimal::ZERO,
            closing: Decimal::ZERO,
        });
    };
    for e in &before {
        slot(&mut totals, e.currency);
        if let Some(t) = totals.get_mut(e.currency.code()) {
            t.opening += e.amount;
        }
    }
    for e in &entries {
        slot(&mut totals, e.currency);
        if let Some(t) = totals.get_mut(e.currency.code()) {
            match e.kind {
                EntryKind::Accrual => t.accrued += e.amount,
                EntryKind::Reversal => t.reversed += e.amount,
                EntryKind::Adjustment => t.adjusted += e.amount,
            }
        }
    }
    let totals = totals
        .into_values()
        .map(|mut t| {
            // Amounts print with the currency's decimals (`0.00`, not `0`).
            let r = |d: Decimal| sales_domain::money::round(d, t.currency, Default::default());
            t.closing = r(t.opening + t.accrued + t.reversed + t.adjusted);
            t.opening = r(t.opening);
            t.accrued = r(t.accrued);
            t.reversed = r(t.reversed);
            t.adjusted = r(t.adjusted);
            t
        })
        .collect();
    Ok(Statement {
        beneficiary: b,
        from,
        to,
        totals,
        entries,
    })
}
