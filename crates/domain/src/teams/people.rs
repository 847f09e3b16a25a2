//! Sales people and their hierarchy, teams with default splits, sales
//! partners, territory managers.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{percentage, SalesPartnerId, TeamId, TeamsError, TerritoryManagerId};
use crate::catalog::{code, email, optional_text, required_text, ValidationError, NAME_MAX};
use crate::ids::{PrincipalId, SalesPersonId, TerritoryId};

/// What creating (or fully restating) a sales person takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSalesPerson {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// The API-key principal acting as this person (for approvals and
    /// "my own" reads); at most one person per principal.
    #[serde(default)]
    pub principal_id: Option<PrincipalId>,
    #[serde(default)]
    pub manager_id: Option<SalesPersonId>,
    #[serde(default)]
    pub employee_code: Option<String>,
}

/// A member of the sales force. Whether `manager_id` exists and keeps the
/// hierarchy a tree is checked with [`check_manager`] against the stored
/// people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredSalesPerson")]
pub struct SalesPerson {
    id: SalesPersonId,
    name: String,
    email: Option<String>,
    principal_id: Option<PrincipalId>,
    manager_id: Option<SalesPersonId>,
    employee_code: Option<String>,
    active: bool,
}

#[derive(Deserialize)]
struct StoredSalesPerson {
    id: SalesPersonId,
    #[serde(flatten)]
    new: NewSalesPerson,
    active: bool,
}

impl TryFrom<StoredSalesPerson> for SalesPerson {
    type Error = ValidationError;
    fn try_from(s: StoredSalesPerson) -> Result<Self, Self::Error> {
        SalesPerson::from_parts(s.id, s.new, s.active)
    }
}

impl SalesPerson {
    pub fn create(id: SalesPersonId, new: NewSalesPerson) -> Result<SalesPerson, ValidationError> {
        SalesPerson::from_parts(id, new, true)
    }

    pub fn from_parts(
        id: SalesPersonId,
        new: NewSalesPerson,
        active: bool,
    ) -> Result<SalesPerson, ValidationError> {
        if new.manager_id == Some(id) {
            return Err(ValidationError::new(
                "manager_id",
                "a sales person cannot manage themselves",
            ));
        }
        Ok(SalesPerson {
            id,
            name: required_text("name", &new.name, NAME_MAX)?,
            email: email("email", new.email.as_deref())?,
            principal_id: new.principal_id,
            manager_id: new.manager_id,
            employee_code: optional_text("employee_code", new.employee_code.as_deref(), 40)?,
            active,
        })
    }

    /// The fields as a [`NewSalesPerson`], for patching.
    pub fn to_new(&self) -> NewSalesPerson {
        NewSalesPerson {
            name: self.name.clone(),
            email: self.email.clone(),
            principal_id: self.principal_id,
            manager_id: self.manager_id,
            employee_code: self.employee_code.clone(),
        }
    }

    pub fn with_active(&self, active: bool) -> SalesPerson {
        SalesPerson {
            active,
            ..self.clone()
        }
    }

