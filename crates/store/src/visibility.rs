//! Record visibility: which customers, quotations, orders (and the work
//! orders and projects made for them) and approval requests a principal
//! may see (issue #8 item 5).
//!
//! [`for_principal`] turns an API-key principal into a [`Visibility`] once
//! per request; the repositories turn that into SQL conditions
//! ([`Visibility::customer_row`], [`Visibility::customer_ref`],
//! [`Visibility::document`]), so lists page correctly (a page is never
//! emptied after the fact) and a read of an id outside the scope finds no
//! row — the same [`StoreError::NotFound`] as an unknown id.
//!
//! The rule (ERPNext's user permissions on Territory / Sales Person, with
//! a manager seeing down the hierarchy):
//! - admins and integrations see everything; so does a key that names
//!   neither a territory nor a sales person and is not linked to one (no
//!   restriction was configured for it, as in ERPNext where a user without
//!   user permissions sees every record);
//! - otherwise the key's *people* are its sales person (the person linked
//!   to the principal, else the key's `sales_person_id`) and, for a
//!   manager, everyone below them in the hierarchy; its *territories* are
//!   the key's `territory_id`, the territories of the active teams its
//!   people are members of and the territories its people manage — each
//!   with every territory below it, read from the tree at request time,
//!   so moving a territory under another changes who sees its customers
//!   at once;
//! - a customer is visible when its territory (explicit, else by territory
//!   rule) is one of the territories;
//! - a quotation or order is visible when its customer is, when one of
//!   the people is in its stored sales team split, or when the principal
//!   is asked to approve it (an approver sees what they approve, as
//!   Salesforce's approval process shares the record with its approvers);
//! - an approval request is visible when its document is, or when the
//!   principal submitted it, decided on it, or is (or acts by delegation
//!   for) one of its assignees.

use std::collections::{BTreeMap, BTreeSet};

use sales_domain::auth::{Principal, Role};
use sales_domain::catalog::Address;
use sales_domain::ids::{CustomerId, PrincipalId, SalesPersonId, TerritoryId};
use sales_domain::teams::{resolve_territory, TerritoryRule};

use crate::db::{Db, Value};
use crate::repo::from_json;
use crate::teams::allocations::DocumentKind;
use crate::StoreError;

/// What a principal may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every record.
    All,
    /// Only what [`Scope`] reaches.
    Scoped(Scope),
}

/// The territories and people a restricted principal sees by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Every visible territory (roots and everything below them).
    pub territories: BTreeSet<TerritoryId>,
    /// The principal's sales person and, for a manager, their subtree.
    pub people: BTreeSet<SalesPersonId>,
    /// Customers without an explicit territory that a territory rule
    /// places in one of `territories`.
    pub placed: BTreeSet<CustomerId>,
    /// The principal itself (approvals it is asked for, submitted or
    /// decided).
    pub principal: PrincipalId,
}

fn json_ids<T: ToString>(ids: impl IntoIterator<Item = T>) -> Value {
    let list: Vec<String> = ids.into_iter().map(|i| i.to_string()).collect();
    Value::Text(serde_json::Value::from(list).to_string())
}

impl Visibility {
    /// Whether everything is visible.
    pub fn is_all(&self) -> bool {
        matches!(self, Visibility::All)
    }

    /// The visible territories (`None`: every territory).
    pub fn territories(&self) -> Option<&BTreeSet<TerritoryId>> {
        match self {
            Visibility::All => None,
            Visibility::Scoped(s) => Some(&s.territories),
        }
    }

    /// Rule-placed customers in the visible territories (empty for `All`).
    pub fn placed_customers(&self) -> Option<&BTreeSet<CustomerId>> {
        match self {
            Visibility::All => None,
            Visibility::Scoped(s) => Some(&s.placed),
        }
    }

