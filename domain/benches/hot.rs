//! Criterion micro-benchmarks of the domain's hot functions: what every command and
//! every replayed event goes through. `cargo bench -p ledger-domain`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ledger_domain::integrity::ChainedEvent;
use ledger_domain::ChainHash;
use ledger_domain::{
    fold, Account, AccountCommand, AccountEvent, AccountId, Aggregate, Currency, Decimal, Money,
    Owner, RawEvent,
};

fn opened() -> Account {
    let open = AccountCommand::Open {
        id: AccountId::parse("bench-1").unwrap(),
        owner: Owner::parse("Ada").unwrap(),
        currency: Currency::parse("USD").unwrap(),
        overdraft_limit: None,
    };
    let events = Account::default().decide(&open).unwrap();
    fold(Account::default(), &events)
}

fn deposit(amount: &str) -> AccountCommand {
    AccountCommand::Deposit {
        amount: Decimal::parse(amount).unwrap(),
        description: None,
    }
}

fn hot(c: &mut Criterion) {
    let usd = Currency::parse("USD").unwrap();
    c.bench_function("money: parse a decimal amount into USD minor units", |b| {
        b.iter(|| Money::parse(black_box("12345.67"), usd).unwrap())
    });
    c.bench_function("money: format", |b| {
        let m = Money::parse("12345.67", usd).unwrap();
        b.iter(|| black_box(&m).to_string())
    });

    let account = opened();
    let command = deposit("10.25");
    c.bench_function("account: decide a deposit", |b| {
        b.iter(|| black_box(&account).decide(black_box(&command)).unwrap())
    });
    let events = account.decide(&command).unwrap();
    c.bench_function("account: evolve by a deposit", |b| {
        b.iter(|| black_box(account.clone()).evolve(black_box(&events[0])))
    });

    let encoded = Account::encode(&events[0]);
    c.bench_function("event: encode a deposit (JSON, schema v2)", |b| {
        b.iter(|| Account::encode(black_box(&events[0])))
    });
    c.bench_function("event: decode a deposit (JSON, schema v2)", |b| {
        let raw = RawEvent {
            event_type: encoded.event_type,
            schema_version: encoded.schema_version,
            data: &encoded.data,
        };
        b.iter(|| account.decode(black_box(raw)).unwrap())
    });

    let at = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00.123456Z")
        .unwrap()
        .to_utc();
    let chained = ChainedEvent {
        event_id: "0190c5a4-0000-7000-8000-000000000001",
        event_type: encoded.event_type,
        schema_version: encoded.schema_version,
        stream_id: "bench-1",
        version: 2,
        recorded_at: at,
        data: &encoded.data,
        metadata: r#"{"actor":"anonymous","request_id":"51e84b5c-33f0-4a51-8d76-189bc756c3be","causation_id":"01a23a22-dd3d-7492-82ee-31fbd4ebaf30"}"#,
        prev_hash: ChainHash([7; 32]),
    };
    c.bench_function(
        "event: hash a deposit (canonical encoding + SHA-256)",
        |b| b.iter(|| black_box(&chained).hash()),
    );

    let many: Vec<AccountEvent> = (0..1000)
        .flat_map(|_| account.decide(&command).unwrap())
        .collect();
    c.bench_function("account: fold 1,000 deposits", |b| {
        b.iter(|| fold(black_box(account.clone()), black_box(&many)))
    });
}

criterion_group!(benches, hot);
criterion_main!(benches);
