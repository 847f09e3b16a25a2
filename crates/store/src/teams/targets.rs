//! Sales targets and their attainment.
//!
//! Attainment counts the net amount of orders dated in the target's
//! period, in its currency, that are booked (confirmed, partly or wholly
//! fulfilled, held from those; a closed order what it shipped; drafts,
//! orders waiting for approval and cancelled ones count nothing — the
//! confirmation basis of [`line_basis`](sales_domain::teams::line_basis)),
//! only lines of the target's item group (or its sub-groups) when it
//! names one:
//! - a person's target: their share of each order's split;
//! - a team's target: the summed shares of the team's current members;
//! - a territory's target: every order of a customer whose territory
//!   (explicit or by rule) is the territory or below it — so moving a
//!   territory in the tree moves its customers' orders with it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sales_domain::ids::{CustomerId, ItemGroupId, OrderId, TerritoryId};
use sales_domain::teams::{AccrueOn, Period, Target, TargetId, TargetSubject};
use serde::Serialize;

use super::commissions::{order_facts, GroupChains};
use super::records::{self, Record};
use super::{allocations, territories};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::Where;
use crate::StoreError;

impl Record for Target {
    const TABLE: &'static str = "sales_targets";
    const ENTITY: &'static str = "target";
    const UNIQUE_FIELD: &'static str = "period_start";
    fn id_text(&self) -> String {
        self.id().to_string()
    }
    fn is_active(&self) -> bool {
        true
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        let s = self.subject();
        vec![
            ("subject_kind", Value::from(s.kind())),
            ("subject_id", Value::Text(s.id_text())),
            ("period_kind", Value::from(self.period().kind.as_str())),
            ("period_start", Value::Text(self.period().start.to_string())),
            (
                "item_group_id",
                Value::from(self.item_group_id().map(|g| g.to_string())),
            ),
        ]
    }
    fn unique_value(&self) -> String {
        format!(
            "{} {} {} from {}",
            self.subject().kind(),
            self.subject().id_text(),
            self.period().kind,
            self.period().start
        )
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFilter {
    /// Targets of any of these subjects; `None` is everyone's.
    pub subjects: Option<Vec<TargetSubject>>,
    pub period: Option<Period>,
}

pub fn create(
    db: &impl Db,
    t: &Target,
    now: DateTime<Utc>,
) -> Result<Versioned<Target>, StoreError> {
    records::create(db, t, now)
}

pub fn get(db: &impl Db, id: TargetId) -> Result<Versioned<Target>, StoreError> {
    records::get(db, &id.to_string())
}

pub fn update(
    db: &impl Db,
    t: &Target,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Target>, StoreError> {
    records::update(db, t, expected_version, now)
}

pub fn list(
    db: &impl Db,
    filter: &TargetFilter,
    page: &Page,
) -> Result<Listed<Target>, StoreError> {
    let mut w = Where::default();
    if let Some(subjects) = &filter.subjects {
        if subjects.is_empty() {
            w.and("0 = 1", []);
        } else {
            let clause = vec!["(subject_kind = ? AND subject_id = ?)"; subjects.len()].join(" OR ");
            let params: Vec<Value> = subjects
                .iter()
                .flat_map(|s| [Value::from(s.kind()), Value::Text(s.id_text())])
                .collect();
            w.and(&format!("({clause})"), params);
        }
    }
    if let Some(p) = filter.period {
        w.and(
            "period_kind = ? AND period_start = ?",
            [
                Value::from(p.kind.as_str()),
                Value::Text(p.start.to_string()),
            ],
        );
    }
    records::list(db, w, page, TargetId::parse)
}

/// The target of `subject` for `period` and item group, if set.
pub fn find(
    db: &impl Db,
    subject: TargetSubject,
    period: Period,
    item_group: Option<ItemGroupId>,
) -> Result<Option<Target>, StoreError> {
    let mut w = Where::default();
    w.and(
        "subject_kind = ? AND subject_id = ? AND period_kind = ? AND period_start = ?
         AND COALESCE(item_group_id, '') = ?",
        [
            Value::from(subject.kind()),
            Value::Text(subject.id_text()),
            Value::from(period.kind.as_str()),
            Value::Text(period.start.to_string()),
            Value::Text(item_group.map(|g| g.to_string()).unwrap_or_default()),
        ],
    );
    Ok(records::all(db, w)?.into_iter().next())
}

/// A target with what was sold against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attainment {
    /// Net amount credited, in the target's currency.
    pub achieved: Decimal,
    /// `achieved` as a percentage of the target amount.
    pub attainment: Decimal,
    /// Orders that contributed something.
    pub orders: usize,
}

/// Orders dated in `period` (read-only query on the order table).
fn orders_dated(db: &impl Db, period: Period) -> Result<Vec<OrderId>, StoreError> {
    let rows = db.execute(
        "SELECT id FROM sales_orders WHERE order_date >= ? AND order_date <= ? ORDER BY id",
        &[
            Value::Text(period.start.to_string()),
            Value::Text(period.end().to_string()),
        ],
    )?;
    rows.iter()
        .map(|r| {
            let id = r.text("id")?;
            OrderId::parse(id).map_err(|e| StoreError::Corrupt {
                entity: "order",
                id: id.to_owned(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Whether `customer`'s territory is `territory` or below it.
pub fn customer_in(
    db: &impl Db,
    customer: CustomerId,
    territory: TerritoryId,
    cache: &mut BTreeMap<CustomerId, Vec<TerritoryId>>,
) -> Result<bool, StoreError> {
    if let Some(chain) = cache.get(&customer) {
        return Ok(chain.contains(&territory));
    }
    let own = match territories::customer_territory(db, customer) {
        Ok(t) => t.territory_id,
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let chain = match own {
        Some(t) => territories::chain(db, t)?,
        None => vec![],
    };
    let inside = chain.contains(&territory);
    cache.insert(customer, chain);
    Ok(inside)
}

/// What was sold against `t` (see the module docs).
pub fn attainment(db: &impl Db, t: &Target) -> Result<Attainment, StoreError> {
    let period = t.period();
    let shares: Vec<(OrderId, Decimal)> = match t.subject() {
        TargetSubject::SalesPerson(p) => allocations::orders_of_person(db, p)?,
        TargetSubject::Team(team) => {
            let team = super::sales_teams::get(db, team)?.record;
            let mut by_order: BTreeMap<OrderId, Decimal> = BTreeMap::new();
            for m in team.members().allocations() {
                for (o, share) in allocations::orders_of_person(db, m.sales_person_id)? {
                    *by_order.entry(o).or_default() += share;
                }
            }
            by_order.into_iter().collect()
        }
        TargetSubject::Territory(territory) => {
            let mut cache = BTreeMap::new();
            let mut out = Vec::new();
            for o in orders_dated(db, period)? {
                let customer = crate::orders::get(db, o)?.record.order.customer_id();
                if customer_in(db, customer, territory, &mut cache)? {
                    out.push((o, Decimal::ONE_HUNDRED));
                }
            }
            out
        }
    };
    let mut chains = GroupChains::default();
    let mut achieved = Decimal::ZERO;
    let mut orders = 0;
    for (o, share) in shares {
        let f = order_facts(db, o, &mut chains)?;
        if f.currency != t.currency() || !period.contains(f.order_date) {
            continue;
        }
        let amount: Decimal = f
            .at_basis(AccrueOn::Confirmation)
            .iter()
            .filter(|l| t.item_group_id().is_none_or(|g| l.group_chain.contains(&g)))
            .map(|l| l.net_total * share / Decimal::ONE_HUNDRED)
            .sum();
        if !amount.is_zero() {
            achieved += amount;
            orders += 1;
        }
    }
    let achieved = sales_domain::money::round(achieved, t.currency(), Default::default());
    Ok(Attainment {
        achieved,
        attainment: t.attainment(achieved),
        orders,
    })
}
