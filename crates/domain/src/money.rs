//! Money: an exact decimal amount in one ISO 4217 currency.
//!
//! Amounts are [`rust_decimal::Decimal`], never floating point. Arithmetic
//! between two amounts is checked: different currencies are a typed
//! [`MoneyError::CurrencyMismatch`], and a result outside
//! ±[`Money::MAX_AMOUNT`] is [`MoneyError::OutOfRange`]; nothing here panics.
//!
//! Arithmetic keeps full precision (a unit price may carry more decimals than
//! the currency's minor unit). Rounding to the minor unit happens only through
//! the one rounding function, [`round`], with an explicit [`RoundingMode`].

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("unknown currency code {0:?} (expected an ISO 4217 code such as \"EUR\")")]
    UnknownCurrency(String),
    #[error("currency {0} has no minor unit and cannot be used for money")]
    NotTender(String),
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount is outside the supported range of ±{}", Money::MAX_AMOUNT)]
    OutOfRange,
    #[error("invalid amount {0:?}: expected a decimal string such as \"1234.50\"")]
    InvalidAmount(String),
}

/// An ISO 4217 currency that has a minor unit (EUR, USD, JPY, KWD …).
///
/// Codes without a minor unit in ISO 4217 (precious metals such as XAU, the
/// testing code XTS, "no currency" XXX) are rejected: they cannot be rounded.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    pub const GBP: Currency = Currency(iso_currency::Currency::GBP);
    pub const CHF: Currency = Currency(iso_currency::Currency::CHF);
    pub const JPY: Currency = Currency(iso_currency::Currency::JPY);
    pub const KWD: Currency = Currency(iso_currency::Currency::KWD);

    /// Parses an upper-case three-letter ISO 4217 code.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        let iso = iso_currency::Currency::from_code(code)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))?;
        if iso.exponent().is_none() {
            return Err(MoneyError::NotTender(code.to_owned()));
        }
        Ok(Currency(iso))
    }

    /// The three-letter code, e.g. `"EUR"`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// The English name, e.g. `"Euro"`.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Number of decimal places of the minor unit: 2 for EUR, 0 for JPY, 3 for KWD.
    pub fn minor_units(self) -> u32 {
        // `from_code` only admits currencies that have an exponent.
        self.0.exponent().map_or(0, u32::from)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

/// How [`round`] resolves an amount between two minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Nearest minor unit; a tie goes away from zero (2.345 → 2.35, -2.345 → -2.35).
    /// The commercial default.
    #[default]
    HalfUp,
    /// Nearest minor unit; a tie goes to the even neighbour (2.345 → 2.34, 2.355 → 2.36).
    HalfEven,
    /// Toward zero (truncation): 2.349 → 2.34, -2.349 → -2.34.
    Down,
    /// Away from zero: 2.341 → 2.35, -2.341 → -2.35.
    Up,
}

impl RoundingMode {
    pub const ALL: [RoundingMode; 4] = [
        RoundingMode::HalfUp,
        RoundingMode::HalfEven,
        RoundingMode::Down,
        RoundingMode::Up,
    ];

    /// The wire and storage spelling: `half_up`, `half_even`, `down`, `up`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoundingMode::HalfUp => "half_up",
            RoundingMode::HalfEven => "half_even",
            RoundingMode::Down => "down",
            RoundingMode::Up => "up",
        }
    }

    /// The mode spelled `s` (see [`RoundingMode::as_str`]).
    pub fn parse(s: &str) -> Option<RoundingMode> {
        RoundingMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    fn strategy(self) -> RoundingStrategy {
        match self {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
            RoundingMode::Down => RoundingStrategy::ToZero,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
        }
    }
}

/// The one rounding function of the system: rounds `amount` to the minor unit
/// of `currency` (2 decimals for EUR, 0 for JPY, 3 for KWD) with `mode`.
///
/// The result always carries exactly the currency's number of decimals
/// (`10` EUR becomes `10.00`), so it prints as a price is expected to print.
/// Rounding a rounded amount changes nothing.
pub fn round(amount: Decimal, currency: Currency, mode: RoundingMode) -> Decimal {
    let dp = currency.minor_units();
    let mut rounded = amount.round_dp_with_strategy(dp, mode.strategy());
    if rounded.scale() < dp {
        rounded.rescale(dp);
    }
    rounded
}

