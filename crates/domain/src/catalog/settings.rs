//! The sales configuration: one record for the whole company, with
//! per-channel overrides.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::channel::Channel;
use super::{code, string_enum, ValidationError};
use crate::money::RoundingMode;
use crate::pricing::TaxRounding;

string_enum! {
    /// What happens when an order would take a customer over their credit limit.
    CreditCheck {
        /// The order is refused.
        Block => "block",
        /// The order goes through with a warning.
        Warn => "warn",
        /// No check.
        Off => "off",
    }
}

/// The longest quotation validity, in days.
pub const VALIDITY_MAX_DAYS: u16 = 3650;

fn validity(field: &str, days: u16) -> Result<u16, ValidationError> {
    if (1..=VALIDITY_MAX_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(ValidationError::new(
            field,
            format!("must be between 1 and {VALIDITY_MAX_DAYS}"),
        ))
    }
}

/// Settings that one channel overrides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ChannelDefaultsInput")]
pub struct ChannelDefaults {
    #[serde(skip_serializing_if = "Option::is_none")]
    quotation_validity_days: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credit_check: Option<CreditCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tax_rounding: Option<TaxRounding>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDefaultsInput {
    #[serde(default)]
    pub quotation_validity_days: Option<u16>,
    #[serde(default)]
    pub credit_check: Option<CreditCheck>,
    #[serde(default)]
    pub tax_rounding: Option<TaxRounding>,
}

impl ChannelDefaults {
    pub fn new(
        quotation_validity_days: Option<u16>,
        credit_check: Option<CreditCheck>,
    ) -> Result<ChannelDefaults, ValidationError> {
        if let Some(d) = quotation_validity_days {
            validity("quotation_validity_days", d)?;
        }
        Ok(ChannelDefaults {
            quotation_validity_days,
            credit_check,
            tax_rounding: None,
        })
    }

    /// The same overrides with the channel's own tax rounding (`None`: the
    /// company's).
    pub fn with_tax_rounding(self, tax_rounding: Option<TaxRounding>) -> ChannelDefaults {
        ChannelDefaults {
            tax_rounding,
            ..self
        }
    }

    pub fn quotation_validity_days(&self) -> Option<u16> {
        self.quotation_validity_days
    }

    pub fn credit_check(&self) -> Option<CreditCheck> {
        self.credit_check
    }

    pub fn tax_rounding(&self) -> Option<TaxRounding> {
        self.tax_rounding
    }
}

impl TryFrom<ChannelDefaultsInput> for ChannelDefaults {
    type Error = ValidationError;
    fn try_from(i: ChannelDefaultsInput) -> Result<ChannelDefaults, ValidationError> {
        Ok(
            ChannelDefaults::new(i.quotation_validity_days, i.credit_check)?
                .with_tax_rounding(i.tax_rounding),
        )
    }
}

/// The sales settings. [`Settings::default`] is what a new installation
/// starts with (the store's schema defaults match it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    default_channel: Option<String>,
    quotation_validity_days: u16,
    rounding: RoundingMode,
    tax_rounding: TaxRounding,
    credit_check: CreditCheck,
    allow_order_from_expired_quotation: bool,
    keep_quoted_rate: bool,
    channel_defaults: BTreeMap<String, ChannelDefaults>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            default_channel: None,
            quotation_validity_days: 30,
            rounding: RoundingMode::HalfUp,
            tax_rounding: TaxRounding::PerLine,
            credit_check: CreditCheck::Block,
            allow_order_from_expired_quotation: false,
            keep_quoted_rate: true,
            channel_defaults: BTreeMap::new(),
        }
    }
}

/// A partial update: `None` leaves a setting alone; `default_channel:
/// Some(None)` clears it; `channel_defaults` replaces the whole map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    pub default_channel: Option<Option<String>>,
    pub quotation_validity_days: Option<u16>,
    pub rounding: Option<RoundingMode>,
    pub tax_rounding: Option<TaxRounding>,
    pub credit_check: Option<CreditCheck>,
    pub allow_order_from_expired_quotation: Option<bool>,
    pub keep_quoted_rate: Option<bool>,
    pub channel_defaults: Option<BTreeMap<String, ChannelDefaults>>,
}

