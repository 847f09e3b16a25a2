//! `/api/v1/external-references`: the outside systems' own ids on our
//! quotations and orders (see `sales_store::integrations::references`).
//! `GET ?system=&kind=&external_id=` finds our documents by an outside id
//! ("our order for Shopify order 450789469"); `POST` links a document to
//! an outside id by hand — a quotation keyed in here for a CRM deal, so
//! the CRM hears where it stands like one the deal created; `DELETE
//! ?document_kind=&document_id=&system=&kind=&external_id=` removes such
//! a link (204; 404 when the document carries no such link).

use sales_domain::auth::Action;
use sales_domain::ids::{OrderId, QuotationId};
use sales_kit::auth::require;
use sales_kit::idempotency::write;
use sales_kit::json::parse_json;
use sales_kit::query::parse_query;
use sales_kit::{ApiError, ApiRequest, ApiResponse, ApiResult};
use sales_store::integrations::references::{self as store, ExternalRef};
use sales_store::{Db, StoreError};
use serde::Deserialize;

use crate::Ctx;

/// The kinds of outside id kept.
const KINDS: &[&str] = &["order", "customer", "deal", "account"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    system: String,
    kind: String,
    external_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlinkQuery {
    document_kind: String,
    document_id: String,
    system: String,
    kind: String,
    external_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    document_kind: String,
    document_id: String,
    system: String,
    kind: String,
    id: String,
}

fn system(raw: &str) -> Result<String, ApiError> {
    let s = raw.trim();
    let ok = (1..=61).contains(&s.len())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ApiError::invalid_field(
            "system",
            "1 to 61 of a-z, 0-9, '.', '-', '_' (crm, shopify, shopify.eu …)",
        ))
    }
}

fn kind(field: &str, raw: &str) -> Result<String, ApiError> {
    let k = raw.trim();
    if KINDS.contains(&k) {
        Ok(k.to_owned())
    } else {
        Err(ApiError::invalid_field(
            field.to_owned(),
            format!("one of {}", KINDS.join(", ")),
        ))
    }
}

fn outside_id(field: &str, raw: &str) -> Result<String, ApiError> {
    let i = raw.trim();
    if i.is_empty() || i.chars().count() > 200 {
        return Err(ApiError::invalid_field(
            field.to_owned(),
            "1 to 200 characters",
        ));
    }
    Ok(i.to_owned())
}

fn view(document_kind: &str, document_id: &str, r: &ExternalRef) -> serde_json::Value {
    serde_json::json!({
        "document_kind": document_kind,
        "document_id": document_id,
        "system": r.system,
        "kind": r.kind,
        "id": r.id,
    })
}

pub fn lookup(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ReadOutbox)?;
    let q: LookupQuery = parse_query(&req.query)?;
    let r = ExternalRef::new(
        &system(&q.system)?,
        &kind("kind", &q.kind)?,
        &outside_id("external_id", &q.external_id)?,
    );
    let items: Vec<_> = store::documents(&ctx.db, &r.system, &r.kind, &r.id)?
        .iter()
        .map(|(k, id)| view(k, id, &r))
        .collect();
    ApiResponse::json(200, &serde_json::json!({ "items": items }))
}

/// The document must exist (422 naming `document_id` otherwise).
fn document_exists(db: &impl Db, kind: &str, id: &str) -> Result<(), ApiError> {
    let missing = || ApiError::invalid_field("document_id", format!("there is no {kind} {id:?}"));
    let found = match kind {
        "order" => {
            let id = OrderId::parse(id).map_err(|_| missing())?;
            sales_store::orders::get(db, id).map(|_| ())
        }
        _ => {
            let id = QuotationId::parse(id).map_err(|_| missing())?;
            sales_store::quotations::get(db, id).map(|_| ())
        }
    };
    match found {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound { .. }) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// What a link or an unlink names, checked (422 naming the field at
/// fault): the document (`order` or `quotation`, and its id) and the
/// outside id, given on `id_field`.
fn named(
    document_kind: &str,
    document_id: &str,
    system_name: &str,
    kind_name: &str,
    (id_field, id): (&str, &str),
) -> Result<(String, String, ExternalRef), ApiError> {
    let document_kind = match document_kind.trim() {
        k @ ("order" | "quotation") => k.to_owned(),
        _ => {
            return Err(ApiError::invalid_field(
                "document_kind",
                "one of order, quotation",
            ))
        }
    };
    let r = ExternalRef::new(
        &system(system_name)?,
        &kind("kind", kind_name)?,
        &outside_id(id_field, id)?,
    );
    Ok((document_kind, document_id.trim().to_owned(), r))
}

pub fn link(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let b: LinkBody = parse_json(req)?;
    let (document_kind, document_id, r) = named(
        &b.document_kind,
        &b.document_id,
        &b.system,
        &b.kind,
        ("id", &b.id),
    )?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            document_exists(db, &document_kind, &document_id)?;
            let created = store::link(db, &document_kind, &document_id, &r, ctx.now)?;
            ApiResponse::json(
                if created { 201 } else { 200 },
                &view(&document_kind, &document_id, &r),
            )
        },
    )
}

pub fn unlink(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    require(&ctx.principal, Action::ManageIntegrations)?;
    let q: UnlinkQuery = parse_query(&req.query)?;
    let (document_kind, document_id, r) = named(
        &q.document_kind,
        &q.document_id,
        &q.system,
        &q.kind,
        ("external_id", &q.external_id),
    )?;
    write(
        &ctx.db,
        &ctx.principal.id().to_string(),
        req,
        ctx.now,
        |db| {
            if store::unlink(db, &document_kind, &document_id, &r)? {
                Ok(ApiResponse::no_content())
            } else {
                Err(ApiError::not_found(format!(
                    "the {document_kind} {document_id:?} carries no {} {} {:?}",
                    r.system, r.kind, r.id
                )))
            }
        },
    )
}