/// An exact amount of one currency.
///
/// Invariants: `|amount| <= Money::MAX_AMOUNT`, and the amount carries at
/// least the currency's minor-unit decimals (so `10 EUR` is stored and printed
/// as `10.00`). It may carry more (unit prices such as `0.0125 EUR`); use
/// [`Money::round`] to get a payable amount.
///
/// Equality is numeric within a currency (`10.0 EUR == 10.00 EUR`); ordering
/// across currencies is undefined, so there is no `PartialOrd`: use
/// [`Money::try_cmp`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// The largest magnitude an amount may have: 10^15 - 1. Far above any
    /// real document total, and far enough below `Decimal::MAX` that
    /// intermediate products (price × quantity × rate) keep full precision.
    pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA4C6_7FFF, 0x0003_8D7E, 0, false, 0);

    pub fn new(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        if amount.abs() > Self::MAX_AMOUNT {
            return Err(MoneyError::OutOfRange);
        }
        let mut amount = amount;
        let dp = currency.minor_units();
        if amount.scale() < dp {
            amount.rescale(dp);
        }
        Ok(Money { amount, currency })
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.minor_units());
        Money { amount, currency }
    }

    /// Builds money from an integer count of minor units (cents for EUR).
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        Money::new(Decimal::new(minor, currency.minor_units()), currency)
    }

    /// Parses a decimal string (`"1234.50"`, `"-3"`) and a currency code.
    /// Exponent notation, thousands separators and surrounding spaces are rejected.
    pub fn parse(amount: &str, currency: &str) -> Result<Money, MoneyError> {
        let currency = Currency::from_code(currency)?;
        Money::new(parse_amount(amount)?, currency)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    pub fn is_positive(&self) -> bool {
        self.amount.is_sign_positive() && !self.amount.is_zero()
    }

    /// The same amount with the opposite sign (always in range).
    pub fn negated(&self) -> Money {
        Money {
            amount: -self.amount,
            currency: self.currency,
        }
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::OutOfRange)?;
        Money::new(sum, self.currency)
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let diff = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::OutOfRange)?;
        Money::new(diff, self.currency)
    }

    /// Compares two amounts of the same currency.
    pub fn try_cmp(&self, other: &Money) -> Result<Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.amount.cmp(&other.amount))
    }

    /// Multiplies by a quantity, rate or percentage factor, at full precision
    /// (not rounded: call [`Money::round`] on the result when a payable
    /// amount is needed).
    pub fn checked_mul(&self, factor: Decimal) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::OutOfRange)?;
        Money::new(product, self.currency)
    }

    /// Multiplies by an integer quantity.
    pub fn times(&self, quantity: i64) -> Result<Money, MoneyError> {
        self.checked_mul(Decimal::from(quantity))
    }

    /// Rounds to the currency's minor unit with [`round`].
    pub fn round(&self, mode: RoundingMode) -> Money {
        Money {
            amount: round(self.amount, self.currency, mode),
            currency: self.currency,
        }
    }

    /// Sums amounts that must all be in `currency`; an empty list is zero.
    pub fn sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }
}

/// Parses a plain decimal string: optional sign, digits, optional fraction.
pub fn parse_amount(s: &str) -> Result<Decimal, MoneyError> {
    let invalid = || MoneyError::InvalidAmount(s.to_owned());
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(invalid());
    }
    let amount = Decimal::from_str_exact(s).map_err(|_| invalid())?;
    if amount.abs() > Money::MAX_AMOUNT {
        return Err(MoneyError::OutOfRange);
    }
    Ok(amount)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({} {})", self.amount, self.currency)
    }
}

/// Wire form: `{"amount":"1234.50","currency":"EUR"}`, the amount a string.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyWire {
    amount: String,
    currency: String,
}

impl Serialize for Money {
    /// [`MoneyWire`]'s form, written without allocating either string (a
    /// priced basket holds about a thousand amounts).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut wire = s.serialize_struct("MoneyWire", 2)?;
        wire.serialize_field("amount", &DisplayStr(&self.amount))?;
        wire.serialize_field("currency", self.currency.code())?;
        wire.end()
    }
}

