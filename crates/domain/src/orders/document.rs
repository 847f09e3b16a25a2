//! The sales order document and its lines.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::credit::CreditOutcome;
use super::pricing::{LinePricing, OrderTotals};
use super::status::{OrderStatus, TransitionError};
use crate::availability::{to_milli, MAX_QUANTITY};
use crate::catalog::{
    optional_text, string_enum, PaymentTerms, Product, ProductKind, ValidationError,
};
use crate::ids::{
    ApprovalRequestId, ChannelId, CustomerId, LineId, OrderId, PrincipalId, ProductId, QuotationId,
    ReservationId,
};
use crate::money::{Currency, Money};

/// Most lines one order may carry.
pub const MAX_LINES: usize = 500;

/// Why an order or a change to it was refused. Fields are JSON paths of
/// the order (`lines[2].quantity`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{field}: product {product} does not exist")]
    UnknownProduct { field: String, product: ProductId },
    #[error("{field}: product {product} is inactive and cannot be ordered")]
    InactiveProduct { field: String, product: ProductId },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A shipment would take a line past what was ordered, or an amendment
    /// would order less than has shipped.
    #[error("{field}: {shipped} would have shipped of {ordered} ordered")]
    OverShipped {
        field: String,
        ordered: Decimal,
        shipped: Decimal,
    },
    /// The channel sells only from quotations and this order has none.
    #[error("channel {channel} requires a quotation: create the order by converting one")]
    QuotationRequired { channel: String },
}

string_enum! {
    /// What a line delivers: goods (stocked or made) or a service (time).
    LineKind {
        Goods => "goods",
        Service => "service",
    }
}

impl From<ProductKind> for LineKind {
    fn from(k: ProductKind) -> LineKind {
        match k {
            ProductKind::Service => LineKind::Service,
            ProductKind::Stocked | ProductKind::Manufactured => LineKind::Goods,
        }
    }
}

/// A line as a caller asks for it (from the API or a quotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderLine {
    /// Given by the caller (the edge mints one for a new line; an edit
    /// keeps the ids of lines it keeps).
    pub id: LineId,
    pub product_id: ProductId,
    pub quantity: Decimal,
    /// The product's own unit when none.
    pub uom: Option<String>,
    pub requested_date: Option<NaiveDate>,
    /// A rate kept from a quotation: the net unit price the line is sold
    /// at whatever pricing says today.
    pub kept_rate: Option<Money>,
    /// The quotation line this order line comes from.
    pub quotation_line_id: Option<LineId>,
}

/// One line of an order. The fields after `quotation_line_id` are the
/// order flow's bookkeeping (pricing, promise, reservation, shipments).
/// Invariants (checked by [`Order::from_parts`]): `0 < quantity ≤`
/// [`MAX_QUANTITY`] with at most three decimals; `0 ≤ shipped_quantity ≤
/// quantity`; `reserved_quantity ≥ 0`; a kept rate is in the order's
/// currency and not negative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: LineId,
    pub product_id: ProductId,
    pub product_kind: ProductKind,
    pub quantity: Decimal,
    pub uom: String,
    pub requested_date: Option<NaiveDate>,
    pub kept_rate: Option<Money>,
    pub quotation_line_id: Option<LineId>,
    pub pricing: Option<LinePricing>,
    pub promised_date: Option<NaiveDate>,
    /// `stock`, `work_order`, `project_slot` or `mixed`.
    pub promise_source: Option<String>,
    pub reserved_quantity: Decimal,
    pub reservation_id: Option<ReservationId>,
    pub shipped_quantity: Decimal,
}

impl OrderLine {
    /// Goods or service, from the product.
    pub fn kind(&self) -> LineKind {
        self.product_kind.into()
    }

    /// What is still to ship.
    pub fn open_quantity(&self) -> Decimal {
        (self.quantity - self.shipped_quantity).max(Decimal::ZERO)
    }

