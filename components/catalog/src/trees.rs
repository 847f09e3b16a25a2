//! `/api/v1/customer-groups`, `/api/v1/item-groups`, `/api/v1/territories`:
//! three trees with one shape (`code`, `name`, `parent_id`), one handler set.

use sales_domain::auth::Action;
use sales_domain::catalog::{NewTreeNode, TreeNode, TreeNodePatch};
use sales_domain::ids::{CustomerGroupId, ItemGroupId, TerritoryId};
use sales_kit::auth::require;
use sales_kit::etag::if_match;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResult};
use sales_store::trees::{self, TreeFilter, TreeId};
use sales_store::Db;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::wire::{invalid, not_null, nullable, page, path_id, record, store_page};
use crate::Ctx;

#[derive(Clone, Copy)]
pub enum Tree {
    CustomerGroups,
    ItemGroups,
    Territories,
}

impl Tree {
    fn path(self) -> &'static str {
        match self {
            Tree::CustomerGroups => "customer-groups",
            Tree::ItemGroups => "item-groups",
            Tree::Territories => "territories",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound = "I: DeserializeOwned")]
struct NewBody<I> {
    code: String,
    name: String,
    #[serde(default)]
    parent_id: Option<I>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound = "I: DeserializeOwned")]
struct PatchBody<I> {
    #[serde(default, deserialize_with = "not_null")]
    code: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    parent_id: Option<Option<I>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound = "I: DeserializeOwned")]
struct ListQuery<I> {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    parent_id: Option<I>,
    code: Option<String>,
}

/// Runs `$body` with `I` bound to the id type of `$tree`.
macro_rules! with_tree {
    ($tree:expr, $f:ident ( $($arg:expr),* )) => {
        match $tree {
            Tree::CustomerGroups => $f::<CustomerGroupId>($($arg),*),
            Tree::ItemGroups => $f::<ItemGroupId>($($arg),*),
            Tree::Territories => $f::<TerritoryId>($($arg),*),
        }
    };
}

pub fn list(ctx: &Ctx, req: &ApiRequest, tree: Tree) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    with_tree!(tree, list_in(ctx, req))
}

pub fn get(ctx: &Ctx, tree: Tree, id: &str) -> ApiResult {
    require(&ctx.principal, Action::ReadCatalog)?;
    with_tree!(tree, get_in(ctx, id))
}

pub fn create(ctx: &Ctx, req: &ApiRequest, tree: Tree) -> ApiResult {
    require(&ctx.principal, Action::WriteCatalogStructure)?;
    with_tree!(tree, create_in(ctx, req, tree))
}

pub fn update(ctx: &Ctx, req: &ApiRequest, tree: Tree, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteCatalogStructure)?;
    with_tree!(tree, update_in(ctx, req, id))
}

pub fn deactivate(ctx: &Ctx, req: &ApiRequest, tree: Tree, id: &str) -> ApiResult {
    require(&ctx.principal, Action::WriteCatalogStructure)?;
    with_tree!(tree, deactivate_in(ctx, req, id))
}

fn list_in<I: TreeId + DeserializeOwned + Serialize>(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let q: ListQuery<I> = parse_query(&req.query)?;
    let filter = TreeFilter {
        parent_id: q.parent_id,
        code: q.code,
        active: q.active,
        ..TreeFilter::default()
    };
    let (items, next) = trees::list(&ctx.db, &filter, &store_page(q.limit, q.cursor)?)?;
    page(&items, next)
}

fn get_in<I: TreeId + Serialize>(ctx: &Ctx, id: &str) -> ApiResult {
    let id = path_id(id, I::parse_id)?;
    record(200, &trees::get::<I>(&ctx.db, id)?, None)
}

fn create_in<I: TreeId + FreshId + DeserializeOwned + Serialize>(
    ctx: &Ctx,
    req: &ApiRequest,
    tree: Tree,
) -> ApiResult {
    let b: NewBody<I> = parse_json(req)?;
    let new = NewTreeNode {
        code: b.code,
        name: b.name,
        parent_id: b.parent_id,
    };
    let node = TreeNode::create(I::fresh(), new).map_err(invalid)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let stored = trees::create(db, &node, ctx.now)?;
            record(
                201,
                &stored,
                Some(format!("/api/v1/{}/{}", tree.path(), node.id())),
            )
        },
    )
}

fn update_in<I: TreeId + DeserializeOwned + Serialize>(
    ctx: &Ctx,
    req: &ApiRequest,
    id: &str,
) -> ApiResult {
    let id = path_id(id, I::parse_id)?;
    let expected = if_match(req)?;
    let b: PatchBody<I> = parse_json(req)?;
    let patch = TreeNodePatch {
        code: b.code,
        name: b.name,
        parent_id: b.parent_id,
    };
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            let current = trees::get::<I>(db, id)?;
            let next = current.record.patched(patch).map_err(invalid)?;
            record(200, &trees::update(db, &next, expected, ctx.now)?, None)
        },
    )
}

fn deactivate_in<I: TreeId + Serialize>(ctx: &Ctx, req: &ApiRequest, id: &str) -> ApiResult {
    let id = path_id(id, I::parse_id)?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| record(200, &trees::deactivate::<I>(db, id, ctx.now)?, None),
    )
}

/// The id of the node with `code`, for imports that reference nodes by code.
pub(crate) fn id_by_code<I: TreeId>(db: &impl Db, code: &str) -> Result<Option<I>, ApiError> {
    let filter = TreeFilter {
        code: Some(code.to_string()),
        ..TreeFilter::default()
    };
    let (nodes, _) = trees::list::<I>(db, &filter, &sales_store::Page::first(1))?;
    Ok(nodes.first().map(|n| n.record.id()))
}

/// A fresh id for a new node of each tree.
trait FreshId {
    fn fresh() -> Self;
}

macro_rules! fresh_id {
    ($($t:ty),*) => {
        $(impl FreshId for $t {
            fn fresh() -> Self {
                <$t>::new()
            }
        })*
    };
}
fresh_id!(CustomerGroupId, ItemGroupId, TerritoryId);
