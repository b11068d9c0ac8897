//! JSON text written canonically (the `data` and `metadata` of an event's canonical
//! encoding, `integrity.rs`): objects with their keys sorted (by bytes), no whitespace,
//! strings escaped only where JSON requires it, and numbers exactly as written (never
//! through a float, so `10.125` and `10.1250000000000001` differ). Text that is not JSON
//! is written as one JSON string.
//!
//! Text the service writes is almost always canonical already (its events serialize
//! their fields in sorted order, without whitespace): that is checked in one pass with
//! no allocation and the text copied as it is; anything else is rewritten.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

/// Appends `text`'s canonical form to `out`.
pub(crate) fn write(text: &str, out: &mut Vec<u8>) {
    if is_canonical(text) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    rewrite(text, out);
}

/// The general path: parsed, and written again.
fn rewrite(text: &str, out: &mut Vec<u8>) {
    let mut canonical = Vec::with_capacity(text.len());
    match serde_json::from_str::<&RawValue>(text).map(|raw| write_raw(raw, &mut canonical)) {
        Ok(Ok(())) => out.extend_from_slice(&canonical),
        _ => {
            let _ = serde_json::to_writer(&mut *out, text);
        }
    }
}

fn write_raw(raw: &RawValue, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'{') => {
            let Fields(fields) = serde_json::from_str(text)?;
            out.push(b'{');
            for (i, (key, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                write_raw(value, out)?;
            }
            out.push(b'}');
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_raw(item, out)?;
            }
            out.push(b']');
        }
        Some(b'"') => serde_json::to_writer(&mut *out, &serde_json::from_str::<String>(text)?)?,
        // Numbers, `true`, `false`, `null`: their text as written.
        _ => out.extend_from_slice(text.as_bytes()),
    }
    Ok(())
}

