//! `external_references`: the outside systems' own ids on our documents
//! (migration 16) — a shop's order id and customer id on the order it
//! became, a CRM's deal id and account id on the quotation or order a deal
//! became. One row per document, system and kind; `(system, kind,
//! external_id)` is indexed, so "our order for Shopify order 450789469" is
//! one lookup. Customers keep theirs in `customers.external_ids` (matched
//! by `customers::find_by_external_id`, shown on customer reads).
//!
//! `system` names the outside system: `shopify` / `woocommerce` for the
//! default shop of a platform (the Spin-variable secret),
//! `shopify.{code}` / `woocommerce.{code}` for a connected shop, `crm`.
//! `kind`: `order`, `customer`, `deal`, `account`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Db, Value};
use crate::{time, StoreError};

/// One outside id of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalRef {
    pub system: String,
    pub kind: String,
    pub id: String,
}

impl ExternalRef {
    pub fn new(system: &str, kind: &str, id: &str) -> ExternalRef {
        ExternalRef {
            system: system.to_owned(),
            kind: kind.to_owned(),
            id: id.to_owned(),
        }
    }
}

/// Records `refs` on the document (`order` / `quotation`); a reference
/// already there is kept as it is.
pub fn record(
    db: &impl Db,
    document_kind: &str,
    document_id: &str,
    refs: &[ExternalRef],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for r in refs {
        db.execute(
            "INSERT INTO external_references
                 (document_kind, document_id, system, kind, external_id, created_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &[
                Value::from(document_kind),
                Value::from(document_id),
                Value::from(&r.system),
                Value::from(&r.kind),
                Value::from(&r.id),
                Value::Text(time::to_sql(now)),
            ],
        )?;
    }
    Ok(())
}

/// Links the document to `r` by hand: `Ok(true)` when recorded, `Ok(false)`
/// when it was there already; the document carrying another id of the
/// same system and kind is [`StoreError::Duplicate`] on `kind` (a document
/// belongs to one deal of a CRM, one order of a shop).
pub fn link(
    db: &impl Db,
    document_kind: &str,
    document_id: &str,
    r: &ExternalRef,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if let Some(have) = of(db, document_kind, document_id)?
        .into_iter()
        .find(|h| h.system == r.system && h.kind == r.kind)
    {
        if have.id == r.id {
            return Ok(false);
        }
        return Err(StoreError::Duplicate {
            entity: "external reference",
            field: "kind",
            value: format!(
                "the {document_kind} already carries {} {} {:?}",
                have.system, have.kind, have.id
            ),
        });
    }
    record(db, document_kind, document_id, std::slice::from_ref(r), now)?;
    Ok(true)
}

/// Removes the document's link to `r` (a link made by mistake, a deal the
/// CRM merged away): `Ok(false)` when the document carries no such link.
/// The CRM connector then no longer pushes the document's status to that
/// deal; a shop's intake is unaffected (it knows a repeated shop order by
/// its inbound log, not by these links).
pub fn unlink(
    db: &impl Db,
    document_kind: &str,
    document_id: &str,
    r: &ExternalRef,
) -> Result<bool, StoreError> {
    let rows = db.execute(
        "DELETE FROM external_references
         WHERE document_kind = ? AND document_id = ? AND system = ? AND kind = ?
           AND external_id = ?
         RETURNING document_id",
        &[
            Value::from(document_kind),
            Value::from(document_id),
            Value::from(&r.system),
            Value::from(&r.kind),
            Value::from(&r.id),
        ],
    )?;
    Ok(!rows.is_empty())
}

/// The document's references, by system and kind.
pub fn of(
    db: &impl Db,
    document_kind: &str,
    document_id: &str,
) -> Result<Vec<ExternalRef>, StoreError> {
    let rows = db.execute(
        "SELECT system, kind, external_id FROM external_references
         WHERE document_kind = ? AND document_id = ? ORDER BY system, kind",
        &[Value::from(document_kind), Value::from(document_id)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(ExternalRef {
                system: r.text("system")?.to_owned(),
                kind: r.text("kind")?.to_owned(),
                id: r.text("external_id")?.to_owned(),
            })
        })
        .collect()
}

/// The documents (`(kind, id)`) carrying `system`'s `kind` id `external_id`.
pub fn documents(
    db: &impl Db,
    system: &str,
    kind: &str,
    external_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = db.execute(
        "SELECT document_kind, document_id FROM external_references
         WHERE system = ? AND kind = ? AND external_id = ? ORDER BY document_kind, document_id",
        &[
            Value::from(system),
            Value::from(kind),
            Value::from(external_id),
        ],
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                r.text("document_kind")?.to_owned(),
                r.text("document_id")?.to_owned(),
            ))
        })
        .collect()
}

/// The references as the API shows them: `[{system, kind, id}]`.
pub fn view(refs: &[ExternalRef]) -> serde_json::Value {
    serde_json::to_value(refs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::migrate;
    use crate::rusqlite_db::RusqliteDb;

    #[test]
    fn references_are_kept_once_and_found_both_ways() {
        let db = RusqliteDb::open_in_memory().unwrap();
        migrate(&db).unwrap();
        let now = Utc::now();
        let refs = [
            ExternalRef::new("shopify.eu", "order", "450789469"),
            ExternalRef::new("shopify.eu", "customer", "207119551"),
        ];
        record(&db, "order", "o1", &refs, now).unwrap();
        record(&db, "order", "o1", &refs[..1], now).unwrap();
        record(
            &db,
            "order",
            "o2",
            &[ExternalRef::new("shopify.us", "order", "450789469")],
            now,
        )
        .unwrap();
        assert_eq!(of(&db, "order", "o1").unwrap().len(), 2);
        assert_eq!(
            documents(&db, "shopify.eu", "order", "450789469").unwrap(),
            vec![("order".to_owned(), "o1".to_owned())]
        );
        assert!(documents(&db, "crm", "deal", "450789469")
            .unwrap()
            .is_empty());
        // By hand: once; another deal for the same document is refused.
        let deal = ExternalRef::new("crm", "deal", "D-1");
        assert!(link(&db, "quotation", "q1", &deal, now).unwrap());
        assert!(!link(&db, "quotation", "q1", &deal, now).unwrap());
        let other = ExternalRef::new("crm", "deal", "D-2");
        assert!(matches!(
            link(&db, "quotation", "q1", &other, now),
            Err(StoreError::Duplicate { field: "kind", .. })
        ));
        assert_eq!(of(&db, "quotation", "q1").unwrap(), vec![deal]);
    }
}
