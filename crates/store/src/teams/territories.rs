//! Territory managers, territory rules, and the territory and default
//! sales team of a customer.
//!
//! A customer's territory is its explicit `territory_id` when it has one
//! (explicit assignment wins), else the territory of the most specific
//! active rule matching its shipping address (else its billing address).
//! Its default split comes from the nearest territory up the tree that has
//! an active team with members; failing that, the nearest territory
//! manager gets 100 %.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sales_domain::ids::{CustomerId, SalesPersonId, TerritoryId};
use sales_domain::teams::{
    resolve_territory, Split, TeamId, TerritoryManager, TerritoryManagerId, TerritoryRule,
    TerritoryRuleId,
};
use serde::Serialize;

use super::records::{self, Record};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::Where;
use crate::StoreError;

impl Record for TerritoryManager {
    const TABLE: &'static str = "territory_managers";
    const ENTITY: &'static str = "territory manager";
    const UNIQUE_FIELD: &'static str = "territory_id";
    fn id_text(&self) -> String {
        self.id.to_string()
    }
    fn is_active(&self) -> bool {
        true
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("territory_id", Value::Text(self.territory_id.to_string())),
            (
                "sales_person_id",
                Value::Text(self.sales_person_id.to_string()),
            ),
        ]
    }
    fn unique_value(&self) -> String {
        self.territory_id.to_string()
    }
}

impl Record for TerritoryRule {
    const TABLE: &'static str = "territory_rules";
    const ENTITY: &'static str = "territory rule";
    const UNIQUE_FIELD: &'static str = "id";
    fn id_text(&self) -> String {
        self.id().to_string()
    }
    fn is_active(&self) -> bool {
        TerritoryRule::is_active(self)
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("territory_id", Value::Text(self.territory_id().to_string())),
            ("country", Value::from(self.country())),
        ]
    }
    fn unique_value(&self) -> String {
        self.id().to_string()
    }
}

/// Territory managers.
pub mod managers {
    use super::*;

    pub fn create(
        db: &impl Db,
        m: &TerritoryManager,
        now: DateTime<Utc>,
    ) -> Result<Versioned<TerritoryManager>, StoreError> {
        records::create(db, m, now)
    }

    pub fn get(
        db: &impl Db,
        id: TerritoryManagerId,
    ) -> Result<Versioned<TerritoryManager>, StoreError> {
        records::get(db, &id.to_string())
    }

    pub fn update(
        db: &impl Db,
        m: &TerritoryManager,
        expected_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Versioned<TerritoryManager>, StoreError> {
        records::update(db, m, expected_version, now)
    }

    pub fn list(
        db: &impl Db,
        territory: Option<TerritoryId>,
        person: Option<SalesPersonId>,
        page: &Page,
    ) -> Result<Listed<TerritoryManager>, StoreError> {
        let mut w = Where::default();
        if let Some(t) = territory {
            w.and("territory_id = ?", [Value::Text(t.to_string())]);
        }
        if let Some(p) = person {
            w.and("sales_person_id = ?", [Value::Text(p.to_string())]);
        }
        records::list(db, w, page, TerritoryManagerId::parse)
    }

    /// Territory → its own manager.
    pub fn all(db: &impl Db) -> Result<BTreeMap<TerritoryId, SalesPersonId>, StoreError> {
        Ok(records::all::<TerritoryManager>(db, Where::default())?
            .into_iter()
            .map(|m| (m.territory_id, m.sales_person_id))
            .collect())
    }

    /// The manager of `territory` or of its nearest ancestor that has one.
    pub fn nearest(
        db: &impl Db,
        territory: TerritoryId,
    ) -> Result<Option<SalesPersonId>, StoreError> {
        let own = all(db)?;
        Ok(super::chain(db, territory)?
            .into_iter()
            .find_map(|t| own.get(&t).copied()))
    }
}

/// Territory rules.
pub mod rules {
    use super::*;

    pub fn create(
        db: &impl Db,
        r: &TerritoryRule,
        now: DateTime<Utc>,
    ) -> Result<Versioned<TerritoryRule>, StoreError> {
        records::create(db, r, now)
    }

