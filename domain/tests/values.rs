//! New values are held to today's rules; stored ones are read by the rules they were
//! written under, so events recorded before a rule tightened still decode.

use ledger_domain::{AccountId, Note, Owner, TransferId};

#[test]
fn dot_ids_are_refused_when_new_and_read_when_stored() {
    for id in [".", ".."] {
        assert!(AccountId::parse(id).is_err(), "{id}");
        assert!(TransferId::parse(id).is_err(), "{id}");
        assert!(AccountId::from_stored(id).is_ok(), "{id}");
        let stored: AccountId = serde_json::from_str(&format!("\"{id}\"")).unwrap();
        assert_eq!(stored.as_str(), id);
    }
    assert!(AccountId::parse("..a").is_ok());
    assert!(AccountId::parse("a.b").is_ok());
}

#[test]
fn control_characters_are_refused_when_new_and_read_when_stored() {
    for text in ["a\tb", "a\nb"] {
        assert!(Owner::parse(text).is_err(), "{text:?}");
        assert!(Note::parse(text).is_err(), "{text:?}");
        assert!(Owner::from_stored(text).is_ok(), "{text:?}");
        let stored: Note = serde_json::from_str(&serde_json::to_string(text).unwrap()).unwrap();
        assert_eq!(stored.as_str(), text);
    }
    for text in ["a\u{0}b", "a\u{7f}b", "a\rb"] {
        assert!(Note::parse(text).is_err(), "{text:?}");
        assert!(Note::from_stored(text).is_err(), "never accepted: {text:?}");
    }
}
