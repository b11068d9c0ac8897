//! Who may do what. A driving adapter resolves the caller's [`Principal`] (from a token
//! or an API key); every use case receives it and applies these rules, so no handler
//! decides access on its own.
//!
//! | role | commands | account queries | whole-ledger reads (analytics, feed) | admin |
//! |---|---|---|---|---|
//! | admin | yes | yes | yes | yes |
//! | operator | yes | yes | yes | no |
//! | reader | no | yes | yes | no |
//! | owner | its owner's accounts | its owner's accounts | no | no |
//!
//! An owner key meets another owner's account, or a transfer touching none of its
//! accounts, as if it did not exist.

use ledger_domain::{Account, Owner};

/// A role, and for an owner key whose accounts it acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Role {
    /// Everything (the admin token).
    Admin,
    /// Every command and query, the feed; not the admin endpoints.
    #[default]
    Operator,
    /// Queries and the feed.
    Reader,
    /// Commands and queries on the accounts of this owner only.
    Owner(Owner),
}

impl Role {
    /// Its name in the API: `admin`, `operator`, `reader`, `owner`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
            Self::Reader => "reader",
            Self::Owner(_) => "owner",
        }
    }

    /// The owner an owner key is scoped to.
    pub fn owner(&self) -> Option<&Owner> {
        match self {
            Self::Owner(o) => Some(o),
            _ => None,
        }
    }
}

/// What a use case needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Change accounts and transfers (in scope).
    Command,
    /// Read accounts and transfers (in scope).
    Query,
    /// Read across every owner: analytics, the global feed and its stream.
    Ledger,
    /// Administer: projections, API keys.
    Admin,
}

/// A refusal for the caller's role: 403 `forbidden`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub String);

