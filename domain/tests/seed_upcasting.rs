//! Schema version 1 (the original Go design's JSON) reads back exactly, upcast.

use ledger_domain::*;

fn fixture() -> Vec<(String, String)> {
    let text = include_str!("fixtures/seed_v1_stream.json");
    let value: serde_json::Value = serde_json::from_str(text).expect("fixture is JSON");
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().expect("type").to_owned(),
                // Keep the data's exact text: re-serialize from the raw fixture slice.
                e["data"].to_string(),
            )
        })
        .collect()
}

fn raw_fixture() -> Vec<(String, String)> {
    // serde_json::Value would turn numbers into f64; cut the data objects out as text.
    let text = include_str!("fixtures/seed_v1_stream.json");
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.contains("\"data\"")) {
        let start = line.find("\"data\": ").expect("data") + "\"data\": ".len();
        let end = line.rfind('}').expect("end");
        let data = &line[start..end];
        let event_type = line.split('"').nth(3).expect("type").to_owned();
        out.push((event_type, data.to_owned()));
    }
    out
}

#[test]
fn the_fixture_is_well_formed() {
    assert_eq!(fixture().len(), raw_fixture().len());
    for (_, data) in raw_fixture() {
        serde_json::from_str::<serde_json::Value>(&data).expect("each data object is JSON");
    }
}

#[test]
fn a_seed_format_stream_replays_to_exact_minor_units() {
    let events = raw_fixture();
    let raws = events.iter().map(|(t, d)| RawEvent {
        event_type: t,
        schema_version: 1,
        data: d,
    });
    let account = replay(Account::default(), raws).expect("v1 history stays readable");
    let d = account.details().expect("opened");
    assert_eq!(d.id.as_str(), "acc-seed");
    assert_eq!(d.owner.as_str(), "Alice Smith");
    assert_eq!(
        d.balance.minor_units(),
        0,
        "1.1368683772161603e-13 rounds to 0.00"
    );
    assert_eq!(d.status, AccountStatus::Closed);
}

