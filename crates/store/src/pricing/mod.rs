//! The pricing capability's tables: price lists and their items, pricing
//! rules, discount schedules, tax templates and price guards;
//! [`snapshot`], the versioned, compact copy of the pricing data the
//! key-value cache holds; and [`load::basket_catalog`], which takes just
//! what one basket needs into a `PricingCatalogSpec`.
//!
//! Price lists are columns (their scope and validity are filtered in SQL)
//! and their items a separate table keyed by (list, product, unit), with a
//! second index by product so a basket's 50 products find their prices
//! among 100,000 items by index. Rules, schedules, tax templates and guards
//! are stored as the JSON of their validated domain record (the record
//! re-validates when read) beside the columns the loader filters on:
//! a rule's targets (its products, else its item groups, else "any item"
//! — the same split the engine indexes by), its coupon and schedule; a
//! guard's product or item group.
//!
//! Every record here has `active`: deactivated records stay (documents
//! refer to them) but are never loaded for pricing. The store checks what
//! SQL knows (existence, versions); rules about the whole set (one default
//! tax template, a derived list's base) are checked by the component with
//! `PricingCatalog::new` before writing.

pub mod guards;
pub mod load;
pub mod price_lists;
mod records;
pub mod rules;
pub mod schedules;
pub mod snapshot;
pub mod tax_templates;

pub use records::Stored;