    pub fn id(&self) -> SalesPersonId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn principal_id(&self) -> Option<PrincipalId> {
        self.principal_id
    }
    pub fn manager_id(&self) -> Option<SalesPersonId> {
        self.manager_id
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
}

/// Checks that `person` may report to `manager`, given every stored
/// person's current manager (`managers`): walking up from `manager` must
/// not reach `person`. A loop already in the data ends the walk.
pub fn check_manager(
    person: SalesPersonId,
    manager: Option<SalesPersonId>,
    managers: &BTreeMap<SalesPersonId, Option<SalesPersonId>>,
) -> Result<(), TeamsError> {
    let Some(first) = manager else {
        return Ok(());
    };
    let mut seen = BTreeSet::new();
    let mut current = Some(first);
    while let Some(m) = current {
        if m == person {
            return Err(TeamsError::Cycle {
                field: "manager_id".into(),
                message: format!(
                    "{first} reports (directly or through others) to {person}; \
                     making them {person}'s manager would close a loop"
                ),
            });
        }
        if !seen.insert(m) {
            break;
        }
        current = managers.get(&m).copied().flatten();
    }
    Ok(())
}

/// `root` and everyone who reports to them, directly or not.
pub fn subtree(
    root: SalesPersonId,
    managers: &BTreeMap<SalesPersonId, Option<SalesPersonId>>,
) -> BTreeSet<SalesPersonId> {
    let mut children: BTreeMap<SalesPersonId, Vec<SalesPersonId>> = BTreeMap::new();
    for (p, m) in managers {
        if let Some(m) = m {
            children.entry(*m).or_default().push(*p);
        }
    }
    let mut out = BTreeSet::from([root]);
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for c in children.get(&p).into_iter().flatten() {
            if out.insert(*c) {
                stack.push(*c);
            }
        }
    }
    out
}

/// One sales person's share of a document (or of a team's default split).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    pub sales_person_id: SalesPersonId,
    /// Percent of the document's amount credited to this person.
    pub percentage: Decimal,
}

/// A sales team split: distinct people whose percentages (each above 0)
/// total exactly 100. Empty only where a split is optional (a team
/// without members).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Allocation>", into = "Vec<Allocation>")]
pub struct Split(Vec<Allocation>);

impl TryFrom<Vec<Allocation>> for Split {
    type Error = TeamsError;
    fn try_from(v: Vec<Allocation>) -> Result<Self, Self::Error> {
        Split::new("", v)
    }
}

impl From<Split> for Vec<Allocation> {
    fn from(s: Split) -> Self {
        s.0
    }
}

impl Split {
    /// Validates `allocations`; `field` names the list in errors
    /// (`sales_team`, `members`). An empty list is an empty split.
    pub fn new(field: &str, allocations: Vec<Allocation>) -> Result<Split, TeamsError> {
        let at = |i: usize, leaf: &str| {
            if field.is_empty() {
                format!("[{i}].{leaf}")
            } else {
                format!("{field}[{i}].{leaf}")
            }
        };
        let mut seen = BTreeSet::new();
        let mut total = Decimal::ZERO;
        for (i, a) in allocations.iter().enumerate() {
            let p = percentage(&at(i, "percentage"), a.percentage)?;
            if p.is_zero() {
                return Err(ValidationError::new(at(i, "percentage"), "must be above 0").into());
            }
            if !seen.insert(a.sales_person_id) {
                return Err(ValidationError::new(
                    at(i, "sales_person_id"),
                    "appears twice in the split",
                )
                .into());
            }
            total += p;
        }
        if !allocations.is_empty() && total != Decimal::ONE_HUNDRED {
            return Err(TeamsError::SplitTotal {
                field: field.to_owned(),
                total: total.normalize(),
            });
        }
        Ok(Split(allocations))
    }

    /// One person with everything.
    pub fn whole(p: SalesPersonId) -> Split {
        Split(vec![Allocation {
            sales_person_id: p,
            percentage: Decimal::ONE_HUNDRED,
        }])
    }

    pub fn allocations(&self) -> &[Allocation] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `p`'s percentage (0 when not in the split).
    pub fn share_of(&self, p: SalesPersonId) -> Decimal {
        self.0
            .iter()
            .find(|a| a.sales_person_id == p)
            .map_or(Decimal::ZERO, |a| a.percentage)
    }
}

/// What creating (or restating) a team takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    pub code: String,
    pub name: String,
    /// The territory this team sells in: its customers' documents default
    /// to this team's split.
    #[serde(default)]
    pub territory_id: Option<TerritoryId>,
    #[serde(default)]
    pub members: Vec<Allocation>,
}

/// A sales team: members with the default split of their documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredTeam")]
pub struct Team {
    id: TeamId,
    code: String,
    name: String,
    territory_id: Option<TerritoryId>,
    members: Split,
    active: bool,
}

