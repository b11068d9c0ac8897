//! Exact sums of many amounts: what read models add up (total deposits of an account,
//! a currency's balance over all accounts) can exceed the range of one amount, so it is
//! kept as an `i128` count of minor units, still never a float.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::money::{write_minor, Currency, Decimal, Money, MoneyError, MoneyRepr};

/// A sum of amounts of one currency, exact for any number of amounts a ledger can hold
/// (`i128` minor units: 2^64 times the largest amount still fits).
///
/// ```
/// use ledger_domain::{Currency, Money, MoneyTotal};
/// let usd = Currency::parse("USD").unwrap();
/// let max = Money::from_minor(i64::MAX, usd);
/// let t = MoneyTotal::zero(usd).checked_add(max).unwrap().checked_add(max).unwrap();
/// assert_eq!(t.to_string(), "184467440737095516.14");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MoneyTotal {
    minor: i128,
    currency: Currency,
}

impl MoneyTotal {
    /// A total from minor units.
    pub const fn from_minor(minor: i128, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Zero of a currency.
    pub const fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// The integer count of minor units.
    pub const fn minor_units(self) -> i128 {
        self.minor
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// `self + amount`, refusing mixed currencies (and an overflow, which would take
    /// more than 2^64 amounts of the largest size).
    pub fn checked_add(self, amount: Money) -> Result<Self, MoneyError> {
        if amount.currency() != self.currency {
            return Err(MoneyError::CurrencyMismatch(
                self.currency.code(),
                amount.currency().code(),
            ));
        }
        let minor = self
            .minor
            .checked_add(i128::from(amount.minor_units()))
            .ok_or(MoneyError::OutOfRange)?;
        Ok(Self { minor, ..self })
    }
}

impl fmt::Display for MoneyTotal {
    /// Exactly the currency's minor digits, as [`Money`] writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_minor(f, self.minor, self.currency.minor_digits())
    }
}

impl MoneyTotal {
    /// Parses decimal text exactly in this currency (sign allowed).
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let minor = Decimal::parse(text)?.minor_units_in(currency)?;
        Ok(Self { minor, currency })
    }
}

impl Serialize for MoneyTotal {
    /// `{"amount": "184467440737095516.14", "currency": "USD"}`, as [`Money`].
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MoneyRepr {
            amount: self.to_string(),
            currency: self.currency,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MoneyTotal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = MoneyRepr::deserialize(d)?;
        MoneyTotal::parse(&repr.amount, repr.currency).map_err(serde::de::Error::custom)
    }
}
