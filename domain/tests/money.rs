//! Exact money: parsing, formatting, arithmetic, currencies.

use ledger_domain::{Currency, Decimal, Money, MoneyError};
use proptest::prelude::*;

fn cur(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

#[test]
fn amounts_format_with_exactly_the_currency_digits() {
    assert_eq!(
        Money::parse("12.5", cur("USD")).unwrap().to_string(),
        "12.50"
    );
    assert_eq!(
        Money::parse("1200", cur("JPY")).unwrap().to_string(),
        "1200"
    );
    assert_eq!(
        Money::parse("1.25", cur("BHD")).unwrap().to_string(),
        "1.250"
    );
    assert_eq!(Money::from_minor(-5, cur("USD")).to_string(), "-0.05");
    assert_eq!(
        Money::from_minor(i64::MIN, cur("USD")).to_string(),
        "-92233720368547758.08"
    );
}

#[test]
fn json_number_forms_are_parsed_exactly() {
    let usd = cur("USD");
    assert_eq!(Money::parse("1.25e1", usd).unwrap().minor_units(), 1250);
    assert_eq!(Money::parse("125E-2", usd).unwrap().minor_units(), 125);
    assert_eq!(Money::parse("0.1", usd).unwrap().minor_units(), 10);
}

#[test]
fn more_decimals_than_the_currency_allows_are_refused() {
    assert!(matches!(
        Money::parse("1.001", cur("USD")),
        Err(MoneyError::TooManyDecimals { allowed: 2, .. })
    ));
    assert!(Money::parse("1.5", cur("JPY")).is_err());
    assert!(Money::parse("1.0001", cur("BHD")).is_err());
}

#[test]
fn text_that_is_not_a_plain_decimal_is_refused() {
    for bad in [
        "", "abc", "1.", ".5", "1..2", "+1", " 1", "1 ", "NaN", "Infinity", "1e", "0x10", "1_000",
        "١",
    ] {
        assert!(Decimal::parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn huge_values_overflow_instead_of_wrapping() {
    assert_eq!(Money::parse("1e30", cur("USD")), Err(MoneyError::Overflow));
    assert_eq!(
        Money::parse("92233720368547758.08", cur("USD")),
        Err(MoneyError::Overflow)
    );
    assert!(Money::parse("92233720368547758.07", cur("USD")).is_ok());
    assert_eq!(Decimal::parse("1e99999").unwrap_err(), MoneyError::Overflow);
    let max = Money::from_minor(i64::MAX, cur("USD"));
    assert_eq!(
        max.checked_add(Money::from_minor(1, cur("USD"))),
        Err(MoneyError::OutOfRange)
    );
    // Said as the result, not the amount (0.01 is not "too large").
    assert_eq!(
        MoneyError::OutOfRange.to_string(),
        "the result would be out of the ledger's range"
    );
}

/// An exponent past the range says which end it fell off, and zero stays zero however
/// it is written (black-box testing found `1e-400` and `0e9999999999` called "too
/// large").
#[test]
fn exponents_out_of_range_say_which_way() {
    for fine in ["1e-400", "1e-9999999999", "5.5E-65"] {
        assert_eq!(Decimal::parse(fine), Err(MoneyError::TooFine), "{fine}");
    }
    for large in ["1e65", "1e9999999999", "-2E+70"] {
        assert_eq!(Decimal::parse(large), Err(MoneyError::Overflow), "{large}");
    }
    // Too many digits: too fine when they run after the point (black-box testing found
    // `1.5` and forty-four zeros called "too large"), too large before it.
    let long_fraction = format!("1.5{}", "0".repeat(44));
    for fine in [
        long_fraction.as_str(),
        "12.50000000000000000000000000000000000000e0",
    ] {
        assert_eq!(Decimal::parse(fine), Err(MoneyError::TooFine), "{fine}");
    }
    let long_whole = format!("1{}.5", "0".repeat(40));
    for large in [
        long_whole.as_str(),
        "1234567890123456789012345678901234567.5e3",
    ] {
        assert_eq!(Decimal::parse(large), Err(MoneyError::Overflow), "{large}");
    }
    // Digits and exponent are judged together (black-box testing found `0.`, eighty-three
    // zeros, `1e80` called "too large": its exponent was judged first).
    let shifted = format!("0.{}1e80", "0".repeat(83));
    assert_eq!(Decimal::parse(&shifted), Decimal::parse("0.0001"));
    let shifted = format!("{}e-80", "1".repeat(30));
    assert_eq!(Decimal::parse(&shifted), Err(MoneyError::TooFine));
    assert_eq!(
        Money::parse(&format!("0.{}250e73", "0".repeat(70)), cur("USD")).map(|m| m.minor_units()),
        Ok(25_000)
    );
    for zero in ["0e9999999999", "0.000e-400", "-0E70"] {
        let d = Decimal::parse(zero).unwrap();
        assert!(!d.is_positive() && !d.is_negative(), "{zero}");
    }
    // Within the exponent's range too: zero in minor units, not "too large".
    for zero in ["0e40", "0e64", "0.0e60"] {
        let d = Decimal::parse(zero).unwrap();
        assert_eq!(
            Money::from_decimal(d, cur("USD")).map(|m| m.minor_units()),
            Ok(0),
            "{zero}"
        );
    }
    assert_eq!(Decimal::parse("6e1").unwrap().whole(), Some(60));
    assert_eq!(Decimal::parse("60.000").unwrap().whole(), Some(60));
    assert_eq!(Decimal::parse("-0.0").unwrap().whole(), Some(0));
    assert_eq!(
        Decimal::parse("59.99999999999999999").unwrap().whole(),
        None
    );
    assert_eq!(Decimal::parse("1e64").unwrap().whole(), None, "past i128");
    assert_eq!(
        Money::parse("1e-64", cur("USD")),
        Err(MoneyError::TooManyDecimals {
            currency: "USD",
            allowed: 2
        })
    );
}

#[test]
fn mixing_currencies_is_refused() {
    let a = Money::from_minor(1, cur("USD"));
    let b = Money::from_minor(1, cur("EUR"));
    assert!(matches!(
        a.checked_add(b),
        Err(MoneyError::CurrencyMismatch(..))
    ));
}

#[test]
fn currencies_are_upper_case_iso_codes_with_minor_units() {
    assert!(Currency::parse("EUR").is_ok());
    for bad in ["eur", "EURO", "ZZZ", "XAU", "", "U$D"] {
        assert!(Currency::parse(bad).is_err(), "{bad}");
    }
    // Withdrawn codes: read from stored events, refused for a new account.
    for withdrawn in ["HRK", "CUC", "SLL", "ZWL", "BGN"] {
        assert!(Currency::parse(withdrawn).is_ok(), "{withdrawn}");
        assert!(
            matches!(
                cur(withdrawn).current(),
                Err(MoneyError::WithdrawnCurrency(..))
            ),
            "{withdrawn}"
        );
    }
    for current in ["EUR", "VES", "VED", "ZWG", "SLE", "JPY"] {
        assert!(cur(current).current().is_ok(), "{current}");
        assert!(cur(current).is_current(), "{current}");
    }
    assert!(!cur("HRK").is_current());
}

#[test]
fn every_currency_is_listed_once_by_code_and_shows_as_its_code() {
    let all = Currency::all();
    let codes: Vec<&str> = all.iter().map(|c| c.code()).collect();
    for code in ["USD", "EUR", "JPY", "BHD", "HRK"] {
        assert!(codes.contains(&code), "{code}");
    }
    assert!(!codes.contains(&"XAU"), "no minor units, not listed");
    assert!(codes.len() > 150, "{}", codes.len());
    assert!(codes.windows(2).all(|w| w[0] < w[1]), "by code, once each");
    assert_eq!(cur("BHD").to_string(), "BHD");
    assert_eq!(format!("{:?}", cur("BHD")), "BHD");
    let m = Money::parse("-1.5", cur("BHD")).unwrap();
    assert_eq!(format!("{m:?}"), "-1.500 BHD");
}

#[test]
fn a_refused_currency_is_named_in_at_most_sixteen_characters() {
    let long = "Q".repeat(40);
    let err = Currency::parse(&long).unwrap_err().to_string();
    assert!(err.contains(&"Q".repeat(16)), "{err}");
    assert!(!err.contains(&"Q".repeat(17)), "{err}");
}

#[test]
fn equal_values_have_equal_canonical_text() {
    let a = Decimal::parse("12.5").unwrap().canonical();
    assert_eq!(a, Decimal::parse("12.50").unwrap().canonical());
    assert_eq!(a, Decimal::parse("1.25e1").unwrap().canonical());
    assert_ne!(a, Decimal::parse("12.51").unwrap().canonical());
}

#[test]
fn rounding_is_half_to_even() {
    let r = |s: &str| {
        Money::from_decimal(Decimal::parse(s).unwrap().round_to(2), cur("USD"))
            .unwrap()
            .minor_units()
    };
    assert_eq!(r("0.125"), 12);
    assert_eq!(r("0.135"), 14);
    assert_eq!(r("0.1251"), 13);
    assert_eq!(r("0.30000000000000004"), 30);
}

proptest! {
    #[test]
    fn formatting_then_parsing_gives_the_same_money(minor in any::<i64>(), pick in 0usize..3) {
        let currency = [cur("USD"), cur("JPY"), cur("BHD")][pick];
        let money = Money::from_minor(minor, currency);
        prop_assert_eq!(Money::parse(&money.to_string(), currency), Ok(money));
    }

    #[test]
    fn parsing_then_formatting_keeps_the_digits(int in 0u64..1_000_000_000_000, frac in 0u32..100) {
        let text = format!("{int}.{frac:02}");
        prop_assert_eq!(Money::parse(&text, cur("USD")).unwrap().to_string(), text);
    }

    #[test]
    fn checked_arithmetic_matches_wide_integers(a in any::<i64>(), b in any::<i64>()) {
        let usd = cur("USD");
        let wide = i128::from(a) + i128::from(b);
        let sum = Money::from_minor(a, usd).checked_add(Money::from_minor(b, usd));
        match i64::try_from(wide) {
            Ok(w) => prop_assert_eq!(sum.map(Money::minor_units), Ok(w)),
            Err(_) => prop_assert_eq!(sum, Err(MoneyError::OutOfRange)),
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(s in "\\PC{0,40}") {
        let _ = Money::parse(&s, cur("USD"));
    }
}

#[test]
fn decimals_tell_their_sign_and_whole_value() {
    let d = |t: &str| Decimal::parse(t).unwrap();
    assert!(d("-1").is_negative() && !d("-1").is_positive());
    assert!(!d("-0").is_negative() && !d("-0.00").is_negative() && !d("0").is_positive());
    assert!(!d("1").is_negative() && d("1").is_positive());
    assert_eq!(d("6e1").whole(), Some(60));
    assert_eq!(d("60.0").whole(), Some(60));
    assert_eq!(d("-6e1").whole(), Some(-60));
    assert_eq!(d("59.99999999999999999").whole(), None);
    // Rounded to nothing, a negative value is zero, not "-0".
    assert!(!d("-0.004").round_to(2).is_negative());
    assert!(d("-0.006").round_to(2).is_negative());
}

#[test]
fn zeros_and_exponents_at_the_edges_of_the_range() {
    let usd = cur("USD");
    // A zero keeps its decimals as written: too many for USD is refused, as for 1.000.
    assert!(Money::parse("0.000", usd).is_err());
    assert!(Money::parse("0.00", usd).is_ok());
    // Zero times any power of ten is zero.
    for zero in ["0e40", "0e-100", "0e100", "0.0e-64"] {
        assert!(Decimal::parse(zero).is_ok(), "{zero}");
    }
    assert!(Decimal::parse("0e-64").is_ok());
    assert!(
        Money::parse("0e-100", usd).is_ok(),
        "zero, whatever its exponent"
    );
    assert!(
        Money::parse("0e-64", usd).is_err(),
        "sixty-four decimals, as written"
    );
    // Sixty-four digits after the point at most.
    assert!(Decimal::parse("1e-64").is_ok());
    assert!(Decimal::parse("1e-65").is_err());
}

#[test]
fn totals_add_exactly_past_one_amount_and_refuse_another_currency() {
    use ledger_domain::MoneyTotal;
    let usd = cur("USD");
    let max = Money::from_minor(i64::MAX, usd);
    let t = MoneyTotal::zero(usd).checked_add(max).unwrap();
    let t = t.checked_add(max).unwrap();
    assert_eq!(t.minor_units(), 2 * i128::from(i64::MAX));
    assert_eq!(t.currency(), usd);
    let back = t.checked_add(Money::from_minor(-5, usd)).unwrap();
    assert_eq!(back.minor_units(), 2 * i128::from(i64::MAX) - 5);
    assert!(t.checked_add(Money::from_minor(1, cur("EUR"))).is_err());
    let parsed = MoneyTotal::parse("-12.05", usd).unwrap();
    assert_eq!(
        (parsed.minor_units(), parsed.to_string()),
        (-1205, "-12.05".to_owned())
    );
    let json = serde_json::to_string(&parsed).unwrap();
    assert_eq!(serde_json::from_str::<MoneyTotal>(&json).unwrap(), parsed);
    assert!(MoneyTotal::from_minor(i128::MAX, usd)
        .checked_add(Money::from_minor(1, usd))
        .is_err());
}
