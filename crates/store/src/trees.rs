//! Customer groups, item groups and territories: one repository for the
//! three trees, picked by the id type (`TreeNode<TerritoryId>` is stored in
//! `territories`, and so on).
//!
//! Codes are unique per tree. A parent must exist, and a move must keep the
//! tree a tree: [`update`] reads the new parent's ancestor chain and refuses
//! a move under the node itself or its descendants
//! ([`StoreError::Cycle`]). Run `update` inside a transaction when several
//! writers may move nodes at once, so the chain cannot change in between.

use std::fmt::Display;

use chrono::{DateTime, Utc};
use sales_domain::catalog::{check_move, NewTreeNode, TreeNode};
use sales_domain::ids::{CustomerGroupId, IdError, ItemGroupId, TerritoryId};

use crate::db::{Db, DbError, Row, Value};
use crate::page::{decode_cursor, finish, Listed, Page, Versioned};
use crate::repo::{require_exists, stale_or_missing, Where};
use crate::{time, StoreError};

/// An id type whose records form a tree stored in [`TreeId::TABLE`].
pub trait TreeId: Copy + Eq + Display + Sized {
    const TABLE: &'static str;
    const ENTITY: &'static str;
    fn parse_id(s: &str) -> Result<Self, IdError>;
}

impl TreeId for CustomerGroupId {
    const TABLE: &'static str = "customer_groups";
    const ENTITY: &'static str = "customer group";
    fn parse_id(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl TreeId for ItemGroupId {
    const TABLE: &'static str = "item_groups";
    const ENTITY: &'static str = "item group";
    fn parse_id(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl TreeId for TerritoryId {
    const TABLE: &'static str = "territories";
    const ENTITY: &'static str = "territory";
    fn parse_id(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

/// Filters for [`list`]; all given conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFilter<I> {
    /// Direct children of this node.
    pub parent_id: Option<I>,
    /// Only nodes without a parent.
    pub roots_only: bool,
    pub code: Option<String>,
    pub active: Option<bool>,
}

impl<I> Default for TreeFilter<I> {
    fn default() -> Self {
        TreeFilter {
            parent_id: None,
            roots_only: false,
            code: None,
            active: None,
        }
    }
}

const COLUMNS: &str = "id, code, name, parent_id, active, version, created_at, updated_at";

/// Longest ancestor chain followed; deeper means the stored tree is broken.
const MAX_DEPTH: i64 = 1000;

fn decode<I: TreeId>(row: Row<'_>) -> Result<Versioned<TreeNode<I>>, StoreError> {
    let id_text = row.text("id")?;
    let corrupt = |message: String| StoreError::Corrupt {
        entity: I::ENTITY,
        id: id_text.to_owned(),
        message,
    };
    let id = I::parse_id(id_text).map_err(|e| corrupt(e.to_string()))?;
    let parent_id = row
        .opt_text("parent_id")?
        .map(I::parse_id)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let node = TreeNode::from_parts(
        id,
        NewTreeNode {
            code: row.text("code")?.to_owned(),
            name: row.text("name")?.to_owned(),
            parent_id,
        },
        row.bool("active")?,
    )
    .map_err(|e| corrupt(e.to_string()))?;
    Ok(Versioned {
        record: node,
        version: row.int("version")?,
        created_at: time::from_sql(row.text("created_at")?)?,
        updated_at: time::from_sql(row.text("updated_at")?)?,
    })
}

fn one<I: TreeId>(rows: crate::db::Rows) -> Result<Versioned<TreeNode<I>>, StoreError> {
    decode(
        rows.first()
            .ok_or_else(|| DbError::Decode("no row returned".into()))?,
    )
}

fn duplicate_code<I: TreeId>(e: DbError, code: &str) -> StoreError {
    match e {
        DbError::Unique(_) => StoreError::Duplicate {
            entity: I::ENTITY,
            field: "code",
            value: code.to_owned(),
        },
        e => e.into(),
    }
}

/// Stores a new node (version 1). The parent must exist; the code must be free.
pub fn create<I: TreeId>(
    db: &impl Db,
    node: &TreeNode<I>,
    now: DateTime<Utc>,
) -> Result<Versioned<TreeNode<I>>, StoreError> {
    require_exists(
        db,
        I::TABLE,
        "parent_id",
        node.parent_id().map(|p| p.to_string()),
    )?;
    let ts = Value::Text(time::to_sql(now));
    let rows = db
        .execute(
            &format!(
                "INSERT INTO {} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING {COLUMNS}",
                I::TABLE
            ),
            &[
                Value::Text(node.id().to_string()),
                Value::from(node.code()),
                Value::from(node.name()),
                Value::from(node.parent_id().map(|p| p.to_string())),
                Value::from(node.is_active()),
                ts.clone(),
                ts,
            ],
        )
        .map_err(|e| duplicate_code::<I>(e, node.code()))?;
    one(rows)
}

pub fn get<I: TreeId>(db: &impl Db, id: I) -> Result<Versioned<TreeNode<I>>, StoreError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM {} WHERE id = ?", I::TABLE),
        &[Value::Text(id.to_string())],
    )?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(StoreError::NotFound {
            entity: I::ENTITY,
            id: id.to_string(),
        }),
    }
}

/// Nodes in creation order, a page at a time.
pub fn list<I: TreeId>(
    db: &impl Db,
    filter: &TreeFilter<I>,
    page: &Page,
) -> Result<Listed<TreeNode<I>>, StoreError> {
    let mut w = Where::default();
    if let Some(p) = filter.parent_id {
        w.and("parent_id = ?", [Value::Text(p.to_string())]);
    }
    if filter.roots_only {
        w.and("parent_id IS NULL", []);
    }
    if let Some(code) = &filter.code {
        w.and("code = ?", [Value::from(code)]);
    }
    if let Some(active) = filter.active {
        w.and("active = ?", [Value::from(active)]);
    }
    if let Some(cursor) = &page.after {
        let after = decode_cursor(I::TABLE, cursor, I::parse_id)?;
        w.and("id > ?", [Value::Text(after.to_string())]);
    }
    let limit = page.effective_limit();
    let mut params = w.params.clone();
    params.push(Value::from(limit + 1));
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM {} {} ORDER BY id LIMIT ?",
            I::TABLE,
            w.sql()
        ),
        &params,
    )?;
    let nodes = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(finish(I::TABLE, nodes, limit, |n| {
        n.record.id().to_string()
    }))
}