/// A value serialised as the string of its `Display` (`collect_str`).
struct DisplayStr<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for DisplayStr<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = MoneyWire::deserialize(d)?;
        Money::parse(&wire.amount, &wire.currency).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn eur(a: Decimal) -> Money {
        Money::new(a, Currency::EUR).unwrap()
    }

    #[test]
    fn max_amount_is_ten_to_the_fifteen_minus_one() {
        assert_eq!(Money::MAX_AMOUNT, dec!(999_999_999_999_999));
    }

    #[test]
    fn currency_knows_its_minor_units() {
        assert_eq!(Currency::EUR.minor_units(), 2);
        assert_eq!(Currency::JPY.minor_units(), 0);
        assert_eq!(Currency::KWD.minor_units(), 3);
        assert_eq!(Currency::from_code("SEK").unwrap().code(), "SEK");
    }

    #[test]
    fn unknown_and_non_tender_currencies_are_rejected() {
        assert_eq!(
            Currency::from_code("EURO"),
            Err(MoneyError::UnknownCurrency("EURO".into()))
        );
        assert!(Currency::from_code("eur").is_err());
        assert_eq!(
            Currency::from_code("XAU"),
            Err(MoneyError::NotTender("XAU".into()))
        );
    }

    #[test]
    fn new_pads_to_the_minor_unit_and_keeps_extra_precision() {
        assert_eq!(eur(dec!(10)).amount().to_string(), "10.00");
        assert_eq!(eur(dec!(0.0125)).amount().to_string(), "0.0125");
        assert_eq!(
            Money::new(dec!(5), Currency::JPY)
                .unwrap()
                .amount()
                .to_string(),
            "5"
        );
    }

    #[test]
    fn amounts_beyond_the_range_are_rejected() {
        assert_eq!(
            Money::new(dec!(1_000_000_000_000_000), Currency::EUR),
            Err(MoneyError::OutOfRange)
        );
        let big = eur(Money::MAX_AMOUNT);
        assert_eq!(big.checked_add(&eur(dec!(1))), Err(MoneyError::OutOfRange));
        assert_eq!(big.checked_mul(dec!(2)), Err(MoneyError::OutOfRange));
    }

    #[test]
    fn adding_different_currencies_is_a_typed_error() {
        let usd = Money::new(dec!(1), Currency::USD).unwrap();
        assert_eq!(
            eur(dec!(1)).checked_add(&usd),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::EUR,
                right: Currency::USD
            })
        );
        assert!(eur(dec!(1)).checked_sub(&usd).is_err());
        assert!(eur(dec!(1)).try_cmp(&usd).is_err());
    }

    #[test]
    fn same_currency_arithmetic_and_comparison() {
        assert_eq!(
            eur(dec!(1.10)).checked_add(&eur(dec!(2.25))).unwrap(),
            eur(dec!(3.35))
        );
        assert_eq!(
            eur(dec!(1.10)).checked_sub(&eur(dec!(2.25))).unwrap(),
            eur(dec!(-1.15))
        );
        assert_eq!(eur(dec!(1)).try_cmp(&eur(dec!(2))).unwrap(), Ordering::Less);
        assert_eq!(eur(dec!(0.0125)).times(3).unwrap(), eur(dec!(0.0375)));
        assert_eq!(
            Money::sum(Currency::EUR, &[eur(dec!(1)), eur(dec!(2.5))]).unwrap(),
            eur(dec!(3.5))
        );
    }

    #[test]
    fn rounding_modes_follow_their_documentation() {
        let r = |a, m| round(a, Currency::EUR, m).to_string();
        assert_eq!(r(dec!(2.345), RoundingMode::HalfUp), "2.35");
        assert_eq!(r(dec!(-2.345), RoundingMode::HalfUp), "-2.35");
        assert_eq!(r(dec!(2.345), RoundingMode::HalfEven), "2.34");
        assert_eq!(r(dec!(2.355), RoundingMode::HalfEven), "2.36");
        assert_eq!(r(dec!(2.349), RoundingMode::Down), "2.34");
        assert_eq!(r(dec!(-2.349), RoundingMode::Down), "-2.34");
        assert_eq!(r(dec!(2.341), RoundingMode::Up), "2.35");
        assert_eq!(r(dec!(-2.341), RoundingMode::Up), "-2.35");
        assert_eq!(r(dec!(7), RoundingMode::HalfUp), "7.00");
        assert_eq!(
            round(dec!(2.5), Currency::JPY, RoundingMode::HalfUp).to_string(),
            "3"
        );
        assert_eq!(
            round(dec!(1.23456), Currency::KWD, RoundingMode::HalfUp).to_string(),
            "1.235"
        );
    }

    #[test]
    fn default_rounding_mode_is_half_up() {
        assert_eq!(RoundingMode::default(), RoundingMode::HalfUp);
        for m in RoundingMode::ALL {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(RoundingMode::parse(m.as_str()), Some(m));
        }
    }

    #[test]
    fn money_serializes_with_the_amount_as_a_string() {
        let m = eur(dec!(1234.5));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"1234.50","currency":"EUR"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn money_rejects_numbers_unknown_fields_and_bad_amounts() {
        for bad in [
            r#"{"amount":1234.5,"currency":"EUR"}"#,
            r#"{"amount":"1e3","currency":"EUR"}"#,
            r#"{"amount":"1,000.00","currency":"EUR"}"#,
            r#"{"amount":" 1","currency":"EUR"}"#,
            r#"{"amount":".5","currency":"EUR"}"#,
            r#"{"amount":"1.","currency":"EUR"}"#,
            r#"{"amount":"","currency":"EUR"}"#,
            r#"{"amount":"1","currency":"XYZ"}"#,
            r#"{"amount":"1","currency":"EUR","x":1}"#,
            r#"{"amount":"1"}"#,
        ] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_accepts_signs_and_plain_decimals() {
        assert_eq!(Money::parse("-3", "EUR").unwrap(), eur(dec!(-3)));
        assert_eq!(Money::parse("+0.5", "EUR").unwrap(), eur(dec!(0.5)));
        assert_eq!(
            Money::parse("1000000000000000", "EUR"),
            Err(MoneyError::OutOfRange)
        );
    }

    #[test]
    fn from_minor_counts_minor_units() {
        assert_eq!(
            Money::from_minor(12345, Currency::EUR).unwrap(),
            eur(dec!(123.45))
        );
        assert_eq!(
            Money::from_minor(7, Currency::JPY).unwrap().amount(),
            dec!(7)
        );
    }

    fn amount() -> impl Strategy<Value = Decimal> {
        // Up to ±10^12 with up to 6 decimals.
        (
            -1_000_000_000_000_000_000i64..1_000_000_000_000_000_000i64,
            0u32..=6,
        )
            .prop_map(|(n, scale)| Decimal::new(n / 1_000_000, scale))
    }

    fn mode() -> impl Strategy<Value = RoundingMode> {
        prop_oneof![
            Just(RoundingMode::HalfUp),
            Just(RoundingMode::HalfEven),
            Just(RoundingMode::Down),
            Just(RoundingMode::Up),
        ]
    }

    proptest! {
        #[test]
        fn addition_is_commutative(a in amount(), b in amount()) {
            prop_assert_eq!(eur(a).checked_add(&eur(b)), eur(b).checked_add(&eur(a)));
        }

        #[test]
        fn addition_is_associative(a in amount(), b in amount(), c in amount()) {
            let left = eur(a).checked_add(&eur(b)).and_then(|ab| ab.checked_add(&eur(c)));
            let right = eur(b).checked_add(&eur(c)).and_then(|bc| eur(a).checked_add(&bc));
            prop_assert_eq!(left, right);
        }

        #[test]
        fn subtracting_what_was_added_gives_back_the_start(a in amount(), b in amount()) {
            let back = eur(a).checked_add(&eur(b)).and_then(|s| s.checked_sub(&eur(b)));
            prop_assert_eq!(back, Ok(eur(a)));
        }

        #[test]
        fn rounding_is_idempotent(a in amount(), m in mode()) {
            let once = round(a, Currency::EUR, m);
            prop_assert_eq!(round(once, Currency::EUR, m), once);
            prop_assert_eq!(once.scale(), 2);
        }

        #[test]
        fn half_up_and_half_even_err_by_at_most_half_a_minor_unit(a in amount()) {
            for m in [RoundingMode::HalfUp, RoundingMode::HalfEven] {
                let err = (round(a, Currency::EUR, m) - a).abs();
                prop_assert!(err <= dec!(0.005), "{a} {m:?} err {err}");
            }
        }

        #[test]
        fn down_never_grows_and_up_never_shrinks_the_magnitude(a in amount()) {
            let down = round(a, Currency::EUR, RoundingMode::Down);
            let up = round(a, Currency::EUR, RoundingMode::Up);
            prop_assert!(down.abs() <= a.abs());
            prop_assert!(up.abs() >= a.abs());
            prop_assert!((up - down).abs() <= dec!(0.01));
        }

        #[test]
        fn wire_form_round_trips(a in amount()) {
            let m = eur(a);
            let json = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        }
    }
}