    /// Validates `input` against its product; `field` is the line's path
    /// (`lines[2]`).
    pub fn new(
        field: &str,
        input: &NewOrderLine,
        product: Option<&Product>,
        currency: Currency,
    ) -> Result<OrderLine, OrderError> {
        let product = product.ok_or_else(|| OrderError::UnknownProduct {
            field: format!("{field}.product_id"),
            product: input.product_id,
        })?;
        if !product.is_active() {
            return Err(OrderError::InactiveProduct {
                field: format!("{field}.product_id"),
                product: input.product_id,
            });
        }
        let quantity = quantity(&format!("{field}.quantity"), input.quantity)?;
        let uom = match input.uom.as_deref().map(str::trim) {
            None => product.uom().to_owned(),
            Some(u) if u == product.uom() => u.to_owned(),
            Some(u) => {
                return Err(ValidationError::new(
                    format!("{field}.uom"),
                    format!(
                        "{u:?} is not the product's unit {:?}; order in the product's unit",
                        product.uom()
                    ),
                )
                .into())
            }
        };
        if let Some(rate) = &input.kept_rate {
            kept_rate(&format!("{field}.kept_rate"), rate, currency)?;
        }
        Ok(OrderLine {
            id: input.id,
            product_id: input.product_id,
            product_kind: product.kind(),
            quantity,
            uom,
            requested_date: input.requested_date,
            kept_rate: input.kept_rate,
            quotation_line_id: input.quotation_line_id,
            pricing: None,
            promised_date: None,
            promise_source: None,
            reserved_quantity: Decimal::ZERO,
            reservation_id: None,
            shipped_quantity: Decimal::ZERO,
        })
    }
}

/// Checks an ordered quantity: above zero, at most [`MAX_QUANTITY`], at
/// most three decimals (availability's thousandths).
pub fn quantity(field: &str, q: Decimal) -> Result<Decimal, ValidationError> {
    if q.is_sign_negative() && !q.is_zero() {
        return Err(ValidationError::new(field, "must be greater than zero"));
    }
    if q.is_zero() {
        return Err(ValidationError::new(field, "must be greater than zero"));
    }
    if q > MAX_QUANTITY {
        return Err(ValidationError::new(
            field,
            format!("is above the maximum of {MAX_QUANTITY}"),
        ));
    }
    if to_milli(q).is_none() {
        return Err(ValidationError::new(field, "at most three decimals"));
    }
    Ok(q.normalize())
}

fn kept_rate(field: &str, rate: &Money, currency: Currency) -> Result<(), ValidationError> {
    if rate.currency() != currency {
        return Err(ValidationError::new(
            field,
            format!(
                "is in {}, the order is in {}",
                rate.currency().code(),
                currency.code()
            ),
        ));
    }
    if rate.is_negative() {
        return Err(ValidationError::new(field, "must not be negative"));
    }
    Ok(())
}

/// What creating a draft order takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub customer_id: CustomerId,
    pub channel_id: ChannelId,
    pub currency: Currency,
    /// The order's own terms; when none, the customer's, else the channel's
    /// apply at submission ([`super::OrderPolicy`]).
    pub payment_terms: Option<PaymentTerms>,
    pub requested_date: Option<NaiveDate>,
    /// The customer's purchase order number or other reference.
    pub customer_reference: Option<String>,
    /// The quotation the order was converted from.
    pub quotation_id: Option<QuotationId>,
    pub lines: Vec<NewOrderLine>,
}

/// A draft edit (or an amendment's new content): `None` leaves a field
/// alone, `Some(None)` clears an optional one; `lines` replaces every line
/// (lines keep their ids to be recognised).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderPatch {
    pub payment_terms: Option<Option<PaymentTerms>>,
    pub requested_date: Option<Option<NaiveDate>>,
    pub customer_reference: Option<Option<String>>,
    pub lines: Option<Vec<NewOrderLine>>,
}

