//! Valid records to store.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sales_domain::availability::{CalendarId, ProjectRoleId, Weekday, WorkCenterId};
use sales_domain::catalog::Address;
use sales_domain::catalog::{
    AddressInput, Channel, ChannelKind, ChannelMode, Customer, ExternalIds, NewChannel,
    NewCustomer, NewProduct, NewTreeNode, PaymentTerms, Product, ProductKind, TaxMode, TreeNode,
};
use sales_domain::ids::{ChannelId, CustomerId, ProductId};
use sales_domain::money::{Currency, Money};
use sales_domain::teams::{TerritoryRule, TerritoryRuleId, TerritoryRuleInput};
use sales_store::availability::capacity::{
    Calendar, ProjectRole, RoutingEntry, ServiceEntry, WorkCenter,
};

pub fn node<I: Copy + Eq>(id: I, code: &str, parent: Option<I>) -> TreeNode<I> {
    TreeNode::create(
        id,
        NewTreeNode {
            code: code.into(),
            name: format!("{code} name"),
            parent_id: parent,
        },
    )
    .unwrap()
}

pub fn new_customer(name: &str) -> NewCustomer {
    NewCustomer {
        name: name.into(),
        email: Some(format!(
            "{}@example.com",
            name.to_lowercase().replace(' ', ".")
        )),
        credit_limit: Some(Money::new(dec!(5000), Currency::EUR).unwrap()),
        payment_terms: Some(PaymentTerms::new("Net 30", 30).unwrap()),
        tax_id: Some("DE123".into()),
        billing_address: Some(
            Address::new(AddressInput {
                line1: "Main St 1".into(),
                city: "Berlin".into(),
                postcode: Some("10115".into()),
                country: "DE".into(),
                ..AddressInput::default()
            })
            .unwrap(),
        ),
        ..NewCustomer::default()
    }
}

pub fn customer(name: &str) -> Customer {
    Customer::create(CustomerId::new(), new_customer(name)).unwrap()
}

pub fn customer_with_crm(name: &str, crm: &str) -> Customer {
    Customer::create(
        CustomerId::new(),
        NewCustomer {
            external_ids: ExternalIds::default().with("crm", crm).unwrap(),
            ..new_customer(name)
        },
    )
    .unwrap()
}

pub fn new_product(sku: &str) -> NewProduct {
    NewProduct {
        sku: sku.into(),
        name: format!("Product {sku}"),
        description: None,
        item_group_id: None,
        uom: "pcs".into(),
        kind: ProductKind::Stocked,
        standard_cost: Money::new(dec!(1.25), Currency::EUR).unwrap(),
        lead_time_days: 2,
        external_ids: ExternalIds::default(),
    }
}

pub fn product(sku: &str) -> Product {
    Product::create(ProductId::new(), new_product(sku)).unwrap()
}

pub fn channel(code: &str) -> Channel {
    Channel::create(
        ChannelId::new(),
        NewChannel {
            code: code.into(),
            name: format!("{code} channel"),
            kind: ChannelKind::B2b,
            mode: ChannelMode::Offline,
            currency: Currency::EUR,
            default_price_list_id: Some("standard".into()),
            tax_mode: TaxMode::Exclusive,
            warehouses: vec!["MAIN".into(), "EAST".into()],
            quotation_required: true,
            approval_policy_id: None,
            payment_terms: Some(PaymentTerms::new("Net 14", 14).unwrap()),
            credit_check: None,
            paid_on_order: false,
            fulfil_on_order: false,
        },
    )
    .unwrap()
}

/// A calendar named `name` working on `working_days`.
pub fn calendar(name: &str, working_days: &[Weekday], holidays: &[NaiveDate]) -> Calendar {
    Calendar {
        id: CalendarId::new(),
        name: name.into(),
        working_days: working_days.to_vec(),
        holidays: holidays.to_vec(),
    }
}

/// The "Assembly" work centre on `calendar`, 8 hours a day, making each
/// `(product, hours per unit, material lead days)`.
pub fn assembly(calendar: CalendarId, routings: &[(ProductId, Decimal, u32)]) -> WorkCenter {
    WorkCenter {
        id: WorkCenterId::new(),
        name: "Assembly".into(),
        calendar_id: calendar,
        hours_per_day: dec!(8),
        planned_load: Vec::new(),
        routings: routings
            .iter()
            .map(
                |&(product_id, hours_per_unit, material_lead_days)| RoutingEntry {
                    product_id,
                    hours_per_unit,
                    material_lead_days,
                },
            )
            .collect(),
    }
}

/// The "Installer" role on `calendar`, 40 hours a week, delivering
/// `service` at one hour a unit.
pub fn installer(calendar: CalendarId, service: ProductId) -> ProjectRole {
    ProjectRole {
        id: ProjectRoleId::new(),
        name: "Installer".into(),
        calendar_id: calendar,
        hours_per_week: dec!(40),
        bookings: Vec::new(),
        services: vec![ServiceEntry {
            product_id: service,
            hours_per_unit: dec!(1),
        }],
    }
}

/// The territory rule placing German postcodes 80000–81999 (Munich) in
/// `territory`.
pub fn munich_postcodes(territory: sales_domain::ids::TerritoryId) -> TerritoryRule {
    TerritoryRule::from_parts(
        TerritoryRuleId::new(),
        TerritoryRuleInput {
            territory_id: territory,
            country: "DE".into(),
            region: None,
            postcode_from: Some("80000".into()),
            postcode_to: Some("81999".into()),
            priority: 0,
        },
        true,
    )
    .unwrap()
}
