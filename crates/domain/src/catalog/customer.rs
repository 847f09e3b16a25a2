//! Customers: who buys, with their group, territory, credit limit, terms,
//! tax id, addresses and ids in outside systems.

use serde::Serialize;

use super::{
    email, optional_text, required_text, Address, ExternalIds, PaymentTerms, ValidationError,
    NAME_MAX,
};
use crate::ids::{CustomerGroupId, CustomerId, TerritoryId};
use crate::money::Money;

/// A customer. Invariants: a non-blank name; a well-formed e-mail if any; a
/// credit limit, if any, that is not negative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    id: CustomerId,
    name: String,
    email: Option<String>,
    customer_group_id: Option<CustomerGroupId>,
    territory_id: Option<TerritoryId>,
    credit_limit: Option<Money>,
    payment_terms: Option<PaymentTerms>,
    tax_id: Option<String>,
    billing_address: Option<Address>,
    shipping_address: Option<Address>,
    external_ids: ExternalIds,
    active: bool,
}

/// What creating a customer takes. Referenced group and territory must
/// exist; the store checks that.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCustomer {
    pub name: String,
    pub email: Option<String>,
    pub customer_group_id: Option<CustomerGroupId>,
    pub territory_id: Option<TerritoryId>,
    pub credit_limit: Option<Money>,
    pub payment_terms: Option<PaymentTerms>,
    pub tax_id: Option<String>,
    pub billing_address: Option<Address>,
    pub shipping_address: Option<Address>,
    pub external_ids: ExternalIds,
}

/// A partial update. `None` leaves a field alone; for optional fields
/// `Some(None)` clears it. `external_ids` are merged source by source
/// (a source present replaces that source's id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub customer_group_id: Option<Option<CustomerGroupId>>,
    pub territory_id: Option<Option<TerritoryId>>,
    pub credit_limit: Option<Option<Money>>,
    pub payment_terms: Option<Option<PaymentTerms>>,
    pub tax_id: Option<Option<String>>,
    pub billing_address: Option<Option<Address>>,
    pub shipping_address: Option<Option<Address>>,
    pub external_ids: Option<ExternalIds>,
}

impl Customer {
    /// A new, active customer.
    pub fn create(id: CustomerId, new: NewCustomer) -> Result<Customer, ValidationError> {
        Customer::from_parts(id, new, true)
    }

    /// Rebuilds a customer from stored parts, validating them again.
    pub fn from_parts(
        id: CustomerId,
        new: NewCustomer,
        active: bool,
    ) -> Result<Customer, ValidationError> {
        if let Some(limit) = &new.credit_limit {
            if limit.is_negative() {
                return Err(ValidationError::new(
                    "credit_limit.amount",
                    "must not be negative",
                ));
            }
        }
        Ok(Customer {
            id,
            name: required_text("name", &new.name, NAME_MAX)?,
            email: email("email", new.email.as_deref())?,
            customer_group_id: new.customer_group_id,
            territory_id: new.territory_id,
            credit_limit: new.credit_limit,
            payment_terms: new.payment_terms,
            tax_id: optional_text("tax_id", new.tax_id.as_deref(), 50)?,
            billing_address: new.billing_address,
            shipping_address: new.shipping_address,
            external_ids: new.external_ids,
            active,
        })
    }

    /// This customer's fields as a [`NewCustomer`] (for patches and imports).
    pub fn to_new(&self) -> NewCustomer {
        NewCustomer {
            name: self.name.clone(),
            email: self.email.clone(),
            customer_group_id: self.customer_group_id,
            territory_id: self.territory_id,
            credit_limit: self.credit_limit,
            payment_terms: self.payment_terms.clone(),
            tax_id: self.tax_id.clone(),
            billing_address: self.billing_address.clone(),
            shipping_address: self.shipping_address.clone(),
            external_ids: self.external_ids.clone(),
        }
    }

