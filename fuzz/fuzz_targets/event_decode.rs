//! Fuzzes event decoding (every account and transfer event type, all schema versions,
//! with and without stream context): never panics; what decodes re-encodes and decodes
//! to the same event.
#![no_main]

use std::fmt::Debug;

use ledger_domain::{
    Account, AccountEvent, AccountId, Aggregate, Currency, Owner, RawEvent, Transfer,
};
use libfuzzer_sys::fuzz_target;

const ACCOUNT_TYPES: [&str; 11] = [
    "AccountOpened", "AccountCreated", "MoneyDeposited", "MoneyWithdrawn",
    "AccountClosed", "TransferDebited", "TransferCredited", "OverdraftLimitSet",
    "PendingTransferReserved", "PendingTransferPosted", "PendingTransferReleased",
];
const TRANSFER_TYPES: [&str; 5] = [
    "TransferRecorded", "PendingTransferCreated", "TransferPosted", "TransferVoided",
    "TransferExpired",
];

/// Decodes `raw` on `state`; an event that decodes re-encodes to one that decodes alike.
fn round_trip<A: Aggregate>(state: &A, raw: RawEvent<'_>)
where
    A::Event: PartialEq + Debug,
{
    if let Ok(event) = state.decode(raw) {
        let enc = A::encode(&event);
        let back = RawEvent {
            event_type: enc.event_type,
            schema_version: enc.schema_version,
            data: &enc.data,
        };
        assert_eq!(state.decode(back).expect("re-encoded event decodes"), event);
    }
}

fuzz_target!(|input: (u8, u8, &str)| {
    let (t, v, data) = input;
    let schema_version = u32::from(v % 3);
    let account = RawEvent {
        event_type: ACCOUNT_TYPES[t as usize % ACCOUNT_TYPES.len()],
        schema_version,
        data,
    };
    let opened = Account::default().evolve(&AccountEvent::Opened {
        account_id: AccountId::parse("f").expect("id"),
        owner: Owner::parse("F").expect("owner"),
        currency: Currency::parse("USD").expect("currency"),
    });
    for state in [Account::default(), opened] {
        round_trip(&state, account);
    }
    let transfer = RawEvent {
        event_type: TRANSFER_TYPES[t as usize % TRANSFER_TYPES.len()],
        schema_version,
        data,
    };
    round_trip(&Transfer::default(), transfer);
});
