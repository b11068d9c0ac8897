//! Exact money: ISO 4217 currencies, positive decimal amounts and integer minor units.
//!
//! Nothing here ever goes through a float. Text is parsed digit by digit into an
//! [`Amount`] (an unscaled integer and a scale), and an amount becomes [`Money`]
//! only once its currency is known, which is where "too many decimals" is decided.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::decimal::Decimal;

/// Why a currency, an amount or a sum was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not an upper-case ISO 4217 code with a defined number of minor-unit digits.
    #[error("`{0}` is not an ISO 4217 currency code with minor units")]
    InvalidCurrency(String),
    /// The text is not a decimal number.
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    /// The amount is zero or negative where a positive one is needed.
    #[error("the amount must be greater than zero")]
    NotPositive,
    /// More fraction digits than the currency has minor-unit digits.
    #[error("{currency} allows at most {allowed} decimal places")]
    TooManyDecimals {
        /// The currency's code.
        currency: &'static str,
        /// Its minor-unit digits.
        allowed: u32,
    },
    /// Finer than any currency's minor unit can hold (an exponent below -64, or more
    /// digits after the point than a value holds).
    #[error("the amount has more decimal places than any currency allows")]
    TooFine,
    /// The value does not fit in the ledger's range.
    #[error("the amount is too large")]
    Overflow,
    /// The value fits, but what it makes (a balance, a held total) would not.
    #[error("the result would be out of the ledger's range")]
    OutOfRange,
    /// A currency ISO 4217 has withdrawn, for a new account.
    #[error("{0} has been withdrawn from ISO 4217 (replaced by {1}); accounts already held in it keep working")]
    WithdrawnCurrency(&'static str, &'static str),
    /// Two amounts of different currencies were combined.
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(&'static str, &'static str),
}

/// An ISO 4217 currency that has minor units (USD, EUR, JPY, BHD...).
///
/// ```
/// use ledger_domain::Currency;
/// let jpy = Currency::parse("JPY").unwrap();
/// assert_eq!(jpy.minor_digits(), 0);
/// assert!(Currency::parse("usd").is_err());
/// assert!(Currency::parse("XAU").is_err()); // no minor units defined
/// // Ordered by code, as the SQL stores order their lines:
/// assert!(Currency::parse("AOA").unwrap() < Currency::parse("XCG").unwrap());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

/// By code: `iso_currency` declares its currencies in the order of its data file
/// (`XCG` after `AMD`), which no store's order follows.
impl Ord for Currency {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code().cmp(other.code())
    }
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Currency {
    /// Parses an upper-case alphabetic ISO 4217 code.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let well_formed = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
        let currency = well_formed
            .then(|| iso_currency::Currency::from_code(code))
            .flatten()
            .filter(|c| c.exponent().is_some())
            .ok_or_else(|| MoneyError::InvalidCurrency(truncate(code)))?;
        Ok(Self(currency))
    }

    /// The currency, if a new account may be opened in it: not a code ISO 4217 has
    /// withdrawn (the Croatian kuna, since the euro; the data of `iso_currency`, less
    /// VES, which it marks so and ISO still lists). Accounts already held in one keep
    /// working: only opening asks.
    pub fn current(self) -> Result<Self, MoneyError> {
        match self.0.is_superseded() {
            Some(by) if self.0 != iso_currency::Currency::VES => {
                Err(MoneyError::WithdrawnCurrency(self.code(), by.code()))
            }
            _ => Ok(self),
        }
    }

    /// Whether a new account may be opened in it ([`Self::current`]).
    pub fn is_current(self) -> bool {
        self.current().is_ok()
    }

    /// Every currency the ledger takes (ISO 4217 codes with minor units), by code.
    pub fn all() -> Vec<Currency> {
        let letters = b'A'..=b'Z';
        letters
            .clone()
            .flat_map(|a| letters.clone().map(move |b| (a, b)))
            .flat_map(|(a, b)| (b'A'..=b'Z').map(move |c| [a, b, c]))
            .filter_map(|code| {
                std::str::from_utf8(&code)
                    .ok()
                    .and_then(|c| Self::parse(c).ok())
            })
            .collect()
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// How many digits the minor unit has (2 for USD, 0 for JPY, 3 for BHD).
    pub fn minor_digits(self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(16).collect()
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
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
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of one currency in integer minor units (cents for USD, yen for JPY).
///
/// ```
/// use ledger_domain::{Currency, Money};
/// let usd = Currency::parse("USD").unwrap();
/// let m = Money::parse("12.5", usd).unwrap();
/// assert_eq!(m.minor_units(), 1250);
/// assert_eq!(m.to_string(), "12.50");
/// assert!(Money::parse("0.001", usd).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Money from minor units.
    pub const fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Zero of a currency.
    pub const fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// Parses decimal text exactly in this currency (sign allowed).
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        Self::from_decimal(Decimal::parse(text)?, currency)
    }

    /// Gives a decimal a currency, refusing more decimals than it has minor digits.
    pub fn from_decimal(d: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let minor = i64::try_from(d.minor_units_in(currency)?).map_err(|_| MoneyError::Overflow)?;
        Ok(Self { minor, currency })
    }

    /// The integer count of minor units.
    pub const fn minor_units(self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// True when greater than zero.
    pub const fn is_positive(self) -> bool {
        self.minor > 0
    }

    /// `self + other`, refusing overflow and mixed currencies.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::OutOfRange)?;
        Ok(Self { minor, ..self })
    }

    /// `self - other`, refusing overflow and mixed currencies.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::OutOfRange)?;
        Ok(Self { minor, ..self })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(
                self.currency.code(),
                other.currency.code(),
            ))
        }
    }
}

impl fmt::Display for Money {
    /// Exactly the currency's minor digits: `12.50`, `1200`, `1.250`, `-0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_minor(f, i128::from(self.minor), self.currency.minor_digits())
    }
}

/// Writes a count of minor units with exactly `digits` fraction digits.
pub(crate) fn write_minor(f: &mut fmt::Formatter<'_>, minor: i128, digits: u32) -> fmt::Result {
    let magnitude = minor.unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    if digits == 0 {
        return write!(f, "{sign}{magnitude}");
    }
    let scale = 10u128.pow(digits);
    let (int, frac) = (magnitude / scale, magnitude % scale);
    let width = digits as usize;
    write!(f, "{sign}{int}.{frac:0width$}")
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} {}", self.currency)
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct MoneyRepr {
    pub(crate) amount: String,
    pub(crate) currency: Currency,
}

impl Serialize for Money {
    /// `{"amount": "12.50", "currency": "USD"}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MoneyRepr {
            amount: self.to_string(),
            currency: self.currency,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = MoneyRepr::deserialize(d)?;
        Money::parse(&repr.amount, repr.currency).map_err(serde::de::Error::custom)
    }
}
