//! Who may do what: roles, principals, actions, and API key material.
//!
//! A [`Principal`] is whoever holds an API key (a person or an integration)
//! with one or more [`Role`]s. [`Principal::can`] answers whether it may
//! perform an [`Action`]; the permission table is [`Role::allows`], the one
//! place to read it. Record-level visibility (a rep sees their territory) is
//! `sales_store::visibility`, from the principal's roles, `territory_id` /
//! `sales_person_id` and the sales organisation.
//!
//! API keys look like `sk_` + 32 base62 characters. Only their SHA-256
//! ([`hash_api_key`]) is stored; [`generate_api_key`] takes its random bytes
//! as input so this crate never reads a random source itself.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::ids::{PrincipalId, SalesPersonId, TerritoryId};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("unknown role {0:?} (expected admin, manager, rep, integration or viewer)")]
    UnknownRole(String),
    #[error("a principal needs at least one role")]
    NoRoles,
    #[error("a principal needs a name of 1 to 200 characters")]
    BadName,
    #[error("{principal} may not {action}")]
    Forbidden { principal: String, action: Action },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including API keys and settings.
    Admin,
    /// Reads and writes the whole catalog and the pricing data, runs imports.
    Manager,
    /// A sales rep: reads the catalog, writes customers.
    Rep,
    /// A machine (CRM, shop, inventory system): reads, writes customers and
    /// products, runs imports.
    Integration,
    /// Reads only.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Manager,
        Role::Rep,
        Role::Integration,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Rep => "rep",
            Role::Integration => "integration",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Result<Role, AuthError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| AuthError::UnknownRole(s.to_owned()))
    }

    /// The permission table.
    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => true,
            Role::Manager => matches!(
                action,
                ReadCatalog
                    | WriteCustomers
                    | WriteProducts
                    | WriteCatalogStructure
                    | WritePricing
                    | WriteStock
                    | Reserve
                    | Import
                    | RequestApproval
                    | DecideApprovals
                    | WriteQuotations
                    | WriteOrders
                    | ManageOrders
                    | FulfilOrders
                    | WriteTeams
            ),
            Role::Rep => matches!(
                action,
                ReadCatalog
                    | WriteCustomers
                    | RequestApproval
                    | DecideApprovals
                    | WriteQuotations
                    | WriteOrders
            ),
            Role::Integration => {
                matches!(
                    action,
                    ReadCatalog
                        | WriteCustomers
                        | WriteProducts
                        | WriteStock
                        | Reserve
                        | Import
                        | RequestApproval
                        | RunPeriodicWork
                        | WriteQuotations
                        | WriteOrders
                        | ManageOrders
                        | FulfilOrders
                        | ReadOutbox
                )
            }
            Role::Viewer => matches!(action, ReadCatalog),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a principal may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read customers, products, groups, territories, channels, settings.
    ReadCatalog,
    /// Create, update, deactivate customers.
    WriteCustomers,
    /// Create, update, deactivate products.
    WriteProducts,
    /// Customer groups, item groups, territories and channels.
    WriteCatalogStructure,
    /// The sales settings.
    WriteSettings,
    /// Price lists, pricing rules, discount schedules, tax templates and
    /// price guards. (Pricing a basket only needs `ReadCatalog`.)
    WritePricing,
    /// Warehouses, stock adjustments and imports, scheduled receipts.
    /// (Checking availability only needs `ReadCatalog`.)
    WriteStock,
    /// Reserve stock for a document, release or consume a reservation.
    Reserve,
    /// Bulk imports of customers and products.
    Import,
    /// Create, list and revoke API keys.
    ManageApiKeys,
    /// Create, update and deactivate approval policies. Admins only: the
    /// people whom policies bind do not write them.
    WriteApprovalPolicies,
    /// Ask for approval of a document snapshot (the order flow, a rep
    /// submitting a quotation, an integration).
    RequestApproval,
    /// Approve or reject, and delegate one's own approvals. Whether the
    /// principal is an approver of the step is the approvals engine's
    /// decision; this only keeps viewers and machines out.
    DecideApprovals,
    /// Run the periodic work a `tick` triggers (approval escalation): the
    /// jobs component or a CronJob, with an integration key.
    RunPeriodicWork,
    /// Create, edit, send, accept (on the customer's behalf), lose, revise,
    /// convert and cancel quotations (admin, manager, rep, integration — a
    /// CRM may quote). Reading them needs `ReadCatalog`.
    WriteQuotations,
    /// Create and edit sales orders, submit and amend them (admin,
    /// manager, rep, integration — a shop or a CRM sends orders). Reading
    /// them needs `ReadCatalog`.
    WriteOrders,
    /// Hold, resume, cancel and close sales orders (admin, manager,
    /// integration): stopping an order is a manager's call, as in ERPNext
    /// where a Sales User creates orders and a Sales Manager stops them.
    ManageOrders,
    /// Record shipments against orders (admin, manager, integration — an
    /// outside inventory system reports what left the warehouse).
    FulfilOrders,
    /// Inspect the outbox — events, attempts, errors (admin, integration:
    /// operations and monitoring).
    ReadOutbox,
    /// Put a parked outbox event back in the queue (admin only: retrying
    /// an effect is an operator's decision).
    RetryOutbox,
    /// Sales people and their hierarchy, teams, sales partners, territory
    /// managers and rules, targets (admin, manager). Reading them needs
    /// `ReadCatalog`; commissions are read by whom they pay (and their
    /// managers).
    WriteTeams,
    /// Commission plans, ledger adjustments and recalculation (admin only:
    /// the people plans pay do not write them, as with approval policies).
    ManageCommissions,
    /// Webhook subscriptions, automations and redelivering webhooks (admin
    /// only: they send the company's data out and act on documents).
    /// Reading the inbound and delivery logs needs `ReadOutbox`.
    ManageIntegrations,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Action::ReadCatalog => "read the catalog",
            Action::WriteCustomers => "write customers",
            Action::WriteProducts => "write products",
            Action::WriteCatalogStructure => "write groups, territories and channels",
            Action::WriteSettings => "change settings",
            Action::WritePricing => "write price lists, rules, schedules, taxes and guards",
            Action::WriteStock => "write warehouses, stock and receipts",
            Action::Reserve => "reserve stock",
            Action::Import => "run imports",
            Action::ManageApiKeys => "manage API keys",
            Action::WriteApprovalPolicies => "write approval policies",
            Action::RequestApproval => "request approvals",
            Action::DecideApprovals => "decide approvals and delegate them",
            Action::RunPeriodicWork => "run periodic work",
            Action::WriteQuotations => "write quotations",
            Action::WriteOrders => "write and submit orders",
            Action::ManageOrders => "hold, resume, cancel and close orders",
            Action::FulfilOrders => "record shipments",
            Action::ReadOutbox => "inspect the outbox",
            Action::RetryOutbox => "retry parked outbox events",
            Action::WriteTeams => "write sales people, teams, territories and targets",
            Action::ManageCommissions => "manage commission plans and the commission ledger",
            Action::ManageIntegrations => "manage webhook subscriptions and automations",
        };
        f.write_str(s)
    }
}

