//! Sales channels: where orders come from (B2B sales, a web shop, a retail
//! store, phone sales) and how each one behaves.
//!
//! Behaviour is configuration, never a channel's name: whether a quotation
//! is required, whether orders arrive paid, whether they are fulfilled on
//! the spot, which warehouses serve them in which order — all are fields
//! here, so a new channel needs no code.

use std::collections::BTreeSet;

use serde::Serialize;

use super::settings::CreditCheck;
use super::{
    code, optional_text, required_text, string_enum, PaymentTerms, ValidationError, NAME_MAX,
};
use crate::ids::ChannelId;
use crate::money::Currency;

string_enum! {
    /// Who buys through the channel.
    ChannelKind {
        B2b => "b2b",
        B2c => "b2c",
    }
}

string_enum! {
    /// Whether the channel sells online or in person.
    ChannelMode {
        Online => "online",
        Offline => "offline",
    }
}

string_enum! {
    /// Whether the channel's prices include tax.
    TaxMode {
        /// Prices are gross: tax is contained (typical for consumers).
        Inclusive => "inclusive",
        /// Prices are net: tax is added (typical for businesses).
        Exclusive => "exclusive",
    }
}

/// Most warehouses a channel may list.
pub const WAREHOUSES_MAX: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    id: ChannelId,
    code: String,
    name: String,
    kind: ChannelKind,
    mode: ChannelMode,
    currency: Currency,
    default_price_list_id: Option<String>,
    tax_mode: TaxMode,
    warehouses: Vec<String>,
    quotation_required: bool,
    approval_policy_id: Option<String>,
    payment_terms: Option<PaymentTerms>,
    credit_check: Option<CreditCheck>,
    paid_on_order: bool,
    fulfil_on_order: bool,
    active: bool,
}

/// What creating a channel takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    pub code: String,
    pub name: String,
    pub kind: ChannelKind,
    pub mode: ChannelMode,
    pub currency: Currency,
    /// The price list used when a customer has none (a reference into pricing).
    pub default_price_list_id: Option<String>,
    pub tax_mode: TaxMode,
    /// Warehouse codes, first preferred.
    pub warehouses: Vec<String>,
    pub quotation_required: bool,
    /// The approval policy for orders of this channel (a reference into approvals).
    pub approval_policy_id: Option<String>,
    /// Default terms for customers without their own.
    pub payment_terms: Option<PaymentTerms>,
    /// Overrides the settings' credit check for this channel.
    pub credit_check: Option<CreditCheck>,
    /// Orders arrive paid (web shop checkout): no credit check applies.
    pub paid_on_order: bool,
    /// Orders are handed over on the spot (point of sale).
    pub fulfil_on_order: bool,
}

/// A partial update; see [`super::CustomerPatch`] for the conventions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelPatch {
    pub code: Option<String>,
    pub name: Option<String>,
    pub kind: Option<ChannelKind>,
    pub mode: Option<ChannelMode>,
    pub currency: Option<Currency>,
    pub default_price_list_id: Option<Option<String>>,
    pub tax_mode: Option<TaxMode>,
    pub warehouses: Option<Vec<String>>,
    pub quotation_required: Option<bool>,
    pub approval_policy_id: Option<Option<String>>,
    pub payment_terms: Option<Option<PaymentTerms>>,
    pub credit_check: Option<Option<CreditCheck>>,
    pub paid_on_order: Option<bool>,
    pub fulfil_on_order: Option<bool>,
}

impl Channel {
    pub fn create(id: ChannelId, new: NewChannel) -> Result<Channel, ValidationError> {
        Channel::from_parts(id, new, true)
    }