/// The caller: the name its events record as their actor, and its role.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// `admin`, `api-token-N`, `key:<key_id>`, `anonymous` (an open API), or a
    /// background role's name (`expirer`).
    pub actor: String,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// A principal with this actor name and role.
    pub fn new(actor: impl Into<String>, role: Role) -> Self {
        Self {
            actor: actor.into(),
            role,
        }
    }

    /// The admin token's principal.
    pub fn admin() -> Self {
        Self::new("admin", Role::Admin)
    }

    /// The caller of an open API (no token or key configured): an operator.
    pub fn anonymous() -> Self {
        Self::new("anonymous", Role::Operator)
    }

    /// Whether it may do this; 403 `forbidden` otherwise.
    pub fn require(&self, what: Capability) -> Result<(), Forbidden> {
        let allowed = match (&self.role, what) {
            (Role::Admin, _) => true,
            (_, Capability::Admin) => false,
            (Role::Operator, _) => true,
            (Role::Reader, c) => c != Capability::Command,
            (Role::Owner(_), c) => c != Capability::Ledger,
        };
        if allowed {
            return Ok(());
        }
        Err(Forbidden(match what {
            Capability::Admin => "this endpoint needs the admin token".into(),
            Capability::Command => "a reader key cannot change anything".into(),
            _ => "an owner key reads only its own accounts, not the whole ledger".into(),
        }))
    }

    /// The owner whose accounts alone it sees (`None`: every account).
    pub fn scope(&self) -> Option<&Owner> {
        self.role.owner()
    }

    /// Whether it sees accounts of `owner`.
    pub fn sees_owner(&self, owner: &str) -> bool {
        self.scope().is_none_or(|o| o.as_str() == owner)
    }

    /// Whether it sees this account (one that does not exist is seen only by a
    /// principal with no scope; for an owner key it stays "not found").
    pub fn sees(&self, account: &Account) -> bool {
        match (self.scope(), account.details()) {
            (None, _) => true,
            (Some(o), Some(d)) => d.owner == *o,
            (Some(_), None) => false,
        }
    }

    /// Whether it may settle a pending transfer between these accounts: posting moves
    /// the payer's money, so an owner key posts only from its own accounts; voiding only
    /// gives the payer its reservation back, so either side's owner may.
    pub fn may_settle(&self, posting: bool, payer: &Account, payee: &Account) -> bool {
        self.sees(payer) || (!posting && self.sees(payee))
    }

    /// Whether it may open an account for `owner` (an owner key: only for its own).
    pub fn may_open_for(&self, owner: &Owner) -> Result<(), Forbidden> {
        match self.scope() {
            Some(o) if o != owner => Err(Forbidden(format!(
                "this key opens accounts only for owner {o}"
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(o: &str) -> Principal {
        Principal::new("key:k", Role::Owner(Owner::parse(o).expect("owner")))
    }

    #[test]
    fn each_role_has_exactly_its_capabilities() {
        use Capability::*;
        let table = [
            (Principal::admin(), [true, true, true, true]),
            (Principal::anonymous(), [true, true, true, false]),
            (
                Principal::new("r", Role::Reader),
                [false, true, true, false],
            ),
            (owner("alice"), [true, true, false, false]),
        ];
        for (who, expected) in table {
            let got = [Command, Query, Ledger, Admin].map(|c| who.require(c).is_ok());
            assert_eq!(got, expected, "{who:?}");
        }
    }

    #[test]
    fn an_owner_key_opens_only_for_its_owner() {
        let alice = Owner::parse("alice").expect("owner");
        let bob = Owner::parse("bob").expect("owner");
        assert!(owner("alice").may_open_for(&alice).is_ok());
        assert!(owner("alice").may_open_for(&bob).is_err());
        assert!(Principal::anonymous().may_open_for(&bob).is_ok());
        assert!(owner("alice").sees_owner("alice"));
        assert!(!owner("alice").sees_owner("bob"));
        assert!(!owner("alice").sees(&Account::default()));
        assert!(Principal::anonymous().sees(&Account::default()));
    }

    fn owned_by(o: &str) -> Account {
        let opened = ledger_domain::AccountEvent::Opened {
            account_id: ledger_domain::AccountId::parse(format!("{o}-acc")).expect("id"),
            owner: Owner::parse(o).expect("owner"),
            currency: ledger_domain::Currency::parse("USD").expect("currency"),
        };
        ledger_domain::fold(Account::default(), [&opened])
    }

    /// Posting moves the payer's money: only the payer's owner (or a key without a
    /// scope) posts. Voiding gives the payer its reservation back: either side's owner.
    #[test]
    fn an_owner_key_posts_only_from_its_own_accounts_and_voids_from_either_side() {
        let (alice, bob) = (owned_by("alice"), owned_by("bob"));
        let cases = [
            // (caller, posting, payer, payee, may settle)
            (owner("alice"), true, &alice, &bob, true),
            (owner("alice"), false, &alice, &bob, true),
            (owner("bob"), true, &alice, &bob, false),
            (owner("bob"), false, &alice, &bob, true),
            (owner("carol"), true, &alice, &bob, false),
            (owner("carol"), false, &alice, &bob, false),
            (Principal::anonymous(), true, &alice, &bob, true),
        ];
        for (who, posting, payer, payee, expected) in cases {
            let got = who.may_settle(posting, payer, payee);
            assert_eq!(got, expected, "{who:?} posting={posting}");
        }
        assert!(owner("alice").sees(&alice));
        assert!(!owner("alice").sees(&bob));
    }

    #[test]
    fn roles_are_named_as_the_api_names_them_and_refusals_say_why() {
        let names = [
            Principal::admin(),
            Principal::anonymous(),
            Principal::new("r", Role::Reader),
            owner("alice"),
        ]
        .map(|p| p.role.name());
        assert_eq!(names, ["admin", "operator", "reader", "owner"]);
        assert_eq!(Principal::admin().actor, "admin");
        assert_eq!(Principal::anonymous().actor, "anonymous");
        assert_eq!(owner("alice").scope().map(Owner::as_str), Some("alice"));
        assert_eq!(Principal::anonymous().scope(), None);
        let said = |who: Principal, what| who.require(what).unwrap_err().0;
        assert!(said(Principal::anonymous(), Capability::Admin).contains("admin token"));
        let reader = Principal::new("r", Role::Reader);
        assert!(said(reader, Capability::Command).contains("reader key"));
        assert!(said(owner("alice"), Capability::Ledger).contains("owner key"));
        let refused = owner("alice").may_open_for(&Owner::parse("bob").expect("owner"));
        assert!(refused.unwrap_err().0.contains("owner alice"));
    }
}