impl Settings {
    /// The settings with `patch` applied. Whether `default_channel` names an
    /// existing channel is the store's check.
    pub fn patched(&self, patch: SettingsPatch) -> Result<Settings, ValidationError> {
        let default_channel = match patch.default_channel {
            Some(Some(c)) => Some(code("default_channel", &c)?),
            Some(None) => None,
            None => self.default_channel.clone(),
        };
        let quotation_validity_days = match patch.quotation_validity_days {
            Some(d) => validity("quotation_validity_days", d)?,
            None => self.quotation_validity_days,
        };
        let channel_defaults = match patch.channel_defaults {
            Some(map) => {
                for key in map.keys() {
                    code("", key).map_err(|e| e.within(&format!("channel_defaults.{key}")))?;
                }
                map
            }
            None => self.channel_defaults.clone(),
        };
        Ok(Settings {
            default_channel,
            quotation_validity_days,
            rounding: patch.rounding.unwrap_or(self.rounding),
            tax_rounding: patch.tax_rounding.unwrap_or(self.tax_rounding),
            credit_check: patch.credit_check.unwrap_or(self.credit_check),
            allow_order_from_expired_quotation: patch
                .allow_order_from_expired_quotation
                .unwrap_or(self.allow_order_from_expired_quotation),
            keep_quoted_rate: patch.keep_quoted_rate.unwrap_or(self.keep_quoted_rate),
            channel_defaults,
        })
    }

    /// The code of the channel used when a request names none.
    pub fn default_channel(&self) -> Option<&str> {
        self.default_channel.as_deref()
    }
    /// Days a quotation stays valid, company-wide.
    pub fn quotation_validity_days(&self) -> u16 {
        self.quotation_validity_days
    }
    /// How amounts are rounded to the currency's minor unit.
    pub fn rounding(&self) -> RoundingMode {
        self.rounding
    }
    /// Where tax is rounded, company-wide: each line's tax rounded and
    /// summed, or the document's tax rounded once and allocated to the
    /// lines (see `crate::pricing::tax`).
    pub fn tax_rounding(&self) -> TaxRounding {
        self.tax_rounding
    }
    /// Where tax is rounded on documents of a channel: the settings'
    /// override for its code, else the company's.
    pub fn tax_rounding_for(&self, channel_code: &str) -> TaxRounding {
        self.channel_defaults
            .get(channel_code)
            .and_then(ChannelDefaults::tax_rounding)
            .unwrap_or(self.tax_rounding)
    }
    /// The company-wide credit check.
    pub fn credit_check(&self) -> CreditCheck {
        self.credit_check
    }
    /// Whether an order may still be made from a quotation past its validity.
    pub fn allow_order_from_expired_quotation(&self) -> bool {
        self.allow_order_from_expired_quotation
    }
    /// Whether the exchange rate and prices quoted hold through to the order.
    pub fn keep_quoted_rate(&self) -> bool {
        self.keep_quoted_rate
    }
    /// Overrides by channel code.
    pub fn channel_defaults(&self) -> &BTreeMap<String, ChannelDefaults> {
        &self.channel_defaults
    }

    /// Quotation validity for a channel: its override, else the company's.
    pub fn quotation_validity_days_for(&self, channel_code: &str) -> u16 {
        self.channel_defaults
            .get(channel_code)
            .and_then(ChannelDefaults::quotation_validity_days)
            .unwrap_or(self.quotation_validity_days)
    }

