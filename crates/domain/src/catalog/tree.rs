//! Trees of master data: customer groups, item groups and territories share
//! one shape ([`TreeNode`]): a unique `code`, a `name`, an optional parent.
//!
//! A tree must stay a tree: [`check_move`] refuses to put a node under
//! itself or under one of its own descendants, given the new parent's
//! ancestor chain (which the store reads).

use serde::Serialize;

use super::{code, required_text, ValidationError, NAME_MAX};
use crate::ids::{CustomerGroupId, ItemGroupId, TerritoryId};

/// A node of one of the catalog trees, identified by `I`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeNode<I> {
    id: I,
    code: String,
    name: String,
    parent_id: Option<I>,
    active: bool,
}

pub type CustomerGroup = TreeNode<CustomerGroupId>;
pub type ItemGroup = TreeNode<ItemGroupId>;
pub type Territory = TreeNode<TerritoryId>;

/// What creating a node takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTreeNode<I> {
    pub code: String,
    pub name: String,
    pub parent_id: Option<I>,
}

/// A partial update: `None` leaves a field alone; `parent_id: Some(None)`
/// makes the node a root, `Some(Some(p))` moves it under `p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNodePatch<I> {
    pub code: Option<String>,
    pub name: Option<String>,
    pub parent_id: Option<Option<I>>,
}

impl<I> Default for TreeNodePatch<I> {
    fn default() -> Self {
        TreeNodePatch {
            code: None,
            name: None,
            parent_id: None,
        }
    }
}

impl<I: Copy + Eq> TreeNode<I> {
    /// A new, active node. Whether `parent_id` exists is the store's check.
    pub fn create(id: I, new: NewTreeNode<I>) -> Result<TreeNode<I>, ValidationError> {
        TreeNode::from_parts(id, new, true)
    }

    /// Rebuilds a node from stored parts, validating them again.
    pub fn from_parts(
        id: I,
        new: NewTreeNode<I>,
        active: bool,
    ) -> Result<TreeNode<I>, ValidationError> {
        if new.parent_id == Some(id) {
            return Err(ValidationError::new(
                "parent_id",
                "a node cannot be its own parent",
            ));
        }
        Ok(TreeNode {
            id,
            code: code("code", &new.code)?,
            name: required_text("name", &new.name, NAME_MAX)?,
            parent_id: new.parent_id,
            active,
        })
    }

    /// The node with `patch` applied. A parent change must also pass
    /// [`check_move`] against the stored tree.
    pub fn patched(&self, patch: TreeNodePatch<I>) -> Result<TreeNode<I>, ValidationError> {
        TreeNode::from_parts(
            self.id,
            NewTreeNode {
                code: patch.code.unwrap_or_else(|| self.code.clone()),
                name: patch.name.unwrap_or_else(|| self.name.clone()),
                parent_id: patch.parent_id.unwrap_or(self.parent_id),
            },
            self.active,
        )
    }

    pub fn deactivated(&self) -> TreeNode<I> {
        TreeNode {
            active: false,
            ..self.clone()
        }
    }

    pub fn id(&self) -> I {
        self.id
    }
    pub fn code(&self) -> &str {
        &self.code
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn parent_id(&self) -> Option<I> {
        self.parent_id
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
}

/// Checks that putting `node` under `new_parent` keeps the tree a tree.
///
/// `new_parent_ancestors` is the chain above the new parent (its parent, its
/// grandparent, … up to a root), as stored now. The move would make a cycle
/// exactly when `node` is the new parent itself or one of those ancestors.
/// Becoming a root (`new_parent: None`) is always fine.
pub fn check_move<I: Eq>(
    node: &I,
    new_parent: Option<&I>,
    new_parent_ancestors: &[I],
) -> Result<(), ValidationError> {
    let Some(parent) = new_parent else {
        return Ok(());
    };
    if parent == node || new_parent_ancestors.contains(node) {
        return Err(ValidationError::new(
            "parent_id",
            "the new parent is the node itself or one of its descendants",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: TerritoryId, parent: Option<TerritoryId>) -> Territory {
        Territory::create(
            id,
            NewTreeNode {
                code: "EU".into(),
                name: " Europe ".into(),
                parent_id: parent,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_node_is_created_active_with_trimmed_name() {
        let n = node(TerritoryId::new(), None);
        assert_eq!(n.name(), "Europe");
        assert!(n.is_active());
        assert!(!n.deactivated().is_active());
    }

    #[test]
    fn a_node_cannot_be_its_own_parent() {
        let id = TerritoryId::new();
        let e = Territory::create(
            id,
            NewTreeNode {
                code: "X".into(),
                name: "x".into(),
                parent_id: Some(id),
            },
        )
        .unwrap_err();
        assert_eq!(e.field, "parent_id");
    }

    #[test]
    fn bad_codes_name_the_field() {
        let n = node(TerritoryId::new(), None);
        let e = n
            .patched(TreeNodePatch {
                code: Some("no spaces".into()),
                ..TreeNodePatch::default()
            })
            .unwrap_err();
        assert_eq!(e.field, "code");
    }

    #[test]
    fn patch_can_make_a_node_a_root() {
        let n = node(TerritoryId::new(), Some(TerritoryId::new()));
        let root = n
            .patched(TreeNodePatch {
                parent_id: Some(None),
                ..TreeNodePatch::default()
            })
            .unwrap();
        assert_eq!(root.parent_id(), None);
        assert_eq!(root.code(), "EU");
    }

    #[test]
    fn moving_under_a_descendant_is_a_cycle() {
        // world > europe > germany
        let (world, europe, germany) = (1, 2, 3);
        // Move europe under germany: germany's ancestors are [europe, world].
        assert!(check_move(&europe, Some(&germany), &[europe, world]).is_err());
        // Move europe under itself.
        assert!(check_move(&europe, Some(&europe), &[world]).is_err());
        // Move germany under world: fine.
        assert!(check_move(&germany, Some(&world), &[]).is_ok());
        // Make europe a root: fine.
        assert!(check_move(&europe, None, &[]).is_ok());
    }

    proptest::proptest! {
        /// In a chain 0 > 1 > … > n-1, a node may move under another exactly
        /// when that other node is not the node itself or below it.
        #[test]
        fn a_move_is_refused_exactly_when_it_would_make_a_cycle(
            n in 1usize..30,
            node in 0usize..30,
            target in 0usize..30,
        ) {
            let (node, target) = (node % n, target % n);
            // Ancestors of `target`, nearest first.
            let ancestors: Vec<usize> = (0..target).rev().collect();
            let refused = check_move(&node, Some(&target), &ancestors).is_err();
            proptest::prop_assert_eq!(refused, target >= node);
        }
    }
}
