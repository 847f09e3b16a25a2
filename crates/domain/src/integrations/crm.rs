//! A CRM's event, signed per Standard Webhooks: `{"type", "timestamp",
//! "data"}` with `type` `deal.won` or `quote.requested` and `data` naming
//! the deal, the customer (the CRM's id, e-mail, name), the sales person
//! (e-mail) and the lines (SKU, quantity). The contract is ours (CRMs
//! send through a small mapping of their own, as with Salesforce outbound
//! messages or HubSpot workflows); it is documented in `openapi.yaml`.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::IntegrationError;

/// The event types acted on.
pub const CRM_TYPES: &[&str] = &["deal.won", "quote.requested"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmEnvelope {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    pub data: CrmDeal,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmDeal {
    pub deal_id: String,
    pub customer: CrmCustomer,
    #[serde(default)]
    pub sales_person_email: Option<String>,
    pub currency: String,
    pub lines: Vec<CrmLine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmCustomer {
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmLine {
    pub sku: String,
    pub quantity: Decimal,
}

impl CrmEnvelope {
    /// Checks what the types cannot say.
    pub fn check(&self) -> Result<(), IntegrationError> {
        if !CRM_TYPES.contains(&self.kind.as_str()) {
            return Err(IntegrationError::new(
                "type",
                format!("must be one of {}", CRM_TYPES.join(", ")),
            ));
        }
        let d = &self.data;
        if d.deal_id.trim().is_empty() || d.deal_id.len() > 200 {
            return Err(IntegrationError::new("data.deal_id", "1 to 200 characters"));
        }
        if d.customer.name.trim().is_empty() || d.customer.name.chars().count() > 200 {
            return Err(IntegrationError::new(
                "data.customer.name",
                "1 to 200 characters",
            ));
        }
        if d.lines.is_empty() || d.lines.len() > 500 {
            return Err(IntegrationError::new("data.lines", "1 to 500 lines"));
        }
        for (i, l) in d.lines.iter().enumerate() {
            if l.quantity <= Decimal::ZERO {
                return Err(IntegrationError::new(
                    format!("data.lines[{i}].quantity"),
                    "must be greater than zero",
                ));
            }
        }
        Ok(())
    }
}