    /// A condition on a `customers` row aliased `alias`; `None` for `All`.
    pub fn customer_row(&self, alias: &str) -> Option<(String, Vec<Value>)> {
        let Visibility::Scoped(s) = self else {
            return None;
        };
        Some((
            format!(
                "({alias}.territory_id IN (SELECT value FROM json_each(?))
                  OR {alias}.id IN (SELECT value FROM json_each(?)))"
            ),
            vec![json_ids(&s.territories), json_ids(&s.placed)],
        ))
    }

    /// A condition on a column holding a customer id (qualify it with its
    /// table: the condition is a correlated subquery); `None` for `All`.
    pub fn customer_ref(&self, column: &str) -> Option<(String, Vec<Value>)> {
        let (row, params) = self.customer_row("vc")?;
        Some((
            format!("EXISTS (SELECT 1 FROM customers vc WHERE vc.id = {column} AND {row})"),
            params,
        ))
    }

    /// A condition on a quotation or order row whose id is in `id_column`
    /// and customer in `customer_column` (both qualified with the table);
    /// `None` for `All`.
    ///
    /// Correlated `EXISTS` lookups, one primary-key probe each per row, so
    /// a page is read in id order and stops at its limit: a wide scope (a
    /// manager seeing half of 200,000 orders) costs about what an
    /// unscoped page does, a narrow one reads ~1/selectivity rows per page
    /// (see BENCHMARKS.md). `IN (SELECT …)` lists instead rebuilt every
    /// visible id per page (0.65 s a page for that manager).
    pub fn document(
        &self,
        kind: DocumentKind,
        id_column: &str,
        customer_column: &str,
    ) -> Option<(String, Vec<Value>)> {
        let Visibility::Scoped(s) = self else {
            return None;
        };
        let (customer, mut params) = self.customer_ref(customer_column)?;
        params.push(Value::from(kind.as_str()));
        params.push(json_ids(&s.people));
        params.push(Value::from(kind.as_str()));
        params.push(Value::Text(s.principal.to_string()));
        params.push(Value::Text(s.principal.to_string()));
        Some((
            format!(
                "({customer}
                 OR EXISTS (SELECT 1 FROM document_sales_teams vt
                   WHERE vt.document_kind = ? AND vt.document_id = {id_column}
                     AND vt.sales_person_id IN (SELECT value FROM json_each(?)))
                 OR EXISTS (SELECT 1 FROM approval_requests va
                   JOIN approval_request_assignees vaa ON vaa.request_id = va.id
                   WHERE va.document_kind = ? AND va.document_id = {id_column}
                     AND (vaa.principal_id = ?
                          OR vaa.principal_id IN (SELECT from_principal FROM approval_delegations
                                                  WHERE to_principal = ?))))"
            ),
            params,
        ))
    }
}

impl Visibility {
    /// A condition on a row that belongs to the order whose id is in
    /// `order_column` (qualified with its table): work orders, projects
    /// and their tasks are seen exactly when their order is. `None` for
    /// `All`.
    pub fn of_order(&self, order_column: &str) -> Option<(String, Vec<Value>)> {
        let (order, params) = self.document(DocumentKind::Order, "vso.id", "vso.customer_id")?;
        Some((
            format!(
                "EXISTS (SELECT 1 FROM sales_orders vso WHERE vso.id = {order_column} AND {order})"
            ),
            params,
        ))
    }
}

/// The [`Visibility`] of `principal` (see the module docs).
pub fn for_principal(db: &impl Db, principal: &Principal) -> Result<Visibility, StoreError> {
    let Some((territories, people)) = reach(db, principal)? else {
        return Ok(Visibility::All);
    };
    let placed = placed_customers(db, &territories)?;
    Ok(Visibility::Scoped(Scope {
        territories,
        people,
        placed,
        principal: principal.id(),
    }))
}

/// The territories `principal` sees by (`None`: everything) — the
/// [`Visibility`]'s territories without resolving which rule-placed
/// customers fall in them. For callers that filter by territory
/// themselves (the reports, which place customers once for their own,
/// possibly narrower, territory filter through [`placed_in`]): resolving
/// the placement here too would scan every customer without a territory
/// twice per request.
pub fn territories_for(
    db: &impl Db,
    principal: &Principal,
) -> Result<Option<BTreeSet<TerritoryId>>, StoreError> {
    Ok(reach(db, principal)?.map(|(territories, _)| territories))
}