    pub fn get(db: &impl Db, id: TerritoryRuleId) -> Result<Versioned<TerritoryRule>, StoreError> {
        records::get(db, &id.to_string())
    }

    pub fn update(
        db: &impl Db,
        r: &TerritoryRule,
        expected_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Versioned<TerritoryRule>, StoreError> {
        records::update(db, r, expected_version, now)
    }

    pub fn list(
        db: &impl Db,
        territory: Option<TerritoryId>,
        country: Option<&str>,
        active: Option<bool>,
        page: &Page,
    ) -> Result<Listed<TerritoryRule>, StoreError> {
        let mut w = Where::default();
        if let Some(t) = territory {
            w.and("territory_id = ?", [Value::Text(t.to_string())]);
        }
        if let Some(c) = country {
            w.and("country = ?", [Value::Text(c.to_ascii_uppercase())]);
        }
        if let Some(a) = active {
            w.and("active = ?", [Value::from(a)]);
        }
        records::list(db, w, page, TerritoryRuleId::parse)
    }

    /// The active rules of one country.
    pub fn for_country(db: &impl Db, country: &str) -> Result<Vec<TerritoryRule>, StoreError> {
        let mut w = Where::default();
        w.and(
            "active = 1 AND country = ?",
            [Value::Text(country.trim().to_ascii_uppercase())],
        );
        records::all(db, w)
    }
}

/// `territory` and its ancestors, nearest first.
pub fn chain(db: &impl Db, territory: TerritoryId) -> Result<Vec<TerritoryId>, StoreError> {
    let mut out = vec![territory];
    out.extend(crate::trees::ancestors(db, territory)?);
    Ok(out)
}

/// How a customer's territory was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TerritorySource {
    /// The customer's own `territory_id`.
    Explicit,
    /// A territory rule matched its address.
    Rule,
    /// Neither: the customer has no territory.
    None,
}

/// A customer's territory and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CustomerTerritory {
    pub customer_id: CustomerId,
    pub territory_id: Option<TerritoryId>,
    pub source: TerritorySource,
    pub rule_id: Option<TerritoryRuleId>,
}

/// The territory of a customer (see the module docs).
pub fn customer_territory(
    db: &impl Db,
    customer: CustomerId,
) -> Result<CustomerTerritory, StoreError> {
    let c = crate::customers::get(db, customer)?.record;
    territory_of(db, &c)
}

/// [`customer_territory`] of a customer already read.
pub fn territory_of(
    db: &impl Db,
    c: &sales_domain::catalog::Customer,
) -> Result<CustomerTerritory, StoreError> {
    let customer = c.id();
    if let Some(t) = c.territory_id() {
        return Ok(CustomerTerritory {
            customer_id: customer,
            territory_id: Some(t),
            source: TerritorySource::Explicit,
            rule_id: None,
        });
    }
    for address in [c.shipping_address(), c.billing_address()]
        .into_iter()
        .flatten()
    {
        let candidates = rules::for_country(db, address.country())?;
        if let Some(r) = resolve_territory(
            &candidates,
            address.country(),
            address.region(),
            address.postcode(),
        ) {
            return Ok(CustomerTerritory {
                customer_id: customer,
                territory_id: Some(r.territory_id()),
                source: TerritorySource::Rule,
                rule_id: Some(r.id()),
            });
        }
    }
    Ok(CustomerTerritory {
        customer_id: customer,
        territory_id: None,
        source: TerritorySource::None,
        rule_id: None,
    })
}

/// The split a new document of a customer in `territory` starts with, and
/// the team it came from (none when only a territory manager was found).
pub fn default_split(
    db: &impl Db,
    territory: Option<TerritoryId>,
) -> Result<Option<(Option<TeamId>, Split)>, StoreError> {
    let Some(territory) = territory else {
        return Ok(None);
    };
    let chain = chain(db, territory)?;
    for t in &chain {
        if let Some(team) = super::sales_teams::for_territory(db, *t)? {
            if !team.members().is_empty() {
                return Ok(Some((Some(team.id()), team.members().clone())));
            }
        }
    }
    Ok(managers::nearest(db, territory)?.map(|p| (None, Split::whole(p))))
}
