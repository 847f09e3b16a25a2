//! The catalog component: the master data every other capability reads.
//!
//! Customers, customer groups, item groups, territories (three trees with
//! the same shape), products, sales channels, the sales settings, API keys
//! and bulk imports from CRM and inventory systems, under `/api/v1/...`.
//!
//! This crate is the edge only: it routes, converts wire records to domain
//! values (`TryFrom` in each resource module), checks roles, and calls the
//! store. Rules live in `sales-domain`, SQL in `sales-store`, the shared
//! HTTP conventions in `sales-kit`.

use sales_kit::{methods, not_allowed, ApiError, ApiRequest, ApiResult, Method};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

mod api_keys;
mod channels;
mod customers;
mod imports;
mod products;
mod settings;
mod trees;
mod wire;

pub(crate) use sales_kit::spin::Ctx;

#[http_component]
fn handle(req: Request) -> Response {
    sales_kit::spin::serve(req, route)
}

fn route(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    use trees::Tree::{CustomerGroups, ItemGroups, Territories};
    let segments = req.segments();
    let m = &req.method;
    match segments.as_slice() {
        ["api", "v1", "me"] => methods!(m, {
            Get => api_keys::me(ctx),
        }),
        ["api", "v1", "api-keys"] => methods!(m, {
            Get => api_keys::list(ctx, req),
            Post => api_keys::create(ctx, req),
        }),
        ["api", "v1", "api-keys", id] => methods!(m, {
            Get => api_keys::get(ctx, id),
        }),
        ["api", "v1", "api-keys", id, "revoke"] => methods!(m, {
            Post => api_keys::revoke(ctx, req, id),
        }),

        ["api", "v1", "customers"] => methods!(m, {
            Get => customers::list(ctx, req),
            Post => customers::create(ctx, req),
        }),
        ["api", "v1", "customers", id] => methods!(m, {
            Get => customers::get(ctx, id),
            Patch => customers::update(ctx, req, id),
        }),
        ["api", "v1", "customers", id, "deactivate"] => methods!(m, {
            Post => customers::deactivate(ctx, req, id),
        }),

        ["api", "v1", "products"] => methods!(m, {
            Get => products::list(ctx, req),
            Post => products::create(ctx, req),
        }),
        ["api", "v1", "products", id] => methods!(m, {
            Get => products::get(ctx, id),
            Patch => products::update(ctx, req, id),
        }),
        ["api", "v1", "products", id, "deactivate"] => methods!(m, {
            Post => products::deactivate(ctx, req, id),
        }),

        ["api", "v1", tree @ ("customer-groups" | "item-groups" | "territories"), rest @ ..] => {
            let tree = match *tree {
                "customer-groups" => CustomerGroups,
                "item-groups" => ItemGroups,
                _ => Territories,
            };
            match (rest, m) {
                ([], Method::Get) => trees::list(ctx, req, tree),
                ([], Method::Post) => trees::create(ctx, req, tree),
                ([id], Method::Get) => trees::get(ctx, tree, id),
                ([id], Method::Patch) => trees::update(ctx, req, tree, id),
                ([id, "deactivate"], Method::Post) => trees::deactivate(ctx, req, tree, id),
                ([], _) => not_allowed(m, "GET, POST"),
                ([_], _) => not_allowed(m, "GET, PATCH"),
                ([_, "deactivate"], _) => not_allowed(m, "POST"),
                _ => Err(not_found(req)),
            }
        }

        ["api", "v1", "channels"] => methods!(m, {
            Get => channels::list(ctx, req),
            Post => channels::create(ctx, req),
        }),
        ["api", "v1", "channels", id] => methods!(m, {
            Get => channels::get(ctx, id),
            Patch => channels::update(ctx, req, id),
        }),
        ["api", "v1", "channels", id, "deactivate"] => methods!(m, {
            Post => channels::deactivate(ctx, req, id),
        }),

        ["api", "v1", "settings"] => methods!(m, {
            Get => settings::get(ctx),
            Patch => settings::update(ctx, req),
        }),

        ["api", "v1", "imports", kind] => match (m, *kind) {
            (Method::Post, "customers") => imports::customers(ctx, req),
            (Method::Post, "products") => imports::products(ctx, req),
            (_, "customers" | "products") => not_allowed(m, "POST"),
            _ => Err(not_found(req)),
        },

        _ => Err(not_found(req)),
    }
}

fn not_found(req: &ApiRequest) -> ApiError {
    ApiError::not_found(format!("no resource at {}", req.path))
}
