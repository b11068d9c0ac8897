//! Pass 4's arithmetic: an account event records the balance (or the amount held) it
//! leaves, and the projection takes that figure as written. Each one must follow from
//! the account before it and the event's amount; one that does not was not written by
//! the service (black-box testing appended a copy of an older deposit, its recorded
//! balance now wrong, and verify found nothing).

use ledger_domain::{AccountEvent, Leg, Money};

use crate::views::AccountView;

/// An event that lowers what the account may spend and leaves it below its overdraft
/// limit (`available + overdraft_limit < 0`), or holds a negative amount: the service
/// refuses both (`insufficient_funds`, `limit_below_debt`), so such an event was not
/// written by it, however its figures add up.
pub(crate) fn overdrawn(after: &AccountView, event: &AccountEvent) -> Option<String> {
    use AccountEvent as E;
    let lowers = matches!(
        event,
        E::Withdrawn { .. }
            | E::TransferDebited { .. }
            | E::OverdraftLimitSet { .. }
            | E::PendingReserved {
                leg: Leg::Debit,
                ..
            }
    );
    if after.pending_out.minor_units() < 0 || after.pending_in.minor_units() < 0 {
        return Some(format!(
            "the account holds a negative amount (pending_out {}, pending_in {})",
            after.pending_out, after.pending_in
        ));
    }
    let room = i128::from(after.balance.minor_units())
        - i128::from(after.pending_out.minor_units())
        + i128::from(after.overdraft_limit.minor_units());
    (lowers && room < 0).then(|| {
        format!(
            "the event leaves balance {} with {} held, beyond the overdraft limit {}: the \
             service refuses that",
            after.balance, after.pending_out, after.overdraft_limit
        )
    })
}

/// What the event records that the account before it and its amount do not give, if
/// anything.
pub(crate) fn unexplained(before: &AccountView, event: &AccountEvent) -> Option<String> {
    use AccountEvent as E;
    let held = |leg: &Leg| match leg {
        Leg::Debit => ("pending_out", before.pending_out),
        Leg::Credit => ("pending_in", before.pending_in),
    };
    // (field, recorded, before, amount, whether the amount adds): at most two per
    // event, kept on the stack (this runs for every account event verify reads).
    type Move<'a> = Option<(&'a str, Money, Money, Money, bool)>;
    let moves: [Move; 2] = match event {
        E::Deposited {
            amount, balance, ..
        }
        | E::TransferCredited {
            amount, balance, ..
        } => [
            Some(("balance", *balance, before.balance, *amount, true)),
            None,
        ],
        E::Withdrawn {
            amount, balance, ..
        }
        | E::TransferDebited {
            amount, balance, ..
        } => [
            Some(("balance", *balance, before.balance, *amount, false)),
            None,
        ],
        E::PendingReserved {
            leg,
            amount,
            pending,
            ..
        } => {
            let (field, was) = held(leg);
            [Some((field, *pending, was, *amount, true)), None]
        }
        E::PendingReleased {
            leg,
            amount,
            pending,
            ..
        } => {
            let (field, was) = held(leg);
            [Some((field, *pending, was, *amount, false)), None]
        }
        E::PendingPosted {
            leg,
            amount,
            balance,
            pending,
            ..
        } => {
            let (field, was) = held(leg);
            let credit = matches!(leg, Leg::Credit);
            [
                Some((field, *pending, was, *amount, false)),
                Some(("balance", *balance, before.balance, *amount, credit)),
            ]
        }
        E::Opened { .. } | E::Closed { .. } | E::OverdraftLimitSet { .. } => [None, None],
    };
    let wrong: Vec<String> = moves
        .into_iter()
        .flatten()
        .filter_map(|(field, recorded, was, amount, adds)| {
            let given = match adds {
                true => was.checked_add(amount),
                false => was.checked_sub(amount),
            };
            let sign = if adds { '+' } else { '-' };
            match given {
                Ok(given) if given == recorded => None,
                Ok(given) => Some(format!(
                    "{field}: recorded {recorded}, but {was} {sign} {amount} is {given}"
                )),
                Err(e) => Some(format!("{field}: {was} {sign} {amount}: {e}")),
            }
        })
        .collect();
    (!wrong.is_empty()).then(|| {
        format!(
            "the event's figures do not follow from the account before it: {}",
            wrong.join("; ")
        )
    })
}
