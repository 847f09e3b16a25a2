//! Sales teams and their default splits.

use chrono::{DateTime, Utc};
use sales_domain::ids::{SalesPersonId, TerritoryId};
use sales_domain::teams::{Team, TeamId};

use super::records::{self, Record};
use crate::db::{Db, Value};
use crate::page::{Listed, Page, Versioned};
use crate::repo::{atomically, Where};
use crate::StoreError;

impl Record for Team {
    const TABLE: &'static str = "sales_teams";
    const ENTITY: &'static str = "team";
    const UNIQUE_FIELD: &'static str = "code";
    fn id_text(&self) -> String {
        self.id().to_string()
    }
    fn is_active(&self) -> bool {
        Team::is_active(self)
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("code", Value::from(self.code())),
            (
                "territory_id",
                Value::from(self.territory_id().map(|t| t.to_string())),
            ),
        ]
    }
    fn unique_value(&self) -> String {
        self.code().to_owned()
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamFilter {
    pub active: Option<bool>,
    pub territory_id: Option<TerritoryId>,
    /// Teams this person is a member of.
    pub member: Option<SalesPersonId>,
}

fn write_members(db: &impl Db, t: &Team) -> Result<(), StoreError> {
    let id = t.id().to_string();
    db.execute(
        "DELETE FROM sales_team_members WHERE team_id = ?",
        &[Value::from(&id)],
    )?;
    for a in t.members().allocations() {
        db.execute(
            "INSERT INTO sales_team_members (team_id, sales_person_id, percentage) VALUES (?, ?, ?)",
            &[
                Value::from(&id),
                Value::Text(a.sales_person_id.to_string()),
                Value::Text(a.percentage.to_string()),
            ],
        )?;
    }
    Ok(())
}

pub fn create(db: &impl Db, t: &Team, now: DateTime<Utc>) -> Result<Versioned<Team>, StoreError> {
    atomically(db, || {
        let v = records::create(db, t, now)?;
        write_members(db, t)?;
        Ok(v)
    })
}

pub fn get(db: &impl Db, id: TeamId) -> Result<Versioned<Team>, StoreError> {
    records::get(db, &id.to_string())
}

pub fn update(
    db: &impl Db,
    t: &Team,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<Team>, StoreError> {
    atomically(db, || {
        let v = records::update(db, t, expected_version, now)?;
        write_members(db, t)?;
        Ok(v)
    })
}

pub fn list(db: &impl Db, filter: &TeamFilter, page: &Page) -> Result<Listed<Team>, StoreError> {
    let mut w = Where::default();
    if let Some(a) = filter.active {
        w.and("active = ?", [Value::from(a)]);
    }
    if let Some(t) = filter.territory_id {
        w.and("territory_id = ?", [Value::Text(t.to_string())]);
    }
    if let Some(p) = filter.member {
        w.and(
            "id IN (SELECT team_id FROM sales_team_members WHERE sales_person_id = ?)",
            [Value::Text(p.to_string())],
        );
    }
    records::list(db, w, page, TeamId::parse)
}

/// The oldest active team selling in `territory`, if any.
pub fn for_territory(db: &impl Db, territory: TerritoryId) -> Result<Option<Team>, StoreError> {
    let mut w = Where::default();
    w.and(
        "active = 1 AND territory_id = ?",
        [Value::Text(territory.to_string())],
    );
    Ok(records::all(db, w)?.into_iter().next())
}

/// Every active team `p` is a member of.
pub fn of_person(db: &impl Db, p: SalesPersonId) -> Result<Vec<Team>, StoreError> {
    let mut w = Where::default();
    w.and(
        "active = 1 AND id IN (SELECT team_id FROM sales_team_members WHERE sales_person_id = ?)",
        [Value::Text(p.to_string())],
    );
    records::all(db, w)
}