    /// Rebuilds a channel from stored parts, validating them again.
    pub fn from_parts(
        id: ChannelId,
        new: NewChannel,
        active: bool,
    ) -> Result<Channel, ValidationError> {
        if new.warehouses.len() > WAREHOUSES_MAX {
            return Err(ValidationError::new(
                "warehouses",
                format!("at most {WAREHOUSES_MAX} warehouses"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, w) in new.warehouses.iter().enumerate() {
            code("", w).map_err(|e| e.within(&format!("warehouses[{i}]")))?;
            if !seen.insert(w.as_str()) {
                return Err(ValidationError::new(
                    format!("warehouses[{i}]"),
                    format!("warehouse {w:?} is listed twice"),
                ));
            }
        }
        Ok(Channel {
            id,
            code: code("code", &new.code)?,
            name: required_text("name", &new.name, NAME_MAX)?,
            kind: new.kind,
            mode: new.mode,
            currency: new.currency,
            default_price_list_id: optional_text(
                "default_price_list_id",
                new.default_price_list_id.as_deref(),
                100,
            )?,
            tax_mode: new.tax_mode,
            warehouses: new.warehouses,
            quotation_required: new.quotation_required,
            approval_policy_id: optional_text(
                "approval_policy_id",
                new.approval_policy_id.as_deref(),
                100,
            )?,
            payment_terms: new.payment_terms,
            credit_check: new.credit_check,
            paid_on_order: new.paid_on_order,
            fulfil_on_order: new.fulfil_on_order,
            active,
        })
    }

    pub fn to_new(&self) -> NewChannel {
        NewChannel {
            code: self.code.clone(),
            name: self.name.clone(),
            kind: self.kind,
            mode: self.mode,
            currency: self.currency,
            default_price_list_id: self.default_price_list_id.clone(),
            tax_mode: self.tax_mode,
            warehouses: self.warehouses.clone(),
            quotation_required: self.quotation_required,
            approval_policy_id: self.approval_policy_id.clone(),
            payment_terms: self.payment_terms.clone(),
            credit_check: self.credit_check,
            paid_on_order: self.paid_on_order,
            fulfil_on_order: self.fulfil_on_order,
        }
    }

    pub fn patched(&self, patch: ChannelPatch) -> Result<Channel, ValidationError> {
        let cur = self.to_new();
        let new = NewChannel {
            code: patch.code.unwrap_or(cur.code),
            name: patch.name.unwrap_or(cur.name),
            kind: patch.kind.unwrap_or(cur.kind),
            mode: patch.mode.unwrap_or(cur.mode),
            currency: patch.currency.unwrap_or(cur.currency),
            default_price_list_id: patch
                .default_price_list_id
                .unwrap_or(cur.default_price_list_id),
            tax_mode: patch.tax_mode.unwrap_or(cur.tax_mode),
            warehouses: patch.warehouses.unwrap_or(cur.warehouses),
            quotation_required: patch.quotation_required.unwrap_or(cur.quotation_required),
            approval_policy_id: patch.approval_policy_id.unwrap_or(cur.approval_policy_id),
            payment_terms: patch.payment_terms.unwrap_or(cur.payment_terms),
            credit_check: patch.credit_check.unwrap_or(cur.credit_check),
            paid_on_order: patch.paid_on_order.unwrap_or(cur.paid_on_order),
            fulfil_on_order: patch.fulfil_on_order.unwrap_or(cur.fulfil_on_order),
        };
        Channel::from_parts(self.id, new, self.active)
    }

    pub fn deactivated(&self) -> Channel {
        Channel {
            active: false,
            ..self.clone()
        }
    }

    pub fn id(&self) -> ChannelId {
        self.id
    }
    pub fn code(&self) -> &str {
        &self.code
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn kind(&self) -> ChannelKind {
        self.kind
    }
    pub fn mode(&self) -> ChannelMode {
        self.mode
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }
    pub fn default_price_list_id(&self) -> Option<&str> {
        self.default_price_list_id.as_deref()
    }
    pub fn tax_mode(&self) -> TaxMode {
        self.tax_mode
    }
    pub fn warehouses(&self) -> &[String] {
        &self.warehouses
    }
    pub fn quotation_required(&self) -> bool {
        self.quotation_required
    }
    pub fn approval_policy_id(&self) -> Option<&str> {
        self.approval_policy_id.as_deref()
    }
    pub fn payment_terms(&self) -> Option<&PaymentTerms> {
        self.payment_terms.as_ref()
    }
    pub fn credit_check(&self) -> Option<CreditCheck> {
        self.credit_check
    }
    pub fn paid_on_order(&self) -> bool {
        self.paid_on_order
    }
    pub fn fulfil_on_order(&self) -> bool {
        self.fulfil_on_order
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn web_shop() -> NewChannel {
        NewChannel {
            code: "web".into(),
            name: "Web shop".into(),
            kind: ChannelKind::B2c,
            mode: ChannelMode::Online,
            currency: Currency::EUR,
            default_price_list_id: None,
            tax_mode: TaxMode::Inclusive,
            warehouses: vec!["CENTRAL".into(), "NORTH".into()],
            quotation_required: false,
            approval_policy_id: None,
            payment_terms: None,
            credit_check: None,
            paid_on_order: true,
            fulfil_on_order: false,
        }
    }

    #[test]
    fn a_channel_keeps_its_warehouse_order() {
        let c = Channel::create(ChannelId::new(), web_shop()).unwrap();
        assert_eq!(c.warehouses(), ["CENTRAL", "NORTH"]);
        assert!(c.paid_on_order());
    }

    #[test]
    fn a_bad_or_repeated_warehouse_names_its_position() {
        let bad = NewChannel {
            warehouses: vec!["A".into(), "b c".into()],
            ..web_shop()
        };
        assert_eq!(
            Channel::create(ChannelId::new(), bad).unwrap_err().field,
            "warehouses[1]"
        );
        let twice = NewChannel {
            warehouses: vec!["A".into(), "A".into()],
            ..web_shop()
        };
        assert_eq!(
            Channel::create(ChannelId::new(), twice).unwrap_err().field,
            "warehouses[1]"
        );
    }

    #[test]
    fn enums_use_the_api_spelling() {
        assert_eq!(ChannelKind::parse("b2b"), Some(ChannelKind::B2b));
        assert_eq!(TaxMode::Exclusive.as_str(), "exclusive");
        assert_eq!(
            serde_json::to_string(&ChannelMode::Offline).unwrap(),
            "\"offline\""
        );
    }

    #[test]
    fn a_patch_can_clear_an_override() {
        let c = Channel::create(
            ChannelId::new(),
            NewChannel {
                credit_check: Some(CreditCheck::Warn),
                ..web_shop()
            },
        )
        .unwrap();
        let p = c
            .patched(ChannelPatch {
                credit_check: Some(None),
                ..ChannelPatch::default()
            })
            .unwrap();
        assert_eq!(p.credit_check(), None);
    }
}
