//! End-to-end tests of sales-runner: real guests, real HTTP, real SQLite,
//! real Redis.

mod helpers;

mod http_trigger;
mod limits;
mod outbound;
mod redis_trigger;
mod spares;
mod startup;
mod stores;
