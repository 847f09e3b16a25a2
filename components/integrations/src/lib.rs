//! The integrations component: the integration hub's edge.
//!
//! - `/hooks/shopify`, `/hooks/woocommerce` ([`hooks`]): public routes
//!   that authenticate by signature (HMAC-SHA256 of the raw body with the
//!   shop's secret, Spin variables `shopify_webhook_secret`,
//!   `woocommerce_webhook_secret`) instead of an API key; a shop order
//!   becomes a sales order on the configured channel
//!   (`shopify_channel`, `woocommerce_channel`, default `WEB`) through
//!   `sales_store::integrations::shop::intake`. Several shops per
//!   platform: `/api/v1/shop-connections` ([`shops`]) names each shop (by
//!   the platform's shop header) with its own secret (write-only) and
//!   channel; the Spin variables stay the platform's default shop.
//! - `/api/v1/inbound-events` ([`logs`]): the inbound call log.
//! - `/api/v1/external-references` ([`references`]): our documents by an
//!   outside system's id, and linking one by hand (to a CRM deal).
//! - `/api/v1/webhook-subscriptions` ([`subscriptions`]) and
//!   `/api/v1/webhook-deliveries` ([`logs`]: the delivery log and
//!   redelivery). The deliveries themselves are made by the jobs
//!   component from the outbox.
//! - `/api/v1/automations` ([`automations`]): rules as data, run by the
//!   jobs component.
//!
//! What it does not do: send anything (outbound HTTP is the jobs
//! component's), or price and promise (a shop's order keeps the shop's
//! prices; see ARCHITECTURE.md, Integrations).

mod automations;
mod hooks;
mod logs;
mod references;
mod shops;
mod subscriptions;
mod wire;

use sales_kit::{methods, ApiRequest, ApiResult};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

pub(crate) use sales_kit::spin::Ctx;

#[http_component]
fn handle(req: Request) -> Response {
    sales_kit::spin::serve_with_public(req, hooks::is_public, hooks::route, route)
}

fn route(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let segments = req.segments();
    let m = &req.method;
    match segments.as_slice() {
        ["api", "v1", "webhook-subscriptions"] => methods!(m, {
            Get => subscriptions::list(ctx, req),
            Post => subscriptions::create(ctx, req),
        }),
        ["api", "v1", "webhook-subscriptions", id] => methods!(m, {
            Get => subscriptions::get(ctx, id),
            Patch => subscriptions::update(ctx, req, id),
            Delete => subscriptions::delete(ctx, req, id),
        }),
        ["api", "v1", "external-references"] => methods!(m, {
            Get => references::lookup(ctx, req),
            Post => references::link(ctx, req),
            Delete => references::unlink(ctx, req),
        }),
        ["api", "v1", "shop-connections"] => methods!(m, {
            Get => shops::list(ctx, req),
            Post => shops::create(ctx, req),
        }),
        ["api", "v1", "shop-connections", id] => methods!(m, {
            Get => shops::get(ctx, id),
            Patch => shops::update(ctx, req, id),
            Delete => shops::delete(ctx, req, id),
        }),
        ["api", "v1", "webhook-deliveries"] => methods!(m, {
            Get => logs::deliveries(ctx, req),
        }),
        ["api", "v1", "webhook-deliveries", id] => methods!(m, {
            Get => logs::delivery(ctx, id),
        }),
        ["api", "v1", "webhook-deliveries", id, "redeliver"] => methods!(m, {
            Post => logs::redeliver(ctx, req, id),
        }),
        ["api", "v1", "inbound-events"] => methods!(m, {
            Get => logs::inbound(ctx, req),
        }),
        ["api", "v1", "inbound-events", id] => methods!(m, {
            Get => logs::inbound_one(ctx, id),
        }),
        ["api", "v1", "automations"] => methods!(m, {
            Get => automations::list(ctx, req),
            Post => automations::create(ctx, req),
        }),
        ["api", "v1", "automations", id] => methods!(m, {
            Get => automations::get(ctx, id),
            Patch => automations::update(ctx, req, id),
            Delete => automations::delete(ctx, req, id),
        }),
        _ => Err(sales_kit::ApiError::not_found(format!(
            "no resource at {}",
            req.path
        ))),
    }
}
