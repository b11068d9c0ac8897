//! A position in the global feed, and its text form.

use std::fmt;
use std::str::FromStr;

/// A position in the global feed: the writing transaction, then the event's position.
///
/// Readers ask for events strictly after a cursor; `FeedCursor::START` is before all.
/// Its text form is `"<tx>-<position>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FeedCursor {
    /// The writing transaction's commit-ordering id.
    pub tx: u64,
    /// The global position.
    pub position: u64,
}

impl FeedCursor {
    /// Before the first event.
    pub const START: FeedCursor = FeedCursor { tx: 0, position: 0 };
}

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.tx, self.position)
    }
}

impl FromStr for FeedCursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        // Each part 1-19 plain digits (the OpenAPI pattern's); past the largest signed
        // 64-bit number (what a column holds) it is that number: a cursor past every
        // event there is.
        let part = |p: &str| {
            let plain = (1..=19).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
            let n: u64 = p.parse().ok().filter(|_| plain).ok_or(())?;
            Ok::<_, ()>(n.min(i64::MAX.unsigned_abs()))
        };
        let (tx, pos) = s.split_once('-').ok_or(())?;
        Ok(Self {
            tx: part(tx)?,
            position: part(pos)?,
        })
    }
}
