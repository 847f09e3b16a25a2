use crate::common::db;
use sales_domain::series::DocumentSeries;
use sales_store::series::{last_document_number, next_document_number};

#[test]
fn each_series_and_year_counts_from_one() {
    let db = db();
    let qtn = DocumentSeries::new("QTN", 2026).unwrap();
    let so = DocumentSeries::new("SO", 2026).unwrap();
    let qtn27 = DocumentSeries::new("QTN", 2027).unwrap();
    assert_eq!(last_document_number(&db, &qtn).unwrap(), None);
    assert_eq!(
        next_document_number(&db, &qtn).unwrap().to_string(),
        "QTN-2026-00001"
    );
    assert_eq!(
        next_document_number(&db, &qtn).unwrap().to_string(),
        "QTN-2026-00002"
    );
    assert_eq!(
        next_document_number(&db, &so).unwrap().to_string(),
        "SO-2026-00001"
    );
    assert_eq!(
        next_document_number(&db, &qtn27).unwrap().to_string(),
        "QTN-2027-00001"
    );
    assert_eq!(last_document_number(&db, &qtn).unwrap(), Some(2));
}
