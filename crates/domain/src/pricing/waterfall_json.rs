//! A priced basket's JSON, written straight to bytes: exactly what
//! `serde_json::to_vec` makes of the derived `Serialize` (the wire
//! contract), in a fraction of its time.
//!
//! A 50-line basket is ~130 KB of JSON, mostly field names, ids, amounts
//! and currency codes. Through serde every one of those strings — the
//! field names included — is scanned for characters to escape, and every
//! amount is an object of two string fields built through the serializer;
//! here field names are byte literals, ids, decimals, dates and currency
//! codes (which need no escaping) are written as they are, and only free
//! text (names, codes) goes through [`string`], which escapes exactly as
//! `serde_json` does. The parts that are small and rare (line kinds,
//! adjustment kinds, flags, coupons, the unit enums) go through
//! `serde_json` itself, so their names live in one place.
//!
//! Tests compare the bytes with `serde_json::to_vec` on a basket holding
//! every variant and on generated baskets (`engine_tests`): a field added
//! to the waterfall's types without adding it here fails them.

use std::fmt::{self, Write as _};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::waterfall::{
    Adjustment, DocumentTotals, LineTax, Margin, PricedBasket, PricedLine, TaxBreakdown,
};
use crate::money::Money;

impl PricedBasket {
    /// The basket's JSON, byte for byte `serde_json::to_string(self)`.
    pub fn to_json_string(&self) -> Result<String, fmt::Error> {
        // ~2.4 KB a line in practice: one allocation for most baskets.
        let mut out = Out {
            text: String::with_capacity(1024 + 2560 * self.lines.len()),
            scratch: Vec::new(),
        };
        out.basket(self)?;
        Ok(out.text)
    }

    /// [`PricedBasket::to_json_string`] as bytes (`serde_json::to_vec`).
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, fmt::Error> {
        self.to_json_string().map(String::into_bytes)
    }
}

struct Out {
    text: String,
    /// Where the parts written through serde land first.
    scratch: Vec<u8>,
}

impl fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

/// A field name with what precedes it (`,"name":`), as a literal.
macro_rules! key {
    ($out:expr, $name:literal) => {
        $out.raw(concat!($name, "\":"))
    };
}

impl Out {
    fn raw(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn push(&mut self, c: char) {
        self.text.push(c);
    }

    /// Any value through `serde_json` (for the small, rare parts).
    fn serde<T: Serialize + ?Sized>(&mut self, value: &T) -> fmt::Result {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, value).map_err(|_| fmt::Error)?;
        self.text
            .push_str(std::str::from_utf8(&self.scratch).map_err(|_| fmt::Error)?);
        Ok(())
    }

