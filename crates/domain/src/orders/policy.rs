//! How a channel sells, as the order flow needs it: read from the
//! channel's configuration and the settings, never from a channel's name
//! or kind, so a new channel needs no code.

use serde::{Deserialize, Serialize};

use super::document::{Order, OrderError};
use crate::catalog::{Channel, CreditCheck, Customer, PaymentTerms, Settings};

/// The rules one order follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPolicy {
    /// Orders must come from a quotation (B2B channels that quote).
    pub quotation_required: bool,
    /// Orders arrive paid (web checkout): no credit check, no exposure.
    pub paid_on_order: bool,
    /// Orders are handed over on the spot (point of sale): confirmed and
    /// fulfilled in the submitting request, from the first warehouse.
    pub fulfil_on_order: bool,
    /// `off` when paid on order; else the channel's, else the settings'
    /// override for the channel, else the company's.
    pub credit_check: CreditCheck,
    /// The order's own terms, else the customer's, else the channel's.
    pub payment_terms: Option<PaymentTerms>,
    /// Warehouse codes the channel ships from, first preferred.
    pub warehouses: Vec<String>,
}

impl OrderPolicy {
    pub fn resolve(
        order: &Order,
        customer: &Customer,
        channel: &Channel,
        settings: &Settings,
    ) -> OrderPolicy {
        OrderPolicy {
            quotation_required: channel.quotation_required(),
            paid_on_order: channel.paid_on_order(),
            fulfil_on_order: channel.fulfil_on_order(),
            credit_check: settings.credit_check_for(channel),
            payment_terms: order
                .payment_terms()
                .or(customer.payment_terms())
                .or(channel.payment_terms())
                .cloned(),
            warehouses: channel.warehouses().to_vec(),
        }
    }

    /// Refuses an order that is not from a quotation when the channel
    /// requires one.
    pub fn check_origin(&self, order: &Order, channel_code: &str) -> Result<(), OrderError> {
        if self.quotation_required && order.quotation_id().is_none() {
            return Err(OrderError::QuotationRequired {
                channel: channel_code.to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{
        ChannelKind, ChannelMode, ExternalIds, NewChannel, NewCustomer, SettingsPatch, TaxMode,
    };
    use crate::ids::{ChannelId, CustomerId, QuotationId};
    use crate::orders::document::tests::{draft_of, eur, product};
    use rust_decimal_macros::dec;

    fn channel(f: impl FnOnce(&mut NewChannel)) -> Channel {
        let mut n = NewChannel {
            code: "ANY".into(),
            name: "Any".into(),
            kind: ChannelKind::B2b,
            mode: ChannelMode::Online,
            currency: eur(),
            default_price_list_id: None,
            tax_mode: TaxMode::Exclusive,
            warehouses: vec!["MAIN".into(), "EAST".into()],
            quotation_required: false,
            approval_policy_id: None,
            payment_terms: Some(PaymentTerms::new("Net 14", 14).unwrap()),
            credit_check: None,
            paid_on_order: false,
            fulfil_on_order: false,
        };
        f(&mut n);
        Channel::create(ChannelId::new(), n).unwrap()
    }

    fn customer(terms: Option<PaymentTerms>) -> Customer {
        Customer::create(
            CustomerId::new(),
            NewCustomer {
                name: "Acme".into(),
                payment_terms: terms,
                external_ids: ExternalIds::default(),
                ..NewCustomer::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn behaviour_comes_from_configuration_not_names() {
        let p = product(crate::catalog::ProductKind::Stocked);
        let order = draft_of(&[(&p, dec!(1))]);
        let settings = Settings::default();
        // A "web shop" channel is just one that arrives paid.
        let paid = channel(|c| {
            c.paid_on_order = true;
            c.credit_check = Some(CreditCheck::Block);
        });
        let pol = OrderPolicy::resolve(&order, &customer(None), &paid, &settings);
        assert!(pol.paid_on_order);
        assert_eq!(pol.credit_check, CreditCheck::Off);
        // Terms: the customer's before the channel's.
        let b2b = channel(|_| {});
        let own = PaymentTerms::new("Net 60", 60).unwrap();
        let pol = OrderPolicy::resolve(&order, &customer(Some(own.clone())), &b2b, &settings);
        assert_eq!(pol.payment_terms, Some(own));
        assert_eq!(pol.credit_check, CreditCheck::Block);
        let pol = OrderPolicy::resolve(&order, &customer(None), &b2b, &settings);
        assert_eq!(pol.payment_terms.unwrap().days(), 14);
        let warn = settings
            .patched(SettingsPatch {
                credit_check: Some(CreditCheck::Warn),
                ..SettingsPatch::default()
            })
            .unwrap();
        assert_eq!(
            OrderPolicy::resolve(&order, &customer(None), &b2b, &warn).credit_check,
            CreditCheck::Warn
        );
    }

    #[test]
    fn a_channel_requiring_quotations_refuses_a_direct_order() {
        let p = product(crate::catalog::ProductKind::Stocked);
        let order = draft_of(&[(&p, dec!(1))]);
        let quoting = channel(|c| c.quotation_required = true);
        let pol = OrderPolicy::resolve(&order, &customer(None), &quoting, &Settings::default());
        assert!(matches!(
            pol.check_origin(&order, "B2B"),
            Err(OrderError::QuotationRequired { .. })
        ));
        let mut parts = order.into_parts();
        parts.quotation_id = Some(QuotationId::new());
        let converted = Order::from_parts(parts).unwrap();
        assert!(pol.check_origin(&converted, "B2B").is_ok());
    }
}
