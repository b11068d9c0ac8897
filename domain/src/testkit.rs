//! A given/when/then test kit for any [`Aggregate`].
//!
//! ```
//! use ledger_domain::testkit::{given, DecideForTest};
//! use ledger_domain::{Account, AccountCommand, AccountId, Currency, DomainError, Owner};
//!
//! let open = AccountCommand::Open {
//!     id: AccountId::parse("a").unwrap(),
//!     owner: Owner::parse("Ada").unwrap(),
//!     currency: Currency::parse("USD").unwrap(),
//!     overdraft_limit: None,
//! };
//! let opened = Account::default().decide_for_test(&open);
//! given::<Account>(opened).when(open).then_error(DomainError::AccountExists);
//! ```

use crate::aggregate::{fold, Aggregate};

/// Starts a scenario from past events.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    Given {
        events: events.into_iter().collect(),
    }
}

/// Starts a scenario from no events.
pub fn given_no_events<A: Aggregate>() -> Given<A> {
    given(Vec::new())
}

/// Past events of a scenario.
#[derive(Debug)]
pub struct Given<A: Aggregate> {
    events: Vec<A::Event>,
}

impl<A: Aggregate> Given<A> {
    /// The command under test.
    pub fn when(self, command: A::Command) -> When<A> {
        let state = fold(A::default(), &self.events);
        When {
            result: state.decide(&command),
            state,
        }
    }
}

/// The outcome of a scenario.
#[derive(Debug)]
pub struct When<A: Aggregate> {
    state: A,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> When<A> {
    /// Asserts the command produced exactly these events; returns the state after them.
    #[track_caller]
    pub fn then_events(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<_> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "the command produced other events");
                fold(self.state, &events)
            }
            Err(e) => panic!("expected events {expected:?}, the command was refused: {e:?}"),
        }
    }

    /// Asserts the command was refused with this error.
    #[track_caller]
    pub fn then_error(self, expected: A::Error) {
        match self.result {
            Ok(events) => panic!("expected error {expected:?}, got events {events:?}"),
            Err(e) => assert_eq!(e, expected, "the command was refused otherwise"),
        }
    }

    /// The raw result, for custom assertions.
    pub fn result(self) -> Result<Vec<A::Event>, A::Error> {
        self.result
    }
}

/// Convenience for tests: decide on a state and return the events, panicking on refusal.
pub trait DecideForTest: Aggregate {
    /// Decides and unwraps.
    #[track_caller]
    fn decide_for_test(&self, command: &Self::Command) -> Vec<Self::Event> {
        match self.decide(command) {
            Ok(events) => events,
            Err(e) => panic!("command {command:?} refused: {e:?}"),
        }
    }
}

impl<A: Aggregate> DecideForTest for A {}
