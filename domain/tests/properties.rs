//! Properties of the Account aggregate over random command sequences.

use ledger_domain::*;
use proptest::prelude::*;

fn command() -> impl Strategy<Value = AccountCommand> {
    let amount = (0u64..100_000, 0u32..3).prop_map(|(units, scale)| {
        let text = match scale {
            0 => units.to_string(),
            s => format!(
                "{}.{:0width$}",
                units / 100,
                units % 100,
                width = s as usize
            ),
        };
        Decimal::parse(&text).unwrap()
    });
    prop_oneof![
        3 => amount.clone().prop_map(|amount| AccountCommand::Deposit { amount, description: None }),
        3 => amount.clone().prop_map(|amount| AccountCommand::Withdraw { amount, description: None }),
        1 => Just(AccountCommand::Close { reason: None }),
        2 => amount.clone().prop_map(|amount| AccountCommand::DebitTransfer {
            transfer_id: TransferId::parse("t").unwrap(),
            to: AccountId::parse("other").unwrap(),
            amount,
            description: None,
        }),
        2 => amount.prop_map(|amount| AccountCommand::CreditTransfer {
            transfer_id: TransferId::parse("t").unwrap(),
            from: AccountId::parse("other").unwrap(),
            amount,
            description: None,
        }),
    ]
}

fn open() -> AccountCommand {
    AccountCommand::Open {
        id: AccountId::parse("acc").unwrap(),
        owner: Owner::parse("Ada").unwrap(),
        currency: Currency::parse("USD").unwrap(),
        overdraft_limit: None,
    }
}

/// Runs the commands, keeping the accepted events and every intermediate state.
fn run(commands: &[AccountCommand]) -> (Vec<AccountEvent>, Vec<Account>) {
    let mut state = Account::default();
    let mut events = Vec::new();
    let mut states = Vec::new();
    for c in std::iter::once(&open()).chain(commands) {
        if let Ok(new) = state.decide(c) {
            for e in &new {
                state = state.clone().evolve(e);
                states.push(state.clone());
            }
            events.extend(new);
        }
    }
    (events, states)
}

proptest! {
    #[test]
    fn folding_all_events_gives_the_incremental_state(commands in prop::collection::vec(command(), 0..60)) {
        let (events, states) = run(&commands);
        let folded = fold(Account::default(), &events);
        prop_assert_eq!(Some(&folded), states.last());
    }

    #[test]
    fn the_balance_never_goes_negative(commands in prop::collection::vec(command(), 0..60)) {
        let (_, states) = run(&commands);
        for s in states {
            prop_assert!(s.details().unwrap().balance.minor_units() >= 0);
        }
    }

    #[test]
    fn the_balance_is_money_in_minus_money_out(commands in prop::collection::vec(command(), 0..60)) {
        let (events, states) = run(&commands);
        let net: i64 = events.iter().map(|e| match e {
            AccountEvent::Deposited { amount, .. } | AccountEvent::TransferCredited { amount, .. } => amount.minor_units(),
            AccountEvent::Withdrawn { amount, .. } | AccountEvent::TransferDebited { amount, .. } => -amount.minor_units(),
            _ => 0,
        }).sum();
        prop_assert_eq!(states.last().unwrap().details().unwrap().balance.minor_units(), net);
    }

    #[test]
    fn replaying_the_stored_form_rebuilds_the_same_state(commands in prop::collection::vec(command(), 0..60)) {
        let (events, states) = run(&commands);
        let encoded: Vec<EncodedEvent> = events.iter().map(Account::encode).collect();
        // Every type stored is one the API's `event_type` filters take.
        prop_assert!(encoded.iter().all(|e| ledger_domain::EVENT_TYPES.contains(&e.event_type)));
        let raws = encoded.iter().map(|e| RawEvent { event_type: e.event_type, schema_version: e.schema_version, data: &e.data });
        let replayed = replay(Account::default(), raws).unwrap();
        prop_assert_eq!(Some(&replayed), states.last());
    }

    #[test]
    fn a_snapshot_of_the_state_round_trips(commands in prop::collection::vec(command(), 0..30)) {
        let (_, states) = run(&commands);
        let state = states.last().unwrap();
        let text = serde_json::to_string(state).unwrap();
        prop_assert_eq!(&serde_json::from_str::<Account>(&text).unwrap(), state);
    }
}
