//! Pass 3 of `ledger verify`: every seal's event count, feed digest and signature.

use std::collections::BTreeMap;

use ledger_domain::integrity::{Seal, SEAL_STREAM};
use ledger_domain::ChainHash;

use crate::ports::store::{FeedCursor, StreamQuery};
use crate::queries::QueryError;
use crate::seal_latest::signature_holds;
use crate::verify::{Finding, Pass, Report, Verifier, PAGE};

impl Verifier {
    /// Every seal, by the cursor it names (a seal that cannot be read is a finding).
    pub(crate) async fn seals(
        &self,
        findings: &mut Vec<Finding>,
    ) -> Result<BTreeMap<FeedCursor, StoredSeal>, QueryError> {
        let mut seals = BTreeMap::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .read_stream(StreamQuery {
                    stream_id: SEAL_STREAM,
                    after_version: after,
                    until: None,
                    limit: PAGE,
                })
                .await?;
            let n = page.len();
            for e in page {
                after = e.version;
                let parsed = serde_json::from_str::<Seal>(&e.data)
                    .map_err(|err| err.to_string())
                    .and_then(|s| {
                        let at = s.cursor.parse::<FeedCursor>();
                        at.map(|at| (at, s))
                            .map_err(|()| "unreadable cursor".to_owned())
                    });
                match parsed {
                    Ok((at, seal)) => {
                        seals.insert(
                            at,
                            StoredSeal {
                                seal,
                                version: e.version,
                                position: e.cursor.position,
                            },
                        );
                    }
                    Err(why) => findings.push(Finding {
                        pass: Pass::Seals,
                        stream_id: Some(SEAL_STREAM.into()),
                        version: Some(e.version),
                        position: Some(e.cursor.position),
                        detail: format!("unreadable seal: {why}"),
                    }),
                }
            }
            if n < PAGE {
                return Ok(seals);
            }
        }
    }

    /// A kept seal whose cursor the feed never reached: a finding.
    pub(crate) fn kept_seal_unmet(&self, report: &Report, findings: &mut Vec<Finding>) {
        if let Some(kept) = self.kept_seal.filter(|_| !report.kept_seal_compared) {
            findings.push(kept.finding(format!(
                "the seal kept outside the store names cursor {}, which is no event of the \
                 feed: the history it sealed is gone",
                kept.cursor
            )));
        }
    }

    pub(crate) fn check_seal(
        &self,
        s: &StoredSeal,
        events: u64,
        digest: ChainHash,
        findings: &mut Vec<Finding>,
    ) {
        let mut wrong = |detail: String| {
            findings.push(Finding {
                pass: Pass::Seals,
                stream_id: Some(SEAL_STREAM.into()),
                version: Some(s.version),
                position: Some(s.position),
                detail,
            })
        };
        if s.seal.events != events {
            wrong(format!(
                "the seal covers {} events up to {}, the feed holds {events}",
                s.seal.events, s.seal.cursor
            ));
        }
        if s.seal.digest != digest.to_string() {
            wrong(format!(
                "the feed digest up to {} is {digest}, the seal signed {}: an event up to there was changed, inserted, removed or reordered",
                s.seal.cursor, s.seal.digest
            ));
        }
        if self.public_keys.is_empty() {
            return;
        }
        let named = self
            .public_keys
            .iter()
            .find(|k| ChainHash(k.to_bytes()).to_string() == s.seal.public_key);
        match named {
            Some(key) if signature_holds(&s.seal, key) => {}
            Some(_) => wrong("the seal's signature does not verify with the public key".into()),
            None => wrong(format!(
                "the seal names the public key {}, not one given: its signature is not \
                 one of the keys' (after a change of signing key, give both)",
                s.seal.public_key
            )),
        }
    }
}

/// A seal kept outside the store (`GET /admin/seals/latest`, or the relay's copy): what
/// the feed up to its cursor held when it was made. Deleting every stored seal and
/// changing events leaves the service to seal the changed history with the real key;
/// only a seal kept elsewhere contradicts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptSeal {
    /// The cursor of the last event it covers.
    pub cursor: FeedCursor,
    /// How many events it covers.
    pub events: u64,
    /// The feed digest up to its cursor.
    pub digest: ChainHash,
}

impl KeptSeal {
    pub(crate) fn finding(&self, detail: String) -> Finding {
        Finding {
            pass: Pass::Seals,
            stream_id: None,
            version: None,
            position: Some(self.cursor.position),
            detail,
        }
    }
}

/// The kept seal against the feed up to its cursor: `events` events with `digest`.
pub(crate) fn check_kept(
    kept: &KeptSeal,
    events: u64,
    digest: ChainHash,
    findings: &mut Vec<Finding>,
) {
    if kept.events != events || kept.digest != digest {
        findings.push(kept.finding(format!(
            "the seal kept outside the store covers {} events up to {} with digest {}; the \
             feed now holds {events} with digest {digest}: the history it sealed was changed",
            kept.events, kept.cursor, kept.digest
        )));
    }
}

pub(crate) struct StoredSeal {
    pub(crate) seal: Seal,
    pub(crate) version: u64,
    pub(crate) position: u64,
}