    /// A JSON string, escaped as `serde_json` escapes: `"` and `\`, the
    /// short escapes `\b \f \n \r \t`, other control characters as
    /// `\u00xx` (lower-case hex); everything else as it is.
    fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.push('"');
        let mut start = 0;
        // Every byte escaped is ASCII, so `start..i` are char boundaries.
        for (i, &b) in s.as_bytes().iter().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                0x08 => "\\b",
                0x0C => "\\f",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x00..=0x1F => {
                    self.text.push_str(&s[start..i]);
                    self.raw("\\u00");
                    self.push(char::from(HEX[usize::from(b >> 4)]));
                    self.push(char::from(HEX[usize::from(b & 0xF)]));
                    start = i + 1;
                    continue;
                }
                _ => continue,
            };
            self.text.push_str(&s[start..i]);
            self.raw(escape);
            start = i + 1;
        }
        self.text.push_str(&s[start..]);
        self.push('"');
    }

    /// A uuid as serde writes the ids: hyphenated, lower case.
    fn id(&mut self, uuid: Uuid) {
        let mut buf = [0u8; 36];
        self.push('"');
        self.raw(uuid.hyphenated().encode_lower(&mut buf));
        self.push('"');
    }

    /// A decimal as a string: its `Display`, as rust_decimal serialises
    /// it — the mantissa's digits with the point `scale` digits from the
    /// right (`0.05`, `-12.50`, `0.00`, `7`). Mantissas that fit a `u64`
    /// (every amount) are written here; longer ones through `Display`.
    fn decimal(&mut self, d: &Decimal) -> fmt::Result {
        self.push('"');
        match u64::try_from(d.mantissa().unsigned_abs()) {
            Ok(mut v) => {
                let scale = d.scale() as usize;
                // The digits, least significant first, padded with zeros
                // to at least `scale` (≤ 28; a u64 has ≤ 20 digits).
                let mut digits = [b'0'; 48];
                let mut len = 0;
                while v > 0 {
                    digits[len] = b'0' + (v % 10) as u8;
                    v /= 10;
                    len += 1;
                }
                len = len.max(scale);
                if d.is_sign_negative() {
                    self.push('-');
                }
                if len == 0 {
                    self.push('0');
                }
                let whole = len - scale;
                for i in 0..len {
                    if i == whole {
                        if i == 0 {
                            self.push('0');
                        }
                        self.push('.');
                    }
                    self.push(char::from(digits[len - 1 - i]));
                }
            }
            Err(_) => write!(self, "{d}")?,
        }
        self.push('"');
        Ok(())
    }

    fn opt_decimal(&mut self, d: Option<&Decimal>) -> fmt::Result {
        match d {
            Some(d) => self.decimal(d),
            None => {
                self.raw("null");
                Ok(())
            }
        }
    }

    fn date(&mut self, d: NaiveDate) -> fmt::Result {
        self.push('"');
        write!(self, "{d}")?;
        self.push('"');
        Ok(())
    }

    fn money(&mut self, m: &Money) -> fmt::Result {
        self.raw("{\"amount\":");
        self.decimal(&m.amount())?;
        self.raw(",\"currency\":");
        self.string(m.currency().code());
        self.push('}');
        Ok(())
    }

    fn opt_money(&mut self, m: Option<&Money>) -> fmt::Result {
        match m {
            Some(m) => self.money(m),
            None => {
                self.raw("null");
                Ok(())
            }
        }
    }

    fn list<T>(
        &mut self,
        items: &[T],
        mut each: impl FnMut(&mut Out, &T) -> fmt::Result,
    ) -> fmt::Result {
        self.push('[');
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                self.push(',');
            }
            each(self, item)?;
        }
        self.push(']');
        Ok(())
    }

    fn basket(&mut self, b: &PricedBasket) -> fmt::Result {
        key!(self, "{\"currency");
        self.string(b.currency.code());
        key!(self, ",\"date");
        self.date(b.date)?;
        key!(self, ",\"rounding_mode");
        self.serde(&b.rounding_mode)?;
        key!(self, ",\"tax_mode");
        self.serde(&b.tax_mode)?;
        key!(self, ",\"tax_rounding");
        self.serde(&b.tax_rounding)?;
        key!(self, ",\"tax_template");
        self.serde(&b.tax_template)?;
        key!(self, ",\"tax_exemption");
        match &b.tax_exemption {
            Some(text) => self.string(text),
            None => self.raw("null"),
        }
        key!(self, ",\"lines");
        self.list(&b.lines, Out::line)?;
        key!(self, ",\"tax_breakdown");
        self.list(&b.tax_breakdown, Out::breakdown)?;
        key!(self, ",\"totals");
        self.totals(&b.totals)?;
        key!(self, ",\"coupons");
        self.serde(&b.coupons)?;
        key!(self, ",\"requires_approval");
        self.raw(if b.requires_approval { "true" } else { "false" });
        self.push('}');
        Ok(())
    }

    fn line(&mut self, l: &PricedLine) -> fmt::Result {
        key!(self, "{\"line_no");
        write!(self, "{}", l.line_no)?;
        key!(self, ",\"kind");
        self.serde(&l.kind)?;
        key!(self, ",\"product");
        self.id(l.product.as_uuid());
        key!(self, ",\"uom");
        self.string(l.uom.as_str());
        key!(self, ",\"quantity");
        self.decimal(&l.quantity)?;
        key!(self, ",\"price_source\":{\"price_list");
        self.id(l.price_source.price_list.as_uuid());
        key!(self, ",\"price_list_name");
        self.string(&l.price_source.price_list_name);
        key!(self, ",\"derived_via");
        self.list(&l.price_source.derived_via, |out, id| {
            out.id(id.as_uuid());
            Ok(())
        })?;
        key!(self, "},\"list_price");
        self.money(&l.list_price)?;
        key!(self, ",\"adjustments");
        self.list(&l.adjustments, Out::adjustment)?;
        key!(self, ",\"net_unit_price");
        self.money(&l.net_unit_price)?;
        key!(self, ",\"gross_unit_price");
        self.opt_money(l.gross_unit_price.as_ref())?;
        key!(self, ",\"list_total");
        self.money(&l.list_total)?;
        key!(self, ",\"discount_total");
        self.money(&l.discount_total)?;
        key!(self, ",\"net_total");
        self.money(&l.net_total)?;
        key!(self, ",\"taxes");
        self.list(&l.taxes, Out::line_tax)?;
        key!(self, ",\"tax_total");
        self.money(&l.tax_total)?;
        key!(self, ",\"gross_total");
        self.money(&l.gross_total)?;
        key!(self, ",\"cost_total");
        self.money(&l.cost_total)?;
        key!(self, ",\"margin");
        self.margin(&l.margin)?;
        key!(self, ",\"flags");
        self.serde(&l.flags)?;
        self.push('}');
        Ok(())
    }

    fn adjustment(&mut self, a: &Adjustment) -> fmt::Result {
        key!(self, "{\"rule");
        self.id(a.rule.as_uuid());
        key!(self, ",\"rule_name");
        self.string(&a.rule_name);
        key!(self, ",\"kind");
        self.serde(&a.kind)?;
        key!(self, ",\"amount_per_unit");
        self.money(&a.amount_per_unit)?;
        key!(self, ",\"unit_price_after");
        self.money(&a.unit_price_after)?;
        self.push('}');
        Ok(())
    }

    fn line_tax(&mut self, t: &LineTax) -> fmt::Result {
        key!(self, "{\"code");
        self.string(&t.code);
        key!(self, ",\"rate_percent");
        self.decimal(&t.rate_percent)?;
        key!(self, ",\"amount");
        self.money(&t.amount)?;
        self.push('}');
        Ok(())
    }

    fn margin(&mut self, m: &Margin) -> fmt::Result {
        key!(self, "{\"amount");
        self.money(&m.amount)?;
        key!(self, ",\"percent");
        self.opt_decimal(m.percent.as_ref())?;
        self.push('}');
        Ok(())
    }

    fn breakdown(&mut self, t: &TaxBreakdown) -> fmt::Result {
        key!(self, "{\"code");
        self.string(&t.code);
        key!(self, ",\"name");
        self.string(&t.name);
        key!(self, ",\"rate_percent");
        self.decimal(&t.rate_percent)?;
        key!(self, ",\"base");
        self.money(&t.base)?;
        key!(self, ",\"amount");
        self.money(&t.amount)?;
        self.push('}');
        Ok(())
    }

    fn totals(&mut self, t: &DocumentTotals) -> fmt::Result {
        key!(self, "{\"list_total");
        self.money(&t.list_total)?;
        key!(self, ",\"discount_total");
        self.money(&t.discount_total)?;
        key!(self, ",\"net_total");
        self.money(&t.net_total)?;
        key!(self, ",\"tax_total");
        self.money(&t.tax_total)?;
        key!(self, ",\"gross_total");
        self.money(&t.gross_total)?;
        key!(self, ",\"cost_total");
        self.money(&t.cost_total)?;
        key!(self, ",\"margin");
        self.margin(&t.margin)?;
        self.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::NaiveDate;
    use rust_decimal_macros::dec;

    use super::super::waterfall::*;
    use super::super::{
        CouponCode, DiscountScheduleId, PriceGuardId, PricingRuleId, TaxMode, TaxRounding,
        TaxTemplateId, TierBasis, TierKind, Uom,
    };
    use crate::ids::{PriceListId, ProductId};
    use crate::money::{Currency, Money, RoundingMode};

    fn eur(a: rust_decimal::Decimal) -> Money {
        Money::new(a, Currency::EUR).unwrap()
    }

    /// Free text that needs every kind of escape, and some that needs none.
    const AWKWARD: &str = "Q\"uote\\ back/slash \u{8}\u{c}\n\r\t \u{1}\u{1f}\u{7f} é € 😀";

    fn line(kind: LineKind, adjustments: Vec<Adjustment>, flags: Vec<LineFlag>) -> PricedLine {
        PricedLine {
            line_no: 4_000_000_000,
            kind,
            product: ProductId::new(),
            uom: Uom::new("box of 12").unwrap(),
            quantity: dec!(-0.000001),
            price_source: PriceSource {
                price_list: PriceListId::new(),
                price_list_name: AWKWARD.into(),
                derived_via: vec![PriceListId::new(), PriceListId::new()],
            },
            list_price: eur(dec!(10.00)),
            adjustments,
            net_unit_price: eur(dec!(0)),
            gross_unit_price: Some(eur(dec!(-12.345))),
            list_total: Money::new(dec!(999999999999999), Currency::JPY).unwrap(),
            discount_total: eur(dec!(-0.01)),
            net_total: eur(dec!(1e-10)),
            taxes: vec![LineTax {
                code: AWKWARD.into(),
                rate_percent: dec!(7.7),
                amount: eur(dec!(0.77)),
            }],
            tax_total: eur(dec!(0.77)),
            gross_total: eur(dec!(10.77)),
            cost_total: eur(dec!(5)),
            margin: Margin {
                amount: eur(dec!(5)),
                percent: None,
            },
            flags,
        }
    }

    fn adjustment(kind: AdjustmentKind) -> Adjustment {
        Adjustment {
            rule: PricingRuleId::new(),
            rule_name: AWKWARD.into(),
            kind,
            amount_per_unit: eur(dec!(-1.5)),
            unit_price_after: eur(dec!(8.5)),
        }
    }

    /// Every variant, `Some` and `None`, and strings needing escapes.
    fn every_variant() -> PricedBasket {
        let guard = PriceGuardId::new();
        let adjustments = vec![
            adjustment(AdjustmentKind::DiscountPercent {
                percent: dec!(12.5),
            }),
            adjustment(AdjustmentKind::DiscountAmount),
            adjustment(AdjustmentKind::FixedRate),
            adjustment(AdjustmentKind::MarkupOnCost { percent: dec!(30) }),
            adjustment(AdjustmentKind::Schedule {
                schedule: DiscountScheduleId::new(),
                tier_kind: TierKind::Slab,
                basis: TierBasis::Amount,
                measure: dec!(1234.5678),
                percent: dec!(3.3333),
            }),
            adjustment(AdjustmentKind::FreeItem),
        ];
        let flags = vec![
            LineFlag::ClampedAtZero {
                rule: PricingRuleId::new(),
            },
            LineFlag::BelowFloorPrice {
                guard,
                floor_price: dec!(9.99),
                net_unit_price: dec!(8.5),
            },
            LineFlag::BelowMinimumMargin {
                guard,
                min_margin_percent: dec!(15),
                margin_percent: Some(dec!(-3.25)),
            },
            LineFlag::BelowMinimumMargin {
                guard,
                min_margin_percent: dec!(15),
                margin_percent: None,
            },
            LineFlag::CostUnknown,
        ];
        let mut free = line(
            LineKind::FreeItem {
                rule: PricingRuleId::new(),
                rule_name: AWKWARD.into(),
                for_line: 1,
            },
            vec![],
            vec![],
        );
        free.gross_unit_price = None;
        free.margin.percent = Some(dec!(44.44));
        free.price_source.derived_via.clear();
        free.taxes.clear();
        PricedBasket {
            currency: Currency::EUR,
            date: NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
            rounding_mode: RoundingMode::HalfEven,
            tax_mode: TaxMode::Inclusive,
            tax_rounding: TaxRounding::PerDocument,
            tax_template: Some(TaxTemplateRef {
                id: TaxTemplateId::new(),
                name: AWKWARD.into(),
            }),
            tax_exemption: Some(AWKWARD.into()),
            lines: vec![line(LineKind::Requested, adjustments, flags), free],
            tax_breakdown: vec![TaxBreakdown {
                code: "VAT".into(),
                name: AWKWARD.into(),
                rate_percent: dec!(20),
                base: eur(dec!(27)),
                amount: eur(dec!(5.4)),
            }],
            totals: DocumentTotals {
                list_total: eur(dec!(30)),
                discount_total: eur(dec!(3)),
                net_total: eur(dec!(27)),
                tax_total: eur(dec!(5.4)),
                gross_total: eur(dec!(32.4)),
                cost_total: eur(dec!(15)),
                margin: Margin {
                    amount: eur(dec!(12)),
                    percent: Some(dec!(44.44)),
                },
            },
            coupons: vec![
                CouponOutcome {
                    code: CouponCode::new("spring-26").unwrap(),
                    status: CouponStatus::Applied {
                        rules: vec![PricingRuleId::new(), PricingRuleId::new()],
                    },
                },
                CouponOutcome {
                    code: CouponCode::new("X").unwrap(),
                    status: CouponStatus::NotApplicable,
                },
            ],
            requires_approval: true,
        }
    }

    #[test]
    fn every_variant_writes_the_bytes_serde_writes() {
        let basket = every_variant();
        let fast = basket.to_json_bytes().unwrap();
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            serde_json::to_string(&basket).unwrap()
        );
        let mut plain = basket;
        plain.tax_template = None;
        plain.tax_exemption = None;
        plain.coupons.clear();
        plain.tax_breakdown.clear();
        plain.requires_approval = false;
        plain.lines.clear();
        assert_eq!(
            plain.to_json_bytes().unwrap(),
            serde_json::to_vec(&plain).unwrap()
        );
    }

    proptest::proptest! {
        /// Decimals of every sign, scale and size, zeros included, write
        /// as serde writes them.
        #[test]
        fn decimals_write_as_serde_writes_them(
            lo in proptest::prelude::any::<u32>(),
            mid in proptest::prelude::any::<u32>(),
            hi in proptest::prelude::prop_oneof![
                proptest::prelude::Just(0u32),
                proptest::prelude::any::<u32>()
            ],
            size in 0u32..4,
            negative in proptest::prelude::any::<bool>(),
            scale in 0u32..=28,
        ) {
            let (lo, mid, hi) = match size {
                0 => (0, 0, 0),
                1 => (lo % 1000, 0, 0),
                2 => (lo, mid, 0),
                _ => (lo, mid, hi),
            };
            let d = rust_decimal::Decimal::from_parts(lo, mid, hi, negative, scale);
            let mut out = super::Out { text: String::new(), scratch: Vec::new() };
            out.decimal(&d).unwrap();
            proptest::prop_assert_eq!(out.text, serde_json::to_string(&d).unwrap());
        }
    }

    #[test]
    fn every_control_character_is_escaped_as_serde_escapes_it() {
        let mut basket = every_variant();
        let text: String = (0u8..=0x7f).map(char::from).collect::<String>() + AWKWARD;
        basket.lines[0].adjustments[0].rule_name = text.clone();
        basket.tax_exemption = Some(text);
        assert_eq!(
            basket.to_json_bytes().unwrap(),
            serde_json::to_vec(&basket).unwrap()
        );
    }
}
