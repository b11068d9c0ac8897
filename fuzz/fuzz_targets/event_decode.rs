//! Fuzzes event decoding (all schema versions, with and without stream context):
//! never panics; what decodes re-encodes and decodes to the same event.
#![no_main]

use ledger_domain::{Account, AccountEvent, AccountId, Aggregate, Currency, Owner, RawEvent};
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 7] = [
    "AccountOpened", "AccountCreated", "MoneyDeposited", "MoneyWithdrawn",
    "AccountClosed", "TransferDebited", "TransferCredited",
];

fuzz_target!(|input: (u8, u8, &str)| {
    let (t, v, data) = input;
    let raw = RawEvent {
        event_type: TYPES[t as usize % TYPES.len()],
        schema_version: u32::from(v % 3),
        data,
    };
    let opened = Account::default().evolve(&AccountEvent::Opened {
        account_id: AccountId::parse("f").expect("id"),
        owner: Owner::parse("F").expect("owner"),
        currency: Currency::parse("USD").expect("currency"),
    });
    for state in [Account::default(), opened] {
        if let Ok(event) = state.decode(raw) {
            let enc = Account::encode(&event);
            let back = RawEvent {
                event_type: enc.event_type,
                schema_version: enc.schema_version,
                data: &enc.data,
            };
            assert_eq!(state.decode(back).expect("re-encoded event decodes"), event);
        }
    }
});
