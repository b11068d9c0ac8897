//! Validated value types: account and transfer ids, owner names, free-text notes.
//!
//! Each has a private field and a fallible `parse`, so holding one proves it is valid.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a value was refused; every variant maps to `validation_failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// An id with a forbidden character or length.
    #[error("{what} must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-', other than '.' and '..'")]
    BadId {
        /// Which id.
        what: &'static str,
    },
    /// An owner outside its length bounds, blank, or with control characters.
    #[error("owner must be 1-200 characters, not blank, without control characters")]
    BadOwner,
    /// A text field outside its length bounds or with control characters.
    #[error("{what} must be {min}-{max} characters without control characters")]
    BadText {
        /// Which field.
        what: &'static str,
        /// Minimum length in characters.
        min: usize,
        /// Maximum length in characters.
        max: usize,
    },
    /// A number outside its range.
    #[error("{what} must be {range}")]
    OutOfRange {
        /// Which field.
        what: &'static str,
        /// The range, in words.
        range: &'static str,
    },
}

/// What ids stored by earlier versions may hold (their events must still be read).
fn stored_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A new id: also not `.` or `..`, which every URL resolver reads as a path step
/// (`/accounts/..` is `/`).
fn valid_id(s: &str) -> bool {
    stored_id(s) && s != "." && s != ".."
}

/// What texts stored by earlier versions may hold: tab and newline were accepted.
fn stored_text(s: &str, min: usize, max: usize) -> bool {
    let n = s.chars().count();
    (min..=max).contains(&n) && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// A new text: no control character at all.
fn valid_text(s: &str, min: usize, max: usize) -> bool {
    stored_text(s, min, max) && !s.chars().any(char::is_control)
}

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, $check:expr, $stored:expr, $err:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates a new value.
            pub fn parse(s: impl Into<String>) -> Result<Self, ValueError> {
                let s = s.into();
                let check: fn(&str) -> bool = $check;
                if check(&s) { Ok(Self(s)) } else { Err($err) }
            }

            /// Reads a value from a stored event, by the rules it was written under
            /// (looser than [`Self::parse`] where earlier versions accepted more).
            pub fn from_stored(s: impl Into<String>) -> Result<Self, ValueError> {
                let s = s.into();
                let check: fn(&str) -> bool = $stored;
                if check(&s) { Ok(Self(s)) } else { Err($err) }
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Deserialized values are stored ones (events, snapshots, records).
                Self::from_stored(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_value!(
    /// An account id: 1-64 characters of `[A-Za-z0-9._:-]`, other than `.` and `..`.
    ///
    /// ```
    /// use ledger_domain::AccountId;
    /// assert!(AccountId::parse("acc-1").is_ok());
    /// assert!(AccountId::parse("a/b").is_err());
    /// assert!(AccountId::parse("..").is_err());
    /// ```
    AccountId,
    valid_id,
    stored_id,
    ValueError::BadId { what: "account_id" }
);

string_value!(
    /// A transfer id: 1-64 characters of `[A-Za-z0-9._:-]`, other than `.` and `..`.
    TransferId,
    valid_id,
    stored_id,
    ValueError::BadId { what: "transfer_id" }
);

/// Whether `s` shows nothing: white space and characters that render as nothing
/// (Unicode's default-ignorable code points: zero-width spaces and joiners,
/// bidirectional marks, the byte-order mark, fillers, variation selectors, tags). A
/// name made of them reads as no name.
///
/// ```
/// use ledger_domain::{is_blank, Owner};
/// assert!(is_blank(" \u{a0}\u{200b}\u{feff}\u{180e}"));
/// assert!(!is_blank("Ada"));
/// assert!(Owner::parse("\u{200b}").is_err());
/// assert!(Owner::parse("Ada\u{200b}").is_ok());
/// ```
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_whitespace()
            || matches!(c,
                '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
                | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}')
    })
}

string_value!(
    /// The account owner's name: 1-200 characters, not blank ([`is_blank`]).
    Owner,
    |s| valid_text(s, 1, 200) && !is_blank(s),
    |s| stored_text(s, 1, 200) && !s.trim().is_empty(),
    ValueError::BadOwner
);

string_value!(
    /// A free-text description or closing reason: at most 500 characters.
    Note,
    |s| valid_text(s, 0, 500),
    |s| stored_text(s, 0, 500),
    ValueError::BadText { what: "description/reason", min: 0, max: 500 }
);