/// Every part of an order, for the store to rebuild it and for callers
/// that change the bookkeeping (see [`Order::from_parts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderParts {
    pub id: OrderId,
    pub number: String,
    pub customer_id: CustomerId,
    pub channel_id: ChannelId,
    pub currency: Currency,
    pub payment_terms: Option<PaymentTerms>,
    pub requested_date: Option<NaiveDate>,
    pub customer_reference: Option<String>,
    pub quotation_id: Option<QuotationId>,
    pub status: OrderStatus,
    /// The status an `on_hold` order resumes to.
    pub held_from: Option<OrderStatus>,
    pub lines: Vec<OrderLine>,
    pub totals: Option<OrderTotals>,
    pub credit: Option<CreditOutcome>,
    pub approval_request_id: Option<ApprovalRequestId>,
    pub submitted_by: Option<PrincipalId>,
    /// Why it was cancelled or closed, or the last hold.
    pub status_reason: Option<String>,
    /// What the customer has paid (a web order arrives paid); the rest of
    /// the total is unpaid exposure once the order is confirmed.
    pub paid_amount: Decimal,
}

/// A sales order. Invariants: 1 to [`MAX_LINES`] lines (a draft may have
/// none) with distinct ids, each valid as [`OrderLine`] says; `held_from`
/// is set exactly when the status is `on_hold`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "OrderParts")]
pub struct Order(OrderParts);

impl From<Order> for OrderParts {
    fn from(o: Order) -> OrderParts {
        o.0
    }
}

fn lines_from(
    inputs: &[NewOrderLine],
    products: &BTreeMap<ProductId, Product>,
    currency: Currency,
) -> Result<Vec<OrderLine>, OrderError> {
    if inputs.len() > MAX_LINES {
        return Err(ValidationError::new("lines", format!("at most {MAX_LINES} lines")).into());
    }
    let mut ids = BTreeSet::new();
    inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let field = format!("lines[{i}]");
            if !ids.insert(input.id) {
                return Err(ValidationError::new(
                    format!("{field}.id"),
                    "the same line id is given twice",
                )
                .into());
            }
            OrderLine::new(&field, input, products.get(&input.product_id), currency)
        })
        .collect()
}

impl Order {
    /// A new draft. `products` holds at least the lines' products.
    pub fn draft(
        id: OrderId,
        number: String,
        new: NewOrder,
        products: &BTreeMap<ProductId, Product>,
    ) -> Result<Order, OrderError> {
        let lines = lines_from(&new.lines, products, new.currency)?;
        Order::from_parts(OrderParts {
            id,
            number,
            customer_id: new.customer_id,
            channel_id: new.channel_id,
            currency: new.currency,
            payment_terms: new.payment_terms,
            requested_date: new.requested_date,
            customer_reference: optional_text(
                "customer_reference",
                new.customer_reference.as_deref(),
                200,
            )?,
            quotation_id: new.quotation_id,
            status: OrderStatus::Draft,
            held_from: None,
            lines,
            totals: None,
            credit: None,
            approval_request_id: None,
            submitted_by: None,
            status_reason: None,
            paid_amount: Decimal::ZERO,
        })
    }

    /// Rebuilds an order, checking its invariants again.
    pub fn from_parts(parts: OrderParts) -> Result<Order, OrderError> {
        if parts.lines.len() > MAX_LINES {
            return Err(ValidationError::new("lines", format!("at most {MAX_LINES} lines")).into());
        }
        if parts.lines.is_empty() && parts.status != OrderStatus::Draft {
            return Err(ValidationError::new("lines", "an order needs at least one line").into());
        }
        if (parts.status == OrderStatus::OnHold) != parts.held_from.is_some() {
            return Err(
                ValidationError::new("held_from", "set exactly when the order is on hold").into(),
            );
        }
        let mut ids = BTreeSet::new();
        for (i, l) in parts.lines.iter().enumerate() {
            // The field's name is written only for an error: an order is
            // rebuilt from its parts several times per submission (issue 7).
            let field = |name: &str| format!("lines[{i}].{name}");
            if !ids.insert(l.id) {
                return Err(
                    ValidationError::new(field("id"), "the same line id is given twice").into(),
                );
            }
            if quantity("", l.quantity).is_err() {
                quantity(&field("quantity"), l.quantity)?;
            }
            if let Some(rate) = &l.kept_rate {
                if kept_rate("", rate, parts.currency).is_err() {
                    kept_rate(&field("kept_rate"), rate, parts.currency)?;
                }
            }
            if l.shipped_quantity.is_sign_negative() && !l.shipped_quantity.is_zero()
                || l.shipped_quantity > l.quantity
            {
                return Err(OrderError::OverShipped {
                    field: field("quantity"),
                    ordered: l.quantity,
                    shipped: l.shipped_quantity,
                });
            }
            if l.reserved_quantity.is_sign_negative() && !l.reserved_quantity.is_zero() {
                return Err(ValidationError::new(
                    field("reserved_quantity"),
                    "must not be negative",
                )
                .into());
            }
        }
        Ok(Order(parts))
    }