#[test]
fn float_drift_in_a_v1_balance_rounds_to_the_intended_cents() {
    let usd = Currency::parse("USD").unwrap();
    let opened = Account::default().evolve(&AccountEvent::Opened {
        account_id: AccountId::parse("a").unwrap(),
        owner: Owner::parse("o").unwrap(),
        currency: usd,
    });
    let raw = RawEvent {
        event_type: "MoneyDeposited",
        schema_version: 1,
        data: r#"{"account_id":"a","amount":0.2,"balance":0.30000000000000004}"#,
    };
    match opened.decode(raw).expect("readable") {
        AccountEvent::Deposited {
            amount, balance, ..
        } => {
            assert_eq!(amount.minor_units(), 20);
            assert_eq!(balance.minor_units(), 30);
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// The amounts and balances a v1 account's money events read as, in minor units.
fn upcast_moves(currency: &str, events: &[(&str, &str)]) -> Vec<(i64, i64)> {
    let mut account = Account::default().evolve(&AccountEvent::Opened {
        account_id: AccountId::parse("a").unwrap(),
        owner: Owner::parse("o").unwrap(),
        currency: Currency::parse(currency).unwrap(),
    });
    let mut moves = Vec::new();
    for (event_type, data) in events {
        let raw = RawEvent {
            event_type,
            schema_version: 1,
            data,
        };
        let event = account.decode(raw).expect("readable");
        let (amount, balance) = match &event {
            AccountEvent::Deposited {
                amount, balance, ..
            }
            | AccountEvent::Withdrawn {
                amount, balance, ..
            } => (amount.minor_units(), balance.minor_units()),
            other => panic!("unexpected {other:?}"),
        };
        moves.push((amount, balance));
        account = account.evolve(&event);
    }
    moves
}

/// The Go design took amounts finer than the currency: each reads as what it moved the
/// rounded balance by, so the amounts add up to the balance (zero allowed).
#[test]
fn v1_amounts_finer_than_the_currency_add_up_to_the_balance() {
    let moves = upcast_moves(
        "USD",
        &[
            (
                "MoneyDeposited",
                r#"{"account_id":"a","amount":0.001,"balance":0.001}"#,
            ),
            (
                "MoneyDeposited",
                r#"{"account_id":"a","amount":1.005,"balance":1.006}"#,
            ),
            (
                "MoneyWithdrawn",
                r#"{"account_id":"a","amount":0.002,"balance":1.004}"#,
            ),
            (
                "MoneyDeposited",
                r#"{"account_id":"a","amount":1.005,"balance":2.009}"#,
            ),
        ],
    );
    assert_eq!(moves, [(0, 0), (101, 101), (1, 100), (101, 201)]);
    // Rounded one by one, 1.005 twice would read 1.00 and 1.00 beside a balance of 2.01.
    let moves = upcast_moves(
        "USD",
        &[
            (
                "MoneyDeposited",
                r#"{"account_id":"a","amount":1.005,"balance":1.005}"#,
            ),
            (
                "MoneyDeposited",
                r#"{"account_id":"a","amount":1.005,"balance":2.01}"#,
            ),
        ],
    );
    assert_eq!(moves, [(100, 100), (101, 201)]);
    let moves = upcast_moves(
        "BHD",
        &[(
            "MoneyDeposited",
            r#"{"account_id":"a","amount":0.0004,"balance":0.0004}"#,
        )],
    );
    assert_eq!(moves, [(0, 0)]);
}

#[test]
fn large_v1_amounts_are_read_from_their_digits_not_through_f64() {
    // 9007199254740993 is not representable as f64; its text must survive.
    let jpy = Currency::parse("JPY").unwrap();
    let opened = Account::default().evolve(&AccountEvent::Opened {
        account_id: AccountId::parse("a").unwrap(),
        owner: Owner::parse("o").unwrap(),
        currency: jpy,
    });
    let raw = RawEvent {
        event_type: "MoneyDeposited",
        schema_version: 1,
        data: r#"{"account_id":"a","amount":9007199254740993,"balance":9007199254740993}"#,
    };
    let event = opened.decode(raw).expect("readable");
    assert_eq!(
        event.amount().map(Money::minor_units),
        Some(9_007_199_254_740_993)
    );
}

#[test]
fn a_v1_money_event_without_its_stream_asks_for_context() {
    let raw = RawEvent {
        event_type: "MoneyDeposited",
        schema_version: 1,
        data: r#"{"account_id":"a","amount":1.5,"balance":1.5}"#,
    };
    assert!(matches!(
        Account::default().decode(raw),
        Err(DecodeError::NeedsStreamContext { .. })
    ));
}

#[test]
fn unknown_types_and_versions_are_reported_not_guessed() {
    let raw = RawEvent {
        event_type: "MoneyDeposited",
        schema_version: 9,
        data: "{}",
    };
    assert!(matches!(
        Account::default().decode(raw),
        Err(DecodeError::Unknown { .. })
    ));
    let bad = RawEvent {
        event_type: "AccountOpened",
        schema_version: 2,
        data: r#"{"account_id":"a"}"#,
    };
    assert!(matches!(
        Account::default().decode(bad),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn current_events_round_trip_through_their_stored_form() {
    let usd = Currency::parse("USD").unwrap();
    let events = vec![
        AccountEvent::Opened {
            account_id: AccountId::parse("a").unwrap(),
            owner: Owner::parse("Ada \"quoted\" ünïcode").unwrap(),
            currency: usd,
        },
        AccountEvent::TransferCredited {
            account_id: AccountId::parse("a").unwrap(),
            transfer_id: TransferId::parse("t-1").unwrap(),
            counterparty: AccountId::parse("b").unwrap(),
            amount: Money::from_minor(1250, usd),
            balance: Money::from_minor(1250, usd),
            description: Some(Note::parse("rent").unwrap()),
        },
        AccountEvent::TransferDebited {
            account_id: AccountId::parse("b").unwrap(),
            transfer_id: TransferId::parse("t-1").unwrap(),
            counterparty: AccountId::parse("a").unwrap(),
            amount: Money::from_minor(1250, usd),
            balance: Money::from_minor(-1250, usd),
            description: Some(Note::parse("rent").unwrap()),
        },
        AccountEvent::PendingReserved {
            account_id: AccountId::parse("a").unwrap(),
            transfer_id: TransferId::parse("t-2").unwrap(),
            leg: Leg::Debit,
            counterparty: AccountId::parse("b").unwrap(),
            amount: Money::from_minor(300, usd),
            pending: Money::from_minor(300, usd),
            description: Some(Note::parse("hold").unwrap()),
        },
        AccountEvent::Deposited {
            account_id: AccountId::parse("a").unwrap(),
            amount: Money::from_minor(500, usd),
            balance: Money::from_minor(1750, usd),
            description: Some(Note::parse("salary").unwrap()),
        },
        AccountEvent::Withdrawn {
            account_id: AccountId::parse("a").unwrap(),
            amount: Money::from_minor(50, usd),
            balance: Money::from_minor(1700, usd),
            description: Some(Note::parse("fee").unwrap()),
        },
    ];
    for e in events {
        let enc = e.encode();
        assert_eq!(enc.schema_version, ACCOUNT_SCHEMA_VERSION);
        let raw = RawEvent {
            event_type: enc.event_type,
            schema_version: enc.schema_version,
            data: &enc.data,
        };
        assert_eq!(AccountEvent::decode(raw, None).expect("decodes"), e);
    }
}

#[test]
fn a_v1_closing_keeps_its_reason_and_an_empty_one_is_none() {
    let closed = |reason: &str| {
        let data = format!(
            r#"{{"type":"AccountClosed","aggregate_id":"a","version":3,"account_id":"a","reason":"{reason}"}}"#
        );
        let raw = RawEvent {
            event_type: "AccountClosed",
            schema_version: 1,
            data: &data,
        };
        match AccountEvent::decode(raw, None).expect("decodes") {
            AccountEvent::Closed { reason, .. } => reason.map(|r| r.as_str().to_owned()),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        closed("customer request"),
        Some("customer request".to_owned())
    );
    assert_eq!(closed(""), None);
}
