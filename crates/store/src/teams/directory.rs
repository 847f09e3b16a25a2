//! What the approvals directory learns from the sales hierarchy: who
//! manages whom (between the principals the people are linked to) and
//! who manages each territory (the nearest territory manager up the tree,
//! so a sub-territory without its own manager escalates to its parent's).

use std::collections::BTreeMap;

use sales_domain::approvals::Directory;
use sales_domain::ids::{PrincipalId, SalesPersonId, TerritoryId};

use super::{people, territories};
use crate::db::Db;
use crate::StoreError;

/// Fills `dir.managers` and `dir.territory_managers` from the hierarchy.
/// A principal whose sales person has a manager (with a principal) gets
/// that manager, replacing an `approval_managers` line; principals the
/// hierarchy says nothing about keep theirs (the old list stays a
/// fallback). Inactive people are left out.
pub fn fill(db: &impl Db, dir: &mut Directory) -> Result<(), StoreError> {
    let everyone = people::all(db)?;
    let principal_of: BTreeMap<SalesPersonId, PrincipalId> = everyone
        .iter()
        .filter(|p| p.is_active())
        .filter_map(|p| p.principal_id().map(|pr| (p.id(), pr)))
        .collect();
    for p in everyone.iter().filter(|p| p.is_active()) {
        let (Some(me), Some(m)) = (p.principal_id(), p.manager_id()) else {
            continue;
        };
        if let Some(boss) = principal_of.get(&m) {
            dir.managers.insert(me, *boss);
        }
    }
    let own = territories::managers::all(db)?;
    let rows = db.execute("SELECT id FROM territories", &[])?;
    for r in rows.iter() {
        let text = r.text("id")?;
        let Ok(t) = TerritoryId::parse(text) else {
            continue;
        };
        let manager = territories::chain(db, t)?
            .into_iter()
            .find_map(|x| own.get(&x).copied())
            .and_then(|p| principal_of.get(&p).copied());
        if let Some(m) = manager {
            dir.territory_managers.insert(t, m);
        }
    }
    Ok(())
}