    pub fn parts(&self) -> &OrderParts {
        &self.0
    }

    pub fn into_parts(self) -> OrderParts {
        self.0
    }

    pub fn id(&self) -> OrderId {
        self.0.id
    }
    pub fn number(&self) -> &str {
        &self.0.number
    }
    pub fn customer_id(&self) -> CustomerId {
        self.0.customer_id
    }
    pub fn channel_id(&self) -> ChannelId {
        self.0.channel_id
    }
    pub fn currency(&self) -> Currency {
        self.0.currency
    }
    pub fn payment_terms(&self) -> Option<&PaymentTerms> {
        self.0.payment_terms.as_ref()
    }
    pub fn requested_date(&self) -> Option<NaiveDate> {
        self.0.requested_date
    }
    pub fn quotation_id(&self) -> Option<QuotationId> {
        self.0.quotation_id
    }
    pub fn status(&self) -> OrderStatus {
        self.0.status
    }
    pub fn held_from(&self) -> Option<OrderStatus> {
        self.0.held_from
    }
    pub fn lines(&self) -> &[OrderLine] {
        &self.0.lines
    }
    pub fn totals(&self) -> Option<&OrderTotals> {
        self.0.totals.as_ref()
    }
    pub fn approval_request_id(&self) -> Option<ApprovalRequestId> {
        self.0.approval_request_id
    }

    /// The order's grand total, zero before it is priced.
    pub fn grand_total(&self) -> Money {
        self.0
            .totals
            .as_ref()
            .map_or_else(|| Money::zero(self.0.currency), |t| t.grand_total)
    }

    /// Whether every line has shipped in full.
    pub fn everything_shipped(&self) -> bool {
        self.0
            .lines
            .iter()
            .all(|l| l.shipped_quantity >= l.quantity)
    }

    /// The order with `patch` applied to its content. Lines that keep
    /// their id keep their shipments (and may not order less than has
    /// shipped; a line with shipments may not be removed); pricing and
    /// promises are cleared, to be worked out again.
    pub fn patched(
        &self,
        patch: OrderPatch,
        products: &BTreeMap<ProductId, Product>,
    ) -> Result<Order, OrderError> {
        let mut parts = self.0.clone();
        if let Some(t) = patch.payment_terms {
            parts.payment_terms = t;
        }
        if let Some(d) = patch.requested_date {
            parts.requested_date = d;
        }
        if let Some(r) = patch.customer_reference {
            parts.customer_reference = optional_text("customer_reference", r.as_deref(), 200)?;
        }
        if let Some(inputs) = patch.lines {
            let mut lines = lines_from(&inputs, products, parts.currency)?;
            let old: BTreeMap<LineId, &OrderLine> =
                self.0.lines.iter().map(|l| (l.id, l)).collect();
            for (i, line) in lines.iter_mut().enumerate() {
                if let Some(before) = old.get(&line.id) {
                    if before.product_id != line.product_id && !before.shipped_quantity.is_zero() {
                        return Err(ValidationError::new(
                            format!("lines[{i}].product_id"),
                            "a line with shipments keeps its product",
                        )
                        .into());
                    }
                    if line.quantity < before.shipped_quantity {
                        return Err(OrderError::OverShipped {
                            field: format!("lines[{i}].quantity"),
                            ordered: line.quantity,
                            shipped: before.shipped_quantity,
                        });
                    }
                    line.shipped_quantity = before.shipped_quantity;
                    line.reserved_quantity = before.reserved_quantity;
                    line.reservation_id = before.reservation_id;
                }
            }
            let kept: BTreeSet<LineId> = lines.iter().map(|l| l.id).collect();
            if let Some(gone) = self
                .0
                .lines
                .iter()
                .find(|l| !kept.contains(&l.id) && !l.shipped_quantity.is_zero())
            {
                return Err(ValidationError::new(
                    "lines",
                    format!("line {} has shipments and cannot be removed", gone.id),
                )
                .into());
            }
            parts.lines = lines;
        }
        parts.totals = None;
        for l in &mut parts.lines {
            l.pricing = None;
        }
        Order::from_parts(parts)
    }