/// The chain above `id`: its parent, grandparent, … up to a root.
pub fn ancestors<I: TreeId>(db: &impl Db, id: I) -> Result<Vec<I>, StoreError> {
    let rows = db.execute(
        &format!(
            "WITH RECURSIVE up(id, parent_id, depth) AS (
                 SELECT id, parent_id, 0 FROM {t} WHERE id = ?
                 UNION ALL
                 SELECT t.id, t.parent_id, up.depth + 1 FROM {t} t JOIN up ON t.id = up.parent_id
                 WHERE up.depth < ?
             )
             SELECT id FROM up WHERE depth > 0 ORDER BY depth",
            t = I::TABLE
        ),
        &[Value::Text(id.to_string()), Value::Integer(MAX_DEPTH)],
    )?;
    ids(rows)
}

/// Every node below `id` (children, grandchildren, …), not `id` itself.
pub fn descendants<I: TreeId>(db: &impl Db, id: I) -> Result<Vec<I>, StoreError> {
    let rows = db.execute(
        &format!(
            "WITH RECURSIVE down(id, depth) AS (
                 SELECT id, 0 FROM {t} WHERE id = ?
                 UNION ALL
                 SELECT t.id, down.depth + 1 FROM {t} t JOIN down ON t.parent_id = down.id
                 WHERE down.depth < ?
             )
             SELECT id FROM down WHERE depth > 0 ORDER BY depth, id",
            t = I::TABLE
        ),
        &[Value::Text(id.to_string()), Value::Integer(MAX_DEPTH)],
    )?;
    ids(rows)
}

fn ids<I: TreeId>(rows: crate::db::Rows) -> Result<Vec<I>, StoreError> {
    rows.iter()
        .map(|r| {
            let text = r.text("id")?;
            I::parse_id(text).map_err(|e| StoreError::Corrupt {
                entity: I::ENTITY,
                id: text.to_owned(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Stores `node` (built with `TreeNode::patched`) if the row is still at
/// `expected_version`. A new parent must exist and must not be the node or
/// one of its descendants.
pub fn update<I: TreeId>(
    db: &impl Db,
    node: &TreeNode<I>,
    expected_version: i64,
    now: DateTime<Utc>,
) -> Result<Versioned<TreeNode<I>>, StoreError> {
    if let Some(parent) = node.parent_id() {
        require_exists(db, I::TABLE, "parent_id", Some(parent.to_string()))?;
        let chain = ancestors(db, parent)?;
        check_move(&node.id(), Some(&parent), &chain).map_err(|_| StoreError::Cycle {
            entity: I::ENTITY,
            id: node.id().to_string(),
            parent: parent.to_string(),
        })?;
    }
    let rows = db
        .execute(
            &format!(
                "UPDATE {} SET code = ?, name = ?, parent_id = ?, active = ?,
                     version = version + 1, updated_at = ?
                 WHERE id = ? AND version = ?
                 RETURNING {COLUMNS}",
                I::TABLE
            ),
            &[
                Value::from(node.code()),
                Value::from(node.name()),
                Value::from(node.parent_id().map(|p| p.to_string())),
                Value::from(node.is_active()),
                Value::Text(time::to_sql(now)),
                Value::Text(node.id().to_string()),
                Value::Integer(expected_version),
            ],
        )
        .map_err(|e| duplicate_code::<I>(e, node.code()))?;
    match rows.first() {
        Some(row) => decode(row),
        None => Err(stale_or_missing(
            db,
            I::TABLE,
            I::ENTITY,
            &node.id().to_string(),
            expected_version,
        )),
    }
}

/// Marks a node inactive (children keep their own flag). Deactivating an
/// inactive node changes nothing and keeps its version.
pub fn deactivate<I: TreeId>(
    db: &impl Db,
    id: I,
    now: DateTime<Utc>,
) -> Result<Versioned<TreeNode<I>>, StoreError> {
    db.execute(
        &format!(
            "UPDATE {} SET active = 0, version = version + 1, updated_at = ?
             WHERE id = ? AND active = 1",
            I::TABLE
        ),
        &[Value::Text(time::to_sql(now)), Value::Text(id.to_string())],
    )?;
    get(db, id)
}