/// Whoever holds an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    id: PrincipalId,
    name: String,
    roles: BTreeSet<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sales_person_id: Option<SalesPersonId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    territory_id: Option<TerritoryId>,
}

impl Principal {
    /// A principal with a trimmed name of 1 to 200 characters and at least one role.
    pub fn new(
        id: PrincipalId,
        name: &str,
        roles: impl IntoIterator<Item = Role>,
    ) -> Result<Principal, AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AuthError::BadName);
        }
        let roles: BTreeSet<Role> = roles.into_iter().collect();
        if roles.is_empty() {
            return Err(AuthError::NoRoles);
        }
        Ok(Principal {
            id,
            name: name.to_owned(),
            roles,
            sales_person_id: None,
            territory_id: None,
        })
    }

    /// The sales person this principal acts as (for record visibility).
    pub fn with_sales_person(mut self, id: Option<SalesPersonId>) -> Principal {
        self.sales_person_id = id;
        self
    }

    /// The territory this principal is scoped to (for record visibility).
    pub fn with_territory(mut self, id: Option<TerritoryId>) -> Principal {
        self.territory_id = id;
        self
    }

    pub fn id(&self) -> PrincipalId {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn roles(&self) -> &BTreeSet<Role> {
        &self.roles
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn sales_person_id(&self) -> Option<SalesPersonId> {
        self.sales_person_id
    }

    pub fn territory_id(&self) -> Option<TerritoryId> {
        self.territory_id
    }

    /// Whether any of the principal's roles allows `action`.
    pub fn can(&self, action: Action) -> bool {
        self.roles.iter().any(|r| r.allows(action))
    }

    /// [`Principal::can`] as a `Result`, for `?` at the edge.
    pub fn require(&self, action: Action) -> Result<(), AuthError> {
        if self.can(action) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                principal: self.name.clone(),
                action,
            })
        }
    }
}