/// A scoped principal's territories (with their subtrees) and people;
/// `None` when it sees everything.
#[allow(clippy::type_complexity)]
fn reach(
    db: &impl Db,
    principal: &Principal,
) -> Result<Option<(BTreeSet<TerritoryId>, BTreeSet<SalesPersonId>)>, StoreError> {
    if principal.has_role(Role::Admin) || principal.has_role(Role::Integration) {
        return Ok(None);
    }
    let me = match crate::teams::people::by_principal(db, principal.id())? {
        Some(p) => Some(p.id()),
        None => principal.sales_person_id(),
    };
    if me.is_none() && principal.territory_id().is_none() {
        return Ok(None);
    }
    let people: BTreeSet<SalesPersonId> = match me {
        None => BTreeSet::new(),
        Some(me) if principal.has_role(Role::Manager) => {
            sales_domain::teams::subtree(me, &crate::teams::people::managers(db)?)
        }
        Some(me) => BTreeSet::from([me]),
    };
    let mut roots: BTreeSet<TerritoryId> = principal.territory_id().into_iter().collect();
    if !people.is_empty() {
        let people_json = json_ids(&people);
        let rows = db.execute(
            "SELECT territory_id FROM sales_teams
              WHERE active = 1 AND territory_id IS NOT NULL
                AND id IN (SELECT team_id FROM sales_team_members
                           WHERE sales_person_id IN (SELECT value FROM json_each(?)))
             UNION
             SELECT territory_id FROM territory_managers
              WHERE sales_person_id IN (SELECT value FROM json_each(?))",
            &[people_json.clone(), people_json],
        )?;
        for r in rows.iter() {
            let t = r.text("territory_id")?;
            roots.insert(TerritoryId::parse(t).map_err(|e| StoreError::Corrupt {
                entity: "territory",
                id: t.to_owned(),
                message: e.to_string(),
            })?);
        }
    }
    Ok(Some((with_descendants(db, &roots)?, people)))
}

/// `roots` and every territory below them.
fn with_descendants(
    db: &impl Db,
    roots: &BTreeSet<TerritoryId>,
) -> Result<BTreeSet<TerritoryId>, StoreError> {
    let mut out = roots.clone();
    for r in roots {
        out.extend(crate::trees::descendants(db, *r)?);
    }
    Ok(out)
}

/// Customers without an explicit territory whose address a territory
/// rule places in `territories` (the same resolution as
/// `teams::territories::customer_territory`: shipping address first, then
/// billing; the most specific active rule of the address's country).
fn placed_customers(
    db: &impl Db,
    territories: &BTreeSet<TerritoryId>,
) -> Result<BTreeSet<CustomerId>, StoreError> {
    let mut out = BTreeSet::new();
    if territories.is_empty() {
        return Ok(out);
    }
    // No active rule points into the scope: nobody can be placed in it.
    let any = db.execute(
        "SELECT 1 AS one FROM territory_rules
          WHERE active = 1 AND territory_id IN (SELECT value FROM json_each(?)) LIMIT 1",
        &[json_ids(territories)],
    )?;
    if any.is_empty() {
        return Ok(out);
    }
    let rows = db.execute(
        "SELECT id, shipping_address, billing_address FROM customers
          WHERE territory_id IS NULL
            AND (shipping_address IS NOT NULL OR billing_address IS NOT NULL)",
        &[],
    )?;
    let mut rules: BTreeMap<String, Vec<TerritoryRule>> = BTreeMap::new();
    for r in rows.iter() {
        let id = r.text("id")?;
        for column in ["shipping_address", "billing_address"] {
            let Some(text) = r.opt_text(column)? else {
                continue;
            };
            let a: Address = from_json(column, text)?;
            let country = a.country().trim().to_ascii_uppercase();
            if !rules.contains_key(&country) {
                let found = crate::teams::territories::rules::for_country(db, &country)?;
                rules.insert(country.clone(), found);
            }
            let candidates = rules.get(&country).map(Vec::as_slice).unwrap_or_default();
            if let Some(rule) = resolve_territory(candidates, a.country(), a.region(), a.postcode())
            {
                if territories.contains(&rule.territory_id()) {
                    out.insert(CustomerId::parse(id).map_err(|e| StoreError::Corrupt {
                        entity: "customer",
                        id: id.to_owned(),
                        message: e.to_string(),
                    })?);
                }
                break;
            }
        }
    }
    Ok(out)
}

