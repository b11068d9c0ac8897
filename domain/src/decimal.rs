//! Exact decimals read from text, digit by digit (never through a float): what an
//! amount is before its currency says how many minor digits it may have.

use crate::money::{truncate, Currency, MoneyError};

/// An exact decimal read from text: `unscaled × 10^-scale`, sign kept separately.
///
/// It has no currency yet; [`Money::from_decimal`] gives it one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    unscaled: u128,
    /// Digits after the decimal point, after applying any exponent (may be negative).
    scale: i32,
}

const MAX_SIGNIFICANT_DIGITS: usize = 36;
const MAX_EXPONENT: i64 = 64;

impl Decimal {
    /// Parses JSON-number grammar (`-12.50`, `1.25e2`) or a plain decimal string, exactly.
    ///
    /// ```
    /// use ledger_domain::{Currency, Decimal, Money};
    /// let usd = Currency::parse("USD").unwrap();
    /// let d = Decimal::parse("1.25e1").unwrap();
    /// assert_eq!(Money::from_decimal(d, usd).unwrap().minor_units(), 1250);
    /// ```
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let bad = || MoneyError::NotANumber(truncate(text));
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (mantissa, None),
        };
        let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(int_part) || frac_part.is_some_and(|f| !digits_ok(f)) {
            return Err(bad());
        }
        let exp: i64 = match exponent {
            None => 0,
            Some(e) => {
                let body = e.strip_prefix(['+', '-']).unwrap_or(e);
                if !digits_ok(body) {
                    return Err(bad());
                }
                let trimmed = body.trim_start_matches('0');
                // Past twelve digits an exponent outweighs every digit a request can
                // hold (no parse of a thousand digits).
                let magnitude: i64 = match trimmed.len() {
                    0..=12 => trimmed.parse().unwrap_or(0),
                    _ => 10_i64.pow(13),
                };
                if e.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                }
            }
        };
        let frac = frac_part.unwrap_or("");
        let significant: Vec<u8> = int_part
            .bytes()
            .chain(frac.bytes())
            .skip_while(|b| *b == b'0')
            .collect();
        // Digits after the point once the exponent is applied (negative: zeros to add).
        let scale = i64::try_from(frac.len()).map_err(|_| MoneyError::Overflow)? - exp;
        if significant.is_empty() {
            // Zero times any power of ten is zero, not a number too large (`0e40`); its
            // decimals as written stay (`0.000` has three).
            let scale = if exp.abs() > MAX_EXPONENT {
                0
            } else {
                scale.max(0)
            };
            return Ok(Self {
                negative: false,
                unscaled: 0,
                scale: i32::try_from(scale).map_err(|_| MoneyError::TooFine)?,
            });
        }
        // The range is judged on the value, its digits and exponent together: `0.` and
        // eighty-three zeros then `1e80` is 0.0001.
        let whole_digits = significant.len() as i64 - scale;
        if significant.len() > MAX_SIGNIFICANT_DIGITS || scale > MAX_EXPONENT {
            // More digits than a value holds, or finer than any currency: too fine
            // when the whole part alone would fit (`1.5` and forty zeros), too large
            // when it would not.
            return Err(if whole_digits <= MAX_SIGNIFICANT_DIGITS as i64 {
                MoneyError::TooFine
            } else {
                MoneyError::Overflow
            });
        }
        if scale < -MAX_EXPONENT {
            return Err(MoneyError::Overflow);
        }
        let unscaled = significant
            .iter()
            .fold(0u128, |acc, b| acc * 10 + u128::from(b - b'0'));
        let scale = i32::try_from(scale).map_err(|_| MoneyError::Overflow)?;
        Ok(Self {
            negative: negative && unscaled != 0,
            unscaled,
            scale,
        })
    }

    /// The value as `(unscaled, scale)` without trailing zeros (zero with scale 0):
    /// equal for equal values.
    fn normalized(&self) -> (u128, i32) {
        let (mut unscaled, mut scale) = (self.unscaled, self.scale);
        while unscaled != 0 && unscaled % 10 == 0 {
            unscaled /= 10;
            scale -= 1;
        }
        if unscaled == 0 {
            scale = 0;
        }
        (unscaled, scale)
    }

    /// A canonical text of the value, equal for equal values (`12.5` and `12.50` agree).
    pub fn canonical(&self) -> String {
        let (unscaled, scale) = self.normalized();
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{unscaled}e{}", -scale)
    }

    /// The value when it is a whole number that fits (`60`, `60.0`, `6e1`), else `None`
    /// (`59.99999999999999999` is not 60).
    pub fn whole(&self) -> Option<i128> {
        let (unscaled, scale) = self.normalized();
        if scale > 0 {
            return None;
        }
        let up = 10u128.checked_pow(u32::try_from(-scale).ok()?)?;
        let magnitude = i128::try_from(unscaled.checked_mul(up)?).ok()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }

    /// True when the value is greater than zero.
    pub fn is_positive(&self) -> bool {
        !self.negative && self.unscaled != 0
    }

    /// True when the value is less than zero.
    pub fn is_negative(&self) -> bool {
        self.negative && self.unscaled != 0
    }

    /// Rounds half to even to `digits` fraction digits (used only by upcasters of float-era data).
    pub fn round_to(self, digits: u32) -> Self {
        let digits = digits as i32;
        if self.scale <= digits {
            return self;
        }
        let drop = (self.scale - digits) as u32;
        let Some(divisor) = 10u128.checked_pow(drop) else {
            return Self {
                unscaled: 0,
                negative: false,
                scale: digits,
            };
        };
        let (q, r) = (self.unscaled / divisor, self.unscaled % divisor);
        let half = divisor / 2;
        let up = r > half || (r == half && divisor % 2 == 0 && q % 2 == 1);
        let unscaled = if up { q + 1 } else { q };
        Self {
            negative: self.negative && unscaled != 0,
            unscaled,
            scale: digits,
        }
    }

    /// The exact sum (used only by upcasters of float-era data); past the range an
    /// overflow.
    pub(crate) fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        let scale = self.scale.max(other.scale);
        let signed = |d: Self| -> Option<i128> {
            let up = 10i128.checked_pow(u32::try_from(scale - d.scale).ok()?)?;
            let v = i128::try_from(d.unscaled).ok()?.checked_mul(up)?;
            Some(if d.negative { -v } else { v })
        };
        let sum = signed(self)
            .zip(signed(other))
            .and_then(|(a, b)| a.checked_add(b))
            .ok_or(MoneyError::Overflow)?;
        Ok(Self {
            negative: sum < 0,
            unscaled: sum.unsigned_abs(),
            scale,
        })
    }

    /// The value with its sign turned.
    pub(crate) fn negated(self) -> Self {
        Self {
            negative: !self.negative && self.unscaled != 0,
            ..self
        }
    }

    /// This value in minor units of `currency`, refusing more decimals than it has
    /// minor digits.
    pub(crate) fn minor_units_in(self, currency: Currency) -> Result<i128, MoneyError> {
        let digits = currency.minor_digits() as i32;
        if self.scale > digits {
            return Err(MoneyError::TooManyDecimals {
                currency: currency.code(),
                allowed: digits as u32,
            });
        }
        let factor = 10u128
            .checked_pow((digits - self.scale) as u32)
            .ok_or(MoneyError::Overflow)?;
        let magnitude = self
            .unscaled
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        let magnitude = i128::try_from(magnitude).map_err(|_| MoneyError::Overflow)?;
        Ok(if self.negative { -magnitude } else { magnitude })
    }
}