/// An object's fields by key, refusing a key given twice: which of the two counts is
/// each reader's guess, so such text is not JSON this encoding writes (it is written as
/// one string, whose hash no event of the service has).
struct Fields<'a>(BTreeMap<String, &'a RawValue>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut fields = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    if fields.insert(key, value).is_some() {
                        return Err(serde::de::Error::custom("a key given twice"));
                    }
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// Whether `text` is valid JSON already in canonical form: no whitespace outside
/// strings, no escape in any string (an escape may have another canonical spelling),
/// and each object's keys in strictly increasing byte order (so no key twice).
fn is_canonical(text: &str) -> bool {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return false;
    }
    // Valid JSON from here on: only the canonical rules are checked.
    let bytes = text.as_bytes();
    // Per open container: `Some(previous key)` for an object (`None` before its first
    // key), and whether the next string in it is a key.
    let mut stack: Vec<(Option<Option<&[u8]>>, bool)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b'\\' => return false,
            b'{' => stack.push((Some(None), true)),
            b'[' => stack.push((None, false)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some((Some(_), expect_key)) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            b'"' => {
                let start = i + 1;
                let Some(len) = bytes[start..].iter().position(|&b| b == b'"') else {
                    return false;
                };
                let string = &bytes[start..start + len];
                if string.contains(&b'\\') {
                    return false;
                }
                if let Some((Some(previous), expect_key @ true)) = stack.last_mut() {
                    if previous.is_some_and(|p| p >= string) {
                        return false;
                    }
                    *previous = Some(string);
                    *expect_key = false;
                }
                i = start + len;
            }
            _ => {}
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(text: &str) -> (Vec<u8>, Vec<u8>) {
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        write(text, &mut fast);
        rewrite(text, &mut slow);
        (fast, slow)
    }

    #[test]
    fn canonical_text_is_recognised_and_other_text_is_not() {
        assert!(is_canonical(r#"{"a":1,"b":{"c":[1,{"d":"x","e":null}]}}"#));
        assert!(is_canonical(r#""text""#));
        assert!(is_canonical(r#"{"b":["a","a"],"c":{"a":1}}"#));
        // A string's escapes are written in their one canonical spelling.
        let mut out = Vec::new();
        write(r#"{"b":1,"a":"\u0041\/"}"#, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":"A/","b":1}"#);
        for not in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a": 1}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a\n":1}"#,
            " 1",
            "not json",
            r#"{"a":1"#,
            r#"{"a":1}x"#,
            // Keys out of order after an array or an object inside: each container is
            // its own.
            r#"{"a":["x","y"],"c":1,"b":2}"#,
            r#"{"b":[1],"a":1}"#,
            r#"{"b":{"c":1},"a":1}"#,
        ] {
            assert!(!is_canonical(not), "{not}");
            let (fast, slow) = both(not);
            assert_eq!(fast, slow, "{not}");
        }
    }

    /// A key given twice is not read as either of its values (keeping the last made
    /// `{"amount":"999.00","amount":"1.00"}` hash as `{"amount":"1.00"}`).
    #[test]
    fn an_object_with_a_key_twice_is_written_as_a_string() {
        let twice = r#"{"amount":"999.00", "amount":"1.00"}"#;
        let mut out = Vec::new();
        write(twice, &mut out);
        assert_eq!(out, serde_json::to_vec(twice).unwrap());
        let (mut nested, mut last) = (Vec::new(), Vec::new());
        write(r#"{"a":{"b":1, "b":2}}"#, &mut nested);
        write(r#"{"a":{"b":2}}"#, &mut last);
        assert_ne!(nested, last);
    }

    #[test]
    fn every_kind_of_event_the_domain_writes_is_canonical_as_written() {
        use crate::{
            Account, AccountEvent, AccountId, Aggregate, Currency, Leg, Money, Note, Owner,
            Release, Transfer, TransferEvent, TransferId, TransferRecorded,
        };
        let usd = Currency::parse("USD").expect("usd");
        let m = |s: &str| Money::parse(s, usd).expect("money");
        let (a, b) = (
            AccountId::parse("acc-1").expect("id"),
            AccountId::parse("acc-2").expect("id"),
        );
        let t = TransferId::parse("t-1").expect("id");
        let note = Some(Note::parse("rent").expect("note"));
        let accounts = [
            AccountEvent::Opened {
                account_id: a.clone(),
                owner: Owner::parse("Ada").expect("owner"),
                currency: usd,
            },
            AccountEvent::Deposited {
                account_id: a.clone(),
                amount: m("1.00"),
                balance: m("2.00"),
                description: note.clone(),
            },
            AccountEvent::TransferDebited {
                account_id: a.clone(),
                transfer_id: t.clone(),
                counterparty: b.clone(),
                amount: m("1.00"),
                balance: m("1.00"),
                description: note.clone(),
            },
            AccountEvent::Closed {
                account_id: a.clone(),
                reason: note.clone(),
            },
            AccountEvent::OverdraftLimitSet {
                account_id: a.clone(),
                limit: m("5.00"),
            },
            AccountEvent::PendingReserved {
                account_id: a.clone(),
                transfer_id: t.clone(),
                leg: Leg::Debit,
                counterparty: b.clone(),
                amount: m("1.00"),
                pending: m("1.00"),
                description: note.clone(),
            },
            AccountEvent::PendingPosted {
                account_id: a.clone(),
                transfer_id: t.clone(),
                leg: Leg::Credit,
                counterparty: b.clone(),
                amount: m("1.00"),
                balance: m("1.00"),
                pending: m("0.00"),
            },
            AccountEvent::PendingReleased {
                account_id: a.clone(),
                transfer_id: t.clone(),
                leg: Leg::Debit,
                counterparty: b.clone(),
                amount: m("1.00"),
                pending: m("0.00"),
                reason: Release::Expired,
            },
        ];
        for e in &accounts {
            let data = Account::encode(e).data;
            assert!(is_canonical(&data), "{data}");
        }
        let recorded = TransferRecorded {
            transfer_id: t.clone(),
            from: a,
            to: b,
            amount: m("1.00"),
            description: note.clone(),
        };
        let transfers = [
            TransferEvent::Recorded(recorded.clone()),
            TransferEvent::PendingCreated {
                transfer: recorded,
                expires_at: Some(chrono::DateTime::UNIX_EPOCH),
            },
            TransferEvent::Posted {
                transfer_id: t.clone(),
                amount: m("1.00"),
                remaining: m("0.00"),
            },
            TransferEvent::Voided {
                transfer_id: t,
                released: m("1.00"),
                reason: note,
            },
        ];
        for e in &transfers {
            let data = Transfer::encode(e).data;
            assert!(is_canonical(&data), "{data}");
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            "[a-c\"\\\\é\n ]{0,4}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-c\"é]{0,3}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_shortcut_writes_what_the_general_path_writes(
            value in json_value(),
            pretty in any::<bool>(),
        ) {
            let text = if pretty {
                serde_json::to_string_pretty(&value)
            } else {
                serde_json::to_string(&value)
            }
            .expect("json");
            let (fast, slow) = both(&text);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn any_text_is_written_alike(text in ".{0,24}") {
            let (fast, slow) = both(&text);
            prop_assert_eq!(fast, slow);
        }
    }
}