#[derive(Deserialize)]
struct StoredTeam {
    id: TeamId,
    #[serde(flatten)]
    new: NewTeam,
    active: bool,
}

impl TryFrom<StoredTeam> for Team {
    type Error = TeamsError;
    fn try_from(s: StoredTeam) -> Result<Self, Self::Error> {
        Team::from_parts(s.id, s.new, s.active)
    }
}

impl Team {
    pub fn from_parts(id: TeamId, new: NewTeam, active: bool) -> Result<Team, TeamsError> {
        Ok(Team {
            id,
            code: code("code", &new.code)?,
            name: required_text("name", &new.name, NAME_MAX)?,
            territory_id: new.territory_id,
            members: Split::new("members", new.members)?,
            active,
        })
    }

    pub fn to_new(&self) -> NewTeam {
        NewTeam {
            code: self.code.clone(),
            name: self.name.clone(),
            territory_id: self.territory_id,
            members: self.members.allocations().to_vec(),
        }
    }

    pub fn with_active(&self, active: bool) -> Team {
        Team {
            active,
            ..self.clone()
        }
    }

    pub fn id(&self) -> TeamId {
        self.id
    }
    pub fn code(&self) -> &str {
        &self.code
    }
    pub fn territory_id(&self) -> Option<TerritoryId> {
        self.territory_id
    }
    pub fn members(&self) -> &Split {
        &self.members
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
}

/// What creating (or restating) a sales partner takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSalesPartner {
    pub code: String,
    pub name: String,
    /// Percent of a credited order's net amount.
    pub commission_rate: Decimal,
    #[serde(default)]
    pub territory_id: Option<TerritoryId>,
    #[serde(default)]
    pub email: Option<String>,
}

/// An outside reseller paid a commission on the orders it brings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredPartner")]
pub struct SalesPartner {
    id: SalesPartnerId,
    code: String,
    name: String,
    commission_rate: Decimal,
    territory_id: Option<TerritoryId>,
    email: Option<String>,
    active: bool,
}

#[derive(Deserialize)]
struct StoredPartner {
    id: SalesPartnerId,
    #[serde(flatten)]
    new: NewSalesPartner,
    active: bool,
}

impl TryFrom<StoredPartner> for SalesPartner {
    type Error = ValidationError;
    fn try_from(s: StoredPartner) -> Result<Self, Self::Error> {
        SalesPartner::from_parts(s.id, s.new, s.active)
    }
}

impl SalesPartner {
    pub fn from_parts(
        id: SalesPartnerId,
        new: NewSalesPartner,
        active: bool,
    ) -> Result<SalesPartner, ValidationError> {
        Ok(SalesPartner {
            id,
            code: code("code", &new.code)?,
            name: required_text("name", &new.name, NAME_MAX)?,
            commission_rate: percentage("commission_rate", new.commission_rate)?,
            territory_id: new.territory_id,
            email: email("email", new.email.as_deref())?,
            active,
        })
    }

    pub fn to_new(&self) -> NewSalesPartner {
        NewSalesPartner {
            code: self.code.clone(),
            name: self.name.clone(),
            commission_rate: self.commission_rate,
            territory_id: self.territory_id,
            email: self.email.clone(),
        }
    }

    pub fn with_active(&self, active: bool) -> SalesPartner {
        SalesPartner {
            active,
            ..self.clone()
        }
    }

    pub fn id(&self) -> SalesPartnerId {
        self.id
    }
    pub fn code(&self) -> &str {
        &self.code
    }
    pub fn commission_rate(&self) -> Decimal {
        self.commission_rate
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
}

/// The one sales person who manages a territory (and, through the tree,
/// its descendants that have no manager of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerritoryManager {
    pub id: TerritoryManagerId,
    pub territory_id: TerritoryId,
    pub sales_person_id: SalesPersonId,
}