/// The prefix of every API key.
pub const API_KEY_PREFIX: &str = "sk_";
/// Random characters after the prefix.
pub const API_KEY_RANDOM_LEN: usize = 32;
/// How many leading characters of a key are stored and shown to recognise it.
pub const API_KEY_DISPLAY_LEN: usize = 10;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new API key, `sk_` + 32 base62 characters, from 32 random bytes the
/// caller draws from a secure source. Each byte picks one character
/// (`byte % 62`): the slight bias toward the first eight characters still
/// leaves over 190 bits of entropy.
pub fn generate_api_key(random: &[u8; API_KEY_RANDOM_LEN]) -> String {
    let mut key = String::with_capacity(API_KEY_PREFIX.len() + API_KEY_RANDOM_LEN);
    key.push_str(API_KEY_PREFIX);
    for b in random {
        key.push(char::from(BASE62[usize::from(*b) % BASE62.len()]));
    }
    key
}

/// Whether `key` has the shape of a key [`generate_api_key`] makes.
pub fn is_well_formed_api_key(key: &str) -> bool {
    key.strip_prefix(API_KEY_PREFIX).is_some_and(|rest| {
        rest.len() == API_KEY_RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The stored form of a key: lower-case hex SHA-256. Keys are long random
/// strings, so a plain fast hash is enough (no password stretching needed).
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The leading characters of a key, stored beside the hash so people can
/// tell their keys apart (`sk_AbC1234`).
pub fn api_key_display_prefix(key: &str) -> String {
    key.chars().take(API_KEY_DISPLAY_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn principal(roles: &[Role]) -> Principal {
        Principal::new(PrincipalId::new(), "someone", roles.iter().copied()).unwrap()
    }

    #[test]
    fn reps_write_and_submit_orders_but_only_managers_stop_them() {
        for (role, write, manage, fulfil) in [
            (Role::Admin, true, true, true),
            (Role::Manager, true, true, true),
            (Role::Rep, true, false, false),
            (Role::Integration, true, true, true),
            (Role::Viewer, false, false, false),
        ] {
            let p = principal(&[role]);
            assert_eq!(p.can(Action::WriteOrders), write, "{role}");
            assert_eq!(p.can(Action::ManageOrders), manage, "{role}");
            assert_eq!(p.can(Action::FulfilOrders), fulfil, "{role}");
            assert!(p.can(Action::ReadCatalog), "{role}");
        }
    }

    #[test]
    fn integrations_inspect_the_outbox_and_only_admins_retry_it() {
        for (role, read, retry) in [
            (Role::Admin, true, true),
            (Role::Manager, false, false),
            (Role::Rep, false, false),
            (Role::Integration, true, false),
            (Role::Viewer, false, false),
        ] {
            let p = principal(&[role]);
            assert_eq!(p.can(Action::ReadOutbox), read, "{role}");
            assert_eq!(p.can(Action::RetryOutbox), retry, "{role}");
        }
    }

    #[test]
    fn admins_and_managers_write_teams_and_only_admins_manage_commissions() {
        for (role, teams, commissions) in [
            (Role::Admin, true, true),
            (Role::Manager, true, false),
            (Role::Rep, false, false),
            (Role::Integration, false, false),
            (Role::Viewer, false, false),
        ] {
            let p = principal(&[role]);
            assert_eq!(p.can(Action::WriteTeams), teams, "{role}");
            assert_eq!(p.can(Action::ManageCommissions), commissions, "{role}");
        }
    }

    #[test]
    fn admin_may_do_everything() {
        let p = principal(&[Role::Admin]);
        for a in [
            Action::ReadCatalog,
            Action::WriteCustomers,
            Action::WriteProducts,
            Action::WriteCatalogStructure,
            Action::WriteSettings,
            Action::WritePricing,
            Action::WriteStock,
            Action::Reserve,
            Action::Import,
            Action::ManageApiKeys,
        ] {
            assert!(p.can(a), "{a}");
        }
    }

    #[test]
    fn manager_writes_the_catalog_but_not_keys_or_settings() {
        let p = principal(&[Role::Manager]);
        assert!(p.can(Action::WriteCatalogStructure));
        assert!(p.can(Action::WriteProducts));
        assert!(p.can(Action::Import));
        assert!(p.can(Action::WritePricing));
        assert!(!p.can(Action::ManageApiKeys));
        assert!(!p.can(Action::WriteSettings));
    }

    #[test]
    fn only_admins_and_managers_write_pricing() {
        for role in Role::ALL {
            let allowed = matches!(role, Role::Admin | Role::Manager);
            assert_eq!(
                principal(&[role]).can(Action::WritePricing),
                allowed,
                "{role}"
            );
        }
    }

    #[test]
    fn admins_managers_and_integrations_write_stock_and_reserve() {
        for role in Role::ALL {
            let allowed = matches!(role, Role::Admin | Role::Manager | Role::Integration);
            let p = principal(&[role]);
            assert_eq!(p.can(Action::WriteStock), allowed, "{role}");
            assert_eq!(p.can(Action::Reserve), allowed, "{role}");
        }
    }

    #[test]
    fn rep_reads_and_writes_customers_only() {
        let p = principal(&[Role::Rep]);
        assert!(p.can(Action::ReadCatalog));
        assert!(p.can(Action::WriteCustomers));
        assert!(!p.can(Action::WriteProducts));
        assert!(!p.can(Action::Import));
    }

    #[test]
    fn integration_writes_customers_products_and_imports() {
        let p = principal(&[Role::Integration]);
        assert!(p.can(Action::WriteCustomers));
        assert!(p.can(Action::WriteProducts));
        assert!(p.can(Action::Import));
        assert!(!p.can(Action::WriteCatalogStructure));
        assert!(!p.can(Action::ManageApiKeys));
    }

    #[test]
    fn viewer_only_reads() {
        let p = principal(&[Role::Viewer]);
        assert!(p.can(Action::ReadCatalog));
        assert!(matches!(
            p.require(Action::WriteCustomers),
            Err(AuthError::Forbidden { .. })
        ));
    }

    #[test]
    fn roles_combine() {
        let p = principal(&[Role::Viewer, Role::Rep]);
        assert!(p.can(Action::WriteCustomers));
    }

    #[test]
    fn a_principal_needs_a_name_and_a_role() {
        assert_eq!(
            Principal::new(PrincipalId::new(), "x", []),
            Err(AuthError::NoRoles)
        );
        assert_eq!(
            Principal::new(PrincipalId::new(), "  ", [Role::Admin]),
            Err(AuthError::BadName)
        );
    }

    #[test]
    fn roles_parse_and_serialize_lower_case() {
        assert_eq!(Role::parse("integration"), Ok(Role::Integration));
        assert!(Role::parse("Admin").is_err());
        assert_eq!(serde_json::to_string(&Role::Rep).unwrap(), "\"rep\"");
    }

    #[test]
    fn hashing_is_sha256_hex() {
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_keys_are_well_formed_and_depend_on_the_bytes() {
        let a = generate_api_key(&[0u8; 32]);
        assert_eq!(a, format!("sk_{}", "0".repeat(32)));
        let b = generate_api_key(&[61u8; 32]);
        assert_eq!(b, format!("sk_{}", "z".repeat(32)));
        assert!(is_well_formed_api_key(&a));
        assert!(!is_well_formed_api_key("sk_short"));
        assert!(!is_well_formed_api_key(&format!("pk_{}", "0".repeat(32))));
        assert_eq!(api_key_display_prefix(&b), "sk_zzzzzzz");
    }

    proptest! {
        #[test]
        fn every_random_input_gives_a_well_formed_key(bytes in proptest::array::uniform32(any::<u8>())) {
            prop_assert!(is_well_formed_api_key(&generate_api_key(&bytes)));
        }
    }
}
