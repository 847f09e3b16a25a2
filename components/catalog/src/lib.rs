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

use sales_kit::{not_allowed, ApiError, ApiRequest, ApiResult, Method};
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
        ["api", "v1", "me"] => match m {
            Method::Get => api_keys::me(ctx),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "api-keys"] => match m {
            Method::Get => api_keys::list(ctx, req),
            Method::Post => api_keys::create(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "api-keys", id] => match m {
            Method::Get => api_keys::get(ctx, id),
            _ => not_allowed(m, "GET"),
        },
        ["api", "v1", "api-keys", id, "revoke"] => match m {
            Method::Post => api_keys::revoke(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

        ["api", "v1", "customers"] => match m {
            Method::Get => customers::list(ctx, req),
            Method::Post => customers::create(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "customers", id] => match m {
            Method::Get => customers::get(ctx, id),
            Method::Patch => customers::update(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },
        ["api", "v1", "customers", id, "deactivate"] => match m {
            Method::Post => customers::deactivate(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

        ["api", "v1", "products"] => match m {
            Method::Get => products::list(ctx, req),
            Method::Post => products::create(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "products", id] => match m {
            Method::Get => products::get(ctx, id),
            Method::Patch => products::update(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },
        ["api", "v1", "products", id, "deactivate"] => match m {
            Method::Post => products::deactivate(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

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

        ["api", "v1", "channels"] => match m {
            Method::Get => channels::list(ctx, req),
            Method::Post => channels::create(ctx, req),
            _ => not_allowed(m, "GET, POST"),
        },
        ["api", "v1", "channels", id] => match m {
            Method::Get => channels::get(ctx, id),
            Method::Patch => channels::update(ctx, req, id),
            _ => not_allowed(m, "GET, PATCH"),
        },
        ["api", "v1", "channels", id, "deactivate"] => match m {
            Method::Post => channels::deactivate(ctx, req, id),
            _ => not_allowed(m, "POST"),
        },

        ["api", "v1", "settings"] => match m {
            Method::Get => settings::get(ctx),
            Method::Patch => settings::update(ctx, req),
            _ => not_allowed(m, "GET, PATCH"),
        },

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