    /// The customer with `patch` applied, validated as a whole.
    pub fn patched(&self, patch: CustomerPatch) -> Result<Customer, ValidationError> {
        let cur = self.to_new();
        let new = NewCustomer {
            name: patch.name.unwrap_or(cur.name),
            email: patch.email.unwrap_or(cur.email),
            customer_group_id: patch.customer_group_id.unwrap_or(cur.customer_group_id),
            territory_id: patch.territory_id.unwrap_or(cur.territory_id),
            credit_limit: patch.credit_limit.unwrap_or(cur.credit_limit),
            payment_terms: patch.payment_terms.unwrap_or(cur.payment_terms),
            tax_id: patch.tax_id.unwrap_or(cur.tax_id),
            billing_address: patch.billing_address.unwrap_or(cur.billing_address),
            shipping_address: patch.shipping_address.unwrap_or(cur.shipping_address),
            external_ids: match patch.external_ids {
                Some(ids) => cur.external_ids.merged(&ids),
                None => cur.external_ids,
            },
        };
        Customer::from_parts(self.id, new, self.active)
    }

    pub fn deactivated(&self) -> Customer {
        Customer {
            active: false,
            ..self.clone()
        }
    }

    pub fn id(&self) -> CustomerId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    pub fn customer_group_id(&self) -> Option<CustomerGroupId> {
        self.customer_group_id
    }
    pub fn territory_id(&self) -> Option<TerritoryId> {
        self.territory_id
    }
    pub fn credit_limit(&self) -> Option<Money> {
        self.credit_limit
    }
    pub fn payment_terms(&self) -> Option<&PaymentTerms> {
        self.payment_terms.as_ref()
    }
    pub fn tax_id(&self) -> Option<&str> {
        self.tax_id.as_deref()
    }
    pub fn billing_address(&self) -> Option<&Address> {
        self.billing_address.as_ref()
    }
    pub fn shipping_address(&self) -> Option<&Address> {
        self.shipping_address.as_ref()
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

    fn new_customer() -> NewCustomer {
        NewCustomer {
            name: " Acme GmbH ".into(),
            email: Some("buyer@acme.example".into()),
            credit_limit: Some(Money::new(dec!(10000), Currency::EUR).unwrap()),
            payment_terms: Some(PaymentTerms::new("Net 30", 30).unwrap()),
            external_ids: ExternalIds::default().with("crm", "A-1").unwrap(),
            ..NewCustomer::default()
        }
    }

    #[test]
    fn a_customer_is_created_active_with_trimmed_name() {
        let c = Customer::create(CustomerId::new(), new_customer()).unwrap();
        assert_eq!(c.name(), "Acme GmbH");
        assert!(c.is_active());
        assert_eq!(c.external_ids().get("crm"), Some("A-1"));
    }

    #[test]
    fn a_negative_credit_limit_names_the_amount_field() {
        let e = Customer::create(
            CustomerId::new(),
            NewCustomer {
                credit_limit: Some(Money::new(dec!(-1), Currency::EUR).unwrap()),
                ..new_customer()
            },
        )
        .unwrap_err();
        assert_eq!(e.field, "credit_limit.amount");
    }

    #[test]
    fn a_blank_name_or_bad_email_is_rejected() {
        let blank = NewCustomer {
            name: " ".into(),
            ..new_customer()
        };
        assert_eq!(
            Customer::create(CustomerId::new(), blank)
                .unwrap_err()
                .field,
            "name"
        );
        let bad_email = NewCustomer {
            email: Some("nope".into()),
            ..new_customer()
        };
        assert_eq!(
            Customer::create(CustomerId::new(), bad_email)
                .unwrap_err()
                .field,
            "email"
        );
    }

    #[test]
    fn a_patch_replaces_clears_and_merges() {
        let c = Customer::create(CustomerId::new(), new_customer()).unwrap();
        let p = c
            .patched(CustomerPatch {
                name: Some("Acme AG".into()),
                email: Some(None),
                external_ids: Some(ExternalIds::default().with("shop", "77").unwrap()),
                ..CustomerPatch::default()
            })
            .unwrap();
        assert_eq!(p.name(), "Acme AG");
        assert_eq!(p.email(), None);
        assert_eq!(p.external_ids().get("crm"), Some("A-1"));
        assert_eq!(p.external_ids().get("shop"), Some("77"));
        assert_eq!(p.credit_limit(), c.credit_limit());
        assert_eq!(p.id(), c.id());
    }

    #[test]
    fn deactivation_keeps_everything_else() {
        let c = Customer::create(CustomerId::new(), new_customer()).unwrap();
        let d = c.deactivated();
        assert!(!d.is_active());
        assert_eq!(d.name(), c.name());
    }
}