/// The customers a territory filter of the reports reaches beyond the
/// explicit `territory_id` column: those without one that a territory rule
/// places in `territories` (ids as text; an unparsable id reaches none).
/// Read at request time, like [`for_principal`]'s, so a new rule or a tree
/// move applies at once.
pub fn placed_in(db: &impl Db, territories: &[String]) -> Result<Vec<String>, StoreError> {
    let ids: BTreeSet<TerritoryId> = territories
        .iter()
        .filter_map(|t| TerritoryId::parse(t).ok())
        .collect();
    Ok(placed_customers(db, &ids)?
        .into_iter()
        .map(|c| c.to_string())
        .collect())
}

/// Whether a row of `table` with `id` passes `condition` (`None`: exists).
fn row_passes(
    db: &impl Db,
    table: &str,
    id: &str,
    condition: Option<(String, Vec<Value>)>,
) -> Result<bool, StoreError> {
    let (extra, mut params) = match condition {
        Some((c, p)) => (format!(" AND {c}"), p),
        None => (String::new(), vec![]),
    };
    params.insert(0, Value::from(id));
    Ok(!db
        .execute(
            &format!("SELECT 1 AS one FROM {table} WHERE id = ?{extra}"),
            &params,
        )?
        .is_empty())
}

fn not_found(entity: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_owned(),
    }
}

/// `Ok` when the customer exists and is visible, else
/// [`StoreError::NotFound`] — the same answer for both.
pub fn require_customer(db: &impl Db, v: &Visibility, id: CustomerId) -> Result<(), StoreError> {
    let id = id.to_string();
    if row_passes(db, "customers c", &id, v.customer_row("c"))? {
        Ok(())
    } else {
        Err(not_found("customer", &id))
    }
}

/// `Ok` when the quotation exists and is visible, else `NotFound`.
pub fn require_quotation(
    db: &impl Db,
    v: &Visibility,
    id: sales_domain::ids::QuotationId,
) -> Result<(), StoreError> {
    let id = id.to_string();
    let c = v.document(
        DocumentKind::Quotation,
        "quotations.id",
        "quotations.customer_id",
    );
    if row_passes(db, "quotations", &id, c)? {
        Ok(())
    } else {
        Err(not_found("quotation", &id))
    }
}

/// `Ok` when the order exists and is visible, else `NotFound`.
pub fn require_order(
    db: &impl Db,
    v: &Visibility,
    id: sales_domain::ids::OrderId,
) -> Result<(), StoreError> {
    let id = id.to_string();
    let c = v.document(
        DocumentKind::Order,
        "sales_orders.id",
        "sales_orders.customer_id",
    );
    if row_passes(db, "sales_orders", &id, c)? {
        Ok(())
    } else {
        Err(not_found("order", &id))
    }
}

/// The condition on an `approval_requests` row (the table unaliased): its
/// document is visible, or the principal submitted, decided or is asked
/// for it.
pub fn approval_request(v: &Visibility) -> Option<(String, Vec<Value>)> {
    let Visibility::Scoped(s) = v else {
        return None;
    };
    let (order, mut params) = v.document(DocumentKind::Order, "vo.id", "vo.customer_id")?;
    let (quotation, qp) = v.document(DocumentKind::Quotation, "vq.id", "vq.customer_id")?;
    params.extend(qp);
    let me = Value::Text(s.principal.to_string());
    params.extend([me.clone(), me.clone(), me.clone(), me]);
    Some((
        format!(
            "((approval_requests.document_kind = 'order'
               AND EXISTS (SELECT 1 FROM sales_orders vo
                           WHERE vo.id = approval_requests.document_id AND {order}))
              OR (approval_requests.document_kind = 'quotation'
               AND EXISTS (SELECT 1 FROM quotations vq
                           WHERE vq.id = approval_requests.document_id AND {quotation}))
              OR approval_requests.submitted_by = ?
              OR approval_requests.id IN (SELECT request_id FROM approval_request_assignees
                        WHERE principal_id = ?
                           OR principal_id IN (SELECT from_principal FROM approval_delegations
                                               WHERE to_principal = ?))
              OR approval_requests.id IN (SELECT request_id FROM approval_decisions
                                          WHERE decided_by = ?))"
        ),
        params,
    ))
}