    /// The same order in `status` (checked by the caller through the
    /// [`OrderStatus`] transition that produced it).
    pub fn with_status(&self, status: OrderStatus, reason: Option<String>) -> Order {
        let mut parts = self.0.clone();
        parts.held_from = if status == OrderStatus::OnHold {
            Some(self.0.status)
        } else {
            None
        };
        parts.status = status;
        if reason.is_some() {
            parts.status_reason = reason;
        }
        Order(parts)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::{ExternalIds, NewProduct};
    use rust_decimal_macros::dec;

    pub(crate) fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    pub(crate) fn product(kind: ProductKind) -> Product {
        Product::create(
            ProductId::new(),
            NewProduct {
                sku: format!("SKU-{}", ProductId::new().as_uuid().simple()),
                name: "Widget".into(),
                description: None,
                item_group_id: None,
                uom: "pcs".into(),
                kind,
                standard_cost: Money::parse("4.00", "EUR").unwrap(),
                lead_time_days: 5,
                external_ids: ExternalIds::default(),
            },
        )
        .unwrap()
    }

    pub(crate) fn line_of(p: &Product, q: Decimal) -> NewOrderLine {
        NewOrderLine {
            id: LineId::new(),
            product_id: p.id(),
            quantity: q,
            uom: None,
            requested_date: None,
            kept_rate: None,
            quotation_line_id: None,
        }
    }

    pub(crate) fn new_order(lines: Vec<NewOrderLine>) -> NewOrder {
        NewOrder {
            customer_id: CustomerId::new(),
            channel_id: ChannelId::new(),
            currency: eur(),
            payment_terms: None,
            requested_date: None,
            customer_reference: None,
            quotation_id: None,
            lines,
        }
    }

    pub(crate) fn catalog(ps: &[&Product]) -> BTreeMap<ProductId, Product> {
        ps.iter().map(|p| (p.id(), (*p).clone())).collect()
    }

    pub(crate) fn draft_of(ps: &[(&Product, Decimal)]) -> Order {
        let lines = ps.iter().map(|(p, q)| line_of(p, *q)).collect();
        let products = catalog(&ps.iter().map(|(p, _)| *p).collect::<Vec<_>>());
        Order::draft(
            OrderId::new(),
            "SO-2026-00001".into(),
            new_order(lines),
            &products,
        )
        .unwrap()
    }

    #[test]
    fn a_draft_takes_the_products_unit_and_kind() {
        let goods = product(ProductKind::Stocked);
        let service = product(ProductKind::Service);
        let o = draft_of(&[(&goods, dec!(2.5)), (&service, dec!(8))]);
        assert_eq!(o.status(), OrderStatus::Draft);
        assert_eq!(o.lines()[0].uom, "pcs");
        assert_eq!(o.lines()[0].kind(), LineKind::Goods);
        assert_eq!(o.lines()[1].kind(), LineKind::Service);
        assert_eq!(o.grand_total(), Money::zero(eur()));
    }

    #[test]
    fn zero_negative_and_too_fine_quantities_name_the_line() {
        let p = product(ProductKind::Stocked);
        for (q, msg) in [
            (dec!(0), "greater than zero"),
            (dec!(-1), "greater than zero"),
            (dec!(1.0005), "three decimals"),
            (dec!(1000000001), "maximum"),
        ] {
            let err = Order::draft(
                OrderId::new(),
                "SO-2026-00001".into(),
                new_order(vec![line_of(&p, dec!(1)), line_of(&p, q)]),
                &catalog(&[&p]),
            )
            .unwrap_err();
            match err {
                OrderError::Invalid(v) => {
                    assert_eq!(v.field, "lines[1].quantity");
                    assert!(v.message.contains(msg), "{}", v.message);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_inactive_or_unknown_product_is_refused() {
        let p = product(ProductKind::Stocked);
        let inactive = p.deactivated();
        let err = Order::draft(
            OrderId::new(),
            "SO-2026-00001".into(),
            new_order(vec![line_of(&p, dec!(1))]),
            &catalog(&[&inactive]),
        )
        .unwrap_err();
        assert!(
            matches!(err, OrderError::InactiveProduct { ref field, .. } if field == "lines[0].product_id")
        );
        let err = Order::draft(
            OrderId::new(),
            "SO-2026-00001".into(),
            new_order(vec![line_of(&p, dec!(1))]),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(matches!(err, OrderError::UnknownProduct { .. }));
    }

    #[test]
    fn another_unit_or_a_foreign_kept_rate_is_refused() {
        let p = product(ProductKind::Stocked);
        let mut l = line_of(&p, dec!(1));
        l.uom = Some("box".into());
        let err = Order::draft(
            OrderId::new(),
            "n".into(),
            new_order(vec![l]),
            &catalog(&[&p]),
        )
        .unwrap_err();
        assert!(matches!(err, OrderError::Invalid(ref v) if v.field == "lines[0].uom"));
        let mut l = line_of(&p, dec!(1));
        l.kept_rate = Some(Money::parse("3", "USD").unwrap());
        let err = Order::draft(
            OrderId::new(),
            "n".into(),
            new_order(vec![l]),
            &catalog(&[&p]),
        )
        .unwrap_err();
        assert!(matches!(err, OrderError::Invalid(ref v) if v.field == "lines[0].kept_rate"));
    }

    #[test]
    fn an_edit_keeps_shipments_and_refuses_ordering_less_than_shipped() {
        let p = product(ProductKind::Stocked);
        let o = draft_of(&[(&p, dec!(10))]);
        let mut parts = o.into_parts();
        parts.status = OrderStatus::PartiallyFulfilled;
        parts.lines[0].shipped_quantity = dec!(4);
        let o = Order::from_parts(parts).unwrap();
        let mut l = line_of(&p, dec!(3));
        l.id = o.lines()[0].id;
        let err = o
            .patched(
                OrderPatch {
                    lines: Some(vec![l.clone()]),
                    ..OrderPatch::default()
                },
                &catalog(&[&p]),
            )
            .unwrap_err();
        assert!(matches!(err, OrderError::OverShipped { .. }));
        l.quantity = dec!(6);
        let changed = o
            .patched(
                OrderPatch {
                    lines: Some(vec![l]),
                    ..OrderPatch::default()
                },
                &catalog(&[&p]),
            )
            .unwrap();
        assert_eq!(changed.lines()[0].shipped_quantity, dec!(4));
        let removed = o.patched(
            OrderPatch {
                lines: Some(vec![line_of(&p, dec!(1))]),
                ..OrderPatch::default()
            },
            &catalog(&[&p]),
        );
        assert!(removed.is_err());
    }

    #[test]
    fn holding_remembers_where_the_order_was() {
        let p = product(ProductKind::Stocked);
        let o = draft_of(&[(&p, dec!(1))]).with_status(OrderStatus::Confirmed, None);
        let held = o.with_status(OrderStatus::OnHold, Some("customer asked".into()));
        assert_eq!(held.held_from(), Some(OrderStatus::Confirmed));
        let back = held.with_status(held.status().resume(held.held_from()).unwrap(), None);
        assert_eq!(back.status(), OrderStatus::Confirmed);
        assert_eq!(back.held_from(), None);
    }
}
