//! Fuzzes exact money parsing: never panics; what parses formats back to the same value.
#![no_main]

use ledger_domain::{Currency, Decimal, Money};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for code in ["USD", "JPY", "BHD"] {
        let Ok(currency) = Currency::parse(code) else {
            continue;
        };
        if let Ok(money) = Money::parse(text, currency) {
            let again = Money::parse(&money.to_string(), currency).expect("formatted money parses");
            assert_eq!(again, money);
        }
    }
    if let Ok(d) = Decimal::parse(text) {
        let _ = d.canonical();
        let _ = d.round_to(2);
    }
});
