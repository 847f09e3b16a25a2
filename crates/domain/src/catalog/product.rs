//! Products: what is sold, how it is made available, and what it costs us.

use serde::Serialize;

use super::{
    optional_text, required_text, string_enum, ExternalIds, ValidationError, NAME_MAX, TEXT_MAX,
};
use crate::ids::{ItemGroupId, ProductId};
use crate::money::Money;

string_enum! {
    /// How a product becomes available to deliver.
    ProductKind {
        /// Held in stock in warehouses.
        Stocked => "stocked",
        /// Made to order (capacity and lead time decide the promise date).
        Manufactured => "manufactured",
        /// Work or time; never stocked.
        Service => "service",
    }
}

/// Longest lead time, in days (ten years).
pub const LEAD_TIME_MAX_DAYS: u16 = 3650;

/// A product. Invariants: a SKU of 1 to 64 visible characters without
/// spaces; a non-blank name and unit of measure; a standard cost that is not
/// negative; a lead time of at most [`LEAD_TIME_MAX_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    id: ProductId,
    sku: String,
    name: String,
    description: Option<String>,
    item_group_id: Option<ItemGroupId>,
    uom: String,
    kind: ProductKind,
    standard_cost: Money,
    lead_time_days: u16,
    external_ids: ExternalIds,
    active: bool,
}

/// What creating a product takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub item_group_id: Option<ItemGroupId>,
    pub uom: String,
    pub kind: ProductKind,
    pub standard_cost: Money,
    pub lead_time_days: u16,
    pub external_ids: ExternalIds,
}

/// A partial update; see [`super::CustomerPatch`] for the conventions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub item_group_id: Option<Option<ItemGroupId>>,
    pub uom: Option<String>,
    pub kind: Option<ProductKind>,
    pub standard_cost: Option<Money>,
    pub lead_time_days: Option<u16>,
    pub external_ids: Option<ExternalIds>,
}

fn sku(value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    let ok = (1..=64).contains(&v.chars().count())
        && v.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ValidationError::new(
            "sku",
            "must be 1 to 64 characters without spaces",
        ))
    }
}

impl Product {
    pub fn create(id: ProductId, new: NewProduct) -> Result<Product, ValidationError> {
        Product::from_parts(id, new, true)
    }

    /// Rebuilds a product from stored parts, validating them again.
    pub fn from_parts(
        id: ProductId,
        new: NewProduct,
        active: bool,
    ) -> Result<Product, ValidationError> {
        if new.standard_cost.is_negative() {
            return Err(ValidationError::new(
                "standard_cost.amount",
                "must not be negative",
            ));
        }
        if new.lead_time_days > LEAD_TIME_MAX_DAYS {
            return Err(ValidationError::new(
                "lead_time_days",
                format!("must be between 0 and {LEAD_TIME_MAX_DAYS}"),
            ));
        }
        Ok(Product {
            id,
            sku: sku(&new.sku)?,
            name: required_text("name", &new.name, NAME_MAX)?,
            description: optional_text("description", new.description.as_deref(), TEXT_MAX)?,
            item_group_id: new.item_group_id,
            uom: required_text("uom", &new.uom, 16)?,
            kind: new.kind,
            standard_cost: new.standard_cost,
            lead_time_days: new.lead_time_days,
            external_ids: new.external_ids,
            active,
        })
    }

    pub fn to_new(&self) -> NewProduct {
        NewProduct {
            sku: self.sku.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            item_group_id: self.item_group_id,
            uom: self.uom.clone(),
            kind: self.kind,
            standard_cost: self.standard_cost,
            lead_time_days: self.lead_time_days,
            external_ids: self.external_ids.clone(),
        }
    }

    pub fn patched(&self, patch: ProductPatch) -> Result<Product, ValidationError> {
        let cur = self.to_new();
        let new = NewProduct {
            sku: patch.sku.unwrap_or(cur.sku),
            name: patch.name.unwrap_or(cur.name),
            description: patch.description.unwrap_or(cur.description),
            item_group_id: patch.item_group_id.unwrap_or(cur.item_group_id),
            uom: patch.uom.unwrap_or(cur.uom),
            kind: patch.kind.unwrap_or(cur.kind),
            standard_cost: patch.standard_cost.unwrap_or(cur.standard_cost),
            lead_time_days: patch.lead_time_days.unwrap_or(cur.lead_time_days),
            external_ids: match patch.external_ids {
                Some(ids) => cur.external_ids.merged(&ids),
                None => cur.external_ids,
            },
        };
        Product::from_parts(self.id, new, self.active)
    }

    pub fn deactivated(&self) -> Product {
        Product {
            active: false,
            ..self.clone()
        }
    }

    pub fn id(&self) -> ProductId {
        self.id
    }
    pub fn sku(&self) -> &str {
        &self.sku
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    pub fn item_group_id(&self) -> Option<ItemGroupId> {
        self.item_group_id
    }
    pub fn uom(&self) -> &str {
        &self.uom
    }
    pub fn kind(&self) -> ProductKind {
        self.kind
    }
    pub fn standard_cost(&self) -> Money {
        self.standard_cost
    }
    pub fn lead_time_days(&self) -> u16 {
        self.lead_time_days
    }
    pub fn external_ids(&self) -> &ExternalIds {
        &self.external_ids
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use rust_decimal_macros::dec;

    fn new_product() -> NewProduct {
        NewProduct {
            sku: "BOLT-M8".into(),
            name: "Bolt M8".into(),
            description: None,
            item_group_id: None,
            uom: "pcs".into(),
            kind: ProductKind::Stocked,
            standard_cost: Money::new(dec!(0.12), Currency::EUR).unwrap(),
            lead_time_days: 3,
            external_ids: ExternalIds::default(),
        }
    }

    #[test]
    fn a_product_is_created_active() {
        let p = Product::create(ProductId::new(), new_product()).unwrap();
        assert_eq!(p.sku(), "BOLT-M8");
        assert!(p.is_active());
    }

    #[test]
    fn invalid_fields_are_named() {
        let cases = [
            (
                NewProduct {
                    sku: "BOLT M8".into(),
                    ..new_product()
                },
                "sku",
            ),
            (
                NewProduct {
                    uom: "".into(),
                    ..new_product()
                },
                "uom",
            ),
            (
                NewProduct {
                    lead_time_days: 4000,
                    ..new_product()
                },
                "lead_time_days",
            ),
            (
                NewProduct {
                    standard_cost: Money::new(dec!(-1), Currency::EUR).unwrap(),
                    ..new_product()
                },
                "standard_cost.amount",
            ),
        ];
        for (new, field) in cases {
            assert_eq!(
                Product::create(ProductId::new(), new).unwrap_err().field,
                field
            );
        }
    }

    #[test]
    fn kinds_have_lower_case_names() {
        assert_eq!(
            ProductKind::parse("manufactured"),
            Some(ProductKind::Manufactured)
        );
        assert_eq!(ProductKind::parse("Service"), None);
        assert_eq!(
            serde_json::to_string(&ProductKind::Service).unwrap(),
            "\"service\""
        );
        assert_eq!(ProductKind::expected(), "stocked, manufactured, service");
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let p = Product::create(ProductId::new(), new_product()).unwrap();
        let q = p
            .patched(ProductPatch {
                kind: Some(ProductKind::Manufactured),
                description: Some(Some("zinc plated".into())),
                ..ProductPatch::default()
            })
            .unwrap();
        assert_eq!(q.kind(), ProductKind::Manufactured);
        assert_eq!(q.description(), Some("zinc plated"));
        assert_eq!(q.sku(), p.sku());
    }
}