    /// The credit check that applies to orders of `channel`, most specific
    /// first: `off` when orders arrive paid; else the channel record's own
    /// `credit_check`; else the settings' override for the channel's code;
    /// else the company-wide setting.
    pub fn credit_check_for(&self, channel: &Channel) -> CreditCheck {
        if channel.paid_on_order() {
            return CreditCheck::Off;
        }
        channel
            .credit_check()
            .or_else(|| {
                self.channel_defaults
                    .get(channel.code())
                    .and_then(ChannelDefaults::credit_check)
            })
            .unwrap_or(self.credit_check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::channel::tests::web_shop;
    use crate::catalog::channel::NewChannel;
    use crate::ids::ChannelId;

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::default();
        assert_eq!(s.quotation_validity_days(), 30);
        assert_eq!(s.rounding(), RoundingMode::HalfUp);
        assert_eq!(s.tax_rounding(), TaxRounding::PerLine);
        assert_eq!(s.credit_check(), CreditCheck::Block);
        assert!(!s.allow_order_from_expired_quotation());
        assert!(s.keep_quoted_rate());
    }

    #[test]
    fn validity_must_be_at_least_a_day() {
        let e = Settings::default()
            .patched(SettingsPatch {
                quotation_validity_days: Some(0),
                ..SettingsPatch::default()
            })
            .unwrap_err();
        assert_eq!(e.field, "quotation_validity_days");
        assert!(ChannelDefaults::new(Some(4000), None).is_err());
    }

    #[test]
    fn channel_overrides_win_over_company_settings() {
        let s = Settings::default()
            .patched(SettingsPatch {
                channel_defaults: Some(BTreeMap::from([(
                    "b2b".to_owned(),
                    ChannelDefaults::new(Some(60), Some(CreditCheck::Warn)).unwrap(),
                )])),
                ..SettingsPatch::default()
            })
            .unwrap();
        assert_eq!(s.quotation_validity_days_for("b2b"), 60);
        assert_eq!(s.quotation_validity_days_for("web"), 30);

        let b2b = Channel::create(
            ChannelId::new(),
            NewChannel {
                code: "b2b".into(),
                paid_on_order: false,
                ..web_shop()
            },
        )
        .unwrap();
        assert_eq!(s.credit_check_for(&b2b), CreditCheck::Warn);
        let own = b2b
            .patched(crate::catalog::ChannelPatch {
                credit_check: Some(Some(CreditCheck::Off)),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(s.credit_check_for(&own), CreditCheck::Off);
    }

    #[test]
    fn a_channel_may_round_tax_differently_from_the_company() {
        let d: ChannelDefaults = serde_json::from_str(r#"{"tax_rounding":"per_line"}"#).unwrap();
        let s = Settings::default()
            .patched(SettingsPatch {
                tax_rounding: Some(TaxRounding::PerDocument),
                channel_defaults: Some(BTreeMap::from([("WEB".to_owned(), d)])),
                ..SettingsPatch::default()
            })
            .unwrap();
        assert_eq!(s.tax_rounding_for("B2B"), TaxRounding::PerDocument);
        assert_eq!(s.tax_rounding_for("WEB"), TaxRounding::PerLine);
        assert!(
            serde_json::from_str::<ChannelDefaults>(r#"{"tax_rounding":"per_order"}"#).is_err()
        );
    }

    #[test]
    fn paid_orders_skip_the_credit_check() {
        let web = Channel::create(ChannelId::new(), web_shop()).unwrap();
        assert_eq!(Settings::default().credit_check_for(&web), CreditCheck::Off);
    }

    #[test]
    fn channel_defaults_deserialize_strictly() {
        let d: ChannelDefaults = serde_json::from_str(r#"{"quotation_validity_days":14}"#).unwrap();
        assert_eq!(d.quotation_validity_days(), Some(14));
        assert!(serde_json::from_str::<ChannelDefaults>(r#"{"validity":14}"#).is_err());
        assert!(serde_json::from_str::<ChannelDefaults>(r#"{"credit_check":"maybe"}"#).is_err());
    }

    #[test]
    fn a_bad_default_channel_code_is_named() {
        let e = Settings::default()
            .patched(SettingsPatch {
                default_channel: Some(Some("no spaces".into())),
                ..SettingsPatch::default()
            })
            .unwrap_err();
        assert_eq!(e.field, "default_channel");
    }
}
