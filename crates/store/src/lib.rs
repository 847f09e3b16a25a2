//! `sales-store`: the SQL schema, migrations and queries of the sales system.
//!
//! Everything is written against the small [`db::Db`] trait so the same SQL
//! runs on rusqlite (native tests, feature `rusqlite`) and on Spin's SQLite
//! (the kit crate implements `Db` for it).

pub mod db;
